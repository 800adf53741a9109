// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the hub's LAN live-view listener: what a machine
 * on the LAN sends (untrusted), and the order in which records, send
 * completions and ticks reach it, fed to daemon/lanview.c's own handlers
 * (built into this harness to reach its statics). The first byte picks:
 *
 *   0  a new connection (HELLO, CHALLENGE, AUTH: the login itself); the
 *      rest is what the peer sends, in chunks whose size the second byte
 *      picks, from an address in or out of lan_subnet
 *   1  the same, on a connection the harness first logs in (HELLO, the
 *      CHALLENGE the listener queued, AUTH signed with an approved
 *      viewer's login key, LIVE): whatever it sends then is refused. The
 *      first byte may also have it stop before LIVE, or sign with a key
 *      the hub did not approve (refused at AUTH)
 *   2  one or two logged-in viewers, then operations: sealed-record-shaped
 *      records (any order of headers, records and ends, any of 256
 *      streams, up to 8 MiB, or just what fills the queue) to
 *      lan_record(), full, partial or failed send completions, ticks with
 *      the clock moved on, bytes from any connection, and new
 *      connections from in or out of lan_subnet until the slots run out
 *
 * The io_uring is real, but each SQE the listener queues is checked (a
 * send lies inside the queue, a receive is the connection's buffer) and
 * made a NOP: the harness completes the operations itself. After every
 * step the queues stay in bounds, every open connection waits on
 * something, and nobody gets past AUTH without the harness's signature;
 * at the end every connection closes.
 */
#include <fcntl.h>
#include <stdlib.h>

#include <sanitizer/asan_interface.h>

#include "daemon/lanview.h"

/*
 * Each connection's 8 MiB queue comes from a pool instead of malloc (a
 * fresh one costs ASan milliseconds of page faults), poisoned while it
 * is not in use, so a use after free still fails. lanview.c's only malloc
 * and free are its queues'.
 */
static uint8_t *qpool[LAN_CONNS_MAX];
static int n_qpool;

static void *q_alloc(size_t n)
{
	if (n != LAN_QUEUE_MAX || !n_qpool)
		return malloc(n);
	ASAN_UNPOISON_MEMORY_REGION(qpool[n_qpool - 1], LAN_QUEUE_MAX);
	return qpool[--n_qpool];
}

static void q_free(void *p)
{
	if (p && n_qpool < LAN_CONNS_MAX) {
		ASAN_POISON_MEMORY_REGION(p, LAN_QUEUE_MAX);
		qpool[n_qpool++] = p;
	} else {
		free(p);
	}
}

#define malloc(n) q_alloc(n)
#define free(p)	  q_free(p)
#include "daemon/lanview.c"
#undef malloc
#undef free

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { BIG_BODY = 8 << 20 }; /* the largest record: 8 MiB of body */

static struct io_uring ring;
static struct stats_uplink st;
static struct lan lan;
static struct subnet fz_subnet;
static struct login_key vkey, okey; /* approved, not approved */
static uint8_t fz_viewers[2][LOGIN_KEY_LEN];
static uint8_t fz_acct[LOGIN_ACCOUNT_LEN]; /* the hub's relay account */
static uint8_t rec[REC_HDR_LEN + BIG_BODY];
static int peers[LAN_CONNS_MAX * 2], n_peers, nullfd = -1;
static uint64_t signs;		  /* AUTHs signed with the approved key */
static unsigned int signed_slots; /* the slots they were for */
static int n_big;		  /* records of a MiB or more this input */

static void setup(void)
{
	char why[160];
	int ret;

	log_init("fuzz_lanview", LOG_LVL_ERR);
	ret = io_uring_queue_init(64, &ring, 0);
	if (ret) {
		fprintf(stderr, "fuzz_lanview: no io_uring: %s\n",
			strerror(-ret));
		abort();
	}
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || login_keygen(&vkey) || login_keygen(&okey) ||
	    subnet_parse("192.168.1.0/24", &fz_subnet, why, sizeof(why)))
		abort();
	memset(fz_acct, 0xab, sizeof(fz_acct));
	memset(fz_viewers[0], 0x5a, LOGIN_KEY_LEN);
	memcpy(fz_viewers[1], vkey.pk, LOGIN_KEY_LEN);
}

/* An SQE the listener queued, checked against what it was for. */
static void check_sqe(const struct io_uring_sqe *sqe)
{
	unsigned int kind = (unsigned int)(sqe->user_data >> 56);
	uint64_t i = sqe->user_data & ((1ULL << 56) - 1);
	const struct lan_conn *c = &lan.c[i % LAN_CONNS_MAX];
	bool ok;

	if (kind == LAN_UD_ACCEPT || kind == LAN_UD_TICK)
		return;
	if (kind == LAN_UD_RECV)
		ok = sqe->opcode == IORING_OP_RECV && c->recv_armed &&
		     sqe->addr == (uintptr_t)c->rbuf && sqe->len == LAN_RBUF;
	else
		ok = kind == LAN_UD_SEND && sqe->opcode == IORING_OP_SEND &&
		     c->send_armed && sqe->len == c->sending &&
		     sqe->addr == (uintptr_t)(c->q + c->head);
	if (!ok || i >= LAN_CONNS_MAX || c->fd < 0 || sqe->fd != c->fd)
		__builtin_trap();
}

/* Every SQE queued so far checked, made a NOP and submitted; every CQE
 * dropped. The kernel never touches a socket or a queue. */
static void settle_ring(void)
{
	if (ring.sq.sqe_tail - ring.sq.sqe_head > 16)
		__builtin_trap(); /* more than the listener can want at once */
	for (unsigned int k = ring.sq.sqe_head; k != ring.sq.sqe_tail; k++) {
		struct io_uring_sqe *sqe = &ring.sq.sqes[k & ring.sq.ring_mask];

		check_sqe(sqe);
		io_uring_prep_nop(sqe);
	}
	io_uring_submit(&ring);
	io_uring_cq_advance(&ring, io_uring_cq_ready(&ring));
}

static void check_conn(int i)
{
	const struct lan_conn *c = &lan.c[i];

	if (c->fd < 0) {
		if (c->q || c->recv_armed || c->send_armed)
			__builtin_trap();
		signed_slots &= ~(1U << i);
		return;
	}
	if (c->len > LAN_QUEUE_MAX || c->head >= LAN_QUEUE_MAX ||
	    c->n_streams > LAN_STREAMS_MAX)
		__builtin_trap();
	if (c->send_armed && (!c->sending || c->sending > c->len ||
			      c->head + c->sending > LAN_QUEUE_MAX))
		__builtin_trap();
	/* nothing would ever complete for it: the slot is lost */
	if (!c->recv_armed && !c->send_armed)
		__builtin_trap();
	/* past AUTH only with the harness's signature */
	if (c->state >= LC_LIVE_WAIT && !(signed_slots & (1U << i)))
		__builtin_trap();
}

/* After every step: the ring settled, each slot in bounds. */
static void step_done(void)
{
	uint64_t live = 0;

	settle_ring();
	for (int i = 0; i < LAN_CONNS_MAX; i++) {
		check_conn(i);
		live += lan.c[i].fd >= 0 && !lan.c[i].closing &&
			lan.c[i].state == LC_LIVE;
	}
	if (st.lan_viewers != live || st.lan_logins > signs)
		__builtin_trap();
}

/* The address the accept in flight fills in: in lan_subnet or not. */
static void set_peer(unsigned int a)
{
	static const char *const ip[4] = { "192.168.1.23",
					   "::ffff:192.168.1.77", "10.0.0.5",
					   "fd00::1" };
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&lan.peer;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&lan.peer;

	memset(&lan.peer, 0, sizeof(lan.peer));
	lan.peer.ss_family = a & 1 ? AF_INET6 : AF_INET;
	if (a & 1)
		inet_pton(AF_INET6, ip[a & 3], &a6->sin6_addr);
	else
		inet_pton(AF_INET, ip[a & 3], &a4->sin_addr);
}

/* A viewer connects (one end of a socketpair; the harness holds the
 * other): the slot the listener gave it, or -1. */
static int connect_one(unsigned int a)
{
	int sp[2];

	if (a & 0x80) {
		/* accept failed: paused until the next tick */
		lan_cqe(&lan, LAN_UD_ACCEPT, 0, -EMFILE);
		return -1;
	}
	if (n_peers == (int)(sizeof(peers) / sizeof(peers[0])))
		return -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp))
		abort();
	peers[n_peers++] = sp[1];
	set_peer(a);
	lan_cqe(&lan, LAN_UD_ACCEPT, 0, sp[0]);
	step_done();
	for (int i = 0; i < LAN_CONNS_MAX; i++)
		if (lan.c[i].fd == sp[0])
			return i;
	return -1;
}

