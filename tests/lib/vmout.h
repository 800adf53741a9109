/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Files out of a test VM (tests/vm/vm.sh) through its serial console: the
 * guest prints a file as base64 between marker lines, the host finds it in
 * the console log and writes it back, byte for byte.
 *
 *   MOAT-FILE NAME SIZE
 *   (base64, 64 characters a line)
 *   MOAT-FILE-END NAME
 */
#ifndef MOAT_TESTS_VMOUT_H
#define MOAT_TESTS_VMOUT_H

#include <stddef.h>
#include <stdint.h>

/* In the guest: prints len bytes as the file name. */
void vmout_put(const char *name, const uint8_t *p, size_t len);

/* On the host: the file name from the console log (malloc'd, *len), or
 * NULL if it is not there whole. */
uint8_t *vmout_get(const char *log, const char *name, size_t *len);

#endif
