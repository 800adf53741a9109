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
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "capture/source.h"
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
	bool hevc; /* the camera's codec, as its last keyframe said */
	bool fwht; /* (vicodec's test codec) */
	bool ref_warned; /* said once: a PFL_REF slot could not be read */
	/* the encoder's coded buffers, mapped read-only as PFL_REF slots
	 * name them (roles.h) */
	struct {
		const uint8_t *p;
		uint32_t gen, offset, length;
	} ref[REF_BUFS];
	/* record = events (see "Event clips" below) */
	bool events, in_clip, hold_broken;
	struct hold *hold;
	uint64_t clip_start_us, motion_us, last_motion_us, cooldown_until_us;
	uint64_t gop_start_us;
	uint8_t *clip_ids; /* GOP stream ids of the clip being recorded */
	size_t n_clip, cap_clip;
	/* someone watches live: the held GOP also goes to the C ring, marked
	 * live_flags, up to live_off in the hold (see live_flush) */
	bool live_gop;
	uint32_t live_flags; /* CF_LIVE, and CF_LAN for the LAN alone */
	size_t live_off;
};

/*
 * Sealed records of an events camera between clips: the last GOP streams,
 * header, META, access units and final record each, exactly as they
 * would have gone into the C ring. Records sit back to back from start to
 * used, each behind a 4-byte length; gop[] says where each GOP begins.
 */
enum { HOLD_CAP = 16 << 20, HOLD_GOPS = 128 };
/* Idle, the sealer reads ahead of its C ring head this far, WARM_STEP
 * pages between looks at the cameras (ring_warm(); docs/DECISIONS.md
 * section 30). */
enum { WARM_AHEAD = 1 << 20, WARM_STEP = 16 };

