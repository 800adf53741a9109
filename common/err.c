// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "common/err.h"

static const char *const moat_msgs[MOAT_E_MAX - MOAT_E_BASE] = {
	[MOAT_E_VERSION - MOAT_E_BASE] = "unknown protocol version",
	[MOAT_E_MALFORMED - MOAT_E_BASE] =
		"malformed record (bad type or reserved field)",
	[MOAT_E_LENGTH - MOAT_E_BASE] =
		"length field does not match the bytes given",
	[MOAT_E_AUTH - MOAT_E_BASE] =
		"record failed authentication (tampered or wrong key)",
	[MOAT_E_HEADER_AUTH - MOAT_E_BASE] =
		"stream header failed authentication (tampered)",
	[MOAT_E_NOT_RECIPIENT - MOAT_E_BASE] =
		"stream is not sealed to any key this viewer holds",
	[MOAT_E_UNWRAP - MOAT_E_BASE] =
		"content key did not unwrap (wrong hub key, pairing secret, or tampered wrap)",
	[MOAT_E_STREAM_ID - MOAT_E_BASE] =
		"record belongs to another stream (spliced)",
	[MOAT_E_REPLAY - MOAT_E_BASE] =
		"record counter already seen (replayed or duplicated record)",
	[MOAT_E_REORDER - MOAT_E_BASE] =
		"record counter ahead of the next expected (missing or reordered record)",
	[MOAT_E_TRUNCATED - MOAT_E_BASE] =
		"stream ended without its final record (truncated)",
	[MOAT_E_AFTER_FINAL - MOAT_E_BASE] =
		"record after the final record of the stream",
	[MOAT_E_NO_HEADER - MOAT_E_BASE] =
		"data record before the stream header",
	[MOAT_E_SUITE - MOAT_E_BASE] = "unknown cipher suite",
	[MOAT_E_CORRUPT - MOAT_E_BASE] = "file is corrupt or truncated",
	[MOAT_E_CRYPTO - MOAT_E_BASE] = "OpenSSL refused the operation",
	[MOAT_E_LIMIT - MOAT_E_BASE] = "size limit exceeded",
};

const char *moat_strerror(int err)
{
	int e = err < 0 ? -err : err;

	if (e > MOAT_E_BASE && e < MOAT_E_MAX && moat_msgs[e - MOAT_E_BASE])
		return moat_msgs[e - MOAT_E_BASE];
	if (e > 0 && e < MOAT_E_BASE)
		return strerror(e);
	return "unknown error";
}
