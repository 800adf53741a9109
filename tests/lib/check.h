/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Minimal test harness: CHECK() records a failure with file:line and goes
 * on; test_done() returns the exit status (0 pass, 1 fail). test_skip()
 * exits 77 with a reason ("kernel lacks X" is the only reason CI accepts).
 */
#ifndef MOAT_TESTS_CHECK_H
#define MOAT_TESTS_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern int check_failures;
extern int check_count;

/* MOAT_TEST_VERBOSE=1 prints the checks that pass too. */
int check_verbose(void);

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		check_count++;                                                 \
		if (!(cond)) {                                                 \
			check_failures++;                                      \
			fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
		} else if (check_verbose()) {                                  \
			printf("ok: ");                                        \
			printf(__VA_ARGS__);                                   \
			putchar('\n');                                         \
		}                                                              \
	} while (0)

#define CHECK_MEM(a, b, n, ...) CHECK(memcmp((a), (b), (n)) == 0, __VA_ARGS__)

/* Path of a file in the source tree ($MOAT_SRC or "."), static buffer. */
const char *test_src_path(const char *rel);
/* The test clip ($MOAT_MEDIA, else build/media/clip.h264 in the source
 * tree), made absolute when it exists; static buffer. */
const char *test_clip_path(void);
/* The build folder this test belongs to (build/tests/test_x -> build;
 * build/san/tests/test_x -> build/san), absolute; static buffer, "" if
 * unknown. */
const char *test_build_dir(void);
int test_done(const char *name);
void test_skip(const char *why) __attribute__((noreturn));

/* Captures what is written to stderr (fd 2) from cap_begin() on;
 * cap_end() restores it and returns the text (malloc'd, never NULL). */
void cap_begin(void);
char *cap_end(void);

#endif
