// SPDX-License-Identifier: GPL-2.0-only
/*
 * Live view on the LAN, straight from the hub (`[hub] lan_subnet`,
 * `moat-view live --hub`), with the real processes and the network policy
 * enforced (nftables, the roles' BPF, the ciphertext gate):
 *
 * - two approved viewers watch live from the hub at once: whole streams,
 *   none refused, their bytes the camera's own access units;
 * - a camera that records events (here: motion never counts) sends
 *   nothing while nobody watches; watched on the LAN, or through the
 *   relay (which asks the hub with a live request), it is seen live;
 * - the relay goes down: LAN live view goes on;
 * - a viewer paired but not approved is refused by the hub, saying why;
 * - a connection from an address outside lan_subnet never reaches the
 *   uplink (its SYN is dropped: the hub counts no connection);
 * - a viewer the owner removes is refused from then on;
 * - the LAN port still busy when the uplink starts (as an uplink killed
 *   just before leaves it for some ms: its io_uring's accept) is taken
 *   once free;
 * - the ciphertext gate framed the LAN connections and ended none; and,
 *   moatd stopped (its policy stays), a process in the uplink's cgroup
 *   that takes a LAN connection gets a CHALLENGE through it, but neither
 *   plaintext first nor plaintext after the CHALLENGE.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

enum { LAN_PORT = 38791 };

static struct hub h;

static void pair(const char *name, bool approve, char *ident, size_t len)
{
	char cmd[1024], out[1024];

	snprintf(ident, len, "%s/%s.key", h.dir, name);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view pair --hub-keys %s/keys --out %s --name %s >/dev/null 2>&1%s%s%s%s%s%s",
		 h.bin, h.dir, ident, name, approve ? " && " : "",
		 approve ? h.bin : "",
		 approve ? "/moatctl --config " : "", approve ? h.conf : "",
		 approve ? " viewers approve " : "", approve ? name : "");
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "%s paired%s: %s", name,
	      approve ? " and approved" : " (pending)", out);
}

/* moat-view live --hub in the background; video in DIR/NAME.h264, what it
 * said in DIR/NAME.json. */
static pid_t watch_via(const char *ident, const char *name, int seconds,
		       bool lan, const char *camera)
{
	char secs[16], out[300], js[300], hub[64], bin[300];
	char *argv[] = { bin, "live", "--identity", (char *)ident,
			 lan ? "--hub" : "--relay", hub, "--seconds", secs,
			 "--out", out, "--json", "--camera", (char *)camera,
			 NULL };

	snprintf(bin, sizeof(bin), "%s/moat-view", h.bin);
	snprintf(hub, sizeof(hub), "%s", h.relay_addr);
	if (lan)
		snprintf(hub, sizeof(hub), "127.0.0.1:%d", LAN_PORT);
	snprintf(secs, sizeof(secs), "%d", seconds);
	snprintf(out, sizeof(out), "%s/%s.h264", h.dir, name);
	snprintf(js, sizeof(js), "%s/%s.json", h.dir, name);
	return spawn_logged(argv, js);
}

static pid_t watch(const char *ident, const char *name, int seconds)
{
	return watch_via(ident, name, seconds, true, "porch");
}

static char *said(const char *name)
{
	char path[300];
	size_t n;

	snprintf(path, sizeof(path), "%s/%s.json", h.dir, name);
	return (char *)read_all(path, &n);
}

/* Waits for a watcher; whether it exited 0 with whole streams of the
 * camera's bytes. */
static void watched(pid_t pid, const char *name, const uint8_t *clip,
		    size_t clip_len, const char *when)
{
	char path[300], *js;
	int status = -1;
	size_t got = 0;

	waitpid(pid, &status, 0);
	js = said(name);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && js &&
		      json_num(js, NULL, "ended") >= 2 &&
		      json_num(js, NULL, "refused") == 0 &&
		      json_num(js, NULL, "frames") >= 60,
	      "%s watched live from the hub %s: whole streams, none refused: %s",
	      name, when, js ? js : "(nothing said)");
	snprintf(path, sizeof(path), "%s/%s.h264", h.dir, name);
	CHECK(hub_from_clip(clip, clip_len, path, &got),
	      "what %s wrote (%zu bytes) is the camera's own access units", name,
	      got);
	free(js);
}

/* moat-view list of hall's streams on the relay, as ident: its status. */
static int hall_on_relay(const char *ident, char *out, size_t len)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view list --identity %s --relay %s --camera hall --json 2>&1",
		 h.bin, ident, h.relay_addr);
	return run_cmd(cmd, out, len);
}

/* Runs moat-view live --hub for 3 s as ident; its exit status and words. */
static int refused_as(const char *ident, char *out, size_t len)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view live --identity %s --hub 127.0.0.1:%d --seconds 3 --out /dev/null 2>&1",
		 h.bin, ident, LAN_PORT);
	return run_cmd(cmd, out, len);
}

/* A TCP connection to the LAN port from src (an address outside
 * lan_subnet): whether it was made within 3 s. */
