/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Motion detection for event clips: the camera's H.264 or H.265 decoded with
 * libavcodec inside the capture worker (the access units are untrusted;
 * the decoder runs in the worker's sandbox, single-threaded), sampled a
 * few times a second, each sample reduced to a grid of mean luma cells.
 *
 * A sample is compared with the one before it. A cell has changed when
 * its difference, less the mean difference of the whole picture (so that
 * light coming on or a camera's exposure step is not motion), exceeds a
 * threshold; the picture has motion when enough cells outside the ignored
 * zones changed; the detector says "active" after two such samples in a
 * row (one noisy sample is not an event) and stays active until a sample
 * without motion.
 */
#ifndef MOAT_CAPTURE_MOTION_H
#define MOAT_CAPTURE_MOTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MOTION_ZONES_MAX = 8,
	MOTION_GRID_W = 32,
	MOTION_GRID_H = 18,
	MOTION_PIXELS_MAX = 4096 * 2304, /* larger pictures end the detector */
};

/* A rectangle in percent of the picture (0-100), left out of analysis. */
struct motion_zone {
	uint8_t x, y, w, h;
};

struct motion_opts {
	bool hevc;		  /* H.265; else H.264 */
	/* only check that keyframes decode (no motion analysis): what a
	 * continuous camera's worker runs to notice a damaged stream */
	bool keyframes_only;
	unsigned int sensitivity; /* 1 (only large, clear motion) - 100 */
	unsigned int fps;	  /* samples analysed per second, 1-30 */
	struct motion_zone ignore[MOTION_ZONES_MAX];
	size_t n_ignore;
};

struct motion_result {
	bool sampled;	    /* this frame was analysed */
	bool motion;	    /* ... and moved against the previous sample */
	bool active;	    /* the detector's state after this frame */
	unsigned int cells; /* changed cells in the last sample */
	unsigned int of;    /* cells looked at (outside the ignored zones) */
	bool decoded;	    /* a picture came out of this access unit */
	bool damaged;	    /* the decoder found this one broken */
};

struct motion;

/* NULL and why on failure (no H.264 decoder, no memory). */
struct motion *motion_new(const struct motion_opts *o, char *why,
			  size_t why_len);

/*
 * Feeds one Annex-B access unit captured at ts_us. 0 and *r, or -EPROTO
 * when the stream cannot be decoded at all (after a keyframe it could
 * not decode) or -EMSGSIZE for a picture over MOTION_PIXELS_MAX. A frame
 * the decoder refuses before the first keyframe is skipped, not an error:
 * cameras join mid-GOP.
 */
int motion_feed(struct motion *m, const uint8_t *au, size_t len,
		uint64_t ts_us, struct motion_result *r);

void motion_free(struct motion *m);

/*
 * Parses "x,y,w,h[;x,y,w,h...]" (percent) into zones. 0, or -EINVAL with
 * what is wrong in why.
 */
int motion_parse_zones(const char *s, struct motion_zone *z, size_t *n,
		       char *why, size_t why_len);

#endif
