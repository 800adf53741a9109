// SPDX-License-Identifier: GPL-2.0-only
/*
 * Opening sealed record streams (viewer side). A stream is fed one record
 * at a time, in order; every failure kind has its own error code and a
 * plain-words reason, and kills the stream. Plaintext reaches the caller's
 * buffer only after its tag verified (on failure the buffer is wiped).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/hpke.h"
#include "crypto/stream_priv.h"

enum { OPEN_MAX_KEYS = 16 };

enum open_state { OPEN_NEED_HEADER, OPEN_DATA, OPEN_DONE, OPEN_DEAD };

struct open_stream {
	enum open_state state;
	int err;
	enum seal_suite suite;
	uint64_t next;
	uint8_t id[REC_STREAM_ID_LEN];
	uint8_t hub_pk[SEAL_KEY_LEN];
	uint8_t viewer_id[SEAL_VIEWER_ID_LEN];
	uint8_t psk[SEAL_PSK_LEN];
	struct open_key keys[OPEN_MAX_KEYS];
	size_t n_keys;
	EVP_CIPHER_CTX *ctx;
	char why[192];
};

struct open_stream *open_stream_new(const struct open_identity *id)
{
	struct open_stream *os;

	if (!id->n_keys || id->n_keys > OPEN_MAX_KEYS)
		return NULL;
	os = calloc(1, sizeof(*os));
	if (!os)
		return NULL;
	os->ctx = EVP_CIPHER_CTX_new();
	if (!os->ctx) {
		free(os);
		return NULL;
	}
	memcpy(os->hub_pk, id->hub_pk, SEAL_KEY_LEN);
	memcpy(os->viewer_id, id->viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(os->psk, id->psk, SEAL_PSK_LEN);
	memcpy(os->keys, id->keys, id->n_keys * sizeof(*id->keys));
	os->n_keys = id->n_keys;
	return os;
}

void open_stream_free(struct open_stream *os)
{
	if (!os)
		return;
	EVP_CIPHER_CTX_free(os->ctx);
	OPENSSL_cleanse(os, sizeof(*os));
	free(os);
}

const char *open_stream_why(const struct open_stream *os)
{
	return os->why;
}

enum seal_suite open_stream_suite(const struct open_stream *os)
{
	return os->suite;
}

const uint8_t *open_stream_id(const struct open_stream *os)
{
	return os->id;
}

/* Kills the stream with err and a reason; returns err. */
__attribute__((format(printf, 3, 4))) static int
open_fail(struct open_stream *os, int err, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(os->why, sizeof(os->why), "%s: ", moat_strerror(err));
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(os->why))
		vsnprintf(os->why + n, sizeof(os->why) - (size_t)n, fmt, ap);
	va_end(ap);
	os->state = OPEN_DEAD;
	os->err = err;
	EVP_CIPHER_CTX_reset(os->ctx);
	return err;
}

/* Index of the wrap entry addressed to one of our keys, or -1. */
static int open_find_wrap(const struct open_stream *os, const uint8_t *body,
			  size_t n, size_t *key_idx)
{
	uint8_t kid[SEAL_KEY_ID_LEN];
	size_t i, k;

	for (k = 0; k < os->n_keys; k++) {
		seal_key_id(os->keys[k].pk, kid);
		for (i = 0; i < n; i++) {
			const uint8_t *e =
				body + SEAL_HDR_FIXED + i * SEAL_WRAP_LEN;

			if (!memcmp(e, kid, SEAL_KEY_ID_LEN)) {
				*key_idx = k;
				return (int)i;
			}
		}
	}
	return -1;
}

static int open_unwrap(struct open_stream *os, const uint8_t *rec,
		       const uint8_t *entry, size_t key_idx,
		       uint8_t k[static SEAL_KEY_LEN])
{
	uint8_t info[SEAL_WRAP_INFO_MAX];
	struct hpke_params p = {
		.mode = HPKE_MODE_AUTH_PSK,
		.aead = seal_suite_hpke_aead(os->suite),
		.info = info,
		.info_len = seal_wrap_info(info, rec),
		.psk = os->psk,
		.psk_len = SEAL_PSK_LEN,
		.psk_id = os->viewer_id,
		.psk_id_len = SEAL_VIEWER_ID_LEN,
	};

	return hpke_open_single(&p, entry + SEAL_KEY_ID_LEN,
				os->keys[key_idx].sk, os->hub_pk, entry,
				SEAL_KEY_ID_LEN, entry + SEAL_KEY_ID_LEN + 32,
				SEAL_KEY_LEN + 16, k);
}

