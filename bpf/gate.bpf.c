// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ciphertext gate (docs/POLICY.md, DECISIONS.md section 19): attached
 * as cgroup_skb egress to the uplink's cgroup, it lets a TCP byte leave
 * only if it belongs to a frame of the relay protocol that parses: HELLO
 * first, then the login (AUTH, its fixed size, and one VIEWERS of at most
 * 16 keys), then sealed records only (PROTOCOL.md section 12).
 *
 * It follows frame boundaries by TCP sequence number, per socket (socket
 * storage): each packet's payload [seq, seq + len) is checked from the
 * first byte not yet checked; a header cut by a segment boundary is kept
 * and finished with the next segment. Retransmitted bytes were checked
 * when they first left (the kernel retransmits what it holds, and the
 * uplink sends zero-copy only from its read-only map of the ring).
 *
 * A connection the uplink accepted (a LAN viewer's, docs/PROTOCOL.md
 * section 12 "On the LAN") is held to the server's side of the login: one
 * CHALLENGE, then sealed records only; one ERROR with a reason ends it.
 *
 * Anything that does not parse kills the connection for good: the packet
 * and every later one carrying data is dropped, so the relay never gets
 * the byte at fault nor anything after it. Data in a SYN (TCP Fast Open)
 * and data on a connection the gate did not see open are refused too.
 *
 * It runs at the IP layer, after TCP has built the packet and before the
 * device: io_uring's zero-copy send is untouched (an sk_msg verdict would
 * have cost it, DECISIONS.md section 19). Body bytes are opaque to it; it
 * cannot tell ciphertext from plaintext, only that the stream frames.
 */
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include "bpf/common.bpf.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct gate_sk);
	__uint(pinning, LIBBPF_PIN_BY_NAME); /* kept when applied again */
} gate_sks SEC(".maps");

/* One packet being checked. */
struct walk {
	struct __sk_buff *skb;
	struct gate_sk *g;
	__u32 pos, end; /* sequence numbers */
	__u32 base;	/* seq of the payload's first byte */
	__u32 off;	/* payload offset from the IP header */
	int bad;
};

static __always_inline __u32 be32(const __u8 *p)
{
	return ((__u32)p[0] << 24) | ((__u32)p[1] << 16) | ((__u32)p[2] << 8) |
	       p[3];
}

/* The one frame type each state before the records allows. */
static __always_inline __u32 ctl_type(__u32 state)
{
	return state == GATE_HELLO ? RELAY_T_HELLO :
	       state == GATE_AUTH  ? RELAY_T_AUTH :
				     RELAY_T_VIEWERS;
}

/* A LAN viewer's connection: whether the n header bytes so far can
 * begin a CHALLENGE (first), a record (after it) or an ERROR. */
static __always_inline int srv_hdr_ok(const __u8 *h, __u32 n, __u32 state)
{
	__u32 len;

	if (n < 2)
		return 1;
	if (h[1] == RELAY_T_ERROR) {
		if (n >= 8 && be32(h + 4) > RELAY_ERROR_MAX)
			return 0;
		return n < 32 || !(be32(h + 24) | be32(h + 28));
	}
	if (state == GATE_SRV_CHALLENGE) {
		if (h[1] != RELAY_T_CHALLENGE)
			return 0;
		if (n >= 8 && be32(h + 4) != RELAY_CHALLENGE_LEN)
			return 0;
		return n < 32 || !(be32(h + 24) | be32(h + 28));
	}
	if (h[1] < RELAY_T_HEADER || h[1] > RELAY_T_FINAL)
		return 0;
	if (n < 8)
		return 1;
	len = be32(h + 4);
	if (len < POL_BODY_MIN || len > POL_BODY_MAX)
		return 0;
	if (n < 32)
		return 1;
	if (h[1] == RELAY_T_HEADER)
		return !be32(h + 24) && !be32(h + 28);
	return be32(h + 24) || be32(h + 28);
}

