// SPDX-License-Identifier: GPL-2.0-only
/* V4L2 capture devices (see v4l2.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/v4l2.h"

static int xioctl(int fd, unsigned long req, void *arg)
{
	int r;

	do
		r = ioctl(fd, req, arg);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : 0;
}

void v4l2_fourcc_str(uint32_t f, char out[5])
{
	for (int i = 0; i < 4; i++) {
		char c = (char)((f >> (8 * i)) & 0xff);

		out[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	out[4] = '\0';
}

/* A string the driver filled: bounded and printable. */
static void copy_str(char *dst, size_t len, const uint8_t *src, size_t src_len)
{
	size_t i;

	for (i = 0; i + 1 < len && i < src_len && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? (char)src[i] : '?';
	dst[i] = '\0';
}

static uint32_t best_fps(int fd, uint32_t fourcc, uint32_t w, uint32_t h)
{
	uint32_t best = 0;

	for (uint32_t i = 0; i < 64; i++) {
		struct v4l2_frmivalenum fi = { .index = i,
					       .pixel_format = fourcc,
					       .width = w,
					       .height = h };

		if (xioctl(fd, VIDIOC_ENUM_FRAMEINTERVALS, &fi))
			break;
		if (fi.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
			if (fi.discrete.numerator &&
			    fi.discrete.denominator / fi.discrete.numerator > best)
				best = fi.discrete.denominator /
				       fi.discrete.numerator;
		} else {
			/* continuous or stepwise: the shortest interval */
			if (fi.stepwise.min.numerator)
				best = fi.stepwise.min.denominator /
				       fi.stepwise.min.numerator;
			break;
		}
	}
	return best;
}

static void sizes(int fd, struct v4l2_format_info *fi)
{
	for (uint32_t i = 0; i < V4L2_CAM_SIZES; i++) {
		struct v4l2_frmsizeenum fs = { .index = i,
					       .pixel_format = fi->fourcc };
		struct v4l2_size *sz = &fi->sizes[fi->n_sizes];

		if (xioctl(fd, VIDIOC_ENUM_FRAMESIZES, &fs))
			break;
		if (fs.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
			sz->width = fs.discrete.width;
			sz->height = fs.discrete.height;
		} else {
			sz->width = fs.stepwise.max_width;
			sz->height = fs.stepwise.max_height;
			fi->stepwise = true;
		}
		sz->fps_max = best_fps(fd, fi->fourcc, sz->width, sz->height);
		fi->n_sizes++;
		if (fi->stepwise)
			break;
	}
}

int v4l2_query(int fd, struct v4l2_info *info)
{
	struct v4l2_capability cap = { 0 };
	int ret = xioctl(fd, VIDIOC_QUERYCAP, &cap);
	uint32_t type;

	memset(info, 0, sizeof(*info));
	if (ret)
		return ret;
	copy_str(info->driver, sizeof(info->driver), cap.driver,
		 sizeof(cap.driver));
	copy_str(info->card, sizeof(info->card), cap.card, sizeof(cap.card));
	copy_str(info->bus, sizeof(info->bus), cap.bus_info,
		 sizeof(cap.bus_info));
	info->caps = cap.capabilities & V4L2_CAP_DEVICE_CAPS ? cap.device_caps :
							       cap.capabilities;
	info->capture = info->caps & (V4L2_CAP_VIDEO_CAPTURE |
				      V4L2_CAP_VIDEO_CAPTURE_MPLANE);
	info->mplane = !(info->caps & V4L2_CAP_VIDEO_CAPTURE) &&
		       (info->caps & V4L2_CAP_VIDEO_CAPTURE_MPLANE);
	info->m2m = info->caps & (V4L2_CAP_VIDEO_M2M | V4L2_CAP_VIDEO_M2M_MPLANE);
	info->streaming = info->caps & V4L2_CAP_STREAMING;
	if (!info->capture || info->m2m)
		return 0; /* an encoder, an output: formats are its own */
	type = info->mplane ? V4L2_BUF_TYPE_VIDEO_CAPTURE_MPLANE :
			      V4L2_BUF_TYPE_VIDEO_CAPTURE;
	for (uint32_t i = 0; i < V4L2_CAM_FORMATS; i++) {
		struct v4l2_fmtdesc fd_ = { .index = i, .type = type };
		struct v4l2_format_info *fi = &info->fmts[info->n_fmts];

		if (xioctl(fd, VIDIOC_ENUM_FMT, &fd_))
			break;
		fi->fourcc = fd_.pixelformat;
		fi->compressed = fd_.flags & V4L2_FMT_FLAG_COMPRESSED;
		copy_str(fi->desc, sizeof(fi->desc), fd_.description,
			 sizeof(fd_.description));
		sizes(fd, fi);
		info->n_fmts++;
	}
	return 0;
}

const struct v4l2_format_info *v4l2_find(const struct v4l2_info *info,
					 uint32_t fourcc)
{
	for (unsigned int i = 0; i < info->n_fmts; i++)
		if (info->fmts[i].fourcc == fourcc)
			return &info->fmts[i];
	return NULL;
}

static int say(char *why, size_t len, const char *step, int err)
{
	snprintf(why, len, "%s: %s", step, strerror(-err));
	return err;
}

static int set_format(struct v4l2_stream *s, const struct v4l2_request *rq,
		      char *why, size_t why_len)
{
	struct v4l2_format f = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	struct v4l2_streamparm parm = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE };
	char want[5], got[5];
	int ret;

	f.fmt.pix.pixelformat = rq->fourcc;
	f.fmt.pix.width = rq->width;
	f.fmt.pix.height = rq->height;
	f.fmt.pix.field = V4L2_FIELD_NONE;
	ret = xioctl(s->fd, VIDIOC_S_FMT, &f);
	if (ret)
		return say(why, why_len, "VIDIOC_S_FMT", ret);
	if (f.fmt.pix.pixelformat != rq->fourcc) {
		v4l2_fourcc_str(rq->fourcc, want);
		v4l2_fourcc_str(f.fmt.pix.pixelformat, got);
		snprintf(why, why_len,
			 "the device gives %s, not the %s asked for", got, want);
		return -EINVAL;
	}
	/* a driver's word, checked: a frame must fit its size image */
	if (!f.fmt.pix.width || !f.fmt.pix.height ||
	    f.fmt.pix.width > 8192 || f.fmt.pix.height > 8192 ||
	    f.fmt.pix.sizeimage < f.fmt.pix.width || f.fmt.pix.sizeimage > (64u << 20)) {
		snprintf(why, why_len, "the device's format is out of bounds (%ux%u, %u bytes)",
			 f.fmt.pix.width, f.fmt.pix.height, f.fmt.pix.sizeimage);
		return -EINVAL;
	}
	s->fourcc = f.fmt.pix.pixelformat;
	s->width = f.fmt.pix.width;
	s->height = f.fmt.pix.height;
	s->bytesperline = f.fmt.pix.bytesperline;
	s->sizeimage = f.fmt.pix.sizeimage;
	if (rq->fps) {
		parm.parm.capture.timeperframe.numerator = 1;
		parm.parm.capture.timeperframe.denominator = rq->fps;
		/* not every driver sets a rate: it keeps its own then */
		if (xioctl(s->fd, VIDIOC_S_PARM, &parm) == 0) {
			s->fps_num = parm.parm.capture.timeperframe.denominator;
			s->fps_den = parm.parm.capture.timeperframe.numerator;
		}
	}
	return 0;
}

