// SPDX-License-Identifier: GPL-2.0-only
/*
 * The camera escape suite: two untrusted IP cameras try to get out, for
 * real, through a hub that runs moatd with the network policy enforced.
 *
 * Each host is a network namespace of the test's own:
 *
 *   front 10.77.1.11 ─┐                  ┌─ lan    10.77.2.2
 *                      ├ cam0 bridge  hub ┼─ relay  10.77.3.2 (moat-relay)
 *   back  10.77.1.12 ─┘  10.77.1.1        └─ inet   10.77.4.2, fd77:4::2
 *
 * The hub routes (ip_forward on), so without the policy the cameras reach
 * every host. The suite makes 26 attempts a malicious camera would: TCP,
 * UDP and ICMP to the internet host, the LAN host, the other camera, the
 * hub's LAN address and unused hub ports, the relay; DNS and NTP out;
 * mDNS and SSDP multicast; IPv6 link-local and global; a spoofed source
 * address; the other camera's MAC; a gratuitous ARP claiming the gateway.
 * Taps on every other host's link and listeners on the hub tell whether
 * an attempt arrived.
 *
 * First without the policy (every attempt must arrive: the probes can
 * see them), then with moatd enforcing it: none arrives, each is in
 * `moatctl policy log' with the camera, destination and port, and what
 * the cameras need still works (RTSP to the hub, DHCP, ARP and ND).
 *
 * Then the hub's own roles: the uplink reaches the relay and nothing
 * else; what it sends that is not relay frames (an H.264 stream, random
 * bytes, a record whose length lies, data in a TCP Fast Open SYN) never
 * reaches the relay: a tap on the relay's link counts 0 bytes of it. A
 * worker reaches its own camera only; the sealer nothing.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/cgroup.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tests/lib/probe.h"

static const uint8_t HUB_MAC[6] = { 0x02, 0x77, 0, 0, 0, 0x01 },
		     FRONT_MAC[6] = { 0x02, 0x77, 0, 0, 0, 0x11 },
		     BACK_MAC[6] = { 0x02, 0x77, 0, 0, 0, 0x12 };
#define HUB_LL "fe80::77:ff:fe00:1"

static char ns_hub[48], ns_front[48], ns_back[48], ns_lan[48], ns_relay[48],
	ns_inet[48];
static struct hub h;

/* ---- the topology ---- */

static int topo_up(void)
{
	char cmd[8192], out[2048];
	int pid = (int)getpid();

	snprintf(ns_hub, sizeof(ns_hub), "moat-esc-hub-%d", pid);
	snprintf(ns_front, sizeof(ns_front), "moat-esc-front-%d", pid);
	snprintf(ns_back, sizeof(ns_back), "moat-esc-back-%d", pid);
	snprintf(ns_lan, sizeof(ns_lan), "moat-esc-lan-%d", pid);
	snprintf(ns_relay, sizeof(ns_relay), "moat-esc-relay-%d", pid);
	snprintf(ns_inet, sizeof(ns_inet), "moat-esc-inet-%d", pid);
	snprintf(cmd, sizeof(cmd),
		 "set -e; H=%s; F=%s; B=%s; L=%s; R=%s; I=%s\n"
		 "for n in $H $F $B $L $R $I; do ip netns add $n; ip -n $n link set lo up\n"
		 "  ip netns exec $n sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0; done\n"
		 "ip -n $H link add cam0 type bridge\n"
		 "ip -n $H link set cam0 address 02:77:00:00:00:01\n"
		 "ip -n $H addr add 10.77.1.1/24 dev cam0\n"
		 "ip -n $H addr add fd77:1::1/64 dev cam0\n"
		 "ip -n $H link add p1 type veth peer name eth0 netns $F\n"
		 "ip -n $H link add p2 type veth peer name eth0 netns $B\n"
		 "ip -n $H link set p1 master cam0; ip -n $H link set p2 master cam0\n"
		 "ip -n $F link set eth0 address 02:77:00:00:00:11\n"
		 "ip -n $B link set eth0 address 02:77:00:00:00:12\n"
		 "ip -n $F addr add 10.77.1.11/24 dev eth0; ip -n $F addr add fd77:1::11/64 dev eth0\n"
		 "ip -n $B addr add 10.77.1.12/24 dev eth0; ip -n $B addr add fd77:1::12/64 dev eth0\n"
		 "ip -n $H link add lan0 type veth peer name eth0 netns $L\n"
		 "ip -n $H link add rel0 type veth peer name eth0 netns $R\n"
		 "ip -n $H link add net0 type veth peer name eth0 netns $I\n"
		 "ip -n $H addr add 10.77.2.1/24 dev lan0; ip -n $L addr add 10.77.2.2/24 dev eth0\n"
		 "ip -n $H addr add 10.77.3.1/24 dev rel0; ip -n $R addr add 10.77.3.2/24 dev eth0\n"
		 "ip -n $H addr add 10.77.4.1/24 dev net0; ip -n $I addr add 10.77.4.2/24 dev eth0\n"
		 "ip -n $H addr add fd77:4::1/64 dev net0; ip -n $I addr add fd77:4::2/64 dev eth0\n"
		 "for d in cam0 p1 p2 lan0 rel0 net0; do ip -n $H link set $d up; done\n"
		 "for n in $F $B $L $R $I; do ip -n $n link set eth0 up; done\n"
		 "ip -n $F route add default via 10.77.1.1; ip -n $B route add default via 10.77.1.1\n"
		 "ip -n $F -6 route add default via fd77:1::1; ip -n $B -6 route add default via fd77:1::1\n"
		 "ip -n $L route add default via 10.77.2.1; ip -n $R route add default via 10.77.3.1\n"
		 "ip -n $I route add default via 10.77.4.1; ip -n $I -6 route add default via fd77:4::1\n"
		 "ip netns exec $H sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1\n"
		 "sleep 0.5 2>&1",
		 ns_hub, ns_front, ns_back, ns_lan, ns_relay, ns_inet);
	if (run_cmd(cmd, out, sizeof(out))) {
		fprintf(stderr, "topology: %s\n", out);
		return -1;
	}
	return 0;
}

