// SPDX-License-Identifier: GPL-2.0-only
#include <limits.h>

#include "tests/lib/check.h"

int check_failures;
int check_count;

const char *test_src_path(const char *rel)
{
	static char buf[PATH_MAX];
	const char *src = getenv("MOAT_SRC");

	snprintf(buf, sizeof(buf), "%s/%s", src && *src ? src : ".", rel);
	return buf;
}

int test_done(const char *name)
{
	if (check_failures) {
		fprintf(stderr, "%s: %d of %d checks failed\n", name,
			check_failures, check_count);
		return 1;
	}
	if (!check_count) {
		fprintf(stderr, "%s: no checks ran\n", name);
		return 1;
	}
	printf("%s: all %d checks passed\n", name, check_count);
	return 0;
}

void test_skip(const char *why)
{
	printf("skip: %s\n", why);
	exit(77);
}
