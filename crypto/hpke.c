// SPDX-License-Identifier: GPL-2.0-only
/*
 * HPKE (RFC 9180) on OpenSSL 3.0 EVP: DHKEM(X25519, HKDF-SHA256),
 * HKDF-SHA256, AES-128-GCM / AES-256-GCM / ChaCha20-Poly1305 / export-only,
 * modes base, psk, auth and auth_psk. Section numbers are RFC 9180's.
 */
#include <errno.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/hpke.h"

enum {
	SUITE_KEM_LEN = 5,   /* "KEM" || kem_id */
	SUITE_HPKE_LEN = 10, /* "HPKE" || kem || kdf || aead */
	LABELED_MAX = 512,   /* labeled inputs we build */
};

static const char hpke_v1[] = "HPKE-v1";

struct suite_id {
	uint8_t b[SUITE_HPKE_LEN];
	size_t len;
};

static void suite_kem(struct suite_id *s)
{
	memcpy(s->b, "KEM", 3);
	put_u16(s->b + 3, HPKE_KEM_X25519_SHA256);
	s->len = SUITE_KEM_LEN;
}

static void suite_hpke(struct suite_id *s, uint16_t aead)
{
	memcpy(s->b, "HPKE", 4);
	put_u16(s->b + 4, HPKE_KEM_X25519_SHA256);
	put_u16(s->b + 6, HPKE_KDF_HKDF_SHA256);
	put_u16(s->b + 8, aead);
	s->len = SUITE_HPKE_LEN;
}

/* HKDF-SHA256 in one mode: extract (salt, ikm) or expand (prk, info). */
static int hkdf(int mode, const uint8_t *key, size_t key_len,
		const uint8_t *salt_or_info, size_t si_len, uint8_t *out,
		size_t out_len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[5], *q = p;
	uint8_t empty = 0;
	int ok;

	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_octet_string(
		OSSL_KDF_PARAM_KEY, key_len ? (void *)key : &empty, key_len);
	*q++ = OSSL_PARAM_construct_octet_string(
		mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ? OSSL_KDF_PARAM_SALT :
							 OSSL_KDF_PARAM_INFO,
		si_len ? (void *)salt_or_info : &empty, si_len);
	*q = OSSL_PARAM_construct_end();
	ok = kctx && EVP_KDF_derive(kctx, out, out_len, p) > 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return ok ? 0 : -MOAT_E_CRYPTO;
}

/* Builds "HPKE-v1" || suite_id || label || in (section 4). */
static int labeled(uint8_t *buf, size_t *len, const struct suite_id *s,
		   const char *label, const uint8_t *in, size_t in_len)
{
	size_t l = strlen(label), n = sizeof(hpke_v1) - 1;

	if (in_len > LABELED_MAX - n - s->len - l - 2)
		return -EINVAL;
	memcpy(buf, hpke_v1, n);
	memcpy(buf + n, s->b, s->len);
	n += s->len;
	memcpy(buf + n, label, l);
	n += l;
	if (in_len)
		memcpy(buf + n, in, in_len);
	*len = n + in_len;
	return 0;
}

/* LabeledExtract(salt, label, ikm) -> 32 bytes. */
static int labeled_extract(const struct suite_id *s, const uint8_t *salt,
			   size_t salt_len, const char *label,
			   const uint8_t *ikm, size_t ikm_len,
			   uint8_t out[static HPKE_HASH_LEN])
{
	uint8_t buf[LABELED_MAX];
	size_t n;
	int ret;

	ret = labeled(buf, &n, s, label, ikm, ikm_len);
	if (!ret)
		ret = hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, buf, n, salt,
			   salt_len, out, HPKE_HASH_LEN);
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