/* The peer's bytes, as a completed receive (when one is armed). */
static void recv_bytes(int i, const uint8_t *p, size_t n)
{
	struct lan_conn *c = &lan.c[i];
	bool was_live = c->state == LC_LIVE;

	if (c->fd < 0 || !c->recv_armed || n > LAN_RBUF)
		return;
	memcpy(c->rbuf, p, n);
	lan_cqe(&lan, LAN_UD_RECV, (uint64_t)i, (int)n);
	step_done();
	/* a live viewer's frames are refused, never acted upon */
	if (was_live && c->fd >= 0 && !c->closing && !c->bye && c->rx.off)
		__builtin_trap();
}

/* The send in flight completes: all of it, part, nothing, an error. */
static void send_done(int i, uint8_t how)
{
	struct lan_conn *c = &lan.c[i];
	int res;

	if (c->fd < 0 || !c->send_armed)
		return;
	if (how < 0xc0)
		res = (int)c->sending;
	else if (how < 0xf0)
		res = 1 + (int)((c->sending - 1) * (how - 0xc0) / 48);
	else if (how < 0xf8)
		res = 0;
	else
		res = -ECONNRESET;
	lan_cqe(&lan, LAN_UD_SEND, (uint64_t)i, res);
	step_done();
}

/* d tenths of a second pass for every connection, then the tick. */
static void tick(uint8_t d)
{
	uint64_t ns = (uint64_t)d * 100000000ULL;

	lan_arm(&lan);
	for (int i = 0; i < LAN_CONNS_MAX; i++) {
		uint64_t *t = &lan.c[i].since_ns;

		*t = *t > ns ? *t - ns : 0;
	}
	lan_cqe(&lan, LAN_UD_TICK, 0, -ETIME);
	step_done();
}

