/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging in to the relay (docs/PROTOCOL.md section 12, "Login").
 *
 * Hubs and viewers log in with an Ed25519 key of their own, used for
 * nothing else. The relay stores public keys only (a verifier; nothing it
 * holds lets anyone log in) and sends a fresh random challenge per
 * connection; the client signs
 *
 *   "moat/1 relay login" || role (1) || account (16) || challenge (32)
 *        || the signer's public key (32)
 *
 * A hub's account id is derived from its login public key, so the relay
 * checks a hub without having been told anything first, and nobody can
 * claim a hub's account without its key. A viewer's key is accepted for an
 * account only once that account's hub has given the relay the public
 * keys of its approved viewers.
 */
#ifndef MOAT_CRYPTO_LOGIN_H
#define MOAT_CRYPTO_LOGIN_H

#include <stddef.h>
#include <stdint.h>

enum {
	LOGIN_KEY_LEN = 32,	  /* Ed25519 secret (seed) and public key */
	LOGIN_SIG_LEN = 64,
	LOGIN_CHALLENGE_LEN = 32,
	LOGIN_ACCOUNT_LEN = 16,
	LOGIN_AUTH_LEN = LOGIN_KEY_LEN + LOGIN_SIG_LEN, /* AUTH body */
};

struct login_key {
	uint8_t sk[LOGIN_KEY_LEN];
	uint8_t pk[LOGIN_KEY_LEN];
};

/* A fresh key pair. 0 or -MOAT_E_CRYPTO. */
int login_keygen(struct login_key *k);
/* The public key of a secret key. 0 or -MOAT_E_CRYPTO. */
int login_public(const uint8_t sk[static LOGIN_KEY_LEN],
		 uint8_t pk[static LOGIN_KEY_LEN]);
/* account = first 16 bytes of SHA-256("moat/1 relay account" || pk). */
void login_account(const uint8_t pk[static LOGIN_KEY_LEN],
		   uint8_t acct[static LOGIN_ACCOUNT_LEN]);
/* The AUTH body: the public key, then the signature. 0 or -MOAT_E_CRYPTO. */
int login_sign(const struct login_key *k, uint8_t role,
	       const uint8_t acct[static LOGIN_ACCOUNT_LEN],
	       const uint8_t challenge[static LOGIN_CHALLENGE_LEN],
	       uint8_t auth[static LOGIN_AUTH_LEN]);
/* Checks an AUTH body; 0 or -MOAT_E_AUTH. */
int login_verify(const uint8_t auth[static LOGIN_AUTH_LEN], uint8_t role,
		 const uint8_t acct[static LOGIN_ACCOUNT_LEN],
		 const uint8_t challenge[static LOGIN_CHALLENGE_LEN]);
/* Wipes. Accepts NULL. */
void login_wipe(struct login_key *k);

/* Raw Ed25519 (RFC 8032), for the tests' vectors. */
int login_ed25519_sign(const uint8_t sk[static LOGIN_KEY_LEN],
		       const uint8_t *msg, size_t len,
		       uint8_t sig[static LOGIN_SIG_LEN]);
int login_ed25519_verify(const uint8_t pk[static LOGIN_KEY_LEN],
			 const uint8_t *msg, size_t len,
			 const uint8_t sig[static LOGIN_SIG_LEN]);

#endif
