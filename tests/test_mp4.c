// SPDX-License-Identifier: GPL-2.0-only
/*
 * The viewer's MP4 writer: the test clip's access units remuxed into an
 * MP4 that ffprobe reads back with every frame, the picture size and the
 * codec; frames before the first keyframe with SPS/PPS are skipped; a path
 * that cannot be written is named in the error.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/annexb.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tools/view/mp4.h"

int main(void)
{
	const char *m = getenv("MOAT_MEDIA");
	char path[] = "/tmp/moat-mp4-XXXXXX", file[64], cmd[256], out[256],
		err[256];
	struct annexb_au au[256];
	struct annexb a;
	struct mp4w *w;
	size_t len, n = 0;
	uint8_t *clip = read_all(m && *m ? m : test_src_path("build/media/clip.h264"),
				 &len);
	int ret = 0;

	CHECK(clip != NULL, "the test clip");
	if (!clip)
		return test_done("test_mp4");
	annexb_init(&a, clip, len);
	while (n < 256 && annexb_next_au(&a, &au[n]) == 1)
		n++;
	CHECK(n == 120, "120 access units in the clip (%zu)", n);
	CHECK(mkdtemp(path) != NULL, "temp folder");
	snprintf(file, sizeof(file), "%s/clip.mp4", path);

	w = mp4_open(file, err, sizeof(err));
	CHECK(w != NULL, "opened %s", file);
	/* a frame that depends on nothing we have: skipped */
	ret = mp4_add(w, au[1].p, au[1].len, 5, false, err, sizeof(err));
	for (size_t i = 0; !ret && i < n; i++)
		ret = mp4_add(w, au[i].p, au[i].len, 1000000 + i * 33333,
			      au[i].key, err, sizeof(err));
	CHECK(!ret, "every frame added (%s)", ret ? err : "");
	CHECK(mp4_frames(w) == n && mp4_skipped(w) == 1,
	      "%zu frames written, 1 skipped", n);
	CHECK(mp4_close(w, err, sizeof(err)) == 0, "finished (%s)", err);
	snprintf(cmd, sizeof(cmd),
		 "ffprobe -v error -count_frames -select_streams v:0 "
		 "-show_entries stream=codec_name,width,height,nb_read_frames "
		 "-of csv=p=0 %s",
		 file);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      !strncmp(out, "h264,640,360,120", 16),
	      "ffprobe: h264 640x360, 120 frames (%s)", out);
	unlink(file);
	rmdir(path);

	w = mp4_open("/nonexistent-dir/x.mp4", err, sizeof(err));
	CHECK(!w && strstr(err, "/nonexistent-dir/x.mp4"),
	      "an unwritable path is named: %s", err);
	w = mp4_open("/tmp/moat-mp4-empty.mp4", err, sizeof(err));
	CHECK(mp4_close(w, err, sizeof(err)) < 0 && strstr(err, "keyframe"),
	      "a file with no keyframe is an error that says so: %s", err);
	unlink("/tmp/moat-mp4-empty.mp4");
	free(clip);
	return test_done("test_mp4");
}