static void topo_down(void)
{
	const char *all[] = { ns_front, ns_back, ns_lan, ns_relay, ns_inet,
			      ns_hub };
	char cmd[256], out[256];

	for (int i = 0; i < 6; i++) {
		if (!all[i][0])
			continue;
		/* whatever still runs in it (cameras, the relay) first */
		snprintf(cmd, sizeof(cmd),
			 "ip netns pids %s | xargs -r kill -9; ip netns del %s; true",
			 all[i], all[i]);
		run_cmd(cmd, out, sizeof(out));
	}
}

static int serve(const char *ns, const char *what, const char *args,
		 const char *addr, unsigned int port)
{
	char cmd[2048], out[512];

	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s %s/%s %s >%s/%s-%s.log 2>&1 &", ns, h.bin,
		 what, args, h.dir, what, ns);
	if (run_cmd(cmd, out, sizeof(out)))
		return -1;
	for (int i = 0; i < 100; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s ss -Hltn 'sport = :%u' | grep -q '%s'",
			 ns, port, addr);
		if (!run_cmd(cmd, out, sizeof(out)))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* ---- attempts from a camera ---- */

enum kind { T_TCP, T_UDP, T_ICMP, T_RAW };

struct attempt {
	const char *what;
	enum kind kind;
	const char *dst;
	unsigned int port; /* TCP/UDP port; ICMP: 0 */
	const char *where; /* the host whose probe would see it */
	const char *logged; /* how `moatctl policy log' names it */
	const uint8_t *frame; /* T_RAW: a whole Ethernet frame */
	size_t frame_len;
	const char *who;      /* who the log blames (default front) */
	const char *from;     /* the camera it comes from (default front) */
};

static int nr; /* the attempt being made: its marker */

/* Source port and ICMP id of attempt i: its mark on the wire. */
static unsigned int mark(int i)
{
	return 40000 + (unsigned int)i;
}

static int bound(int family, int type, int proto, unsigned int sport)
{
	int fd = socket(family, type | SOCK_NONBLOCK, proto), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (sport) {
		struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };

		if (family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)sport);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)sport);
		bind(fd, (struct sockaddr *)&ss,
		     family == AF_INET ? sizeof(struct sockaddr_in) :
					 sizeof(struct sockaddr_in6));
	}
	return fd;
}

static socklen_t sockaddr_of(const char *dst, unsigned int port,
			     struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, dst, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		return sizeof(struct sockaddr_in);
	}
	ss->ss_family = AF_INET6;
	((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
	/* a link-local address is on the camera's one link */
	((struct sockaddr_in6 *)ss)->sin6_scope_id = if_nametoindex("eth0");
	inet_pton(AF_INET6, dst, &((struct sockaddr_in6 *)ss)->sin6_addr);
	return sizeof(struct sockaddr_in6);
}

/* 1 if anything came back within 300 ms (a connection, an answer). */
static int answered(int fd, short events)
{
	struct pollfd pf = { .fd = fd, .events = events };

	return poll(&pf, 1, 300) == 1 &&
	       !(pf.revents & (POLLERR | POLLHUP) && events == POLLOUT);
}

static int icmp_echo(const struct sockaddr_storage *ss, socklen_t sl)
{
	bool v6 = ss->ss_family == AF_INET6;
	int fd = bound(ss->ss_family, SOCK_RAW,
		       v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 0);
	uint8_t e[16] = { v6 ? 128 : 8 }, r[256];
	int got = 0;

	e[4] = (uint8_t)(mark(nr) >> 8);
	e[5] = (uint8_t)mark(nr);
	if (!v6) { /* the checksum is ours to make for IPv4 */
		uint32_t sum = 0;

		for (int i = 0; i < 16; i += 2)
			sum += (uint32_t)e[i] << 8 | e[i + 1];
		sum = (sum & 0xffff) + (sum >> 16);
		sum = ~sum & 0xffff;
		e[2] = (uint8_t)(sum >> 8);
		e[3] = (uint8_t)sum;
	}
	if (fd < 0 || sendto(fd, e, sizeof(e), 0, (const struct sockaddr *)ss,
			     sl) < 0)
		return 0;
	for (int i = 0; i < 3 && answered(fd, POLLIN); i++) {
		ssize_t n = recv(fd, r, sizeof(r), 0);
		size_t off = v6 ? 0 : (size_t)(r[0] & 15) * 4;

		/* an echo reply carrying this attempt's id */
		if (n >= (ssize_t)off + 8 && r[off] == (v6 ? 129 : 0) &&
		    (r[off + 4] << 8 | r[off + 5]) == (int)mark(nr))
			got = 1;
	}
	close(fd);
	return got;
}

static int raw_frame(const struct attempt *a)
{
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_ifindex = (int)if_nametoindex("eth0"),
				  .sll_halen = 6 };
	int fd = socket(AF_PACKET, SOCK_RAW, 0);
	ssize_t n;

	memcpy(ll.sll_addr, a->frame, 6);
	n = fd < 0 ? -1 :
		     sendto(fd, a->frame, a->frame_len, 0,
			    (struct sockaddr *)&ll, sizeof(ll));
	if (fd >= 0)
		close(fd);
	usleep(100000);
	return n == (ssize_t)a->frame_len ? 0 : 100;
}

