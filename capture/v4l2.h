/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * V4L2 capture devices through the kernel API (linux/videodev2.h): what a
 * device offers (capabilities, pixel formats, frame sizes and rates), and
 * MMAP streaming with each buffer also exported as a dmabuf
 * (VIDIOC_EXPBUF), so that a frame can be handed on without copying it.
 *
 * Everything a driver says is checked before it is used: sizes against
 * what was asked and what was mapped, indexes against the buffers there
 * are, bytesused against the buffer's length. A device that goes away
 * (unplugged, driver unbound) makes every call return -ENODEV.
 */
#ifndef MOAT_CAPTURE_V4L2_H
#define MOAT_CAPTURE_V4L2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	V4L2_CAM_FORMATS = 32,
	V4L2_CAM_SIZES = 16,
	V4L2_CAM_BUFS = 16,
};

/* A fourcc as four characters and a NUL. */
void v4l2_fourcc_str(uint32_t fourcc, char out[5]);

struct v4l2_size {
	uint32_t width, height;
	uint32_t fps_max; /* highest rate listed (0: not listed) */
};

struct v4l2_format_info {
	uint32_t fourcc;
	char desc[32];
	bool compressed;
	struct v4l2_size sizes[V4L2_CAM_SIZES];
	unsigned int n_sizes;
	bool stepwise; /* a range: sizes[0] is the largest */
};

struct v4l2_info {
	char driver[16], card[32], bus[32];
	uint32_t caps; /* device_caps */
	bool capture, mplane, m2m, streaming;
	struct v4l2_format_info fmts[V4L2_CAM_FORMATS];
	unsigned int n_fmts;
};

/* Asks the device what it is and offers. 0 or -errno. */
int v4l2_query(int fd, struct v4l2_info *info);

/* The format info for fourcc, or NULL. */
const struct v4l2_format_info *v4l2_find(const struct v4l2_info *info,
					 uint32_t fourcc);

struct v4l2_buf {
	uint8_t *p;    /* read-only mapping */
	size_t len;
	int dmabuf;    /* VIDIOC_EXPBUF, or -1 */
	bool queued;   /* with the driver */
};

struct v4l2_stream {
	int fd;
	uint32_t fourcc, width, height, bytesperline, sizeimage;
	uint32_t fps_num, fps_den; /* as the driver set it */
	struct v4l2_buf bufs[V4L2_CAM_BUFS];
	unsigned int n_bufs;
	bool streaming;
};

struct v4l2_frame {
	unsigned int index;
	const uint8_t *p;
	size_t len;	   /* bytesused */
	uint64_t ts_us;	   /* the driver's timestamp (CLOCK_MONOTONIC) */
	uint32_t sequence;
	bool key;	   /* V4L2_BUF_FLAG_KEYFRAME (compressed formats) */
	bool error;	   /* V4L2_BUF_FLAG_ERROR: the frame may be damaged */
};

struct v4l2_request {
	uint32_t fourcc, width, height, fps;
	unsigned int n_bufs; /* 2..V4L2_CAM_BUFS */
	bool export;	     /* VIDIOC_EXPBUF each buffer */
};

/*
 * Sets the format and rate, maps n_bufs MMAP buffers (exported as dmabufs
 * if asked), queues them all and starts streaming. The driver may round
 * the size; a different pixel format is refused. 0, or -errno with the
 * step and the device's answer in why.
 */
int v4l2_start(struct v4l2_stream *s, int fd, const struct v4l2_request *rq,
	       char *why, size_t why_len);

/* The next filled buffer: 1 and *f, 0 when none is ready, -errno. The
 * buffer is the caller's until v4l2_requeue(). */
int v4l2_dequeue(struct v4l2_stream *s, struct v4l2_frame *f);

/* Gives a dequeued buffer back to the driver. 0 or -errno. */
int v4l2_requeue(struct v4l2_stream *s, unsigned int index);

/* Buffers the driver holds now. */
unsigned int v4l2_queued(const struct v4l2_stream *s);

/* Stops streaming, unmaps, closes the dmabufs (not fd). */
void v4l2_stop(struct v4l2_stream *s);

#endif
