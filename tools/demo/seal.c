// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo's file camera: the clip's access units sealed as they come, a
 * stream per GOP (a keyframe opens a new stream and closes the previous one
 * with an empty final record), each stream written to the spool as a file
 * of sealed records. The only pass over the frame bytes is the AEAD's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "crypto/frame.h"
#include "tools/demo/demo.h"

struct gop {
	struct seal_stream *s;
	uint8_t *buf; /* stream file: header room, then records */
	size_t len, cap, hdr_len;
};

const char *demo_stream_path(const struct demo_spool *sp, size_t i, char *buf,
			     size_t cap)
{
	char hex[2 * REC_STREAM_ID_LEN + 1];

	hex_encode(hex, sp->ids[i], REC_STREAM_ID_LEN);
	snprintf(buf, cap, "%s/%s.moat", sp->dir, hex);
	return buf;
}

/* Room for one more record of body n in the GOP buffer. */
static uint8_t *gop_room(struct gop *g, size_t n)
{
	size_t need = REC_HDR_LEN + n + REC_TAG_LEN;

	if (g->cap < g->len || g->cap - g->len < need) {
		size_t cap = (g->len + need) * 2;
		uint8_t *p = realloc(g->buf, cap);

		if (!p)
			return NULL;
		g->buf = p;
		g->cap = cap;
	}
	return g->buf + g->len;
}

static int gop_record(struct gop *g, const struct frame_hdr *f,
		      const uint8_t *payload, size_t n, bool final)
{
	uint8_t fh[FRAME_HDR_LEN], *rec;
	struct iovec iov[2] = { { fh, FRAME_HDR_LEN }, { (void *)payload, n } };
	size_t body = f ? FRAME_HDR_LEN + n : 0;
	int ret;

	rec = gop_room(g, body);
	if (!rec)
		return -ENOMEM;
	if (f)
		frame_hdr_put(fh, f);
	ret = seal_record_to(g->s, iov, f ? 2 : 0, final, rec,
			     rec + REC_HDR_LEN, rec + REC_HDR_LEN + body);
	if (!ret)
		g->len += REC_HDR_LEN + body + REC_TAG_LEN;
	return ret;
}

static int gop_open(struct gop *g, enum seal_suite suite, size_t n_r,
		    uint64_t now)
{
	struct frame_meta m = { .camera = "demo file camera",
				.codec = "h264",
				.start_us = now,
				.kind = 1 };
	struct frame_hdr f = { .kind = FRAME_KIND_META, .ts_us = now };
	uint8_t tlv[128];
	long n = frame_meta_put(tlv, sizeof(tlv), &m);

	memset(g, 0, sizeof(*g));
	g->s = seal_stream_new(suite);
	if (!g->s || n < 0)
		return -ENOMEM;
	g->hdr_len = seal_header_len(n_r);
	g->len = g->hdr_len; /* the header goes first, made last */
	return gop_record(g, &f, tlv, (size_t)n, false);
}

/* Ends the GOP: empty final record, header, file in the spool. */
static int gop_close(struct gop *g, const struct seal_hub_key *hub,
		     const struct seal_recipient *r, size_t n_r,
		     struct demo_spool *sp)
{
	char path[512];
	size_t hlen;
	int ret;

	if (sp->n_streams == DEMO_MAX_STREAMS)
		return -MOAT_E_LIMIT;
	ret = gop_record(g, NULL, NULL, 0, true);
	if (!ret)
		ret = seal_stream_header(g->s, hub, r, n_r, g->buf, g->hdr_len,
					 &hlen);
	memcpy(sp->ids[sp->n_streams], seal_stream_id(g->s), REC_STREAM_ID_LEN);
	if (!ret)
		ret = file_write_atomic(demo_stream_path(sp, sp->n_streams,
							 path, sizeof(path)),
					g->buf, g->len, 0600);
	if (!ret) {
		sp->records += seal_stream_next(g->s);
		sp->bytes += g->len;
		sp->n_streams++;
	}
	seal_stream_free(g->s);
	free(g->buf);
	memset(g, 0, sizeof(*g));
	return ret;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

int demo_seal(const struct demo_clip *c, enum seal_suite suite,
	      const struct seal_hub_key *hub, const struct seal_recipient *r,
	      size_t n_r, struct demo_spool *sp)
{
	uint64_t t0 = now_us();
	struct gop g = { 0 };
	size_t i;
	int ret = 0;

	for (i = 0; i < c->n_au && !ret; i++) {
		const struct annexb_au *au = &c->au[i];
		struct frame_hdr f = {
			.kind = FRAME_KIND_AU,
			.flags = (au->key ? FRAME_F_KEY : 0) |
				 (au->config ? FRAME_F_CONFIG : 0),
			.ts_us = t0 + i * 1000000 / 30,
		};

		if (au->key && g.s)
			ret = gop_close(&g, hub, r, n_r, sp);
		if (!ret && !g.s)
			ret = gop_open(&g, suite, n_r, f.ts_us);
		if (!ret)
			ret = gop_record(&g, &f, au->p, au->len, false);
	}
	if (!ret && g.s)
		ret = gop_close(&g, hub, r, n_r, sp);
	seal_stream_free(g.s);
	free(g.buf);
	return ret;
}
