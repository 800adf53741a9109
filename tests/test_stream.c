// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sealed record streams: round trips for both suites and both sealing entry
 * points, then the tamper suite: every single-bit flip of every record of a
 * small stream is rejected with the error its field calls for; truncation,
 * reordering, replay, duplication, splicing, wrong viewer, wrong hub, wrong
 * pairing secret and unknown version each rejected with their own code;
 * random flips, drops and swaps on large streams; no plaintext released by
 * a failed open.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "common/err.h"
#include "common/rd.h"
#include "crypto/hpke.h"
#include "crypto/stream.h"
#include "tests/lib/check.h"

enum { MAX_RECS = 80 };

struct rec {
	uint8_t *p;
	size_t len;
};

struct sealed {
	struct rec r[MAX_RECS];
	size_t n;	       /* records including the header */
	uint8_t *pt[MAX_RECS]; /* plaintext of data record i (index 1..) */
	size_t pt_len[MAX_RECS];
};

struct viewer {
	struct seal_recipient rcpt;
	struct open_key key;
	struct open_identity id;
};

static struct seal_hub_key hub;
static struct viewer viewers[3]; /* 0 and 1 paired, 2 not a recipient */

static void make_viewer(struct viewer *v)
{
	hpke_generate_keypair(v->key.sk, v->key.pk);
	RAND_bytes(v->rcpt.viewer_id, sizeof(v->rcpt.viewer_id));
	RAND_bytes(v->rcpt.psk, sizeof(v->rcpt.psk));
	memcpy(v->rcpt.pk, v->key.pk, SEAL_KEY_LEN);
	memcpy(v->id.hub_pk, hub.pk, SEAL_KEY_LEN);
	memcpy(v->id.viewer_id, v->rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(v->id.psk, v->rcpt.psk, SEAL_PSK_LEN);
	v->id.keys = &v->key;
	v->id.n_keys = 1;
}

static void sealed_free(struct sealed *s)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		free(s->r[i].p);
		free(s->pt[i]);
	}
	memset(s, 0, sizeof(*s));
}

/* Seals n_data records of the given sizes; odd ones use seal_record_to. */
static int seal_stream(struct sealed *s, enum seal_suite suite,
		       const size_t *sizes, size_t n_data, size_t n_rcpt)
{
	struct seal_recipient r[2] = { viewers[0].rcpt, viewers[1].rcpt };
	struct seal_stream *ss = seal_stream_new(suite);
	size_t i, len;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (!ss)
		return -ENOMEM;
	/* Data first, header last: records never depend on the header. */
	for (i = 1; i <= n_data && !ret; i++) {
		size_t n = sizes[i - 1];
		bool final = i == n_data;
		uint8_t *rec = malloc(REC_HDR_LEN + n + REC_TAG_LEN);

		s->pt[i] = malloc(n + 1);
		RAND_bytes(s->pt[i], (int)n + 1);
		s->pt_len[i] = n;
		memcpy(rec + REC_HDR_LEN, s->pt[i], n);
		if (i % 2) {
			ret = seal_record_inplace(ss, rec, n, final);
		} else {
			struct iovec iov[3] = {
				{ s->pt[i], n / 3 },
				{ s->pt[i] + n / 3, 0 },
				{ s->pt[i] + n / 3, n - n / 3 },
			};

			ret = seal_record_to(ss, iov, 3, final, rec,
					     rec + REC_HDR_LEN,
					     rec + REC_HDR_LEN + n);
		}
		s->r[i] = (struct rec){ rec, REC_HDR_LEN + n + REC_TAG_LEN };
	}
	len = seal_header_len(n_rcpt);
	s->r[0].p = malloc(len);
	if (!ret)
		ret = seal_stream_header(ss, &hub, r, n_rcpt, s->r[0].p, len,
					 &s->r[0].len);
	s->n = n_data + 1;
	seal_stream_free(ss);
	return ret;
}

/*
 * Opens records [0, n) of s as viewer v; returns 0 or the first error and
 * the index of the record that failed. Checks plaintext on success.
 */
