// SPDX-License-Identifier: GPL-2.0-only
/* A stateful V4L2 memory-to-memory H.264 encoder (see m2m.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/m2m.h"
#include "capture/v4l2.h"

struct m2m_enc {
	int fd;
	struct m2m_ops ops;
	bool mplane;	/* the multi-planar API (bcm2835-codec's), one plane */
	struct v4l2_format out_fmt, cap_fmt;
	struct {
		uint8_t *p;
		size_t len;
		uint32_t offset;
		bool queued;
		bool read;	/* with a reader (m2m_pump) */
		uint64_t token;
	} cap[M2M_BUFS];
	bool out_queued[M2M_BUFS];
	unsigned int tag[M2M_BUFS];
	unsigned int n_out, n_cap;
	bool streaming, drained;
	uint64_t errors;
};

/*
 * A buffer in whichever API the device speaks. Drivers such as
 * bcm2835-codec offer only the multi-planar one; the formats moat feeds
 * and takes are one plane each, so the two differ only in where the
 * fields sit.
 */
struct mbuf {
	struct v4l2_buffer b;
	struct v4l2_plane pl[VIDEO_MAX_PLANES];
};

static uint32_t qtype(const struct m2m_enc *e, bool output)
{
	if (e->mplane)
		return output ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE :
				V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE;
	return output ? V4L2_BUF_TYPE_VIDEO_OUTPUT :
			V4L2_BUF_TYPE_VIDEO_CAPTURE;
}

static void mbuf_init(const struct m2m_enc *e, struct mbuf *m, bool output,
		      uint32_t memory, uint32_t index)
{
	memset(m, 0, sizeof(*m));
	m->b.type = qtype(e, output);
	m->b.memory = memory;
	m->b.index = index;
	if (e->mplane) {
		m->b.m.planes = m->pl;
		m->b.length = VIDEO_MAX_PLANES;
	}
}

static uint32_t mbuf_used(const struct m2m_enc *e, const struct mbuf *m)
{
	return e->mplane ? m->pl[0].bytesused : m->b.bytesused;
}

static uint32_t mbuf_len(const struct m2m_enc *e, const struct mbuf *m)
{
	return e->mplane ? m->pl[0].length : m->b.length;
}

static uint32_t mbuf_offset(const struct m2m_enc *e, const struct mbuf *m)
{
	return e->mplane ? m->pl[0].m.mem_offset : m->b.m.offset;
}

static int real_ioctl(void *arg, int fd, unsigned long req, void *data)
{
	int r;

	(void)arg;
	do
		r = ioctl(fd, req, data);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

static void *real_mmap(void *arg, size_t len, int fd, long offset)
{
	void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, offset);

	(void)arg;
	return p == MAP_FAILED ? NULL : p;
}

static const struct m2m_ops real_ops = { real_ioctl, real_mmap, NULL };

static int io(struct m2m_enc *e, unsigned long req, void *data)
{
	return e->ops.ioctl(e->ops.arg, e->fd, req, data);
}

static int step(char *why, size_t len, const char *what, int err)
{
	snprintf(why, len, "%s: %s", what, strerror(-err));
	return err;
}

/* A single-plane format's fields, in either API. */
static void fmt_set(const struct m2m_enc *e, struct v4l2_format *f,
		    bool output, uint32_t fourcc, uint32_t w, uint32_t h,
		    uint32_t bpl, uint32_t size)
{
	memset(f, 0, sizeof(*f));
	f->type = qtype(e, output);
	if (e->mplane) {
		f->fmt.pix_mp.pixelformat = fourcc;
		f->fmt.pix_mp.width = w;
		f->fmt.pix_mp.height = h;
		f->fmt.pix_mp.num_planes = 1;
		f->fmt.pix_mp.plane_fmt[0].bytesperline = bpl;
		f->fmt.pix_mp.plane_fmt[0].sizeimage = size;
	} else {
		f->fmt.pix.pixelformat = fourcc;
		f->fmt.pix.width = w;
		f->fmt.pix.height = h;
		f->fmt.pix.bytesperline = bpl;
		f->fmt.pix.sizeimage = size;
	}
}