/* In the camera's namespace: one attempt. Exit 1 if it got an answer,
 * 0 if not, 100+ if it could not be made. */
static int attempt_run(void *arg)
{
	const struct attempt *a = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	char pl[16];
	int fd, got = 0;

	if (a->kind == T_RAW)
		return raw_frame(a);
	sl = sockaddr_of(a->dst, a->port, &ss);
	if (a->kind == T_ICMP)
		return icmp_echo(&ss, sl);
	fd = bound(ss.ss_family, a->kind == T_TCP ? SOCK_STREAM : SOCK_DGRAM, 0,
		   mark(nr));
	if (fd < 0)
		return 101;
	if (a->kind == T_TCP) {
		if (connect(fd, (struct sockaddr *)&ss, sl) == 0 ||
		    errno == EINPROGRESS)
			got = answered(fd, POLLOUT);
	} else {
		snprintf(pl, sizeof(pl), "esc-%d", nr);
		if (sendto(fd, pl, strlen(pl), 0, (struct sockaddr *)&ss, sl) < 0)
			got = 0;
		usleep(150000);
	}
	close(fd);
	return got;
}

/* Frames a camera crafts itself. */
static uint8_t f_spoof[64], f_spoof_fwd[64], f_other_mac[64], f_back_as_front[64],
	f_garp[64], f_arp_back[64], f_dhcp[64];

static void frame_eth(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		      uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	f[12] = (uint8_t)(type >> 8);
	f[13] = (uint8_t)type;
}

/* IPv4 UDP (or a TCP SYN) with a payload marker; checksums left 0 (the
 * receiving stack would drop a bad one: taps see it anyway). */
static void frame_ip4(uint8_t *f, const char *src, const char *dst,
		      uint8_t proto, unsigned int sport, unsigned int dport,
		      const char *pl)
{
	uint8_t *ip = f + 14, *l4 = ip + 20;
	size_t l4len = proto == IPPROTO_TCP ? 20 : 8 + strlen(pl);
	uint32_t sum = 0;

	memset(ip, 0, 20 + l4len);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8);
	ip[3] = (uint8_t)(20 + l4len);
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)ip[i] << 8 | ip[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~sum & 0xffff;
	ip[10] = (uint8_t)(sum >> 8);
	ip[11] = (uint8_t)sum;
	l4[0] = (uint8_t)(sport >> 8);
	l4[1] = (uint8_t)sport;
	l4[2] = (uint8_t)(dport >> 8);
	l4[3] = (uint8_t)dport;
	if (proto == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = 0x02;
	} else {
		l4[5] = (uint8_t)(8 + strlen(pl));
		memcpy(l4 + 8, pl, strlen(pl));
	}
}

static void frame_arp(uint8_t *f, const uint8_t *sha, const char *spa,
		      const char *tpa, uint8_t op)
{
	uint8_t *a = f + 14;

	memset(a, 0, 28);
	a[1] = 1;
	a[2] = 0x08;
	a[4] = 6;
	a[5] = 4;
	a[7] = op;
	memcpy(a + 8, sha, 6);
	inet_pton(AF_INET, spa, a + 14);
	inet_pton(AF_INET, tpa, a + 24);
}

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

static void frames(void)
{
	frame_eth(f_spoof, HUB_MAC, FRONT_MAC, ETH_P_IP);
	frame_ip4(f_spoof, "10.77.2.2", "10.77.1.1", IPPROTO_UDP, 68, 67,
		  "esc-spoof");
	frame_eth(f_spoof_fwd, HUB_MAC, FRONT_MAC, ETH_P_IP);
	frame_ip4(f_spoof_fwd, "10.77.1.12", "10.77.4.2", IPPROTO_TCP, 40999,
		  443, "");
	frame_eth(f_other_mac, HUB_MAC, BACK_MAC, ETH_P_IP);
	frame_ip4(f_other_mac, "10.77.1.12", "10.77.1.1", IPPROTO_UDP, 68, 67,
		  "esc-mac");
	frame_eth(f_back_as_front, HUB_MAC, FRONT_MAC, ETH_P_IP);
	frame_ip4(f_back_as_front, "10.77.1.11", "10.77.1.1", IPPROTO_UDP, 68,
		  67, "esc-mac2");
	frame_eth(f_garp, BCAST, FRONT_MAC, ETH_P_ARP);
	frame_arp(f_garp, FRONT_MAC, "10.77.1.1", "10.77.1.1", 2);
	frame_eth(f_arp_back, BCAST, FRONT_MAC, ETH_P_ARP);
	frame_arp(f_arp_back, FRONT_MAC, "10.77.1.11", "10.77.1.12", 1);
	frame_eth(f_dhcp, BCAST, FRONT_MAC, ETH_P_IP);
	frame_ip4(f_dhcp, "0.0.0.0", "255.255.255.255", IPPROTO_UDP, 68, 67,
		  "dhcp-ok");
}

#define A(w, k, d, p, wh, lg) \
	{ .what = w, .kind = k, .dst = d, .port = p, .where = wh, .logged = lg }
