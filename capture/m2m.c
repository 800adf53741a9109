// SPDX-License-Identifier: GPL-2.0-only
/* A stateful V4L2 memory-to-memory H.264 encoder (see m2m.h). */
#include <errno.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "capture/m2m.h"
#include "capture/v4l2.h"

struct m2m_enc {
	int fd;
	struct m2m_ops ops;
	struct v4l2_format out_fmt, cap_fmt;
	struct {
		uint8_t *p;
		size_t len;
		bool queued;
	} cap[M2M_BUFS];
	bool out_queued[M2M_BUFS];
	unsigned int tag[M2M_BUFS];
	unsigned int n_out, n_cap;
	bool streaming, drained;
	uint64_t errors;
};

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

/* 1, 2: the coded format, then the raw one (which the driver adjusts). */
static int formats(struct m2m_enc *e, const struct m2m_opts *o, char *why,
		   size_t why_len)
{
	struct v4l2_format *c = &e->cap_fmt, *r = &e->out_fmt;
	char want[5], got[5];
	int ret;

	c->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	c->fmt.pix.pixelformat = V4L2_PIX_FMT_H264;
	c->fmt.pix.width = o->width;
	c->fmt.pix.height = o->height;
	/* room for a keyframe: the driver may ask for more, not less */
	c->fmt.pix.sizeimage = o->width * o->height * 3 / 4 + (64 << 10);
	ret = io(e, VIDIOC_S_FMT, c);
	if (ret)
		return step(why, why_len, "VIDIOC_S_FMT (CAPTURE, H264)", ret);
	if (c->fmt.pix.pixelformat != V4L2_PIX_FMT_H264) {
		snprintf(why, why_len, "the encoder does not make H.264");
		return -EINVAL;
	}
	r->type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	r->fmt.pix.pixelformat = o->fourcc;
	r->fmt.pix.width = o->width;
	r->fmt.pix.height = o->height;
	r->fmt.pix.bytesperline = o->bytesperline;
	ret = io(e, VIDIOC_S_FMT, r);
	if (ret)
		return step(why, why_len, "VIDIOC_S_FMT (OUTPUT)", ret);
	if (r->fmt.pix.pixelformat != o->fourcc || r->fmt.pix.width != o->width ||
	    r->fmt.pix.height != o->height) {
		v4l2_fourcc_str(o->fourcc, want);
		v4l2_fourcc_str(r->fmt.pix.pixelformat, got);
		snprintf(why, why_len,
			 "the encoder takes %s %ux%u, not the camera's %s %ux%u",
			 got, r->fmt.pix.width, r->fmt.pix.height, want,
			 o->width, o->height);
		return -EINVAL;
	}
	/* the camera's frames are imported as they are: their layout must
	 * be what the encoder reads */
	if (o->bytesperline && r->fmt.pix.bytesperline != o->bytesperline) {
		snprintf(why, why_len,
			 "the encoder wants lines of %u bytes, the camera gives %u",
			 r->fmt.pix.bytesperline, o->bytesperline);
		return -EINVAL;
	}
	return 0;
}

/* 3, 4: the frame interval (on OUTPUT: the coded rate follows), then the
 * controls. A control the driver lacks is said, and not fatal; bitrate
 * is the exception. */
static int controls(struct m2m_enc *e, const struct m2m_opts *o, char *why,
		    size_t why_len)
{
	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT };
	const struct {
		uint32_t id;
		int32_t value;
		bool must;
	} ctl[] = {
		{ V4L2_CID_MPEG_VIDEO_BITRATE, (int32_t)o->bitrate, true },
		{ V4L2_CID_MPEG_VIDEO_H264_I_PERIOD, (int32_t)o->gop, false },
		{ V4L2_CID_MPEG_VIDEO_H264_PROFILE,
		  V4L2_MPEG_VIDEO_H264_PROFILE_HIGH, false },
		{ V4L2_CID_MPEG_VIDEO_H264_LEVEL,
		  o->width * o->height > 1280 * 720 ?
			  V4L2_MPEG_VIDEO_H264_LEVEL_4_0 :
			  V4L2_MPEG_VIDEO_H264_LEVEL_3_1,
		  false },
		{ V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER, 1, true },
	};
	int ret;

	parm.parm.output.timeperframe.numerator = 1;
	parm.parm.output.timeperframe.denominator = o->fps;
	ret = io(e, VIDIOC_S_PARM, &parm);
	if (ret)
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

