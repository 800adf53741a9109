// SPDX-License-Identifier: GPL-2.0-only
/* Software H.264 for raw cameras (see swenc.h). */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>

#include "capture/avlog.h"
#include "capture/swenc.h"

struct swenc {
	AVCodecContext *ctx;
	AVFrame *in;	   /* the camera's buffer, by reference */
	AVFrame *nv12;	   /* a YUYV frame converted */
	AVPacket *pkt;
	struct swenc_opts o;
	const struct swenc_sink *sink; /* for the call in progress */
	uint8_t *slot;		       /* what the sink reserved */
	int64_t pts;
	uint64_t converted, dropped;
	unsigned int held;	       /* references to a camera buffer */
	bool need_key;		       /* after a drop: the next is a key */
};

/* libavcodec asks where the access unit goes: the sink's memory. */
static void no_free(void *opaque, uint8_t *data)
{
	(void)opaque;
	(void)data;
}

static int get_buffer(AVCodecContext *ctx, AVPacket *pkt, int flags)
{
	struct swenc *e = ctx->opaque;
	uint8_t *p;

	(void)flags;
	if (!e->sink || pkt->size <= 0)
		return AVERROR(EINVAL);
	p = e->sink->reserve(e->sink->arg, (size_t)pkt->size,
			     AV_INPUT_BUFFER_PADDING_SIZE);
	if (!p)
		return AVERROR(ENOSPC);
	pkt->buf = av_buffer_create(p, pkt->size + AV_INPUT_BUFFER_PADDING_SIZE,
				    no_free, NULL, 0);
	if (!pkt->buf)
		return AVERROR(ENOMEM);
	pkt->data = p;
	e->slot = p;
	memset(p + pkt->size, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	return 0;
}

static int fail(char *why, size_t len, const char *what, int err)
{
	char msg[128];

	av_strerror(err, msg, sizeof(msg));
	snprintf(why, len, "%s: %s", what, msg);
	return err == AVERROR(ENOSYS) ? -ENOSYS : -EINVAL;
}

int swenc_open(const struct swenc_opts *o, struct swenc **out, char *why,
	       size_t why_len)
{
	const AVCodec *c = avcodec_find_encoder_by_name("libx264");
	AVDictionary *opt = NULL;
	struct swenc *e;
	int ret;

	*out = NULL;
	if (!c) {
		snprintf(why, why_len, "libavcodec has no libx264 encoder");
		return -ENOSYS;
	}
	if (o->fourcc != V4L2_PIX_FMT_NV12 && o->fourcc != V4L2_PIX_FMT_YUYV &&
	    o->fourcc != V4L2_PIX_FMT_YUV420 && o->fourcc != V4L2_PIX_FMT_RGB24 &&
	    o->fourcc != V4L2_PIX_FMT_BGR24 && o->fourcc != V4L2_PIX_FMT_MJPEG) {
		snprintf(why, why_len,
			 "the encoder takes NV12, YUV420, YUYV, RGB24, BGR24 or decoded MJPEG");
		return -EINVAL;
	}
	if (!o->width || !o->height || o->width % 2 || o->height % 2 ||
	    o->width > 4096 || o->height > 2304 || !o->fps || o->fps > 120) {
		snprintf(why, why_len, "%ux%u at %u fps is not something to encode",
			 o->width, o->height, o->fps);
		return -EINVAL;
	}
	cap_av_log_init();
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = *o;
	e->ctx = avcodec_alloc_context3(c);
	e->in = av_frame_alloc();
	e->pkt = av_packet_alloc();
	if (!e->ctx || !e->in || !e->pkt) {
		swenc_close(e);
		return -ENOMEM;
	}
	e->ctx->width = (int)o->width;
	e->ctx->height = (int)o->height;
	e->ctx->pix_fmt = AV_PIX_FMT_NV12;
	e->ctx->time_base = (AVRational){ 1, (int)o->fps };
	e->ctx->framerate = (AVRational){ (int)o->fps, 1 };
	e->ctx->bit_rate = o->bitrate;
	e->ctx->gop_size = (int)(o->gop ? o->gop : o->fps);
	e->ctx->max_b_frames = 0;
	/* one thread: the worker's sandbox lets it start no other, and
	 * zerolatency wants one access unit out per frame in */
	e->ctx->thread_count = 1;
	e->ctx->opaque = e;
	e->ctx->get_encode_buffer = get_buffer;
	av_dict_set(&opt, "preset", "ultrafast", 0);
	av_dict_set(&opt, "tune", "zerolatency", 0);
	/* a keyframe asked for (an event) is an IDR a viewer can start at */
	av_dict_set(&opt, "forced-idr", "1", 0);
	ret = avcodec_open2(e->ctx, c, &opt);
	av_dict_free(&opt);
	if (ret < 0) {
		swenc_close(e);
		return fail(why, why_len, "libx264", ret);
	}
	if (o->fourcc != V4L2_PIX_FMT_NV12) {
		e->nv12 = av_frame_alloc();
		if (!e->nv12) {
			swenc_close(e);
			return -ENOMEM;
		}
		e->nv12->format = AV_PIX_FMT_NV12;
		e->nv12->width = (int)o->width;
		e->nv12->height = (int)o->height;
		if (av_frame_get_buffer(e->nv12, 32) < 0) {
			swenc_close(e);
			return -ENOMEM;
		}
	}
	*out = e;
	return 0;
}

/* The camera's buffer goes back when libavcodec lets go of it. */
static void release(void *opaque, uint8_t *data)
{
	struct swenc *e = opaque;

	(void)data;
	e->held--;
}

/* YUYV 4:2:2 packed to NV12 4:2:0: luma as is, chroma of each two lines
 * averaged. The one pass over raw pixels the encoder cannot take. */
static void yuyv_to_nv12(struct swenc *e, const uint8_t *src, uint32_t bpl)
{
	AVFrame *f = e->nv12;

	for (uint32_t y = 0; y < e->o.height; y++) {
		const uint8_t *s = src + (size_t)y * bpl;
		uint8_t *d = f->data[0] + (size_t)y * (size_t)f->linesize[0];

		for (uint32_t x = 0; x < e->o.width; x++)
			d[x] = s[2 * x];
	}
	for (uint32_t y = 0; y < e->o.height / 2; y++) {
		const uint8_t *a = src + (size_t)(2 * y) * bpl,
			      *b = a + bpl;
		uint8_t *d = f->data[1] + (size_t)y * (size_t)f->linesize[1];

		for (uint32_t x = 0; x < e->o.width / 2; x++) {
			d[2 * x] = (uint8_t)((a[4 * x + 1] + b[4 * x + 1] + 1) / 2);
			d[2 * x + 1] =
				(uint8_t)((a[4 * x + 3] + b[4 * x + 3] + 1) / 2);
		}
	}
}

/* YUV420 (I420: Y, then U, then V, chroma rows bpl / 2 long) to NV12:
 * luma as is, the two chroma planes interleaved. */
static void yuv420_to_nv12(struct swenc *e, const uint8_t *src, uint32_t bpl)
{
	AVFrame *f = e->nv12;
	uint32_t cbpl = bpl / 2;
	const uint8_t *u = src + (size_t)bpl * e->o.height,
		      *v = u + (size_t)cbpl * (e->o.height / 2);

	for (uint32_t y = 0; y < e->o.height; y++)
		memcpy(f->data[0] + (size_t)y * (size_t)f->linesize[0],
		       src + (size_t)y * bpl, e->o.width);
	for (uint32_t y = 0; y < e->o.height / 2; y++) {
		uint8_t *d = f->data[1] + (size_t)y * (size_t)f->linesize[1];
		const uint8_t *su = u + (size_t)y * cbpl, *sv = v + (size_t)y * cbpl;

		for (uint32_t x = 0; x < e->o.width / 2; x++) {
			d[2 * x] = su[x];
			d[2 * x + 1] = sv[x];
		}
	}
}

/* Packed RGB (RGB24: R, G, B in memory; BGR24: B, G, R) to NV12, BT.601
 * limited range in integers: luma per pixel, chroma from each 2x2
 * block's mean. */
static void rgb_to_nv12(struct swenc *e, const uint8_t *src, uint32_t bpl,
			bool bgr)
{
	AVFrame *f = e->nv12;
	int ri = bgr ? 2 : 0, bi = bgr ? 0 : 2;

	for (uint32_t y = 0; y < e->o.height; y++) {
		const uint8_t *s = src + (size_t)y * bpl;
		uint8_t *d = f->data[0] + (size_t)y * (size_t)f->linesize[0];

		for (uint32_t x = 0; x < e->o.width; x++, s += 3)
			d[x] = (uint8_t)(((66 * s[ri] + 129 * s[1] +
					   25 * s[bi] + 128) >> 8) + 16);
	}
	for (uint32_t y = 0; y < e->o.height / 2; y++) {
		const uint8_t *a = src + (size_t)(2 * y) * bpl, *b = a + bpl;
		uint8_t *d = f->data[1] + (size_t)y * (size_t)f->linesize[1];

		for (uint32_t x = 0; x < e->o.width / 2; x++) {
			const uint8_t *p = a + 6 * x, *q = b + 6 * x;
			int r = p[ri] + p[3 + ri] + q[ri] + q[3 + ri];
			int g = p[1] + p[4] + q[1] + q[4];
			int bl = p[bi] + p[3 + bi] + q[bi] + q[3 + bi];

			/* the sums are four pixels': >> 10, not >> 8 */
			d[2 * x] = (uint8_t)(((-38 * r - 74 * g + 112 * bl +
					       512) >> 10) + 128);
			d[2 * x + 1] = (uint8_t)(((112 * r - 94 * g - 18 * bl +
						   512) >> 10) + 128);
		}
	}
}

/* 8-bit full range (JPEG's) to limited (what the encoder is told). */
static inline uint8_t luma_limited(uint8_t v)
{
	return (uint8_t)(16 + (v * 219 + 127) / 255);
}

static inline uint8_t chroma_limited(uint8_t v)
{
	return (uint8_t)(128 + ((v - 128) * 224 + (v >= 128 ? 127 : -127)) / 255);
}

/* Planar 4:2:0 or 4:2:2 (a decoded JPEG) to NV12: luma as is, chroma
 * interleaved (4:2:2: each two rows averaged), full range made limited. */
static void planar_to_nv12(struct swenc *e, const struct swenc_planar *p)
{
	AVFrame *f = e->nv12;

	for (uint32_t y = 0; y < e->o.height; y++) {
		const uint8_t *s = p->plane[0] + (size_t)y * (size_t)p->stride[0];
		uint8_t *d = f->data[0] + (size_t)y * (size_t)f->linesize[0];

		if (p->full_range)
			for (uint32_t x = 0; x < e->o.width; x++)
				d[x] = luma_limited(s[x]);
		else
			memcpy(d, s, e->o.width);
	}
	for (uint32_t y = 0; y < e->o.height / 2; y++) {
		uint32_t r = p->chroma_full_height ? 2 * y : y;
		const uint8_t *u = p->plane[1] + (size_t)r * (size_t)p->stride[1],
			      *v = p->plane[2] + (size_t)r * (size_t)p->stride[2];
		const uint8_t *u2 = p->chroma_full_height ? u + p->stride[1] : u,
			      *v2 = p->chroma_full_height ? v + p->stride[2] : v;
		uint8_t *d = f->data[1] + (size_t)y * (size_t)f->linesize[1];

		for (uint32_t x = 0; x < e->o.width / 2; x++) {
			uint8_t cu = (uint8_t)((u[x] + u2[x] + 1) / 2),
				cv = (uint8_t)((v[x] + v2[x] + 1) / 2);

			d[2 * x] = p->full_range ? chroma_limited(cu) : cu;
			d[2 * x + 1] = p->full_range ? chroma_limited(cv) : cv;
		}
	}
}

/* The frame to encode: the camera's NV12 buffer itself, referenced. */
static int frame_of(struct swenc *e, const uint8_t *raw, size_t len,
		    AVFrame **out)
{
	uint32_t bpl = e->o.bytesperline;
	size_t need;

	if (e->o.fourcc == V4L2_PIX_FMT_MJPEG)
		return -EINVAL; /* decoded pictures: swenc_frame_planar() */
	if (e->o.fourcc != V4L2_PIX_FMT_NV12) {
		/* bytes per pixel of the first plane; YUV420's two chroma
		 * planes follow it, each a quarter of it */
		uint32_t bpp = e->o.fourcc == V4L2_PIX_FMT_YUYV ? 2 :
			       e->o.fourcc == V4L2_PIX_FMT_YUV420 ? 1 : 3;

		bpl = bpl ? bpl : bpp * e->o.width;
		need = (size_t)bpl * e->o.height;
		if (e->o.fourcc == V4L2_PIX_FMT_YUV420)
			need += need / 2;
		if (bpl < bpp * e->o.width || len < need)
			return -EINVAL;
		if (av_frame_make_writable(e->nv12) < 0)
			return -ENOMEM;
		if (e->o.fourcc == V4L2_PIX_FMT_YUYV)
			yuyv_to_nv12(e, raw, bpl);
		else if (e->o.fourcc == V4L2_PIX_FMT_YUV420)
			yuv420_to_nv12(e, raw, bpl);
		else
			rgb_to_nv12(e, raw, bpl,
				    e->o.fourcc == V4L2_PIX_FMT_BGR24);
		e->converted++;
		*out = e->nv12;
		return 0;
	}
	bpl = bpl ? bpl : e->o.width;
	need = (size_t)bpl * e->o.height * 3 / 2;
	if (bpl < e->o.width || len < need)
		return -EINVAL; /* a frame shorter than its format says */
	av_frame_unref(e->in);
	e->in->format = AV_PIX_FMT_NV12;
	e->in->width = (int)e->o.width;
	e->in->height = (int)e->o.height;
	e->in->data[0] = (uint8_t *)raw;
	e->in->linesize[0] = (int)bpl;
	e->in->data[1] = (uint8_t *)raw + (size_t)bpl * e->o.height;
	e->in->linesize[1] = (int)bpl;
	/* referenced, so that libavcodec does not copy it to keep it */
	e->in->buf[0] = av_buffer_create((uint8_t *)raw, need, release, e,
					 AV_BUFFER_FLAG_READONLY);
	if (!e->in->buf[0])
		return -ENOMEM;
	e->held++;
	*out = e->in;
	return 0;
}

static int encode(struct swenc *e, AVFrame *f, uint64_t ts_us, bool key,
		  const struct swenc_sink *sink)
{
	int ret, got = 0;

	f->pts = e->pts++;
	f->pict_type = key || e->need_key ? AV_PICTURE_TYPE_I :
					    AV_PICTURE_TYPE_NONE;
	e->sink = sink;
	ret = avcodec_send_frame(e->ctx, f);
	if (f == e->in)
		av_frame_unref(e->in); /* ours; the encoder holds its own */
	while (ret >= 0) {
		e->slot = NULL;
		ret = avcodec_receive_packet(e->ctx, e->pkt);
		if (ret < 0)
			break;
		ret = sink->commit(sink->arg, (size_t)e->pkt->size,
				   e->pkt->flags & AV_PKT_FLAG_KEY, ts_us);
		got += ret == 0;
		e->need_key = false;
		av_packet_unref(e->pkt);
	}
	e->sink = NULL;
	if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF)
		ret = 0;
	if (ret == AVERROR(ENOSPC)) {
		/* no room: this one is lost, and what follows needs it as a
		 * reference, so the next frame is a keyframe */
		e->dropped++;
		e->need_key = true;
		ret = 0;
	}
	if (ret < 0)
		return -EIO;
	/* libx264 copies the picture in before it returns: the camera's
	 * buffer is free again (checked: nothing may hold it now) */
	if (e->held)
		return -EBUSY;
	return got > 0;
}

