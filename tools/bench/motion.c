// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench motion: what motion detection costs a capture worker per
 * camera. The same 1080p30 clip goes through the detector as moatd runs
 * it (decoder without loop filter or non-reference frames, a 32x18 luma
 * grid motion_fps times a second) and, as the baseline in the same run,
 * through a plain single-threaded libavcodec decode of every picture.
 * Runs alternate; each figure is the median of the runs.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libavcodec/avcodec.h>

#include "capture/filecam.h"
#include "capture/motion.h"
#include "common/log.h"
#include "tools/bench/bench.h"

struct clip {
	struct cap_frame *f;
	size_t n;
	struct cap_source *src; /* keeps the frames' bytes */
	uint8_t **copy;
};

static int load(const char *path, struct clip *c)
{
	struct filecam_opts fo = { .realtime = false, .loop = false, .fps = 30 };
	struct cap_source *src;
	int ret = filecam_open(path, &fo, &src);

	memset(c, 0, sizeof(*c));
	if (ret)
		return ret;
	for (;;) {
		struct cap_frame f;
		uint64_t due;
		void *p, *q;

		if (cap_next(src, 0, &f, &due) != 1)
			break;
		p = realloc(c->f, (c->n + 1) * sizeof(*c->f));
		q = realloc(c->copy, (c->n + 1) * sizeof(*c->copy));
		if (p)
			c->f = p;
		if (q)
			c->copy = q;
		if (!p || !q)
			break;
		c->copy[c->n] = malloc(f.len);
		if (!c->copy[c->n])
			break;
		memcpy(c->copy[c->n], f.p, f.len);
		c->f[c->n] = f;
		c->f[c->n].p = c->copy[c->n];
		c->n++;
	}
	cap_close(src);
	return c->n ? 0 : -ENODATA;
}

/* CPU seconds for the detector over the clip. */
static double run_motion(const struct clip *c, unsigned int fps)
{
	struct motion_opts o = { .sensitivity = 50, .fps = fps };
	struct motion_result r;
	char why[128];
	struct motion *m = motion_new(&o, why, sizeof(why));
	double t0 = bench_cpu_now();

	for (size_t i = 0; m && i < c->n; i++)
		motion_feed(m, c->f[i].p, c->f[i].len, i * 1000000 / 30, &r);
	t0 = bench_cpu_now() - t0;
	motion_free(m);
	return m ? t0 : -1;
}

/* CPU seconds for a plain decode of every picture. */
static double run_decode(const struct clip *c)
{
	const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *d = avcodec_alloc_context3(codec);
	AVPacket *pkt = av_packet_alloc();
	AVFrame *fr = av_frame_alloc();
	double t0;

	if (!d || !pkt || !fr)
		return -1;
	d->thread_count = 1;
	if (avcodec_open2(d, codec, NULL) < 0)
		return -1;
	t0 = bench_cpu_now();
	for (size_t i = 0; i < c->n; i++) {
		if (av_new_packet(pkt, (int)c->f[i].len) < 0)
			break;
		memcpy(pkt->data, c->f[i].p, c->f[i].len);
		if (avcodec_send_packet(d, pkt) >= 0)
			while (avcodec_receive_frame(d, fr) >= 0)
				av_frame_unref(fr);
		av_packet_unref(pkt);
	}
	t0 = bench_cpu_now() - t0;
	av_frame_free(&fr);
	av_packet_free(&pkt);
	avcodec_free_context(&d);
	return t0;
}

int bench_motion(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "clip", required_argument, NULL, 'f' },
		{ "runs", required_argument, NULL, 'r' },
		{ "fps", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	static const char def_clip[] = "build/media/bench-1080p.h264";
	const char *path = def_clip;
	unsigned int runs = 7, fps = 5;
	double tm[32], td[32], m, d, secs;
	struct bench_machine mach;
	bool json = false;
	struct clip c;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			path = optarg;
			break;
		case 'r':
			runs = (unsigned int)atoi(optarg);
			if (runs < 1 || runs > 32) {
				fprintf(stderr, "moat-bench motion: --runs: 1..32\n");
				return 2;
			}
			break;
		case 'p':
			fps = (unsigned int)atoi(optarg);
			if (fps < 1 || fps > 30) {
				fprintf(stderr, "moat-bench motion: --fps: 1..30\n");
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			printf("Usage: moat-bench motion [--clip FILE] [--runs 7] [--fps 5] [--json]\n\n"
			       "Feeds a 1080p30 H.264 clip (made with libx264 on first use)\n"
			       "through moat's motion detector as a capture worker runs it,\n"
			       "and through a plain libavcodec decode of every picture as the\n"
			       "baseline, in alternating runs. Reports CPU time per frame and\n"
			       "the share of one core a 30 fps camera takes, and the ratio.\n");
			return 0;
		default:
			return 2;
		}
	}
	log_init("moat-bench", LOG_LVL_ERR);
	/* only the default clip is made; a clip given is only read */
	if ((path == def_clip && bench_make_clip(path)) || load(path, &c)) {
		fprintf(stderr, "moat-bench motion: cannot read %s\n", path);
		return 1;
	}
	for (unsigned int i = 0; i < runs; i++) {
		tm[i] = run_motion(&c, fps);
		td[i] = run_decode(&c);
		if (!json && isatty(2))
			fprintf(stderr, "\rmoat-bench motion: run %u of %u", i + 1,
				runs);
	}
	if (!json && isatty(2))
		fputc('\n', stderr);
	m = bench_median(tm, runs);
	d = bench_median(td, runs);
	secs = (double)c.n / 30;
	bench_machine(&mach);
	if (json) {
		printf("{\"frames\": %zu, \"motion_fps\": %u, \"runs\": %u, "
		       "\"motion_ms_per_frame\": %.3f, \"decode_ms_per_frame\": %.3f, "
		       "\"motion_core_pct_30fps\": %.2f, \"decode_core_pct_30fps\": %.2f, "
		       "\"ratio\": %.3f, \"machine\": ",
		       c.n, fps, runs, m * 1e3 / (double)c.n,
		       d * 1e3 / (double)c.n, m / secs * 100, d / secs * 100,
		       m / d);
		bench_machine_json(stdout, &mach);
		printf("}\n");
	} else {
		bench_machine_print(stdout, &mach);
		printf("clip %s: %zu frames (%.1f s at 30 fps), median of %u runs\n",
		       path, c.n, secs, runs);
		printf("  motion detector (%u fps analysed): %.2f ms/frame, %.1f%% of a core per camera\n",
		       fps, m * 1e3 / (double)c.n, m / secs * 100);
		printf("  plain decode of every picture:     %.2f ms/frame, %.1f%% of a core per camera\n",
		       d * 1e3 / (double)c.n, d / secs * 100);
		printf("  detector / plain decode: %.2fx\n", m / d);
	}
	for (size_t i = 0; i < c.n; i++)
		free(c.copy[i]);
	free(c.copy);
	free(c.f);
	return 0;
}
