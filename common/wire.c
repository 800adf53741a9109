// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/rd.h"
#include "common/wire.h"
#include "crypto/stream.h"

int wire_parse(const uint8_t *p, size_t len, struct wire_hdr *h)
{
	if (len < WIRE_HDR_LEN || p[0] != REC_VERSION || p[2] || p[3])
		return -MOAT_E_MALFORMED;
	h->type = p[1];
	h->body_len = get_u32(p + 4);
	memcpy(h->id, p + 8, WIRE_ID_LEN);
	h->value = get_u64(p + 24);
	if (wire_is_record(h->type)) {
		struct rec_hdr rh;

		if (rec_parse_hdr(p, len, &rh))
			return -MOAT_E_MALFORMED;
		/* the stream header is counter 0, and only it */
		if ((rh.type == REC_TYPE_HEADER) != (rh.counter == 0))
			return -MOAT_E_MALFORMED;
		return 0;
	}
	switch (h->type) {
	case WIRE_HELLO:
	case WIRE_ACK:
	case WIRE_LIST:
	case WIRE_GET:
	case WIRE_LIVE:
	case WIRE_HEAD:
		return h->body_len ? -MOAT_E_MALFORMED : 0;
	case WIRE_MAIL:
		return !h->body_len || h->body_len > WIRE_MAIL_MAX || h->value ?
			       -MOAT_E_MALFORMED :
			       0;
	case WIRE_END:
		return h->body_len ? -MOAT_E_MALFORMED : 0;
	case WIRE_STREAMS:
		return h->body_len % WIRE_STREAM_ENTRY ||
				       h->body_len > WIRE_CTL_BODY_MAX ?
			       -MOAT_E_MALFORMED :
			       0;
	case WIRE_ERROR:
		return h->body_len > 512 ? -MOAT_E_MALFORMED : 0;
	case WIRE_CHALLENGE:
		return h->body_len != WIRE_CHALLENGE_LEN ? -MOAT_E_MALFORMED : 0;
	case WIRE_AUTH:
		return h->body_len != WIRE_AUTH_LEN || h->value ?
			       -MOAT_E_MALFORMED :
			       0;
	case WIRE_VIEWERS:
		return h->body_len % WIRE_VIEWER_KEY_LEN ||
				       h->body_len > WIRE_VIEWERS_MAX *
							     WIRE_VIEWER_KEY_LEN ||
				       h->value != h->body_len / WIRE_VIEWER_KEY_LEN ?
			       -MOAT_E_MALFORMED :
			       0;
	}
	return -MOAT_E_MALFORMED;
}

void wire_put(uint8_t out[static WIRE_HDR_LEN], uint8_t type, uint32_t body_len,
	      const uint8_t *id, uint64_t value)
{
	out[0] = REC_VERSION;
	out[1] = type;
	out[2] = out[3] = 0;
	put_u32(out + 4, body_len);
	if (id)
		memcpy(out + 8, id, WIRE_ID_LEN);
	else
		memset(out + 8, 0, WIRE_ID_LEN);
	put_u64(out + 24, value);
}

int wire_rx_init(struct wire_rx *rx, size_t max_frame)
{
	memset(rx, 0, sizeof(*rx));
	rx->max = max_frame;
	rx->cap = 64 << 10;
	rx->buf = malloc(rx->cap);
	return rx->buf ? 0 : -ENOMEM;
}

void wire_rx_free(struct wire_rx *rx)
{
	free(rx->buf);
	memset(rx, 0, sizeof(*rx));
}

uint8_t *wire_rx_space(struct wire_rx *rx, size_t *room)
{
	if (rx->off) {
		memmove(rx->buf, rx->buf + rx->off, rx->len - rx->off);
		rx->len -= rx->off;
		rx->off = 0;
	}
	if (rx->cap - rx->len < 4096 && rx->cap < rx->max + WIRE_HDR_LEN) {
		size_t cap = rx->cap * 2;
		uint8_t *p;

		if (cap > rx->max + WIRE_HDR_LEN)
			cap = rx->max + WIRE_HDR_LEN;
		p = realloc(rx->buf, cap);
		if (p) {
			rx->buf = p;
			rx->cap = cap;
		}
	}
	*room = rx->cap - rx->len;
	return rx->buf + rx->len;
}

void wire_rx_added(struct wire_rx *rx, size_t n)
{
	rx->len += n;
}

int wire_rx_next(struct wire_rx *rx, struct wire_hdr *h, const uint8_t **frame)
{
	size_t have = rx->len - rx->off;
	const uint8_t *p = rx->buf + rx->off;

	if (have < WIRE_HDR_LEN)
		return 0;
	if (wire_parse(p, have, h) || h->body_len > rx->max)
		return -MOAT_E_MALFORMED;
	if (have - WIRE_HDR_LEN < h->body_len)
		return 0;
	*frame = p;
	rx->off += WIRE_HDR_LEN + h->body_len;
	return 1;
}

int wire_write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;

	while (len) {
		ssize_t n = send(fd, b, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int wire_send_ctl(int fd, uint8_t type, const uint8_t *id, uint64_t value,
		  const void *body, uint32_t body_len)
{
	uint8_t h[WIRE_HDR_LEN];
	int ret;

	wire_put(h, type, body_len, id, value);
	ret = wire_write_all(fd, h, sizeof(h));
	if (!ret && body_len)
		ret = wire_write_all(fd, body, body_len);
	return ret;
}
