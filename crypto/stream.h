/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Sealed record streams: the wire format of docs/PROTOCOL.md.
 *
 * A stream (one GOP, one clip, one live session) has a fresh random 256-bit
 * content key and a random 128-bit stream id. Its records are:
 *   counter 0      stream header: the content key wrapped to each viewer
 *                  with HPKE auth_psk, then a tag over the whole header
 *   counter 1..n   data records; the last one has type FINAL
 * Each record is a 32-byte cleartext header (the AEAD's associated data),
 * the body (ciphertext) and a 16-byte tag. The AEAD nonce is the 11-byte
 * big-endian counter followed by a last-record flag byte (STREAM, as in age
 * and Tink). Data records do not depend on the stream header, so a header
 * can be made after its records (pre-roll: seal first, wrap when an event
 * decides the GOP is kept).
 *
 * Sealing is one pass over the bytes, either in place or from source spans
 * into caller memory (header, body and tag spans, e.g. io_uring registered
 * buffers). Opening releases plaintext only after its tag verified.
 */
#ifndef MOAT_CRYPTO_STREAM_H
#define MOAT_CRYPTO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

enum {
	REC_VERSION = 1,
	REC_HDR_LEN = 32,
	REC_TAG_LEN = 16,
	REC_STREAM_ID_LEN = 16,
	REC_BODY_MAX = 16 << 20, /* ciphertext + tag of one record */
	REC_TYPE_HEADER = 1,
	REC_TYPE_DATA = 2,
	REC_TYPE_FINAL = 3,

	SEAL_KEY_LEN = 32, /* content key and X25519 keys */
	SEAL_KEY_ID_LEN = 16,
	SEAL_VIEWER_ID_LEN = 16,
	SEAL_PSK_LEN = 32,
	SEAL_MAX_RECIPIENTS = 16,
	SEAL_WRAP_LEN = SEAL_KEY_ID_LEN + 32 + SEAL_KEY_LEN + 16,
	SEAL_HDR_FIXED = 20, /* suite, count, reserved, hub id */
};

enum seal_suite {
	SEAL_SUITE_AES256GCM = 1,
	SEAL_SUITE_CHACHA20POLY1305 = 2,
};

/* Cleartext record header, as parsed (all fields validated). */
struct rec_hdr {
	uint8_t version;
	uint8_t type;
	uint32_t body_len; /* bytes after the header, tag included */
	uint8_t stream_id[REC_STREAM_ID_LEN];
	uint64_t counter;
};

/* The hub's static key pair (its key id is the hub id). */
struct seal_hub_key {
	uint8_t sk[SEAL_KEY_LEN];
	uint8_t pk[SEAL_KEY_LEN];
};

/* One paired viewer, as the hub knows it. */
struct seal_recipient {
	uint8_t viewer_id[SEAL_VIEWER_ID_LEN]; /* HPKE psk_id */
	uint8_t pk[SEAL_KEY_LEN];	       /* viewer's current key */
	uint8_t psk[SEAL_PSK_LEN];	       /* pairing secret */
};

/* One viewer private key (current or not yet erased old one). */
struct open_key {
	uint8_t sk[SEAL_KEY_LEN];
	uint8_t pk[SEAL_KEY_LEN];
};

/* What a viewer needs to open streams from one hub. */
struct open_identity {
	uint8_t hub_pk[SEAL_KEY_LEN];
	uint8_t viewer_id[SEAL_VIEWER_ID_LEN];
	uint8_t psk[SEAL_PSK_LEN];
	const struct open_key *keys;
	size_t n_keys;
};

/* key id = first 16 bytes of SHA-256("moat/1 key id" || pk). */
void seal_key_id(const uint8_t pk[static SEAL_KEY_LEN],
		 uint8_t id[static SEAL_KEY_ID_LEN]);

/* Parses and validates a record header from the first bytes of p. */
int rec_parse_hdr(const uint8_t *p, size_t len, struct rec_hdr *h);

/* Length of a stream header record wrapped to n viewers. */
static inline size_t seal_header_len(size_t n)
{
	return REC_HDR_LEN + SEAL_HDR_FIXED + n * SEAL_WRAP_LEN + REC_TAG_LEN;
}

/* ---- sealing (hub) ---- */

struct seal_stream;

/* New stream with a fresh random key and id. NULL on failure. */
struct seal_stream *seal_stream_new(enum seal_suite suite);
/* Wipes the content key and frees. Accepts NULL. */
void seal_stream_free(struct seal_stream *s);
const uint8_t *seal_stream_id(const struct seal_stream *s);
/* Counter the next data record will carry (1 for a new stream). */
uint64_t seal_stream_next(const struct seal_stream *s);

/*
 * Writes the stream header record (seal_header_len(n) bytes) into out,
 * wrapping the content key to n recipients (1..SEAL_MAX_RECIPIENTS).
 */
int seal_stream_header(struct seal_stream *s, const struct seal_hub_key *hub,
		       const struct seal_recipient *r, size_t n, uint8_t *out,
		       size_t cap, size_t *out_len);

/*
 * In place: rec holds REC_HDR_LEN bytes of room, then pt_len plaintext
 * bytes, then REC_TAG_LEN bytes of room. Writes the header, encrypts the
 * body where it lies and writes the tag. final marks the last record.
 */
int seal_record_inplace(struct seal_stream *s, uint8_t *rec, size_t pt_len,
			bool final);

/*
 * From source spans (n_src pieces, read once) into caller memory: hdr gets
 * the 32-byte header, body the ciphertext (sum of src lengths), tag the
 * tag. The spans may be anywhere (e.g. separate registered buffers).
 */
int seal_record_to(struct seal_stream *s, const struct iovec *src, int n_src,
		   bool final, uint8_t hdr[static REC_HDR_LEN], uint8_t *body,
		   uint8_t tag[static REC_TAG_LEN]);

/* ---- opening (viewer) ---- */

struct open_stream;

/* The identity is copied; the caller may wipe its own copy after. */
struct open_stream *open_stream_new(const struct open_identity *id);
/* Wipes keys and frees. Accepts NULL. */
void open_stream_free(struct open_stream *os);

/*
 * Feeds the next record of the stream (len bytes, exactly one record).
 * The first must be the stream header. For data records the plaintext goes
 * to out (cap >= body_len - 16), *out_len its length, *final whether it was
 * the last record; out is written only after the tag verified. Returns 0 or
 * -MOAT_E_* (each failure kind its own code); after an error the stream is
 * dead and every later call returns the same error.
 */
int open_record(struct open_stream *os, const uint8_t *rec, size_t len,
		uint8_t *out, size_t cap, size_t *out_len, bool *final);

/* 0 if the final record was seen, else -MOAT_E_TRUNCATED. */
int open_stream_finish(struct open_stream *os);

/* Plain-words reason for the last failure (empty if none). */
const char *open_stream_why(const struct open_stream *os);

/* Suite of an opened stream (after its header). */
enum seal_suite open_stream_suite(const struct open_stream *os);
const uint8_t *open_stream_id(const struct open_stream *os);

/* ---- cipher choice ---- */

/* AES-256-GCM if the CPU has AES instructions, else ChaCha20-Poly1305. */
enum seal_suite seal_suite_for_cpu(bool cpu_has_aes);
/* The arm64 AT_HWCAP bits (asm/hwcap.h) that make AES-256-GCM the choice. */
enum { SEAL_HWCAP_AES = 1U << 3, SEAL_HWCAP_PMULL = 1U << 4 };
/* Whether an arm64 AT_HWCAP value has both AES and PMULL (on any host). */
bool seal_arm64_hwcap_has_aes(unsigned long hwcap);
/* This CPU: x86 AES-NI+PCLMUL, or arm64 HWCAP_AES+PMULL. */
bool seal_cpu_has_aes(void);
/* The suite to use: MOAT_CIPHER env ("aes-256-gcm", "chacha20-poly1305") or
 * the CPU's choice. -EINVAL for an unknown name (named in the message). */
int seal_suite_default(enum seal_suite *suite, const char **why);
const char *seal_suite_name(enum seal_suite suite);
int seal_suite_parse(const char *name, enum seal_suite *suite);

#endif
