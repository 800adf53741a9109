// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the frame and metadata parsers (the plaintext of a
 * record, after it verified: reached here directly, since a fuzzer cannot
 * forge tags).
 */
#include "crypto/frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct frame_hdr f;
	struct frame_meta m;
	const uint8_t *payload;
	size_t n;

	if (frame_parse(data, size, &f, &payload, &n) == 0) {
		if (payload + n > data + size)
			__builtin_trap();
		frame_meta_parse(payload, n, &m);
	}
	frame_meta_parse(data, size, &m);
	return 0;
}
