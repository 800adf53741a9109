/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moat error codes. Functions return 0 or a negative value: either -errno
 * (system failures) or -MOAT_E_* (protocol and validation failures, which
 * live above the errno range). moat_strerror() names both in plain words.
 */
#ifndef MOAT_COMMON_ERR_H
#define MOAT_COMMON_ERR_H

enum moat_err {
	MOAT_E_BASE = 4096,
	MOAT_E_VERSION,	      /* record or file version not understood */
	MOAT_E_MALFORMED,     /* record framing, type, or reserved bits bad */
	MOAT_E_LENGTH,	      /* length field disagrees with the bytes */
	MOAT_E_AUTH,	      /* AEAD tag did not verify */
	MOAT_E_HEADER_AUTH,   /* stream header tag did not verify */
	MOAT_E_NOT_RECIPIENT, /* stream not wrapped to any key we hold */
	MOAT_E_UNWRAP,	      /* our wrap entry failed to open */
	MOAT_E_STREAM_ID,     /* record belongs to another stream */
	MOAT_E_REPLAY,	      /* counter already seen (replay/duplicate) */
	MOAT_E_REORDER,	      /* counter ahead of expected (gap/reorder) */
	MOAT_E_TRUNCATED,     /* stream ended without its final record */
	MOAT_E_AFTER_FINAL,   /* record after the final record */
	MOAT_E_NO_HEADER,     /* data record before the stream header */
	MOAT_E_SUITE,	      /* unknown or disabled cipher suite */
	MOAT_E_CORRUPT,	      /* file checksum or syntax failed */
	MOAT_E_CRYPTO,	      /* OpenSSL refused an operation */
	MOAT_E_LIMIT,	      /* a documented size limit was exceeded */
	MOAT_E_MAX,
};

/* Text for a negative return value: -errno or -MOAT_E_*. */
const char *moat_strerror(int err);

#endif