#define R(w, f, len, wh, lg, ...)                                       \
	{ .what = w, .kind = T_RAW, .frame = f, .frame_len = len, .where = wh, \
	  .logged = lg, __VA_ARGS__ }
static const struct attempt attempts[] = {
	A("TCP to the internet", T_TCP, "10.77.4.2", 443, "inet", "10.77.4.2:443/tcp"),
	A("UDP to the internet (QUIC)", T_UDP, "10.77.4.2", 443, "inet", "10.77.4.2:443/udp"),
	A("ICMP echo to the internet", T_ICMP, "10.77.4.2", 0, "inet", "10.77.4.2 icmp type 8"),
	A("DNS to the outside", T_UDP, "10.77.4.2", 53, "inet", "10.77.4.2:53/udp"),
	A("NTP to the outside", T_UDP, "10.77.4.2", 123, "inet", "10.77.4.2:123/udp"),
	A("TCP to the LAN host", T_TCP, "10.77.2.2", 80, "lan", "10.77.2.2:80/tcp"),
	A("UDP to the LAN host", T_UDP, "10.77.2.2", 5000, "lan", "10.77.2.2:5000/udp"),
	A("ICMP echo to the LAN host", T_ICMP, "10.77.2.2", 0, "lan", "10.77.2.2 icmp type 8"),
	A("TCP to the other camera", T_TCP, "10.77.1.12", 8554, "back", "10.77.1.12:8554/tcp"),
	A("UDP to the other camera", T_UDP, "10.77.1.12", 5000, "back", "10.77.1.12:5000/udp"),
	A("ICMP echo to the other camera", T_ICMP, "10.77.1.12", 0, "back", "10.77.1.12 icmp type 8"),
	A("TCP to the hub's LAN address", T_TCP, "10.77.2.1", 22, "hub", "10.77.2.1:22/tcp"),
	A("TCP to an unused hub port", T_TCP, "10.77.1.1", 22, "hub", "10.77.1.1:22/tcp"),
	A("UDP to an unused hub port", T_UDP, "10.77.1.1", 5000, "hub", "10.77.1.1:5000/udp"),
	A("ICMP echo to the hub", T_ICMP, "10.77.1.1", 0, "hub", "10.77.1.1 icmp type 8"),
	A("TCP to the relay", T_TCP, "10.77.3.2", 7443, "relay", "10.77.3.2:7443/tcp"),
	A("UDP to the relay", T_UDP, "10.77.3.2", 7443, "relay", "10.77.3.2:7443/udp"),
	A("mDNS multicast", T_UDP, "224.0.0.251", 5353, "back", "224.0.0.251:5353/udp"),
	A("SSDP multicast", T_UDP, "239.255.255.250", 1900, "back", "239.255.255.250:1900/udp"),
	A("IPv6 link-local TCP to the hub", T_TCP, HUB_LL, 22, "hub", "[" HUB_LL "]:22/tcp"),
	A("IPv6 global TCP to the internet", T_TCP, "fd77:4::2", 443, "inet", "[fd77:4::2]:443/tcp"),
	A("IPv6 global UDP to the internet", T_UDP, "fd77:4::2", 53, "inet", "[fd77:4::2]:53/udp"),
	R("a spoofed source address (the LAN host's)", f_spoof, 42 + 9, "hub", "10.77.1.1:67/udp"),
	R("a spoofed source address (the other camera's), to the internet", f_spoof_fwd, 54, "inet", "10.77.4.2:443/tcp"),
	R("the other camera's MAC and address", f_other_mac, 42 + 7, "hub", "10.77.1.1:67/udp", .who = "back"),
	R("the front camera's MAC, from the back camera", f_back_as_front, 42 + 8, "hub", "10.77.1.1:67/udp", .who = "front", .from = "back"),
	R("a gratuitous ARP claiming the gateway", f_garp, 42, "back", "ARP claiming 10.77.1.1"),
	R("ARP asking for the other camera", f_arp_back, 42, "back", "ARP for 10.77.1.12"),
};
#define N_ATTEMPTS (int)(sizeof(attempts) / sizeof(attempts[0]))

struct probes {
	char tap[4][300]; /* inet, lan, back, relay */
	char hub[300];
	pid_t pid[5];
};

static const char *const tap_hosts[4] = { "inet", "lan", "back", "relay" };

static void probes_up(struct probes *p, const char *run)
{
	static const unsigned int tcp[] = { 22, 0 }, udp[] = { 67, 5000, 0 };
	const char *ns[4] = { ns_inet, ns_lan, ns_back, ns_relay };

	for (int i = 0; i < 4; i++) {
		snprintf(p->tap[i], sizeof(p->tap[i]), "%s/tap-%s-%s.log", h.dir,
			 tap_hosts[i], run);
		p->pid[i] = probe_tap(ns[i], "eth0", p->tap[i]);
	}
	snprintf(p->hub, sizeof(p->hub), "%s/listen-hub-%s.log", h.dir, run);
	p->pid[4] = probe_listen(ns_hub, tcp, udp, p->hub);
}

static void probes_down(struct probes *p)
{
	for (int i = 0; i < 5; i++)
		probe_stop(p->pid[i]);
}

