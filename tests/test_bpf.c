// SPDX-License-Identifier: GPL-2.0-only
/*
 * The policy's BPF programs, one packet at a time (bpf_prog_test_run_opts):
 *
 * - the objects carry no CO-RE relocations and load with no kernel BTF
 *   at hand (Raspberry Pi OS kernels have no /sys/kernel/btf/vmlinux);
 * - camnet (TC on the camera network): crafted Ethernet frames, IPv4,
 *   IPv6 and ARP, from two cameras and a stranger; what the hub needs
 *   passes, every escape is dropped and lands in the blocked map with
 *   the camera, destination, protocol, port and reason;
 * - roles (cgroup_skb): a worker's packets to its camera pass, anything
 *   else is dropped, and a process in an unknown cgroup sends nothing;
 *   the uplink answers LAN viewers on lan_port and reaches nothing else
 *   of the LAN;
 * - the gate: a SYN passes, data in a SYN and data on a connection it
 *   did not see open are dropped (what follows a SYN is tested for real,
 *   over TCP, in test_escape).
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/magic.h>
#include <linux/pkt_cls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "camnet.skel.h"
#include "gate.skel.h"
#include "roles.skel.h"

#include "bpf/policy.h"
#include "policy/cgroup.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static const uint8_t HUB[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 },
		     CAM_A[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x11 },
		     CAM_B[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x12 },
		     STRANGER[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x66 },
		     BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* ---- CO-RE: none ---- */

/* The length of CO-RE relocations in an object's .BTF.ext, or -1. */
static long core_relos(const char *path)
{
	size_t len;
	uint8_t *f = read_all(path, &len);
	const Elf64_Ehdr *eh = (const void *)f;
	long ret = -1;

	if (!f || len < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_shoff + (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr) > len) {
		free(f);
		return -1;
	}
	const Elf64_Shdr *sh = (const void *)(f + eh->e_shoff);
	const char *names = (const char *)f + sh[eh->e_shstrndx].sh_offset;

	for (int i = 0; i < eh->e_shnum; i++) {
		const uint8_t *x = f + sh[i].sh_offset;
		uint32_t hdr_len;

		if (strcmp(names + sh[i].sh_name, ".BTF.ext"))
			continue;
		/* magic 2, version 1, flags 1, hdr_len 4, func_info off/len,
		 * line_info off/len, then (hdr_len >= 32) core_relo off/len */
		memcpy(&hdr_len, x + 4, 4);
		ret = 0;
		if (hdr_len >= 32) {
			uint32_t n;

			memcpy(&n, x + 28, 4);
			ret = n;
		}
	}
	free(f);
	return ret;
}

static void no_core(const char *bpf_dir)
{
	static const char *const objs[] = { "roles", "gate", "camnet" };

	for (int i = 0; i < 3; i++) {
		char p[PATH_MAX + 16];
		long n;

		snprintf(p, sizeof(p), "%s/%s.bpf.o", bpf_dir, objs[i]);
		n = core_relos(p);
		CHECK(n == 0,
		      "%s.bpf.o has a .BTF.ext and no CO-RE relocations in it (%ld bytes): it needs no kernel BTF",
		      objs[i], n);
	}
}

/* ---- packets ---- */

struct pkt {
	uint8_t b[256];
	size_t len;
};

static void eth(struct pkt *p, const uint8_t *src, const uint8_t *dst,
		uint16_t type)
{
	memcpy(p->b, dst, 6);
	memcpy(p->b + 6, src, 6);
	p->b[12] = (uint8_t)(type >> 8);
	p->b[13] = (uint8_t)type;
	p->len = 14;
}

