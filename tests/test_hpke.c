// SPDX-License-Identifier: GPL-2.0-only
/*
 * HPKE against RFC 9180 Appendix A (tests/vectors/rfc9180-x25519.txt):
 * all 12 DHKEM(X25519) setups (AES-128-GCM, ChaCha20-Poly1305,
 * export-only; modes base, psk, auth, auth_psk). Every listed value is
 * reproduced (keys from DeriveKeyPair, enc, shared_secret,
 * key_schedule_context, secret, key, base_nonce, exporter_secret, every
 * ciphertext and exported value) and every ciphertext opened back. Then
 * the refusals: tampered ciphertext, wrong PSK, wrong sender, bad inputs.
 */
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "common/hex.h"
#include "crypto/hpke.h"
#include "tests/lib/check.h"
#include "tests/lib/vecfile.h"

static const char *const mode_names[] = { "base", "psk", "auth", "auth_psk" };

/* Compares a computed value with the vector's, naming it on failure. */
static bool same(const char *what, const struct vec_setup *s,
		 const struct vec_buf *want, const uint8_t *got, size_t len)
{
	bool ok = want->set && want->len == len && !memcmp(want->p, got, len);

	CHECK(ok, "mode %llu aead %llu: %s differs",
	      (unsigned long long)s->mode, (unsigned long long)s->aead_id,
	      what);
	return ok;
}

static void params_of(const struct vec_setup *s, struct hpke_params *p)
{
	memset(p, 0, sizeof(*p));
	p->mode = (int)s->mode;
	p->aead = (uint16_t)s->aead_id;
	p->info = s->info.p;
	p->info_len = s->info.len;
	if (s->psk.set) {
		p->psk = s->psk.p;
		p->psk_len = s->psk.len;
		p->psk_id = s->psk_id.p;
		p->psk_id_len = s->psk_id.len;
	}
}

static void check_keys(const struct vec_setup *s)
{
	uint8_t sk[32], pk[32];

	hpke_derive_keypair(s->ikmE.p, s->ikmE.len, sk, pk);
	same("skEm", s, &s->skEm, sk, 32);
	same("pkEm", s, &s->pkEm, pk, 32);
	hpke_derive_keypair(s->ikmR.p, s->ikmR.len, sk, pk);
	same("skRm", s, &s->skRm, sk, 32);
	same("pkRm", s, &s->pkRm, pk, 32);
	if (s->mode == HPKE_MODE_AUTH || s->mode == HPKE_MODE_AUTH_PSK) {
		hpke_derive_keypair(s->ikmS.p, s->ikmS.len, sk, pk);
		same("skSm", s, &s->skSm, sk, 32);
		same("pkSm", s, &s->pkSm, pk, 32);
	}
}

static void check_schedule(const struct vec_setup *s, const struct hpke_ctx *c,
			   const struct hpke_trace *t, const uint8_t *enc)
{
	same("enc", s, &s->enc, enc, 32);
	same("shared_secret", s, &s->shared_secret, t->shared_secret, 32);
	same("key_schedule_context", s, &s->key_schedule_context,
	     t->key_schedule_context, t->key_schedule_context_len);
	same("secret", s, &s->secret, t->secret, 32);
	same("exporter_secret", s, &s->exporter_secret, c->exporter_secret, 32);
	if (s->aead_id != HPKE_AEAD_EXPORT_ONLY) {
		same("key", s, &s->key, c->key, c->key_len);
		same("base_nonce", s, &s->base_nonce, c->base_nonce, 12);
	}
}

/* Every encryption in order: ct reproduced, opened back, tamper refused. */
static void check_encryptions(const struct vec_setup *s, struct hpke_ctx *sc,
			      struct hpke_ctx *rc)
{
	uint8_t ct[4096 + 16], pt[4096];
	size_t i;

