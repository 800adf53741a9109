/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Reading sealed streams held as bytes (a stream file, a download): split
 * the records by their own length fields, open them in order, and hand each
 * verified frame to a callback. The bytes are untrusted; every length is
 * checked before use.
 */
#ifndef MOAT_CRYPTO_STREAMFILE_H
#define MOAT_CRYPTO_STREAMFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/rd.h"
#include "crypto/frame.h"
#include "crypto/stream.h"

/*
 * Next record from r: 1 with its span, 0 at the end of the bytes,
 * -MOAT_E_TRUNCATED when the bytes end inside a record, or the error of a
 * header that does not parse.
 */
int sf_next(struct rd *r, const uint8_t **rec, size_t *len);

/* Called for every verified frame; non-zero stops the walk and is returned. */
typedef int (*sf_frame_fn)(void *arg, const struct frame_hdr *f,
			   const uint8_t *payload, size_t len);

struct sf_result {
	struct frame_meta meta; /* from the stream's metadata frame; a
				 * clip's meta.gops is a copy, freed by
				 * sf_result_free() */
	size_t records;		/* records opened, header included */
	size_t frames;		/* access unit frames delivered */
	char why[224];		/* reason for a failure */
};

/*
 * Opens the whole stream in buf as the viewer id; calls fn for each access
 * unit. Returns 0 when every record verified and the final one was seen.
 */
int sf_open_buf(const uint8_t *buf, size_t len, const struct open_identity *id,
		sf_frame_fn fn, void *arg, struct sf_result *res);
void sf_result_free(struct sf_result *res);

#endif