/* Whether attempt i was seen where it was going (or answered). */
static bool arrived(const struct probes *p, int i, int answer)
{
	const struct attempt *a = &attempts[i];
	const char *log = p->hub;
	char m[32], pl[32];

	for (int k = 0; k < 4; k++)
		if (!strcmp(a->where, tap_hosts[k]))
			log = p->tap[k];
	if (answer == 1)
		return true;
	snprintf(m, sizeof(m), "sport=%u ", mark(i));
	snprintf(pl, sizeof(pl), "pl=esc-%d\n", i);
	if (a->kind == T_RAW) {
		/* its own markers: the payload, the claimed address */
		const char *pls = a->frame == f_spoof ? "pl=esc-spoof" :
				  a->frame == f_other_mac ? "pl=esc-mac\n" :
				  a->frame == f_back_as_front ? "pl=esc-mac2" :
				  NULL;

		if (pls)
			return probe_saw(log, pls, NULL);
		if (a->frame == f_spoof_fwd)
			return probe_saw(log, "10.77.1.12>10.77.4.2", "sport=40999 ",
					 NULL);
		if (a->frame == f_garp)
			return probe_saw(log, "arp", "sha=02:77:00:00:00:11",
					 "spa=10.77.1.1 ", NULL);
		return probe_saw(log, "arp", "sha=02:77:00:00:00:11",
				 "tpa=10.77.1.12", NULL);
	}
	if (a->kind == T_ICMP) {
		snprintf(m, sizeof(m), "id=%u ", mark(i));
		return probe_saw(log, "type=8", m, NULL);
	}
	return probe_saw(log, m, NULL) ||
	       (a->kind == T_UDP && probe_saw(log, pl, NULL));
}

/* Runs every attempt; how many arrived. */
static int attempts_run(const char *run, bool policy)
{
	struct probes p;
	int got[N_ATTEMPTS], n_arrived = 0;

	probes_up(&p, run);
	for (nr = 0; nr < N_ATTEMPTS; nr++)
		got[nr] = probe_in(attempts[nr].from ? ns_back : ns_front,
				   attempt_run, (void *)&attempts[nr]);
	usleep(300000);
	probes_down(&p);
	for (int i = 0; i < N_ATTEMPTS; i++) {
		bool in = arrived(&p, i, got[i]);

		n_arrived += in;
		CHECK(got[i] >= 0 && got[i] < 100, "%s: attempt %d (%s) made",
		      run, i, attempts[i].what);
		if (!policy) {
			CHECK(in, "without the policy, %s arrives (%s probe): the probes can see it",
			      attempts[i].what, attempts[i].where);
			continue;
		}
		CHECK(!in, "with the policy, %s never arrives (%s probe)",
		      attempts[i].what, attempts[i].where);
	}
	return n_arrived;
}

/* Each attempt is a line of `moatctl policy log --json'. */
static void logged(const char *log_json)
{
	for (int i = 0; i < N_ATTEMPTS; i++) {
		const char *who = attempts[i].who ? attempts[i].who : "front";
		char w[64], what[96];

		snprintf(w, sizeof(w), "\"who\": \"%s\"", who);
		snprintf(what, sizeof(what), "\"what\": \"%s\"",
			 attempts[i].logged);
		CHECK(probe_saw(log_json, w, what, NULL),
		      "`moatctl policy log' has %s: %s -> %s", attempts[i].what,
		      who, attempts[i].logged);
	}
}

/* ---- what must still work ---- */

static int dhcp_broadcast(void *arg)
{
	struct attempt a = { .kind = T_RAW, .frame = f_dhcp,
			     .frame_len = 42 + 7 };

	(void)arg;
	return raw_frame(&a);
}

/* ARP and ND with the hub, from a clean neighbour table. */
static int neighbours(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd;

	(void)arg;
	if (system("ip neigh flush dev eth0; ip -6 neigh flush dev eth0"))
		return 100;
	/* DHCP to the hub asks ARP first; a TCP try at the hub's link-local
	 * address asks ND (the SYN itself is dropped) */
	sl = sockaddr_of("10.77.1.1", 67, &ss);
	fd = bound(AF_INET, SOCK_DGRAM, 0, 68);
	sendto(fd, "dhcp-unicast", 12, 0, (struct sockaddr *)&ss, sl);
	close(fd);
	sl = sockaddr_of(HUB_LL, 7, &ss);
	fd = bound(AF_INET6, SOCK_STREAM, 0, 0);
	connect(fd, (struct sockaddr *)&ss, sl);
	usleep(500000);
	close(fd);
	return 0;
}

static void still_works(void)
{
	char cmd[512], out[1024], log[300];
	static const unsigned int tcp[] = { 0 }, udp[] = { 67, 0 };
	pid_t l;
	char *st;

	snprintf(log, sizeof(log), "%s/listen-dhcp.log", h.dir);
	l = probe_listen(ns_hub, tcp, udp, log);
	CHECK(probe_in(ns_front, dhcp_broadcast, NULL) == 0 &&
		      probe_in(ns_front, neighbours, NULL) == 0,
	      "the camera sends DHCP and talks ARP and ND to the hub");
	usleep(200000);
	probe_stop(l);
	CHECK(probe_saw(log, "udp 0.0.0.0 sport=68 dport=67 pl=dhcp-ok", NULL),
	      "DHCP: the hub gets the camera's broadcast discover");
	CHECK(probe_saw(log, "udp 10.77.1.11 sport=68 dport=67 pl=dhcp-unicast",
			NULL),
	      "DHCP: and its unicast request");
	snprintf(cmd, sizeof(cmd), "ip -n %s neigh show 10.77.1.1 dev eth0",
		 ns_front);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "lladdr 02:77:00:00:00:01"),
	      "ARP: the camera learned the hub's MAC (%s)", out);
	snprintf(cmd, sizeof(cmd), "ip -n %s -6 neigh show %s dev eth0",
		 ns_front, HUB_LL);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "lladdr 02:77:00:00:00:01"),
	      "ND: the camera learned the hub's MAC for its link-local address (%s)",
	      out);
	st = hub_status(&h);
	CHECK(st && json_num(st, "cameras", "frames_sealed") > 30,
	      "RTSP: the hub pulls video from the cameras (%" PRId64 " frames sealed from the first)",
	      st ? json_num(st, "cameras", "frames_sealed") : -1);
	{
		const char *second = st ? strstr(st, "\"name\": \"back\"") : NULL;

		CHECK(second && json_num(second, NULL, "frames_sealed") > 30,
		      "RTSP: and from the second");
	}
	free(st);
}