static int request(struct m2m_enc *e, uint32_t type, uint32_t memory,
		   unsigned int n, unsigned int *got, char *why, size_t why_len)
{
	struct v4l2_requestbuffers req = { .count = n, .type = type,
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
	int type, ret = request(e, V4L2_BUF_TYPE_VIDEO_OUTPUT,
				V4L2_MEMORY_DMABUF, o->n_raw ? o->n_raw : 4,
				&e->n_out, why, why_len);

	if (!ret)
		ret = request(e, V4L2_BUF_TYPE_VIDEO_CAPTURE, V4L2_MEMORY_MMAP,
			      o->n_coded ? o->n_coded : 4, &e->n_cap, why,
			      why_len);
	for (unsigned int i = 0; !ret && i < e->n_cap; i++) {
		struct v4l2_buffer b = { .index = i,
					 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };

		ret = io(e, VIDIOC_QUERYBUF, &b);
		if (ret)
			return step(why, why_len, "VIDIOC_QUERYBUF", ret);
		if (b.length < 4096 || b.length > (64u << 20)) {
			snprintf(why, why_len, "coded buffer %u is %u bytes", i,
				 b.length);
			return -EINVAL;
		}
		e->cap[i].p = e->ops.mmap(e->ops.arg, b.length, e->fd,
					  (long)b.m.offset);
		if (!e->cap[i].p)
			return step(why, why_len, "mmap", -ENOMEM);
		e->cap[i].len = b.length;
		ret = m2m_coded_done(e, i);
	}
	type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
	if (!ret)
		ret = io(e, VIDIOC_STREAMON, &type);
	type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	if (!ret)
		ret = io(e, VIDIOC_STREAMON, &type);
	if (ret && !why[0])
		step(why, why_len, "VIDIOC_STREAMON", ret);
	e->streaming = !ret;
	return ret;
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

void m2m_raw_format(const struct m2m_enc *e, uint32_t *width,
		    uint32_t *height, uint32_t *bytesperline,
		    uint32_t *sizeimage)
{
	*width = e->out_fmt.fmt.pix.width;
	*height = e->out_fmt.fmt.pix.height;
	*bytesperline = e->out_fmt.fmt.pix.bytesperline;
	*sizeimage = e->out_fmt.fmt.pix.sizeimage;
}

int m2m_queue_raw(struct m2m_enc *e, int dmabuf, size_t bytesused,
		  uint64_t ts_us, unsigned int tag)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				 .memory = V4L2_MEMORY_DMABUF };
	int ret;

	if (e->drained)
		return -EPIPE;
	for (b.index = 0; b.index < e->n_out && e->out_queued[b.index];
	     b.index++)
		;
	if (b.index == e->n_out)
		return -EBUSY;
	b.m.fd = dmabuf;
	b.bytesused = (uint32_t)bytesused;
	b.length = (uint32_t)bytesused;
	b.timestamp.tv_sec = (time_t)(ts_us / 1000000);
	b.timestamp.tv_usec = (suseconds_t)(ts_us % 1000000);
	ret = io(e, VIDIOC_QBUF, &b);
	if (!ret) {
		e->out_queued[b.index] = true;
		e->tag[b.index] = tag;
	}
	return ret;
}

int m2m_raw_done(struct m2m_enc *e, unsigned int *tag)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_OUTPUT,
				 .memory = V4L2_MEMORY_DMABUF };
	int ret = io(e, VIDIOC_DQBUF, &b);

	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return ret;
	if (b.index >= e->n_out || !e->out_queued[b.index])
		return -EPROTO;
	e->out_queued[b.index] = false;
	*tag = e->tag[b.index];
	return 1;
}

int m2m_coded(struct m2m_enc *e, struct m2m_coded *c)
{
	for (;;) {
		struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		int ret = io(e, VIDIOC_DQBUF, &b);

		memset(c, 0, sizeof(*c));
		if (ret == -EAGAIN)
			return 0;
		if (ret == -EPIPE)
			return -EPIPE; /* drained: the last came before */
		if (ret)
			return ret;
		if (b.index >= e->n_cap || !e->cap[b.index].queued ||
		    b.bytesused > e->cap[b.index].len)
			return -EPROTO;
		e->cap[b.index].queued = false;
		if (b.flags & V4L2_BUF_FLAG_ERROR) {
			/* damaged: not recorded; the buffer goes back */
			e->errors++;
			ret = m2m_coded_done(e, b.index);
			if (ret)
				return ret;
			if (b.flags & V4L2_BUF_FLAG_LAST) {
				e->drained = true;
				return -EPIPE;
			}
			continue;
		}
		c->index = b.index;
		c->p = e->cap[b.index].p;
		c->len = b.bytesused;
		c->ts_us = (uint64_t)b.timestamp.tv_sec * 1000000u +
			   (uint64_t)b.timestamp.tv_usec;
		c->key = b.flags & V4L2_BUF_FLAG_KEYFRAME;
		c->last = b.flags & V4L2_BUF_FLAG_LAST;
		e->drained |= c->last;
		return 1;
	}
}

int m2m_coded_done(struct m2m_enc *e, unsigned int index)
{
	struct v4l2_buffer b = { .index = index,
				 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	int ret;

	if (index >= e->n_cap || e->cap[index].queued)
		return -EINVAL;
	ret = io(e, VIDIOC_QBUF, &b);
	if (!ret)
		e->cap[index].queued = true;
	return ret;
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
		type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
		io(e, VIDIOC_STREAMOFF, &type);
		type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
		io(e, VIDIOC_STREAMOFF, &type);
	}
	for (unsigned int i = 0; i < e->n_cap; i++)
		if (e->cap[i].p)
			munmap(e->cap[i].p, e->cap[i].len);
	free(e);
}
