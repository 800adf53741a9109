/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the policy's BPF programs share: the maps pinned by name (one set
 * per hub, under [hub] bpf_pin), the counters and the report of a blocked
 * attempt. Included by each bpf/X.bpf.c; never by user space.
 */
#ifndef MOAT_BPF_COMMON_BPF_H
#define MOAT_BPF_COMMON_BPF_H

#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bpf/policy.h"

/* Every blocked attempt: the aggregate `moatctl policy log' reads... */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, POL_MAX_BLOCKED);
	__type(key, struct pol_block_key);
	__type(value, struct pol_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} blocked SEC(".maps");

/* ...and each one as it happens, for moatd's log. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, POL_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* The cameras' names, by index: the log names them as the policy in force
 * knew them, whatever moat.conf says since. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, POL_MAX_CAMERAS);
	__type(key, __u32);
	__type(value, struct pol_name);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cam_names SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, POL_C_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} counters SEC(".maps");

static __always_inline void count(__u32 which, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &which);

	if (c)
		*c += n;
}

static __always_inline void v4_mapped(__u8 out[16], __be32 a)
{
	__builtin_memset(out, 0, 10);
	out[10] = 0xff;
	out[11] = 0xff;
	__builtin_memcpy(out + 12, &a, 4);
}

/* Adds one to the attempt's line and sends the event. */
static __always_inline void report(const struct pol_block_key *key,
				   const __u8 src[16], const __u8 *mac,
				   __u16 sport, __u64 cookie)
{
	struct pol_block_val *v, fresh = {};
	struct pol_event *e;
	__u64 now = bpf_ktime_get_ns();

	v = bpf_map_lookup_elem(&blocked, key);
	if (v) {
		__sync_fetch_and_add(&v->count, 1);
		v->last_ns = now;
		__builtin_memcpy(v->src, src, 16);
		if (mac)
			__builtin_memcpy(v->mac, mac, 6);
	} else {
		fresh.count = 1;
		fresh.first_ns = fresh.last_ns = now;
		__builtin_memcpy(fresh.src, src, 16);
		if (mac)
			__builtin_memcpy(fresh.mac, mac, 6);
		bpf_map_update_elem(&blocked, key, &fresh, BPF_NOEXIST);
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		count(POL_C_LOST_EVENTS, 1);
		return;
	}
	e->key = *key;
	e->ts_ns = now;
	__builtin_memcpy(e->src, src, 16);
	if (mac)
		__builtin_memcpy(e->mac, mac, 6);
	else
		__builtin_memset(e->mac, 0, 6);
	e->sport = sport;
	e->cookie = cookie;
	bpf_ringbuf_submit(e, 0);
}

#endif
