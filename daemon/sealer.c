// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sealer: plaintext access units from every camera's P ring into sealed
 * records in the C ring, a stream per GOP (docs/PROTOCOL.md section 6).
 * The AEAD reads each access unit where the worker wrote it and writes the
 * record into the C ring slot the uplink sends from: one pass, no copy.
 *
 * It holds the hub key and the viewers' keys, loaded before the sandbox
 * closes; afterwards it can read and write its rings, wait and compute.
 * Recorded frames are never dropped here: when the C ring is full the
 * sealer waits (the worker then sees a full P ring). Live-only frames are
 * dropped oldest first when either ring runs short, and counted.
 */
#include <errno.h>
#include <openssl/crypto.h>
#include <poll.h>
#include <sys/epoll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/frame.h"
#include "crypto/hpke.h"
#include "crypto/keystore.h"
#include "crypto/stream.h"
#include "daemon/roles.h"

struct cam {
	const struct cfg_camera *cfg;
	struct ring p;
	struct seal_stream *s; /* the open GOP stream, or NULL */
	/* The next GOP's stream and header, made while the sealer is idle:
	 * the HPKE wraps (about 0.3 ms) stay out of the keyframe's path. */
	struct seal_stream *next;
	uint8_t *next_hdr;
	size_t next_len;
	struct stats_cam *st;
	bool dead;
};

struct sealer {
	struct sealer_io *io;
	struct cam cams[CFG_MAX_CAMERAS];
	size_t n_cams;
	struct ring c;
	enum seal_suite suite;
	struct seal_hub_key hub;
	struct seal_recipient rcpt[SEAL_MAX_RECIPIENTS];
	size_t n_rcpt;
	uint64_t room_at_block; /* C ring room when a frame did not fit */
	int ep; /* epoll over every camera's data eventfd */
	uint8_t *copy; /* benchmark baseline only */
	size_t copy_cap;
};

static int load_keys(struct sealer *sl)
{
	const struct cfg *cfg = sl->io->cfg;
	struct ks_viewer *v = NULL;
	size_t n = 0;
	int ret = ks_hub_load(cfg->keys, &sl->hub);

	if (ret) {
		log_err("sealer: cannot load the hub key from %s: %s (make one with `moat-view pair --hub-keys %s')",
			cfg->keys, moat_strerror(ret), cfg->keys);
		return ret;
	}
	ret = ks_viewer_list(cfg->keys, &v, &n);
	if (ret)
		return ret;
	for (size_t i = 0; i < n && sl->n_rcpt < SEAL_MAX_RECIPIENTS; i++) {
		if (v[i].state != KS_VIEWER_APPROVED)
			continue;
		/* one bad key would fail every stream for every viewer */
		if (hpke_check_public_key(v[i].rcpt.pk)) {
			char hex[2 * SEAL_VIEWER_ID_LEN + 1];

			hex_encode(hex, v[i].rcpt.viewer_id,
				   SEAL_VIEWER_ID_LEN);
			log_err("sealer: viewer %s (%s) has an unusable public key (a low-order X25519 point) and is left out of every stream; remove it and pair again",
				hex, v[i].name);
			continue;
		}
		sl->rcpt[sl->n_rcpt++] = v[i].rcpt;
	}
	ks_viewer_list_free(v, n);
	sl->io->st->viewers = sl->n_rcpt;
	if (!sl->n_rcpt)
		log_warn("sealer: no approved viewer in %s: nothing is recorded until one is paired",
			 cfg->keys);
	return 0;
}

/* Every slot a step will take is reserved up front: steps never half-run. */
static uint8_t *c_slot(struct sealer *sl, uint32_t len)
{
	int err;
	uint8_t *p = ring_reserve(&sl->c, len, &err);

	if (!p)
		log_err("sealer: ciphertext ring: %s", strerror(-err));
	return p;
}

static void c_commit(struct sealer *sl, uint32_t len, uint32_t flags,
		     uint64_t aux)
{
	ring_commit_aux(&sl->c, len, flags, aux);
	sl->io->st->records++;
	sl->io->st->bytes += len;
}