static void fmt_get(const struct m2m_enc *e, const struct v4l2_format *f,
		    uint32_t *fourcc, uint32_t *w, uint32_t *h, uint32_t *bpl,
		    uint32_t *size)
{
	if (e->mplane) {
		*fourcc = f->fmt.pix_mp.pixelformat;
		*w = f->fmt.pix_mp.width;
		*h = f->fmt.pix_mp.height;
		*bpl = f->fmt.pix_mp.plane_fmt[0].bytesperline;
		*size = f->fmt.pix_mp.plane_fmt[0].sizeimage;
	} else {
		*fourcc = f->fmt.pix.pixelformat;
		*w = f->fmt.pix.width;
		*h = f->fmt.pix.height;
		*bpl = f->fmt.pix.bytesperline;
		*size = f->fmt.pix.sizeimage;
	}
}

/* 0: which API the device speaks (QUERYCAP). */
static int api(struct m2m_enc *e, char *why, size_t why_len)
{
	struct v4l2_capability cap = { 0 };
	uint32_t caps;
	int ret = io(e, VIDIOC_QUERYCAP, &cap);

	if (ret)
		return step(why, why_len, "VIDIOC_QUERYCAP", ret);
	caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps :
							  cap.capabilities;
	if (!(caps & V4L2_CAP_STREAMING) ||
	    !(caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE))) {
		snprintf(why, why_len,
			 "%.32s is not a streaming memory-to-memory device",
			 (const char *)cap.card);
		return -EINVAL;
	}
	e->mplane = !(caps & V4L2_CAP_VIDEO_M2M);
	return 0;
}

/* 1, 2: the coded format, then the raw one (which the driver adjusts). */
static int formats(struct m2m_enc *e, const struct m2m_opts *o, char *why,
		   size_t why_len)
{
	uint32_t coded = o->coded ? o->coded : V4L2_PIX_FMT_H264;
	uint32_t fc, w, h, bpl, size;
	char want[5], got[5];
	int ret;

	/* room for a keyframe: the driver may ask for more, not less */
	fmt_set(e, &e->cap_fmt, false, coded, o->width, o->height, 0,
		o->width * o->height * 3 / 4 + (64 << 10));
	ret = io(e, VIDIOC_S_FMT, &e->cap_fmt);
	v4l2_fourcc_str(coded, want);
	if (ret) {
		snprintf(why, why_len, "VIDIOC_S_FMT (CAPTURE, %s): %s", want,
			 strerror(-ret));
		return ret;
	}
	fmt_get(e, &e->cap_fmt, &fc, &w, &h, &bpl, &size);
	if (fc != coded) {
		snprintf(why, why_len, "the encoder does not make %s", want);
		return -EINVAL;
	}
	fmt_set(e, &e->out_fmt, true, o->fourcc, o->width, o->height,
		o->bytesperline, 0);
	ret = io(e, VIDIOC_S_FMT, &e->out_fmt);
	if (ret)
		return step(why, why_len, "VIDIOC_S_FMT (OUTPUT)", ret);
	fmt_get(e, &e->out_fmt, &fc, &w, &h, &bpl, &size);
	if (fc != o->fourcc || w != o->width || h != o->height) {
		v4l2_fourcc_str(o->fourcc, want);
		v4l2_fourcc_str(fc, got);
		snprintf(why, why_len,
			 "the encoder takes %s %ux%u, not the camera's %s %ux%u",
			 got, w, h, want, o->width, o->height);
		return -EINVAL;
	}
	/* the camera's frames are imported as they are: their layout must
	 * be what the encoder reads */
	if (o->bytesperline && bpl != o->bytesperline) {
		snprintf(why, why_len,
			 "the encoder wants lines of %u bytes, the camera gives %u",
			 bpl, o->bytesperline);
		return -EINVAL;
	}
	if (o->sizeimage && size > o->sizeimage) {
		snprintf(why, why_len,
			 "the encoder wants frames of %u bytes (its planes padded), the camera's are %u",
			 size, o->sizeimage);
		return -EINVAL;
	}
	return 0;
}

/* 3, 4: the frame interval (on OUTPUT: the coded rate follows), then the
 * controls. A control the driver lacks is not fatal, except, for H.264,
 * the bitrate and the repeated sequence header (without it a GOP could
 * not be opened alone). A driver without a frame interval (vicodec)
 * encodes what it is given. */
