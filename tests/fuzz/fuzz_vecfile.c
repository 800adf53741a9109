// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer harness for the RFC 9180 vector file parser. */
#include "tests/lib/vecfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vec_file f;

	if (vec_parse((const char *)data, size, true, &f) == 0)
		vec_free(&f);
	return 0;
}
