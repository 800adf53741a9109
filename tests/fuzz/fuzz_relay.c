// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for moat-relay's request state machine: the bytes a
 * client sends (untrusted, from the Internet), fed to the relay's own
 * frame handling (on_received() in tools/moat-relay.c, built into this
 * harness with its main renamed) on a connection in one of five states:
 *
 *   0  new (HELLO, CHALLENGE, AUTH: the login itself)
 *   1  a viewer logged in to an account that holds a stream (LIST, GET,
 *      HEAD, MAIL, LIVE and whatever else it sends)
 *   2  a hub logged in, before its VIEWERS
 *   3  a hub sending records
 *   4  a hub sending records while a viewer of its account watches live
 *      (the fan-out)
 *   5  not a connection: the text of a --hubs file (hubs_parse); the
 *      accounts it takes are sorted and each is found
 *
 * The first byte picks the state. Whatever the bytes, the relay stays in
 * bounds, never acknowledges more records than it received, and never
 * lets a connection that did not log in past the login. The store lives
 * in /dev/shm (fsync is free there) and is emptied every 512 inputs.
 * Replies go to a socketpair nobody reads; the relay sends without
 * blocking.
 */
#define main moat_relay_main
#include "tools/moat-relay.c"
#undef main

#include <ftw.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct store fst;
static char fdir[64];
static const uint8_t fz_acct[16] = { 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
				  0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
				  0xab, 0xab, 0xab, 0xab };
static const uint8_t viewer_pk[LOGIN_KEY_LEN] = { 0x5a };

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* The account: one approved viewer, one stored stream (a header-shaped
 * record: the relay does not open anything). */
static void seed_store(void)
{
	char dir[300], path[400], hex[33];
	uint8_t rec[64] = { 0 };
	static const uint8_t id[16] = { 0x11 };
	int fd;

	store_init(&fst, fdir);
	store_hub_dir(&fst, fz_acct, dir, sizeof(dir));
	viewers_save(dir, viewer_pk, 1);
	wire_put(rec, REC_TYPE_HEADER, sizeof(rec) - WIRE_HDR_LEN, id, 0);
	hex_encode(hex, id, 16);
	snprintf(path, sizeof(path), "%s/%s.moat", dir, hex);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (write(fd, rec, sizeof(rec)) < 0)
			abort();
		close(fd);
	}
}

static void cleanup(void)
{
	store_close(&fst);
	nftw(fdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup(void)
{
	snprintf(fdir, sizeof(fdir), "/dev/shm/moat-fuzz-relay-XXXXXX");
	if (!mkdtemp(fdir)) {
		snprintf(fdir, sizeof(fdir), "/tmp/moat-fuzz-relay-XXXXXX");
		if (!mkdtemp(fdir))
			abort();
	}
	log_init("fuzz_relay", LOG_LVL_ERR);
	lockout_init(&lock, 0, 0);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	seed_store();
	atexit(cleanup);
}

/* A connection in slot i on one end of a socketpair; *peer the other. */
static struct conn *open_conn(int i, int role, enum conn_stage stage,
			      int *peer)
{
	struct conn *c = &conns[i];
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sp))
		abort();
	memset(c, 0, sizeof(*c));
	c->fd = sp[0];
	*peer = sp[1];
	c->role = role;
	c->stage = stage;
	c->since_ms = c->moved_ms = now_ms();
	memcpy(c->hub, fz_acct, 16);
	if (role == WIRE_ROLE_VIEWER)
		memcpy(c->login_pk, viewer_pk, LOGIN_KEY_LEN);
	c->out = calloc(1, sizeof(*c->out));
	if (!c->out || wire_rx_init(&c->rx, REC_BODY_MAX + WIRE_HDR_LEN))
		abort();
	return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned long runs;
	struct conn *c, *watcher = NULL;
	int peer, wpeer = -1, mode;
	size_t off = 1;

	if (!fdir[0])
		setup();
	if (!size)
		return 0;
	if (++runs % 512 == 0) {
		store_close(&fst);
		nftw(fdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		mkdir(fdir, 0700);
		seed_store();
	}
	mode = data[0] % 6;
	if (mode == 5) {
		struct hubs hb;
		char why[300];

		if (hubs_parse("fuzz", (const char *)data + 1, size - 1, &hb,
			       why, sizeof(why)))
			return 0;
		for (size_t i = 0; i < hb.n; i++)
			if (!hubs_has(&hb, hb.acct[i]) ||
			    (i && memcmp(hb.acct[i - 1], hb.acct[i], 16) > 0))
				__builtin_trap();
		if (hb.n > HUBS_MAX || (!hb.n && hubs_has(&hb, fz_acct)))
			__builtin_trap();
		hubs_free(&hb);
		return 0;
	}
	if (mode == 0)
		c = open_conn(0, 0, ST_HELLO, &peer);
	else if (mode == 1)
		c = open_conn(0, WIRE_ROLE_VIEWER, ST_READY, &peer);
	else
		c = open_conn(0, WIRE_ROLE_HUB, mode == 2 ? ST_VIEWERS : ST_READY,
			      &peer);
	if (mode == 4) {
		watcher = open_conn(1, WIRE_ROLE_VIEWER, ST_READY, &wpeer);
		watcher->live = true;
	}
	while (off < size && conn_open(c)) {
		size_t room, n;
		uint8_t *dst = wire_rx_space(&c->rx, &room);

		if (!room)
			break;
		n = size - off < room ? size - off : room;
		memcpy(dst, data + off, n);
		off += n;
		if (on_received(&fst, c, n))
			break;
	}
	if (conn_open(c)) {
		/* nobody logs in without a signature over a fresh challenge */
		if (mode == 0 && c->stage != ST_HELLO && c->stage != ST_AUTH)
			__builtin_trap();
		if (c->ack_due)
			send_ack(&fst, c);
		if (c->acked > c->count)
			__builtin_trap();
	}
	if (c->fd >= 0)
		conn_free(c);
	if (watcher && watcher->fd >= 0)
		conn_free(watcher);
	close(peer);
	if (wpeer >= 0)
		close(wpeer);
	return 0;
}
