// SPDX-License-Identifier: GPL-2.0-only
/*
 * MJPEG cameras (capture/mjpeg.c, then capture/swenc.c): most UVC webcams
 * send nothing else at their larger sizes. No kernel driver here makes
 * MJPEG (vivid does not), so the frames are made as such a camera makes
 * them, by FFmpeg's own JPEG encoder (real libavcodec, not a mock): eight
 * vertical bars of known colours, 640x480, in 4:2:2 (what UVC cameras
 * send) and 4:2:0, full range as JPEG is.
 *
 * - each frame decodes to the camera's size in its layout, and through
 *   libx264 comes out as H.264 that libavcodec decodes to 640x480 with
 *   each bar's luma where BT.601 limited range puts it (so JPEG's full
 *   range was turned into the encoder's limited range, and 4:2:2 chroma
 *   into 4:2:0), every frame converted once;
 * - what a hostile or broken camera could send is refused with the
 *   reason, nothing decoded from it: half a frame, bytes that are no
 *   JPEG, an empty frame, one larger than any frame may be, a picture of
 *   another size than the camera was set to, and a 4:4:4 picture;
 * - and the decoder still decodes good frames after all that;
 * - `moatctl cameras' would take an MJPEG-only camera, decoded, into
 *   libx264 (v4l2cam_plan).
 */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavcodec/avcodec.h>

#include "capture/mjpeg.h"
#include "capture/swenc.h"
#include "capture/v4l2.h"
#include "capture/v4l2cam.h"
#include "tests/lib/check.h"
#include "tests/lib/vmhub.h"

enum { W = 640, H = 480, BARS = 8, FRAMES = 10 };

/* Full-range (JPEG) YCbCr of the bars: white, yellow, cyan, green,
 * magenta, red, blue, black (BT.601, 75% as test patterns go). */
static const uint8_t bar[BARS][3] = {
	{ 191, 128, 128 }, { 170, 32, 139 }, { 135, 150, 32 },
	{ 113, 54, 43 },   { 78, 202, 213 }, { 57, 107, 224 },
	{ 22, 224, 117 },  { 0, 128, 128 },
};

/* A JPEG of the bars, w x h, in pix_fmt, made by libavcodec. */
static AVPacket *make_jpeg(int w, int h, enum AVPixelFormat fmt)
{
	const AVCodec *c = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
	AVCodecContext *ctx = c ? avcodec_alloc_context3(c) : NULL;
	AVFrame *f = av_frame_alloc();
	AVPacket *pkt = av_packet_alloc();
	bool ok = ctx && f && pkt;
	int cdiv = fmt == AV_PIX_FMT_YUVJ444P ? 1 : 2;

	if (ok) {
		ctx->width = w;
		ctx->height = h;
		ctx->pix_fmt = fmt;
		ctx->time_base = (AVRational){ 1, 30 };
		ctx->flags |= AV_CODEC_FLAG_QSCALE;
		ctx->global_quality = FF_QP2LAMBDA * 2;
		ok = avcodec_open2(ctx, c, NULL) == 0;
	}
	if (ok) {
		f->format = fmt;
		f->width = w;
		f->height = h;
		ok = av_frame_get_buffer(f, 32) == 0;
	}
	for (int y = 0; ok && y < h; y++)
		for (int x = 0; x < w; x++) {
			const uint8_t *b = bar[x * BARS / w];

			f->data[0][y * f->linesize[0] + x] = b[0];
			if (x % cdiv == 0 &&
			    (fmt != AV_PIX_FMT_YUVJ420P || y % 2 == 0)) {
				int cy = fmt == AV_PIX_FMT_YUVJ420P ? y / 2 : y;

				f->data[1][cy * f->linesize[1] + x / cdiv] = b[1];
				f->data[2][cy * f->linesize[2] + x / cdiv] = b[2];
			}
		}
	if (ok)
		ok = avcodec_send_frame(ctx, f) == 0 &&
		     avcodec_receive_packet(ctx, pkt) == 0;
	avcodec_free_context(&ctx);
	av_frame_free(&f);
	if (!ok)
		av_packet_free(&pkt);
	return pkt;
}

/* Limited range, as the encoder is told: 16 + Y * 219 / 255. */
static int limited(int y)
{
	return 16 + (y * 219 + 127) / 255;
}