/* Slot i logs in: HELLO, the CHALLENGE it was sent, AUTH signed over it
 * (how & 1: by a viewer the hub did not approve), LIVE (not if how & 2). */
static void login(int i, unsigned int how)
{
	struct lan_conn *c = &lan.c[i];
	uint8_t f[2 * WIRE_HDR_LEN + LOGIN_AUTH_LEN];
	const uint8_t *ch;
	unsigned int want = how & 1 ? LC_AUTH :
			    how & 2 ? LC_LIVE_WAIT :
				      LC_LIVE;

	wire_put(f, WIRE_HELLO, 0, fz_acct, WIRE_ROLE_VIEWER);
	recv_bytes(i, f, WIRE_HDR_LEN);
	ch = c->q + c->head;
	if (c->state != LC_AUTH ||
	    c->len != WIRE_HDR_LEN + LOGIN_CHALLENGE_LEN ||
	    ch[1] != WIRE_CHALLENGE)
		__builtin_trap();
	wire_put(f, WIRE_AUTH, LOGIN_AUTH_LEN, NULL, 0);
	if (login_sign(how & 1 ? &okey : &vkey, WIRE_ROLE_VIEWER, fz_acct,
		       ch + WIRE_HDR_LEN, f + WIRE_HDR_LEN))
		abort();
	wire_put(f + WIRE_HDR_LEN + LOGIN_AUTH_LEN, WIRE_LIVE, 0, NULL, 0);
	send_done(i, 0);
	if (!(how & 1)) {
		signed_slots |= 1U << i;
		signs++;
	}
	recv_bytes(i, f, how & 2 ? sizeof(f) - WIRE_HDR_LEN : sizeof(f));
	/* the harness's own login must work, or it tests nothing; a valid
	 * signature by a stranger is refused */
	if (c->state != want || c->bye != (bool)(how & 1))
		__builtin_trap();
}

/* The peer's bytes in chunks, each send finishing in between. */
static void feed(int i, const uint8_t *p, size_t n, size_t chunk)
{
	while (n && lan.c[i].fd >= 0 && lan.c[i].recv_armed) {
		size_t k = n < chunk ? n : chunk;

		recv_bytes(i, p, k);
		p += k;
		n -= k;
		send_done(i, 0);
	}
}

/* A record as the sealer hands it over: type, stream, counter (below
 * 0x80 as is, else the one the first viewer expects next) and size (up
 * to 2 KiB, 1-8 MiB, or what leaves the first viewer's queue 0-168 bytes
 * short of full; at most 2 of a MiB or more per input). */
