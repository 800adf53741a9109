// SPDX-License-Identifier: GPL-2.0-only
/*
 * libcamera cameras (capture/libcam.h) against a real kernel driver:
 * vimc, the kernel's virtual media-controller camera (a sensor, a debayer
 * and a scaler, as a Pi camera module's pipeline has), which libcamera's
 * own vimc pipeline handler drives. This machine's kernel has no V4L2 and
 * Debian's leaves vimc out, so tests/vm/vimc.sh builds it for Debian's
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
 *   after it is closed.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include <libavcodec/avcodec.h>

#include "capture/libcam.h"
#include "capture/swenc.h"
#include "tests/lib/check.h"

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

static int in_vm(void)
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
	CHECK(ret < 0 && strstr(why, "in use"),
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

	ret = libcam_open(&o, &c, why, sizeof(why));
	CHECK(ret == 0, "closed, the camera opens again: %s", why);
	if (!ret) {
		ret = next_frame(c, &f, 10000);
		CHECK(ret == 1, "and streams");
		if (ret == 1)
			libcam_release(c, &f);
		libcam_close(c);
	}
	return test_done("test_libcamera");
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
	char self[PATH_MAX], files[4096], cache[PATH_MAX], log[128],
		cmd[3 * PATH_MAX];
	const char *src = getenv("MOAT_SRC");
	ssize_t n;
	int st;

	if (argc > 1 && !strcmp(argv[1], "--in-vm"))
		return in_vm();
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	CHECK(ipa_files(files, sizeof(files)) >= 3,
	      "libcamera's vimc IPA module is installed (libcamera-ipa; sudo make deps): %s",
	      files);
	setenv("MOAT_VM_FILES", files, 1);
	setenv("MOAT_VM_MODULES", "vimc", 1);
	/* libcamera says what it does at INFO; its warnings and errors stay */
	setenv("MOAT_VM_ENV", "LIBCAMERA_LOG_LEVELS=*:WARN", 1);
	snprintf(cache, sizeof(cache), "%s/build/vm", src && *src ? src : ".");
	snprintf(log, sizeof(log), "/tmp/moat-vm-libcamera-%d.log", (int)getpid());
	snprintf(cmd, sizeof(cmd), "'%s/tests/vm/vm.sh' '%s' '%s' '%s' --in-vm",
		 src && *src ? src : ".", cache, log, self);
	printf("this kernel has no V4L2: booting Debian's stock kernel, with vimc built for it, under qemu (%s)\n",
	       log);
	fflush(stdout);
	st = system(cmd);
	if (!WIFEXITED(st) || WEXITSTATUS(st) == 125) {
		printf("the VM did not run the test; its console is in %s\n", log);
		return 1;
	}
	CHECK(WEXITSTATUS(st) == 0, "every check inside the VM passed");
	if (!check_failures)
		unlink(log);
	return test_done("test_libcamera");
}
