/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small JSON reader for moat-bench report: it reads what the other
 * subcommands print with --json (objects, arrays, numbers, strings, true,
 * false, null) into a tree. Bounded: at most BJ_MAX_DEPTH levels, and the
 * text is never read past its length.
 */
#ifndef MOAT_TOOLS_BENCH_JSON_H
#define MOAT_TOOLS_BENCH_JSON_H

#include <stdbool.h>
#include <stddef.h>

enum { BJ_MAX_DEPTH = 16 };

enum bj_type { BJ_NULL, BJ_BOOL, BJ_NUM, BJ_STR, BJ_ARR, BJ_OBJ };

struct bj {
	enum bj_type type;
	double num;	 /* BJ_NUM; BJ_BOOL: 0 or 1 */
	char *str;	 /* BJ_STR */
	char *key;	 /* the member's name, inside an object */
	struct bj *kids; /* BJ_ARR, BJ_OBJ */
	size_t n;
};

/* The tree of text[0..len), or NULL (and a reason in why) if it is not
 * one JSON value. */
struct bj *bj_parse(const char *text, size_t len, char *why, size_t why_len);
void bj_free(struct bj *v);

/* Member key of an object, or NULL (also when v is NULL or no object). */
const struct bj *bj_get(const struct bj *v, const char *key);
/* Element i of an array, or NULL. */
const struct bj *bj_at(const struct bj *v, size_t i);
/* Number of member key (true is 1), or def when missing or not a number. */
double bj_num(const struct bj *v, const char *key, double def);
/* String member key, or def. */
const char *bj_str(const struct bj *v, const char *key, const char *def);

#endif
