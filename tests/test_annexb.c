// SPDX-License-Identifier: GPL-2.0-only
/*
 * Annex-B access unit splitting: on the real libx264 clip every access unit
 * matches, size for size and keyframe for keyframe, what ffprobe (libavformat's
 * own H.264 parser) reports, and the units tile the file exactly; crafted
 * streams check start code forms, garbage and the size limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/annexb.h"
#include "common/err.h"
#include "common/fileio.h"
#include "tests/lib/check.h"

enum { MAX_AU = 4096 };

struct probe {
	size_t size[MAX_AU];
	bool key[MAX_AU];
	size_t n;
};

static int probe_packets(const char *path, struct probe *p)
{
	char cmd[4200], flags[16];
	size_t size;
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "ffprobe -v error -show_entries packet=size,flags "
		 "-of csv=p=0 '%s'",
		 path);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	p->n = 0;
	while (p->n < MAX_AU && fscanf(f, "%zu,%15s", &size, flags) == 2) {
		p->size[p->n] = size;
		p->key[p->n] = flags[0] == 'K';
		p->n++;
	}
	return pclose(f) == 0 ? 0 : -1;
}

static void test_real_clip(const char *path)
{
	static struct probe probe;
	struct annexb a;
	struct annexb_au au;
	uint8_t *buf;
	size_t len, n = 0, covered = 0, mismatched = 0, keys = 0;

	CHECK(file_read_bounded(path, 64 << 20, &buf, &len) == 0,
	      "read %s (run 'make media')", path);
	if (!buf)
		return;
	CHECK(probe_packets(path, &probe) == 0 && probe.n > 0,
	      "ffprobe lists the packets of %s", path);
	annexb_init(&a, buf, len);
	while (annexb_next_au(&a, &au) == 1) {
		CHECK(au.p == buf + covered, "units are contiguous");
		if (n < probe.n &&
		    (au.len != probe.size[n] || au.key != probe.key[n]))
			mismatched++;
		keys += au.key;
		covered += au.len;
		n++;
	}
	CHECK(n == probe.n, "%zu access units, ffprobe says %zu", n, probe.n);
	CHECK(mismatched == 0, "%zu units differ from ffprobe in size or key",
	      mismatched);
	CHECK(covered == len, "units cover %zu of %zu bytes", covered, len);
	printf("%s: %zu access units (%zu keyframes) match ffprobe\n", path, n,
	       keys);
	free(buf);
}

static size_t count_aus(const uint8_t *b, size_t len, int *err)
{
	struct annexb a;
	struct annexb_au au;
	size_t n = 0;
	int ret;

	annexb_init(&a, b, len);
	while ((ret = annexb_next_au(&a, &au)) == 1)
		n++;
	*err = ret;
	return n;
}

static void test_crafted(void)
{
	/* AUD, SPS, PPS, IDR slice | slice (first_mb 0) | slice (first_mb 1) */
	static const uint8_t s[] = {
		0, 0, 0,    1,	  0x09, 0xf0, 0, 0, 0,	  1,	0x67, 0x42,
		0, 0, 1,    0x68, 0xce, 0,    0, 1, 0x65, 0x88, 0x80, 0,
		0, 1, 0x41, 0x9a, 0x11, 0,    0, 1, 0x41, 0x40, 0x22,
	};
	static const uint8_t junk[] = { 0x12, 0, 0, 1, 0x41, 0x80 };
	uint8_t *big;
	int err;

	CHECK(count_aus(s, sizeof(s), &err) == 2 && err == 0,
	      "second picture starts at first_mb_in_slice 0, its second "
	      "slice stays with it");
	CHECK(count_aus(s, 0, &err) == 0 && err == 0, "empty input");
	CHECK(count_aus(junk, sizeof(junk), &err) == 0 &&
		      err == -MOAT_E_MALFORMED,
	      "bytes before a start code");
	big = calloc(1, ANNEXB_AU_MAX + 64);
	memcpy(big, (uint8_t[]){ 0, 0, 1, 0x65, 0x80 }, 5);
	memset(big + 5, 0xff, ANNEXB_AU_MAX + 50);
	CHECK(count_aus(big, ANNEXB_AU_MAX + 64, &err) == 0 &&
		      err == -MOAT_E_LIMIT,
	      "oversize access unit refused");
	free(big);
}

int main(void)
{
	const char *media = getenv("MOAT_MEDIA");

	test_crafted();
	test_real_clip(media && *media ? media : "build/media/clip.h264");
	return test_done("test_annexb");
}
