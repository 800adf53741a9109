// SPDX-License-Identifier: GPL-2.0-only
/*
 * `moat-demo offline`: the sealing core alone, no processes. A hub key and two paired
 * viewers are made in a key store; a real H.264 clip is sealed, a stream
 * per GOP, into a spool folder; each viewer opens every stream from its
 * own key file and checks every access unit against the camera's bytes; a
 * stranger and a tampered file are refused. It says what it did in plain
 * words (or --json), and exits non-zero if anything did not hold.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "crypto/hpke.h"
#include "crypto/streamfile.h"
#include "tools/demo/demo.h"

struct demo_opts {
	const char *clip;
	const char *dir;
	bool json;
	bool keep;
};

struct demo_run {
	struct demo_clip clip;
	struct demo_keys keys;
	struct demo_spool spool;
	struct demo_check chk[DEMO_VIEWERS];
	struct demo_check stranger;
	int tamper_err;
	char tamper_why[256];
	size_t plain_hits;
	size_t control_hits; /* the same scan on the clip itself */
	enum seal_suite suite;
	const char *suite_why;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: moat-demo offline [--dir DIR] [--keep] [--json] [CLIP.h264]\n\n"
		"Seals a real H.264 clip (Annex-B; default build/media/clip.h264,\n"
		"made by `make media' with ffmpeg/libx264) for two paired viewers,\n"
		"one stream per GOP, opens it back as each viewer and checks every\n"
		"access unit against the camera's bytes. Also shows that an unpaired\n"
		"viewer and a tampered stream are refused, and that no plaintext\n"
		"reached the spool.\n\n"
		"  --dir DIR  work folder for key stores and spool (default: a new\n"
		"             folder under /tmp, removed at the end)\n"
		"  --keep     keep the work folder to look at\n"
		"  --json     one JSON object on stdout instead of the story\n\n"
		"The cipher follows the CPU (AES-256-GCM with AES instructions,\n"
		"else ChaCha20-Poly1305); MOAT_CIPHER=NAME overrides.\n");
}

static int parse_opts(struct demo_opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->clip = "build/media/clip.h264";
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o->dir = optarg;
			break;
		case 'k':
			o->keep = true;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc)
		o->clip = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "moat-demo: unexpected argument `%s'\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Flips one bit in the middle of the second stream; the viewer must refuse. */
static void demo_tamper(struct demo_run *d)
{
	struct sf_result res;
	char path[512];
	uint8_t *buf;
	size_t len;
	size_t i = d->spool.n_streams > 1 ? 1 : 0;

	d->tamper_err = file_read_bounded(demo_stream_path(&d->spool, i, path,
							   sizeof(path)),
					  256 << 20, &buf, &len);
	if (d->tamper_err)
		return;
	buf[len / 2] ^= 0x10;
	d->tamper_err =
		sf_open_buf(buf, len, &d->keys.ident[0], NULL, NULL, &res);
	snprintf(d->tamper_why, sizeof(d->tamper_why), "%s", res.why);
	sf_result_free(&res);
	free(buf);
}

static bool demo_ok(const struct demo_run *d)
{
	size_t v;

	for (v = 0; v < DEMO_VIEWERS; v++)
		if (d->chk[v].first_err || d->chk[v].au_match != d->clip.n_au ||
		    d->chk[v].au_seen != d->clip.n_au)
			return false;
	return d->stranger.streams_ok == 0 &&
	       d->stranger.first_err == -MOAT_E_NOT_RECIPIENT &&
	       d->tamper_err == -MOAT_E_AUTH && d->plain_hits == 0 &&
	       d->control_hits > 0;
}

static void print_story(const struct demo_opts *o, const struct demo_run *d)
{
	char hub_id[33];
	size_t v;

	hex_encode(hub_id, d->keys.hub_id, 16);
	printf("moat demo: sealing a real H.264 clip for two viewers\n\n");
	printf("  camera    %s: %zu bytes of H.264 from ffmpeg/libx264,\n"
	       "            %zu access units, %zu keyframes\n",
	       o->clip, d->clip.len, d->clip.n_au, d->clip.n_key);
	printf("  hub       new hub key in %s/hub (hub id %.16s...)\n",
	       d->keys.dir, hub_id);
	printf("            cipher %s, because %s\n", seal_suite_name(d->suite),
	       d->suite_why);
	printf("  viewers   %s and %s paired: each has its own key file and\n"
	       "            pairing secret; the hub holds only their public keys\n",
	       DEMO_VIEWER_NAMES[0], DEMO_VIEWER_NAMES[1]);
	printf("  sealed    %zu streams (one per GOP), %zu records, %zu bytes in\n"
	       "            %s/spool\n",
	       d->spool.n_streams, d->spool.records, d->spool.bytes,
	       d->keys.dir);
	printf("  on disk   %zu of the camera's byte samples found in the spool\n"
	       "            (the same scan finds %zu in the camera's own file)\n",
	       d->plain_hits, d->control_hits);
	for (v = 0; v < DEMO_VIEWERS; v++)
		printf("  %-9s opened %zu of %zu streams: %zu of %zu access units match the camera's bytes%s%s\n",
		       DEMO_VIEWER_NAMES[v], d->chk[v].streams_ok,
		       d->spool.n_streams, d->chk[v].au_match, d->clip.n_au,
		       d->chk[v].first_err ? "; " : "", d->chk[v].why);
	printf("  stranger  (never paired) opened %zu of %zu streams: %s\n",
	       d->stranger.streams_ok, d->spool.n_streams,
	       moat_strerror(d->stranger.first_err));
	printf("  tamper    one bit flipped in a stream file: %s refuses it:\n"
	       "            %s\n",
	       DEMO_VIEWER_NAMES[0], d->tamper_why);
	printf("\n%s\n",
	       demo_ok(d) ?
		       "OK: both viewers got every frame back exactly; nobody else could." :
		       "FAILED: see above.");
}

