// SPDX-License-Identifier: GPL-2.0-only
/*
 * Uplink: sealed records from the C ring to the relay and the spool, in
 * one io_uring loop (docs/SPOOL.md, docs/PROTOCOL.md section 12).
 *
 * The uplink maps the C ring read-only (its descriptor is a read-only
 * reopen, so the kernel refuses it a writable mapping): it cannot alter a
 * record, not even while the sealer is still computing its tag. Every
 * recorded record is written to the spool with WRITEV and sent with
 * SEND_ZC from where the sealer put it (the kernel pins the pages per
 * send; registered buffers would need them writable); its slot goes back to
 * the sealer only when the write completed and the send's notification
 * arrived (slots are released in order as their work completes). One send
 * is in flight at a time, so the TCP stream carries whole records in order.
 *
 * The relay acknowledges a count of records stored; the uplink maps that
 * count to spool positions and moves the spool's acknowledged mark. After
 * a reconnect (or a restart) everything unacknowledged is sent again from
 * the spool with plain SEND (the relay ignores records it already has);
 * once caught up, sending returns to zero-copy from the ring.
 *
 * The io_uring instance is restricted to the operations listed in
 * allowed_ops before it is enabled: the seccomp filter cannot see io_uring
 * operations, so the ring itself must refuse anything else (opening files).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "common/log.h"
#include "common/wire.h"
#include "crypto/stream.h"
#include "daemon/lanview.h"
#include "daemon/roles.h"
#include "daemon/spool.h"

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3) /* Linux 6.2 */
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31) /* Linux 6.2 */
#endif

enum {
	QMAX = 4096,	 /* records in flight from the C ring */
	TXMAX = 32,	 /* sends linked in one chain */
	ZC_COPIED_MAX = 64, /* copied zero-copy sends in a row: send plainly */
	WBATCHES = 64,	 /* spool writes in flight */
	RETIRED_MAX = 16, /* finished segments waiting for their FSYNC */
	WBATCH_MAX = 64, /* records in one spool write */
	WRITE_DELAY_MS = 100, /* how long a run of spool writes may gather */
	WRITE_FLUSH_MS = 100, /* the timer that flushes a run nobody adds to */
	/* A recorded record sent while connected waits this long for the
	 * relay's ACK before it is written to the spool (not at all if the
	 * ACK comes first); see write-behind below. */
	WRITE_HOLD_MS = 250,
	RECV_BUF = 4096,
	BACKOFF_MIN_MS = 100,
	BACKOFF_MAX_MS = 5000,
};

/* user_data: kind in the top byte, an index below. */
enum ud_kind {
	UD_EVENT = 1,
	UD_WRITE,
	UD_SEND,
	UD_RECV,
	UD_CONNECT,
	UD_TIMER,
	UD_CANCEL,
	UD_FSYNC,
	UD_FLUSH,
	UD_ACKED,
	UD_UNLINK,
	UD_HOLD,
	/* LAN_UD_* (daemon/lanview.h) from 0x20 */
	UD_LAN_ACCEPT = LAN_UD_ACCEPT,
	UD_LAN_RECV = LAN_UD_RECV,
	UD_LAN_SEND = LAN_UD_SEND,
	UD_LAN_TICK = LAN_UD_TICK,
};
#define UD(kind, idx) (((uint64_t)(kind) << 56) | (uint64_t)(idx))
#define UD_KIND(ud) ((enum ud_kind)((ud) >> 56))
#define UD_IDX(ud) ((ud) & ((1ULL << 56) - 1))

struct entry {
	const uint8_t *p; /* the record in the C ring */
	uint32_t len;
	uint64_t end;	  /* ring position after its slot */
	uint64_t seal_ns; /* when sealing began (latency) */
	uint32_t wait_us; /* capture to sealing (latency) */
	uint64_t pos;	  /* spool position (recorded records) */
	int fd;		  /* its segment, and the offset in it */
	uint64_t off;
	uint64_t due_ns;  /* deferred: written at this time, unless acked */
	bool live;
	bool deferred;	  /* placed in the spool, its write held back */
	bool written;	  /* spool write done, or acknowledged first (live:
			   * nothing to write) */
	int notifs;	  /* ZC notifications outstanding */
	int inflight;	  /* sends from its slot not yet completed */
	bool queued;	  /* live: in the chain being sent */
	bool sent;	  /* sent (or given up, for live) */
};

/* One spool write: records back to back in one segment. */
struct wbatch {
	bool used;
	bool inflight; /* submitted, not completed */
	int fd, n;
	off_t off;
	size_t len;
	struct iovec iov[WBATCH_MAX];
	uint64_t qi[WBATCH_MAX];
};

/* One send of a chain: a record from the ring, from the spool, or HELLO. */
struct txe {
	bool ring;	   /* from its C ring slot (entry qi) */
	bool zc;	   /* submitted as SEND_ZC */
	bool ok;	   /* completed in full */
	bool hello;
	uint64_t qi;
	const uint8_t *p;
	size_t len;
	uint64_t pos_end;  /* spool position after it (0: live, HELLO) */
	uint64_t seal_ns;
	uint32_t wait_us;
};

/* A finished segment: its writes still to come, then its FSYNC. */
struct retired {
	int fd; /* -1: free */
	bool dirty;   /* something was written to it */
	bool syncing; /* its FSYNC is in flight */
};

struct uplink {
	struct uplink_io *io;
	struct stats_uplink *st;
	struct io_uring ring;
	struct ring c;
	struct spool sp;
	struct entry q[QMAX];
	struct wbatch wb[WBATCHES];
	struct retired ret[RETIRED_MAX];
	struct wbatch *open_b; /* the spool write being filled */
	uint64_t wb_bytes;     /* bytes in spool writes not yet done */
	uint64_t open_b_ns;    /* when its first record came */
	bool flush_armed;
	struct __kernel_timespec flush_ts;
	bool wfd_dirty;	       /* the open segment was written to */
	uint64_t dq;	       /* entries before it are not deferred */
	uint64_t n_deferred;
	bool hold_armed;
	struct __kernel_timespec hold_ts;
	struct iovec acked_iov; /* the acked file's write */
	bool drained; /* take_records() emptied the C ring */
	uint64_t qhead, qtail; /* entries [qhead, qtail) */
	uint64_t evbuf;
	bool ev_armed;

	struct sockaddr_storage addr;
	socklen_t addrlen;
	int sock;
	bool connected, connecting, recv_armed, timer_armed, closing;
	int backoff_ms;
	struct __kernel_timespec ts;
	uint8_t rbuf[RECV_BUF];
	struct wire_rx rx;
	uint8_t hello[WIRE_HDR_LEN];
	/* login: CHALLENGE seen, AUTH and VIEWERS to send; then records */
	bool challenged, authed;
	uint8_t challenge[LOGIN_CHALLENGE_LEN];
	uint8_t auth[2 * WIRE_HDR_LEN + LOGIN_AUTH_LEN +
		     WIRE_VIEWERS_MAX * LOGIN_KEY_LEN];

