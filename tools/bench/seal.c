// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench seal: sealing throughput of both entry points (in place, and
 * source to caller buffer) for each suite and record size, beside
 * OpenSSL's own EVP AEAD on the same sizes in the same run (what
 * `openssl speed -evp` measures: set IV, encrypt, final, get tag). Runs are
 * interleaved (EVP, in place, to buffer, EVP, ...) and timed in thread CPU
 * time; each figure is the median of the runs, each ratio the median of the
 * per-round ratios.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "crypto/stream.h"
#include "tools/bench/bench.h"

enum { V_EVP, V_INPLACE, V_TO, V_MAX, MAX_SIZES = 16, MAX_RUNS = 64 };

static const char *const vnames[V_MAX] = { "evp", "in_place", "to_buffer" };

struct seal_opts {
	size_t sizes[MAX_SIZES];
	size_t n_sizes;
	enum seal_suite suites[2];
	size_t n_suites;
	int runs;
	double secs;
	bool json;
	bool check;
};

struct seal_cell {
	enum seal_suite suite;
	size_t size;
	double mbps[V_MAX];  /* medians */
	double lo[V_MAX], hi[V_MAX]; /* the runs' spread */
	double ratio[V_MAX]; /* median of per-round ratios to EVP */
};

struct seal_bufs {
	uint8_t *src; /* plaintext source */
	uint8_t *rec; /* header + body + tag */
	EVP_CIPHER_CTX *evp;
	struct seal_stream *s[V_MAX];
	uint64_t iv_ctr;
};

