// SPDX-License-Identifier: GPL-2.0-only
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"

int check_failures;
int check_count;

int check_verbose(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("MOAT_TEST_VERBOSE") != NULL;
	return v;
}

const char *test_src_path(const char *rel)
{
	static char buf[PATH_MAX];
	const char *src = getenv("MOAT_SRC");

	snprintf(buf, sizeof(buf), "%s/%s", src && *src ? src : ".", rel);
	return buf;
}

const char *test_build_dir(void)
{
	static char dir[PATH_MAX];
	char *slash;

	if (!realpath("/proc/self/exe", dir))
		return "";
	for (int i = 0; i < 2; i++) {
		slash = strrchr(dir, '/');
		if (!slash)
			return "";
		*slash = 0;
	}
	return dir;
}

const char *test_clip_path(void)
{
	static char abs[PATH_MAX];
	const char *m = getenv("MOAT_MEDIA");

	m = m && *m ? m : test_src_path("build/media/clip.h264");
	return realpath(m, abs) ? abs : m;
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

static int cap_saved = -1;
static FILE *cap_file;

void cap_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	cap_saved = dup(2);
	if (cap_file)
		dup2(fileno(cap_file), 2);
}

char *cap_end(void)
{
	char *buf;
	long n;

	fflush(stderr);
	dup2(cap_saved, 2);
	close(cap_saved);
	if (!cap_file)
		return strdup("");
	n = ftell(cap_file);
	buf = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
	rewind(cap_file);
	if (buf && n > 0 && fread(buf, 1, (size_t)n, cap_file) != (size_t)n)
		buf[0] = '\0';
	fclose(cap_file);
	return buf ? buf : strdup("");
}