/* IPv4 with an L4 header: proto 6 (TCP, flags), 17 (UDP), 1 (ICMP). */
static void ip4(struct pkt *p, const char *src, const char *dst, uint8_t proto,
		uint16_t sport, uint16_t dport, uint8_t flags, uint16_t frag)
{
	uint8_t *ip = p->b + p->len, *l4 = ip + 20;
	size_t l4len = proto == 6 ? 20 : 8;

	memset(ip, 0, 20 + l4len);
	ip[0] = 0x45;
	ip[2] = (uint8_t)((20 + l4len) >> 8);
	ip[3] = (uint8_t)(20 + l4len);
	ip[6] = (uint8_t)(frag >> 8);
	ip[7] = (uint8_t)frag;
	ip[8] = 64;
	ip[9] = proto;
	inet_pton(AF_INET, src, ip + 12);
	inet_pton(AF_INET, dst, ip + 16);
	if (proto == 1) {
		l4[0] = (uint8_t)dport; /* ICMP type */
	} else {
		l4[0] = (uint8_t)(sport >> 8);
		l4[1] = (uint8_t)sport;
		l4[2] = (uint8_t)(dport >> 8);
		l4[3] = (uint8_t)dport;
		if (proto == 6) {
			l4[12] = 5 << 4;
			l4[13] = flags;
		}
	}
	p->len += 20 + l4len;
}

/* IPv6; proto 58 (ICMPv6: dport is the type) or 6; hbh: a hop-by-hop
 * header first (as MLD sends). */
static void ip6(struct pkt *p, const char *src, const char *dst, uint8_t proto,
		uint16_t dport, uint8_t hop, int hbh)
{
	uint8_t *ip = p->b + p->len, *l4 = ip + 40 + (hbh ? 8 : 0);
	size_t l4len = proto == 6 ? 20 : 8;

	memset(ip, 0, 40 + 8 + l4len);
	ip[0] = 0x60;
	ip[5] = (uint8_t)(l4len + (hbh ? 8 : 0));
	ip[6] = hbh ? 0 : proto;
	ip[7] = hop;
	inet_pton(AF_INET6, src, ip + 8);
	inet_pton(AF_INET6, dst, ip + 24);
	if (hbh)
		ip[40] = proto; /* next header; length 0: 8 bytes */
	if (proto == 58) {
		l4[0] = (uint8_t)dport;
	} else {
		l4[0] = 0x9c;
		l4[1] = 0x40;
		l4[2] = (uint8_t)(dport >> 8);
		l4[3] = (uint8_t)dport;
		l4[12] = 5 << 4;
		l4[13] = 0x02;
	}
	p->len += 40 + (hbh ? 8 : 0) + l4len;
}

static void arp(struct pkt *p, const uint8_t *sha, const char *spa,
		const char *tpa, uint16_t op)
{
	uint8_t *a = p->b + p->len;

	memset(a, 0, 28);
	a[1] = 1;	  /* Ethernet */
	a[2] = 0x08;	  /* IPv4 */
	a[4] = 6;
	a[5] = 4;
	a[7] = (uint8_t)op;
	memcpy(a + 8, sha, 6);
	inet_pton(AF_INET, spa, a + 14);
	inet_pton(AF_INET, tpa, a + 24);
	p->len += 28;
}

static int run(int prog_fd, const struct pkt *p, uint32_t ifindex)
{
	struct __sk_buff ctx = { .ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b,
		    .data_size_in = (uint32_t)p->len,
		    .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int ret = bpf_prog_test_run_opts(prog_fd, &o);

	return ret ? -1000 + ret : (int)o.retval;
}

/* Whether the blocked map has an entry for who with this reason (and,
 * if given, this destination port). */
static bool logged(int fd, uint32_t who, uint8_t reason, int port)
{
	struct pol_block_key k, *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, &k) == 0) {
		if (k.who == who && k.reason == reason &&
		    (port < 0 || ntohs(k.port) == port))
			return true;
		prev = &k;
	}
	return false;
}

/* ---- camnet ---- */

static void camnet_setup(struct camnet_bpf *cn)
{
	struct pol_mac a = { 0 }, b = { 0 };
	struct pol_camera ca = { .index = 0 }, cb = { .index = 1 };
	struct pol_camif h = { .n4 = 1, .n6 = 2 };
	uint32_t lo = 1;

	memcpy(a.mac, CAM_A, 6);
	memcpy(b.mac, CAM_B, 6);
	ca.addr[10] = ca.addr[11] = cb.addr[10] = cb.addr[11] = 0xff;
	inet_pton(AF_INET, "10.9.0.11", ca.addr + 12);
	inet_pton(AF_INET, "10.9.0.12", cb.addr + 12);
	ca.rtsp_port[0] = cb.rtsp_port[0] = htons(554);
	cb.ifindex = 999; /* B is on another port */
	memcpy(h.hub_mac, HUB, 6);
	inet_pton(AF_INET, "10.9.0.1", &h.addr4[0]);
	inet_pton(AF_INET6, "fe80::1", h.addr6[0]);
	inet_pton(AF_INET6, "fd09::1", h.addr6[1]);
	CHECK(!bpf_map_update_elem(bpf_map__fd(cn->maps.cameras), &a, &ca, 0) &&
		      !bpf_map_update_elem(bpf_map__fd(cn->maps.cameras), &b,
					   &cb, 0) &&
		      !bpf_map_update_elem(bpf_map__fd(cn->maps.camera_ifs), &lo,
					   &h, 0),
	      "two cameras and the hub's side of the camera network in the maps");
}

