// SPDX-License-Identifier: GPL-2.0-only
/*
 * The V4L2 memory-to-memory encoder path against a real kernel encoder.
 * This machine has no V4L2 and no hardware encoder; Debian's kernel has
 * neither vicodec (the kernel's virtual stateful codec) nor the
 * memory-to-memory framework it needs, so tests/vm/testdrv.sh builds both
 * for Debian's stock kernel, and the test boots that kernel under qemu
 * (tests/vm/vm.sh) with vivid as the camera and vicodec loaded with
 * multiplanar=1: the multi-planar API is the only one bcm2835-codec (a
 * Pi 4's /dev/video11) offers. vicodec makes FWHT, not H.264, so the
 * pictures are checked through vicodec's own decoder, not libavcodec.
 *
 * In the VM, through capture/m2m.c:
 * - the encoder is found by what it makes (FWHT from YUYV), and an H.264
 *   encoder is not (there is none);
 * - vivid's YUYV 640x480 frames go in by dmabuf (VIDIOC_EXPBUF, imported
 *   on OUTPUT): 40 access units come out, each with its frame's
 *   timestamp, intra every 10th (the GOP set), every raw buffer given
 *   back to the camera with its tag;
 * - vicodec's decoder turns every access unit back into a picture within
 *   a few levels of the camera's frame it came from, and further from the
 *   frames either side (vivid's pattern moving), so the encoder read the
 *   frame the dmabuf named, whole;
 * - a drain (V4L2_ENC_CMD_STOP) ends with the buffer flagged LAST, then
 *   EPIPE;
 * - a second open of the same file takes over what the first left
 *   streaming (as a restarted worker does).
 * With moatd (`encoder = /dev/videoN'):
 * - `moatctl cameras' names vicodec an FWHT encoder;
 * - frames are sealed where the encoder wrote them: no copy, no
 *   conversion, "the V4L2 encoder (FWHT)" in the status;
 * - a worker killed with -9 is started again, takes the encoder over and
 *   sealing goes on (the sealer maps the new worker's buffers); at the
 *   orderly stop the worker drains the encoder;
 * - an encoder the config names that is no encoder is refused, saying so.
 * Outside, a viewer whose key never went in opens every stream moatd sent
 * its relay in the VM: META says fwht; each access unit is a whole FWHT
 * frame, 640x480, its header's size its own; each stream opens at an
 * intra frame, and the keyframe flags are the headers' intra flags.
 */
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
#include <sys/wait.h>
#include <unistd.h>

#include "capture/m2m.h"
#include "capture/v4l2.h"
#include "crypto/keystore.h"
#include "daemon/ctl.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"
#include "tests/lib/vmhub.h"
#include "tools/demo/demo.h"

enum { W = 640, H = 480, FRAMES = 40, GOP = 10, FWHT_HDR = 44 };

/* vivid's private control (drivers/media/test-drivers/vivid) */
#define VIVID_CID_HOR_MOVEMENT (0x00f0f000 + 2)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* An FWHT frame as vicodec writes it: 0 and whether it is intra, or -1. */
static int fwht_frame(const uint8_t *p, size_t len, bool *intra)
{
	static const uint8_t magic[8] = { 0x4f, 0x4f, 0x4f, 0x4f,
					  0xff, 0xff, 0xff, 0xff };

	if (len < FWHT_HDR || memcmp(p, magic, 8) || be32(p + 12) != W ||
	    be32(p + 16) != H || be32(p + 40) != len - FWHT_HDR)
		return -1;
	*intra = be32(p + 20) & V4L2_FWHT_FL_I_FRAME;
	return 0;
}

static int open_vivid(char *path, size_t len)
{
	for (int i = 0; i < 64; i++) {
		static struct v4l2_info info;
		int fd;

		snprintf(path, len, "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (!v4l2_query(fd, &info) && !strcmp(info.driver, "vivid") &&
		    info.capture && !info.m2m && !info.mplane)
			return fd;
		close(fd);
	}
	return -1;
}

