// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-view: the reference viewer (it stands in for the phone app).
 *   pair   pair with a hub over the LAN with the code `moatctl pair' shows
 *          (tools/view/pair.c, docs/PROTOCOL.md section 9), or register
 *          with a hub on this machine directly (--hub-keys)
 *   fetch  download a hub's streams from the relay, open them, and write
 *          the video as MP4 (libavformat) or raw H.264
 * Only frames whose record verified are ever written.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/rd.h"
#include "common/wire.h"
#include "crypto/keystore.h"
#include "crypto/streamfile.h"
#include "tools/view/mp4.h"
#include "tools/view/view.h"

static const char usage[] =
	"usage: moat-view pair CODE --out FILE [--name NAME] [--json]\n"
	"       moat-view pair --hub-keys DIR --out FILE [--name NAME]\n"
	"       moat-view fetch --identity FILE [--relay HOST:PORT] [--out FILE]\n"
	"                       [--camera NAME] [--clips DIR] [--format mp4|h264]\n"
	"                       [--ack]\n"
	"                       [--json]\n"
	"       moat-view list --identity FILE [--relay HOST:PORT] [--camera NAME]\n"
	"                      [--json]\n"
	"       moat-view live --identity FILE [--relay HOST:PORT | --hub HOST[:PORT]]\n"
	"                      [--out FILE|-] [--camera NAME] [--seconds N] [--json]\n"
	"       moat-view heartbeat --identity FILE [--relay HOST:PORT] [--json]\n"
	"\n"
	"pair   CODE: pairs with the hub over the LAN, with the code `moatctl\n"
	"       pair' shows on the hub (as text, or scanned from its QR code).\n"
	"       Both sides prove they hold the code's secret without sending\n"
	"       it, and this side checks the hub's key against the code; only\n"
	"       then is the new identity written to FILE (mode 0600). A wrong\n"
	"       or mistyped code is refused and writes nothing. The first\n"
	"       viewer of a hub is approved at once, a later one once the\n"
	"       owner runs `moatctl viewers approve NAME' on the hub.\n"
	"       --hub-keys DIR: on the hub machine itself, makes the identity\n"
	"       and registers it in the hub's key folder directly.\n"
	"fetch  lists the hub's streams on the relay (default 127.0.0.1:7443),\n"
	"       downloads and opens every one with FILE's keys, and writes the\n"
	"       video in capture order to --out: MP4 (default when the name ends\n"
	"       in .mp4) or raw Annex-B H.264. Streams that fail to verify are\n"
	"       named and left out; streams the hub stopped mid-way (a crash)\n"
	"       give what they verified and are reported as ended early.\n"
	"       --camera NAME puts only that camera's streams in --out.\n"
	"       --clips DIR (made if missing) writes each event clip (record =\n"
	"       events) as a file of its own in DIR,\n"
	"       CAMERA-YYYYmmdd-HHMMSS.mp4 (UTC start), its\n"
	"       pre-roll included; a clip with any part missing or failing to\n"
	"       verify is refused whole, with the reason. Give --out, --clips\n"
	"       or both.\n"
	"       --ack: with --out NEW-FILE (never an existing one), once the\n"
	"       file is on disk for good, notes the streams opened whole and\n"
	"       written in it in FILE.fetched: a heartbeat may then erase\n"
	"       their key (you have the video; the relay's copy will not open\n"
	"       here again, and is said to be fetched before).\n"
	"       On a terminal it shows how far the download is (a bar, MB,\n"
	"       stream N of M), on stderr; not with --json.\n"
	"       Exit status 1 if any stream or clip failed to verify.\n"
	"list   downloads and opens every stream the relay holds for the hub,\n"
	"       and lists them oldest first: start (UTC), camera, kind (gop:\n"
	"       a recorded GOP; clip: an event clip's index; live), frames,\n"
	"       seconds, bytes, and whether it opened, ended early or was\n"
	"       refused (with the reason). Writes no video.\n"
	"live   watches the hub's cameras through the relay as they record:\n"
	"       every stream that starts from now on (within a second for a\n"
	"       continuous camera, one stream a GOP), opened record by record,\n"
	"       its access units written as they verify to --out (default -,\n"
	"       standard output: `moat-view live ... | ffplay -'), raw Annex-B.\n"
	"       --camera NAME shows that camera only; --seconds N stops after\n"
	"       N seconds (default: until the relay ends it or ^C). A record\n"
	"       that fails to verify ends its stream, named on stderr; nothing\n"
	"       of it is shown from there on. --json prints a summary (on\n"
	"       stderr when the video goes to standard output).\n"
	"       --hub HOST[:PORT]: straight from the hub on the LAN, without\n"
	"       the relay (the hub's address; PORT its lan_port, 38732 by\n"
	"       default; [v6addr]:PORT for IPv6), for a hub whose moat.conf\n"
	"       sets lan_subnet to this machine's LAN. The same login and the\n"
	"       same sealed records; it goes on when the internet is down.\n"
	"heartbeat  rotates this viewer's key, through the relay: erases the\n"
	"       private keys no stream on the relay still needs (read from\n"
	"       the streams' headers, each checked; a stream fetched with\n"
	"       fetch --ack needs its key no more), makes a new key once the\n"
	"       hub seals to the newest, writes FILE, then sends the hub a\n"
	"       heartbeat (sealed to the hub's key) naming the newest key; the\n"
	"       hub seals new streams to it when it next hears from the relay.\n"
	"       Run it regularly (a timer, daily): a thief of an old copy of\n"
	"       FILE then opens nothing sealed after the next rotation.\n";