	struct txe tx[TXMAX]; /* the chain in flight: in order, linked */
	int chain_n, chain_done, chain_err;
	bool zc_ok;
	bool zc_skip; /* this chain by copy: the last hit the pinning limit */
	bool zc_report;	    /* ask the kernel whether it copied (6.2+) */
	/* The kernel copied every one of the last ZC_COPIED_MAX zero-copy
	 * sends (loopback, or a device that cannot send from user pages):
	 * plain sends for the rest of this connection. */
	uint32_t zc_copied_run;
	bool zc_copies;
	uint64_t send_pos;  /* next spool position to send */
	uint64_t *sent;	    /* spool position after each unacked send */
	size_t sent_n, sent_cap, sent_off;
	uint64_t acked_count;
	uint8_t *buf;	    /* replay buffer */
	struct lan lan;	    /* live viewers on the LAN */
};

static struct io_uring_sqe *sqe_get(struct uplink *u)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static void batch_submit(struct uplink *u, struct wbatch *b);

/* Writes queued on a segment go in before the spool closes it (the open
 * batch too: it is still on the old segment). */
static void flush_sqes(void *arg)
{
	struct uplink *u = arg;

	batch_submit(u, u->open_b);
	u->open_b = NULL;
	io_uring_submit(&u->ring);
}

/*
 * Segments retired by the spool: each FSYNC goes in only once nothing
 * more is to be written to that segment (io_uring does not order an FSYNC
 * after writes to the same file, and a deferred record may still be
 * written to it), and the descriptor is closed when the FSYNC is done. A
 * segment nothing was written to (every record in it acknowledged before
 * its write was due) is closed without one.
 */
static struct retired *retired_of(struct uplink *u, int fd)
{
	for (int i = 0; i < RETIRED_MAX; i++)
		if (u->ret[i].fd == fd)
			return &u->ret[i];
	return NULL;
}

static void fsync_submit(struct uplink *u, int fd, int slot, bool data)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_fsync(sqe, fd, data ? IORING_FSYNC_DATASYNC : 0);
	io_uring_sqe_set_data64(sqe, UD(UD_FSYNC, (uint64_t)slot));
}

static struct entry *qent(struct uplink *u, uint64_t i);

/* Anything still to be written to fd: a spool write being filled or in
 * flight, or a deferred record. */
static bool fd_busy(struct uplink *u, int fd)
{
	for (int i = 0; i < WBATCHES; i++)
		if (u->wb[i].used && u->wb[i].fd == fd)
			return true;
	for (uint64_t i = u->dq > u->qhead ? u->dq : u->qhead; i < u->qtail;
	     i++) {
		const struct entry *e = qent(u, i);

		if (e->deferred && e->fd == fd)
			return true;
	}
	return false;
}

static void retire_check(struct uplink *u)
{
	for (int i = 0; i < RETIRED_MAX; i++) {
		struct retired *r = &u->ret[i];

		if (r->fd < 0 || r->syncing || fd_busy(u, r->fd))
			continue;
		if (r->dirty) {
			r->syncing = true;
			fsync_submit(u, r->fd, i, true);
		} else {
			close(r->fd);
			r->fd = -1;
		}
	}
}

static void sync_segment(void *arg, int fd)
{
	struct uplink *u = arg;
	struct retired *r = retired_of(u, -1);

	if (!r) {
		/* more segments retiring at once than slots: rare, costly;
		 * its deferred records are written here and now */
		for (uint64_t i = u->dq > u->qhead ? u->dq : u->qhead;
		     i < u->qtail; i++) {
			struct entry *e = qent(u, i);

			if (!e->deferred || e->fd != fd)
				continue;
			if (pwrite(fd, e->p, e->len, (off_t)e->off) != e->len) {
				log_err("uplink: spool write: %s", strerror(errno));
				exit(1);
			}
			e->deferred = false;
			e->written = true;
			u->n_deferred--;
			u->st->spool_written += e->len;
		}
		fdatasync(fd);
		close(fd);
		return;
	}
	r->fd = fd;
	r->dirty = u->wfd_dirty;
	r->syncing = false;
	u->wfd_dirty = false;
	retire_check(u);
}

static void sync_dir(void *arg, int dirfd)
{
	fsync_submit(arg, dirfd, RETIRED_MAX, false);
}

/*
 * The spool's bookkeeping through the ring too, so that the loop never
 * waits on the file system for it: the acked file's line written in
 * place, and segments deleted once acknowledged (an unlinkat() on ext4
 * took 3 ms or more of the loop under load, each one).
 */
static void write_acked(void *arg, int fd, const void *buf, size_t len)
{
	struct uplink *u = arg;
	struct io_uring_sqe *sqe = sqe_get(u);

	u->acked_iov = (struct iovec){ .iov_base = (void *)buf, .iov_len = len };
	io_uring_prep_writev(sqe, fd, &u->acked_iov, 1, 0);
	io_uring_sqe_set_data64(sqe, UD(UD_ACKED, 0));
}

static void unlink_segment(void *arg, int dirfd, const char *name,
			   uint64_t start)
{
	struct uplink *u = arg;
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_unlinkat(sqe, dirfd, name, 0);
	io_uring_sqe_set_data64(sqe, UD(UD_UNLINK, start));
	/* the kernel copies the name as it takes the SQE: now */
	io_uring_submit(&u->ring);
}

static struct entry *qent(struct uplink *u, uint64_t i)
{
	return &u->q[i % QMAX];
}

/* moatd resolved the relay's name (the uplink's network policy allows
 * the relay and nothing else, DNS included). */
static int relay_addr(struct uplink *u)
{
	const struct uplink_io *io = u->io;

	if (!io->relay_len || io->relay_len > sizeof(u->addr)) {
		log_err("uplink: no address for the relay %s", io->cfg->relay_host);
		return -EINVAL;
	}
	memcpy(&u->addr, &io->relay, io->relay_len);
	u->addrlen = io->relay_len;
	return 0;
}

/* ---- connection ---- */

/* A timeout of ms on the ring; ts must last until it completes. */
static void arm_timeout(struct uplink *u, struct __kernel_timespec *ts,
			int ms, enum ud_kind kind)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	ts->tv_sec = ms / 1000;
	ts->tv_nsec = (long long)(ms % 1000) * 1000000;
	io_uring_prep_timeout(sqe, ts, 0, 0);
	io_uring_sqe_set_data64(sqe, UD(kind, 0));
}

static void arm_timer(struct uplink *u, int ms)
{
	arm_timeout(u, &u->ts, ms, UD_TIMER);
	u->timer_armed = true;
}

