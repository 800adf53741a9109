// SPDX-License-Identifier: GPL-2.0-only
/* Files out of a test VM through its console (see vmout.h). */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "tests/lib/vmout.h"

/*
 * Every byte out, whatever the console's descriptor is set to: another
 * process sharing it (a child's libcamera) may have made it non-blocking,
 * and stdio drops what a write refuses with EAGAIN. Seen once: a file's
 * header line missing from the console log.
 */
static void put_all(const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			struct pollfd w = { .fd = STDOUT_FILENO, .events = POLLOUT };

			poll(&w, 1, 100);
			continue;
		}
		if (n <= 0)
			return;
		p += n;
		len -= (size_t)n;
	}
}

void vmout_put(const char *name, const uint8_t *p, size_t len)
{
	char line[128];

	fflush(stdout);
	snprintf(line, sizeof(line), "\nMOAT-FILE %s %zu\n", name, len);
	put_all(line, strlen(line));
	for (size_t off = 0; off < len; off += 48) {
		size_t n = len - off < 48 ? len - off : 48;
		int k = EVP_EncodeBlock((unsigned char *)line, p + off, (int)n);

		line[k] = '\n';
		put_all(line, (size_t)k + 1);
	}
	snprintf(line, sizeof(line), "MOAT-FILE-END %s\n", name);
	put_all(line, strlen(line));
}

uint8_t *vmout_get(const char *log, const char *name, size_t *len)
{
	FILE *f = fopen(log, "r");
	char line[256], start[160], end[160];
	uint8_t *out = NULL;
	size_t size = 0, got = 0;
	int in = 0;

	*len = 0;
	if (!f)
		return NULL;
	snprintf(start, sizeof(start), "MOAT-FILE %s ", name);
	snprintf(end, sizeof(end), "MOAT-FILE-END %s", name);
	while (fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\r\n");
		int k, pad = 0;

		line[n] = '\0';
		if (!in) {
			if (strncmp(line, start, strlen(start)))
				continue;
			size = strtoul(line + strlen(start), NULL, 10);
			out = malloc(size + 64);
			in = out != NULL;
			continue;
		}
		if (!strcmp(line, end))
			break;
		/* a line of base64 is at most 64 characters: 48 bytes */
		if (n % 4 || n > 64 || got + 48 > size + 64) {
			in = 0;
			break;
		}
		k = EVP_DecodeBlock(out + got, (unsigned char *)line, (int)n);
		if (k < 0) {
			in = 0;
			break;
		}
		pad = n && line[n - 1] == '=' ? 1 + (n > 1 && line[n - 2] == '=') : 0;
		got += (size_t)k - (size_t)pad;
	}
	fclose(f);
	if (!in || got != size) {
		free(out);
		return NULL;
	}
	*len = size;
	return out;
}
