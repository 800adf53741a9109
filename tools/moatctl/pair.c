// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatctl pair: lets one viewer pair with this hub over the LAN
 * (crypto/pair.h, docs/PROTOCOL.md section 9). It listens on one address
 * for this pairing only, shows the code as a QR code and as text, and
 * waits (5 minutes unless told otherwise) for the viewer that holds it.
 * A viewer that answers with another secret is turned away, and after
 * PAIR_TRIES of those the code is dead. The first viewer of a hub is
 * approved at once; any later one is pending until the owner approves it
 * (moatctl viewers approve), and a running moatd is told either way.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/keystore.h"
#include "crypto/pair.h"
#include "daemon/config.h"
#include "tools/moatctl/cmds.h"

enum { PAIR_TRIES = 5, PAIR_IO_TIMEOUT_S = 15 };

/* The hub's side of what one pairing needs. */
struct hub_side {
	const char *keys;
	uint8_t hub_id[PAIR_ID_LEN];
	uint8_t hub_pk[PAIR_KEY_LEN];
	uint8_t login_pk[PAIR_KEY_LEN];
	uint8_t secret[PAIR_SECRET_LEN];
};

/* The QR code, two rows of modules per line of text, dark on light
 * whatever the terminal's colours, with a quiet zone of 2 modules. */
static void print_qr(const char *text)
{
	QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_L, QR_MODE_8, 1);
	int w, m = 2;

	if (!q) {
		printf("(no QR code: %s; type the code instead)\n",
		       strerror(errno));
		return;
	}
	w = q->width;
	for (int y = -m; y < w + m; y += 2) {
		fputs("\033[40;97m", stdout);
		for (int x = -m; x < w + m; x++) {
			bool top = y >= 0 && y < w && x >= 0 && x < w &&
				   (q->data[y * w + x] & 1);
			bool bot = y + 1 >= 0 && y + 1 < w && x >= 0 && x < w &&
				   (q->data[(y + 1) * w + x] & 1);

			fputs(!top && !bot ? "\u2588" : !top ? "\u2580" :
			      !bot	   ? "\u2584" :
						 " ",
			      stdout);
		}
		fputs("\033[0m\n", stdout);
	}
	QRcode_free(q);
}

/* The first IPv4 address of an interface that is up and not loopback. */
/* Whether name is one of the comma-separated camera interfaces. */
static bool camera_port(const char *name, const char *list)
{
	char port[CFG_IFNAME_MAX];

	for (const char *p = list; (p = cfg_next_interface(p, port));)
		if (!strcmp(port, name))
			return true;
	return false;
}

/* The first IPv4 address of an interface that is up, not loopback and
 * not a camera port (a viewer is never on the camera network). */
