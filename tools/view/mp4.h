/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * MP4 output for the viewer: H.264 or H.265 access units (Annex-B, as the camera
 * sent them) remuxed into an MP4 file with libavformat, no re-encoding.
 *
 * The video starts at the first keyframe that carries its parameter sets
 * (H.264 SPS and PPS, which become the avcC box; H.265 VPS, SPS and PPS,
 * the hvcC box); access units before it are skipped and counted.
 *
 * Times: the first frame written is t = 0. Each later frame follows the
 * one before by the gap between their capture times, held to 1 ms .. 1 h:
 * a time not after the previous one (a clock stepped back, a repeated
 * time) gives previous + 1 ms, and a jump forward of more than an hour is
 * cut to an hour. Times in the file thus always increase, a clock step
 * shifts what follows instead of squeezing it, and every sample duration
 * fits the 32-bit MP4 field. The time base is 90 kHz.
 *
 * err/errlen take a one-line reason naming the path on every failure.
 */
#ifndef MOAT_TOOLS_VIEW_MP4_H
#define MOAT_TOOLS_VIEW_MP4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mp4w;

/*
 * Opens path (always a local file, never a URL) for writing, replacing
 * it if it exists. NULL and err on failure.
 */
struct mp4w *mp4_open(const char *path, bool hevc, char *err, size_t errlen);

/*
 * Adds one access unit of at most ANNEXB_AU_MAX bytes with its capture
 * time in microseconds since the Unix epoch. 0 (also when it was skipped),
 * -EINVAL for bytes that are not Annex-B, -EMSGSIZE when too large,
 * -ENOMEM, or -EIO when libavformat fails; a failed write makes every
 * later call fail too.
 */
int mp4_add(struct mp4w *w, const uint8_t *au, size_t len, uint64_t ts_us,
	    bool key, char *err, size_t errlen);

/*
 * Finishes the file and frees w (also on error). Accepts NULL. 0, -ENODATA
 * when no frame could start the video, or the error of an earlier write.
 */
int mp4_close(struct mp4w *w, char *err, size_t errlen);

/* Frames written and frames skipped so far (0 for NULL). */
uint64_t mp4_frames(const struct mp4w *w);
uint64_t mp4_skipped(const struct mp4w *w);

#endif
