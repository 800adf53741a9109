/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Key files (docs/PROTOCOL.md section 8).
 *
 * Hub side, in one folder (e.g. /var/lib/moat/keys, created 0700):
 *   hub.key                       the hub's static key pair
 *   relay.key                     the hub's relay login key (Ed25519)
 *   viewers/<viewer id>.viewer    one per paired viewer (32 hex digits)
 * Viewer side, one file (e.g. ~/.config/moat/viewer.key): the identity for
 * one hub, with up to KS_MAX_KEYS private keys, oldest first.
 *
 * Format: text, one field per line, at most KS_FILE_MAX bytes:
 *   moat-keyfile 1
 *   kind hub | viewer | identity
 *   <field> <value>               the fields of that kind, in any order
 *   checksum <SHA-256 of every byte before this line>
 * Binary values are lowercase hex of exactly their length. Fields:
 *   hub:      secret-key, public-key (must match the secret key)
 *   login:    secret-key, public-key (Ed25519, crypto/login.h)
 *   viewer:   viewer-id (16 bytes), name, state (pending | approved),
 *             added (unix seconds, decimal), public-key, psk (32 bytes),
 *             login-key (the viewer's relay login public key; optional),
 *             heartbeat (the time, in unix microseconds, of the last
 *             heartbeat the hub applied; optional)
 *   identity: hub-public-key, viewer-id, psk, name, then one line per key,
 *             oldest first: key <created, unix seconds> <secret> <public>;
 *             optional: login-secret-key and login-public-key (both or
 *             neither), hub-login-key (the hub's relay login public key)
 * A name is 1-63 bytes of printable UTF-8 (no control characters). Every
 * field appears exactly once, except key (1 to KS_MAX_KEYS times) and the
 * optional ones (at most once; files made before the relay login lack
 * them, and an all-zero value stands for "none"). Every
 * line ends with a newline, the checksum line included.
 *
 * Anything else is refused: -MOAT_E_CORRUPT (unknown, duplicate or missing
 * field, bad hex or length, wrong kind, no checksum line, checksum
 * mismatch, key pair mismatch) or -MOAT_E_VERSION (a version other than
 * 1). Each refusal prints one line naming the file, the line number where
 * there is one, what is wrong and what to do. A damaged file is never
 * replaced: creating over an existing file is -EEXIST, whatever it holds.
 *
 * Files are written 0600 to a temporary file, fsynced, renamed (or, for a
 * create, hard-linked so an existing file is never replaced) and the folder
 * fsynced. Loading warns if a file can be accessed by group or others.
 * Every buffer that held key material is wiped before it is freed. Erasing
 * a key rewrites the file without it; the file system may still hold the
 * old blocks until they are reused.
 *
 * Returns 0 or a negative -errno / -MOAT_E_*. The load functions print
 * nothing for -ENOENT (the caller decides: create, or report). On error the
 * output struct is wiped. One process owns a key store: concurrent writers
 * of the same file are not serialised.
 */
#ifndef MOAT_CRYPTO_KEYSTORE_H
#define MOAT_CRYPTO_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/login.h"
#include "crypto/stream.h"

enum {
	KS_VERSION = 1,
	KS_FILE_MAX = 16384,		      /* bytes of a key file */
	KS_NAME_MAX = 63,		      /* bytes of a display name */
	KS_MAX_VIEWERS = SEAL_MAX_RECIPIENTS, /* viewers a stream can wrap to */
	KS_MAX_KEYS = 8, /* private keys held by a viewer */
};

/* Flags of the ks_parse_*() functions. */
enum {
	KS_QUIET = 1U << 0, /* print nothing (fuzzing) */
};

enum ks_viewer_state {
	KS_VIEWER_PENDING = 1, /* paired, waiting for the owner */
	KS_VIEWER_APPROVED = 2,
};

/* One paired viewer, as the hub stores it. */
struct ks_viewer {
	struct seal_recipient rcpt; /* viewer id, current key, psk */
	char name[KS_NAME_MAX + 1]; /* NUL-terminated display name */
	enum ks_viewer_state state;
	int64_t added; /* unix seconds */
	uint8_t login_pk[LOGIN_KEY_LEN]; /* relay login; all zero: none */
	int64_t heartbeat_us; /* time of the last heartbeat applied; 0: none */
};

/*
 * A viewer's identity for one hub. keys[] is contiguous so that an
 * open_identity can point at it (ks_identity_open()); key_created[i] is
 * the creation time of keys[i]. Oldest first, newest (current) last.
 */
struct ks_identity {
	uint8_t hub_pk[SEAL_KEY_LEN];
	uint8_t viewer_id[SEAL_VIEWER_ID_LEN];
	uint8_t psk[SEAL_PSK_LEN];
	char name[KS_NAME_MAX + 1]; /* display name of this pairing */
	struct open_key keys[KS_MAX_KEYS];
	int64_t key_created[KS_MAX_KEYS]; /* unix seconds */
	size_t n_keys;
	struct login_key login;		      /* all zero: none */
	uint8_t hub_login_pk[LOGIN_KEY_LEN]; /* all zero: none */
};

/* ---- hub key: <dir>/hub.key ---- */

/*
 * Makes the folder (0700) if needed and a fresh hub key pair in it.
 * -EEXIST if hub.key exists, valid or not: it is never replaced.
 */
int ks_hub_create(const char *dir, struct seal_hub_key *hub);
int ks_hub_load(const char *dir, struct seal_hub_key *hub);
/* Wipes. Accepts NULL. */
void ks_hub_wipe(struct seal_hub_key *hub);

/* ---- relay login key: <dir>/relay.key ---- */

int ks_login_load(const char *dir, struct login_key *k);
/* Loads it, or makes it (never replacing a file that exists). */
int ks_login_load_or_create(const char *dir, struct login_key *k);

/*
 * Serialises the read-modify-write of viewer files between processes
 * (moatd applying a heartbeat, `moatctl viewers approve|remove'): an
 * exclusive flock on the key folder, held until ks_unlock(). Without wait,
 * -EWOULDBLOCK when another process holds it. Returns the descriptor, or
 * -errno.
 */
int ks_lock(const char *dir, bool wait);
void ks_unlock(int fd);

/* ---- paired viewers: <dir>/viewers/<viewer id>.viewer ---- */

/*
 * Creates or atomically replaces the viewer's file. -EINVAL for a bad
 * name or state; -MOAT_E_LIMIT for a new viewer when KS_MAX_VIEWERS exist.
 */
int ks_viewer_save(const char *dir, const struct ks_viewer *v);
int ks_viewer_load(const char *dir,
		   const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
		   struct ks_viewer *v);
/* Unlinks the file and fsyncs the folder; -ENOENT for an unknown viewer. */
int ks_viewer_remove(const char *dir,
		     const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN]);
/*
 * Every viewer, sorted by viewer id, in a malloc'd array (NULL when there
 * are none). Any viewer file that does not load fails the whole call,
 * naming the file; other files in the folder are ignored with a warning.
 */
int ks_viewer_list(const char *dir, struct ks_viewer **list, size_t *n);
/* Wipes and frees a list. Accepts NULL. */
void ks_viewer_list_free(struct ks_viewer *list, size_t n);
/* Wipes. Accepts NULL. */
void ks_viewer_wipe(struct ks_viewer *v);

/* ---- viewer identity: one file ---- */

/*
 * Appends a fresh key pair created now, in memory only (e.g. the first key,
 * made before pairing sends its public half). -MOAT_E_LIMIT when full.
 */
int ks_identity_new_key(struct ks_identity *id);
/*
 * Writes a new identity file (its folder made 0700 if needed). id holds
 * 1..KS_MAX_KEYS keys. -EEXIST if the file exists: it is never replaced.
 */
int ks_identity_create(const char *path, const struct ks_identity *id);
int ks_identity_load(const char *path, struct ks_identity *id);
/*
 * Replaces an existing identity file with id (1..KS_MAX_KEYS keys), as
 * crash-safely as every write here: the old file or the new, never a mix.
 * The heartbeat uses it to erase keys and add one in a single write.
 */
int ks_identity_save(const char *path, const struct ks_identity *id);
/*
 * Rotation: loads the file into id, appends a fresh key and rewrites the
 * file; id->keys[id->n_keys - 1] is the new key. -MOAT_E_LIMIT when the
 * file already holds KS_MAX_KEYS keys (the file is left as it was).
 */
int ks_identity_add_key(const char *path, struct ks_identity *id);
/*
 * Loads the file into id, wipes the key whose seal_key_id() is key_id and
 * rewrites the file without it. -ENOENT if no key has that id; -EINVAL if
 * it is the only key (add a new one first).
 */
int ks_identity_erase_key(const char *path,
			  const uint8_t key_id[static SEAL_KEY_ID_LEN],
			  struct ks_identity *id);
/*
 * Fills oid for open_stream_new(): copies hub key, viewer id and psk, and
 * points oid->keys at id->keys (id must outlive oid). Wipe oid after use.
 */
void ks_identity_open(const struct ks_identity *id, struct open_identity *oid);
/* Wipes. Accepts NULL. */
void ks_identity_wipe(struct ks_identity *id);

/* ---- parsers of untrusted bytes (the loaders call these) ---- */

/*
 * Parse a whole key file held in memory; name is used in messages only.
 * flags: KS_QUIET. On error the output struct is wiped.
 */
int ks_parse_hub(const char *name, const uint8_t *buf, size_t len,
		 unsigned int flags, struct seal_hub_key *hub);
int ks_parse_viewer(const char *name, const uint8_t *buf, size_t len,
		    unsigned int flags, struct ks_viewer *v);
int ks_parse_identity(const char *name, const uint8_t *buf, size_t len,
		      unsigned int flags, struct ks_identity *id);
int ks_parse_login(const char *name, const uint8_t *buf, size_t len,
		   unsigned int flags, struct login_key *k);

#endif