/* Validates the fixed part of a stream header body; sets os->suite. */
static int open_header_fixed(struct open_stream *os, const struct rec_hdr *h,
			     const uint8_t *body, size_t *n)
{
	uint8_t hub_id[SEAL_KEY_ID_LEN];

	if (h->counter != 0)
		return open_fail(os, -MOAT_E_MALFORMED,
				 "stream header carries counter %llu, not 0",
				 (unsigned long long)h->counter);
	if (h->body_len < SEAL_HDR_FIXED + REC_TAG_LEN)
		return open_fail(os, -MOAT_E_LENGTH,
				 "stream header body of %u bytes is too short",
				 h->body_len);
	if (body[0] != SEAL_SUITE_AES256GCM &&
	    body[0] != SEAL_SUITE_CHACHA20POLY1305)
		return open_fail(os, -MOAT_E_SUITE, "suite %u", body[0]);
	*n = body[1];
	if (*n < 1 || *n > SEAL_MAX_RECIPIENTS || body[2] || body[3])
		return open_fail(
			os, -MOAT_E_MALFORMED,
			"stream header: %zu recipients or reserved bits set",
			*n);
	if (h->body_len != seal_header_len(*n) - REC_HDR_LEN)
		return open_fail(
			os, -MOAT_E_LENGTH,
			"stream header for %zu recipients must be %zu bytes, not %u",
			*n, seal_header_len(*n) - REC_HDR_LEN, h->body_len);
	seal_key_id(os->hub_pk, hub_id);
	if (memcmp(hub_id, body + 4, SEAL_KEY_ID_LEN))
		return open_fail(os, -MOAT_E_NOT_RECIPIENT,
				 "stream was sealed by another hub");
	os->suite = body[0];
	return 0;
}

/* Unwraps the content key, checks the header tag, keys the AEAD. */
static int open_header(struct open_stream *os, const struct rec_hdr *h,
		       const uint8_t *rec, size_t len)
{
	const uint8_t *body = rec + REC_HDR_LEN;
	uint8_t k[SEAL_KEY_LEN], rk[SEAL_KEY_LEN], tag[REC_TAG_LEN];
	size_t n = 0, key_idx = 0;
	int i, ret;

	ret = open_header_fixed(os, h, body, &n);
	if (ret)
		return ret;
	i = open_find_wrap(os, body, n, &key_idx);
	if (i < 0)
		return open_fail(
			os, -MOAT_E_NOT_RECIPIENT,
			"none of its %zu wraps is for this viewer's %zu key(s)",
			n, os->n_keys);
	ret = open_unwrap(os, rec, body + SEAL_HDR_FIXED + i * SEAL_WRAP_LEN,
			  key_idx, k);
	if (ret) {
		ret = open_fail(os, -MOAT_E_UNWRAP, "wrap %d of %zu", i, n);
		goto out_wipe;
	}
	ret = seal_header_tag(k, rec, len - REC_TAG_LEN, tag);
	if (!ret && CRYPTO_memcmp(tag, rec + len - REC_TAG_LEN, REC_TAG_LEN))
		ret = -MOAT_E_HEADER_AUTH;
	if (!ret)
		ret = seal_subkey(k, "record key", rk);
	if (!ret && !EVP_DecryptInit_ex(os->ctx, seal_suite_cipher(os->suite),
					NULL, rk, NULL))
		ret = -MOAT_E_CRYPTO;
	if (ret) {
		ret = open_fail(os, ret, "stream header of %zu bytes", len);
		goto out_wipe;
	}
	memcpy(os->id, h->stream_id, REC_STREAM_ID_LEN);
	os->next = 1;
	os->state = OPEN_DATA;
out_wipe:
	OPENSSL_cleanse(k, sizeof(k));
	OPENSSL_cleanse(rk, sizeof(rk));
	return ret;
}

