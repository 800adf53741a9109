// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ring.h"

#define RING_MAGIC 0x6d6f61742d726e67ULL	/* "moat-rng" */

struct ring_prod {
	uint64_t magic;
	uint64_t head __attribute__((aligned(64)));
	uint64_t seq;
	uint32_t waiting __attribute__((aligned(64)));
};

struct ring_cons {
	uint64_t tail __attribute__((aligned(64)));
	uint32_t idle __attribute__((aligned(64)));
};

static size_t page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static uint64_t slot_size(uint32_t len)
{
	return ((uint64_t)len + RING_SLOT_HDR + RING_ALIGN - 1) &
	       ~(uint64_t)(RING_ALIGN - 1);
}

/*
 * A sealed memfd of size bytes: nobody can shrink or grow it later. Its
 * pages are allocated now, not at first touch: a ring that fills slowly
 * (32 s for the ciphertext ring at one camera) would otherwise have the
 * sealer allocate and zero a page every 4 KiB it writes for its whole
 * first lap (a 28-35 KB frame took 170-550 us on the test VM); and a
 * machine short of memory fails at start (ENOMEM, or the OOM killer
 * under a memory cgroup's limit), not a role with SIGBUS later.
 */
static int sealed_memfd(const char *name, off_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), ret = 0;

	if (fd < 0)
		return -errno;
	/* Owner only: a process of another uid cannot reopen it by path
	 * (/proc/PID/fd/N), whatever descriptor it was handed. */
	if (fchmod(fd, 0600) < 0 || ftruncate(fd, size) < 0 ||
	    fallocate(fd, 0, 0, size) < 0 ||
	    fcntl(fd, F_ADD_SEALS,
		  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		ret = -errno;
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

int ring_create(uint64_t cap, struct ring_fds *fds)
{
	size_t pg = page_size();
	struct ring_prod *prod;

	fds->data = fds->cons = -1;
	if (cap < RING_MIN_CAP || cap > RING_MAX_CAP || (cap & (cap - 1)) ||
	    cap % pg)
		return -EINVAL;
	fds->data = sealed_memfd("moat-ring-data", (off_t)(pg + cap));
	fds->cons = sealed_memfd("moat-ring-cons", (off_t)pg);
	if (fds->data < 0 || fds->cons < 0) {
		int ret = fds->data < 0 ? fds->data : fds->cons;

		ring_fds_close(fds);
		return ret;
	}
	prod = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fds->data, 0);
	if (prod == MAP_FAILED) {
		ring_fds_close(fds);
		return -errno;
	}
	prod->magic = RING_MAGIC;
	munmap(prod, pg);
	return 0;
}

int ring_fd_readonly(int data_fd)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", data_fd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void ring_fds_close(struct ring_fds *fds)
{
	if (fds->data >= 0)
		close(fds->data);
	if (fds->cons >= 0)
		close(fds->cons);
	fds->data = fds->cons = -1;
}

/*
 * The data area twice, back to back, so records never wrap; its page
 * tables filled now (MAP_POPULATE), so that no frame takes a page fault
 * per 4 KiB on the way (each costs a VM exit on a VM).
 */
static int map_twice(struct ring *r, int fd, int prot)
{
	int fl = MAP_SHARED | MAP_FIXED | MAP_POPULATE;
	size_t pg = page_size();
	uint8_t *base;

	base = mmap(NULL, 2 * r->cap, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	if (mmap(base, r->cap, prot, fl, fd, (off_t)pg) == MAP_FAILED ||
	    mmap(base + r->cap, r->cap, prot, fl, fd, (off_t)pg) ==
		    MAP_FAILED) {
		int ret = -errno;

		munmap(base, 2 * r->cap);
		return ret;
	}
	r->data = base;
	return 0;
}

/* The size comes from the sealed memfd, never from the shared pages. */
static int ring_cap(int fd, uint64_t *cap)
{
	size_t pg = page_size();
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	if ((uint64_t)st.st_size <= pg)
		return -EINVAL;
	*cap = (uint64_t)st.st_size - pg;
	if (*cap < RING_MIN_CAP || *cap > RING_MAX_CAP || (*cap & (*cap - 1)))
		return -EINVAL;
	return 0;
}

int ring_map(const struct ring_fds *fds, bool producer, struct ring *r)
{
	int rw = PROT_READ | PROT_WRITE, ro = PROT_READ, ret;
	size_t pg = page_size();

	memset(r, 0, sizeof(*r));
	r->producer = producer;
	ret = ring_cap(fds->data, &r->cap);
	if (ret)
		return ret;
	r->prod = mmap(NULL, pg, producer ? rw : ro, MAP_SHARED, fds->data, 0);
	if (r->prod == MAP_FAILED) {
		r->prod = NULL;
		return -errno;
	}
	r->cons = mmap(NULL, pg, producer ? ro : rw, MAP_SHARED, fds->cons, 0);
	if (r->cons == MAP_FAILED) {
		r->cons = NULL;
		ret = -errno;
	}
	if (!ret && r->prod->magic != RING_MAGIC)
		ret = -EINVAL;
	if (!ret)
		ret = map_twice(r, fds->data, producer ? rw : ro);
	if (ret)
		ring_unmap(r);
	else if (!producer)
		r->cursor = __atomic_load_n(&r->cons->tail, __ATOMIC_ACQUIRE);
	return ret;
}

int ring_observe(const struct ring_fds *fds, struct ring *r)
{
	size_t pg = page_size();

	memset(r, 0, sizeof(*r));
	r->prod = mmap(NULL, pg, PROT_READ, MAP_SHARED, fds->data, 0);
	r->cons = mmap(NULL, pg, PROT_READ, MAP_SHARED, fds->cons, 0);
	if (r->prod == MAP_FAILED || r->cons == MAP_FAILED) {
		int ret = -errno;

		if (r->prod == MAP_FAILED)
			r->prod = NULL;
		if (r->cons == MAP_FAILED)
			r->cons = NULL;
		ring_unmap(r);
		return ret;
	}
	return ring_cap(fds->data, &r->cap);
}


void ring_unmap(struct ring *r)
{
	size_t pg = page_size();

	if (r->data)
		munmap(r->data, 2 * r->cap);
	if (r->prod)
		munmap(r->prod, pg);
	if (r->cons)
		munmap(r->cons, pg);
	memset(r, 0, sizeof(*r));
}

uint64_t ring_slot_size(uint32_t len)
{
	return slot_size(len);
}

uint64_t ring_free(const struct ring *r)
{
	uint64_t used = ring_used(r);

	return used > r->cap ? 0 : r->cap - used;
}

uint64_t ring_head(const struct ring *r)
{
	return __atomic_load_n(&r->prod->head, __ATOMIC_ACQUIRE);
}

uint64_t ring_tail(const struct ring *r)
{
	return __atomic_load_n(&r->cons->tail, __ATOMIC_ACQUIRE);
}

uint64_t ring_used(const struct ring *r)
{
	return __atomic_load_n(&r->prod->head, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(&r->cons->tail, __ATOMIC_ACQUIRE);
}

uint8_t *ring_reserve(struct ring *r, uint32_t len, int *err)
{
	uint64_t head = r->prod->head, slot = slot_size(len), used;

	used = head - __atomic_load_n(&r->cons->tail, __ATOMIC_ACQUIRE);
	if (slot > r->cap) {
		*err = -EMSGSIZE;
		return NULL;
	}
	if (used > r->cap || used % RING_ALIGN) {
		*err = -EPROTO;		/* the consumer broke its tail */
		return NULL;
	}
	if (r->cap - used < slot) {
		*err = -ENOSPC;
		return NULL;
	}
	*err = 0;
	r->pending = slot;
	return r->data + (head & (r->cap - 1)) + RING_SLOT_HDR;
}

void ring_commit(struct ring *r, uint32_t len, uint32_t flags)
{
	ring_commit_aux(r, len, flags, r->prod->seq++);
}

void ring_commit_aux(struct ring *r, uint32_t len, uint32_t flags,
		     uint64_t seq)
{
	uint64_t head = r->prod->head;
	uint8_t *h = r->data + (head & (r->cap - 1));

	memcpy(h, &len, 4);
	memcpy(h + 4, &flags, 4);
	memcpy(h + 8, &seq, 8);
	__atomic_store_n(&r->prod->head, head + slot_size(len),
			 __ATOMIC_RELEASE);
	r->pending = 0;
}

bool ring_warm(struct ring *r, uint64_t ahead, unsigned int pages)
{
	uint64_t head = r->prod->head, pg = page_size(), end;

	end = head + (ahead < r->cap ? ahead : r->cap);
	if (r->warm < head)
		r->warm = head;
	for (; r->warm < end && pages; pages--) {
		(void)*(volatile const uint8_t *)(r->data +
						  (r->warm & (r->cap - 1)));
		r->warm = (r->warm | (pg - 1)) + 1;
	}
	return r->warm < end;
}

/* The record at pos (tail <= pos <= head), checked against the head. */
static int read_at(struct ring *r, uint64_t tail, struct ring_rec *rec)
{
	uint64_t avail;
	const uint8_t *h;
	uint32_t len;

	avail = __atomic_load_n(&r->prod->head, __ATOMIC_ACQUIRE) - tail;
	if (!avail)
		return 0;
	if (avail > r->cap || avail % RING_ALIGN)
		return -EPROTO;
	h = r->data + (tail & (r->cap - 1));
	/* Read the length once: the producer may change it under us. */
	len = __atomic_load_n((const uint32_t *)h, __ATOMIC_RELAXED);
	if (slot_size(len) > avail)
		return -EPROTO;
	rec->p = (uint8_t *)h + RING_SLOT_HDR;
	rec->len = len;
	memcpy(&rec->flags, h + 4, 4);
	memcpy(&rec->seq, h + 8, 8);
	rec->pos = tail;
	rec->end = tail + slot_size(len);
	return 1;
}

int ring_peek(struct ring *r, struct ring_rec *rec)
{
	return read_at(r, r->cons->tail, rec);
}

/* Where ring_next() reads next: the cursor, never behind the tail. */
static uint64_t next_pos(const struct ring *r)
{
	uint64_t tail = __atomic_load_n(&r->cons->tail, __ATOMIC_RELAXED);

	return r->cursor - tail > r->cap ? tail : r->cursor;
}

int ring_next(struct ring *r, struct ring_rec *rec)
{
	int ret;

	r->cursor = next_pos(r);
	ret = read_at(r, r->cursor, rec);
	if (ret == 1)
		r->cursor = rec->end;
	return ret;
}

void ring_release_to(struct ring *r, uint64_t end)
{
	uint64_t tail = r->cons->tail;

	if (end - tail <= r->cursor - tail)
		__atomic_store_n(&r->cons->tail, end, __ATOMIC_RELEASE);
}

void ring_set_waiting(struct ring *r, bool waiting)
{
	__atomic_store_n(&r->prod->waiting, waiting ? 1 : 0, __ATOMIC_SEQ_CST);
}

bool ring_producer_waiting(const struct ring *r)
{
	/* orders the tail the caller just stored before this load */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&r->prod->waiting, __ATOMIC_RELAXED) != 0;
}

void ring_set_idle(struct ring *r, bool idle)
{
	__atomic_store_n(&r->cons->idle, idle ? 1 : 0, __ATOMIC_SEQ_CST);
}

bool ring_consumer_idle(const struct ring *r)
{
	/* orders the head the caller just published before this load */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&r->cons->idle, __ATOMIC_RELAXED) != 0;
}

bool ring_pending(const struct ring *r)
{
	return __atomic_load_n(&r->prod->head, __ATOMIC_ACQUIRE) != next_pos(r);
}

void ring_rewind(struct ring *r)
{
	r->cursor = r->cons->tail;
}

void ring_release(struct ring *r, const struct ring_rec *rec)
{
	__atomic_store_n(&r->cons->tail, r->cons->tail + slot_size(rec->len),
			 __ATOMIC_RELEASE);
}
