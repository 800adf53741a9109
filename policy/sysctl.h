/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Kernel settings the network policy needs (docs/POLICY.md), set and read
 * back through /proc/sys, in the caller's network namespace:
 *
 * - on each camera interface: strict reverse-path filtering (rp_filter 1:
 *   a camera cannot use a source address routed elsewhere), ARP answered
 *   only for the interface's own addresses from its own subnet
 *   (arp_ignore 2) and sent from them (arp_announce 2), no router
 *   advertisements (accept_ra 0) and no ICMP redirects;
 * - the TCP Fast Open client off (bit 0 of net.ipv4.tcp_fastopen): data
 *   in a SYN would pass the gate's sequence bookkeeping by (the gate
 *   refuses it anyway).
 */
#ifndef MOAT_POLICY_SYSCTL_H
#define MOAT_POLICY_SYSCTL_H

#include <stddef.h>

#include "common/sbuf.h"
#include "daemon/config.h"

/* Sets them all. 0, or -errno with the setting at fault in why. */
int polsys_apply(const struct cfg *c, char *why, size_t why_len);

/* One line per setting that is not as it must be; returns how many. */
int polsys_verify(const struct cfg *c, struct sbuf *out);

/* "name = value" for each, for status. */
void polsys_status(const struct cfg *c, struct sbuf *out, bool json);

#endif
