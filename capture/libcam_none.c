// SPDX-License-Identifier: GPL-2.0-only
/*
 * capture/libcam.h where moat is built without libcamera (no
 * libcamera-dev, or the arm64 cross build): every camera it would open is
 * refused saying so. A program built with libcamera links
 * capture/libcam.cpp's object ahead of libmoat.a, and this one is never
 * taken from the archive.
 */
#include <errno.h>
#include <stdio.h>

#include "capture/libcam.h"

static const char none[] =
	"this moat was built without libcamera (install libcamera-dev and build it again)";

int libcam_list(struct libcam_info *out, size_t max, char *why,
		size_t why_len)
{
	(void)out;
	(void)max;
	snprintf(why, why_len, "%s", none);
	return -ENOSYS;
}

int libcam_open(const struct libcam_opts *o, struct libcam **out, char *why,
		size_t why_len)
{
	(void)o;
	*out = NULL;
	snprintf(why, why_len, "%s", none);
	return -ENOSYS;
}

int libcam_fd(const struct libcam *c)
{
	(void)c;
	return -1;
}

int libcam_next(struct libcam *c, struct libcam_frame *f)
{
	(void)c;
	(void)f;
	return -ENODEV;
}

void libcam_release(struct libcam *c, struct libcam_frame *f)
{
	(void)c;
	(void)f;
}

void libcam_format(const struct libcam *c, uint32_t *fourcc, uint32_t *width,
		   uint32_t *height, uint32_t *stride)
{
	(void)c;
	*fourcc = *width = *height = *stride = 0;
}

const char *libcam_describe(const struct libcam *c)
{
	(void)c;
	return "";
}

unsigned int libcam_outstanding(const struct libcam *c)
{
	(void)c;
	return 0;
}

uint64_t libcam_failed(const struct libcam *c)
{
	(void)c;
	return 0;
}

void libcam_close(struct libcam *c)
{
	(void)c;
}

unsigned int libcam_buffers(const struct libcam *c)
{
	(void)c;
	return 0;
}
