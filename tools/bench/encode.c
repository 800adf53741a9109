// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench encode: the local-camera path, stage by stage. A V4L2
 * camera's frames (vivid's, on a machine without a camera) are encoded
 * with libx264 into ring memory and each access unit sealed into a second
 * buffer, as the worker and the sealer do: frames a second, time per frame
 * in the encoder and in the AEAD, and the copies of frame bytes made
 * besides the AEAD pass (0 for NV12: the encoder writes where the sealer
 * reads).
 *
 * Where the kernel has no V4L2 (this build machine), --vm boots Debian's
 * stock kernel under qemu (tests/vm/vm.sh) and runs the benchmark there:
 * then every figure is of an emulated CPU (TCG), meaningful only as the
 * split between the stages and the copy count.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/swenc.h"
#include "capture/v4l2.h"
#include "crypto/stream.h"
#include "tools/bench/bench.h"

struct eopts {
	const char *dev;
	uint32_t fourcc, width, height, fps;
	int frames;
	bool json, vm, synthetic;
};

/* Ring memory the encoder writes access units into. */
struct slot {
	uint8_t *buf;
	size_t cap, len;
	bool key;
};

static uint8_t *slot_reserve(void *arg, size_t len, size_t pad)
{
	struct slot *s = arg;

	if (len + pad > s->cap)
		return NULL;
	return s->buf;
}

static int slot_commit(void *arg, size_t len, bool key, uint64_t ts)
{
	struct slot *s = arg;

	(void)ts;
	s->len = len;
	s->key = key;
	return 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int open_camera(const struct eopts *o, char *path, size_t len)
{
	for (int i = 0; i < 64; i++) {
		struct v4l2_info in;
		int fd;

		snprintf(path, len, "%s", o->dev ? o->dev : "");
		if (!o->dev)
			snprintf(path, len, "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && !v4l2_query(fd, &in) && in.capture && !in.m2m &&
		    !in.mplane && v4l2_find(&in, o->fourcc))
			return fd;
		if (fd >= 0)
			close(fd);
		if (o->dev)
			break;
	}
	return -1;
}

struct totals {
	int frames;
	double wall, enc, seal;
	size_t bytes;
	uint64_t converted, copies;
};

/* One raw frame through libx264 into the slot, then sealed: the stages. */
static int enc_seal(struct swenc *e, const struct swenc_sink *sink,
		    struct seal_stream *ss, uint8_t *sealed, const uint8_t *raw,
		    size_t len, uint64_t ts_us, struct totals *t)
{
	uint8_t hdr[REC_HDR_LEN], tag[REC_TAG_LEN];
	struct slot *sl = sink->arg;
	struct iovec iov;
	double a = now_s(), b;
	int ret = swenc_frame(e, raw, len, ts_us, false, sink);

	b = now_s();
	t->enc += b - a;
	if (ret != 1)
		return ret < 0 ? ret : -ENOSPC;
	/* the sealer's one pass: ring slot in, sealed record out */
	iov = (struct iovec){ sl->buf, sl->len };
	ret = seal_record_to(ss, &iov, 1, false, hdr, sealed, tag);
	t->seal += now_s() - b;
	t->bytes += sl->len;
	t->frames++;
	return ret;
}

/*
 * No camera: NV12 frames made here (a moving gradient with noise, so that
 * libx264 has detail to code), through the same stages.
 */
static int measure_synthetic(const struct eopts *o, struct totals *t,
			     char *why, size_t why_len)
{
	size_t luma = (size_t)o->width * o->height, len = luma * 3 / 2;
	struct slot sl = { .cap = 8 << 20 };
	struct swenc_sink sink = { &sl, slot_reserve, slot_commit };
	struct swenc_opts eo = { o->fourcc, o->width, o->height, 0, o->fps,
				 o->width > 1920 ? 25000000 : 8000000, o->fps };
	struct seal_stream *ss = seal_stream_new(SEAL_SUITE_AES256GCM);
	uint8_t *raw = malloc(len), *sealed = malloc(8 << 20);
	struct swenc *e = NULL;
	uint32_t rng = 1;
	int ret = ss && raw && sealed ? 0 : -ENOMEM;
	double t0;

	sl.buf = malloc(sl.cap);
	memset(t, 0, sizeof(*t));
	if (!ret && sl.buf)
		ret = swenc_open(&eo, &e, why, why_len);
	t0 = now_s();
	for (int i = 0; !ret && i < o->frames; i++) {
		for (size_t k = 0; k < len; k++) {
			rng = rng * 1103515245U + 12345U;
			raw[k] = (uint8_t)((k % o->width + (size_t)i * 4) +
					   ((rng >> 16) & 15));
		}
		ret = enc_seal(e, &sink, ss, sealed, raw, len,
			       (uint64_t)i * 1000000 / o->fps, t);
	}
	t->wall = now_s() - t0;
	swenc_close(e);
	seal_stream_free(ss);
	free(raw);
	free(sealed);
	free(sl.buf);
	if (ret && !why[0])
		snprintf(why, why_len, "%s", strerror(-ret));
	return ret;
}

static int measure(const struct eopts *o, int fd, struct totals *t,
		   char *why, size_t why_len)
{
	struct v4l2_request rq = { o->fourcc, o->width, o->height, o->fps, 4,
				   false };
	struct slot sl = { .cap = 8 << 20 };
	struct swenc_sink sink = { &sl, slot_reserve, slot_commit };
	struct v4l2_stream s;
	struct swenc *e = NULL;
	struct seal_stream *ss = seal_stream_new(SEAL_SUITE_AES256GCM);
	uint8_t *sealed = malloc(8 << 20);
	double t0;
	int ret = ss && sealed ? v4l2_start(&s, fd, &rq, why, why_len) : -ENOMEM;

	sl.buf = malloc(sl.cap);
	if (!ret && !sl.buf)
		ret = -ENOMEM;
	if (!ret) {
		struct swenc_opts eo = { o->fourcc, s.width, s.height,
					 s.bytesperline, o->fps, 4000000,
					 o->fps };

		ret = swenc_open(&eo, &e, why, why_len);
	}
	memset(t, 0, sizeof(*t));
	t0 = now_s();
	for (int i = 0; !ret && i < o->frames; i++) {
		struct v4l2_frame f;

		while ((ret = v4l2_dequeue(&s, &f)) == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };

			poll(&p, 1, 2000);
		}
		if (ret < 0)
			break;
		ret = enc_seal(e, &sink, ss, sealed, f.p, f.len, f.ts_us, t);
		v4l2_requeue(&s, f.index);
	}
	t->wall = now_s() - t0;
	if (e)
		t->converted = swenc_converted(e);
	swenc_close(e);
	v4l2_stop(&s);
	seal_stream_free(ss);
	free(sealed);
	free(sl.buf);
	if (ret && !why[0])
		snprintf(why, why_len, "%s", strerror(-ret));
	return ret;
}