static int controls(struct m2m_enc *e, const struct m2m_opts *o, char *why,
		    size_t why_len)
{
	struct v4l2_streamparm parm = { .type = qtype(e, true) };
	bool h264 = !o->coded || o->coded == V4L2_PIX_FMT_H264;
	const struct {
		uint32_t id;
		int32_t value;
		bool must;
	} ctl[] = {
		{ V4L2_CID_MPEG_VIDEO_BITRATE, (int32_t)o->bitrate, h264 },
		{ V4L2_CID_MPEG_VIDEO_H264_I_PERIOD, (int32_t)o->gop, false },
		{ V4L2_CID_MPEG_VIDEO_GOP_SIZE, (int32_t)o->gop, false },
		{ V4L2_CID_MPEG_VIDEO_H264_PROFILE,
		  V4L2_MPEG_VIDEO_H264_PROFILE_HIGH, false },
		{ V4L2_CID_MPEG_VIDEO_H264_LEVEL,
		  o->width * o->height > 1280 * 720 ?
			  V4L2_MPEG_VIDEO_H264_LEVEL_4_0 :
			  V4L2_MPEG_VIDEO_H264_LEVEL_3_1,
		  false },
		{ V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER, 1, h264 },
	};
	int ret;

	parm.parm.output.timeperframe.numerator = 1;
	parm.parm.output.timeperframe.denominator = o->fps;
	ret = io(e, VIDIOC_S_PARM, &parm);
	if (ret && ret != -ENOTTY)
		return step(why, why_len, "VIDIOC_S_PARM (OUTPUT)", ret);
	for (size_t i = 0; i < sizeof(ctl) / sizeof(ctl[0]); i++) {
		struct v4l2_control c = { .id = ctl[i].id, .value = ctl[i].value };

		ret = io(e, VIDIOC_S_CTRL, &c);
		if (ret && ctl[i].must)
			return step(why, why_len,
				    ctl[i].id == V4L2_CID_MPEG_VIDEO_BITRATE ?
					    "the bitrate control" :
					    "the repeated sequence header control",
				    ret);
	}
	return 0;
}

static int request(struct m2m_enc *e, bool output, uint32_t memory,
		   unsigned int n, unsigned int *got, char *why, size_t why_len)
{
	struct v4l2_requestbuffers req = { .count = n,
					   .type = qtype(e, output),
					   .memory = memory };
	int ret = io(e, VIDIOC_REQBUFS, &req);

	if (ret)
		return step(why, why_len, "VIDIOC_REQBUFS", ret);
	if (req.count < 1 || req.count > M2M_BUFS) {
		snprintf(why, why_len, "the encoder gave %u buffers (1-%d usable)",
			 req.count, M2M_BUFS);
		return -EINVAL;
	}
	*got = req.count;
	return 0;
}

/* 5: OUTPUT imports dmabufs, CAPTURE is mapped; then both stream. */
static int buffers(struct m2m_enc *e, const struct m2m_opts *o, char *why,
		   size_t why_len)
{
	int type, ret = request(e, true, V4L2_MEMORY_DMABUF,
				o->n_raw ? o->n_raw : 4, &e->n_out, why,
				why_len);

	if (!ret)
		ret = request(e, false, V4L2_MEMORY_MMAP,
			      o->n_coded ? o->n_coded : 4, &e->n_cap, why,
			      why_len);
	for (unsigned int i = 0; !ret && i < e->n_cap; i++) {
		struct mbuf m;
		uint32_t len;

		mbuf_init(e, &m, false, V4L2_MEMORY_MMAP, i);
		ret = io(e, VIDIOC_QUERYBUF, &m.b);
		if (ret)
			return step(why, why_len, "VIDIOC_QUERYBUF", ret);
		len = mbuf_len(e, &m);
		if ((e->mplane && m.b.length != 1) || len < 4096 ||
		    len > (64u << 20)) {
			snprintf(why, why_len,
				 "coded buffer %u is %u bytes in %u planes", i,
				 len, e->mplane ? m.b.length : 1);
			return -EINVAL;
		}
		e->cap[i].p = e->ops.mmap(e->ops.arg, len, e->fd,
					  (long)mbuf_offset(e, &m));
		if (!e->cap[i].p)
			return step(why, why_len, "mmap", -ENOMEM);
		e->cap[i].len = len;
		e->cap[i].offset = mbuf_offset(e, &m);
		ret = m2m_coded_done(e, i);
	}
	type = (int)qtype(e, true);
	if (!ret)
		ret = io(e, VIDIOC_STREAMON, &type);
	type = (int)qtype(e, false);
	if (!ret)
		ret = io(e, VIDIOC_STREAMON, &type);
	if (ret && !why[0])
		step(why, why_len, "VIDIOC_STREAMON", ret);
	e->streaming = !ret;
	return ret;
}