static void through(enum AVPixelFormat fmt, const char *name)
{
	AVPacket *jpeg = make_jpeg(W, H, fmt);
	struct swenc_opts eo = { .fourcc = V4L2_PIX_FMT_MJPEG, .width = W,
				 .height = H, .fps = 30, .bitrate = 2000000,
				 .gop = 30 };
	struct aus a = { 0 };
	struct swenc_sink sink = { &a, aus_reserve, aus_commit };
	struct swenc *e = NULL;
	struct mjpeg *d = NULL;
	uint32_t xy[BARS][2];
	int y_at[BARS], w = 0, h = 0, pictures, ok = 0, worst = 0;
	char why[160] = "";

	CHECK(jpeg && jpeg->size > 1000, "%s: a JPEG of the bars, %d bytes",
	      name, jpeg ? jpeg->size : 0);
	CHECK(mjpeg_open(W, H, &d, why, sizeof(why)) == 0 &&
		      swenc_open(&eo, &e, why, sizeof(why)) == 0,
	      "%s: the decoder and libx264 open: %s", name, why);
	if (!jpeg || !d || !e)
		goto out;
	for (int i = 0; i < FRAMES; i++) {
		struct swenc_planar pic;

		if (mjpeg_decode(d, jpeg->data, (size_t)jpeg->size, &pic, why,
				 sizeof(why)) == 0 &&
		    pic.full_range &&
		    pic.chroma_full_height == (fmt == AV_PIX_FMT_YUVJ422P))
			ok += swenc_frame_planar(e, &pic, 1000000u + 33333u * (unsigned)i,
						 false, &sink) == 1;
	}
	CHECK(ok == FRAMES && a.n == FRAMES,
	      "%s: %d frames decoded (full range, %s chroma) and encoded: %zu access units: %s",
	      name, ok, fmt == AV_PIX_FMT_YUVJ422P ? "4:2:2" : "4:2:0", a.n,
	      why);
	CHECK(swenc_converted(e) == FRAMES, "%s: each converted once to NV12",
	      name);
	for (int b = 0; b < BARS; b++) {
		xy[b][0] = (uint32_t)(b * W / BARS + W / BARS / 2);
		xy[b][1] = H / 2;
	}
	pictures = aus_decoded(&a, &w, &h, (const uint32_t (*)[2])xy, y_at,
			       BARS);
	for (int b = 0; b < BARS; b++) {
		int diff = abs(y_at[b] - limited(bar[b][0]));

		worst = diff > worst ? diff : worst;
	}
	CHECK(pictures == FRAMES && w == W && h == H,
	      "%s: libavcodec decodes the H.264: %d pictures, %dx%d", name,
	      pictures, w, h);
	CHECK(worst <= 4,
	      "%s: every bar's luma is the JPEG's in limited range (white %d, want %d; worst off by %d)",
	      name, y_at[0], limited(bar[0][0]), worst);
out:
	free(a.buf);
	swenc_close(e);
	mjpeg_close(d);
	av_packet_free(&jpeg);
}

static void refused(void)
{
	AVPacket *good = make_jpeg(W, H, AV_PIX_FMT_YUVJ422P),
		 *small = make_jpeg(320, 240, AV_PIX_FMT_YUVJ422P),
		 *full = make_jpeg(W, H, AV_PIX_FMT_YUVJ444P);
	struct mjpeg *d = NULL;
	struct swenc_planar pic;
	char why[160] = "";
	uint8_t junk[4096];
	static uint8_t huge[MJPEG_MAX + 1];

	CHECK(good && small && full && mjpeg_open(W, H, &d, why, sizeof(why)) == 0,
	      "JPEGs made; the decoder opens: %s", why);
	if (!good || !small || !full || !d)
		goto out;
	CHECK(mjpeg_decode(d, good->data, (size_t)good->size / 2, &pic, why,
			   sizeof(why)) == -EPROTO &&
		      strstr(why, "not a whole JPEG"),
	      "half a frame: refused (%s)", why);
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 151 + 7);
	CHECK(mjpeg_decode(d, junk, sizeof(junk), &pic, why, sizeof(why)) ==
			      -EPROTO,
	      "bytes that are no JPEG: refused (%s)", why);
	CHECK(mjpeg_decode(d, junk, 0, &pic, why, sizeof(why)) == -EPROTO &&
		      mjpeg_decode(d, huge, sizeof(huge), &pic, why,
				   sizeof(why)) == -EPROTO &&
		      strstr(why, "bytes"),
	      "an empty frame, and one larger than any frame may be: refused (%s)",
	      why);
	CHECK(mjpeg_decode(d, small->data, (size_t)small->size, &pic, why,
			   sizeof(why)) == -EPROTO &&
		      strstr(why, "320x240") && strstr(why, "640x480"),
	      "a picture of another size than the camera's: refused (%s)", why);
	CHECK(mjpeg_decode(d, full->data, (size_t)full->size, &pic, why,
			   sizeof(why)) == -EPROTO &&
		      strstr(why, "not 4:2:0 or 4:2:2"),
	      "a 4:4:4 picture: refused (%s)", why);
	CHECK(mjpeg_decode(d, good->data, (size_t)good->size, &pic, why,
			   sizeof(why)) == 0,
	      "and a good frame still decodes after all that: %s", why);
out:
	mjpeg_close(d);
	av_packet_free(&good);
	av_packet_free(&small);
	av_packet_free(&full);
}

static void plan(void)
{
	static struct v4l2_info in = { .capture = true, .streaming = true,
				       .n_fmts = 1 };
	uint32_t take = 0;
	const char *p;

	in.fmts[0].fourcc = V4L2_PIX_FMT_MJPEG;
	in.fmts[0].compressed = true;
	p = v4l2cam_plan(&in, &take);
	CHECK(take == V4L2_PIX_FMT_MJPEG && !strcmp(p, "MJPEG, decoded, into libx264"),
	      "an MJPEG-only camera: moat would take it (%s)", p);
}

int main(void)
{
	through(AV_PIX_FMT_YUVJ422P, "4:2:2 (a UVC camera's)");
	through(AV_PIX_FMT_YUVJ420P, "4:2:0");
	refused();
	plan();
	return test_done("test_mjpeg");
}
