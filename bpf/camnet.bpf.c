// SPDX-License-Identifier: GPL-2.0-only
/*
 * The camera network, at the first point the hub sees a frame (docs/
 * POLICY.md): TC ingress on every camera interface, or on every port of a
 * camera bridge. A camera may send only what the hub needs from it:
 *
 * - from its own MAC, bound to its own IP address (no spoofing either);
 * - ARP about itself or asking for the hub;
 * - to the hub: replies from its RTSP port to connections the hub made
 *   (never a connection of its own), DHCP, ICMP errors;
 * - IPv6: neighbour and router discovery with the hub, from its
 *   link-local address.
 *
 * Everything else is dropped and reported with the camera, destination,
 * protocol and port: to the LAN, the internet, the relay, another camera,
 * the hub's other addresses and ports, multicast (mDNS, SSDP), a spoofed
 * address, another camera's MAC, an ARP claim on the gateway.
 */
#include <linux/if_ether.h>
#include <linux/icmpv6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bpf/common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, POL_MAX_CAMERAS);
	__type(key, struct pol_mac);
	__type(value, struct pol_camera);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} cameras SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, struct pol_camif);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} camera_ifs SEC(".maps");

/* The port each camera without a configured one was first seen on. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, POL_MAX_CAMERAS);
	__type(key, struct pol_mac);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} learned SEC(".maps");

/* Whether frames from camera c may come in on port ifx: the port its
 * config names, or the one it was first seen on. */
static __always_inline int on_its_port(const struct pol_mac *m,
				       const struct pol_camera *c, __u32 ifx)
{
	__u32 *at;

	if (c->ifindex)
		return c->ifindex == ifx;
	at = bpf_map_lookup_elem(&learned, m);
	if (at)
		return *at == ifx;
	bpf_map_update_elem(&learned, m, &ifx, BPF_NOEXIST);
	at = bpf_map_lookup_elem(&learned, m);
	return at && *at == ifx;
}

/* What is known of the frame so far, for the report. */
struct seen {
	struct pol_block_key key;
	__u8 src[16];
	__u8 mac[6];
	__u16 sport;
};

static __always_inline int drop(struct seen *s, __u8 reason)
{
	s->key.reason = reason;
	count(POL_C_DROP_CAMERA, 1);
	report(&s->key, s->src, s->mac, s->sport, 0);
	return TC_ACT_SHOT;
}

/* memcmp() is not lowered for BPF: a byte loop the compiler unrolls */
static __always_inline int eq(const __u8 *a, const __u8 *b, int n)
{
	__u8 d = 0;

#pragma unroll
	for (int i = 0; i < 16; i++)
		if (i < n)
			d |= a[i] ^ b[i];
	return !d;
}

static __always_inline int same16(const __u8 *a, const __u8 *b)
{
	__u64 x[2], y[2];

	__builtin_memcpy(x, a, 16);
	__builtin_memcpy(y, b, 16);
	return x[0] == y[0] && x[1] == y[1];
}

static __always_inline int hub_v4(const struct pol_camif *h, __be32 a)
{
	for (int i = 0; i < POL_IF_ADDRS; i++)
		if (i < h->n4 && h->addr4[i] == a)
			return 1;
	return 0;
}

static __always_inline int hub_v6(const struct pol_camif *h, const __u8 *a)
{
	for (int i = 0; i < POL_IF_ADDRS; i++)
		if (i < h->n6 && same16(h->addr6[i], a))
			return 1;
	return 0;
}

/* ff02::1, ff02::2, or the solicited-node group of a hub address */
static __always_inline int hub_group6(const struct pol_camif *h,
				      const __u8 *a)
{
	static const __u8 pre[13] = { 0xff, 0x02, 0, 0, 0, 0, 0, 0,
				      0,    0,	  0, 1, 0xff };

	if (a[0] != 0xff || a[1] != 0x02)
		return 0;
	if (!(a[2] | a[3] | a[4] | a[5] | a[6] | a[7] | a[8] | a[9] | a[10] |
	      a[11] | a[12] | a[13] | a[14]) &&
	    (a[15] == 1 || a[15] == 2))
		return 1;
	if (!eq(a, pre, 13))
		return 0;
	for (int i = 0; i < POL_IF_ADDRS; i++)
		if (i < h->n6 && h->addr6[i][13] == a[13] &&
		    h->addr6[i][14] == a[14] && h->addr6[i][15] == a[15])
			return 1;
	return 0;
}