static bool reaches_from(const char *src)
{
	struct sockaddr_in from = { .sin_family = AF_INET },
			   to = { .sin_family = AF_INET,
				  .sin_port = htons(LAN_PORT) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	inet_pton(AF_INET, src, &from.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	ok = fd >= 0 && !bind(fd, (struct sockaddr *)&from, sizeof(from)) &&
	     !connect(fd, (struct sockaddr *)&to, sizeof(to));
	if (!ok && fd >= 0 && errno != EINPROGRESS && errno != ETIMEDOUT)
		fprintf(stderr, "connect from %s: %s\n", src, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * A process in the uplink's cgroup takes one connection on the LAN port
 * and sends first (and, 200 ms later, then); what a LAN client receives
 * within 2 s: its byte count.
 */
static long through_gate(const uint8_t *first, size_t n1,
			 const uint8_t *then, size_t n2)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(LAN_PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 2 };
	int ready[2], fd, one = 1;
	long got = 0;
	char buf[8192], procs[700];
	pid_t pid;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (!pid) {
		FILE *f;
		int l, c;

		snprintf(procs, sizeof(procs), "%s/uplink/cgroup.procs",
			 h.cgroup);
		f = fopen(procs, "w");
		if (!f || fprintf(f, "0\n") < 0 || fclose(f))
			_exit(2);
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) ||
		    listen(l, 1))
			_exit(3);
		if (write(ready[1], "", 1) != 1)
			_exit(4);
		c = accept(l, NULL, NULL);
		if (c < 0 || send(c, first, n1, 0) != (ssize_t)n1)
			_exit(5);
		usleep(200 * 1000);
		if (n2)
			send(c, then, n2, 0);
		sleep(3);
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], buf, 1) != 1) {
		close(ready[0]);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(ready[0]);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)))
		got = -1;
	while (got >= 0) {
		ssize_t k = recv(fd, buf, sizeof(buf), 0);

		if (k <= 0)
			break;
		got += k;
	}
	if (fd >= 0)
		close(fd);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return got;
}

static void gate_holds(const uint8_t *clip, size_t clip_len)
{
	uint8_t ch[64] = { 1, 0x17 };
	long got;

	ch[7] = 32; /* a CHALLENGE: 32 bytes of body */
	memset(ch + 32, 0xc3, 32);
	got = through_gate(ch, sizeof(ch), NULL, 0);
	CHECK(got == 64, "a CHALLENGE from the uplink's cgroup reaches the LAN (%ld bytes)",
	      got);
	got = through_gate(clip, clip_len < 4096 ? clip_len : 4096, NULL, 0);
	CHECK(got == 0, "plaintext (H.264) from it does not: %ld bytes arrived",
	      got);
	got = through_gate(ch, sizeof(ch), clip, clip_len < 4096 ? clip_len : 4096);
	CHECK(got == 64,
	      "nor plaintext after the CHALLENGE: %ld bytes arrived, the CHALLENGE's 64 alone",
	      got);
}

/* Port LAN_PORT held on every address, as the uplink binds it. */
static int hold_port(void)
{
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6,
				   .sin6_port = htons(LAN_PORT),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), zero = 0,
	    one = 1;

	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	/* a run before this one may leave connections in TIME_WAIT */
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Lets go of it a second after moatd started the uplink, which by then
 * found it busy. */
static void release_port(int fd)
{
	for (int i = 0; i < 100; i++) {
		char *st = hub_status(&h);
		bool up = st && json_num(st, "uplink", "pid") > 0;

		free(st);
		if (up)
			break;
		usleep(50 * 1000);
	}
	usleep(1000 * 1000);
	if (fd >= 0)
		close(fd);
}

static char *said_moatd(void)
{
	char path[PATH_MAX];
	size_t len;

	snprintf(path, sizeof(path), "%s/moatd.log", h.dir);
	return (char *)read_all(path, &len);
}