/* LabeledExpand(prk, label, info, L): info is I2OSP(L, 2) || ... */
static int labeled_expand(const struct suite_id *s,
			  const uint8_t prk[static HPKE_HASH_LEN],
			  const char *label, const uint8_t *info,
			  size_t info_len, uint8_t *out, size_t L)
{
	uint8_t buf[LABELED_MAX];
	size_t n;
	int ret;

	if (L > 255 * HPKE_HASH_LEN || L > UINT16_MAX)
		return -EINVAL;
	put_u16(buf, (uint16_t)L);
	ret = labeled(buf + 2, &n, s, label, info, info_len);
	if (!ret)
		ret = hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, HPKE_HASH_LEN,
			   buf, n + 2, out, L);
	OPENSSL_cleanse(buf, sizeof(buf));
	return ret;
}

/* ---- X25519 ---- */

static EVP_PKEY *x25519_priv(const uint8_t sk[static HPKE_X25519_LEN])
{
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk,
					    HPKE_X25519_LEN);
}

int hpke_public_key(const uint8_t sk[static HPKE_X25519_LEN],
		    uint8_t pk[static HPKE_X25519_LEN])
{
	EVP_PKEY *k = x25519_priv(sk);
	size_t len = HPKE_X25519_LEN;
	int ok;

	ok = k && EVP_PKEY_get_raw_public_key(k, pk, &len) &&
	     len == HPKE_X25519_LEN;
	EVP_PKEY_free(k);
	return ok ? 0 : -MOAT_E_CRYPTO;
}

int hpke_generate_keypair(uint8_t sk[static HPKE_X25519_LEN],
			  uint8_t pk[static HPKE_X25519_LEN])
{
	int ret;

	if (RAND_priv_bytes(sk, HPKE_X25519_LEN) != 1)
		return -MOAT_E_CRYPTO;
	ret = hpke_public_key(sk, pk);
	if (ret)
		OPENSSL_cleanse(sk, HPKE_X25519_LEN);
	return ret;
}

int hpke_derive_keypair(const uint8_t *ikm, size_t ikm_len,
			uint8_t sk[static HPKE_X25519_LEN],
			uint8_t pk[static HPKE_X25519_LEN])
{
	struct suite_id s;
	uint8_t prk[HPKE_HASH_LEN];
	int ret;

	suite_kem(&s);
	ret = labeled_extract(&s, NULL, 0, "dkp_prk", ikm, ikm_len, prk);
	if (!ret)
		ret = labeled_expand(&s, prk, "sk", NULL, 0, sk,
				     HPKE_X25519_LEN);
	if (!ret)
		ret = hpke_public_key(sk, pk);
	OPENSSL_cleanse(prk, sizeof(prk));
	if (ret)
		OPENSSL_cleanse(sk, HPKE_X25519_LEN);
	return ret;
}

/* DH(sk, pk), refusing the all-zero output of a small-order point. */
static int x25519(const uint8_t sk[static HPKE_X25519_LEN],
		  const uint8_t pk[static HPKE_X25519_LEN],
		  uint8_t out[static HPKE_X25519_LEN])
{
	static const uint8_t zero[HPKE_X25519_LEN];
	EVP_PKEY *priv = x25519_priv(sk), *pub;
	EVP_PKEY_CTX *c = NULL;
	size_t len = HPKE_X25519_LEN;
	int ok = 0;

	pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk,
					  HPKE_X25519_LEN);
	if (priv && pub)
		c = EVP_PKEY_CTX_new(priv, NULL);
	ok = c && EVP_PKEY_derive_init(c) > 0 &&
	     EVP_PKEY_derive_set_peer(c, pub) > 0 &&
	     EVP_PKEY_derive(c, out, &len) > 0 && len == HPKE_X25519_LEN &&
	     CRYPTO_memcmp(out, zero, HPKE_X25519_LEN) != 0;
	EVP_PKEY_CTX_free(c);
	EVP_PKEY_free(priv);
	EVP_PKEY_free(pub);
	if (!ok)
		OPENSSL_cleanse(out, HPKE_X25519_LEN);
	return ok ? 0 : -MOAT_E_CRYPTO;
}