static __always_inline int rtsp_port(const struct pol_camera *c, __u16 p)
{
	return p && (p == c->rtsp_port[0] || p == c->rtsp_port[1]);
}

static __always_inline int arp(struct __sk_buff *skb,
			       const struct pol_camera *c,
			       const struct pol_camif *h, struct seen *s)
{
	/* linux/if_arp.h would pull in libc: the ARP header for Ethernet
	 * and IPv4, as RFC 826 lays it out */
	struct {
		__be16 hrd, pro;
		__u8 hln, pln;
		__be16 op;
		__u8 sha[6], spa[4], tha[6], tpa[4];
	} __attribute__((packed)) p;
	__u8 zero[4] = {}, mine[4];

	s->key.proto = POL_PROTO_ARP;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &p, sizeof(p)) ||
	    p.hrd != bpf_htons(1) || p.pro != bpf_htons(ETH_P_IP) ||
	    p.hln != 6 || p.pln != 4)
		return drop(s, POL_R_PROTO);
	__builtin_memcpy(mine, c->addr + 12, 4);
	__builtin_memcpy(s->key.addr + 12, p.tpa, 4);
	s->key.addr[10] = s->key.addr[11] = 0xff;
	s->key.port = p.op;
	if (!eq(p.sha, s->mac, 6))
		return drop(s, POL_R_SPOOF_MAC);
	if (!eq(p.spa, mine, 4) && !eq(p.spa, zero, 4)) {
		/* the address it claims is the news */
		__builtin_memcpy(s->key.addr + 12, p.spa, 4);
		return drop(s, POL_R_ARP_CLAIM);
	}
	/* about itself (a probe or an announcement), or asking the hub */
	if (eq(p.tpa, mine, 4) || eq(p.tpa, p.spa, 4))
		return TC_ACT_OK;
	{
		__be32 t;

		__builtin_memcpy(&t, p.tpa, 4);
		if (hub_v4(h, t))
			return TC_ACT_OK;
	}
	return drop(s, POL_R_DEST);
}

/* The ports (or ICMP type) of a packet, for its report if it is dropped. */
static __always_inline void ports_of(struct __sk_buff *skb, __u32 l4,
				     __u8 proto, struct seen *s)
{
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__be16 ports[2];

		if (!bpf_skb_load_bytes(skb, l4, ports, sizeof(ports))) {
			s->sport = bpf_ntohs(ports[0]);
			s->key.port = ports[1];
		}
	} else if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		__u8 t;

		if (!bpf_skb_load_bytes(skb, l4, &t, 1))
			s->key.port = bpf_htons(t);
	}
}

/* TCP, UDP or ICMP to the hub: only what the hub needs. */
static __always_inline int to_hub(struct __sk_buff *skb, __u32 l4, __u8 proto,
				  const struct pol_camera *c, struct seen *s,
				  int bcast)
{
	if (bcast && proto != IPPROTO_UDP)
		return drop(s, POL_R_DEST);
	if (proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
			return drop(s, POL_R_PROTO);
		s->sport = bpf_ntohs(th.source);
		s->key.port = th.dest;
		if (!rtsp_port(c, th.source) || (th.syn && !th.ack))
			return drop(s, POL_R_PORT);
		return TC_ACT_OK;
	}
	if (proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (bpf_skb_load_bytes(skb, l4, &uh, sizeof(uh)))
			return drop(s, POL_R_PROTO);
		s->sport = bpf_ntohs(uh.source);
		s->key.port = uh.dest;
		if (uh.source == bpf_htons(68) && uh.dest == bpf_htons(67))
			return TC_ACT_OK;
		return drop(s, bcast ? POL_R_DEST : POL_R_PORT);
	}
	if (proto == IPPROTO_ICMP) {
		__u8 type; /* linux/icmp.h pulls in libc */

		if (bpf_skb_load_bytes(skb, l4, &type, 1))
			return drop(s, POL_R_PROTO);
		s->key.port = bpf_htons(type);
		if (type == 3 || type == 11) /* unreachable, time exceeded */
			return TC_ACT_OK;
		return drop(s, POL_R_PROTO);
	}
	return drop(s, POL_R_PROTO);
}

