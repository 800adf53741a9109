/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A local V4L2 camera as a capture worker runs it: the device opened and
 * streaming, the encoder chosen, readiness through an io_uring multishot
 * poll on the device (the worker sleeps on the ring's descriptor), and
 * each frame turned into one H.264 access unit written where the worker
 * says (a slot of its ring):
 *
 * - H264 from the camera (a UVC camera that encodes): passed through, one
 *   copy from the camera's buffer into the slot (counted);
 * - NV12 or YUYV: libx264 (capture/swenc.h), which writes the access unit
 *   into the slot itself; no copy of frame bytes;
 * - MJPEG (most UVC webcams): decoded (capture/mjpeg.h: its compressed
 *   bytes copied once, counted), converted to NV12, then libx264;
 * - NV12 or YUYV into a V4L2 memory-to-memory encoder (capture/m2m.h),
 *   when the caller opened one: the camera's buffers go in by dmabuf, and
 *   each access unit stays in the encoder's CAPTURE buffer, handed to a
 *   reader (m2m_pump(): the sealer reads it there; no copy), which says
 *   when the buffer may go back to the encoder.
 *
 * Everything that needs a path or root happens in v4l2cam_open(), before
 * the worker's sandbox; after it only ioctl on the device, mmap'd memory
 * and io_uring_enter on the ring are used.
 */
#ifndef MOAT_CAPTURE_V4L2CAM_H
#define MOAT_CAPTURE_V4L2CAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/m2m.h"
#include "capture/swenc.h"

struct v4l2cam;

struct v4l2cam_opts {
	const char *dev;	/* /dev/videoN */
	uint32_t fourcc;	/* 0: the best the camera offers */
	uint32_t width, height; /* 0: the largest up to 1920x1080 */
	uint32_t fps;
	uint32_t bitrate;	/* the software encoder's */
	int m2m_fd;		/* an encoder's open device, or -1: libx264 */
	bool m2m_must;		/* named in the config: no fall back */
};

struct v4l2_info;

/*
 * What moat would do with a device (for `moatctl cameras'): the format it
 * would take (0: none) and, in a few words, how: "its own H.264, passed
 * through", "NV12 into libx264", ...
 */
const char *v4l2cam_plan(const struct v4l2_info *info, uint32_t *fourcc);

/* 0, or -errno with the reason in why (naming the device and what it
 * offers when the request does not fit). */
int v4l2cam_open(const struct v4l2cam_opts *o, struct v4l2cam **out,
		 char *why, size_t why_len);

/* The descriptor to sleep on (an io_uring's): readable when a frame is. */
int v4l2cam_fd(const struct v4l2cam *c);
/* The device's and the io_uring's descriptors, for the sandbox. */
int v4l2cam_dev_fd(const struct v4l2cam *c);

/*
 * The next frame, as an access unit delivered to sink (with key, one is
 * forced: an event began). 1 delivered, 0 nothing ready, 2 a frame was
 * lost (no room in the sink), 3 the camera sent a frame that does not
 * decode (MJPEG; not recorded), -ENODEV when the device is gone, other
 * -errno on failure.
 */
int v4l2cam_next(struct v4l2cam *c, const struct swenc_sink *sink,
		 const struct m2m_reader *refs, bool key);

/* At an orderly stop, with the V4L2 encoder: what it still holds is
 * encoded and handed to refs (up to ms milliseconds). 0 or -errno. */
int v4l2cam_drain(struct v4l2cam *c, const struct m2m_reader *refs, int ms);

/* The encoder's descriptor, or -1 (libx264 or pass-through). */
int v4l2cam_m2m_fd(const struct v4l2cam *c);

/* What encodes: "libx264", "the V4L2 encoder (H264)", "the camera's own
 * H.264". */
const char *v4l2cam_encoder(const struct v4l2cam *c);

/* "vivid: YUYV 640x480 at 30 fps, libx264" */
const char *v4l2cam_describe(const struct v4l2cam *c);

/* Copies of frame bytes made (H264 pass-through), and YUYV conversions
 * (libx264's; a hardware encoder reads YUYV as it is). */
uint64_t v4l2cam_copies(const struct v4l2cam *c);
uint64_t v4l2cam_converted(const struct v4l2cam *c);

void v4l2cam_close(struct v4l2cam *c);

#endif