static int map_buffers(struct v4l2_stream *s, const struct v4l2_request *rq,
		       char *why, size_t why_len)
{
	struct v4l2_requestbuffers req = { .count = rq->n_bufs,
					   .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					   .memory = V4L2_MEMORY_MMAP };
	int ret = xioctl(s->fd, VIDIOC_REQBUFS, &req);

	if (ret)
		return say(why, why_len, "VIDIOC_REQBUFS", ret);
	if (req.count < 2 || req.count > V4L2_CAM_BUFS) {
		snprintf(why, why_len, "the device gave %u buffers (2-%d usable)",
			 req.count, V4L2_CAM_BUFS);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < req.count; i++) {
		struct v4l2_buffer b = { .index = i,
					 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					 .memory = V4L2_MEMORY_MMAP };
		struct v4l2_buf *vb = &s->bufs[i];

		vb->dmabuf = -1;
		ret = xioctl(s->fd, VIDIOC_QUERYBUF, &b);
		if (ret)
			return say(why, why_len, "VIDIOC_QUERYBUF", ret);
		if (b.length < s->sizeimage || b.length > (64u << 20)) {
			snprintf(why, why_len, "buffer %u is %u bytes, the image %u",
				 i, b.length, s->sizeimage);
			return -EINVAL;
		}
		/* read-only: what the camera wrote is only ever read */
		vb->p = mmap(NULL, b.length, PROT_READ, MAP_SHARED, s->fd,
			     b.m.offset);
		if (vb->p == MAP_FAILED) {
			vb->p = NULL;
			return say(why, why_len, "mmap", -errno);
		}
		vb->len = b.length;
		s->n_bufs++;
		if (rq->export) {
			struct v4l2_exportbuffer e = {
				.type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				.index = i,
				.flags = O_RDONLY | O_CLOEXEC,
			};

			ret = xioctl(s->fd, VIDIOC_EXPBUF, &e);
			if (ret)
				return say(why, why_len, "VIDIOC_EXPBUF", ret);
			vb->dmabuf = e.fd;
		}
	}
	return 0;
}

