/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The BPF part of the network policy (docs/POLICY.md): loads bpf/roles,
 * bpf/gate and bpf/camnet, fills their maps from moat.conf, attaches them
 * and pins everything under [hub] bpf_pin, so that the policy outlives
 * moatd:
 *
 *   ROOT (cgroup)      connect4/6, sendmsg4/6, cgroup_skb egress/ingress
 *   ROOT/uplink        the ciphertext gate (cgroup_skb egress)
 *   camera interfaces  TC ingress (each port of a camera bridge)
 *
 * Applying again updates the maps and swaps the programs behind the
 * pinned links (bpf_link_update): the policy is never off in between.
 */
#ifndef MOAT_POLICY_BPF_H
#define MOAT_POLICY_BPF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/policy.h"
#include "common/sbuf.h"
#include "daemon/config.h"

/* Loads, fills, attaches, pins. 0, or -errno with the reason in why. */
int polbpf_apply(const struct cfg *c, char *why, size_t why_len);

/*
 * Asks the kernel whether what polbpf_apply() would make is in force:
 * programs attached to the right cgroups and interfaces, maps holding
 * what moat.conf says. One line per problem in out (what, and the fix);
 * returns how many (0: verified), or -errno when it could not look.
 */
int polbpf_verify(const struct cfg *c, struct sbuf *out);

/* What is attached where, and the counters, for people (or JSON). */
int polbpf_status(const struct cfg *c, struct sbuf *out, bool json);

/* Detaches and unpins everything; 0 also when nothing was there. */
int polbpf_remove(const struct cfg *c, char *why, size_t why_len);

/* Attaches (on) or detaches the ciphertext gate alone: moat-bench
 * measures the uplink with and without it. 0 or -errno. */
int polbpf_gate(const struct cfg *c, bool on, char *why, size_t why_len);

/* The time the kernel spent in the gate and how often it ran, while BPF
 * statistics are on (bpf_enable_stats). 0 or -ENOENT (no gate). */
int polbpf_gate_runtime(const struct cfg *c, uint64_t *ns, uint64_t *runs);

/* The counters (POL_C_*), summed over CPUs. 0 or -errno. */
int polbpf_counters(const struct cfg *c, uint64_t out[POL_C_MAX]);

/* One line of the blocked-attempt log. */
struct polbpf_blocked {
	struct pol_block_key key;
	struct pol_block_val val;
	char who[48]; /* "porch", "worker of porch", "uplink", ... */
};

/* Every line of the log (malloc'd array, most recent first). */
int polbpf_blocked(const struct cfg *c, struct polbpf_blocked **out,
		   size_t *n);

/* Names the attempt's maker, from the policy's own camera names. */
void polbpf_who(int names_fd, uint32_t who, char *out, size_t len);

/* "203.0.113.7:443/tcp", "ff02::fb icmpv6 type 143", "ARP for 10.0.0.9",
 * ... */
void polbpf_what(const struct pol_block_key *k, char *out, size_t len);
/* An address as the maps hold it (IPv4-mapped or IPv6), as text. */
void polbpf_addr(const uint8_t a[16], char *out, size_t len);

/* Why it was refused, in a few words. */
const char *polbpf_reason(uint32_t who, uint8_t reason);

/* The attempts logged lately, so that each (who, what, why) is logged
 * at most once per 10 s however often it is refused. */
enum { POLBPF_RECENT = 64 };
struct polbpf_recent {
	struct {
		uint64_t hash, at;
	} e[POLBPF_RECENT];
	unsigned int next;
};
struct pol_event;
/* Whether e's attempt was logged in the last 10 s; if not, it is now. */
bool polbpf_recently(struct polbpf_recent *r, const struct pol_event *e);

/* A CLOCK_MONOTONIC time from BPF as wall-clock seconds. */
double polbpf_wall(uint64_t mono_ns);

/* Opens the pinned events ring buffer; calls fn for each event. The
 * caller closes *events_fd (ring_buffer__free does not) and *names_fd
 * (the camera names map), each -1 if not open. */
struct ring_buffer;
struct ring_buffer *polbpf_events(const struct cfg *c,
				  int (*fn)(void *arg, void *data, size_t len),
				  void *arg, int *names_fd, int *events_fd);

#endif
