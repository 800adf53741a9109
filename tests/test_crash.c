// SPDX-License-Identifier: GPL-2.0-only
/*
 * Crash safety: while the file camera records in real time, kill -9 a
 * random process (capture worker, sealer, uplink, moatd, relay) at a
 * random moment, MOAT_CRASH_ROUNDS times (10 by default; 200 in the long
 * run), restarting moatd and the relay as systemd would. Then:
 *   - nothing acknowledged is lost: every record the relay acknowledged
 *     during the whole run (a tap on the wire keeps the ledger) is at the
 *     relay, byte for byte, and so is every record left in the spool;
 *   - every stored stream opens: no record fails to verify; streams the
 *     crashes cut end early, never more than the sealer crashes;
 *   - the viewer can still open new streams: a clip recorded after the
 *     last crash comes back whole;
 *   - no plaintext at rest anywhere the hub or the relay wrote.
 */
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/wire.h"
#include "common/rd.h"
#include "crypto/stream.h"
#include "crypto/streamfile.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

enum { V_WORKER, V_SEALER, V_UPLINK, V_MOATD, V_RELAY, N_VICTIMS };
static const char *const victim_name[N_VICTIMS] = { "worker", "sealer",
						    "uplink", "moatd",
						    "relay" };

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static pid_t role_pid(struct hub *h, int v)
{
	char *st = hub_status(h);
	int64_t pid = -1;

	if (v == V_WORKER)
		pid = json_num(st, "cameras", "pid");
	else if (v == V_SEALER)
		pid = json_num(st, "sealer", "pid");
	else if (v == V_UPLINK)
		pid = json_num(st, "uplink", "pid");
	free(st);
	return pid > 0 ? (pid_t)pid : 0;
}

static int kill9(struct hub *h, int v)
{
	pid_t pid;

	if (v == V_MOATD) {
		kill(h->moatd, SIGKILL);
		waitpid(h->moatd, NULL, 0);
		h->moatd = 0;
		return hub_start_moatd(h) ? -1 : 1;
	}
	if (v == V_RELAY) {
		kill(h->relay, SIGKILL);
		waitpid(h->relay, NULL, 0);
		h->relay = 0;
		return hub_start_relay(h) ? -1 : 1;
	}
	pid = role_pid(h, v);
	if (!pid)
		return 0; /* between a crash and its restart: try another */
	return kill(pid, SIGKILL) ? 0 : 1;
}

/*
 * A tap between the hub and the relay keeps a ledger of what the relay
 * acknowledged: every record the hub sent on a connection, and, when an
 * ACK says n, the first n of them go to the ledger. At the end each one
 * must be at the relay, byte for byte: nothing acknowledged is lost, over
 * the whole run, whatever was killed.
 */
enum { TAP_CONNS = 4, TAP_MAX_RECS = 1 << 16 };

struct tap_conn {
	int hub, relay;
	struct wire_rx up, down;
	uint8_t **recs;	    /* records sent on this connection */
	size_t *lens, n, logged;
};

struct tap {
	int lfd;
	unsigned int relay_port;
	FILE *ledger;
	size_t acked;
	volatile int stop;
	struct tap_conn c[TAP_CONNS];
	pthread_t th;
};

static void tap_close(struct tap_conn *c)
{
	if (c->hub >= 0)
		close(c->hub);
	if (c->relay >= 0)
		close(c->relay);
	for (size_t i = 0; i < c->n; i++)
		free(c->recs[i]);
	free(c->recs);
	free(c->lens);
	wire_rx_free(&c->up);
	wire_rx_free(&c->down);
	memset(c, 0, sizeof(*c));
	c->hub = c->relay = -1;
}

