// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for an MJPEG camera's frames (capture/mjpeg.c): every
 * byte a camera sends is untrusted. A frame either is refused or decodes
 * to a picture of the camera's size in a layout the converter takes,
 * which then goes through the NV12 conversion and libx264 as the worker
 * would send it (capture/swenc.c).
 */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdlib.h>

#include "capture/mjpeg.h"
#include "capture/swenc.h"

enum { W = 64, H = 48 };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t out[1 << 20];

static uint8_t *reserve(void *arg, size_t len, size_t pad)
{
	(void)arg;
	return len + pad <= sizeof(out) ? out : NULL;
}

static int commit(void *arg, size_t len, bool key, uint64_t ts_us)
{
	(void)arg;
	(void)key;
	(void)ts_us;
	return len <= sizeof(out) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct mjpeg *d;
	static struct swenc *e;
	static uint64_t ts;
	struct swenc_opts eo = { .fourcc = V4L2_PIX_FMT_MJPEG, .width = W,
				 .height = H, .fps = 30, .bitrate = 200000,
				 .gop = 30 };
	struct swenc_sink sink = { NULL, reserve, commit };
	struct swenc_planar pic;
	char why[160];
	int ret;

	if (!d && (mjpeg_open(W, H, &d, why, sizeof(why)) ||
		   swenc_open(&eo, &e, why, sizeof(why))))
		abort();
	ret = mjpeg_decode(d, data, size, &pic, why, sizeof(why));
	if (ret && ret != -EPROTO && ret != -ENOMEM)
		__builtin_trap();
	if (ret)
		return 0;
	/* what was not refused is a picture the converter can read whole */
	if (pic.stride[0] < W || pic.stride[1] < W / 2 || pic.stride[2] < W / 2)
		__builtin_trap();
	if (swenc_frame_planar(e, &pic, ts += 33333, false, &sink) < 0)
		__builtin_trap();
	return 0;
}
