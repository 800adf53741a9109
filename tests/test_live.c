// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live view through the relay, with the real processes:
 *
 * - three paired viewers watch the same live session at once (`moat-view
 *   live`); each gets whole streams, none refused, and what each wrote is
 *   the camera's own bytes, access unit for access unit;
 * - a live viewer that never reads is cut off by the relay once 8 MiB wait
 *   for it, while the hub goes on being acknowledged and another live
 *   viewer goes on receiving: a slow viewer is cut off, never the hub;
 * - a viewer that asks for every stream and never reads the replies
 *   holds up nobody (the hub is acknowledged meanwhile) and is closed
 *   once its replies have not moved for 10 s, with the reason logged.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/wire.h"
#include "crypto/keystore.h"
#include "crypto/login.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

static void pair_approved(const char *name, char *ident, size_t len)
{
	char cmd[1024], out[1024];

	snprintf(ident, len, "%s/%s.key", h.dir, name);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view pair --hub-keys %s/keys --out %s --name %s >/dev/null 2>&1 && "
		 "%s/moatctl --config %s viewers approve %s 2>&1",
		 h.bin, h.dir, ident, name, h.bin, h.conf, name);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0,
	      "%s paired and approved: %s", name, out);
}

/* moat-view live in the background: its pid; output in DIR/NAME.h264,
 * summary in DIR/NAME.json. */
static pid_t watch(const char *ident, const char *name, int seconds)
{
	char secs[16], out[300], js[300];
	char *argv[] = { NULL, "live", "--identity", (char *)ident, "--relay",
			 h.relay_addr, "--seconds", secs, "--out", out,
			 "--json", NULL };
	char bin[300];

	snprintf(bin, sizeof(bin), "%s/moat-view", h.bin);
	argv[0] = bin;
	snprintf(secs, sizeof(secs), "%d", seconds);
	snprintf(out, sizeof(out), "%s/%s.h264", h.dir, name);
	snprintf(js, sizeof(js), "%s/%s.json", h.dir, name);
	return spawn_logged(argv, js);
}

static char *summary(const char *name)
{
	char path[300];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.json", h.dir, name);
	return (char *)read_all(path, &n);
}

static bool from_clip(const uint8_t *clip, size_t clip_len, const char *name,
		      size_t *got)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s.h264", h.dir, name);
	return hub_from_clip(clip, clip_len, path, got);
}

/* A viewer logged in by hand, with a small receive buffer (so that the
 * relay's side fills, not the kernel's): the connection, or -1. */
static int viewer_conn(const char *ident)
{
	struct ks_identity id;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)h.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	uint8_t acct[16], buf[256], auth[LOGIN_AUTH_LEN];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
	size_t got = 0;

	if (ks_identity_load(ident, &id))
		return -1;
	login_account(id.hub_login_pk, acct);
	/* a small receive buffer: the relay's queue fills, not the kernel's */
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    wire_send_ctl(fd, WIRE_HELLO, acct, WIRE_ROLE_VIEWER, NULL, 0))
		goto fail;
	while (got < WIRE_HDR_LEN + 32) {
		ssize_t n = recv(fd, buf + got, WIRE_HDR_LEN + 32 - got, 0);

		if (n <= 0)
			goto fail;
		got += (size_t)n;
	}
	if (buf[1] != WIRE_CHALLENGE ||
	    login_sign(&id.login, WIRE_ROLE_VIEWER, acct, buf + WIRE_HDR_LEN,
		       auth) ||
	    wire_send_ctl(fd, WIRE_AUTH, acct, 0, auth, sizeof(auth)))
		goto fail;
	ks_identity_wipe(&id);
	return fd;
fail:
	ks_identity_wipe(&id);
	close(fd);
	return -1;
}