static int run_here(const struct eopts *o)
{
	char path[64], why[256] = "", fc[5];
	struct totals t;
	int fd = o->synthetic ? -1 : open_camera(o, path, sizeof(path)), ret;

	v4l2_fourcc_str(o->fourcc, fc);
	if (o->synthetic) {
		snprintf(path, sizeof(path), "synthetic");
		ret = measure_synthetic(o, &t, why, sizeof(why));
	} else if (fd < 0) {
		fprintf(stderr, "moat-bench encode: no V4L2 camera offering %s here%s\n",
			fc, access("/dev/video0", F_OK) ?
				    " (this kernel has none: --vm boots one that has vivid)" :
				    "");
		return 1;
	} else {
		ret = measure(o, fd, &t, why, sizeof(why));
		close(fd);
	}
	if (ret) {
		fprintf(stderr, "moat-bench encode: %s: %s\n", path, why);
		return 1;
	}
	if (o->json) {
		printf("{\"device\": \"%s\", \"format\": \"%s\", \"width\": %u, \"height\": %u, "
		       "\"frames\": %d, \"frames_per_s\": %.2f, \"encode_ms_per_frame\": %.3f, "
		       "\"seal_ms_per_frame\": %.4f, \"mean_au_bytes\": %.0f, "
		       "\"copies_beyond_aead\": %llu, \"raw_conversions\": %llu}\n",
		       path, fc, o->width, o->height, t.frames,
		       t.frames / t.wall, t.enc / t.frames * 1e3,
		       t.seal / t.frames * 1e3, (double)t.bytes / t.frames,
		       (unsigned long long)t.copies,
		       (unsigned long long)t.converted);
		return 0;
	}
	printf("camera %s, %s %ux%u asked at %u fps, %d frames\n", path, fc,
	       o->width, o->height, o->fps, t.frames);
	printf("  frames/s            %8.2f (camera -> libx264 -> sealed)\n",
	       t.frames / t.wall);
	printf("  encode per frame    %8.3f ms (libx264 ultrafast, zerolatency)\n",
	       t.enc / t.frames * 1e3);
	printf("  seal per frame      %8.4f ms (AES-256-GCM, %.0f bytes an access unit)\n",
	       t.seal / t.frames * 1e3, (double)t.bytes / t.frames);
	printf("  encode : seal       %8.0f : 1\n",
	       t.seal > 0 ? t.enc / t.seal : 0);
	printf("  copies of frame bytes besides the AEAD: %llu (the encoder writes the access unit where the sealer reads it)\n",
	       (unsigned long long)t.copies);
	printf("  raw conversions before encoding: %llu (%s)\n",
	       (unsigned long long)t.converted,
	       o->fourcc == V4L2_PIX_FMT_YUYV ? "YUYV to NV12, one a frame" :
						"none: the encoder reads the camera's NV12 buffer");
	return 0;
}