static void start_connect(struct uplink *u)
{
	struct io_uring_sqe *sqe;
	int one = 1;

	u->sock = socket(u->addr.ss_family,
			 SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (u->sock < 0) {
		log_err("uplink: socket: %s", strerror(errno));
		arm_timer(u, u->backoff_ms);
		return;
	}
	/* Records go out whole, in chains: a small one (a stream's end) must
	 * not wait behind Nagle for the relay's delayed ACK (40 ms). */
	if (setsockopt(u->sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		log_debug("uplink: TCP_NODELAY: %s", strerror(errno));
	sqe = sqe_get(u);
	io_uring_prep_connect(sqe, u->sock, (struct sockaddr *)&u->addr,
			      u->addrlen);
	io_uring_sqe_set_data64(sqe, UD(UD_CONNECT, 0));
	u->connecting = true;
	u->st->state = UPLINK_CONNECTING;
}

static void arm_recv(struct uplink *u)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_recv(sqe, u->sock, u->rbuf, sizeof(u->rbuf), 0);
	io_uring_sqe_set_data64(sqe, UD(UD_RECV, 0));
	u->recv_armed = true;
}

/* Live records that have no connection to go out on are dropped, counted. */
static void drop_live(struct uplink *u)
{
	for (uint64_t i = u->qhead; i < u->qtail; i++) {
		struct entry *e = qent(u, i);

		if (e->live && !e->sent && !e->queued) {
			e->sent = true;
			u->st->live_dropped++;
		}
	}
}

static void settle(struct uplink *u, uint64_t now, bool force);

/* Forget the connection once nothing refers to its socket any more. */
static void disconnect(struct uplink *u, const char *why)
{
	/* no ACK will come for what was held back: to disk, now */
	settle(u, mono_ns(), true);
	if (!u->closing && u->connected) {
		log_warn("uplink: connection to the relay lost: %s", why);
		u->st->disconnects++;
	}
	u->closing = true;
	u->connected = false;
	if (u->sock >= 0)
		shutdown(u->sock, SHUT_RDWR);
	if (u->chain_n || u->recv_armed || u->connecting)
		return;
	if (u->sock >= 0)
		close(u->sock);
	u->sock = -1;
	u->closing = false;
	/* Unacknowledged records go again, from the spool; live ones that
	 * did not go out are gone. */
	drop_live(u);
	u->send_pos = u->sp.acked;
	u->sent_n = u->sent_off = 0;
	u->acked_count = 0;
	u->rx.len = u->rx.off = 0;
	u->st->state = UPLINK_BACKOFF;
	if (!u->timer_armed)
		arm_timer(u, u->backoff_ms);
	u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS :
							      u->backoff_ms * 2;
}

/* ---- the C ring ---- */

/*
 * Spool writes: a run of records that lie back to back in one segment goes
 * in one WRITEV, its iovecs pointing at the records in the C ring (the
 * kernel copies them into the page cache; we do not). One io-wq work item
 * per run rather than per record.
 */
static struct wbatch *batch_get(struct uplink *u)
{
	for (int i = 0; i < WBATCHES; i++)
		if (!u->wb[i].used) {
			u->wb[i].used = true;
			u->wb[i].n = 0;
			u->wb[i].len = 0;
			return &u->wb[i];
		}
	return NULL;
}

static void batch_submit(struct uplink *u, struct wbatch *b)
{
	struct io_uring_sqe *sqe;

	if (!b || !b->n) {
		if (b)
			b->used = false;
		return;
	}
	sqe = sqe_get(u);
	io_uring_prep_writev(sqe, b->fd, b->iov, (unsigned)b->n, b->off);
	io_uring_sqe_set_data64(sqe, UD(UD_WRITE, b - u->wb));
	b->inflight = true;
	if (b->fd == u->sp.wfd) {
		u->wfd_dirty = true;
	} else {
		struct retired *r = retired_of(u, b->fd);

		if (r)
			r->dirty = true;
	}
}

/* Spool bytes that may be on their way to disk at once. */
static uint64_t wb_bytes_max(const struct uplink *u)
{
	uint64_t q = u->io->cfg->spool_quota / 8;

	return q > (64 << 10) ? q : (64 << 10);
}

static bool batch_spare(const struct uplink *u)
{
	for (int i = 0; i < WBATCHES; i++)
		if (!u->wb[i].used)
			return true;
	return false;
}

/* The spool position of the oldest record (before entry end) whose write
 * has not completed: the quota evicts nothing from there on. */
static void set_floor(struct uplink *u, uint64_t end)
{
	u->sp.evict_floor = UINT64_MAX;
	for (uint64_t i = u->qhead; i < end; i++) {
		const struct entry *x = qent(u, i);

		if (!x->live && !x->written && x->pos < u->sp.end) {
			u->sp.evict_floor = x->pos;
			break;
		}
	}
}

/* Entry qi's place in the spool: its position, segment and offset. */
static void place(struct uplink *u, uint64_t qi)
{
	struct entry *e = qent(u, qi);
	int ret;

	/* the quota may not evict what is still on its way to disk */
	set_floor(u, qi);
	/* may start a segment, which submits the open batch first */
	ret = spool_alloc(&u->sp, e->len, &e->fd, &e->off, &e->pos);
	if (ret) {
		log_err("uplink: spool: %s", strerror(-ret));
		snprintf(u->st->err, sizeof(u->st->err), "spool: %s",
			 strerror(-ret));
		exit(1); /* moatd restarts us; the records are still in the ring */
	}
}

/* Adds entry qi (placed) to the open batch, or to a new one
 * (batch_spare() said there is one). */
static void batch_add(struct uplink *u, uint64_t qi)
{
	struct entry *e = qent(u, qi);
	struct wbatch *b = u->open_b;
	uint64_t off = e->off;
	int fd = e->fd;

	if (b && (b->n == WBATCH_MAX || b->fd != fd ||
		  (uint64_t)b->off + b->len != off)) {
		batch_submit(u, b);
		b = NULL;
	}
	if (!b) {
		b = batch_get(u);
		b->fd = fd;
		b->off = (off_t)off;
		u->open_b_ns = mono_ns();
	}
	b->iov[b->n] = (struct iovec){ (void *)e->p, e->len };
	b->qi[b->n++] = qi;
	b->len += e->len;
	u->wb_bytes += e->len;
	u->open_b = b;
}

static void on_write(struct uplink *u, uint64_t idx, int res)
{
	struct wbatch *b = &u->wb[idx % WBATCHES];

	if (res < 0 || (size_t)res != b->len) {
		log_err("uplink: spool write: %s",
			res < 0 ? strerror(-res) : "short");
		exit(1);
	}
	for (int i = 0; i < b->n; i++)
		qent(u, b->qi[i])->written = true;
	u->wb_bytes -= b->len;
	u->st->spool_written += b->len;
	b->used = b->inflight = false;
	/* written: the quota may now evict up to the next unwritten one */
	set_floor(u, u->qtail);
	spool_trim(&u->sp);
	/* perhaps the last write on a retired segment: fsync it */
	if (retired_of(u, b->fd))
		retire_check(u);
}

/*
 * The open run of spool writes goes when it is full or WRITE_DELAY_MS old
 * (checked as records come in, or WRITE_FLUSH_MS later at the latest):
 * one io_uring worker hand-off per few frames instead of one per frame
 * (buffered writes on ext4 are punted to a kernel thread). Sends do not
 * wait for it; only the release of the slots does.
 */
static void flush_writes(struct uplink *u, bool now)
{
	struct wbatch *b = u->open_b;

	if (!b)
		return;
	if (now || b->n == WBATCH_MAX ||
	    mono_ns() - u->open_b_ns >= WRITE_DELAY_MS * 1000000ULL) {
		batch_submit(u, b);
		u->open_b = NULL;
		return;
	}
	if (!u->flush_armed) {
		/* records arriving flush it on their way in; this is for
		 * when they stop (a timer per run would wake us as often) */
		arm_timeout(u, &u->flush_ts, WRITE_FLUSH_MS, UD_FLUSH);
		u->flush_armed = true;
	}
}

/*
 * Write-behind. A recorded record sent while the relay is connected is
 * acknowledged some 50 ms later (the relay's ACK batches); writing it to
 * the spool first costs a copy into the page cache and a kernel worker's
 * time for every byte of video, and on a Pi the wear of the flash card,
 * for bytes that are thrown away a moment later. So its place in the
 * spool is fixed when it is taken (positions, which the relay's ACKs
 * move, do not change), and its write waits WRITE_HOLD_MS: acknowledged
 * by then, it is never written, and its bytes in the segment stay a gap
 * of zeros that readers step over (docs/SPOOL.md); if not, it is written
 * then. Not connected, or the connection lost, records are written at
 * once, as are the held ones. The slot stays with the uplink until one or
 * the other, so an uplink that dies leaves its successor every unwritten,
 * unacknowledged record in the ring, as before.
 */
static void settle(struct uplink *u, uint64_t now, bool force)
{
	uint64_t i = u->dq > u->qhead ? u->dq : u->qhead;
	bool moved = false;

	/* the held slots fill half the C ring (a relay slow to acknowledge,
	 * many cameras): write them now rather than hold up the sealer */
	if (u->n_deferred && !force && ring_used(&u->c) > u->c.cap / 2)
		force = true;
	for (; i < u->qtail && u->n_deferred; i++) {
		struct entry *e = qent(u, i);

		if (!e->deferred)
			continue;
		if (e->pos + e->len <= u->sp.acked) {
			e->written = true; /* the relay has it */
			u->st->spool_skipped += e->len;
		} else if (force || now >= e->due_ns) {
			if (!batch_spare(u))
				break; /* again when a write completes */
			batch_add(u, i);
		} else {
			break; /* the later ones are due later */
		}
		e->deferred = false;
		u->n_deferred--;
		moved = true;
	}
	u->dq = i;
	if (!moved)
		return;
	flush_writes(u, force);
	set_floor(u, u->qtail);
	spool_trim(&u->sp);
	retire_check(u);
}

/* Room for one more record: a queue entry, a spare batch, write budget. */
static bool can_take(const struct uplink *u)
{
	return u->qtail - u->qhead < QMAX && batch_spare(u) &&
	       (!u->wb_bytes || u->wb_bytes < wb_bytes_max(u));
}

/* New records from the sealer: queued, and their spool writes started. */
static void take_records(struct uplink *u)
{
	struct ring_rec rec;
	uint64_t now = mono_ns();
	int ret = 0;

	/* A record is taken only while a spare batch is free: then its
	 * write always finds a batch, whatever segment it lands in. And
	 * only while the spool's writes in flight stay under an eighth of
	 * its quota: the quota cannot evict what is still being written,
	 * so a producer faster than the disk would otherwise take the
	 * spool past its quota (the records wait in the ring instead). */
	while (can_take(u) && (ret = ring_next(&u->c, &rec)) == 1) {
		struct entry *e = qent(u, u->qtail);
		struct rec_hdr rh;

		if (rec_parse_hdr(rec.p, rec.len, &rh) ||
		    REC_HDR_LEN + rh.body_len != rec.len) {
			log_err("uplink: the sealer wrote something that is not a sealed record");
			exit(1);
		}
		*e = (struct entry){ .p = rec.p,
				     .len = rec.len,
				     .end = rec.end,
				     .seal_ns = rec.seq,
				     .wait_us = rec.flags >> CF_WAIT_SHIFT,
				     .live = rec.flags & CF_LIVE };
		lan_record(&u->lan, rec.p, rec.len);
		if (rec.flags & CF_LAN) {
			/* for LAN viewers only: handed to them above */
			e->written = e->sent = true;
		} else if (e->live) {
			e->written = true;
			/* nobody to send it to (and none on the way): gone */
			e->sent = !u->connected && !u->connecting;
			u->st->live_dropped += e->sent;
		} else {
			place(u, u->qtail);
			if (u->connected && !u->closing) {
				e->deferred = true;
				e->due_ns = now + WRITE_HOLD_MS * 1000000ULL;
				u->n_deferred++;
			} else {
				batch_add(u, u->qtail);
			}
		}
		u->qtail++;
	}
	/* stopped because the ring had nothing more (not for room) */
	u->drained = ret == 0 && can_take(u);
	flush_writes(u, false);
	if (ret < 0 && ret == -EPROTO) {
		log_err("uplink: the ciphertext ring is corrupt");
		exit(1);
	}
}

/* Slots whose work is all done go back to the sealer, in order. */
static void release_done(struct uplink *u)
{
	uint64_t end = 0;

	while (u->qhead < u->qtail) {
		struct entry *e = qent(u, u->qhead);

		if (!e->written || e->notifs || e->inflight ||
		    (e->live && !e->sent))
			break;
		end = e->end;
		u->qhead++;
	}
	if (end) {
		ring_release_to(&u->c, end);
		if (ring_producer_waiting(&u->c))
			wake(u->io->cw.space);
	}
}

/* ---- sending ---- */

static void push_sent(struct uplink *u, uint64_t pos_end);

/*
 * Records go out in chains of up to TXMAX sends linked with IOSQE_IO_LINK,
 * each with MSG_WAITALL: the kernel runs them in order and finishes each
 * before the next, so records never interleave on the stream, and the
 * uplink wakes once per chain rather than once per record. One chain is
 * in flight at a time.
 */
static void chain_add(struct uplink *u, const struct txe *t)
{
	struct txe *x = &u->tx[u->chain_n++];

	*x = *t;
	if (x->ring) {
		qent(u, x->qi)->inflight++;
		x->zc = u->zc_ok && !u->zc_skip && !u->zc_copies;
	}
}

static void chain_submit(struct uplink *u)
{
	for (int i = 0; i < u->chain_n; i++) {
		struct io_uring_sqe *sqe = sqe_get(u);
		struct txe *t = &u->tx[i];

		if (t->zc) {
			io_uring_prep_send_zc(
				sqe, u->sock, t->p, t->len,
				MSG_NOSIGNAL | MSG_WAITALL,
				u->zc_report ? IORING_SEND_ZC_REPORT_USAGE : 0);
			qent(u, t->qi)->notifs++;
		} else {
			io_uring_prep_send(sqe, u->sock, t->p, t->len,
					   MSG_NOSIGNAL | MSG_WAITALL);
		}
		if (i + 1 < u->chain_n)
			sqe->flags |= IOSQE_IO_LINK;
		/* Counted as sent now: the relay may acknowledge a record
		 * before its completion reaches us. */
		if (!t->hello)
			push_sent(u, t->pos_end);
		io_uring_sqe_set_data64(sqe, UD(UD_SEND, (t->qi << 6) | (uint64_t)i));
	}
	u->chain_done = 0;
	u->chain_err = 0;
}

static void chain_entry(struct uplink *u, uint64_t qi)
{
	struct entry *e = qent(u, qi);
	struct txe t = { .ring = true,
			 .qi = qi,
			 .p = e->p,
			 .len = e->len,
			 .pos_end = e->live ? 0 : e->pos + e->len,
			 .seal_ns = e->seal_ns,
			 .wait_us = e->wait_us };

	if (e->live)
		e->queued = true;
	chain_add(u, &t);
}

/*
 * The answer to the relay's challenge, and the viewers it may let in, in
 * one send; records follow. The gate lets exactly this through after
 * HELLO: AUTH of its fixed size, then one VIEWERS of at most 16 keys.
 */
static void send_auth(struct uplink *u)
{
	size_t nv = u->io->n_viewers, len;
	uint8_t *p = u->auth;
	struct txe t = { .hello = true, .p = u->auth };

	wire_put(p, WIRE_AUTH, LOGIN_AUTH_LEN, u->io->account, 0);
	if (login_sign(&u->io->login, WIRE_ROLE_HUB, u->io->account,
		       u->challenge, p + WIRE_HDR_LEN)) {
		disconnect(u, "cannot sign the relay's challenge");
		return;
	}
	p += WIRE_HDR_LEN + LOGIN_AUTH_LEN;
	wire_put(p, WIRE_VIEWERS, (uint32_t)(nv * LOGIN_KEY_LEN), NULL, nv);
	memcpy(p + WIRE_HDR_LEN, u->io->viewers, nv * LOGIN_KEY_LEN);
	len = (size_t)(p + WIRE_HDR_LEN + nv * LOGIN_KEY_LEN - u->auth);
	t.len = len;
	u->challenged = false;
	u->authed = true;
	chain_add(u, &t);
	chain_submit(u);
}

/* Builds and submits the next chain, if there is anything to send. */
static void next_send(struct uplink *u)
{
	uint64_t pos = u->send_pos, oldest = u->sp.end;
	long n;

	if (!u->connected || u->chain_n || u->closing)
		return;
	if (!u->authed) {
		if (u->challenged)
			send_auth(u);
		return;
	}
	/* The quota evicted what was behind: go on from what is left, so
	 * that the spool is read only where it is written (F5) */
	if (u->sp.n_segs && pos < u->sp.segs[0])
		pos = u->send_pos = u->sp.segs[0];
	/* Recorded records the ring still holds, in spool order from pos. */
	for (uint64_t i = u->qhead; i < u->qtail && u->chain_n < TXMAX; i++) {
		struct entry *e = qent(u, i);

		if (e->live || e->pos < pos)
			continue;
		if (e->pos > pos) {
			oldest = e->pos;
			break;
		}
		chain_entry(u, i);
		pos += e->len;
	}
	if (!u->chain_n && pos < oldest) {
		/* Behind: what the ring no longer holds comes from the spool,
		 * all of it written (slots go back only after their write,
		 * or the relay's ACK: those are gaps, stepped over), and
		 * nothing from oldest on (the ring's, perhaps being written). */
		struct txe t = { 0 };

		n = spool_read(&u->sp, &pos, u->buf,
			       REC_HDR_LEN + REC_BODY_MAX, oldest);
		if (n == -EIO || n == -EMSGSIZE) {
			/* A damaged segment (the disk, not a crash: those are
			 * repaired on open): what follows in it is lost; say
			 * so and go on, or every restart would stop here. */
			uint64_t next = spool_next_segment(&u->sp, pos);

			if (next > oldest)
				next = oldest;

			log_err("ALERT uplink: spool damaged at %llu: %llu bytes skipped",
				(unsigned long long)pos,
				(unsigned long long)(next - pos));
			u->sp.evicted_bytes += next - pos;
			u->sp.evictions++;
			u->send_pos = next;
			return;
		}
		if (n < 0) {
			log_err("uplink: spool read at %llu: %s",
				(unsigned long long)pos, strerror((int)-n));
			exit(1);
		}
		if (!n && pos > u->send_pos) {
			/* a gap up to what the ring holds: on to that */
			u->send_pos = pos;
			next_send(u);
			return;
		}
		if (n > 0) {
			u->send_pos = pos;
			t.p = u->buf;
			t.len = (size_t)n;
			t.pos_end = pos + (uint64_t)n;
			chain_add(u, &t);
			u->st->replayed++;
			u->st->copies++; /* read back from disk into memory */
		}
	}
	/* Caught up: live records waiting go next, the oldest first. */
	for (uint64_t i = u->qhead;
	     pos == u->sp.end && i < u->qtail && u->chain_n < TXMAX; i++) {
		struct entry *e = qent(u, i);

		if (e->live && !e->sent && !e->queued)
			chain_entry(u, i);
	}
	if (u->chain_n)
		chain_submit(u);
}

static void push_sent(struct uplink *u, uint64_t pos_end)
{
	if (u->sent_n == u->sent_cap) {
		size_t live = u->sent_n - u->sent_off;

		if (u->sent_off) {
			memmove(u->sent, u->sent + u->sent_off,
				live * sizeof(*u->sent));
			u->sent_n = live;
			u->sent_off = 0;
		}
		if (u->sent_n == u->sent_cap) {
			size_t cap = u->sent_cap ? u->sent_cap * 2 : 1024;
			uint64_t *p = realloc(u->sent, cap * sizeof(*p));

			if (!p) {
				log_err("uplink: out of memory");
				exit(1);
			}
			u->sent = p;
			u->sent_cap = cap;
		}
	}
	u->sent[u->sent_n++] = pos_end;
}

static void lat_add(uint32_t *hist, uint64_t us)
{
	uint64_t b = us / LAT_BUCKET_US;

	hist[b < LAT_BUCKETS ? b : LAT_BUCKETS - 1]++;
}

/* Seal start to send completion, and capture to send completion. */
static void latency(struct uplink *u, uint64_t seal_ns, uint32_t wait_us)
{
	uint64_t now = mono_ns(), us;

	if (!seal_ns || now < seal_ns)
		return;
	us = (now - seal_ns) / 1000;
	lat_add(u->st->lat_hist, us);
	lat_add(u->st->cap_hist, us + wait_us);
	u->st->lat_n++;
}

/* The chain is done: account what went out, in order; handle a failure. */
static void chain_finish(struct uplink *u)
{
	int err = u->chain_err;

	u->zc_skip = false;
	for (int i = 0; i < u->chain_n; i++) {
		struct txe *t = &u->tx[i];

		if (!t->ok) {
			if (t->ring)
				qent(u, t->qi)->queued = false;
			continue;
		}
		if (t->hello)
			continue;
		if (t->zc)
			u->st->zc_sends++;
		else
			u->st->plain_sends++;
		u->st->records_sent++;
		u->st->bytes_sent += t->len;
		latency(u, t->seal_ns, t->wait_us);
		if (t->ring)
			qent(u, t->qi)->sent = true;
		if (t->pos_end)
			u->send_pos = t->pos_end;
	}
	if (err) {
		/* What did not go out leaves the sent list (it is its tail). */
		for (int i = 0; i < u->chain_n; i++)
			if (!u->tx[i].ok && !u->tx[i].hello &&
			    u->sent_n > u->sent_off)
				u->sent_n--;
	}
	u->chain_n = 0;
	if (!err)
		return;
	if (err == -EINVAL && u->zc_report && u->zc_ok) {
		u->zc_report = false; /* a kernel before 6.2: no usage report */
		return;		      /* the rest goes again in the next chain */
	}
	if (u->zc_ok && err == -ENOMEM) {
		/* over the pinning limit (RLIMIT_MEMLOCK, moatd sizes it to
		 * the ring): the next chain goes by copy, the rest again */
		u->zc_skip = true;
		u->st->zc_refused++;
		return;
	}
	if (u->zc_ok && (err == -EOPNOTSUPP || err == -EINVAL)) {
		/* The kernel or this socket cannot send zero-copy. */
		log_warn("uplink: zero-copy send refused (%s); using plain send",
			 strerror(-err));
		u->zc_ok = false;
		u->st->zc_refused++;
		return;
	}
	disconnect(u, err == -EPIPE ? "short send" : strerror(-err));
}

static void on_send(struct uplink *u, uint64_t idx, int res,
		    unsigned int flags)
{
	struct txe *t = &u->tx[idx & 63];

	if (t->ring) {
		struct entry *e = qent(u, t->qi);

		e->inflight--;
		if (t->zc && !(flags & IORING_CQE_F_MORE))
			e->notifs--; /* no notification will come */
	}
	if (res >= 0 && (size_t)res == t->len)
		t->ok = true;
	else if (!u->chain_err || u->chain_err == -ECANCELED)
		u->chain_err = res < 0 ? res : -EPIPE;
	if (++u->chain_done == u->chain_n)
		chain_finish(u);
}

/* ---- what the relay says ---- */

static void on_ack(struct uplink *u, uint64_t count)
{
	uint64_t pos = 0;

	if (count < u->acked_count ||
	    count - u->acked_count > u->sent_n - u->sent_off) {
		disconnect(u, "the relay acknowledged records never sent");
		return;
	}
	while (u->acked_count < count) {
		uint64_t p = u->sent[u->sent_off++];

		if (p)
			pos = p;
		u->acked_count++;
		u->st->acked++;
	}
	if (pos)
		spool_ack(&u->sp, pos, mono_ns());
}

_Static_assert((int)STATS_MAIL_MAX >= (int)WIRE_MAIL_MAX, "a mail fits its slot");

static void on_recv(struct uplink *u, int res)
{
	struct wire_hdr h;
	const uint8_t *f;
	size_t room;
	uint8_t *dst;
	int ret;

	u->recv_armed = false;
	if (res <= 0 || !u->connected) {
		disconnect(u, res ? strerror(-res) : "the relay closed it");
		return;
	}
	dst = wire_rx_space(&u->rx, &room);
	if ((size_t)res > room) {
		disconnect(u, "receive buffer");
		return;
	}
	memcpy(dst, u->rbuf, (size_t)res);
	wire_rx_added(&u->rx, (size_t)res);
	while ((ret = wire_rx_next(&u->rx, &h, &f)) == 1) {
		if (h.type == WIRE_ACK) {
			on_ack(u, h.value);
		} else if (h.type == WIRE_CHALLENGE && !u->authed &&
			   !u->challenged) {
			memcpy(u->challenge, f + WIRE_HDR_LEN,
			       LOGIN_CHALLENGE_LEN);
			u->challenged = true;
		} else if (h.type == WIRE_MAIL && u->authed) {
			/* a viewer's heartbeat: for moatd, unopened */
			uint64_t in = u->st->mail_in;
			struct stats_mail *m =
				&u->st->mail[in % STATS_MAIL_SLOTS];

			__atomic_store_n(&m->seq, 0, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_RELEASE);
			m->len = h.body_len;
			memcpy(m->body, f + WIRE_HDR_LEN, h.body_len);
			__atomic_store_n(&m->seq, in + 1, __ATOMIC_RELEASE);
			__atomic_store_n(&u->st->mail_in, in + 1,
					 __ATOMIC_RELEASE);
			log_debug("uplink: a heartbeat from a viewer, for moatd");
		} else if (h.type == WIRE_ERROR) {
			log_warn("uplink: the relay says: %.*s",
				 (int)h.body_len, (const char *)f + WIRE_HDR_LEN);
		} else {
			ret = -MOAT_E_MALFORMED;
			break;
		}
		if (!u->connected)
			return;
	}
	if (ret < 0) {
		disconnect(u, "the relay sent something that is not a frame of its protocol");
		return;
	}
	arm_recv(u);
}

static void on_connect(struct uplink *u, int res)
{
	u->connecting = false;
	if (res < 0) {
		log_debug("uplink: connect: %s", strerror(-res));
		close(u->sock);
		u->sock = -1;
		u->st->state = UPLINK_BACKOFF;
		drop_live(u);
		arm_timer(u, u->backoff_ms);
		u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS ?
					BACKOFF_MAX_MS :
					u->backoff_ms * 2;
		return;
	}
	log_info("uplink: connected to the relay; %llu bytes to send again",
		 (unsigned long long)spool_unacked(&u->sp));
	u->connected = true;
	u->challenged = u->authed = false;
	u->backoff_ms = BACKOFF_MIN_MS;
	{
		/* the ciphertext gate names connections by their cookie:
		 * moatd restarts the uplink if the gate ended this one */
		socklen_t cl = sizeof(u->st->sock_cookie);

		if (getsockopt(u->sock, SOL_SOCKET, SO_COOKIE,
			       &u->st->sock_cookie, &cl))
			u->st->sock_cookie = 0;
	}
	u->st->connects++;
	u->st->state = UPLINK_CONNECTED;
	u->zc_copies = false; /* a new route, perhaps: try zero-copy again */
	u->zc_copied_run = 0;
	u->send_pos = u->sp.acked;
	wire_put(u->hello, WIRE_HELLO, 0, u->io->account, WIRE_ROLE_HUB);
	{
		struct txe t = { .hello = true,
				 .p = u->hello,
				 .len = WIRE_HDR_LEN };

		chain_add(u, &t);
		chain_submit(u);
	}
	arm_recv(u);
}

/* ---- the loop ---- */

static void arm_event(struct uplink *u)
{
	struct io_uring_sqe *sqe = sqe_get(u);

	io_uring_prep_read(sqe, u->io->cw.data, &u->evbuf, sizeof(u->evbuf),
			   0);
	io_uring_sqe_set_data64(sqe, UD(UD_EVENT, 0));
	u->ev_armed = true;
}

/*
 * A zero-copy send the kernel copied all the same costs more than a plain
 * one: the pages pinned, a notification to wait for and reap, the slot
 * held until it comes, and the copy. When the kernel says so for every
 * send in a row, this connection's route copies (loopback, a veth or a
 * device without scatter-gather), and the uplink sends plainly until the
 * next connection, which tries zero-copy again.
 */
static void zc_was_copied(struct uplink *u)
{
	u->st->zc_copied++;
	if (++u->zc_copied_run < ZC_COPIED_MAX || u->zc_copies)
		return;
	u->zc_copies = true;
	u->st->zc_copy_fallbacks++;
	log_info("uplink: the kernel copied the last %u zero-copy sends (this route cannot send from our pages); plain sends until the next connection",
		 (unsigned)ZC_COPIED_MAX);
}

static void on_cqe(struct uplink *u, struct io_uring_cqe *cqe)
{
	uint64_t ud = io_uring_cqe_get_data64(cqe), i = UD_IDX(ud);

	switch (UD_KIND(ud)) {
	case UD_EVENT:
		u->ev_armed = false;
		break;
	case UD_WRITE:
		on_write(u, i, cqe->res);
		break;
	case UD_SEND:
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			qent(u, i >> 6)->notifs--;
			if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
				zc_was_copied(u);
			else
				u->zc_copied_run = 0;
		} else {
			on_send(u, i, cqe->res, cqe->flags);
		}
		break;
	case UD_RECV:
		on_recv(u, cqe->res);
		break;
	case UD_CONNECT:
		on_connect(u, cqe->res);
		break;
	case UD_FLUSH:
		u->flush_armed = false;
		flush_writes(u, false);
		break;
	case UD_FSYNC:
		/* a failed fsync is final (the pages are marked clean):
		 * what is unacknowledged may not survive a power cut */
		if (cqe->res < 0) {
			log_err("ALERT uplink: spool fsync: %s; unacknowledged records may not survive a power cut",
				strerror(-cqe->res));
			snprintf(u->st->err, sizeof(u->st->err),
				 "spool fsync failed: %s", strerror(-cqe->res));
		}
		if (i < RETIRED_MAX && u->ret[i].fd >= 0) {
			close(u->ret[i].fd);
			u->ret[i].fd = -1;
			u->ret[i].syncing = false;
		}
		break;
	case UD_ACKED:
		spool_acked_written(&u->sp, cqe->res);
		break;
	case UD_UNLINK:
		spool_unlinked(&u->sp, i, cqe->res);
		break;
	case UD_HOLD:
		u->hold_armed = false; /* settled after the completions */
		break;
	case UD_TIMER:
		u->timer_armed = false;
		if (!u->connected && !u->connecting && u->sock < 0)
			start_connect(u);
		break;
	case UD_LAN_ACCEPT:
	case UD_LAN_RECV:
	case UD_LAN_SEND:
	case UD_LAN_TICK:
		lan_cqe(&u->lan, UD_KIND(ud), i, cqe->res);
		break;
	default:
		break;
	}
	if (u->closing)
		disconnect(u, "");
}

static void publish(struct uplink *u)
{
	u->st->spool_bytes = spool_bytes(&u->sp);
	u->st->spool_quota = u->sp.quota;
	u->st->spool_segments = u->sp.n_segs;
	u->st->spool_unacked_bytes = spool_unacked(&u->sp);
	u->st->evicted_bytes = u->sp.evicted_bytes;
	u->st->evictions = u->sp.evictions;
}

/* Still to be written to the spool: held back, being filled, in flight;
 * or a finished segment still to be fsynced. */
static bool writes_left(const struct uplink *u)
{
	if (u->n_deferred || u->wb_bytes)
		return true;
	for (int i = 0; i < RETIRED_MAX; i++)
		if (u->ret[i].fd >= 0)
			return true;
	return false;
}

/*
 * Stopping: what was held back, and the writes in flight, go to disk
 * before the uplink exits (if moatd is stopping too, the rings go with
 * it), for at most 2 s.
 */
static void drain(struct uplink *u)
{
	uint64_t until = mono_ns() + 2000000000ULL;

	while (writes_left(u) && mono_ns() < until) {
		struct __kernel_timespec ts = { .tv_nsec = 100000000 };
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;

		settle(u, mono_ns(), true);
		flush_writes(u, true);
		retire_check(u);
		io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			on_cqe(u, cqe);
			n++;
		}
		io_uring_cq_advance(&u->ring, n);
	}
	if (writes_left(u))
		log_warn("uplink: stopped before its spool writes and fsyncs were done (2 s); records not written are still in the C ring");
}

