// SPDX-License-Identifier: GPL-2.0-only
/*
 * The streams this viewer has fetched: FILE.fetched beside the identity
 * FILE, one stream id (32 hex digits) a line after a first line
 * "moat-fetched 1". `moat-view fetch --out FILE --ack' adds every stream
 * it opened whole and wrote (and made durable); `moat-view heartbeat' counts a fetched stream as no
 * longer needing its key (the viewer has its video), and drops the ids the
 * relay no longer lists. Stream ids are no secret (the relay names streams
 * by them); the file is 0600 all the same.
 *
 * Untrusted only as far as the viewer's own disk is: read bounded, lines
 * that do not parse are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hex.h"
#include "tools/view/view.h"

static const char magic[] = "moat-fetched 1\n";

enum { FETCHED_MAX = 1 << 20, LINE = 33 };

static void path_of(const char *ident, char *out, size_t len)
{
	snprintf(out, len, "%s.fetched", ident);
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Sorts ids and drops repeats; the count left. */
static size_t sort_unique(uint8_t (*ids)[16], size_t n)
{
	size_t k = 0;

	qsort(ids, n, 16, cmp_id);
	for (size_t i = 0; i < n; i++)
		if (!k || memcmp(ids[k - 1], ids[i], 16))
			memmove(ids[k++], ids[i], 16);
	return k;
}

int fetched_load(const char *ident, uint8_t (**ids)[16], size_t *n)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0, off;
	int ret;

	*ids = NULL;
	*n = 0;
	path_of(ident, path, sizeof(path));
	ret = file_read_bounded(path, sizeof(magic) + (size_t)FETCHED_MAX * LINE,
				&buf, &len);
	if (ret == -ENOENT || (!ret && !len)) {
		free(buf);
		return 0;
	}
	if (ret)
		return ret;
	if (len < sizeof(magic) - 1 || memcmp(buf, magic, sizeof(magic) - 1)) {
		free(buf);
		return -EINVAL;
	}
	*ids = malloc((len / LINE + 1) * 16);
	if (!*ids) {
		free(buf);
		return -ENOMEM;
	}
	/* line by line: a line that does not parse is skipped, and the
	 * ones after it still count */
	for (off = sizeof(magic) - 1; off < len;) {
		const uint8_t *nl = memchr(buf + off, '\n', len - off);
		size_t ll = nl ? (size_t)(nl - buf) - off : len - off;

		if (ll == 32 &&
		    hex_decode((*ids)[*n], 16, (const char *)buf + off, 32) == 16)
			(*n)++;
		off += ll + 1;
	}
	free(buf);
	*n = sort_unique(*ids, *n);
	return 0;
}

int fetched_add(const char *ident, const uint8_t (*ids)[16], size_t n)
{
	uint8_t (*all)[16] = NULL, (*grown)[16];
	size_t have = 0;
	int ret;

	if (!n)
		return 0;
	/* one crash-safe rewrite with what was there (a file that does not
	 * load is started again: that only keeps keys longer) */
	if (fetched_load(ident, &all, &have))
		have = 0;
	grown = realloc(all, (have + n) * 16);
	if (!grown) {
		free(all);
		return -ENOMEM;
	}
	memcpy(grown[have], ids, n * 16);
	have = sort_unique(grown, have + n);
	ret = fetched_keep(ident, (const uint8_t (*)[16])grown, have);
	free(grown);
	return ret;
}

bool fetched_has(const uint8_t (*ids)[16], size_t n, const uint8_t id[16])
{
	return n && bsearch(id, ids, n, 16, cmp_id) != NULL;
}

int fetched_keep(const char *ident, const uint8_t (*ids)[16], size_t n)
{
	char path[4096];
	char *text = malloc(sizeof(magic) + n * LINE);
	size_t len = sizeof(magic) - 1;
	int ret;

	if (!text)
		return -ENOMEM;
	memcpy(text, magic, len);
	for (size_t i = 0; i < n; i++) {
		hex_encode(text + len, ids[i], 16);
		text[len + LINE - 1] = '\n';
		len += LINE;
	}
	path_of(ident, path, sizeof(path));
	ret = file_write_atomic(path, text, len, 0600);
	free(text);
	return ret;
}
