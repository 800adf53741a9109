// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay as attacker on live records (guarantee 4): between moat-relay
 * and `moat-view live` sits a proxy, written here, that passes the login
 * through and then, in the records going to the viewer, flips one bit of
 * a data record of one stream, drops a data record of another, sends a
 * data record of a third twice, and splices a record of one stream into
 * a fourth (which the viewer, sorting live records by stream id, sees as
 * a record missing from the fourth). moatd records a camera in real time. The viewer refuses each
 * of those four streams with the precise reason (and drops it there), and
 * opens every other stream whole.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/wire.h"
#include "crypto/stream.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

enum { ATTACK_FLIP, ATTACK_DROP, ATTACK_REPLAY, ATTACK_SPLICE, N_ATTACKS };

static const char *const reasons[N_ATTACKS] = {
	"record failed authentication",
	"ahead of the next expected",
	"already seen",
	/* live records are told apart by their stream id: the spliced one
	 * is taken as its own stream's (ended by then, so dropped), and
	 * this stream misses a record */
	"ahead of the next expected",
};

struct proxy {
	int lfd;
	unsigned int port;
	int streams;	 /* stream headers seen */
	int attacked[N_ATTACKS];
	uint8_t ids[N_ATTACKS][16]; /* the streams attacked */
	uint8_t spare[WIRE_HDR_LEN + 256]; /* a record of another stream */
	size_t spare_len;
};

/* One record from the relay: passed on, or attacked. Streams 2 to 5 (the
 * first whole ones the viewer sees) get one attack each, at their third
 * data record. */
static int pass(struct proxy *px, int to, const struct wire_hdr *hd,
		uint8_t *f)
{
	size_t len = WIRE_HDR_LEN + hd->body_len;
	int k;

	if (hd->type == 1)
		px->streams++;
	k = px->streams - 2;
	if (hd->type == 2 && hd->body_len < sizeof(px->spare) - WIRE_HDR_LEN &&
	    k < 0) {
		memcpy(px->spare, f, len); /* a small record of stream 1 */
		px->spare_len = len;
	}
	if (k < 0 || k >= N_ATTACKS || hd->type != 2 || hd->value != 3 ||
	    px->attacked[k])
		return wire_write_all(to, f, len);
	px->attacked[k] = 1;
	memcpy(px->ids[k], hd->id, 16);
	switch (k) {
	case ATTACK_FLIP:
		f[WIRE_HDR_LEN + hd->body_len / 2] ^= 0x04;
		return wire_write_all(to, f, len);
	case ATTACK_DROP:
		return 0;
	case ATTACK_REPLAY:
		return wire_write_all(to, f, len) || wire_write_all(to, f, len) ? -1 : 0;
	case ATTACK_SPLICE:
		if (!px->spare_len)
			return wire_write_all(to, f, len);
		/* the other stream's record, under this one's counter */
		{
			uint8_t rec[sizeof(px->spare)];

			memcpy(rec, px->spare, px->spare_len);
			memcpy(rec + 24, f + 24, 8);
			return wire_write_all(to, rec, px->spare_len);
		}
	}
	return -1;
}

static void *proxy_run(void *arg)
{
	struct proxy *px = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)h.port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int v = accept4(px->lfd, NULL, NULL, SOCK_CLOEXEC);
	int r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct wire_rx rx;
	bool login = true; /* CHALLENGE first: passed through whole */

	if (v < 0 || r < 0 || connect(r, (struct sockaddr *)&sa, sizeof(sa)) ||
	    wire_rx_init(&rx, REC_BODY_MAX + WIRE_HDR_LEN))
		return NULL;
	for (;;) {
		struct pollfd pf[2] = { { .fd = v, .events = POLLIN },
					{ .fd = r, .events = POLLIN } };
		uint8_t buf[65536];
		ssize_t n;

		if (poll(pf, 2, 10000) <= 0)
			break;
		if (pf[0].revents) { /* viewer to relay: as is */
			n = recv(v, buf, sizeof(buf), 0);
			if (n <= 0 || wire_write_all(r, buf, (size_t)n))
				break;
		}
		if (pf[1].revents) { /* relay to viewer: frame by frame */
			size_t room;
			uint8_t *dst = wire_rx_space(&rx, &room);
			struct wire_hdr hd;
			const uint8_t *f;
			int ret;

			n = room ? recv(r, dst, room, 0) : -1;
			if (n <= 0)
				break;
			wire_rx_added(&rx, (size_t)n);
			while ((ret = wire_rx_next(&rx, &hd, &f)) == 1) {
				if (login || !wire_is_record(hd.type)) {
					login = false;
					ret = wire_write_all(v, f, WIRE_HDR_LEN + hd.body_len);
				} else {
					ret = pass(px, v, &hd, (uint8_t *)f);
				}
				if (ret)
					break;
			}
			if (ret < 0)
				break;
		}
	}
	wire_rx_free(&rx);
	close(v);
	close(r);
	return NULL;
}

int main(void)
{
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 200], relay[64], out[300], js_path[300], bin[300],
		secs[] = "9";
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	struct proxy px = { 0 };
	pthread_t th;
	pid_t pid;
	int status = -1;
	char *js;
	size_t n;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "livetamper", lines), "hub set up");
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	px.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (px.lfd < 0 || bind(px.lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(px.lfd, 1) ||
	    getsockname(px.lfd, (struct sockaddr *)&sa, &sl)) {
		CHECK(0, "the tampering proxy listens");
		hub_cleanup(&h, true);
		return test_done("test_livetamper");
	}
	snprintf(relay, sizeof(relay), "127.0.0.1:%u", ntohs(sa.sin_port));
	pthread_create(&th, NULL, proxy_run, &px);
	snprintf(bin, sizeof(bin), "%s/moat-view", h.bin);
	snprintf(out, sizeof(out), "%s/live.h264", h.dir);
	snprintf(js_path, sizeof(js_path), "%s/live.json", h.dir);
	{
		char *argv[] = { bin, "live", "--identity", h.ident, "--relay",
				 relay, "--seconds", secs, "--out", out,
				 "--json", NULL };

		pid = spawn_logged(argv, js_path);
	}
	waitpid(pid, &status, 0);
	pthread_join(th, NULL);
	js = (char *)read_all(js_path, &n);
	for (int k = 0; k < N_ATTACKS; k++)
		CHECK(px.attacked[k], "the proxy made attack %d", k);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1,
	      "moat-view live exits 1: it refused streams");
	CHECK(js && json_num(js, NULL, "refused") == N_ATTACKS,
	      "the four attacked streams refused, no other: %s", js ? js : "");
	CHECK(js && json_num(js, NULL, "ended") >= 2,
	      "the others opened whole: %s", js ? js : "");
	for (int k = 0; js && k < N_ATTACKS; k++) {
		char hex[33], *line;

		for (int i = 0; i < 16; i++)
			snprintf(hex + 2 * i, 3, "%02x", px.ids[k][i]);
		line = strstr(js, hex);
		CHECK(line && strstr(line, reasons[k]) &&
			      strstr(line, reasons[k]) < strchr(line, '\n'),
		      "stream %.8s... refused for `%s'", hex, reasons[k]);
	}
	free(js);
	close(px.lfd);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_livetamper");
}
