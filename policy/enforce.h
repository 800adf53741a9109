/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The whole network policy (docs/POLICY.md), as moatd and `moatctl
 * policy' use it: the kernel settings (sysctl.h), the nftables table
 * (policy.h) and the BPF programs (bpf.h), applied in that order and
 * verified against the kernel. moatd starts no role until
 * policy_verify() finds nothing wrong.
 */
#ifndef MOAT_POLICY_ENFORCE_H
#define MOAT_POLICY_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/sbuf.h"
#include "daemon/config.h"

/* Applies everything made from c (conf: the file's name, for the table's
 * comment). 0, or -errno with what failed, and why, in why. */
int policy_enforce(const struct cfg *c, const char *conf, char *why,
		   size_t why_len);

/* Asks the kernel whether all of it is in force. One line per problem in
 * out; returns how many (0: verified). */
int policy_verify(const struct cfg *c, const char *conf, struct sbuf *out);

/* What is in force, for `moatctl policy status' (people or JSON). */
void policy_status(const struct cfg *c, struct sbuf *out, bool json);

/* Takes it all away (the table, the BPF programs, moat's cgroups). */
int policy_teardown(const struct cfg *c, char *why, size_t why_len);

#endif
