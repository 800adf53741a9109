// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-relay: the untrusted store-and-forward relay (docs/PROTOCOL.md
 * section 12). Hubs and viewers log in by answering a challenge with
 * their login key; the relay keeps public keys only. Hubs send sealed
 * records; the relay stores them per stream on disk, makes them durable,
 * then acknowledges. Viewers the hub approved list its streams and fetch
 * them, or watch live. It never holds a key that opens anything.
 *
 * One io_uring loop, one thread: accepts and receives
 * complete in it; replies and live records are queued per connection and
 * sent with non-blocking sendmsg, with a POLLOUT wake-up through the ring
 * when a socket is full. A connection closed while its receive is in
 * flight is shut down and its slot kept until that receive comes back, so
 * the kernel never writes into a freed buffer.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <liburing.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/rd.h"
#include "common/wire.h"
#include "crypto/stream.h"
#include "crypto/streamfile.h"
#include "crypto/login.h"
#include "tools/relay/hubs.h"
#include "tools/relay/live.h"
#include "tools/relay/login.h"
#include "tools/relay/store.h"
#include <openssl/rand.h>

enum {
	MAX_CONNS = 2048,
	RING_ENTRIES = 4096,
	/* Acknowledgements are batched: one fsync and one ACK for up to
	 * ACK_BATCH records or ACK_DELAY_MS, whichever comes first (each ACK
	 * wakes the hub's uplink; they only let it forget spooled records). */
	ACK_BATCH = 256,
	ACK_DELAY_MS = 50,
	/* a viewer's replies waiting past this: its requests wait too */
	REPLY_HELD = 4 << 20,
	/* a viewer whose queue has not moved for this long is closed */
	STALL_MS = 10000,
	/* the small frames still written directly (ACK to a hub, ERROR)
	 * wait this long at most for a client that stopped reading */
	SEND_TIMEOUT_S = 2,
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}


static const char usage[] =
	"usage: moat-relay --dir DIR [--listen HOST:PORT] [--quota SIZE]\n"
	"                  [--lock-fails N] [--lock-seconds S]\n"
	"                  [--login-seconds S] [--hubs FILE] [--verbose]\n"
	"\n"
	"The relay between hubs and viewers. It stores the sealed records hubs\n"
	"send, per hub and per stream, under DIR, acknowledges them once they\n"
	"are on disk, and serves them to viewers. It holds no key and cannot\n"
	"read what it stores.\n"
	"\n"
	"  -d, --dir DIR         where streams are stored (made if missing)\n"
	"  -l, --listen H:P      address to listen on (default 127.0.0.1:7443)\n"
	"  -q, --quota SIZE      most each hub may store (K, M, G, T; default no\n"
	"                        limit): past it, the hub's oldest streams are\n"
	"                        deleted, down to 90%, and the log says so\n"
	"      --lock-fails N    failed logins from one address before it is\n"
	"                        locked out (default 5 within 10 minutes)\n"
	"      --login-seconds S a connection not logged in within S seconds\n"
	"                        is closed (default 10): idle connections\n"
	"                        cannot take the relay's slots\n"
	"      --lock-seconds S  the first lockout (default 60; doubles each\n"
	"                        time after, up to an hour)\n"
	"      --hubs FILE       serve only the hubs whose accounts FILE lists,\n"
	"                        one a line (32 hex digits, as `moatctl status'\n"
	"                        on the hub shows it; # starts a comment);\n"
	"                        without it any hub that owns its account may\n"
	"                        store up to --quota. Read at start\n"
	"  -v, --verbose         log every connection\n"
	"  -h, --help            this text\n";

/* Where a connection is in its login. */
enum conn_stage {
	ST_HELLO = 0, /* waiting for HELLO */
	ST_AUTH,      /* CHALLENGE sent, waiting for AUTH */
	ST_VIEWERS,   /* a hub logged in: its approved viewers come next */
	ST_READY,     /* records (hub), LIST and GET (viewer) */
};

struct conn {
	int fd;
	int role;
	enum conn_stage stage;
	struct sockaddr_storage peer;
	uint8_t challenge[LOGIN_CHALLENGE_LEN];
	uint8_t hub[16]; /* the account: a hub's login key's account id */
	uint8_t login_pk[LOGIN_KEY_LEN]; /* who logged in (a viewer's mail) */
	uint64_t since_ms; /* when it connected */
	bool mailed;	   /* a viewer's one MAIL of this connection */
	struct live_sub *out; /* what waits to be sent: replies, live records */
	uint64_t moved_ms;    /* when its queue last moved (or was empty) */
	bool live;	       /* a viewer that asked for LIVE */
	struct wire_rx rx;
	uint64_t count; /* records received from this hub connection */
	uint64_t acked; /* count last acknowledged */
	uint64_t due_ms; /* when the pending acknowledgement must go */
	bool ack_due;
	/* io_uring: what is in flight for it; its generation tells a
	 * completion for it from one for an earlier connection in its slot */
	uint32_t gen;
	bool recv_armed, pollout_armed;
	bool closing; /* shut down, waiting for its receive to come back */
};