struct hold {
	uint8_t *buf;
	size_t start, used;
	uint64_t slot_bytes; /* C ring room the held records will take */
	struct {
		size_t off;
		uint64_t ts_us, slot_bytes;
		uint8_t id[REC_STREAM_ID_LEN];
	} gop[HOLD_GOPS];
	size_t n_gop;
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
		log_err("sealer: cannot load the hub key from %s: %s (make one with `moatctl pair', or `moat-view pair --hub-keys %s' on this machine)",
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

static bool holding(const struct cam *cm)
{
	return cm->events && !cm->in_clip;
}

static uint8_t *hold_slot(struct cam *cm, uint32_t len);
static void hold_commit(struct cam *cm, uint32_t len);
static void live_start(struct sealer *sl, struct cam *cm);
static void live_flush(struct sealer *sl, struct cam *cm, uint64_t room);

/* Where a camera's next record goes: the C ring, or the pre-roll hold. */
static uint8_t *out_slot(struct sealer *sl, struct cam *cm, uint32_t len)
{
	return holding(cm) ? hold_slot(cm, len) : c_slot(sl, len);
}

static void out_commit(struct sealer *sl, struct cam *cm, uint32_t len,
		       uint32_t cflags, uint64_t aux)
{
	if (holding(cm))
		hold_commit(cm, len);
	else
		c_commit(sl, len, cflags, aux);
	cm->st->records++;
}

/* One data record from spans, straight into the C ring (or the hold). */
static int seal_into_ring(struct sealer *sl, struct cam *cm,
			  const struct iovec *src, int n, size_t body,
			  bool final, uint32_t cflags, uint64_t aux)
{
	uint32_t len = (uint32_t)(REC_HDR_LEN + body + REC_TAG_LEN);
	uint8_t *rec = out_slot(sl, cm, len);
	int ret;

	if (!rec)
		return -ENOSPC;
	ret = seal_record_to(cm->s, src, n, final, rec, rec + REC_HDR_LEN,
			     rec + REC_HDR_LEN + body);
	if (ret)
		return ret;
	out_commit(sl, cm, len, cflags, aux);
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

/* Opens the camera's next stream (built ahead) with m as its META. */
static int open_stream_meta(struct sealer *sl, struct cam *cm,
			    const struct frame_meta *m, uint32_t cflags,
			    uint64_t aux)
{
	struct frame_hdr fh = { .kind = FRAME_KIND_META, .ts_us = m->start_us };
	size_t cap = FRAME_HDR_LEN + 128 + m->n_gops * 16 + 32, got;
	uint8_t stackbuf[FRAME_HDR_LEN + 160], *buf = stackbuf, *rec;
	struct iovec iov;
	long n;
	int ret;

	if (cap > sizeof(stackbuf)) {
		buf = malloc(cap);
		if (!buf)
			return -ENOMEM;
	} else {
		cap = sizeof(stackbuf);
	}
	frame_hdr_put(buf, &fh);
	n = frame_meta_put(buf + FRAME_HDR_LEN, cap - FRAME_HDR_LEN, m);
	ret = n < 0 ? (int)n : prebuild(sl, cm);
	/* The header first: a viewer can open the stream as it arrives. */
	rec = ret ? NULL : out_slot(sl, cm, (uint32_t)cm->next_len);
	if (!ret && !rec)
		ret = -ENOSPC;
	if (!ret) {
		/* Sealed bytes of a header, not frame bytes: copying them
		 * is free. */
		got = cm->next_len;
		memcpy(rec, cm->next_hdr, got);
		cm->s = cm->next;
		cm->next = NULL;
		out_commit(sl, cm, (uint32_t)got, cflags, aux);
		cm->st->streams++;
		iov.iov_base = buf;
		iov.iov_len = FRAME_HDR_LEN + (size_t)n;
		ret = seal_into_ring(sl, cm, &iov, 1, iov.iov_len, false,
				     cflags, aux);
	}
	if (buf != stackbuf)
		free(buf);
	return ret;
}

static const char *codec(const struct cam *cm)
{
	return cm->fwht ? "fwht" : cm->hevc ? "h265" : "h264";
}

static int open_stream(struct sealer *sl, struct cam *cm, uint64_t ts_us,
		       uint32_t cflags, uint64_t aux)
{
	struct frame_meta m = { .start_us = ts_us,
				.kind = cflags & CF_LIVE ? META_KIND_LIVE :
							   META_KIND_GOP };

	snprintf(m.camera, sizeof(m.camera), "%s", cm->cfg->name);
	snprintf(m.codec, sizeof(m.codec), "%s", codec(cm));
	return open_stream_meta(sl, cm, &m, cflags, aux);
}


/* ---- Event clips (record = events) ----
 *
 * Every GOP of an events camera is sealed as it is captured, as its own
 * stream with its own content key, exactly as a continuous camera's:
 * the header (the key wrapped to the viewers) is made ahead, the key is
 * erased when the GOP's stream closes. Between clips the sealed streams
 * go to the camera's hold instead of the C ring; the hold keeps the GOPs
 * that cover the last `preroll` seconds and discards older ones unsent
 * (whose keys are already gone). Motion flushes the hold into the C ring
 * and sends the camera's GOPs straight on until `clip_length` seconds
 * after the last motion (or `clip_max`), ending at a keyframe; then a
 * clip stream (META kind 2) lists the clip's GOP stream ids in order, so
 * a viewer can put the clip together. docs/EVENTS.md.
 */

static uint64_t rec_slot(uint32_t len)
{
	return ring_slot_size(len);
}

static void hold_drop_oldest(struct cam *cm)
{
	struct hold *h = cm->hold;
	size_t end = h->n_gop > 1 ? h->gop[1].off : h->used;

	h->slot_bytes -= h->gop[0].slot_bytes;
	memmove(&h->gop[0], &h->gop[1], (h->n_gop - 1) * sizeof(h->gop[0]));
	h->n_gop--;
	h->start = end;
	if (h->start == h->used)
		h->start = h->used = cm->live_off = 0;
	cm->st->discarded_gops++;
}

/* Room for len more bytes (and its length word), compacting if needed. */
static uint8_t *hold_slot(struct cam *cm, uint32_t len)
{
	struct hold *h = cm->hold;
	size_t need = 8 + (((size_t)len + 7) & ~(size_t)7);

	if (!h || cm->hold_broken)
		return NULL;
	for (;;) {
		if (h->used + need <= HOLD_CAP)
			return h->buf + h->used + 8;
		if (h->start) {
			memmove(h->buf, h->buf + h->start, h->used - h->start);
			for (size_t i = 0; i < h->n_gop; i++)
				h->gop[i].off -= h->start;
			cm->live_off = cm->live_off > h->start ?
					       cm->live_off - h->start :
					       0;
			h->used -= h->start;
			h->start = 0;
			continue;
		}
		/* full of GOPs that still cover the pre-roll: the oldest
		 * goes early (counted), never the one being sealed */
		if (h->n_gop < 2)
			return NULL;
		hold_drop_oldest(cm);
		cm->st->preroll_short++;
	}
}

static void hold_commit(struct cam *cm, uint32_t len)
{
	struct hold *h = cm->hold;
	size_t need = 8 + (((size_t)len + 7) & ~(size_t)7);

	memcpy(h->buf + h->used, &len, sizeof(len));
	h->used += need;
	h->slot_bytes += rec_slot(len);
	if (h->n_gop)
		h->gop[h->n_gop - 1].slot_bytes += rec_slot(len);
	cm->st->held_bytes = h->used - h->start;
}

/* Drops what the hold has (the source ended, or the sealer stops). */
static void hold_clear(struct cam *cm)
{
	while (cm->hold && cm->hold->n_gop)
		hold_drop_oldest(cm);
	if (cm->hold)
		cm->hold->start = cm->hold->used = cm->hold->slot_bytes = 0;
	cm->st->held_bytes = 0;
	cm->live_off = 0;
	cm->live_gop = false;
}

static int clip_add(struct cam *cm, const uint8_t id[static REC_STREAM_ID_LEN])
{
	if (cm->n_clip == META_CLIP_GOPS_MAX)
		return -E2BIG;
	if (cm->n_clip == cm->cap_clip) {
		size_t cap = cm->cap_clip ? cm->cap_clip * 2 : 64;
		uint8_t *p = realloc(cm->clip_ids, cap * REC_STREAM_ID_LEN);

		if (!p)
			return -ENOMEM;
		cm->clip_ids = p;
		cm->cap_clip = cap;
	}
	memcpy(cm->clip_ids + cm->n_clip++ * REC_STREAM_ID_LEN, id,
	       REC_STREAM_ID_LEN);
	return 0;
}

/* A keyframe between clips: the GOP begins here in the hold. */
static void gop_begin(struct cam *cm, uint64_t ts_us)
{
	struct hold *h = cm->hold;

	if (h->n_gop == HOLD_GOPS)
		hold_drop_oldest(cm);
	h->gop[h->n_gop].off = h->used;
	h->gop[h->n_gop].ts_us = ts_us;
	h->gop[h->n_gop].slot_bytes = 0;
	memset(h->gop[h->n_gop].id, 0, REC_STREAM_ID_LEN);
	h->n_gop++;
}

/* Its stream opened: its id, for the hold or the clip being recorded. */
static int gop_opened(struct cam *cm, uint64_t ts_us)
{
	const uint8_t *id = seal_stream_id(cm->s);

	cm->gop_start_us = ts_us;
	if (!holding(cm))
		return clip_add(cm, id);
	memcpy(cm->hold->gop[cm->hold->n_gop - 1].id, id, REC_STREAM_ID_LEN);
	return 0;
}

/*
 * A GOP too large for the hold: it goes, unsent, with its stream (its key
 * erased unused), and the camera waits for the next keyframe.
 */
static void hold_abort_gop(struct cam *cm)
{
	struct hold *h = cm->hold;

	seal_stream_free(cm->s);
	cm->s = NULL;
	if (h->n_gop) {
		h->n_gop--;
		h->used = h->gop[h->n_gop].off;
		h->slot_bytes -= h->gop[h->n_gop].slot_bytes;
		if (h->start >= h->used)
			h->start = h->used = 0;
	}
	/* live viewers got part of it: its stream just never ends */
	cm->live_gop = false;
	if (cm->live_off > h->used)
		cm->live_off = h->used;
	cm->hold_broken = true;
	cm->st->preroll_short++;
	cm->st->held_bytes = h->used - h->start;
	log_warn("camera %s: a GOP larger than the %d MiB pre-roll hold was dropped",
		 cm->cfg->name, HOLD_CAP >> 20);
}

/* At a keyframe between clips: GOPs no trigger from now on could use go. */
static void hold_trim(struct cam *cm, uint64_t ts_us)
{
	uint64_t pre = (uint64_t)cm->cfg->preroll_s * 1000000;

	while (cm->hold->n_gop >= 2 && cm->hold->gop[1].ts_us + pre <= ts_us)
		hold_drop_oldest(cm);
}

/* Motion: the held GOPs go to the C ring, the clip begins. 1, 0 (no room
 * yet: try again), -errno. */
static int clip_begin(struct sealer *sl, struct cam *cm, uint64_t ts_us,
		      uint64_t aux)
{
	struct hold *h = cm->hold;
	size_t off;
	int ret;

	cm->n_clip = 0;
	for (size_t i = 0; i < h->n_gop; i++) {
		ret = clip_add(cm, h->gop[i].id);
		if (ret)
			return ret;
	}
	/* sealed bytes, moved once: the pre-roll's only copy */
	for (off = h->start; off < h->used;) {
		uint32_t len;
		uint8_t *rec;

		memcpy(&len, h->buf + off, 4);
		rec = c_slot(sl, len);
		if (!rec)
			return -ENOSPC;
		memcpy(rec, h->buf + off + 8, len);
		c_commit(sl, len, 0, aux);
		off += 8 + (((size_t)len + 7) & ~(size_t)7);
	}
	cm->clip_start_us = h->n_gop ? h->gop[0].ts_us : cm->gop_start_us;
	h->start = h->used = h->slot_bytes = 0;
	h->n_gop = 0;
	cm->st->held_bytes = 0;
	cm->live_off = 0;
	cm->live_gop = false;
	cm->in_clip = true;
	cm->st->in_clip = 1;
	cm->motion_us = cm->last_motion_us = ts_us;
	log_info("camera %s: motion; clip begins with %.1f s of pre-roll",
		 cm->cfg->name,
		 (double)(ts_us - cm->clip_start_us) / 1e6);
	return 1;
}

/* The clip's index, as a stream of its own: META kind 2 and the final. */
static int clip_end(struct sealer *sl, struct cam *cm, uint64_t end_us,
		    uint64_t aux)
{
	struct frame_meta m = { .start_us = cm->clip_start_us,
				.kind = META_KIND_CLIP,
				.gops = cm->clip_ids,
				.n_gops = cm->n_clip,
				.motion_us = cm->motion_us,
				.end_us = end_us };
	int ret;

	snprintf(m.camera, sizeof(m.camera), "%s", cm->cfg->name);
	snprintf(m.codec, sizeof(m.codec), "%s", codec(cm));
	/* still in the clip: the index goes to the C ring, not the hold */
	ret = open_stream_meta(sl, cm, &m, 0, aux);
	if (!ret)
		ret = close_stream(sl, cm, 0, aux);
	if (!ret) {
		cm->st->clips++;
		log_info("camera %s: clip of %.1f s closed (%zu GOPs)",
			 cm->cfg->name,
			 (double)(end_us - cm->clip_start_us) / 1e6, cm->n_clip);
	}
	cm->in_clip = false;
	cm->st->in_clip = 0;
	cm->n_clip = 0;
	return ret;
}

/* C ring room a clip's end takes: a GOP's final, the index stream. */
static uint64_t clip_end_room(const struct sealer *sl, const struct cam *cm)
{
	uint64_t t = REC_HDR_LEN + REC_TAG_LEN;

	return rec_slot((uint32_t)t) * 2 +
	       rec_slot((uint32_t)seal_header_len(sl->n_rcpt)) +
	       rec_slot((uint32_t)(t + FRAME_HDR_LEN + 160 +
				   cm->n_clip * REC_STREAM_ID_LEN));
}

/*
 * An events camera's frame, before it is sealed: clip boundaries at
 * keyframes, motion beginning a clip. 1 go on, 0 wait for C ring room,
 * -errno.
 */
static int events_step(struct sealer *sl, struct cam *cm, uint32_t flags,
		       uint64_t ts_us, uint32_t cflags, uint64_t aux,
		       uint64_t need)
{
	const struct cfg_camera *cfg = cm->cfg;
	bool motion = flags & PFL_MOTION;
	int ret;

	if (!cm->hold) {
		cm->hold = calloc(1, sizeof(*cm->hold));
		if (cm->hold)
			cm->hold->buf = malloc(HOLD_CAP);
		if (!cm->hold || !cm->hold->buf)
			return -ENOMEM;
	}
	if ((flags & PFL_KEY) && cm->in_clip &&
	    (ts_us >= cm->last_motion_us + (uint64_t)cfg->clip_length_s * 1000000 ||
	     ts_us >= cm->clip_start_us + (uint64_t)cfg->clip_max_s * 1000000)) {
		bool too_long = ts_us < cm->last_motion_us +
					       (uint64_t)cfg->clip_length_s * 1000000;

		if (ring_free(&sl->c) < clip_end_room(sl, cm)) {
			sl->room_at_block = ring_free(&sl->c);
			return 0;
		}
		ret = close_stream(sl, cm, cflags, aux);
		if (!ret)
			ret = clip_end(sl, cm, ts_us, aux);
		if (ret)
			return ret;
		/* a clip cut by clip_max goes on at once if motion does */
		cm->cooldown_until_us =
			too_long ? ts_us :
				   ts_us + (uint64_t)cfg->cooldown_s * 1000000;
	}
	/* a clip that begins at this frame moves the hold to the C ring */
	if (motion && holding(cm) && ts_us >= cm->cooldown_until_us &&
	    ring_free(&sl->c) < cm->hold->slot_bytes + need) {
		sl->room_at_block = ring_free(&sl->c);
		return 0;
	}
	if ((flags & PFL_KEY) && holding(cm)) {
		ret = close_stream(sl, cm, cflags, aux);
		if (ret)
			return ret;
		hold_trim(cm, ts_us);
		cm->hold_broken = false;
	}
	return 1 + (motion ? 1 : 0); /* 2: motion at this frame */
}

/* After the keyframe's stream opened: motion may begin a clip. */
static int events_motion(struct sealer *sl, struct cam *cm, uint64_t ts_us,
			 uint64_t aux)
{
	if (cm->in_clip) {
		cm->last_motion_us = ts_us;
		return 1;
	}
	if (ts_us < cm->cooldown_until_us || !cm->s)
		return 1;
	return clip_begin(sl, cm, ts_us, aux);
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

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/*
 * A PFL_REF slot (roles.h): the access unit where the encoder wrote it,
 * mapped read-only from the sealer's own descriptor of the encoder. The
 * worker is untrusted: what it names is checked, and the kernel maps only
 * a buffer that exists, whole (vb2 refuses any other offset or length).
 * Its bytes may change under us only if the worker gives the buffer back
 * early, which spoils its own camera's frame and nothing else. 0 and the
 * access unit, or -errno (the frame is skipped).
 */
static int ref_map(struct sealer *sl, struct cam *cm, const uint8_t *body,
		   const uint8_t **au, uint32_t *used)
{
	int fd = sl->io->enc_fd[cm - sl->cams];
	uint32_t gen = get_u32(body), index = get_u32(body + 4),
		 offset = get_u32(body + 8), length = get_u32(body + 12);
	void *p;

	*used = get_u32(body + 16);
	if (fd < 0 || index >= REF_BUFS || !length || length > REF_MAX_LEN ||
	    *used > length || !*used)
		return -EINVAL;
	if (!cm->ref[index].p || cm->ref[index].gen != gen ||
	    cm->ref[index].offset != offset ||
	    cm->ref[index].length != length) {
		/* a new worker's buffers (or new buffers): mapped again */
		if (cm->ref[index].p)
			munmap((void *)cm->ref[index].p, cm->ref[index].length);
		cm->ref[index].p = NULL;
		p = mmap(NULL, length, PROT_READ, MAP_SHARED, fd, (off_t)offset);
		if (p == MAP_FAILED)
			return -errno;
		cm->ref[index].p = p;
		cm->ref[index].gen = gen;
		cm->ref[index].offset = offset;
		cm->ref[index].length = length;
	}
	*au = cm->ref[index].p;
	return 0;
}

/* Seals one access unit (or ends the stream): 1 done, 0 wait, -errno. */
static int seal_one(struct sealer *sl, struct cam *cm,
		    const struct ring_rec *rec)
{
	uint32_t flags = rec->flags, len = rec->len;
	uint32_t cflags = flags & PFL_LIVE ? CF_LIVE : 0;
	const uint8_t *pt = rec->p, *au = NULL;
	struct iovec iov[2];
	int n_iov = 1;
	struct frame_hdr fh;
	const uint8_t *payload;
	uint64_t t0, wait_us;
	bool motion = false;
	size_t plen;
	int ret;

	if (flags & PFL_REF) {
		uint32_t used;

		/* the header from the slot, the access unit from the
		 * encoder's buffer: sealed as one frame, in place */
		if (len != FRAME_HDR_LEN + REF_BODY_LEN ||
		    (flags & PFL_END) ||
		    ref_map(sl, cm, pt + FRAME_HDR_LEN, &au, &used)) {
			if (!cm->ref_warned)
				log_warn("camera %s: an encoder buffer the worker named cannot be read, skipped (said once)",
					 cm->cfg->name);
			cm->ref_warned = true;
			cm->st->skipped++;
			return 1;
		}
		len = FRAME_HDR_LEN + used;
	}

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
	if (flags & PFL_END) {
		ret = close_stream(sl, cm, cflags, t0);
		if (!ret && cm->in_clip)
			ret = clip_end(sl, cm, cap_now_us(), t0);
		else if (!ret && cm->events)
			hold_clear(cm);
		return ret ?: 1;
	}
	/* The worker is untrusted: a frame the viewer could not parse is
	 * refused here, not sealed. */
	if (frame_parse(pt, au ? FRAME_HDR_LEN + REF_BODY_LEN : len, &fh,
			&payload, &plen) ||
	    fh.kind != FRAME_KIND_AU || (au && fh.pad)) {
		log_warn("camera %s: malformed frame from the worker, skipped",
			 cm->cfg->name);
		cm->st->skipped++;
		return 1;
	}
	if (!sl->n_rcpt) {
		cm->st->skipped++;
		return 1;
	}
	if (cm->events) {
		ret = events_step(sl, cm, flags, fh.ts_us, cflags, t0,
				  need_for(sl, cm, len));
		if (ret <= 0)
			return ret;
		motion = ret == 2;
	}
	if (flags & PFL_KEY) {
		/* (an events camera between clips closed it already) */
		ret = close_stream(sl, cm, cflags, t0);
		if (!ret && holding(cm)) {
			/* the GOP that just ended goes out whole: its final
			 * record too (ring room for this frame kept) */
			live_flush(sl, cm, need_for(sl, cm, len));
			gop_begin(cm, fh.ts_us);
			live_start(sl, cm);
		}
		cm->hevc = flags & PFL_HEVC;
		cm->fwht = flags & PFL_FWHT;
		if (!ret)
			ret = open_stream(sl, cm, fh.ts_us, cflags, t0);
		if (ret == -ENOSPC && holding(cm)) {
			hold_abort_gop(cm);
			cm->st->skipped++;
			return 1;
		}
		if (!ret && cm->events)
			ret = gop_opened(cm, fh.ts_us);
		if (ret)
			return ret;
		cm->st->last_key_us = fh.ts_us;
	} else if (!cm->s) {
		cm->st->skipped++; /* no keyframe yet: nothing decodable */
		return 1;
	}
	if (motion) {
		ret = events_motion(sl, cm, fh.ts_us, t0);
		if (ret < 0)
			return ret;
	}
	iov[0].iov_base = (void *)pt;
	iov[0].iov_len = len;
	if (au) {
		iov[0].iov_len = FRAME_HDR_LEN;
		iov[1].iov_base = (void *)au;
		iov[1].iov_len = len - FRAME_HDR_LEN;
		plen = iov[1].iov_len;
		n_iov = 2;
	} else if (sl->io->extra_copy) {
		/* Baseline for the benchmark: the copy a naive pipeline makes. */
		if (sl->copy_cap < len) {
			free(sl->copy);
			sl->copy_cap = len * 2;
			sl->copy = malloc(sl->copy_cap);
			if (!sl->copy)
				return -ENOMEM;
		}
		memcpy(sl->copy, pt, len);
		iov[0].iov_base = sl->copy;
		sl->io->st->copies++;
	}
	ret = seal_into_ring(sl, cm, iov, n_iov, len, false, cflags, t0);
	if (ret == -ENOSPC && holding(cm)) {
		hold_abort_gop(cm);
		cm->st->skipped++;
		return 1;
	}
	if (ret)
		return ret;
	cm->st->frames_sealed++;
	cm->st->bytes_sealed += plen;
	return 1;
}

/* Live frames give way: the oldest goes when its ring is 3/4 full. */
/*
 * Between clips, while someone watches live, an events camera's GOPs go
 * out as they are sealed: each record the camera put in its hold is also
 * copied to the C ring, marked live (sent, never spooled), and stays in
 * the hold for a clip's pre-roll. If a clip then begins, the held GOPs go
 * again as recorded records, which the relay already has (it counts them
 * as duplicates and forwards nothing twice to live viewers; the hub's LAN
 * forwarder does the same). moatd says who watches: through the relay (a
 * live request: the copies go to the relay, which stores and forwards
 * them) or on the LAN only (CF_LAN: the uplink hands them to LAN viewers
 * and to nobody else).
 *
 * Live view begins at a GOP (a viewer opens a stream from its header).
 * The copies give way: they take the ring only while it is at most three
 * quarters full, and leave room for what the hold and the frame being
 * sealed may need; a GOP that does not fit is cut short for live viewers
 * (counted with the live drops; its stream just never ends for them) and
 * the camera goes on at the next keyframe.
 */
static void live_start(struct sealer *sl, struct cam *cm)
{
	uint64_t now = mono_ns();
	const struct stats_sealer *st = sl->io->st;

	cm->live_off = cm->hold->used;
	cm->live_gop = false;
	if (!cm->cfg->live)
		return;
	if (now < __atomic_load_n(&st->live_until_ns, __ATOMIC_RELAXED))
		cm->live_flags = CF_LIVE;
	else if (now < __atomic_load_n(&st->lan_until_ns, __ATOMIC_RELAXED))
		cm->live_flags = CF_LIVE | CF_LAN;
	else
		return;
	cm->live_gop = true;
}

/* Copies what the hold has past live_off, keeping room besides. */
static void live_flush(struct sealer *sl, struct cam *cm, uint64_t room)
{
	struct hold *h = cm->hold;

	if (!holding(cm) || !h || !cm->live_gop) {
		if (h)
			cm->live_off = h->used;
		return;
	}
	while (cm->live_off < h->used) {
		uint32_t len;
		uint8_t *dst;

		memcpy(&len, h->buf + cm->live_off, 4);
		if (ring_free(&sl->c) < sl->c.cap / 4 + rec_slot(len) +
						h->slot_bytes + room) {
			cm->live_gop = false;
			cm->st->drops_live++;
			cm->live_off = h->used;
			return;
		}
		dst = c_slot(sl, len);
		if (!dst)
			return;
		memcpy(dst, h->buf + cm->live_off + 8, len);
		/* aux: when sealing began, for the latency the uplink reports */
		c_commit(sl, len, cm->live_flags, mono_ns());
		cm->live_off += 8 + (((size_t)len + 7) & ~(size_t)7);
	}
}

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
		live_flush(sl, cm, 0);
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
		/* the uplink, if it sleeps: now, not after the other
		 * cameras, so that it sends while we seal */
		if (ring_consumer_idle(&sl->c))
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

		for (i = 0; i < sl->n_cams; i++)
			if (pump(sl, &sl->cams[i], &blocked) < 0)
				return 1;
		/* Idle: build one camera's next stream, then look again;
		 * then touch the pages the next records will be sealed
		 * into, a few at a time. */
		if (!blocked && sl->n_rcpt && idle_prebuild(sl))
			continue;
		if (!blocked && ring_warm(&sl->c, WARM_AHEAD, WARM_STEP))
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
		 * wait costs the same for 1 camera or 64. Workers write their
		 * eventfd only while this says it sleeps, and edge-triggered
		 * it need not be read: no system call per frame but the wait. */
		for (i = 0; i < sl->n_cams; i++)
			ring_set_idle(&sl->cams[i].p, true);
		for (i = 0; i < sl->n_cams; i++)
			if (!sl->cams[i].dead && ring_pending(&sl->cams[i].p))
				break;
		if (i == sl->n_cams)
			epoll_wait(sl->ep, ev, CFG_MAX_CAMERAS, 1000);
		for (i = 0; i < sl->n_cams; i++)
			ring_set_idle(&sl->cams[i].p, false);
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
		cm->events = cm->cfg->record == REC_EVENTS;
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
		struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
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
	role_signals(-1);
	sl->io = io;
	sl->ep = -1;
	ret = prepare(sl);
	if (!ret)
		ret = sandbox_enter(&io->sb);
	if (!ret)
		ret = loop(sl);
	/* Streams left open end here (SIGTERM): close them properly. */
	for (size_t i = 0; i < sl->n_cams; i++) {
		struct cam *cm = &sl->cams[i];

		if (!ret && cm->s)
			close_stream(sl, cm, 0, mono_ns());
		/* a clip being recorded is indexed; a held pre-roll goes */
		if (!ret && cm->in_clip)
			clip_end(sl, cm, cap_now_us(), mono_ns());
		hold_clear(cm);
		seal_stream_free(cm->s);
		seal_stream_free(cm->next);
		free(cm->next_hdr);
		if (cm->hold)
			free(cm->hold->buf);
		free(cm->hold);
		free(cm->clip_ids);
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
