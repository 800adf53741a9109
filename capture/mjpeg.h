/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A camera's MJPEG frames (most UVC webcams offer nothing else at their
 * larger sizes), decoded with libavcodec's JPEG decoder so that the
 * H.264 encoder can take them. Each frame is untrusted camera bytes: its
 * length is bounded, the decoder runs on one thread and gives up on the
 * first error (AV_EF_EXPLODE), and a picture that is not the size the
 * camera was set to, or not planar 4:2:0 or 4:2:2, is refused rather
 * than passed on. The compressed bytes are copied once, into a buffer
 * padded as libavcodec's readers need (the camera's buffer may end where
 * the frame does).
 */
#ifndef MOAT_CAPTURE_MJPEG_H
#define MOAT_CAPTURE_MJPEG_H

#include <stddef.h>
#include <stdint.h>

#include "capture/swenc.h"

enum { MJPEG_MAX = 16 << 20 };

struct mjpeg;

/* A decoder for pictures of width x height. 0, or -errno with why. */
int mjpeg_open(uint32_t width, uint32_t height, struct mjpeg **out,
	       char *why, size_t why_len);

/*
 * Decodes one frame. 0 and the picture in *pic (valid until the next
 * call), or -EPROTO for a frame that is not a whole JPEG picture of the
 * camera's size in a layout taken (why says what), -errno.
 */
int mjpeg_decode(struct mjpeg *d, const uint8_t *p, size_t len,
		 struct swenc_planar *pic, char *why, size_t why_len);

void mjpeg_close(struct mjpeg *d);

#endif
