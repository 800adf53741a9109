// SPDX-License-Identifier: GPL-2.0-only
/* Live view on the LAN, served by the uplink (see lanview.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "common/log.h"
#include "crypto/stream.h"
#include "daemon/lanview.h"
#include "daemon/roles.h"
#include "daemon/stats.h"

#define LUD(kind, idx) (((uint64_t)(kind) << 56) | (uint64_t)(idx))

enum {
	LAN_BIND_STEP_MS = 10,
	LAN_BIND_WAIT_MS = 3000,
};

static struct io_uring_sqe *sqe_of(struct lan *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(l->ring);

	if (!sqe) {
		io_uring_submit(l->ring);
		sqe = io_uring_get_sqe(l->ring);
	}
	return sqe;
}

static int listen_on(int family, uint16_t port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int one = 1, zero = 0, fd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		a->sin6_addr = in6addr_any;
		sl = sizeof(*a);
		/* one socket for both (IPv4 as mapped addresses) */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		sl = sizeof(*a);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, LAN_CONNS_MAX)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

int lan_open(struct lan *l, const char *subnet, uint16_t port,
	     struct io_uring *ring, struct stats_uplink *st,
	     const uint8_t *account, const uint8_t (*viewers)[LOGIN_KEY_LEN],
	     size_t n_viewers)
{
	char why[160];
	int fd;

	memset(l, 0, sizeof(*l));
	l->lfd = -1;
	for (int i = 0; i < LAN_CONNS_MAX; i++)
		l->c[i].fd = -1;
	l->ring = ring;
	l->st = st;
	l->account = account;
	l->viewers = viewers;
	l->n_viewers = n_viewers;
	/* the page outlives an uplink: nobody watches a new one yet */
	st->lan_viewers = 0;
	if (!subnet[0])
		return 0;
	if (subnet_parse(subnet, &l->subnet, why, sizeof(why))) {
		log_err("uplink: [hub] lan_subnet `%s' %s; no live view on the LAN",
			subnet, why);
		return 0;
	}
	/*
	 * IPv6 and IPv4 on one socket; IPv4 alone on a kernel without IPv6
	 * (ipv6.disable=1). An uplink before this one that was killed may
	 * still hold the port for a while after it is gone: its io_uring's
	 * pending accept keeps the socket listening until a kernel worker
	 * tears the ring down (6-10 ms here, in 200 of 200 tries; longer
	 * when that worker waits for a CPU, as it may behind a real-time
	 * uplink). One that stopped shut its socket down itself. So wait
	 * for the port a bounded time before saying another program has it.
	 */
	for (uint64_t t0 = mono_ns();;) {
		uint64_t ms = (mono_ns() - t0) / 1000000;

		fd = listen_on(AF_INET6, port);
		if (fd == -EAFNOSUPPORT && !l->subnet.v6)
			fd = listen_on(AF_INET, port);
		if (fd != -EADDRINUSE || ms >= LAN_BIND_WAIT_MS ||
		    role_stopping()) {
			if (ms && fd >= 0)
				log_info("uplink: port %u was busy for %llu ms",
					 port, (unsigned long long)ms);
			break;
		}
		usleep(LAN_BIND_STEP_MS * 1000);
	}
	if (fd == -EADDRINUSE)
		log_err("uplink: no live view on the LAN: port %u still in use after %d s: another program has [hub] lan_port (pick another)",
			port, LAN_BIND_WAIT_MS / 1000);
	else if (fd < 0)
		log_err("uplink: no live view on the LAN: cannot listen on port %u: %s",
			port, strerror(-fd));
	if (fd < 0)
		return 0;
	l->lfd = fd;
	log_info("uplink: LAN viewers from %s may watch live on port %u",
		 subnet, port);
	return 0;
}

static void arm_recv(struct lan *l, int i)
{
	struct lan_conn *c = &l->c[i];
	struct io_uring_sqe *sqe = sqe_of(l);

	io_uring_prep_recv(sqe, c->fd, c->rbuf, sizeof(c->rbuf), 0);
	io_uring_sqe_set_data64(sqe, LUD(LAN_UD_RECV, i));
	c->recv_armed = true;
}

/* Sends the queue's next run of bytes (up to the end of the ring). */
static void arm_send(struct lan *l, int i)
{
	struct lan_conn *c = &l->c[i];
	struct io_uring_sqe *sqe;
	size_t n;

	if (c->send_armed || c->closing || !c->len)
		return;
	n = c->len;
	if (c->head + n > LAN_QUEUE_MAX)
		n = LAN_QUEUE_MAX - c->head;
	sqe = sqe_of(l);
	io_uring_prep_send(sqe, c->fd, c->q + c->head, n, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, LUD(LAN_UD_SEND, i));
	c->sending = n;
	c->send_armed = true;
}

