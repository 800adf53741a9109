/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay protocol (docs/PROTOCOL.md section 12): everything on a relay
 * connection is a frame with the 32-byte record header layout
 *
 *   0 version (1)  1 type  2 reserved (0)  4 body_len  8 id (16)  24 value
 *
 * Types 1-3 are sealed records exactly as the sealer made them (id = stream
 * id, value = counter). The other types are small control frames. After
 * HELLO the relay sends CHALLENGE and the client answers AUTH
 * (crypto/login.h); a hub then sends VIEWERS, then records and nothing
 * else. Bytes from the network are untrusted:
 * wire_rx() yields only complete frames whose header passed wire_parse().
 */
#ifndef MOAT_COMMON_WIRE_H
#define MOAT_COMMON_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	WIRE_HDR_LEN = 32,
	WIRE_ID_LEN = 16,
	WIRE_CTL_BODY_MAX = 64 << 10, /* body of a control frame */

	/* sealed records (crypto/stream.h REC_TYPE_*) */
	WIRE_RECORD_MIN = 1,
	WIRE_RECORD_MAX = 3,
	/* control */
	WIRE_HELLO = 0x10,   /* -> relay: id = hub id, value = role */
	WIRE_ACK = 0x11,     /* relay -> hub: value = records stored, total */
	WIRE_LIST = 0x12,    /* viewer -> relay: id = hub id */
	WIRE_STREAMS = 0x13, /* relay -> viewer: body = entries */
	WIRE_END = 0x14,     /* relay -> viewer: value = count sent */
	WIRE_GET = 0x15,     /* viewer -> relay: id = stream id */
	WIRE_ERROR = 0x16,   /* either way: body = UTF-8 reason */
	WIRE_CHALLENGE = 0x17, /* relay -> client after HELLO: body = nonce */
	WIRE_AUTH = 0x18,      /* client -> relay: body = public key, signature */
	WIRE_VIEWERS = 0x19,   /* hub -> relay after AUTH: body = viewers'
				* login public keys, value = how many */
	WIRE_LIVE = 0x1a,      /* viewer -> relay: send me the hub's streams
				* that start from now on, as they arrive */
	WIRE_MAIL = 0x1b,      /* viewer -> relay -> hub: body = a sealed
				* heartbeat (crypto/heartbeat.h), opaque to
				* the relay; the relay keeps the newest per
				* viewer and answers the viewer ACK 1 */
	WIRE_HEAD = 0x1c,      /* viewer -> relay: id = stream id: its
				* header record only, then END */

	WIRE_ROLE_HUB = 1,
	WIRE_ROLE_VIEWER = 2,

	WIRE_STREAM_ENTRY = 24, /* stream id, u64 stored bytes */
	WIRE_CHALLENGE_LEN = 32,
	WIRE_AUTH_LEN = 96,	 /* crypto/login.h LOGIN_AUTH_LEN */
	WIRE_VIEWER_KEY_LEN = 32,
	WIRE_VIEWERS_MAX = 16, /* SEAL_MAX_RECIPIENTS */
	WIRE_MAIL_MAX = 512,
};

struct wire_hdr {
	uint8_t type;
	uint32_t body_len;
	uint8_t id[WIRE_ID_LEN];
	uint64_t value;
};

static inline bool wire_is_record(uint8_t type)
{
	return type >= WIRE_RECORD_MIN && type <= WIRE_RECORD_MAX;
}

/* Validates a frame header: version, known type, reserved, body bounds. */
int wire_parse(const uint8_t *p, size_t len, struct wire_hdr *h);
/* Writes a control frame header. */
void wire_put(uint8_t out[static WIRE_HDR_LEN], uint8_t type, uint32_t body_len,
	      const uint8_t *id, uint64_t value);

/* Receive buffer for one connection: frames out of a byte stream. */
struct wire_rx {
	uint8_t *buf;
	size_t cap, len, off;
	size_t max; /* largest frame accepted */
};

int wire_rx_init(struct wire_rx *rx, size_t max_frame);
void wire_rx_free(struct wire_rx *rx);
/* Room to read into (at least min bytes), after compacting. */
uint8_t *wire_rx_space(struct wire_rx *rx, size_t *room);
void wire_rx_added(struct wire_rx *rx, size_t n);
/*
 * The next complete frame: 1 with *h and *frame (header + body, valid until
 * the next call), 0 when more bytes are needed, or -MOAT_E_MALFORMED.
 */
int wire_rx_next(struct wire_rx *rx, struct wire_hdr *h, const uint8_t **frame);

/* Blocking helpers for simple tools (relay replies, viewer): all or error. */
int wire_write_all(int fd, const void *p, size_t len);
int wire_send_ctl(int fd, uint8_t type, const uint8_t *id, uint64_t value,
		  const void *body, uint32_t body_len);

#endif
