/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moatd and the network policy (docs/POLICY.md): with [hub] policy =
 * enforce it applies the policy and asks the kernel whether it is in
 * force before any role starts, and refuses to start otherwise (fail
 * closed, saying why); it moves each role into its cgroup; it logs every
 * blocked attempt the BPF programs report, and restarts the uplink when
 * the ciphertext gate has ended its connection.
 */
#ifndef MOAT_DAEMON_NETPOLICY_H
#define MOAT_DAEMON_NETPOLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "common/sbuf.h"
#include "daemon/sandbox.h"

struct super;

/* Enforces and verifies (or warns that it is off). 0 or -EPERM, logged. */
int netpol_up(struct super *s);

/* In a freshly forked role: into its cgroup. 0 or -errno, logged. */
int netpol_enter(const struct super *s, enum role role, int cam);

/* Checks with the kernel that the policy is still in force (a `nft flush
 * ruleset', an adapter unplugged and back loses its sysctls and filter);
 * if not, an ALERT in the log and in status, and it is applied again. */
void netpol_watch(struct super *s);

/* The events ring buffer's descriptor to poll, or -1. */
int netpol_fd(const struct super *s);

/* Reads what the BPF programs reported since the last call. */
void netpol_events(struct super *s);

/* The policy's part of `moatctl status'. */
void netpol_status(const struct super *s, struct sbuf *b, bool json);

void netpol_down(struct super *s);

#endif
