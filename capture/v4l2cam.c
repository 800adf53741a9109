// SPDX-License-Identifier: GPL-2.0-only
/* A local V4L2 camera as a capture worker runs it (see v4l2cam.h). */
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture/mjpeg.h"
#include "capture/v4l2.h"
#include "capture/v4l2cam.h"

enum { UD_POLL = 1, UD_POLL_ENC = 2 };

struct v4l2cam {
	int fd;
	struct v4l2_info info;
	struct v4l2_stream s;
	struct swenc *enc;	/* libx264, or NULL */
	struct mjpeg *jpeg;	/* an MJPEG camera's decoder, or NULL */
	struct m2m_enc *m2m;	/* a V4L2 encoder, or NULL */
	int m2m_fd;
	struct io_uring ring;
	bool ring_ok, armed, armed_enc;
	char desc[320], encoder[40];
	uint64_t copies;
	int64_t mono_to_real; /* us: the driver's clock to the Unix epoch's */
};

/* Formats in the order they are preferred: the camera's own H.264, then
 * what libx264 takes without conversion, then YUYV, then MJPEG (decoded
 * first: the most work, and lossy twice). */
static const uint32_t preferred[] = { V4L2_PIX_FMT_H264, V4L2_PIX_FMT_NV12,
				      V4L2_PIX_FMT_YUYV, V4L2_PIX_FMT_MJPEG };

static int pick_format(struct v4l2cam *c, const struct v4l2cam_opts *o,
		       uint32_t *fourcc, char *why, size_t why_len)
{
	char list[160] = "", fc[5];

	for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++)
		if ((!o->fourcc || o->fourcc == preferred[i]) &&
		    v4l2_find(&c->info, preferred[i])) {
			*fourcc = preferred[i];
			return 0;
		}
	for (unsigned int i = 0; i < c->info.n_fmts && strlen(list) < 140; i++) {
		v4l2_fourcc_str(c->info.fmts[i].fourcc, fc);
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
			 i ? " " : "", fc);
	}
	if (o->fourcc) {
		v4l2_fourcc_str(o->fourcc, fc);
		snprintf(why, why_len, "%s (%s) does not offer %s; it offers %s",
			 o->dev, c->info.card, fc, list);
	} else {
		snprintf(why, why_len,
			 "%s (%s) offers none of H264, NV12, YUYV, MJPEG (it offers %s)",
			 o->dev, c->info.card, list);
	}
	return -EINVAL;
}

const char *v4l2cam_plan(const struct v4l2_info *info, uint32_t *fourcc)
{
	static const char *const how[] = { "its own H.264, passed through",
					    "NV12 into libx264",
					    "YUYV, converted to NV12, into libx264",
					    "MJPEG, decoded, into libx264" };

	*fourcc = 0;
	if (info->m2m)
		return "a memory-to-memory device (an encoder): not used yet";
	if (!info->capture || !info->streaming || info->mplane)
		return "not a single-plane streaming capture device: not used";
	for (size_t i = 0; i < sizeof(preferred) / sizeof(preferred[0]); i++)
		if (v4l2_find(info, preferred[i])) {
			*fourcc = preferred[i];
			return how[i];
		}
	return "none of H264, NV12, YUYV or MJPEG: not usable";
}

/* The size asked for, or the largest the format lists up to 1080p. */
static void pick_size(const struct v4l2_format_info *fi,
		      const struct v4l2cam_opts *o, uint32_t *w, uint32_t *h)
{
	*w = o->width;
	*h = o->height;
	if (*w)
		return;
	*w = 1280;
	*h = 720;
	for (unsigned int i = 0, best = 0; i < fi->n_sizes; i++) {
		const struct v4l2_size *sz = &fi->sizes[i];
		uint32_t px = sz->width * sz->height;

		if (sz->width <= 1920 && sz->height <= 1080 && px > best) {
			best = px;
			*w = sz->width;
			*h = sz->height;
		}
	}
}

static int64_t clock_offset(void)
{
	struct timespec m, r;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_REALTIME, &r);
	return ((int64_t)r.tv_sec - (int64_t)m.tv_sec) * 1000000 +
	       ((int64_t)r.tv_nsec - (int64_t)m.tv_nsec) / 1000;
}

