/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Software H.264 for raw cameras: libx264 through libavcodec (preset
 * ultrafast, tune zerolatency: no B-frames, no lookahead, one access unit
 * out for each frame in). This is the Pi 5's path: it has no hardware
 * H.264 encoder (rpicam-apps does the same).
 *
 * No copy of frame bytes is made here:
 * - the raw frame goes in as a reference to the camera's own buffer (an
 *   NV12 frame as it is; a YUYV, YUV420 or packed RGB frame, as some
 *   cameras and libcamera's pipelines give, is converted once to NV12,
 *   the 4:2:0 that every player takes, which is counted);
 * - the access unit comes out where the caller wants it: libavcodec asks
 *   this file for the packet's memory (get_encode_buffer), and the caller
 *   gives it a slot of its ring, so the encoder writes the access unit
 *   straight into the memory the sealer reads.
 */
#ifndef MOAT_CAPTURE_SWENC_H
#define MOAT_CAPTURE_SWENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct swenc;

struct swenc_opts {
	uint32_t fourcc;	/* V4L2_PIX_FMT_NV12, _YUV420, _YUYV, _RGB24, _BGR24;
				 * _MJPEG: pictures decoded from it, given to
				 * swenc_frame_planar() */
	uint32_t width, height;
	uint32_t bytesperline;	/* of the camera's buffer (0: packed) */
	uint32_t fps;
	uint32_t bitrate;	/* bits per second */
	uint32_t gop;		/* frames between keyframes */
};

/*
 * Where access units go. reserve() returns memory for len bytes plus
 * `pad' more (libavcodec writes padding after a packet), or NULL when
 * there is no room (the frame is then dropped, and said so); commit()
 * says the reserved memory now holds an access unit of len bytes.
 */
struct swenc_sink {
	void *arg;
	uint8_t *(*reserve)(void *arg, size_t len, size_t pad);
	int (*commit)(void *arg, size_t len, bool key, uint64_t ts_us);
};

/* 0, or -errno with the reason in why (no libx264: -ENOSYS). */
int swenc_open(const struct swenc_opts *o, struct swenc **out, char *why,
	       size_t why_len);

/*
 * Encodes one raw frame of len bytes (the camera's buffer: read, never
 * written, and not kept past this call); ts_us is its capture time. With
 * key the access unit is a keyframe (an event just began). The access
 * unit goes to sink. 1 when one came out, 0 when the frame was dropped
 * (no room in the sink), -errno.
 */
int swenc_frame(struct swenc *e, const uint8_t *raw, size_t len,
		uint64_t ts_us, bool key, const struct swenc_sink *sink);

/*
 * A decoded picture (a camera's MJPEG frame, capture/mjpeg.h): planar
 * 4:2:0, or 4:2:2 (chroma_full_height), the size swenc_open() was given;
 * full_range for JPEG's 0-255 levels. Converted once to NV12 (counted),
 * then as swenc_frame().
 */
struct swenc_planar {
	const uint8_t *plane[3];
	int stride[3];
	bool chroma_full_height, full_range;
};

int swenc_frame_planar(struct swenc *e, const struct swenc_planar *p,
		       uint64_t ts_us, bool key, const struct swenc_sink *sink);

/* Raw frames converted before encoding (YUYV), and frames dropped. */
uint64_t swenc_converted(const struct swenc *e);
uint64_t swenc_dropped(const struct swenc *e);

void swenc_close(struct swenc *e);

#endif
