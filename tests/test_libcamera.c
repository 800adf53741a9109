// SPDX-License-Identifier: GPL-2.0-only
/*
 * libcamera cameras (capture/libcam.h) against a real kernel driver:
 * vimc, the kernel's virtual media-controller camera (a sensor, a debayer
 * and a scaler, as a Pi camera module's pipeline has), which libcamera's
 * own vimc pipeline handler drives. This machine's kernel has no V4L2 and
 * Debian's leaves vimc out, so tests/vm/testdrv.sh builds it for Debian's
 * stock kernel and the test boots that kernel under qemu
 * (tests/vm/vm.sh) with libcamera's vimc IPA module beside it.
 *
 * In the VM, through the shim and nothing else:
 * - libcamera lists the vimc camera, with the formats moat would take;
 * - an id that is no camera's is refused naming the ids there are; a
 *   camera already open is refused as in use;
 * - 120 frames stream: sequence numbers and timestamps rise, timestamps
 *   are CLOCK_MONOTONIC's, every buffer is the configured size, and the
 *   picture is vimc's 75% colour bars in the byte order the shim reports
 *   (yellow's blue low, cyan's red low);
 * - 60 of them go through libx264 (capture/swenc.h, the raw cameras'
 *   path), and libavcodec decodes every access unit back to a picture of
 *   the same size whose bars have the luma they should;
 * - every buffer is given back, none failed; the camera opens again
 *   after it is closed;
 * - (outside the VM) RGB24, BGR24 and YUV420 frames made here, red and
 *   blue, come out of libx264 red and blue;
 * - moatd with `source = libcamera:ID' seals the camera (each frame
 *   converted once for libx264, no copy of frame bytes) under the
 *   worker's sandbox (seccomp on every libcamera thread); a worker
 *   killed is started again and takes the camera again; the relay in
 *   the VM stores the streams, and outside, a viewer whose key never
 *   went in opens every one and decodes the bars;
 * - moatd with the camera and `encoder =' vicodec (loaded multi-planar,
 *   as bcm2835-codec is): libcamera's dmabufs go into the encoder, the
 *   access units are sealed in its buffers: no copy, no conversion.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include <libavcodec/avcodec.h>

#include "capture/libcam.h"
#include "capture/m2m.h"
#include "capture/swenc.h"
#include "crypto/keystore.h"
#include "daemon/ctl.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tests/lib/vmhub.h"
#include "tools/demo/demo.h"

enum { FRAMES = 120, ENCODED = 60, AU_MAX = 8 << 20 };

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* The access units libx264 makes, one after another, with their ends. */
static uint8_t *aus;
static size_t aus_len, au_end[ENCODED + 1], n_aus;
static bool au_key[ENCODED + 1];

static uint8_t *au_reserve(void *arg, size_t len, size_t pad)
{
	(void)arg;
	if (aus_len + len + pad > AU_MAX || n_aus == ENCODED)
		return NULL;
	return aus + aus_len;
}

static int au_commit(void *arg, size_t len, bool key, uint64_t ts_us)
{
	(void)arg;
	(void)ts_us;
	aus_len += len;
	au_key[n_aus] = key;
	au_end[n_aus++] = aus_len;
	return 0;
}

/* A pixel's red, green and blue, whichever order the frame has. */
static void rgb_at(const struct libcam_frame *f, uint32_t x, uint32_t y,
		   int *r, int *g, int *b)
{
	const uint8_t *p = f->plane[0] + (size_t)y * f->stride + 3 * x;

	*r = f->fourcc == V4L2_PIX_FMT_BGR24 ? p[2] : p[0];
	*g = p[1];
	*b = f->fourcc == V4L2_PIX_FMT_BGR24 ? p[0] : p[2];
}

/* The middle of colour bar i (of 8), on a line three quarters down:
 * vimc's sensor writes its frame counter and its name over the top. */
static uint32_t bar_x(uint32_t width, int i)
{
	return (uint32_t)((2 * i + 1) * width / 16);
}

static uint32_t bar_y(uint32_t height)
{
	return height * 3 / 4;
}