static void camnet(struct camnet_bpf *cn)
{
	int fd = bpf_program__fd(cn->progs.moat_camnet),
	    blk = bpf_map__fd(cn->maps.blocked);
	struct pkt p;

	camnet_setup(cn);
	/* what the hub needs */
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 6, 554, 40000, 0x12, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_OK,
	      "camera A: a SYN-ACK from its RTSP port to the hub passes");
	eth(&p, CAM_A, BCAST, ETH_P_IP);
	ip4(&p, "0.0.0.0", "255.255.255.255", 17, 68, 67, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_OK, "DHCP discover (broadcast) passes");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 17, 68, 67, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_OK, "DHCP renew to the hub passes");
	eth(&p, CAM_A, BCAST, ETH_P_ARP);
	arp(&p, CAM_A, "10.9.0.11", "10.9.0.1", 1);
	CHECK(run(fd, &p, 1) == TC_ACT_OK, "ARP asking for the hub passes");
	eth(&p, CAM_A, BCAST, ETH_P_ARP);
	arp(&p, CAM_A, "10.9.0.11", "10.9.0.11", 2);
	CHECK(run(fd, &p, 1) == TC_ACT_OK,
	      "a gratuitous ARP for its own address passes");
	{
		static const uint8_t sn[6] = { 0x33, 0x33, 0xff, 0, 0, 1 };

		eth(&p, CAM_A, sn, ETH_P_IPV6);
		ip6(&p, "fe80::11", "ff02::1:ff00:1", 58, 135, 255, 0);
		CHECK(run(fd, &p, 1) == TC_ACT_OK,
		      "IPv6 neighbour solicitation for the hub passes");
	}

	/* what it must not do */
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "203.0.113.7", 6, 40000, 443, 0x02, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, POL_WHO_CAMERA | 0, POL_R_DEST, 443),
	      "TCP to the internet through the hub's MAC: dropped, logged for camera 0 port 443");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 6, 40000, 22, 0x02, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, 0, POL_R_PORT, 22),
	      "a connection of its own to the hub's port 22: dropped, logged");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 6, 554, 22, 0x02, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT,
	      "even from its RTSP port, a SYN of its own is dropped");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 1, 0, 8, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_PROTO, 8),
	      "ICMP echo to the hub: dropped, logged as type 8");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.99", "10.9.0.1", 17, 68, 67, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_SPOOF_IP, 67),
	      "a spoofed source address (even for DHCP): dropped, logged");
	eth(&p, CAM_A, CAM_B, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.12", 6, 40000, 554, 0x02, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_DEST, 554),
	      "straight to the other camera's MAC: dropped, logged");
	{
		static const uint8_t mdns[6] = { 0x01, 0x00, 0x5e, 0, 0, 0xfb };

		eth(&p, CAM_A, mdns, ETH_P_IP);
		ip4(&p, "10.9.0.11", "224.0.0.251", 17, 5353, 5353, 0, 0);
		CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
			      logged(blk, 0, POL_R_DEST, 5353),
		      "mDNS multicast: dropped, logged with port 5353");
	}
	eth(&p, CAM_A, BCAST, ETH_P_IP);
	ip4(&p, "10.9.0.11", "255.255.255.255", 17, 1900, 1900, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_DEST, 1900),
	      "a broadcast that is not DHCP (SSDP): dropped, logged");
	eth(&p, CAM_A, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.11", "10.9.0.1", 17, 68, 67, 0, 0x2000);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_FRAGMENT, -1),
	      "an IP fragment: dropped, logged");
	eth(&p, CAM_A, BCAST, ETH_P_ARP);
	arp(&p, CAM_A, "10.9.0.11", "10.9.0.12", 1);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_DEST, 1),
	      "ARP asking for the other camera: dropped, logged");
	eth(&p, CAM_A, BCAST, ETH_P_ARP);
	arp(&p, CAM_A, "10.9.0.1", "10.9.0.1", 2);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, 0, POL_R_ARP_CLAIM, 2),
	      "a gratuitous ARP claiming the gateway: dropped, logged");
	eth(&p, CAM_A, BCAST, ETH_P_ARP);
	arp(&p, STRANGER, "10.9.0.11", "10.9.0.1", 1);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, 0, POL_R_SPOOF_MAC, 1),
	      "ARP whose sender MAC is not the frame's: dropped, logged");
	eth(&p, STRANGER, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.66", "10.9.0.1", 17, 68, 67, 0, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, POL_WHO_UNKNOWN, POL_R_UNKNOWN_MAC, 67),
	      "a MAC no camera has: dropped, logged as an unknown device");
	eth(&p, CAM_B, HUB, ETH_P_IP);
	ip4(&p, "10.9.0.12", "10.9.0.1", 6, 554, 40000, 0x12, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, 1, POL_R_WRONG_PORT, -1),
	      "camera B's MAC on a port not its own: dropped, logged");
	eth(&p, CAM_A, HUB, ETH_P_IPV6);
	ip6(&p, "fd09::11", "2001:db8::1", 6, 443, 64, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_SPOOF_IP, 443),
	      "IPv6 TCP to a global address from one not its own: dropped, logged");
	eth(&p, CAM_A, HUB, ETH_P_IPV6);
	ip6(&p, "fe80::11", "fe80::1", 58, 128, 64, 0);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT && logged(blk, 0, POL_R_PROTO, 128),
	      "ICMPv6 echo to the hub's link-local address: dropped, logged");
	{
		static const uint8_t mld[6] = { 0x33, 0x33, 0, 0, 0, 0x16 };

		eth(&p, CAM_A, mld, ETH_P_IPV6);
		ip6(&p, "fe80::11", "ff02::16", 58, 143, 1, 1);
		CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
			      logged(blk, 0, POL_R_DEST, 143),
		      "an MLD report (behind a hop-by-hop header): dropped, logged");
	}
	{
		static const uint8_t lldp[6] = { 0x01, 0x80, 0xc2, 0, 0, 0x0e };

		eth(&p, CAM_A, lldp, 0x88cc);
		CHECK(run(fd, &p, 1) == TC_ACT_SHOT,
		      "LLDP (another ethertype, to a multicast MAC): dropped");
	}
	eth(&p, CAM_A, HUB, 0x8100);
	CHECK(run(fd, &p, 1) == TC_ACT_SHOT &&
		      logged(blk, 0, POL_R_ETHERTYPE, 0x8100),
	      "a VLAN tag: dropped, logged as ethertype 0x8100");
}

