// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the relay protocol reader (common/wire.c): what a
 * relay receives from a hub or viewer, and what a hub or viewer receives
 * from a relay. The bytes arrive in pieces of varying size, as from a
 * socket; every frame handed out must lie inside what was received and
 * carry a header that passed the checks. AUTH bodies go through the
 * relay's signature check.
 */
#include <string.h>

#include "common/err.h"
#include "common/wire.h"
#include "crypto/login.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_rx rx;
	size_t off = 0;

	if (wire_rx_init(&rx, 1 << 16))
		return 0;
	while (off < size) {
		size_t room, n = 1 + data[off] % 97;
		uint8_t *dst = wire_rx_space(&rx, &room);
		struct wire_hdr h;
		const uint8_t *f;
		int ret;

		if (n > size - off)
			n = size - off;
		if (n > room)
			n = room;
		memcpy(dst, data + off, n);
		wire_rx_added(&rx, n);
		off += n;
		while ((ret = wire_rx_next(&rx, &h, &f)) == 1) {
			struct wire_hdr again;

			if (f < rx.buf || f + WIRE_HDR_LEN + h.body_len >
						   rx.buf + rx.len)
				__builtin_trap();
			if (wire_parse(f, WIRE_HDR_LEN + h.body_len, &again) ||
			    again.body_len != h.body_len)
				__builtin_trap();
			/* a login answer is any 96 bytes: a key that is no
			 * point on the curve must fail, never crash */
			if (h.type == WIRE_AUTH) {
				static const uint8_t zero[LOGIN_CHALLENGE_LEN];
				int v = login_verify(f + WIRE_HDR_LEN, 2, zero,
						     zero);

				if (v && v != -MOAT_E_AUTH)
					__builtin_trap();
			}
		}
		if (ret < 0)
			break;
	}
	wire_rx_free(&rx);
	return 0;
}
