// SPDX-License-Identifier: GPL-2.0-only
/*
 * The libcamera shim behind capture/libcam.h. libcamera calls back on its
 * own thread (requestCompleted, disconnected); those callbacks only put
 * the request on a queue under a mutex and bump an eventfd. Everything
 * else (taking a frame, queueing it back) runs on the caller's thread.
 *
 * One CameraManager per process, started on first use and kept: libcamera
 * allows no second one, and starting it enumerates every media device.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/videodev2.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <libcamera/libcamera.h>

#include "capture/libcam.h"

using namespace libcamera;

namespace {

std::unique_ptr<CameraManager> manager;

int manager_up(char *why, size_t why_len)
{
	if (manager)
		return 0;
	/* libcamera tells what it does at INFO, on stderr: moat's own log
	 * says what matters; its warnings and errors stay, and
	 * LIBCAMERA_LOG_LEVELS still rules when set */
	setenv("LIBCAMERA_LOG_LEVELS", "*:WARN", 0);

	auto m = std::make_unique<CameraManager>();
	int ret = m->start();

	if (ret) {
		snprintf(why, why_len, "libcamera's camera manager did not start: %s",
			 strerror(-ret));
		return ret;
	}
	manager = std::move(m);
	return 0;
}

/* libcamera's pixel formats (DRM fourccs) as the V4L2 ones the encoder
 * takes: DRM names packed RGB by its little-endian word, so BGR888 lays
 * out R, G, B in memory (V4L2's RGB24). 0: not one moat takes. */
uint32_t v4l2_of(const PixelFormat &f)
{
	if (f == formats::NV12)
		return V4L2_PIX_FMT_NV12;
	if (f == formats::YUV420)
		return V4L2_PIX_FMT_YUV420;
	if (f == formats::YUYV)
		return V4L2_PIX_FMT_YUYV;
	if (f == formats::BGR888)
		return V4L2_PIX_FMT_RGB24;
	if (f == formats::RGB888)
		return V4L2_PIX_FMT_BGR24;
	return 0;
}

/* Most preferred first: what libx264 takes as it is, then a conversion. */
const PixelFormat preferred[] = { formats::NV12, formats::YUV420,
				  formats::YUYV, formats::BGR888,
				  formats::RGB888 };

std::string model_of(const std::shared_ptr<Camera> &cam)
{
	const ControlList &p = cam->properties();

	if (p.contains(properties::Model.id()))
		return p.get(properties::Model).value_or("");
	return "";
}

} // namespace

struct mapping {
	void *addr;
	size_t len;
};

struct libcam {
	std::shared_ptr<Camera> cam;
	std::unique_ptr<CameraConfiguration> config;
	std::unique_ptr<FrameBufferAllocator> alloc;
	Stream *stream = nullptr;
	std::vector<std::unique_ptr<Request>> requests;
	std::map<const FrameBuffer *, std::vector<const uint8_t *>> planes;
	std::map<const FrameBuffer *, unsigned int> index;
	std::vector<mapping> maps;
	int efd = -1;
	bool acquired = false;
	std::atomic<bool> started{ false }; /* read on libcamera's thread */
	uint32_t fourcc = 0;

	/* shared with libcamera's thread */
	std::mutex lock;
	std::deque<Request *> done;
	bool gone = false;

	unsigned int outstanding = 0;
	uint64_t failed = 0;
	char desc[256] = "";

	void completed(Request *r)
	{
		uint64_t one = 1;

		if (r->status() == Request::RequestCancelled && !started)
			return; /* stop(): nobody takes it */
		{
			std::lock_guard<std::mutex> g(lock);
			done.push_back(r);
		}
		if (write(efd, &one, sizeof(one)) < 0) {
			/* the counter is full: the reader is woken anyway */
		}
	}

	void disconnected()
	{
		uint64_t one = 1;

		{
			std::lock_guard<std::mutex> g(lock);
			gone = true;
		}
		if (write(efd, &one, sizeof(one)) < 0) {
			/* as above */
		}
	}
};

