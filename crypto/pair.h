/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Pairing a viewer with a hub over the LAN (docs/PROTOCOL.md section 9).
 *
 * `moatctl pair' shows a code (as a QR code and as text) holding the hub
 * id (which is also the fingerprint of the hub's static key), a fresh
 * 256-bit pairing secret and the address the hub listens on for this one
 * pairing. `moat-view pair CODE' connects there. Neither side sends the
 * secret; each proves it holds it with an HMAC over the transcript:
 *
 *   viewer -> hub  HELLO    hub id, nonce, viewer X25519 key, viewer login
 *                           key, viewer id, name
 *   hub -> viewer  REPLY    nonce, hub X25519 key, hub login key, hub MAC
 *   viewer -> hub  CONFIRM  viewer MAC
 *   hub -> viewer  DONE     approved or pending  (or ERROR with a reason)
 *
 *   K   = HMAC-SHA256(secret, "moat/1 pairing")
 *   T   = SHA-256(HELLO || REPLY without its MAC)
 *   MAC = HMAC-SHA256(K, "hub" || T) and HMAC-SHA256(K, "viewer" || T)
 *   psk = HMAC-SHA256(K, "psk" || T)   (the HPKE psk of every wrap to
 *                                         this viewer; the secret itself is
 *                                         kept nowhere)
 *
 * The viewer checks the hub's key against the hub id in the code before it
 * believes anything; the hub saves the viewer only after CONFIRM verified,
 * and the viewer writes its identity only after DONE.
 *
 * Each message goes as a 2-byte big-endian length and that many bytes
 * (at most PAIR_MSG_MAX); every parser here is bounded and checks all of it.
 */
#ifndef MOAT_CRYPTO_PAIR_H
#define MOAT_CRYPTO_PAIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	PAIR_VERSION = 1,
	PAIR_ID_LEN = 16,	/* hub id, viewer id */
	PAIR_SECRET_LEN = 32,
	PAIR_NONCE_LEN = 32,
	PAIR_KEY_LEN = 32,	/* X25519 and Ed25519 public keys */
	PAIR_MAC_LEN = 32,
	PAIR_NAME_MAX = 63,
	PAIR_MSG_MAX = 512,
	PAIR_CODE_BIN_MAX = 1 + PAIR_ID_LEN + PAIR_SECRET_LEN + 1 + 16 + 2 + 2,
	PAIR_CODE_TEXT_MAX = 160, /* "moat1-" + base32 in groups of 4 */
	PAIR_ERROR_MAX = 200,
};

/* What the code carries. */
struct pair_code {
	uint8_t hub_id[PAIR_ID_LEN];
	uint8_t secret[PAIR_SECRET_LEN];
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* network order; 4 bytes for AF_INET */
	uint16_t port;
};

/*
 * The code as text: "moat1-" and Crockford base32 in groups of four,
 * with a CRC-16 that catches every one-character typo and every swap of
 * two neighbours, so a typo is told apart from a wrong secret.
 * 0, or -ENOSPC when cap is too small.
 */
int pair_code_format(const struct pair_code *c, char *out, size_t cap);
/*
 * Parses a code as typed or scanned: case, dashes and spaces do not
 * matter, and O, I and L read as 0, 1 and 1. -MOAT_E_VERSION (not a moat
 * code of this version), -MOAT_E_MALFORMED (a character that is not in
 * the alphabet, or the wrong length), -MOAT_E_CORRUPT (a typo: the check
 * does not match).
 */
int pair_code_parse(const char *s, struct pair_code *c);

enum pair_msg_type {
	PAIR_HELLO = 'H',
	PAIR_REPLY = 'R',
	PAIR_CONFIRM = 'C',
	PAIR_DONE = 'D',
	PAIR_ERROR = 'E',
};

struct pair_hello {
	uint8_t hub_id[PAIR_ID_LEN];
	uint8_t nonce[PAIR_NONCE_LEN];
	uint8_t viewer_pk[PAIR_KEY_LEN];
	uint8_t login_pk[PAIR_KEY_LEN];
	uint8_t viewer_id[PAIR_ID_LEN];
	char name[PAIR_NAME_MAX + 1]; /* 1-63 printable bytes, no quote or \ */
};

struct pair_reply {
	uint8_t nonce[PAIR_NONCE_LEN];
	uint8_t hub_pk[PAIR_KEY_LEN];
	uint8_t hub_login_pk[PAIR_KEY_LEN];
	uint8_t mac[PAIR_MAC_LEN];
};

/* Message bodies (without the length prefix); each returns its length. */
size_t pair_hello_put(const struct pair_hello *h, uint8_t out[PAIR_MSG_MAX]);
size_t pair_reply_put(const struct pair_reply *r, uint8_t out[PAIR_MSG_MAX]);
size_t pair_confirm_put(const uint8_t mac[PAIR_MAC_LEN],
			uint8_t out[PAIR_MSG_MAX]);
/* DONE: approved (true) or pending. */
size_t pair_done_put(bool approved, uint8_t out[PAIR_MSG_MAX]);
/* ERROR: a reason for a person, cut to PAIR_ERROR_MAX. */
size_t pair_error_put(const char *why, uint8_t out[PAIR_MSG_MAX]);

/* Parsers: 0, or -MOAT_E_MALFORMED / -MOAT_E_LENGTH / -MOAT_E_VERSION. */
int pair_hello_parse(const uint8_t *p, size_t len, struct pair_hello *h);
int pair_reply_parse(const uint8_t *p, size_t len, struct pair_reply *r);
int pair_confirm_parse(const uint8_t *p, size_t len,
		       uint8_t mac[PAIR_MAC_LEN]);
/* DONE or ERROR: 0 with *approved set, or -MOAT_E_AUTH with the hub's
 * reason in why (printable, NUL-terminated), or a parse error. */
int pair_end_parse(const uint8_t *p, size_t len, bool *approved,
		   char why[PAIR_ERROR_MAX + 1]);

/* The keys of one pairing, from the secret and the transcript. */
struct pair_keys {
	uint8_t k[32];
	uint8_t t[32];
};

/*
 * hello and reply are the message bodies as sent (reply with its MAC;
 * the MAC is left out of the transcript). 0 or -MOAT_E_CRYPTO.
 */
int pair_derive(const uint8_t secret[PAIR_SECRET_LEN], const uint8_t *hello,
		size_t hello_len, const uint8_t *reply, size_t reply_len,
		struct pair_keys *pk);
/* role: "hub" or "viewer". 0 or -MOAT_E_CRYPTO. */
int pair_mac(const struct pair_keys *pk, const char *role,
	     uint8_t mac[PAIR_MAC_LEN]);
/* Compares in constant time: true when they match. */
bool pair_mac_ok(const uint8_t a[PAIR_MAC_LEN], const uint8_t b[PAIR_MAC_LEN]);
int pair_psk(const struct pair_keys *pk, uint8_t psk[32]);
void pair_keys_wipe(struct pair_keys *pk);

/*
 * Blocking message I/O on a connected socket with a receive timeout set:
 * pair_send writes the length and the body; pair_recv reads one message
 * of at most PAIR_MSG_MAX bytes into buf and returns its length, or
 * -MOAT_E_LENGTH (too long), -ECONNRESET (closed), -errno.
 */
int pair_send(int fd, const uint8_t *body, size_t len);
long pair_recv(int fd, uint8_t buf[PAIR_MSG_MAX]);

#endif
