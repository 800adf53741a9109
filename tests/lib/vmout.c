// SPDX-License-Identifier: GPL-2.0-only
/* Files out of a test VM through its console (see vmout.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "tests/lib/vmout.h"

void vmout_put(const char *name, const uint8_t *p, size_t len)
{
	unsigned char line[80];

	printf("MOAT-FILE %s %zu\n", name, len);
	for (size_t off = 0; off < len; off += 48) {
		size_t n = len - off < 48 ? len - off : 48;

		EVP_EncodeBlock(line, p + off, (int)n);
		printf("%s\n", line);
	}
	printf("MOAT-FILE-END %s\n", name);
	fflush(stdout);
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