/* ---- the hub's roles ---- */

struct as_role {
	enum role role;
	int cam;
	const char *user;
	int (*fn)(void *);
	const void *arg;
};

/* In the hub's namespace, in the role's cgroup, as its user. */
static int role_run(void *arg)
{
	const struct as_role *r = arg;
	char cg[CG_PATH_MAX];
	struct passwd *pw = getpwnam(r->user);
	static struct cfg c;

	if (!pw || cfg_load(h.conf, &c) || cg_path(&c, r->role, r->cam, cg) ||
	    cg_enter(cg) || setgroups(0, NULL) ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid))
		return 100;
	return r->fn((void *)r->arg);
}

struct conn {
	const char *dst;
	unsigned int port, sport;
	const uint8_t *data;
	size_t len;
	bool fastopen;
};

/* 0 connected (and sent), else errno. */
static int connect_send(void *arg)
{
	const struct conn *c = arg;
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(c->dst, c->port, &ss);
	int fd = socket(ss.ss_family, SOCK_STREAM, 0), one = 1, ret = 0;
	struct timeval tv = { 2, 0 };

	if (fd < 0)
		return errno;
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->sport) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)c->sport) };

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		bind(fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (c->fastopen) {
		if (sendto(fd, c->data, c->len, MSG_FASTOPEN,
			   (struct sockaddr *)&ss, sl) < 0)
			ret = errno;
	} else if (connect(fd, (struct sockaddr *)&ss, sl) < 0) {
		ret = errno;
	} else if (c->len && send(fd, c->data, c->len, 0) < 0) {
		ret = errno;
	}
	usleep(c->len ? 700000 : 0); /* let it go out (or not) */
	close(fd);
	return ret;
}

static int as(enum role role, int cam, const char *user, struct conn *c)
{
	struct as_role r = { role, cam, user, connect_send, c };

	return probe_in(ns_hub, role_run, &r);
}