static int open_all(const struct sealed *s, const struct rec *recs, size_t n,
		    const struct open_identity *id, size_t *at)
{
	struct open_stream *os = open_stream_new(id);
	uint8_t *out = malloc(REC_BODY_MAX);
	size_t i, out_len;
	bool final;
	int ret = 0;

	*at = n;
	for (i = 0; i < n && !ret; i++) {
		ret = open_record(os, recs[i].p, recs[i].len, out, REC_BODY_MAX,
				  &out_len, &final);
		if (ret) {
			*at = i;
			break;
		}
		if (i > 0 && s &&
		    (out_len != s->pt_len[i] || memcmp(out, s->pt[i], out_len)))
			ret = -1000;
	}
	if (!ret)
		ret = open_stream_finish(os);
	open_stream_free(os);
	free(out);
	return ret;
}

static void test_round_trips(void)
{
	static const size_t sizes[] = { 0, 1, 15, 16, 17, 1000, 65536, 3 };
	enum seal_suite suites[] = { SEAL_SUITE_AES256GCM,
				     SEAL_SUITE_CHACHA20POLY1305 };
	struct sealed s;
	size_t i, at;
	int v;

	for (i = 0; i < 2; i++) {
		CHECK(seal_stream(&s, suites[i], sizes, 8, 2) == 0, "seal %s",
		      seal_suite_name(suites[i]));
		CHECK(s.r[0].len == seal_header_len(2), "header length");
		for (v = 0; v < 2; v++)
			CHECK(open_all(&s, s.r, s.n, &viewers[v].id, &at) == 0,
			      "viewer %d opens %s stream (failed at %zu)", v,
			      seal_suite_name(suites[i]), at);
		CHECK(open_all(&s, s.r, s.n, &viewers[2].id, &at) ==
				      -MOAT_E_NOT_RECIPIENT &&
			      at == 0,
		      "unpaired viewer refused");
		sealed_free(&s);
	}
}

/* A viewer that rotated keeps its old key: both open. */
static void test_rotation(void)
{
	static const size_t sizes[] = { 100, 200 };
	struct open_key keys[2];
	struct open_identity id = viewers[0].id;
	struct sealed s;
	size_t at;

	hpke_generate_keypair(keys[0].sk, keys[0].pk);
	keys[1] = viewers[0].key;
	id.keys = keys;
	id.n_keys = 2;
	CHECK(seal_stream(&s, SEAL_SUITE_AES256GCM, sizes, 2, 2) == 0, "seal");
	CHECK(open_all(&s, s.r, s.n, &id, &at) == 0,
	      "viewer holding new and old key opens stream sealed to old");
	id.n_keys = 1;
	CHECK(open_all(&s, s.r, s.n, &id, &at) == -MOAT_E_NOT_RECIPIENT,
	      "viewer that erased the old key cannot");
	sealed_free(&s);
}

/* Expected rejection for a bit flip at byte off of a data record. */
static int expect_data_flip(const struct rec *r, size_t off, uint8_t bit,
			    uint64_t counter)
{
	uint8_t v = r->p[off] ^ bit;
	uint64_t c;

	if (off == 0)
		return -MOAT_E_VERSION;
	if (off == 1) {
		if (v == REC_TYPE_DATA || v == REC_TYPE_FINAL)
			return -MOAT_E_AUTH;
		return -MOAT_E_MALFORMED;
	}
	if (off < 4)
		return -MOAT_E_MALFORMED;
	if (off < 8)
		return -MOAT_E_LENGTH;
	if (off < 24)
		return -MOAT_E_STREAM_ID;
	if (off < 32) {
		c = counter ^ ((uint64_t)bit << (8 * (31 - off)));
		return c < counter ? -MOAT_E_REPLAY : -MOAT_E_REORDER;
	}
	return -MOAT_E_AUTH;
}

