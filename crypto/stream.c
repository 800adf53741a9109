// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sealed record streams (docs/PROTOCOL.md, "Records" and "Stream header").
 * Sealing side: a content key per stream, one AEAD pass per record.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/hpke.h"
#include "crypto/stream_priv.h"

static const char wrap_info_label[] = "moat/1 wrap";

void seal_key_id(const uint8_t pk[static SEAL_KEY_LEN],
		 uint8_t id[static SEAL_KEY_ID_LEN])
{
	static const char label[] = "moat/1 key id";
	uint8_t md[32];
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(c, label, sizeof(label) - 1) &&
	    EVP_DigestUpdate(c, pk, SEAL_KEY_LEN))
		EVP_DigestFinal_ex(c, md, NULL);
	EVP_MD_CTX_free(c);
	memcpy(id, md, SEAL_KEY_ID_LEN);
}

int rec_parse_hdr(const uint8_t *p, size_t len, struct rec_hdr *h)
{
	struct rd r;
	uint16_t reserved;

	memset(h, 0, sizeof(*h));
	rd_init(&r, p, len);
	if (len < REC_HDR_LEN)
		return -MOAT_E_LENGTH;
	rd_u8(&r, &h->version);
	rd_u8(&r, &h->type);
	rd_u16(&r, &reserved);
	rd_u32(&r, &h->body_len);
	rd_copy(&r, h->stream_id, REC_STREAM_ID_LEN);
	rd_u64(&r, &h->counter);
	if (h->version != REC_VERSION)
		return -MOAT_E_VERSION;
	if (h->type < REC_TYPE_HEADER || h->type > REC_TYPE_FINAL ||
	    reserved != 0)
		return -MOAT_E_MALFORMED;
	if (h->body_len < REC_TAG_LEN || h->body_len > REC_BODY_MAX)
		return -MOAT_E_LENGTH;
	return 0;
}

void rec_put_hdr(uint8_t out[static REC_HDR_LEN], uint8_t type,
		 uint32_t body_len, const uint8_t id[static REC_STREAM_ID_LEN],
		 uint64_t counter)
{
	out[0] = REC_VERSION;
	out[1] = type;
	put_u16(out + 2, 0);
	put_u32(out + 4, body_len);
	memcpy(out + 8, id, REC_STREAM_ID_LEN);
	put_u64(out + 24, counter);
}

void rec_nonce(uint8_t nonce[static REC_NONCE_LEN], uint64_t counter,
	       bool final)
{
	memset(nonce, 0, 3);
	put_u64(nonce + 3, counter);
	nonce[11] = final ? 1 : 0;
}

const EVP_CIPHER *seal_suite_cipher(enum seal_suite suite)
{
	switch (suite) {
	case SEAL_SUITE_AES256GCM:
		return EVP_aes_256_gcm();
	case SEAL_SUITE_CHACHA20POLY1305:
		return EVP_chacha20_poly1305();
	}
	return NULL;
}

uint16_t seal_suite_hpke_aead(enum seal_suite suite)
{
	return suite == SEAL_SUITE_AES256GCM ? HPKE_AEAD_AES256GCM :
					       HPKE_AEAD_CHACHA20POLY1305;
}

/* subkey = HKDF-Expand(PRK = K, info = "moat/1 " label, L = 32). */
int seal_subkey(const uint8_t k[static SEAL_KEY_LEN], const char *label,
		uint8_t out[static SEAL_KEY_LEN])
{
	uint8_t info[64];
	size_t n = strlen(label), out_len = 0;
	int ok;

	if (n + 8 > sizeof(info))
		return -EINVAL;
	memcpy(info, "moat/1 ", 7);
	memcpy(info + 7, label, n);
	info[7 + n] = 0x01;
	ok = EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, k, SEAL_KEY_LEN,
		       info, n + 8, out, SEAL_KEY_LEN, &out_len) != NULL;
	return ok && out_len == SEAL_KEY_LEN ? 0 : -MOAT_E_CRYPTO;
}

