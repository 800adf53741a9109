// SPDX-License-Identifier: GPL-2.0-only
/*
 * Pairing over the LAN (crypto/pair.h, moatctl pair, moat-view pair CODE):
 *
 * - the code: what goes in comes out, IPv4 and IPv6; case, dashes, spaces
 *   and the look-alikes O, I, L do not matter; every one-character typo is
 *   caught by the check; a cut or lengthened code is refused;
 * - the messages: each parses back; cut, lengthened or retyped ones are
 *   refused; both sides derive the same MACs and psk, and another secret
 *   or another transcript gives others;
 * - the QR code moatctl pair prints reads back (zbarimg) as the code it
 *   prints as text; with nobody coming it gives up, saying so, saving
 *   nothing;
 * - with the real programs: a typo, another secret, a code for another
 *   hub, and a machine at the hub's address with another key (a test
 *   thread) are each refused with their reason, and leave no identity
 *   file and no viewer on the hub; the right code pairs (pending: the hub
 *   has an owner), once: the code is dead after; five viewers with the
 *   wrong secret kill a code;
 * - once approved, the viewer paired over the LAN opens what moatd seals
 *   (the psk both sides derived is the same), and its login at the relay
 *   works.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/pair.h"
#include "crypto/stream.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

/* ---- the code and the messages, in-process ---- */

static void code_fixed(struct pair_code *c, int family)
{
	memset(c, 0, sizeof(*c));
	for (int i = 0; i < PAIR_ID_LEN; i++)
		c->hub_id[i] = (uint8_t)(0x10 + i);
	for (int i = 0; i < PAIR_SECRET_LEN; i++)
		c->secret[i] = (uint8_t)(0xa0 ^ (i * 7));
	c->family = family;
	if (family == AF_INET6)
		inet_pton(AF_INET6, "fd00::1234:5678", c->addr);
	else
		inet_pton(AF_INET, "192.168.1.23", c->addr);
	c->port = 40123;
}

static void test_code(void)
{
	static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	struct pair_code c, d;
	char text[PAIR_CODE_TEXT_MAX], t2[PAIR_CODE_TEXT_MAX + 8];
	size_t typos = 0, caught = 0;

	for (int fam = 0; fam < 2; fam++) {
		code_fixed(&c, fam ? AF_INET6 : AF_INET);
		CHECK(!pair_code_format(&c, text, sizeof(text)) &&
			      !strncmp(text, "moat1-", 6),
		      "a code is text starting moat1-: %s", text);
		CHECK(!pair_code_parse(text, &d) && !memcmp(&c, &d, sizeof(c)),
		      "the %s code reads back as it was made",
		      fam ? "IPv6" : "IPv4");
	}
	code_fixed(&c, AF_INET);
	pair_code_format(&c, text, sizeof(text));
	/* lower case, no dashes, spaces, look-alikes */
	{
		size_t o = 0;

		for (size_t i = 0; text[i]; i++) {
			char ch = text[i];

			if (i >= 6 && ch == '-')
				continue;
			if (i >= 6 && ch == '0')
				ch = 'O';
			else if (i >= 6 && ch == '1')
				ch = (i & 1) ? 'l' : 'I';
			else if (ch >= 'A' && ch <= 'Z')
				ch = (char)(ch + 32);
			t2[o++] = ch;
			if (i > 6 && i % 9 == 0)
				t2[o++] = ' ';
		}
		t2[o] = 0;
		CHECK(!pair_code_parse(t2, &d) && !memcmp(&c, &d, sizeof(c)),
		      "case, dashes, spaces and O/I/L do not matter: %s", t2);
	}
	/* every one-character typo */
	for (size_t i = 6; text[i]; i++) {
		if (text[i] == '-')
			continue;
		for (int k = 0; k < 32; k++) {
			int r;

			if (b32[k] == text[i])
				continue;
			snprintf(t2, sizeof(t2), "%s", text);
			t2[i] = b32[k];
			typos++;
			r = pair_code_parse(t2, &d);
			caught += r == -MOAT_E_CORRUPT || r == -MOAT_E_MALFORMED;
		}
	}
	CHECK(typos > 2000 && caught == typos,
	      "every one-character typo is caught: %zu of %zu", caught, typos);
	typos = caught = 0;
	for (size_t i = 6; text[i + 1]; i++) {
		size_t j = text[i + 1] == '-' ? i + 2 : i + 1;
		int r;

		if (text[i] == '-' || !text[j] || text[i] == text[j])
			continue;
		snprintf(t2, sizeof(t2), "%s", text);
		t2[i] = text[j];
		t2[j] = text[i];
		typos++;
		r = pair_code_parse(t2, &d);
		caught += r == -MOAT_E_CORRUPT || r == -MOAT_E_MALFORMED;
	}
	CHECK(typos > 50 && caught == typos,
	      "every swap of two neighbours is caught: %zu of %zu", caught,
	      typos);
	snprintf(t2, sizeof(t2), "%s", text);
	t2[strlen(t2) - 3] = 0;
	CHECK(pair_code_parse(t2, &d) == -MOAT_E_MALFORMED, "a cut code is refused");
	snprintf(t2, sizeof(t2), "%sQQQQ", text);
	CHECK(pair_code_parse(t2, &d) == -MOAT_E_MALFORMED,
	      "a lengthened code is refused");
	CHECK(pair_code_parse("moat2-0000", &d) == -MOAT_E_VERSION &&
		      pair_code_parse("hello", &d) == -MOAT_E_VERSION,
	      "something else is not a code");
	snprintf(t2, sizeof(t2), "%s", text);
	t2[10] = 'U'; /* not in the alphabet */
	CHECK(pair_code_parse(t2, &d) == -MOAT_E_MALFORMED,
	      "a character no code has is refused");
}