/* Makes what this connection sent durable, then says so. */
static int reply_ctl(struct conn *c, uint8_t type, const uint8_t *id,
		     uint64_t value, const uint8_t *body, size_t len);

/* Through the hub's queue (sent without blocking), behind any MAIL. */
static int send_ack(struct store *st, struct conn *c)
{
	if (store_sync(st))
		return -1;
	c->ack_due = false;
	c->acked = c->count;
	return reply_ctl(c, WIRE_ACK, c->hub, c->count, NULL, 0) ? -1 : 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int listen_on(const char *spec)
{
	char host[256], *colon;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE },
			*res;
	int fd, one = 1, ret;

	snprintf(host, sizeof(host), "%s", spec);
	colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, "moat-relay: --listen %s: give HOST:PORT\n", spec);
		return -EINVAL;
	}
	*colon = 0;
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	if (ret) {
		fprintf(stderr, "moat-relay: --listen %s: %s\n", spec,
			gai_strerror(ret));
		return -EINVAL;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0) {
		int b;

		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* a relay killed a moment ago may still hold the port while
		 * the kernel tears its io_uring down: wait a little for it */
		for (int i = 0; (b = bind(fd, res->ai_addr, res->ai_addrlen)) < 0 &&
				errno == EADDRINUSE && i < 30;
		     i++)
			usleep(100000);
		if (b < 0 || listen(fd, 512) < 0) {
			fprintf(stderr, "moat-relay: --listen %s: %s\n", spec,
				strerror(errno));
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static struct conn conns[MAX_CONNS];
static uint64_t login_ms = 10000; /* --login-seconds */
static struct hubs served;	  /* --hubs: the only hubs served, if set */
static bool served_only;

static int flush_out(struct conn *c);

static struct io_uring ring;

enum ud_kind { UD_ACCEPT = 1, UD_RECV, UD_POLLOUT, UD_CANCEL };
#define UD(k, i, g) (((uint64_t)(k) << 56) | ((uint64_t)((g) & 0xffffffu) << 24) | (uint64_t)(i))
#define UD_KIND(u) ((enum ud_kind)((u) >> 56))
#define UD_GEN(u) ((uint32_t)(((u) >> 24) & 0xffffffu))
#define UD_IDX(u) ((int)((u) & 0xffffffu))

static struct io_uring_sqe *sqe_get(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

	if (!sqe) {
		io_uring_submit(&ring);
		sqe = io_uring_get_sqe(&ring);
	}
	return sqe;
}

static bool conn_open(const struct conn *c)
{
	return c->fd >= 0 && !c->closing;
}

static void conn_free(struct conn *c)
{
	/* a POLLOUT still armed holds the socket open past close(): shut it
	 * down so that request comes back (and the peer hears the end) */
	if (c->fd >= 0 && c->pollout_armed)
		shutdown(c->fd, SHUT_RDWR);
	if (c->fd >= 0)
		close(c->fd);
	wire_rx_free(&c->rx);
	live_sub_free(c->out);
	c->out = NULL;
	c->live = false;
	c->closing = false;
	c->fd = -1;
}

/*
 * Ends a connection. A receive in flight still points into its buffer:
 * the socket is shut down and the receive cancelled, and the slot is
 * freed when that receive comes back.
 */
static void conn_close(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->fd < 0 || c->closing)
		return;
	if (!c->recv_armed) {
		conn_free(c);
		return;
	}
	c->closing = true;
	shutdown(c->fd, SHUT_RDWR);
	sqe = sqe_get();
	if (sqe) {
		io_uring_prep_cancel64(sqe, UD(UD_RECV, c - conns, c->gen), 0);
		io_uring_sqe_set_data64(sqe, UD(UD_CANCEL, 0, 0));
	}
}


/*
 * A hub's record, to every live viewer of its account that follows the
 * stream: one copy, queued by reference. A viewer too slow to take it is
 * cut off; the hub is never held up.
 */
static void fanout(const struct conn *hub, const struct wire_hdr *h,
		   const uint8_t *f, size_t len)
{
	struct live_blob *b = NULL;

	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *v = &conns[i];

		if (!conn_open(v) || !v->live || memcmp(v->hub, hub->hub, 16) ||
		    !live_wants(v->out, h))
			continue;
		if (!b)
			b = live_blob_new(f, len);
		if (!b || live_push(v->out, b, LIVE_QUEUE_MAX) ||
		    flush_out(v)) {
			static const char msg[] =
				"cut off: too slow for the live stream";
			uint8_t e[WIRE_HDR_LEN + sizeof(msg) - 1];

			log_warn("a live viewer cut off: %s",
				 b ? "too slow (over 8 MiB waiting)" :
				     "the relay is out of memory");
			/* said only between two frames, never inside one */
			if (!v->out->q_off) {
				wire_put(e, WIRE_ERROR, sizeof(msg) - 1, NULL, 0);
				memcpy(e + WIRE_HDR_LEN, msg, sizeof(msg) - 1);
				if (send(v->fd, e, sizeof(e),
					 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
					log_debug("the cut-off notice did not fit");
			}
			conn_close(v);
		}
	}
	live_blob_put(b);
}

/* Tells the client why its connection ends (the caller closes it). */
static int say_error(struct conn *c, const char *msg)
{
	uint8_t f[WIRE_HDR_LEN + 512];
	size_t len = strlen(msg) > 512 ? 512 : strlen(msg);

	/* not in the middle of a queued frame, and never waiting: a client
	 * that stopped reading does not get to stall the relay */
	if (!c->out || !live_pending(c->out)) {
		wire_put(f, WIRE_ERROR, (uint32_t)len, NULL, 0);
		memcpy(f + WIRE_HDR_LEN, msg, len);
		if (send(c->fd, f, WIRE_HDR_LEN + len,
			 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			log_debug("the error notice did not fit: %s", msg);
	}
	return -1;
}

static const char *role_str(int role);

/* The same, logged with who it was: every other client goes on. */
static int send_error(struct conn *c, const char *msg)
{
	char a[64];

	log_warn("closed a %s connection from %s: %s",
		 c->role ? role_str(c->role) : "new", addr_str(&c->peer, a, sizeof(a)),
		 msg);
	return say_error(c, msg);
}

/*
 * Replies are queued like live records and sent without blocking: the
 * relay never waits on a viewer. A viewer with more than REPLY_HELD bytes
 * waiting is not read from until they drain (it cannot pile up requests).
 */
/* Queues b (its reference is taken, even on failure) and sends what it can. */
static int reply_blob(struct conn *c, struct live_blob *b)
{
	int ret = b ? live_push(c->out, b, SIZE_MAX) : -ENOMEM;

	live_blob_put(b);
	if (!ret)
		ret = flush_out(c);
	return ret;
}

static int reply(struct conn *c, const uint8_t *p, size_t len)
{
	return reply_blob(c, live_blob_new(p, len));
}

static int reply_ctl(struct conn *c, uint8_t type, const uint8_t *id,
		     uint64_t value, const uint8_t *body, size_t len)
{
	uint8_t f[WIRE_HDR_LEN + WIRE_CTL_BODY_MAX];

	wire_put(f, type, (uint32_t)len, id, value);
	if (len)
		memcpy(f + WIRE_HDR_LEN, body, len);
	return reply(c, f, WIRE_HDR_LEN + len);
}

/* Sends what it can of c's queue; notes whether it moved. */
static int flush_out(struct conn *c)
{
	uint64_t before = c->out->sent;
	int ret = live_flush(c->out, c->fd);

	if (c->out->sent != before || !live_pending(c->out))
		c->moved_ms = now_ms();
	return ret;
}

static bool reading(const struct conn *c)
{
	return !c->out || c->out->q_bytes <= REPLY_HELD;
}

/* LIST: every stream of the hub, as (id, size) entries, then END. */
static int do_list(struct store *st, struct conn *c)
{
	enum { PER = WIRE_CTL_BODY_MAX / WIRE_STREAM_ENTRY };
	static uint8_t body[PER * WIRE_STREAM_ENTRY];
	char dir[300];
	struct dirent *e;
	uint64_t total = 0;
	size_t n = 0;
	int ret = 0;
	DIR *d;

	store_hub_dir(st, c->hub, dir, sizeof(dir));
	d = opendir(dir);
	while (d && !ret && (e = readdir(d))) {
		uint8_t id[16];
		struct stat sb;
		char path[600];

		if (strlen(e->d_name) != 37 || strcmp(e->d_name + 32, ".moat") ||
		    hex_decode(id, 16, e->d_name, 32) != 16)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &sb) < 0)
			continue;
		memcpy(body + n * WIRE_STREAM_ENTRY, id, 16);
		put_u64(body + n * WIRE_STREAM_ENTRY + 16, (uint64_t)sb.st_size);
		total++;
		if (++n == PER) {
			ret = reply_ctl(c, WIRE_STREAMS, c->hub, 0, body,
					n * WIRE_STREAM_ENTRY);
			n = 0;
		}
	}
	if (d)
		closedir(d);
	if (!ret && n)
		ret = reply_ctl(c, WIRE_STREAMS, c->hub, 0, body,
				n * WIRE_STREAM_ENTRY);
	if (!ret)
		ret = reply_ctl(c, WIRE_END, c->hub, total, NULL, 0);
	return ret;
}

/* GET: the stream's whole records as stored (one that is still being
 * written ends at its last whole record), then END with their count. */
static int do_get(struct store *st, struct conn *c, const uint8_t id[16])
{
	char dir[300], hex[33], path[400];
	uint8_t *buf = NULL;
	size_t len = 0, n = 0, whole = 0;
	const uint8_t *rec;
	size_t rlen;
	struct rd r;
	int ret;

	store_sync(st); /* what a viewer reads is what survives a crash */
	store_hub_dir(st, c->hub, dir, sizeof(dir));
	hex_encode(hex, id, 16);
	snprintf(path, sizeof(path), "%s/%s.moat", dir, hex);
	ret = file_read_bounded(path, STORE_STREAM_MAX, &buf, &len);
	if (ret)
		return send_error(c, "no such stream");
	rd_init(&r, buf, len);
	while (sf_next(&r, &rec, &rlen) == 1) {
		whole = (size_t)(rec + rlen - buf);
		n++;
	}
	/* the stream's bytes go out as read: no copy */
	ret = whole ? reply_blob(c, live_blob_own(buf, whole)) : 0;
	if (!whole)
		free(buf);
	if (!ret)
		ret = reply_ctl(c, WIRE_END, id, n, NULL, 0);
	return ret;
}

static struct lockout lock;

static const char *role_str(int role)
{
	return role == WIRE_ROLE_HUB ? "hub" : "viewer";
}

/* Why AUTH does not log this connection in, or NULL. */
static const char *auth_problem(struct store *st, struct conn *c,
				const uint8_t *auth)
{
	uint8_t keys[RELAY_VIEWERS_MAX][LOGIN_KEY_LEN], acct[16];
	char dir[300];
	size_t n = 0;

	if (login_verify(auth, (uint8_t)c->role, c->hub, c->challenge))
		return "the signature does not verify for this challenge";
	if (c->role == WIRE_ROLE_HUB) {
		login_account(auth, acct);
		if (memcmp(acct, c->hub, 16))
			return "this key does not own the account it named";
		return served_only && !hubs_has(&served, acct) ?
			       "this relay does not serve this hub: its account is not in the relay's --hubs file (the relay's owner adds it there)" :
			       NULL;
	}
	store_hub_dir(st, c->hub, dir, sizeof(dir));
	if (viewers_load(dir, keys, &n))
		return "the account's list of viewers is damaged on the relay's disk";
	if (!n)
		return "the hub has approved no viewer with this relay yet (it tells the relay when it connects)";
	for (size_t i = 0; i < n; i++)
		if (!memcmp(keys[i], auth, LOGIN_KEY_LEN))
			return NULL;
	return "this viewer is not one the hub approved (or the owner removed it)";
}

static int on_auth(struct store *st, struct conn *c, const uint8_t *auth)
{
	const char *why = auth_problem(st, c, auth);
	char addr[64], hex[33], msg[400];
	uint32_t locked;

	addr_str(&c->peer, addr, sizeof(addr));
	hex_encode(hex, c->hub, 16);
	if (!why) {
		lockout_ok(&lock, &c->peer, c->role);
		memcpy(c->login_pk, auth, LOGIN_KEY_LEN);
		log_info("%s logged in from %s (account %.8s...)",
			 role_str(c->role), addr, hex);
		c->stage = c->role == WIRE_ROLE_HUB ? ST_VIEWERS : ST_READY;
		return 0;
	}
	locked = lockout_fail(&lock, &c->peer, c->role, now_ms());
	log_warn("login refused: %s from %s (account %.8s...): %s%s", role_str(c->role),
		 addr, hex, why,
		 locked ? "; the address is locked out" : "");
	snprintf(msg, sizeof(msg), "login refused: %s%s", why,
		 locked ? "; too many failed logins from this address: locked out" :
			  "");
	return say_error(c, msg);
}

/*
 * The mailbox (docs/PROTOCOL.md section 10): a viewer's MAIL (a sealed
 * heartbeat, opaque here) is kept, newest only, per viewer login key as
 * DIR/<account>/.mail/<login key in hex>, written crash-safely, and handed
 * to the hub when it is logged in (at once, or at its next login), then
 * deleted. A lost mail costs nothing: the hub goes on sealing to the key
 * the viewer still holds.
 */
static void mail_path(struct store *st, const uint8_t acct[16],
		      const uint8_t *login_pk, char *out, size_t len)
{
	char dir[300], hex[2 * LOGIN_KEY_LEN + 1];

	store_hub_dir(st, acct, dir, sizeof(dir));
	if (login_pk) {
		hex_encode(hex, login_pk, LOGIN_KEY_LEN);
		snprintf(out, len, "%s/.mail/%s", dir, hex);
	} else {
		snprintf(out, len, "%s/.mail", dir);
	}
}

/* Gives the hub on c every mail waiting for it from a viewer it approved
 * (queued, sent without blocking); deletes what was given and what no
 * approved viewer sent. -1 if c failed (the caller closes it). */
static int mail_deliver(struct store *st, struct conn *c)
{
	uint8_t keys[RELAY_VIEWERS_MAX][LOGIN_KEY_LEN], pk[LOGIN_KEY_LEN];
	char dir[300], mdir[400], path[600];
	struct dirent *e;
	size_t n = 0, sent = 0;
	int ret = 0;
	DIR *d;

	store_hub_dir(st, c->hub, dir, sizeof(dir));
	mail_path(st, c->hub, NULL, mdir, sizeof(mdir));
	d = opendir(mdir);
	if (!d)
		return 0;
	if (viewers_load(dir, keys, &n))
		n = 0;
	while (!ret && (e = readdir(d))) {
		uint8_t *body = NULL;
		size_t len = 0;
		bool ok = false;

		if (strlen(e->d_name) != 2 * LOGIN_KEY_LEN ||
		    hex_decode(pk, LOGIN_KEY_LEN, e->d_name, 2 * LOGIN_KEY_LEN) !=
			    LOGIN_KEY_LEN)
			continue;
		for (size_t i = 0; i < n; i++)
			ok |= !memcmp(keys[i], pk, LOGIN_KEY_LEN);
		snprintf(path, sizeof(path), "%s/%s", mdir, e->d_name);
		if (ok && !file_read_bounded(path, WIRE_MAIL_MAX, &body, &len) &&
		    len) {
			ret = reply_ctl(c, WIRE_MAIL, c->hub, 0, body, len);
			sent += !ret;
		}
		free(body);
		if (!ret)
			unlink(path);
	}
	closedir(d);
	if (sent) {
		fsync_dir(mdir);
		log_info("gave a hub %zu heartbeat(s) from its viewers", sent);
	}
	return ret ? -1 : 0;
}

/* MAIL from a logged-in viewer: kept durably, then acknowledged (ACK 1);
 * handed at once to its hub if that is logged in. */
static int on_mail(struct store *st, struct conn *c, const uint8_t *body,
		   size_t len)
{
	char mdir[400], path[600];
	int ret;

	if (c->mailed)
		return send_error(c, "one heartbeat per connection");
	mail_path(st, c->hub, NULL, mdir, sizeof(mdir));
	mail_path(st, c->hub, c->login_pk, path, sizeof(path));
	ret = mkdir_p(mdir, 0700);
	if (!ret)
		ret = file_write_atomic(path, body, len, 0600);
	if (ret) {
		log_err("cannot keep a viewer's heartbeat in %s: %s", mdir,
			strerror(-ret));
		return send_error(c, "the relay cannot keep the heartbeat");
	}
	log_debug("a viewer left its hub a heartbeat");
	c->mailed = true;
	ret = reply_ctl(c, WIRE_ACK, c->hub, 1, NULL, 0);
	{
		/* the hub's newest connection (an older one may be a dead
		 * connection not noticed yet) */
		struct conn *hub = NULL;

		for (int i = 0; i < MAX_CONNS; i++) {
			struct conn *h = &conns[i];

			if (conn_open(h) && h->role == WIRE_ROLE_HUB &&
			    h->stage == ST_READY && !memcmp(h->hub, c->hub, 16) &&
			    (!hub || h->since_ms > hub->since_ms))
				hub = h;
		}
		if (hub && mail_deliver(st, hub))
			conn_close(hub);
	}
	return ret;
}

/* HEAD: the stream's header record (its first), then END with 1, or END
 * with 0 when the stream has no whole first record yet. */
static int do_head(struct store *st, struct conn *c, const uint8_t id[16])
{
	char dir[300], hex[33], path[400];
	uint8_t buf[4096];
	const uint8_t *rec;
	size_t rlen;
	struct rd r;
	ssize_t got;
	int fd, ret = 0, n = 0;

	store_sync(st); /* the viewer erases keys by what it reads here */
	store_hub_dir(st, c->hub, dir, sizeof(dir));
	hex_encode(hex, id, 16);
	snprintf(path, sizeof(path), "%s/%s.moat", dir, hex);
	/* a stream deleted since the LIST (retention) has no header: END 0,
	 * not an error, so a viewer's batch of HEADs goes on */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	got = fd < 0 ? -1 : pread(fd, buf, sizeof(buf), 0);
	if (fd >= 0)
		close(fd);
	rd_init(&r, buf, got > 0 ? (size_t)got : 0);
	if (sf_next(&r, &rec, &rlen) == 1 && rec[1] == REC_TYPE_HEADER) {
		ret = reply(c, rec, rlen);
		n = 1;
	}
	if (!ret)
		ret = reply_ctl(c, WIRE_END, id, (uint64_t)n, NULL, 0);
	return ret;
}

static int on_viewers(struct store *st, struct conn *c, const uint8_t *keys,
		      size_t n)
{
	char dir[300];
	int ret;

	store_hub_dir(st, c->hub, dir, sizeof(dir));
	ret = viewers_save(dir, keys, n);
	if (ret) {
		log_err("cannot save the viewers of a hub under %s: %s", dir,
			strerror(-ret));
		return send_error(c, "the relay cannot save the list of viewers");
	}
	log_debug("a hub approves %zu viewer(s)", n);
	c->stage = ST_READY;
	return mail_deliver(st, c);
}

static int on_frame(struct store *st, struct conn *c, const struct wire_hdr *h,
		    const uint8_t *f)
{
	enum store_result res;
	int ret;

	switch (c->stage) {
	case ST_HELLO:
		if (h->type != WIRE_HELLO ||
		    (h->value != WIRE_ROLE_HUB && h->value != WIRE_ROLE_VIEWER))
			return send_error(c, "say HELLO first");
		c->role = (int)h->value;
		memcpy(c->hub, h->id, 16);
		/* an address locked out in this role: refused before the
		 * challenge (the role is known only now) */
		{
			uint32_t locked = lockout_check(&lock, &c->peer, c->role,
							now_ms());
			char msg[160];

			if (locked) {
				snprintf(msg, sizeof(msg),
					 "too many failed logins from this address: locked out for %u more seconds",
					 locked);
				return say_error(c, msg);
			}
		}
		if (RAND_bytes(c->challenge, sizeof(c->challenge)) != 1)
			return send_error(c, "the relay has no randomness");
		c->stage = ST_AUTH;
		log_debug("%s connected", role_str(c->role));
		return wire_send_ctl(c->fd, WIRE_CHALLENGE, NULL, 0,
				     c->challenge, sizeof(c->challenge));
	case ST_AUTH:
		if (h->type != WIRE_AUTH)
			return send_error(c, "answer the CHALLENGE with AUTH first");
		return on_auth(st, c, f + WIRE_HDR_LEN);
	case ST_VIEWERS:
		if (h->type != WIRE_VIEWERS)
			return send_error(c, "a hub says which viewers it approved (VIEWERS) before it sends records");
		return on_viewers(st, c, f + WIRE_HDR_LEN, (size_t)h->value);
	case ST_READY:
		break;
	}
	if (c->role == WIRE_ROLE_HUB) {
		if (!wire_is_record(h->type))
			return send_error(c, "a hub sends sealed records only");
		ret = store_put(st, c->hub, f, WIRE_HDR_LEN + h->body_len, &res);
		if (ret) {
			log_err("store: %s", strerror(-ret));
			return send_error(c, "cannot store");
		}
		if (res == GAP)
			log_warn("hub record out of order (counter %llu): dropped",
				 (unsigned long long)h->value);
		/* live viewers get each record once, and only what can be
		 * opened: a record sent again (a hub's replay after a
		 * reconnect, a GOP it sent live and then in a clip) is not
		 * forwarded again */
		if (res == STORED)
			fanout(c, h, f, WIRE_HDR_LEN + h->body_len);
		c->count++;
		if (!c->ack_due)
			c->due_ms = now_ms() + ACK_DELAY_MS;
		c->ack_due = true;
		return 0;
	}
	if (c->live)
		return send_error(c, "a live viewer sends nothing more");
	if (h->type == WIRE_LIVE) {
		c->live = true;
		log_debug("a viewer watches live");
		return 0;
	}
	if (h->type == WIRE_LIST)
		return do_list(st, c);
	if (h->type == WIRE_GET)
		return do_get(st, c, h->id);
	if (h->type == WIRE_HEAD)
		return do_head(st, c, h->id);
	if (h->type == WIRE_MAIL)
		return on_mail(st, c, f + WIRE_HDR_LEN, h->body_len);
	return send_error(c, "a viewer sends LIST, GET, HEAD, MAIL or LIVE");
}

/* n bytes arrived in the receive buffer: the frames they complete. */
static int on_received(struct store *st, struct conn *c, size_t n)
{
	struct wire_hdr h;
	const uint8_t *f;
	int ret;

	wire_rx_added(&c->rx, n);
	while ((ret = wire_rx_next(&c->rx, &h, &f)) == 1)
		if (on_frame(st, c, &h, f) || !conn_open(c))
			return -1;
	if (ret < 0) {
		send_error(c, "not a frame of the moat protocol");
		return -1;
	}
	if (c->ack_due) {
		if (c->count - c->acked >= ACK_BATCH || now_ms() >= c->due_ms)
			return send_ack(st, c);
	}
	return 0;
}

/* ---- the loop: io_uring ---- */

/* A receive into c's buffer, unless one is out or c's replies pile up. */
static void arm_recv(struct conn *c)
{
	struct io_uring_sqe *sqe;
	size_t room;
	uint8_t *dst;

	if (!conn_open(c) || c->recv_armed || !reading(c))
		return;
	dst = wire_rx_space(&c->rx, &room);
	sqe = room ? sqe_get() : NULL;
	if (!sqe) {
		conn_close(c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, dst, room, 0);
	io_uring_sqe_set_data64(sqe, UD(UD_RECV, c - conns, c->gen));
	c->recv_armed = true;
}

/* A wake-up when c's socket has room, while its queue waits. */
static void arm_pollout(struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (!conn_open(c) || c->pollout_armed || !c->out ||
	    !live_pending(c->out))
		return;
	sqe = sqe_get();
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, c->fd, POLLOUT);
	io_uring_sqe_set_data64(sqe, UD(UD_POLLOUT, c - conns, c->gen));
	c->pollout_armed = true;
}

/*
 * One accept at a time, armed again as each completes (each tries the
 * backlog at once). A multishot accept was tried first: a connection
 * already waiting in the backlog when it was armed could wait there until
 * the next one arrived.
 */
static void arm_accept(int lfd)
{
	struct io_uring_sqe *sqe = sqe_get();

	if (!sqe)
		return;
	io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, UD(UD_ACCEPT, 0, 0));
}

static void on_accept(int fd)
{
	struct sockaddr_storage peer = { 0 };
	socklen_t pl = sizeof(peer);
	struct conn *c = NULL;
	int one = 1;

	if (getpeername(fd, (struct sockaddr *)&peer, &pl)) {
		close(fd);
		return;
	}
	for (int i = 0; i < MAX_CONNS && !c; i++)
		if (conns[i].fd < 0)
			c = &conns[i];
	if (!c) {
		close(fd);
		return;
	}
	/* frames go out when they are ready (small ones too: ACK, END,
	 * ERROR), as the uplink's do; docs/BENCH-RELAY.md */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO,
		   &(struct timeval){ .tv_sec = SEND_TIMEOUT_S },
		   sizeof(struct timeval));
	{
		uint32_t gen = c->gen + 1;

		memset(c, 0, sizeof(*c));
		c->gen = gen;
	}
	c->fd = fd;
	c->peer = peer;
	c->moved_ms = c->since_ms = now_ms();
	/* everything but CHALLENGE and a closing ERROR goes through this
	 * queue, sent without blocking: replies, live records, and a hub's
	 * ACKs and MAIL */
	c->out = calloc(1, sizeof(*c->out));
	if (!c->out || wire_rx_init(&c->rx, REC_BODY_MAX + WIRE_HDR_LEN)) {
		conn_free(c);
		return;
	}
	arm_recv(c);
}

