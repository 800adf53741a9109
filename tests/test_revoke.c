// SPDX-License-Identifier: GPL-2.0-only
/*
 * Viewers come and go through the hub's key store: streams are wrapped to
 * whoever ks_viewer_list() returns. Three viewers pair; a stream is sealed
 * to all; one is removed; the next stream opens for the two left and not
 * for the removed one, who can still open what was sealed before.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/err.h"
#include "crypto/keystore.h"
#include "crypto/streamfile.h"
#include "tests/lib/check.h"

enum { N = 3 };

static char root[] = "/tmp/moat-revoke.XXXXXX";
static struct ks_identity ids[N];
static struct open_identity oids[N];

static void pair(const char *keys, const struct seal_hub_key *hub, int i)
{
	struct ks_viewer v = { .state = KS_VIEWER_APPROVED };

	memcpy(ids[i].hub_pk, hub->pk, SEAL_KEY_LEN);
	RAND_bytes(ids[i].viewer_id, SEAL_VIEWER_ID_LEN);
	RAND_bytes(ids[i].psk, SEAL_PSK_LEN);
	snprintf(ids[i].name, sizeof(ids[i].name), "viewer %d", i);
	CHECK(ks_identity_new_key(&ids[i]) == 0, "viewer key");
	v.rcpt = (struct seal_recipient){ 0 };
	memcpy(v.rcpt.viewer_id, ids[i].viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(v.rcpt.pk, ids[i].keys[0].pk, SEAL_KEY_LEN);
	memcpy(v.rcpt.psk, ids[i].psk, SEAL_PSK_LEN);
	snprintf(v.name, sizeof(v.name), "viewer %d", i);
	v.added = time(NULL);
	CHECK(ks_viewer_save(keys, &v) == 0, "save viewer %d", i);
	ks_identity_open(&ids[i], &oids[i]);
}

/* Seals a one-frame stream to every viewer the key store lists. */
static size_t seal_to_store(const char *keys, const struct seal_hub_key *hub,
			    uint8_t *buf, size_t cap)
{
	struct seal_stream *s = seal_stream_new(SEAL_SUITE_AES256GCM);
	struct seal_recipient r[SEAL_MAX_RECIPIENTS];
	struct ks_viewer *list = NULL;
	size_t n = 0, i, hlen = 0;
	uint8_t *rec;

	CHECK(ks_viewer_list(keys, &list, &n) == 0 && n > 0, "list viewers");
	for (i = 0; i < n; i++)
		r[i] = list[i].rcpt;
	ks_viewer_list_free(list, n);
	CHECK(seal_stream_header(s, hub, r, n, buf, cap, &hlen) == 0,
	      "header to %zu", n);
	rec = buf + hlen;
	memcpy(rec + REC_HDR_LEN, (uint8_t[]){ FRAME_KIND_AU,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       0,
					       1,
					       0,
					       0,
					       0,
					       1,
					       0x65 },
	       21);
	CHECK(seal_record_inplace(s, rec, 21, true) == 0, "record");
	seal_stream_free(s);
	return hlen + REC_HDR_LEN + 21 + REC_TAG_LEN;
}

static int opens(const uint8_t *buf, size_t len, int i)
{
	struct sf_result res;
	int ret = sf_open_buf(buf, len, &oids[i], NULL, NULL, &res);

	sf_result_free(&res);
	return ret;
}

static int rm_one(const char *p, const struct stat *st, int f, struct FTW *w)
{
	return remove(p);
}

int main(void)
{
	static uint8_t before[4096], after[4096];
	struct seal_hub_key hub;
	size_t nb, na;
	char keys[64];
	int i;

	if (!mkdtemp(root))
		return 1;
	snprintf(keys, sizeof(keys), "%s/keys", root);
	CHECK(ks_hub_create(keys, &hub) == 0, "hub key");
	for (i = 0; i < N; i++)
		pair(keys, &hub, i);
	nb = seal_to_store(keys, &hub, before, sizeof(before));
	for (i = 0; i < N; i++)
		CHECK(opens(before, nb, i) == 0, "viewer %d opens stream 1", i);
	CHECK(ks_viewer_remove(keys, ids[1].viewer_id) == 0, "remove viewer 1");
	na = seal_to_store(keys, &hub, after, sizeof(after));
	CHECK(na == nb - SEAL_WRAP_LEN, "next header wraps to one fewer");
	CHECK(opens(after, na, 0) == 0 && opens(after, na, 2) == 0,
	      "the others open stream 2");
	CHECK(opens(after, na, 1) == -MOAT_E_NOT_RECIPIENT,
	      "removed viewer cannot open stream 2");
	CHECK(opens(before, nb, 1) == 0,
	      "removed viewer still opens what was sealed before");
	for (i = 0; i < N; i++)
		ks_identity_wipe(&ids[i]);
	ks_hub_wipe(&hub);
	nftw(root, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	return test_done("test_revoke");
}