/* This machine has no V4L2: the same, in a VM whose kernel has vivid. */
static int run_vm(int argc, char **argv)
{
	char self[PATH_MAX], cmd[4 * PATH_MAX], src[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	int st;

	if (n <= 0)
		return 1;
	self[n] = '\0';
	/* build/bin/moat-bench -> the source tree, for tests/vm/vm.sh */
	snprintf(src, sizeof(src), "%s", self);
	for (int k = 0; k < 3 && strrchr(src, '/'); k++)
		*strrchr(src, '/') = '\0';
	snprintf(cmd, sizeof(cmd),
		 "MOAT_VM_ENV= '%s/tests/vm/vm.sh' '%s/build/vm' /tmp/moat-bench-vm.log '%s' encode",
		 src, src, self);
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--vm") &&
		    strlen(cmd) + strlen(argv[i]) + 4 < sizeof(cmd))
			snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd),
				 " '%s'", argv[i]);
	fprintf(stderr, "moat-bench encode: booting Debian's stock kernel under qemu (no KVM: an emulated CPU)\n");
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int bench_encode(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "format", required_argument, NULL, 'f' },
		{ "size", required_argument, NULL, 's' },
		{ "fps", required_argument, NULL, 'r' },
		{ "frames", required_argument, NULL, 'n' },
		{ "vm", no_argument, NULL, 'v' },
		{ "synthetic", no_argument, NULL, 'S' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct eopts o = { .fourcc = V4L2_PIX_FMT_NV12, .width = 1920,
			   .height = 1080, .fps = 30, .frames = 60 };
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 'f':
			if (!strcmp(optarg, "nv12"))
				o.fourcc = V4L2_PIX_FMT_NV12;
			else if (!strcmp(optarg, "yuyv"))
				o.fourcc = V4L2_PIX_FMT_YUYV;
			else {
				fprintf(stderr, "moat-bench encode: --format: nv12 or yuyv\n");
				return 2;
			}
			break;
		case 's':
			if (sscanf(optarg, "%ux%u", &o.width, &o.height) != 2 ||
			    o.width < 16 || o.height < 16 || o.width > 4096 ||
			    o.height > 2304) {
				fprintf(stderr, "moat-bench encode: --size: WIDTHxHEIGHT\n");
				return 2;
			}
			break;
		case 'r':
			o.fps = (uint32_t)atoi(optarg);
			break;
		case 'n':
			o.frames = atoi(optarg);
			if (o.frames < 1 || o.frames > 100000) {
				fprintf(stderr, "moat-bench encode: --frames: 1..100000\n");
				return 2;
			}
			break;
		case 'v':
			o.vm = true;
			break;
		case 'S':
			o.synthetic = true;
			break;
		case 'j':
			o.json = true;
			break;
		case 'h':
			printf("Usage: moat-bench encode [--device /dev/videoN] [--format nv12|yuyv]\n"
			       "                         [--size 1920x1080] [--fps 30] [--frames 60] [--vm] [--synthetic] [--json]\n\n"
			       "The local-camera path stage by stage: a V4L2 camera's frames through\n"
			       "libx264 into ring memory, each access unit sealed (AES-256-GCM) as the\n"
			       "sealer does. Reports frames a second, encode and seal time per frame,\n"
			       "and the copies of frame bytes besides the AEAD pass. Without a\n"
			       "camera, --device picks the first that offers the format (vivid's, in\n"
			       "a VM). --vm runs it in Debian's stock kernel under qemu (for a\n"
			       "machine whose kernel has no V4L2): an emulated CPU, so only the\n"
			       "split between stages and the copy count mean anything there.\n"
			       "--synthetic needs no camera: NV12 frames made in memory (a moving\n"
			       "gradient with noise) go through libx264 (8 Mb/s, 25 Mb/s above\n"
			       "1080p) and the AEAD: the encoder's cost on this CPU.\n");
			return 0;
		default:
			return 2;
		}
	}
	if (o.vm)
		return run_vm(argc, argv);
	return run_here(&o);
}