/* Checks a data record's place in the stream before any crypto. */
static int open_check_order(struct open_stream *os, const struct rec_hdr *h)
{
	if (h->type == REC_TYPE_HEADER && h->counter == 0)
		return open_fail(os, -MOAT_E_REPLAY,
				 "the stream header again, after record %llu",
				 (unsigned long long)(os->next - 1));
	if (h->type == REC_TYPE_HEADER)
		return open_fail(os, -MOAT_E_MALFORMED,
				 "record %llu has the stream header type",
				 (unsigned long long)h->counter);
	if (memcmp(h->stream_id, os->id, REC_STREAM_ID_LEN))
		return open_fail(os, -MOAT_E_STREAM_ID,
				 "record %llu carries another stream's id",
				 (unsigned long long)h->counter);
	if (h->counter < os->next)
		return open_fail(os, -MOAT_E_REPLAY,
				 "record %llu arrived when %llu was expected",
				 (unsigned long long)h->counter,
				 (unsigned long long)os->next);
	if (h->counter > os->next)
		return open_fail(os, -MOAT_E_REORDER,
				 "record %llu arrived when %llu was expected",
				 (unsigned long long)h->counter,
				 (unsigned long long)os->next);
	return 0;
}

static int open_data(struct open_stream *os, const struct rec_hdr *h,
		     const uint8_t *rec, uint8_t *out, size_t *out_len,
		     bool *final)
{
	size_t n = h->body_len - REC_TAG_LEN;
	const uint8_t *body = rec + REC_HDR_LEN;
	uint8_t nonce[REC_NONCE_LEN], scratch[16];
	bool last = h->type == REC_TYPE_FINAL;
	int outl, ok;

	rec_nonce(nonce, h->counter, last);
	ok = EVP_DecryptInit_ex(os->ctx, NULL, NULL, NULL, nonce) &&
	     EVP_DecryptUpdate(os->ctx, NULL, &outl, rec, REC_HDR_LEN) &&
	     (!n || EVP_DecryptUpdate(os->ctx, out, &outl, body, (int)n)) &&
	     EVP_CIPHER_CTX_ctrl(os->ctx, EVP_CTRL_AEAD_SET_TAG, REC_TAG_LEN,
				 (void *)(body + n)) &&
	     EVP_DecryptFinal_ex(os->ctx, scratch, &outl) > 0;
	if (!ok) {
		OPENSSL_cleanse(out, n);
		return open_fail(os, -MOAT_E_AUTH, "record %llu (%zu bytes)",
				 (unsigned long long)h->counter, n);
	}
	*out_len = n;
	*final = last;
	os->next++;
	if (last)
		os->state = OPEN_DONE;
	return 0;
}

int open_record(struct open_stream *os, const uint8_t *rec, size_t len,
		uint8_t *out, size_t cap, size_t *out_len, bool *final)
{
	struct rec_hdr h;
	int ret;

	*out_len = 0;
	*final = false;
	if (os->state == OPEN_DEAD)
		return os->err;
	ret = rec_parse_hdr(rec, len, &h);
	if (ret)
		return open_fail(os, ret, "record of %zu bytes", len);
	if (len != REC_HDR_LEN + (size_t)h.body_len)
		return open_fail(os, -MOAT_E_LENGTH,
				 "header says %u body bytes, record has %zu",
				 h.body_len, len - REC_HDR_LEN);
	if (os->state == OPEN_DONE)
		return open_fail(os, -MOAT_E_AFTER_FINAL, "record %llu",
				 (unsigned long long)h.counter);
	if (os->state == OPEN_NEED_HEADER)
		return h.type == REC_TYPE_HEADER ?
			       open_header(os, &h, rec, len) :
			       open_fail(os, -MOAT_E_NO_HEADER, "record %llu",
					 (unsigned long long)h.counter);
	ret = open_check_order(os, &h);
	if (ret)
		return ret;
	if (cap < h.body_len - REC_TAG_LEN)
		return -ENOBUFS;
	return open_data(os, &h, rec, out, out_len, final);
}

int open_stream_finish(struct open_stream *os)
{
	if (os->state == OPEN_DONE)
		return 0;
	if (os->state == OPEN_DEAD)
		return os->err;
	return open_fail(
		os, -MOAT_E_TRUNCATED,
		"stream ended after record %llu without its final record",
		(unsigned long long)(os->next ? os->next - 1 : 0));
}
