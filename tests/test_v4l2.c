// SPDX-License-Identifier: GPL-2.0-only
/*
 * V4L2 capture against a real kernel driver. This machine's kernel has no
 * V4L2, so the test boots Debian's stock kernel under qemu (tests/vm/vm.sh)
 * and runs itself inside, with `--in-vm', against vivid's capture device:
 *
 * - enumerate: the driver, its capture and streaming caps, YUYV and NV12
 *   among its formats, with sizes and rates;
 * - stream YUYV and NV12 at 640x480 and 1920x1080: every frame the size of
 *   the image, timestamps strictly increasing on CLOCK_MONOTONIC and close
 *   to now, sequence numbers in order;
 * - EXPBUF: each buffer's dmabuf, mapped, holds the same bytes as the
 *   MMAP mapping of the frame just dequeued;
 * - 1000 frames, each buffer given back: every buffer is queued again at
 *   the end, the driver frees them all (REQBUFS 0 succeeds), and no file
 *   descriptor is left open;
 * - the device unbound mid-stream: dequeue says ENODEV (or the stream
 *   ends) and nothing hangs or crashes.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/v4l2.h"
#include "tests/lib/check.h"

static uint64_t mono_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000;
}

/* The first vivid capture node. */
static int open_vivid(char *path, size_t len, struct v4l2_info *info)
{
	for (int i = 0; i < 64; i++) {
		int fd;

		snprintf(path, len, "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!v4l2_query(fd, info) && !strcmp(info->driver, "vivid") &&
		    info->capture && !info->m2m && !info->mplane)
			return fd;
		close(fd);
	}
	return -1;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1; /* the DIR's own */
}

/* Waits for a frame (up to 2 s). */
static int next_frame(struct v4l2_stream *s, struct v4l2_frame *f)
{
	for (int tries = 0; tries < 200; tries++) {
		struct pollfd p = { .fd = s->fd, .events = POLLIN };
		int ret = v4l2_dequeue(s, f);

		if (ret)
			return ret;
		poll(&p, 1, 10);
	}
	return -ETIMEDOUT;
}

static void enumerate(const struct v4l2_info *info, const char *path)
{
	const struct v4l2_format_info *yuyv = v4l2_find(info, V4L2_PIX_FMT_YUYV),
				      *nv12 = v4l2_find(info, V4L2_PIX_FMT_NV12);

	CHECK(info->capture && info->streaming && !info->m2m,
	      "%s: vivid (%s), a streaming capture device", path, info->card);
	CHECK(info->n_fmts >= 4, "it offers %u formats", info->n_fmts);
	CHECK(yuyv && yuyv->n_sizes >= 1 && nv12 && nv12->n_sizes >= 1,
	      "YUYV and NV12 among them, with frame sizes");
	CHECK(yuyv && yuyv->sizes[0].fps_max >= 25,
	      "and frame rates (YUYV up to %u fps at %ux%u)",
	      yuyv ? yuyv->sizes[0].fps_max : 0,
	      yuyv ? yuyv->sizes[0].width : 0, yuyv ? yuyv->sizes[0].height : 0);
	for (unsigned int i = 0; i < info->n_fmts; i++) {
		char fc[5];

		v4l2_fourcc_str(info->fmts[i].fourcc, fc);
		printf("  format %s %-28s %u size(s)%s\n", fc, info->fmts[i].desc,
		       info->fmts[i].n_sizes,
		       info->fmts[i].stepwise ? " (a range)" : "");
	}
}

/* Streams n frames of fourcc at w x h; checks each. */
static void stream(int fd, uint32_t fourcc, uint32_t w, uint32_t h, int n)
{
	struct v4l2_request rq = { fourcc, w, h, 30, 4, true };
	struct v4l2_stream s;
	char why[256] = "", fc[5];
	uint64_t last_ts = 0;
	uint32_t last_seq = 0;
	int ok = 0, mono = 1, order = 1, sized = 1, ret;

	v4l2_fourcc_str(fourcc, fc);
	ret = v4l2_start(&s, fd, &rq, why, sizeof(why));
	CHECK(!ret && s.width == w && s.height == h,
	      "%s %ux%u: streaming (%ux%u, %u bytes an image): %s", fc, w, h,
	      s.width, s.height, s.sizeimage, why);
	if (ret)
		return;
	for (int i = 0; i < n; i++) {
		struct v4l2_frame f;

		if (next_frame(&s, &f) != 1)
			break;
		sized &= f.len == s.sizeimage;
		/* vivid stamps a frame with when it is due to end, which
		 * under emulation is up to 200 ms ahead: within a second
		 * of now either way is this clock */
		mono &= f.ts_us > last_ts && f.ts_us <= mono_us() + 1000000 &&
			f.ts_us + 5000000 > mono_us();
		if (getenv("MOAT_V4L2_DEBUG"))
			printf("  frame %d: ts %llu now %llu\n", i,
			       (unsigned long long)f.ts_us,
			       (unsigned long long)mono_us());
		order &= i == 0 || f.sequence > last_seq;
		last_ts = f.ts_us;
		last_seq = f.sequence;
		ok += v4l2_requeue(&s, f.index) == 0;
	}
	CHECK(ok == n, "%s %ux%u: %d of %d frames", fc, w, h, ok, n);
	CHECK(sized, "%s %ux%u: every frame is the image's size", fc, w, h);
	CHECK(mono, "%s %ux%u: timestamps strictly increase, on CLOCK_MONOTONIC",
	      fc, w, h);
	CHECK(order, "%s %ux%u: sequence numbers in order", fc, w, h);
	v4l2_stop(&s);
}