/* Appends bytes to the queue; false if they do not fit. */
static bool enqueue(struct lan_conn *c, const void *p, size_t n)
{
	size_t tail, first;

	if (n > LAN_QUEUE_MAX - c->len)
		return false;
	tail = (c->head + c->len) % LAN_QUEUE_MAX;
	first = LAN_QUEUE_MAX - tail < n ? LAN_QUEUE_MAX - tail : n;
	memcpy(c->q + tail, p, first);
	memcpy(c->q, (const uint8_t *)p + first, n - first);
	c->len += n;
	return true;
}

/* Ends a connection: shut down now, closed once nothing is in flight. */
static void end_conn(struct lan *l, int i, const char *why)
{
	struct lan_conn *c = &l->c[i];

	if (c->fd < 0)
		return;
	if (!c->closing) {
		if (why)
			log_info("uplink: LAN viewer %s: %s", c->who, why);
		c->closing = true;
		shutdown(c->fd, SHUT_RDWR);
		if (c->state == LC_LIVE && l->st->lan_viewers)
			l->st->lan_viewers--;
	}
	if (c->recv_armed || c->send_armed)
		return;
	close(c->fd);
	wire_rx_free(&c->rx);
	free(c->q);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* ERROR with the reason after what is queued, then the end (the viewer
 * prints the reason); nothing more is read from it. */
static void refuse(struct lan *l, int i, const char *why)
{
	struct lan_conn *c = &l->c[i];
	uint8_t f[WIRE_HDR_LEN + 160];
	size_t n = strlen(why) < 160 ? strlen(why) : 160;

	l->st->lan_refused++;
	log_info("uplink: LAN viewer %s refused: %s", c->who, why);
	wire_put(f, WIRE_ERROR, (uint32_t)n, NULL, 0);
	memcpy(f + WIRE_HDR_LEN, why, n);
	c->bye = true;
	if (!enqueue(c, f, WIRE_HDR_LEN + n)) {
		end_conn(l, i, NULL);
		return;
	}
	arm_send(l, i);
}

static void on_accept(struct lan *l, int fd)
{
	struct lan_conn *c = NULL;
	char ip[INET6_ADDRSTRLEN] = "?";
	uint8_t addr[16];
	unsigned int port = 0;
	int i;

	l->accept_armed = false;
	if (fd < 0) {
		/* out of descriptors or memory: again at the next tick, not
		 * at once (which would spin) */
		if (fd != -ECANCELED && fd != -EINTR) {
			log_warn("uplink: LAN accept: %s", strerror(-fd));
			l->accept_paused = true;
		}
		return;
	}
	for (i = 0; i < LAN_CONNS_MAX && !c; i++)
		if (l->c[i].fd < 0)
			c = &l->c[i];
	if (!c) {
		log_warn("uplink: a LAN viewer more than %d at once: refused",
			 LAN_CONNS_MAX);
		l->st->lan_refused++;
		close(fd);
		return;
	}
	i--;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->since_ns = mono_ns();
	snprintf(c->who, sizeof(c->who), "?");
	/* the address the accept filled in (no getpeername: the sandbox
	 * has no such call); IPv4 as a mapped address */
	memset(addr, 0, sizeof(addr));
	if (l->peer.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)&l->peer;

		memcpy(addr, &a6->sin6_addr, 16);
		port = ntohs(a6->sin6_port);
	} else if (l->peer.ss_family == AF_INET) {
		const struct sockaddr_in *a4 = (const void *)&l->peer;

		addr[10] = addr[11] = 0xff;
		memcpy(addr + 12, &a4->sin_addr, 4);
		port = ntohs(a4->sin_port);
	}
	if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)addr))
		inet_ntop(AF_INET, addr + 12, ip, sizeof(ip));
	else
		inet_ntop(AF_INET6, addr, ip, sizeof(ip));
	snprintf(c->who, sizeof(c->who), "%s port %u", ip, port);
	if (wire_rx_init(&c->rx, LAN_RBUF) ||
	    RAND_bytes(c->challenge, sizeof(c->challenge)) != 1) {
		end_conn(l, i, "out of memory or randomness");
		return;
	}
	l->st->lan_connects++;
	c->q = malloc(LAN_QUEUE_MAX); /* pages are touched only as used */
	if (!c->q) {
		end_conn(l, i, "out of memory for its queue");
		return;
	}
	/* the network policy admits only lan_subnet; this holds without it
	 * (policy = off) */
	if (!subnet_has(&l->subnet, addr)) {
		refuse(l, i, "this address is not in the hub's lan_subnet");
		return;
	}
	arm_recv(l, i);
}

