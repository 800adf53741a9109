// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for what moat parses of a camera's bytes beyond the
 * Annex-B splitter (fuzz_annexb): the NAL scan the RTSP camera uses to
 * find keyframes and parameter sets (H.264 and H.265), and the motion detector, fed the
 * input as a run of access units (the decoder is libavcodec's; the grid,
 * the comparison and the decoder's limits around it are ours).
 */
#include <libavutil/log.h>

#include "capture/annexb.h"
#include "capture/h264.h"
#include "capture/motion.h"
#include "common/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct motion_opts o = { .sensitivity = 100, .fps = 30,
					.n_ignore = 1,
					.ignore = { { 10, 10, 20, 20 } } };
	static bool quiet;
	struct motion_result r;
	struct annexb a;
	struct annexb_au au;
	struct motion *m;
	char why[128];
	bool key, config;
	uint64_t ts = 0;

	if (!quiet) {
		log_init("fuzz_camera", LOG_LVL_ERR);
		av_log_set_level(AV_LOG_QUIET);
		quiet = true;
	}
	/* the RTSP source's keyframe and parameter-set scan, both codecs: a
	 * type is only read after a start code, so short input has none */
	for (int c = CODEC_H264; c <= CODEC_H265; c++) {
		nal_scan((enum cap_codec)c, data, size, &key, &config);
		if (size < 4 && (key || config))
			__builtin_trap();
	}
	m = motion_new(&o, why, sizeof(why));
	if (!m)
		return 0;
	annexb_init(&a, data, size);
	while (annexb_next_au(&a, &au) == 1) {
		if (motion_feed(m, au.p, au.len, ts, &r) < 0)
			break;
		if (r.cells > r.of || r.of > MOTION_GRID_W * MOTION_GRID_H)
			__builtin_trap();
		ts += 33333;
	}
	motion_free(m);
	return 0;
}
