/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live view on the LAN, straight from the hub (docs/PROTOCOL.md section
 * 12, "On the LAN"): the uplink listens on [hub] lan_port and serves
 * viewers from [hub] lan_subnet as the relay serves a LIVE request, with
 * the same login (CHALLENGE, AUTH signed with the viewer's login key, one
 * of the hub's approved viewers) and the same sealed records. The hub
 * holds no key here either: this is the uplink, which sees ciphertext
 * only.
 *
 * Each record the uplink takes from the ciphertext ring goes to every LAN
 * viewer watching its stream, copied into that viewer's queue (at most
 * LAN_QUEUE_MAX bytes): a slow viewer never holds a ring slot, and is cut
 * off when its queue is full. All I/O is on the uplink's io_uring.
 */
#ifndef MOAT_DAEMON_LANVIEW_H
#define MOAT_DAEMON_LANVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/time_types.h>

#include "common/subnet.h"
#include "common/wire.h"
#include "crypto/login.h"

enum {
	LAN_CONNS_MAX = 8,	     /* viewers at once, logged in or not */
	LAN_QUEUE_MAX = 8 << 20,     /* bytes waiting for one viewer */
	LAN_STREAMS_MAX = 64,	     /* streams one viewer follows at once */
	LAN_ENDED_MAX = 256,	     /* ended streams it remembers */
	LAN_LOGIN_MS = 10000,	     /* to log in and send LIVE */
	LAN_STALL_MS = 10000,	     /* a queue that has not moved */
	LAN_RBUF = 1024,
	/* user_data kinds the uplink hands to lan_cqe() */
	LAN_UD_ACCEPT = 0x20,
	LAN_UD_RECV,
	LAN_UD_SEND,
	LAN_UD_TICK,
};

struct io_uring;
struct stats_uplink;

struct lan_conn {
	int fd; /* -1: a free slot */
	enum { LC_HELLO, LC_AUTH, LC_LIVE_WAIT, LC_LIVE } state;
	bool recv_armed, send_armed, closing;
	bool bye; /* refused: ERROR queued, then the end */
	uint64_t since_ns; /* accepted; then: when its queue last moved */
	char who[64];	   /* its address, for the log */
	uint8_t challenge[LOGIN_CHALLENGE_LEN];
	uint8_t rbuf[LAN_RBUF];
	struct wire_rx rx;
	/* the send queue, a byte ring: [head, head + len) mod LAN_QUEUE_MAX;
	 * the send in flight takes sending bytes from head */
	uint8_t *q;
	size_t head, len, sending;
	uint8_t streams[LAN_STREAMS_MAX][16]; /* begun since its LIVE */
	uint64_t next[LAN_STREAMS_MAX];	      /* each one's next counter */
	uint64_t began[LAN_STREAMS_MAX];      /* order of their headers */
	uint64_t n_began;
	size_t n_streams;
	/* streams it saw end: a GOP the hub sends again (live, then in a
	 * clip) is not sent twice */
	uint8_t ended[LAN_ENDED_MAX][16];
	size_t n_ended;
};

struct lan {
	int lfd; /* the listening socket; -1: no LAN view */
	struct io_uring *ring;
	struct stats_uplink *st;
	const uint8_t *account;			 /* the hub's relay account */
	const uint8_t (*viewers)[LOGIN_KEY_LEN]; /* approved viewers' login */
	size_t n_viewers;			 /* keys */
	bool accept_armed, tick_armed;
	bool accept_paused; /* accept failed: again at the next tick */
	struct subnet subnet;
	struct sockaddr_storage peer; /* the accept in flight fills these */
	socklen_t peer_len;
	struct __kernel_timespec tick;
	struct lan_conn c[LAN_CONNS_MAX];
};

/*
 * Listens on port (all addresses; the network policy admits only the
 * LAN's, and a connection from outside subnet is refused here too): before
 * the sandbox, which forbids bind and listen. subnet "": no LAN view,
 * nothing opened. A listener that cannot be made is logged and left out:
 * the relay path goes on without it. Always 0.
 */
int lan_open(struct lan *l, const char *subnet, uint16_t port,
	     struct io_uring *ring, struct stats_uplink *st,
	     const uint8_t *account, const uint8_t (*viewers)[LOGIN_KEY_LEN],
	     size_t n_viewers);
/* Arms what the loop waits on; call before each wait. */
void lan_arm(struct lan *l);
/* A completion whose user_data kind is one of LAN_UD_*. */
void lan_cqe(struct lan *l, unsigned int kind, uint64_t idx, int res);
/* A sealed record leaving the ring (p, len: header and body). */
void lan_record(struct lan *l, const uint8_t *p, size_t len);

#endif