static void wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };

	poll(&p, 1, 50);
}

/*
 * vicodec's stateful decoder (the multi-planar API, as loaded), fed one
 * access unit at a time, as the kernel's stateful decoder interface has
 * it: OUTPUT streams first; the first access unit's header sets the
 * picture size, and only then is CAPTURE set up (YUYV, 640x480) and
 * started. The picture comes out in pic. 0 or -1.
 */
struct dec {
	int fd;
	bool cap_on;
	uint8_t *out, *cap[2];
	size_t out_len;
};

static int dec_map(struct dec *d, uint32_t type, unsigned int i, bool queue)
{
	struct v4l2_plane pl = { 0 };
	struct v4l2_buffer b = { .index = i, .type = type,
				 .memory = V4L2_MEMORY_MMAP, .m.planes = &pl,
				 .length = 1 };
	void *m;

	if (ioctl(d->fd, VIDIOC_QUERYBUF, &b))
		return -1;
	m = mmap(NULL, pl.length, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		 pl.m.mem_offset);
	if (m == MAP_FAILED)
		return -1;
	if (type == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE) {
		d->out = m;
		d->out_len = pl.length;
	} else {
		d->cap[i] = m;
	}
	return queue ? ioctl(d->fd, VIDIOC_QBUF, &b) : 0;
}

static int dec_open(struct dec *d)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE };
	struct v4l2_requestbuffers rq = { .count = 1,
					  .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
					  .memory = V4L2_MEMORY_MMAP };
	int type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;

	memset(d, 0, sizeof(*d));
	d->fd = -1;
	for (int i = 0; i < 64 && d->fd < 0; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/dev/video%d", i);
		/* the decoder takes FWHT on OUTPUT and makes raw pictures */
		if (m2m_probe(p, 0, V4L2_PIX_FMT_FWHT, NULL, 0) == 0 &&
		    m2m_probe(p, V4L2_PIX_FMT_FWHT, 0, NULL, 0) != 0)
			d->fd = open(p, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	}
	if (d->fd < 0)
		return -1;
	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_FWHT;
	f.fmt.pix_mp.width = W;
	f.fmt.pix_mp.height = H;
	f.fmt.pix_mp.num_planes = 1;
	if (ioctl(d->fd, VIDIOC_S_FMT, &f) ||
	    ioctl(d->fd, VIDIOC_REQBUFS, &rq) || rq.count < 1 ||
	    dec_map(d, V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE, 0, false))
		return -1;
	return ioctl(d->fd, VIDIOC_STREAMON, &type) ? -1 : 0;
}

/* After the first header: the picture's format, buffers, streaming. */
static int dec_capture(struct dec *d)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE };
	struct v4l2_requestbuffers rq = { .count = 2,
					  .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
					  .memory = V4L2_MEMORY_MMAP };
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;

	f.fmt.pix_mp.pixelformat = V4L2_PIX_FMT_YUYV;
	f.fmt.pix_mp.width = W;
	f.fmt.pix_mp.height = H;
	f.fmt.pix_mp.num_planes = 1;
	if (ioctl(d->fd, VIDIOC_S_FMT, &f) ||
	    f.fmt.pix_mp.pixelformat != V4L2_PIX_FMT_YUYV ||
	    ioctl(d->fd, VIDIOC_REQBUFS, &rq) || rq.count < 2 ||
	    dec_map(d, rq.type, 0, true) || dec_map(d, rq.type, 1, true) ||
	    ioctl(d->fd, VIDIOC_STREAMON, &type))
		return -1;
	d->cap_on = true;
	return 0;
}