int hpke_check_public_key(const uint8_t pk[static HPKE_X25519_LEN])
{
	uint8_t sk[HPKE_X25519_LEN], epk[HPKE_X25519_LEN], dh[HPKE_X25519_LEN];
	int ret = hpke_generate_keypair(sk, epk);

	/* clamped scalars are multiples of 8: a low-order point gives zero
	 * with any of them, so one trial decides */
	if (!ret)
		ret = x25519(sk, pk, dh);
	OPENSSL_cleanse(sk, sizeof(sk));
	OPENSSL_cleanse(dh, sizeof(dh));
	return ret;
}

/*
 * ExtractAndExpand (section 4.1): dh is one or two DH outputs, kem_context
 * is enc || pkRm (|| pkSm).
 */
static int extract_and_expand(const uint8_t *dh, size_t dh_len,
			      const uint8_t *kem_ctx, size_t kem_ctx_len,
			      uint8_t shared[static HPKE_HASH_LEN])
{
	struct suite_id s;
	uint8_t prk[HPKE_HASH_LEN];
	int ret;

	suite_kem(&s);
	ret = labeled_extract(&s, NULL, 0, "eae_prk", dh, dh_len, prk);
	if (!ret)
		ret = labeled_expand(&s, prk, "shared_secret", kem_ctx,
				     kem_ctx_len, shared, HPKE_HASH_LEN);
	OPENSSL_cleanse(prk, sizeof(prk));
	return ret;
}

/* Encap / AuthEncap (skS non-NULL), with a given ephemeral key. */
static int encap(const uint8_t pkR[static HPKE_X25519_LEN], const uint8_t *skS,
		 const uint8_t skE[static HPKE_X25519_LEN],
		 uint8_t enc[static HPKE_X25519_LEN],
		 uint8_t shared[static HPKE_HASH_LEN])
{
	uint8_t dh[2 * HPKE_X25519_LEN], ctx[3 * HPKE_X25519_LEN];
	size_t n = HPKE_X25519_LEN;
	int ret;

	ret = hpke_public_key(skE, enc);
	if (!ret)
		ret = x25519(skE, pkR, dh);
	if (!ret && skS) {
		ret = x25519(skS, pkR, dh + HPKE_X25519_LEN);
		n += HPKE_X25519_LEN;
	}
	memcpy(ctx, enc, HPKE_X25519_LEN);
	memcpy(ctx + HPKE_X25519_LEN, pkR, HPKE_X25519_LEN);
	if (!ret && skS)
		ret = hpke_public_key(skS, ctx + 2 * HPKE_X25519_LEN);
	if (!ret)
		ret = extract_and_expand(dh, n, ctx, n + HPKE_X25519_LEN,
					 shared);
	OPENSSL_cleanse(dh, sizeof(dh));
	return ret;
}

/* Decap / AuthDecap (pkS non-NULL). */
static int decap(const uint8_t enc[static HPKE_X25519_LEN],
		 const uint8_t skR[static HPKE_X25519_LEN], const uint8_t *pkS,
		 uint8_t shared[static HPKE_HASH_LEN])
{
	uint8_t dh[2 * HPKE_X25519_LEN], ctx[3 * HPKE_X25519_LEN];
	size_t n = HPKE_X25519_LEN;
	int ret;

	ret = x25519(skR, enc, dh);
	if (!ret && pkS) {
		ret = x25519(skR, pkS, dh + HPKE_X25519_LEN);
		n += HPKE_X25519_LEN;
	}
	memcpy(ctx, enc, HPKE_X25519_LEN);
	if (!ret)
		ret = hpke_public_key(skR, ctx + HPKE_X25519_LEN);
	if (!ret && pkS)
		memcpy(ctx + 2 * HPKE_X25519_LEN, pkS, HPKE_X25519_LEN);
	if (!ret)
		ret = extract_and_expand(dh, n, ctx, n + HPKE_X25519_LEN,
					 shared);
	OPENSSL_cleanse(dh, sizeof(dh));
	return ret;
}

