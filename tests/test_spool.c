// SPDX-License-Identifier: GPL-2.0-only
/*
 * The spool on its own (daemon/spool.c), with real files: records written
 * where it says, read back in order across segments, acknowledged and
 * forgotten, found again after a reopen (replay), a torn last record cut
 * away, and the quota kept by evicting the oldest segment with the loss
 * counted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/stream.h"
#include "crypto/stream_priv.h"
#include "daemon/spool.h"
#include "tests/lib/check.h"

static char dir[] = "/tmp/moat-spool-XXXXXX";

/* A record-shaped blob: a valid header, then len body bytes of seed. */
static size_t make_rec(uint8_t *buf, uint32_t body, uint8_t seed, uint64_t ctr)
{
	uint8_t id[REC_STREAM_ID_LEN];

	memset(id, seed, sizeof(id));
	rec_put_hdr(buf, ctr ? REC_TYPE_DATA : REC_TYPE_HEADER, body, id, ctr);
	memset(buf + REC_HDR_LEN, seed, body);
	return REC_HDR_LEN + body;
}

static int open_spool(struct spool *sp, uint64_t quota)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	return fd < 0 ? -errno : spool_open(sp, fd, quota);
}

static int put(struct spool *sp, const uint8_t *rec, size_t len, uint64_t *pos)
{
	uint64_t off;
	int fd, ret = spool_alloc(sp, (uint32_t)len, &fd, &off, pos);

	if (!ret && pwrite(fd, rec, len, (off_t)off) != (ssize_t)len)
		ret = -EIO;
	return ret;
}

static int write_file(const char *name, const char *text)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	close(fd);
	return ok ? 0 : -1;
}

static int read_file(const char *name, char *buf, size_t cap)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, cap - 1);
	close(fd);
	buf[n > 0 ? n : 0] = 0;
	return n < 0 ? -1 : (int)n;
}

/* What the uplink's hooks were asked to do (it does it with io_uring). */
static struct {
	int writes, unlinks;
	int fd;
	const void *buf;
	size_t len;
	uint64_t start;
} hook;

static void hook_write(void *arg, int fd, const void *buf, size_t len)
{
	(void)arg;
	hook.writes++;
	hook.fd = fd;
	hook.buf = buf;
	hook.len = len;
}

static void hook_unlink(void *arg, int dirfd, const char *name, uint64_t start)
{
	(void)arg;
	(void)dirfd;
	(void)name;
	hook.unlinks++;
	hook.start = start;
}

/*
 * The acked file: one fixed-size line written over itself in place (no
 * new file, no rename); an earlier moat's line is read; a line whose
 * check fails (torn by a power cut) means the whole spool goes again;
 * with the uplink's hooks, the write and the deletions are handed over
 * and the mark counts as saved only once the write is done.
 */
