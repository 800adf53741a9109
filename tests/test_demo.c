// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo, as `make demo` runs it, for both cipher suites: every access
 * unit back for both viewers, stranger and tamper refused, no plaintext in
 * the spool while the control scan finds it in the clip. And a missing
 * clip is reported by name.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/check.h"

static char demo[PATH_MAX];

/* Runs the demo with args; returns its exit status, output in out. */
static int run(const char *env, const char *args, char *out, size_t cap)
{
	char cmd[PATH_MAX * 2];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s '%s' offline %s 2>&1", env, demo, args);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	n = fread(out, 1, cap - 1, f);
	out[n] = '\0';
	return WEXITSTATUS(pclose(f));
}

static long json_num(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void check_suite(const char *clip, const char *cipher)
{
	static char out[8192];
	char env[64], args[PATH_MAX + 16];
	long aus;
	const char *v;

	snprintf(env, sizeof(env), "MOAT_CIPHER=%s", cipher);
	snprintf(args, sizeof(args), "--json '%s'", clip);
	CHECK(run(env, args, out, sizeof(out)) == 0, "%s demo exits 0: %s",
	      cipher, out);
	CHECK(strstr(out, "\"ok\": true") != NULL, "ok: %s", out);
	aus = json_num(out, "\"access_units\": ");
	CHECK(aus >= 100, "the clip has %ld access units", aus);
	v = strstr(out, "\"viewers\"");
	CHECK(v && json_num(v, "\"access_units_matched\": ") == aus,
	      "first viewer matched all %ld", aus);
	v = v ? strstr(v + 1, "\"name\": \"bob\"") : NULL;
	CHECK(v && json_num(v, "\"access_units_matched\": ") == aus,
	      "second viewer matched all %ld", aus);
	CHECK(json_num(out, "\"plaintext_hits\": ") == 0,
	      "no plaintext in the spool");
	CHECK(json_num(out, "\"control_hits\": ") > 100,
	      "the scan does find plaintext where it is");
	CHECK(strstr(out, "not sealed to any key this viewer holds") != NULL,
	      "stranger refused as not a recipient");
	CHECK(strstr(out, "\"tamper_error\": \"record failed authentication") !=
			      NULL ||
		      strstr(out, "\"tamper_error\": \"stream header") != NULL,
	      "tampered stream refused");
	CHECK(strstr(out, cipher) != NULL, "cipher %s used", cipher);
}

int main(void)
{
	const char *media = getenv("MOAT_MEDIA");
	static char out[8192];
	ssize_t n;

	n = readlink("/proc/self/exe", demo, sizeof(demo) - 32);
	if (n < 0)
		return 1;
	demo[n] = '\0';
	strcpy(strrchr(demo, '/'), "/../bin/moat-demo");
	if (!media || !*media)
		media = "build/media/clip.h264";
	check_suite(media, "aes-256-gcm");
	check_suite(media, "chacha20-poly1305");
	CHECK(run("", "/nonexistent/clip.h264", out, sizeof(out)) == 1 &&
		      strstr(out, "/nonexistent/clip.h264: No such file") !=
			      NULL,
	      "missing clip named: %s", out);
	CHECK(run("MOAT_CIPHER=rot13", "", out, sizeof(out)) == 1 &&
		      strstr(out, "rot13") != NULL,
	      "bad cipher named: %s", out);
	if (!geteuid()) {
		/* `make demo` itself: the whole pipeline, real processes. */
		char cmd[PATH_MAX * 2];
		FILE *f;
		size_t k;

		char clips[] = "/tmp/moat-test-demo-clips.XXXXXX";

		/* the clips go to a folder of the test's own, never into the
		 * source tree (moat-demo's default is relative) */
		CHECK(mkdtemp(clips) != NULL, "a folder for the clips");
		snprintf(cmd, sizeof(cmd),
			 "'%s' --json --out /tmp/moat-test-demo.mp4 --clips %s %s 2>&1",
			 demo, clips, media);
		f = popen(cmd, "r");
		k = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
		out[k] = 0;
		CHECK(f && WEXITSTATUS(pclose(f)) == 0 &&
			      strstr(out, "\"ok\": true") &&
			      strstr(out, "\"viewer_identical\": true") &&
			      strstr(out, "\"mp4_frames\": 120") &&
			      strstr(out, "\"plaintext_hits_disk\": 0,") &&
			      strstr(out, "\"plaintext_hits_wire\": 0,") &&
			      json_num(out, "\"wire_bytes\": ") > 400000 &&
			      json_num(out, "\"zero_copy_sends\": ") > 0 &&
			      json_num(out, "\"zero_copy_sends\": ") +
					      json_num(out, "\"plain_sends\": ") >
				      100 &&
			      /* plain only after 64 the kernel copied */
			      (json_num(out, "\"zero_copy_fallbacks\": ") == 0 ||
			       json_num(out, "\"zero_copy_sends\": ") >= 64),
		      "the pipeline demo: identical frames, MP4, no plaintext on disk or wire: %s",
		      out);
		CHECK(json_num(out, "\"camera_blocked\": ") >= 4 &&
			      json_num(out, "\"gate_frames\": ") >=
				      json_num(out, "\"records\": ") &&
			      strstr(out, "\"gate_killed\": 0}"),
		      "the demo's policy: porch's phone-home tries dropped and logged, every record through the gate: %s",
		      out);
		unlink("/tmp/moat-test-demo.mp4");
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", clips);
		CHECK(system(cmd) == 0, "the clips folder removed");
	}
	return test_done("test_demo");
}
