/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moat-demo parts: the clip cut into access units, GOP streams sealed into
 * a spool folder, and streams opened back as a viewer.
 */
#ifndef MOAT_TOOLS_DEMO_H
#define MOAT_TOOLS_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/annexb.h"
#include "crypto/keystore.h"
#include "crypto/stream.h"

enum { DEMO_MAX_AU = 100000, DEMO_MAX_STREAMS = 4096, DEMO_VIEWERS = 2 };

extern const char *const DEMO_VIEWER_NAMES[DEMO_VIEWERS];

/*
 * Keys as the demo uses them: written to real key stores (the hub's and
 * each viewer's), then read back from those files for sealing and opening.
 */
struct demo_keys {
	char dir[256];
	bool made_dir;
	struct seal_hub_key hub;
	uint8_t hub_id[SEAL_KEY_ID_LEN];
	struct seal_recipient rcpt[DEMO_VIEWERS];
	struct ks_identity ids[DEMO_VIEWERS + 1]; /* last: stranger */
	struct open_identity ident[DEMO_VIEWERS];
	struct open_identity stranger;
};

struct demo_clip {
	uint8_t *buf;
	size_t len;
	struct annexb_au *au;
	size_t n_au;
	size_t n_key;
};

struct demo_spool {
	char dir[300];
	uint8_t ids[DEMO_MAX_STREAMS][REC_STREAM_ID_LEN];
	size_t n_streams;
	size_t records;
	size_t bytes;
};

struct demo_check {
	size_t streams_ok;
	size_t au_match;
	size_t au_seen;
	size_t au_mismatch;
	int first_err;
	char why[256];
};

/* Makes the key stores under dir (or a new /tmp folder) and loads them. */
int demo_keys_make(struct demo_keys *k, const char *dir);
/* Removes the work folder the demo made. */
void demo_keys_remove(struct demo_keys *k);
void demo_keys_wipe(struct demo_keys *k);

int demo_clip_load(const char *path, struct demo_clip *c);
void demo_clip_free(struct demo_clip *c);

/* Seals the clip, one stream per GOP, into files under sp->dir. */
int demo_seal(const struct demo_clip *c, enum seal_suite suite,
	      const struct seal_hub_key *hub, const struct seal_recipient *r,
	      size_t n_r, struct demo_spool *sp);

/* Opens every spooled stream as a viewer and compares with the clip. */
int demo_open_all(const struct demo_clip *c, const struct demo_spool *sp,
		  const struct open_identity *id, struct demo_check *chk);

/* Path of stream i's file (buf of 512). */
const char *demo_stream_path(const struct demo_spool *sp, size_t i, char *buf,
			     size_t cap);

/*
 * How many sampled 32-byte windows of the clip's access units (one per 256
 * bytes) appear in a file, or in all the spool's stream files.
 */
size_t demo_scan_file(const struct demo_clip *c, const char *path);
size_t demo_plaintext_hits(const struct demo_clip *c,
			   const struct demo_spool *sp);

/* `moat-demo offline`: the sealing core demo (tools/demo/offline.c). */
int demo_offline_main(int argc, char **argv);
/* `moat-demo`: the whole pipeline with real processes (pipeline.c). */
int demo_pipeline_main(int argc, char **argv);

#endif