static bool approved(const struct lan *l, const uint8_t *pk)
{
	for (size_t k = 0; k < l->n_viewers; k++)
		if (!memcmp(l->viewers[k], pk, LOGIN_KEY_LEN))
			return true;
	return false;
}

/* One frame from a viewer; false when the connection ended. */
static bool on_frame(struct lan *l, int i, const struct wire_hdr *h,
		     const uint8_t *f)
{
	struct lan_conn *c = &l->c[i];
	uint8_t ch[WIRE_HDR_LEN + LOGIN_CHALLENGE_LEN];

	switch (c->state) {
	case LC_HELLO:
		if (h->type != WIRE_HELLO || h->value != WIRE_ROLE_VIEWER)
			break;
		if (memcmp(h->id, l->account, LOGIN_ACCOUNT_LEN)) {
			refuse(l, i, "this is not the hub that viewer was paired with");
			return false;
		}
		/* the relay's login: a fresh CHALLENGE, answered by AUTH */
		wire_put(ch, WIRE_CHALLENGE, LOGIN_CHALLENGE_LEN, NULL, 0);
		memcpy(ch + WIRE_HDR_LEN, c->challenge, LOGIN_CHALLENGE_LEN);
		enqueue(c, ch, sizeof(ch));
		arm_send(l, i);
		c->state = LC_AUTH;
		return true;
	case LC_AUTH:
		if (h->type != WIRE_AUTH)
			break;
		if (login_verify(f + WIRE_HDR_LEN, WIRE_ROLE_VIEWER, l->account,
				 c->challenge)) {
			refuse(l, i, "the signature does not verify for this challenge");
			return false;
		}
		if (!approved(l, f + WIRE_HDR_LEN)) {
			refuse(l, i, "this viewer is not one the hub approved (or the owner removed it)");
			return false;
		}
		c->state = LC_LIVE_WAIT;
		return true;
	case LC_LIVE_WAIT:
		if (h->type != WIRE_LIVE)
			break;
		c->state = LC_LIVE;
		c->since_ns = mono_ns();
		l->st->lan_viewers++;
		l->st->lan_logins++;
		log_info("uplink: LAN viewer %s watches live", c->who);
		return true;
	case LC_LIVE:
		break;
	}
	refuse(l, i, c->state == LC_LIVE ?
			     "a live viewer sends nothing more" :
			     "not a frame the hub takes from a LAN viewer now (HELLO, AUTH, then LIVE)");
	return false;
}

static void on_recv(struct lan *l, int i, int res)
{
	struct lan_conn *c = &l->c[i];
	struct wire_hdr h;
	const uint8_t *f;
	uint8_t *dst;
	size_t room;
	int ret;

	c->recv_armed = false;
	if (c->closing || res <= 0) {
		end_conn(l, i, res ? strerror(-res) : "it closed the connection");
		return;
	}
	dst = wire_rx_space(&c->rx, &room);
	if ((size_t)res > room) {
		refuse(l, i, "not a frame of the moat protocol");
		return;
	}
	memcpy(dst, c->rbuf, (size_t)res);
	wire_rx_added(&c->rx, (size_t)res);
	while (!c->bye && (ret = wire_rx_next(&c->rx, &h, &f)) == 1)
		if (!on_frame(l, i, &h, f))
			return;
	if (c->bye)
		return;
	if (ret < 0) {
		refuse(l, i, "not a frame of the moat protocol");
		return;
	}
	arm_recv(l, i);
}

static void on_send(struct lan *l, int i, int res)
{
	struct lan_conn *c = &l->c[i];

	c->send_armed = false;
	if (c->closing || res <= 0) {
		end_conn(l, i, res ? strerror(-res) : "sending stalled");
		return;
	}
	c->head = (c->head + (size_t)res) % LAN_QUEUE_MAX;
	c->len -= (size_t)res;
	c->since_ns = mono_ns();
	l->st->lan_bytes += (uint64_t)res;
	if (!c->len && c->bye) {
		end_conn(l, i, NULL);
		return;
	}
	arm_send(l, i);
}

/* Once a second while anyone is connected: login and stall deadlines. */
static void on_tick(struct lan *l)
{
	uint64_t now = mono_ns();

	l->tick_armed = false;
	l->accept_paused = false;
	for (int i = 0; i < LAN_CONNS_MAX; i++) {
		struct lan_conn *c = &l->c[i];

		if (c->fd < 0 || c->closing)
			continue;
		if (c->bye && now - c->since_ns > LAN_LOGIN_MS * 1000000ULL)
			end_conn(l, i, NULL);
		else if (c->bye)
			continue;
		else if (c->state != LC_LIVE &&
		    now - c->since_ns > LAN_LOGIN_MS * 1000000ULL)
			refuse(l, i, "not logged in in time");
		else if (c->state == LC_LIVE && c->len &&
			 now - c->since_ns > LAN_STALL_MS * 1000000ULL)
			end_conn(l, i, "it stopped reading");
	}
}