	for (i = 0; i < s->n_enc; i++) {
		const struct vec_enc *e = &s->encs[i];

		CHECK(e->pt.len <= 4096 && e->ct.len == e->pt.len + 16,
		      "vector sizes");
		if (e->pt.len > 4096 || e->ct.len != e->pt.len + 16)
			continue;
		sc->seq = e->seq; /* the vectors skip numbers */
		rc->seq = e->seq;
		CHECK(hpke_seal(sc, e->aad.p, e->aad.len, e->pt.p, e->pt.len,
				ct) == 0,
		      "seal %llu", (unsigned long long)e->seq);
		same("ct", s, &e->ct, ct, e->ct.len);
		ct[0] ^= 1;
		CHECK(hpke_open(rc, e->aad.p, e->aad.len, ct, e->ct.len, pt) ==
				      -MOAT_E_AUTH &&
			      rc->seq == e->seq,
		      "flipped ct refused, seq unchanged");
		CHECK(hpke_open(rc, e->aad.p, e->aad.len, e->ct.p, e->ct.len,
				pt) == 0 &&
			      rc->seq == e->seq + 1,
		      "open %llu", (unsigned long long)e->seq);
		same("pt", s, &e->pt, pt, e->pt.len);
	}
}

static void check_exports(const struct vec_setup *s, const struct hpke_ctx *sc,
			  const struct hpke_ctx *rc)
{
	uint8_t out[256];
	size_t i;

	for (i = 0; i < s->n_exp; i++) {
		const struct vec_exp *x = &s->exps[i];

		CHECK(x->L <= sizeof(out) && x->L_set, "export length");
		if (x->L > sizeof(out))
			continue;
		CHECK(hpke_export(sc, x->ctx.p, x->ctx.len, out, x->L) == 0,
		      "sender export");
		same("exported_value (sender)", s, &x->value, out, x->L);
		CHECK(hpke_export(rc, x->ctx.p, x->ctx.len, out, x->L) == 0,
		      "recipient export");
		same("exported_value (recipient)", s, &x->value, out, x->L);
	}
}

static void check_setup(const struct vec_setup *s)
{
	bool auth = s->mode == HPKE_MODE_AUTH || s->mode == HPKE_MODE_AUTH_PSK;
	struct hpke_ctx sc, rc;
	struct hpke_trace ts, tr;
	struct hpke_params p;
	uint8_t enc[32];

	CHECK(s->kem_id == HPKE_KEM_X25519_SHA256 &&
		      s->kdf_id == HPKE_KDF_HKDF_SHA256 && s->mode <= 3,
	      "suite of the vector");
	check_keys(s);
	params_of(s, &p);
	CHECK(hpke_setup_sender(&sc, &p, s->pkRm.p, auth ? s->skSm.p : NULL,
				s->skEm.p, enc, &ts) == 0,
	      "sender setup");
	check_schedule(s, &sc, &ts, enc);
	CHECK(hpke_setup_recipient(&rc, &p, s->enc.p, s->skRm.p,
				   auth ? s->pkSm.p : NULL, &tr) == 0,
	      "recipient setup");
	check_schedule(s, &rc, &tr, s->enc.p);
	check_encryptions(s, &sc, &rc);
	check_exports(s, &sc, &rc);
	if (s->aead_id == HPKE_AEAD_EXPORT_ONLY)
		CHECK(hpke_seal(&sc, NULL, 0, enc, 1, enc) == -EINVAL,
		      "export-only context cannot seal");
	printf("aead %#06llx mode %-8s: %zu encryptions and %zu exports reproduced\n",
	       (unsigned long long)s->aead_id, mode_names[s->mode & 3],
	       s->n_enc, s->n_exp);
	hpke_ctx_wipe(&sc);
	hpke_ctx_wipe(&rc);
}

