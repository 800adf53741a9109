/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay's store: DIR/<hub id>/<stream id>.moat, each stream's records
 * appended in counter order (header first). Records arrive again after a
 * hub reconnects: one already stored is a duplicate and is ignored. The
 * relay holds no key; it checks framing and order, nothing else.
 */
#ifndef MOAT_TOOLS_RELAY_STORE_H
#define MOAT_TOOLS_RELAY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	STORE_OPEN_MAX = 128, /* stream files kept open */
	STORE_STREAM_MAX = 256 << 20,
	STORE_HUBS_MAX = 256, /* hubs whose use is tracked for the quota */
};

/* A hub's bytes on disk, counted once by a scan and then as they grow. */
struct store_hub {
	uint8_t hub[16];
	uint64_t bytes;
	bool used;
};

enum store_result { STORED = 0, DUPLICATE, GAP };

struct store_stream {
	uint8_t hub[16], id[16];
	int fd;
	uint64_t next; /* counter expected next */
	uint64_t used; /* last use, for eviction */
	bool dirty;
	bool created; /* its name is not yet durable in the hub's folder */
	bool finished; /* its final record is stored */
};

struct store {
	char dir[256];
	struct store_stream s[STORE_OPEN_MAX];
	uint64_t clock;
	bool dir_dirty; /* a hub folder was made: fsync the store's folder */
	/*
	 * The first failed fsync, for good: Linux marks the pages clean after
	 * a write-back error, so a later fsync that succeeds proves nothing
	 * about them. The relay then acknowledges nothing more and stops.
	 */
	int failed;
	uint64_t stored, duplicates, gaps;
	/* retention: per hub, oldest streams go first (0: no quota) */
	uint64_t quota;
	struct store_hub hubs[STORE_HUBS_MAX];
	uint64_t retained_streams, retained_bytes;
};

int store_init(struct store *st, const char *dir);
void store_close(struct store *st);

/* One sealed record (validated frame) for the hub's stream. */
int store_put(struct store *st, const uint8_t hub[16], const uint8_t *rec,
	      size_t len, enum store_result *res);
/* Makes everything stored so far durable (before acknowledging it); once
 * it has failed, it fails every time after (struct store, failed). */
int store_sync(struct store *st);

/*
 * Keeps every hub within st->quota: while a hub's streams take more, the
 * oldest (by last write) are deleted, down to 90% of the quota; a stream
 * still being written is never deleted. Logged; counted in
 * retained_streams and retained_bytes.
 */
void store_retain(struct store *st);

/* Paths for the viewer side. */
void store_hub_dir(const struct store *st, const uint8_t hub[16], char *out,
		   size_t len);

#endif