/* Whether the n bytes of header seen so far can begin a valid frame. */
static __always_inline int hdr_ok(const __u8 *h, __u32 n, __u32 state)
{
	int ctl = state != GATE_RECORDS;

	if (n >= 1 && h[0] != 1)
		return 0;
	if (n >= 4 && (h[2] | h[3]))
		return 0;
	if (state == GATE_SRV_DONE)
		return 0; /* its ERROR was the last frame */
	if (state == GATE_SRV_CHALLENGE || state == GATE_SRV_RECORDS)
		return srv_hdr_ok(h, n, state);
	if (n >= 2 && (ctl ? h[1] != ctl_type(state) :
			     h[1] < RELAY_T_HEADER || h[1] > RELAY_T_FINAL))
		return 0;
	if (n >= 8) {
		__u32 len = be32(h + 4);

		if (state == GATE_HELLO ? len != 0 :
		    state == GATE_AUTH	? len != RELAY_AUTH_LEN :
		    state == GATE_VIEWERS ?
					  len % RELAY_VIEWER_KEY ||
						  len > RELAY_VIEWERS_MAX *
								RELAY_VIEWER_KEY :
					  len < POL_BODY_MIN || len > POL_BODY_MAX)
			return 0;
	}
	if (n >= 32) {
		__u32 hi = be32(h + 24), lo = be32(h + 28);

		if (state == GATE_HELLO)
			return !hi && lo == RELAY_ROLE_HUB;
		if (state == GATE_AUTH)
			return !hi && !lo;
		if (state == GATE_VIEWERS)
			return !hi && lo == be32(h + 4) / RELAY_VIEWER_KEY;
		/* a stream header is counter 0; data counts from 1 */
		if (h[1] == RELAY_T_HEADER)
			return !hi && !lo;
		return hi || lo;
	}
	return 1;
}

/* One step: skip a body, or take header bytes and check them. */
static long step(__u32 i, void *arg)
{
	struct walk *w = arg;
	struct gate_sk *g = w->g;
	__u32 off, take, n;

	if ((__s32)(w->end - w->pos) <= 0)
		return 1;
	if ((__s32)(g->hdr_at - w->pos) > 0) { /* inside a body */
		w->pos = (__s32)(g->hdr_at - w->end) < 0 ? g->hdr_at : w->end;
		return 0;
	}
	/* at (or in) the header that starts at hdr_at */
	n = g->have & (POL_HDR_LEN - 1);
	take = POL_HDR_LEN - n;
	if (take > w->end - w->pos)
		take = w->end - w->pos;
	off = w->off + (w->pos - w->base);
	if (take == POL_HDR_LEN) {
		if (bpf_skb_load_bytes(w->skb, off, g->hdr, POL_HDR_LEN)) {
			w->bad = 1;
			return 1;
		}
	} else {
		for (__u32 k = 0; k < POL_HDR_LEN; k++) {
			__u32 at = (n + k) & (POL_HDR_LEN - 1);

			if (k >= take)
				break;
			if (bpf_skb_load_bytes(w->skb, off + k, &g->hdr[at], 1)) {
				w->bad = 1;
				return 1;
			}
		}
	}
	n += take;
	if (!hdr_ok(g->hdr, n, g->state)) {
		w->bad = 1;
		return 1;
	}
	w->pos += take;
	if (n < POL_HDR_LEN) {
		g->have = n;
		return 0;
	}
	g->have = 0;
	g->hdr_at += POL_HDR_LEN + be32(g->hdr + 4);
	g->frames++;
	count(POL_C_GATE_FRAMES, 1);
	if (g->state == GATE_HELLO)
		g->state = GATE_AUTH;
	else if (g->state == GATE_AUTH)
		g->state = GATE_VIEWERS;
	else if (g->state == GATE_VIEWERS)
		g->state = GATE_RECORDS;
	else if ((g->state == GATE_SRV_CHALLENGE ||
		  g->state == GATE_SRV_RECORDS) &&
		 g->hdr[1] == RELAY_T_ERROR)
		g->state = GATE_SRV_DONE;
	else if (g->state == GATE_SRV_CHALLENGE &&
		 g->hdr[1] == RELAY_T_CHALLENGE)
		g->state = GATE_SRV_RECORDS;
	return 0;
}

struct tcp_view {
	__u32 seq, len, off;
	__u8 syn, rst_fin;
	__u8 saddr[16], daddr[16];
	__u16 sport, dport;
};

