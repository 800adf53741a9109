/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A camera source: what a capture worker reads access units from. File,
 * RTSP and V4L2 cameras implement the same operations, so the worker's
 * loop and the sealer never know which kind of camera they serve.
 *
 * next() never sleeps: it returns a frame when one is due, or says when the
 * next one will be, so the worker can wait for it in its event loop along
 * with everything else (an io_uring timeout, or a poll on fd()).
 */
#ifndef MOAT_CAPTURE_SOURCE_H
#define MOAT_CAPTURE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One access unit, valid until the next call on its source. */
struct cap_frame {
	const uint8_t *p;
	size_t len;
	uint64_t ts_us; /* capture time, microseconds (Unix epoch) */
	uint64_t index; /* frames delivered before this one */
	bool key;
	bool config; /* carries SPS/PPS (and VPS for H.265) */
	bool hevc;   /* H.265; else H.264 */
};

struct cap_source;

struct cap_source_ops {
	const char *kind;
	/*
	 * 1 and *f when a frame is due at now_us; 0 and *due_us when the next
	 * frame is due later; -ENODATA at the end of a finite source; another
	 * negative error when the camera failed (the worker reports it and
	 * restarts).
	 */
	int (*next)(struct cap_source *s, uint64_t now_us, struct cap_frame *f,
		    uint64_t *due_us);
	/* A descriptor that becomes readable when data arrives, or -1. */
	int (*fd)(const struct cap_source *s);
	void (*close)(struct cap_source *s);
};

struct cap_source {
	const struct cap_source_ops *ops;
};

static inline int cap_next(struct cap_source *s, uint64_t now_us,
			   struct cap_frame *f, uint64_t *due_us)
{
	return s->ops->next(s, now_us, f, due_us);
}

static inline void cap_close(struct cap_source *s)
{
	if (s)
		s->ops->close(s);
}

/* Microseconds since the Unix epoch, from CLOCK_REALTIME. */
uint64_t cap_now_us(void);

#endif