static int evp_once(struct seal_bufs *b, size_t n)
{
	uint8_t iv[12] = { 0 }, tag[16];
	int outl;

	memcpy(iv + 4, &b->iv_ctr, 8);
	b->iv_ctr++;
	if (!EVP_EncryptInit_ex(b->evp, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(b->evp, b->rec, &outl, b->rec, (int)n) ||
	    !EVP_EncryptFinal_ex(b->evp, b->rec + n, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(b->evp, EVP_CTRL_AEAD_GET_TAG, 16, tag))
		return -1;
	return 0;
}

static int op_once(struct seal_bufs *b, int v, size_t n)
{
	struct iovec iov = { b->src, n };

	switch (v) {
	case V_EVP:
		return evp_once(b, n);
	case V_INPLACE:
		return seal_record_inplace(b->s[v], b->rec, n, false);
	default:
		return seal_record_to(b->s[v], &iov, 1, false, b->rec,
				      b->rec + REC_HDR_LEN,
				      b->rec + REC_HDR_LEN + n);
	}
}

/* MB/s (10^6 bytes per CPU second) of one variant for about secs. */
static double run_variant(struct seal_bufs *b, int v, size_t n, double secs)
{
	double t0 = bench_cpu_now(), t;
	uint64_t ops = 0;
	int i, batch = n >= 65536 ? 1 : (int)(65536 / n);

	do {
		for (i = 0; i < batch; i++)
			if (op_once(b, v, n))
				return -1;
		ops += (uint64_t)batch;
		t = bench_cpu_now() - t0;
	} while (t < secs);
	return (double)ops * (double)n / t / 1e6;
}

static int bufs_init(struct seal_bufs *b, enum seal_suite suite, size_t max)
{
	uint8_t key[32];
	int v;

	memset(b, 0, sizeof(*b));
	b->src = malloc(max);
	b->rec = malloc(REC_HDR_LEN + max + REC_TAG_LEN);
	b->evp = EVP_CIPHER_CTX_new();
	if (!b->src || !b->rec || !b->evp)
		return -ENOMEM;
	RAND_bytes(b->src, (int)max);
	memcpy(b->rec + REC_HDR_LEN, b->src, max);
	RAND_bytes(key, sizeof(key));
	if (!EVP_EncryptInit_ex(b->evp,
				suite == SEAL_SUITE_AES256GCM ?
					EVP_aes_256_gcm() :
					EVP_chacha20_poly1305(),
				NULL, key, NULL))
		return -EINVAL;
	for (v = V_INPLACE; v < V_MAX; v++) {
		b->s[v] = seal_stream_new(suite);
		if (!b->s[v])
			return -ENOMEM;
	}
	return 0;
}

static void bufs_free(struct seal_bufs *b)
{
	int v;

	free(b->src);
	free(b->rec);
	EVP_CIPHER_CTX_free(b->evp);
	for (v = 0; v < V_MAX; v++)
		seal_stream_free(b->s[v]);
}

static int measure_cell(struct seal_bufs *b, const struct seal_opts *o,
			struct seal_cell *c)
{
	double mbps[V_MAX][MAX_RUNS], ratio[V_MAX][MAX_RUNS];
	int r, v;

	for (r = 0; r < o->runs; r++) {
		if (isatty(STDERR_FILENO))
			fprintf(stderr, "\r  %s %zu B, run %d/%d   ",
				seal_suite_name(c->suite), c->size, r + 1,
				o->runs);
		for (v = 0; v < V_MAX; v++) {
			mbps[v][r] = run_variant(b, v, c->size, o->secs);
			if (mbps[v][r] < 0)
				return -1;
		}
		for (v = 0; v < V_MAX; v++)
			ratio[v][r] = mbps[v][r] / mbps[V_EVP][r];
	}
	for (v = 0; v < V_MAX; v++) {
		c->mbps[v] = bench_median(mbps[v], (size_t)o->runs);
		c->ratio[v] = bench_median(ratio[v], (size_t)o->runs);
		c->lo[v] = c->hi[v] = mbps[v][0];
		for (r = 1; r < o->runs; r++) {
			c->lo[v] = mbps[v][r] < c->lo[v] ? mbps[v][r] : c->lo[v];
			c->hi[v] = mbps[v][r] > c->hi[v] ? mbps[v][r] : c->hi[v];
		}
	}
	return 0;
}

static void print_table(const struct seal_opts *o, const struct seal_cell *c,
			size_t n)
{
	struct bench_machine m;
	char sz[32];
	size_t i;

	bench_machine(&m);
	bench_machine_print(stdout, &m);
	printf("seal: MB/s per CPU second, median of %d interleaved runs of %.2f s; ratio = moat / EVP within each run\n\n",
	       o->runs, o->secs);
	printf("| suite | record | OpenSSL EVP | in place | ratio | to buffer | ratio |\n");
	printf("|---|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < n; i++)
		printf("| %s | %s | %.0f | %.0f | %.3f | %.0f | %.3f |\n",
		       seal_suite_name(c[i].suite),
		       bench_size_str(c[i].size, sz, sizeof(sz)),
		       c[i].mbps[V_EVP], c[i].mbps[V_INPLACE],
		       c[i].ratio[V_INPLACE], c[i].mbps[V_TO],
		       c[i].ratio[V_TO]);
}

static void print_json(const struct seal_opts *o, const struct seal_cell *c,
		       size_t n)
{
	struct bench_machine m;
	size_t i;
	int v;

	bench_machine(&m);
	printf("{\"bench\": \"seal\", \"machine\": ");
	bench_machine_json(stdout, &m);
	printf(", \"runs\": %d, \"seconds\": %.3f, \"unit\": \"MB/s per CPU second\", \"cells\": [",
	       o->runs, o->secs);
	for (i = 0; i < n; i++) {
		printf("%s\n  {\"suite\": \"%s\", \"size\": %zu", i ? "," : "",
		       seal_suite_name(c[i].suite), c[i].size);
		for (v = 0; v < V_MAX; v++)
			printf(", \"%s\": %.1f, \"%s_min\": %.1f, \"%s_max\": %.1f",
			       vnames[v], c[i].mbps[v], vnames[v], c[i].lo[v],
			       vnames[v], c[i].hi[v]);
		printf(", \"in_place_ratio\": %.4f, \"to_buffer_ratio\": %.4f}",
		       c[i].ratio[V_INPLACE], c[i].ratio[V_TO]);
	}
	printf("\n]}\n");
}

/* Both entry points at >= 0.9 of EVP from 16 KiB up? */
static bool meets_target(const struct seal_cell *c, size_t n, FILE *f)
{
	bool ok = true;
	size_t i;

	for (i = 0; i < n; i++) {
		if (c[i].size < 16384)
			continue;
		if (c[i].ratio[V_INPLACE] < 0.9 || c[i].ratio[V_TO] < 0.9) {
			ok = false;
			if (f)
				fprintf(f, "below target: %s %zu B\n",
					seal_suite_name(c[i].suite), c[i].size);
		}
	}
	return ok;
}

static void seal_usage(FILE *f)
{
	fprintf(f,
		"Usage: moat-bench seal [--sizes LIST] [--suite NAME] [--runs N]\n"
		"                       [--seconds S] [--json] [--check]\n\n"
		"Seals records of each size with each cipher suite through both\n"
		"moat entry points (in place; from a source buffer into caller\n"
		"memory) and through OpenSSL's bare EVP AEAD, interleaved in the same\n"
		"run, and prints MB/s and the ratio moat/EVP (target: 0.9 or more\n"
		"from 16 KiB up).\n\n"
		"  --sizes LIST   comma-separated sizes (default 1k,4k,16k,64k,256k,1m)\n"
		"  --suite NAME   aes-256-gcm, chacha20-poly1305 or all (default all)\n"
		"  --runs N       interleaved runs per cell, 1-64 (default 5)\n"
		"  --seconds S    CPU seconds per run and variant (default 0.2)\n"
		"  --json         one JSON object on stdout instead of the table\n"
		"  --check        exit 1 if a ratio from 16 KiB up is below 0.9\n");
}

static int parse_sizes(struct seal_opts *o, char *list)
{
	char *tok, *save = NULL;

	o->n_sizes = 0;
	for (tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t v = bench_parse_size(tok);

		if (!v || o->n_sizes == MAX_SIZES) {
			fprintf(stderr,
				"moat-bench seal: size `%s' is not a size from 1 to 16m (or more than %d sizes)\n",
				tok, MAX_SIZES);
			return -EINVAL;
		}
		o->sizes[o->n_sizes++] = v;
	}
	return o->n_sizes ? 0 : -EINVAL;
}

static int parse_suite(struct seal_opts *o, const char *name)
{
	if (!strcmp(name, "all")) {
		o->suites[0] = SEAL_SUITE_AES256GCM;
		o->suites[1] = SEAL_SUITE_CHACHA20POLY1305;
		o->n_suites = 2;
		return 0;
	}
	o->n_suites = 1;
	if (seal_suite_parse(name, &o->suites[0]) == 0)
		return 0;
	fprintf(stderr,
		"moat-bench seal: suite `%s' is not aes-256-gcm, chacha20-poly1305 or all\n",
		name);
	return -EINVAL;
}

static int parse_opts(struct seal_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sizes", required_argument, NULL, 'z' },
		{ "suite", required_argument, NULL, 's' },
		{ "runs", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", no_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char defsizes[] = "1k,4k,16k,64k,256k,1m";
	int c;

	memset(o, 0, sizeof(*o));
	o->runs = 5;
	o->secs = 0.2;
	parse_sizes(o, defsizes);
	parse_suite(o, "all");
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'z':
			if (parse_sizes(o, optarg))
				return -EINVAL;
			break;
		case 's':
			if (parse_suite(o, optarg))
				return -EINVAL;
			break;
		case 'r':
			o->runs = atoi(optarg);
			if (o->runs < 1 || o->runs > MAX_RUNS) {
				fprintf(stderr,
					"moat-bench seal: --runs `%s' is not 1-%d\n",
					optarg, MAX_RUNS);
				return -EINVAL;
			}
			break;
		case 't':
			o->secs = atof(optarg);
			if (o->secs <= 0 || o->secs > 60) {
				fprintf(stderr,
					"moat-bench seal: --seconds `%s' is not between 0 and 60\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'j':
			o->json = true;
			break;
		case 'c':
			o->check = true;
			break;
		case 'h':
			seal_usage(stdout);
			exit(0);
		default:
			seal_usage(stderr);
			return -EINVAL;
		}
	}
	return 0;
}

int bench_seal(int argc, char **argv)
{
	struct seal_cell cells[2 * MAX_SIZES];
	struct seal_bufs b;
	struct seal_opts o;
	size_t i, j, n = 0, max = 0;
	int ret = 0;

	if (parse_opts(&o, argc, argv))
		return 2;
	for (j = 0; j < o.n_sizes; j++)
		max = o.sizes[j] > max ? o.sizes[j] : max;
	for (i = 0; i < o.n_suites && !ret; i++) {
		ret = bufs_init(&b, o.suites[i], max);
		for (j = 0; j < o.n_sizes && !ret; j++, n++) {
			cells[n].suite = o.suites[i];
			cells[n].size = o.sizes[j];
			ret = measure_cell(&b, &o, &cells[n]);
		}
		bufs_free(&b);
	}
	if (isatty(STDERR_FILENO))
		fprintf(stderr, "\r%40s\r", "");
	if (ret) {
		fprintf(stderr, "moat-bench seal: sealing failed\n");
		return 1;
	}
	if (o.json)
		print_json(&o, cells, n);
	else
		print_table(&o, cells, n);
	if (!o.json)
		printf("\ntarget (both entry points >= 0.9 x EVP from 16 KiB up): %s\n",
		       meets_target(cells, n, NULL) ? "met" : "NOT met");
	return o.check && !meets_target(cells, n, stderr) ? 1 : 0;
}