static void roles(const uint8_t *clip)
{
	uint8_t rnd[4096], lie[4096], hello[32] = { 1, 0x10 }, login[192],
		fat[32 + 128 + 32 + 17 * 32];
	struct conn c = { .dst = "10.77.3.2", .port = 7443 };
	char tap[300], log[1024];
	pid_t t;

	hello[31] = 1; /* role: hub */
	for (size_t i = 0; i < sizeof(rnd); i++)
		rnd[i] = (uint8_t)(rand() >> 7);
	/* HELLO and a login the gate lets through: AUTH (96 bytes, which
	 * it cannot judge), VIEWERS with none */
	memset(login, 0, sizeof(login));
	memcpy(login, hello, 32);
	login[32] = 1;
	login[33] = 0x18;
	login[39] = 96;
	memset(login + 64, 0xa5, 96);
	login[160] = 1;
	login[161] = 0x19;
	/* ... and one whose VIEWERS claims 17 keys (the most is 16) */
	memset(fat, 0, sizeof(fat));
	memcpy(fat, login, 160);
	fat[160] = 1;
	fat[161] = 0x19;
	fat[166] = (17 * 32) >> 8;
	fat[167] = (17 * 32) & 0xff;
	fat[191] = 17;
	/* the login, then a stream header that says 100 bytes follow where
	 * an H.264 stream does: the next "header" is video */
	memcpy(lie, login, sizeof(login));
	memcpy(lie + 192, hello, 32);
	lie[193] = 1;
	lie[199] = 100;
	lie[223] = 0;
	memcpy(lie + 224, clip, sizeof(lie) - 224);

	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == 0,
	      "the uplink reaches the relay");
	c = (struct conn){ .dst = "10.77.2.2", .port = 80 };
	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == EPERM,
	      "the uplink cannot reach the LAN host (EPERM)");
	c = (struct conn){ .dst = "10.77.4.2", .port = 443 };
	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == EPERM,
	      "the uplink cannot reach the internet host (EPERM)");
	c = (struct conn){ .dst = "fd77:4::2", .port = 443 };
	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == EPERM,
	      "nor over IPv6 (EPERM)");
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443 };
	CHECK(as(ROLE_SEALER, -1, "moat-seal", &c) == EPERM,
	      "the sealer reaches nothing, not the relay (EPERM)");
	c = (struct conn){ .dst = "10.77.1.11", .port = 8554 };
	CHECK(as(ROLE_WORKER, 0, "moat-cam", &c) == 0,
	      "the front camera's worker reaches the front camera");
	c = (struct conn){ .dst = "10.77.1.12", .port = 8554 };
	CHECK(as(ROLE_WORKER, 0, "moat-cam", &c) == EPERM,
	      "but not the back camera (EPERM)");
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443 };
	CHECK(as(ROLE_WORKER, 0, "moat-cam", &c) == EPERM,
	      "nor the relay (EPERM)");

	/* what the uplink sends that is not relay frames */
	snprintf(tap, sizeof(tap), "%s/tap-relay-gate.log", h.dir);
	t = probe_tap(ns_relay, "eth0", tap);
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45001, .data = hello, .len = sizeof(hello) };
	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == 0,
	      "the uplink sends a HELLO");
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45002, .data = clip, .len = 4096 };
	as(ROLE_UPLINK, -1, "moat-up", &c);
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45003, .data = rnd, .len = sizeof(rnd) };
	as(ROLE_UPLINK, -1, "moat-up", &c);
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45004, .data = lie, .len = sizeof(lie) };
	as(ROLE_UPLINK, -1, "moat-up", &c);
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45006, .data = login, .len = sizeof(login) };
	CHECK(as(ROLE_UPLINK, -1, "moat-up", &c) == 0,
	      "the uplink sends HELLO and a login");
	c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45007, .data = fat, .len = sizeof(fat) };
	as(ROLE_UPLINK, -1, "moat-up", &c);
	{
		char cmd[768], out[1024];

		/* a hub whose TFO client bit was turned back on: data in the
		 * SYN, no cookie needed (0x5) */
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s sysctl -qw net.ipv4.tcp_fastopen=5",
			 ns_hub);
		run_cmd(cmd, out, sizeof(out));
		snprintf(cmd, sizeof(cmd),
			 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy verify",
			 ns_hub, h.bin, h.conf);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 1 &&
			      strstr(out, "net.ipv4.tcp_fastopen"),
		      "policy verify notices the TCP Fast Open client is on: %s",
		      out);
		c = (struct conn){ .dst = "10.77.3.2", .port = 7443, .sport = 45005, .data = clip, .len = 1000, .fastopen = true };
		as(ROLE_UPLINK, -1, "moat-up", &c);
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s sysctl -qw net.ipv4.tcp_fastopen=0",
			 ns_hub);
		run_cmd(cmd, out, sizeof(out));
	}
	usleep(300000);
	probe_stop(t);
	CHECK(probe_bytes(tap, "sport=45001 ", NULL) == 32,
	      "the relay's link carries the uplink's HELLO (%ld bytes): the tap counts what passes",
	      probe_bytes(tap, "sport=45001 ", NULL));
	CHECK(probe_bytes(tap, "sport=45002 ", NULL) == 0,
	      "an H.264 stream from the uplink: 0 bytes reach the relay");
	CHECK(probe_bytes(tap, "sport=45003 ", NULL) == 0,
	      "random unframed bytes: 0 bytes reach the relay");
	CHECK(probe_bytes(tap, "sport=45004 ", NULL) == 0,
	      "after a login, a record whose length lies: 0 bytes reach the relay");
	CHECK(probe_bytes(tap, "sport=45006 ", NULL) == 192,
	      "HELLO, AUTH and VIEWERS pass (%ld bytes)",
	      probe_bytes(tap, "sport=45006 ", NULL));
	CHECK(probe_bytes(tap, "sport=45007 ", NULL) == 0,
	      "a VIEWERS of 17 keys (room for 544 bytes of anything): 0 bytes reach the relay");
	CHECK(probe_bytes(tap, "sport=45005 ", NULL) == 0,
	      "data in a TCP Fast Open SYN: 0 bytes reach the relay");
	snprintf(log, sizeof(log),
		 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy log --json | grep -q 'data in a SYN'",
		 ns_hub, h.bin, h.conf);
	CHECK(system(log) == 0,
	      "and the gate logged it as data in a SYN (TCP Fast Open)");
	snprintf(log, sizeof(log), "grep -q 'not the uplink.s own' %s/moatd.log",
		 h.dir);
	CHECK(system(log) == 0,
	      "moatd logged the gate's refusals as connections that were not the uplink's own");
}

/* ---- the suite ---- */

/*
 * What a malicious front camera knows of its link without asking: the
 * back camera's MAC, and the hub's for its IPv6 gateway (the policy lets
 * neighbour discovery through only from link-local addresses, so asking
 * from its global one would not get it this far).
 */
static void neighbours_known(void)
{
	char cmd[512], out[256];

	snprintf(cmd, sizeof(cmd),
		 "ip -n %1$s neigh replace 10.77.1.12 lladdr 02:77:00:00:00:12 dev eth0 && "
		 "ip -n %1$s -6 neigh replace fd77:1::1 lladdr 02:77:00:00:00:01 dev eth0",
		 ns_front);
	run_cmd(cmd, out, sizeof(out));
}

/* A DHCP request to the hub (which the policy lets through). */
static int hello_hub(void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of("10.77.1.1", 67, &ss);
	int fd = bound(AF_INET, SOCK_DGRAM, 0, 68);

	(void)arg;
	if (fd < 0 || sendto(fd, "hello", 5, 0, (struct sockaddr *)&ss, sl) < 0)
		return 1;
	close(fd);
	usleep(100000);
	return 0;
}

static void config(void)
{
	FILE *f = fopen(h.conf, "w");

	if (!f)
		return;
	snprintf(h.netns, sizeof(h.netns), "%s", ns_hub);
	snprintf(h.relay_addr, sizeof(h.relay_addr), "10.77.3.2:7443");
	fprintf(f,
		"[hub]\nkeys = %s/keys\nspool = %s\ncontrol = %s\n"
		"cgroup = %s\nbpf_pin = %s\ncamera_interfaces = cam0\n"
		"[relay]\naddress = 10.77.3.2\nport = 7443\n"
		"[camera front]\nsource = rtsp://10.77.1.11:8554/cam\n"
		"mac = 02:77:00:00:00:11\ninterface = p1\n"
		"[camera back]\nsource = rtsp://10.77.1.12:8554/cam\n"
		"mac = 02:77:00:00:00:12\n",
		h.dir, h.spool, h.sock, h.cgroup, h.bpf_pin);
	fclose(f);
}

