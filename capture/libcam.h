/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Cameras that libcamera drives (Raspberry Pi camera modules through the
 * Pi's pipeline handler; vimc in the tests), behind a C interface: the
 * shim in capture/libcam.cpp is the only C++ in moat, built when
 * libcamera's development files are present (HAVE_LIBCAMERA).
 *
 * libcamera runs its own threads; a completed frame is handed to the
 * caller's thread through a queue and an eventfd, so the caller sleeps in
 * its own event loop (poll or io_uring) on libcam_fd(). A frame is the
 * camera's own buffer, mapped read-only, valid until libcam_release(),
 * which queues it back to the camera at once: no copy is made here.
 */
#ifndef MOAT_CAPTURE_LIBCAM_H
#define MOAT_CAPTURE_LIBCAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { LIBCAM_PLANES = 3, LIBCAM_FORMATS = 16 };

/* A camera as `moatctl cameras' shows it. */
struct libcam_info {
	char id[128];	/* libcamera's id: what camera.source names */
	char model[64]; /* the sensor's, when the pipeline says */
	/* what the video role offers, as V4L2 fourccs (0: a format moat
	 * does not take), with the largest size of each */
	uint32_t fourcc[LIBCAM_FORMATS];
	uint32_t max_w[LIBCAM_FORMATS], max_h[LIBCAM_FORMATS];
	char format_name[LIBCAM_FORMATS][16]; /* libcamera's name of each */
	unsigned int n_formats;
};

/*
 * The cameras libcamera finds, up to max: how many (0: none), or -errno
 * with the reason in why.
 */
int libcam_list(struct libcam_info *out, size_t max, char *why,
		size_t why_len);

struct libcam_opts {
	const char *id;	       /* "" or NULL: the first camera */
	uint32_t width, height; /* 0: the pipeline's default for video */
	uint32_t fps;	       /* 0: the camera's own */
};

/* One frame, the camera's buffer (read only), until libcam_release(). */
struct libcam_frame {
	const uint8_t *plane[LIBCAM_PLANES];
	size_t plane_len[LIBCAM_PLANES]; /* bytes the camera filled */
	unsigned int n_planes;
	uint32_t fourcc; /* V4L2: NV12, YUV420, YUYV, RGB24 or BGR24 */
	uint32_t width, height;
	uint32_t stride;     /* of the first plane */
	uint64_t ts_ns;	     /* capture time, CLOCK_MONOTONIC (the driver's) */
	uint32_t sequence;   /* the camera's frame counter */
	/* the buffer as a dmabuf, for an encoder to import: its descriptor
	 * (the camera's; not to be closed) and size, when every plane lies
	 * in that one dmabuf from its start; else -1 */
	int dmabuf;
	size_t dmabuf_len;
	unsigned int index; /* the buffer's, 0 .. buffers - 1 */
	void *priv;
};

struct libcam;

/*
 * Acquires the camera, configures one video stream in the best format
 * moat takes (NV12, YUV420, YUYV, then packed RGB), allocates its
 * buffers, maps them and starts it. 0, or -errno with the reason in why,
 * naming the camera and, when the id matches none, the ids there are.
 */
int libcam_open(const struct libcam_opts *o, struct libcam **out, char *why,
		size_t why_len);

/* Readable when a frame (or the camera's loss) waits for libcam_next(). */
int libcam_fd(const struct libcam *c);

/*
 * 1 and *f: a frame; 0: none ready; -ENODEV: the camera is gone
 * (unplugged, its driver unbound); -EIO: a frame the camera failed
 * (already released: call again).
 */
int libcam_next(struct libcam *c, struct libcam_frame *f);

/* Gives the frame back to the camera (queued again at once). */
void libcam_release(struct libcam *c, struct libcam_frame *f);

/* The stream as configured: what each frame will be (V4L2 fourcc). */
void libcam_format(const struct libcam *c, uint32_t *fourcc, uint32_t *width,
		   uint32_t *height, uint32_t *stride);

/* How many buffers the camera cycles through. */
unsigned int libcam_buffers(const struct libcam *c);

/* "Sensor B (platform/vimc.0 Sensor B): BGR888 640x480, 4 buffers" */
const char *libcam_describe(const struct libcam *c);

/* Buffers handed out and not yet given back, and frames the camera
 * failed or cancelled. */
unsigned int libcam_outstanding(const struct libcam *c);
uint64_t libcam_failed(const struct libcam *c);

/* Stops the camera, frees its buffers, releases it. A camera that is
 * gone (libcam_next said -ENODEV) is left as it is: the caller is to
 * exit, and the kernel takes it all back. */
void libcam_close(struct libcam *c);

#ifdef __cplusplus
}
#endif

#endif