/* Refusals that a user of the API would meet. */
static void check_refusals(void)
{
	static const uint8_t psk[32] = { 1 }, id[4] = "id", msg[5] = "hello";
	uint8_t skR[32], pkR[32], skS[32], pkS[32], enc[32], ct[21], pt[5];
	struct hpke_params p = { .mode = HPKE_MODE_AUTH_PSK,
				 .aead = HPKE_AEAD_CHACHA20POLY1305,
				 .psk = psk,
				 .psk_len = 32,
				 .psk_id = id,
				 .psk_id_len = 4 };
	struct hpke_params q;
	struct hpke_ctx c;
	int m;

	hpke_generate_keypair(skR, pkR);
	hpke_generate_keypair(skS, pkS);
	CHECK(hpke_seal_single(&p, pkR, skS, enc, NULL, 0, msg, 5, ct) == 0,
	      "auth_psk seal");
	CHECK(hpke_open_single(&p, enc, skR, pkS, NULL, 0, ct, 21, pt) == 0 &&
		      !memcmp(pt, msg, 5),
	      "auth_psk round trip");
	q = p;
	q.psk = (const uint8_t[32]){ 2 };
	CHECK(hpke_open_single(&q, enc, skR, pkS, NULL, 0, ct, 21, pt) ==
		      -MOAT_E_AUTH,
	      "wrong psk refused");
	CHECK(hpke_open_single(&p, enc, skR, pkR, NULL, 0, ct, 21, pt) ==
		      -MOAT_E_AUTH,
	      "wrong sender key refused");
	q = p;
	q.mode = HPKE_MODE_PSK;
	q.psk_len = 0;
	CHECK(hpke_setup_sender(&c, &q, pkR, NULL, NULL, enc, NULL) == -EINVAL,
	      "psk mode without psk");
	q.mode = HPKE_MODE_BASE;
	q.psk_len = 32;
	CHECK(hpke_setup_sender(&c, &q, pkR, NULL, NULL, enc, NULL) == -EINVAL,
	      "base mode with a psk");
	CHECK(hpke_setup_sender(&c, &p, pkR, NULL, NULL, enc, NULL) == -EINVAL,
	      "auth mode without a sender key");
	for (m = HPKE_MODE_BASE; m <= HPKE_MODE_AUTH_PSK; m++) {
		bool auth = m >= HPKE_MODE_AUTH, psk_m = m & 1;

		q = p;
		q.mode = m;
		q.aead = HPKE_AEAD_AES128GCM;
		q.psk_len = psk_m ? 32 : 0;
		q.psk_id_len = psk_m ? 4 : 0;
		CHECK(hpke_seal_single(&q, pkR, auth ? skS : NULL, enc, id, 4,
				       msg, 5, ct) == 0 &&
			      hpke_open_single(&q, enc, skR, auth ? pkS : NULL,
					       id, 4, ct, 21, pt) == 0 &&
			      !memcmp(pt, msg, 5),
		      "single-shot round trip, mode %s", mode_names[m]);
	}
	memset(pkR, 0, 32); /* a small-order point: DH output all zero */
	CHECK(hpke_seal_single(&p, pkR, skS, enc, NULL, 0, msg, 5, ct) ==
		      -MOAT_E_CRYPTO,
	      "all-zero shared secret refused");
}

/*
 * Points of small order on Curve25519 (u = 0, 1, and the order-8 points,
 * with their non-canonical encodings p and p + 1): every one is refused; a
 * real public key passes.
 */
static void check_low_order(void)
{
	static const char *const low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t pk[32], sk[32];
	size_t bad = 0;

	for (size_t i = 0; i < sizeof(low) / sizeof(low[0]); i++) {
		hex_decode(pk, sizeof(pk), low[i], 64);
		bad += hpke_check_public_key(pk) == 0;
	}
	CHECK(bad == 0, "%zu of 7 low-order points accepted as a public key",
	      bad);
	CHECK(!hpke_generate_keypair(sk, pk) && !hpke_check_public_key(pk),
	      "a generated public key passes the check");
}

int main(void)
{
	struct vec_file f;
	size_t i;

	if (vec_load(test_src_path("tests/vectors/rfc9180-x25519.txt"), &f))
		return 1;
	CHECK(f.n == 12, "12 setups in the vectors, found %zu", f.n);
	for (i = 0; i < f.n; i++)
		check_setup(&f.setups[i]);
	vec_free(&f);
	check_refusals();
	check_low_order();
	return test_done("test_hpke");
}