static int dec_frame(struct dec *d, const uint8_t *au, size_t len,
		     uint8_t *pic, size_t pic_len)
{
	struct v4l2_plane pl = { .bytesused = (uint32_t)len };
	struct v4l2_buffer b = { .index = 0,
				 .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
				 .memory = V4L2_MEMORY_MMAP, .m.planes = &pl,
				 .length = 1 };
	int got = -1;

	if (len > d->out_len)
		return -1;
	memcpy(d->out, au, len);
	if (ioctl(d->fd, VIDIOC_QBUF, &b))
		return -1;
	if (!d->cap_on && dec_capture(d))
		return -1;
	for (int tries = 0; tries < 100 && got < 0; tries++) {
		struct v4l2_plane cp = { 0 };
		struct v4l2_buffer c = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE,
					 .memory = V4L2_MEMORY_MMAP,
					 .m.planes = &cp, .length = 1 };

		if (ioctl(d->fd, VIDIOC_DQBUF, &c)) {
			wait_fd(d->fd, POLLIN);
			continue;
		}
		if (!(c.flags & V4L2_BUF_FLAG_ERROR) && c.index < 2 &&
		    cp.bytesused >= pic_len) {
			memcpy(pic, d->cap[c.index], pic_len);
			got = 0;
		}
		ioctl(d->fd, VIDIOC_QBUF, &c);
	}
	/* the coded buffer back, for the next one */
	for (int tries = 0; tries < 100; tries++) {
		struct v4l2_plane op = { 0 };
		struct v4l2_buffer o = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE,
					 .memory = V4L2_MEMORY_MMAP,
					 .m.planes = &op, .length = 1 };

		if (!ioctl(d->fd, VIDIOC_DQBUF, &o))
			break;
		wait_fd(d->fd, POLLOUT);
	}
	return got;
}

/* Mean absolute difference of the luma of two YUYV pictures. */
static double luma_diff(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < len; i += 2)
		sum += (uint64_t)abs(a[i] - b[i]);
	return (double)sum / (double)(len / 2);
}

