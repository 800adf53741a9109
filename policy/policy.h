/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hub's network policy, nftables part (docs/POLICY.md): one table
 * `inet moat`, generated from moat.conf and replaced atomically through
 * libnftables, with base chains at priority filter - 5.
 *
 * - input: from a camera interface only replies to what the hub started,
 *   DHCP and IPv6 neighbour discovery reach the hub;
 * - forward: nothing is routed in or out of a camera interface;
 * - output: the camera workers' user reaches only the cameras' RTSP
 *   ports, the uplink's user only the relay, the sealer's user nothing;
 *   towards a camera interface nothing else leaves.
 *
 * Every rule carries a comment that says what it is for, so that
 * `nft list table inet moat` reads as the policy itself.
 */
#ifndef MOAT_POLICY_POLICY_H
#define MOAT_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/config.h"

enum { POLICY_TEXT_MAX = 64 << 10 };

/*
 * The ruleset for c (conf names the file, for the table's comment). The
 * relay's host name is resolved now: nftables matches addresses. 0, or
 * -EINVAL with the reason (naming the camera or key) in why.
 */
int policy_ruleset(const struct cfg *c, const char *conf, char *out,
		   size_t len, char *why, size_t why_len);

/*
 * An IP camera's numeric address (`ip', or the numeric host of its
 * source) and RTSP port. 0, or -EINVAL naming the camera and the fix.
 */
/* A host's addresses, numeric (the relay's: the policy names them). */
enum { POLICY_ADDRS_MAX = 16 };
struct policy_addrs {
	char ip[POLICY_ADDRS_MAX][46]; /* INET6_ADDRSTRLEN */
	bool v6[POLICY_ADDRS_MAX];
	int n;
};
/* Resolves the relay's name, at most every 5 minutes in one process, and
 * falls back to the last answer when a lookup fails: 0, or -EINVAL with
 * why. */
int policy_relay_addrs(const char *host, struct policy_addrs *out, char *why,
		       size_t why_len);

int policy_camera_addr(const struct cfg_camera *cam, char *ip, size_t ip_len,
		       unsigned int *port, char *why, size_t why_len);

/*
 * Replaces the table with text in one transaction, after a dry run: on
 * any error the table in the kernel stays as it was and err holds
 * nftables' message (the rule it refused, with its line). 0 or -errno.
 */
int policy_apply(const char *text, char *err, size_t err_len);

/*
 * Whether the kernel answers nftables' netlink (NETLINK_NETFILTER): 0, or
 * -errno with the reason in why. Asked before libnftables starts, which
 * exits the process when it cannot open that socket.
 */
int policy_nft_kernel(char *why, size_t why_len);

/* Deletes the table; 0 also when there was none. */
int policy_remove(char *err, size_t err_len);

/* `nft list table inet moat` into out: 0, or -ENOENT when absent. */
int policy_list(char *out, size_t len);

#endif
