/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The plaintext inside a data record (docs/PROTOCOL.md, "Frames"): a
 * 16-byte frame header, the payload, then zero padding. Everything a relay
 * must not learn (capture time, keyframe flag, camera name) lives here.
 *
 *   0  kind    1 = metadata (TLVs), 2 = access unit
 *   1  flags   bit 0 keyframe, bit 1 carries codec config (SPS/PPS)
 *   2  u16     reserved, 0
 *   4  u32     padding length (zero bytes at the end of the payload)
 *   8  u64     capture time, microseconds since the Unix epoch
 */
#ifndef MOAT_CRYPTO_FRAME_H
#define MOAT_CRYPTO_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	FRAME_HDR_LEN = 16,
	FRAME_KIND_META = 1,
	FRAME_KIND_AU = 2,
	FRAME_F_KEY = 1U << 0,
	FRAME_F_CONFIG = 1U << 1,

	META_CAMERA = 1,   /* UTF-8 name, 1..64 bytes */
	META_CODEC = 2,	   /* "h264" or "h265" */
	META_START_US = 3, /* u64 start time */
	META_KIND = 4,	   /* u8: 1 GOP, 2 clip, 3 live */
	META_CLIP_GOPS = 5,  /* clip: its GOP streams' ids, 16 bytes each */
	META_MOTION_US = 6,  /* clip: u64 time the motion began */
	META_END_US = 7,     /* clip: u64 end of its last GOP */
	META_NAME_MAX = 64,
	META_CLIP_GOPS_MAX = 4095, /* ids in one TLV (65,520 bytes) */
	META_KIND_GOP = 1,
	META_KIND_CLIP = 2,
	META_KIND_LIVE = 3,
};

struct frame_hdr {
	uint8_t kind;
	uint8_t flags;
	uint32_t pad;
	uint64_t ts_us;
};

struct frame_meta {
	char camera[META_NAME_MAX + 1];
	char codec[8];
	uint64_t start_us;
	uint8_t kind;
	/* a clip's index (kind 2); gops points into the parsed record */
	const uint8_t *gops; /* n_gops stream ids of 16 bytes, in order */
	size_t n_gops;
	uint64_t motion_us, end_us;
};

void frame_hdr_put(uint8_t out[static FRAME_HDR_LEN],
		   const struct frame_hdr *f);

/*
 * Parses an opened record's plaintext: the payload is p[16 .. len - pad).
 * -MOAT_E_MALFORMED for an unknown kind, reserved bits, or padding longer
 * than the payload.
 */
int frame_parse(const uint8_t *p, size_t len, struct frame_hdr *f,
		const uint8_t **payload, size_t *payload_len);

/* Encodes metadata TLVs into out; returns length or -ENOBUFS/-EINVAL. */
long frame_meta_put(uint8_t *out, size_t cap, const struct frame_meta *m);
/* Parses metadata TLVs (unknown types skipped, bounded). */
int frame_meta_parse(const uint8_t *p, size_t len, struct frame_meta *m);

#endif