/* The header tag: HMAC-SHA256 under the header key, first 16 bytes. */
int seal_header_tag(const uint8_t k[static SEAL_KEY_LEN], const uint8_t *hdr,
		    size_t len, uint8_t tag[static REC_TAG_LEN])
{
	uint8_t hk[SEAL_KEY_LEN], mac[32];
	size_t out_len = 0;
	int ret;

	ret = seal_subkey(k, "header key", hk);
	if (!ret &&
	    !EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, hk, sizeof(hk), hdr,
		       len, mac, sizeof(mac), &out_len))
		ret = -MOAT_E_CRYPTO;
	if (!ret)
		memcpy(tag, mac, REC_TAG_LEN);
	OPENSSL_cleanse(hk, sizeof(hk));
	OPENSSL_cleanse(mac, sizeof(mac));
	return ret;
}

/* HPKE info of a wrap: label || record header || fixed header body. */
size_t seal_wrap_info(uint8_t *info, const uint8_t *rec)
{
	size_t n = sizeof(wrap_info_label) - 1;

	memcpy(info, wrap_info_label, n);
	memcpy(info + n, rec, REC_HDR_LEN + SEAL_HDR_FIXED);
	return n + REC_HDR_LEN + SEAL_HDR_FIXED;
}

/* ---- sealing ---- */

struct seal_stream {
	enum seal_suite suite;
	bool finished;
	uint64_t next;
	uint8_t key[SEAL_KEY_LEN];
	uint8_t id[REC_STREAM_ID_LEN];
	EVP_CIPHER_CTX *ctx;
};

struct seal_stream *seal_stream_new(enum seal_suite suite)
{
	const EVP_CIPHER *cipher = seal_suite_cipher(suite);
	struct seal_stream *s;
	uint8_t rk[SEAL_KEY_LEN];

	if (!cipher)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->suite = suite;
	s->next = 1;
	s->ctx = EVP_CIPHER_CTX_new();
	if (!s->ctx || RAND_priv_bytes(s->key, sizeof(s->key)) != 1 ||
	    RAND_bytes(s->id, sizeof(s->id)) != 1 ||
	    seal_subkey(s->key, "record key", rk) ||
	    !EVP_EncryptInit_ex(s->ctx, cipher, NULL, rk, NULL)) {
		OPENSSL_cleanse(rk, sizeof(rk));
		seal_stream_free(s);
		return NULL;
	}
	OPENSSL_cleanse(rk, sizeof(rk));
	return s;
}

