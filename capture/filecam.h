/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The file camera: replays an Annex-B H.264 file as a camera would send
 * it, one access unit at a time, at the recorded frame rate (realtime) or
 * as fast as asked (fast, for benchmarks), looping if told to. The file is
 * mapped read-only; frames point into the mapping, never copied. It is the
 * embedded default camera of the demo and the tests.
 */
#ifndef MOAT_CAPTURE_FILECAM_H
#define MOAT_CAPTURE_FILECAM_H

#include <stdbool.h>

#include "capture/source.h"

enum { FILECAM_MAX_BYTES = 1 << 30 };

struct filecam_opts {
	bool realtime; /* else fast */
	bool loop;
	unsigned int fps; /* 1-240; the file has no timing of its own */
};

/*
 * Opens path. -ENOENT and friends for the file, -MOAT_E_MALFORMED when it
 * is not Annex-B H.264 (the message names the file), -EFBIG over 1 GiB.
 */
int filecam_open(const char *path, const struct filecam_opts *o,
		 struct cap_source **out);

#endif