extern "C" int libcam_list(struct libcam_info *out, size_t max, char *why,
			   size_t why_len)
{
	int ret = manager_up(why, why_len);
	size_t n = 0;

	if (ret)
		return ret;
	for (const auto &cam : manager->cameras()) {
		struct libcam_info *i;
		std::vector<StreamRole> roles = { StreamRole::VideoRecording };
		std::unique_ptr<CameraConfiguration> cfg;

		if (n == max)
			break;
		i = &out[n++];
		memset(i, 0, sizeof(*i));
		snprintf(i->id, sizeof(i->id), "%s", cam->id().c_str());
		snprintf(i->model, sizeof(i->model), "%s", model_of(cam).c_str());
		cfg = cam->generateConfiguration(roles);
		if (!cfg || cfg->empty())
			continue;
		const StreamFormats &f = cfg->at(0).formats();

		for (const PixelFormat &pf : f.pixelformats()) {
			unsigned int k = i->n_formats;
			SizeRange r = f.range(pf);

			if (k == LIBCAM_FORMATS)
				break;
			i->fourcc[k] = v4l2_of(pf);
			i->max_w[k] = r.max.width;
			i->max_h[k] = r.max.height;
			snprintf(i->format_name[k], sizeof(i->format_name[k]),
				 "%s", pf.toString().c_str());
			i->n_formats++;
		}
	}
	return (int)n;
}

static void name_cameras(char *why, size_t why_len, const char *id)
{
	std::string ids;

	for (const auto &cam : manager->cameras())
		ids += (ids.empty() ? "" : ", ") + cam->id();
	if (!id || !*id)
		snprintf(why, why_len, "libcamera finds no camera");
	else
		snprintf(why, why_len, "libcamera has no camera %s (it finds: %s)",
			 id, ids.empty() ? "none" : ids.c_str());
}

/* Maps every plane of every buffer once per dmabuf, read only. */
static int map_buffers(struct libcam *c, char *why, size_t why_len)
{
	for (const std::unique_ptr<FrameBuffer> &b : c->alloc->buffers(c->stream)) {
		std::map<int, std::pair<const uint8_t *, size_t>> fds;
		std::vector<const uint8_t *> p;

		for (const FrameBuffer::Plane &pl : b->planes()) {
			int fd = pl.fd.get();
			size_t end = (size_t)pl.offset + pl.length;

			if (fds.count(fd) && fds[fd].second >= end)
				continue;
			fds[fd] = { nullptr, std::max(end, fds[fd].second) };
		}
		for (auto &e : fds) {
			void *a = mmap(nullptr, e.second.second, PROT_READ,
				       MAP_SHARED, e.first, 0);

			if (a == MAP_FAILED) {
				int err = errno;

				snprintf(why, why_len, "cannot map a frame buffer: %s",
					 strerror(err));
				return -err;
			}
			c->maps.push_back({ a, e.second.second });
			e.second.first = (const uint8_t *)a;
		}
		for (const FrameBuffer::Plane &pl : b->planes())
			p.push_back(fds[pl.fd.get()].first + pl.offset);
		c->planes[b.get()] = p;
		c->index[b.get()] = (unsigned int)c->index.size();
	}
	return 0;
}

static int configure(struct libcam *c, const struct libcam_opts *o,
		     char *why, size_t why_len)
{
	std::vector<StreamRole> roles = { StreamRole::VideoRecording };
	StreamConfiguration *sc;
	int ret;

	c->config = c->cam->generateConfiguration(roles);
	if (!c->config || c->config->empty()) {
		snprintf(why, why_len, "%s has no video stream",
			 c->cam->id().c_str());
		return -EINVAL;
	}
	sc = &c->config->at(0);
	for (const PixelFormat &pf : preferred) {
		const std::vector<PixelFormat> &have = sc->formats().pixelformats();

		if (std::find(have.begin(), have.end(), pf) != have.end()) {
			sc->pixelFormat = pf;
			break;
		}
	}
	if (o->width && o->height)
		sc->size = Size(o->width, o->height);
	if (c->config->validate() == CameraConfiguration::Invalid) {
		char size[32] = "at the size its pipeline picks";

		if (o->width && o->height)
			snprintf(size, sizeof(size), "at %ux%u", o->width,
				 o->height);
		snprintf(why, why_len, "%s cannot stream %s %s",
			 c->cam->id().c_str(), sc->pixelFormat.toString().c_str(),
			 size);
		return -EINVAL;
	}
	c->fourcc = v4l2_of(sc->pixelFormat);
	if (!c->fourcc) {
		std::string offered;

		for (const PixelFormat &pf : sc->formats().pixelformats())
			offered += (offered.empty() ? "" : ", ") + pf.toString();
		snprintf(why, why_len,
			 "%s offers no format moat takes (NV12, YUV420, YUYV, BGR888 or RGB888): it offers %s",
			 c->cam->id().c_str(), offered.c_str());
		return -EINVAL;
	}
	ret = c->cam->configure(c->config.get());
	if (ret) {
		snprintf(why, why_len, "%s refused its configuration %s: %s",
			 c->cam->id().c_str(), sc->toString().c_str(),
			 strerror(-ret));
		return ret;
	}
	c->stream = sc->stream();
	return 0;
}