/* Expected rejection for a bit flip in the stream header (viewer 0). */
static int expect_header_flip(const struct rec *r, size_t off, uint8_t bit)
{
	const size_t fixed = REC_HDR_LEN + SEAL_HDR_FIXED;
	uint8_t v = r->p[off] ^ bit;

	if (off == 0)
		return -MOAT_E_VERSION;
	if (off == 1)
		return v == REC_TYPE_FINAL || v == REC_TYPE_DATA ?
			       -MOAT_E_NO_HEADER :
			       -MOAT_E_MALFORMED;
	if (off < 4)
		return -MOAT_E_MALFORMED;
	if (off < 8)
		return -MOAT_E_LENGTH;
	if (off < 24)
		return -MOAT_E_UNWRAP; /* stream id is in the wrap's info */
	if (off < 32)
		return -MOAT_E_MALFORMED; /* header counter must be 0 */
	if (off == 32)
		return -MOAT_E_SUITE;
	if (off == 33)
		return v < 1 || v > SEAL_MAX_RECIPIENTS ? -MOAT_E_MALFORMED :
							  -MOAT_E_LENGTH;
	if (off < 36)
		return -MOAT_E_MALFORMED;
	if (off < fixed)
		return -MOAT_E_NOT_RECIPIENT; /* hub id */
	if (off < fixed + SEAL_KEY_ID_LEN)    /* our wrap's key id */
		return -MOAT_E_NOT_RECIPIENT;
	if (off < fixed + SEAL_WRAP_LEN) /* our enc and wrapped key */
		return -MOAT_E_UNWRAP;
	return -MOAT_E_HEADER_AUTH; /* others' wraps, the tag */
}

static void test_every_bit(enum seal_suite suite)
{
	static const size_t sizes[] = { 5, 0, 9 };
	struct sealed s;
	size_t i, off, at, tried = 0, wrong = 0;
	int b, want, got;

	CHECK(seal_stream(&s, suite, sizes, 3, 2) == 0, "seal");
	for (i = 0; i < s.n; i++) {
		for (off = 0; off < s.r[i].len; off++) {
			for (b = 0; b < 8; b++) {
				uint8_t bit = (uint8_t)(1U << b);

				want = i == 0 ? expect_header_flip(&s.r[i], off,
								   bit) :
						expect_data_flip(&s.r[i], off,
								 bit, i);
				s.r[i].p[off] ^= bit;
				got = open_all(&s, s.r, s.n, &viewers[0].id,
					       &at);
				s.r[i].p[off] ^= bit;
				tried++;
				if (got == want && at == i)
					continue;
				if (wrong++ < 10)
					fprintf(stderr,
						"record %zu byte %zu bit %d: got %d (%s) at %zu, want %d (%s)\n",
						i, off, b, got,
						moat_strerror(got), at, want,
						moat_strerror(want));
			}
		}
	}
	CHECK(wrong == 0,
	      "%s: %zu of %zu single-bit flips not rejected as "
	      "expected",
	      seal_suite_name(suite), wrong, tried);
	CHECK(open_all(&s, s.r, s.n, &viewers[0].id, &at) == 0,
	      "untouched stream still opens after the flips");
	printf("%s: %zu single-bit flips over %zu records, each rejected with its own code\n",
	       seal_suite_name(suite), tried, s.n);
	sealed_free(&s);
}

static int open_seq(const struct sealed *s, const size_t *order, size_t n,
		    size_t *at)
{
	struct rec recs[MAX_RECS];
	size_t i;

	for (i = 0; i < n; i++)
		recs[i] = s->r[order[i]];
	return open_all(NULL, recs, n, &viewers[1].id, at);
}