/* What a predecessor left: both queues stopped, their buffers freed (a
 * buffer still mapped elsewhere lives on until it is unmapped). Errors
 * are the driver saying there was nothing to stop. */
static void reset(struct m2m_enc *e)
{
	for (int i = 0; i < 2; i++) {
		struct v4l2_requestbuffers req = {
			.type = qtype(e, !i),
			.memory = i ? V4L2_MEMORY_MMAP : V4L2_MEMORY_DMABUF
		};
		int type = (int)req.type;

		io(e, VIDIOC_STREAMOFF, &type);
		io(e, VIDIOC_REQBUFS, &req);
	}
}

int m2m_open(const struct m2m_opts *o, struct m2m_enc **out, char *why,
	     size_t why_len)
{
	struct m2m_enc *e = calloc(1, sizeof(*e));
	int ret;

	*out = NULL;
	if (!e)
		return -ENOMEM;
	e->fd = o->fd;
	e->ops = o->ops ? *o->ops : real_ops;
	why[0] = '\0';
	ret = api(e, why, why_len);
	if (!ret)
		reset(e);
	if (!ret)
		ret = formats(e, o, why, why_len);
	if (!ret)
		ret = controls(e, o, why, why_len);
	if (!ret)
		ret = buffers(e, o, why, why_len);
	if (ret) {
		m2m_close(e);
		return ret;
	}
	*out = e;
	return 0;
}

int m2m_open_best(struct m2m_opts *o, struct m2m_enc **out, char *why,
		  size_t why_len)
{
	int ret;

	o->coded = V4L2_PIX_FMT_H264;
	ret = m2m_open(o, out, why, why_len);
	if (ret == -EINVAL && strstr(why, "does not make H264")) {
		o->coded = V4L2_PIX_FMT_FWHT;
		ret = m2m_open(o, out, why, why_len);
	}
	return ret;
}

void m2m_raw_format(const struct m2m_enc *e, uint32_t *width,
		    uint32_t *height, uint32_t *bytesperline,
		    uint32_t *sizeimage)
{
	uint32_t fc;

	fmt_get(e, &e->out_fmt, &fc, width, height, bytesperline, sizeimage);
}

int m2m_queue_raw(struct m2m_enc *e, int dmabuf, size_t length,
		  size_t bytesused, uint64_t ts_us, unsigned int tag)
{
	struct mbuf m;
	unsigned int i;
	int ret;

	if (e->drained)
		return -EPIPE;
	for (i = 0; i < e->n_out && e->out_queued[i]; i++)
		;
	if (i == e->n_out)
		return -EBUSY;
	mbuf_init(e, &m, true, V4L2_MEMORY_DMABUF, i);
	if (e->mplane) {
		m.b.length = 1;
		m.pl[0].m.fd = dmabuf;
		m.pl[0].bytesused = (uint32_t)bytesused;
		/* (the multi-planar API checks bytesused against it) */
		m.pl[0].length = (uint32_t)length;
	} else {
		m.b.m.fd = dmabuf;
		m.b.bytesused = (uint32_t)bytesused;
	}
	/* (single-planar: vb2 takes the length from the format) */
	m.b.timestamp.tv_sec = (time_t)(ts_us / 1000000);
	m.b.timestamp.tv_usec = (suseconds_t)(ts_us % 1000000);
	ret = io(e, VIDIOC_QBUF, &m.b);
	if (!ret) {
		e->out_queued[i] = true;
		e->tag[i] = tag;
	}
	return ret;
}