static int loop(struct uplink *u)
{
	start_connect(u);
	while (!role_stopping()) {
		struct io_uring_cqe *cqe;
		unsigned int head, n = 0;
		int ret;

		take_records(u);
		next_send(u);
		lan_arm(&u->lan);
		if (!u->ev_armed)
			arm_event(u);
		if (u->n_deferred && !u->hold_armed) {
			/* held records come due with nothing else to wake us */
			arm_timeout(u, &u->hold_ts, WRITE_HOLD_MS, UD_HOLD);
			u->hold_armed = true;
		}
		/* The sealer wakes us only while we say we sleep; records
		 * that came after take_records() looked: no sleep. */
		ring_set_idle(&u->c, true);
		ret = io_uring_submit_and_wait(
			&u->ring, u->drained && ring_pending(&u->c) ? 0 : 1);
		ring_set_idle(&u->c, false);
		if (ret < 0 && ret != -EINTR && ret != -ETIME) {
			log_err("uplink: io_uring: %s", strerror(-ret));
			return 1;
		}
		io_uring_for_each_cqe(&u->ring, head, cqe) {
			on_cqe(u, cqe);
			n++;
		}
		io_uring_cq_advance(&u->ring, n);
		if (u->n_deferred)
			settle(u, mono_ns(), false);
		release_done(u);
		publish(u);
	}
	drain(u);
	return 0;
}