/* One data record from spans, straight into the C ring. */
static int seal_into_ring(struct sealer *sl, struct cam *cm,
			  const struct iovec *src, int n, size_t body,
			  bool final, uint32_t cflags, uint64_t aux)
{
	uint32_t len = (uint32_t)(REC_HDR_LEN + body + REC_TAG_LEN);
	uint8_t *rec = c_slot(sl, len);
	int ret;

	if (!rec)
		return -ENOSPC;
	ret = seal_record_to(cm->s, src, n, final, rec, rec + REC_HDR_LEN,
			     rec + REC_HDR_LEN + body);
	if (ret)
		return ret;
	c_commit(sl, len, cflags, aux);
	cm->st->records++;
	return 0;
}

static int close_stream(struct sealer *sl, struct cam *cm, uint32_t cflags,
			uint64_t aux)
{
	int ret;

	if (!cm->s)
		return 0;
	ret = seal_into_ring(sl, cm, NULL, 0, 0, true, cflags, aux);
	seal_stream_free(cm->s);
	cm->s = NULL;
	return ret;
}

/* Makes the camera's next stream and its header, unless it has them. */
static int prebuild(struct sealer *sl, struct cam *cm)
{
	size_t hlen = seal_header_len(sl->n_rcpt);
	int ret;

	if (cm->next)
		return 0;
	if (!cm->next_hdr) {
		cm->next_hdr = malloc(hlen);
		if (!cm->next_hdr)
			return -ENOMEM;
	}
	cm->next = seal_stream_new(sl->suite);
	if (!cm->next)
		return -ENOMEM;
	ret = seal_stream_header(cm->next, &sl->hub, sl->rcpt, sl->n_rcpt,
				 cm->next_hdr, hlen, &cm->next_len);
	if (ret) {
		seal_stream_free(cm->next);
		cm->next = NULL;
	}
	return ret;
}

static size_t meta_len(const struct cam *cm)
{
	return FRAME_HDR_LEN + 3 + strlen(cm->cfg->name) + 3 + 4 + 3 + 8 + 3 +
	       1;
}

static int open_stream(struct sealer *sl, struct cam *cm, uint64_t ts_us,
		       uint32_t cflags, uint64_t aux)
{
	struct frame_meta m = { .codec = "h264",
				.start_us = ts_us,
				.kind = cflags & CF_LIVE ? 3 : 1 };
	struct frame_hdr fh = { .kind = FRAME_KIND_META, .ts_us = ts_us };
	uint8_t buf[FRAME_HDR_LEN + 128], *rec;
	size_t hlen = seal_header_len(sl->n_rcpt), got;
	struct iovec iov;
	long n;
	int ret;

	snprintf(m.camera, sizeof(m.camera), "%s", cm->cfg->name);
	frame_hdr_put(buf, &fh);
	n = frame_meta_put(buf + FRAME_HDR_LEN, sizeof(buf) - FRAME_HDR_LEN,
			   &m);
	if (n < 0)
		return (int)n;
	/* The header first: a viewer can open the stream as it arrives. */
	rec = c_slot(sl, (uint32_t)hlen);
	if (!rec)
		return -ENOSPC;
	ret = prebuild(sl, cm);
	if (ret)
		return ret;
	/* Sealed bytes of a header, not frame bytes: copying them is free. */
	got = cm->next_len;
	memcpy(rec, cm->next_hdr, got);
	cm->s = cm->next;
	cm->next = NULL;
	c_commit(sl, (uint32_t)got, cflags, aux);
	cm->st->records++;
	cm->st->streams++;
	iov.iov_base = buf;
	iov.iov_len = FRAME_HDR_LEN + (size_t)n;
	return seal_into_ring(sl, cm, &iov, 1, iov.iov_len, false, cflags, aux);
}

/* C ring bytes the worst case of one frame takes. */
static uint64_t need_for(const struct sealer *sl, const struct cam *cm,
			 uint32_t len)
{
	uint64_t t = REC_HDR_LEN + REC_TAG_LEN;

	return ring_slot_size((uint32_t)t) +
	       ring_slot_size((uint32_t)seal_header_len(sl->n_rcpt)) +
	       ring_slot_size((uint32_t)(t + meta_len(cm) + 16)) +
	       ring_slot_size((uint32_t)(t + len));
}

