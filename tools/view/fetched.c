// SPDX-License-Identifier: GPL-2.0-only
/*
 * The streams this viewer has fetched: FILE.fetched beside the identity
 * FILE, one stream id (32 hex digits) a line after a first line
 * "moat-fetched 1". `moat-view fetch --out' adds every stream it opened
 * whole and wrote; `moat-view heartbeat' counts a fetched stream as no
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

int fetched_add(const char *ident, const uint8_t (*ids)[16], size_t n)
{
	char path[4096];
	char *text = malloc(sizeof(magic) + n * LINE);
	size_t len = 0;
	struct stat sb;
	int fd, ret = 0;

	if (!n || !text) {
		free(text);
		return n ? -ENOMEM : 0;
	}
	path_of(ident, path, sizeof(path));
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		free(text);
		return -errno;
	}
	if (!fstat(fd, &sb) && !sb.st_size) {
		memcpy(text, magic, sizeof(magic) - 1);
		len = sizeof(magic) - 1;
	}
	for (size_t i = 0; i < n; i++) {
		hex_encode(text + len, ids[i], 16);
		text[len + LINE - 1] = '\n';
		len += LINE;
	}
	/* one append: whole lines (a crash may cut the last; the reader
	 * skips a line that does not parse) */
	for (size_t off = 0; !ret && off < len;) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno != EINTR)
			ret = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	free(text);
	return ret;
}

static int cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

int fetched_load(const char *ident, uint8_t (**ids)[16], size_t *n)
{
	char path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	*ids = NULL;
	*n = 0;
	path_of(ident, path, sizeof(path));
	ret = file_read_bounded(path, sizeof(magic) + (size_t)FETCHED_MAX * LINE,
				&buf, &len);
	if (ret == -ENOENT || (!ret && !len)) {
		free(buf); /* none yet (or a first write a crash cut) */
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
	for (size_t off = sizeof(magic) - 1; off + LINE <= len; off += LINE)
		if (buf[off + LINE - 1] == '\n' &&
		    hex_decode((*ids)[*n], 16, (const char *)buf + off, 32) == 16)
			(*n)++;
	free(buf);
	qsort(*ids, *n, 16, cmp_id);
	return 0;
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
