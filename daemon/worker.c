// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capture worker: one camera into its P ring. The access unit is written
 * into the ring slot behind its frame header, so the sealer seals it where
 * it lies. A realtime camera cannot wait: when the ring is full the frame
 * is lost, counted, logged, and the worker skips to the next keyframe so
 * that what is recorded stays decodable. A fast (benchmark) source waits.
 */
#include <errno.h>
#include <inttypes.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "capture/avlog.h"
#include "capture/filecam.h"
#include "capture/libcam.h"
#include "capture/m2m.h"
#include "capture/motion.h"
#include "capture/rtsp.h"
#include "capture/v4l2.h"
#include "capture/v4l2cam.h"
#include "common/log.h"
#include "crypto/frame.h"
#include "daemon/roles.h"

/* After a commit: the sealer is woken only if it sleeps (ring.h). */
static void wake_sealer(struct worker_io *io, const struct ring *r)
{
	if (ring_consumer_idle(r))
		wake(io->wake.data);
}

/* How long an IP camera may stay silent (connect, each reply, each frame)
 * before its worker gives up and moatd starts it again. */
#define RTSP_TIMEOUT_MS 10000

/* More complaints from libavformat/libavcodec than this in 10 s: the
 * camera's stream is damaged (a healthy one over TCP gives none). */
#define DAMAGE_WINDOW_US 10000000ULL
#define DAMAGE_MAX 50

static int open_source(const struct cfg_camera *cam, const char *url,
		       struct cap_source **src, char *why, size_t why_len)
{
	struct filecam_opts o = { .realtime = cam->pace == PACE_REALTIME,
				  .loop = cam->loop,
				  .fps = 30 };
	struct rtsp_opts ro = { .timeout_ms = RTSP_TIMEOUT_MS,
				.stop = role_stopping };

	switch (cam->kind) {
	case CAM_FILE:
		return filecam_open(cam->source, &o, src);
	case CAM_RTSP:
		return rtsp_open(url, &ro, src, why, why_len);
	default:
		snprintf(why, why_len,
			 "not a camera source");
		return -ENOTSUP;
	}
}

/* Puts one frame in the ring: 1 written, 0 no room, -errno. */
static int put_frame(struct worker_io *io, struct ring *r,
		     const struct cap_frame *f, uint32_t extra_flags)
{
	struct frame_hdr fh = { .kind = FRAME_KIND_AU, .ts_us = f->ts_us };
	uint32_t len = (uint32_t)(FRAME_HDR_LEN + f->len), flags = extra_flags;
	uint8_t *slot;
	int err;

	if (f->len > (16 << 20) - FRAME_HDR_LEN - 64)
		return -EMSGSIZE;
	slot = ring_reserve(r, len, &err);
	if (!slot)
		return err == -ENOSPC ? 0 : err;
	fh.flags = (uint8_t)((f->key ? FRAME_F_KEY : 0) |
			     (f->config ? FRAME_F_CONFIG : 0));
	flags |= (f->key ? PFL_KEY : 0) | (f->config ? PFL_CONFIG : 0) |
		 (f->hevc ? PFL_HEVC : 0);
	frame_hdr_put(slot, &fh);
	/* The camera's bytes land in the ring once: this is the capture. */
	memcpy(slot + FRAME_HDR_LEN, f->p, f->len);
	ring_commit_aux(r, len, flags, mono_ns());
	wake_sealer(io, r);
	return 1;
}

/* Sleeps until the sealer frees room (or 100 ms pass). */
static void wait_room(struct worker_io *io, struct ring *r, uint32_t len)
{
	ring_set_waiting(r, true);
	if (ring_free(r) < ring_slot_size(len))
		wait_wake(io->wake.space, 100);
	ring_set_waiting(r, false);
}

static int put_end(struct worker_io *io, struct ring *r, uint32_t live)
{
	int err;

	while (!ring_reserve(r, 0, &err)) {
		if (err != -ENOSPC || role_stopping())
			return err;
		wait_room(io, r, 0);
	}
	ring_commit_aux(r, 0, PFL_END | live, mono_ns());
	wake_sealer(io, r);
	return 0;
}

static const char *capture_why(int err)
{
	switch (err) {
	case -ETIMEDOUT:
		return "the camera sent nothing for 10 s";
	case -ECONNRESET:
		return "the camera ended the session";
	case -EPROTO:
		return "the camera's stream broke the protocol";
	case -EBADMSG:
		return "the camera's video cannot be decoded for motion detection (5 s of frames refused)";
	case -ENOLINK:
		return "the camera's motion substream ended or stalled";
	case -EMSGSIZE:
		return "the camera sent an access unit too large to record (over 4 MiB from an IP camera, 2 MiB from a file)";
	case -EFBIG:
		return "the camera's pictures are over 4096x2304, too large to analyse for motion";
	default:
		return strerror(-err);
	}
}

/* What the last 10 s window of an IP camera looked like. */
struct window {
	uint64_t complaints; /* libav* warnings and errors, so far */
	uint64_t received;   /* bytes on the camera's sockets, so far */
	uint64_t usual_bps;  /* the camera's usual bitrate (slow average) */
	uint64_t frames;     /* access units in this window */
	uint64_t pictures;   /* ... decoded (motion, or keyframe check) */
	uint64_t damaged;    /* ... that the decoder found broken */
};

/*
 * A camera's low-resolution substream for motion (motion_source): read
 * by a second thread of the worker, which decodes it and publishes the
 * detector's state; the main thread only reads that state. Both streams
 * come from the same camera, in the same sandbox.
 */