void lan_arm(struct lan *l)
{
	bool any = false;

	if (l->lfd < 0)
		return;
	if (!l->accept_armed && !l->accept_paused) {
		struct io_uring_sqe *sqe = sqe_of(l);

		l->peer_len = sizeof(l->peer);
		io_uring_prep_accept(sqe, l->lfd, (struct sockaddr *)&l->peer,
				     &l->peer_len, SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, LUD(LAN_UD_ACCEPT, 0));
		l->accept_armed = true;
	}
	any = l->accept_paused;
	for (int i = 0; i < LAN_CONNS_MAX; i++)
		any |= l->c[i].fd >= 0;
	if (any && !l->tick_armed) {
		struct io_uring_sqe *sqe = sqe_of(l);

		l->tick.tv_sec = 1;
		l->tick.tv_nsec = 0;
		io_uring_prep_timeout(sqe, &l->tick, 0, 0);
		io_uring_sqe_set_data64(sqe, LUD(LAN_UD_TICK, 0));
		l->tick_armed = true;
	}
}

void lan_cqe(struct lan *l, unsigned int kind, uint64_t idx, int res)
{
	if (kind == LAN_UD_ACCEPT) {
		on_accept(l, res);
		return;
	}
	if (kind == LAN_UD_TICK) {
		on_tick(l);
		return;
	}
	if (idx >= LAN_CONNS_MAX || l->c[idx].fd < 0)
		return;
	if (kind == LAN_UD_RECV)
		on_recv(l, (int)idx, res);
	else if (kind == LAN_UD_SEND)
		on_send(l, (int)idx, res);
}

/* The stream's index among those c follows, or -1. */
static long followed(const struct lan_conn *c, const uint8_t *id)
{
	for (size_t k = 0; k < c->n_streams; k++)
		if (!memcmp(c->streams[k], id, 16))
			return (long)k;
	return -1;
}

static bool ended(const struct lan_conn *c, const uint8_t *id)
{
	size_t n = c->n_ended < LAN_ENDED_MAX ? c->n_ended : LAN_ENDED_MAX;

	for (size_t k = 0; k < n; k++)
		if (!memcmp(c->ended[k], id, 16))
			return true;
	return false;
}

/*
 * Whether c gets this record: each stream from its header on (one that
 * begins after its LIVE), each record once and in order, as the relay
 * forwards them.
 */
static bool wants(struct lan_conn *c, const struct rec_hdr *rh)
{
	long k = followed(c, rh->stream_id);

	if (rh->type == REC_TYPE_HEADER) {
		size_t at = c->n_streams;

		if (k >= 0 || ended(c, rh->stream_id))
			return false;
		/* full: the stream begun longest ago goes (one the hub cut
		 * short never ends) */
		if (at == LAN_STREAMS_MAX) {
			at = 0;
			for (size_t j = 1; j < c->n_streams; j++)
				if (c->began[j] < c->began[at])
					at = j;
		} else {
			c->n_streams++;
		}
		memcpy(c->streams[at], rh->stream_id, 16);
		c->next[at] = 1;
		c->began[at] = c->n_began++;
		return true;
	}
	if (k < 0 || rh->counter != c->next[k])
		return false;
	c->next[k]++;
	if (rh->type == REC_TYPE_FINAL) {
		memcpy(c->ended[c->n_ended++ % LAN_ENDED_MAX], rh->stream_id,
		       16);
		c->n_streams--;
		memcpy(c->streams[k], c->streams[c->n_streams], 16);
		c->next[k] = c->next[c->n_streams];
		c->began[k] = c->began[c->n_streams];
	}
	return true;
}

void lan_record(struct lan *l, const uint8_t *p, size_t len)
{
	struct rec_hdr rh;

	if (l->lfd < 0 || rec_parse_hdr(p, len, &rh))
		return;
	for (int i = 0; i < LAN_CONNS_MAX; i++) {
		struct lan_conn *c = &l->c[i];

		if (c->fd < 0 || c->closing || c->bye || c->state != LC_LIVE ||
		    !wants(c, &rh))
			continue;
		if (!c->len)
			c->since_ns = mono_ns();
		if (!enqueue(c, p, len)) {
			/* its queue may end inside a record: no ERROR can
			 * follow, the connection just ends */
			l->st->lan_cut++;
			end_conn(l, i, "cut off: too slow for the live stream");
			continue;
		}
		l->st->lan_records++;
		arm_send(l, i);
	}
}
