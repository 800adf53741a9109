/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the kernel side of the network policy (bpf/X.bpf.c) and its loader
 * (policy/bpf.c) share: map keys and values, events, reasons. Plain UAPI
 * types only, so the programs build without vmlinux.h and load on kernels
 * without /sys/kernel/btf/vmlinux (docs/POLICY.md).
 *
 * Addresses are 16 bytes in network order; an IPv4 address is stored
 * IPv4-mapped (::ffff:a.b.c.d), so one key serves both families and a
 * v4-mapped IPv6 connect meets the same rule as an IPv4 one. Ports are in
 * network order.
 */
#ifndef MOAT_BPF_POLICY_H
#define MOAT_BPF_POLICY_H

#include <linux/types.h>

enum {
	POL_MAX_CAMERAS = 64,
	POL_MAX_PEERS = 1024,	  /* allow: (cgroup, peer) pairs */
	POL_MAX_BLOCKED = 4096,	  /* distinct blocked attempts kept */
	POL_EVENTS_BYTES = 256 << 10,
	POL_IF_ADDRS = 4,	  /* hub addresses per family per interface */
	POL_HDR_LEN = 32,	  /* a relay frame header (PROTOCOL.md 12) */
	POL_BODY_MAX = 16 << 20,  /* largest record body */
	POL_BODY_MIN = 16,	  /* a record body holds at least its tag */
};

/* Who tried: a camera device (its index in moat.conf), a camera's
 * worker, the sealer, the uplink, or a device whose MAC no camera has. */
enum {
	POL_WHO_CAMERA = 0x000,
	POL_WHO_WORKER = 0x100,
	POL_WHO_SEALER = 0x200,
	POL_WHO_UPLINK = 0x300,
	POL_WHO_UNKNOWN = 0x400,
	POL_WHO_KIND = 0xf00,
	POL_WHO_INDEX = 0x0ff,
};

/* Why it was refused. */
enum pol_reason {
	POL_R_DEST = 1,	   /* not to the hub (a camera) / not allowed (a role) */
	POL_R_PORT,	   /* to the hub, but not a reply from its RTSP port */
	POL_R_PROTO,	   /* a protocol (or ICMP type) nothing needs */
	POL_R_SPOOF_IP,	   /* source address not the camera's */
	POL_R_SPOOF_MAC,   /* ARP sender hardware address not the frame's */
	POL_R_ARP_CLAIM,   /* ARP claiming an address not the camera's */
	POL_R_UNKNOWN_MAC, /* a MAC no camera has */
	POL_R_ETHERTYPE,   /* not IPv4, IPv6 or ARP (VLAN, LLDP, ...) */
	POL_R_FRAGMENT,	   /* an IP fragment */
	POL_R_WRONG_PORT,  /* a camera's MAC on another camera's port */
	POL_R_GATE,	   /* the uplink sent bytes that are not relay frames */
	POL_R_GATE_TFO,	   /* data in a SYN (TCP Fast Open) */
	POL_R_GATE_FLOW,   /* data on a connection the gate did not see open */
	POL_R_MAX,
};

/* Protocol values beyond IP's: ARP, and another ethertype (in port). */
enum { POL_PROTO_ARP = 254, POL_PROTO_ETHER = 255 };

/* cam_names: camera index -> its name in moat.conf */
struct pol_name {
	char name[40];
};

/* roles: cgroup id -> who (POL_WHO_WORKER | camera, _SEALER, _UPLINK) */
struct pol_role {
	__u32 who;
	__u32 pad;
};

/* allow: (a role's cgroup, a peer) it may talk to */
struct pol_peer {
	__u64 cgroup;
	__u8 addr[16];
	__u16 port;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 pad[5];
};

/* lan: the LAN that may watch live from the hub (LPM trie, one entry):
 * the uplink may take TCP connections on port from it, and answer them */
struct pol_lan_key {
	__u32 prefixlen; /* of addr (IPv4 mapped: 96 + its own) */
	__u8 addr[16];
};
struct pol_lan {
	__u16 port; /* the hub's (lan_port), network order */
	__u8 pad[6];
};

/* cameras: source MAC -> the camera it is */
struct pol_mac {
	__u8 mac[6];
	__u8 pad[2];
};

