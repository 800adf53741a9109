// SPDX-License-Identifier: GPL-2.0-only
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "crypto/stream.h"
#include "daemon/spool.h"

static void seg_name(uint64_t start, char name[32])
{
	snprintf(name, 32, "%016" PRIx64 ".seg", start);
}

static int seg_parse(const char *name, uint64_t *start)
{
	char *end;

	if (strlen(name) != 20 || strcmp(name + 16, ".seg"))
		return -1;
	*start = strtoull(name, &end, 16);
	return end == name + 16 ? 0 : -1;
}

static int open_seg(struct spool *sp, uint64_t start, int flags)
{
	char name[32];
	int fd;

	seg_name(start, name);
	fd = openat(sp->dirfd, name, flags | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

static int add_seg(struct spool *sp, uint64_t start)
{
	if (sp->n_segs == sp->cap_segs) {
		size_t cap = sp->cap_segs ? sp->cap_segs * 2 : 64;
		uint64_t *p = realloc(sp->segs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		sp->segs = p;
		sp->cap_segs = cap;
	}
	sp->segs[sp->n_segs++] = start;
	return 0;
}

/* Drops the oldest segment file; returns its start. */
static uint64_t drop_first(struct spool *sp)
{
	uint64_t start = sp->segs[0];
	char name[32];

	seg_name(start, name);
	if (sp->unlink)
		sp->unlink(sp->flush_arg, sp->dirfd, name, start);
	else
		unlinkat(sp->dirfd, name, 0);
	if (sp->rfd >= 0 && sp->rseg == start) {
		close(sp->rfd);
		sp->rfd = -1;
	}
	memmove(sp->segs, sp->segs + 1, --sp->n_segs * sizeof(*sp->segs));
	return start;
}

/*
 * The acked file: one line, "moat-spool 2 <position> <check>\n", the
 * position in 20 digits and a check of it in 8 hex digits, always
 * SPOOL_ACKED_LEN bytes, written over itself in place: one small write,
 * where a new file renamed over the old one took 3-6 ms of the uplink's
 * loop on ext4 (which flushes a file renamed over another). A line the
 * check refuses (a write torn by a power cut) means the whole spool is
 * sent again: the relay drops what it has. Version 1 (an earlier moat,
 * "moat-spool 1 <position>", shorter) is read too.
 */
static uint32_t acked_check(uint64_t pos)
{
	uint32_t h = 2166136261u; /* FNV-1a over the position's bytes */

	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(pos >> (8 * i));
		h *= 16777619u;
	}
	return h;
}

static int acked_line(char *buf, size_t cap, uint64_t pos)
{
	return snprintf(buf, cap, "moat-spool 2 %020" PRIu64 " %08" PRIx32 "\n",
			pos, acked_check(pos));
}

static bool acked_parse(const char *buf, uint64_t *pos)
{
	uint32_t check;
	char nl;

	if (sscanf(buf, "moat-spool 2 %20" SCNu64 " %8" SCNx32 "%c", pos,
		   &check, &nl) == 3)
		return nl == '\n' && check == acked_check(*pos);
	return sscanf(buf, "moat-spool 1 %" SCNu64, pos) == 1;
}

static int load_acked(struct spool *sp)
{
	char buf[64] = { 0 };
	ssize_t n;

	sp->acked = sp->acked_saved = 0;
	sp->afd = openat(sp->dirfd, "acked", O_RDWR | O_CREAT | O_CLOEXEC,
			 0600);
	if (sp->afd < 0)
		return -errno;
	n = pread(sp->afd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return -errno;
	if (n && !acked_parse(buf, &sp->acked)) {
		log_warn("spool: the acked file does not parse; replaying the whole spool");
		sp->acked = 0;
	}
	sp->acked_saved = sp->acked;
	return 0;
}

int spool_save(struct spool *sp)
{
	int len;

	if (sp->acked == sp->acked_saved || sp->a_busy || sp->afd < 0)
		return 0;
	len = acked_line(sp->abuf, sizeof(sp->abuf), sp->acked);
	sp->a_writing = sp->acked;
	/* No fsync: a stale or lost mark after a power cut only makes the
	 * uplink send again what the relay already has (it drops those). */
	if (sp->write_acked) {
		sp->a_busy = true;
		sp->write_acked(sp->flush_arg, sp->afd, sp->abuf, (size_t)len);
		return 0;
	}
	if (pwrite(sp->afd, sp->abuf, (size_t)len, 0) != len)
		return -EIO;
	sp->acked_saved = sp->a_writing;
	return 0;
}

void spool_acked_written(struct spool *sp, long res)
{
	sp->a_busy = false;
	if (res != SPOOL_ACKED_LEN) {
		/* tried again at the next acknowledgement */
		log_warn("spool: writing the acked file: %s",
			 res < 0 ? strerror((int)-res) : "short write");
		return;
	}
	sp->acked_saved = sp->a_writing;
	/* acknowledged further meanwhile: that goes too */
	spool_save(sp);
}

void spool_unlinked(struct spool *sp, uint64_t start, int res)
{
	char name[32];

	if (!res || res == -ENOENT)
		return;
	/* A kernel without IORING_OP_UNLINKAT: here, from now on. */
	seg_name(start, name);
	if (res == -EINVAL || res == -EOPNOTSUPP || res == -EACCES) {
		sp->unlink = NULL;
		if (!unlinkat(sp->dirfd, name, 0))
			return;
		res = -errno;
	}
	log_warn("spool: deleting %s: %s", name, strerror(-res));
}

/*
 * A gap: the bytes of records the relay acknowledged before their write
 * to the spool was due, never written (docs/SPOOL.md). They read as zeros,
 * and a record starts with its version, never 0: the record after a gap
 * at off starts at the first byte that is not zero. Returns its offset,
 * size if the gap runs to the end of the file, or -errno.
 */
static int64_t after_gap(int fd, uint64_t off, uint64_t size)
{
	uint8_t b[4096];

	while (off < size) {
		off_t d = lseek(fd, (off_t)off, SEEK_DATA);
		ssize_t n;

		if (d < 0 && errno == ENXIO)
			return (int64_t)size; /* holes to the end */
		/* past a hole the file system keeps (one that cannot say
		 * where its holes are is read through) */
		if (d >= 0 && (uint64_t)d > off)
			off = (uint64_t)d;
		if (off >= size)
			return (int64_t)size;
		n = pread(fd, b,
			  size - off < sizeof(b) ? (size_t)(size - off) : sizeof(b),
			  (off_t)off);
		if (n < 0)
			return -errno;
		if (!n)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (b[i])
				return (int64_t)(off + (uint64_t)i);
		off += (uint64_t)n;
	}
	return (int64_t)size;
}

/*
 * Opens the last segment for writing, cut after its last whole record.
 * Gaps (above) are stepped over: what follows one is kept.
 */
static int repair_last(struct spool *sp)
{
	uint64_t start = sp->segs[sp->n_segs - 1], off = 0;
	uint8_t h[REC_HDR_LEN];
	struct rec_hdr rh;
	struct stat st;
	int fd = open_seg(sp, start, O_RDWR);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -errno;
	}
	for (uint64_t at = 0; at + REC_HDR_LEN <= (uint64_t)st.st_size;) {
		if (pread(fd, h, sizeof(h), (off_t)at) != sizeof(h))
			break;
		if (!h[0]) {
			int64_t next = after_gap(fd, at, (uint64_t)st.st_size);

			if (next < 0) {
				close(fd);
				return (int)next;
			}
			at = (uint64_t)next;
			continue;
		}
		if (rec_parse_hdr(h, sizeof(h), &rh) ||
		    at + REC_HDR_LEN + rh.body_len > (uint64_t)st.st_size)
			break;
		at += REC_HDR_LEN + rh.body_len;
		off = at;
	}
	if (off != (uint64_t)st.st_size) {
		log_warn("spool: segment %016" PRIx64 " cut at %" PRIu64
			 " of %lld bytes (a write the stop interrupted)",
			 start, off, (long long)st.st_size);
		if (ftruncate(fd, (off_t)off) < 0) {
			close(fd);
			return -errno;
		}
	}
	sp->wfd = fd;
	sp->end = start + off;
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int scan(struct spool *sp)
{
	struct dirent *e;
	/*
	 * A description of its own, not dup(): a dup shares the directory
	 * offset with the descriptor moatd hands every uplink it starts, so
	 * the second uplink would read on from where the first one's scan
	 * ended, find no segment, and start an empty one at the acked
	 * position; every unacknowledged record would be lost to the relay.
	 */
	int dfd = openat(sp->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;
	DIR *d;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while (!ret && (e = readdir(d))) {
		uint64_t start;

		if (!seg_parse(e->d_name, &start))
			ret = add_seg(sp, start);
	}
	closedir(d);
	if (sp->n_segs)
		qsort(sp->segs, sp->n_segs, sizeof(*sp->segs), cmp_u64);
	return ret;
}

int spool_open(struct spool *sp, int dirfd, uint64_t quota)
{
	int ret;

	memset(sp, 0, sizeof(*sp));
	sp->dirfd = dirfd;
	sp->quota = quota;
	/* Segments small enough that the quota is kept to within an eighth. */
	sp->seg_max = quota && quota / 8 < SPOOL_SEG_MAX ? quota / 8 :
							     SPOOL_SEG_MAX;
	if (sp->seg_max < SPOOL_SEG_MIN)
		sp->seg_max = SPOOL_SEG_MIN;
	sp->wfd = sp->rfd = sp->afd = -1;
	sp->evict_floor = UINT64_MAX;
	ret = load_acked(sp);
	if (!ret)
		ret = scan(sp);
	if (ret)
		return ret;
	/* Segments wholly acknowledged are done with. */
	while (sp->n_segs > 1 && sp->segs[1] <= sp->acked)
		drop_first(sp);
	if (sp->n_segs)
		ret = repair_last(sp);
	if (!ret && sp->n_segs == 1 && sp->end <= sp->acked) {
		drop_first(sp);
		close(sp->wfd);
		sp->wfd = -1;
	}
	if (ret || sp->n_segs)
		return ret;
	/* Empty: carry on from the acknowledged position. */
	ret = open_seg(sp, sp->acked, O_RDWR | O_CREAT | O_TRUNC);
	if (ret < 0)
		return ret;
	sp->wfd = ret;
	sp->end = sp->acked;
	return add_seg(sp, sp->acked);
}

void spool_close(struct spool *sp)
{
	/* here and now: nobody waits for a ring any more */
	sp->write_acked = NULL;
	sp->unlink = NULL;
	sp->a_busy = false;
	spool_save(sp);
	if (sp->afd >= 0)
		close(sp->afd);
	if (sp->wfd >= 0) {
		fdatasync(sp->wfd);
		close(sp->wfd);
	}
	if (sp->rfd >= 0)
		close(sp->rfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	free(sp->segs);
	sp->segs = NULL;
	sp->wfd = sp->rfd = sp->dirfd = sp->afd = -1;
}

uint64_t spool_unacked(const struct spool *sp)
{
	uint64_t from = sp->n_segs && sp->segs[0] > sp->acked ? sp->segs[0] :
								sp->acked;

	return sp->end > from ? sp->end - from : 0;
}

/* Oldest segment out, to keep the quota: an alert when it was unsent. */
static void evict(struct spool *sp)
{
	uint64_t start = drop_first(sp), next = sp->segs[0];
	uint64_t from = sp->acked > start ? sp->acked : start;

	if (sp->acked < next) {
		uint64_t lost = next - from;

		sp->acked = next;
		sp->evicted_bytes += lost;
		sp->evictions++;
		log_err("ALERT spool: quota of %" PRIu64 " bytes reached: %" PRIu64
			" unacknowledged bytes evicted (the relay has been out of reach too long)",
			sp->quota, lost);
	}
}

int spool_alloc(struct spool *sp, uint32_t len, int *fd, uint64_t *off,
		uint64_t *pos)
{
	uint64_t start = sp->segs[sp->n_segs - 1];

	if (sp->end > start && sp->end - start + len > sp->seg_max) {
		int nfd, ret;

		nfd = open_seg(sp, sp->end, O_RDWR | O_CREAT | O_TRUNC);
		if (nfd < 0)
			return nfd;
		ret = add_seg(sp, sp->end);
		if (ret) {
			close(nfd);
			return ret;
		}
		/*
		 * The finished segment: its queued writes go first, then it
		 * is made durable after the last of them and closed (the
		 * uplink does that in the background); the new file's name
		 * is made durable with the folder.
		 */
		if (sp->flush)
			sp->flush(sp->flush_arg);
		if (sp->sync) {
			sp->sync(sp->flush_arg, sp->wfd);
		} else {
			fdatasync(sp->wfd);
			close(sp->wfd);
		}
		if (sp->sync_dir)
			sp->sync_dir(sp->flush_arg, sp->dirfd);
		else
			fsync(sp->dirfd);
		sp->wfd = nfd;
		start = sp->end;
	}
	*fd = sp->wfd;
	*off = sp->end - start;
	*pos = sp->end;
	sp->end += len;
	spool_trim(sp);
	return 0;
}

void spool_trim(struct spool *sp)
{
	while (sp->quota && spool_bytes(sp) > sp->quota && sp->n_segs > 1 &&
	       sp->segs[1] <= sp->evict_floor)
		evict(sp);
}

long spool_read(struct spool *sp, uint64_t *pos, uint8_t *buf, size_t cap,
		uint64_t limit)
{
	struct rec_hdr rh;
	uint64_t start;
	size_t i;
	ssize_t n;

again:
	if (!sp->n_segs || *pos >= sp->end || *pos >= limit)
		return 0;
	if (*pos < sp->segs[0])
		*pos = sp->segs[0];
	for (i = sp->n_segs - 1; i > 0 && sp->segs[i] > *pos; i--)
		;
	start = sp->segs[i];
	if (sp->rfd < 0 || sp->rseg != start) {
		if (sp->rfd >= 0)
			close(sp->rfd);
		sp->rfd = open_seg(sp, start, O_RDONLY);
		sp->rseg = start;
		if (sp->rfd < 0) {
			int ret = sp->rfd;

			sp->rfd = -1;
			return ret;
		}
	}
	n = pread(sp->rfd, buf, REC_HDR_LEN, (off_t)(*pos - start));
	if (n < 0)
		return -errno;
	if (!n || !buf[0]) {
		/* A gap (records acknowledged before they were written: an
		 * acked mark older than the relay's, after a crash), or the
		 * unwritten end of a segment: on to what follows. */
		struct stat st;
		int64_t next;

		if (fstat(sp->rfd, &st) < 0)
			return -errno;
		next = after_gap(sp->rfd, *pos - start, (uint64_t)st.st_size);
		if (next < 0)
			return (long)next;
		if ((uint64_t)next < (uint64_t)st.st_size)
			*pos = start + (uint64_t)next;
		else
			*pos = i + 1 < sp->n_segs ? sp->segs[i + 1] : sp->end;
		if (*pos > limit)
			*pos = limit;
		goto again;
	}
	if (n != REC_HDR_LEN || rec_parse_hdr(buf, (size_t)n, &rh))
		return -EIO;
	if (REC_HDR_LEN + (size_t)rh.body_len > cap)
		return -EMSGSIZE;
	n = pread(sp->rfd, buf + REC_HDR_LEN, rh.body_len,
		  (off_t)(*pos - start + REC_HDR_LEN));
	if (n != (ssize_t)rh.body_len)
		return n < 0 ? -errno : -EIO;
	return REC_HDR_LEN + (long)rh.body_len;
}

uint64_t spool_next_segment(const struct spool *sp, uint64_t pos)
{
	for (size_t i = 0; i < sp->n_segs; i++)
		if (sp->segs[i] > pos)
			return sp->segs[i];
	return sp->end;
}

int spool_ack(struct spool *sp, uint64_t pos, uint64_t now_ns)
{
	bool freed = false;

	if (pos <= sp->acked)
		return 0;
	sp->acked = pos;
	while (sp->n_segs > 1 && sp->segs[1] <= pos) {
		drop_first(sp);
		freed = true;
	}
	if (freed || now_ns - sp->saved_ns > 250000000ULL) {
		sp->saved_ns = now_ns;
		return spool_save(sp);
	}
	return 0;
}
