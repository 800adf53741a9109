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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/swenc.h"
#include "common/fileio.h"
#include "capture/v4l2.h"
#include "common/err.h"
#include "daemon/ctl.h"
#include "crypto/keystore.h"
#include "crypto/streamfile.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tests/lib/vmhub.h"
#include "tests/lib/vmout.h"
#include "tools/demo/demo.h"

#include <libavcodec/avcodec.h>

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

/* ---- raw camera -> libx264 -> sealed records ---- */

static void encode(int fd, uint32_t fourcc, struct aus *a)
{
	struct v4l2_request rq = { fourcc, 640, 480, 30, 4, false };
	struct swenc_sink sink = { a, aus_reserve, aus_commit };
	struct swenc_opts o = { fourcc, 640, 480, 0, 30, 2000000, 30 };
	struct v4l2_stream s;
	struct swenc *e = NULL;
	char why[256] = "", fc[5];
	int n = 0, ret, w = 0, h = 0;

	v4l2_fourcc_str(fourcc, fc);
	ret = v4l2_start(&s, fd, &rq, why, sizeof(why));
	o.bytesperline = s.bytesperline;
	if (!ret)
		ret = swenc_open(&o, &e, why, sizeof(why));
	CHECK(!ret, "%s 640x480 into libx264: %s", fc, why);
	for (int i = 0; !ret && i < 45; i++) {
		struct v4l2_frame f;

		if (next_frame(&s, &f) != 1)
			break;
		/* frame 10: an event asks for a keyframe */
		ret = swenc_frame(e, f.p, f.len, f.ts_us, i == 10, &sink);
		n += ret == 1;
		ret = ret < 0 ? ret : v4l2_requeue(&s, f.index);
	}
	CHECK(!ret && n == 45 && a->n == 45,
	      "%s: 45 frames in, 45 access units out (%zu): %s", fc, a->n,
	      ret ? strerror(-ret) : "each camera buffer given back at once");
	CHECK(a->key_at[0] && a->key_at[10] && a->key_at[40] && a->keys == 3,
	      "%s: keyframes at 0, at the event (10) and a GOP after it (40): %zu in all",
	      fc, a->keys);
	CHECK(e && swenc_converted(e) == (fourcc == V4L2_PIX_FMT_YUYV ? 45u : 0u) &&
		      swenc_dropped(e) == 0,
	      "%s: %llu frames converted to NV12 before encoding (NV12 itself: none), none dropped",
	      fc, e ? (unsigned long long)swenc_converted(e) : 0ULL);
	CHECK(aus_decoded(a, &w, &h, NULL, NULL, 0) == 45 && w == 640 && h == 480,
	      "%s: libavcodec decodes all 45 pictures, %dx%d", fc, w, h);
	swenc_close(e);
	v4l2_stop(&s);
}

/* The hub's side of sealing: its key and the paired viewers, from the
 * key store folder alone (the viewers' private keys are not here). */
static int seal_clip(const char *keys, const struct aus *a, char *spool,
		     size_t spool_len, struct demo_spool *sp)
{
	struct seal_hub_key hub;
	struct seal_recipient r[8];
	struct ks_viewer *list = NULL;
	struct demo_clip clip = { 0 };
	char path[300];
	size_t n = 0;
	int ret = ks_hub_load(keys, &hub);

	if (!ret)
		ret = ks_viewer_list(keys, &list, &n);
	for (size_t i = 0; !ret && i < n && i < 8; i++)
		r[i] = list[i].rcpt;
	snprintf(path, sizeof(path), "/tmp/clip.h264");
	snprintf(spool, spool_len, "/tmp/spool");
	memset(sp, 0, sizeof(*sp));
	snprintf(sp->dir, sizeof(sp->dir), "%s", spool);
	if (!ret)
		ret = file_write_atomic(path, a->buf, a->len, 0600);
	if (!ret)
		ret = demo_clip_load(path, &clip);
	if (!ret && mkdir(spool, 0700))
		ret = -errno;
	if (!ret)
		ret = demo_seal(&clip, SEAL_SUITE_AES256GCM, &hub, r,
				n < 8 ? n : 8, sp);
	demo_clip_free(&clip);
	ks_viewer_list_free(list, n);
	ks_hub_wipe(&hub);
	return ret;
}

static void encode_and_seal(int fd, const char *keys)
{
	struct aus nv12 = { 0 }, yuyv = { 0 };
	static struct demo_spool sp;
	char spool[64];
	int ret;

	encode(fd, V4L2_PIX_FMT_YUYV, &yuyv);
	encode(fd, V4L2_PIX_FMT_NV12, &nv12);
	if (!keys) {
		free(nv12.buf);
		free(yuyv.buf);
		return;
	}
	ret = seal_clip(keys, &nv12, spool, sizeof(spool), &sp);
	CHECK(!ret && sp.n_streams == 3,
	      "the NV12 camera's access units sealed into %zu streams (one a GOP: 0, 10, 40) for the paired viewers: %s",
	      sp.n_streams, ret ? moat_strerror(ret) : "");
	/* out through the console: what the encoder made, and the sealed
	 * streams; the viewer outside opens them */
	vmout_put("clip.h264", nv12.buf, nv12.len);
	for (size_t i = 0; i < sp.n_streams; i++) {
		char path[512], name[32];
		uint8_t *b;
		size_t len;

		demo_stream_path(&sp, i, path, sizeof(path));
		b = read_all(path, &len);
		snprintf(name, sizeof(name), "stream-%zu", i);
		if (b)
			vmout_put(name, b, len);
		free(b);
	}
	free(nv12.buf);
	free(yuyv.buf);
}