/* ---- key schedule (section 5.1) ---- */

static size_t aead_key_len(uint16_t aead)
{
	switch (aead) {
	case HPKE_AEAD_AES128GCM:
		return 16;
	case HPKE_AEAD_AES256GCM:
	case HPKE_AEAD_CHACHA20POLY1305:
		return 32;
	}
	return 0;
}

static const EVP_CIPHER *aead_cipher(uint16_t aead)
{
	switch (aead) {
	case HPKE_AEAD_AES128GCM:
		return EVP_aes_128_gcm();
	case HPKE_AEAD_AES256GCM:
		return EVP_aes_256_gcm();
	case HPKE_AEAD_CHACHA20POLY1305:
		return EVP_chacha20_poly1305();
	}
	return NULL;
}

/* VerifyPSKInputs, plus the auth key presence and a known AEAD. */
static int check_params(const struct hpke_params *p, bool has_auth)
{
	bool psk_mode =
		p->mode == HPKE_MODE_PSK || p->mode == HPKE_MODE_AUTH_PSK;
	bool auth_mode =
		p->mode == HPKE_MODE_AUTH || p->mode == HPKE_MODE_AUTH_PSK;
	bool got_psk = p->psk_len > 0, got_id = p->psk_id_len > 0;

	if (p->mode < HPKE_MODE_BASE || p->mode > HPKE_MODE_AUTH_PSK)
		return -EINVAL;
	if (got_psk != got_id || psk_mode != got_psk)
		return -EINVAL;
	if ((got_psk && !p->psk) || (got_id && !p->psk_id) ||
	    (p->info_len && !p->info))
		return -EINVAL;
	if (auth_mode != has_auth)
		return -EINVAL;
	if (p->aead != HPKE_AEAD_EXPORT_ONLY && !aead_cipher(p->aead))
		return -EINVAL;
	if (p->info_len > 256 || p->psk_id_len > 256 || p->psk_len > 256)
		return -EINVAL;
	return 0;
}

/* key_schedule_context = mode || psk_id_hash || info_hash. */
static int ks_context(const struct suite_id *s, const struct hpke_params *p,
		      uint8_t ctx[static HPKE_MAX_CTX_LEN])
{
	static const uint8_t none;
	int ret;

	ctx[0] = (uint8_t)p->mode;
	ret = labeled_extract(s, NULL, 0, "psk_id_hash",
			      p->psk_id ? p->psk_id : &none, p->psk_id_len,
			      ctx + 1);
	if (!ret)
		ret = labeled_extract(s, NULL, 0, "info_hash",
				      p->info ? p->info : &none, p->info_len,
				      ctx + 1 + HPKE_HASH_LEN);
	return ret;
}

static int key_schedule(struct hpke_ctx *c, const struct hpke_params *p,
			const uint8_t shared[static HPKE_HASH_LEN],
			enum hpke_role role, struct hpke_trace *trace)
{
	static const uint8_t none;
	uint8_t ctx[HPKE_MAX_CTX_LEN], secret[HPKE_HASH_LEN];
	struct suite_id s;
	int ret;

