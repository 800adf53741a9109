// SPDX-License-Identifier: GPL-2.0-only
/*
 * Motion detection on decoded frames (see motion.h).
 *
 * The decoder is told to do as little as it can: no loop filter, no
 * non-reference frames, one thread (the worker's sandbox has no clone),
 * and no picture over MOTION_PIXELS_MAX. Only the luma plane of a sampled
 * frame is read, every fourth pixel of every fourth row, into a 32x18 grid
 * of cell means.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>

#include "capture/avlog.h"
#include "capture/motion.h"

enum { CELLS = MOTION_GRID_W * MOTION_GRID_H, STEP = 4 };

/* Consecutive frames the decoder may refuse, once it has decoded one,
 * before the stream counts as broken (five seconds at 30 fps). */
#define BAD_FRAMES_MAX 150

struct motion {
	AVCodecContext *dec;
	AVPacket *pkt;
	AVFrame *frame;
	uint8_t *buf; /* the access unit, with the decoder's padding */
	size_t buf_cap;
	unsigned int thr;	/* luma levels a cell must change by */
	unsigned int need;	/* changed cells that make motion */
	uint64_t period_us;	/* between samples */
	uint64_t last_us;	/* last sample */
	bool use[CELLS];	/* outside every ignored zone */
	unsigned int of;
	uint8_t prev[CELLS];
	bool have_prev, decoded, active, keyframes_only;
	unsigned int streak; /* samples with motion in a row */
	unsigned int bad;    /* frames refused in a row */
};

static bool in_zone(const struct motion_zone *z, unsigned int cx,
		    unsigned int cy)
{
	/* cell centres in tenths of a percent */
	unsigned int px = (2 * cx + 1) * 500 / MOTION_GRID_W,
		     py = (2 * cy + 1) * 500 / MOTION_GRID_H;

	return px >= z->x * 10u && px < (z->x + z->w) * 10u &&
	       py >= z->y * 10u && py < (z->y + z->h) * 10u;
}