static void exported(int fd)
{
	struct v4l2_request rq = { V4L2_PIX_FMT_YUYV, 640, 480, 30, 4, true };
	struct v4l2_stream s;
	struct v4l2_frame f;
	char why[256] = "";
	bool same = false;
	int ret = v4l2_start(&s, fd, &rq, why, sizeof(why));

	CHECK(!ret, "EXPBUF: streaming with every buffer exported: %s", why);
	if (ret)
		return;
	for (unsigned int i = 0; i < s.n_bufs; i++)
		CHECK(s.bufs[i].dmabuf >= 0, "buffer %u has a dmabuf", i);
	if (next_frame(&s, &f) == 1) {
		void *d = mmap(NULL, s.bufs[f.index].len, PROT_READ, MAP_SHARED,
			       s.bufs[f.index].dmabuf, 0);

		same = d != MAP_FAILED && !memcmp(d, f.p, f.len);
		if (d != MAP_FAILED)
			munmap(d, s.bufs[f.index].len);
		v4l2_requeue(&s, f.index);
	}
	CHECK(same,
	      "the dmabuf of a dequeued frame, mapped, holds the frame's bytes");
	v4l2_stop(&s);
}

static void thousand(int fd)
{
	struct v4l2_request rq = { V4L2_PIX_FMT_YUYV, 320, 240, 60, 6, true };
	struct v4l2_stream s;
	char why[256] = "";
	int fds0 = count_fds(), got = 0, ret;
	struct v4l2_requestbuffers zero = { .count = 0,
					    .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					    .memory = V4L2_MEMORY_MMAP };

	ret = v4l2_start(&s, fd, &rq, why, sizeof(why));
	CHECK(!ret, "1000 frames: streaming: %s", why);
	if (ret)
		return;
	for (int i = 0; i < 1000; i++) {
		struct v4l2_frame f;

		if (next_frame(&s, &f) != 1 || v4l2_requeue(&s, f.index))
			break;
		got++;
	}
	CHECK(got == 1000, "1000 frames dequeued and given back (%d)", got);
	CHECK(v4l2_queued(&s) == s.n_bufs,
	      "every buffer is with the driver again (%u of %u)",
	      v4l2_queued(&s), s.n_bufs);
	v4l2_stop(&s);
	CHECK(ioctl(fd, VIDIOC_REQBUFS, &zero) == 0,
	      "the driver frees them all: none is held elsewhere");
	CHECK(count_fds() == fds0, "no descriptor left open (%d, was %d)",
	      count_fds(), fds0);
}

/* The device goes away mid-stream (a camera unplugged). */
static void unbind(int fd)
{
	struct v4l2_request rq = { V4L2_PIX_FMT_YUYV, 640, 480, 30, 4, false };
	struct v4l2_stream s;
	struct v4l2_frame f;
	char why[256] = "";
	int ret = v4l2_start(&s, fd, &rq, why, sizeof(why)), last = 0;
	FILE *u;

	CHECK(!ret, "unbind: streaming: %s", why);
	if (ret)
		return;
	CHECK(next_frame(&s, &f) == 1 && !v4l2_requeue(&s, f.index),
	      "a frame before");
	u = fopen("/sys/bus/platform/drivers/vivid/unbind", "w");
	CHECK(u && fputs("vivid.0", u) >= 0 && fclose(u) == 0,
	      "vivid.0 unbound from its driver");
	for (int i = 0; i < 50; i++) {
		last = next_frame(&s, &f);
		if (last < 0)
			break;
		v4l2_requeue(&s, f.index);
	}
	CHECK(last == -ENODEV || last == -EPIPE || last == -ETIMEDOUT,
	      "dequeue then reports the device gone (%s), and nothing hangs",
	      strerror(-last));
	v4l2_stop(&s);
}

static int in_vm(void)
{
	struct v4l2_info info;
	char path[32];
	int fd = open_vivid(path, sizeof(path), &info);

	CHECK(fd >= 0, "a vivid capture device");
	if (fd < 0)
		return test_done("test_v4l2");
	enumerate(&info, path);
	stream(fd, V4L2_PIX_FMT_YUYV, 640, 480, 30);
	stream(fd, V4L2_PIX_FMT_NV12, 640, 480, 30);
	stream(fd, V4L2_PIX_FMT_YUYV, 1920, 1080, 10);
	stream(fd, V4L2_PIX_FMT_NV12, 1920, 1080, 10);
	exported(fd);
	thousand(fd);
	unbind(fd);
	close(fd);
	return test_done("test_v4l2");
}

/* On the host: the same program, in a VM with a kernel that has V4L2. */
static int host(const char *self)
{
	const char *src = getenv("MOAT_SRC");
	char cmd[3 * PATH_MAX + 64], cache[PATH_MAX + 8], log[PATH_MAX];
	int st;

	/* the kernel is kept in build/vm, one for every build's tests */
	if (src && *src)
		snprintf(cache, sizeof(cache), "%s/build/vm", src);
	else
		snprintf(cache, sizeof(cache), "build/vm");
	snprintf(log, sizeof(log), "/tmp/moat-vm-v4l2-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "'%s/tests/vm/vm.sh' '%s' '%s' '%s' --in-vm",
		 src && *src ? src : ".", cache, log, self);
	printf("this kernel has no V4L2: booting Debian's stock kernel under qemu (%s)\n",
	       log);
	fflush(stdout);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 125) {
		printf("the VM did not run the test; its console is in %s\n", log);
		return 1;
	}
	unlink(log);
	return WEXITSTATUS(st);
}

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--in-vm"))
		return in_vm();
	if (!access("/dev/video0", F_OK))
		return in_vm(); /* a machine with V4L2 of its own */
	if (geteuid())
		test_skip("the V4L2 VM needs root (run the suite with sudo)");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	return host(self);
}