/* Forwards what is readable on from; parses it as frames too. */
static int tap_pump(struct tap *t, struct tap_conn *c, bool up)
{
	struct wire_rx *rx = up ? &c->up : &c->down;
	struct wire_hdr h;
	const uint8_t *f;
	uint8_t *dst;
	size_t room;
	ssize_t n;
	int ret;

	dst = wire_rx_space(rx, &room);
	n = room ? read(up ? c->hub : c->relay, dst, room) : -1;
	if (n <= 0 || wire_write_all(up ? c->relay : c->hub, dst, (size_t)n))
		return -1;
	wire_rx_added(rx, (size_t)n);
	while ((ret = wire_rx_next(rx, &h, &f)) == 1) {
		size_t len = WIRE_HDR_LEN + h.body_len;

		if (up && wire_is_record(h.type) && c->n < TAP_MAX_RECS) {
			c->recs[c->n] = malloc(len);
			memcpy(c->recs[c->n], f, len);
			c->lens[c->n++] = len;
		}
		/* an ACK of n: the first n records of this connection */
		for (; !up && h.type == WIRE_ACK && c->logged < h.value &&
		       c->logged < c->n;
		     c->logged++) {
			fwrite(&c->lens[c->logged], sizeof(size_t), 1, t->ledger);
			fwrite(c->recs[c->logged], 1, c->lens[c->logged],
			       t->ledger);
			t->acked++;
		}
	}
	fflush(t->ledger);
	return ret < 0 ? -1 : 0;
}

