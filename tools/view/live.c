// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-view live: the hub's streams as the relay forwards them (LIVE), or
 * as the hub itself serves them on the LAN (--hub; the same protocol),
 * opened record by record. Each stream is opened from its header; each
 * record's access unit is written only after its tag verified; a record
 * that fails ends its stream (said on stderr) and nothing more of it is
 * written. Several cameras interleave; --camera keeps one.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "common/hex.h"
#include "crypto/frame.h"
#include "crypto/heartbeat.h"
#include "crypto/stream.h"
#include "tools/view/view.h"

enum {
	LIVE_OPEN_MAX = 64,
	LIVE_RENEW_S = 30, /* a live request lasts 60 s at the hub */
};

struct live_stream {
	uint8_t id[16];
	struct open_stream *os;
	bool meta;   /* its META came: camera known */
	bool shown;  /* the camera wanted */
	uint64_t began; /* its order among the streams seen */
};

struct live {
	const struct open_identity *oid;
	const char *camera;
	FILE *out;
	struct live_stream s[LIVE_OPEN_MAX];
	size_t n;
	uint8_t *pt; /* plaintext of one record, wiped after use */
	uint64_t streams, frames, bytes, refused, ended;
};

static volatile sig_atomic_t live_stop;

static void on_sig(int sig)
{
	(void)sig;
	live_stop = 1;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct live_stream *find(struct live *l, const uint8_t *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (!memcmp(l->s[i].id, id, 16))
			return &l->s[i];
	return NULL;
}

static void drop(struct live *l, struct live_stream *s)
{
	open_stream_free(s->os);
	*s = l->s[--l->n];
}

/* One access unit or META of stream s, verified. */
static int on_plain(struct live *l, struct live_stream *s, size_t n,
		    bool final)
{
	const uint8_t *payload;
	struct frame_hdr f;
	size_t plen;
	int ret;

	if (!n && final)
		return 0;
	ret = frame_parse(l->pt, n, &f, &payload, &plen);
	if (ret)
		return ret;
	if (f.kind == FRAME_KIND_META) {
		struct frame_meta m;

		ret = frame_meta_parse(payload, plen, &m);
		if (ret)
			return ret;
		s->meta = true;
		s->shown = !l->camera || !strcmp(l->camera, m.camera);
		return 0;
	}
	if (!s->meta || !s->shown)
		return 0;
	if (fwrite(payload, 1, plen, l->out) != plen || fflush(l->out))
		return -EIO;
	l->frames++;
	l->bytes += plen;
	return 0;
}

static int on_record(struct live *l, const struct wire_hdr *h,
		     const uint8_t *rec)
{
	size_t len = WIRE_HDR_LEN + h->body_len, n = 0;
	struct live_stream *s = find(l, h->id);
	char hex[33];
	bool final = false;
	int ret;

	if (h->type == 1) { /* a stream starts */
		if (s)
			return 0;
		/* full: the stream begun longest ago goes (one the hub cut
		 * short never ends) */
		if (l->n == LIVE_OPEN_MAX) {
			size_t old = 0;

			for (size_t i = 1; i < l->n; i++)
				if (l->s[i].began < l->s[old].began)
					old = i;
			drop(l, &l->s[old]);
		}
		s = &l->s[l->n];
		memset(s, 0, sizeof(*s));
		memcpy(s->id, h->id, 16);
		s->began = l->streams;
		s->os = open_stream_new(l->oid);
		if (!s->os)
			return -ENOMEM;
		l->n++;
		l->streams++;
	} else if (!s) {
		return 0; /* a stream begun before we asked, or dropped */
	}
	ret = open_record(s->os, rec, len, l->pt, REC_BODY_MAX, &n, &final);
	if (!ret && h->type != 1)
		ret = on_plain(l, s, n, final);
	OPENSSL_cleanse(l->pt, n);
	if (ret == -EIO)
		return ret;
	if (ret) {
		hex_encode(hex, s->id, 16);
		fprintf(stderr, "moat-view: live stream %s refused: %s\n", hex,
			open_stream_why(s->os)[0] ? open_stream_why(s->os) :
						    moat_strerror(ret));
		l->refused++;
		drop(l, s);
		return 0;
	}
	if (final) {
		l->ended++;
		drop(l, s);
	}
	return 0;
}

/*
 * A live request through the relay (PROTOCOL.md section 10): a heartbeat
 * of kind 'L' naming this viewer's newest key, on a logged-in connection.
 * The hub's events cameras then send what they seal for a minute. 0, or
 * -1 with the reason printed (live view goes on: continuous cameras need
 * no request).
 */
static int live_request(int fd, struct wire_rx *rx,
			const struct ks_identity *id, const uint8_t *acct)
{
	uint8_t mail[HB_LEN];
	struct timespec now;
	struct wire_hdr h;
	const uint8_t *f;
	int ret;

	clock_gettime(CLOCK_REALTIME, &now);
	ret = hb_seal_kind(HB_KIND_LIVE, id->hub_pk, id->viewer_id, id->psk,
			   (uint64_t)now.tv_sec * 1000000 +
				   (uint64_t)now.tv_nsec / 1000,
			   id->keys[id->n_keys - 1].pk, mail);
	if (!ret)
		ret = wire_send_ctl(fd, WIRE_MAIL, acct, 0, mail, sizeof(mail));
	OPENSSL_cleanse(mail, sizeof(mail));
	if (!ret)
		ret = recv_frame(fd, rx, &h, &f);
	if (!ret && h.type == WIRE_ERROR) {
		fprintf(stderr, "moat-view: the relay did not take the live request: %.*s (cameras that record events show only their clips)\n",
			(int)h.body_len, (const char *)f + WIRE_HDR_LEN);
		return -1;
	}
	if (!ret && (h.type != WIRE_ACK || h.value != 1))
		ret = -MOAT_E_MALFORMED;
	if (ret)
		fprintf(stderr, "moat-view: sending the live request: %s\n",
			moat_strerror(ret));
	return ret ? -1 : 0;
}

/* The request again, on a connection of its own (the live one carries
 * nothing more from the viewer). */
static void live_renew(const char *relay, const struct ks_identity *id,
		       const char *ident)
{
	uint8_t acct[LOGIN_ACCOUNT_LEN];
	struct timeval tv = { .tv_sec = 5 };
	struct wire_rx rx;
	int fd;

	/* the live connection waits unread meanwhile: not for long */
	view_connect_timeout_s = 3;
	fd = connect_relay(relay);
	view_connect_timeout_s = 0;
	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (!wire_rx_init(&rx, WIRE_HDR_LEN + WIRE_CTL_BODY_MAX)) {
		if (!relay_login(fd, &rx, id, ident, acct))
			live_request(fd, &rx, id, acct);
		wire_rx_free(&rx);
	}
	close(fd);
}

int cmd_live(const char *ident, const char *relay, const char *out,
	     const char *camera, double seconds, bool json)
{
	struct live l = { .camera = camera };
	struct ks_identity id;
	struct open_identity oid;
	struct sigaction sa = { .sa_handler = on_sig };
	struct timeval tv = { .tv_sec = 0, .tv_usec = 250000 };
	uint8_t acct[LOGIN_ACCOUNT_LEN];
	struct wire_rx rx;
	struct wire_hdr h;
	const uint8_t *f;
	const char *why = "stopped";
	bool to_stdout = !strcmp(out, "-");
	double end = seconds > 0 ? now_s() + seconds : 0, asked;
	bool via_relay = strcmp(view_peer, "the hub") != 0;
	int fd, ret;

	if (view_identity(ident, &id, &oid))
		return 1;
	l.oid = &oid;
	l.out = to_stdout ? stdout : fopen(out, "wbe");
	l.pt = malloc(REC_BODY_MAX);
	if (!l.out || !l.pt) {
		fprintf(stderr, "moat-view: cannot write %s: %s\n", out,
			strerror(errno));
		ret = -EIO;
		goto out_id;
	}
	fd = connect_relay(relay);
	if (fd < 0) {
		ret = -EIO;
		goto out_id;
	}
	if (wire_rx_init(&rx, REC_BODY_MAX + WIRE_HDR_LEN)) {
		close(fd);
		ret = -ENOMEM;
		goto out_id;
	}
	if (relay_login(fd, &rx, &id, ident, acct)) {
		ret = -EACCES;
		goto out_fd;
	}
	/* through the relay, ask the hub to send what events cameras seal;
	 * on the LAN the hub sees this viewer watching by itself */
	if (via_relay)
		live_request(fd, &rx, &id, acct);
	asked = now_s();
	if (wire_send_ctl(fd, WIRE_LIVE, acct, 0, NULL, 0)) {
		ret = -EACCES;
		goto out_fd;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* wake up now and then to see whether the time is up */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	fprintf(stderr, "moat-view: watching live%s%s\n",
		camera ? ": camera " : "", camera ? camera : "");
	for (;;) {
		if (live_stop || (end && now_s() >= end))
			break;
		if (via_relay && now_s() - asked >= LIVE_RENEW_S) {
			live_renew(relay, &id, ident);
			asked = now_s();
		}
		ret = recv_frame(fd, &rx, &h, &f);
		if (ret == -EAGAIN || ret == -EWOULDBLOCK || ret == -EINTR) {
			ret = 0;
			continue;
		}
		if (ret) {
			why = ret == -ECONNRESET ?
				      (strcmp(view_peer, "the hub") ?
					       "the relay closed the connection" :
					       "the hub closed the connection") :
				      moat_strerror(ret);
			ret = ret == -ECONNRESET ? 0 : ret;
			break;
		}
		if (h.type == WIRE_ERROR) {
			fprintf(stderr, "moat-view: %s says: %.*s\n", view_peer,
				(int)h.body_len, (const char *)f + WIRE_HDR_LEN);
			ret = -EACCES;
			why = strcmp(view_peer, "the hub") ? "the relay ended it" :
							     "the hub ended it";
			break;
		}
		if (!wire_is_record(h.type))
			continue;
		ret = on_record(&l, &h, f);
		if (ret) {
			why = ret == -EIO ? "the output closed" : moat_strerror(ret);
			break;
		}
	}
	if (json)
		fprintf(to_stdout ? stderr : stdout,
			"{\"streams\": %llu, \"ended\": %llu, \"refused\": %llu, \"frames\": %llu, \"bytes\": %llu, \"camera\": \"%s\", \"end\": \"%s\"}\n",
			(unsigned long long)l.streams,
			(unsigned long long)l.ended,
			(unsigned long long)l.refused,
			(unsigned long long)l.frames,
			(unsigned long long)l.bytes, camera ? camera : "",
			why);
	else
		fprintf(stderr,
			"moat-view: %s: %llu frames (%llu bytes) from %llu streams, %llu refused\n",
			why, (unsigned long long)l.frames,
			(unsigned long long)l.bytes,
			(unsigned long long)l.streams,
			(unsigned long long)l.refused);
	while (l.n)
		drop(&l, &l.s[0]);
out_fd:
	wire_rx_free(&rx);
	close(fd);
out_id:
	if (l.out && !to_stdout)
		fclose(l.out);
	free(l.pt);
	OPENSSL_cleanse(&oid, sizeof(oid));
	ks_identity_wipe(&id);
	return ret || l.refused ? 1 : 0;
}
