/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The spool: sealed records the relay has not acknowledged, on disk
 * (docs/SPOOL.md). Only sealed records, back to back, in numbered segment
 * files (NNNNNNNNNNNNNNNN.seg, at most SPOOL_SEG_MAX bytes each), and one
 * small file `acked' with the position up to which the relay has stored
 * everything. A position is a byte offset in the spool's whole history; a
 * segment is named by the position it starts at, so positions run on
 * across segments without gaps.
 *
 * Writes are submitted by the uplink's io_uring at positions spool_alloc()
 * hands out; on start, the last segment is cut at its first record that
 * does not parse (a write the crash interrupted; its record is still in
 * the C ring and is written again). The quota is kept by evicting whole
 * segments, oldest first, acknowledged or not: unacknowledged bytes lost
 * that way are counted and logged as an alert.
 */
#ifndef MOAT_DAEMON_SPOOL_H
#define MOAT_DAEMON_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	SPOOL_SEG_MAX = 8 << 20,
	SPOOL_SEG_MIN = 64 << 10,
	SPOOL_ACKED_LEN = 43, /* "moat-spool 2 <20 digits> <8 hex>\n" */
};

struct spool {
	int dirfd;
	uint64_t quota;
	uint64_t seg_max; /* a segment ends before it passes this */
	uint64_t *segs; /* start positions of the segments, oldest first */
	size_t n_segs, cap_segs;
	int wfd;	/* last segment, for writing */
	uint64_t end;	/* position after everything handed out */
	uint64_t acked;	/* position: all before it is acknowledged */
	uint64_t acked_saved;
	uint64_t saved_ns;
	int afd;	/* the acked file, overwritten in place */
	char abuf[SPOOL_ACKED_LEN + 1]; /* its new line, while written */
	uint64_t a_writing; /* the position abuf holds */
	bool a_busy;	/* abuf is being written (write_acked) */
	uint64_t evicted_bytes, evictions;
	/* Called when a segment is finished, so that writes queued on it
	 * are submitted first. */
	void (*flush)(void *arg);
	/* Takes a finished segment's descriptor: makes it durable once
	 * every write on it has completed, then closes it (the uplink, with
	 * an io_uring FSYNC); NULL: fdatasync() and close() here. */
	void (*sync)(void *arg, int fd);
	/* Makes a new segment's name durable (an FSYNC of the folder, in
	 * the background); NULL: fsync() here. */
	void (*sync_dir)(void *arg, int dirfd);
	/* Writes the acked file's new line (len bytes at offset 0 of fd) in
	 * the background, then calls spool_acked_written(); NULL: pwrite()
	 * here. buf stays put until then. */
	void (*write_acked)(void *arg, int fd, const void *buf, size_t len);
	/* Deletes a segment file (name, the segment starting at start) in
	 * the background, then calls spool_unlinked(); NULL: unlinkat()
	 * here. name lasts only for the call. */
	void (*unlink)(void *arg, int dirfd, const char *name, uint64_t start);
	/* The quota evicts no segment reaching past this position: from
	 * here on records may still be on their way to disk. */
	uint64_t evict_floor;
	void *flush_arg;
	int rfd; /* segment open for replay reads */
	uint64_t rseg;	/* its start */
};

/* Evicts oldest segments while over the quota, down to evict_floor
 * (spool_alloc does it too; call it when the floor moves up). */
void spool_trim(struct spool *sp);

/* Opens (and repairs) the spool in the folder dirfd (taken over). */
int spool_open(struct spool *sp, int dirfd, uint64_t quota);
void spool_close(struct spool *sp);

/*
 * Where a record of len bytes goes: the descriptor and offset to write it
 * at, and its position. May start a new segment and evict old ones.
 */
int spool_alloc(struct spool *sp, uint32_t len, int *fd, uint64_t *off,
		uint64_t *pos);

/* The end of everything handed out so far. */
static inline uint64_t spool_end(const struct spool *sp)
{
	return sp->end;
}

/* Bytes in the spool's segments. */
static inline uint64_t spool_bytes(const struct spool *sp)
{
	return sp->n_segs ? sp->end - sp->segs[0] : 0;
}

/*
 * Reads the record at *pos into buf: its length, 0 at the end of the
 * spool or at limit, or -errno. A position older than the oldest segment
 * (evicted) moves to the oldest record kept, one in a gap (records
 * acknowledged before their write was due, never written) to the record
 * after it, but never past limit: from there on the caller holds the
 * records (in the C ring), and their writes may not be done. When 0 is
 * returned *pos may have moved on, to at most limit.
 */
long spool_read(struct spool *sp, uint64_t *pos, uint8_t *buf, size_t cap,
		uint64_t limit);

/* Where the segment after the one holding pos starts (or the end). */
uint64_t spool_next_segment(const struct spool *sp, uint64_t pos);

/* Everything before pos is acknowledged: frees whole segments, saves. */
int spool_ack(struct spool *sp, uint64_t pos, uint64_t now_ns);
/* Saves the acknowledged position now (or starts to, with write_acked). */
int spool_save(struct spool *sp);
/* write_acked's write is done: res, as write() returns. */
void spool_acked_written(struct spool *sp, long res);
/* unlink's deletion of the segment at start is done: res, 0 or -errno. */
void spool_unlinked(struct spool *sp, uint64_t start, int res);

/* Bytes not yet acknowledged. */
uint64_t spool_unacked(const struct spool *sp);

#endif