/* ---- roles, gate (cgroup_skb: the packet starts at its IP header) ---- */

/* The uplink and the LAN (lan_subnet 192.168.7.0/24, lan_port 38732):
 * it answers LAN viewers on that port, and nothing else of the LAN. */
static void lan(struct roles_bpf *r, uint64_t id)
{
	int out = bpf_program__fd(r->progs.moat_egress),
	    in = bpf_program__fd(r->progs.moat_ingress);
	struct pol_role up = { .who = POL_WHO_UPLINK };
	struct pol_lan_key k = { .prefixlen = 96 + 24 };
	struct pol_lan v = { .port = htons(38732) };
	struct pkt p;

	k.addr[10] = k.addr[11] = 0xff;
	inet_pton(AF_INET, "192.168.7.0", k.addr + 12);
	CHECK(!bpf_map_update_elem(bpf_map__fd(r->maps.roles), &id, &up, 0) &&
		      !bpf_map_update_elem(bpf_map__fd(r->maps.lan), &k, &v, 0),
	      "this cgroup is the uplink's; the LAN is 192.168.7.0/24, port 38732");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.7.1", "192.168.7.20", 6, 38732, 51000, 0x18, 0);
	CHECK(run(out, &p, 0) == 1, "the uplink answers a LAN viewer from port 38732");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.7.20", "192.168.7.1", 6, 51000, 38732, 0x02, 0);
	CHECK(run(in, &p, 0) == 1, "a LAN viewer's SYN to port 38732 comes in");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.7.1", "192.168.7.20", 6, 40000, 80, 0x02, 0);
	CHECK(run(out, &p, 0) == 0 &&
		      logged(bpf_map__fd(r->maps.blocked), POL_WHO_UPLINK,
			     POL_R_DEST, 80),
	      "the uplink connecting to a LAN host: dropped, logged");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.8.20", "192.168.7.1", 6, 51000, 38732, 0x02, 0);
	CHECK(run(in, &p, 0) == 0, "a SYN to port 38732 from outside the LAN: dropped");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.7.20", "192.168.7.1", 17, 51000, 38732, 0, 0);
	CHECK(run(in, &p, 0) == 0, "UDP to port 38732 from the LAN: dropped");
	CHECK(!bpf_map_delete_elem(bpf_map__fd(r->maps.lan), &k),
	      "the LAN entry removed");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "192.168.7.20", "192.168.7.1", 6, 51000, 38732, 0x02, 0);
	CHECK(run(in, &p, 0) == 0, "without lan_subnet, nobody's SYN comes in");
}

