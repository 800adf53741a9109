// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "capture/annexb.h"
#include "capture/filecam.h"
#include "common/err.h"
#include "common/log.h"

struct filecam {
	struct cap_source src;
	struct filecam_opts o;
	const uint8_t *map;
	size_t len;
	struct annexb ab;
	uint64_t index;
	uint64_t t0;
	bool started;
};

/* The next access unit, starting over at the end when looping. */
static int filecam_au(struct filecam *fc, struct annexb_au *au)
{
	int ret = annexb_next_au(&fc->ab, au);

	if (ret == 0 && fc->o.loop) {
		annexb_init(&fc->ab, fc->map, fc->len);
		ret = annexb_next_au(&fc->ab, au);
	}
	if (ret == 0)
		return -ENODATA;
	return ret < 0 ? ret : 0;
}

static int filecam_next(struct cap_source *s, uint64_t now_us,
			struct cap_frame *f, uint64_t *due_us)
{
	struct filecam *fc = (struct filecam *)s;
	struct annexb_au au;
	uint64_t due;
	int ret;

	if (!fc->started) {
		fc->t0 = now_us;
		fc->started = true;
	}
	due = fc->t0 + fc->index * 1000000 / fc->o.fps;
	if (fc->o.realtime && now_us < due) {
		*due_us = due;
		return 0;
	}
	ret = filecam_au(fc, &au);
	if (ret)
		return ret;
	*f = (struct cap_frame){ .p = au.p,
				 .len = au.len,
				 .ts_us = due,
				 .index = fc->index,
				 .key = au.key,
				 .config = au.config };
	fc->index++;
	return 1;
}

static int filecam_fd(const struct cap_source *s)
{
	return -1;
}

static void filecam_close(struct cap_source *s)
{
	struct filecam *fc = (struct filecam *)s;

	if (fc->map)
		munmap((void *)fc->map, fc->len);
	free(fc);
}

static const struct cap_source_ops filecam_ops = {
	.kind = "file",
	.next = filecam_next,
	.fd = filecam_fd,
	.close = filecam_close,
};

/* Maps the file read-only; frames point into this mapping. */
static int filecam_map(struct filecam *fc, const char *path)
{
	struct stat st;
	void *p;
	int fd, ret = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0)
		ret = -errno;
	else if (!S_ISREG(st.st_mode) || st.st_size == 0)
		ret = -MOAT_E_MALFORMED;
	else if (st.st_size > FILECAM_MAX_BYTES)
		ret = -EFBIG;
	if (!ret) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd,
			 0);
		if (p == MAP_FAILED)
			ret = -errno;
		else
			fc->map = p, fc->len = (size_t)st.st_size;
	}
	close(fd);
	return ret;
}

int filecam_open(const char *path, const struct filecam_opts *o,
		 struct cap_source **out)
{
	struct filecam *fc;
	struct annexb_au au;
	int ret;

	*out = NULL;
	if (o->fps < 1 || o->fps > 240)
		return -EINVAL;
	fc = calloc(1, sizeof(*fc));
	if (!fc)
		return -ENOMEM;
	fc->src.ops = &filecam_ops;
	fc->o = *o;
	ret = filecam_map(fc, path);
	if (!ret) {
		annexb_init(&fc->ab, fc->map, fc->len);
		ret = annexb_next_au(&fc->ab, &au) == 1 ? 0 : -MOAT_E_MALFORMED;
		annexb_init(&fc->ab, fc->map, fc->len);
	}
	if (ret) {
		if (ret == -MOAT_E_MALFORMED)
			log_err("file camera %s: not an Annex-B H.264 stream (it must start with a 00 00 01 start code; ffmpeg writes one with -f h264)",
				path);
		else
			log_err("file camera %s: %s", path, moat_strerror(ret));
		filecam_close(&fc->src);
		return ret;
	}
	*out = &fc->src;
	return 0;
}
