// SPDX-License-Identifier: GPL-2.0-only
/*
 * The V4L2 memory-to-memory encoder's state machine (capture/m2m.c), against
 * a driver recorded here: vivid is no encoder, and this machine has none,
 * so the driver is a fake that answers as bcm2835-codec (a Pi 4's
 * /dev/video11) does: it keeps NV12 at the size asked, asks for its own
 * coded buffer size, flags keyframes, marks damaged output ERROR and ends
 * a drain with LAST and then EPIPE; like it, it speaks only the
 * multi-planar API (a second run speaks the single-planar one, as vicodec
 * can). Its CAPTURE buffers live in a memfd, so they are mapped for real.
 * (test_m2menc drives a real kernel encoder, vicodec, in a VM.)
 *
 * - set-up issues exactly the documented sequence (what a predecessor
 *   left stopped and freed, coded format, raw format, frame interval,
 *   controls, buffers, stream on), and a driver
 *   that cannot do H.264, or wants another raw size or line length, is
 *   refused with the reason;
 * - camera frames go in by dmabuf; access units come out in order with
 *   their timestamps, the first and a forced one as keyframes; a damaged
 *   one is skipped and counted; raw buffers come back tagged;
 * - draining: the queued frames come out, the last flagged LAST, and
 *   after it EPIPE; no frame is taken after.
 */
#include <errno.h>
#include <stdarg.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/m2m.h"
#include "tests/lib/check.h"

enum { CAP_LEN = 64 << 10, NCAP = 4, NOUT = 4, LOG_MAX = 64 };

/* The recorded driver. */
struct fake {
	int memfd;
	char log[LOG_MAX][48];
	int n_log;
	/* what it will answer */
	uint32_t coded_fourcc;	   /* what S_FMT(CAPTURE) keeps */
	uint32_t raw_height_delta; /* a driver that changes the height */
	uint32_t bpl_align;	   /* bytesperline rounded up to this */
	bool mplane;		   /* the multi-planar API only (bcm2835) */
	bool wrong_api;		   /* a call in the other API was made */
	/* the queues */
	int out_q[16], n_out_q;	   /* indexes queued on OUTPUT, in order */
	uint64_t out_ts[16];
	int out_done[16], n_out_done;
	int cap_free[16], n_cap_free;
	int frames;		   /* raw frames encoded */
	bool force_key, draining, last_sent;
	int error_at;		   /* the frame whose output is damaged */
	struct { int index; uint32_t len, flags; uint64_t ts; } ready[16];
	int n_ready;
};

static const char *type(uint32_t t)
{
	return t == V4L2_BUF_TYPE_VIDEO_OUTPUT ||
			       t == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE ?
		       "OUTPUT" :
	       t == V4L2_BUF_TYPE_VIDEO_CAPTURE ||
			       t == V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE ?
		       "CAPTURE" :
		       "?";
}

static bool is_out(uint32_t t)
{
	return t == V4L2_BUF_TYPE_VIDEO_OUTPUT ||
	       t == V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE;
}

/* A driver answers only in its own API (EINVAL otherwise); noted. */
static bool api_ok(struct fake *f, uint32_t t)
{
	bool ok = V4L2_TYPE_IS_MULTIPLANAR(t) == f->mplane;

	f->wrong_api |= !ok;
	return ok;
}

/* The fields of a one-plane buffer, in the driver's API. */
static uint32_t *used_of(struct fake *f, struct v4l2_buffer *b)
{
	return f->mplane ? &b->m.planes[0].bytesused : &b->bytesused;
}

static void __attribute__((format(printf, 2, 3)))
logf_(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	if (f->n_log >= LOG_MAX)
		return;
	va_start(ap, fmt);
	vsnprintf(f->log[f->n_log++], sizeof(f->log[0]), fmt, ap);
	va_end(ap);
}