static void test_acked_file(void)
{
	static uint8_t rec[120000];
	struct spool sp;
	char line[128];
	uint64_t pos[8];
	size_t len;
	int ret;

	snprintf(line, sizeof(line), "rm -f %s/*.seg %s/acked", dir, dir);
	CHECK(system(line) == 0, "spool emptied");
	CHECK(!open_spool(&sp, 1 << 20), "an empty spool");
	CHECK(read_file("acked", line, sizeof(line)) == 0,
	      "its acked file is there, empty");
	for (int i = 0; i < 8; i++) {
		len = make_rec(rec, 100000, (uint8_t)i, (uint64_t)i);
		CHECK(!put(&sp, rec, len, &pos[i]), "record %d", i);
	}
	CHECK(!spool_ack(&sp, pos[3], 0) && !spool_save(&sp), "acknowledged");
	ret = read_file("acked", line, sizeof(line));
	CHECK(ret == SPOOL_ACKED_LEN && !strncmp(line, "moat-spool 2 ", 13),
	      "one line of %d bytes: %s", SPOOL_ACKED_LEN, line);
	CHECK(!spool_ack(&sp, pos[5], 0) && !spool_save(&sp), "acknowledged further");
	CHECK(read_file("acked", line, sizeof(line)) == SPOOL_ACKED_LEN,
	      "written over in place: still one line (%s)", line);
	spool_close(&sp);
	CHECK(!open_spool(&sp, 1 << 20) && sp.acked == pos[5],
	      "the mark survives a reopen");
	spool_close(&sp);

	/* an earlier moat's line */
	snprintf(line, sizeof(line), "moat-spool 1 %llu\n",
		 (unsigned long long)pos[4]);
	CHECK(!write_file("acked", line), "a version-1 acked file");
	CHECK(!open_spool(&sp, 1 << 20) && sp.acked == pos[4],
	      "is read (acked %llu)", (unsigned long long)sp.acked);
	CHECK(!spool_ack(&sp, pos[5], 0) && !spool_save(&sp) &&
		      read_file("acked", line, sizeof(line)) == SPOOL_ACKED_LEN &&
		      !strncmp(line, "moat-spool 2 ", 13),
	      "and replaced by a version-2 line, the old one's tail covered");
	spool_close(&sp);

	/* torn: one digit changed, the check no longer matches */
	CHECK(read_file("acked", line, sizeof(line)) == SPOOL_ACKED_LEN, "read");
	line[13 + 19] = line[13 + 19] == '9' ? '8' : '9';
	CHECK(!write_file("acked", line), "a torn acked line");
	CHECK(!open_spool(&sp, 1 << 20) && sp.acked == 0,
	      "is refused: the whole spool is sent again (acked 0)");
	spool_close(&sp);

	/* the uplink's hooks */
	CHECK(!open_spool(&sp, 1 << 20), "reopened");
	sp.write_acked = hook_write;
	sp.unlink = hook_unlink;
	memset(&hook, 0, sizeof(hook));
	CHECK(!spool_ack(&sp, pos[6], 0) && !spool_save(&sp),
	      "acknowledged with hooks");
	CHECK(hook.unlinks >= 1 && hook.start < sp.segs[0] &&
		      hook.writes == 1 && hook.fd == sp.afd &&
		      hook.len == SPOOL_ACKED_LEN,
	      "the segment deletions (%d) and the write are handed to the hooks",
	      hook.unlinks);
	CHECK(sp.acked_saved != pos[6], "not saved until the write is done");
	CHECK(!spool_ack(&sp, pos[7], 1000000000ULL) && hook.writes == 1,
	      "one write at a time: the next waits");
	CHECK(pwrite(sp.afd, hook.buf, hook.len, 0) == (ssize_t)hook.len,
	      "the write done");
	spool_acked_written(&sp, (long)hook.len);
	CHECK(sp.acked_saved == pos[6] && hook.writes == 2,
	      "saved; the newer mark goes next, at once");
	CHECK(pwrite(sp.afd, hook.buf, hook.len, 0) == (ssize_t)hook.len,
	      "and is done");
	spool_acked_written(&sp, (long)hook.len);
	CHECK(sp.acked_saved == pos[7], "saved");
	spool_unlinked(&sp, hook.start, -EINVAL);
	CHECK(sp.unlink == NULL,
	      "a kernel without UNLINKAT: deletions are done here from then on");
	spool_close(&sp);
	CHECK(!open_spool(&sp, 1 << 20) && sp.acked == pos[7],
	      "the mark survives");
	spool_close(&sp);
}

