// SPDX-License-Identifier: GPL-2.0-only
/*
 * Logging in to the real moat-relay (PROTOCOL.md section 12, "Login"),
 * with clients written here that speak the protocol frame by frame, and
 * with moatd and moat-view:
 *
 * - a hub logs in with its login key and names its approved viewers; one
 *   of them logs in and lists; a viewer the hub did not name is refused,
 *   saying so; so is a key that claims an account it does not own, a
 *   signature over another challenge, and a client that skips AUTH or a
 *   hub that sends records before VIEWERS;
 * - what the relay keeps is public keys only;
 * - after N failed logins an address is locked out (the next connection
 *   is told so after its HELLO, before any challenge), other addresses
 *   are still served, and
 *   the lockout ends; it is per role: a hub at a locked-out viewers'
 *   address still logs in;
 * - bad input (an unknown type, a lying length, another version, a body
 *   where none belongs) closes that connection with the reason, said and
 *   logged, and the next client is served;
 * - a relay restarted still knows the approved viewers;
 * - moatd and moat-view log in for real: the viewer fetches what moatd
 *   recorded;
 * - a relay told which hubs it serves (--hubs FILE) refuses any other hub,
 *   saying why (moatd logs the relay's words), and takes the hub once its
 *   account is listed; a --hubs file with a bad line stops the relay at
 *   start, naming the line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/wire.h"
#include "crypto/login.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

/* A connection from src (an address on lo) to the relay. */
static int dial(const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)h.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in me = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 5 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, src, &me.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* The next frame: its type, its body in body (up to len), or -1. */
static int next(int fd, uint8_t *body, size_t len, struct wire_hdr *hd)
{
	uint8_t hb[WIRE_HDR_LEN];
	size_t got = 0;

	while (got < sizeof(hb)) {
		ssize_t n = recv(fd, hb + got, sizeof(hb) - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	if (wire_parse(hb, sizeof(hb), hd) || hd->body_len >= len)
		return -1;
	got = 0;
	while (got < hd->body_len) {
		ssize_t n = recv(fd, body + got, hd->body_len - got, 0);

		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	body[got] = 0;
	return hd->type;
}

/* What the relay says next: "" for a frame that is not ERROR, its
 * reason for ERROR, "(closed)" when it closed without a word. */
static const char *reply(int fd, char *buf, size_t len)
{
	struct wire_hdr hd;
	int t = next(fd, (uint8_t *)buf, len, &hd);

	if (t < 0)
		return "(closed)";
	if (t != WIRE_ERROR)
		buf[0] = 0;
	return buf;
}

/*
 * HELLO as role for account acct, then AUTH signed by key (over the
 * challenge, or over a wrong one): the relay's answer to the next request
 * (LIST for a viewer, VIEWERS for a hub), as reply() puts it. *fdp is the
 * connection, left open for more.
 */
static const char *login(const char *src, int role, const uint8_t *acct,
			 const struct login_key *key, bool bad_challenge,
			 const uint8_t *viewers, size_t nv, char *buf,
			 size_t len, int *fdp)
{
	uint8_t chal[600], auth[LOGIN_AUTH_LEN];
	struct wire_hdr hd;
	int fd = dial(src), t;

	*fdp = fd;
	if (fd < 0)
		return "(cannot connect)";
	if (wire_send_ctl(fd, WIRE_HELLO, acct, (uint64_t)role, NULL, 0))
		return "(closed)";
	t = next(fd, chal, sizeof(chal), &hd);
	if (t == WIRE_ERROR) {
		snprintf(buf, len, "%s", (char *)chal);
		return buf;
	}
	if (t != WIRE_CHALLENGE)
		return "(no challenge)";
	if (bad_challenge)
		chal[0] ^= 1;
	login_sign(key, (uint8_t)role, acct, chal, auth);
	wire_send_ctl(fd, WIRE_AUTH, acct, 0, auth, sizeof(auth));
	if (role == WIRE_ROLE_HUB) {
		wire_send_ctl(fd, WIRE_VIEWERS, NULL, nv, viewers,
			      (uint32_t)(nv * LOGIN_KEY_LEN));
		/* the relay answers nothing to VIEWERS: LIST is not a hub's
		 * to send, so its refusal shows the login went through */
		wire_send_ctl(fd, WIRE_LIST, acct, 0, NULL, 0);
		return reply(fd, buf, len);
	}
	wire_send_ctl(fd, WIRE_LIST, acct, 0, NULL, 0);
	t = next(fd, (uint8_t *)buf, len, &hd);
	if (t == WIRE_STREAMS)
		t = next(fd, (uint8_t *)buf, len, &hd);
	if (t == WIRE_END) {
		snprintf(buf, len, "listed");
		return buf;
	}
	if (t == WIRE_ERROR)
		return buf;
	return "(closed)";
}

static const char *login_close(const char *src, int role, const uint8_t *acct,
			       const struct login_key *key, bool bad,
			       const uint8_t *viewers, size_t nv, char *buf,
			       size_t len)
{
	int fd;
	const char *r = login(src, role, acct, key, bad, viewers, nv, buf, len,
			      &fd);

	if (fd >= 0)
		close(fd);
	return r;
}

static void raw_clients(void)
{
	struct login_key hub, v1, v2, other;
	uint8_t acct[16], keys[2 * LOGIN_KEY_LEN];
	char buf[1024], want[200], hex[65], path[400];
	const char *r;
	uint8_t *file;
	size_t flen;
	int fd;

	login_keygen(&hub);
	login_keygen(&v1);
	login_keygen(&v2);
	login_keygen(&other);
	login_account(hub.pk, acct);
	memcpy(keys, v1.pk, LOGIN_KEY_LEN);

	/* each refusal comes from an address of its own (127.0.0.1x): the
	 * lockout below counts failures per address */
	r = login_close("127.0.0.11", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(strstr(r, "the hub has approved no viewer with this relay yet"),
	      "before its hub ever logged in, a viewer is refused, saying why: %s",
	      r);
	r = login_close("127.0.0.1", WIRE_ROLE_HUB, acct, &hub, false, keys, 1,
			buf, sizeof(buf));
	CHECK(strstr(r, "a hub sends sealed records only"),
	      "a hub logs in with its key and names one viewer (then LIST is refused as a hub's): %s",
	      r);
	r = login_close("127.0.0.1", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(!strcmp(r, "listed"), "the viewer it named logs in and lists: %s",
	      r);
	r = login_close("127.0.0.12", WIRE_ROLE_VIEWER, acct, &v2, false, NULL,
			0, buf, sizeof(buf));
	CHECK(strstr(r, "login refused: this viewer is not one the hub approved"),
	      "a viewer it did not name is refused, saying so: %s", r);
	r = login_close("127.0.0.13", WIRE_ROLE_HUB, acct, &other, false, keys,
			1, buf, sizeof(buf));
	CHECK(strstr(r, "login refused: this key does not own the account it named"),
	      "another key claiming the hub's account is refused: %s", r);
	r = login_close("127.0.0.14", WIRE_ROLE_VIEWER, acct, &v1, true, NULL, 0,
			buf, sizeof(buf));
	CHECK(strstr(r, "login refused: the signature does not verify"),
	      "a signature over another challenge is refused: %s", r);

	/* skipping steps */
	fd = dial("127.0.0.1");
	wire_send_ctl(fd, WIRE_HELLO, acct, WIRE_ROLE_VIEWER, NULL, 0);
	next(fd, (uint8_t *)buf, sizeof(buf), &(struct wire_hdr){ 0 });
	wire_send_ctl(fd, WIRE_LIST, acct, 0, NULL, 0);
	r = reply(fd, buf, sizeof(buf));
	CHECK(strstr(r, "answer the CHALLENGE with AUTH first"),
	      "LIST without AUTH is refused: %s", r);
	close(fd);
	fd = dial("127.0.0.1");
	wire_send_ctl(fd, WIRE_LIST, acct, 0, NULL, 0);
	r = reply(fd, buf, sizeof(buf));
	CHECK(strstr(r, "say HELLO first"), "LIST before HELLO is refused: %s",
	      r);
	close(fd);
	{
		/* a connection that never logs in (--login-seconds 2 here)
		 * loses its slot: silent, or stopped after its HELLO */
		int quiet = dial("127.0.0.1"), half = dial("127.0.0.1");

		wire_send_ctl(half, WIRE_HELLO, acct, WIRE_ROLE_VIEWER, NULL, 0);
		next(half, (uint8_t *)buf, sizeof(buf), &(struct wire_hdr){ 0 });
		r = reply(quiet, buf, sizeof(buf));
		CHECK(strstr(r, "not logged in in time"),
		      "a connection that says nothing is closed after the login time, saying why: %s",
		      r);
		r = reply(half, buf, sizeof(buf));
		CHECK(strstr(r, "not logged in in time"),
		      "so is one that said HELLO and never answered the challenge: %s",
		      r);
		close(quiet);
		close(half);
	}
	close(fd);
	{
		/* a hub that logs in, then sends a record before VIEWERS */
		uint8_t chal[64], auth[LOGIN_AUTH_LEN], rec[WIRE_HDR_LEN + 16];
		struct wire_hdr hd;

		fd = dial("127.0.0.1");
		wire_send_ctl(fd, WIRE_HELLO, acct, WIRE_ROLE_HUB, NULL, 0);
		next(fd, chal, sizeof(chal), &hd);
		login_sign(&hub, WIRE_ROLE_HUB, acct, chal, auth);
		wire_send_ctl(fd, WIRE_AUTH, acct, 0, auth, sizeof(auth));
		memset(rec, 0, sizeof(rec));
		wire_put(rec, 1, 16, acct, 0);
		wire_write_all(fd, rec, sizeof(rec));
		r = reply(fd, buf, sizeof(buf));
		CHECK(strstr(r, "before it sends records"),
		      "a hub's record before VIEWERS is refused: %s", r);
		close(fd);
	}

	/* bad input: each closes its own connection, with the reason */
	{
		static const struct {
			const char *what;
			uint8_t hdr[WIRE_HDR_LEN];
		} bad[] = {
			{ "an unknown frame type", { 1, 0x77 } },
			{ "a length past any limit", { 1, 0x12, 0, 0, 0x7f, 0xff, 0xff, 0xff } },
			{ "another version", { 9, 0x10 } },
			{ "a LIST that claims a body", { 1, 0x12, 0, 0, 0, 0, 0, 8 } },
		};
		int others = 0;

		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			fd = dial("127.0.0.15");
			wire_write_all(fd, bad[i].hdr, sizeof(bad[i].hdr));
			r = reply(fd, buf, sizeof(buf));
			CHECK(strstr(r, "not a frame of the moat protocol"),
			      "%s: refused, saying so: %s", bad[i].what, r);
			close(fd);
			r = login_close("127.0.0.1", WIRE_ROLE_VIEWER, acct, &v1,
					false, NULL, 0, buf, sizeof(buf));
			others += !strcmp(r, "listed");
		}
		CHECK(others == 4, "another viewer is served after each (%d of 4)",
		      others);
	}

	/* what the relay keeps: the viewer's public key, nothing more */
	{
		char acct_hex[33];

		hex_encode(acct_hex, acct, 16);
		snprintf(path, sizeof(path), "%s/%s/.viewers", h.relay_dir,
			 acct_hex);
	}
	file = read_all(path, &flen);
	hex_encode(hex, v1.pk, LOGIN_KEY_LEN);
	snprintf(want, sizeof(want), "moat-relay-viewers 1\n%s\n", hex);
	CHECK(file && flen == strlen(want) && !memcmp(file, want, flen),
	      "the relay keeps the approved viewer's public key and nothing else (%s)",
	      path);
	free(file);

	/* lockout: 3 failures from 127.0.0.2 (--lock-fails 3) */
	for (int i = 0; i < 3; i++)
		login_close("127.0.0.2", WIRE_ROLE_VIEWER, acct, &v2, false,
			    NULL, 0, buf, sizeof(buf));
	r = login_close("127.0.0.2", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(strstr(r, "too many failed logins from this address: locked out for"),
	      "after 3 failed logins the address is locked out, even for a good key: %s",
	      r);
	r = login_close("127.0.0.1", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(!strcmp(r, "listed"), "another address is still served: %s", r);
	/* a hub behind the same address (one home, one NAT) is not locked
	 * out by its viewers' failures */
	r = login_close("127.0.0.2", WIRE_ROLE_HUB, acct, &hub, false, keys, 1,
			buf, sizeof(buf));
	CHECK(strstr(r, "a hub sends sealed records only"),
	      "a hub still logs in from the address its viewers are locked out of: %s",
	      r);
	sleep(3); /* --lock-seconds 2 */
	r = login_close("127.0.0.2", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(!strcmp(r, "listed"), "the lockout ends: %s", r);

	/* a restarted relay still knows the viewers */
	CHECK(!hub_stop(&h.relay, SIGTERM, 3000) && !hub_start_relay(&h),
	      "the relay restarted");
	r = login_close("127.0.0.1", WIRE_ROLE_VIEWER, acct, &v1, false, NULL,
			0, buf, sizeof(buf));
	CHECK(!strcmp(r, "listed"), "the approved viewer logs in after a relay restart: %s",
	      r);
	login_wipe(&hub);
	login_wipe(&v1);
	login_wipe(&v2);
	login_wipe(&other);
}

static void real_processes(void)
{
	char cmd[2048], out[8192], *log;
	size_t n;

	CHECK(!hub_start_moatd(&h), "moatd up");
	sleep(3);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/out.h264 --json 2>&1",
		 h.bin, h.ident, h.relay_addr, h.dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      json_num(out, NULL, "opened") > 0,
	      "moatd logged in and sent; moat-view logged in and opened its streams: %s",
	      out);
	snprintf(cmd, sizeof(cmd), "%s/relay.log", h.dir);
	log = (char *)read_all(cmd, &n);
	CHECK(log && strstr(log, "hub logged in from 127.0.0.1") &&
		      strstr(log, "viewer logged in from 127.0.0.1") &&
		      strstr(log, "login refused: viewer from 127.0.0.2") &&
		      strstr(log, "the address is locked out") &&
		      strstr(log, "closed a new connection from 127.0.0.15: not a frame of the moat protocol"),
	      "the relay's log has the logins, the refusals, the lockout and the bad input");
	free(log);
}

/* A --hubs file with these lines; its path. */
static void hubs_file(const char *lines, char *path, size_t len)
{
	FILE *f;

	snprintf(path, len, "%s/hubs", h.dir);
	f = fopen(path, "w");
	if (f) {
		fputs(lines, f);
		fclose(f);
	}
}

static void served_only(void)
{
	char path[300], lines[256], acct[40] = "", cmd[1024], out[2048];
	char *st, *log;
	size_t n;

	st = hub_status(&h);
	CHECK(st && !json_str(st, "uplink", "account", acct, sizeof(acct)) &&
		      strlen(acct) == 32,
	      "moatctl status names the hub's account (%s)", acct);
	free(st);
	hubs_file("# the hubs this relay serves\n0123456789abcdef0123456789abcdef\n",
		  path, sizeof(path));
	h.relay_args[6] = "--hubs";
	h.relay_args[7] = path;
	CHECK(!hub_stop(&h.relay, SIGTERM, 3000) && !hub_start_relay(&h),
	      "the relay restarted, serving only another hub");
	sleep(3);
	snprintf(cmd, sizeof(cmd), "%s/relay.log", h.dir);
	log = (char *)read_all(cmd, &n);
	CHECK(log && strstr(log, "serving only the 1 hub(s) listed with --hubs") &&
		      strstr(log, "this relay does not serve this hub: its account is not in the relay's --hubs file"),
	      "the relay refuses the hub, and logs why");
	free(log);
	snprintf(cmd, sizeof(cmd), "%s/moatd.log", h.dir);
	log = (char *)read_all(cmd, &n);
	CHECK(log && strstr(log, "the relay says: login refused: this relay does not serve this hub"),
	      "moatd logs the relay's reason");
	free(log);
	snprintf(lines, sizeof(lines), "0123456789abcdef0123456789abcdef\n%s\n",
		 acct);
	hubs_file(lines, path, sizeof(path));
	st = hub_status(&h);
	n = st ? (size_t)json_num(st, "uplink", "acked") : 0;
	free(st);
	CHECK(!hub_stop(&h.relay, SIGTERM, 3000) && !hub_start_relay(&h),
	      "the relay restarted with the hub listed");
	for (int i = 0; i < 100; i++) {
		st = hub_status(&h);
		if (st && (size_t)json_num(st, "uplink", "acked") > n) {
			free(st);
			st = NULL;
			n = 0;
			break;
		}
		free(st);
		usleep(100 * 1000);
	}
	CHECK(n == 0, "the listed hub is served: the relay acknowledges it again");
	hubs_file("0123456789abcdef0123456789abcdef\nnot-an-account\n", path,
		  sizeof(path));
	snprintf(cmd, sizeof(cmd), "%s/moat-relay --dir %s --hubs %s 2>&1",
		 h.bin, h.relay_dir, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 2 &&
		      strstr(out, "line 2: `not-an-account' is not a hub's account: 32 hex digits"),
	      "a bad --hubs file stops the relay, naming the line: %s", out);
	h.relay_args[6] = NULL;
}

int main(void)
{
	static const char *extra[] = { "--lock-fails", "3", "--lock-seconds",
				       "2", "--login-seconds", "2", NULL };
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 100];

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "relayauth", lines), "hub set up");
	memcpy(h.relay_args, extra, sizeof(extra));
	CHECK(!hub_start_relay(&h), "the relay is up");
	raw_clients();
	real_processes();
	served_only();
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_relayauth");
}
