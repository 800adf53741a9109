/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The network interfaces of the caller's network namespace, from rtnetlink
 * (not /sys, which shows the namespace it was mounted in): names, MACs,
 * which are bridges and which bridge each port belongs to, and whether a
 * bridge port is isolated (its frames reach only non-isolated ports: on a
 * camera bridge, the hub and nothing else).
 */
#ifndef MOAT_POLICY_LINKS_H
#define MOAT_POLICY_LINKS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LINKS_MAX = 256 };

struct link {
	unsigned int ifindex, master; /* master: its bridge, or 0 */
	char name[IF_NAMESIZE];
	uint8_t mac[6];
	bool has_mac, bridge, isolated;
};

/* Every interface (at most max). Returns how many, or -errno. */
int links_get(struct link *out, size_t max);

/* Sets a bridge port isolated. 0 or -errno. */
int links_isolate(unsigned int ifindex);

#endif