int main(void)
{
	static uint8_t rec[200000], back[200000];
	uint64_t pos[64], p;
	struct spool sp;
	size_t len = 0;
	long n;
	int i, bad = 0;

	CHECK(mkdtemp(dir) != NULL, "temp folder");
	CHECK(!open_spool(&sp, 16 << 20), "an empty spool opens");
	CHECK(spool_end(&sp) == 0 && spool_unacked(&sp) == 0, "and is empty");
	for (i = 0; i < 40; i++) {
		len = make_rec(rec, 100000 + (uint32_t)i, (uint8_t)i, (uint64_t)i);
		CHECK(!put(&sp, rec, len, &pos[i]), "record %d written", i);
	}
	CHECK(sp.n_segs > 1, "several segments (%zu)", sp.n_segs);
	for (i = 0, p = 0; i < 40; i++) {
		n = spool_read(&sp, &p, back, sizeof(back), UINT64_MAX);
		len = make_rec(rec, 100000 + (uint32_t)i, (uint8_t)i, (uint64_t)i);
		bad += n != (long)len || p != pos[i] || memcmp(back, rec, len);
		p += (uint64_t)n;
	}
	CHECK(!bad, "every record reads back in order, across segments");
	CHECK(spool_next_segment(&sp, pos[0]) == sp.segs[1] &&
		      spool_next_segment(&sp, pos[39]) == spool_end(&sp),
	      "the next segment after a position (where a damaged one is skipped to)");
	CHECK(spool_read(&sp, &p, back, sizeof(back), UINT64_MAX) == 0, "then the end");

	/* Acknowledge half; reopen: the rest is what is left to send. */
	CHECK(!spool_ack(&sp, pos[20], 0) && !spool_save(&sp), "half acknowledged");
	CHECK(spool_unacked(&sp) == spool_end(&sp) - pos[20],
	      "unacknowledged bytes counted");
	spool_close(&sp);
	CHECK(!open_spool(&sp, 16 << 20), "reopened");
	CHECK(sp.acked == pos[20] && spool_end(&sp) == pos[39] + len,
	      "the acknowledged mark and the end survive");
	p = sp.acked;
	n = spool_read(&sp, &p, back, sizeof(back), UINT64_MAX);
	make_rec(rec, 100020, 20, 20);
	CHECK(n > 0 && p == pos[20] && !memcmp(back, rec, (size_t)n),
	      "replay starts at the first unacknowledged record");
	spool_close(&sp);

	/*
	 * moatd opens the spool folder once and every uplink it starts gets
	 * that descriptor: one open file description, one directory offset.
	 * Each open must still find the segments (the first scan once left
	 * the offset at the end, and the next uplink started an empty spool
	 * at the acked mark: test_crash lost records that way).
	 */
	{
		int shared = open(dir, O_RDONLY | O_DIRECTORY);
		uint64_t end0 = 0;

		for (i = 0; i < 3 && shared >= 0; i++) {
			CHECK(!spool_open(&sp, dup(shared), 16 << 20),
			      "open %d through the shared folder descriptor", i);
			if (!i)
				end0 = spool_end(&sp);
			CHECK(sp.n_segs && spool_end(&sp) == end0 &&
				      spool_unacked(&sp) == end0 - pos[20],
			      "open %d finds every segment (%zu, end %llu of %llu)",
			      i, sp.n_segs, (unsigned long long)spool_end(&sp),
			      (unsigned long long)end0);
			spool_close(&sp);
		}
		CHECK(shared >= 0, "the folder opens");
		close(shared);
	}

	/* A write the crash cut short: the tail is cut away on open. */
	{
		char path[128];
		int fd;
		struct stat st;

		CHECK(!open_spool(&sp, 16 << 20), "reopened again");
		snprintf(path, sizeof(path), "%s/%016llx.seg", dir,
			 (unsigned long long)sp.segs[sp.n_segs - 1]);
		spool_close(&sp);
		fd = open(path, O_WRONLY | O_APPEND);
		len = make_rec(rec, 5000, 0x77, 41);
		CHECK(fd >= 0 && write(fd, rec, len / 2) == (ssize_t)(len / 2),
		      "half a record appended, as a crash leaves it");
		close(fd);
		stat(path, &st);
		CHECK(!open_spool(&sp, 16 << 20), "opens after the crash");
		CHECK(spool_end(&sp) == pos[39] + 100039 + REC_HDR_LEN,
		      "the torn record is cut away");
		spool_close(&sp);
	}

	/*
	 * Write-behind: records the relay acknowledged before their write was
	 * due are never written, and leave gaps of zeros where they were
	 * placed (in the middle of a segment, at the end of a finished one,
	 * at the end of the last). A replay from an acked mark older than
	 * the relay's (a crash) steps over them, and so does the repair on
	 * open: the records after a gap are kept.
	 */
	{
		char cmd[128];
		uint64_t off, want_end = 0;
		int fd, wrote = 0;

		snprintf(cmd, sizeof(cmd), "rm -f %s/*.seg %s/acked", dir, dir);
		CHECK(system(cmd) == 0, "spool emptied");
		CHECK(!open_spool(&sp, 16 << 20), "a spool for gaps");
		for (i = 0; i < 45; i++) {
			len = make_rec(rec, 100000 + (uint32_t)i, (uint8_t)(i + 1),
				       (uint64_t)i);
			CHECK(!spool_alloc(&sp, (uint32_t)len, &fd, &off, &pos[i]),
			      "record %d placed", i);
			/* every third, and the last of the first segment and
			 * of the spool, acknowledged in time: not written */
			if (i % 3 == 1 || i == 44 ||
			    (sp.n_segs == 1 && pos[i] + 2 * len > sp.seg_max))
				continue;
			CHECK(pwrite(fd, rec, len, (off_t)off) == (ssize_t)len,
			      "record %d written", i);
			wrote++;
			want_end = pos[i] + len;
		}
		CHECK(sp.n_segs > 1, "gaps across %zu segments", sp.n_segs);
		spool_close(&sp);
		CHECK(!open_spool(&sp, 16 << 20), "reopened with gaps");
		CHECK(spool_end(&sp) == want_end,
		      "the last segment is cut after its last written record, not at its first gap (end %llu, want %llu)",
		      (unsigned long long)spool_end(&sp),
		      (unsigned long long)want_end);
		for (p = 0, bad = 0, i = 0;
		     (n = spool_read(&sp, &p, back, sizeof(back), UINT64_MAX)) > 0;) {
			struct rec_hdr rh;
			int k;

			rec_parse_hdr(back, (size_t)n, &rh);
			k = (int)rh.counter;
			len = make_rec(rec, 100000 + (uint32_t)k, (uint8_t)(k + 1),
				       (uint64_t)k);
			bad += k < 0 || k >= 45 || p != pos[k] ||
			       (size_t)n != len || memcmp(back, rec, len);
			i++;
			p += (uint64_t)n;
		}
		CHECK(n == 0 && !bad && i == wrote,
		      "a replay from the start reads the %d written records in order, over the gaps (%d read, %d wrong, last %ld)",
		      wrote, i, bad, n);
		CHECK(p == spool_end(&sp), "and ends at the end");
		/* the gap before record 2 (record 1's place) ends at record 2;
		 * a limit there (the ring holds it, its write perhaps not
		 * done) stops the step over the gap short of it */
		p = pos[1];
		CHECK(spool_read(&sp, &p, back, sizeof(back), pos[2]) == 0 &&
			      p == pos[2],
		      "stepping over a gap stops at the limit (at %llu, limit %llu)",
		      (unsigned long long)p, (unsigned long long)pos[2]);
		p = pos[1];
		n = spool_read(&sp, &p, back, sizeof(back), pos[3]);
		CHECK(n > 0 && p == pos[2], "and reads what lies before it");
		p = pos[1];
		CHECK(spool_read(&sp, &p, back, sizeof(back), pos[1] + 1) == 0 &&
			      p == pos[1] + 1,
		      "a limit inside the gap: no read, the position at the limit");
		spool_close(&sp);
	}

	/* Quota: 1 MiB; the relay is away; the oldest goes, counted. */
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -f %s/*.seg %s/acked", dir, dir);
		CHECK(system(cmd) == 0, "spool emptied");
		CHECK(!open_spool(&sp, 1 << 20), "a spool with a 1 MiB quota");
		for (i = 0; i < 30; i++) {
			len = make_rec(rec, 100000, (uint8_t)i, (uint64_t)i);
			put(&sp, rec, len, &pos[i]);
		}
		CHECK(spool_bytes(&sp) <= (1 << 20) + (1 << 20) / 8 + len,
		      "the spool stays near its quota (%llu bytes)",
		      (unsigned long long)spool_bytes(&sp));
		CHECK(sp.evictions > 0 && sp.evicted_bytes > 0,
		      "evictions counted (%llu, %llu bytes never acknowledged)",
		      (unsigned long long)sp.evictions,
		      (unsigned long long)sp.evicted_bytes);
		CHECK(sp.evicted_bytes + spool_unacked(&sp) == spool_end(&sp),
		      "every byte is either kept or counted as evicted");
		p = 0;
		n = spool_read(&sp, &p, back, sizeof(back), UINT64_MAX);
		CHECK(n > 0 && p == sp.segs[0] && p > 0,
		      "a replay starts at the oldest record kept");

		/* Records still on their way to disk are never evicted: with
		 * the floor at the next record, the spool grows past its
		 * quota; once the floor moves, spool_trim() evicts. */
		{
			uint64_t floor = spool_end(&sp), ev = sp.evictions;

			sp.evict_floor = floor;
			for (i = 30; i < 50; i++) {
				len = make_rec(rec, 100000, (uint8_t)i,
					       (uint64_t)i);
				put(&sp, rec, len, &pos[i]);
			}
			CHECK(sp.segs[0] <= floor &&
				      spool_end(&sp) - floor >= 20 * 100000 &&
				      spool_bytes(&sp) >= spool_end(&sp) - floor,
			      "nothing from the floor on evicted: %llu bytes kept, oldest at %llu, floor %llu",
			      (unsigned long long)spool_bytes(&sp),
			      (unsigned long long)sp.segs[0],
			      (unsigned long long)floor);
			sp.evict_floor = UINT64_MAX;
			spool_trim(&sp);
			CHECK(sp.evictions > ev &&
				      spool_bytes(&sp) <=
					      (1 << 20) + (1 << 20) / 8 + len,
			      "the floor raised, spool_trim() keeps the quota again (%llu bytes)",
			      (unsigned long long)spool_bytes(&sp));
		}
		spool_close(&sp);
	}
	test_acked_file();
	snprintf((char *)back, sizeof(back), "rm -rf %s", dir);
	CHECK(system((char *)back) == 0, "cleaned up");
	return test_done("test_spool");
}