static __always_inline int ipv4(struct __sk_buff *skb,
				const struct pol_camera *c,
				const struct pol_camif *h, struct seen *s,
				int bcast)
{
	struct iphdr ip;
	__u8 dst[16], mine[16];

	s->key.proto = IPPROTO_IP;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)) || ip.ihl < 5)
		return drop(s, POL_R_PROTO);
	s->key.proto = ip.protocol;
	v4_mapped(s->src, ip.saddr);
	v4_mapped(dst, ip.daddr);
	__builtin_memcpy(s->key.addr, dst, 16);
	if (ip.frag_off & bpf_htons(0x3fff)) /* MF or an offset */
		return drop(s, POL_R_FRAGMENT);
	ports_of(skb, ETH_HLEN + ip.ihl * 4, ip.protocol, s);
	__builtin_memcpy(mine, c->addr, 16);
	/* 0.0.0.0 only for DHCP before it has an address */
	if (!same16(s->src, mine) && (ip.saddr || ip.daddr != 0xffffffff))
		return drop(s, POL_R_SPOOF_IP);
	/* the broadcast address only for DHCP (to_hub checks) */
	if (ip.daddr == 0xffffffff && bcast)
		return to_hub(skb, ETH_HLEN + ip.ihl * 4, ip.protocol, c, s, 1);
	if (bcast || !hub_v4(h, ip.daddr))
		return drop(s, POL_R_DEST);
	return to_hub(skb, ETH_HLEN + ip.ihl * 4, ip.protocol, c, s, 0);
}

static __always_inline int ipv6(struct __sk_buff *skb,
				const struct pol_camera *c,
				const struct pol_camif *h, struct seen *s,
				int mcast)
{
	struct ipv6hdr ip6;
	__u8 mine[16];
	__u32 l4 = ETH_HLEN + sizeof(ip6);
	__u8 next;
	int ll, unspec, group;

	s->key.proto = IPPROTO_IPV6;
	if (bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6)))
		return drop(s, POL_R_PROTO);
	__builtin_memcpy(s->src, &ip6.saddr, 16);
	__builtin_memcpy(s->key.addr, &ip6.daddr, 16);
	next = ip6.nexthdr;
	if (next == 0) { /* hop-by-hop options (MLD carries one): skip it */
		__u8 hbh[2];

		if (bpf_skb_load_bytes(skb, l4, hbh, 2))
			return drop(s, POL_R_PROTO);
		next = hbh[0];
		l4 += ((__u32)hbh[1] + 1) * 8;
	}
	s->key.proto = next;
	ports_of(skb, l4, next, s);
	__builtin_memcpy(mine, c->addr, 16);
	ll = s->src[0] == 0xfe && (s->src[1] & 0xc0) == 0x80;
	unspec = !(s->src[0] | s->src[1] | s->src[2] | s->src[3] | s->src[4] |
		   s->src[5] | s->src[6] | s->src[7] | s->src[8] | s->src[9] |
		   s->src[10] | s->src[11] | s->src[12] | s->src[13] |
		   s->src[14] | s->src[15]);
	group = hub_group6(h, s->key.addr);
	/* a multicast frame only for a group of the hub's, a unicast one
	 * only to the hub's MAC (the caller checked) */
	if (mcast != group)
		return drop(s, POL_R_DEST);
	if (next == IPPROTO_ICMPV6) {
		struct icmp6hdr ih;

		if (bpf_skb_load_bytes(skb, l4, &ih, sizeof(ih)))
			return drop(s, POL_R_PROTO);
		s->key.port = bpf_htons(ih.icmp6_type);
		/* router and neighbour discovery, from link-local (or ::
		 * while it checks its address), to the hub */
		if (ih.icmp6_type >= 133 && ih.icmp6_type <= 136 &&
		    (ll || unspec) && ip6.hop_limit == 255 &&
		    (group || hub_v6(h, s->key.addr)))
			return TC_ACT_OK;
		if ((ih.icmp6_type == ICMPV6_DEST_UNREACH ||
		     ih.icmp6_type == ICMPV6_TIME_EXCEED ||
		     ih.icmp6_type == ICMPV6_PKT_TOOBIG) &&
		    (ll || same16(s->src, mine)) && hub_v6(h, s->key.addr))
			return TC_ACT_OK;
		return drop(s, group || hub_v6(h, s->key.addr) ? POL_R_PROTO :
								POL_R_DEST);
	}
	if (!same16(s->src, mine))
		return drop(s, ll ? POL_R_PROTO : POL_R_SPOOF_IP);
	if (!hub_v6(h, s->key.addr))
		return drop(s, POL_R_DEST);
	return to_hub(skb, l4, next, c, s, 0);
}

/*
 * What a frame that is dropped before it is parsed (for somebody other
 * than the hub, or from an unknown MAC) was for, as far as its headers
 * say: destination, protocol, port.
 */