static void test_order(void)
{
	static const size_t sizes[] = { 10, 20, 30, 40 };
	struct sealed s, other;
	struct rec recs[MAX_RECS];
	size_t at;

	CHECK(seal_stream(&s, SEAL_SUITE_AES256GCM, sizes, 4, 2) == 0, "seal");
	CHECK(seal_stream(&other, SEAL_SUITE_AES256GCM, sizes, 4, 2) == 0,
	      "seal");
	CHECK(open_seq(&s, (size_t[]){ 0, 1, 2, 3 }, 4, &at) ==
		      -MOAT_E_TRUNCATED,
	      "missing final record -> truncated");
	CHECK(open_seq(&s, (size_t[]){ 0 }, 1, &at) == -MOAT_E_TRUNCATED,
	      "header only -> truncated");
	CHECK(open_seq(&s, (size_t[]){ 0, 2, 1, 3, 4 }, 5, &at) ==
			      -MOAT_E_REORDER &&
		      at == 1,
	      "swap -> reorder");
	CHECK(open_seq(&s, (size_t[]){ 0, 1, 1, 2 }, 4, &at) ==
			      -MOAT_E_REPLAY &&
		      at == 2,
	      "duplicate -> replay");
	CHECK(open_seq(&s, (size_t[]){ 0, 1, 2, 3, 2 }, 5, &at) ==
			      -MOAT_E_REPLAY &&
		      at == 4,
	      "old record replayed");
	CHECK(open_seq(&s, (size_t[]){ 0, 1, 0 }, 3, &at) == -MOAT_E_REPLAY &&
		      at == 2,
	      "header replayed");
	CHECK(open_seq(&s, (size_t[]){ 0, 1, 2, 3, 4, 4 }, 6, &at) ==
			      -MOAT_E_AFTER_FINAL &&
		      at == 5,
	      "after final");
	CHECK(open_seq(&s, (size_t[]){ 1, 2 }, 2, &at) == -MOAT_E_NO_HEADER,
	      "data before header");
	/* Splice: record 2 of another stream, as is and with our id. */
	memcpy(recs, s.r, sizeof(recs));
	recs[2] = other.r[2];
	CHECK(open_all(NULL, recs, 5, &viewers[1].id, &at) ==
			      -MOAT_E_STREAM_ID &&
		      at == 2,
	      "spliced record");
	memcpy(other.r[2].p + 8, s.r[0].p + 8, REC_STREAM_ID_LEN);
	CHECK(open_all(NULL, recs, 5, &viewers[1].id, &at) == -MOAT_E_AUTH &&
		      at == 2,
	      "spliced record with rewritten id");
	recs[0] = other.r[0];
	recs[2] = s.r[2];
	CHECK(open_all(NULL, recs, 5, &viewers[1].id, &at) ==
			      -MOAT_E_STREAM_ID &&
		      at == 1,
	      "another stream's header");
	/* A record cut short, or with bytes appended. */
	recs[0] = s.r[0];
	recs[3].len--;
	CHECK(open_all(NULL, recs, 5, &viewers[1].id, &at) == -MOAT_E_LENGTH &&
		      at == 3,
	      "short record");
	sealed_free(&s);
	sealed_free(&other);
}

static void test_wrong_keys(void)
{
	static const size_t sizes[] = { 64 };
	struct open_identity id = viewers[0].id;
	struct sealed s;
	size_t at;

	CHECK(seal_stream(&s, SEAL_SUITE_CHACHA20POLY1305, sizes, 1, 2) == 0,
	      "seal");
	id.psk[0] ^= 1;
	CHECK(open_all(&s, s.r, s.n, &id, &at) == -MOAT_E_UNWRAP,
	      "wrong pairing secret -> unwrap fails");
	id = viewers[0].id;
	id.viewer_id[3] ^= 0x40;
	CHECK(open_all(&s, s.r, s.n, &id, &at) == -MOAT_E_UNWRAP,
	      "wrong viewer id (psk_id) -> unwrap fails");
	id = viewers[0].id;
	memcpy(id.hub_pk, viewers[2].key.pk, SEAL_KEY_LEN);
	CHECK(open_all(&s, s.r, s.n, &id, &at) == -MOAT_E_NOT_RECIPIENT,
	      "another hub's key -> refused");
	s.r[1].p[0] = 2;
	CHECK(open_all(&s, s.r, s.n, &viewers[0].id, &at) == -MOAT_E_VERSION &&
		      at == 1,
	      "version 2 record -> unknown version");
	sealed_free(&s);
}

