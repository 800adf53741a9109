// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shared-memory rings between two processes: every record arrives once, in
 * order, intact, across thousands of wrap-arounds; a record that straddles
 * the end of the ring is contiguous; the kernel refuses the consumer any
 * write to the data (mmap, mprotect and a store all fail); the memfd cannot
 * be resized; a hostile producer or consumer is detected, never followed
 * out of bounds.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ring.h"
#include "tests/lib/check.h"

enum { CAP = 64 << 10, N_STREAM = 20000 };

static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void fill(uint8_t *p, uint32_t len, uint32_t i)
{
	uint32_t k;

	for (k = 0; k < len; k++)
		p[k] = (uint8_t)(i * 31 + k);
}

static bool same(const uint8_t *p, uint32_t len, uint32_t i)
{
	uint32_t k;

	for (k = 0; k < len; k++)
		if (p[k] != (uint8_t)(i * 31 + k))
			return false;
	return true;
}

/* Maps both sides in this process; the consumer through a read-only fd. */
static int open_pair(struct ring_fds *fds, struct ring *prod, struct ring *cons)
{
	struct ring_fds ro;
	int ret;

	ret = ring_create(CAP, fds);
	if (ret)
		return ret;
	ro.data = ring_fd_readonly(fds->data);
	ro.cons = fds->cons;
	ret = ring_map(fds, true, prod);
	if (!ret)
		ret = ring_map(&ro, false, cons);
	close(ro.data);
	return ret;
}

static void test_straddle(void)
{
	struct ring_fds fds;
	struct ring p, c;
	struct ring_rec rec;
	uint8_t *w;
	int err, i;

	CHECK(open_pair(&fds, &p, &c) == 0, "map both sides");
	/* Advance to 1 KiB before the end, then write 4 KiB across it. */
	for (i = 0; i < (CAP - 1024) / 1024; i++) {
		w = ring_reserve(&p, 1024 - RING_SLOT_HDR, &err);
		ring_commit(&p, 1024 - RING_SLOT_HDR, 0);
		ring_peek(&c, &rec);
		ring_release(&c, &rec);
	}
	w = ring_reserve(&p, 4096, &err);
	CHECK(w && err == 0, "reserve across the end");
	if (w) {
		fill(w, 4096, 7);
		ring_commit(&p, 4096, 42);
	}
	CHECK(ring_peek(&c, &rec) == 1 && rec.len == 4096 && rec.flags == 42 &&
		      same(rec.p, 4096, 7),
	      "the straddling record reads back contiguous and intact");
	CHECK(rec.p + 4096 > c.data + CAP, "it did cross the end");
	ring_release(&c, &rec);
	CHECK(ring_peek(&c, &rec) == 0 && ring_used(&c) == 0, "empty again");
	CHECK(ring_reserve(&p, CAP, &err) == NULL && err == -EMSGSIZE,
	      "larger than the ring");
	for (i = 0; ring_reserve(&p, 8000, &err); i++)
		ring_commit(&p, 8000, 0);
	CHECK(err == -ENOSPC && i == CAP / 8064, "full after %d records", i);
	ring_unmap(&p);
	ring_unmap(&c);
	ring_fds_close(&fds);
}

static void producer(struct ring *p)
{
	uint32_t s = 12345, i, len;
	uint8_t *w;
	int err;

	for (i = 0; i < N_STREAM; i++) {
		len = rnd(&s) % 6000;
		while (!(w = ring_reserve(p, len, &err)))
			sched_yield();
		fill(w, len, i);
		ring_commit(p, len, i);
	}
	_exit(0);
}

/*
 * ring_warm: reads ahead of the head, a bounded number of pages a call,
 * from where it stopped, never behind the head, never more than the ring;
 * the consumer's records are untouched.
 */
static void test_warm(void)
{
	struct ring_fds fds;
	struct ring p, c;
	struct ring_rec rec;
	uint8_t *w;
	int err, calls;

	CHECK(open_pair(&fds, &p, &c) == 0, "map both sides");
	for (calls = 1; ring_warm(&p, 64 << 10, 4); calls++)
		;
	CHECK(calls == 4 && p.warm == 64 << 10,
	      "64 KiB ahead, 4 pages a call: %d calls, up to %llu", calls,
	      (unsigned long long)p.warm);
	w = ring_reserve(&p, 8192 - RING_SLOT_HDR, &err);
	if (w) {
		fill(w, 8192 - RING_SLOT_HDR, 9);
		ring_commit(&p, 8192 - RING_SLOT_HDR, 3);
	}
	CHECK(ring_warm(&p, 64 << 10, 1) && p.warm == (64 << 10) + 4096 &&
		      !ring_warm(&p, 64 << 10, 1),
	      "after 8 KiB more it goes on from where it stopped: 2 pages");
	CHECK(ring_peek(&c, &rec) == 1 && rec.len == 8192 - RING_SLOT_HDR &&
		      rec.flags == 3 && same(rec.p, rec.len, 9),
	      "the record it read past is intact");
	ring_release(&c, &rec);
	p.warm = 0;
	CHECK(!ring_warm(&p, 1ULL << 40, CAP / 4096) &&
		      p.warm == ring_head(&p) + CAP,
	      "never behind the head, never past one ring ahead");
	ring_unmap(&p);
	ring_unmap(&c);
	ring_fds_close(&fds);
}