/* Encodes what OUTPUT holds into free CAPTURE buffers. */
static void run(struct fake *f)
{
	while (f->n_out_q && f->n_cap_free) {
		int in = f->out_q[0], out = f->cap_free[0];
		uint8_t *p;
		uint32_t len = 1000 + 100 * (uint32_t)f->frames;

		memmove(f->out_q, f->out_q + 1, sizeof(int) * (size_t)--f->n_out_q);
		memmove(f->cap_free, f->cap_free + 1,
			sizeof(int) * (size_t)--f->n_cap_free);
		f->ready[f->n_ready].index = out;
		f->ready[f->n_ready].len = len;
		f->ready[f->n_ready].ts = f->out_ts[in];
		f->ready[f->n_ready].flags =
			(f->frames == 0 || f->force_key ? V4L2_BUF_FLAG_KEYFRAME : 0) |
			(f->frames == f->error_at ? V4L2_BUF_FLAG_ERROR : 0) |
			(f->draining && !f->n_out_q ? V4L2_BUF_FLAG_LAST : 0);
		f->last_sent |= f->draining && !f->n_out_q;
		/* the access unit: a start code and the frame's number */
		p = mmap(NULL, CAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			 f->memfd, (off_t)out * CAP_LEN);
		if (p != MAP_FAILED) {
			memset(p, 0, len);
			p[3] = 1;
			p[4] = 0x65;
			p[5] = (uint8_t)f->frames;
			munmap(p, CAP_LEN);
		}
		f->force_key = false;
		f->frames++;
		f->n_ready++;
		f->out_done[f->n_out_done++] = in;
	}
}

static int fmt(struct fake *f, struct v4l2_format *v)
{
	struct v4l2_pix_format_mplane *mp = &v->fmt.pix_mp;
	struct v4l2_pix_format *sp = &v->fmt.pix;
	uint32_t w = f->mplane ? mp->width : sp->width;
	uint32_t h = f->mplane ? mp->height : sp->height;
	uint32_t size = f->mplane ? mp->plane_fmt[0].sizeimage : sp->sizeimage;
	uint32_t fc = f->mplane ? mp->pixelformat : sp->pixelformat, bpl = 0;

	logf_(f, "S_FMT %s", type(v->type));
	if (!api_ok(f, v->type) || (f->mplane && mp->num_planes != 1))
		return -EINVAL;
	if (!is_out(v->type)) {
		fc = f->coded_fourcc;
		/* its own minimum for a 1080p keyframe */
		if (size < 768 << 10)
			size = 768 << 10;
	} else {
		h += f->raw_height_delta;
		bpl = (w + f->bpl_align - 1) / f->bpl_align * f->bpl_align;
		size = bpl * ((h + 15) & ~15u) * 3 / 2;
	}
	if (f->mplane) {
		mp->pixelformat = fc;
		mp->height = h;
		mp->plane_fmt[0].bytesperline = bpl;
		mp->plane_fmt[0].sizeimage = size;
	} else {
		sp->pixelformat = fc;
		sp->height = h;
		sp->bytesperline = bpl;
		sp->sizeimage = size;
	}
	return 0;
}

static int ctrl(struct fake *f, struct v4l2_control *c)
{
	const char *name = c->id == V4L2_CID_MPEG_VIDEO_BITRATE ? "BITRATE" :
			   c->id == V4L2_CID_MPEG_VIDEO_H264_I_PERIOD ? "I_PERIOD" :
			   c->id == V4L2_CID_MPEG_VIDEO_GOP_SIZE ? "GOP_SIZE" :
			   c->id == V4L2_CID_MPEG_VIDEO_H264_PROFILE ? "PROFILE" :
			   c->id == V4L2_CID_MPEG_VIDEO_H264_LEVEL ? "LEVEL" :
			   c->id == V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER ? "REPEAT_SEQ_HEADER" :
			   c->id == V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME ? "FORCE_KEY_FRAME" :
									 "?";

	logf_(f, "S_CTRL %s=%d", name, c->value);
	if (c->id == V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME)
		f->force_key = true;
	return 0;
}

