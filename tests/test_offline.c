// SPDX-License-Identifier: GPL-2.0-only
/*
 * The hub cut off from the relay for a long stretch, then back: moatd
 * records with no relay to reach (40 s of video, played as fast as the hub
 * seals, and then the uplink left retrying with backoff), its spool holds
 * every sealed record and status says so; then the relay comes up, the
 * uplink catches up, and the viewer gets every stream (moat-view list
 * shows each) and the video it writes is the camera's file, byte for
 * byte. Nothing is lost within the quota.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

enum { COPIES = 10 }; /* the 4 s clip, ten times: 40 s, 40 GOP streams */

static struct hub h;

int main(void)
{
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 200], path[PATH_MAX], cmd[2048], out[8192],
		state[32] = "";
	uint8_t *want, *got;
	size_t want_len = 0, got_len = 0;
	int64_t unacked = -1, acked = -1, sealed = -1;
	char *st;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	want = clip_repeated(clip, COPIES, path, sizeof(path), &want_len);
	CHECK(want != NULL, "the clip, %d times over", COPIES);
	if (!want)
		return test_done("test_offline");
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\npace = fast\nloop = no\n",
		 path);
	CHECK(!hub_init(&h, "offline", lines), "hub set up");
	CHECK(!hub_start_moatd(&h), "moatd up, with no relay to reach");
	/* the camera plays out; the uplink keeps retrying */
	for (int i = 0; i < 200; i++) {
		st = hub_status(&h);
		if (st) {
			json_str(st, "cameras", "state", state, sizeof(state));
			sealed = json_num(st, "sealer", "records");
			unacked = json_num(st, "spool", "unacked_bytes");
			acked = json_num(st, "uplink", "acked");
		}
		free(st);
		if (!strcmp(state, "ended"))
			break;
		usleep(100000);
	}
	sleep(8); /* the uplink's backoff reaches its ceiling (5 s) */
	st = hub_status(&h);
	unacked = st ? json_num(st, "spool", "unacked_bytes") : -1;
	acked = st ? json_num(st, "uplink", "acked") : -1;
	free(st);
	CHECK(!strcmp(state, "ended") && sealed > 40 * 30 && acked == 0 &&
		      unacked >= (int64_t)want_len,
	      "40 s recorded and sealed with the relay out of reach: all of it in the spool (%lld bytes unacknowledged, %lld records sealed, %lld acknowledged)",
	      (long long)unacked, (long long)sealed, (long long)acked);

	CHECK(!hub_start_relay(&h), "the relay comes back");
	CHECK(!hub_wait_drained(&h, 60000, true),
	      "the uplink catches up: every record acknowledged");
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/all.h264 --format h264 --json 2>&1",
		 h.bin, h.ident, h.relay_addr, h.dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      json_num(out, NULL, "streams") == 40 &&
		      json_num(out, NULL, "opened") == 40,
	      "the viewer opens all 40 streams: %s", out);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view list --identity %s --relay %s --json 2>&1",
		 h.bin, h.ident, h.relay_addr);
	{
		int rc = run_cmd(cmd, out, sizeof(out)), gops = 0;

		for (char *p = out; (p = strstr(p, "\"state\": \"opened\", \"camera\": \"porch\", \"kind\": \"gop\"")); p++)
			gops++;
		CHECK(rc == 0 && gops == 40 && strstr(out, "\"frames\": 30,"),
		      "moat-view list: 40 GOPs of porch, opened, 30 frames each (%d): %.300s",
		      gops, out);
	}
	snprintf(cmd, sizeof(cmd), "%s/all.h264", h.dir);
	got = read_all(cmd, &got_len);
	CHECK(got && got_len == want_len && !memcmp(got, want, want_len),
	      "the video is the camera's file, byte for byte (%zu of %zu bytes)",
	      got_len, want_len);
	free(got);
	free(want);
	unlink(path);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_offline");
}