static bool is_rgb(uint32_t fourcc)
{
	return fourcc == V4L2_PIX_FMT_RGB24 || fourcc == V4L2_PIX_FMT_BGR24;
}

/* Waits for and takes one frame: 1, or what libcam_next said. */
static int next_frame(struct libcam *c, struct libcam_frame *f, int ms)
{
	uint64_t until = mono_ns() + (uint64_t)ms * 1000000u;
	int ret;

	while ((ret = libcam_next(c, f)) == 0 || ret == -EIO) {
		struct pollfd p = { .fd = libcam_fd(c), .events = POLLIN };

		if (mono_ns() > until)
			return -ETIMEDOUT;
		poll(&p, 1, 200);
	}
	return ret;
}

/* Decodes what libx264 made; checks each picture against the bars. */
static void decode_back(uint32_t w, uint32_t h)
{
	const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *ctx = dec ? avcodec_alloc_context3(dec) : NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *pic = av_frame_alloc();
	size_t got = 0, start = 0;
	int y_white = -1, y_yellow = -1, y_black = -1;

	CHECK(ctx && pkt && pic && avcodec_open2(ctx, dec, NULL) == 0,
	      "libavcodec's H.264 decoder opens");
	if (!ctx || !pkt || !pic)
		goto out;
	for (size_t i = 0; i <= n_aus; i++) {
		int ret;

		if (i < n_aus) {
			pkt->data = aus + start;
			pkt->size = (int)(au_end[i] - start);
			start = au_end[i];
			ret = avcodec_send_packet(ctx, pkt);
		} else {
			ret = avcodec_send_packet(ctx, NULL); /* drain */
		}
		if (ret < 0)
			break;
		while (avcodec_receive_frame(ctx, pic) == 0) {
			const uint8_t *row = pic->data[0] +
					     (size_t)bar_y(h) * (size_t)pic->linesize[0];

			if (pic->width != (int)w || pic->height != (int)h) {
				CHECK(0, "a decoded picture is %dx%d, not %ux%u",
				      pic->width, pic->height, w, h);
				goto out;
			}
			y_white = row[bar_x(w, 0)];
			y_yellow = row[bar_x(w, 1)];
			y_black = row[bar_x(w, 7)];
			got++;
		}
	}
	CHECK(got == n_aus, "every access unit decodes to a picture (%zu of %zu)",
	      got, n_aus);
	/* 75% bars, BT.601 limited range: white 180, yellow 162, black 16 */
	CHECK(y_white > 165 && y_white < 195 && y_yellow > 147 &&
		      y_yellow < 177 && y_black < 32,
	      "the decoded bars have the luma the camera's colours give (white %d, yellow %d, black %d)",
	      y_white, y_yellow, y_black);
out:
	av_frame_free(&pic);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
}

static void hub_in_vm(const char *self, const char *keys, const char *id);
static void hub_m2m_in_vm(const char *self, const char *keys, const char *id);