static int make_requests(struct libcam *c, char *why, size_t why_len)
{
	int ret;

	c->alloc = std::make_unique<FrameBufferAllocator>(c->cam);
	ret = c->alloc->allocate(c->stream);
	if (ret < 0) {
		snprintf(why, why_len, "cannot allocate %s's buffers: %s",
			 c->cam->id().c_str(), strerror(-ret));
		return ret;
	}
	ret = map_buffers(c, why, why_len);
	if (ret)
		return ret;
	for (const std::unique_ptr<FrameBuffer> &b : c->alloc->buffers(c->stream)) {
		std::unique_ptr<Request> r = c->cam->createRequest();

		if (!r || r->addBuffer(c->stream, b.get())) {
			snprintf(why, why_len, "cannot make a request for %s",
				 c->cam->id().c_str());
			return -ENOMEM;
		}
		c->requests.push_back(std::move(r));
	}
	return 0;
}

static int start(struct libcam *c, const struct libcam_opts *o, char *why,
		 size_t why_len)
{
	ControlList ctl(controls::controls);
	int ret;

	if (o->fps) {
		int64_t us = 1000000 / o->fps;
		const int64_t lim[2] = { us, us };

		ctl.set(controls::FrameDurationLimits,
			Span<const int64_t, 2>(lim));
	}
	c->cam->requestCompleted.connect(c, &libcam::completed);
	c->cam->disconnected.connect(c, &libcam::disconnected);
	c->started = true;
	ret = c->cam->start(o->fps ? &ctl : nullptr);
	if (ret) {
		c->started = false;
		snprintf(why, why_len, "%s did not start: %s",
			 c->cam->id().c_str(), strerror(-ret));
		return ret;
	}
	for (std::unique_ptr<Request> &r : c->requests) {
		ret = c->cam->queueRequest(r.get());
		if (ret) {
			snprintf(why, why_len, "%s took no request: %s",
				 c->cam->id().c_str(), strerror(-ret));
			return ret;
		}
	}
	return 0;
}

extern "C" int libcam_open(const struct libcam_opts *o, struct libcam **out,
			   char *why, size_t why_len)
{
	struct libcam *c;
	int ret = manager_up(why, why_len);

	*out = nullptr;
	if (ret)
		return ret;
	c = new (std::nothrow) libcam;
	if (!c) {
		snprintf(why, why_len, "out of memory");
		return -ENOMEM;
	}
	if (o->id && *o->id)
		c->cam = manager->get(o->id);
	else if (!manager->cameras().empty())
		c->cam = manager->cameras()[0];
	if (!c->cam) {
		name_cameras(why, why_len, o->id);
		delete c;
		return -ENODEV;
	}
	c->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->efd < 0) {
		ret = -errno;
		snprintf(why, why_len, "eventfd: %s", strerror(errno));
		libcam_close(c);
		return ret;
	}
	ret = c->cam->acquire();
	if (ret) {
		if (ret == -EBUSY)
			snprintf(why, why_len,
				 "%s is in use by another program (rpicam-apps, a second moat camera on it?)",
				 c->cam->id().c_str());
		else
			snprintf(why, why_len, "%s cannot be acquired: %s",
				 c->cam->id().c_str(), strerror(-ret));
		libcam_close(c);
		return ret;
	}
	c->acquired = true;
	ret = configure(c, o, why, why_len);
	if (!ret)
		ret = make_requests(c, why, why_len);
	if (!ret)
		ret = start(c, o, why, why_len);
	if (ret) {
		libcam_close(c);
		return ret < 0 ? ret : -EIO;
	}
	{
		const StreamConfiguration &sc = c->config->at(0);
		std::string model = model_of(c->cam);

		char asked[48] = "";

		/* libcamera rounds a size to what the pipeline makes: say so */
		if (o->width && o->height &&
		    (sc.size.width != o->width || sc.size.height != o->height))
			snprintf(asked, sizeof(asked), " (%ux%u asked)", o->width,
				 o->height);
		snprintf(c->desc, sizeof(c->desc), "%s%s%s: %s %ux%u%s, %zu buffers",
			 model.c_str(), model.empty() ? "" : " ",
			 model.empty() ? c->cam->id().c_str() :
			 ("(" + c->cam->id() + ")").c_str(),
			 sc.pixelFormat.toString().c_str(), sc.size.width,
			 sc.size.height, asked, c->requests.size());
	}
	*out = c;
	return 0;
}

