// SPDX-License-Identifier: GPL-2.0-only
/*
 * Frames inside records: header and metadata round trips, padding removed
 * on parse, and each malformed form refused.
 */
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "crypto/frame.h"
#include "tests/lib/check.h"

static void test_frame_hdr(void)
{
	uint8_t buf[64];
	struct frame_hdr f = { .kind = FRAME_KIND_AU,
			       .flags = FRAME_F_KEY | FRAME_F_CONFIG,
			       .pad = 8,
			       .ts_us = 1700000000123456ULL },
			 g;
	const uint8_t *payload;
	size_t n;

	frame_hdr_put(buf, &f);
	memset(buf + FRAME_HDR_LEN, 0xab, 20);
	memset(buf + FRAME_HDR_LEN + 20, 0, 8);
	CHECK(frame_parse(buf, FRAME_HDR_LEN + 28, &g, &payload, &n) == 0,
	      "parse");
	CHECK(g.kind == f.kind && g.flags == f.flags && g.ts_us == f.ts_us,
	      "fields survive");
	CHECK(payload == buf + FRAME_HDR_LEN && n == 20, "padding removed");
	CHECK(frame_parse(buf, FRAME_HDR_LEN - 1, &g, &payload, &n) ==
		      -MOAT_E_LENGTH,
	      "short frame");
	buf[0] = 9;
	CHECK(frame_parse(buf, FRAME_HDR_LEN + 28, &g, &payload, &n) ==
		      -MOAT_E_MALFORMED,
	      "unknown kind");
	buf[0] = FRAME_KIND_AU;
	buf[1] = 0x80;
	CHECK(frame_parse(buf, FRAME_HDR_LEN + 28, &g, &payload, &n) ==
		      -MOAT_E_MALFORMED,
	      "unknown flag");
	buf[1] = 0;
	f.pad = 29;
	frame_hdr_put(buf, &f);
	CHECK(frame_parse(buf, FRAME_HDR_LEN + 28, &g, &payload, &n) ==
		      -MOAT_E_MALFORMED,
	      "padding longer than the payload");
}

static void test_meta(void)
{
	struct frame_meta m = { .camera = "front door",
				.codec = "h264",
				.start_us = 42,
				.kind = 2 },
			  g;
	uint8_t buf[256];
	long n = frame_meta_put(buf, sizeof(buf), &m);

	CHECK(n > 0, "encode");
	CHECK(frame_meta_parse(buf, (size_t)n, &g) == 0 &&
		      !strcmp(g.camera, "front door") &&
		      !strcmp(g.codec, "h264") && g.start_us == 42 &&
		      g.kind == 2,
	      "metadata round trip");
	CHECK(frame_meta_parse(buf, (size_t)n - 1, &g) == -MOAT_E_LENGTH,
	      "cut TLV refused");
	CHECK(frame_meta_put(buf, 10, &m) == -ENOBUFS, "small buffer");
	buf[2] = 65; /* camera name length 65 */
	CHECK(frame_meta_parse(buf, sizeof(buf), &g) != 0,
	      "overlong camera name refused");
	memcpy(buf, (uint8_t[]){ 99, 0, 1, 7, META_CAMERA, 0, 1, 'x' }, 8);
	CHECK(frame_meta_parse(buf, 8, &g) == 0 && !strcmp(g.camera, "x"),
	      "unknown TLV skipped");
	CHECK(frame_meta_parse(buf, 4, &g) == -MOAT_E_MALFORMED,
	      "no camera name");
}

int main(void)
{
	test_frame_hdr();
	test_meta();
	return test_done("test_frame");
}