static void test_messages(void)
{
	struct pair_hello hi = { 0 }, hi2;
	struct pair_reply re = { 0 }, re2;
	struct pair_keys a, b, c;
	uint8_t m1[PAIR_MSG_MAX], m2[PAIR_MSG_MAX], m[PAIR_MSG_MAX];
	uint8_t s1[PAIR_SECRET_LEN], s2[PAIR_SECRET_LEN], x[32], y[32];
	uint8_t mac[PAIR_MAC_LEN];
	char why[PAIR_ERROR_MAX + 1];
	size_t n1, n2, n;
	bool approved = false;

	memset(hi.hub_id, 1, sizeof(hi.hub_id));
	memset(hi.nonce, 2, sizeof(hi.nonce));
	memset(hi.viewer_pk, 3, sizeof(hi.viewer_pk));
	memset(hi.login_pk, 4, sizeof(hi.login_pk));
	memset(hi.viewer_id, 5, sizeof(hi.viewer_id));
	snprintf(hi.name, sizeof(hi.name), "phone of ana");
	n1 = pair_hello_put(&hi, m1);
	CHECK(!pair_hello_parse(m1, n1, &hi2) && !memcmp(&hi, &hi2, sizeof(hi)),
	      "HELLO reads back");
	CHECK(pair_hello_parse(m1, n1 - 1, &hi2) == -MOAT_E_LENGTH &&
		      pair_hello_parse(m1, n1 + 1, &hi2) == -MOAT_E_LENGTH,
	      "a HELLO cut or lengthened is refused");
	m1[n1 - 3] = '"';
	CHECK(pair_hello_parse(m1, n1, &hi2) == -MOAT_E_MALFORMED,
	      "a name with a quote is refused");
	m1[n1 - 3] = 'o';
	m1[1] = 2;
	CHECK(pair_hello_parse(m1, n1, &hi2) == -MOAT_E_VERSION,
	      "another version is refused as such");
	m1[1] = PAIR_VERSION;
	memset(re.nonce, 6, sizeof(re.nonce));
	memset(re.hub_pk, 7, sizeof(re.hub_pk));
	memset(re.hub_login_pk, 8, sizeof(re.hub_login_pk));
	n2 = pair_reply_put(&re, m2);
	CHECK(!pair_reply_parse(m2, n2, &re2) && !memcmp(&re, &re2, sizeof(re)) &&
		      pair_reply_parse(m2, n2 - 1, &re2) == -MOAT_E_LENGTH &&
		      pair_reply_parse(m1, n1, &re2) == -MOAT_E_MALFORMED,
	      "REPLY reads back; cut or of another type it is refused");
	memset(s1, 0x33, sizeof(s1));
	memcpy(s2, s1, sizeof(s2));
	s2[31] ^= 1;
	CHECK(!pair_derive(s1, m1, n1, m2, n2, &a) &&
		      !pair_derive(s1, m1, n1, m2, n2, &b) &&
		      !pair_mac(&a, "hub", x) && !pair_mac(&b, "hub", y) &&
		      pair_mac_ok(x, y),
	      "both sides derive the same hub MAC");
	CHECK(!pair_mac(&a, "viewer", y) && !pair_mac_ok(x, y),
	      "the viewer's MAC is not the hub's");
	CHECK(!pair_derive(s2, m1, n1, m2, n2, &c) && !pair_mac(&c, "hub", y) &&
		      !pair_mac_ok(x, y),
	      "another secret gives another MAC");
	m2[5] ^= 1;
	CHECK(!pair_derive(s1, m1, n1, m2, n2, &c) && !pair_mac(&c, "hub", y) &&
		      !pair_mac_ok(x, y),
	      "another transcript gives another MAC");
	m2[5] ^= 1;
	m2[n2 - 1] ^= 1; /* the MAC itself is not in the transcript */
	CHECK(!pair_derive(s1, m1, n1, m2, n2, &c) && !pair_mac(&c, "hub", y) &&
		      pair_mac_ok(x, y),
	      "the MAC is not part of what it covers");
	CHECK(!pair_psk(&a, x) && !pair_psk(&b, y) && pair_mac_ok(x, y) &&
		      memcmp(x, s1, 32),
	      "both sides derive the same psk, and it is not the secret");
	n = pair_confirm_put(x, m);
	CHECK(!pair_confirm_parse(m, n, mac) && pair_mac_ok(mac, x) &&
		      pair_confirm_parse(m, n - 1, mac) == -MOAT_E_LENGTH,
	      "CONFIRM reads back");
	n = pair_done_put(false, m);
	CHECK(!pair_end_parse(m, n, &approved, why) && !approved,
	      "DONE (pending) reads back");
	n = pair_error_put("no\nway", m);
	CHECK(pair_end_parse(m, n, &approved, why) == -MOAT_E_AUTH &&
		      !strcmp(why, "no?way"),
	      "ERROR gives its reason, printable: %s", why);
	pair_keys_wipe(&a);
	pair_keys_wipe(&b);
	pair_keys_wipe(&c);
}