static void on_cqe(struct store *st, int lfd, const struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe);
	struct conn *c;

	switch (UD_KIND(ud)) {
	case UD_ACCEPT:
		if (cqe->res >= 0)
			on_accept(cqe->res);
		else if (cqe->res != -EINTR && cqe->res != -ECONNABORTED)
			log_warn("accept: %s", strerror(-cqe->res));
		arm_accept(lfd);
		return;
	case UD_RECV:
		c = &conns[UD_IDX(ud)];
		if (c->fd < 0 || c->gen != UD_GEN(ud))
			return;
		c->recv_armed = false;
		if (c->closing) {
			conn_free(c);
			return;
		}
		if (cqe->res <= 0 || on_received(st, c, (size_t)cqe->res)) {
			log_debug("connection closed");
			conn_close(c);
			return;
		}
		break;
	case UD_POLLOUT:
		c = &conns[UD_IDX(ud)];
		if (c->fd < 0 || c->gen != UD_GEN(ud))
			return;
		c->pollout_armed = false;
		if (conn_open(c) && c->out && flush_out(c)) {
			conn_close(c);
			return;
		}
		break;
	case UD_CANCEL:
	default:
		return;
	}
	arm_recv(c);
	arm_pollout(c);
}

/* What is due by the clock: acknowledgements, retention, stalled
 * viewers. The time until the next acknowledgement, at most 1 s. */