static void record(uint8_t type, uint8_t sid, uint8_t ctr, uint8_t size)
{
	size_t room = LAN_QUEUE_MAX - lan.c[0].len, body = 16 + size * 8;
	uint8_t id[16] = { sid, 0x5e, 0xed };
	uint64_t counter = ctr & 0x7f;
	long k = followed(&lan.c[0], id);

	if (size >= 0xf0 && size < 0xf8)
		body = (size_t)(size - 0xef) << 20;
	else if (size >= 0xf8 && room > REC_HDR_LEN + 16 + 168)
		body = room - REC_HDR_LEN - (size_t)(size - 0xf8) * 24;
	if (body >= 1 << 20 && ++n_big > 2)
		body = 16;
	if (type == REC_TYPE_HEADER)
		counter = 0;
	else if ((ctr & 0x80) && lan.c[0].fd >= 0 && k >= 0)
		counter = lan.c[0].next[k];
	wire_put(rec, type, (uint32_t)body, id, counter);
	lan_record(&lan, rec, REC_HDR_LEN + body);
	step_done();
}

/* Mode 2: one operation a time, each with its fixed bytes. */
static void run_ops(const uint8_t *p, size_t n)
{
	static const size_t need[8] = { 3, 3, 3, 2, 1, 2, 1, 0 };

	while (n) {
		uint8_t o = *p++ & 7;

		if (--n < need[o])
			break;
		switch (o) {
		case 0:
		case 1:
		case 2:
			record((uint8_t)(o + 1), p[0], p[1], p[2]);
			break;
		case 3:
			send_done(p[0] % LAN_CONNS_MAX, p[1]);
			break;
		case 4:
			tick(p[0]);
			break;
		case 5: {
			size_t k = p[1] % 65 < n - 2 ? p[1] % 65 : n - 2;

			recv_bytes(p[0] % LAN_CONNS_MAX, p + 2, k);
			p += k;
			n -= k;
			break;
		}
		case 6:
			connect_one(p[0]);
			break;
		case 7:
			for (int i = 0; i < LAN_CONNS_MAX; i++)
				send_done(i, 0);
			break;
		}
		p += need[o];
		n -= need[o];
	}
}

/* The streams one viewer follows: distinct, none of them ended. */
static void check_streams(const struct lan_conn *c)
{
	size_t ne = c->n_ended < LAN_ENDED_MAX ? c->n_ended : LAN_ENDED_MAX;

	for (size_t a = 0; a < c->n_streams; a++) {
		if (!c->next[a])
			__builtin_trap();
		for (size_t b = a + 1; b < c->n_streams; b++)
			if (!memcmp(c->streams[a], c->streams[b], 16))
				__builtin_trap();
		for (size_t b = 0; b < ne; b++)
			if (!memcmp(c->streams[a], c->ended[b], 16))
				__builtin_trap();
	}
}

/* What is in flight comes back cancelled: every connection must close. */
static void finish(void)
{
	for (int i = 0; i < LAN_CONNS_MAX; i++) {
		struct lan_conn *c = &lan.c[i];

		if (c->fd >= 0)
			check_streams(c);
		if (c->recv_armed)
			lan_cqe(&lan, LAN_UD_RECV, (uint64_t)i, -ECANCELED);
		if (c->send_armed)
			lan_cqe(&lan, LAN_UD_SEND, (uint64_t)i, -ECANCELED);
		if (c->fd >= 0)
			__builtin_trap();
	}
	step_done();
	if (st.lan_viewers)
		__builtin_trap();
	while (n_peers)
		close(peers[--n_peers]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int mode, sel;
	int i;

	if (nullfd < 0)
		setup();
	if (size < 2)
		return 0;
	mode = data[0] % 3;
	sel = data[0] / 3;
	memset(&st, 0, sizeof(st));
	lan_open(&lan, "", 0, &ring, &st, fz_acct, fz_viewers, 2);
	lan.lfd = nullfd; /* a listener, but nothing to accept on */
	lan.subnet = fz_subnet;
	signs = 0;
	signed_slots = 0;
	n_big = 0;
	i = connect_one(mode ? 0 : sel & 3);
	if (i < 0)
		__builtin_trap(); /* the first viewer always gets a slot */
	if (mode)
		login(i, mode == 1 ? sel : 0);
	if (mode < 2) {
		feed(i, data + 2, size - 2, 1 + (size_t)data[1] * 4);
		tick((uint8_t)(sel >> 2) * 8);
		/* without a signature, never past AUTH */
		if (!mode && lan.c[i].fd >= 0 && lan.c[i].state > LC_AUTH)
			__builtin_trap();
	} else {
		if (sel & 1)
			login(connect_one(0), 0);
		run_ops(data + 1, size - 1);
	}
	finish();
	return 0;
}