/* ---- the programs ---- */

/* moat-view pair CODE as NAME into FILE: exit status; output in out. */
static int view_pair(const char *code, const char *file, const char *name,
		     char *out, size_t len)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view pair '%s' --out %s --name '%s' 2>&1", h.bin,
		 code, file, name);
	return run_cmd(cmd, out, len);
}

static int n_viewer_files(void)
{
	char cmd[400], out[64];

	snprintf(cmd, sizeof(cmd), "ls %s/keys/viewers | wc -l", h.dir);
	run_cmd(cmd, out, sizeof(out));
	return atoi(out);
}

/* moatctl pair --json in the background: its pid; the code in code. */
static pid_t start_pairing(const char *log, char *code, const char *timeout)
{
	char *argv[] = { NULL, "--config", h.conf, "pair", "--address",
			 "127.0.0.1", "--timeout", (char *)timeout, "--json",
			 NULL };
	char path[400];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/moatctl", h.bin);
	argv[0] = path;
	unlink(log);
	pid = spawn_logged(argv, log);
	code[0] = 0;
	for (int i = 0; i < 100 && !code[0]; i++) {
		size_t n = 0;
		char *s = (char *)read_all(log, &n), *p;

		if (s && (p = strstr(s, "\"code\": \"")))
			sscanf(p + 9, "%159[^\"]", code);
		free(s);
		if (!code[0])
			usleep(50 * 1000);
	}
	return pid;
}