int swenc_frame(struct swenc *e, const uint8_t *raw, size_t len,
		uint64_t ts_us, bool key, const struct swenc_sink *sink)
{
	AVFrame *f;
	int ret = frame_of(e, raw, len, &f);

	return ret ? ret : encode(e, f, ts_us, key, sink);
}

int swenc_frame_planar(struct swenc *e, const struct swenc_planar *p,
		       uint64_t ts_us, bool key, const struct swenc_sink *sink)
{
	if (e->o.fourcc != V4L2_PIX_FMT_MJPEG ||
	    p->stride[0] < (int)e->o.width ||
	    p->stride[1] < (int)e->o.width / 2 ||
	    p->stride[2] < (int)e->o.width / 2)
		return -EINVAL;
	if (av_frame_make_writable(e->nv12) < 0)
		return -ENOMEM;
	planar_to_nv12(e, p);
	e->converted++;
	return encode(e, e->nv12, ts_us, key, sink);
}

uint64_t swenc_converted(const struct swenc *e)
{
	return e->converted;
}

uint64_t swenc_dropped(const struct swenc *e)
{
	return e->dropped;
}

void swenc_close(struct swenc *e)
{
	if (!e)
		return;
	avcodec_free_context(&e->ctx);
	av_frame_free(&e->in);
	av_frame_free(&e->nv12);
	av_packet_free(&e->pkt);
	free(e);
}