static int in_vm(const char *self, const char *keys)
{
	struct libcam_info info[8];
	struct libcam_opts o = { .width = 640, .height = 480, .fps = 30 };
	struct libcam *c = NULL, *c2 = NULL;
	struct libcam_frame f;
	struct swenc *enc = NULL;
	char why[512] = "";
	int n, cam = -1, ret, frames = 0, colours_ok = 0, sized_ok = 0;
	uint64_t last_ts = 0, t0 = 0, enc_ns = 0;
	uint32_t last_seq = 0, w = 0, h = 0;
	bool rising = true, mono = true;

	n = libcam_list(info, 8, why, sizeof(why));
	CHECK(n >= 1, "libcamera finds a camera: %s", n < 0 ? why : "none");
	for (int i = 0; i < n; i++) {
		printf("camera %s (%s):", info[i].id, info[i].model);
		for (unsigned int k = 0; k < info[i].n_formats; k++)
			printf(" %s%s %ux%u", info[i].format_name[k],
			       info[i].fourcc[k] ? "" : "(not taken)",
			       info[i].max_w[k], info[i].max_h[k]);
		printf("\n");
		if (strstr(info[i].id, "vimc") && cam < 0)
			cam = i;
	}
	CHECK(cam >= 0, "one of them is vimc's");
	if (cam < 0)
		return test_done("test_libcamera");
	{
		bool takes = false;

		for (unsigned int k = 0; k < info[cam].n_formats; k++)
			takes |= info[cam].fourcc[k] != 0;
		CHECK(takes, "it offers a format moat takes");
	}

	o.id = "no-such-camera";
	ret = libcam_open(&o, &c, why, sizeof(why));
	CHECK(ret == -ENODEV && strstr(why, "no-such-camera") &&
		      strstr(why, info[cam].id),
	      "an id that is no camera's is refused, naming the ones there are: %d %s",
	      ret, why);

	o.id = info[cam].id;
	ret = libcam_open(&o, &c, why, sizeof(why));
	CHECK(ret == 0, "the camera opens and streams: %s", why);
	if (ret)
		return test_done("test_libcamera");
	printf("%s\n", libcam_describe(c));
	ret = libcam_open(&o, &c2, why, sizeof(why));
	CHECK(ret == -EBUSY && strstr(why, "in use"),
	      "a second open of it is refused as in use: %d %s", ret, why);
	libcam_close(c2);

	aus = malloc(AU_MAX);
	CHECK(aus != NULL, "memory for the access units");
	if (!aus)
		return test_done("test_libcamera");
	for (frames = 0; frames < FRAMES; frames++) {
		ret = next_frame(c, &f, 10000);
		if (ret != 1)
			break;
		if (!frames) {
			struct swenc_opts eo = {
				.fourcc = f.fourcc, .width = f.width,
				.height = f.height, .bytesperline = f.stride,
				.fps = 30, .bitrate = 2000000, .gop = 30,
			};

			w = f.width;
			h = f.height;
			t0 = mono_ns();
			printf("frames: %ux%u, stride %u, %zu bytes, fourcc %.4s\n",
			       f.width, f.height, f.stride, f.plane_len[0],
			       (const char *)&f.fourcc);
			CHECK(swenc_open(&eo, &enc, why, sizeof(why)) == 0,
			      "libx264 takes the camera's frames: %s", why);
		} else {
			rising &= f.sequence > last_seq && f.ts_ns > last_ts;
		}
		/* the driver stamps with CLOCK_MONOTONIC, within a second */
		mono &= f.ts_ns <= mono_ns() && mono_ns() - f.ts_ns < 1000000000u;
		last_seq = f.sequence;
		last_ts = f.ts_ns;
		sized_ok += f.width == w && f.height == h &&
			    f.plane_len[0] >= (size_t)f.stride * f.height;
		if (is_rgb(f.fourcc)) {
			int r, g, b, r2, g2, b2;

			rgb_at(&f, bar_x(f.width, 1), bar_y(f.height), &r, &g, &b);
			rgb_at(&f, bar_x(f.width, 2), bar_y(f.height), &r2, &g2, &b2);
			/* yellow (R and G, no B), then cyan (G and B, no R) */
			colours_ok += r > 150 && g > 150 && b < 60 && r2 < 60 &&
				      g2 > 150 && b2 > 150;
			if (frames == 0)
				printf("yellow bar %d,%d,%d; cyan bar %d,%d,%d\n",
				       r, g, b, r2, g2, b2);

		} else {
			colours_ok++; /* only packed RGB is read here */
		}
		if (enc && frames < ENCODED) {
			struct swenc_sink sink = { NULL, au_reserve, au_commit };
			uint64_t e0 = mono_ns();
			size_t len = f.plane_len[0];

			/* planar formats: the planes follow one another */
			if (f.n_planes > 1)
				len = (size_t)(f.plane[f.n_planes - 1] - f.plane[0]) +
				      f.plane_len[f.n_planes - 1];
			CHECK(swenc_frame(enc, f.plane[0], len, f.ts_ns / 1000,
					  false, &sink) == 1,
			      "frame %d encodes", frames);
			enc_ns += mono_ns() - e0;
		}
		libcam_release(c, &f);
	}
	CHECK(frames == FRAMES, "%d frames streamed (%d wanted): %s", frames,
	      FRAMES, ret < 0 ? strerror(-ret) : "");
	if (frames > 1)
		printf("%d frames in %.2f s (%.1f fps, emulated CPU); libx264 %.1f ms a frame\n",
		       frames, (double)(mono_ns() - t0) / 1e9,
		       (frames - 1) * 1e9 / (double)(mono_ns() - t0),
		       enc_ns / 1e6 / ENCODED);
	CHECK(rising, "sequence numbers and timestamps rise frame by frame");
	CHECK(mono, "timestamps are CLOCK_MONOTONIC's, under a second old");
	CHECK(sized_ok == frames, "every buffer is %ux%u and filled (%d of %d)",
	      w, h, sized_ok, frames);
	CHECK(colours_ok == frames,
	      "every frame shows the colour bars in the byte order said (%d of %d)",
	      colours_ok, frames);
	CHECK(libcam_outstanding(c) == 0, "every buffer went back to the camera");
	CHECK(libcam_failed(c) == 0, "no frame failed (%llu)",
	      (unsigned long long)libcam_failed(c));
	libcam_close(c);
	swenc_close(enc);
	CHECK(n_aus == ENCODED && au_key[0],
	      "libx264 made an access unit of each frame, a keyframe first (%zu)",
	      n_aus);
	decode_back(w, h);
	free(aus);

	why[0] = '\0';
	ret = libcam_open(&o, &c, why, sizeof(why));
	CHECK(ret == 0, "closed, the camera opens again%s%s", why[0] ? ": " : "",
	      why);
	if (!ret) {
		ret = next_frame(c, &f, 10000);
		CHECK(ret == 1, "and streams");
		if (ret == 1)
			libcam_release(c, &f);
		libcam_close(c);
	}
	if (keys) {
		hub_in_vm(self, keys, info[cam].id);
		hub_m2m_in_vm(self, keys, info[cam].id);
	}
	return test_done("test_libcamera");
}