struct substream {
	struct cap_source *src;
	struct motion *m;
	pthread_t th;
	bool running;
	int active; /* atomics: the detector's state, and why it stopped */
	int err;
};

static volatile sig_atomic_t sub_quit;

static int sub_stop(void)
{
	return role_stopping() || sub_quit;
}

/* A detector for this camera, made at its first frame (when the codec is
 * known), inside the sandbox, where the decoder needs only memory. */
static struct motion *detector(const struct worker_io *io, bool hevc,
			       bool keyframes_only)
{
	struct motion_opts mo = {
		.hevc = hevc,
		.keyframes_only = keyframes_only,
		.sensitivity = io->cam->motion_sensitivity,
		.fps = io->cam->motion_fps,
		.n_ignore = io->cam->n_motion_ignore,
	};
	struct motion *m;
	char why[128];

	memcpy(mo.ignore, io->cam->motion_ignore, sizeof(mo.ignore));
	m = motion_new(&mo, why, sizeof(why));
	if (!m)
		log_err("camera %s: motion detection: %s", io->cam->name, why);
	return m;
}

/* motion_feed()'s errors, worded apart from the RTSP source's. */
static int detector_err(int ret)
{
	return ret == -EPROTO	? -EBADMSG :
	       ret == -EMSGSIZE ? -EFBIG : /* a picture, not an access unit */
				  ret;
}

/* The detector's state after a frame, in the counters and the log. */
static void motion_seen(struct worker_io *io, const struct motion_result *mr,
			const char *where)
{
	io->st->motion_samples += mr->sampled;
	if (mr->active && !io->st->motion) {
		io->st->motion_starts++;
		log_info("camera %s: motion%s (%u of %u cells changed)",
			 io->cam->name, where, mr->cells, mr->of);
	}
	io->st->motion = mr->active;
}

static void *sub_main(void *arg)
{
	struct worker_io *io = arg;
	struct substream *ss = io->sub;
	int err = 0;

	while (!sub_stop()) {
		struct motion_result mr;
		struct cap_frame f;
		uint64_t due;
		int ret = cap_next(ss->src, cap_now_us(), &f, &due);

		if (ret == 0)
			continue;
		if (ret < 0) {
			err = ret == -ENODATA ? -ECONNRESET : ret;
			break;
		}
		if (!ss->m && !(ss->m = detector(io, f.hevc, false))) {
			err = -ENOMEM;
			break;
		}
		ret = motion_feed(ss->m, f.p, f.len, f.ts_us, &mr);
		if (ret) {
			err = detector_err(ret);
			break;
		}
		motion_seen(io, &mr, " in the substream");
		__atomic_store_n(&ss->active, mr.active, __ATOMIC_RELEASE);
	}
	__atomic_store_n(&ss->active, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&ss->err, err ? err : -EINTR, __ATOMIC_RELEASE);
	return NULL;
}

/* record = events: the motion flag for this frame (the detector lags
 * the frame it is given by at most the decoder's delay). */
static int motion_flag(struct worker_io *io, struct motion **mp,
		       const struct cap_frame *f, uint32_t *flags,
		       struct window *w)
{
	struct motion_result mr;
	struct motion *m = *mp;
	int ret;

	/* a continuous IP camera: its keyframes are decoded, only to
	 * notice a damaged stream (about a thirtieth of a full decode) */
	bool check = io->cam->record != REC_EVENTS;

	if (check && (io->cam->kind != CAM_RTSP || !f->key))
		return 0;
	if (!check && io->sub) {
		/* the substream's thread decides; its end ends the worker */
		int err = __atomic_load_n(&io->sub->err, __ATOMIC_ACQUIRE);

		if (err && !role_stopping())
			return err == -EBADMSG || err == -EFBIG ||
					       err == -ENOMEM ?
				       err :
				       -ENOLINK;
		if (__atomic_load_n(&io->sub->active, __ATOMIC_ACQUIRE))
			*flags |= PFL_MOTION;
		return 0;
	}
	if (!m && !(m = *mp = detector(io, f->hevc, check)))
		return -ENOMEM;
	ret = motion_feed(m, f->p, f->len, f->ts_us, &mr);
	if (ret)
		return detector_err(ret);
	w->pictures += mr.decoded || mr.damaged;
	w->damaged += mr.damaged;
	if (check)
		return 0;
	motion_seen(io, &mr, "");
	if (mr.active)
		*flags |= PFL_MOTION;
	return 0;
}


