/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A growing text buffer for replies and reports (status, policy). On
 * allocation failure p is NULL and later calls do nothing: the caller
 * checks p once at the end. Free p with free().
 */
#ifndef MOAT_COMMON_SBUF_H
#define MOAT_COMMON_SBUF_H

#include <stddef.h>

struct sbuf {
	char *p;
	size_t len, cap;
};

void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s inside a JSON string: quotes, backslashes and control characters
 * escaped. */
void sb_json_str(struct sbuf *b, const char *s);
/* The lines of text (a report, one problem a line) as one line, sep
 * between them. */
void sb_join_lines(struct sbuf *b, const char *text, const char *sep);
/* n bytes for people: "512 B", "3.2 MiB", "1.0 GiB". */
void human_bytes(char *out, size_t len, double n);

#endif