static int dqbuf(struct fake *f, struct v4l2_buffer *b)
{
	if (!api_ok(f, b->type) || (f->mplane && (!b->m.planes || !b->length)))
		return -EINVAL;
	if (is_out(b->type)) {
		if (!f->n_out_done)
			return -EAGAIN;
		b->index = (uint32_t)f->out_done[0];
		memmove(f->out_done, f->out_done + 1,
			sizeof(int) * (size_t)--f->n_out_done);
		return 0;
	}
	if (!f->n_ready)
		return f->last_sent ? -EPIPE : -EAGAIN;
	b->index = (uint32_t)f->ready[0].index;
	*used_of(f, b) = f->ready[0].len;
	b->flags = f->ready[0].flags;
	b->timestamp.tv_sec = (time_t)(f->ready[0].ts / 1000000);
	b->timestamp.tv_usec = (suseconds_t)(f->ready[0].ts % 1000000);
	memmove(f->ready, f->ready + 1, sizeof(f->ready[0]) * (size_t)--f->n_ready);
	return 0;
}

static int fake_ioctl(void *arg, int fd, unsigned long req, void *d)
{
	struct fake *f = arg;
	struct v4l2_buffer *b = d;
	struct v4l2_requestbuffers *rq = d;

	(void)fd;
	switch (req) {
	case VIDIOC_QUERYCAP: {
		struct v4l2_capability *c = d;

		logf_(f, "QUERYCAP");
		memset(c, 0, sizeof(*c));
		snprintf((char *)c->card, sizeof(c->card), "bcm2835-codec-encode");
		c->device_caps = V4L2_CAP_STREAMING |
				 (f->mplane ? V4L2_CAP_VIDEO_M2M_MPLANE :
					      V4L2_CAP_VIDEO_M2M);
		c->capabilities = c->device_caps | V4L2_CAP_DEVICE_CAPS;
		return 0;
	}
	case VIDIOC_S_FMT:
		return fmt(f, d);
	case VIDIOC_S_PARM:
		if (!api_ok(f, ((struct v4l2_streamparm *)d)->type))
			return -EINVAL;
		logf_(f, "S_PARM %s fps=%u", type(((struct v4l2_streamparm *)d)->type),
		      ((struct v4l2_streamparm *)d)->parm.output.timeperframe.denominator);
		return 0;
	case VIDIOC_S_CTRL:
		return ctrl(f, d);
	case VIDIOC_REQBUFS:
		logf_(f, "REQBUFS %s %u", type(rq->type), rq->count);
		if (!api_ok(f, rq->type))
			return -EINVAL;
		if (!rq->count)
			return 0;
		rq->count = rq->type == V4L2_BUF_TYPE_VIDEO_CAPTURE ? NCAP : NOUT;
		return 0;
	case VIDIOC_QUERYBUF:
		if (!api_ok(f, b->type))
			return -EINVAL;
		if (f->mplane) {
			if (!b->m.planes || !b->length)
				return -EINVAL;
			b->length = 1;
			b->m.planes[0].length = CAP_LEN;
			b->m.planes[0].m.mem_offset = b->index * CAP_LEN;
		} else {
			b->length = CAP_LEN;
			b->m.offset = b->index * CAP_LEN;
		}
		logf_(f, "QUERYBUF %s %u", type(b->type), b->index);
		return 0;
	case VIDIOC_QBUF:
		if (!api_ok(f, b->type) ||
		    (f->mplane && (!b->m.planes || b->length != 1)))
			return -EINVAL;
		if (f->n_log < LOG_MAX && !f->frames && f->n_out_q == 0 &&
		    !is_out(b->type))
			logf_(f, "QBUF %s %u", type(b->type), b->index);
		if (!is_out(b->type)) {
			f->cap_free[f->n_cap_free++] = (int)b->index;
		} else {
			/* vb2: in the multi-planar API a dmabuf plane's
			 * length is the caller's, and bytesused fits it */
			if (b->memory != V4L2_MEMORY_DMABUF ||
			    (f->mplane ? b->m.planes[0].m.fd : b->m.fd) < 0 ||
			    !*used_of(f, b) ||
			    (f->mplane &&
			     b->m.planes[0].bytesused > b->m.planes[0].length))
				return -EINVAL;
			f->out_ts[b->index] = (uint64_t)b->timestamp.tv_sec * 1000000u +
					      (uint64_t)b->timestamp.tv_usec;
			f->out_q[f->n_out_q++] = (int)b->index;
		}
		run(f);
		return 0;
	case VIDIOC_DQBUF:
		return dqbuf(f, b);
	case VIDIOC_STREAMON:
		logf_(f, "STREAMON %s", type(*(uint32_t *)d));
		return 0;
	case VIDIOC_STREAMOFF:
		logf_(f, "STREAMOFF %s", type(*(uint32_t *)d));
		return 0;
	case VIDIOC_ENCODER_CMD:
		f->draining = ((struct v4l2_encoder_cmd *)d)->cmd == V4L2_ENC_CMD_STOP;
		if (f->draining && !f->n_out_q && !f->last_sent) {
			/* nothing queued: an empty buffer says LAST */
			if (f->n_cap_free) {
				int out = f->cap_free[0];

				memmove(f->cap_free, f->cap_free + 1,
					sizeof(int) * (size_t)--f->n_cap_free);
				f->ready[f->n_ready].index = out;
				f->ready[f->n_ready].len = 0;
				f->ready[f->n_ready].flags = V4L2_BUF_FLAG_LAST;
				f->ready[f->n_ready++].ts = 0;
				f->last_sent = true;
			}
		}
		return 0;
	}
	return -ENOTTY;
}