enum {
	VIEW_STREAM_MAX = 256 << 20, /* bytes of one stream from the relay */
	VIEW_STREAMS_MAX = 1 << 20,  /* streams in one listing */
};

/* ---- pair ---- */

static int cmd_pair(const char *hub_dir, const char *out, const char *name)
{
	struct seal_hub_key hub;
	struct ks_identity id = { 0 };
	struct ks_viewer v = { 0 };
	enum ks_viewer_state v_state;
	char hex[33];
	int ret = ks_hub_load(hub_dir, &hub);

	if (ret == -ENOENT) {
		ret = ks_hub_create(hub_dir, &hub);
		if (!ret)
			printf("made a new hub key in %s\n", hub_dir);
	}
	if (ret) {
		fprintf(stderr, "moat-view: hub key in %s: %s\n", hub_dir,
			moat_strerror(ret));
		return 1;
	}
	memcpy(id.hub_pk, hub.pk, SEAL_KEY_LEN);
	ks_hub_wipe(&hub);
	{
		/* the hub's relay login key names its account there; the
		 * viewer gets a login key of its own */
		struct login_key hl;

		ret = ks_login_load_or_create(hub_dir, &hl);
		if (ret) {
			fprintf(stderr, "moat-view: relay login key in %s: %s\n",
				hub_dir, moat_strerror(ret));
			return 1;
		}
		memcpy(id.hub_login_pk, hl.pk, LOGIN_KEY_LEN);
		login_wipe(&hl);
	}
	/* on the hub machine no pairing derives a psk: a random one */
	ret = view_new_identity(name, &id);
	if (!ret && RAND_priv_bytes(id.psk, sizeof(id.psk)) != 1)
		ret = -MOAT_E_CRYPTO;
	if (!ret) {
		ret = ks_identity_create(out, &id);
		if (ret == -EEXIST)
			fprintf(stderr, "moat-view: %s exists; an identity is never replaced\n",
				out);
	}
	memcpy(v.rcpt.viewer_id, id.viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(v.rcpt.pk, id.keys[id.n_keys - 1].pk, SEAL_KEY_LEN);
	memcpy(v.rcpt.psk, id.psk, SEAL_PSK_LEN);
	memcpy(v.login_pk, id.login.pk, LOGIN_KEY_LEN);
	snprintf(v.name, sizeof(v.name), "%s", name);
	/* the first viewer is the owner's; any later one waits for the
	 * owner's approval on the hub (moatctl viewers approve) */
	v.state = KS_VIEWER_APPROVED;
	{
		struct ks_viewer *all = NULL;
		size_t n = 0;

		if (!ret && !ks_viewer_list(hub_dir, &all, &n) && n)
			v.state = KS_VIEWER_PENDING;
		ks_viewer_list_free(all, n);
	}
	v.added = time(NULL);
	if (!ret) {
		ret = ks_viewer_save(hub_dir, &v);
		if (ret)
			unlink(out);
	}
	hex_encode(hex, id.viewer_id, 16);
	v_state = v.state;
	ks_identity_wipe(&id);
	ks_viewer_wipe(&v);
	if (ret) {
		fprintf(stderr, "moat-view: pairing failed: %s\n",
			moat_strerror(ret));
		return 1;
	}
	if (v_state == KS_VIEWER_PENDING)
		printf("paired viewer %s (%s): identity in %s; it is pending: the hub seals to it once the owner runs `moatctl viewers approve %s'\n",
		       name, hex, out, name);
	else
		printf("paired viewer %s (%s): identity in %s; the hub seals new streams to it\n",
		       name, hex, out);
	return 0;
}

/* ---- fetch ---- */

struct au {
	size_t off, len;
	uint64_t ts;
	bool key;
};

struct got {
	uint8_t id[16];
	uint64_t stored; /* bytes the relay says it holds of it */
	uint64_t start;
	uint8_t *data;
	size_t len, cap;
	struct au *au;
	size_t n_au, cap_au;
	int err;
	char why[224];
	char camera[META_NAME_MAX + 1];
	uint8_t kind;		/* META_KIND_*: a clip's index is kind 2 */
	bool hevc;		/* H.265 (META codec "h265"), else H.264 */
	uint8_t *gops;		/* a clip: its GOP streams' ids */
	size_t n_gops;
	uint64_t motion, end;
	bool written;		/* all of it went to --out */
};

int view_identity(const char *ident, struct ks_identity *id,
		  struct open_identity *oid)
{
	int ret = ks_identity_load(ident, id);

	if (ret) {
		fprintf(stderr, "moat-view: identity %s: %s\n", ident,
			moat_strerror(ret));
		return -1;
	}
	ks_identity_open(id, oid);
	return 0;
}

const char *view_peer = "the relay";
int view_connect_timeout_s;

int connect_relay(const char *spec)
{
	char host[256], *colon, *name = host;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int fd, ret;

	snprintf(host, sizeof(host), "%s", spec);
	colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, "moat-view: --relay %s: give HOST:PORT\n", spec);
		return -1;
	}
	*colon = 0;
	if (host[0] == '[' && colon > host + 1 && colon[-1] == ']') {
		colon[-1] = 0; /* [fd00::5]:38732 */
		name++;
	}
	ret = getaddrinfo(name, colon + 1, &hints, &res);
	if (ret) {
		fprintf(stderr, "moat-view: --relay %s: %s\n", spec,
			gai_strerror(ret));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && view_connect_timeout_s) {
		/* SO_SNDTIMEO bounds connect() too */
		struct timeval tv = { .tv_sec = view_connect_timeout_s };

		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	}
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) < 0) {
		fprintf(stderr, "moat-view: cannot reach %s at %s: %s\n",
			view_peer, spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* The next frame from the relay, blocking. */
int recv_frame(int fd, struct wire_rx *rx, struct wire_hdr *h,
		      const uint8_t **f)
{
	for (;;) {
		int ret = wire_rx_next(rx, h, f);
		size_t room;
		uint8_t *dst;
		ssize_t n;

		if (ret)
			return ret < 0 ? -MOAT_E_MALFORMED : 0;
		dst = wire_rx_space(rx, &room);
		n = room ? recv(fd, dst, room, 0) : -1;
		if (n <= 0)
			return n ? -errno : -ECONNRESET;
		wire_rx_added(rx, (size_t)n);
	}
}

/*
 * HELLO, the relay's CHALLENGE, AUTH with the viewer's login key: the relay
 * lets in only viewers whose hub approved them. 0, or -1 with the reason
 * printed (the relay's own words when it refused).
 */
int relay_login(int fd, struct wire_rx *rx, const struct ks_identity *id,
		       const char *ident, uint8_t acct[static LOGIN_ACCOUNT_LEN])
{
	static const uint8_t none[LOGIN_KEY_LEN];
	uint8_t auth[LOGIN_AUTH_LEN];
	struct wire_hdr h;
	const uint8_t *f;
	int ret;

	if (!memcmp(id->login.pk, none, LOGIN_KEY_LEN) ||
	    !memcmp(id->hub_login_pk, none, LOGIN_KEY_LEN)) {
		fprintf(stderr, "moat-view: %s was paired before the relay login and has no login key: pair this viewer again (moat-view pair)\n",
			ident);
		return -1;
	}
	login_account(id->hub_login_pk, acct);
	ret = wire_send_ctl(fd, WIRE_HELLO, acct, WIRE_ROLE_VIEWER, NULL, 0);
	if (!ret)
		ret = recv_frame(fd, rx, &h, &f);
	if (!ret && h.type == WIRE_ERROR) {
		fprintf(stderr, "moat-view: %s refused the connection: %.*s\n",
			view_peer, (int)h.body_len,
			(const char *)f + WIRE_HDR_LEN);
		return -1;
	}
	if (!ret && h.type != WIRE_CHALLENGE)
		ret = -MOAT_E_MALFORMED;
	if (!ret)
		ret = login_sign(&id->login, WIRE_ROLE_VIEWER, acct,
				 f + WIRE_HDR_LEN, auth);
	if (!ret)
		ret = wire_send_ctl(fd, WIRE_AUTH, acct, 0, auth, sizeof(auth));
	if (ret)
		fprintf(stderr, "moat-view: logging in to %s: %s\n", view_peer,
			moat_strerror(ret));
	return ret ? -1 : 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

static int on_au(void *arg, const struct frame_hdr *f, const uint8_t *p,
		 size_t len)
{
	struct got *g = arg;

	if (grow((void **)&g->au, &g->cap_au, g->n_au + 1, sizeof(*g->au)))
		return -ENOMEM;
	g->au[g->n_au++] = (struct au){ .off = g->len,
					.len = len,
					.ts = f->ts_us,
					.key = f->flags & FRAME_F_KEY };
	g->len += len;
	(void)p;
	return 0;
}

static int on_frame(void *arg, const struct frame_hdr *f,
		    const uint8_t *payload, size_t len)
{
	struct got *g = arg;

	if (grow((void **)&g->data, &g->cap, g->len + len, 1))
		return -ENOMEM;
	memcpy(g->data + g->len, payload, len);
	return on_au(g, f, payload, len);
}

/*
 * The download's progress on a terminal (stderr), at most ten times a
 * second: a bar, the share of the bytes the relay listed, and which
 * stream. Off when stderr is not a terminal or --json is asked for.
 */
struct progress {
	bool on;
	uint64_t total, done;
	size_t i, n;
	double shown;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress_show(struct progress *p, bool last)
{
	enum { WIDTH = 30 };
	char bar[WIDTH + 1], a[32], b[32];
	double t = mono_s(), frac;
	int fill;

	if (!p->on || (!last && t - p->shown < 0.1))
		return;
	p->shown = t;
	frac = p->total ? (double)p->done / (double)p->total : 1.0;
	if (frac > 1.0)
		frac = 1.0;
	fill = (int)(frac * WIDTH);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(WIDTH - fill));
	bar[WIDTH] = 0;
	snprintf(a, sizeof(a), "%.1f MB", (double)p->done / 1e6);
	snprintf(b, sizeof(b), "%.1f MB", (double)p->total / 1e6);
	fprintf(stderr, "\rmoat-view: [%s] %3.0f%%  %s of %s  stream %zu of %zu ",
		bar, frac * 100, a, b, p->i, p->n);
	if (last)
		fputc('\n', stderr);
}

static int fetch_stream(int fd, struct wire_rx *rx, struct got *g,
			const struct open_identity *oid, struct progress *pg)
{
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0;
	struct sf_result res;
	struct wire_hdr h;
	const uint8_t *f;
	int ret = wire_send_ctl(fd, WIRE_GET, g->id, 0, NULL, 0);

	while (!ret && !(ret = recv_frame(fd, rx, &h, &f))) {
		size_t n = WIRE_HDR_LEN + h.body_len;

		if (h.type == WIRE_END)
			break;
		if (h.type == WIRE_ERROR) {
			snprintf(g->why, sizeof(g->why), "the relay says: %.*s",
				 (int)(h.body_len > 200 ? 200 : h.body_len),
				 (const char *)f + WIRE_HDR_LEN);
			ret = -MOAT_E_MALFORMED;
			break;
		}
		/* the relay is untrusted: a stream is at most what a relay
		 * stores of one (256 MiB) */
		if (len + n > VIEW_STREAM_MAX) {
			snprintf(g->why, sizeof(g->why),
				 "the relay sent more than %d MiB for one stream",
				 VIEW_STREAM_MAX >> 20);
			ret = -MOAT_E_LENGTH;
			break;
		}
		if (!wire_is_record(h.type) ||
		    grow((void **)&buf, &cap, len + n, 1)) {
			ret = -MOAT_E_MALFORMED;
			break;
		}
		memcpy(buf + len, f, n);
		len += n;
		pg->done += n;
		progress_show(pg, false);
	}
	if (ret) {
		free(buf);
		return ret;
	}
	memset(&res, 0, sizeof(res));
	{
		/* the stream asked for, not another the relay would pass off
		 * under its name: every record carries its stream's id, and
		 * the opener holds all of them to the first one's */
		struct rec_hdr first;
		char want[33], got[33];

		if (rec_parse_hdr(buf, len, &first) == 0 &&
		    memcmp(first.stream_id, g->id, REC_STREAM_ID_LEN)) {
			hex_encode(want, g->id, REC_STREAM_ID_LEN);
			hex_encode(got, first.stream_id, REC_STREAM_ID_LEN);
			snprintf(g->why, sizeof(g->why),
				 "the relay sent another stream (%.8s...) under this one's name (%.8s...)",
				 got, want);
			g->err = -MOAT_E_STREAM_ID;
			free(buf);
			return 0;
		}
	}
	g->err = sf_open_buf(buf, len, oid, on_frame, g, &res);
	snprintf(g->why, sizeof(g->why), "%s", res.why);
	snprintf(g->camera, sizeof(g->camera), "%s", res.meta.camera);
	g->start = res.meta.start_us;
	g->kind = res.meta.kind;
	g->hevc = !strcmp(res.meta.codec, "h265");
	if (!g->err && res.meta.kind == META_KIND_CLIP) {
		/* the index is the sealer's word: take it only verified */
		g->gops = (uint8_t *)res.meta.gops;
		g->n_gops = res.meta.n_gops;
		g->motion = res.meta.motion_us;
		g->end = res.meta.end_us;
		res.meta.gops = NULL;
	}
	sf_result_free(&res);
	free(buf);
	return 0;
}

static int cmp_start(const void *a, const void *b)
{
	const struct got *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int write_out(const char *out, bool mp4, struct got *g, size_t n,
		     uint64_t *frames)
{
	char err[256];
	struct mp4w *w = NULL;
	FILE *fp = NULL;
	size_t other = 0;
	bool hevc = false;
	int ret = 0;

	/* one codec per file: the first stream's */
	for (size_t i = 0; i < n; i++) {
		if (g[i].n_au) {
			hevc = g[i].hevc;
			break;
		}
	}
	if (mp4)
		w = mp4_open(out, hevc, err, sizeof(err));
	else
		fp = fopen(out, "wbe");
	if (!w && !fp) {
		fprintf(stderr, "moat-view: cannot write %s: %s\n", out,
			mp4 ? err : strerror(errno));
		return -EIO;
	}
	for (size_t i = 0; !ret && i < n; i++) {
		if (g[i].n_au && g[i].hevc != hevc) {
			other++;
			continue;
		}
		for (size_t k = 0; !ret && k < g[i].n_au; k++) {
			const struct au *a = &g[i].au[k];

			if (mp4)
				ret = mp4_add(w, g[i].data + a->off, a->len,
					      a->ts, a->key, err, sizeof(err));
			else if (fwrite(g[i].data + a->off, 1, a->len, fp) !=
				 a->len)
				ret = -EIO;
			if (!ret)
				(*frames)++;
		}
		g[i].written = !ret && g[i].n_au; /* something of it is in out */
	}
	if (mp4) {
		char cerr[256];
		int r;

		*frames = mp4_frames(w); /* frames before a keyframe are skipped */
		r = mp4_close(w, cerr, sizeof(cerr));

		if (!ret && r) {
			ret = r;
			snprintf(err, sizeof(err), "%s", cerr);
		}
	} else if (fclose(fp)) {
		ret = ret ? ret : -EIO;
	}
	if (ret)
		fprintf(stderr, "moat-view: writing %s failed: %s\n", out,
			mp4 ? err : strerror(-ret));
	if (other)
		fprintf(stderr, "moat-view: %zu stream(s) in %s left out of %s, which is %s (use --camera)\n",
			other, hevc ? "H.264" : "H.265", out,
			hevc ? "H.265" : "H.264");
	return ret;
}

static struct got *by_id(struct got *g, size_t n, const uint8_t *id)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(g[i].id, id, 16))
			return &g[i];
	return NULL;
}

/*
 * One file per clip in dir: <camera>-<UTC start>.mp4 (or .h264), its GOP
 * streams in the order the index gives. A clip with a GOP missing, cut
 * short or refused is refused whole, with the reason: never shown in part.
 */
static int write_clips(const char *dir, bool mp4, struct got *g, size_t n,
		       bool json, size_t *written, size_t *refused)
{
	bool first = true;
	int ret = 0;

	/* the folder is made if missing (only this one level) */
	if (mkdir(dir, 0700) && errno != EEXIST)
		fprintf(stderr, "moat-view: --clips %s: %s\n", dir, strerror(errno));
	if (json)
		printf("\"clips\": [");
	for (size_t i = 0; i < n; i++) {
		struct got *c = &g[i], *parts = NULL;
		char path[PATH_MAX], when[32], why[PATH_MAX + 300] = "";
		uint64_t frames = 0;
		time_t t;
		struct tm tm;

		if (c->kind != META_KIND_CLIP || c->err)
			continue;
		parts = calloc(c->n_gops, sizeof(*parts));
		for (size_t k = 0; parts && k < c->n_gops && !why[0]; k++) {
			struct got *p = by_id(g, n, c->gops + 16 * k);

			if (!p)
				snprintf(why, sizeof(why),
					 "GOP %zu of %zu is not on the relay", k + 1,
					 c->n_gops);
			else if (p->err)
				snprintf(why, sizeof(why), "GOP %zu of %zu: %s",
					 k + 1, c->n_gops, p->why);
			else if (p->kind != META_KIND_GOP ||
				 strcmp(p->camera, c->camera))
				snprintf(why, sizeof(why),
					 "GOP %zu of %zu is not a GOP of camera %s",
					 k + 1, c->n_gops, c->camera);
			else
				parts[k] = *p;
		}
		if (!parts)
			snprintf(why, sizeof(why), "out of memory");
		t = (time_t)(c->start / 1000000);
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y%m%d-%H%M%S", &tm);
		snprintf(path, sizeof(path), "%s/%s-%s.%s", dir, c->camera, when,
			 mp4 ? "mp4" : "h264");
		if (!why[0] && write_out(path, mp4, parts, c->n_gops, &frames))
			snprintf(why, sizeof(why), "cannot write %s", path);
		free(parts);
		if (why[0]) {
			(*refused)++;
			ret = 1;
			fprintf(stderr, "moat-view: clip of %s at %s refused: %s\n",
				c->camera, when, why);
		} else {
			(*written)++;
		}
		if (json)
			printf("%s{\"camera\": \"%s\", \"start_us\": %llu, \"motion_us\": %llu, "
			       "\"end_us\": %llu, \"gops\": %zu, \"frames\": %llu, \"out\": \"%s\", "
			       "\"refused\": \"%s\"}",
			       first ? "" : ", ", c->camera,
			       (unsigned long long)c->start,
			       (unsigned long long)c->motion,
			       (unsigned long long)c->end, c->n_gops,
			       (unsigned long long)frames, why[0] ? "" : path,
			       why);
		else if (!why[0])
			printf("clip: %s, %.1f s from %s UTC (motion %.1f s in), %llu frames: %s\n",
			       c->camera, (double)(c->end - c->start) / 1e6, when,
			       (double)(c->motion - c->start) / 1e6,
			       (unsigned long long)frames, path);
		first = false;
	}
	if (json)
		printf("], ");
	return ret;
}

/* list: one line (or JSON object) per stream, oldest first. */
static void print_list(const struct got *g, size_t n, const char *camera,
		       bool json)
{
	static const char *const kinds[] = { "?", "gop", "clip", "live" };
	bool first = true;

	if (json)
		printf("\"list\": [");
	else
		printf("%-20s %-16s %-5s %7s %9s %10s  %s\n", "start (UTC)",
		       "camera", "kind", "frames", "seconds", "bytes",
		       "stream / state");
	for (size_t i = 0; i < n; i++) {
		const struct got *s = &g[i];
		char when[32] = "-", hex[33];
		const char *state = !s->err			   ? "opened" :
				    s->err == -MOAT_E_TRUNCATED ? "ended early" :
								  "refused";
		double secs = s->n_au > 1 ? (double)(s->au[s->n_au - 1].ts -
						      s->au[0].ts) / 1e6 + 1.0 / 30 :
					    0;

		if (camera && strcmp(s->camera, camera))
			continue;
		hex_encode(hex, s->id, 16);
		if (!s->err || s->err == -MOAT_E_TRUNCATED) {
			time_t t = (time_t)(s->start / 1000000);
			struct tm tm;

			if (gmtime_r(&t, &tm))
				strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
					 &tm);
		}
		if (json)
			printf("%s{\"stream\": \"%s\", \"state\": \"%s\", \"camera\": \"%s\", \"kind\": \"%s\", \"start_us\": %llu, \"frames\": %zu, \"seconds\": %.3f, \"bytes\": %zu, \"why\": \"%s\"}",
			       first ? "" : ", ", hex, state, s->camera,
			       kinds[s->kind < 4 ? s->kind : 0],
			       (unsigned long long)(s->err && s->err != -MOAT_E_TRUNCATED ?
							    0 :
							    s->start),
			       s->n_au, secs, s->len, s->err ? s->why : "");
		else
			printf("%-20s %-16s %-5s %7zu %9.2f %10zu  %s %s%s%s\n",
			       when, s->camera[0] ? s->camera : "-",
			       kinds[s->kind < 4 ? s->kind : 0], s->n_au, secs,
			       s->len, hex, state, s->err ? ": " : "",
			       s->err ? s->why : "");
		first = false;
	}
	if (json)
		printf("], ");
}

/* The output, on disk for good (the file and its name) before the
 * streams in it are acknowledged. */
static int make_durable(const char *out)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(out, '/');
	int fd = open(out, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0 || fsync(fd))
		ret = -errno;
	if (fd >= 0)
		close(fd);
	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - out) : 1,
		 slash ? out : ".");
	if (!ret && slash != out)
		ret = fsync_dir(dir);
	return ret;
}

