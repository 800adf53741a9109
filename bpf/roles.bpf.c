// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hub's roles on their leashes (docs/POLICY.md). Attached to moat's
 * cgroup, whose children hold one role each (a camera's worker, the
 * sealer, the uplink):
 *
 * - connect4/6, sendmsg4/6: a role may connect or send only to a peer in
 *   `allow' for its cgroup (a worker: its camera's RTSP port; the uplink:
 *   the relay; the sealer: nothing). Anything else fails with EPERM
 *   before a packet is made, and is reported.
 * - cgroup_skb egress/ingress: the same rule per packet, as a backstop for
 *   whatever the socket hooks do not see (a raw or ICMP socket, a packet
 *   the kernel sends on a role's socket): TCP and UDP to or from an
 *   allowed peer pass, everything else is dropped.
 *
 * - lan: the uplink may also take TCP connections on the LAN port from
 *   the LAN (lan_subnet), and answer them: packets in from the LAN to
 *   that port, and out from that port to the LAN, pass (the uplink
 *   cannot connect to the LAN: the socket hooks know nothing of it).
 *
 * A process in moat's cgroup tree whose cgroup is not in `roles' may do
 * nothing at all: the policy fails closed.
 */
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bpf/common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_MAX_CAMERAS + 2);
	__type(key, __u64);
	__type(value, struct pol_role);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} roles SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_MAX_PEERS);
	__type(key, struct pol_peer);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} allow SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__type(key, struct pol_lan_key);
	__type(value, struct pol_lan);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} lan SEC(".maps");

/* 1 if cgroup cg may reach the peer in key (whose cgroup is set here). */
static __always_inline int allowed(struct pol_peer *key, __u64 cg,
				   __u32 *who)
{
	struct pol_role *r = bpf_map_lookup_elem(&roles, &cg);

	*who = POL_WHO_UNKNOWN;
	if (!r)
		return 0;
	*who = r->who;
	key->cgroup = cg;
	return bpf_map_lookup_elem(&allow, key) != NULL;
}

/* A role's refused attempt: counted and reported. */
static __always_inline int refused(__u32 who, __u8 reason,
				   const struct pol_peer *key, const __u8 src[16])
{
	struct pol_block_key bk = {
		.who = who,
		.reason = reason,
		.proto = key->proto,
		.port = key->port,
	};

	count(POL_C_DROP_ROLE, 1);
	__builtin_memcpy(bk.addr, key->addr, 16);
	report(&bk, src, NULL, 0, 0);
	return 0;
}

static __always_inline int sock_addr(struct bpf_sock_addr *ctx, int v6)
{
	struct pol_peer key = {};
	__u8 none[16] = {};
	__u32 who;

	if (v6) {
		__u32 a[4];

		a[0] = ctx->user_ip6[0];
		a[1] = ctx->user_ip6[1];
		a[2] = ctx->user_ip6[2];
		a[3] = ctx->user_ip6[3];
		__builtin_memcpy(key.addr, a, 16);
	} else {
		v4_mapped(key.addr, ctx->user_ip4);
	}
	key.port = (__u16)ctx->user_port;
	key.proto = (__u8)ctx->protocol;
	if (allowed(&key, bpf_get_current_cgroup_id(), &who)) {
		count(POL_C_PASS_ROLE, 1);
		return 1;
	}
	return refused(who, POL_R_DEST, &key, none);
}

SEC("cgroup/connect4")
int moat_connect4(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, 0);
}

SEC("cgroup/connect6")
int moat_connect6(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, 1);
}

SEC("cgroup/sendmsg4")
int moat_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, 0);
}

SEC("cgroup/sendmsg6")
int moat_sendmsg6(struct bpf_sock_addr *ctx)
{
	return sock_addr(ctx, 1);
}

/*
 * A packet's far end: with out set, its destination (egress), else its
 * source (ingress). Fills key's address, port and protocol; 0 if the
 * packet could not be read as IPv4 or IPv6 with TCP or UDP next.
 */
static __always_inline int far_end(struct __sk_buff *skb, int out,
				   struct pol_peer *key, __u8 src[16],
				   __be16 *local)
{
	__u32 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return 0;
		v4_mapped(key->addr, out ? ip.daddr : ip.saddr);
		v4_mapped(src, out ? ip.saddr : ip.daddr);
		key->proto = ip.protocol;
		if (ip.frag_off & bpf_htons(0x1fff))
			return 0; /* a later fragment: no ports to read */
		l4 = (__u32)ip.ihl * 4;
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return 0;
		__builtin_memcpy(key->addr, out ? &ip6.daddr : &ip6.saddr, 16);
		__builtin_memcpy(src, out ? &ip6.saddr : &ip6.daddr, 16);
		key->proto = ip6.nexthdr; /* extension headers: refused */
		l4 = sizeof(ip6);
	} else {
		return 0;
	}
	if (key->proto == IPPROTO_TCP || key->proto == IPPROTO_UDP) {
		__be16 ports[2];

		if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports)))
			return 0;
		key->port = out ? ports[1] : ports[0];
		*local = out ? ports[0] : ports[1];
		return 1;
	}
	return 0;
}

static __always_inline int packet(struct __sk_buff *skb, int out)
{
	struct pol_peer key = {};
	__u8 src[16] = {};
	__u32 who;
	__be16 local = 0;
	int ok = far_end(skb, out, &key, src, &local);

	if (ok && allowed(&key, bpf_skb_cgroup_id(skb), &who)) {
		count(POL_C_PASS_ROLE, 1);
		return 1;
	}
	if (ok && (who & POL_WHO_KIND) == POL_WHO_UPLINK &&
	    key.proto == IPPROTO_TCP) {
		struct pol_lan_key lk = { .prefixlen = 128 };
		struct pol_lan *l;

		__builtin_memcpy(lk.addr, key.addr, 16);
		l = bpf_map_lookup_elem(&lan, &lk);
		if (l && l->port == local) {
			count(POL_C_PASS_ROLE, 1);
			return 1;
		}
	}
	if (!ok) {
		struct pol_role *r;
		__u64 cg = bpf_skb_cgroup_id(skb);

		r = bpf_map_lookup_elem(&roles, &cg);
		who = r ? r->who : POL_WHO_UNKNOWN;
	}
	/* Only what a role tried to send is an attempt worth a log line;
	 * what arrives for it from elsewhere is counted. */
	if (out)
		return refused(who, ok ? POL_R_DEST : POL_R_PROTO, &key, src);
	count(POL_C_DROP_ROLE, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int moat_egress(struct __sk_buff *skb)
{
	return packet(skb, 1);
}

SEC("cgroup_skb/ingress")
int moat_ingress(struct __sk_buff *skb)
{
	return packet(skb, 0);
}

char LICENSE[] SEC("license") = "GPL";