/* The camera through the encoder: FRAMES access units, decoded back. */
static void encode(int cam, const char *enc_path)
{
	static uint8_t raw[FRAMES][W * H * 2], pic[W * H * 2];
	static uint8_t *au[FRAMES];
	static size_t au_len[FRAMES];
	struct v4l2_stream s = { 0 };
	struct v4l2_request rq = { .fourcc = V4L2_PIX_FMT_YUYV, .width = W,
				   .height = H, .fps = 30, .n_bufs = 4,
				   .export = true };
	uint64_t ts[FRAMES];
	struct m2m_enc *e = NULL;
	struct dec d;
	char why[256] = "";
	int enc = open(enc_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	unsigned int in = 0, out = 0, back = 0, tag;
	int ret, intra_ok = 1, ts_ok = 1, last = 0;
	double worst = 0, nearest_other = 1e9;

	CHECK(enc >= 0, "the encoder opens");
	{
		/* vivid's bars move right fast: no two frames alike, so a
		 * picture can be told from its neighbours */
		struct v4l2_control move = { .id = VIVID_CID_HOR_MOVEMENT,
					     .value = 6 };

		CHECK(ioctl(cam, VIDIOC_S_CTRL, &move) == 0,
		      "vivid's pattern set moving");
	}
	ret = v4l2_start(&s, cam, &rq, why, sizeof(why));
	CHECK(!ret && s.bufs[0].dmabuf >= 0,
	      "vivid streams YUYV 640x480 with its buffers exported: %s", why);
	if (ret || enc < 0)
		return;
	{
		struct m2m_opts o = { .fd = enc, .fourcc = V4L2_PIX_FMT_YUYV,
				      .coded = V4L2_PIX_FMT_FWHT, .width = W,
				      .height = H,
				      .bytesperline = s.bytesperline,
				      .fps = 30, .bitrate = 1000000,
				      .gop = GOP, .n_raw = s.n_bufs,
				      .n_coded = 4 };
		struct m2m_enc *e2 = NULL;

		ret = m2m_open(&o, &e, why, sizeof(why));
		CHECK(!ret, "m2m_open: vicodec (multi-planar) set up for FWHT from YUYV 640x480: %s",
		      why);
		o.coded = V4L2_PIX_FMT_H264;
		ret = m2m_open(&o, &e2, why, sizeof(why));
		CHECK(ret == -EINVAL && !e2 && strstr(why, "does not make H264"),
		      "asked for H.264, it is refused, saying why: %s", why);
		/* (that refused open let go of the first one's buffers: the
		 * file is shared) */
		m2m_close(e);
		e = NULL;
		o.coded = V4L2_PIX_FMT_FWHT;
		ret = m2m_open(&o, &e, why, sizeof(why));
		CHECK(!ret, "and set up again on the same file: %s", why);
	}
	if (ret)
		return;
	for (int loops = 0; loops < 2000 && out < FRAMES; loops++) {
		struct v4l2_frame f;
		struct m2m_coded c;

		while (m2m_raw_done(e, &tag) == 1) {
			back++;
			v4l2_requeue(&s, tag);
		}
		if (in < FRAMES && v4l2_dequeue(&s, &f) == 1) {
			memcpy(raw[in], f.p, sizeof(raw[0]));
			ts[in] = f.ts_us;
			ret = m2m_queue_raw(e, s.bufs[f.index].dmabuf,
					    s.bufs[f.index].len, f.len,
					    f.ts_us, f.index);
			if (ret) {
				v4l2_requeue(&s, f.index);
			} else {
				in++;
			}
		}
		while (m2m_coded(e, &c) == 1) {
			if (out < FRAMES) {
				bool intra = false;

				au[out] = malloc(c.len);
				if (au[out])
					memcpy(au[out], c.p, c.len);
				au_len[out] = c.len;
				intra_ok &= !fwht_frame(c.p, c.len, &intra) &&
					    intra == (out % GOP == 0) &&
					    c.key == intra;
				ts_ok &= c.ts_us == ts[out];
				out++;
			}
			m2m_coded_done(e, c.index);
		}
		wait_fd(s.fd, POLLIN);
	}
	CHECK(in == FRAMES && out == FRAMES,
	      "%u camera frames in by dmabuf, %u access units out", in, out);
	CHECK(intra_ok,
	      "each a whole FWHT frame, 640x480; intra (and flagged a keyframe) every %d",
	      GOP);
	CHECK(ts_ok, "each with its camera frame's timestamp");
	CHECK(back >= FRAMES - 4, "the camera's buffers came back with their tags (%u)",
	      back);
	CHECK(m2m_errors(e) == 0, "no access unit flagged ERROR");
	/* draining */
	CHECK(m2m_drain(e) == 0, "drain (V4L2_ENC_CMD_STOP) asked for");
	for (int tries = 0; tries < 200 && !last; tries++) {
		struct m2m_coded c;

		ret = m2m_coded(e, &c);
		if (ret == 1) {
			last = c.last;
			m2m_coded_done(e, c.index);
		} else if (ret == -EPIPE) {
			last = 2;
		} else {
			wait_fd(enc, POLLIN);
		}
		while (m2m_raw_done(e, &tag) == 1)
			v4l2_requeue(&s, tag);
	}
	{
		struct m2m_coded c;

		CHECK(last == 1 && m2m_coded(e, &c) == -EPIPE,
		      "the drain ends with a buffer flagged LAST, then EPIPE");
	}
	m2m_close(e);
	v4l2_stop(&s);
	close(enc);
	/* every access unit back to a picture */
	ret = dec_open(&d);
	CHECK(!ret, "vicodec's decoder opens (multi-planar, FWHT in)");
	for (unsigned int i = 0; !ret && i < out; i++) {
		double diff = -1;

		if (au[i] && !dec_frame(&d, au[i], au_len[i], pic, sizeof(pic))) {
			diff = luma_diff(pic, raw[i], sizeof(pic));
			/* and how far it is from the frames around it */
			for (unsigned int j = i ? i - 1 : 0; j <= i + 1 && j < out; j++)
				if (j != i && luma_diff(pic, raw[j], sizeof(pic)) <
						      nearest_other)
					nearest_other = luma_diff(pic, raw[j],
								  sizeof(pic));
		}
		if (diff < 0 || diff > worst)
			worst = diff < 0 ? 1e9 : diff;
	}
	printf("decoded by vicodec: mean luma difference from its own frame %.2f levels at worst, from a neighbouring frame %.2f at least\n",
	       worst, nearest_other);
	CHECK(!ret && worst < 6.0 && nearest_other > 3 * worst,
	      "every access unit decodes to its own camera frame, not a neighbour (mean luma within %.2f levels, the nearest other frame %.2f away)",
	      worst, nearest_other);
	for (unsigned int i = 0; i < out; i++)
		free(au[i]);
	if (d.fd >= 0)
		close(d.fd);
}

static void hub_in_vm(const char *self, const char *keys, const char *video,
		      const char *enc)
{
	const char *sock = VM_HUB_SOCK;
	char camera[512], cmd[PATH_MAX + 64], out[1 << 16];
	pid_t r, d, worker;
	int64_t sealed, after;
	char *st = NULL;

	snprintf(cmd, sizeof(cmd), "%s", self);
	snprintf(strrchr(cmd, '/'), sizeof(cmd) - (size_t)(strrchr(cmd, '/') - cmd),
		 "/../bin/moatctl cameras");
	run_cmd(cmd, out, sizeof(out));
	CHECK(strstr(out, enc) && strstr(out, "an FWHT encoder (vicodec"),
	      "moatctl cameras names %s an FWHT encoder: %.300s", enc,
	      strstr(out, enc) ? strstr(out, enc) : out);

	snprintf(camera, sizeof(camera),
		 "[camera desk]\nsource = v4l2:%s\nformat = yuyv\nsize = 640x480\nfps = 30\nencoder = %s\n",
		 video, enc);
	vm_hub_start(self, keys, camera, &r, &d);
	sealed = vm_wait_for(sock, "frames_sealed", 60, 90);
	CHECK(sealed >= 60,
	      "moatd with encoder = %s: %lld frames sealed", enc,
	      (long long)sealed);
	CHECK(!ctl_request(sock, "status json", &st) && st &&
		      strstr(st, "\"encoder\": \"the V4L2 encoder (FWHT)\""),
	      "the status says the V4L2 encoder encodes it");
	free(st);
	st = NULL;
	/* (the camera's "copies" comes first in the status) */
	CHECK(vm_status_num(sock, "copies") == 0 &&
		      vm_status_num(sock, "converted") == 0,
	      "no copy of frame bytes, no conversion: the sealer seals in the encoder's buffers");
	worker = (pid_t)vm_status_num(sock, "pid");
	CHECK(worker > 0 && kill(worker, SIGKILL) == 0,
	      "the worker (pid %d) killed with -9", (int)worker);
	sealed = vm_status_num(sock, "frames_sealed");
	after = vm_wait_for(sock, "frames_sealed", sealed + 60, 90);
	CHECK(vm_status_num(sock, "restarts") >= 1 && after >= sealed + 60,
	      "a new worker took the encoder over: %lld more frames sealed",
	      (long long)(after - sealed));
	vm_hub_stop(r, d);
	run_cmd("cat /hub/moatd.log", out, sizeof(out));
	CHECK(strstr(out, "camera desk: the encoder drained ("),
	      "at the orderly stop the worker drained the encoder (V4L2_ENC_CMD_STOP to LAST): %.200s",
	      strstr(out, "drained") ? strstr(out, "drained") : "");
	{
		int n = vm_export_relay("/hub/relay");

		CHECK(n >= 2, "the relay holds %d streams", n);
	}
	if (check_failures)
		system("tail -30 /hub/moatd.log");

	/* an encoder that is no encoder: the camera itself */
	snprintf(camera, sizeof(camera),
		 "[camera desk]\nsource = v4l2:%s\nformat = yuyv\nsize = 640x480\nencoder = %s\n",
		 video, video);
	system("rm -rf /hub/relay /hub/spool");
	vm_hub_start(self, keys, camera, &r, &d);
	for (int i = 0; i < 100; i++) {
		free(st);
		st = NULL;
		if (!ctl_request(sock, "status json", &st) && st &&
		    strstr(st, "not a memory-to-memory device"))
			break;
		usleep(100000);
	}
	CHECK(st && strstr(st, "not a memory-to-memory device") &&
		      vm_status_num(sock, "frames_captured") == 0,
	      "encoder = %s (a camera): refused, saying it is not a memory-to-memory device: %.200s",
	      video, st && strstr(st, "\"error\"") ? strstr(st, "\"error\"") : "");
	free(st);
	vm_hub_stop(r, d);
}

static int in_vm(const char *self, const char *keys)
{
	char video[32], enc[32] = "", card[40] = "", h264[32];
	int cam = open_vivid(video, sizeof(video));

	CHECK(cam >= 0, "a vivid capture device");
	CHECK(m2m_find(V4L2_PIX_FMT_FWHT, V4L2_PIX_FMT_YUYV, enc, sizeof(enc),
		       card, sizeof(card)) == 0 &&
		      !strcmp(card, "vicodec"),
	      "vicodec's encoder found by what it makes: %s (%s)", enc, card);
	CHECK(m2m_find(V4L2_PIX_FMT_H264, 0, h264, sizeof(h264), NULL, 0) ==
		      -ENOENT,
	      "and no H.264 encoder (encoder = auto would take libx264)");
	if (cam < 0 || !enc[0])
		return test_done("test_m2menc");
	encode(cam, enc);
	close(cam);
	if (keys)
		hub_in_vm(self, keys, video, enc);
	return test_done("test_m2menc");
}

/* Outside: what moatd in the VM sent its relay, opened as the viewer. */
static void relay_outside(const char *log, const struct demo_keys *k)
{
	struct aus a = { 0 };
	size_t streams, ok, whole = 0, flags_ok = 0;

	streams = vm_relay_open(log, &k->ident[0], &a, &ok);
	CHECK(streams >= 2 && ok == streams,
	      "the viewer outside opens every stream moatd in the VM sent (%zu of %zu), %zu frames",
	      ok, streams, a.n);
	CHECK(!strcmp(a.codec, "fwht") && !a.codec_mixed,
	      "their META says fwht (%s)", a.codec);
	for (size_t i = 0; i < a.n && i < AUS_MAX; i++) {
		bool intra;

		if (!fwht_frame(a.buf + a.at[i], a.size[i], &intra)) {
			whole++;
			flags_ok += intra == a.key_at[i];
		}
	}
	CHECK(a.n >= 120 && whole == (a.n < AUS_MAX ? a.n : AUS_MAX),
	      "every access unit is a whole FWHT frame, 640x480, its header's size its own (%zu of %zu)",
	      whole, a.n);
	CHECK(flags_ok == whole && a.keys >= streams,
	      "keyframe flags are the headers' intra flags, and every stream opens at one (%zu keyframes)",
	      a.keys);
	free(a.buf);
}

static int host(const char *self)
{
	char log[PATH_MAX];
	static struct demo_keys k;
	int st;

	/* the hub's key store goes in; the viewers' keys stay out here */
	CHECK(demo_keys_make(&k, NULL) == 0, "a hub key store, two viewers");
	setenv("MOAT_VM_MODULES", "vivid vicodec:multiplanar=1", 1);
	st = vm_boot(self, k.dir, "m2menc", NULL, log, sizeof(log));
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
	return test_done("test_m2menc");
}

int main(int argc, char **argv)
{
	char self[PATH_MAX];
	ssize_t n;

	if (argc > 1 && !strcmp(argv[1], "--in-vm"))
		return in_vm(argv[0], argc > 2 ? argv[2] : NULL);
	if (geteuid())
		test_skip("the V4L2 VM needs root (run the suite with sudo)");
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	return host(self);
}
