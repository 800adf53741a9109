// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/err.h"
#include "crypto/streamfile.h"

int sf_next(struct rd *r, const uint8_t **rec, size_t *len)
{
	struct rec_hdr h;
	int ret;

	*rec = NULL;
	*len = 0;
	if (!rd_left(r))
		return 0;
	ret = rec_parse_hdr(rd_peek(r, 0), rd_left(r), &h);
	if (ret == -MOAT_E_LENGTH && rd_left(r) < REC_HDR_LEN)
		return -MOAT_E_TRUNCATED;
	if (ret)
		return ret;
	if (h.body_len > rd_left(r) - REC_HDR_LEN)
		return -MOAT_E_TRUNCATED;
	*len = REC_HDR_LEN + h.body_len;
	*rec = rd_take(r, *len);
	return 1;
}

/* Checks one opened plaintext and passes access units on. */
static int sf_frame(struct sf_result *res, const uint8_t *pt, size_t n,
		    bool final, sf_frame_fn fn, void *arg)
{
	const uint8_t *payload;
	struct frame_hdr f;
	size_t plen;
	int ret;

	if (!n && final) /* an empty final record closes the stream */
		return 0;
	ret = frame_parse(pt, n, &f, &payload, &plen);
	if (ret)
		return ret;
	if (f.kind == FRAME_KIND_META) {
		uint8_t *ids;

		sf_result_free(res);
		ret = frame_meta_parse(payload, plen, &res->meta);
		if (ret || !res->meta.n_gops)
			return ret;
		/* the plaintext is wiped after this frame: keep a copy */
		ids = malloc(res->meta.n_gops * 16);
		if (!ids)
			return -ENOMEM;
		memcpy(ids, res->meta.gops, res->meta.n_gops * 16);
		res->meta.gops = ids;
		return 0;
	}
	res->frames++;
	return fn ? fn(arg, &f, payload, plen) : 0;
}

void sf_result_free(struct sf_result *res)
{
	free((void *)res->meta.gops);
	res->meta.gops = NULL;
	res->meta.n_gops = 0;
}

int sf_open_buf(const uint8_t *buf, size_t len, const struct open_identity *id,
		sf_frame_fn fn, void *arg, struct sf_result *res)
{
	struct open_stream *os = open_stream_new(id);
	/* No record's plaintext is longer than the bytes holding it. */
	uint8_t *out = malloc(len + 1);
	const uint8_t *rec;
	size_t rlen, n;
	struct rd r;
	bool final;
	int ret;

	memset(res, 0, sizeof(*res));
	if (!os || !out) {
		ret = -ENOMEM;
		goto out_free;
	}
	rd_init(&r, buf, len);
	while ((ret = sf_next(&r, &rec, &rlen)) == 1) {
		ret = open_record(os, rec, rlen, out, len, &n, &final);
		if (ret) {
			snprintf(res->why, sizeof(res->why), "%s",
				 open_stream_why(os));
			goto out_free;
		}
		if (res->records++ == 0) /* the stream header */
			continue;
		ret = sf_frame(res, out, n, final, fn, arg);
		OPENSSL_cleanse(out, n);
		if (ret)
			goto out_why;
	}
	if (!ret)
		ret = open_stream_finish(os);
	if (ret == -MOAT_E_TRUNCATED && !res->why[0])
		snprintf(res->why, sizeof(res->why), "%s: after record %zu",
			 moat_strerror(ret), res->records);
out_why:
	if (ret && !res->why[0])
		snprintf(res->why, sizeof(res->why), "%s (record %zu)",
			 moat_strerror(ret), res->records);
out_free:
	free(out);
	open_stream_free(os);
	return ret;
}