/* The first process running as uid (a role's user), or 0. */
static pid_t pid_of_uid(uid_t uid)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t pid = 0;

	while (d && !pid && (e = readdir(d))) {
		char path[300];
		struct stat st;

		snprintf(path, sizeof(path), "/proc/%s", e->d_name);
		if (e->d_name[0] >= '1' && e->d_name[0] <= '9' &&
		    !stat(path, &st) && st.st_uid == uid)
			pid = atoi(e->d_name);
	}
	if (d)
		closedir(d);
	return pid;
}

/* The threads of pid, and how many of them run under a seccomp filter
 * (Seccomp: 2) with no_new_privs. */
static void confined_threads(pid_t pid, int *threads, int *filtered)
{
	char path[64];
	struct dirent *e;
	DIR *d;

	*threads = *filtered = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char st[4096], file[400];
		size_t n;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "%s/%s/status", path, e->d_name);
		f = fopen(file, "r");
		if (!f)
			continue;
		n = fread(st, 1, sizeof(st) - 1, f);
		st[n] = '\0';
		fclose(f);
		(*threads)++;
		*filtered += strstr(st, "\nSeccomp:\t2\n") &&
			     strstr(st, "\nNoNewPrivs:\t1\n");
	}
	if (d)
		closedir(d);
}

/* What `moatctl doctor' says of a moat.conf whose camera is
 * libcamera:id, in out. */
static void doctor_on(const char *bin, const char *id, char *out, size_t len)
{
	char cmd[PATH_MAX + 128];
	FILE *f = fopen("/hub/doctor.conf", "w");

	if (f) {
		fprintf(f, "[hub]\nkeys = /hub/keys\nspool = /hub/spool-doctor\ncontrol = /hub/doctor.sock\npolicy = off\n"
			   "[relay]\naddress = 127.0.0.1\nport = 7443\n"
			   "[camera module]\nsource = libcamera:%s\n",
			id);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd),
		 "%s/../bin/moatctl --config /hub/doctor.conf doctor 2>&1", bin);
	run_cmd(cmd, out, len);
}