/* LIST, read whole; then a GET for every stream listed, none read. */
/* The relay's stream list in *ids; the number of streams, or -1. */
static long list_streams(int fd, uint8_t **ids)
{
	uint8_t hb[WIRE_HDR_LEN];
	size_t n = 0;

	*ids = NULL;
	if (wire_send_ctl(fd, WIRE_LIST, NULL, 0, NULL, 0))
		return -1;
	for (;;) {
		size_t got = 0, body;
		uint8_t *p;

		while (got < sizeof(hb)) {
			ssize_t k = recv(fd, hb + got, sizeof(hb) - got, 0);

			if (k <= 0)
				goto fail;
			got += (size_t)k;
		}
		if (hb[1] == WIRE_END)
			return (long)n;
		body = ((size_t)hb[4] << 24) | ((size_t)hb[5] << 16) |
		       ((size_t)hb[6] << 8) | hb[7];
		p = realloc(*ids, n * WIRE_STREAM_ENTRY + body);
		if (hb[1] != WIRE_STREAMS || !p)
			goto fail;
		*ids = p;
		for (got = 0; got < body;) {
			ssize_t k = recv(fd, *ids + n * WIRE_STREAM_ENTRY + got,
					 body - got, 0);

			if (k <= 0)
				goto fail;
			got += (size_t)k;
		}
		n += body / WIRE_STREAM_ENTRY;
	}
fail:
	free(*ids);
	*ids = NULL;
	return -1;
}

/*
 * Asks for every stream once the relay holds more than 100 (so the replies
 * are far more than the relay holds for one viewer), and reads nothing back.
 * The fast camera makes streams at its own rate, slower on a loaded machine:
 * wait for them (up to 60 s) rather than take the count of one moment.
 */
static int get_everything(int fd)
{
	uint8_t *ids = NULL;
	long n = -1;

	for (int tries = 0; tries < 120; tries++) {
		free(ids);
		n = list_streams(fd, &ids);
		if (n < 0 || n > 100)
			break;
		usleep(500 * 1000);
	}
	if (n <= 100) {
		fprintf(stderr, "the relay holds %ld streams, not more than 100\n", n);
		free(ids);
		return -1;
	}
	/* the requests in one go; the relay blocks on the replies */
	for (long i = 0; i < n; i++)
		if (wire_send_ctl(fd, WIRE_GET, ids + i * WIRE_STREAM_ENTRY, 0,
				  NULL, 0))
			break;
	free(ids);
	return 0;
}