static int lan_address(struct sockaddr_storage *ss, const char *cameras)
{
	struct ifaddrs *all, *i;
	int ret = -ENOENT;

	if (getifaddrs(&all))
		return -errno;
	for (i = all; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    (i->ifa_flags & IFF_UP) && !(i->ifa_flags & IFF_LOOPBACK) &&
		    !camera_port(i->ifa_name, cameras)) {
			memcpy(ss, i->ifa_addr, sizeof(struct sockaddr_in));
			ret = 0;
			break;
		}
	freeifaddrs(all);
	return ret;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

/* One viewer's attempt: 0 paired, 1 turned away (said why), -errno. */
static int one_viewer(struct hub_side *h, int fd, const char *peer, bool json,
		      const char *sock)
{
	uint8_t m1[PAIR_MSG_MAX], m2[PAIR_MSG_MAX], m[PAIR_MSG_MAX];
	uint8_t mac[PAIR_MAC_LEN];
	struct pair_hello hello;
	struct pair_reply reply = { 0 };
	struct pair_keys keys;
	struct ks_viewer v = { 0 }, *all = NULL;
	size_t n1, n2, n_all = 0;
	const char *why = NULL;
	bool approved;
	long n;
	int ret;

	n = pair_recv(fd, m1);
	if (n < 0 || pair_hello_parse(m1, (size_t)n, &hello)) {
		fprintf(stderr, "moatctl: pair: %s did not start a pairing (%s)\n",
			peer, n < 0 ? moat_strerror((int)n) : "not a HELLO");
		return 1;
	}
	n1 = (size_t)n;
	if (memcmp(hello.hub_id, h->hub_id, PAIR_ID_LEN)) {
		why = "this code is for another hub";
		goto refuse;
	}
	memcpy(reply.hub_pk, h->hub_pk, PAIR_KEY_LEN);
	memcpy(reply.hub_login_pk, h->login_pk, PAIR_KEY_LEN);
	if (RAND_bytes(reply.nonce, sizeof(reply.nonce)) != 1)
		return -EIO;
	n2 = pair_reply_put(&reply, m2); /* the MAC is not in the transcript */
	ret = pair_derive(h->secret, m1, n1, m2, n2, &keys);
	if (!ret)
		ret = pair_mac(&keys, "hub", reply.mac);
	if (ret)
		return ret;
	n2 = pair_reply_put(&reply, m2);
	if (pair_send(fd, m2, n2)) {
		pair_keys_wipe(&keys);
		fprintf(stderr, "moatctl: pair: %s went away\n", peer);
		return 1;
	}
	n = pair_recv(fd, m);
	if (n < 0 || pair_confirm_parse(m, (size_t)n, mac)) {
		pair_keys_wipe(&keys);
		fprintf(stderr, "moatctl: pair: %s did not confirm (%s): a viewer with another code stops here\n",
			peer, n < 0 ? moat_strerror((int)n) : "not a CONFIRM");
		return 1;
	}
	{
		uint8_t want[PAIR_MAC_LEN];

		ret = pair_mac(&keys, "viewer", want);
		if (!ret && !pair_mac_ok(want, mac)) {
			pair_keys_wipe(&keys);
			why = "the viewer does not hold this code's secret";
			goto refuse;
		}
	}
	/* the viewer holds the secret: it becomes a viewer of this hub */
	ret = ret ? ret : ks_viewer_list(h->keys, &all, &n_all);
	for (size_t i = 0; !ret && i < n_all; i++) {
		if (!strcmp(all[i].name, hello.name))
			why = "a viewer of that name is paired already: pair with another --name";
		if (!memcmp(all[i].rcpt.viewer_id, hello.viewer_id,
			    PAIR_ID_LEN))
			why = "a viewer with that id is paired already";
	}
	if (!ret && n_all >= KS_MAX_VIEWERS)
		why = "the hub has as many viewers as a stream can be sealed to: remove one first";
	memcpy(v.rcpt.viewer_id, hello.viewer_id, PAIR_ID_LEN);
	memcpy(v.rcpt.pk, hello.viewer_pk, PAIR_KEY_LEN);
	memcpy(v.login_pk, hello.login_pk, PAIR_KEY_LEN);
	snprintf(v.name, sizeof(v.name), "%s", hello.name);
	approved = !n_all;
	v.state = approved ? KS_VIEWER_APPROVED : KS_VIEWER_PENDING;
	v.added = time(NULL);
	if (!ret && !why)
		ret = pair_psk(&keys, v.rcpt.psk);
	pair_keys_wipe(&keys);
	ks_viewer_list_free(all, n_all);
	if (!ret && !why)
		ret = ks_viewer_save(h->keys, &v);
	ks_viewer_wipe(&v);
	if (ret) {
		fprintf(stderr, "moatctl: pair: the key store %s: %s\n", h->keys,
			moat_strerror(ret));
		why = "the hub could not save the viewer";
		pair_send(fd, m, pair_error_put(why, m));
		return ret;
	}
	if (why)
		goto refuse;
	if (pair_send(fd, m, pair_done_put(approved, m)))
		fprintf(stderr, "moatctl: pair: %s left before it heard it was paired: if it has no identity, remove it (moatctl viewers remove %s)\n",
			peer, hello.name);
	if (json) {
		char hex[2 * PAIR_ID_LEN + 1];

		hex_encode(hex, hello.viewer_id, PAIR_ID_LEN);
		printf("{\"paired\": true, \"name\": \"%s\", \"id\": \"%s\", \"state\": \"%s\", \"from\": \"%s\"}\n",
		       hello.name, hex,
		       approved ? "approved" : "pending",
		       peer);
	} else if (approved) {
		printf("paired %s (from %s): approved, the first viewer of this hub\n",
		       hello.name, peer);
	} else {
		printf("paired %s (from %s): pending; new streams are sealed to it once you run `moatctl viewers approve %s'\n",
		       hello.name, peer, hello.name);
	}
	fflush(stdout);
	viewers_tell(sock, json);
	return 0;
refuse:
	fprintf(stderr, "moatctl: pair: turned %s (%s) away: %s\n", peer,
		hello.name, why);
	pair_send(fd, m, pair_error_put(why, m));
	return 1;
}

static const char pair_usage[] =
	"usage: moatctl [--config FILE] pair [--address ADDR] [--port N]\n"
	"                                    [--timeout SECONDS] [--json]\n";

int pair_cmd(const char *cfg_path, const char *sock, int argc, char **argv,
	     bool json)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static struct cfg c;
	struct sockaddr_storage ss = { 0 };
	socklen_t sl = sizeof(ss);
	struct hub_side h = { 0 };
	struct pair_code code = { 0 };
	struct seal_hub_key hk;
	struct login_key lk;
	char text[PAIR_CODE_TEXT_MAX], where[INET6_ADDRSTRLEN];
	unsigned int lport;
	const char *addr = NULL;
	long port = 0, timeout = 300;
	int ch, lfd = -1, ret, tries = 0;
	time_t deadline;

	log_init("moatctl", LOG_LVL_WARN);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "a:p:t:jh", opts, NULL)) != -1) {
		char *end;

		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "moatctl: pair: --port %s: give a port from 1 to 65535\n",
					optarg);
				return 2;
			}
			break;
		case 't':
			timeout = strtol(optarg, &end, 10);
			if (*end || timeout < 1 || timeout > 3600) {
				fprintf(stderr, "moatctl: pair: --timeout %s: give seconds from 1 to 3600\n",
					optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(pair_usage, stdout);
			return 0;
		default:
			fputs(pair_usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "moatctl: pair: unexpected `%s'\n%s", argv[optind],
			pair_usage);
		return 2;
	}
	if (cfg_load(cfg_path, &c))
		return 1;
	h.keys = c.keys;
	ret = ks_hub_load(c.keys, &hk);
	if (ret == -ENOENT)
		ret = ks_hub_create(c.keys, &hk);
	if (ret) {
		fprintf(stderr, "moatctl: pair: the hub key in %s: %s\n", c.keys,
			moat_strerror(ret));
		return 1;
	}
	memcpy(h.hub_pk, hk.pk, PAIR_KEY_LEN);
	seal_key_id(hk.pk, h.hub_id);
	ks_hub_wipe(&hk);
	ret = ks_login_load_or_create(c.keys, &lk);
	if (ret) {
		fprintf(stderr, "moatctl: pair: the relay login key in %s: %s\n",
			c.keys, moat_strerror(ret));
		return 1;
	}
	memcpy(h.login_pk, lk.pk, PAIR_KEY_LEN);
	login_wipe(&lk);

	if (addr ? parse_addr(addr, &ss) :
		   lan_address(&ss, c.camera_interfaces)) {
		fprintf(stderr, addr ? "moatctl: pair: --address %s is not an IPv4 or IPv6 address\n" :
				       "moatctl: pair: this machine has no IPv4 address on an interface that is up (camera ports do not count: viewers are never on the camera network): give the one the viewer reaches it at with --address\n",
			addr);
		return addr ? 2 : 1;
	}
	if (ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
	else
		((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
	lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) ||
	    bind(lfd, (struct sockaddr *)&ss,
		 ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					    sizeof(struct sockaddr_in)) ||
	    listen(lfd, 4) || getsockname(lfd, (struct sockaddr *)&ss, &sl)) {
		fprintf(stderr, "moatctl: pair: cannot listen on %s: %s\n",
			addr ? addr : "the LAN address", strerror(errno));
		if (lfd >= 0)
			close(lfd);
		return 1;
	}
	code.family = ss.ss_family;
	if (ss.ss_family == AF_INET6) {
		memcpy(code.addr, &((struct sockaddr_in6 *)&ss)->sin6_addr, 16);
		code.port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		memcpy(code.addr, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		code.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	inet_ntop(code.family, code.addr, where, sizeof(where));
	lport = code.port;
	memcpy(code.hub_id, h.hub_id, PAIR_ID_LEN);
	if (RAND_priv_bytes(h.secret, sizeof(h.secret)) != 1) {
		close(lfd);
		return 1;
	}
	memcpy(code.secret, h.secret, PAIR_SECRET_LEN);
	pair_code_format(&code, text, sizeof(text));
	OPENSSL_cleanse(&code, sizeof(code));
	if (json) {
		printf("{\"code\": \"%s\", \"address\": \"%s\", \"port\": %u, \"timeout\": %ld}\n",
		       text, where, lport, timeout);
	} else {
		char upper[PAIR_CODE_TEXT_MAX];

		for (size_t i = 0; i <= strlen(text); i++)
			upper[i] = (char)(text[i] >= 'a' && text[i] <= 'z' ?
						  text[i] - 32 : text[i]);
		print_qr(upper); /* upper case: the QR code's compact mode */
		OPENSSL_cleanse(upper, sizeof(upper));
		printf("\nPair a viewer with this hub: scan the code above, or run\n\n"
		       "  moat-view pair %s --out FILE\n\n"
		       "on the viewer, on this LAN (the hub listens on %s port %u).\n"
		       "The code works once and for %ld seconds; keep it to yourself:\n"
		       "whoever holds it can pair (a second viewer still needs your\n"
		       "approval). Waiting...\n",
		       text, where, lport, timeout);
	}
	fflush(stdout);
	deadline = time(NULL) + timeout;
	for (ret = -ETIMEDOUT; tries < PAIR_TRIES;) {
		struct pollfd pf = { .fd = lfd, .events = POLLIN };
		struct sockaddr_storage ps;
		socklen_t pl = sizeof(ps);
		struct timeval tv = { .tv_sec = PAIR_IO_TIMEOUT_S };
		char peer[INET6_ADDRSTRLEN + 8] = "?";
		time_t left = deadline - time(NULL);
		int fd, r;

		if (left <= 0 || poll(&pf, 1, (int)left * 1000) <= 0)
			break;
		fd = accept4(lfd, (struct sockaddr *)&ps, &pl, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		inet_ntop(ps.ss_family,
			  ps.ss_family == AF_INET6 ?
				  (void *)&((struct sockaddr_in6 *)&ps)->sin6_addr :
				  (void *)&((struct sockaddr_in *)&ps)->sin_addr,
			  peer, sizeof(peer));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		r = one_viewer(&h, fd, peer, json, sock ? sock : c.control);
		close(fd);
		if (r <= 0) {
			ret = r;
			break;
		}
		tries++;
	}
	close(lfd);
	OPENSSL_cleanse(&h, sizeof(h));
	OPENSSL_cleanse(text, sizeof(text));
	if (ret == -ETIMEDOUT || tries == PAIR_TRIES) {
		const char *why = tries == PAIR_TRIES ?
					  "too many viewers came with the wrong code" :
					  "no viewer paired in time";

		if (json)
			printf("{\"paired\": false, \"error\": \"%s\"}\n", why);
		fprintf(stderr, "moatctl: pair: %s; the code is dead (no viewer was saved; the hub's keys, made if missing, stay): run moatctl pair again\n",
			why);
		return 1;
	}
	return ret ? 1 : 0;
}