extern "C" int libcam_fd(const struct libcam *c)
{
	return c->efd;
}

extern "C" int libcam_next(struct libcam *c, struct libcam_frame *f)
{
	Request *r = nullptr;
	uint64_t n, one = 1;
	bool more;

	/* the counter first: a completion after this read makes the
	 * descriptor readable again, one before it is in the queue */
	if (read(c->efd, &n, sizeof(n)) < 0) {
		/* EAGAIN: nothing new since the last call */
	}
	{
		std::lock_guard<std::mutex> g(c->lock);

		if (c->gone)
			return -ENODEV;
		if (c->done.empty())
			return 0;
		r = c->done.front();
		c->done.pop_front();
		more = !c->done.empty();
	}
	/* frames still wait: keep the descriptor readable for them */
	if (more && write(c->efd, &one, sizeof(one)) < 0) {
		/* the counter is full: it is readable anyway */
	}
	c->outstanding++;
	memset(f, 0, sizeof(*f));
	f->priv = r;

	FrameBuffer *b = r->findBuffer(c->stream);

	if (r->status() != Request::RequestComplete || !b ||
	    b->metadata().status != FrameMetadata::FrameSuccess) {
		c->failed++;
		libcam_release(c, f);
		return -EIO;
	}

	const FrameMetadata &md = b->metadata();
	const std::vector<const uint8_t *> &p = c->planes[b];
	const StreamConfiguration &sc = c->config->at(0);

	f->n_planes = (unsigned int)std::min<size_t>(p.size(), LIBCAM_PLANES);
	for (unsigned int i = 0; i < f->n_planes; i++) {
		f->plane[i] = p[i];
		f->plane_len[i] = i < md.planes().size() ?
			md.planes()[i].bytesused : b->planes()[i].length;
	}
	f->fourcc = c->fourcc;
	f->width = sc.size.width;
	f->height = sc.size.height;
	f->stride = sc.stride;
	f->ts_ns = md.timestamp;
	f->sequence = md.sequence;
	f->dmabuf = -1;
	f->dmabuf_len = 0;
	f->index = c->index[b];
	{
		/* one dmabuf holding every plane, from its start */
		int fd = b->planes()[0].fd.get();
		size_t end = 0;
		bool one = b->planes()[0].offset == 0;

		for (const FrameBuffer::Plane &pl : b->planes()) {
			one &= pl.fd.get() == fd;
			end = std::max(end, (size_t)pl.offset + pl.length);
		}
		if (one) {
			f->dmabuf = fd;
			f->dmabuf_len = end;
		}
	}
	return 1;
}

extern "C" void libcam_release(struct libcam *c, struct libcam_frame *f)
{
	Request *r = (Request *)f->priv;

	if (!r)
		return;
	f->priv = nullptr;
	c->outstanding--;
	r->reuse(Request::ReuseBuffers);
	if (c->started && c->cam->queueRequest(r)) {
		/* stopping, or the camera is gone: libcam_next says which */
	}
}

extern "C" void libcam_format(const struct libcam *c, uint32_t *fourcc,
			      uint32_t *width, uint32_t *height,
			      uint32_t *stride)
{
	const StreamConfiguration &sc = c->config->at(0);

	*fourcc = c->fourcc;
	*width = sc.size.width;
	*height = sc.size.height;
	*stride = sc.stride;
}

extern "C" unsigned int libcam_buffers(const struct libcam *c)
{
	return (unsigned int)c->index.size();
}

extern "C" const char *libcam_describe(const struct libcam *c)
{
	return c->desc;
}

extern "C" unsigned int libcam_outstanding(const struct libcam *c)
{
	return c->outstanding;
}

extern "C" uint64_t libcam_failed(const struct libcam *c)
{
	return c->failed;
}

extern "C" void libcam_close(struct libcam *c)
{
	if (!c)
		return;
	{
		std::lock_guard<std::mutex> g(c->lock);

		/* libcamera will not stop a camera that is gone, and its
		 * pipeline still holds the requests and buffers: they are
		 * left for the process's exit, which follows */
		if (c->gone)
			return;
	}
	if (c->started) {
		c->started = false;
		c->cam->stop();
	}
	if (c->cam) {
		c->cam->requestCompleted.disconnect(c);
		c->cam->disconnected.disconnect(c);
	}
	c->requests.clear();
	for (const mapping &m : c->maps)
		munmap(m.addr, m.len);
	c->alloc.reset();
	if (c->acquired)
		c->cam->release();
	if (c->efd >= 0)
		close(c->efd);
	delete c;
}
