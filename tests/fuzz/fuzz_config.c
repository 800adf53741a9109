// SPDX-License-Identifier: GPL-2.0-only
/* libFuzzer harness for the moat.conf parser (a file the owner edits). */
#include "daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct cfg c;
	char err[CFG_ERR_MAX];

	cfg_parse("fuzz.conf", (const char *)data, size, &c, err);
	return 0;
}