int v4l2_start(struct v4l2_stream *s, int fd, const struct v4l2_request *rq,
	       char *why, size_t why_len)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE, ret;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	ret = set_format(s, rq, why, why_len);
	if (!ret)
		ret = map_buffers(s, rq, why, why_len);
	for (unsigned int i = 0; !ret && i < s->n_bufs; i++)
		ret = v4l2_requeue(s, i);
	if (!ret) {
		ret = xioctl(fd, VIDIOC_STREAMON, &type);
		if (ret)
			say(why, why_len, "VIDIOC_STREAMON", ret);
	}
	if (ret) {
		v4l2_stop(s);
		return ret;
	}
	s->streaming = true;
	return 0;
}

int v4l2_dequeue(struct v4l2_stream *s, struct v4l2_frame *f)
{
	struct v4l2_buffer b = { .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	int ret = xioctl(s->fd, VIDIOC_DQBUF, &b);

	memset(f, 0, sizeof(*f));
	if (ret == -EAGAIN)
		return 0;
	if (ret)
		return ret;
	if (b.index >= s->n_bufs || !s->bufs[b.index].queued ||
	    b.bytesused > s->bufs[b.index].len)
		return -EPROTO; /* a driver that lies about its buffers */
	s->bufs[b.index].queued = false;
	f->index = b.index;
	f->p = s->bufs[b.index].p;
	f->len = b.bytesused;
	f->ts_us = (uint64_t)b.timestamp.tv_sec * 1000000u +
		   (uint64_t)b.timestamp.tv_usec;
	f->sequence = b.sequence;
	f->key = b.flags & V4L2_BUF_FLAG_KEYFRAME;
	f->error = b.flags & V4L2_BUF_FLAG_ERROR;
	return 1;
}

int v4l2_requeue(struct v4l2_stream *s, unsigned int index)
{
	struct v4l2_buffer b = { .index = index,
				 .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
				 .memory = V4L2_MEMORY_MMAP };
	int ret;

	if (index >= s->n_bufs || s->bufs[index].queued)
		return -EINVAL;
	ret = xioctl(s->fd, VIDIOC_QBUF, &b);
	if (!ret)
		s->bufs[index].queued = true;
	return ret;
}

unsigned int v4l2_queued(const struct v4l2_stream *s)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < s->n_bufs; i++)
		n += s->bufs[i].queued;
	return n;
}

void v4l2_stop(struct v4l2_stream *s)
{
	int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
	struct v4l2_requestbuffers req = { .count = 0,
					   .type = V4L2_BUF_TYPE_VIDEO_CAPTURE,
					   .memory = V4L2_MEMORY_MMAP };

	if (s->streaming)
		xioctl(s->fd, VIDIOC_STREAMOFF, &type);
	s->streaming = false;
	for (unsigned int i = 0; i < s->n_bufs; i++) {
		if (s->bufs[i].p)
			munmap(s->bufs[i].p, s->bufs[i].len);
		if (s->bufs[i].dmabuf >= 0)
			close(s->bufs[i].dmabuf);
		s->bufs[i] = (struct v4l2_buf){ .dmabuf = -1 };
	}
	/* frees the driver's buffers (fails harmlessly if it is gone) */
	if (s->n_bufs)
		xioctl(s->fd, VIDIOC_REQBUFS, &req);
	s->n_bufs = 0;
}