int m2m_raw_done(struct m2m_enc *e, unsigned int *tag)
{
	struct mbuf m;
	int ret;

	mbuf_init(e, &m, true, V4L2_MEMORY_DMABUF, 0);
	ret = io(e, VIDIOC_DQBUF, &m.b);
	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return ret;
	if (m.b.index >= e->n_out || !e->out_queued[m.b.index])
		return -EPROTO;
	e->out_queued[m.b.index] = false;
	*tag = e->tag[m.b.index];
	return 1;
}

/*
 * vicodec flags no keyframe on its CAPTURE buffers; its frame header says
 * whether a frame is intra (FWHT_FL_I_FRAME in the big-endian flags after
 * the two magic words, the version, width and height).
 */
static bool fwht_intra(const struct m2m_enc *e, const uint8_t *p, size_t len)
{
	static const uint8_t magic[8] = { 0x4f, 0x4f, 0x4f, 0x4f,
					  0xff, 0xff, 0xff, 0xff };

	if (m2m_coded_format(e) != V4L2_PIX_FMT_FWHT || len < 44 ||
	    memcmp(p, magic, sizeof(magic)))
		return false;
	return p[22] & 0x04; /* bit 10 of the word at 20 */
}

int m2m_coded(struct m2m_enc *e, struct m2m_coded *c)
{
	for (;;) {
		struct mbuf m;
		uint32_t used;
		int ret;

		mbuf_init(e, &m, false, V4L2_MEMORY_MMAP, 0);
		ret = io(e, VIDIOC_DQBUF, &m.b);
		memset(c, 0, sizeof(*c));
		if (ret == -EAGAIN)
			return 0;
		if (ret == -EPIPE)
			return -EPIPE; /* drained: the last came before */
		if (ret)
			return ret;
		used = mbuf_used(e, &m);
		if (m.b.index >= e->n_cap || !e->cap[m.b.index].queued ||
		    used > e->cap[m.b.index].len)
			return -EPROTO;
		e->cap[m.b.index].queued = false;
		if (m.b.flags & V4L2_BUF_FLAG_ERROR) {
			/* damaged: not recorded; the buffer goes back */
			e->errors++;
			ret = m2m_coded_done(e, m.b.index);
			if (ret)
				return ret;
			if (m.b.flags & V4L2_BUF_FLAG_LAST) {
				e->drained = true;
				return -EPIPE;
			}
			continue;
		}
		c->index = m.b.index;
		c->p = e->cap[m.b.index].p;
		c->len = used;
		c->ts_us = (uint64_t)m.b.timestamp.tv_sec * 1000000u +
			   (uint64_t)m.b.timestamp.tv_usec;
		c->key = (m.b.flags & V4L2_BUF_FLAG_KEYFRAME) ||
			 fwht_intra(e, c->p, c->len);
		c->last = m.b.flags & V4L2_BUF_FLAG_LAST;
		e->drained |= c->last;
		return 1;
	}
}

int m2m_coded_done(struct m2m_enc *e, unsigned int index)
{
	struct mbuf m;
	int ret;

	if (index >= e->n_cap || e->cap[index].queued)
		return -EINVAL;
	mbuf_init(e, &m, false, V4L2_MEMORY_MMAP, index);
	if (e->mplane)
		m.b.length = 1;
	ret = io(e, VIDIOC_QBUF, &m.b);
	if (!ret)
		e->cap[index].queued = true;
	return ret;
}

int m2m_pump(struct m2m_enc *e, const struct m2m_reader *rd)
{
	struct m2m_coded cd;
	int ret, out = 0;

	for (unsigned int i = 0; i < e->n_cap; i++)
		if (e->cap[i].read && rd->done(rd->arg, e->cap[i].token)) {
			e->cap[i].read = false;
			ret = m2m_coded_done(e, i);
			if (ret)
				return ret;
		}
	while ((ret = m2m_coded(e, &cd)) == 1) {
		struct m2m_ref r = { .p = cd.p, .len = cd.len,
				     .index = cd.index, .ts_us = cd.ts_us,
				     .key = cd.key, .coded = m2m_coded_format(e),
				     .offset = e->cap[cd.index].offset,
				     .length = (uint32_t)e->cap[cd.index].len };
		uint64_t token;

		ret = cd.len ? rd->take(rd->arg, &r, &token) : 0;
		if (ret < 0)
			return ret;
		if (ret == 1) {
			e->cap[cd.index].read = true;
			e->cap[cd.index].token = token;
			out = 1;
			continue;
		}
		if (cd.len)
			out = out ? out : 2; /* no room: lost */
		ret = m2m_coded_done(e, cd.index);
		if (ret)
			return ret;
	}
	return ret < 0 && ret != -EPIPE ? ret : out;
}