/* Whether fd was closed by the relay (after the bytes still in it). */
static bool closed_by_relay(int fd)
{
	static uint8_t sink[1 << 16];
	struct timeval tv = { .tv_sec = 2 };
	ssize_t n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while ((n = recv(fd, sink, sizeof(sink), 0)) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void three_viewers(const uint8_t *clip, size_t clip_len,
			  const char *bob, const char *carol)
{
	const char *names[] = { "owner", "bob", "carol" };
	const char *idents[] = { h.ident, bob, carol };
	pid_t pid[3];

	for (int i = 0; i < 3; i++)
		pid[i] = watch(idents[i], names[i], 5);
	for (int i = 0; i < 3; i++) {
		int status = -1;
		char *js;
		size_t got = 0;

		waitpid(pid[i], &status, 0);
		js = summary(names[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && js &&
			      json_num(js, NULL, "ended") >= 2 &&
			      json_num(js, NULL, "refused") == 0 &&
			      json_num(js, NULL, "frames") >= 60,
		      "%s watched live: whole streams, none refused: %s",
		      names[i], js ? js : "(no summary)");
		CHECK(from_clip(clip, clip_len, names[i], &got),
		      "what %s wrote (%zu bytes) is the camera's own access units",
		      names[i], got);
		free(js);
	}
}

/* Linux 6.2 or later: SEND_ZC can say whether the kernel copied. */
static bool kernel_reports_zc_copies(void)
{
	struct utsname u;
	int major = 0, minor = 0;

	if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2)
		return false;
	return major > 6 || (major == 6 && minor >= 2);
}

/*
 * On loopback the kernel copies every zero-copy send and says so: the
 * uplink, told so 64 times in a row, sends plainly for the rest of the
 * connection (and the records still arrive, which the rest of the test
 * checks).
 */
static void zero_copy_fallback(const char *st)
{
	if (!kernel_reports_zc_copies()) {
		printf("not checked: this kernel (before 6.2) cannot say whether it copied a zero-copy send\n");
		return;
	}
	CHECK(st && json_num(st, "uplink", "zc_copied") >= 64 &&
		      json_num(st, "uplink", "zc_copy_fallbacks") >= 1 &&
		      json_num(st, "uplink", "plain_sends") >
			      json_num(st, "uplink", "replayed"),
	      "the kernel copied the zero-copy sends on loopback; the uplink went on with plain sends (%" PRId64
	      " zero-copy, %" PRId64 " copied, %" PRId64 " plain, %" PRId64
	      " resent; %" PRId64 " connections, %" PRId64 " fell back)",
	      st ? json_num(st, "uplink", "zc_sends") : -1,
	      st ? json_num(st, "uplink", "zc_copied") : -1,
	      st ? json_num(st, "uplink", "plain_sends") : -1,
	      st ? json_num(st, "uplink", "replayed") : -1,
	      st ? json_num(st, "uplink", "connects") : -1,
	      st ? json_num(st, "uplink", "zc_copy_fallbacks") : -1);
}

int main(void)
{
	const char *clip_path = test_clip_path();
	char lines[PATH_MAX + 200], bob[300], carol[300], *st, *log;
	uint8_t *clip;
	size_t clip_len, n;
	int64_t acked0, acked1;
	pid_t good;
	int fd, stall;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	clip = read_all(clip_path, &clip_len);
	CHECK(clip && clip_len > 8192, "the test clip %s", clip_path);
	if (!clip)
		return test_done("test_live");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip_path);
	CHECK(!hub_init(&h, "live", lines), "hub set up");
	pair_approved("bob", bob, sizeof(bob));
	pair_approved("carol", carol, sizeof(carol));
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	three_viewers(clip, clip_len, bob, carol);

	/* a fast camera, a viewer that never reads, and one that does */
	hub_stop(&h.moatd, SIGTERM, 10000);
	snprintf(lines, sizeof(lines),
		 "sed -i 's/^loop = yes/loop = yes\\npace = fast/' %s", h.conf);
	CHECK(system(lines) == 0, "the camera now plays as fast as the hub seals");
	CHECK(!hub_start_moatd(&h), "moatd up again");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in again");
	fd = viewer_conn(carol);
	CHECK(fd >= 0 && !wire_send_ctl(fd, WIRE_LIVE, NULL, 0, NULL, 0),
	      "a live viewer that never reads logged in");
	stall = viewer_conn(carol);
	CHECK(stall >= 0 && !get_everything(stall),
	      "a viewer asks for every stream and never reads the replies");
	good = watch(bob, "bob-fast", 6);
	sleep(2);
	st = hub_status(&h);
	acked0 = st ? json_num(st, "uplink", "acked") : -1;
	free(st);
	sleep(3);
	st = hub_status(&h);
	acked1 = st ? json_num(st, "uplink", "acked") : -1;
	zero_copy_fallback(st);
	free(st);
	CHECK(acked1 > acked0 && acked0 > 0,
	      "the hub is acknowledged all the while (%" PRId64 " then %" PRId64 " records)",
	      acked0, acked1);
	CHECK(fd >= 0 && closed_by_relay(fd),
	      "the relay cut the stalled viewer off");
	if (fd >= 0)
		close(fd);

	{
		int status = -1;
		char *js;

		waitpid(good, &status, 0);
		js = summary("bob-fast");
		CHECK(js && json_num(js, NULL, "frames") > 300 &&
			      json_num(js, NULL, "refused") == 0,
		      "the viewer that reads goes on receiving: %s",
		      js ? js : "(no summary)");
		free(js);
	}
	/* the relay closes a viewer whose replies have not moved for 10 s */
	sleep(7);
	CHECK(stall >= 0 && closed_by_relay(stall),
	      "the relay closed the viewer that stopped reading its replies");
	if (stall >= 0)
		close(stall);
	hub_stop(&h.moatd, SIGTERM, 10000);
	hub_stop(&h.relay, SIGTERM, 3000);
	snprintf(lines, sizeof(lines), "%s/relay.log", h.dir);
	log = (char *)read_all(lines, &n);
	CHECK(log && strstr(log, "a live viewer cut off: too slow"),
	      "the relay's log says why it cut the viewer off");
	CHECK(log && strstr(log, "it stopped reading"),
	      "and why it closed the one that stopped reading");
	free(log);
	free(clip);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_live");
}