int main(void)
{
	const char *media = getenv("MOAT_MEDIA");
	char args[1024], cmd[2048], log_json[300];
	uint8_t *clip;
	size_t clip_len = 0;
	int n, follow;

	if (geteuid())
		test_skip("network namespaces, nftables and BPF need root (run the suite with sudo)");
	if (!media || !*media)
		media = "build/media/clip.h264";
	clip = read_all(media, &clip_len);
	CHECK(clip && clip_len > 8192, "the test clip %s", media);
	if (!clip || hub_init(&h, "escape", "") || topo_up()) {
		CHECK(0, "hub and topology set up");
		topo_down();
		return test_done("test_escape");
	}
	config();
	frames();
	snprintf(args, sizeof(args), "--file %s --port 8554 --path /cam --loop",
		 media);
	CHECK(!serve(ns_front, "moat-testcam", args, "10.77.1.11", 8554) ||
		      !serve(ns_front, "moat-testcam", args, "*", 8554),
	      "the front camera serves RTSP");
	CHECK(!serve(ns_back, "moat-testcam", args, "*", 8554),
	      "the back camera serves RTSP");
	snprintf(args, sizeof(args), "--dir %s --listen 10.77.3.2:7443",
		 h.relay_dir);
	CHECK(!serve(ns_relay, "moat-relay", args, "10.77.3.2", 7443),
	      "the relay listens");
	neighbours_known();

	n = attempts_run("open", false);
	CHECK(n == N_ATTEMPTS, "without the policy all %d attempts arrive (%d)",
	      N_ATTEMPTS, n);
	/* what they did to the link, undone: the back camera believed the
	 * claim on the gateway, the bridge learned each camera's MAC on the
	 * other's port */
	snprintf(cmd, sizeof(cmd),
		 "for n in %1$s %2$s; do ip -n $n neigh flush dev eth0; done; "
		 "ip -n %3$s neigh flush dev cam0; true", ns_front, ns_back,
		 ns_hub);
	run_cmd(cmd, args, sizeof(args));
	neighbours_known();
	/* a frame from each camera: the bridge learns them on their ports */
	probe_in(ns_front, hello_hub, NULL);
	probe_in(ns_back, hello_hub, NULL);

	CHECK(!hub_start_moatd(&h), "moatd starts in the hub, policy enforced");
	sleep(3); /* both cameras streaming, their MACs seen on their ports */
	snprintf(log_json, sizeof(log_json), "%s/policy-log.json", h.dir);
	/* someone watching as it happens */
	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy log --follow --json > %s/follow.log 2>&1 & echo $!",
		 ns_hub, h.bin, h.conf, h.dir);
	follow = run_cmd(cmd, args, sizeof(args)) == 0 ? atoi(args) : 0;
	usleep(300000);
	n = attempts_run("walled", true);
	CHECK(n == 0, "with the policy, none of the %d attempts arrives (%d did)",
	      N_ATTEMPTS, n);
	usleep(700000);
	if (follow > 0)
		kill(follow, SIGTERM);
	snprintf(cmd, sizeof(cmd), "%s/follow.log", h.dir);
	CHECK(follow > 0 &&
		      probe_saw(cmd, "\"who\": \"front\"",
				"\"what\": \"10.77.4.2:443/tcp\"", NULL) &&
		      probe_saw(cmd, "\"what\": \"ARP claiming 10.77.1.1\"", NULL),
	      "moatctl policy log --follow printed the attempts as they came");
	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy log --json > %s",
		 ns_hub, h.bin, h.conf, log_json);
	CHECK(system(cmd) == 0, "moatctl policy log --json");
	logged(log_json);
	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy log | grep -F 'front 10.77.1.11 -> 10.77.4.2:443/tcp x'",
		 ns_hub, h.bin, h.conf);
	CHECK(run_cmd(cmd, args, sizeof(args)) == 0 && strstr(args, ", last "),
	      "the human log reads `front 10.77.1.11 -> 10.77.4.2:443/tcp xN, last ...': %.300s",
	      args);
	snprintf(cmd, sizeof(cmd), "grep -c 'blocked: front' %s/moatd.log",
		 h.dir);
	CHECK(run_cmd(cmd, args, sizeof(args)) == 0,
	      "moatd's log reports blocked attempts as they happen");
	still_works();
	roles(clip);
	snprintf(cmd, sizeof(cmd),
		 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy verify", ns_hub,
		 h.bin, h.conf);
	CHECK(run_cmd(cmd, args, sizeof(args)) == 0,
	      "and after all that the policy verifies: %s", args);

	if (getenv("MOAT_ESCAPE_SHOW")) {
		snprintf(cmd, sizeof(cmd),
			 "nsenter --net=/run/netns/%s %s/moatctl --config %s policy log; nsenter --net=/run/netns/%s %s/moatctl --socket %s status",
			 ns_hub, h.bin, h.conf, ns_hub, h.bin, h.sock);
		if (system(cmd))
			fprintf(stderr, "moatctl failed\n");
	}
	hub_cleanup(&h, check_failures != 0);
	topo_down();
	free(clip);
	return test_done("test_escape");
}