/* ---- moatd itself in the VM, with the camera ---- */

static bool sysfs_write(const char *path, const char *v)
{
	FILE *f = fopen(path, "w");

	return f && fputs(v, f) >= 0 && fclose(f) == 0;
}

static void hub_in_vm(const char *self, const char *keys, const char *video)
{
	const char *sock = VM_HUB_SOCK;
	char camera[256];
	pid_t r, d;
	int64_t sealed, restarts, after;

	snprintf(camera, sizeof(camera),
		 "[camera desk]\nsource = v4l2:%s\nformat = yuyv\nsize = 640x480\nfps = 30\nbitrate = 1M\n",
		 video);
	vm_hub_start(self, keys, camera, &r, &d);
	sealed = vm_wait_for(sock, "frames_sealed", 60, 90);
	CHECK(sealed >= 60,
	      "moatd with a v4l2: camera (YUYV 640x480 into libx264): %lld frames sealed",
	      (long long)sealed);
	/* (the camera's "copies" comes first in the status, before the
	 * sealer's) */
	CHECK(vm_status_num(sock, "copies") == 0 &&
		      vm_status_num(sock, "converted") >= 60,
	      "no copy of frame bytes before the sealer; every YUYV frame converted once for the encoder (%lld)",
	      (long long)vm_status_num(sock, "converted"));
	/* the camera goes away, and comes back */
	CHECK(sysfs_write("/sys/bus/platform/drivers/vivid/unbind", "vivid.0"),
	      "the camera unplugged (vivid unbound)");
	restarts = vm_wait_for(sock, "restarts", 1, 30);
	{
		char *st = NULL;

		CHECK(!ctl_request(sock, "status json", &st) && st &&
			      (strstr(st, "is gone (unplugged?)") ||
			       strstr(st, "No such file")),
		      "the worker says the camera is gone: %.300s",
		      st ? strstr(st, "\"error\"") : "no status");
		free(st);
	}
	sealed = vm_status_num(sock, "frames_sealed");
	CHECK(sysfs_write("/sys/bus/platform/drivers/vivid/bind", "vivid.0"),
	      "plugged in again (vivid bound)");
	after = vm_wait_for(sock, "frames_sealed", sealed + 30, 90);
	CHECK(restarts >= 1 && after >= sealed + 30,
	      "moatd opened it again when it returned: %lld more frames sealed (%lld restarts)",
	      (long long)(after - sealed), (long long)restarts);
	vm_hub_stop(r, d);
	{
		/* the relay's store, out to the viewer outside */
		int n = vm_export_relay("/hub/relay");

		CHECK(n >= 3, "the relay holds %d streams", n);
	}
	if (check_failures)
		system("cat /hub/moatd.log | tail -30");
}

/* `moatctl cameras': vivid listed, with what moat would do. */
static void listed(const char *self, const char *path)
{
	char cmd[PATH_MAX + 64], out[1 << 16], want[64];
	FILE *f;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s", self);
	snprintf(strrchr(cmd, '/'), sizeof(cmd) - (size_t)(strrchr(cmd, '/') - cmd),
		 "/../bin/moatctl cameras --json");
	f = popen(cmd, "r");
	n = f ? fread(out, 1, sizeof(out) - 1, f) : 0;
	out[n] = '\0';
	if (f)
		pclose(f);
	snprintf(want, sizeof(want), "\"device\": \"%s\", \"driver\": \"vivid\"",
		 path);
	CHECK(strstr(out, want) &&
		      strstr(out, "\"plan\": \"NV12 into libx264\", \"takes\": \"NV12\"") &&
		      strstr(out, "{\"fourcc\": \"YUYV\", \"sizes\": [{\"width\": "),
	      "moatctl cameras --json lists %s (vivid), its formats and sizes, and that moat takes NV12 into libx264: %.200s",
	      path, out);
}