int m2m_force_key(struct m2m_enc *e)
{
	struct v4l2_control c = { .id = V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME,
				  .value = 1 };

	return io(e, VIDIOC_S_CTRL, &c);
}

int m2m_drain(struct m2m_enc *e)
{
	struct v4l2_encoder_cmd cmd = { .cmd = V4L2_ENC_CMD_STOP };

	return io(e, VIDIOC_ENCODER_CMD, &cmd);
}

int m2m_coded_buf(const struct m2m_enc *e, unsigned int index,
		  uint32_t *offset, uint32_t *length)
{
	if (index >= e->n_cap)
		return -EINVAL;
	*offset = e->cap[index].offset;
	*length = (uint32_t)e->cap[index].len;
	return 0;
}

uint32_t m2m_coded_format(const struct m2m_enc *e)
{
	return e->mplane ? e->cap_fmt.fmt.pix_mp.pixelformat :
			   e->cap_fmt.fmt.pix.pixelformat;
}

unsigned int m2m_coded_queued(const struct m2m_enc *e)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < e->n_cap; i++)
		n += e->cap[i].queued;
	return n;
}

unsigned int m2m_raw_queued(const struct m2m_enc *e)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < e->n_out; i++)
		n += e->out_queued[i];
	return n;
}

bool m2m_drained(const struct m2m_enc *e)
{
	return e->drained;
}

uint64_t m2m_errors(const struct m2m_enc *e)
{
	return e->errors;
}

void m2m_close(struct m2m_enc *e)
{
	int type;

	if (!e)
		return;
	if (e->streaming) {
		type = (int)qtype(e, true);
		io(e, VIDIOC_STREAMOFF, &type);
		type = (int)qtype(e, false);
		io(e, VIDIOC_STREAMOFF, &type);
	}
	for (unsigned int i = 0; i < e->n_cap; i++)
		if (e->cap[i].p)
			munmap(e->cap[i].p, e->cap[i].len);
	free(e);
}

/* Formats one queue of an open device lists, in either API. */
static bool lists(int fd, uint32_t type, uint32_t fourcc)
{
	for (uint32_t i = 0; i < 64; i++) {
		struct v4l2_fmtdesc d = { .index = i, .type = type };

		if (ioctl(fd, VIDIOC_ENUM_FMT, &d) < 0)
			return false;
		if (!fourcc || d.pixelformat == fourcc)
			return true;
	}
	return false;
}

int m2m_probe(const char *path, uint32_t coded, uint32_t raw, char *card,
	      size_t card_len)
{
	struct v4l2_capability cap = { 0 };
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC), ret = 0;
	uint32_t caps;
	bool mp;

	if (fd < 0)
		return -errno;
	if (ioctl(fd, VIDIOC_QUERYCAP, &cap) < 0) {
		ret = -errno;
		goto out;
	}
	caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps :
							  cap.capabilities;
	if (!(caps & V4L2_CAP_STREAMING) ||
	    !(caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE))) {
		ret = -ENODEV;
		goto out;
	}
	mp = !(caps & V4L2_CAP_VIDEO_M2M);
	if (!lists(fd, mp ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE :
			    V4L2_BUF_TYPE_VIDEO_CAPTURE, coded) ||
	    !lists(fd, mp ? V4L2_BUF_TYPE_VIDEO_OUTPUT_MPLANE :
			    V4L2_BUF_TYPE_VIDEO_OUTPUT, raw))
		ret = -ENOENT;
	if (card_len)
		snprintf(card, card_len, "%.32s", (const char *)cap.card);
out:
	close(fd);
	return ret;
}

int m2m_find(uint32_t coded, uint32_t raw, char *path, size_t path_len,
	     char *card, size_t card_len)
{
	for (int i = 0; i < 64; i++) {
		char p[32];

		snprintf(p, sizeof(p), "/dev/video%d", i);
		if (!m2m_probe(p, coded, raw, card, card_len)) {
			snprintf(path, path_len, "%s", p);
			return 0;
		}
	}
	return -ENOENT;
}