/* `moatctl cameras' lists the camera with what moat would do, and
 * `moatctl doctor' finds the one moat.conf names, or says which there
 * are when it names another. */
static void listed(const char *bin, const char *id)
{
	char cmd[PATH_MAX + 128], out[1 << 16], want[512];

	snprintf(cmd, sizeof(cmd), "%s/../bin/moatctl cameras --json", bin);
	run_cmd(cmd, out, sizeof(out));
	snprintf(want, sizeof(want),
		 "{\"libcamera\": \"%s\", \"model\": \"Sensor B\", \"source\": \"libcamera:%s\", \"plan\": \"BGR888 into libx264\", \"takes\": \"BGR888\", \"formats\": [{\"format\": \"BGR888\", \"max_width\": ",
		 id, id);
	CHECK(strstr(out, want) != NULL,
	      "moatctl cameras --json lists the camera, its source line and that moat takes BGR888 into libx264: %.400s",
	      out);
	doctor_on(bin, id, out, sizeof(out));
	snprintf(want, sizeof(want), "module: libcamera finds %s (Sensor B)", id);
	CHECK(strstr(out, want) != NULL,
	      "moatctl doctor finds the camera moat.conf names: %.600s", out);
	doctor_on(bin, "imx708", out, sizeof(out));
	snprintf(want, sizeof(want),
		 "module: libcamera finds no camera imx708 (it finds: %s)", id);
	CHECK(strstr(out, want) != NULL,
	      "and, for a camera that is not there, says which there are: %.600s",
	      out);
}

static void hub_in_vm(const char *self, const char *keys, const char *id)
{
	const char *sock = VM_HUB_SOCK;
	char bin[PATH_MAX], camera[512];
	int64_t sealed, after, restarts;
	pid_t r, d, w;

	snprintf(bin, sizeof(bin), "%s", self);
	*strrchr(bin, '/') = '\0';
	vm_users();
	mkdir("/hub", 0755);
	listed(bin, id);
	snprintf(camera, sizeof(camera),
		 "[camera module]\nsource = libcamera:%s\nsize = 640x480\nfps = 30\nbitrate = 1M\n",
		 id);
	vm_hub_start(self, keys, camera, &r, &d);
	sealed = vm_wait_for(sock, "frames_sealed", 60, 120);
	CHECK(sealed >= 60,
	      "moatd with a libcamera: camera (BGR888 into libx264): %lld frames sealed",
	      (long long)sealed);
	CHECK(vm_status_num(sock, "copies") == 0 &&
		      vm_status_num(sock, "converted") >= 60,
	      "no copy of frame bytes before the sealer; every frame converted once for the encoder (%lld)",
	      (long long)vm_status_num(sock, "converted"));
	/* the worker dies (as a crash would): moatd starts another, which
	 * must get the camera back from the kernel and libcamera */
	w = pid_of_uid(990);
	{
		int threads, filtered;

		confined_threads(w, &threads, &filtered);
		CHECK(threads > 1 && filtered == threads,
		      "every thread of the worker (libcamera's too) is under its seccomp filter with no new privileges (%d of %d)",
		      filtered, threads);
	}
	CHECK(w > 0 && !kill(w, SIGKILL), "the camera's worker killed (pid %d)",
	      (int)w);
	restarts = vm_wait_for(sock, "restarts", 1, 30);
	sealed = vm_status_num(sock, "frames_sealed");
	after = vm_wait_for(sock, "frames_sealed", sealed + 30, 90);
	CHECK(restarts >= 1 && after >= sealed + 30,
	      "moatd started it again and it took the camera: %lld more frames sealed (%lld restarts)",
	      (long long)(after - sealed), (long long)restarts);
	/* asked to stop, the worker closes the camera under its filter
	 * (stop, free, release: libcamera's own calls) and exits cleanly */
	w = pid_of_uid(990);
	CHECK(w > 0 && !kill(w, SIGTERM), "the worker asked to stop (pid %d)",
	      (int)w);
	restarts = vm_wait_for(sock, "restarts", restarts + 1, 30);
	{
		char log[1 << 15] = "";

		run_cmd("cat /hub/moatd.log", log, sizeof(log));
		CHECK(strstr(log, "worker module exited with status") &&
			      !strstr(log, "signal 31"),
		      "it closed the camera under its filter and exited (no SIGSYS): %.800s",
		      log);
	}
	sealed = vm_status_num(sock, "frames_sealed");
	after = vm_wait_for(sock, "frames_sealed", sealed + 30, 90);
	CHECK(after >= sealed + 30,
	      "and the next worker takes the camera again: %lld more frames sealed",
	      (long long)(after - sealed));
	vm_hub_stop(r, d);
	{
		int n = vm_export_relay("/hub/relay");

		CHECK(n >= 3, "the relay holds %d streams", n);
	}
	if (check_failures || getenv("MOAT_TEST_VERBOSE"))
		if (system("tail -30 /hub/moatd.log"))
			printf("(no moatd log)\n");
	/* a seccomp kill names its system call in the kernel's log */
	if (check_failures && system("dmesg | grep 'syscall=' | tail -5"))
		printf("(no seccomp kill in the kernel's log)\n");
}

