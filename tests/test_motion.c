// SPDX-License-Identifier: GPL-2.0-only
/*
 * Motion detection on real H.264 (tools/make-clip.sh, libx264): a still
 * scene with sensor-like noise never triggers; the same scene with a box
 * crossing it from 7 s to 9 s triggers once, while the box moves; a zone
 * over the box's path silences it; garbage never crashes the decoder;
 * the zone syntax is checked with messages that say what is wrong.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/filecam.h"
#include "capture/motion.h"
#include "common/log.h"
#include "tests/lib/check.h"

static char media_dir[PATH_MAX - 32];

static const char *scene(const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s.h264", media_dir, name);
	return buf;
}

struct run {
	unsigned int samples, motion_samples, events;
	double first_s, last_s; /* when the detector was active */
};

/* Feeds a 30 fps clip; timestamps as if captured live. */
static int run_clip(const char *path, const struct motion_opts *o,
		    struct run *out)
{
	struct filecam_opts fo = { .realtime = false, .loop = false, .fps = 30 };
	struct cap_source *src;
	struct motion *m;
	char why[128];
	bool was = false;
	int ret = filecam_open(path, &fo, &src);

	memset(out, 0, sizeof(*out));
	out->first_s = -1;
	if (ret)
		return ret;
	m = motion_new(o, why, sizeof(why));
	if (!m) {
		fprintf(stderr, "motion_new: %s\n", why);
		cap_close(src);
		return -ENOMEM;
	}
	for (;;) {
		struct cap_frame f;
		struct motion_result r;
		uint64_t due;

		ret = cap_next(src, 0, &f, &due);
		if (ret != 1)
			break;
		ret = motion_feed(m, f.p, f.len, f.index * 1000000 / 30, &r);
		if (ret)
			break;
		out->samples += r.sampled;
		out->motion_samples += r.motion;
		if (r.active && !was) {
			out->events++;
			if (out->first_s < 0)
				out->first_s = (double)f.index / 30;
		}
		if (r.active)
			out->last_s = (double)f.index / 30;
		was = r.active;
	}
	motion_free(m);
	cap_close(src);
	return ret == -ENODATA ? 0 : ret;
}

static void zones(void)
{
	struct motion_zone z[MOTION_ZONES_MAX];
	char why[160] = "";
	size_t n = 0;

	CHECK(!motion_parse_zones("", z, &n, why, sizeof(why)) && n == 0,
	      "no zones");
	CHECK(!motion_parse_zones("0,0,100,20; 70, 50, 30, 50", z, &n, why,
				  sizeof(why)) &&
		      n == 2 && z[1].x == 70 && z[1].y == 50 && z[1].w == 30 &&
		      z[1].h == 50,
	      "two zones parsed: %s", why);
	CHECK(motion_parse_zones("0,0,100", z, &n, why, sizeof(why)) ==
			      -EINVAL &&
		      strstr(why, "zone 1 is not x,y,w,h"),
	      "three numbers refused: %s", why);
	CHECK(motion_parse_zones("50,0,60,10", z, &n, why, sizeof(why)) ==
			      -EINVAL &&
		      strstr(why, "past the picture"),
	      "a zone past the edge refused: %s", why);
	CHECK(motion_parse_zones("0,0,10,10/1,1,1,1", z, &n, why,
				 sizeof(why)) == -EINVAL &&
		      strstr(why, "separated by ';'"),
	      "a bad separator refused: %s", why);
	CHECK(motion_parse_zones("0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1;0,0,1,1",
				 z, &n, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "more than 8"),
	      "nine zones refused: %s", why);
	CHECK(motion_parse_zones("-1,0,5,5", z, &n, why, sizeof(why)) ==
		      -EINVAL,
	      "a negative number refused");
}

