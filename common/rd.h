/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bounded reader over untrusted bytes (after OpenSSH sshbuf): every read
 * checks the remaining length first and fails without moving on a short
 * buffer. Big-endian integers, as on the wire.
 */
#ifndef MOAT_COMMON_RD_H
#define MOAT_COMMON_RD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct rd {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static inline void rd_init(struct rd *r, const void *p, size_t len)
{
	r->p = p;
	r->len = len;
	r->off = 0;
}

static inline size_t rd_left(const struct rd *r)
{
	return r->len - r->off;
}

/* Pointer to the next n bytes without consuming them, or NULL if short. */
static inline const uint8_t *rd_peek(const struct rd *r, size_t n)
{
	return n > rd_left(r) ? NULL : r->p + r->off;
}

/* Consume n bytes; returns a pointer to them, or NULL if short. */
static inline const uint8_t *rd_take(struct rd *r, size_t n)
{
	const uint8_t *q = rd_peek(r, n);

	if (q)
		r->off += n;
	return q;
}

static inline bool rd_u8(struct rd *r, uint8_t *v)
{
	const uint8_t *q = rd_take(r, 1);

	*v = q ? q[0] : 0;
	return q != NULL;
}

static inline bool rd_u16(struct rd *r, uint16_t *v)
{
	const uint8_t *q = rd_take(r, 2);

	*v = q ? (uint16_t)(q[0] << 8 | q[1]) : 0;
	return q != NULL;
}

static inline bool rd_u32(struct rd *r, uint32_t *v)
{
	const uint8_t *q = rd_take(r, 4);

	*v = q ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 |
			     (uint32_t)q[2] << 8 | q[3] :
		 0;
	return q != NULL;
}

static inline bool rd_u64(struct rd *r, uint64_t *v)
{
	uint32_t hi, lo;

	*v = 0;
	if (rd_left(r) < 8)
		return false;
	rd_u32(r, &hi);
	rd_u32(r, &lo);
	*v = (uint64_t)hi << 32 | lo;
	return true;
}

static inline bool rd_copy(struct rd *r, void *dst, size_t n)
{
	const uint8_t *q = rd_take(r, n);

	if (q)
		memcpy(dst, q, n);
	return q != NULL;
}

/* Big-endian stores for building wire headers. */
static inline void put_u16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static inline void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static inline void put_u64(uint8_t *p, uint64_t v)
{
	put_u32(p, v >> 32);
	put_u32(p + 4, (uint32_t)v);
}

static inline uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

#endif
