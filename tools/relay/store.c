// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

static void fail(struct store *st, int err, const char *what)
{
	if (!st->failed)
		log_err("store: %s: %s; nothing more is acknowledged", what,
			strerror(-err));
	st->failed = st->failed ? st->failed : err;
}

/* The stream's hub folder, fsynced: the stream file's name is durable. */
static void sync_name(struct store *st, const struct store_stream *s)
{
	char d[300];
	int err;

	store_hub_dir(st, s->hub, d, sizeof(d));
	err = fsync_dir(d);
	if (err)
		fail(st, err, "fsync of a hub folder");
}

static void drop(struct store *st, struct store_stream *s)
{
	if (s->fd >= 0) {
		if (s->dirty && fdatasync(s->fd) < 0)
			fail(st, -errno, "fdatasync of a stream file");
		if (s->created)
			sync_name(st, s);
		close(s->fd);
	}
	s->fd = -1;
	s->dirty = s->created = false;
}

void store_close(struct store *st)
{
	for (size_t i = 0; i < STORE_OPEN_MAX; i++)
		drop(st, &st->s[i]);
}

/*
 * Opens an existing stream file: its next counter is one past its last
 * whole record; a record cut by a crash is cut off.
 */
static int scan(int fd, uint64_t *next, bool *finished)
{
	uint8_t h[REC_HDR_LEN];
	struct rec_hdr rh;
	struct stat sb;
	uint64_t off = 0;

	*next = 0;
	*finished = false;
	if (fstat(fd, &sb) < 0)
		return -errno;
	while (off + REC_HDR_LEN <= (uint64_t)sb.st_size &&
	       pread(fd, h, sizeof(h), (off_t)off) == sizeof(h) &&
	       !rec_parse_hdr(h, sizeof(h), &rh) &&
	       off + REC_HDR_LEN + rh.body_len <= (uint64_t)sb.st_size &&
	       rh.counter == *next) {
		off += REC_HDR_LEN + rh.body_len;
		*next = rh.counter + 1;
		*finished = rh.type == REC_TYPE_FINAL;
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
			st->dir_dirty = true;
			if (!*err)
				return find(st, hub, id, create, err);
		}
		*err = *err ? *err : -errno;
		return NULL;
	}
	drop(st, lru);
	s = lru;
	memcpy(s->hub, hub, 16);
	memcpy(s->id, id, 16);
	s->fd = fd;
	s->used = ++st->clock;
	*err = scan(fd, &s->next, &s->finished);
	if (*err) {
		drop(st, s);
		return NULL;
	}
	s->created = create && !s->next;
	return s;
}

/* The hub's use, scanned from disk the first time the hub is seen. */
static struct store_hub *hub_use(struct store *st, const uint8_t hub[16])
{
	struct store_hub *free_slot = NULL;
	char d[300];
	struct dirent *e;
	DIR *dp;

