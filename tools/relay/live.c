// SPDX-License-Identifier: GPL-2.0-only
/* Live fan-out: one blob per record, a queue of references per viewer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "tools/relay/live.h"

struct live_blob *live_blob_new(const uint8_t *p, size_t len)
{
	struct live_blob *b = malloc(sizeof(*b) + len);

	if (!b)
		return NULL;
	b->refs = 1;
	b->len = (uint32_t)len;
	b->p = b->data;
	memcpy(b->data, p, len);
	return b;
}

struct live_blob *live_blob_own(uint8_t *buf, size_t len)
{
	struct live_blob *b = malloc(sizeof(*b));

	if (!b) {
		free(buf);
		return NULL;
	}
	b->refs = 1;
	b->len = (uint32_t)len;
	b->p = buf;
	return b;
}

void live_blob_put(struct live_blob *b)
{
	if (b && !--b->refs) {
		if (b->p != b->data)
			free(b->p);
		free(b);
	}
}

static long find(const struct live_sub *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->n_ids; i++)
		if (!memcmp(s->ids[i], id, WIRE_ID_LEN))
			return (long)i;
	return -1;
}

bool live_wants(struct live_sub *s, const struct wire_hdr *h)
{
	long i = find(s, h->id);

	if (h->type == 1) { /* a stream header: follow it from here */
		if (i >= 0)
			return true;
		if (s->n_ids == LIVE_STREAMS) {
			/* full: the oldest goes (the ids are in the order
			 * their headers came; a stream the hub cut short
			 * never ends, and must not shut out new ones) */
			memmove(s->ids[0], s->ids[1],
				(LIVE_STREAMS - 1) * WIRE_ID_LEN);
			s->n_ids--;
			s->dropped_streams++;
		}
		memcpy(s->ids[s->n_ids++], h->id, WIRE_ID_LEN);
		return true;
	}
	if (i < 0)
		return false;
	if (h->type == 3) { /* final: the stream ends here */
		memmove(s->ids[i], s->ids[i + 1],
			(s->n_ids - (size_t)i - 1) * WIRE_ID_LEN);
		s->n_ids--;
	}
	return true;
}

int live_push(struct live_sub *s, struct live_blob *b, size_t limit)
{
	if (s->q_bytes + b->len > limit)
		return -ENOBUFS;
	if (s->q_n == s->q_cap) {
		size_t cap = s->q_cap ? 2 * s->q_cap : 64;
		struct live_blob **q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOBUFS;
		for (size_t i = 0; i < s->q_n; i++)
			q[i] = s->q[(s->q_head + i) % s->q_cap];
		free(s->q);
		s->q = q;
		s->q_cap = cap;
		s->q_head = 0;
	}
	s->q[(s->q_head + s->q_n++) % s->q_cap] = b;
	b->refs++;
	s->q_bytes += b->len;
	return 0;
}

int live_flush(struct live_sub *s, int fd)
{
	while (s->q_n) {
		struct iovec iov[LIVE_IOV];
		struct msghdr m = { .msg_iov = iov };
		size_t n = s->q_n < LIVE_IOV ? s->q_n : LIVE_IOV;
		ssize_t sent;

		for (size_t i = 0; i < n; i++) {
			struct live_blob *b = s->q[(s->q_head + i) % s->q_cap];
			size_t off = i ? 0 : s->q_off;

			iov[i] = (struct iovec){ b->p + off, b->len - off };
		}
		m.msg_iovlen = n;
		sent = sendmsg(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (sent < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 :
									 -errno;
		s->q_bytes -= (size_t)sent;
		s->sent += (size_t)sent;
		while (sent > 0) {
			struct live_blob *b = s->q[s->q_head];
			size_t left = b->len - s->q_off;

			if ((size_t)sent < left) {
				s->q_off += (size_t)sent;
				return 0; /* the socket is full */
			}
			sent -= (ssize_t)left;
			s->q_off = 0;
			s->q_head = (s->q_head + 1) % s->q_cap;
			s->q_n--;
			live_blob_put(b);
		}
	}
	return 0;
}

void live_sub_free(struct live_sub *s)
{
	if (!s)
		return;
	while (s->q_n) {
		live_blob_put(s->q[s->q_head]);
		s->q_head = (s->q_head + 1) % s->q_cap;
		s->q_n--;
	}
	free(s->q);
	free(s);
}