static void print_json(const struct demo_opts *o, const struct demo_run *d)
{
	size_t v;

	printf("{\"ok\": %s, \"clip\": \"%s\", \"bytes\": %zu, "
	       "\"access_units\": %zu, \"keyframes\": %zu, \"cipher\": \"%s\", "
	       "\"streams\": %zu, \"records\": %zu, \"sealed_bytes\": %zu, "
	       "\"plaintext_hits\": %zu, \"control_hits\": %zu, \"viewers\": [",
	       demo_ok(d) ? "true" : "false", o->clip, d->clip.len,
	       d->clip.n_au, d->clip.n_key, seal_suite_name(d->suite),
	       d->spool.n_streams, d->spool.records, d->spool.bytes,
	       d->plain_hits, d->control_hits);
	for (v = 0; v < DEMO_VIEWERS; v++)
		printf("%s{\"name\": \"%s\", \"streams_opened\": %zu, "
		       "\"access_units_matched\": %zu}",
		       v ? ", " : "", DEMO_VIEWER_NAMES[v],
		       d->chk[v].streams_ok, d->chk[v].au_match);
	printf("], \"stranger_error\": \"%s\", \"tamper_error\": \"%s\"}\n",
	       moat_strerror(d->stranger.first_err),
	       moat_strerror(d->tamper_err));
}

static int demo_run(const struct demo_opts *o, struct demo_run *d)
{
	size_t v;
	int ret;

	ret = seal_suite_default(&d->suite, &d->suite_why);
	if (ret) {
		fprintf(stderr,
			"moat-demo: MOAT_CIPHER `%s' is not aes-256-gcm or chacha20-poly1305\n",
			getenv("MOAT_CIPHER"));
		return ret;
	}
	ret = demo_clip_load(o->clip, &d->clip);
	if (ret) {
		fprintf(stderr,
			"moat-demo: %s: %s (make it with `make media')\n",
			o->clip, moat_strerror(ret));
		return ret;
	}
	ret = demo_keys_make(&d->keys, o->dir);
	if (ret)
		return ret;
	snprintf(d->spool.dir, sizeof(d->spool.dir), "%s/spool", d->keys.dir);
	ret = mkdir_p(d->spool.dir, 0700);
	if (!ret)
		ret = demo_seal(&d->clip, d->suite, &d->keys.hub, d->keys.rcpt,
				DEMO_VIEWERS, &d->spool);
	if (ret) {
		fprintf(stderr, "moat-demo: sealing into %s: %s\n",
			d->spool.dir, moat_strerror(ret));
		return ret;
	}
	for (v = 0; v < DEMO_VIEWERS; v++)
		demo_open_all(&d->clip, &d->spool, &d->keys.ident[v],
			      &d->chk[v]);
	demo_open_all(&d->clip, &d->spool, &d->keys.stranger, &d->stranger);
	demo_tamper(d);
	d->plain_hits = demo_plaintext_hits(&d->clip, &d->spool);
	d->control_hits = demo_scan_file(&d->clip, o->clip);
	return 0;
}

int demo_offline_main(int argc, char **argv)
{
	static struct demo_run d;
	struct demo_opts o;
	int ret;

	if (parse_opts(&o, argc, argv))
		return 2;
	ret = demo_run(&o, &d);
	if (!ret) {
		if (o.json)
			print_json(&o, &d);
		else
			print_story(&o, &d);
		ret = demo_ok(&d) ? 0 : 1;
	} else {
		ret = 1;
	}
	if (d.keys.dir[0] && !o.keep && !o.dir) {
		demo_keys_remove(&d.keys);
		if (!o.json)
			printf("(work folder %s removed; --keep keeps it)\n",
			       d.keys.dir);
	} else if (d.keys.dir[0] && !o.json) {
		printf("work folder kept: %s\n", d.keys.dir);
	}
	demo_keys_wipe(&d.keys);
	demo_clip_free(&d.clip);
	return ret;
}
