// SPDX-License-Identifier: GPL-2.0-only
/* A camera's MJPEG frames, decoded (see mjpeg.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <string.h>

#include "capture/avlog.h"
#include "capture/mjpeg.h"

struct mjpeg {
	AVCodecContext *ctx;
	AVPacket *pkt;
	AVFrame *pic;
	uint8_t *buf; /* the frame, zero-padded as the decoder needs */
	size_t cap;
	uint32_t width, height;
};

int mjpeg_open(uint32_t width, uint32_t height, struct mjpeg **out,
	       char *why, size_t why_len)
{
	const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
	struct mjpeg *d;

	*out = NULL;
	if (!c) {
		snprintf(why, why_len, "libavcodec has no JPEG decoder");
		return -ENOSYS;
	}
	cap_av_log_init();
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->width = width;
	d->height = height;
	d->ctx = avcodec_alloc_context3(c);
	d->pkt = av_packet_alloc();
	d->pic = av_frame_alloc();
	if (!d->ctx || !d->pkt || !d->pic) {
		mjpeg_close(d);
		return -ENOMEM;
	}
	/* one thread (the worker's sandbox starts no other), and a damaged
	 * frame is an error, not a concealed picture */
	d->ctx->thread_count = 1;
	d->ctx->err_recognition = AV_EF_EXPLODE;
	if (avcodec_open2(d->ctx, c, NULL) < 0) {
		snprintf(why, why_len, "the JPEG decoder does not open");
		mjpeg_close(d);
		return -EINVAL;
	}
	*out = d;
	return 0;
}

int mjpeg_decode(struct mjpeg *d, const uint8_t *p, size_t len,
		 struct swenc_planar *pic, char *why, size_t why_len)
{
	enum AVPixelFormat fmt;
	int ret;

	if (!len || len > MJPEG_MAX) {
		snprintf(why, why_len, "a frame of %zu bytes", len);
		return -EPROTO;
	}
	/* libavcodec's bitstream readers read a little past the end: the
	 * frame goes into a buffer with zeroed room after it (one copy of
	 * the compressed bytes; the camera's buffer may end at len) */
	if (d->cap < len + AV_INPUT_BUFFER_PADDING_SIZE) {
		uint8_t *b = realloc(d->buf, len + AV_INPUT_BUFFER_PADDING_SIZE);

		if (!b)
			return -ENOMEM;
		d->buf = b;
		d->cap = len + AV_INPUT_BUFFER_PADDING_SIZE;
	}
	memcpy(d->buf, p, len);
	memset(d->buf + len, 0, AV_INPUT_BUFFER_PADDING_SIZE);
	av_packet_unref(d->pkt);
	d->pkt->data = d->buf;
	d->pkt->size = (int)len;
	ret = avcodec_send_packet(d->ctx, d->pkt);
	d->pkt->data = NULL;
	d->pkt->size = 0;
	if (!ret)
		ret = avcodec_receive_frame(d->ctx, d->pic);
	if (ret < 0) {
		snprintf(why, why_len, "not a whole JPEG picture");
		avcodec_flush_buffers(d->ctx);
		return -EPROTO;
	}
	fmt = d->pic->format;
	if ((uint32_t)d->pic->width != d->width ||
	    (uint32_t)d->pic->height != d->height) {
		snprintf(why, why_len, "a %dx%d picture from a camera set to %ux%u",
			 d->pic->width, d->pic->height, d->width, d->height);
		return -EPROTO;
	}
	if (fmt != AV_PIX_FMT_YUVJ420P && fmt != AV_PIX_FMT_YUV420P &&
	    fmt != AV_PIX_FMT_YUVJ422P && fmt != AV_PIX_FMT_YUV422P) {
		snprintf(why, why_len, "a JPEG in %s, not 4:2:0 or 4:2:2",
			 av_get_pix_fmt_name(fmt) ? av_get_pix_fmt_name(fmt) :
						    "an unknown layout");
		return -EPROTO;
	}
	for (int i = 0; i < 3; i++) {
		pic->plane[i] = d->pic->data[i];
		pic->stride[i] = d->pic->linesize[i];
	}
	pic->chroma_full_height = fmt == AV_PIX_FMT_YUVJ422P ||
				  fmt == AV_PIX_FMT_YUV422P;
	pic->full_range = fmt == AV_PIX_FMT_YUVJ420P ||
			  fmt == AV_PIX_FMT_YUVJ422P ||
			  d->pic->color_range == AVCOL_RANGE_JPEG;
	return 0;
}

void mjpeg_close(struct mjpeg *d)
{
	if (!d)
		return;
	avcodec_free_context(&d->ctx);
	av_packet_free(&d->pkt);
	av_frame_free(&d->pic);
	free(d->buf);
	free(d);
}