	memset(c, 0, sizeof(*c));
	suite_hpke(&s, p->aead);
	ret = ks_context(&s, p, ctx);
	if (!ret)
		ret = labeled_extract(&s, shared, HPKE_HASH_LEN, "secret",
				      p->psk ? p->psk : &none, p->psk_len,
				      secret);
	c->aead = p->aead;
	c->role = role;
	c->key_len = aead_key_len(p->aead);
	if (!ret && c->key_len)
		ret = labeled_expand(&s, secret, "key", ctx, sizeof(ctx),
				     c->key, c->key_len);
	if (!ret && c->key_len)
		ret = labeled_expand(&s, secret, "base_nonce", ctx, sizeof(ctx),
				     c->base_nonce, HPKE_NONCE_LEN);
	if (!ret)
		ret = labeled_expand(&s, secret, "exp", ctx, sizeof(ctx),
				     c->exporter_secret, HPKE_HASH_LEN);
	if (!ret && trace) {
		memcpy(trace->shared_secret, shared, HPKE_HASH_LEN);
		memcpy(trace->key_schedule_context, ctx, sizeof(ctx));
		trace->key_schedule_context_len = sizeof(ctx);
		memcpy(trace->secret, secret, HPKE_HASH_LEN);
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	if (ret)
		hpke_ctx_wipe(c);
	return ret;
}

int hpke_setup_sender(struct hpke_ctx *ctx, const struct hpke_params *p,
		      const uint8_t pkR[static HPKE_X25519_LEN],
		      const uint8_t *skS, const uint8_t *skE,
		      uint8_t enc[static HPKE_X25519_LEN],
		      struct hpke_trace *trace)
{
	uint8_t eph[HPKE_X25519_LEN], pk[HPKE_X25519_LEN];
	uint8_t shared[HPKE_HASH_LEN];
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ret = check_params(p, skS != NULL);
	if (ret)
		return ret;
	if (skE)
		memcpy(eph, skE, HPKE_X25519_LEN);
	else
		ret = hpke_generate_keypair(eph, pk);
	if (!ret)
		ret = encap(pkR, skS, eph, enc, shared);
	if (!ret)
		ret = key_schedule(ctx, p, shared, HPKE_ROLE_SENDER, trace);
	OPENSSL_cleanse(eph, sizeof(eph));
	OPENSSL_cleanse(shared, sizeof(shared));
	return ret;
}

int hpke_setup_recipient(struct hpke_ctx *ctx, const struct hpke_params *p,
			 const uint8_t enc[static HPKE_X25519_LEN],
			 const uint8_t skR[static HPKE_X25519_LEN],
			 const uint8_t *pkS, struct hpke_trace *trace)
{
	uint8_t shared[HPKE_HASH_LEN];
	int ret;

	memset(ctx, 0, sizeof(*ctx));
	ret = check_params(p, pkS != NULL);
	if (!ret)
		ret = decap(enc, skR, pkS, shared);
	if (!ret)
		ret = key_schedule(ctx, p, shared, HPKE_ROLE_RECIPIENT, trace);
	OPENSSL_cleanse(shared, sizeof(shared));
	return ret;
}

/* ---- encryption context (section 5.2) ---- */

static void compute_nonce(const struct hpke_ctx *c,
			  uint8_t nonce[static HPKE_NONCE_LEN])
{
	int i;

	memcpy(nonce, c->base_nonce, HPKE_NONCE_LEN);
	for (i = 0; i < 8; i++)
		nonce[HPKE_NONCE_LEN - 1 - i] ^= (uint8_t)(c->seq >> (8 * i));
}

/* One AEAD operation; enc selects seal or open. */
static int aead_op(const struct hpke_ctx *c, bool enc, const uint8_t *aad,
		   size_t aad_len, const uint8_t *in, size_t in_len,
		   uint8_t *out, uint8_t tag[static HPKE_TAG_LEN])
{
	EVP_CIPHER_CTX *e = EVP_CIPHER_CTX_new();
	uint8_t nonce[HPKE_NONCE_LEN], scratch[16];
	int outl, ok;

	compute_nonce(c, nonce);
	ok = e && in_len <= INT32_MAX && aad_len <= INT32_MAX &&
	     EVP_CipherInit_ex(e, aead_cipher(c->aead), NULL, c->key, nonce,
			       enc) &&
	     (!aad_len ||
	      EVP_CipherUpdate(e, NULL, &outl, aad, (int)aad_len)) &&
	     (!in_len || EVP_CipherUpdate(e, out, &outl, in, (int)in_len)) &&
	     (enc || EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_SET_TAG, HPKE_TAG_LEN,
					 tag)) &&
	     EVP_CipherFinal_ex(e, scratch, &outl) > 0 &&
	     (!enc ||
	      EVP_CIPHER_CTX_ctrl(e, EVP_CTRL_AEAD_GET_TAG, HPKE_TAG_LEN, tag));
	EVP_CIPHER_CTX_free(e);
	OPENSSL_cleanse(nonce, sizeof(nonce));
	return ok ? 0 : -1;
}