/* Only these operations, whatever a compromised uplink submits. */
static const uint8_t allowed_ops[] = {
	IORING_OP_NOP,	       IORING_OP_READ,	 IORING_OP_WRITEV,
	IORING_OP_SEND,	       IORING_OP_SEND_ZC, IORING_OP_RECV,
	IORING_OP_CONNECT,     IORING_OP_TIMEOUT, IORING_OP_ASYNC_CANCEL,
	IORING_OP_FSYNC,       IORING_OP_ACCEPT,	 IORING_OP_UNLINKAT,
};

int uplink_ring_setup(struct io_uring *ring)
{
	struct io_uring_restriction res[sizeof(allowed_ops) + 2];
	size_t i;
	int ret;

	/*
	 * One thread submits and reaps, so completions can wait until it
	 * asks for them (DEFER_TASKRUN): a zero-copy notification then no
	 * longer wakes the uplink on its own (the kernel posts those lazily).
	 */
	ret = io_uring_queue_init(256, ring,
				  IORING_SETUP_R_DISABLED |
					  IORING_SETUP_SINGLE_ISSUER |
					  IORING_SETUP_DEFER_TASKRUN);
	if (ret == -EINVAL) /* before Linux 6.1 */
		ret = io_uring_queue_init(256, ring, IORING_SETUP_R_DISABLED);
	if (ret)
		return ret;
	memset(res, 0, sizeof(res));
	for (i = 0; i < sizeof(allowed_ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = allowed_ops[i];
	}
	/* and the one SQE flag it uses: links between a chain's sends */
	res[i].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[i++].sqe_flags = IOSQE_IO_LINK;
	/* liburing 2.3 declares these two but does not export them. */
	if (!ret && (syscall(__NR_io_uring_register, ring->ring_fd,
			     IORING_REGISTER_RESTRICTIONS, res, (unsigned)i) < 0 ||
		     syscall(__NR_io_uring_register, ring->ring_fd,
			     IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0))
		ret = -errno;
	if (ret)
		log_err("uplink: io_uring setup: %s", strerror(-ret));
	return ret;
}

int uplink_main(struct uplink_io *io)
{
	struct uplink *u = calloc(1, sizeof(*u));
	int ret;

	if (!u)
		return 1;
	/* the sealer's eventfd: the loop always waits on it, with no
	 * timeout (the sealer's and workers' waits end within 1 s) */
	role_signals(io->cw.data);
	u->io = io;
	u->st = io->st;
	u->sock = -1;
	u->lan.lfd = -1;
	u->sp.dirfd = u->sp.wfd = u->sp.rfd = u->sp.afd = -1;
	for (int i = 0; i < RETIRED_MAX; i++)
		u->ret[i].fd = -1;
	u->zc_ok = true;
	u->zc_report = true;
	u->backoff_ms = BACKOFF_MIN_MS;
	u->buf = malloc(REC_HDR_LEN + REC_BODY_MAX);
	ret = u->buf ? 0 : -ENOMEM;
	if (!ret)
		ret = wire_rx_init(&u->rx, WIRE_CTL_BODY_MAX);
	if (!ret)
		ret = relay_addr(u);
	/* read-only: the kernel refuses this process a writable mapping */
	if (!ret)
		ret = ring_map(&io->c, false, &u->c);
	if (!ret)
		ret = uplink_ring_setup(&u->ring);
	/* Spool files belong to the uplink's own user. */
	if (!ret)
		ret = sandbox_drop_user(&io->sb);
	/* moatd holds the folder as a path only (as its own user it may not
	 * open it): open it now, as its owner, in the same descriptor, the
	 * one the filter and Landlock name; fsync needs it open */
	if (!ret) {
		int d = openat(io->spool_fd, ".",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (d < 0 || dup3(d, io->spool_fd, O_CLOEXEC) < 0)
			ret = -errno;
		if (d >= 0)
			close(d);
	}
	/* One uplink per spool: a restarted one waits for its predecessor
	 * (still dying after a moatd crash) to let go. */
	if (!ret) {
		int lock = openat(io->spool_fd, ".lock",
				  O_RDWR | O_CREAT | O_CLOEXEC, 0600);

		if (lock < 0 || flock(lock, LOCK_EX) < 0)
			ret = -errno;
	}
	/* LAN viewers' sockets belong to the uplink's user too (the policy
	 * knows them by it); after the lock, so a predecessor still dying
	 * has let go of the port (but for its io_uring: lan_open waits) */
	if (!ret)
		lan_open(&u->lan, io->cfg->lan_subnet, io->cfg->lan_port,
			 &u->ring, u->st, io->account,
			 (const uint8_t(*)[LOGIN_KEY_LEN])io->viewers,
			 io->n_viewers);
	if (!ret) {
		ret = spool_open(&u->sp, io->spool_fd, io->cfg->spool_quota);
		if (ret)
			log_err("uplink: spool %s: %s", io->cfg->spool,
				strerror(-ret));
		/* what the uplink before us wrote to the last segment may
		 * not be on disk yet: it is fsynced when it is finished */
		else if (u->sp.end > u->sp.segs[u->sp.n_segs - 1])
			u->wfd_dirty = true;
	}
	if (!ret) {
		/* OpenSSL loads what Ed25519 needs at first use, which may
		 * open files: sign once now, before the sandbox forbids it */
		uint8_t chal[LOGIN_CHALLENGE_LEN] = { 0 }, a[LOGIN_AUTH_LEN];

		ret = login_sign(&io->login, WIRE_ROLE_HUB, io->account, chal, a);
		/* and what a LAN viewer's login needs: a check, randomness */
		if (!ret && (login_verify(a, WIRE_ROLE_HUB, io->account, chal) ||
			     RAND_bytes(chal, sizeof(chal)) != 1))
			ret = -MOAT_E_CRYPTO;
	}
	if (!ret)
		ret = sandbox_enter(&io->sb);
	if (!ret) {
		u->sp.flush = flush_sqes;
		u->sp.sync = sync_segment;
		u->sp.sync_dir = sync_dir;
		u->sp.write_acked = write_acked;
		u->sp.unlink = unlink_segment;
		u->sp.flush_arg = u;
		u->send_pos = u->sp.acked;
		publish(u);
		ret = loop(u);
	}
	/* The port goes with us: the ring's pending accept would hold the
	 * socket, listening, until a kernel worker tears the ring down after
	 * we exit, and the uplink started after us could not bind it. */
	if (u->lan.lfd >= 0)
		shutdown(u->lan.lfd, SHUT_RDWR);
	spool_close(&u->sp);
	login_wipe(&io->login);
	free(u->buf);
	free(u->sent);
	wire_rx_free(&u->rx);
	free(u);
	return ret ? 1 : 0;
}