void seal_stream_free(struct seal_stream *s)
{
	if (!s)
		return;
	EVP_CIPHER_CTX_free(s->ctx);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

const uint8_t *seal_stream_id(const struct seal_stream *s)
{
	return s->id;
}

uint64_t seal_stream_next(const struct seal_stream *s)
{
	return s->next;
}

/* One wrap entry: key id || enc || HPKE auth_psk seal of the content key. */
static int seal_wrap_one(const struct seal_stream *s,
			 const struct seal_hub_key *hub,
			 const struct seal_recipient *r, const uint8_t *info,
			 size_t info_len, uint8_t *entry)
{
	struct hpke_params p = {
		.mode = HPKE_MODE_AUTH_PSK,
		.aead = seal_suite_hpke_aead(s->suite),
		.info = info,
		.info_len = info_len,
		.psk = r->psk,
		.psk_len = SEAL_PSK_LEN,
		.psk_id = r->viewer_id,
		.psk_id_len = SEAL_VIEWER_ID_LEN,
	};

	seal_key_id(r->pk, entry);
	return hpke_seal_single(&p, r->pk, hub->sk, entry + SEAL_KEY_ID_LEN,
				entry, SEAL_KEY_ID_LEN, s->key, SEAL_KEY_LEN,
				entry + SEAL_KEY_ID_LEN + 32);
}

int seal_stream_header(struct seal_stream *s, const struct seal_hub_key *hub,
		       const struct seal_recipient *r, size_t n, uint8_t *out,
		       size_t cap, size_t *out_len)
{
	uint8_t info[sizeof(wrap_info_label) + REC_HDR_LEN + SEAL_HDR_FIXED];
	size_t len = seal_header_len(n), info_len, i;
	uint8_t *body = out + REC_HDR_LEN;
	int ret;

	*out_len = 0;
	if (n < 1 || n > SEAL_MAX_RECIPIENTS)
		return -EINVAL;
	if (cap < len)
		return -ENOBUFS;
	rec_put_hdr(out, REC_TYPE_HEADER, (uint32_t)(len - REC_HDR_LEN), s->id,
		    0);
	body[0] = (uint8_t)s->suite;
	body[1] = (uint8_t)n;
	put_u16(body + 2, 0);
	seal_key_id(hub->pk, body + 4);
	info_len = seal_wrap_info(info, out);
	for (i = 0; i < n; i++) {
		ret = seal_wrap_one(s, hub, &r[i], info, info_len,
				    body + SEAL_HDR_FIXED + i * SEAL_WRAP_LEN);
		if (ret)
			goto out_wipe;
	}
	ret = seal_header_tag(s->key, out, len - REC_TAG_LEN,
			      out + len - REC_TAG_LEN);
	if (!ret)
		*out_len = len;
out_wipe:
	if (ret)
		OPENSSL_cleanse(out, len);
	return ret;
}

/* Writes the header and starts the AEAD with it as AAD. */
static int seal_begin(struct seal_stream *s, size_t pt_len, bool final,
		      uint8_t hdr[static REC_HDR_LEN])
{
	uint8_t nonce[REC_NONCE_LEN];
	int outl;

	if (s->finished)
		return -EPIPE;
	if (pt_len > REC_BODY_MAX - REC_TAG_LEN)
		return -MOAT_E_LIMIT;
	if (s->next == UINT64_MAX)
		return -EOVERFLOW;
	rec_put_hdr(hdr, final ? REC_TYPE_FINAL : REC_TYPE_DATA,
		    (uint32_t)(pt_len + REC_TAG_LEN), s->id, s->next);
	rec_nonce(nonce, s->next, final);
	if (!EVP_EncryptInit_ex(s->ctx, NULL, NULL, NULL, nonce) ||
	    !EVP_EncryptUpdate(s->ctx, NULL, &outl, hdr, REC_HDR_LEN))
		return -MOAT_E_CRYPTO;
	return 0;
}

static int seal_end(struct seal_stream *s, bool final,
		    uint8_t tag[static REC_TAG_LEN])
{
	uint8_t scratch[16];
	int outl;

	if (!EVP_EncryptFinal_ex(s->ctx, scratch, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(s->ctx, EVP_CTRL_AEAD_GET_TAG, REC_TAG_LEN,
				 tag))
		return -MOAT_E_CRYPTO;
	s->next++;
	s->finished = final;
	return 0;
}

int seal_record_inplace(struct seal_stream *s, uint8_t *rec, size_t pt_len,
			bool final)
{
	uint8_t *body = rec + REC_HDR_LEN;
	int ret, outl;

	ret = seal_begin(s, pt_len, final, rec);
	if (ret)
		return ret;
	if (pt_len &&
	    (!EVP_EncryptUpdate(s->ctx, body, &outl, body, (int)pt_len) ||
	     (size_t)outl != pt_len))
		return -MOAT_E_CRYPTO;
	return seal_end(s, final, body + pt_len);
}

int seal_record_to(struct seal_stream *s, const struct iovec *src, int n_src,
		   bool final, uint8_t hdr[static REC_HDR_LEN], uint8_t *body,
		   uint8_t tag[static REC_TAG_LEN])
{
	size_t total = 0, off = 0;
	int i, ret, outl;

	for (i = 0; i < n_src; i++) {
		if (src[i].iov_len > REC_BODY_MAX - total)
			return -MOAT_E_LIMIT;
		total += src[i].iov_len;
	}
	ret = seal_begin(s, total, final, hdr);
	if (ret)
		return ret;
	for (i = 0; i < n_src; i++) {
		if (!src[i].iov_len)
			continue;
		if (!EVP_EncryptUpdate(s->ctx, body + off, &outl,
				       src[i].iov_base, (int)src[i].iov_len) ||
		    (size_t)outl != src[i].iov_len)
			return -MOAT_E_CRYPTO;
		off += src[i].iov_len;
	}
	return seal_end(s, final, tag);
}
