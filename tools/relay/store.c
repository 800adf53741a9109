// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/rd.h"
#include "crypto/stream.h"
#include "tools/relay/store.h"

int store_init(struct store *st, const char *dir)
{
	memset(st, 0, sizeof(*st));
	if (strlen(dir) >= sizeof(st->dir) - 80)
		return -ENAMETOOLONG;
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	for (size_t i = 0; i < STORE_OPEN_MAX; i++)
		st->s[i].fd = -1;
	return mkdir_p(dir, 0700);
}

void store_hub_dir(const struct store *st, const uint8_t hub[16], char *out,
		   size_t len)
{
	char hex[33];

	hex_encode(hex, hub, 16);
	snprintf(out, len, "%s/%s", st->dir, hex);
}

static void stream_path(const struct store *st, const uint8_t hub[16],
			const uint8_t id[16], char *out, size_t len)
{
	char d[300], hex[33];

	store_hub_dir(st, hub, d, sizeof(d));
	hex_encode(hex, id, 16);
	snprintf(out, len, "%s/%s.moat", d, hex);
}

static void drop(struct store_stream *s)
{
	if (s->fd >= 0) {
		if (s->dirty)
			fdatasync(s->fd);
		close(s->fd);
	}
	s->fd = -1;
	s->dirty = false;
}

void store_close(struct store *st)
{
	for (size_t i = 0; i < STORE_OPEN_MAX; i++)
		drop(&st->s[i]);
}

/*
 * Opens an existing stream file: its next counter is one past its last
 * whole record; a record cut by a crash is cut off.
 */
static int scan(int fd, uint64_t *next)
{
	uint8_t h[REC_HDR_LEN];
	struct rec_hdr rh;
	struct stat sb;
	uint64_t off = 0;

	*next = 0;
	if (fstat(fd, &sb) < 0)
		return -errno;
	while (off + REC_HDR_LEN <= (uint64_t)sb.st_size &&
	       pread(fd, h, sizeof(h), (off_t)off) == sizeof(h) &&
	       !rec_parse_hdr(h, sizeof(h), &rh) &&
	       off + REC_HDR_LEN + rh.body_len <= (uint64_t)sb.st_size &&
	       rh.counter == *next) {
		off += REC_HDR_LEN + rh.body_len;
		*next = rh.counter + 1;
	}
	if (off != (uint64_t)sb.st_size && ftruncate(fd, (off_t)off) < 0)
		return -errno;
	return 0;
}

static struct store_stream *find(struct store *st, const uint8_t hub[16],
				 const uint8_t id[16], bool create, int *err)
{
	struct store_stream *s, *lru = &st->s[0];
	char path[512];
	int fd;

	*err = 0;
	for (size_t i = 0; i < STORE_OPEN_MAX; i++) {
		s = &st->s[i];
		if (s->fd >= 0 && !memcmp(s->id, id, 16) &&
		    !memcmp(s->hub, hub, 16)) {
			s->used = ++st->clock;
			return s;
		}
		if (s->fd < 0 || (lru->fd >= 0 && s->used < lru->used))
			lru = s;
	}
	stream_path(st, hub, id, path, sizeof(path));
	fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0),
		  0600);
	if (fd < 0) {
		if (errno == ENOENT && !create)
			return NULL;
		if (errno == ENOENT) {
			char d[300];

			store_hub_dir(st, hub, d, sizeof(d));
			*err = mkdir_p(d, 0700);
			if (!*err)
				return find(st, hub, id, create, err);
		}
		*err = *err ? *err : -errno;
		return NULL;
	}
	drop(lru);
	s = lru;
	memcpy(s->hub, hub, 16);
	memcpy(s->id, id, 16);
	s->fd = fd;
	s->used = ++st->clock;
	*err = scan(fd, &s->next);
	if (*err) {
		drop(s);
		return NULL;
	}
	if (create && !s->next) {
		st->dir_dirty = true;
		hex_encode(st->dirty_hub, hub, 16);
	}
	return s;
}

int store_put(struct store *st, const uint8_t hub[16], const uint8_t *rec,
	      size_t len, enum store_result *res)
{
	struct rec_hdr h;
	struct store_stream *s;
	int err = rec_parse_hdr(rec, len, &h);

	if (err || REC_HDR_LEN + h.body_len != len)
		return -EINVAL;
	s = find(st, hub, h.stream_id, h.counter == 0, &err);
	if (!s) {
		if (err)
			return err;
		*res = GAP; /* a record of a stream whose header never came */
		st->gaps++;
		return 0;
	}
	if (h.counter < s->next) {
		*res = DUPLICATE;
		st->duplicates++;
		return 0;
	}
	if (h.counter > s->next) {
		*res = GAP;
		st->gaps++;
		return 0;
	}
	{
		const uint8_t *p = rec;
		size_t left = len;

		while (left) {
			ssize_t n = write(s->fd, p, left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				return -errno;
			p += n;
			left -= (size_t)n;
		}
	}
	s->next++;
	s->dirty = true;
	st->stored++;
	*res = STORED;
	return 0;
}

int store_sync(struct store *st)
{
	int ret = 0;

	for (size_t i = 0; i < STORE_OPEN_MAX; i++) {
		struct store_stream *s = &st->s[i];

		if (s->fd >= 0 && s->dirty) {
			if (fdatasync(s->fd) < 0)
				ret = -errno;
			s->dirty = false;
		}
	}
	if (st->dir_dirty) {
		char d[300];

		snprintf(d, sizeof(d), "%s/%s", st->dir, st->dirty_hub);
		fsync_dir(d);
		fsync_dir(st->dir);
		st->dir_dirty = false;
	}
	return ret;
}