static void *tap_loop(void *arg)
{
	struct tap *t = arg;

	while (!t->stop) {
		struct pollfd pf[1 + 2 * TAP_CONNS];
		int n = 1;

		pf[0] = (struct pollfd){ .fd = t->lfd, .events = POLLIN };
		for (int i = 0; i < TAP_CONNS; i++) {
			pf[n++] = (struct pollfd){ .fd = t->c[i].hub,
						   .events = POLLIN };
			pf[n++] = (struct pollfd){ .fd = t->c[i].relay,
						   .events = POLLIN };
		}
		if (poll(pf, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < TAP_CONNS; i++) {
			struct tap_conn *c = &t->c[i];

			if (c->hub < 0)
				continue;
			if (((pf[1 + 2 * i].revents && tap_pump(t, c, true)) ||
			     (pf[2 + 2 * i].revents && tap_pump(t, c, false))))
				tap_close(c);
		}
		if (pf[0].revents) {
			int fd = accept(t->lfd, NULL, NULL), i;
			struct sockaddr_in sa = {
				.sin_family = AF_INET,
				.sin_port = htons((uint16_t)t->relay_port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)
			};

			for (i = 0; i < TAP_CONNS && t->c[i].hub >= 0; i++)
				;
			if (fd < 0 || i == TAP_CONNS) {
				if (fd >= 0)
					close(fd);
				continue;
			}
			t->c[i].hub = fd;
			t->c[i].relay = socket(AF_INET, SOCK_STREAM, 0);
			t->c[i].recs = calloc(TAP_MAX_RECS, sizeof(uint8_t *));
			t->c[i].lens = calloc(TAP_MAX_RECS, sizeof(size_t));
			if (connect(t->c[i].relay, (struct sockaddr *)&sa,
				    sizeof(sa)) ||
			    wire_rx_init(&t->c[i].up, 17 << 20) ||
			    wire_rx_init(&t->c[i].down, 1 << 16))
				tap_close(&t->c[i]); /* relay down: hub retries */
		}
	}
	return NULL;
}

static int tap_start(struct tap *t, unsigned int relay_port, const char *ledger,
		     unsigned int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);

	memset(t, 0, sizeof(*t));
	for (int i = 0; i < TAP_CONNS; i++)
		t->c[i].hub = t->c[i].relay = -1;
	t->relay_port = relay_port;
	t->ledger = fopen(ledger, "w+");
	t->lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (!t->ledger || t->lfd < 0 ||
	    bind(t->lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(t->lfd, (struct sockaddr *)&sa, &l) ||
	    listen(t->lfd, 4))
		return -1;
	*port = ntohs(sa.sin_port);
	return pthread_create(&t->th, NULL, tap_loop, t) ? -1 : 0;
}

static void tap_stop(struct tap *t)
{
	t->stop = 1;
	pthread_join(t->th, NULL);
	for (int i = 0; i < TAP_CONNS; i++)
		if (t->c[i].hub >= 0)
			tap_close(&t->c[i]);
	close(t->lfd);
}

/* The hub's relay folder: <relay>/<hub id>. */
static int hub_dir(const struct hub *h, char *out, size_t len)
{
	DIR *d = opendir(h->relay_dir);
	struct dirent *e;
	int found = -1;

	while (d && (e = readdir(d)))
		if (strlen(e->d_name) == 32) {
			snprintf(out, len, "%s/%s", h->relay_dir, e->d_name);
			found = 0;
		}
	if (d)
		closedir(d);
	return found;
}

/* Is this record (by stream id and counter) at the relay, identical? */
static bool at_relay(const char *dir, const uint8_t *rec, size_t len)
{
	static char cached[600];
	static uint8_t *buf;
	static size_t blen;
	char hex[33], path[600];
	const uint8_t *r;
	struct rec_hdr h;
	struct rd rd;
	size_t rl;

	rec_parse_hdr(rec, len, &h);
	hex_encode(hex, h.stream_id, 16);
	snprintf(path, sizeof(path), "%s/%s.moat", dir, hex);
	if (strcmp(path, cached)) {
		free(buf);
		buf = read_all(path, &blen);
		snprintf(cached, sizeof(cached), "%s", path);
	}
	if (!buf)
		return false;
	rd_init(&rd, buf, blen);
	while (sf_next(&rd, &r, &rl) == 1)
		if (rl == len && !memcmp(r, rec, len))
			return true;
	return false;
}

/* Every record in every spool segment: how many, how many missing, and
 * segments with bytes that are neither records nor gaps. The zeros
 * between records are gaps: records the relay acknowledged before their
 * write to the spool was due (docs/SPOOL.md). */
static void check_spool(const struct hub *h, size_t *n, size_t *missing,
			size_t *bad)
{
	char dir[400];
	struct dirent *e;
	DIR *d = opendir(h->spool);

	*n = *missing = *bad = 0;
	if (hub_dir(h, dir, sizeof(dir)) || !d) {
		if (d)
			closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		char path[600];
		const uint8_t *r;
		size_t len, rl;
		uint8_t *buf;
		struct rd rd;

		if (!strstr(e->d_name, ".seg"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", h->spool, e->d_name);
		buf = read_all(path, &len);
		rd_init(&rd, buf, buf ? len : 0);
		for (;;) {
			int ret;

			while (rd.off < rd.len && !buf[rd.off])
				rd.off++; /* a gap */
			ret = sf_next(&rd, &r, &rl);
			if (ret != 1) {
				*bad += ret < 0;
				break;
			}
			(*n)++;
			if (!at_relay(dir, r, rl))
				(*missing)++;
		}
		free(buf);
	}
	closedir(d);
}

/* Every record the relay acknowledged (per the tap): how many, missing. */
static void check_ledger(const struct hub *h, FILE *f, size_t *n,
			 size_t *missing)
{
	static uint8_t rec[17 << 20];
	char dir[400];
	size_t len;

	*n = *missing = 0;
	if (hub_dir(h, dir, sizeof(dir)))
		return;
	rewind(f);
	while (fread(&len, sizeof(len), 1, f) == 1 && len <= sizeof(rec) &&
	       fread(rec, 1, len, f) == len) {
		(*n)++;
		if (!at_relay(dir, rec, len))
			(*missing)++;
	}
}

int main(void)
{
	static const char cam[] = "[camera yard]\nsource = file:%s\n"
				  "pace = %s\nloop = %s\n";
	const char *env = getenv("MOAT_CRASH_ROUNDS"), *m = getenv("MOAT_MEDIA");
	int rounds = env ? atoi(env) : 10, kills[N_VICTIMS] = { 0 }, done = 0;
	char clip[PATH_MAX], lines[PATH_MAX + 100], cmd[2048], out[4096],
		path[300];
	size_t clip_len, got_len, n = 0, missing = 0;
	uint8_t *clip_b, *got;
	struct pt_set *pt;
	static struct tap tap;
	unsigned int tap_port = 0;
	size_t ln = 0, lmissing = 0, torn = 0;
	struct hub h;
	FILE *f;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	if (!realpath(m && *m ? m : test_src_path("build/media/clip.h264"),
		      clip)) {
		CHECK(0, "the test clip exists");
		return test_done("test_crash");
	}
	clip_b = read_all(clip, &clip_len);
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	snprintf(lines, sizeof(lines), cam, clip, "realtime", "yes");
	CHECK(!hub_init(&h, "crash", lines), "hub set up");
	{
		char sed[600], ledger[300];

		snprintf(ledger, sizeof(ledger), "%s/acked-ledger", h.dir);
		CHECK(!tap_start(&tap, h.port, ledger, &tap_port),
		      "a tap between hub and relay");
		snprintf(sed, sizeof(sed), "sed -i 's/^port = %u$/port = %u/' %s",
			 h.port, tap_port, h.conf);
		CHECK(run_cmd(sed, NULL, 0) == 0, "the hub talks through the tap");
	}
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	msleep(1500);
	for (int i = 0; done < rounds && i < rounds * 4; i++) {
		int v = rand() % N_VICTIMS, r;

		/* each victim at least once, from a random start */
		for (int k = 0; k < N_VICTIMS; k++)
			if (!kills[(v + k) % N_VICTIMS]) {
				v = (v + k) % N_VICTIMS;
				break;
			}
		msleep(150 + rand() % 900);
		r = kill9(&h, v);
		if (r < 0) {
			CHECK(0, "%s restarted after kill -9", victim_name[v]);
			break;
		}
		if (r) {
			kills[v]++;
			done++;
		}
	}
	printf("kill -9: %d rounds: worker %d, sealer %d, uplink %d, moatd %d, relay %d\n",
	       done, kills[V_WORKER], kills[V_SEALER], kills[V_UPLINK],
	       kills[V_MOATD], kills[V_RELAY]);
	CHECK(done == rounds, "%d kills made", rounds);
	for (int v = 0; v < N_VICTIMS && rounds >= N_VICTIMS; v++)
		CHECK(kills[v] > 0, "the %s was killed at least once",
		      victim_name[v]);
	msleep(1000);

	/* A clean stop, then one more clip, fast, as a new recording. */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops cleanly");
	snprintf(lines, sizeof(lines), cam, clip, "fast", "no");
	f = fopen(h.conf, "r+");
	if (f) {
		char conf[8192];
		size_t cl = fread(conf, 1, sizeof(conf) - 1, f);

		conf[cl] = 0;
		*strstr(conf, "[camera") = 0;
		freopen(h.conf, "w", f);
		fprintf(f, "%s%s", conf, lines);
		fclose(f);
	}
	CHECK(!hub_start_moatd(&h), "moatd starts again");
	CHECK(!hub_wait_drained(&h, 90000, true),
	      "after the crashes every spooled record is acknowledged");

	check_ledger(&h, tap.ledger, &ln, &lmissing);
	CHECK(ln > 100 && lmissing == 0,
	      "nothing acknowledged is lost: of the %zu records the relay acknowledged during the whole run, %zu are missing",
	      ln, lmissing);
	/* Records the relay acknowledged within the hold are never written
	 * to the spool: with the relay up most of the run, it may hold few. */
	check_spool(&h, &n, &missing, &torn);
	CHECK(missing == 0 && torn == 0,
	      "nothing acknowledged is lost: %zu of %zu spooled records missing at the relay; %zu segment(s) with bytes that are neither records nor gaps",
	      missing, n, torn);

	snprintf(path, sizeof(path), "%s/all.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s --json",
		 h.bin, h.ident, h.relay_addr, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "\"refused\": 0"),
	      "every stored stream opens (no record fails to verify): %s", out);
	{
		const char *p = strstr(out, "\"ended_early\": ");
		int early = p ? atoi(p + 15) : 999;

		printf("after the crashes: %zu acknowledged records all at the relay (%zu missing), %zu spooled (%zu missing); viewer: %s",
		       ln, lmissing, n, missing, out);
		CHECK(early <= kills[V_SEALER] + kills[V_MOATD],
		      "streams cut short (%d) only by sealer or moatd crashes (%d)",
		      early, kills[V_SEALER] + kills[V_MOATD]);
	}
	got = read_all(path, &got_len);
	CHECK(got && got_len >= clip_len &&
		      !memcmp(got + got_len - clip_len, clip_b, clip_len),
	      "the clip recorded after the crashes comes back whole");
	{
		char log[300];
		size_t ll;
		uint8_t *l;

		snprintf(log, sizeof(log), "%s/moatd.log", h.dir);
		l = read_all(log, &ll);
		CHECK(l && !strstr((char *)l, "Bad system call"),
		      "no role broke its sandbox on the way (no SIGSYS in moatd.log)");
		free(l);
	}
	pt = pt_set_new(clip_b, clip_len);
	CHECK(pt_scan_tree(pt, h.spool, NULL) == 0 &&
		      pt_scan_tree(pt, h.relay_dir, NULL) == 0,
	      "no plaintext in the spool or at the relay");
	pt_set_free(pt);
	free(got);
	free(clip_b);
	hub_cleanup(&h, check_failures != 0);
	tap_stop(&tap);
	fclose(tap.ledger);
	return test_done("test_crash");
}