static long periodic(struct store *st)
{
	uint64_t t = now_ms(), wait = 1000;

	for (int i = 0; i < MAX_CONNS; i++) {
		struct conn *c = &conns[i];

		if (!conn_open(c))
			continue;
		/* a connection that does not log in in time (it may never say
		 * HELLO) goes: slots are for clients that log in */
		if (c->stage != ST_READY && t - c->since_ms >= login_ms) {
			char a[64];

			log_warn("closed a %s connection from %s: not logged in within %llu s",
				 c->role ? role_str(c->role) : "new",
				 addr_str(&c->peer, a, sizeof(a)),
				 (unsigned long long)(login_ms / 1000));
			say_error(c, "not logged in in time");
			conn_close(c);
			continue;
		}
		if (c->ack_due && t >= c->due_ms && send_ack(st, c)) {
			conn_close(c);
			continue;
		}
		if (c->ack_due)
			wait = c->due_ms - t < wait ? c->due_ms - t : wait;
		if (c->out && live_pending(c->out) &&
		    t - c->moved_ms >= STALL_MS) {
			char a[64];

			log_warn("closed a %s connection from %s: it stopped reading (%zu bytes waited %d s)",
				 c->role ? role_str(c->role) : "new",
				 addr_str(&c->peer, a, sizeof(a)),
				 c->out->q_bytes, STALL_MS / 1000);
			conn_close(c);
			continue;
		}
		/* a fan-out may have queued to it: wake when it can send */
		arm_pollout(c);
		arm_recv(c);
	}
	store_retain(st);
	return (long)wait;
}