/* The V4L2 encoder for the stream just started: H.264, or FWHT when the
 * device makes nothing else (vicodec: named in the config only). */
static int open_m2m(struct v4l2cam *c, const struct v4l2cam_opts *o,
		    uint32_t fps, char *why, size_t why_len)
{
	struct m2m_opts mo = { .fd = o->m2m_fd, .fourcc = c->s.fourcc,
			       .width = c->s.width, .height = c->s.height,
			       .bytesperline = c->s.bytesperline,
			       .sizeimage = c->s.sizeimage, .fps = fps,
			       .bitrate = o->bitrate ? o->bitrate : 4000000,
			       .gop = fps, .n_raw = c->s.n_bufs,
			       .n_coded = M2M_BUFS };
	int ret = m2m_open_best(&mo, &c->m2m, why, why_len);

	if (!ret)
		c->m2m_fd = o->m2m_fd;
	return ret;
}

static int start(struct v4l2cam *c, const struct v4l2cam_opts *o, char *why,
		 size_t why_len)
{
	struct v4l2_request rq = { .fps = o->fps ? o->fps : 30, .n_bufs = 4 };
	const struct v4l2_format_info *fi;
	char fc[5], enc_why[200] = "", coded[5];
	int ret = pick_format(c, o, &rq.fourcc, why, why_len);

	if (ret)
		return ret;
	fi = v4l2_find(&c->info, rq.fourcc);
	pick_size(fi, o, &rq.width, &rq.height);
	/* the encoder imports the camera's buffers by dmabuf (raw ones: a
	 * decoded JPEG is not in a camera buffer) */
	rq.export = o->m2m_fd >= 0 && rq.fourcc != V4L2_PIX_FMT_H264 &&
		    rq.fourcc != V4L2_PIX_FMT_MJPEG;
	ret = v4l2_start(&c->s, c->fd, &rq, why, why_len);
	if (ret)
		return ret;
	v4l2_fourcc_str(c->s.fourcc, fc);
	if (rq.export) {
		ret = open_m2m(c, o, rq.fps, enc_why, sizeof(enc_why));
		if (ret && o->m2m_must) {
			snprintf(why, why_len, "the encoder: %s", enc_why);
			return ret;
		}
	}
	if (c->m2m) {
		v4l2_fourcc_str(m2m_coded_format(c->m2m), coded);
		snprintf(c->encoder, sizeof(c->encoder),
			 "the V4L2 encoder (%s)", coded);
		snprintf(c->desc, sizeof(c->desc), "%s: %s %ux%u at %u fps, %s",
			 c->info.card, fc, c->s.width, c->s.height, rq.fps,
			 c->encoder);
		return 0;
	}
	if (c->s.fourcc != V4L2_PIX_FMT_H264) {
		struct swenc_opts eo = { .fourcc = c->s.fourcc,
					 .width = c->s.width,
					 .height = c->s.height,
					 .bytesperline = c->s.bytesperline,
					 .fps = rq.fps,
					 .bitrate = o->bitrate ? o->bitrate :
								 4000000,
					 .gop = rq.fps };

		ret = swenc_open(&eo, &c->enc, why, why_len);
		if (!ret && c->s.fourcc == V4L2_PIX_FMT_MJPEG)
			ret = mjpeg_open(c->s.width, c->s.height, &c->jpeg, why,
					 why_len);
		if (ret)
			return ret;
	}
	snprintf(c->encoder, sizeof(c->encoder), "%s",
		 c->jpeg ? "MJPEG decoded, libx264" :
		 c->enc	 ? "libx264" :
			   "the camera's own H.264");
	snprintf(c->desc, sizeof(c->desc), "%s: %s %ux%u at %u fps, %s%s%.100s%s",
		 c->info.card, fc, c->s.width, c->s.height, rq.fps, c->encoder,
		 enc_why[0] ? " (the V4L2 encoder refused: " : "", enc_why,
		 enc_why[0] ? ")" : "");
	return 0;
}

