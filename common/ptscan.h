/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Looking for plaintext where only ciphertext may be: every 8-byte window
 * of the camera's bytes goes in a set, then the windows of any file (or
 * captured traffic) are looked up. For the tests and the demo. Runs of
 * eight zero bytes are ignored (an H.264 stream never holds one, record
 * headers often do).
 */
#ifndef MOAT_COMMON_PTSCAN_H
#define MOAT_COMMON_PTSCAN_H

#include <stddef.h>
#include <stdint.h>

struct pt_set;
struct pt_set *pt_set_new(const uint8_t *p, size_t len);
void pt_set_free(struct pt_set *s);
/* Windows of p found in the set. */
size_t pt_scan(const struct pt_set *s, const uint8_t *p, size_t len);
/* Scans every regular file under dir; hits per file go to stderr. */
size_t pt_scan_tree(const struct pt_set *s, const char *dir, size_t *files);

#endif