struct motion *motion_new(const struct motion_opts *o, char *why,
			  size_t why_len)
{
	const AVCodec *codec = avcodec_find_decoder(
		o->hevc ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
	struct motion *m = calloc(1, sizeof(*m));
	unsigned int sens = o->sensitivity, fps = o->fps;

	if (!m) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	cap_av_log_init();
	if (!codec) {
		snprintf(why, why_len, "this libavcodec has no %s decoder",
			 o->hevc ? "H.265" : "H.264");
		free(m);
		return NULL;
	}
	sens = sens < 1 ? 1 : sens > 100 ? 100 : sens;
	fps = fps < 1 ? 1 : fps > 30 ? 30 : fps;
	/* sensitivity 100: 4 levels and one cell; 1: 28 levels and 3% */
	m->thr = 4 + (100 - sens) * 24 / 99;
	m->period_us = 1000000 / fps;
	for (unsigned int y = 0; y < MOTION_GRID_H; y++) {
		for (unsigned int x = 0; x < MOTION_GRID_W; x++) {
			bool use = true;

			for (size_t z = 0; z < o->n_ignore; z++)
				use = use && !in_zone(&o->ignore[z], x, y);
			m->use[y * MOTION_GRID_W + x] = use;
			m->of += use;
		}
	}
	m->need = m->of * (101 - sens) * 3 / 10000;
	m->need = m->need ? m->need : 1;
	m->dec = avcodec_alloc_context3(codec);
	m->pkt = av_packet_alloc();
	m->frame = av_frame_alloc();
	if (!m->dec || !m->pkt || !m->frame) {
		snprintf(why, why_len, "out of memory");
		motion_free(m);
		return NULL;
	}
	m->dec->thread_count = 1;
	m->dec->skip_loop_filter = AVDISCARD_ALL;
	m->dec->skip_frame = o->keyframes_only ? AVDISCARD_NONKEY :
						 AVDISCARD_NONREF;
	/* a broken picture is an error, not hidden by concealment */
	m->dec->err_recognition |= AV_EF_EXPLODE;
	m->keyframes_only = o->keyframes_only;
	m->dec->flags2 |= AV_CODEC_FLAG2_FAST;
	m->dec->max_pixels = MOTION_PIXELS_MAX;
	if (avcodec_open2(m->dec, codec, NULL) < 0) {
		snprintf(why, why_len, "cannot open the %s decoder",
			 o->hevc ? "H.265" : "H.264");
		motion_free(m);
		return NULL;
	}
	return m;
}

void motion_free(struct motion *m)
{
	if (!m)
		return;
	avcodec_free_context(&m->dec);
	av_packet_free(&m->pkt);
	av_frame_free(&m->frame);
	if (m->buf)
		explicit_bzero(m->buf, m->buf_cap); /* a frame of video */
	free(m->buf);
	free(m);
}

/* The grid of cell means of the frame's luma plane. */
static int grid(const AVFrame *f, uint8_t out[static CELLS])
{
	const int w = f->width, h = f->height;

	if (w < MOTION_GRID_W * STEP || h < MOTION_GRID_H * STEP ||
	    !f->data[0] || f->linesize[0] < w)
		return -EPROTO;
	if ((uint64_t)w * (uint64_t)h > MOTION_PIXELS_MAX)
		return -EMSGSIZE;
	for (int gy = 0; gy < MOTION_GRID_H; gy++) {
		int y0 = gy * h / MOTION_GRID_H, y1 = (gy + 1) * h / MOTION_GRID_H;

		for (int gx = 0; gx < MOTION_GRID_W; gx++) {
			int x0 = gx * w / MOTION_GRID_W,
			    x1 = (gx + 1) * w / MOTION_GRID_W;
			uint32_t sum = 0, n = 0;

			for (int y = y0; y < y1; y += STEP) {
				const uint8_t *row = f->data[0] +
						     (size_t)y * (size_t)f->linesize[0];

				for (int x = x0; x < x1; x += STEP) {
					sum += row[x];
					n++;
				}
			}
			out[gy * MOTION_GRID_W + gx] = (uint8_t)(n ? sum / n : 0);
		}
	}
	return 0;
}

/* Compares a sample with the previous one: changed cells. */
static unsigned int compare(const struct motion *m, const uint8_t *cur)
{
	int d[CELLS], mean = 0;
	unsigned int changed = 0;

	for (int i = 0; i < CELLS; i++) {
		d[i] = (int)cur[i] - (int)m->prev[i];
		if (m->use[i])
			mean += d[i];
	}
	mean = m->of ? mean / (int)m->of : 0;
	for (int i = 0; i < CELLS; i++)
		changed += m->use[i] && (unsigned int)abs(d[i] - mean) > m->thr;
	return changed;
}

static int analyse(struct motion *m, uint64_t ts_us, struct motion_result *r)
{
	uint8_t cur[CELLS];
	int ret = grid(m->frame, cur);

	if (ret)
		return ret;
	m->last_us = ts_us;
	r->sampled = true;
	r->of = m->of;
	if (m->have_prev) {
		r->cells = compare(m, cur);
		r->motion = r->cells >= m->need;
	}
	memcpy(m->prev, cur, sizeof(cur));
	m->have_prev = true;
	m->streak = r->motion ? m->streak + 1 : 0;
	if (m->streak >= 2)
		m->active = true;
	else if (!r->motion)
		m->active = false;
	return 0;
}

int motion_feed(struct motion *m, const uint8_t *au, size_t len,
		uint64_t ts_us, struct motion_result *r)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (len > (size_t)INT32_MAX - AV_INPUT_BUFFER_PADDING_SIZE)
		return -EMSGSIZE;
	if (len + AV_INPUT_BUFFER_PADDING_SIZE > m->buf_cap) {
		size_t cap = len + AV_INPUT_BUFFER_PADDING_SIZE;
		uint8_t *b = malloc(cap);

		if (!b)
			return -ENOMEM;
		if (m->buf)
			explicit_bzero(m->buf, m->buf_cap);
		free(m->buf);
		m->buf = b;
		m->buf_cap = cap;
	}
	memcpy(m->buf, au, len);
	memset(m->buf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	m->pkt->data = m->buf;
	m->pkt->size = (int)len;
	ret = avcodec_send_packet(m->dec, m->pkt);
	m->pkt->data = NULL;
	m->pkt->size = 0;
	while (ret >= 0) {
		ret = avcodec_receive_frame(m->dec, m->frame);
		if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) {
			ret = 0;
			break;
		}
		if (ret < 0)
			break;
		m->decoded = true;
		m->bad = 0;
		r->decoded = true;
		r->damaged = r->damaged || m->frame->decode_error_flags ||
			     (m->frame->flags & AV_FRAME_FLAG_CORRUPT);
		if (!m->keyframes_only &&
		    (!m->have_prev || ts_us >= m->last_us + m->period_us))
			ret = analyse(m, ts_us, r);
		av_frame_unref(m->frame);
		if (ret)
			return ret;
	}
	if (ret == AVERROR(ENOMEM))
		return -ENOMEM;
	r->damaged = r->damaged || (ret < 0 && m->decoded);
	if (ret < 0 && m->decoded && !m->keyframes_only &&
	    ++m->bad >= BAD_FRAMES_MAX)
		return -EPROTO;
	r->active = m->active;
	return 0;
}

static int zone_num(const char **p, unsigned int *v)
{
	char *end;
	unsigned long n;

	while (**p == ' ')
		++*p;
	if (**p < '0' || **p > '9')
		return -EINVAL;
	n = strtoul(*p, &end, 10);
	if (n > 100 || end - *p > 3)
		return -EINVAL;
	*v = (unsigned int)n;
	*p = end;
	while (**p == ' ')
		++*p;
	return 0;
}

int motion_parse_zones(const char *s, struct motion_zone *z, size_t *n,
		       char *why, size_t why_len)
{
	const char *p = s;

	*n = 0;
	while (*p == ' ')
		p++;
	if (!*p)
		return 0;
	for (;;) {
		unsigned int v[4];

		if (*n == MOTION_ZONES_MAX) {
			snprintf(why, why_len, "more than %d zones",
				 MOTION_ZONES_MAX);
			return -EINVAL;
		}
		for (int i = 0; i < 4; i++) {
			if (zone_num(&p, &v[i]) || (i < 3 && *p++ != ',')) {
				snprintf(why, why_len,
					 "zone %zu is not x,y,w,h in percent (0-100 each)",
					 *n + 1);
				return -EINVAL;
			}
		}
		if (!v[2] || !v[3] || v[0] + v[2] > 100 || v[1] + v[3] > 100) {
			snprintf(why, why_len,
				 "zone %zu (%u,%u,%u,%u) is empty or reaches past the picture (x+w and y+h at most 100)",
				 *n + 1, v[0], v[1], v[2], v[3]);
			return -EINVAL;
		}
		z[*n] = (struct motion_zone){ (uint8_t)v[0], (uint8_t)v[1],
					      (uint8_t)v[2], (uint8_t)v[3] };
		++*n;
		if (!*p)
			return 0;
		if (*p++ != ';') {
			snprintf(why, why_len,
				 "zones are separated by ';' (after zone %zu)",
				 *n);
			return -EINVAL;
		}
	}
}
