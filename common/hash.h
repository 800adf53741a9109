/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * FNV-1a, 64-bit: a fingerprint of a few bytes (not for anything an
 * attacker chooses to collide: the policy's recent-event filter and the
 * handoff's layout check).
 */
#ifndef MOAT_COMMON_HASH_H
#define MOAT_COMMON_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t fnv1a64(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#endif
