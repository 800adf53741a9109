// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>

#include "capture/annexb.h"
#include "capture/h264.h"
#include "tools/view/mp4.h"

#define MP4_GAP_MIN_US 1000ULL		   /* a time not after the last */
#define MP4_GAP_MAX_US (3600ULL * 1000000) /* a clock jump forward */

static const AVRational us_base = { 1, 1000000 };

struct mp4w {
	enum cap_codec codec;
	AVFormatContext *oc;
	AVPacket *pkt;
	int error;	  /* sticky: a failed header or frame write */
	bool started;	  /* header written */
	uint64_t prev_ts; /* capture time of the last frame written */
	uint64_t t;	  /* its time in the file, us after the first */
	uint64_t gap;	  /* and its gap after the one before, us */
	uint64_t frames, skipped;
	char path[];
};

/* What the first frame must hold, and the size of its parameter sets. */
struct au_scan {
	unsigned int ps; /* bit per kind of parameter set seen */
	unsigned int idr;
	size_t extra_len;
};

static void say(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* libavformat's error in err; the caller gets -EIO. */
static int av_fail(int averr, const char *what, const char *path, char *err,
		   size_t errlen)
{
	char msg[AV_ERROR_MAX_STRING_SIZE] = "";

	av_strerror(averr, msg, sizeof(msg));
	say(err, errlen, "%s: %s: %s", path, what, msg);
	return -EIO;
}

static struct mp4w *open_fail(struct mp4w *w, int averr, const char *what,
			      const char *path, char *err, size_t errlen)
{
	av_fail(averr, what, path, err, errlen);
	av_packet_free(&w->pkt);
	avformat_free_context(w->oc);
	free(w);
	return NULL;
}

struct mp4w *mp4_open(const char *path, bool hevc, char *err, size_t errlen)
{
	size_t n = strlen(path);
	/* path, then "file:" path */
	struct mp4w *w = calloc(1, sizeof(*w) + n + 1 + sizeof("file:") + n);
	char *url;
	int ret;

	if (!w) {
		say(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	/* "file:" so that a name with a colon is never taken for a URL */
	w->codec = hevc ? CODEC_H265 : CODEC_H264;
	url = w->path + n + 1;
	memcpy(w->path, path, n + 1);
	memcpy(url, "file:", 5);
	memcpy(url + 5, path, n + 1);
	ret = avformat_alloc_output_context2(&w->oc, NULL, "mp4", url);
	if (ret < 0)
		return open_fail(w, ret, "cannot make an MP4 muxer", path, err,
				 errlen);
	w->pkt = av_packet_alloc();
	if (!w->pkt)
		return open_fail(w, AVERROR(ENOMEM), "cannot make a packet",
				 path, err, errlen);
	ret = avio_open(&w->oc->pb, url, AVIO_FLAG_WRITE);
	if (ret < 0)
		return open_fail(w, ret, "cannot open for writing", path, err,
				 errlen);
	return w;
}

/* Offset of the next 00 00 01 at or after off, len if none. */
static size_t find_sc(const uint8_t *b, size_t len, size_t off)
{
	for (; len >= 3 && off <= len - 3; off++)
		if (!b[off] && !b[off + 1] && b[off + 2] == 1)
			return off;
	return len;
}

/*
 * Next non-empty NAL unit from *off: 1 with [*nal, *nal + *n), 0 at the
 * end. Trailing zeros (the next start code's, trailing_zero_8bits) are
 * left out.
 */
static int nal_next(const uint8_t *b, size_t len, size_t *off,
		    const uint8_t **nal, size_t *n)
{
	size_t s, e;

	do {
		s = find_sc(b, len, *off);
		if (s == len)
			return 0;
		s += 3;
		e = find_sc(b, len, s);
		*off = e;
		while (e > s && !b[e - 1])
			e--;
	} while (e == s);
	*nal = b + s;
	*n = e - s;
	return 1;
}

static void au_scan(enum cap_codec c, const uint8_t *au, size_t len,
		    struct au_scan *sc)
{
	const uint8_t *nal;
	size_t off = 0, n;

	memset(sc, 0, sizeof(*sc));
	while (nal_next(au, len, &off, &nal, &n)) {
		unsigned int type = nal_type(c, nal[0]);

		sc->idr += nal_is_key(c, type);
		if (!nal_is_ps(c, type))
			continue;
		sc->ps |= 1u << (c == CODEC_H265 ? type - H265_NAL_VPS :
						   type - NAL_SPS);
		sc->extra_len += 4 + n; /* len <= ANNEXB_AU_MAX: no overflow */
	}
}

/* The parameter sets, each after a 4-byte start code, padded. */
static uint8_t *make_extradata(enum cap_codec c, const uint8_t *au,
			       size_t len, size_t xlen)
{
	uint8_t *x = av_mallocz(xlen + AV_INPUT_BUFFER_PADDING_SIZE);
	const uint8_t *nal;
	size_t off = 0, n, at = 0;

	if (!x)
		return NULL;
	while (nal_next(au, len, &off, &nal, &n)) {
		if (!nal_is_ps(c, nal_type(c, nal[0])) || 4 + n > xlen - at)
			continue;
		memcpy(x + at, "\0\0\0\1", 4);
		memcpy(x + at + 4, nal, n);
		at += 4 + n;
	}
	return x;
}

/* Picture size from the SPS and first slice, by libavcodec's parser. */
static int picture_size(enum cap_codec c, const uint8_t *au, size_t len,
			int *wd, int *ht)
{
	AVCodecParserContext *pc = av_parser_init(
		c == CODEC_H265 ? AV_CODEC_ID_HEVC : AV_CODEC_ID_H264);
	AVCodecContext *cc = avcodec_alloc_context3(NULL);
	/* the parser may read AV_INPUT_BUFFER_PADDING_SIZE past the end */
	uint8_t *buf = av_mallocz(len + AV_INPUT_BUFFER_PADDING_SIZE);
	uint8_t *out;
	int out_len, ret = -ENOMEM;

	*wd = *ht = 0;
	if (pc && cc && buf) {
		memcpy(buf, au, len);
		pc->flags |= PARSER_FLAG_COMPLETE_FRAMES;
		av_parser_parse2(pc, cc, &out, &out_len, buf, (int)len,
				 AV_NOPTS_VALUE, AV_NOPTS_VALUE, 0);
		*wd = pc->width;
		*ht = pc->height;
		ret = 0;
	}
	av_free(buf);
	avcodec_free_context(&cc);
	if (pc)
		av_parser_close(pc);
	return ret;
}

/* The codec setup from the first frame: 1 if it cannot start the video. */
static int set_codec(struct mp4w *w, const uint8_t *au, size_t len)
{
	struct au_scan sc;
	AVStream *st;
	uint8_t *x;
	int wd, ht;

	au_scan(w->codec, au, len, &sc);
	if (sc.ps != (w->codec == CODEC_H265 ? 7u : 3u) || !sc.idr)
		return 1;
	if (picture_size(w->codec, au, len, &wd, &ht))
		return -ENOMEM;
	if (wd <= 0 || ht <= 0)
		return 1; /* an SPS the parser could not read */
	x = make_extradata(w->codec, au, len, sc.extra_len);
	st = x ? avformat_new_stream(w->oc, NULL) : NULL;
	if (!st) {
		av_free(x);
		return -ENOMEM;
	}
	st->time_base = (AVRational){ 1, 90000 };
	st->codecpar->codec_type = AVMEDIA_TYPE_VIDEO;
	st->codecpar->codec_id = w->codec == CODEC_H265 ? AV_CODEC_ID_HEVC :
							  AV_CODEC_ID_H264;
	/* hvc1: parameter sets only in the sample entry, as Apple's players
	 * want */
	if (w->codec == CODEC_H265)
		st->codecpar->codec_tag = MKTAG('h', 'v', 'c', '1');
	st->codecpar->extradata = x;
	st->codecpar->extradata_size = (int)sc.extra_len;
	st->codecpar->width = wd;
	st->codecpar->height = ht;
	return 0;
}

/* 0 when started, 1 when au was skipped, or negative. */
static int start(struct mp4w *w, const uint8_t *au, size_t len, char *err,
		 size_t errlen)
{
	int ret = set_codec(w, au, len);

	if (ret < 0)
		say(err, errlen, "%s: out of memory", w->path);
	if (ret)
		return ret;
	ret = avformat_write_header(w->oc, NULL);
	if (ret < 0) {
		w->error = -EIO;
		return av_fail(ret, "cannot write the MP4 header", w->path, err,
			       errlen);
	}
	w->started = true;
	return 0;
}

/* The next frame's time in the file (rules in mp4.h). */
static void advance(struct mp4w *w, uint64_t ts_us)
{
	uint64_t gap = ts_us > w->prev_ts ? ts_us - w->prev_ts : 0;

	if (gap < MP4_GAP_MIN_US)
		gap = MP4_GAP_MIN_US;
	if (gap > MP4_GAP_MAX_US)
		gap = MP4_GAP_MAX_US;
	w->t += gap;
	w->gap = gap;
	w->prev_ts = ts_us;
}

static int write_au(struct mp4w *w, const uint8_t *au, size_t len, bool key,
		    char *err, size_t errlen)
{
	AVStream *st = w->oc->streams[0];
	AVPacket *pkt = w->pkt;
	int ret;

	av_packet_unref(pkt);
	if (av_new_packet(pkt, (int)len) < 0) {
		say(err, errlen, "%s: out of memory", w->path);
		return -ENOMEM;
	}
	memcpy(pkt->data, au, len);
	pkt->pts = av_rescale_q((int64_t)w->t, us_base, st->time_base);
	pkt->dts = pkt->pts;
	/* the last frame lasts as long as the gap before it */
	pkt->duration = av_rescale_q((int64_t)w->gap, us_base, st->time_base);
	pkt->stream_index = st->index;
	pkt->flags = key ? AV_PKT_FLAG_KEY : 0;
	ret = av_write_frame(w->oc, pkt);
	av_packet_unref(pkt);
	if (ret < 0) {
		w->error = -EIO;
		return av_fail(ret, "cannot write a frame", w->path, err,
			       errlen);
	}
	w->frames++;
	return 0;
}

static int check_au(const struct mp4w *w, const uint8_t *au, size_t len,
		    char *err, size_t errlen)
{
	const uint8_t *nal;
	size_t off = 0, n;

	if (!w) {
		say(err, errlen, "mp4: no file");
		return -EINVAL;
	}
	if (w->error) {
		say(err, errlen, "%s: an earlier write failed", w->path);
		return w->error;
	}
	if (len > ANNEXB_AU_MAX) {
		say(err, errlen, "%s: access unit of %zu bytes is over %u",
		    w->path, len, (unsigned int)ANNEXB_AU_MAX);
		return -EMSGSIZE;
	}
	if (!au || !nal_next(au, len, &off, &nal, &n)) {
		say(err, errlen,
		    "%s: access unit of %zu bytes holds no NAL unit", w->path,
		    len);
		return -EINVAL;
	}
	return 0;
}

int mp4_add(struct mp4w *w, const uint8_t *au, size_t len, uint64_t ts_us,
	    bool key, char *err, size_t errlen)
{
	int ret = check_au(w, au, len, err, errlen);

	if (ret)
		return ret;
	if (!w->started) {
		ret = key ? start(w, au, len, err, errlen) : 1;
		if (ret > 0)
			w->skipped++;
		if (ret)
			return ret > 0 ? 0 : ret;
		w->prev_ts = ts_us;
	} else {
		advance(w, ts_us);
	}
	return write_au(w, au, len, key, err, errlen);
}

/* The trailer, when there is a header; the first error of the file. */
static int finish(struct mp4w *w, char *err, size_t errlen)
{
	int ret = w->started ? av_write_trailer(w->oc) : 0;

	if (w->error) {
		say(err, errlen, "%s: an earlier write failed", w->path);
		return w->error;
	}
	if (ret < 0)
		return av_fail(ret, "cannot finish the MP4", w->path, err,
			       errlen);
	if (!w->started) {
		say(err, errlen,
		    "%s: none of %llu access units is a keyframe with SPS and PPS to start the video",
		    w->path, (unsigned long long)w->skipped);
		return -ENODATA;
	}
	return 0;
}

int mp4_close(struct mp4w *w, char *err, size_t errlen)
{
	int ret, r;

	if (!w)
		return 0;
	ret = finish(w, err, errlen);
	r = avio_closep(&w->oc->pb);
	if (r < 0 && !ret)
		ret = av_fail(r, "cannot close", w->path, err, errlen);
	av_packet_free(&w->pkt);
	avformat_free_context(w->oc);
	free(w);
	return ret;
}

uint64_t mp4_frames(const struct mp4w *w)
{
	return w ? w->frames : 0;
}

uint64_t mp4_skipped(const struct mp4w *w)
{
	return w ? w->skipped : 0;
}
