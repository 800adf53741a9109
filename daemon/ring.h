/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Single-producer single-consumer rings in shared memory (memfd), between
 * processes that do not trust each other: worker -> sealer (plaintext
 * access units) and sealer -> uplink (sealed records).
 *
 * Two memfds per ring, so the kernel enforces who may write what:
 *   data: a page for the producer's state (head), then the data area;
 *         the producer maps it read-write, the consumer read-only (it gets
 *         a read-only descriptor, so a writable mapping fails with EACCES)
 *   cons: a page for the consumer's state (tail); the consumer maps it
 *         read-write, the producer read-only
 * The data area is mapped twice back to back, so every record is
 * contiguous in memory however it falls across the end of the ring: a
 * record can be sealed or sent where it lies, never copied to unwrap it.
 *
 * A record is a 16-byte slot header (length, flags, sequence) and its
 * payload, padded to 64 bytes. head and tail only grow; they are
 * published with release stores and read with acquire loads. The
 * consumer treats everything the producer wrote as untrusted: lengths and
 * positions are checked before use (a compromised worker must not make
 * the sealer read out of bounds).
 */
#ifndef MOAT_DAEMON_RING_H
#define MOAT_DAEMON_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RING_SLOT_HDR = 16,
	RING_ALIGN = 64,
	RING_MIN_CAP = 64 << 10,
	RING_MAX_CAP = 1 << 30,
};

/* Descriptors that make a ring; passed to the other side over SCM_RIGHTS. */
struct ring_fds {
	int data;	/* producer: read-write; consumer: read-only */
	int cons;	/* consumer: read-write; producer: read-only */
};

struct ring {
	struct ring_prod *prod;		/* producer state (data memfd page) */
	struct ring_cons *cons;		/* consumer state (cons memfd page) */
	uint8_t *data;			/* cap bytes, mapped twice */
	uint64_t cap;
	bool producer;
	uint64_t pending;		/* producer: bytes reserved, not committed */
	uint64_t cursor;		/* consumer: next record ring_next() reads */
	uint64_t warm;			/* producer: ring_warm() read up to here */
};

struct ring_rec {
	uint8_t *p;			/* payload (read-only for the consumer) */
	uint32_t len;
	uint32_t flags;
	uint64_t seq;			/* sequence, or the producer's aux value */
	uint64_t pos;			/* where the slot starts (ring_next) */
	uint64_t end;			/* where the next slot starts */
};

/* New ring of cap bytes (a power of two, RING_MIN_CAP..RING_MAX_CAP). */
int ring_create(uint64_t cap, struct ring_fds *fds);
/* A read-only duplicate of the data descriptor, for the consumer. */
int ring_fd_readonly(int data_fd);
/* Maps the ring as its producer or consumer. Does not take the fds. */
int ring_map(const struct ring_fds *fds, bool producer, struct ring *r);
void ring_unmap(struct ring *r);
/* Maps only the two state pages, read-only: for moatd to watch the fill. */
int ring_observe(const struct ring_fds *fds, struct ring *r);
void ring_fds_close(struct ring_fds *fds);

/*
 * Producer: room for a payload of len bytes, or NULL when the ring cannot
 * hold it now (-ENOSPC in *err) or ever (-EMSGSIZE). Then commit it.
 */
uint8_t *ring_reserve(struct ring *r, uint32_t len, int *err);
void ring_commit(struct ring *r, uint32_t len, uint32_t flags);
/* The same, with a producer-defined value in place of the sequence. */
void ring_commit_aux(struct ring *r, uint32_t len, uint32_t flags,
		     uint64_t aux);

/*
 * Producer, while it has nothing else to do: reads one byte of each page
 * from where it last stopped (never behind the head) to ahead bytes past
 * the head, at most pages pages a call; true while some remain. A page
 * not touched for seconds can cost a trap on its first write (a VM's
 * host takes back guest memory that lies idle: about 6 us a page here);
 * a producer that warms the pages it will write next while it waits
 * takes that cost off the next record's path.
 */
bool ring_warm(struct ring *r, uint64_t ahead, unsigned int pages);

/*
 * Consumer: the oldest record: 1 and *rec, 0 when empty, -EPROTO when the
 * producer wrote something impossible (the ring is then unusable).
 */
int ring_peek(struct ring *r, struct ring_rec *rec);
void ring_release(struct ring *r, const struct ring_rec *rec);

/*
 * Consumer, pipelined: the record after the last one ring_next() returned
 * (the first time, the oldest), without releasing anything; then release
 * every record before end (a rec.end from ring_next()) at once. Lets a
 * consumer keep several records in flight and free them in order as their
 * work completes. Same returns as ring_peek().
 */
int ring_next(struct ring *r, struct ring_rec *rec);
void ring_release_to(struct ring *r, uint64_t end);
/*
 * Wakeups only when needed: a producer about to sleep for room sets
 * waiting (then checks for room once more); a consumer that released
 * something wakes the producer only if it is waiting.
 */
void ring_set_waiting(struct ring *r, bool waiting);
bool ring_producer_waiting(const struct ring *r);
/*
 * The same the other way: a consumer about to sleep for records sets
 * idle (then checks for records once more, ring_pending()); a producer
 * that committed something wakes the consumer only if it is idle. A side
 * that ignores the flag only delays itself: each ring has one producer
 * and one consumer.
 */
void ring_set_idle(struct ring *r, bool idle);
bool ring_consumer_idle(const struct ring *r);
/* Consumer: a record past those ring_next() has handed out. */
bool ring_pending(const struct ring *r);

/* Forget what ring_next() handed out and not released (start over). */
void ring_rewind(struct ring *r);

/* Ring bytes a payload of len takes (slot header and padding included). */
uint64_t ring_slot_size(uint32_t len);
/* Bytes the producer could reserve now, in slots' terms. */
uint64_t ring_free(const struct ring *r);

/* Where the producer will write next, and where the consumer has
 * released up to: a record committed when the head became h is released
 * once the tail reaches h. */
uint64_t ring_head(const struct ring *r);
uint64_t ring_tail(const struct ring *r);

/* Bytes in use (committed, not released), as either side sees them. */
uint64_t ring_used(const struct ring *r);

#endif