int main(void)
{
	const char *clip_path = test_clip_path();
	char lines[PATH_MAX + 200], hub_lines[128], bob[300], dave[300];
	char out[4096], *st;
	uint8_t *clip;
	size_t clip_len;
	int64_t connects;
	pid_t a, b;
	int held;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	clip = read_all(clip_path, &clip_len);
	CHECK(clip && clip_len > 8192, "the test clip %s", clip_path);
	if (!clip)
		return test_done("test_lanlive");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n\n"
		 "[camera hall]\nsource = file:%s\nloop = yes\n"
		 "record = events\nmotion_ignore = 0,0,100,100\n",
		 clip_path, clip_path);
	/* the viewers here connect from 127.0.0.1: that is "the LAN" */
	snprintf(hub_lines, sizeof(hub_lines),
		 "lan_subnet = 127.0.0.1/32\nlan_port = %d\n", LAN_PORT);
	CHECK(!hub_init_with(&h, "lanlive", hub_lines, lines), "hub set up");
	pair("bob", true, bob, sizeof(bob));
	pair("dave", false, dave, sizeof(dave));
	held = hold_port();
	CHECK(held >= 0, "the test holds port %d before moatd starts: %s",
	      LAN_PORT, strerror(-held));
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	release_port(held);
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	st = said_moatd();
	snprintf(lines, sizeof(lines), "uplink: port %d was busy for ",
		 LAN_PORT);
	CHECK(st && strstr(st, lines) &&
		      !strstr(st, "no live view on the LAN"),
	      "the uplink waited for the LAN port held when it started, then took it");
	free(st);

	/* nobody watches: the events camera's GOPs go unsent */
	for (int i = 0; i < 40; i++) {
		st = hub_status(&h);
		connects = st ? json_num(st, "hall", "discarded_gops") : -1;
		free(st);
		if (connects > 0)
			break;
		usleep(250 * 1000);
	}
	st = hub_status(&h);
	CHECK(st && connects > 0 && json_num(st, "hall", "clips") == 0 &&
		      json_num(st, "heartbeats", "live_requests") == 0,
	      "while nobody watches, the events camera discards its sealed GOPs unsent (%" PRId64 ")",
	      connects);
	free(st);
	a = watch_via(bob, "hall-lan", 6, true, "hall");
	watched(a, "hall-lan", clip, clip_len, "(the events camera, on the LAN)");
	CHECK(hall_on_relay(bob, out, sizeof(out)) == 0 &&
		      strstr(out, "{\"list\": [],"),
	      "what the LAN viewer watched stayed on the LAN: the relay holds none of hall's streams: %.300s",
	      out);
	/* live view ends a little after the LAN viewer left */
	for (int i = 0; i < 40; i++) {
		st = hub_status(&h);
		connects = st && strstr(st, "\"live_now\": false") ? 1 : 0;
		free(st);
		if (connects)
			break;
		usleep(250 * 1000);
	}
	CHECK(connects == 1,
	      "once the LAN viewer left, nobody watches (the events camera is back to holding)");
	a = watch_via(bob, "hall-relay", 6, false, "hall");
	watched(a, "hall-relay", clip, clip_len,
		"(the events camera, through the relay)");
	st = hub_status(&h);
	CHECK(st && json_num(st, "heartbeats", "live_requests") >= 1 &&
		      json_num(st, "hall", "clips") == 0,
	      "the hub honoured the viewer's live request through the relay, and recorded no clip");
	free(st);
	{
		/* every one whole but the one still being sealed */
		static const char opened[] = "\"state\": \"opened\"";
		static char list[1 << 16];
		int whole = 0, cut = 0;

		CHECK(hall_on_relay(bob, list, sizeof(list)) == 0,
		      "moat-view lists hall's streams on the relay");
		for (const char *p = list; (p = strstr(p, "\"state\": \""));
		     p++) {
			bool ok = !strncmp(p, opened, sizeof(opened) - 1);

			whole += ok;
			cut += !ok;
		}
		CHECK(whole >= 3 && cut <= 1,
		      "the relay holds the GOPs watched through it whole, each with its final record (%d whole, %d not yet ended)",
		      whole, cut);
	}

	a = watch(h.ident, "owner", 5);
	b = watch(bob, "bob", 5);
	watched(a, "owner", clip, clip_len, "");
	watched(b, "bob", clip, clip_len, "");

	CHECK(!hub_stop(&h.relay, SIGTERM, 3000), "the relay went down");
	a = watch(bob, "bob-norelay", 5);
	watched(a, "bob-norelay", clip, clip_len, "with the relay down");

	CHECK(refused_as(dave, out, sizeof(out)) != 0 &&
		      strstr(out, "the hub says: this viewer is not one the hub approved"),
	      "a viewer not approved is refused by the hub, saying so: %s",
	      out);

	st = hub_status(&h);
	connects = st ? json_num(st, "lan", "connects") : -1;
	free(st);
	CHECK(!reaches_from("127.0.0.3"),
	      "a connection from outside lan_subnet (127.0.0.3) is not made");
	st = hub_status(&h);
	CHECK(st && connects > 0 && json_num(st, "lan", "connects") == connects,
	      "the uplink never saw it (%" PRId64 " LAN connections before and after)",
	      connects);
	CHECK(st && json_num(st, "policy", "gate_killed") == 0 &&
		      json_num(st, "policy", "gate_drops") == 0,
	      "the ciphertext gate let the LAN viewers' records through and ended no connection");
	CHECK(st && json_num(st, "lan", "logins") >= 3 &&
		      json_num(st, "lan", "refused") >= 1,
	      "moatctl status counts the LAN logins and the refusal");
	free(st);

	snprintf(lines, sizeof(lines), "%s/moatctl --config %s viewers remove bob 2>&1",
		 h.bin, h.conf);
	CHECK(run_cmd(lines, out, sizeof(out)) == 0, "bob removed: %s", out);
	/* the uplink starts again with the viewers left */
	for (int i = 0; i < 40; i++) {
		if (refused_as(bob, out, sizeof(out)) != 0 &&
		    strstr(out, "not one the hub approved"))
			break;
		usleep(250 * 1000);
	}
	CHECK(strstr(out, "not one the hub approved") != NULL,
	      "the removed viewer is refused by the hub: %s", out);

	hub_stop(&h.moatd, SIGTERM, 10000);
	gate_holds(clip, clip_len);
	free(clip);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_lanlive");
}