int v4l2cam_open(const struct v4l2cam_opts *o, struct v4l2cam **out,
		 char *why, size_t why_len)
{
	struct v4l2cam *c = calloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->m2m_fd = -1;
	c->fd = open(o->dev, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (c->fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s: %s%s", o->dev, strerror(errno),
			 errno == ENOENT ? " (unplugged? it is opened again when it returns)" :
					   "");
		free(c);
		return ret;
	}
	ret = v4l2_query(c->fd, &c->info);
	if (!ret && (!c->info.capture || !c->info.streaming || c->info.m2m ||
		     c->info.mplane)) {
		snprintf(why, why_len,
			 "%s (%s) is not a single-plane streaming capture device",
			 o->dev, c->info.card);
		ret = -EINVAL;
	}
	if (!ret)
		ret = start(c, o, why, why_len);
	if (!ret)
		ret = io_uring_queue_init(8, &c->ring, 0);
	c->ring_ok = !ret;
	if (ret) {
		if (!why[0])
			snprintf(why, why_len, "%s: %s", o->dev, strerror(-ret));
		v4l2cam_close(c);
		return ret;
	}
	c->mono_to_real = clock_offset();
	*out = c;
	return 0;
}

int v4l2cam_fd(const struct v4l2cam *c)
{
	return c->ring.ring_fd;
}

int v4l2cam_dev_fd(const struct v4l2cam *c)
{
	return c->fd;
}

/* One multishot poll on the device (and one on the encoder, for a coded
 * buffer or a raw one given back): a completion each time, without arming
 * it again. */
static void arm(struct v4l2cam *c)
{
	struct io_uring_cqe *cqe;
	bool submit = false;

	while (io_uring_peek_cqe(&c->ring, &cqe) == 0) {
		/* a poll that ended (no F_MORE) must be armed again */
		if (!(cqe->flags & IORING_CQE_F_MORE)) {
			if (cqe->user_data == UD_POLL_ENC)
				c->armed_enc = false;
			else
				c->armed = false;
		}
		io_uring_cqe_seen(&c->ring, cqe);
	}
	if (!c->armed) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

		io_uring_prep_poll_multishot(sqe, c->fd, POLLIN);
		io_uring_sqe_set_data64(sqe, UD_POLL);
		c->armed = submit = true;
	}
	/* an m2m device with nothing queued on either side says POLLERR at
	 * once, which ends the poll: armed again at every pass, it would
	 * spin the loop until the next camera frame */
	if (c->m2m && !c->armed_enc &&
	    m2m_coded_queued(c->m2m) + m2m_raw_queued(c->m2m) > 0) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&c->ring);

		io_uring_prep_poll_multishot(sqe, c->m2m_fd, POLLIN | POLLOUT);
		io_uring_sqe_set_data64(sqe, UD_POLL_ENC);
		c->armed_enc = submit = true;
	}
	if (submit)
		io_uring_submit(&c->ring);
}

/* The camera's own H.264: one copy into the sink's memory. */
static int pass_through(struct v4l2cam *c, const struct v4l2_frame *f,
			const struct swenc_sink *sink, uint64_t ts)
{
	uint8_t *p = sink->reserve(sink->arg, f->len, 0);

	if (!p)
		return 2;
	memcpy(p, f->p, f->len);
	c->copies++;
	/* a UVC H.264 keyframe carries its parameter sets */
	return sink->commit(sink->arg, f->len, f->key, ts) ? -EIO : 1;
}

/*
 * Through the V4L2 encoder: coded buffers the reader is done with go back
 * to the encoder, raw ones the encoder is done with go back to the camera,
 * a new frame goes in, and what came out goes to the reader in place.
 */
