// SPDX-License-Identifier: GPL-2.0-only
/*
 * The file camera on the real libx264 clip: every byte of the file comes
 * out, in order, as access units with keyframes where the encoder put
 * them; realtime pacing releases frame i at start + i/fps and never early
 * (driven by an injected clock, so nothing here depends on timing);
 * looping goes on with continuous timestamps; bad files are refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/filecam.h"
#include "common/err.h"
#include "common/fileio.h"
#include "tests/lib/check.h"

static const char *clip;

static void test_fast_once(const uint8_t *file, size_t len)
{
	struct filecam_opts o = { .realtime = false, .loop = false, .fps = 30 };
	struct cap_source *s;
	struct cap_frame f;
	size_t off = 0, keys = 0, n = 0, bad_ts = 0;
	uint64_t due;
	int ret;

	CHECK(filecam_open(clip, &o, &s) == 0, "open %s", clip);
	if (!s)
		return;
	while ((ret = cap_next(s, 5000000, &f, &due)) == 1) {
		CHECK(f.len <= len - off && !memcmp(f.p, file + off, f.len),
		      "frame %zu is the file's next bytes", n);
		bad_ts += f.ts_us != 5000000 + n * 1000000 / 30 || f.index != n;
		keys += f.key;
		off += f.len;
		n++;
	}
	CHECK(ret == -ENODATA, "end of a finite file: %d", ret);
	CHECK(off == len, "all %zu bytes delivered (%zu)", len, off);
	CHECK(n >= 100 && keys >= 2 && keys < n, "%zu frames, %zu keyframes", n,
	      keys);
	CHECK(bad_ts == 0, "%zu frames with a wrong timestamp or index",
	      bad_ts);
	printf("fast: %zu frames, %zu keyframes, %zu bytes\n", n, keys, off);
	cap_close(s);
}

static void test_realtime(void)
{
	struct filecam_opts o = { .realtime = true, .loop = true, .fps = 25 };
	const uint64_t t0 = 1000000000;
	struct cap_source *s;
	struct cap_frame f;
	uint64_t due = 0;
	int i, early = 0;

	CHECK(filecam_open(clip, &o, &s) == 0, "open");
	if (!s)
		return;
	CHECK(cap_next(s, t0, &f, &due) == 1 && f.ts_us == t0 && f.key,
	      "first frame at once, a keyframe");
	CHECK(cap_next(s, t0, &f, &due) == 0 && due == t0 + 40000,
	      "second frame due 40 ms later (25 fps): %llu",
	      (unsigned long long)due);
	for (i = 1; i < 50; i++) {
		uint64_t when = t0 + (uint64_t)i * 40000;

		early += cap_next(s, when - 1, &f, &due) != 0 || due != when;
		CHECK(cap_next(s, when, &f, &due) == 1 && f.ts_us == when,
		      "frame %d at its time", i);
	}
	CHECK(early == 0, "%d frames offered before their time", early);
	/* A worker that fell behind gets the missed frames back to back. */
	CHECK(cap_next(s, t0 + 10000000, &f, &due) == 1 && f.index == 50 &&
		      f.ts_us == t0 + 50 * 40000,
	      "late reader: next frame, not a skip");
	cap_close(s);
}

static void test_loop(size_t file_frames, const uint8_t *file)
{
	struct filecam_opts o = { .realtime = false, .loop = true, .fps = 30 };
	struct cap_source *s;
	struct cap_frame f;
	size_t i, wrapped = 0;
	uint64_t due;

	CHECK(filecam_open(clip, &o, &s) == 0, "open");
	if (!s)
		return;
	for (i = 0; i < 2 * file_frames + 5; i++) {
		CHECK(cap_next(s, 0, &f, &due) == 1, "frame %zu", i);
		if (i % file_frames == 0)
			wrapped += f.p == file || !memcmp(f.p, file, 16);
		CHECK(f.index == i && f.ts_us == i * 1000000 / 30,
		      "index and time go on across the loop");
	}
	CHECK(wrapped == 3, "the file starts over at frames 0, %zu and %zu",
	      file_frames, 2 * file_frames);
	cap_close(s);
}

static void test_bad_files(void)
{
	struct filecam_opts o = { .realtime = false, .loop = false, .fps = 30 };
	struct cap_source *s;
	char empty[] = "/tmp/moat-filecam.XXXXXX";
	int fd = mkstemp(empty);

	CHECK(filecam_open("/nonexistent.h264", &o, &s) == -ENOENT && !s,
	      "missing file");
	CHECK(filecam_open(empty, &o, &s) == -MOAT_E_MALFORMED, "empty file");
	CHECK(filecam_open(test_src_path("README.md"), &o, &s) ==
		      -MOAT_E_MALFORMED,
	      "a text file is not H.264");
	o.fps = 0;
	CHECK(filecam_open(clip, &o, &s) == -EINVAL, "0 fps refused");
	close(fd);
	unlink(empty);
}

int main(void)
{
	uint8_t *file = NULL;
	size_t len = 0, frames = 0;
	struct filecam_opts o = { .fps = 30 };
	struct cap_source *s;
	struct cap_frame f;
	uint64_t due;

	clip = getenv("MOAT_MEDIA");
	if (!clip || !*clip)
		clip = "build/media/clip.h264";
	if (file_read_bounded(clip, 64 << 20, &file, &len)) {
		fprintf(stderr, "%s: run `make media' first\n", clip);
		return 1;
	}
	if (filecam_open(clip, &o, &s) == 0) {
		while (cap_next(s, 0, &f, &due) == 1)
			frames++;
		cap_close(s);
	}
	test_fast_once(file, len);
	test_realtime();
	test_loop(frames, file);
	test_bad_files();
	free(file);
	return test_done("test_filecam");
}
