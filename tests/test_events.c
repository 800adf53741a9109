// SPDX-License-Identifier: GPL-2.0-only
/*
 * Event clips end to end, with real parts: moatd with two file cameras on
 * `record = events`, each replaying a 16 s clip made with libx264 in real
 * time. "door" sees a box cross the picture from 7 s to 9 s; "hall" sees
 * the same still scene with noise and no motion.
 *
 * What must come out: from door exactly one clip, starting at the GOP
 * that gives it at least 5 s of pre-roll (the keyframe at 2 s), ending at
 * the first keyframe 2 s (clip_length) after the last motion (12 s), its
 * access units byte for byte the camera's frames 60-359; from hall no
 * clip, and no stream of hall's ever reaches the relay (its sealed GOPs
 * are discarded at the hub). Two more viewers, approved, get the same
 * clip byte for byte. Nothing plaintext rests at hub or relay.
 */
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/filecam.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static char media[PATH_MAX - 64];

/* The camera's access units first..last (inclusive), concatenated. */
static uint8_t *aus(const char *path, uint64_t first, uint64_t last,
		    size_t *len)
{
	struct filecam_opts fo = { .realtime = false, .loop = false, .fps = 30 };
	struct cap_source *src;
	uint8_t *out = NULL;
	size_t n = 0;

	*len = 0;
	if (filecam_open(path, &fo, &src))
		return NULL;
	for (;;) {
		struct cap_frame f;
		uint64_t due;
		uint8_t *p;

		if (cap_next(src, 0, &f, &due) != 1)
			break;
		if (f.index < first || f.index > last)
			continue;
		p = realloc(out, n + f.len);
		if (!p)
			break;
		out = p;
		memcpy(out + n, f.p, f.len);
		n += f.len;
	}
	cap_close(src);
	*len = n;
	return out;
}