/* Random bytes, and a real clip cut into pieces: no crash, no motion. */
static void garbage(void)
{
	struct motion_opts o = { .sensitivity = 100, .fps = 30 };
	struct motion_result r;
	char why[128];
	struct motion *m = motion_new(&o, why, sizeof(why));
	uint8_t b[4096];
	unsigned int active = 0, errs = 0;

	char *out;
	unsigned int lines = 0;

	/* the decoder's complaints go to the log, at most 20 a minute */
	log_init("test_motion", LOG_LVL_WARN);
	cap_begin();
	srand(7);
	for (int i = 0; m && i < 2000; i++) {
		size_t len = (size_t)(rand() % (int)sizeof(b));

		for (size_t k = 0; k < len; k++)
			b[k] = (uint8_t)rand();
		/* a start code now and then, so the parser gets further */
		if (len > 8 && i % 3 == 0) {
			b[0] = b[1] = b[2] = 0;
			b[3] = 1;
			b[4] = (uint8_t)(0x60 | (i % 2 ? 5 : 7));
		}
		errs += motion_feed(m, b, len, (uint64_t)i * 33333, &r) != 0;
		active += r.active;
	}
	out = cap_end();
	for (const char *p = out; (p = strstr(p, "av: ")); p++)
		lines++;
	CHECK(lines >= 1 && lines <= 20,
	      "the decoder's complaints reach the log, at most 20 a minute (%u)",
	      lines);
	free(out);
	log_init("test_motion", LOG_LVL_ERR);
	CHECK(m && active == 0, "2000 random access units: no motion (%u)",
	      active);
	CHECK(errs == 0,
	      "nothing decodable yet, so garbage is skipped, not an error (%u)",
	      errs);
	motion_free(m);
}

int main(void)
{
	const char *media = getenv("MOAT_MEDIA");
	struct motion_opts o = { .sensitivity = 50, .fps = 5 };
	char p1[PATH_MAX], p2[PATH_MAX], tmp[PATH_MAX];
	struct run still, moving, masked, sensitive;

	snprintf(tmp, sizeof(tmp), "%s",
		 media && *media ? media : test_src_path("build/media/clip.h264"));
	snprintf(media_dir, sizeof(media_dir), "%s", dirname(tmp));
	zones();
	garbage();

	CHECK(!run_clip(scene("still", p1, sizeof(p1)), &o, &still),
	      "%s decodes (make media)", p1);
	CHECK(still.samples >= 75 && still.samples <= 81,
	      "5 samples a second over 16 s (%u)", still.samples);
	CHECK(still.events == 0 && still.motion_samples == 0,
	      "the still scene with noise: no motion (%u samples moved)",
	      still.motion_samples);

	CHECK(!run_clip(scene("motion", p2, sizeof(p2)), &o, &moving),
	      "%s decodes", p2);
	CHECK(moving.events == 1,
	      "the crossing box: exactly one event (%u)", moving.events);
	CHECK(moving.first_s >= 7.0 && moving.first_s <= 7.8,
	      "it starts while the box moves in (%.2f s; the box enters at 7 s)",
	      moving.first_s);
	CHECK(moving.last_s >= 8.5 && moving.last_s <= 9.5,
	      "and ends when the box is gone (%.2f s; it leaves at 9 s)",
	      moving.last_s);

	/* the box crosses the middle band: ignoring it silences the event */
	o.n_ignore = 1;
	o.ignore[0] = (struct motion_zone){ 0, 30, 100, 40 };
	CHECK(!run_clip(p2, &o, &masked) && masked.events == 0,
	      "a zone over the box's path: no event (%u, %u samples moved)",
	      masked.events, masked.motion_samples);

	/* the most sensitive setting still ignores the noise */
	o.n_ignore = 0;
	o.sensitivity = 100;
	CHECK(!run_clip(p1, &o, &sensitive) && sensitive.events == 0,
	      "sensitivity 100 on the still scene: no event (%u samples moved)",
	      sensitive.motion_samples);
	return test_done("test_motion");
}