/*
 * The camera through a V4L2 encoder (vicodec, loaded multi-planar as
 * bcm2835-codec is): each frame goes in by its libcamera dmabuf, the
 * access units are sealed where the encoder wrote them; nothing is
 * converted or copied. The worker does it under its seccomp filter.
 */
static void hub_m2m_in_vm(const char *self, const char *keys, const char *id)
{
	const char *sock = VM_HUB_SOCK;
	char camera[512], enc[32] = "", *st = NULL;
	int64_t sealed;
	pid_t r, d;

	CHECK(m2m_find(V4L2_PIX_FMT_FWHT, 0, enc, sizeof(enc), NULL, 0) == 0,
	      "vicodec's encoder is there: %s", enc);
	if (!enc[0])
		return;
	if (system("rm -rf /hub/relay /hub/spool"))
		printf("(nothing to remove)\n");
	/* a width libcamera's vimc pipeline keeps (a multiple of 6: its
	 * scaler's 3, even) that vicodec keeps too (a multiple of 8) */
	snprintf(camera, sizeof(camera),
		 "[camera module]\nsource = libcamera:%s\nsize = 648x480\nfps = 30\nencoder = %s\n",
		 id, enc);
	vm_hub_start(self, keys, camera, &r, &d);
	sealed = vm_wait_for(sock, "frames_sealed", 60, 120);
	CHECK(sealed >= 60,
	      "moatd with a libcamera: camera and encoder = %s: %lld frames sealed",
	      enc, (long long)sealed);
	CHECK(!ctl_request(sock, "status json", &st) && st &&
		      strstr(st, "\"encoder\": \"the V4L2 encoder (FWHT)\""),
	      "the status says the V4L2 encoder encodes it: %.200s",
	      st && strstr(st, "\"encoder\"") ? strstr(st, "\"encoder\"") : "");
	free(st);
	CHECK(vm_status_num(sock, "copies") == 0 &&
		      vm_status_num(sock, "converted") == 0,
	      "its frames went in by dmabuf, sealed in the encoder's buffers: no copy, no conversion");
	vm_hub_stop(r, d);
	if (check_failures)
		if (system("tail -30 /hub/moatd.log"))
			printf("(no moatd log)\n");
}

/* Outside: what moatd in the VM sent its relay, opened as the viewer,
 * decoded, with vimc's bars (white, yellow, black) where they should be. */
