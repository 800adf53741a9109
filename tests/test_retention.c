// SPDX-License-Identifier: GPL-2.0-only
/*
 * 24/7 recording against a relay with a quota: moatd records a file camera
 * continuously to a moat-relay started with --quota 256K, well below what
 * the camera sends in the run. The relay must delete the hub's oldest
 * streams (and say so), keep the hub within its quota, keep the newest
 * streams, and everything it kept must still open.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

/* Bytes of the stream files under dir/<hub>/ (one hub). */
static uint64_t stored(const char *dir, size_t *files)
{
	char cmd[600], out[64];

	snprintf(cmd, sizeof(cmd),
		 "find %s -name '*.moat' | wc -l; find %s -name '*.moat' -printf '%%s\\n' | awk '{s+=$1} END {print s+0}'",
		 dir, dir);
	if (run_cmd(cmd, out, sizeof(out)))
		return UINT64_MAX;
	*files = (size_t)strtoull(out, NULL, 10);
	return strtoull(strchr(out, '\n') ? strchr(out, '\n') + 1 : "0", NULL,
			10);
}

int main(void)
{
	static const char cam[] = "[camera yard]\nsource = file:%s\n";
	const char *m = getenv("MOAT_MEDIA");
	char clip[PATH_MAX], lines[PATH_MAX + 100], cmd[2048], out[8192], log[300];
	uint64_t bytes, sent;
	size_t files = 0;
	struct hub h;
	uint8_t *l;
	size_t ll;
	char *st;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	if (!realpath(m && *m ? m : test_src_path("build/media/clip.h264"),
		      clip)) {
		CHECK(0, "the test clip exists (make media)");
		return test_done("test_retention");
	}
	snprintf(lines, sizeof(lines), cam, clip);
	CHECK(!hub_init(&h, "retention", lines), "hub folder, keys, config");
	snprintf(h.relay_quota, sizeof(h.relay_quota), "256K");
	CHECK(!hub_start_relay(&h), "relay up with --quota 256K");
	CHECK(!hub_start_moatd(&h), "moatd up, recording continuously");
	sleep(9); /* about 1 MB of the looping 4 s clip */
	st = hub_status(&h);
	sent = st ? (uint64_t)json_num(st, "uplink", "bytes_sent") : 0;
	free(st);
	CHECK(sent > 3 * 256 * 1024,
	      "the camera sent far more than the quota (%llu bytes)",
	      (unsigned long long)sent);
	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops");
	usleep(300000);
	bytes = stored(h.relay_dir, &files);
	CHECK(bytes <= 256 * 1024 + 64 * 1024,
	      "the relay keeps the hub near its quota: %llu bytes in %zu streams",
	      (unsigned long long)bytes, files);
	CHECK(files >= 2, "and still keeps the newest streams (%zu)", files);
	snprintf(log, sizeof(log), "%s/relay.log", h.dir);
	l = read_all(log, &ll);
	CHECK(l && strstr((char *)l, "retention: hub ") &&
		      strstr((char *)l, "oldest stream(s)"),
	      "the relay's log says what the quota deleted");
	free(l);

	/* What is left opens, and it is the end of the recording. */
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/kept.h264 --json",
		 h.bin, h.ident, h.relay_addr, h.dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "\"refused\": 0,"),
	      "every stream the relay kept opens: %.300s", out);
	CHECK(json_num(out, NULL, "streams") == (int64_t)files &&
		      json_num(out, NULL, "opened") == (int64_t)files,
	      "all %zu kept streams listed and opened", files);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_retention");
}
