/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counters each role publishes for `moatctl status`: one memfd page set per
 * process, mapped read-write by that role and by moatd, by nobody else.
 * Single writer; moatd reads with relaxed loads (a reading may mix two
 * updates of different counters, never tear one).
 */
#ifndef MOAT_DAEMON_STATS_H
#define MOAT_DAEMON_STATS_H

#include <stdint.h>

#include "daemon/config.h"

enum {
	LAT_BUCKET_US = 10,  /* latency histogram: 10 us buckets */
	LAT_BUCKETS = 2000,  /* up to 20 ms; the last bucket is "more" */
	STATS_ERR_MAX = 160,
	STATS_MAIL_MAX = 512,	/* WIRE_MAIL_MAX */
	STATS_MAIL_SLOTS = 16,	/* mails the uplink can hold for moatd */
};

/* A viewer's mail (a sealed heartbeat) the relay gave the uplink, for
 * moatd to open: the uplink holds no key. Untrusted bytes. */
struct stats_mail {
	uint64_t seq; /* mail number + 1 once whole; 0 while being written */
	uint32_t len;
	uint8_t body[STATS_MAIL_MAX];
};

struct stats_worker {
	uint64_t frames, bytes;	      /* access units captured */
	uint64_t drops_rec;	      /* recorded frames lost (ring full) */
	uint64_t last_key_us;	      /* capture time of the last keyframe */
	uint64_t ended;		      /* a finite source ended */
	uint64_t motion;	      /* record = events: motion now (0/1) */
	uint64_t motion_samples;      /* pictures compared */
	uint64_t motion_starts;	      /* times motion began */
	uint64_t err_us;	      /* when err was set (Unix us) */
	char err[STATS_ERR_MAX];      /* the last failure, until 30 s good */
	uint64_t note_us;
	char note[STATS_ERR_MAX];     /* something odd that did not stop it */
	/* a local camera: copies of frame bytes before the sealer (its own
	 * H.264 passed through: one each), raw frames converted for the
	 * encoder (YUYV) */
	uint64_t copies, converted;
	/* a local camera: what encodes it ("libx264", "the V4L2 encoder
	 * (H264)", "the camera's own H.264") */
	char encoder[STATS_ERR_MAX];
};

struct stats_cam {
	uint64_t frames_sealed, bytes_sealed; /* access units and their bytes */
	uint64_t records, streams;	      /* records made, streams opened */
	uint64_t drops_live;		      /* live frames dropped, oldest first */
	uint64_t skipped;		      /* waiting for a keyframe, unrecorded */
	uint64_t last_key_us;
	/* record = events */
	uint64_t clips;			      /* clips closed and indexed */
	uint64_t in_clip;		      /* a clip is being recorded (0/1) */
	uint64_t held_bytes;		      /* sealed pre-roll held now */
	uint64_t discarded_gops;	      /* sealed GOPs no clip used */
	uint64_t preroll_short;		      /* GOPs dropped early: hold full */
};

struct stats_sealer {
	uint64_t viewers;	  /* recipients of every new stream */
	uint64_t records, bytes;  /* into the ciphertext ring */
	uint64_t copies;	  /* copies of frame bytes besides the AEAD */
	uint64_t ring_waits;	  /* times the ciphertext ring was full */
	/* written by moatd: until when (CLOCK_MONOTONIC ns) someone watches
	 * live, so events cameras send their GOPs as they seal them: through
	 * the relay (a live request), or on the LAN only */
	uint64_t live_until_ns, lan_until_ns;
	struct stats_cam cam[CFG_MAX_CAMERAS];
};

enum uplink_state {
	UPLINK_STARTING = 0,
	UPLINK_CONNECTING,
	UPLINK_CONNECTED,
	UPLINK_BACKOFF,
};

struct stats_uplink {
	uint64_t state;
	uint64_t records_sent, bytes_sent;
	uint64_t zc_sends, plain_sends; /* plain: replay, or ZC refused */
	uint64_t zc_refused;		 /* SEND_ZC refused, fell back to SEND */
	uint64_t zc_copied;		 /* the kernel copied a ZC send */
	uint64_t zc_copy_fallbacks;	 /* connections it did for every one */
	uint64_t replayed;		 /* records sent again from the spool */
	uint64_t acked;			 /* records the relay stored */
	uint64_t live_dropped;		 /* live records with no relay to go to */
	uint64_t connects, disconnects;
	uint64_t spool_bytes, spool_quota, spool_segments;
	uint64_t spool_unacked_bytes;
	uint64_t spool_written;	/* bytes of records written to the spool */
	uint64_t spool_skipped; /* acknowledged before their write was due */
	uint64_t evicted_bytes, evictions; /* quota evictions (alert) */
	uint64_t copies;		   /* frame-byte copies in the uplink */
	uint64_t sock_cookie;		   /* its relay connection (SO_COOKIE) */
	/* live view on the LAN (daemon/lanview.h) */
	uint64_t lan_viewers;		   /* watching now */
	uint64_t lan_connects, lan_logins, lan_refused, lan_cut;
	uint64_t lan_records, lan_bytes;   /* copied to, sent to LAN viewers */
	uint64_t lat_n;
	uint32_t lat_hist[LAT_BUCKETS];	   /* seal start to send completion */
	uint32_t cap_hist[LAT_BUCKETS];	   /* capture to send completion */
	char err[STATS_ERR_MAX];
	/*
	 * The mailbox, a sequence lock per slot: the uplink zeroes the slot's
	 * seq, fills mail[i % STATS_MAIL_SLOTS], sets seq to i + 1 (a release
	 * store), then raises mail_in to i + 1. moatd takes mail i only if
	 * seq reads i + 1 both before and after its copy (an acquire fence
	 * between): a slot the uplink reused meanwhile is dropped, never read
	 * torn. The page outlives uplink restarts, so mail_in only grows.
	 */
	uint64_t mail_in;
	struct stats_mail mail[STATS_MAIL_SLOTS];
};

#endif