/*
 * Before exiting: every request cancelled and come back. A request still
 * in flight holds its file, and the ring is torn down after the process
 * has gone: the listening socket would go on taking connections that
 * nobody serves, and a relay started again could not bind its port.
 */
static void drain(void)
{
	struct io_uring_sqe *sqe = sqe_get();
	struct __kernel_timespec ts = { .tv_nsec = 100000000 };

	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			shutdown(conns[i].fd, SHUT_RDWR);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
		io_uring_sqe_set_data64(sqe, UD(UD_CANCEL, 0, 0));
	}
	io_uring_submit(&ring);
	for (int k = 0; k < 20; k++) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		bool accept_back = false;

		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == -ETIME)
			continue;
		io_uring_for_each_cqe(&ring, head, cqe) {
			accept_back |= UD_KIND(io_uring_cqe_get_data64(cqe)) ==
				       UD_ACCEPT;
			n++;
		}
		io_uring_cq_advance(&ring, n);
		if (accept_back)
			break;
	}
}

static void serve(struct store *st, int lfd)
{
	long wait = 0;

	arm_accept(lfd);
	while (!stop && !st->failed) {
		struct __kernel_timespec ts = { .tv_sec = wait / 1000,
						.tv_nsec = (wait % 1000) * 1000000 };
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		int ret = io_uring_submit_and_wait_timeout(&ring, &cqe, 1, &ts,
							   NULL);

		if (ret < 0 && ret != -ETIME && ret != -EINTR) {
			log_err("io_uring: %s", strerror(-ret));
			break;
		}
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(st, lfd, cqe);
			n++;
		}
		io_uring_cq_advance(&ring, n);
		wait = periodic(st);
	}
	drain();
}