static void relay_outside(const char *log, const struct demo_keys *k)
{
	struct aus a = { 0 };
	size_t streams, ok;
	int w = 0, h = 0, pictures, y[3] = { -1, -1, -1 };
	/* libcamera makes vimc's 640x480 636x480 (its scaler's steps) */
	const uint32_t xy[3][2] = { { bar_x(636, 0), bar_y(480) },
				    { bar_x(636, 1), bar_y(480) },
				    { bar_x(636, 7), bar_y(480) } };

	streams = vm_relay_open(log, &k->ident[0], &a, &ok);
	CHECK(streams >= 3 && ok == streams,
	      "the viewer outside opens every stream moatd in the VM sent (%zu of %zu), %zu frames",
	      ok, streams, a.n);
	pictures = aus_decoded(&a, &w, &h, xy, y, 3);
	CHECK(pictures > 0 && (size_t)pictures == a.n && w == 636 && h == 480,
	      "and they decode: %d pictures of %zu, %dx%d", pictures, a.n, w, h);
	CHECK(y[0] > 165 && y[0] < 195 && y[1] > 147 && y[1] < 177 && y[2] < 32,
	      "showing the camera's bars (luma: white %d, yellow %d, black %d)",
	      y[0], y[1], y[2]);
	free(a.buf);
}

/*
 * The conversions libcamera's formats need before libx264 (vimc gives
 * only BGR888, V4L2's RGB24), on frames made here: the left half one
 * colour, the right half another, through swenc and decoded back; the
 * decoded picture's Y, Cb and Cr at each half must be the colour's
 * (BT.601, limited range), so a swapped red and blue, or chroma planes
 * taken in the wrong order, show.
 */
struct yuv {
	int y, u, v;
};

static void sample(const AVFrame *pic, int x, int y, struct yuv *o)
{
	o->y = pic->data[0][(size_t)y * (size_t)pic->linesize[0] + (size_t)x];
	o->u = pic->data[1][(size_t)(y / 2) * (size_t)pic->linesize[1] +
			    (size_t)(x / 2)];
	o->v = pic->data[2][(size_t)(y / 2) * (size_t)pic->linesize[2] +
			    (size_t)(x / 2)];
}

static bool near(const struct yuv *a, const struct yuv *b)
{
	return abs(a->y - b->y) <= 6 && abs(a->u - b->u) <= 6 &&
	       abs(a->v - b->v) <= 6;
}

static void converted(uint32_t fourcc, const char *name)
{
	enum { W = 320, H = 240 };
	/* red and blue, as BT.601 limited range gives them */
	const struct yuv red = { 82, 90, 240 }, blue = { 41, 240, 110 };
	static uint8_t frame[W * H * 3];
	struct swenc_opts eo = { .fourcc = fourcc, .width = W, .height = H,
				 .fps = 30, .bitrate = 2000000, .gop = 30 };
	struct aus a = { 0 };
	struct swenc_sink sink = { &a, aus_reserve, aus_commit };
	const AVCodec *dec = avcodec_find_decoder(AV_CODEC_ID_H264);
	AVCodecContext *ctx = dec ? avcodec_alloc_context3(dec) : NULL;
	AVPacket *pkt = av_packet_alloc();
	AVFrame *pic = av_frame_alloc();
	struct yuv left = { -1, -1, -1 }, right = { -1, -1, -1 };
	struct swenc *e = NULL;
	char why[256] = "";
	size_t len = fourcc == V4L2_PIX_FMT_YUV420 ? W * H * 3 / 2 : W * H * 3;
	int got = 0;

	for (int y = 0; y < H; y++)
		for (int x = 0; x < W; x++) {
			const struct yuv *c = x < W / 2 ? &red : &blue;
			uint8_t *p = frame + ((size_t)y * W + (size_t)x) * 3;

			if (fourcc == V4L2_PIX_FMT_YUV420) {
				frame[(size_t)y * W + (size_t)x] = (uint8_t)c->y;
				if (!(x % 2) && !(y % 2)) {
					size_t k = (size_t)(y / 2) * (W / 2) +
						   (size_t)(x / 2);

					frame[W * H + k] = (uint8_t)c->u;
					frame[W * H + W * H / 4 + k] = (uint8_t)c->v;
				}
				continue;
			}
			/* red 255,0,0 and blue 0,0,255 in the format's order */
			p[0] = p[1] = p[2] = 0;
			p[(x < W / 2) == (fourcc == V4L2_PIX_FMT_RGB24) ? 0 : 2] = 255;
		}
	CHECK(swenc_open(&eo, &e, why, sizeof(why)) == 0, "%s: libx264 takes it: %s",
	      name, why);
	for (int i = 0; e && i < 5; i++)
		CHECK(swenc_frame(e, frame, len, (uint64_t)i * 33333, false,
				  &sink) == 1,
		      "%s: frame %d encodes", name, i);
	CHECK(e && swenc_converted(e) == 5, "%s: each frame converted once (%llu)",
	      name, e ? (unsigned long long)swenc_converted(e) : 0ULL);
	swenc_close(e);
	if (ctx && pkt && pic && avcodec_open2(ctx, dec, NULL) == 0) {
		for (size_t i = 0; i <= a.n && i <= AUS_MAX; i++) {
			if (i < a.n) {
				pkt->data = a.buf + a.at[i];
				pkt->size = (int)a.size[i];
			}
			if (avcodec_send_packet(ctx, i < a.n ? pkt : NULL) < 0)
				break;
			while (avcodec_receive_frame(ctx, pic) == 0) {
				sample(pic, W / 4, H / 2, &left);
				sample(pic, 3 * W / 4, H / 2, &right);
				got++;
			}
		}
	}
	CHECK(got == 5 && near(&left, &red) && near(&right, &blue),
	      "%s: decoded, red on the left (Y %d Cb %d Cr %d) and blue on the right (Y %d Cb %d Cr %d); %d pictures",
	      name, left.y, left.u, left.v, right.y, right.u, right.v, got);
	av_frame_free(&pic);
	av_packet_free(&pkt);
	avcodec_free_context(&ctx);
	free(a.buf);
}