int hpke_seal(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *pt, size_t pt_len, uint8_t *ct)
{
	if (!ctx->key_len || ctx->role != HPKE_ROLE_SENDER)
		return -EINVAL;
	if (ctx->seq == UINT64_MAX)
		return -EOVERFLOW;
	if (aead_op(ctx, true, aad, aad_len, pt, pt_len, ct, ct + pt_len))
		return -MOAT_E_CRYPTO;
	ctx->seq++;
	return 0;
}

int hpke_open(struct hpke_ctx *ctx, const uint8_t *aad, size_t aad_len,
	      const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
	uint8_t tag[HPKE_TAG_LEN];

	if (!ctx->key_len || ctx->role != HPKE_ROLE_RECIPIENT ||
	    ct_len < HPKE_TAG_LEN)
		return -EINVAL;
	if (ctx->seq == UINT64_MAX)
		return -EOVERFLOW;
	memcpy(tag, ct + ct_len - HPKE_TAG_LEN, HPKE_TAG_LEN);
	if (aead_op(ctx, false, aad, aad_len, ct, ct_len - HPKE_TAG_LEN, pt,
		    tag)) {
		OPENSSL_cleanse(pt, ct_len - HPKE_TAG_LEN);
		return -MOAT_E_AUTH;
	}
	ctx->seq++;
	return 0;
}

int hpke_export(const struct hpke_ctx *ctx, const uint8_t *exp_ctx,
		size_t exp_ctx_len, uint8_t *out, size_t L)
{
	struct suite_id s;

	if (L > 255 * HPKE_HASH_LEN || (exp_ctx_len && !exp_ctx))
		return -EINVAL;
	suite_hpke(&s, ctx->aead);
	return labeled_expand(&s, ctx->exporter_secret, "sec", exp_ctx,
			      exp_ctx_len, out, L);
}

void hpke_ctx_wipe(struct hpke_ctx *ctx)
{
	if (ctx)
		OPENSSL_cleanse(ctx, sizeof(*ctx));
}

int hpke_seal_single(const struct hpke_params *p,
		     const uint8_t pkR[static HPKE_X25519_LEN],
		     const uint8_t *skS, uint8_t enc[static HPKE_X25519_LEN],
		     const uint8_t *aad, size_t aad_len, const uint8_t *pt,
		     size_t pt_len, uint8_t *ct)
{
	struct hpke_ctx c;
	int ret;

	ret = hpke_setup_sender(&c, p, pkR, skS, NULL, enc, NULL);
	if (!ret)
		ret = hpke_seal(&c, aad, aad_len, pt, pt_len, ct);
	hpke_ctx_wipe(&c);
	return ret;
}

int hpke_open_single(const struct hpke_params *p,
		     const uint8_t enc[static HPKE_X25519_LEN],
		     const uint8_t skR[static HPKE_X25519_LEN],
		     const uint8_t *pkS, const uint8_t *aad, size_t aad_len,
		     const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
	struct hpke_ctx c;
	int ret;

	ret = hpke_setup_recipient(&c, p, enc, skR, pkS, NULL);
	if (!ret)
		ret = hpke_open(&c, aad, aad_len, ct, ct_len, pt);
	hpke_ctx_wipe(&c);
	return ret;
}