/* "512M", "20G", "65536": bytes, or 0 when it is not a size of 64 KiB+. */
static uint64_t parse_size(const char *s)
{
	static const char units[] = "KMGT";
	uint64_t n = 0;
	const char *u;
	size_t i;

	for (i = 0; s[i] >= '0' && s[i] <= '9'; i++) {
		if (n > (UINT64_MAX >> 40) / 10)
			return 0;
		n = n * 10 + (uint64_t)(s[i] - '0');
	}
	u = s[i] ? strchr(units, s[i] & ~0x20) : NULL;
	if (!i || (s[i] && (!u || s[i + 1])))
		return 0;
	n <<= u ? 10 * (u - units + 1) : 0;
	return n >= 64 << 10 ? n : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quota", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "lock-fails", required_argument, NULL, 'F' },
		{ "lock-seconds", required_argument, NULL, 'S' },
		{ "login-seconds", required_argument, NULL, 'L' },
		{ "hubs", required_argument, NULL, 'H' },
		{ 0 }
	};
	const char *dir = NULL, *addr = "127.0.0.1:7443";
	static struct store st;
	struct sigaction sa = { .sa_handler = on_term };
	enum log_level lvl = LOG_LVL_INFO;
	uint64_t quota = 0;
	long lock_fails = 0, lock_s = 0;
	int c, lfd, ret;

	while ((c = getopt_long(argc, argv, "d:l:q:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dir = optarg;
			break;
		case 'l':
			addr = optarg;
			break;
		case 'v':
			lvl = LOG_LVL_DEBUG;
			break;
		case 'q':
			quota = parse_size(optarg);
			if (!quota) {
				fprintf(stderr, "moat-relay: --quota %s: not a size like 512M or 20G (at least 64K)\n",
					optarg);
				return 2;
			}
			break;
		case 'L': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > 3600) {
				fprintf(stderr, "moat-relay: --login-seconds %s: give a whole number from 1 to 3600\n",
					optarg);
				return 2;
			}
			login_ms = (uint64_t)v * 1000;
			break;
		}
		case 'F':
		case 'S': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1 || v > LOCK_MAX_S) {
				fprintf(stderr, "moat-relay: --%s %s: give a whole number from 1 to %d\n",
					c == 'F' ? "lock-fails" : "lock-seconds",
					optarg, LOCK_MAX_S);
				return 2;
			}
			*(c == 'F' ? &lock_fails : &lock_s) = v;
			break;
		}
		case 'H': {
			char why[300];

			hubs_free(&served);
			if (hubs_load(optarg, &served, why, sizeof(why))) {
				fprintf(stderr, "moat-relay: --hubs %s\n", why);
				return 2;
			}
			served_only = true;
			break;
		}
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!dir || optind != argc) {
		fprintf(stderr, "moat-relay: %s\n%s",
			dir ? "unexpected argument" : "--dir is required", usage);
		return 2;
	}
	log_init("moat-relay", lvl);
	ret = store_init(&st, dir);
	if (ret) {
		fprintf(stderr, "moat-relay: --dir %s: %s\n", dir, strerror(-ret));
		return 1;
	}
	st.quota = quota;
	if (served_only)
		log_info("serving only the %zu hub(s) listed with --hubs",
			 served.n);
	lockout_init(&lock, (uint32_t)lock_fails, (uint32_t)lock_s);
	lfd = listen_on(addr);
	if (lfd < 0)
		return 1;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAX_CONNS; i++)
		conns[i].fd = -1;
	{
		/* a descriptor per connection: as many as allowed */
		struct rlimit nf;

		if (!getrlimit(RLIMIT_NOFILE, &nf) && nf.rlim_cur < nf.rlim_max) {
			nf.rlim_cur = nf.rlim_max;
			setrlimit(RLIMIT_NOFILE, &nf);
		}
	}
	ret = io_uring_queue_init(RING_ENTRIES, &ring, 0);
	if (ret) {
		fprintf(stderr, "moat-relay: io_uring: %s (is kernel.io_uring_disabled set?)\n",
			strerror(-ret));
		return 1;
	}
	log_info("listening on %s, storing in %s", addr, dir);
	serve(&st, lfd);
	io_uring_queue_exit(&ring);
	close(lfd);
	for (int i = 0; i < MAX_CONNS; i++)
		if (conns[i].fd >= 0)
			conn_free(&conns[i]);
	store_close(&st);
	log_info("stopped: %llu records stored, %llu duplicates, %llu out of order, %llu streams deleted by the quota",
		 (unsigned long long)st.stored,
		 (unsigned long long)st.duplicates, (unsigned long long)st.gaps,
		 (unsigned long long)st.retained_streams);
	if (st.failed) {
		/* the hubs still hold what was not acknowledged and send it
		 * again to a relay started on a disk that works */
		log_err("stopped because the disk under %s failed to make records durable (%s); check it, then start the relay again",
			dir, strerror(-st.failed));
		return 1;
	}
	return 0;
}
