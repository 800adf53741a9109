// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/view/mp4.h"

struct mp4w {
	AVFormatContext *oc;
	AVStream *st;
	bool started;
	uint64_t t0, last;
	uint64_t frames, skipped;
	char path[];
};

static int av_fail(int averr, const char *what, const char *path, char *err,
		   size_t errlen)
{
	char msg[AV_ERROR_MAX_STRING_SIZE] = "";

	av_strerror(averr, msg, sizeof(msg));
	snprintf(err, errlen, "%s: %s: %s", path, what, msg);
	return averr == AVERROR(ENOENT) || averr == AVERROR(EACCES) ?
		       AVUNERROR(averr) == ENOENT ? -ENOENT : -EACCES :
		       -EIO;
}

struct mp4w *mp4_open(const char *path, char *err, size_t errlen)
{
	struct mp4w *w = calloc(1, sizeof(*w) + strlen(path) + 1);
	int ret;

	if (!w) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	strcpy(w->path, path);
	ret = avformat_alloc_output_context2(&w->oc, NULL, "mp4", path);
	if (ret < 0) {
		av_fail(ret, "cannot make an MP4 muxer", path, err, errlen);
		free(w);
		return NULL;
	}
	ret = avio_open(&w->oc->pb, path, AVIO_FLAG_WRITE);
	if (ret < 0) {
		av_fail(ret, "cannot open for writing", path, err, errlen);
		avformat_free_context(w->oc);
		free(w);
		return NULL;
	}
	return w;
}

/* Next NAL unit in an Annex-B buffer: start of its header byte and end. */
static const uint8_t *next_nal(const uint8_t *p, const uint8_t *end,
			       const uint8_t **nal_end)
{
	const uint8_t *s = NULL;

	for (; p + 3 <= end; p++)
		if (!p[0] && !p[1] && p[2] == 1) {
			s = p + 3;
			break;
		}
	if (!s)
		return NULL;
	for (p = s; p + 3 <= end; p++)
		if (!p[0] && !p[1] && (p[2] == 1 || (p[2] == 0 && p + 3 < end &&
						     p[3] == 1)))
			break;
	*nal_end = p + 3 <= end ? p : end;
	return s;
}

/* SPS and PPS of the access unit, Annex-B with start codes, as extradata. */
static int codec_setup(const uint8_t *au, size_t len, uint8_t **out,
		       size_t *out_len)
{
	const uint8_t *p = au, *end = au + len, *s, *e;
	uint8_t *x = av_mallocz(len + AV_INPUT_BUFFER_PADDING_SIZE);
	size_t n = 0;
	int have = 0;

	if (!x)
		return -ENOMEM;
	while ((s = next_nal(p, end, &e))) {
		int type = s[0] & 0x1f;

		if (type == 7 || type == 8) {
			memcpy(x + n, "\0\0\0\1", 4);
			memcpy(x + n + 4, s, (size_t)(e - s));
			n += 4 + (size_t)(e - s);
			have |= type == 7 ? 1 : 2;
		}
		p = e;
	}
	if (have != 3) {
		av_free(x);
		return -ENOENT;
	}
	*out = x;
	*out_len = n;
	return 0;
}

/* Picture size from the SPS, through libavcodec's H.264 parser. */
static void picture_size(const uint8_t *au, size_t len, int *w, int *h)
{
	AVCodecParserContext *pc = av_parser_init(AV_CODEC_ID_H264);
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *cc = codec ? avcodec_alloc_context3(codec) : NULL;
	uint8_t *out;
	int out_len;

	*w = *h = 0;
	if (pc && cc) {
		av_parser_parse2(pc, cc, &out, &out_len, au, (int)len,
				 AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
		/* the parser holds a frame back until told it is complete */
		av_parser_parse2(pc, cc, &out, &out_len, NULL, 0,
				 AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
		*w = pc->width > 0 ? pc->width : cc->width;
		*h = pc->height > 0 ? pc->height : cc->height;
	}
	avcodec_free_context(&cc);
	if (pc)
		av_parser_close(pc);
}

static int start(struct mp4w *w, const uint8_t *au, size_t len, char *err,
		 size_t errlen)
{
	AVCodecParameters *par;
	uint8_t *x;
	size_t xl;
	int ret;

	if (codec_setup(au, len, &x, &xl))
		return 1; /* not yet: wait for a keyframe with SPS and PPS */
	w->st = avformat_new_stream(w->oc, NULL);
	if (!w->st) {
		av_free(x);
		snprintf(err, errlen, "%s: out of memory", w->path);
		return -ENOMEM;
	}
	par = w->st->codecpar;
	par->codec_type = AVMEDIA_TYPE_VIDEO;
	par->codec_id = AV_CODEC_ID_H264;
	par->extradata = x;
	par->extradata_size = (int)xl;
	picture_size(au, len, &par->width, &par->height);
	w->st->time_base = (AVRational){ 1, 1000000 };
	ret = avformat_write_header(w->oc, NULL);
	if (ret < 0)
		return av_fail(ret, "cannot write the MP4 header", w->path, err,
			       errlen);
	w->started = true;
	return 0;
}

int mp4_add(struct mp4w *w, const uint8_t *au, size_t len, uint64_t ts_us,
	    bool key, char *err, size_t errlen)
{
	AVPacket *pkt;
	uint64_t t;
	int ret;

	if (len > INT32_MAX) {
		snprintf(err, errlen, "%s: access unit too large", w->path);
		return -EINVAL;
	}
	if (!w->started) {
		ret = key ? start(w, au, len, err, errlen) : 1;
		if (ret) {
			w->skipped += ret > 0;
			return ret > 0 ? 0 : ret;
		}
		w->t0 = ts_us;
		w->last = 0;
		t = 0;
	} else {
		t = ts_us > w->t0 ? ts_us - w->t0 : 0;
		if (t <= w->last)
			t = w->last + 1000;
	}
	pkt = av_packet_alloc();
	if (!pkt) {
		snprintf(err, errlen, "%s: out of memory", w->path);
		return -ENOMEM;
	}
	pkt->data = (uint8_t *)au;
	pkt->size = (int)len;
	pkt->pts = pkt->dts = (int64_t)t;
	pkt->stream_index = w->st->index;
	if (key)
		pkt->flags |= AV_PKT_FLAG_KEY;
	av_packet_rescale_ts(pkt, (AVRational){ 1, 1000000 }, w->st->time_base);
	ret = av_write_frame(w->oc, pkt);
	av_packet_free(&pkt);
	if (ret < 0)
		return av_fail(ret, "cannot write a frame", w->path, err, errlen);
	w->last = t;
	w->frames++;
	return 0;
}

int mp4_close(struct mp4w *w, char *err, size_t errlen)
{
	int ret = 0;

	if (!w)
		return 0;
	if (w->started) {
		ret = av_write_trailer(w->oc);
		if (ret < 0)
			ret = av_fail(ret, "cannot finish the MP4", w->path, err,
				      errlen);
	} else {
		snprintf(err, errlen, "%s: no keyframe with SPS and PPS to start the video",
			 w->path);
		ret = -ENODATA;
	}
	avio_closep(&w->oc->pb);
	avformat_free_context(w->oc);
	free(w);
	return ret;
}

uint64_t mp4_frames(const struct mp4w *w)
{
	return w->frames;
}

uint64_t mp4_skipped(const struct mp4w *w)
{
	return w->skipped;
}
