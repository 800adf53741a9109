/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The three kinds of process moatd spawns (docs/SANDBOX.md). Each runs in
 * a child of moatd with only the descriptors listed here, acquires what it
 * needs, enters its sandbox and loops until told to stop (SIGTERM) or its
 * input ends. They return the process exit status. A worker runs in
 * moatd's fork; the sealer and the uplink in programs of their own that
 * moatd's child execs (daemon/handoff.h).
 *
 *   worker: camera -> P ring      (plaintext; no keys, no other camera)
 *   sealer: P rings -> C ring     (keys; no sockets, no files)
 *   uplink: C ring -> relay+spool (ciphertext only; no keys)
 */
#ifndef MOAT_DAEMON_ROLES_H
#define MOAT_DAEMON_ROLES_H

#include <stdint.h>
#include <sys/socket.h>

#include "common/wire.h"
#include "crypto/login.h"
#include "daemon/config.h"
#include "daemon/ring.h"
#include "daemon/sandbox.h"
#include "daemon/stats.h"

/* Slot flags in the P ring (set by the worker: untrusted by the sealer). */
enum {
	PFL_KEY = 1U << 0,    /* keyframe */
	PFL_CONFIG = 1U << 1, /* carries SPS/PPS */
	PFL_END = 1U << 2,    /* the source ended: close the stream */
	PFL_LIVE = 1U << 3,   /* live only: may be dropped oldest first */
	PFL_MOTION = 1U << 4, /* record = events: motion at this frame */
	PFL_HEVC = 1U << 5,   /* H.265 (else H.264) */
	PFL_REF = 1U << 6,    /* the access unit is in the encoder's buffer */
	PFL_FWHT = 1U << 7,   /* FWHT (vicodec, the kernel's test codec) */
};

/*
 * A PFL_REF slot: the 16-byte frame header, then where the access unit
 * lies: a CAPTURE buffer of the camera's memory-to-memory encoder, which
 * the sealer maps read-only from its own descriptor of the same open file
 * (moatd opened it once and gave it to both) and seals in place. The
 * worker queues the buffer back to the encoder only when the sealer has
 * released the slot. All little-endian u32:
 *   gen     the worker's pid (a new worker's buffers are new buffers)
 *   index   the CAPTURE buffer
 *   offset  its offset in the device's mmap space (QUERYBUF)
 *   length  its size
 *   used    the access unit's bytes, from its start
 */
enum { REF_BODY_LEN = 20, REF_MAX_LEN = 16 << 20, REF_BUFS = 32 };

/*
 * A P ring slot holds the plaintext of a data record: the 16-byte frame
 * header (crypto/frame.h) and the access unit; its aux value is the
 * capture time on CLOCK_MONOTONIC in nanoseconds (for latency). A C ring
 * slot holds one sealed record. Its aux value is when the sealer began
 * on the frame (CLOCK_MONOTONIC, ns); its flags carry CF_LIVE when it
 * belongs to a live stream (sent when connected, never spooled) and, from
 * bit CF_WAIT_SHIFT, how long the frame waited for the sealer after its
 * capture, in microseconds (saturating). Both are for latency only.
 * CF_LAN (with CF_LIVE) marks a copy made only for viewers on the LAN: the
 * uplink hands it to them and to nobody else (local viewing stays local).
 */
enum {
	CF_LIVE = 1U << 0,
	CF_LAN = 1U << 1,
	CF_WAIT_SHIFT = 8,
	CF_WAIT_MAX = (1U << 24) - 1,
};


/* Eventfd pair of a ring: data (producer -> consumer), space (back). */
struct ring_wake {
	int data, space;
};

struct substream;

struct worker_io {
	const struct cfg_camera *cam;
	int enc_fd; /* its memory-to-memory encoder (moatd's), or -1 */
	int enc_err; /* why the encoder the config names is not open, or 0 */
	struct substream *sub; /* the motion substream's reader, if any */
	unsigned int start_delay_ms; /* benchmarks: cameras out of step */
	struct ring_fds p; /* producer: read-write */
	struct ring_wake wake;
	struct stats_worker *st;
	struct sandbox sb;
};

struct sealer_io {
	const struct cfg *cfg;
	struct ring_fds p[CFG_MAX_CAMERAS]; /* consumer: data read-only */
	struct ring_wake pw[CFG_MAX_CAMERAS];
	int enc_fd[CFG_MAX_CAMERAS]; /* each camera's encoder, or -1: mmap only */
	struct ring_fds c; /* producer */
	struct ring_wake cw;
	struct stats_sealer *st;
	struct sandbox sb;
	int extra_copy; /* benchmark baseline: copy each frame once more */
};

struct uplink_io {
	const struct cfg *cfg;
	struct sockaddr_storage relay; /* resolved by moatd */
	socklen_t relay_len;
	struct ring_fds c; /* consumer, data read-write (io_uring) */
	struct ring_wake cw;
	int spool_fd;	   /* the spool folder */
	uint8_t account[16]; /* the hub's relay account */
	struct login_key login; /* the relay login key (nothing else) */
	uint8_t viewers[WIRE_VIEWERS_MAX][LOGIN_KEY_LEN]; /* approved viewers' */
	size_t n_viewers;				   /* login keys */
	struct stats_uplink *st;
	struct sandbox sb;
};

/*
 * The uplink's io_uring, restricted to the operations and the SQE flag the
 * uplink uses, then enabled. No buffers are registered: the uplink's
 * mapping of the C ring is read-only, and registering pins for writing.
 */
struct io_uring;
int uplink_ring_setup(struct io_uring *ring);

int worker_main(struct worker_io *io);
int sealer_main(struct sealer_io *io);
int uplink_main(struct uplink_io *io);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t mono_ns(void);
/* Adds 1 to an eventfd (never blocks: the counter cannot overflow here). */
void wake(int efd);
/* Waits up to timeout_ms (-1: forever) for efd; drains it. 1, 0, -errno. */
int wait_wake(int efd, int timeout_ms);
/* 1 once SIGTERM or SIGINT arrived (roles install the handler). */
int role_stopping(void);
/*
 * The handler also adds 1 to wake_fd (-1: none), an eventfd the role's
 * wait always includes: a signal that lands between its role_stopping()
 * check and its sleep then still ends the sleep, where the wait has no
 * timeout to end it.
 */
void role_signals(int wake_fd);

#endif
