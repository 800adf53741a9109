// SPDX-License-Identifier: GPL-2.0-only
#include "capture/h264.h"

void nal_scan(enum cap_codec c, const uint8_t *p, size_t n, bool *key,
	      bool *config)
{
	unsigned int ps = 0;

	*key = false;
	for (size_t i = 0; i + 3 < n; i++) {
		unsigned int t;

		if (p[i] || p[i + 1] || p[i + 2] != 1)
			continue;
		t = nal_type(c, p[i + 3]);
		*key = *key || nal_is_key(c, t);
		if (nal_is_ps(c, t))
			ps |= 1u << (c == CODEC_H265 ? t - H265_NAL_VPS :
						       t - NAL_SPS);
		i += 3;
	}
	*config = ps == (c == CODEC_H265 ? 7u : 3u);
}