static void *fake_mmap(void *arg, size_t len, int fd, long off)
{
	struct fake *f = arg;
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, f->memfd, off);

	(void)fd;
	return p == MAP_FAILED ? NULL : p;
}

static void fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	f->memfd = memfd_create("fake-bcm2835-codec", MFD_CLOEXEC);
	if (f->memfd < 0 || ftruncate(f->memfd, (off_t)NCAP * CAP_LEN))
		abort();
	f->coded_fourcc = V4L2_PIX_FMT_H264;
	f->bpl_align = 32;
	f->mplane = true;
	f->error_at = -1;
}

static const struct m2m_opts base = { .fd = 3, .fourcc = V4L2_PIX_FMT_NV12,
				      .width = 1920, .height = 1080,
				      .bytesperline = 1920, .fps = 30,
				      .bitrate = 4000000, .gop = 30 };

static void setup_sequence(void)
{
	static const char *const want[] = {
		"QUERYCAP",
		/* what a predecessor may have left, let go first */
		"STREAMOFF OUTPUT", "REQBUFS OUTPUT 0", "STREAMOFF CAPTURE",
		"REQBUFS CAPTURE 0",
		"S_FMT CAPTURE", "S_FMT OUTPUT", "S_PARM OUTPUT fps=30",
		"S_CTRL BITRATE=4000000", "S_CTRL I_PERIOD=30",
		"S_CTRL GOP_SIZE=30",
		"S_CTRL PROFILE=4", "S_CTRL LEVEL=11",
		"S_CTRL REPEAT_SEQ_HEADER=1", "REQBUFS OUTPUT 4",
		"REQBUFS CAPTURE 4", "QUERYBUF CAPTURE 0", "QBUF CAPTURE 0",
		"QUERYBUF CAPTURE 1", "QBUF CAPTURE 1", "QUERYBUF CAPTURE 2",
		"QBUF CAPTURE 2", "QUERYBUF CAPTURE 3", "QBUF CAPTURE 3",
		"STREAMON OUTPUT", "STREAMON CAPTURE",
	};
	size_t n = sizeof(want) / sizeof(want[0]);
	struct fake f;
	struct m2m_ops ops = { fake_ioctl, fake_mmap, &f };
	struct m2m_opts o = base;
	struct m2m_enc *e = NULL;
	char why[256] = "";
	bool same;

	fake_init(&f);
	o.ops = &ops;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == 0, "set up: %s", why);
	same = (size_t)f.n_log == n;
	for (size_t i = 0; same && i < n; i++)
		same = !strcmp(f.log[i], want[i]);
	CHECK(same, "set-up is the documented sequence (%d steps, %zu wanted)",
	      f.n_log, n);
	if (!same)
		for (int i = 0; i < f.n_log; i++)
			fprintf(stderr, "  %2d %s\n", i, f.log[i]);
	m2m_close(e);
	close(f.memfd);
}