/* The TCP segment in skb; 0 if it is not TCP over IPv4 or IPv6. */
static __always_inline int tcp_of(struct __sk_buff *skb, struct tcp_view *t)
{
	struct tcphdr th;
	__u32 l4;

	if (skb->protocol == bpf_htons(ETH_P_IP)) {
		struct iphdr ip;

		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)) ||
		    ip.protocol != IPPROTO_TCP)
			return 0;
		l4 = (__u32)ip.ihl * 4;
		v4_mapped(t->saddr, ip.saddr);
		v4_mapped(t->daddr, ip.daddr);
	} else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr ip6;

		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)) ||
		    ip6.nexthdr != IPPROTO_TCP)
			return 0;
		l4 = sizeof(ip6);
		__builtin_memcpy(t->saddr, &ip6.saddr, 16);
		__builtin_memcpy(t->daddr, &ip6.daddr, 16);
	} else {
		return 0;
	}
	if (bpf_skb_load_bytes(skb, l4, &th, sizeof(th)))
		return 0;
	t->off = l4 + (__u32)th.doff * 4;
	if (t->off > skb->len)
		return 0;
	t->len = skb->len - t->off;
	t->seq = bpf_ntohl(th.seq);
	t->syn = th.syn;
	t->rst_fin = th.rst | th.fin;
	t->sport = th.source;
	t->dport = th.dest;
	return 1;
}

static __always_inline int refuse(struct __sk_buff *skb, struct gate_sk *g,
				  const struct tcp_view *t, __u8 reason)
{
	struct pol_block_key bk = {
		.who = POL_WHO_UPLINK,
		.reason = reason,
		.proto = IPPROTO_TCP,
		.port = t->dport,
	};

	__builtin_memcpy(bk.addr, t->daddr, 16);
	if (g && g->state != GATE_DEAD) {
		g->state = GATE_DEAD;
		count(POL_C_GATE_KILLED, 1);
		/* the cookie tells moatd whether it was the uplink's own
		 * connection */
		report(&bk, t->saddr, NULL, bpf_ntohs(t->sport),
		       bpf_get_socket_cookie(skb));
	}
	count(POL_C_GATE_DROPS, 1);
	return 0;
}

SEC("cgroup_skb/egress")
int moat_gate(struct __sk_buff *skb)
{
	struct tcp_view t = {};
	struct bpf_sock *sk;
	struct gate_sk *g;
	struct walk w = {};

	if (!tcp_of(skb, &t))
		return 1; /* not TCP: the roles' backstop rules on it */
	sk = skb->sk;
	if (!sk)
		return refuse(skb, NULL, &t, POL_R_GATE_FLOW);
	sk = bpf_sk_fullsock(sk);
	if (!sk) {
		/* a listener's SYN-ACK (from its request socket): no data */
		if (t.syn && !t.len)
			return 1;
		return refuse(skb, NULL, &t, POL_R_GATE_FLOW);
	}
	g = bpf_sk_storage_get(&gate_sks, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!g)
		return refuse(skb, NULL, &t, POL_R_GATE_FLOW);
	if (t.syn) {
		if (t.len)
			return refuse(skb, g, &t, POL_R_GATE_TFO);
		if (g->state == GATE_NEW) {
			g->next = g->hdr_at = t.seq + 1;
			g->state = GATE_HELLO;
		}
		return 1;
	}
	if (!t.len)
		return 1; /* ACK, FIN, RST: no bytes to check */
	if (g->state == GATE_DEAD) {
		count(POL_C_GATE_DROPS, 1);
		return 0;
	}
	if (g->state == GATE_NEW) {
		/*
		 * A connection whose SYN the gate did not see is one the
		 * uplink accepted (a LAN viewer's; the roles' rules let only
		 * those in): its first data starts at the first byte never
		 * acknowledged, and nothing was ever acknowledged (an opened
		 * connection has had its SYN acknowledged, so one opened
		 * before the gate came is still refused).
		 */
		struct bpf_tcp_sock *tp = bpf_tcp_sock(sk);

		if (!tp || tp->bytes_acked || t.seq != tp->snd_una)
			return refuse(skb, g, &t, POL_R_GATE_FLOW);
		g->next = g->hdr_at = t.seq;
		g->state = GATE_SRV_CHALLENGE;
	}
	w.end = t.seq + t.len;
	if ((__s32)(w.end - g->next) <= 0)
		return 1; /* all sent before: a retransmission */
	if ((__s32)(t.seq - g->next) > 0) {
		count(POL_C_GATE_DROPS, 1);
		return 0; /* a hole before it: TCP sends the hole first */
	}
	w.skb = skb;
	w.g = g;
	w.pos = g->next;
	w.base = t.seq;
	w.off = t.off;
	/* a frame is at least its 32-byte header: that bounds the steps
	 * (two per frame: its header, then its body) */
	bpf_loop((t.len / POL_HDR_LEN + 2) * 2, step, &w, 0);
	if (w.bad || w.pos != w.end)
		return refuse(skb, g, &t, POL_R_GATE);
	count(POL_C_GATE_BYTES, w.end - g->next);
	g->bytes += w.end - g->next;
	g->next = w.end;
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