static void test_two_processes(void)
{
	uint32_t s = 12345, i = 0, bad = 0;
	struct ring_fds fds;
	struct ring p, c;
	struct ring_rec rec;
	uint64_t bytes = 0;
	pid_t pid;
	int st;

	CHECK(open_pair(&fds, &p, &c) == 0, "map both sides");
	pid = fork();
	if (pid == 0)
		producer(&p);
	while (i < N_STREAM) {
		int r = ring_peek(&c, &rec);

		if (r == 0) {
			sched_yield();
			continue;
		}
		if (r < 0 || rec.len != rnd(&s) % 6000 || rec.flags != i ||
		    rec.seq != i || !same(rec.p, rec.len, i)) {
			bad++;
			break;
		}
		bytes += rec.len;
		ring_release(&c, &rec);
		i++;
	}
	waitpid(pid, &st, 0);
	CHECK(bad == 0 && i == N_STREAM, "%u records in order and intact", i);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "producer finished");
	printf("two processes: %u records, %llu bytes, %llu wraps\n", i,
	       (unsigned long long)bytes, (unsigned long long)(bytes / CAP));
	ring_unmap(&p);
	ring_unmap(&c);
	ring_fds_close(&fds);
}

static void test_kernel_guards(void)
{
	struct ring_fds fds;
	struct ring p, c;
	int ro, st;
	pid_t pid;

	CHECK(open_pair(&fds, &p, &c) == 0, "map both sides");
	ro = ring_fd_readonly(fds.data);
	CHECK(mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) ==
			      MAP_FAILED && errno == EACCES,
	      "no writable mapping from the consumer's descriptor");
	CHECK(mprotect(c.data, CAP, PROT_READ | PROT_WRITE) < 0 &&
		      errno == EACCES,
	      "no upgrading the consumer's mapping to writable");
	pid = fork();
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);	/* not a sanitizer's handler */
		c.data[100] = 1;		/* must fault */
		_exit(0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "a store into the consumer's view faults");
	CHECK(ftruncate(fds.data, 4096) < 0 && errno == EPERM,
	      "the data memfd cannot shrink");
	CHECK(ftruncate(fds.data, 1 << 28) < 0 && errno == EPERM,
	      "the data memfd cannot grow");
	close(ro);
	ring_unmap(&p);
	ring_unmap(&c);
	ring_fds_close(&fds);
}

/* A producer (or consumer) that lies is caught at the other side. */
static void test_hostile(void)
{
	struct ring_fds fds;
	struct ring p, c;
	struct ring_rec rec;
	uint32_t huge = CAP;
	int err;

	CHECK(open_pair(&fds, &p, &c) == 0, "map both sides");
	ring_reserve(&p, 100, &err);
	ring_commit(&p, 100, 0);
	memcpy(p.data, &huge, 4);	/* slot claims the whole ring */
	CHECK(ring_peek(&c, &rec) == -EPROTO, "lying length refused");
	memcpy(p.data, (uint32_t[]){ 100 }, 4);
	CHECK(ring_peek(&c, &rec) == 1, "honest again");
	*(volatile uint64_t *)((uint8_t *)p.prod + 64) += 2 * CAP;
	CHECK(ring_peek(&c, &rec) == -EPROTO, "head beyond the ring refused");
	*(volatile uint64_t *)((uint8_t *)p.prod + 64) -= 2 * CAP;
	*(volatile uint64_t *)c.cons += 4 * RING_ALIGN;	/* tail past head */
	CHECK(ring_reserve(&p, 10, &err) == NULL && err == -EPROTO,
	      "tail past head refused by the producer");
	ring_unmap(&p);
	ring_unmap(&c);
	ring_fds_close(&fds);
}

/*
 * The consumer's idle flag: a producer wakes the consumer only while it
 * says it sleeps, and the consumer, having said so, looks once more.
 */
static void test_idle(void)
{
	struct ring_fds fds;
	struct ring prod, cons;
	struct ring_rec rec;
	uint8_t *p;
	int err;

	CHECK(!open_pair(&fds, &prod, &cons), "a ring for the idle flag");
	CHECK(!ring_consumer_idle(&prod), "a new ring's consumer is not idle");
	CHECK(!ring_pending(&cons), "nothing pending");
	ring_set_idle(&cons, true);
	CHECK(ring_consumer_idle(&prod), "the producer sees the consumer sleep");
	p = ring_reserve(&prod, 100, &err);
	CHECK(p != NULL, "room");
	if (p) {
		fill(p, 100, 1);
		ring_commit(&prod, 100, 0);
	}
	CHECK(ring_pending(&cons), "the consumer's last look finds the record");
	ring_set_idle(&cons, false);
	CHECK(!ring_consumer_idle(&prod), "awake: no wake-up needed");
	CHECK(ring_next(&cons, &rec) == 1 && same(rec.p, rec.len, 1),
	      "the record");
	CHECK(!ring_pending(&cons), "handed out: nothing more pending");
	ring_release_to(&cons, rec.end);
	CHECK(!ring_pending(&cons), "released: still nothing");
	ring_unmap(&prod);
	ring_unmap(&cons);
	ring_fds_close(&fds);
}

int main(void)
{
	struct ring_fds fds;

	CHECK(ring_create(1000, &fds) == -EINVAL, "size not a power of two");
	test_straddle();
	test_warm();
	test_two_processes();
	test_kernel_guards();
	test_hostile();
	test_idle();
	return test_done("test_ring");
}
