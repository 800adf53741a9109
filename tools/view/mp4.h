/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MP4 output for the viewer: H.264 access units (Annex-B, as the camera
 * sent them) remuxed into an MP4 file with libavformat, no re-encoding.
 * Times are the capture times from the frame headers, in microseconds;
 * the first frame written is t = 0.
 */
#ifndef MOAT_TOOLS_VIEW_MP4_H
#define MOAT_TOOLS_VIEW_MP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp4w;

/* Opens path for writing (replaced if it exists). NULL and err on failure. */
struct mp4w *mp4_open(const char *path, char *err, size_t errlen);

/*
 * Adds one access unit. The file starts at the first keyframe that carries
 * SPS and PPS (its codec setup); access units before it are skipped and
 * counted. A time not after the previous one becomes the previous plus
 * 1 ms, so times in the file always increase. 0, or -errno with err.
 */
int mp4_add(struct mp4w *w, const uint8_t *au, size_t len, uint64_t ts_us,
	    bool key, char *err, size_t errlen);

/* Finishes the file and frees w (also on error). Accepts NULL. */
int mp4_close(struct mp4w *w, char *err, size_t errlen);

uint64_t mp4_frames(const struct mp4w *w);
uint64_t mp4_skipped(const struct mp4w *w);

#endif