/* libcamera's vimc IPA module and its files, for the VM. */
static int ipa_files(char *out, size_t len)
{
	FILE *p = popen("ls /usr/lib/*/libcamera/*vimc* "
			"/usr/share/libcamera/ipa/vimc/* 2>/dev/null",
			"r");
	size_t o = 0;
	char line[PATH_MAX];
	int n = 0;

	if (!p)
		return 0;
	out[0] = '\0';
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (o + strlen(line) + 2 < len)
			o += (size_t)snprintf(out + o, len - o, "%s ", line);
		n++;
	}
	pclose(p);
	return n;
}

int main(int argc, char **argv)
{
	char self[PATH_MAX], files[4 * PATH_MAX], log[128];
	static struct demo_keys k;
	ssize_t n;
	int st;

	if (argc > 1 && !strcmp(argv[1], "--in-vm"))
		return in_vm(argv[0], argc > 2 ? argv[2] : NULL);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	converted(V4L2_PIX_FMT_RGB24, "RGB24 (libcamera's BGR888)");
	converted(V4L2_PIX_FMT_BGR24, "BGR24 (libcamera's RGB888)");
	converted(V4L2_PIX_FMT_YUV420, "YUV420");
	CHECK(ipa_files(files, sizeof(files)) >= 3,
	      "libcamera's vimc IPA module is installed (libcamera-ipa; sudo make deps): %s",
	      files);
	/* the hub's key store goes in; the viewers' keys stay out here */
	CHECK(demo_keys_make(&k, NULL) == 0, "a hub key store, two viewers");
	for (char *p = files; *p; p++)
		if (*p == '\n')
			*p = ' ';
	setenv("MOAT_VM_MODULES", "vimc vicodec:multiplanar=1", 1);
	/* libcamera says what it does at INFO; its warnings and errors stay */
	setenv("MOAT_VM_ENV",
	       getenv("MOAT_TEST_VERBOSE") ?
		       "LIBCAMERA_LOG_LEVELS=*:WARN MOAT_TEST_VERBOSE=1" :
		       "LIBCAMERA_LOG_LEVELS=*:WARN",
	       1);
	st = vm_boot(self, k.dir, "libcamera", files, log, sizeof(log));
	if (st < 0) {
		demo_keys_remove(&k);
		return 1;
	}
	CHECK(st == 0, "every check inside the VM passed");
	relay_outside(log, &k);
	demo_keys_wipe(&k);
	demo_keys_remove(&k);
	if (!check_failures)
		unlink(log);
	return test_done("test_libcamera");
}
