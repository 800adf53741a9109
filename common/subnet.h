/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A subnet as moat.conf writes it ("192.168.1.0/24", "fd00::/64"): parsed
 * into the 16-byte form the BPF policy matches (IPv4 as ::ffff:a.b.c.d,
 * its prefix 96 longer), and checked to have no host bits set.
 */
#ifndef MOAT_COMMON_SUBNET_H
#define MOAT_COMMON_SUBNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct subnet {
	uint8_t addr[16];  /* IPv4 mapped into IPv6 */
	unsigned int bits; /* prefix length of addr (IPv4: 96 + its own) */
	bool v6;
};

/*
 * 0, or -EINVAL with the reason in why (a phrase that follows the value
 * in a message: "is not a subnet like ...", "has host bits set: ...").
 */
int subnet_parse(const char *text, struct subnet *out, char *why,
		 size_t why_len);
/* Whether addr (16 bytes, IPv4 mapped) is in s. */
bool subnet_has(const struct subnet *s, const uint8_t addr[16]);

#endif