static void refusals(void)
{
	struct fake f;
	struct m2m_ops ops = { fake_ioctl, fake_mmap, &f };
	struct m2m_opts o = base;
	struct m2m_enc *e = NULL;
	char why[256] = "";

	o.ops = &ops;
	fake_init(&f);
	f.coded_fourcc = V4L2_PIX_FMT_MJPEG;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == -EINVAL && !e &&
		      strstr(why, "does not make H264"),
	      "an encoder that does not make H.264 is refused: %s", why);
	fake_init(&f);
	f.raw_height_delta = 8;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "1920x1088") && strstr(why, "1920x1080"),
	      "one that wants another size, saying which: %s", why);
	fake_init(&f);
	o.sizeimage = 1920 * 1080 * 3 / 2;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "3133440") && strstr(why, "3110400"),
	      "one whose planes are padded (rows to 16: 1088) past the camera's frame: %s",
	      why);
	o.sizeimage = 0;
	fake_init(&f);
	o.width = 1000;
	o.bytesperline = 1000;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == -EINVAL &&
		      strstr(why, "1024") && strstr(why, "1000"),
	      "one whose lines are longer than the camera's: %s", why);
	close(f.memfd);
}

static void encoding(bool mplane)
{
	const char *api = mplane ? "multi-planar" : "single-planar";
	struct fake f;
	struct m2m_ops ops = { fake_ioctl, fake_mmap, &f };
	struct m2m_opts o = base;
	struct m2m_enc *e = NULL;
	char why[256] = "";
	int got = 0, keys = 0, order = 1, ts_ok = 1, raw_back = 0, ret;
	unsigned int tag;
	bool last = false;

	fake_init(&f);
	f.error_at = 3;
	f.mplane = mplane;
	o.ops = &ops;
	CHECK(m2m_open(&o, &e, why, sizeof(why)) == 0, "%s: set up: %s", api,
	      why);
	if (!e)
		return;
	for (unsigned int i = 0; i < 8; i++) {
		struct m2m_coded c;

		if (i == 5)
			CHECK(m2m_force_key(e) == 0, "an event: a keyframe asked for");
		CHECK(m2m_queue_raw(e, 100 + (int)i, 1920 * 1088 * 3 / 2,
				    1920 * 1080 * 3 / 2,
				    1000000 + i * 33333, i) == 0,
		      "frame %u queued by its dmabuf", i);
		while ((ret = m2m_raw_done(e, &tag)) == 1)
			raw_back += tag == i;
		while (m2m_coded(e, &c) == 1) {
			/* frame 3 is damaged and never seen */
			unsigned int n = c.p[5];

			order &= n == (unsigned int)(got + (got >= 3));
			ts_ok &= c.ts_us == 1000000 + n * 33333;
			keys += c.key;
			if (c.key && n != 0 && n != 5)
				order = 0;
			got++;
			CHECK(m2m_coded_done(e, c.index) == 0, "coded buffer back");
		}
	}
	CHECK(got == 7 && order && ts_ok,
	      "%s: 7 access units out of 8 frames, in order, with their frames' timestamps",
	      api);
	CHECK(keys == 2, "keyframes: the first and the forced one (%d)", keys);
	CHECK(m2m_errors(e) == 1, "the damaged one skipped and counted");
	CHECK(raw_back == 8, "every camera buffer came back with its tag (%d)",
	      raw_back);
	/* draining */
	CHECK(m2m_queue_raw(e, 200, 4096, 100, 2000000, 8) == 0 &&
		      m2m_queue_raw(e, 201, 4096, 100, 2033333, 9) == 0,
	      "two more frames queued");
	CHECK(m2m_drain(e) == 0, "drain asked for");
	for (int i = 0; i < 10 && !last; i++) {
		struct m2m_coded c;

		ret = m2m_coded(e, &c);
		if (ret == 1) {
			last = c.last;
			m2m_coded_done(e, c.index);
		}
	}
	CHECK(last, "the drained frames come out, the last flagged LAST");
	{
		struct m2m_coded c;

		CHECK(m2m_coded(e, &c) == -EPIPE, "and then EPIPE: drained");
	}
	CHECK(m2m_queue_raw(e, 300, 4096, 100, 3000000, 10) == -EPIPE,
	      "no frame is taken after the drain");
	CHECK(!f.wrong_api, "%s: every call in the driver's own API", api);
	m2m_close(e);
	close(f.memfd);
}

int main(void)
{
	setup_sequence();
	refusals();
	encoding(true);	 /* as bcm2835-codec */
	encoding(false); /* as a single-planar driver */
	return test_done("test_m2m");
}