struct pol_camera {
	__u32 index;
	__u32 ifindex;	/* the port it is on ([camera] interface), or 0:
			   the first port it is seen on (learned) */
	__u8 addr[16];	/* its address (IPv4-mapped, or IPv6) */
	__u16 rtsp_port[2]; /* the ports the hub pulls from (0: unused) */
	__u32 pad2;
};

/* camera_ifs: ingress ifindex (a camera interface, or a port of a camera
 * bridge) -> the hub on that network */
struct pol_camif {
	__u8 hub_mac[6];
	__u8 n4, n6;
	__u32 addr4[POL_IF_ADDRS];	/* network order */
	__u8 addr6[POL_IF_ADDRS][16];	/* link-local and global */
};

/* blocked: one line of `moatctl policy log` */
struct pol_block_key {
	__u32 who;
	__u8 reason;
	__u8 proto; /* IPPROTO_*, POL_PROTO_ARP or POL_PROTO_ETHER */
	__u16 port; /* destination port, ICMP type, or ethertype */
	__u8 addr[16]; /* destination (or the address an ARP claims) */
};

struct pol_block_val {
	__u64 count;
	__u64 first_ns, last_ns; /* bpf_ktime_get_ns: CLOCK_MONOTONIC */
	__u8 src[16];		 /* the last source address seen */
	__u8 mac[6];		 /* and source MAC (camera side) */
	__u8 pad[2];
};

/* events: one per blocked packet, through the ring buffer */
struct pol_event {
	struct pol_block_key key;
	__u64 ts_ns;
	__u8 src[16];
	__u8 mac[6];
	__u16 sport;	/* host order */
	__u64 cookie;	/* the gate: the socket's cookie (SO_COOKIE) */
};

/* counters: one per-CPU array, indexed by these */
enum {
	POL_C_PASS_CAMERA,  /* camera frames let through to the hub */
	POL_C_DROP_CAMERA,
	POL_C_PASS_ROLE,    /* role connects, sends and packets allowed */
	POL_C_DROP_ROLE,
	POL_C_GATE_FRAMES,  /* relay frames the gate checked */
	POL_C_GATE_BYTES,   /* payload bytes it let through */
	POL_C_GATE_DROPS,   /* packets it dropped */
	POL_C_GATE_KILLED,  /* connections it ended */
	POL_C_LOST_EVENTS,  /* ring buffer full */
	POL_C_MAX,
};

/* The gate's view of one uplink connection (socket storage). */
enum {
	GATE_NEW = 0,
	GATE_HELLO,   /* the first frame: HELLO */
	GATE_RECORDS, /* then sealed records only */
	GATE_DEAD,
	GATE_AUTH,    /* after HELLO: AUTH, its fixed size */
	GATE_VIEWERS, /* after AUTH: one VIEWERS, at most 16 keys */
	/* a LAN viewer's connection (the uplink accepted it): one CHALLENGE,
	 * then sealed records; one ERROR (a reason) at any point, the last */
	GATE_SRV_CHALLENGE,
	GATE_SRV_RECORDS,
	GATE_SRV_DONE, /* after its ERROR: nothing more */
};

struct gate_sk {
	__u32 next;   /* sequence number of the first byte not yet checked */
	__u32 hdr_at; /* where the next frame header starts */
	__u32 have;   /* bytes of that header already checked (< 32) */
	__u32 state;
	__u8 hdr[POL_HDR_LEN];
	__u64 frames, bytes;
};

/* Frame types on the relay connection (PROTOCOL.md 12). */
enum {
	RELAY_T_HEADER = 1,
	RELAY_T_DATA = 2,
	RELAY_T_FINAL = 3,
	RELAY_T_HELLO = 0x10,
	RELAY_T_AUTH = 0x18,
	RELAY_T_VIEWERS = 0x19,
	RELAY_T_ERROR = 0x16,
	RELAY_T_CHALLENGE = 0x17,
	RELAY_CHALLENGE_LEN = 32,
	RELAY_ERROR_MAX = 512,
	RELAY_ROLE_HUB = 1,
	RELAY_AUTH_LEN = 96,	 /* login public key and signature */
	RELAY_VIEWER_KEY = 32,	 /* one viewer's login public key */
	RELAY_VIEWERS_MAX = 16,
};

#endif