/* Seals one access unit (or ends the stream): 1 done, 0 wait, -errno. */
static int seal_one(struct sealer *sl, struct cam *cm,
		    const struct ring_rec *rec)
{
	uint32_t flags = rec->flags, len = rec->len;
	uint32_t cflags = flags & PFL_LIVE ? CF_LIVE : 0;
	const uint8_t *pt = rec->p;
	struct iovec iov;
	struct frame_hdr fh;
	const uint8_t *payload;
	uint64_t t0, wait_us;
	size_t plen;
	int ret;

	if (ring_free(&sl->c) < need_for(sl, cm, len)) {
		sl->room_at_block = ring_free(&sl->c);
		return 0;
	}
	/* For the uplink's latency figures: when sealing began, and how
	 * long the frame had waited for it. */
	t0 = mono_ns();
	wait_us = t0 > rec->seq ? (t0 - rec->seq) / 1000 : 0;
	cflags |= (uint32_t)(wait_us < CF_WAIT_MAX ? wait_us : CF_WAIT_MAX)
		  << CF_WAIT_SHIFT;
	if (flags & PFL_END)
		return close_stream(sl, cm, cflags, t0) ?: 1;
	/* The worker is untrusted: a frame the viewer could not parse is
	 * refused here, not sealed. */
	if (frame_parse(pt, len, &fh, &payload, &plen) ||
	    fh.kind != FRAME_KIND_AU) {
		log_warn("camera %s: malformed frame from the worker, skipped",
			 cm->cfg->name);
		cm->st->skipped++;
		return 1;
	}
	if (!sl->n_rcpt) {
		cm->st->skipped++;
		return 1;
	}
	if (flags & PFL_KEY) {
		ret = close_stream(sl, cm, cflags, t0);
		if (!ret)
			ret = open_stream(sl, cm, fh.ts_us, cflags, t0);
		if (ret)
			return ret;
		cm->st->last_key_us = fh.ts_us;
	} else if (!cm->s) {
		cm->st->skipped++; /* no keyframe yet: nothing decodable */
		return 1;
	}
	iov.iov_base = (void *)pt;
	iov.iov_len = len;
	if (sl->io->extra_copy) {
		/* Baseline for the benchmark: the copy a naive pipeline makes. */
		if (sl->copy_cap < len) {
			free(sl->copy);
			sl->copy_cap = len * 2;
			sl->copy = malloc(sl->copy_cap);
			if (!sl->copy)
				return -ENOMEM;
		}
		memcpy(sl->copy, pt, len);
		iov.iov_base = sl->copy;
		sl->io->st->copies++;
	}
	ret = seal_into_ring(sl, cm, &iov, 1, len, false, cflags, t0);
	if (ret)
		return ret;
	cm->st->frames_sealed++;
	cm->st->bytes_sealed += plen;
	return 1;
}

/* Live frames give way: the oldest goes when its ring is 3/4 full. */
static bool drop_live(struct cam *cm, const struct ring_rec *rec)
{
	if (!(rec->flags & PFL_LIVE) || ring_used(&cm->p) < cm->p.cap / 4 * 3)
		return false;
	cm->st->drops_live++;
	return true;
}

/* Drains what one camera has: frames sealed, or 0 when the C ring is full. */
static int pump(struct sealer *sl, struct cam *cm, bool *blocked)
{
	struct ring_rec rec;
	int ret = 0, n = 0;

	while (!cm->dead && (ret = ring_peek(&cm->p, &rec)) == 1) {
		if (drop_live(cm, &rec)) {
			ring_release(&cm->p, &rec);
			continue;
		}
		ret = seal_one(sl, cm, &rec);
		if (!ret) {
			*blocked = true;
			sl->io->st->ring_waits++;
			break;
		}
		if (ret < 0) {
			log_err("camera %s: sealing failed: %s", cm->cfg->name,
				moat_strerror(ret));
			return ret;
		}
		ring_release(&cm->p, &rec);
		n++;
	}
	if (ret < 0 && ret == -EPROTO) {
		log_err("camera %s: the worker corrupted its ring; camera stopped",
			cm->cfg->name);
		cm->dead = true;
	}
	if (n) {
		if (ring_producer_waiting(&cm->p))
			wake(sl->io->pw[cm - sl->cams].space);
		wake(sl->io->cw.data);
	}
	return n;
}

/* 1 if it built a stream ahead for a camera that had none. */
static bool idle_prebuild(struct sealer *sl)
{
	for (size_t i = 0; i < sl->n_cams; i++) {
		struct cam *cm = &sl->cams[i];

		if (cm->dead || cm->next)
			continue;
		if (prebuild(sl, cm)) {
			/* open_stream tries again, and fails loudly */
			log_debug("camera %s: cannot prepare the next stream",
				  cm->cfg->name);
			return false;
		}
		return true;
	}
	return false;
}

