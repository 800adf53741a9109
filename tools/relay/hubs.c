// SPDX-License-Identifier: GPL-2.0-only
/* The hubs a relay serves (see hubs.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/hex.h"
#include "tools/relay/hubs.h"

static int cmp_acct(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

void hubs_free(struct hubs *h)
{
	free(h->acct);
	h->acct = NULL;
	h->n = 0;
}

int hubs_parse(const char *name, const char *text, size_t len,
	       struct hubs *h, char *why, size_t why_len)
{
	size_t line = 0, at = 0;

	memset(h, 0, sizeof(*h));
	h->acct = malloc(HUBS_MAX * sizeof(*h->acct));
	if (!h->acct)
		return -ENOMEM;
	while (at < len) {
		const char *p = text + at, *nl = memchr(p, '\n', len - at);
		size_t n = nl ? (size_t)(nl - p) : len - at, a = 0, b = n;

		at += n + (nl != NULL);
		line++;
		while (a < n && (p[a] == ' ' || p[a] == '\t'))
			a++;
		while (b > a && (p[b - 1] == ' ' || p[b - 1] == '\t' ||
				 p[b - 1] == '\r'))
			b--;
		if (a == b || p[a] == '#')
			continue;
		if (h->n == HUBS_MAX) {
			snprintf(why, why_len,
				 "%s: line %zu: more than %d hubs", name, line,
				 HUBS_MAX);
			goto bad;
		}
		if (b - a != 32 || hex_decode(h->acct[h->n], 16, p + a, 32) != 16) {
			snprintf(why, why_len,
				 "%s: line %zu: `%.*s' is not a hub's account: 32 hex digits, as `moatctl status' on the hub shows it",
				 name, line, (int)(b - a > 40 ? 40 : b - a),
				 p + a);
			goto bad;
		}
		h->n++;
	}
	qsort(h->acct, h->n, sizeof(*h->acct), cmp_acct);
	return 0;
bad:
	hubs_free(h);
	return -EINVAL;
}

int hubs_load(const char *path, struct hubs *h, char *why, size_t why_len)
{
	uint8_t *text;
	size_t len;
	int ret = file_read_bounded(path, HUBS_FILE_MAX, &text, &len);

	if (ret) {
		snprintf(why, why_len, "%s: %s%s", path, strerror(-ret),
			 ret == -EFBIG ? " (at most 1 MiB)" : "");
		return ret;
	}
	ret = hubs_parse(path, (const char *)text, len, h, why, why_len);
	free(text);
	return ret;
}

bool hubs_has(const struct hubs *h, const uint8_t acct[16])
{
	return h->n && bsearch(acct, h->acct, h->n, sizeof(*h->acct),
			       cmp_acct) != NULL;
}