/* A failed open must leave no plaintext in the caller's buffer. */
static void test_no_release(void)
{
	static const size_t sizes[] = { 4096 };
	struct open_stream *os;
	struct sealed s;
	uint8_t *out = calloc(1, 8192);
	size_t n, zero = 0, i;
	bool final;

	CHECK(seal_stream(&s, SEAL_SUITE_AES256GCM, sizes, 1, 1) == 0, "seal");
	os = open_stream_new(&viewers[0].id);
	CHECK(open_record(os, s.r[0].p, s.r[0].len, out, 8192, &n, &final) == 0,
	      "header");
	s.r[1].p[s.r[1].len - 1] ^= 1; /* tag */
	CHECK(open_record(os, s.r[1].p, s.r[1].len, out, 8192, &n, &final) ==
		      -MOAT_E_AUTH,
	      "tag flip");
	for (i = 0; i < 4096; i++)
		zero += out[i] == 0;
	CHECK(zero == 4096 && n == 0,
	      "no plaintext byte left after a failed tag");
	CHECK(strstr(open_stream_why(os), "record 1") != NULL,
	      "reason names the record: %s", open_stream_why(os));
	CHECK(open_stream_finish(os) == -MOAT_E_AUTH, "stream stays dead");
	open_stream_free(os);
	sealed_free(&s);
	free(out);
}

static void test_random_large(void)
{
	size_t sizes[64], i, at, trial, bad = 0;
	struct sealed s;
	uint32_t rnd;

	for (i = 0; i < 64; i++) {
		RAND_bytes((uint8_t *)&rnd, sizeof(rnd));
		sizes[i] = rnd % (256 << 10);
	}
	CHECK(seal_stream(&s, SEAL_SUITE_AES256GCM, sizes, 64, 2) == 0,
	      "seal 64 records");
	CHECK(open_all(&s, s.r, s.n, &viewers[1].id, &at) == 0,
	      "large stream opens");
	for (trial = 0; trial < 300; trial++) {
		size_t r, off;
		uint8_t bit;
		int got, want;

		RAND_bytes((uint8_t *)&rnd, sizeof(rnd));
		r = 1 + rnd % 64;
		RAND_bytes((uint8_t *)&rnd, sizeof(rnd));
		off = rnd % s.r[r].len;
		bit = (uint8_t)(1U << (rnd >> 29));
		want = expect_data_flip(&s.r[r], off, bit, r);
		s.r[r].p[off] ^= bit;
		got = open_all(&s, s.r, s.n, &viewers[1].id, &at);
		s.r[r].p[off] ^= bit;
		bad += got != want || at != r;
	}
	CHECK(bad == 0,
	      "%zu of 300 random flips on a 64-record stream not "
	      "rejected as expected",
	      bad);
	CHECK(open_all(&s, s.r, s.n - 1, &viewers[1].id, &at) ==
		      -MOAT_E_TRUNCATED,
	      "large stream without its final");
	sealed_free(&s);
}

static void test_api_edges(void)
{
	struct seal_stream *ss = seal_stream_new(SEAL_SUITE_AES256GCM);
	struct seal_recipient r[SEAL_MAX_RECIPIENTS + 1];
	uint8_t rec[64], big[4096];
	size_t len;
	int i;

	CHECK(seal_stream_next(ss) == 1, "first data counter is 1");
	CHECK(seal_record_inplace(ss, rec, 8, true) == 0, "final record");
	CHECK(seal_record_inplace(ss, rec, 8, false) == -EPIPE,
	      "no record after the final one");
	for (i = 0; i <= SEAL_MAX_RECIPIENTS; i++)
		r[i] = viewers[i % 2].rcpt;
	CHECK(seal_stream_header(ss, &hub, r, 0, big, sizeof(big), &len) ==
		      -EINVAL,
	      "zero recipients refused");
	CHECK(seal_stream_header(ss, &hub, r, SEAL_MAX_RECIPIENTS + 1, big,
				 sizeof(big), &len) == -EINVAL,
	      "17 recipients refused");
	CHECK(seal_stream_header(ss, &hub, r, SEAL_MAX_RECIPIENTS, big,
				 sizeof(big), &len) == 0 &&
		      len == seal_header_len(16),
	      "16 recipients fit");
	CHECK(seal_stream_header(ss, &hub, r, 2, big, 100, &len) == -ENOBUFS,
	      "small buffer refused");
	seal_stream_free(ss);
	seal_stream_free(NULL);
	open_stream_free(NULL);
}