static int wait_exit(pid_t pid)
{
	int st = -1;

	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
		usleep(50 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

/*
 * Without --address, moatctl pair never listens on a camera port: with
 * every interface that is up named a camera interface, it finds none and
 * says so, where it took the first one before.
 */
static void test_not_camera_port(void)
{
	struct ifaddrs *all, *i;
	char ports[512] = "", conf[300], cmd[2400], out[2048];
	int rc;

	if (getifaddrs(&all)) {
		CHECK(0, "getifaddrs");
		return;
	}
	for (i = all; i; i = i->ifa_next) {
		char item[IFNAMSIZ + 2], list[sizeof(ports) + 2];

		/* each name once (an interface has an entry per address) */
		snprintf(item, sizeof(item), ",%s,", i->ifa_name);
		snprintf(list, sizeof(list), ",%s,", ports);
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK) &&
		    !strstr(list, item)) {
			size_t l = strlen(ports);

			snprintf(ports + l, sizeof(ports) - l, "%s%s",
				 l ? "," : "", i->ifa_name);
		}
	}
	freeifaddrs(all);
	if (!ports[0]) {
		printf("not checked: pair and camera ports (no interface but loopback is up)\n");
		return;
	}
	snprintf(conf, sizeof(conf), "%s/ports.conf", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "sed 's|^\\[hub\\]$|[hub]\\ncamera_interfaces = %s|' %s > %s && "
		 "%s/moatctl --config %s pair --timeout 2 2>&1",
		 ports, h.conf, conf, h.bin, conf);
	rc = run_cmd(cmd, out, sizeof(out));
	CHECK(rc == 1 && strstr(out, "camera ports do not count"),
	      "with every interface a camera port (%s), pair listens on none and says so (%d): %s",
	      ports, rc, out);
}

/* The same code with one field changed, its check made right again. */
static void code_with(const char *code, char *out, bool secret, bool hub_id)
{
	struct pair_code c;

	out[0] = 0;
	if (pair_code_parse(code, &c))
		return;
	if (secret)
		c.secret[0] ^= 0x80;
	if (hub_id)
		c.hub_id[15] ^= 1;
	pair_code_format(&c, out, PAIR_CODE_TEXT_MAX);
}

