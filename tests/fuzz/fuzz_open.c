// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the record splitter, the stream opener and the
 * frame parsers: the input is a stream file, opened by sf_open_buf() as a
 * viewer whose keys are fixed. With MOAT_FUZZ_SEED_DIR set, start-up writes
 * valid sealed streams for those keys there, so the fuzzer starts past the
 * crypto.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/rd.h"
#include "crypto/frame.h"
#include "crypto/hpke.h"
#include "crypto/stream.h"
#include "crypto/streamfile.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct seal_hub_key hub;
static struct seal_recipient rcpt;
static struct open_key vkey;
static struct open_identity ident;

static void fixed_keys(void)
{
	static const uint8_t ikm_h[] = "moat fuzz hub key";
	static const uint8_t ikm_v[] = "moat fuzz viewer key";

	hpke_derive_keypair(ikm_h, sizeof(ikm_h), hub.sk, hub.pk);
	hpke_derive_keypair(ikm_v, sizeof(ikm_v), vkey.sk, vkey.pk);
	memset(rcpt.viewer_id, 0x11, sizeof(rcpt.viewer_id));
	memset(rcpt.psk, 0x22, sizeof(rcpt.psk));
	memcpy(rcpt.pk, vkey.pk, SEAL_KEY_LEN);
	memcpy(ident.hub_pk, hub.pk, SEAL_KEY_LEN);
	memcpy(ident.viewer_id, rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(ident.psk, rcpt.psk, SEAL_PSK_LEN);
	ident.keys = &vkey;
	ident.n_keys = 1;
}

/* Seals n_rec data records (a metadata frame, then access units). */
static size_t make_seed(uint8_t *buf, size_t n_rec, enum seal_suite suite)
{
	struct seal_stream *s = seal_stream_new(suite);
	struct frame_meta m = { .camera = "fuzz", .codec = "h264", .kind = 1 };
	uint8_t fh[FRAME_HDR_LEN], payload[64];
	size_t off, hlen, i;

	off = seal_header_len(1);
	seal_stream_header(s, &hub, &rcpt, 1, buf, off, &hlen);
	for (i = 0; i < n_rec; i++) {
		struct frame_hdr f = { .kind = i ? FRAME_KIND_AU :
						   FRAME_KIND_META,
				       .flags = i == 1 ? FRAME_F_KEY : 0,
				       .ts_us = 1000 * i };
		long plen = i ? (long)(8 + i) : frame_meta_put(payload, 64, &m);
		struct iovec iov[2] = { { fh, FRAME_HDR_LEN },
					{ payload, (size_t)plen } };

		if (i)
			memset(payload, (int)i, (size_t)plen);
		frame_hdr_put(fh, &f);
		seal_record_to(s, iov, 2, i + 1 == n_rec, buf + off,
			       buf + off + REC_HDR_LEN,
			       buf + off + REC_HDR_LEN + FRAME_HDR_LEN + plen);
		off += REC_HDR_LEN + FRAME_HDR_LEN + (size_t)plen + REC_TAG_LEN;
	}
	seal_stream_free(s);
	return off;
}

static void write_seeds(const char *dir)
{
	uint8_t buf[4096];
	char path[4096];
	size_t n, len;
	FILE *f;

	for (n = 1; n <= 4; n++) {
		len = make_seed(buf, n,
				n % 2 ? SEAL_SUITE_AES256GCM :
					SEAL_SUITE_CHACHA20POLY1305);
		snprintf(path, sizeof(path), "%s/seed-%zu", dir, n);
		f = fopen(path, "wb");
		if (f) {
			fwrite(buf, 1, len, f);
			fclose(f);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("MOAT_FUZZ_SEED_DIR");

	fixed_keys();
	if (dir && *dir)
		write_seeds(dir);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sf_result res;

	sf_open_buf(data, size, &ident, NULL, NULL, &res);
	sf_result_free(&res);
	return 0;
}