static int in_vm(const char *self, const char *keys)
{
	struct v4l2_info info;
	char path[32];
	int fd = open_vivid(path, sizeof(path), &info);

	CHECK(fd >= 0, "a vivid capture device");
	if (fd < 0)
		return test_done("test_v4l2");
	enumerate(&info, path);
	if (keys)
		listed(self, path);
	stream(fd, V4L2_PIX_FMT_YUYV, 640, 480, 30);
	stream(fd, V4L2_PIX_FMT_NV12, 640, 480, 30);
	stream(fd, V4L2_PIX_FMT_YUYV, 1920, 1080, 10);
	stream(fd, V4L2_PIX_FMT_NV12, 1920, 1080, 10);
	exported(fd);
	thousand(fd);
	encode_and_seal(fd, keys);
	unbind(fd);
	close(fd);
	if (keys) {
		/* back, for moatd */
		CHECK(sysfs_write("/sys/bus/platform/drivers/vivid/bind",
				  "vivid.0"),
		      "vivid bound again");
		usleep(500000);
		hub_in_vm(self, keys, path);
	}
	return test_done("test_v4l2");
}

/* Outside: the streams the VM sealed, opened as a viewer whose private
 * key never went in, against the access units the VM encoded. */
static void viewer_outside(const char *log, const struct demo_keys *k)
{
	static struct demo_spool sp;
	struct demo_check chk = { 0 };
	struct demo_clip clip = { 0 };
	char dir[] = "/tmp/moat-vm-out.XXXXXX", path[512];
	size_t len;
	uint8_t *b = vmout_get(log, "clip.h264", &len);
	int ret;

	CHECK(b && len > 10000, "the VM's access units came out (%zu bytes)",
	      b ? len : 0);
	if (!b || !mkdtemp(dir))
		return;
	snprintf(path, sizeof(path), "%s/clip.h264", dir);
	ret = file_write_atomic(path, b, len, 0600);
	free(b);
	if (!ret)
		ret = demo_clip_load(path, &clip);
	snprintf(sp.dir, sizeof(sp.dir), "%s", dir);
	for (size_t i = 0; !ret && i < DEMO_MAX_STREAMS; i++) {
		char name[32];
		struct rec_hdr h;

		snprintf(name, sizeof(name), "stream-%zu", i);
		b = vmout_get(log, name, &len);
		if (!b)
			break;
		/* the stream's id is in its first record's header */
		if (rec_parse_hdr(b, len, &h) == 0) {
			memcpy(sp.ids[sp.n_streams], h.stream_id,
			       REC_STREAM_ID_LEN);
			demo_stream_path(&sp, sp.n_streams, path, sizeof(path));
			if (!file_write_atomic(path, b, len, 0600))
				sp.n_streams++;
		}
		free(b);
	}
	CHECK(!ret && sp.n_streams == 3, "and its %zu sealed streams",
	      sp.n_streams);
	if (!ret)
		ret = demo_open_all(&clip, &sp, &k->ident[0], &chk);
	CHECK(!ret && chk.streams_ok == sp.n_streams &&
		      chk.au_match == clip.n_au && clip.n_au == 45 &&
		      !chk.au_mismatch,
	      "the viewer outside opens every stream: %zu of 45 access units, each the VM's encoder output byte for byte: %s",
	      chk.au_match, chk.why);
	demo_clip_free(&clip);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	if (system(path))
		fprintf(stderr, "cannot remove %s\n", dir);
}

/* Outside: what moatd in the VM sent its relay, opened as the viewer. */
static void relay_outside(const char *log, const struct demo_keys *k)
{
	struct aus a = { 0 };
	size_t streams, ok;
	int w = 0, h = 0, pictures;

	streams = vm_relay_open(log, &k->ident[0], &a, &ok);
	CHECK(streams >= 3 && ok == streams,
	      "the viewer outside opens every stream moatd in the VM sent (%zu of %zu), %zu frames",
	      ok, streams, a.n);
	pictures = aus_decoded(&a, &w, &h, NULL, NULL, 0);
	CHECK(pictures > 0 && (size_t)pictures == a.n,
	      "and they decode: %d pictures of %zu, %dx%d", pictures, a.n, w, h);
	CHECK(w == 640 && h == 480, "640x480, as the camera was set");
	free(a.buf);
}

/* On the host: the same program, in a VM with a kernel that has V4L2. */
static int host(const char *self)
{
	char log[PATH_MAX];
	static struct demo_keys k;
	int st;

	/* the hub's key store goes in; the viewers' keys stay out here */
	CHECK(demo_keys_make(&k, NULL) == 0, "a hub key store, two viewers");
	st = vm_boot(self, k.dir, "v4l2", NULL, log, sizeof(log));
	if (st < 0) {
		demo_keys_remove(&k);
		return 1;
	}
	CHECK(st == 0, "every check inside the VM passed");
	viewer_outside(log, &k);
	relay_outside(log, &k);
	demo_keys_wipe(&k);
	demo_keys_remove(&k);
	if (!check_failures)
		unlink(log);
	return test_done("test_v4l2");
}

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--in-vm"))
		return in_vm(argv[0], argc > 2 ? argv[2] : NULL);
	if (!access("/dev/video0", F_OK))
		return in_vm(argv[0], NULL); /* a machine with V4L2 of its own */
	if (geteuid())
		test_skip("the V4L2 VM needs root (run the suite with sudo)");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	return host(self);
}