static int next_m2m(struct v4l2cam *c, const struct m2m_reader *refs,
		    bool key)
{
	struct v4l2_frame f;
	unsigned int tag;
	int ret, out = 0;

	while ((ret = m2m_raw_done(c->m2m, &tag)) == 1)
		if (v4l2_requeue(&c->s, tag))
			return -ENODEV;
	if (ret < 0)
		return ret;
	ret = v4l2_dequeue(&c->s, &f);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		uint64_t ts = (uint64_t)((int64_t)f.ts_us + c->mono_to_real);

		/* a driver without the control starts GOPs on its own */
		if (key)
			m2m_force_key(c->m2m);
		ret = f.error || !f.len ? -EAGAIN :
		      m2m_queue_raw(c->m2m, c->s.bufs[f.index].dmabuf,
				    c->s.bufs[f.index].len, f.len, ts, f.index);
		if (ret) {
			/* damaged, or the encoder is full: the frame is lost
			 * and its buffer goes straight back */
			if (v4l2_requeue(&c->s, f.index))
				return -ENODEV;
			if (ret != -EAGAIN && ret != -EBUSY)
				return ret;
			out = 2;
		}
	}
	ret = m2m_pump(c->m2m, refs);
	return ret < 0 ? ret : ret ? ret : out;
}

/* An MJPEG frame: decoded (its bytes copied once, padded, for the
 * decoder), then encoded. One that does not decode is lost, counted. */
static int decode_jpeg(struct v4l2cam *c, const struct v4l2_frame *f,
		       const struct swenc_sink *sink, uint64_t ts, bool key)
{
	struct swenc_planar pic;
	char why[128];
	int ret = mjpeg_decode(c->jpeg, f->p, f->len, &pic, why, sizeof(why));

	c->copies++;
	if (ret == -EPROTO)
		return 3;
	return ret ? ret : swenc_frame_planar(c->enc, &pic, ts, key, sink);
}

int v4l2cam_next(struct v4l2cam *c, const struct swenc_sink *sink,
		 const struct m2m_reader *refs, bool key)
{
	struct v4l2_frame f;
	uint64_t ts;
	int ret;

	arm(c);
	if (c->m2m)
		return next_m2m(c, refs, key);
	ret = v4l2_dequeue(&c->s, &f);
	if (ret <= 0)
		return ret;
	ts = (uint64_t)((int64_t)f.ts_us + c->mono_to_real);
	if (f.error || !f.len)
		ret = 2; /* a damaged frame is not recorded */
	else if (c->jpeg)
		ret = decode_jpeg(c, &f, sink, ts, key);
	else if (c->enc)
		ret = swenc_frame(c->enc, f.p, f.len, ts, key, sink);
	else
		ret = pass_through(c, &f, sink, ts);
	if (ret == 0)
		ret = 2; /* the encoder had no room */
	/* back to the camera at once: the frame is encoded or copied */
	if (v4l2_requeue(&c->s, f.index) && ret >= 0)
		ret = -ENODEV;
	return ret;
}

const char *v4l2cam_encoder(const struct v4l2cam *c)
{
	return c->encoder;
}

const char *v4l2cam_describe(const struct v4l2cam *c)
{
	return c->desc;
}

int v4l2cam_drain(struct v4l2cam *c, const struct m2m_reader *refs, int ms)
{
	int ret;

	if (!c->m2m)
		return 0;
	ret = m2m_drain(c->m2m);
	for (int t = 0; !ret && t < ms / 10 && !m2m_drained(c->m2m); t++) {
		struct pollfd p = { .fd = c->m2m_fd, .events = POLLIN };

		ret = m2m_pump(c->m2m, refs);
		ret = ret < 0 ? ret : 0;
		if (!m2m_drained(c->m2m))
			poll(&p, 1, 10);
	}
	return ret;
}

int v4l2cam_m2m_fd(const struct v4l2cam *c)
{
	return c->m2m ? c->m2m_fd : -1;
}

uint64_t v4l2cam_copies(const struct v4l2cam *c)
{
	return c->copies;
}

uint64_t v4l2cam_converted(const struct v4l2cam *c)
{
	return c->enc ? swenc_converted(c->enc) : 0;
}

void v4l2cam_close(struct v4l2cam *c)
{
	if (!c)
		return;
	swenc_close(c->enc);
	mjpeg_close(c->jpeg);
	m2m_close(c->m2m); /* (the device is its opener's to close) */
	v4l2_stop(&c->s);
	if (c->ring_ok)
		io_uring_queue_exit(&c->ring);
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}