static void roles(struct roles_bpf *r, const char *cg)
{
	int fd = bpf_program__fd(r->progs.moat_egress);
	struct pol_role worker = { .who = POL_WHO_WORKER | 0 };
	struct pol_peer cam = { .proto = 6 }, cam6 = { .proto = 6 };
	uint64_t id;
	uint8_t one = 1;
	struct pkt p;

	CHECK(!cg_id(cg, &id), "the test's cgroup has an id");
	/* test runs carry a socket of the caller's cgroup: the test is the
	 * worker of camera 0, whose camera is 10.9.0.11:554 */
	CHECK(!bpf_map_update_elem(bpf_map__fd(r->maps.roles), &id, &worker, 0),
	      "this cgroup is a worker's");
	cam.cgroup = cam6.cgroup = id;
	cam.addr[10] = cam.addr[11] = 0xff;
	inet_pton(AF_INET, "10.9.0.11", cam.addr + 12);
	inet_pton(AF_INET6, "fd09::11", cam6.addr);
	cam.port = cam6.port = htons(554);
	CHECK(!bpf_map_update_elem(bpf_map__fd(r->maps.allow), &cam, &one, 0) &&
		      !bpf_map_update_elem(bpf_map__fd(r->maps.allow), &cam6,
					   &one, 0),
	      "its camera in the allow map");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.11", 6, 40000, 554, 0x02, 0);
	CHECK(run(fd, &p, 0) == 1, "a worker's TCP to its camera passes");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.11", 6, 40000, 80, 0x02, 0);
	CHECK(run(fd, &p, 0) == 0 &&
		      logged(bpf_map__fd(r->maps.blocked), POL_WHO_WORKER,
			     POL_R_DEST, 80),
	      "to another port of it: dropped, logged");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.11", 17, 40000, 554, 0, 0);
	CHECK(run(fd, &p, 0) == 0, "UDP to its camera's port: dropped");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.11", 1, 0, 8, 0, 0);
	CHECK(run(fd, &p, 0) == 0 &&
		      logged(bpf_map__fd(r->maps.blocked), POL_WHO_WORKER,
			     POL_R_PROTO, -1),
	      "ICMP to its camera: dropped, logged");
	eth(&p, HUB, CAM_A, ETH_P_IPV6);
	ip6(&p, "fd09::1", "fd09::11", 6, 554, 64, 0);
	CHECK(run(fd, &p, 0) == 1, "IPv6 TCP to its camera passes");
	eth(&p, HUB, CAM_A, ETH_P_IPV6);
	ip6(&p, "fd09::1", "fd09::12", 6, 554, 64, 0);
	CHECK(run(fd, &p, 0) == 0, "IPv6 TCP to another address: dropped");
	lan(r, id);
	CHECK(!bpf_map_delete_elem(bpf_map__fd(r->maps.roles), &id),
	      "this cgroup is no role's any more");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.11", 6, 40000, 554, 0x02, 0);
	CHECK(run(fd, &p, 0) == 0,
	      "a cgroup in moat's tree that is no role's sends nothing (fails closed)");
}