static void drain(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("eventfd: %s", strerror(errno));
}

static int loop(struct sealer *sl)
{
	struct epoll_event ev[CFG_MAX_CAMERAS];

	while (!role_stopping()) {
		bool blocked = false;
		size_t i;
		int n;

		for (i = 0; i < sl->n_cams; i++)
			if (pump(sl, &sl->cams[i], &blocked) < 0)
				return 1;
		/* Idle: build one camera's next stream, then look again. */
		if (!blocked && sl->n_rcpt && idle_prebuild(sl))
			continue;
		if (blocked) {
			/* Blocked on the C ring: wait for the uplink, not the
			 * cameras. */
			struct pollfd pf = { .fd = sl->io->cw.space,
					     .events = POLLIN };

			ring_set_waiting(&sl->c, true);
			if (ring_free(&sl->c) <= sl->room_at_block &&
			    poll(&pf, 1, 1000) > 0)
				drain(pf.fd);
			ring_set_waiting(&sl->c, false);
			continue;
		}
		/* Else for the cameras: epoll keeps the set registered, so a
		 * wait costs the same for 1 camera or 64. */
		n = epoll_wait(sl->ep, ev, CFG_MAX_CAMERAS, 1000);
		for (int j = 0; j < n; j++)
			drain(sl->io->pw[ev[j].data.u32].data);
	}
	return 0;
}

static int prepare(struct sealer *sl)
{
	const char *why;
	struct seal_stream *warm;
	int ret;

	switch (sl->io->cfg->cipher) {
	case CIPHER_AES256GCM:
		sl->suite = SEAL_SUITE_AES256GCM;
		break;
	case CIPHER_CHACHA20:
		sl->suite = SEAL_SUITE_CHACHA20POLY1305;
		break;
	default:
		ret = seal_suite_default(&sl->suite, &why);
		if (ret)
			return ret;
	}
	ret = load_keys(sl);
	if (ret)
		return ret;
	for (size_t i = 0; i < sl->io->cfg->n_cams; i++) {
		struct cam *cm = &sl->cams[i];

		cm->cfg = &sl->io->cfg->cams[i];
		cm->st = &sl->io->st->cam[i];
		ret = ring_map(&sl->io->p[i], false, &cm->p);
		if (ret)
			return ret;
		sl->n_cams++;
	}
	ret = ring_map(&sl->io->c, true, &sl->c);
	if (ret)
		return ret;
	sl->ep = epoll_create1(EPOLL_CLOEXEC);
	if (sl->ep < 0)
		return -errno;
	for (size_t i = 0; i < sl->n_cams; i++) {
		struct epoll_event ev = { .events = EPOLLIN,
					  .data.u32 = (uint32_t)i };

		if (epoll_ctl(sl->ep, EPOLL_CTL_ADD, sl->io->pw[i].data, &ev))
			return -errno;
	}
	/* OpenSSL loads what it needs (DRBG, ciphers) before the sandbox. */
	warm = seal_stream_new(sl->suite);
	if (!warm)
		return -MOAT_E_CRYPTO;
	if (sl->n_rcpt) {
		uint8_t h[1024];
		size_t got;

		ret = seal_stream_header(warm, &sl->hub, sl->rcpt, 1, h,
					 sizeof(h), &got);
	}
	seal_stream_free(warm);
	return ret;
}

int sealer_main(struct sealer_io *io)
{
	struct sealer *sl = calloc(1, sizeof(*sl));
	int ret;

	if (!sl)
		return 1;
	role_signals();
	sl->io = io;
	sl->ep = -1;
	ret = prepare(sl);
	if (!ret)
		ret = sandbox_enter(&io->sb);
	if (!ret)
		ret = loop(sl);
	/* Streams left open end here (SIGTERM): close them properly. */
	for (size_t i = 0; i < sl->n_cams; i++) {
		if (!ret && sl->cams[i].s)
			close_stream(sl, &sl->cams[i], 0, mono_ns());
		seal_stream_free(sl->cams[i].s);
		seal_stream_free(sl->cams[i].next);
		free(sl->cams[i].next_hdr);
	}
	wake(io->cw.data);
	ks_hub_wipe(&sl->hub);
	OPENSSL_cleanse(sl->rcpt, sizeof(sl->rcpt));
	if (sl->ep >= 0)
		close(sl->ep);
	free(sl->copy);
	free(sl);
	return ret ? 1 : 0;
}