/* The QR code in moatctl pair's terminal output, read back by zbarimg. */
static void test_qr(void)
{
	char cmd[2048], text[PAIR_CODE_TEXT_MAX] = "", read_back[256] = "";
	char path[400], pbm[400];
	size_t n = 0;
	char *s, *line, *save = NULL;
	FILE *f;
	int rows = 0, width = 0, st;
	static uint8_t mod[256][256];

	snprintf(path, sizeof(path), "%s/qr.txt", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moatctl --config %s pair --address 127.0.0.1 --timeout 1 >%s 2>%s.err",
		 h.bin, h.conf, path, path);
	st = run_cmd(cmd, NULL, 0);
	s = (char *)read_all(path, &n);
	CHECK(st == 1 && s, "moatctl pair with nobody coming gives up (exit %d)",
	      st);
	if (!s)
		return;
	for (line = strtok_r(s, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *p = strstr(line, "\033[40;97m"), *q;
		int x = 0;

		if ((q = strstr(line, "moat-view pair moat1-")))
			sscanf(q + 15, "%159s", text);
		if (!p || rows >= 254)
			continue;
		for (p += 8; *p && *p != '\033' && x < 256; x++) {
			bool top, bot;

			if (!strncmp(p, "\u2588", 3)) {
				top = bot = false; /* light over light */
				p += 3;
			} else if (!strncmp(p, "\u2580", 3)) {
				top = false;
				bot = true;
				p += 3;
			} else if (!strncmp(p, "\u2584", 3)) {
				top = true;
				bot = false;
				p += 3;
			} else {
				top = bot = true;
				p++;
			}
			mod[rows][x] = top;
			mod[rows + 1][x] = bot;
		}
		width = x;
		rows += 2;
	}
	free(s);
	snprintf(pbm, sizeof(pbm), "%s/qr.pbm", h.dir);
	f = fopen(pbm, "w");
	if (f) {
		fprintf(f, "P1\n%d %d\n", width * 4, rows * 4);
		for (int y = 0; y < rows * 4; y++) {
			for (int x = 0; x < width * 4; x++)
				fputs(mod[y / 4][x / 4] ? "1 " : "0 ", f);
			fputc('\n', f);
		}
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "zbarimg --raw -q %s 2>/dev/null", pbm);
	run_cmd(cmd, read_back, sizeof(read_back));
	read_back[strcspn(read_back, "\n")] = 0;
	for (char *p = text; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	CHECK(rows > 20 && text[0] && !strcmp(read_back, text),
	      "the QR code reads back as the code printed as text (%d rows): %s",
	      rows, read_back);
	snprintf(cmd, sizeof(cmd), "%s.err", path);
	s = (char *)read_all(cmd, &n);
	CHECK(s && strstr(s, "no viewer paired in time") &&
		      strstr(s, "no viewer was saved"),
	      "it says why it gave up: %s", s ? s : "");
	free(s);
}

/* A machine at the hub's address that holds the code's secret but not the
 * hub's key (say, one that saw the code over the owner's shoulder). */
struct impostor {
	int lfd;
	struct pair_code code;
	pthread_t th;
};

static void *impostor_run(void *arg)
{
	struct impostor *im = arg;
	uint8_t m1[PAIR_MSG_MAX], m2[PAIR_MSG_MAX];
	struct pair_reply re = { 0 };
	struct pair_keys k;
	int fd = accept(im->lfd, NULL, NULL);
	long n;

	if (fd < 0)
		return NULL;
	n = pair_recv(fd, m1);
	memset(re.hub_pk, 0x42, sizeof(re.hub_pk));
	if (n > 0) {
		size_t n2 = pair_reply_put(&re, m2);

		pair_derive(im->code.secret, m1, (size_t)n, m2, n2, &k);
		pair_mac(&k, "hub", re.mac);
		n2 = pair_reply_put(&re, m2);
		pair_send(fd, m2, n2);
		pair_recv(fd, m1);
	}
	close(fd);
	return NULL;
}

static void test_impostor(const char *code)
{
	struct impostor im;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	char text[PAIR_CODE_TEXT_MAX], out[1024], file[300];

	snprintf(file, sizeof(file), "%s/impostor.key", h.dir);
	im.lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (pair_code_parse(code, &im.code) ||
	    bind(im.lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(im.lfd, 1) ||
	    getsockname(im.lfd, (struct sockaddr *)&sa, &sl)) {
		CHECK(0, "an impostor listens");
		return;
	}
	im.code.port = ntohs(sa.sin_port);
	pair_code_format(&im.code, text, sizeof(text));
	pthread_create(&im.th, NULL, impostor_run, &im);
	CHECK(view_pair(text, file, "eve", out, sizeof(out)) == 1 &&
		      strstr(out, "is not the hub of this code") &&
		      strstr(out, "nothing was saved") && access(file, F_OK),
	      "a machine with the secret but another key is refused, nothing saved: %s",
	      out);
	pthread_join(im.th, NULL);
	close(im.lfd);
}

int main(void)
{
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 100], code[PAIR_CODE_TEXT_MAX + 8];
	char bad[PAIR_CODE_TEXT_MAX + 8], out[4096], log[300], ident[300];
	char cmd[1024], *st = NULL;
	struct stat sb;
	pid_t pid;
	int before;

	test_code();
	test_messages();
	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "pair", lines), "a hub; its owner paired");
	test_qr();
	test_not_camera_port();
	before = n_viewer_files();

	snprintf(log, sizeof(log), "%s/pair.log", h.dir);
	snprintf(ident, sizeof(ident), "%s/ana.key", h.dir);
	pid = start_pairing(log, code, "60");
	CHECK(code[0], "moatctl pair --json gives the code: %s", code);

	/* a typo: the check catches it before anything is sent */
	snprintf(bad, sizeof(bad), "%s", code);
	bad[21] = bad[21] == 'A' ? 'B' : 'A'; /* [20] is a dash */
	CHECK(view_pair(bad, ident, "ana", out, sizeof(out)) == 2 &&
		      strstr(out, "typo") && access(ident, F_OK),
	      "a mistyped code is refused as a typo: %s", out);
	code_with(code, bad, true, false);
	CHECK(view_pair(bad, ident, "ana", out, sizeof(out)) == 1 &&
		      strstr(out, "does not hold this code's secret") &&
		      strstr(out, "nothing was saved") && access(ident, F_OK),
	      "another secret: refused, nothing saved: %s", out);
	code_with(code, bad, false, true);
	CHECK(view_pair(bad, ident, "ana", out, sizeof(out)) == 1 &&
		      strstr(out, "this code is for another hub") &&
		      access(ident, F_OK),
	      "a code for another hub: the hub says so: %s", out);
	test_impostor(code);
	CHECK(n_viewer_files() == before,
	      "none of those left a viewer on the hub");

	CHECK(view_pair(code, ident, "ana", out, sizeof(out)) == 0 &&
		      strstr(out, "pending") && !stat(ident, &sb) &&
		      (sb.st_mode & 0777) == 0600,
	      "the right code pairs; the identity is 0600; pending: %s", out);
	CHECK(wait_exit(pid) == 0, "moatctl pair ends, done");
	{
		size_t n = 0;
		char *s = (char *)read_all(log, &n);

		CHECK(s && strstr(s, "\"paired\": true, \"name\": \"ana\"") &&
			      strstr(s, "\"state\": \"pending\"") &&
			      strstr(s, "did not confirm") &&
			      strstr(s, "this code is for another hub"),
		      "the hub said who paired, and whom it turned away: %s",
		      s ? s : "");
		free(s);
	}
	snprintf(bad, sizeof(bad), "%s/ana2.key", h.dir);
	CHECK(view_pair(code, bad, "ana2", out, sizeof(out)) == 1 &&
		      strstr(out, "cannot reach the hub") && access(bad, F_OK),
	      "the code works once: %s", out);
	CHECK(n_viewer_files() == before + 1, "one viewer more on the hub");

	/* five viewers with another secret kill a code */
	pid = start_pairing(log, code, "60");
	code_with(code, bad, true, false);
	snprintf(ident, sizeof(ident), "%s/x.key", h.dir);
	for (int i = 0; i < 5; i++)
		CHECK(view_pair(bad, ident, "x", out, sizeof(out)) == 1 &&
			      strstr(out, "does not hold this code's secret"),
		      "wrong secret %d: %s", i + 1, out);
	CHECK(wait_exit(pid) == 1, "after five wrong secrets moatctl pair gives up");
	{
		size_t n = 0;
		char *s = (char *)read_all(log, &n);

		CHECK(s && strstr(s, "too many viewers came with the wrong code"),
		      "saying why: %s", s ? s : "");
		free(s);
	}
	CHECK(n_viewer_files() == before + 1, "and saved nothing");

	/* approved, it opens what moatd seals to it */
	snprintf(ident, sizeof(ident), "%s/ana.key", h.dir);
	snprintf(cmd, sizeof(cmd), "%s/moatctl --config %s viewers approve ana 2>&1",
		 h.bin, h.conf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "the owner approves ana: %s",
	      out);
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	for (int i = 0; i < 150; i++) {
		free(st);
		st = hub_status(&h);
		if (st && json_num(st, "sealer", "viewers") == 2)
			break;
		usleep(100 * 1000);
	}
	CHECK(st && json_num(st, "sealer", "viewers") == 2,
	      "the sealer seals to the owner and ana");
	free(st);
	sleep(3);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/ana.h264 --json 2>&1",
		 h.bin, ident, h.relay_addr, h.dir);
	run_cmd(cmd, out, sizeof(out));
	CHECK(json_num(out, NULL, "opened") >= 1 &&
		      json_num(out, NULL, "refused") == 0 &&
		      json_num(out, NULL, "frames") > 30,
	      "ana, paired over the LAN, logs in to the relay and opens what was sealed: %s",
	      out);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_pair");
}
