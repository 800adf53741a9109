/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * H.264 Annex-B byte stream splitter: finds NAL units by start code and
 * groups them into access units (ITU-T H.264 7.4.1.2.3) without copying.
 * Camera bytes are untrusted: every read is bounded, and an access unit
 * larger than ANNEXB_AU_MAX is an error, not an allocation.
 */
#ifndef MOAT_CAPTURE_ANNEXB_H
#define MOAT_CAPTURE_ANNEXB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	ANNEXB_AU_MAX = 8 << 20,
	NAL_SLICE = 1,
	NAL_IDR = 5,
	NAL_SEI = 6,
	NAL_SPS = 7,
	NAL_PPS = 8,
	NAL_AUD = 9,
};

struct annexb {
	const uint8_t *buf;
	size_t len;
	size_t off; /* start of the next unread NAL's start code */
};

/* One access unit: bytes [p, p + len) including its start codes. */
struct annexb_au {
	const uint8_t *p;
	size_t len;
	bool key;    /* holds an IDR slice */
	bool config; /* holds SPS or PPS */
	unsigned int nals;
};

void annexb_init(struct annexb *a, const uint8_t *buf, size_t len);

/*
 * Next access unit: 1 and *au filled, 0 at the end, -MOAT_E_MALFORMED when
 * the bytes do not start with a start code, -MOAT_E_LIMIT for an access
 * unit over ANNEXB_AU_MAX.
 */
int annexb_next_au(struct annexb *a, struct annexb_au *au);

#endif
