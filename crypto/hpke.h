/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * HPKE (RFC 9180) on OpenSSL 3.0 EVP, which has no OSSL_HPKE.
 *
 * KEM: DHKEM(X25519, HKDF-SHA256) only. KDF: HKDF-SHA256 only. AEAD:
 * AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, or export-only. Modes base,
 * psk, auth and auth_psk. Context API (multi-message seal/open with the
 * sequence number, and export) and single-shot helpers.
 *
 * Every secret held by a context is wiped by hpke_ctx_wipe(); every
 * intermediate secret inside is wiped before return. Returns 0 or a negative
 * -errno / -MOAT_E_* (common/err.h): -EINVAL for bad arguments (wrong mode
 * for the psk/auth inputs given, empty psk with psk mode, and so on),
 * -MOAT_E_AUTH when open fails, -MOAT_E_CRYPTO when OpenSSL refuses.
 */
#ifndef MOAT_CRYPTO_HPKE_H
#define MOAT_CRYPTO_HPKE_H

#include <stddef.h>
#include <stdint.h>

enum {
	HPKE_MODE_BASE = 0,
	HPKE_MODE_PSK = 1,
	HPKE_MODE_AUTH = 2,
	HPKE_MODE_AUTH_PSK = 3,
};

enum {
	HPKE_KEM_X25519_SHA256 = 0x0020,
	HPKE_KDF_HKDF_SHA256 = 0x0001,
	HPKE_AEAD_AES128GCM = 0x0001,
	HPKE_AEAD_AES256GCM = 0x0002,
	HPKE_AEAD_CHACHA20POLY1305 = 0x0003,
	HPKE_AEAD_EXPORT_ONLY = 0xffff,
};

enum {
	HPKE_X25519_LEN = 32, /* Npk = Nsk = Nenc = Nsecret */
	HPKE_TAG_LEN = 16,
	HPKE_NONCE_LEN = 12,
	HPKE_MAX_KEY_LEN = 32,
	HPKE_HASH_LEN = 32,
	HPKE_MAX_CTX_LEN = 65, /* key_schedule_context: mode + 2 hashes */
};

enum hpke_role { HPKE_ROLE_SENDER, HPKE_ROLE_RECIPIENT };

struct hpke_ctx {
	uint16_t aead;
	enum hpke_role role;
	size_t key_len; /* Nk; 0 for export-only */
	uint8_t key[HPKE_MAX_KEY_LEN];
	uint8_t base_nonce[HPKE_NONCE_LEN];
	uint64_t seq;
	uint8_t exporter_secret[HPKE_HASH_LEN];
};

/*
 * Intermediate values of a setup, for test vectors only: filled when a
 * non-NULL trace is passed to hpke_setup_*().
 */
struct hpke_trace {
	uint8_t shared_secret[HPKE_HASH_LEN];
	uint8_t key_schedule_context[HPKE_MAX_CTX_LEN];
	size_t key_schedule_context_len;
	uint8_t secret[HPKE_HASH_LEN];
};

/* Optional inputs of a setup; absent fields are NULL / 0. */
struct hpke_params {
	int mode;      /* HPKE_MODE_* */
	uint16_t aead; /* HPKE_AEAD_* */
	const uint8_t *info;
	size_t info_len;
	const uint8_t *psk; /* psk and auth_psk modes */
	size_t psk_len;
	const uint8_t *psk_id;
	size_t psk_id_len;
};

/* Random X25519 key pair. */
int hpke_generate_keypair(uint8_t sk[static HPKE_X25519_LEN],
			  uint8_t pk[static HPKE_X25519_LEN]);

/* DeriveKeyPair(ikm) of RFC 9180 section 7.1.3 for DHKEM(X25519). */
int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
			uint8_t sk[static HPKE_X25519_LEN],
			uint8_t pk[static HPKE_X25519_LEN]);

/*
 * 0 when pk can be encrypted to; -MOAT_E_CRYPTO for a low-order point (its
 * shared secret is all zeros with every private key, which RFC 9180 7.1.4
 * makes an error): one such key among a stream's recipients would fail
 * every header, so it is refused where keys come in.
 */
int hpke_check_public_key(const uint8_t pk[static HPKE_X25519_LEN]);

/* Public key of an X25519 private key. */
int hpke_public_key(const uint8_t sk[static HPKE_X25519_LEN],
		    uint8_t pk[static HPKE_X25519_LEN]);

/*
 * Sender setup. skS is the sender's static private key for auth modes,
 * NULL otherwise. skE is the ephemeral private key for deterministic tests;
 * NULL draws a fresh one. Writes enc (Nenc = 32 bytes).
 */
int hpke_setup_sender(struct hpke_ctx *ctx, const struct hpke_params *p,
		      const uint8_t pkR[static HPKE_X25519_LEN],
		      const uint8_t *skS, const uint8_t *skE,
		      uint8_t enc[static HPKE_X25519_LEN],
		      struct hpke_trace *trace);

/* Recipient setup. pkS is the sender's static public key for auth modes. */
int hpke_setup_recipient(struct hpke_ctx *ctx, const struct hpke_params *p,
			 const uint8_t enc[static HPKE_X25519_LEN],
			 const uint8_t skR[static HPKE_X25519_LEN],
			 const uint8_t *pkS, struct hpke_trace *trace);

/*
 * Seal pt (pt_len bytes) into ct (pt_len + 16 bytes) under the next
 * sequence number; ct may equal pt. -EINVAL for export-only contexts or
 * on a recipient context; -EOVERFLOW when the sequence is exhausted.
 */
int hpke_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *ct);

/*
 * Open ct (ct_len >= 16) into pt (ct_len - 16 bytes). On failure pt is
 * wiped, the sequence does not advance, and -MOAT_E_AUTH is returned.
 */
int hpke_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, uint8_t *pt);

/* Export(exporter_context, L) of RFC 9180 section 5.3; L <= 255 * 32. */
int hpke_export(const struct hpke_ctx *ctx, const uint8_t *exp_ctx,
		size_t exp_ctx_len, uint8_t *out, size_t L);

/* Wipes every secret in the context. Accepts NULL. */
void hpke_ctx_wipe(struct hpke_ctx *ctx);

/* Single-shot: setup + one seal; ct is pt_len + 16 bytes. */
int hpke_seal_single(const struct hpke_params *p,
		     const uint8_t pkR[static HPKE_X25519_LEN],
		     const uint8_t *skS, uint8_t enc[static HPKE_X25519_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *pt,
		     size_t pt_len, uint8_t *ct);

/* Single-shot: setup + one open; pt is ct_len - 16 bytes. */
int hpke_open_single(const struct hpke_params *p,
		     const uint8_t enc[static HPKE_X25519_LEN],
		     const uint8_t skR[static HPKE_X25519_LEN],
		     const uint8_t *pkS, const uint8_t *aad, size_t aad_len,
		     const uint8_t *ct, size_t ct_len, uint8_t *pt);

#endif