static int fail(struct worker_io *io, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void note(struct worker_io *io, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The camera failed: why, for status (and the log, at the worker's end). */
static int fail(struct worker_io *io, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(io->st->err, sizeof(io->st->err), "camera failed: ");

	va_start(ap, fmt);
	vsnprintf(io->st->err + n, sizeof(io->st->err) - (size_t)n, fmt, ap);
	va_end(ap);
	io->st->err_us = cap_now_us();
	return err;
}

static void note(struct worker_io *io, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(io->st->note, sizeof(io->st->note), fmt, ap);
	va_end(ap);
	io->st->note_us = cap_now_us();
	log_warn("camera %s: %s", io->cam->name, io->st->note);
}

/*
 * Every 10 s of an IP camera: libavformat resynchronises a damaged
 * stream by itself and skips what it cannot parse, so the camera looks
 * merely slow. Many complaints from libav*, or most of the bytes the
 * camera sent never coming out as frames, mean the stream is broken:
 * said, and the worker ends (moatd starts it again, a new session). A
 * bitrate far above the camera's usual is only noted.
 */
static int check_window(struct worker_io *io, struct window *w,
			uint64_t win_us, uint64_t delivered)
{
	uint64_t n = cap_av_complaints(),
		 rx = io->cam->kind == CAM_RTSP ? rtsp_bytes_received() : 0,
		 got = rx - w->received, bps = delivered * 8 / 10;
	bool first = !win_us;

	if (!first && n - w->complaints > DAMAGE_MAX)
		return fail(io, -EILSEQ,
			    "the camera's stream is damaged (%llu errors from the RTSP/RTP parser or decoder in 10 s)",
			    (unsigned long long)(n - w->complaints));
	if (!first && io->cam->kind == CAM_RTSP && got > (1u << 20) &&
	    delivered < got / 2)
		return fail(io, -EILSEQ,
			    "the camera's stream is damaged (%.1f MB received in 10 s, %.0f%% of it made frames)",
			    (double)got / 1e6,
			    100.0 * (double)delivered / (double)got);
	if (!first && w->usual_bps && bps > 4 * w->usual_bps)
		note(io, "bitrate %.1f Mb/s over the last 10 s, %.0f times the camera's usual %.1f Mb/s",
		     (double)bps / 1e6, (double)bps / (double)w->usual_bps,
		     (double)w->usual_bps / 1e6);
	else if (!first && w->frames > 10 * 65)
		note(io, "%llu frames a second over the last 10 s, more than a camera sends (recorded all the same)",
		     (unsigned long long)(w->frames / 10));
	if (!first && w->damaged)
		note(io, "%llu of %llu %s in the last 10 s did not decode (cut short or damaged); they are recorded as sent",
		     (unsigned long long)w->damaged,
		     (unsigned long long)w->pictures,
		     io->cam->record == REC_EVENTS ? "pictures" : "keyframes");
	w->frames = w->pictures = w->damaged = 0;
	/* the usual rate moves slowly, so a burst does not become it */
	if (!first)
		w->usual_bps = w->usual_bps ? (w->usual_bps * 7 + bps) / 8 : bps;
	w->complaints = n;
	w->received = rx;
	return 0;
}

static int capture(struct worker_io *io, struct cap_source *src,
		   struct ring *r, struct motion **m)
{
	const struct cfg_camera *cam = io->cam;
	uint32_t live = cam->record == REC_OFF ? PFL_LIVE : 0;
	bool realtime = cam->pace == PACE_REALTIME, skip = false;
	uint64_t delivered = 0, first_us = 0, win_us = 0, win_bytes = 0;
	struct window w = { 0 };

	while (!role_stopping()) {
		struct cap_frame f;
		uint64_t now = cap_now_us(), due = 0;
		uint32_t flags;
		int ret = cap_next(src, now, &f, &due);

		if (ret == -ENODATA) {
			io->st->ended = 1;
			log_info("camera %s: the source ended", cam->name);
			ret = put_end(io, r, live);
			return ret < 0 ? fail(io, ret, "%s", strerror(-ret)) : 0;
		}
		if (ret < 0)
			return fail(io, ret, "%s", capture_why(ret));
		if (!ret) {
			int ms = due > now ? (int)((due - now + 999) / 1000) : 0;

			/* the next frame is not due: sleep on the clock alone */
			poll(NULL, 0, ms > 1000 ? 1000 : ms);
			continue;
		}
		if (skip && !f.key) {
			io->st->drops_rec++;
			continue;
		}
		skip = false;
		flags = live;
		ret = motion_flag(io, m, &f, &flags, &w);
		if (ret)
			return fail(io, ret, "%s", capture_why(ret));
		for (;;) {
			ret = put_frame(io, r, &f, flags);
			if (ret || realtime || role_stopping())
				break;
			wait_room(io, r, (uint32_t)(FRAME_HDR_LEN + f.len));
		}
		if (ret < 0)
			return fail(io, ret, "%s", capture_why(ret));
		if (!ret) {
			/* A realtime camera cannot wait for the sealer. */
			if (!io->st->drops_rec)
				log_warn("camera %s: pipeline full, frames lost until the next keyframe",
					 cam->name);
			io->st->drops_rec++;
			skip = true;
			continue;
		}
		/* libavformat resynchronises a damaged stream by itself,
		 * dropping what it cannot parse: many complaints in a short
		 * time mean the camera's stream is broken, said and restarted */
		win_bytes += f.len;
		w.frames++;
		if (f.ts_us >= win_us + DAMAGE_WINDOW_US) {
			ret = check_window(io, &w, win_us, win_bytes);
			if (ret)
				return ret;
			win_us = f.ts_us;
			win_bytes = 0;
		}
		/* the camera works (again): its last failure stays shown
		 * until it has run for 30 s, as long as moatd's backoff */
		if (!delivered++)
			first_us = f.ts_us;
		else if (io->st->err[0] && f.ts_us > first_us + 30000000)
			io->st->err[0] = 0;
		io->st->frames++;
		io->st->bytes += f.len;
		if (f.key)
			io->st->last_key_us = f.ts_us;
	}
	return 0;
}

/* ---- a local camera (V4L2): the encoder writes into the ring ---- */

/* An access unit is in the ring: the camera's counters. */
static void counted(struct worker_io *io, size_t len, bool key,
		    uint64_t ts_us)
{
	io->st->frames++;
	io->st->bytes += len;
	if (key)
		io->st->last_key_us = ts_us;
}

/* Where an access unit of a local camera goes: a slot of the P ring. */
struct ring_sink {
	struct worker_io *io;
	struct ring *r;
	struct motion **m;
	struct window w;
	uint8_t *slot;
	uint32_t live;
	int err;
	bool motion_was;
};

static uint8_t *sink_reserve(void *arg, size_t len, size_t pad)
{
	struct ring_sink *rs = arg;

	if (len > (16 << 20) - FRAME_HDR_LEN - 64 - pad)
		return NULL;
	rs->slot = ring_reserve(rs->r, (uint32_t)(FRAME_HDR_LEN + len + pad),
				&rs->err);
	return rs->slot ? rs->slot + FRAME_HDR_LEN : NULL;
}

static int sink_commit(void *arg, size_t len, bool key, uint64_t ts_us)
{
	struct ring_sink *rs = arg;
	struct worker_io *io = rs->io;
	/* our own encoder (or a UVC camera) repeats SPS/PPS at keyframes */
	struct cap_frame f = { .p = rs->slot + FRAME_HDR_LEN, .len = len,
			       .ts_us = ts_us, .key = key, .config = key };
	struct frame_hdr fh = { .kind = FRAME_KIND_AU, .ts_us = ts_us };
	uint32_t flags = rs->live;
	int ret;

	if (!rs->slot)
		return -EINVAL;
	ret = motion_flag(io, rs->m, &f, &flags, &rs->w);
	if (ret) {
		rs->err = ret;
		return ret;
	}
	fh.flags = (uint8_t)(key ? FRAME_F_KEY | FRAME_F_CONFIG : 0);
	flags |= key ? PFL_KEY | PFL_CONFIG : 0;
	frame_hdr_put(rs->slot, &fh);
	ring_commit_aux(rs->r, (uint32_t)(FRAME_HDR_LEN + len), flags,
			mono_ns());
	wake_sealer(io, rs->r);
	rs->slot = NULL;
	counted(io, len, key, ts_us);
	return 0;
}

/*
 * An access unit left in the V4L2 encoder's buffer: a PFL_REF slot says
 * where (roles.h); the sealer seals it in place. The buffer goes back to
 * the encoder once the slot is released, which the token (the ring's head
 * after it) tells.
 */
static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static int ref_take(void *arg, const struct m2m_ref *ref, uint64_t *token)
{
	struct ring_sink *rs = arg;
	struct worker_io *io = rs->io;
	struct cap_frame f = { .p = ref->p, .len = ref->len,
			       .ts_us = ref->ts_us, .key = ref->key,
			       .config = ref->key };
	struct frame_hdr fh = { .kind = FRAME_KIND_AU, .ts_us = ref->ts_us };
	uint32_t flags = rs->live;
	uint8_t *slot;
	int ret;

	if (ref->len > REF_MAX_LEN)
		return 0;
	slot = ring_reserve(rs->r, FRAME_HDR_LEN + REF_BODY_LEN, &rs->err);
	if (!slot)
		return rs->err == -ENOSPC ? 0 : rs->err;
	/* motion is judged on the access unit where it lies */
	ret = motion_flag(io, rs->m, &f, &flags, &rs->w);
	if (ret) {
		rs->err = ret;
		return ret;
	}
	fh.flags = (uint8_t)(ref->key ? FRAME_F_KEY | FRAME_F_CONFIG : 0);
	flags |= PFL_REF | (ref->key ? PFL_KEY | PFL_CONFIG : 0) |
		 (ref->coded == V4L2_PIX_FMT_FWHT ? PFL_FWHT : 0);
	frame_hdr_put(slot, &fh);
	put_u32(slot + FRAME_HDR_LEN, (uint32_t)getpid());
	put_u32(slot + FRAME_HDR_LEN + 4, ref->index);
	put_u32(slot + FRAME_HDR_LEN + 8, ref->offset);
	put_u32(slot + FRAME_HDR_LEN + 12, ref->length);
	put_u32(slot + FRAME_HDR_LEN + 16, (uint32_t)ref->len);
	ring_commit_aux(rs->r, FRAME_HDR_LEN + REF_BODY_LEN, flags, mono_ns());
	*token = ring_head(rs->r);
	wake_sealer(io, rs->r);
	counted(io, ref->len, ref->key, ref->ts_us);
	return 1;
}

static bool ref_done(void *arg, uint64_t token)
{
	struct ring_sink *rs = arg;

	return ring_tail(rs->r) >= token;
}

static int capture_v4l2(struct worker_io *io, struct v4l2cam *c,
			struct ring *r, struct motion **m)
{
	struct ring_sink rs = {
		.io = io, .r = r, .m = m,
		.live = io->cam->record == REC_OFF ? PFL_LIVE : 0,
	};
	struct swenc_sink sink = { &rs, sink_reserve, sink_commit };
	struct m2m_reader refs = { &rs, ref_take, ref_done };
	bool key = false, m2m = v4l2cam_m2m_fd(c) >= 0;
	uint64_t damaged = 0;

	/* the sealer says when it releases a slot: a held encoder buffer
	 * may then go back */
	ring_set_waiting(r, m2m);
	while (!role_stopping()) {
		int ret = v4l2cam_next(c, &sink, &refs, key);

		if (ret == 1) {
			/* motion just began: the clip starts at a keyframe
			 * made now, not the last GOP's */
			bool moving = io->st->motion;

			io->st->copies = v4l2cam_copies(c);
			io->st->converted = v4l2cam_converted(c);
			key = moving && !rs.motion_was;
			rs.motion_was = moving;
			if (io->st->err[0] && io->st->frames > 30 * 30)
				io->st->err[0] = 0;
			continue;
		}
		if (ret == 2) {
			/* no room: a realtime camera cannot wait */
			if (!io->st->drops_rec++)
				log_warn("camera %s: pipeline full, a frame lost",
					 io->cam->name);
			continue;
		}
		if (ret == 3) {
			if (!damaged++)
				note(io, "the camera sent an MJPEG frame that does not decode; such frames are skipped");
			continue;
		}
		if (ret == -ENODEV)
			return fail(io, ret,
				    "the camera %s is gone (unplugged?); it is opened again when it returns",
				    io->cam->source);
		if (ret < 0)
			return fail(io, rs.err ? rs.err : ret, "%s",
				    capture_why(rs.err ? rs.err : ret));
		{
			struct pollfd p[2] = {
				{ .fd = v4l2cam_fd(c), .events = POLLIN },
				{ .fd = io->wake.space, .events = POLLIN },
			};

			if (poll(p, m2m ? 2 : 1, 1000) > 0 && m2m &&
			    (p[1].revents & POLLIN))
				wait_wake(io->wake.space, 0);
		}
	}
	if (m2m) {
		/* an orderly stop: what the encoder holds is recorded */
		uint64_t before = io->st->frames;
		int ret = v4l2cam_drain(c, &refs, 1000);

		log_info("camera %s: the encoder drained (%" PRIu64
			 " access units%s)",
			 io->cam->name, io->st->frames - before,
			 ret ? ", then failed" : "");
	}
	return 0;
}

/*
 * A new worker with a V4L2 encoder: its predecessor's last access units
 * may still wait in the ring, named by buffers the encoder's set-up is
 * about to free and make anew; the sealer gets up to 2 s to seal them
 * first (then a slot left over would be sealed from a new buffer: its own
 * camera's bytes, but another frame).
 */
static void wait_sealed(const struct ring *r)
{
	for (int i = 0; i < 200 && ring_used(r); i++)
		poll(NULL, 0, 10);
}

static int run_v4l2(struct worker_io *io, struct ring *r, struct motion **m)
{
	struct v4l2cam_opts o = { .dev = io->cam->source,
				  .fourcc = io->cam->v4l2_format,
				  .width = io->cam->width,
				  .height = io->cam->height,
				  .fps = io->cam->fps,
				  .bitrate = (uint32_t)io->cam->bitrate,
				  .m2m_fd = io->enc_fd,
				  .m2m_must = io->cam->encoder[0] == '/' };
	struct v4l2cam *c = NULL;
	char why[256] = "";
	int ret;

	if (o.m2m_must && o.m2m_fd < 0) {
		io->st->err_us = cap_now_us();
		snprintf(io->st->err, sizeof(io->st->err),
			 "encoder %.40s not opened at start: %.50s (fix, then restart moatd)",
			 io->cam->encoder,
			 io->enc_err == -ENODEV ? "not a memory-to-memory device" :
			 io->enc_err == -ENOENT ? "it encodes nothing from raw pictures, or is not there" :
						  strerror(-io->enc_err));
		log_err("camera %s: %s", io->cam->name, io->st->err);
		return 1;
	}
	if (o.m2m_fd >= 0)
		wait_sealed(r);
	ret = v4l2cam_open(&o, &c, why, sizeof(why));
	if (ret) {
		io->st->err_us = cap_now_us();
		snprintf(io->st->err, sizeof(io->st->err), "cannot open %.60s: %s",
			 io->cam->source, why);
		log_err("camera %s: %s", io->cam->name, io->st->err);
		return 1;
	}
	io->sb.v4l2 = true;
	io->sb.dev_fd = v4l2cam_dev_fd(c);
	io->sb.uring_fd = v4l2cam_fd(c);
	io->sb.enc_fd = v4l2cam_m2m_fd(c);
	snprintf(io->st->encoder, sizeof(io->st->encoder), "%s",
		 v4l2cam_encoder(c));
	ret = sandbox_enter(&io->sb);
	if (!ret) {
		log_info("camera %s: %s", io->cam->name, v4l2cam_describe(c));
		ret = capture_v4l2(io, c, r, m);
	}
	if (ret < 0 && !role_stopping())
		log_err("camera %s: %s; moatd will start it again",
			io->cam->name, io->st->err + strlen("camera failed: "));
	v4l2cam_close(c);
	return ret ? 1 : 0;
}

/* ---- a camera libcamera drives (a Pi camera module) ---- */

enum { LIBCAM_STALL_MS = 5000 };

/* The frame as one buffer for the encoder, which reads a planar frame's
 * chroma right after its luma (NV12: one plane of stride; YUV420: two
 * of stride / 2): its length, or 0 when the planes lie otherwise (a
 * pipeline that pads between them), which the encoder cannot take. */
static size_t libcam_len(const struct libcam_frame *f)
{
	size_t luma = (size_t)f->stride * f->height;
	const uint8_t *end = f->plane[0] + f->plane_len[0];

	if (f->n_planes > 1 && f->plane[1] != f->plane[0] + luma)
		return 0;
	if (f->n_planes > 2 &&
	    f->plane[2] != f->plane[1] + (size_t)(f->stride / 2) * (f->height / 2))
		return 0;
	for (unsigned int i = 1; i < f->n_planes; i++)
		if (f->plane[i] + f->plane_len[i] > end)
			end = f->plane[i] + f->plane_len[i];
	return (size_t)(end - f->plane[0]);
}

static int capture_libcam(struct worker_io *io, struct libcam *c,
			  struct swenc *enc, struct ring *r, struct motion **m)
{
	struct ring_sink rs = {
		.io = io, .r = r, .m = m,
		.live = io->cam->record == REC_OFF ? PFL_LIVE : 0,
	};
	struct swenc_sink sink = { &rs, sink_reserve, sink_commit };
	uint64_t last = mono_ns();
	bool key = false;

	while (!role_stopping()) {
		struct libcam_frame f;
		int ret = libcam_next(c, &f);

		if (ret == 1) {
			/* the driver's CLOCK_MONOTONIC stamp, as wall time (a
			 * stamp of 0, or ahead of now, counts as now) */
			uint64_t now = mono_ns();
			uint64_t age_us = f.ts_ns && f.ts_ns < now ?
						  (now - f.ts_ns) / 1000 : 0;
			size_t len = libcam_len(&f);
			bool moving;

			if (!len) {
				libcam_release(c, &f);
				return fail(io, -EINVAL,
					    "the camera's picture planes are not one after another (%s); the encoder cannot read them",
					    libcam_describe(c));
			}
			ret = swenc_frame(enc, f.plane[0], len,
					  cap_now_us() - age_us, key, &sink);
			libcam_release(c, &f);
			last = mono_ns();
			if (ret < 0)
				return fail(io, rs.err ? rs.err : ret, "%s",
					    capture_why(rs.err ? rs.err : ret));
			if (ret == 0) {
				/* no room: a realtime camera cannot wait */
				if (!io->st->drops_rec++)
					log_warn("camera %s: pipeline full, a frame lost",
						 io->cam->name);
				continue;
			}
			io->st->converted = swenc_converted(enc);
			moving = io->st->motion;
			key = moving && !rs.motion_was;
			rs.motion_was = moving;
			if (io->st->err[0] && io->st->frames > 30 * 30)
				io->st->err[0] = 0;
			continue;
		}
		if (ret == -EIO) {
			io->st->drops_rec++; /* the camera failed that frame */
			continue;
		}
		if (ret == -ENODEV)
			return fail(io, ret,
				    "the camera %s is gone; it is opened again when it returns",
				    libcam_describe(c));
		if (ret < 0)
			return fail(io, ret, "%s", capture_why(ret));
		if (mono_ns() - last > (uint64_t)LIBCAM_STALL_MS * 1000000u)
			return fail(io, -ETIMEDOUT,
				    "the camera sent no frame for %d s",
				    LIBCAM_STALL_MS / 1000);
		{
			struct pollfd p = { .fd = libcam_fd(c), .events = POLLIN };

			poll(&p, 1, 1000);
		}
	}
	return 0;
}

/*
 * Through the V4L2 encoder: each frame goes in by its dmabuf and is given
 * back to libcamera when the encoder is done with it; the access units
 * are sealed where the encoder wrote them (as a V4L2 camera's are).
 */
static int capture_libcam_m2m(struct worker_io *io, struct libcam *c,
			      struct m2m_enc *e, int enc_fd, struct ring *r,
			      struct motion **m)
{
	struct ring_sink rs = {
		.io = io, .r = r, .m = m,
		.live = io->cam->record == REC_OFF ? PFL_LIVE : 0,
	};
	struct m2m_reader refs = { &rs, ref_take, ref_done };
	struct libcam_frame held[M2M_BUFS];
	bool in_enc[M2M_BUFS] = { false }, key = false;
	uint64_t last = mono_ns();
	unsigned int tag;

	ring_set_waiting(r, true);
	while (!role_stopping()) {
		struct libcam_frame f;
		int ret;

		while ((ret = m2m_raw_done(e, &tag)) == 1)
			if (tag < M2M_BUFS && in_enc[tag]) {
				libcam_release(c, &held[tag]);
				in_enc[tag] = false;
			}
		if (ret < 0)
			return fail(io, ret, "the encoder: %s", strerror(-ret));
		ret = libcam_next(c, &f);
		if (ret == 1) {
			uint64_t now = mono_ns();
			uint64_t age_us = f.ts_ns && f.ts_ns < now ?
						  (now - f.ts_ns) / 1000 : 0;
			size_t len = libcam_len(&f);
			unsigned int t = 0;

			last = now;
			while (t < M2M_BUFS && in_enc[t])
				t++;
			if (!len || f.dmabuf < 0) {
				libcam_release(c, &f);
				return fail(io, -EINVAL,
					    "the camera's frame is not one dmabuf of planes one after another (%s); set encoder = libx264",
					    libcam_describe(c));
			}
			if (key)
				m2m_force_key(e);
			ret = t == M2M_BUFS ? -EBUSY :
			      m2m_queue_raw(e, f.dmabuf, f.dmabuf_len, len,
					    cap_now_us() - age_us, t);
			if (ret == -EBUSY) {
				libcam_release(c, &f); /* the encoder is full */
				if (!io->st->drops_rec++)
					log_warn("camera %s: encoder full, a frame lost",
						 io->cam->name);
			} else if (ret) {
				libcam_release(c, &f);
				return fail(io, ret, "the encoder refused a frame: %s",
					    strerror(-ret));
			} else {
				held[t] = f;
				in_enc[t] = true;
			}
		} else if (ret == -EIO) {
			io->st->drops_rec++; /* the camera failed that frame */
		} else if (ret == -ENODEV) {
			return fail(io, ret,
				    "the camera %s is gone; it is opened again when it returns",
				    libcam_describe(c));
		} else if (ret < 0) {
			return fail(io, ret, "%s", capture_why(ret));
		}
		ret = m2m_pump(e, &refs);
		if (ret < 0)
			return fail(io, rs.err ? rs.err : ret, "%s",
				    capture_why(rs.err ? rs.err : ret));
		if (ret == 2 && !io->st->drops_rec++)
			log_warn("camera %s: pipeline full, a frame lost",
				 io->cam->name);
		if (ret == 1) {
			bool moving = io->st->motion;

			key = moving && !rs.motion_was;
			rs.motion_was = moving;
			if (io->st->err[0] && io->st->frames > 30 * 30)
				io->st->err[0] = 0;
		}
		if (mono_ns() - last > (uint64_t)LIBCAM_STALL_MS * 1000000u)
			return fail(io, -ETIMEDOUT,
				    "the camera sent no frame for %d s",
				    LIBCAM_STALL_MS / 1000);
		if (ret == 0) {
			bool queued = m2m_coded_queued(e) + m2m_raw_queued(e) > 0;
			struct pollfd p[3] = {
				{ .fd = libcam_fd(c), .events = POLLIN },
				{ .fd = enc_fd, .events = POLLIN | POLLOUT },
				{ .fd = io->wake.space, .events = POLLIN },
			};

			/* an m2m device with nothing queued on either side
			 * says POLLERR at once: nothing to wait for there */
			if (!queued)
				p[1].fd = -1;

			if (poll(p, 3, 100) > 0 && (p[2].revents & POLLIN))
				wait_wake(io->wake.space, 0);
		}
	}
	return 0;
}

/* The V4L2 encoder for a libcamera camera, when moatd holds one: 0 and
 * *e, or -errno (auto: libx264 instead, said in why). */
static int libcam_encoder(struct worker_io *io, struct libcam *c,
			  struct m2m_enc **e, char *why, size_t why_len)
{
	struct m2m_opts mo = { .fd = io->enc_fd, .fps = io->cam->fps,
			       .bitrate = (uint32_t)io->cam->bitrate,
			       .gop = io->cam->fps,
			       .n_raw = libcam_buffers(c) < M2M_BUFS ?
						libcam_buffers(c) :
						M2M_BUFS,
			       .n_coded = M2M_BUFS };

	*e = NULL;
	if (io->enc_fd < 0)
		return -ENODEV;
	libcam_format(c, &mo.fourcc, &mo.width, &mo.height, &mo.bytesperline);
	/* the frame as libcam_len() takes it: the planes one after another */
	mo.sizeimage = mo.bytesperline * mo.height;
	if (mo.fourcc == V4L2_PIX_FMT_NV12 || mo.fourcc == V4L2_PIX_FMT_YUV420)
		mo.sizeimage += mo.sizeimage / 2;
	return m2m_open_best(&mo, e, why, why_len);
}

static int run_libcam(struct worker_io *io, struct ring *r, struct motion **m)
{
	struct libcam_opts o = { .id = io->cam->source,
				 .width = io->cam->width,
				 .height = io->cam->height,
				 .fps = io->cam->fps };
	struct swenc_opts eo = { .fps = io->cam->fps,
				 .bitrate = (uint32_t)io->cam->bitrate };
	struct libcam *c = NULL;
	struct swenc *enc = NULL;
	struct m2m_enc *hw = NULL;
	char why[256] = "", hw_why[200] = "";
	/* libcamera's threads, its devices and the encoder's set-up: all
	 * before the sandbox */
	int ret;

	if (io->cam->encoder[0] == '/' && io->enc_fd < 0) {
		snprintf(why, sizeof(why),
			 "the encoder %.60s was not opened when moatd started",
			 io->cam->encoder);
		ret = -ENODEV;
	} else {
		if (io->enc_fd >= 0)
			wait_sealed(r);
		ret = libcam_open(&o, &c, why, sizeof(why));
	}
	if (!ret && libcam_encoder(io, c, &hw, hw_why, sizeof(hw_why)) &&
	    io->cam->encoder[0] == '/') {
		snprintf(why, sizeof(why), "the encoder: %s", hw_why);
		ret = -EINVAL;
	}
	if (!ret && !hw) {
		libcam_format(c, &eo.fourcc, &eo.width, &eo.height,
			      &eo.bytesperline);
		ret = swenc_open(&eo, &enc, why, sizeof(why));
	}
	if (ret) {
		io->st->err_us = cap_now_us();
		snprintf(io->st->err, sizeof(io->st->err),
			 "cannot open libcamera:%.60s: %s",
			 io->cam->source[0] ? io->cam->source : "(the first)",
			 why);
		log_err("camera %s: %s", io->cam->name, io->st->err);
		m2m_close(hw);
		libcam_close(c);
		return 1;
	}
	io->sb.libcamera = true;
	if (hw) {
		char coded[5];

		v4l2_fourcc_str(m2m_coded_format(hw), coded);
		snprintf(io->st->encoder, sizeof(io->st->encoder),
			 "the V4L2 encoder (%s)", coded);
	} else {
		snprintf(io->st->encoder, sizeof(io->st->encoder), "libx264");
	}
	ret = sandbox_enter(&io->sb);
	if (!ret) {
		log_info("camera %s: %s, %s%s%s%s", io->cam->name,
			 libcam_describe(c), io->st->encoder,
			 hw_why[0] && !hw ? " (the V4L2 encoder refused: " : "",
			 hw ? "" : hw_why, hw_why[0] && !hw ? ")" : "");
		ret = hw ? capture_libcam_m2m(io, c, hw, io->enc_fd, r, m) :
			   capture_libcam(io, c, enc, r, m);
	}
	if (ret < 0 && !role_stopping())
		log_err("camera %s: %s; moatd will start it again",
			io->cam->name, io->st->err + strlen("camera failed: "));
	swenc_close(enc);
	m2m_close(hw); /* (lets go of the camera's dmabufs first) */
	libcam_close(c);
	return ret ? 1 : 0;
}

/*
 * An IP camera: its name is resolved while the worker can still read
 * /etc; it connects under the sandbox with the network open to the
 * camera's port; once streaming, a second filter closes the network.
 */
static int open_rtsp(struct worker_io *io, struct cap_source **src,
		     char *why, size_t why_len)
{
	char url[CFG_STR_MAX + 64], sub[CFG_STR_MAX + 64];
	unsigned int sub_port; /* the same: moatd checked at setup */
	struct rtsp_opts so = { .timeout_ms = RTSP_TIMEOUT_MS,
				.stop = sub_stop };
	int ret = rtsp_resolve(io->cam->source, io->cam->ip, url, sizeof(url),
			       &io->sb.net_port, why, why_len);

	if (!ret && io->sub)
		ret = rtsp_resolve(io->cam->motion_source, io->cam->ip, sub,
				   sizeof(sub), &sub_port, why, why_len);
	if (ret)
		return ret;
	io->sb.net = true;
	io->sb.threads = io->sub != NULL;
	ret = sandbox_enter(&io->sb);
	if (ret) {
		snprintf(why, why_len, "cannot enter the sandbox");
		return ret;
	}
	ret = open_source(io->cam, url, src, why, why_len);
	if (!ret && io->sub) {
		ret = rtsp_open(sub, &so, &io->sub->src, why, why_len);
		if (ret) {
			char w[160];

			snprintf(w, sizeof(w), "%s", why);
			snprintf(why, why_len, "the motion substream: %.160s", w);
		}
	}
	if (!ret && sandbox_close_net()) {
		snprintf(why, why_len, "cannot close the network");
		ret = -EPERM;
	}
	if (!ret && io->sub) {
		ret = -pthread_create(&io->sub->th, NULL, sub_main, io);
		io->sub->running = !ret;
		if (ret)
			snprintf(why, why_len, "cannot start the substream's thread");
	}
	explicit_bzero(url, sizeof(url)); /* they may hold a password */
	explicit_bzero(sub, sizeof(sub));
	return ret;
}

static void sub_end(struct worker_io *io)
{
	if (!io->sub)
		return;
	sub_quit = 1;
	if (io->sub->running)
		pthread_join(io->sub->th, NULL);
	cap_close(io->sub->src);
	motion_free(io->sub->m);
	free(io->sub);
	io->sub = NULL;
}

int worker_main(struct worker_io *io)
{
	struct cap_source *src = NULL;
	char why[200] = "", shown[CFG_STR_MAX];
	struct motion *m = NULL;
	struct ring r;
	int ret;

	role_signals(-1);
	rtsp_redact(io->cam->source, shown, sizeof(shown));
	if (io->cam->kind == CAM_RTSP && io->cam->record == REC_EVENTS &&
	    io->cam->motion_source[0]) {
		io->sub = calloc(1, sizeof(*io->sub));
		if (!io->sub)
			return 1;
	}
	ret = ring_map(&io->p, true, &r);
	if (!ret && io->cam->kind == CAM_V4L2) {
		ret = run_v4l2(io, &r, &m);
		motion_free(m);
		return ret;
	}
	if (!ret && io->cam->kind == CAM_LIBCAMERA) {
		ret = run_libcam(io, &r, &m);
		motion_free(m);
		return ret;
	}
	if (ret) {
		snprintf(why, sizeof(why), "cannot map its ring");
	} else if (io->cam->kind == CAM_RTSP) {
		ret = open_rtsp(io, &src, why, sizeof(why));
	} else {
		ret = open_source(io->cam, NULL, &src, why, sizeof(why));
		if (!ret)
			ret = sandbox_enter(&io->sb);
	}
	if (ret) {
		io->st->err_us = cap_now_us();
		snprintf(io->st->err, sizeof(io->st->err), "cannot open %.100s: %s",
			 shown, why[0] ? why : strerror(-ret));
		log_err("camera %s: %s", io->cam->name, io->st->err);
		sub_end(io);
		cap_close(src);
		return 1;
	}
	if (io->cam->kind == CAM_RTSP && rtsp_streams(src) > 8)
		note(io, "the camera's SDP lists %u streams; moat records the first video one",
		     rtsp_streams(src));
	if (io->start_delay_ms)
		poll(NULL, 0, (int)io->start_delay_ms);
	ret = capture(io, src, &r, &m);
	/* every failure of capture() went through fail() */
	if (ret < 0 && !role_stopping())
		log_err("camera %s: %s; moatd will start it again",
			io->cam->name, io->st->err + strlen("camera failed: "));
	sub_end(io);
	cap_close(src);
	motion_free(m);
	return ret ? 1 : 0;
}
