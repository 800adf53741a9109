// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench peers: the limits and the peers that work on bytes alone,
 * on the same bytes: every access unit of the 1080p30 clip, one at a time,
 * as the sealer takes them.
 *
 *   memcpy        each access unit copied once (the memory's limit)
 *   OpenSSL EVP   each access unit one bare AEAD operation (the AEAD's
 *                 limit, what `openssl speed -evp` times)
 *   moat seal     each access unit one record, seal_record_to() from the
 *                 frame into separate memory (the sealer's one pass)
 *   TLS 1.3       each access unit one SSL_write over loopback TCP, flat
 *                 out (tls.c): the sending thread
 *   SRTP          the clip, repeated to --mb MB, through GStreamer's
 *                 srtpenc with AES-256-GCM (srtp.c): the whole process,
 *                 less a run over the clip's first second (its start-up)
 *   age           the clip, repeated to --mb MB, through `age -r` (X25519,
 *                 ChaCha20-Poly1305 in 64 KiB chunks): the whole process
 *
 * Runs are interleaved (memcpy, EVP, moat, TLS, SRTP, age, memcpy, ...)
 * --rounds times; each figure is the median of the rounds with their min and
 * max, each ratio (moat / peer) the median of the ratios within each round.
 * In-process figures are thread CPU time; age's is its user + system time.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "capture/annexb.h"
#include "common/fileio.h"
#include "crypto/stream.h"
#include "tools/bench/bench.h"

enum {
	P_MEMCPY,
	P_EVP,
	P_MOAT,
	P_TLS,
	P_SRTP,
	P_AGE,
	P_N,
	MAX_ROUNDS = 32,
	MAX_AU = 4096
};

static const char *const peer_key[P_N] = { "memcpy", "evp",  "moat_seal",
					   "tls",    "srtp", "age" };
static const char *const peer_label[P_N] = {
	"memcpy (memory limit)",
	"OpenSSL EVP (AEAD limit)",
	"moat seal_record_to",
	"TLS 1.3 over loopback (sending thread)",
	"GStreamer srtpenc (process, less start-up)",
	"age (whole process)",
};

struct peers_ctx {
	struct annexb_au au[MAX_AU];
	size_t n_au, bytes, max_au;
	uint8_t *dst;
	EVP_CIPHER_CTX *evp;
	struct seal_stream *s;
	enum seal_suite suite;
	double secs;
	char age_in[64], recipient[128], srtp_small[64];
	double age_bytes, small_bytes;
	bool has_age, has_input;
};

static int evp_au(struct peers_ctx *c, const struct annexb_au *a)
{
	static uint64_t ctr;
	uint8_t iv[12] = { 0 }, tag[16];
	int outl;

	memcpy(iv + 4, &ctr, sizeof(ctr));
	ctr++;
	if (!EVP_EncryptInit_ex(c->evp, NULL, NULL, NULL, iv) ||
	    !EVP_EncryptUpdate(c->evp, c->dst, &outl, a->p, (int)a->len) ||
	    !EVP_EncryptFinal_ex(c->evp, c->dst + a->len, &outl) ||
	    !EVP_CIPHER_CTX_ctrl(c->evp, EVP_CTRL_AEAD_GET_TAG, 16, tag))
		return -EIO;
	return 0;
}

static int moat_au(struct peers_ctx *c, const struct annexb_au *a)
{
	struct iovec iov = { (void *)a->p, a->len };

	/* a stream's counter is bounded: a fresh one now and then */
	if (!c->s) {
		c->s = seal_stream_new(c->suite);
		if (!c->s)
			return -ENOMEM;
	}
	return seal_record_to(c->s, &iov, 1, false, c->dst,
			      c->dst + REC_HDR_LEN,
			      c->dst + REC_HDR_LEN + a->len);
}

/* One pass over the clip; bytes done. */
static double pass(struct peers_ctx *c, int p)
{
	for (size_t i = 0; i < c->n_au; i++) {
		const struct annexb_au *a = &c->au[i];

		if (p == P_MEMCPY)
			memcpy(c->dst, a->p, a->len);
		else if ((p == P_EVP ? evp_au(c, a) : moat_au(c, a)))
			return -1;
	}
	if (p == P_MOAT) {
		seal_stream_free(c->s);
		c->s = NULL;
	}
	return (double)c->bytes;
}

/* MB per CPU second of age over the repeated clip; -1 if it failed. */
static double run_age(struct peers_ctx *c)
{
	struct rusage ru;
	int st;
	pid_t pid = fork();

	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("age", "age", "-r", c->recipient, "-o", "/dev/null",
		       c->age_in, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &st, 0, &ru) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		return -1;
	return c->age_bytes / 1e6 /
	       ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		(double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
}

/* MB per CPU second of TLS 1.3 flat out, about secs of the sender's CPU
 * (it does about a GB a second). */
static double run_tls(struct peers_ctx *c)
{
	double total = c->secs * 1e9, snd = 0, rcv = 0;

	if (total < (double)c->bytes)
		total = (double)c->bytes;
	if (bench_tls_run(c->au, c->n_au, total, 0,
			  c->suite == SEAL_SUITE_AES256GCM ?
				  "TLS_AES_256_GCM_SHA384" :
				  "TLS_CHACHA20_POLY1305_SHA256",
			  &snd, &rcv) ||
	    snd <= 0)
		return -1;
	return total / snd / 1e6;
}

/* MB per CPU second of srtpenc: the big input less the small one. */
static double run_srtp(struct peers_ctx *c)
{
	double big = bench_srtp_file(c->age_in);
	double small = bench_srtp_file(c->srtp_small);

	if (big < 0 || small < 0 || big <= small)
		return -1;
	return (c->age_bytes - c->small_bytes) / (big - small) / 1e6;
}

/* MB per CPU second of peer p over about secs of CPU. */
static double run_peer(struct peers_ctx *c, int p)
{
	double t0, t, done = 0, b;

	if (p == P_AGE)
		return c->has_age ? run_age(c) : -1;
	if (p == P_TLS)
		return run_tls(c);
	if (p == P_SRTP)
		return c->has_input ? run_srtp(c) : -1;
	t0 = bench_cpu_now();
	do {
		b = pass(c, p);
		if (b < 0)
			return -1;
		done += b;
		t = bench_cpu_now() - t0;
	} while (t < c->secs);
	return done / t / 1e6;
}

static int sh_line(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	int st;

	if (!f)
		return -1;
	if (!fgets(out, (int)len, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	st = pclose(f);
	return WIFEXITED(st) && !WEXITSTATUS(st) && out[0] ? 0 : -1;
}

/* The inputs of age and SRTP: the clip repeated to mb MB, its first
 * second alone (SRTP's start-up), and an age recipient. */
static void input_setup(struct peers_ctx *c, const uint8_t *clip, size_t len,
			int mb)
{
	const struct annexb_au *last = &c->au[c->n_au < 30 ? c->n_au - 1 : 29];
	size_t first = (size_t)(last->p + last->len - clip);
	int fd, fs;

	snprintf(c->age_in, sizeof(c->age_in), "/tmp/moat-bench-peer-XXXXXX");
	snprintf(c->srtp_small, sizeof(c->srtp_small),
		 "/tmp/moat-bench-peer-XXXXXX");
	fd = mkstemp(c->age_in);
	fs = mkstemp(c->srtp_small);
	if (fd >= 0 && fs >= 0 && write(fs, clip, first) == (ssize_t)first)
		c->small_bytes = (double)first;
	while (fd >= 0 && c->age_bytes < (double)mb * 1e6 &&
	       write(fd, clip, len) == (ssize_t)len)
		c->age_bytes += (double)len;
	if (fd >= 0)
		close(fd);
	if (fs >= 0)
		close(fs);
	c->has_input = c->small_bytes > 0 && c->age_bytes >= (double)mb * 1e6;
	c->has_age =
		c->has_input &&
		!sh_line("age-keygen 2>/dev/null | grep -o 'age1[0-9a-z]*'",
			 c->recipient, sizeof(c->recipient));
}

static int ctx_init(struct peers_ctx *c, const uint8_t *clip, size_t len)
{
	uint8_t key[32];
	struct annexb a;
	const char *why;

	annexb_init(&a, clip, len);
	while (c->n_au < MAX_AU && annexb_next_au(&a, &c->au[c->n_au]) == 1) {
		c->bytes += c->au[c->n_au].len;
		if (c->au[c->n_au].len > c->max_au)
			c->max_au = c->au[c->n_au].len;
		c->n_au++;
	}
	if (!c->n_au || c->max_au > REC_BODY_MAX - REC_TAG_LEN ||
	    seal_suite_default(&c->suite, &why))
		return -EINVAL;
	c->dst = malloc(c->max_au + REC_HDR_LEN + REC_TAG_LEN);
	c->evp = EVP_CIPHER_CTX_new();
	if (!c->dst || !c->evp || RAND_bytes(key, sizeof(key)) != 1)
		return -ENOMEM;
	return EVP_EncryptInit_ex(c->evp,
				  c->suite == SEAL_SUITE_AES256GCM ?
					  EVP_aes_256_gcm() :
					  EVP_chacha20_poly1305(),
				  NULL, key, NULL) ?
		       0 :
		       -EIO;
}

static void print_json(const struct peers_ctx *c, double v[P_N][MAX_ROUNDS],
		       int rounds)
{
	struct bench_machine m;

	bench_machine(&m);
	printf("{\"bench\": \"peers\", \"machine\": ");
	bench_machine_json(stdout, &m);
	printf(", \"suite\": \"%s\", \"access_units\": %zu, \"bytes\": %zu, \"rounds\": %d, \"unit\": \"MB per CPU second\", \"peers\": [",
	       seal_suite_name(c->suite), c->n_au, c->bytes, rounds);
	for (int p = 0; p < P_N; p++) {
		double ratio[MAX_ROUNDS], lo = v[p][0], hi = v[p][0];
		bool ok = true;

		for (int r = 0; r < rounds; r++) {
			ok = ok && v[p][r] > 0;
			lo = v[p][r] < lo ? v[p][r] : lo;
			hi = v[p][r] > hi ? v[p][r] : hi;
			ratio[r] = v[p][r] > 0 ? v[P_MOAT][r] / v[p][r] : 0;
		}
		printf("%s\n  {\"name\": \"%s\", \"label\": \"%s\", \"ok\": %s, \"median\": %.1f, \"min\": %.1f, \"max\": %.1f, \"moat_ratio\": %.4f}",
		       p ? "," : "", peer_key[p], peer_label[p],
		       ok ? "true" : "false",
		       ok ? bench_median(v[p], (size_t)rounds) : 0, ok ? lo : 0,
		       ok ? hi : 0,
		       ok ? bench_median(ratio, (size_t)rounds) : 0);
	}
	printf("\n]}\n");
}

static void print_table(const struct peers_ctx *c, double v[P_N][MAX_ROUNDS],
			int rounds)
{
	struct bench_machine m;

	bench_machine(&m);
	bench_machine_print(stdout, &m);
	printf("the clip's %zu access units (%.1f MB), %s; median of %d interleaved rounds\n\n",
	       c->n_au, (double)c->bytes / 1e6, seal_suite_name(c->suite),
	       rounds);
	printf("%-40s %12s %10s\n", "", "MB/CPU-s", "moat/peer");
	for (int p = 0; p < P_N; p++) {
		double ratio[MAX_ROUNDS];

		for (int r = 0; r < rounds; r++)
			ratio[r] = v[p][r] > 0 ? v[P_MOAT][r] / v[p][r] : 0;
		if (v[p][0] < 0)
			printf("%-40s %12s\n", peer_label[p],
			       p == P_AGE ?
				       "no age here (apt-get install age)" :
			       p == P_SRTP ?
				       "failed (gst-launch-1.0 with srtpenc?)" :
				       "failed");
		else
			printf("%-40s %12.1f %9.3fx\n", peer_label[p],
			       bench_median(v[p], (size_t)rounds),
			       bench_median(ratio, (size_t)rounds));
	}
}

static const char peers_usage[] =
	"Usage: moat-bench peers [--rounds 5] [--seconds 0.2] [--mb 32]\n"
	"                        [--clip FILE] [--json]\n\n"
	"The same bytes (every access unit of the 1080p30 clip) through memcpy,\n"
	"OpenSSL's bare EVP AEAD, moat's seal_record_to(), TLS 1.3 over\n"
	"loopback, GStreamer's srtpenc and age (the clip repeated to --mb MB;\n"
	"SRTP less its start-up; age if installed), interleaved --rounds times,\n"
	"--seconds of CPU each in process. Reports MB per CPU second (median,\n"
	"min, max) and moat / peer, the median of the ratios within each round.\n";

struct peers_opts {
	const char *clip;
	int rounds, mb;
	double secs;
	bool json;
};

/* 0, 1 after --help, or 2 with the option named. */
static int peers_parse(struct peers_opts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "seconds", required_argument, NULL, 's' },
		{ "mb", required_argument, NULL, 'm' },
		{ "clip", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (opt == 'r')
			o->rounds = atoi(optarg);
		else if (opt == 's')
			o->secs = atof(optarg);
		else if (opt == 'm')
			o->mb = atoi(optarg);
		else if (opt == 'f')
			o->clip = optarg;
		else if (opt == 'j')
			o->json = true;
		else
			fputs(peers_usage, opt == 'h' ? stdout : stderr);
		if (opt == 'h' || opt == '?')
			return opt == 'h' ? 1 : 2;
		if (o->rounds < 1 || o->rounds > MAX_ROUNDS || o->secs <= 0 ||
		    o->secs > 60 || o->mb < 1 || o->mb > 4096) {
			fprintf(stderr,
				"moat-bench peers: `%s' is out of range (--rounds 1-%d, --seconds 0-60, --mb 1-4096)\n",
				optarg, MAX_ROUNDS);
			return 2;
		}
	}
	return optind == argc ? 0 : 2;
}

int bench_peers(int argc, char **argv)
{
	struct peers_opts o = { "build/media/bench-1080p.h264", 5, 32, 0.2,
				false };
	static struct peers_ctx c;
	static double v[P_N][MAX_ROUNDS];
	int ret = peers_parse(&o, argc, argv);
	uint8_t *clip = NULL;
	size_t len = 0;

	if (ret)
		return ret == 1 ? 0 : 2;
	c.secs = o.secs;
	ret = 1;
	if (bench_make_clip(o.clip) ||
	    file_read_bounded(o.clip, 1 << 30, &clip, &len) ||
	    ctx_init(&c, clip, len)) {
		fprintf(stderr, "moat-bench peers: cannot read or split %s\n",
			o.clip);
		goto out;
	}
	input_setup(&c, clip, len, o.mb);
	for (int r = 0; r < o.rounds; r++)
		for (int p = 0; p < P_N; p++)
			v[p][r] = run_peer(&c, p);
	if (o.json)
		print_json(&c, v, o.rounds);
	else
		print_table(&c, v, o.rounds);
	ret = v[P_MOAT][0] > 0 ? 0 : 1;
out:
	if (c.age_in[0])
		unlink(c.age_in);
	if (c.srtp_small[0])
		unlink(c.srtp_small);
	EVP_CIPHER_CTX_free(c.evp);
	free(c.dst);
	free(clip);
	return ret;
}