/* AT_HWCAP of real boards, from the Features line of their /proc/cpuinfo
 * (asm/hwcap.h bit per word), and what moat must pick on each. */
static const struct {
	const char *board;
	unsigned long hwcap;
	enum seal_suite suite;
} boards[] = {
	/* fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp
	 * cpuid asimdrdm lrcpc dcpop asimddp */
	{ "Pi 5 (Cortex-A76)", 0x119fff, SEAL_SUITE_AES256GCM },
	/* fp asimd evtstrm crc32 cpuid: no crypto extensions */
	{ "Pi 4 (Cortex-A72)", 0x887, SEAL_SUITE_CHACHA20POLY1305 },
	{ "Pi 4 with AES but no PMULL", 0x887 | SEAL_HWCAP_AES,
	  SEAL_SUITE_CHACHA20POLY1305 },
	{ "Pi 4 with PMULL but no AES", 0x887 | SEAL_HWCAP_PMULL,
	  SEAL_SUITE_CHACHA20POLY1305 },
};

/* MOAT_TEST_CPU_CIPHER names the suite this (emulated) CPU must get:
 * tests/run-tests.sh sets it where it knows the CPU's AT_HWCAP. */
static void test_live_cpu(void)
{
	const char *want_name = getenv("MOAT_TEST_CPU_CIPHER");
	enum seal_suite want, s;
	const char *why;

#if defined(__aarch64__)
	printf("AT_HWCAP %#lx: %s\n", getauxval(AT_HWCAP),
	       seal_cpu_has_aes() ? "AES and PMULL" : "no AES and PMULL");
#endif
	if (!want_name)
		return;
	CHECK(seal_suite_parse(want_name, &want) == 0,
	      "MOAT_TEST_CPU_CIPHER `%s' is a suite", want_name);
	CHECK(seal_suite_default(&s, &why) == 0 && s == want,
	      "this CPU gets %s (%s)", want_name, why);
}

static void test_suite_choice(void)
{
	enum seal_suite s;
	const char *why;

	CHECK(seal_suite_for_cpu(true) == SEAL_SUITE_AES256GCM,
	      "AES CPU -> AES-256-GCM");
	CHECK(seal_suite_for_cpu(false) == SEAL_SUITE_CHACHA20POLY1305,
	      "no AES -> ChaCha20-Poly1305");
	for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++)
		CHECK(seal_suite_for_cpu(seal_arm64_hwcap_has_aes(
			      boards[i].hwcap)) == boards[i].suite,
		      "%s -> %s", boards[i].board,
		      seal_suite_name(boards[i].suite));
	setenv("MOAT_CIPHER", "chacha20-poly1305", 1);
	CHECK(seal_suite_default(&s, &why) == 0 &&
		      s == SEAL_SUITE_CHACHA20POLY1305,
	      "MOAT_CIPHER overrides");
	setenv("MOAT_CIPHER", "rot13", 1);
	CHECK(seal_suite_default(&s, &why) == -EINVAL, "unknown cipher name");
	unsetenv("MOAT_CIPHER");
	CHECK(seal_suite_default(&s, &why) == 0 &&
		      s == seal_suite_for_cpu(seal_cpu_has_aes()),
	      "default follows the CPU");
	test_live_cpu();
}

int main(void)
{
	hpke_generate_keypair(hub.sk, hub.pk);
	for (int i = 0; i < 3; i++)
		make_viewer(&viewers[i]);
	test_round_trips();
	test_rotation();
	test_every_bit(SEAL_SUITE_AES256GCM);
	test_every_bit(SEAL_SUITE_CHACHA20POLY1305);
	test_order();
	test_wrong_keys();
	test_no_release();
	test_random_large();
	test_api_edges();
	test_suite_choice();
	return test_done("test_stream");
}
