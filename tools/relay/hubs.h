/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hubs a relay serves, when its owner says which (`moat-relay --hubs
 * FILE`): one account a line, 32 hex digits as `moatctl status` shows it,
 * blank lines and lines starting with # ignored. Without the option a
 * relay takes any hub that proves it owns its account, and gives each its
 * own quota; with it, a stranger's hub cannot store a byte.
 */
#ifndef MOAT_TOOLS_RELAY_HUBS_H
#define MOAT_TOOLS_RELAY_HUBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { HUBS_MAX = 4096, HUBS_FILE_MAX = 1 << 20 };

struct hubs {
	uint8_t (*acct)[16]; /* sorted */
	size_t n;
};

/*
 * Parses the file's text (name for messages). 0, or -EINVAL with the
 * line and the fix in why; -ENOMEM. On error h is left empty.
 */
int hubs_parse(const char *name, const char *text, size_t len,
	       struct hubs *h, char *why, size_t why_len);
/* Reads and parses path (at most HUBS_FILE_MAX bytes). */
int hubs_load(const char *path, struct hubs *h, char *why, size_t why_len);
bool hubs_has(const struct hubs *h, const uint8_t acct[16]);
void hubs_free(struct hubs *h);

#endif
