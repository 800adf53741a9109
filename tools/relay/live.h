/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Live fan-out (docs/PROTOCOL.md section 12, "Live"): a viewer that sent
 * LIVE gets, as they arrive from its hub, the records of every stream
 * whose header arrives after it asked (a viewer can open a stream only
 * from its header). A record is held once, in a reference-counted blob,
 * however many viewers it goes to; each viewer has a queue of blobs sent
 * with non-blocking sendmsg. A viewer whose queue passes LIVE_QUEUE_MAX
 * bytes is too slow: it is cut off, never the hub. The same queue carries
 * the replies to LIST and GET, so the relay never waits on a viewer.
 */
#ifndef MOAT_TOOLS_RELAY_LIVE_H
#define MOAT_TOOLS_RELAY_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

enum {
	LIVE_STREAMS = 64,	   /* streams a viewer follows at once */
	LIVE_QUEUE_MAX = 8 << 20, /* bytes queued to one viewer */
	LIVE_IOV = 64,		   /* blobs in one sendmsg */
};

struct live_blob {
	uint32_t refs;
	uint32_t len;
	uint8_t *p;	/* the bytes: data[], or a buffer the blob owns */
	uint8_t data[];
};

struct live_sub {
	uint8_t ids[LIVE_STREAMS][WIRE_ID_LEN]; /* streams it follows */
	size_t n_ids;
	struct live_blob **q; /* ring of queued blobs */
	size_t q_cap, q_head, q_n;
	size_t q_off;	/* bytes of the head blob already sent */
	size_t q_bytes; /* bytes queued, not yet sent */
	uint64_t sent, dropped_streams;
};

/* A blob holding a copy of p, one reference; NULL without memory. */
struct live_blob *live_blob_new(const uint8_t *p, size_t len);
/* A blob of buf itself (malloc'd; freed with the blob, or now on
 * failure): no copy. */
struct live_blob *live_blob_own(uint8_t *buf, size_t len);
void live_blob_put(struct live_blob *b);

/*
 * Whether the viewer gets this record: a stream header starts a stream it
 * follows (when it follows LIVE_STREAMS already, the oldest is dropped), a
 * final record ends one after it is sent. *h is the record's frame header.
 */
bool live_wants(struct live_sub *s, const struct wire_hdr *h);
/* Queues a reference; -ENOBUFS when the queue would pass limit bytes. */
int live_push(struct live_sub *s, struct live_blob *b, size_t limit);
/* Sends what it can without blocking: 0, or -errno for a dead socket. */
int live_flush(struct live_sub *s, int fd);
static inline bool live_pending(const struct live_sub *s)
{
	return s->q_n != 0;
}
/* Drops every queued reference and frees the queue. */
void live_sub_free(struct live_sub *s);

#endif
