// SPDX-License-Identifier: GPL-2.0-only
#include "capture/h264.h"

uint32_t h264_nal_types(const uint8_t *p, size_t n)
{
	uint32_t mask = 0;

	for (size_t i = 0; i + 3 < n; i++) {
		if (p[i] || p[i + 1] || p[i + 2] != 1)
			continue;
		mask |= 1u << (p[i + 3] & 0x1f);
		i += 3;
	}
	return mask;
}