static __always_inline void describe(struct __sk_buff *skb, __be16 type,
				     struct seen *s)
{
	__u32 l4 = 0;

	if (type == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (!bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip))) {
			s->key.proto = ip.protocol;
			v4_mapped(s->key.addr, ip.daddr);
			v4_mapped(s->src, ip.saddr);
			l4 = ETH_HLEN + ip.ihl * 4;
		}
	} else if (type == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (!bpf_skb_load_bytes(skb, ETH_HLEN, &ip6, sizeof(ip6))) {
			s->key.proto = ip6.nexthdr;
			__builtin_memcpy(s->key.addr, &ip6.daddr, 16);
			__builtin_memcpy(s->src, &ip6.saddr, 16);
			l4 = ETH_HLEN + sizeof(ip6);
		}
	} else if (type == bpf_htons(ETH_P_ARP)) {
		__u8 tpa[4];

		s->key.proto = POL_PROTO_ARP;
		if (!bpf_skb_load_bytes(skb, ETH_HLEN + 24, tpa, 4)) {
			s->key.addr[10] = s->key.addr[11] = 0xff;
			__builtin_memcpy(s->key.addr + 12, tpa, 4);
		}
	}
	if (l4)
		ports_of(skb, l4, s->key.proto, s);
}

SEC("tc")
int moat_camnet(struct __sk_buff *skb)
{
	struct ethhdr eth;
	struct pol_mac m = {};
	struct pol_camera *c;
	struct pol_camif *h;
	struct seen s = {};
	__u32 ifx = skb->ingress_ifindex ? skb->ingress_ifindex : skb->ifindex;
	int bcast, mcast;

	h = bpf_map_lookup_elem(&camera_ifs, &ifx);
	if (!h)
		return TC_ACT_OK; /* not one of ours (attached elsewhere) */
	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return TC_ACT_SHOT;
	__builtin_memcpy(m.mac, eth.h_source, 6);
	__builtin_memcpy(s.mac, eth.h_source, 6);
	c = bpf_map_lookup_elem(&cameras, &m);
	s.key.who = c ? POL_WHO_CAMERA | (c->index & POL_WHO_INDEX) :
			POL_WHO_UNKNOWN;
	s.key.proto = POL_PROTO_ETHER;
	s.key.port = eth.h_proto;
	if (!c) {
		describe(skb, eth.h_proto, &s);
		return drop(&s, POL_R_UNKNOWN_MAC);
	}
	if (!on_its_port(&m, c, ifx)) {
		/* another camera's MAC: on a bridge it would steal that
		 * camera's traffic */
		describe(skb, eth.h_proto, &s);
		return drop(&s, POL_R_WRONG_PORT);
	}
	if (skb->vlan_present)
		return drop(&s, POL_R_ETHERTYPE);
	bcast = eth.h_dest[0] == 0xff && eth.h_dest[1] == 0xff &&
		eth.h_dest[2] == 0xff && eth.h_dest[3] == 0xff &&
		eth.h_dest[4] == 0xff && eth.h_dest[5] == 0xff;
	mcast = eth.h_dest[0] == 0x33 && eth.h_dest[1] == 0x33;
	/*
	 * Unicast frames go to the hub's MAC and nowhere else (on a bridge
	 * another camera's MAC would be a way around the hub); broadcast is
	 * for ARP and DHCP, multicast for IPv6 discovery with the hub.
	 */
	if (bcast ? eth.h_proto == bpf_htons(ETH_P_IPV6) :
	    mcast ? eth.h_proto != bpf_htons(ETH_P_IPV6) :
		    !eq(eth.h_dest, h->hub_mac, 6)) {
		describe(skb, eth.h_proto, &s);
		return drop(&s, POL_R_DEST);
	}
	if (eth.h_proto == bpf_htons(ETH_P_ARP)) {
		if (arp(skb, c, h, &s) == TC_ACT_SHOT)
			return TC_ACT_SHOT;
	} else if (eth.h_proto == bpf_htons(ETH_P_IP)) {
		if (ipv4(skb, c, h, &s, bcast) == TC_ACT_SHOT)
			return TC_ACT_SHOT;
	} else if (eth.h_proto == bpf_htons(ETH_P_IPV6)) {
		if (ipv6(skb, c, h, &s, mcast) == TC_ACT_SHOT)
			return TC_ACT_SHOT;
	} else {
		return drop(&s, POL_R_ETHERTYPE);
	}
	count(POL_C_PASS_CAMERA, 1);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
