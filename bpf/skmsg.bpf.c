// SPDX-License-Identifier: GPL-2.0-only
/*
 * Not part of the policy: a measurement aid for `moat-bench uplink'. The
 * other way a ciphertext gate could be built is an sk_msg verdict program
 * on the uplink's socket, which sees each sendmsg whole (DESIGN.md lists
 * what that costs). This one passes every message unread: the cheapest an
 * sk_msg gate could be, so what the benchmark shows of it (SEND_ZC refused,
 * MSG_ZEROCOPY copied) is a floor, not a worst case.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32); /* a socket's fd */
} socks SEC(".maps");

SEC("sk_msg")
int moat_skmsg(struct sk_msg_md *msg)
{
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
