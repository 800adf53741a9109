/* SPDX-License-Identifier: GPL-2.0-only */
/* Hex encoding and decoding (lowercase out, either case in). */
#ifndef MOAT_COMMON_HEX_H
#define MOAT_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Writes 2*len chars and a NUL into out (size >= 2*len+1). */
void hex_encode(char *out, const uint8_t *in, size_t len);

/*
 * Decodes exactly 2*cap hex chars or fewer: returns bytes written, or -1 if
 * the text has an odd length, a non-hex char, or decodes to more than cap.
 */
long hex_decode(uint8_t *out, size_t cap, const char *in, size_t in_len);

#endif