int main(void)
{
	static const char cams[] =
		"[camera door]\nsource = file:%1$s/motion.h264\nloop = no\n"
		"record = events\npreroll = 5\nclip_length = 2\ncooldown = 0\n"
		"[camera hall]\nsource = file:%1$s/still.h264\nloop = no\n"
		"record = events\n";
	const char *m = getenv("MOAT_MEDIA");
	char tmp[PATH_MAX], lines[PATH_MAX * 2 + 512], cmd[4096], out[8192], path[PATH_MAX],
		clips[300], cam[64] = "";
	uint8_t *want = NULL, *got = NULL, *all = NULL;
	size_t want_len = 0, got_len = 0, all_len = 0, files = 0;
	struct pt_set *pt = NULL;
	struct hub h;
	char *st = NULL;
	static const char *const others[] = { "bob", "carol" };

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	snprintf(tmp, sizeof(tmp), "%s",
		 m && *m ? m : test_src_path("build/media/clip.h264"));
	if (!realpath(dirname(tmp), media))
		snprintf(media, sizeof(media), "build/media");
	snprintf(lines, sizeof(lines), cams, media);
	CHECK(!hub_init(&h, "events", lines), "hub folder, keys, config");
	for (int i = 0; i < 2; i++) {
		snprintf(cmd, sizeof(cmd),
			 "%s/moat-view pair --hub-keys %s/keys --out %s/%s.key --name %s >/dev/null 2>&1 && "
			 "%s/moatctl --config %s viewers approve %s >/dev/null 2>&1",
			 h.bin, h.dir, h.dir, others[i], others[i], h.bin, h.conf,
			 others[i]);
		CHECK(system(cmd) == 0, "%s paired and approved", others[i]);
	}
	CHECK(!hub_start_relay(&h), "relay up");
	CHECK(!hub_start_moatd(&h), "moatd up with two events cameras");
	/* 16 s in real time, then both sources end */
	CHECK(!hub_wait_drained(&h, 40000, true),
	      "both clips played, everything sealed acknowledged");
	for (int i = 0; i < 50; i++) {
		free(st);
		st = hub_status(&h);
		if (st && !strstr(st, "\"in_clip\": true"))
			break;
		usleep(100000);
	}
	CHECK(st && json_num(st, "door", "clips") == 1,
	      "door: one clip (%lld)", (long long)json_num(st, "door", "clips"));
	CHECK(st && json_num(st, "door", "motion_starts") == 1,
	      "door: motion began once (%lld)",
	      (long long)json_num(st, "door", "motion_starts"));
	CHECK(st && json_num(st, "hall", "clips") == 0 &&
		      json_num(st, "hall", "motion_starts") == 0,
	      "hall: no motion, no clip");
	CHECK(st && json_num(st, "hall", "discarded_gops") >= 10,
	      "hall: its sealed GOPs were discarded at the hub (%lld)",
	      (long long)json_num(st, "hall", "discarded_gops"));
	CHECK(st && json_num(st, "hall", "frames_sealed") >= 470,
	      "hall: every frame was still sealed as it came (%lld)",
	      (long long)json_num(st, "hall", "frames_sealed"));
	free(st);
	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops on SIGTERM");

	/* The viewer: each clip a file of its own, in a folder it makes. */
	snprintf(clips, sizeof(clips), "%s/clips", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --clips %s --format h264 --json",
		 h.bin, h.ident, h.relay_addr, clips);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0,
	      "the viewer fetches and verifies every stream and clip: %.600s",
	      out);
	CHECK(strstr(out, "\"clips_written\": 1,") &&
		      strstr(out, "\"clips_refused\": 0"),
	      "exactly one clip written: %.600s", out);
	CHECK(strstr(out, "\"streams\": 11,") && strstr(out, "\"refused\": 0,"),
	      "the relay holds the clip's 10 GOP streams and its index, nothing of hall's: %.300s",
	      out);
	CHECK(json_str(out, "clips", "camera", cam, sizeof(cam)) == 0 &&
		      !strcmp(cam, "door"),
	      "the clip is door's (%s)", cam);
	{
		int64_t start = json_num(out, "clips", "start_us"),
			motion = json_num(out, "clips", "motion_us"),
			end = json_num(out, "clips", "end_us");

		CHECK(motion - start >= 5000000 && motion - start < 6500000,
		      "at least 5 s of pre-roll before the motion (%.2f s)",
		      (double)(motion - start) / 1e6);
		CHECK(end - start >= 9500000 && end - start <= 10500000,
		      "the clip runs 10 s, to the keyframe 2 s after the motion (%.2f s)",
		      (double)(end - start) / 1e6);
		CHECK(json_num(out, "clips", "gops") == 10 &&
			      json_num(out, "clips", "frames") == 300,
		      "10 GOPs, 300 frames");
	}
	json_str(out, "clips", "out", path, sizeof(path));
	got = read_all(path, &got_len);
	snprintf(tmp, sizeof(tmp), "%s/motion.h264", media);
	want = aus(tmp, 60, 359, &want_len);
	CHECK(got && want && got_len == want_len &&
		      !memcmp(got, want, want_len),
	      "the clip's bytes equal the camera's frames 60-359 (%zu and %zu bytes)",
	      got_len, want_len);
	for (int i = 0; i < 2; i++) {
		char dir[400], theirs[PATH_MAX];
		uint8_t *b;
		size_t bl = 0;

		snprintf(dir, sizeof(dir), "%s/clips-%s", h.dir, others[i]);
		mkdir(dir, 0700);
		snprintf(cmd, sizeof(cmd),
			 "%s/moat-view fetch --identity %s/%s.key --relay %s --clips %s --format h264 --json",
			 h.bin, h.dir, others[i], h.relay_addr, dir);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
			      strstr(out, "\"clips_written\": 1,") &&
			      !json_str(out, "clips", "out", theirs, sizeof(theirs)),
		      "%s fetches the clip: %s", others[i], out);
		b = read_all(theirs, &bl);
		CHECK(b && got && bl == got_len && !memcmp(b, got, bl),
		      "%s's clip is the same, byte for byte", others[i]);
		free(b);
	}

	/* No plaintext of either camera at rest, at the hub or the relay. */
	all = aus(tmp, 0, 1000, &all_len);
	pt = all ? pt_set_new(all, all_len) : NULL;
	CHECK(pt && pt_scan_tree(pt, h.spool, &files) == 0,
	      "no 8-byte run of door's video in the spool (%zu files)", files);
	CHECK(pt && pt_scan_tree(pt, h.relay_dir, &files) == 0 && files >= 11,
	      "no 8-byte run of door's video at the relay (%zu files)", files);
	pt_set_free(pt);
	free(all);
	snprintf(tmp, sizeof(tmp), "%s/still.h264", media);
	all = aus(tmp, 0, 1000, &all_len);
	pt = all ? pt_set_new(all, all_len) : NULL;
	CHECK(pt && pt_scan_tree(pt, h.spool, &files) == 0 &&
		      pt_scan_tree(pt, h.relay_dir, &files) == 0,
	      "none of hall's either");
	pt_set_free(pt);
	free(all);
	free(got);
	free(want);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_events");
}