static void gate(struct gate_bpf *g)
{
	int fd = bpf_program__fd(g->progs.moat_gate), n;
	struct pkt p;

	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.2", 6, 40000, 7443, 0x02, 0);
	n = run(fd, &p, 0);
	CHECK(n == 1, "the gate passes a SYN (%d)", n);
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.2", 6, 40000, 7443, 0x02, 0);
	memcpy(p.b + p.len, "\x00\x00\x00\x01\x67", 5); /* H.264 */
	p.len += 5;
	p.b[17] += 5; /* IP total length */
	CHECK(run(fd, &p, 0) == 0 &&
		      logged(bpf_map__fd(g->maps.blocked), POL_WHO_UPLINK,
			     POL_R_GATE_TFO, 7443),
	      "data in a SYN (TCP Fast Open): dropped, logged");
	eth(&p, HUB, CAM_A, ETH_P_IP);
	ip4(&p, "10.9.0.1", "10.9.0.2", 6, 40000, 7443, 0x18, 0);
	memset(p.b + p.len, 0x5a, 40);
	p.len += 40;
	p.b[17] += 40;
	CHECK(run(fd, &p, 0) == 0 &&
		      logged(bpf_map__fd(g->maps.blocked), POL_WHO_UPLINK,
			     POL_R_GATE_FLOW, 7443),
	      "data on a connection the gate did not see open: dropped, logged");
}

/* bpffs at /sys/fs/bpf (mounted if it is not), and a folder of ours. */
static int pin_dir(char *out, size_t len)
{
	struct statfs fs;

	if ((statfs("/sys/fs/bpf", &fs) || fs.f_type != BPF_FS_MAGIC) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700"))
		return -errno;
	snprintf(out, len, "/sys/fs/bpf/moat-unit-%d", (int)getpid());
	return mkdir(out, 0700) ? -errno : 0;
}

int main(void)
{
	char bpf_dir[PATH_MAX], pin[64], cg[CG_PATH_MAX + 32] = "",
		base[CG_PATH_MAX];
	static struct cfg none;
	DECLARE_LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = pin,
			    /* no kernel BTF: loading must not need it */
			    .btf_custom_path = "/nonexistent/vmlinux");
	struct roles_bpf *r;
	struct gate_bpf *g;
	struct camnet_bpf *cn;
	ssize_t n = readlink("/proc/self/exe", bpf_dir, sizeof(bpf_dir) - 32);

	if (n <= 0)
		return 1;
	bpf_dir[n] = '\0';
	strcpy(strrchr(bpf_dir, '/'), "/../bpf");
	no_core(bpf_dir);
	if (geteuid())
		test_skip("loading BPF programs needs root (run the suite with sudo)");
	if (pin_dir(pin, sizeof(pin))) {
		CHECK(0, "a bpffs folder: %s", strerror(errno));
		return test_done("test_bpf");
	}
	r = roles_bpf__open_opts(&o);
	g = gate_bpf__open_opts(&o);
	cn = camnet_bpf__open_opts(&o);
	CHECK(r && g && cn && !roles_bpf__load(r) && !gate_bpf__load(g) &&
		      !camnet_bpf__load(cn),
	      "the kernel takes the three objects, with no kernel BTF given (btf_custom_path leads nowhere)");
	if (r && g && cn && !cg_root(&none, base)) {
		/* into a cgroup of the test's own, for the roles */
		*strrchr(base, '/') = '\0'; /* the cgroup2 mount */
		snprintf(cg, sizeof(cg), "%s/moat-unit-%d", base, (int)getpid());
		CHECK(!mkdir(cg, 0755) && !cg_enter(cg), "a cgroup of our own");
		camnet(cn);
		roles(r, cg);
		gate(g);
	}
	roles_bpf__destroy(r);
	gate_bpf__destroy(g);
	camnet_bpf__destroy(cn);
	{
		char cmd[256], out[256];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", pin);
		run_cmd(cmd, out, sizeof(out));
	}
	/* out of it again, to remove it */
	if (cg[0] && !cg_enter(base))
		rmdir(cg);
	return test_done("test_bpf");
}
