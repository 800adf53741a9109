// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer harness for the Annex-B splitter: camera bytes are untrusted. */
#include "capture/annexb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct annexb a;
	struct annexb_au au;
	size_t covered = 0;

	annexb_init(&a, data, size);
	while (annexb_next_au(&a, &au) == 1) {
		/* Units must tile the input: a gap or overlap is a bug. */
		if (au.p != data + covered || au.len == 0)
			__builtin_trap();
		covered += au.len;
	}
	if (covered > size)
		__builtin_trap();
	return 0;
}