static int cmd_fetch(const char *ident, const char *relay, const char *out,
		     const char *format, bool json, const char *clips,
		     const char *camera, bool list, bool ack)
{
	struct ks_identity id;
	struct open_identity oid;
	struct wire_rx rx;
	struct wire_hdr h;
	const uint8_t *f;
	struct progress pg = { 0 };
	struct got *g = NULL;
	size_t n = 0, cap = 0, ok = 0, early = 0, bad = 0, clips_ok = 0,
	       clips_bad = 0, gone = 0, n_fetched = 0;
	uint8_t (*fetched)[16] = NULL;
	uint64_t frames = 0, bytes = 0;
	uint8_t hub_id[LOGIN_ACCOUNT_LEN]; /* its relay account */
	bool mp4;
	int fd, ret;

	mp4 = format ? !strcmp(format, "mp4") :
		       !out || (strlen(out) > 4 &&
				!strcmp(out + strlen(out) - 4, ".mp4"));
	if (format && strcmp(format, "mp4") && strcmp(format, "h264")) {
		fprintf(stderr, "moat-view: --format %s: use mp4 or h264\n",
			format);
		return 2;
	}
	if (ack && !access(out, F_OK)) {
		/* what --ack notes may stop opening once a heartbeat erases
		 * its key: it goes to a new file, never over an old one */
		fprintf(stderr, "moat-view: --out %s exists: with --ack, give a new file (the streams it acknowledges may not open again once a heartbeat erases their key)\n",
			out);
		return 2;
	}
	if (view_identity(ident, &id, &oid))
		return 1;
	fd = connect_relay(relay);
	if (fd < 0 || wire_rx_init(&rx, REC_BODY_MAX + WIRE_HDR_LEN)) {
		ks_identity_wipe(&id);
		return 1;
	}
	if (relay_login(fd, &rx, &id, ident, hub_id)) {
		close(fd);
		wire_rx_free(&rx);
		ks_identity_wipe(&id);
		return 1;
	}
	ret = wire_send_ctl(fd, WIRE_LIST, hub_id, 0, NULL, 0);
	while (!ret && !(ret = recv_frame(fd, &rx, &h, &f)) &&
	       h.type == WIRE_STREAMS) {
		for (size_t k = 0; k < h.body_len / WIRE_STREAM_ENTRY; k++) {
			if (n == VIEW_STREAMS_MAX) {
				fprintf(stderr, "moat-view: the relay lists more than %d streams\n",
					VIEW_STREAMS_MAX);
				ret = -MOAT_E_LENGTH;
				break;
			}
			if (grow((void **)&g, &cap, n + 1, sizeof(*g))) {
				ret = -ENOMEM;
				break;
			}
			memset(&g[n], 0, sizeof(g[n]));
			memcpy(g[n].id,
			       f + WIRE_HDR_LEN + k * WIRE_STREAM_ENTRY, 16);
			/* the relay's word, for the progress bar only */
			g[n++].stored = get_u64(f + WIRE_HDR_LEN +
						k * WIRE_STREAM_ENTRY + 16);
		}
	}
	if (!ret && h.type == WIRE_ERROR) {
		/* the relay refused the login, or the list */
		fprintf(stderr, "moat-view: the relay says: %.*s\n",
			(int)h.body_len, (const char *)f + WIRE_HDR_LEN);
		ret = -EACCES;
	} else if (!ret && h.type != WIRE_END) {
		ret = -MOAT_E_MALFORMED;
	}
	pg.on = !json && n && isatty(2);
	pg.n = n;
	for (size_t i = 0; i < n; i++)
		pg.total += g[i].stored;
	for (size_t i = 0; !ret && i < n; i++) {
		uint64_t before = pg.done;

		pg.i = i + 1;
		ret = fetch_stream(fd, &rx, &g[i], &oid, &pg);
		/* a relay that listed less than it sent moves the bar on */
		if (pg.done - before < g[i].stored)
			pg.done = before + g[i].stored;
	}
	progress_show(&pg, true);
	close(fd);
	wire_rx_free(&rx);
	if (ret) {
		fprintf(stderr, "moat-view: talking to the relay: %s\n",
			moat_strerror(ret));
		goto out;
	}
	/* streams fetched whole before whose key a heartbeat has since
	 * erased: said as such, not as refused */
	if (fetched_load(ident, &fetched, &n_fetched))
		n_fetched = 0;
	for (size_t i = 0; i < n; i++) {
		char hex[33];

		hex_encode(hex, g[i].id, 16);
		if (!g[i].err) {
			ok++;
		} else if (g[i].err == -MOAT_E_NOT_RECIPIENT &&
			   fetched_has((const uint8_t (*)[16])fetched, n_fetched,
				       g[i].id)) {
			gone++;
			g[i].n_au = 0;
			g[i].start = UINT64_MAX;
			snprintf(g[i].why, sizeof(g[i].why),
				 "fetched before, and no key held now opens it (a heartbeat erased it, or the relay changed the stream)");
		} else if (g[i].err == -MOAT_E_TRUNCATED) {
			/* what verified is given; that it ended early is said */
			early++;
			fprintf(stderr, "moat-view: stream %s ended early: %s\n",
				hex, g[i].why);
		} else {
			bad++;
			fprintf(stderr, "moat-view: stream %s refused: %s\n",
				hex, g[i].why);
			g[i].n_au = 0; /* nothing unverified, nothing partial */
			g[i].start = UINT64_MAX;
		}
		bytes += g[i].len;
	}
	qsort(g, n, sizeof(*g), cmp_start);
	if (json)
		printf("{");
	if (list)
		print_list(g, n, camera, json);
	if (clips) /* each clip reported; the exit status says if any failed */
		write_clips(clips, mp4, g, n, json, &clips_ok, &clips_bad);
	if (out && camera) {
		/* only that camera's streams go to --out (sorted first) */
		size_t k = 0;

		for (size_t i = 0; i < n; i++) {
			if (!strcmp(g[i].camera, camera)) {
				struct got t = g[k];

				g[k++] = g[i];
				g[i] = t;
			}
		}
		qsort(g, k, sizeof(*g), cmp_start);
		ret = write_out(out, mp4, g, k, &frames);
	} else if (out) {
		ret = write_out(out, mp4, g, n, &frames);
	}
	if (out && ack && !ret && (ret = make_durable(out)))
		fprintf(stderr, "moat-view: %s is not on disk for good (%s): nothing acknowledged\n",
			out, strerror(-ret));
	if (out && ack && !ret) {
		/* the streams opened whole and written, now durable: fetched,
		 * so a heartbeat may erase their key (you have their video) */
		uint8_t (*done)[16] = malloc((n ? n : 1) * 16);
		size_t k = 0;

		for (size_t i = 0; done && i < n; i++)
			if (g[i].written && !g[i].err)
				memcpy(done[k++], g[i].id, 16);
		if (!done || fetched_add(ident, (const uint8_t (*)[16])done, k))
			fprintf(stderr, "moat-view: could not note the fetched streams beside %s: a heartbeat keeps their keys\n",
				ident);
		else if (!json)
			printf("%zu stream(s) acknowledged in %s.fetched: a heartbeat may erase their key\n",
			       k, ident);
		free(done);
	}
	if (gone && !json)
		printf("%zu stream(s) fetched before and no longer openable here: a heartbeat erased their key\n",
		       gone);
	if (json)
		printf("\"streams\": %zu, \"opened\": %zu, \"ended_early\": %zu, \"refused\": %zu, \"fetched_before\": %zu, "
		       "\"clips_written\": %zu, \"clips_refused\": %zu, "
		       "\"frames\": %llu, \"bytes\": %llu, \"out\": \"%s\", \"format\": \"%s\"}\n",
		       n, ok, early, bad, gone, clips_ok, clips_bad,
		       (unsigned long long)frames, (unsigned long long)bytes,
		       out ? out : "", mp4 ? "mp4" : "h264");
	else if (list)
		printf("%zu stream(s): %zu opened, %zu ended early, %zu refused\n",
		       n, ok, early, bad);
	else if (out)
		printf("%zu stream(s): %zu opened, %zu ended early, %zu refused; %llu frames written to %s (%s)\n",
		       n, ok, early, bad, (unsigned long long)frames, out,
		       mp4 ? "MP4" : "H.264");
	else
		printf("%zu stream(s): %zu opened, %zu ended early, %zu refused; %zu clip(s) written to %s, %zu refused\n",
		       n, ok, early, bad, clips_ok, clips, clips_bad);
out:
	for (size_t i = 0; i < n; i++) {
		OPENSSL_cleanse(g[i].data, g[i].len);
		free(g[i].data);
		free(g[i].au);
		free(g[i].gops);
	}
	free(g);
	free(fetched);
	OPENSSL_cleanse(&oid, sizeof(oid));
	ks_identity_wipe(&id);
	return ret || bad || clips_bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hub-keys", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "identity", required_argument, NULL, 'i' },
		{ "relay", required_argument, NULL, 'r' },
		{ "hub", required_argument, NULL, 'H' },
		{ "format", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "clips", required_argument, NULL, 'c' },
		{ "camera", required_argument, NULL, 'C' },
		{ "seconds", required_argument, NULL, 's' },
		{ "ack", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *hub = NULL, *out = NULL, *name = "viewer", *ident = NULL,
		   *relay = "127.0.0.1:7443", *format = NULL, *clips = NULL,
		   *camera = NULL, *lan = NULL, *cmd;
	char lan_spec[300];
	bool json = false, ack = false;
	double seconds = 0;
	int c;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "k:o:n:i:r:H:f:c:C:s:jh", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'k':
			hub = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'i':
			ident = optarg;
			break;
		case 'r':
			relay = optarg;
			break;
		case 'H':
			lan = optarg;
			break;
		case 'f':
			format = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'c':
			clips = optarg;
			break;
		case 'a':
			ack = true;
			break;
		case 'C':
			camera = optarg;
			break;
		case 's': {
			char *end;

			seconds = strtod(optarg, &end);
			if (*end || !(seconds > 0) || seconds > 1e7) {
				fprintf(stderr, "moat-view: --seconds %s: give a number of seconds above 0\n",
					optarg);
				return 2;
			}
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
	log_init("moat-view", LOG_LVL_WARN);
	if (!strcmp(cmd, "pair") && hub && out && optind == argc)
		return cmd_pair(hub, out, name);
	if (!strcmp(cmd, "pair") && !hub && out && optind == argc - 1)
		return cmd_pair_code(argv[optind], out, name, json);
	if (ack && (strcmp(cmd, "fetch") || !out)) {
		fprintf(stderr, "moat-view: --ack goes with fetch --out FILE\n");
		return 2;
	}
	if (!strcmp(cmd, "fetch") && ident && (out || clips) && optind == argc)
		return cmd_fetch(ident, relay, out, format, json, clips,
				 camera, false, ack);
	if (!strcmp(cmd, "list") && ident && !out && !clips && optind == argc)
		return cmd_fetch(ident, relay, NULL, NULL, json, NULL, camera,
				 true, false);
	if (lan && strcmp(cmd, "live")) {
		fprintf(stderr, "moat-view: --hub goes with live (the hub serves live view only; recordings are on the relay)\n");
		return 2;
	}
	if (lan) {
		/* HOST alone: the default lan_port; [v6] or HOST:PORT as is */
		bool port = strrchr(lan, ':') &&
			    (lan[0] != '[' || strrchr(lan, ':') > strchr(lan, ']'));

		if (strchr(lan, ':') && lan[0] != '[' &&
		    strchr(lan, ':') != strrchr(lan, ':')) {
			fprintf(stderr, "moat-view: --hub %s: write an IPv6 address in brackets, [%s]:38732\n",
				lan, lan);
			return 2;
		}
		snprintf(lan_spec, sizeof(lan_spec), "%s%s", lan,
			 port ? "" : ":38732");
		relay = lan_spec;
		view_peer = "the hub";
	}
	if (!strcmp(cmd, "live") && ident && optind == argc)
		return cmd_live(ident, relay, out ? out : "-", camera, seconds,
				json);
	if (!strcmp(cmd, "heartbeat") && ident && !out && optind == argc)
		return cmd_heartbeat(ident, relay, json);
	fprintf(stderr, "moat-view: %s\n%s",
		strcmp(cmd, "pair") && strcmp(cmd, "fetch") &&
				strcmp(cmd, "live") && strcmp(cmd, "list") &&
				strcmp(cmd, "heartbeat") ?
			"unknown command (pair, list, fetch, live or heartbeat)" :
			"missing or unexpected arguments",
		usage);
	return 2;
}
