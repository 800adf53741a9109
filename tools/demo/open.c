// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo's viewer side: every stream file in the spool opened with one
 * viewer's keys, every access unit compared with the camera's bytes; and
 * the check that no plaintext reached the spool.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "common/fileio.h"
#include "crypto/streamfile.h"
#include "tools/demo/demo.h"

enum { SPOOL_FILE_MAX = 256 << 20 };

int demo_clip_load(const char *path, struct demo_clip *c)
{
	struct annexb a;
	int ret;

	memset(c, 0, sizeof(*c));
	ret = file_read_bounded(path, SPOOL_FILE_MAX, &c->buf, &c->len);
	if (ret)
		return ret;
	c->au = calloc(DEMO_MAX_AU, sizeof(*c->au));
	if (!c->au)
		return -ENOMEM;
	annexb_init(&a, c->buf, c->len);
	while ((ret = annexb_next_au(&a, &c->au[c->n_au])) == 1) {
		c->n_key += c->au[c->n_au].key;
		if (++c->n_au == DEMO_MAX_AU)
			return -MOAT_E_LIMIT;
	}
	return ret ? ret : (c->n_au ? 0 : -MOAT_E_MALFORMED);
}

void demo_clip_free(struct demo_clip *c)
{
	free(c->buf);
	free(c->au);
	memset(c, 0, sizeof(*c));
}

struct cmp {
	const struct demo_clip *c;
	struct demo_check *chk;
	size_t next; /* index of the access unit expected next */
};

static int cmp_frame(void *arg, const struct frame_hdr *f,
		     const uint8_t *payload, size_t len)
{
	struct cmp *cmp = arg;
	const struct annexb_au *au;

	cmp->chk->au_seen++;
	if (cmp->next >= cmp->c->n_au) {
		cmp->chk->au_mismatch++;
		return 0;
	}
	au = &cmp->c->au[cmp->next++];
	if (au->len == len && !memcmp(au->p, payload, len) &&
	    !!(f->flags & FRAME_F_KEY) == au->key)
		cmp->chk->au_match++;
	else
		cmp->chk->au_mismatch++;
	return 0;
}

int demo_open_all(const struct demo_clip *c, const struct demo_spool *sp,
		  const struct open_identity *id, struct demo_check *chk)
{
	struct cmp cmp = { .c = c, .chk = chk };
	struct sf_result res;
	char path[512];
	uint8_t *buf;
	size_t i, len;
	int ret;

	memset(chk, 0, sizeof(*chk));
	for (i = 0; i < sp->n_streams; i++) {
		ret = file_read_bounded(demo_stream_path(sp, i, path,
							 sizeof(path)),
					SPOOL_FILE_MAX, &buf, &len);
		res.why[0] = 0;
		if (!ret) {
			ret = sf_open_buf(buf, len, id, cmp_frame, &cmp, &res);
			sf_result_free(&res);
		}
		free(buf);
		if (ret && !chk->first_err) {
			chk->first_err = ret;
			snprintf(chk->why, sizeof(chk->why), "stream %zu: %s",
				 i + 1,
				 res.why[0] ? res.why : moat_strerror(ret));
		}
		chk->streams_ok += !ret;
	}
	return chk->first_err;
}

/* Sampled 32-byte windows (one per 256 bytes) of the units found in buf. */
static size_t scan_buf(const struct demo_clip *c, const uint8_t *buf,
		       size_t len)
{
	size_t j, off, hits = 0;

	for (j = 0; j < c->n_au; j++) {
		const struct annexb_au *au = &c->au[j];

		for (off = 4; off + 32 <= au->len; off += 256)
			hits += memmem(buf, len, au->p + off, 32) != NULL;
	}
	return hits;
}

size_t demo_scan_file(const struct demo_clip *c, const char *path)
{
	uint8_t *buf;
	size_t len, hits;

	if (file_read_bounded(path, SPOOL_FILE_MAX, &buf, &len))
		return 0;
	hits = scan_buf(c, buf, len);
	free(buf);
	return hits;
}

size_t demo_plaintext_hits(const struct demo_clip *c,
			   const struct demo_spool *sp)
{
	char path[512];
	size_t i, hits = 0;

	for (i = 0; i < sp->n_streams; i++)
		hits += demo_scan_file(c, demo_stream_path(sp, i, path,
							   sizeof(path)));
	return hits;
}
