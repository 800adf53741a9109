/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internals shared by the sealing (stream.c) and opening (open.c) halves of
 * the record format. Not for use outside crypto/.
 */
#ifndef MOAT_CRYPTO_STREAM_PRIV_H
#define MOAT_CRYPTO_STREAM_PRIV_H

#include <openssl/evp.h>

#include "crypto/stream.h"

enum { REC_NONCE_LEN = 12, SEAL_WRAP_INFO_MAX = 64 + REC_HDR_LEN };

void rec_put_hdr(uint8_t out[static REC_HDR_LEN], uint8_t type,
		 uint32_t body_len, const uint8_t id[static REC_STREAM_ID_LEN],
		 uint64_t counter);
/* nonce = 11-byte big-endian counter || last-record flag. */
void rec_nonce(uint8_t nonce[static REC_NONCE_LEN], uint64_t counter,
	       bool final);
const EVP_CIPHER *seal_suite_cipher(enum seal_suite suite);
uint16_t seal_suite_hpke_aead(enum seal_suite suite);
int seal_subkey(const uint8_t k[static SEAL_KEY_LEN], const char *label,
		uint8_t out[static SEAL_KEY_LEN]);
int seal_header_tag(const uint8_t k[static SEAL_KEY_LEN], const uint8_t *hdr,
		    size_t len, uint8_t tag[static REC_TAG_LEN]);
/* Writes the HPKE info of a wrap into info (SEAL_WRAP_INFO_MAX bytes). */
size_t seal_wrap_info(uint8_t *info, const uint8_t *rec);

#endif
