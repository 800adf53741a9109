// SPDX-License-Identifier: GPL-2.0-only
/*
 * The viewer's MP4 writer: a real clip's access units remuxed into an MP4
 * that ffprobe reads back as H.264 with the picture size and every frame;
 * frames before the first keyframe with SPS/PPS are skipped; times that
 * repeat, step back or jump by hours still give increasing times in the
 * file, as mp4.h says; a path that cannot be written is named in the
 * error, and a file with no keyframe is an error that says so. An old
 * file at the path is replaced.
 *
 * The clip is $MOAT_MEDIA, or one made here with ffmpeg.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/annexb.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tools/view/mp4.h"

#define FRAME_US 33333ULL
#define HOUR_US	 (3600ULL * 1000000)

/* $MOAT_MEDIA, or a 4 s 640x360 clip made in dir (path in buf). */
static const char *clip_path(const char *dir, char *buf, size_t len)
{
	const char *m = getenv("MOAT_MEDIA");
	char cmd[512], out[512];

	if (m && *m)
		return m;
	snprintf(buf, len, "%s/clip.h264", dir);
	snprintf(
		cmd, sizeof(cmd),
		"ffmpeg -loglevel error -f lavfi -i testsrc2=size=640x360:rate=30 -t 4 -c:v libx264 -g 30 -bf 0 -pix_fmt yuv420p -f h264 %s 2>&1",
		buf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "ffmpeg made %s: %s", buf,
	      out);
	return buf;
}

/* The second access unit, as if it came first: nothing to decode it by. */
static int add_orphan(struct mp4w *w, const uint8_t *clip, size_t len,
		      char *err, size_t errlen)
{
	struct annexb a;
	struct annexb_au au;

	annexb_init(&a, clip, len);
	if (annexb_next_au(&a, &au) != 1 || annexb_next_au(&a, &au) != 1)
		return -EINVAL;
	return mp4_add(w, au.p, au.len, 1, au.key, err, errlen);
}

/* Writes every access unit of the clip, 33333 us apart; their number. */
static size_t write_clip(const char *file, const uint8_t *clip, size_t len)
{
	struct annexb a;
	struct annexb_au au;
	char err[256] = "";
	struct mp4w *w = mp4_open(file, false, err, sizeof(err));
	size_t n = 0;
	int ret, more;

	CHECK(w != NULL, "opened %s: %s", file, err);
	if (!w)
		return 0;
	ret = add_orphan(w, clip, len, err, sizeof(err));
	annexb_init(&a, clip, len);
	while (!ret && (more = annexb_next_au(&a, &au)) == 1) {
		ret = mp4_add(w, au.p, au.len,
			      1700000000000000ULL + n * FRAME_US, au.key, err,
			      sizeof(err));
		n++;
	}
	CHECK(!ret && more == 0, "every access unit added (%d: %s)", ret, err);
	CHECK(mp4_frames(w) == n && mp4_skipped(w) == 1,
	      "%" PRIu64 " of %zu frames written, %" PRIu64 " of 1 skipped",
	      mp4_frames(w), n, mp4_skipped(w));
	CHECK(mp4_close(w, err, sizeof(err)) == 0, "finished %s (%s)", file,
	      err);
	return n;
}

static void probe_clip(const char *file, size_t n)
{
	char cmd[512], out[256] = "", codec[16] = "";
	int wd = 0, ht = 0;
	unsigned long long frames = 0;

	snprintf(
		cmd, sizeof(cmd),
		"ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=nb_read_frames,codec_name,width,height -of csv=p=0 %s",
		file);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "ffprobe %s: %s", file, out);
	CHECK(sscanf(out, "%15[^,],%d,%d,%llu", codec, &wd, &ht, &frames) ==
			      4 &&
		      !strcmp(codec, "h264") && wd == 640 && ht == 360 &&
		      frames == n,
	      "ffprobe: h264,640,360,%zu, not %s", n, out);
}

/* Capture times that repeat, step back and jump: the times in the file. */
static void test_times(const char *file, const uint8_t *clip, size_t len)
{
	static const uint64_t ts[] = {
		5000000,
		5000000 + FRAME_US,
		5000000 + FRAME_US,
		4000000,
		4000000 + FRAME_US,
		4000000 + FRAME_US + 5 * HOUR_US,
		4000000 + 2 * FRAME_US + 5 * HOUR_US,
	};
	static const double want[] = {
		0,	  0.033333,    0.034333,    0.035333,
		0.068666, 3600.068666, 3600.101999,
	};
	char err[256] = "", cmd[512], out[512] = "", *p = out;
	struct mp4w *w = mp4_open(file, false, err, sizeof(err));
	struct annexb a;
	struct annexb_au au;
	size_t i;
	int ret = 0;

	CHECK(w != NULL, "opened %s: %s", file, err);
	annexb_init(&a, clip, len);
	for (i = 0; !ret && i < 7 && annexb_next_au(&a, &au) == 1; i++)
		ret = mp4_add(w, au.p, au.len, ts[i], au.key, err, sizeof(err));
	CHECK(!ret && i == 7, "7 frames added (%s)", err);
	CHECK(mp4_close(w, err, sizeof(err)) == 0, "finished (%s)", err);
	snprintf(
		cmd, sizeof(cmd),
		"ffprobe -v error -select_streams v:0 -show_entries packet=pts_time -of csv=p=0 %s",
		file);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "ffprobe: %s", out);
	for (i = 0; i < 7; i++) {
		char *end;
		double t = strtod(p, &end);

		CHECK(end != p && fabs(t - want[i]) < 0.0001,
		      "frame %zu at %f s, not %s", i, want[i], p);
		p = end;
	}
}

static void test_errors(const char *dir)
{
	char err[256] = "", path[256];
	struct mp4w *w;
	static const uint8_t junk[] = { 1, 2, 3, 4 };

	snprintf(path, sizeof(path), "%s/missing/x.mp4", dir);
	w = mp4_open(path, false, err, sizeof(err));
	CHECK(!w && strstr(err, path), "an unwritable path is named: %s", err);
	mp4_close(w, err, sizeof(err));

	snprintf(path, sizeof(path), "%s/empty.mp4", dir);
	w = mp4_open(path, false, err, sizeof(err));
	CHECK(w && mp4_add(w, junk, sizeof(junk), 1, true, err, sizeof(err)) ==
			      -EINVAL,
	      "bytes with no start code refused: %s", err);
	CHECK(mp4_close(w, err, sizeof(err)) == -ENODATA &&
		      strstr(err, "keyframe") && strstr(err, path),
	      "a file with no keyframe is an error that says so: %s", err);
	unlink(path);
}

int main(void)
{
	char dir[] = "/tmp/moat-mp4-XXXXXX", buf[256] = "", file[256];
	const char *clip_file;
	uint8_t *clip;
	size_t len, n;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(0, "temp folder");
		return test_done("test_mp4");
	}
	clip_file = clip_path(dir, buf, sizeof(buf));
	clip = read_all(clip_file, &len);
	CHECK(clip && len, "read the clip %s", clip_file);
	snprintf(file, sizeof(file), "%s/clip.mp4", dir);
	/* an old file there is replaced, not appended to */
	f = fopen(file, "w");
	CHECK(f && fputs("not an mp4\n", f) >= 0 && !fclose(f), "%s", file);
	if (clip) {
		n = write_clip(file, clip, len);
		probe_clip(file, n);
		test_times(file, clip, len);
	}
	test_errors(dir);
	free(clip);
	unlink(file);
	if (clip_file == buf)
		unlink(buf);
	rmdir(dir);
	return test_done("test_mp4");
}
