// SPDX-License-Identifier: GPL-2.0-only
/*
 * Capture worker: one camera into its P ring. The access unit is written
 * into the ring slot behind its frame header, so the sealer seals it where
 * it lies. A realtime camera cannot wait: when the ring is full the frame
 * is lost, counted, logged, and the worker skips to the next keyframe so
 * that what is recorded stays decodable. A fast (benchmark) source waits.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "capture/filecam.h"
#include "common/log.h"
#include "crypto/frame.h"
#include "daemon/roles.h"

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

void role_signals(void)
{
	struct sigaction sa = { .sa_handler = on_term };

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int role_stopping(void)
{
	return stopping;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("eventfd: %s", strerror(errno));
}

int wait_wake(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n && read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return n;
}

static int open_source(const struct cfg_camera *cam, struct cap_source **src)
{
	struct filecam_opts o = { .realtime = cam->pace == PACE_REALTIME,
				  .loop = cam->loop,
				  .fps = 30 };

	if (cam->kind != CAM_FILE) {
		log_err("camera %s: only file: sources are built so far (rtsp:// and v4l2: come with their issues)",
			cam->name);
		return -ENOTSUP;
	}
	return filecam_open(cam->source, &o, src);
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
	flags |= (f->key ? PFL_KEY : 0) | (f->config ? PFL_CONFIG : 0);
	frame_hdr_put(slot, &fh);
	/* The camera's bytes land in the ring once: this is the capture. */
	memcpy(slot + FRAME_HDR_LEN, f->p, f->len);
	ring_commit_aux(r, len, flags, mono_ns());
	wake(io->wake.data);
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
	wake(io->wake.data);
	return 0;
}

static int capture(struct worker_io *io, struct cap_source *src,
		   struct ring *r)
{
	const struct cfg_camera *cam = io->cam;
	uint32_t live = cam->record == REC_OFF ? PFL_LIVE : 0;
	bool realtime = cam->pace == PACE_REALTIME, skip = false;

	while (!role_stopping()) {
		struct cap_frame f;
		uint64_t now = cap_now_us(), due = 0;
		int ret = cap_next(src, now, &f, &due);

		if (ret == -ENODATA) {
			io->st->ended = 1;
			log_info("camera %s: the source ended", cam->name);
			return put_end(io, r, live);
		}
		if (ret < 0) {
			snprintf(io->st->err, sizeof(io->st->err),
				 "camera failed: %s", strerror(-ret));
			return ret;
		}
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
		for (;;) {
			ret = put_frame(io, r, &f, live);
			if (ret || realtime || role_stopping())
				break;
			wait_room(io, r, (uint32_t)(FRAME_HDR_LEN + f.len));
		}
		if (ret < 0)
			return ret;
		if (!ret) {
			/* A realtime camera cannot wait for the sealer. */
			if (!io->st->drops_rec)
				log_warn("camera %s: pipeline full, frames lost until the next keyframe",
					 cam->name);
			io->st->drops_rec++;
			skip = true;
			continue;
		}
		io->st->frames++;
		io->st->bytes += f.len;
		if (f.key)
			io->st->last_key_us = f.ts_us;
	}
	return 0;
}

int worker_main(struct worker_io *io)
{
	struct cap_source *src = NULL;
	struct ring r;
	int ret;

	role_signals();
	ret = open_source(io->cam, &src);
	if (ret) {
		snprintf(io->st->err, sizeof(io->st->err), "cannot open %.100s: %s",
			 io->cam->source, strerror(-ret));
		log_err("camera %s: %s", io->cam->name, io->st->err);
		return 1;
	}
	ret = ring_map(&io->p, true, &r);
	if (!ret)
		ret = sandbox_enter(&io->sb);
	if (!ret && io->start_delay_ms)
		poll(NULL, 0, (int)io->start_delay_ms);
	if (!ret)
		ret = capture(io, src, &r);
	cap_close(src);
	return ret ? 1 : 0;
}