	for (size_t i = 0; i < STORE_HUBS_MAX; i++) {
		if (st->hubs[i].used && !memcmp(st->hubs[i].hub, hub, 16))
			return &st->hubs[i];
		if (!st->hubs[i].used && !free_slot)
			free_slot = &st->hubs[i];
	}
	if (!free_slot)
		return NULL; /* beyond STORE_HUBS_MAX: no quota kept */
	memcpy(free_slot->hub, hub, 16);
	free_slot->used = true;
	free_slot->bytes = 0;
	store_hub_dir(st, hub, d, sizeof(d));
	dp = opendir(d);
	while (dp && (e = readdir(dp))) {
		struct stat sb;

		if (e->d_name[0] != '.' &&
		    !fstatat(dirfd(dp), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(sb.st_mode))
			free_slot->bytes += (uint64_t)sb.st_size;
	}
	if (dp)
		closedir(dp);
	return free_slot;
}

int store_put(struct store *st, const uint8_t hub[16], const uint8_t *rec,
	      size_t len, enum store_result *res)
{
	struct rec_hdr h;
	struct store_stream *s;
	int err = rec_parse_hdr(rec, len, &h);

	if (err || REC_HDR_LEN + h.body_len != len)
		return -EINVAL;
	if (st->failed)
		return st->failed;
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
	s->finished = h.type == REC_TYPE_FINAL;
	st->stored++;
	if (st->quota) {
		struct store_hub *u = hub_use(st, hub);

		if (u)
			u->bytes += len;
	}
	*res = STORED;
	return 0;
}

int store_sync(struct store *st)
{
	for (size_t i = 0; i < STORE_OPEN_MAX; i++) {
		struct store_stream *s = &st->s[i];

		if (s->fd >= 0 && s->dirty) {
			if (fdatasync(s->fd) < 0)
				fail(st, -errno, "fdatasync of a stream file");
			s->dirty = false;
		}
	}
	/* every hub folder that gained a stream file, each once */
	for (size_t i = 0; i < STORE_OPEN_MAX; i++) {
		struct store_stream *s = &st->s[i];

		if (s->fd < 0 || !s->created)
			continue;
		sync_name(st, s);
		for (size_t j = i; j < STORE_OPEN_MAX; j++)
			if (st->s[j].created && !memcmp(st->s[j].hub, s->hub, 16))
				st->s[j].created = false;
	}
	if (st->dir_dirty) {
		int err = fsync_dir(st->dir);

		if (err)
			fail(st, err, "fsync of the store's folder");
		st->dir_dirty = false;
	}
	return st->failed;
}

struct aged {
	char name[40];
	struct timespec mtime;
	uint64_t size;
};

static int by_age(const void *a, const void *b)
{
	const struct aged *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Is this stream still being written (open, its final record not in)? */
static bool writing(const struct store *st, const uint8_t hub[16],
		    const char *name)
{
	char hex[33];

	for (size_t i = 0; i < STORE_OPEN_MAX; i++) {
		if (st->s[i].fd < 0 || st->s[i].finished ||
		    memcmp(st->s[i].hub, hub, 16))
			continue;
		hex_encode(hex, st->s[i].id, 16);
		if (!strncmp(name, hex, 32))
			return true;
	}
	return false;
}

static void retain_hub(struct store *st, struct store_hub *u)
{
	uint64_t target = st->quota / 10 * 9, freed = 0;
	struct aged *v = NULL;
	size_t n = 0, cap = 0, gone = 0;
	char d[300], hex[33];
	struct dirent *e;
	DIR *dp;

	store_hub_dir(st, u->hub, d, sizeof(d));
	dp = opendir(d);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		struct stat sb;
		size_t l = strlen(e->d_name);

		if (l != 37 || strcmp(e->d_name + 32, ".moat") ||
		    fstatat(dirfd(dp), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(sb.st_mode))
			continue;
		if (n == cap) {
			struct aged *p = realloc(v, (cap ? cap * 2 : 64) * sizeof(*v));

			if (!p)
				break;
			v = p;
			cap = cap ? cap * 2 : 64;
		}
		snprintf(v[n].name, sizeof(v[n].name), "%s", e->d_name);
		v[n].mtime = sb.st_mtim;
		v[n].size = (uint64_t)sb.st_size;
		n++;
	}
	qsort(v, n, sizeof(*v), by_age);
	for (size_t i = 0; i < n && u->bytes > target; i++) {
		if (writing(st, u->hub, v[i].name))
			continue;
		if (unlinkat(dirfd(dp), v[i].name, 0))
			continue;
		u->bytes -= v[i].size < u->bytes ? v[i].size : u->bytes;
		freed += v[i].size;
		gone++;
	}
	if (gone) {
		int err = fsync(dirfd(dp)) ? -errno : 0;

		if (err)
			fail(st, err, "fsync of a hub folder after retention");
		st->retained_streams += gone;
		st->retained_bytes += freed;
		hex_encode(hex, u->hub, 16);
		log_info("retention: hub %s was over its quota of %llu bytes: deleted its %zu oldest stream(s), %llu bytes; it now uses %llu",
			 hex, (unsigned long long)st->quota, gone,
			 (unsigned long long)freed,
			 (unsigned long long)u->bytes);
	}
	closedir(dp);
	free(v);
}

void store_retain(struct store *st)
{
	if (!st->quota)
		return;
	for (size_t i = 0; i < STORE_HUBS_MAX; i++)
		if (st->hubs[i].used && st->hubs[i].bytes > st->quota)
			retain_hub(st, &st->hubs[i]);
}
