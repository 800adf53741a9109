// SPDX-License-Identifier: GPL-2.0-only
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/ptscan.h"

struct pt_set {
	uint64_t *slot;
	size_t mask;
};

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x | 1; /* 0 marks an empty slot */
}

static uint64_t window(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

struct pt_set *pt_set_new(const uint8_t *p, size_t len)
{
	struct pt_set *s = calloc(1, sizeof(*s));
	size_t cap = 1024;

	while (s && cap < len * 2)
		cap *= 2;
	if (s)
		s->slot = calloc(cap, sizeof(uint64_t));
	if (!s || !s->slot) {
		free(s);
		return NULL;
	}
	s->mask = cap - 1;
	for (size_t i = 0; i + 8 <= len; i++) {
		uint64_t v = window(p + i), k = mix(v);
		size_t j = k & s->mask;

		while (s->slot[j] && s->slot[j] != v)
			j = (j + 1) & s->mask;
		s->slot[j] = v ? v : 1;
	}
	return s;
}

void pt_set_free(struct pt_set *s)
{
	if (s)
		free(s->slot);
	free(s);
}

size_t pt_scan(const struct pt_set *s, const uint8_t *p, size_t len)
{
	size_t hits = 0;

	for (size_t i = 0; i + 8 <= len; i++) {
		uint64_t v = window(p + i);
		size_t j = mix(v) & s->mask;

		if (!v)
			continue; /* eight zero bytes: never in an H.264 stream */
		while (s->slot[j]) {
			if (s->slot[j] == v) {
				hits++;
				break;
			}
			j = (j + 1) & s->mask;
		}
	}
	return hits;
}

static const struct pt_set *scan_set;
static size_t scan_hits, scan_files;

static int scan_one(const char *path, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	size_t len, hits;
	uint8_t *p;

	(void)ftw;
	if (flag != FTW_F || !S_ISREG(st->st_mode))
		return 0;
	if (file_read_bounded(path, (size_t)1 << 31, &p, &len))
		return 0;
	hits = pt_scan(scan_set, p, len);
	if (hits)
		fprintf(stderr, "plaintext: %zu 8-byte runs of the camera's video in %s\n",
			hits, path);
	scan_hits += hits;
	scan_files++;
	free(p);
	return 0;
}

size_t pt_scan_tree(const struct pt_set *s, const char *dir, size_t *files)
{
	scan_set = s;
	scan_hits = scan_files = 0;
	nftw(dir, scan_one, 16, FTW_PHYS);
	if (files)
		*files = scan_files;
	return scan_hits;
}
