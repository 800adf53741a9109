// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-tamper: the relay as an attacker. It rewrites a stream stored by
 * moat-relay (DIR/<hub>/<stream>.moat, records as the hub sent them) the
 * way a relay that wants to fool a viewer could: flip a bit, drop or
 * duplicate or swap records, splice in another stream's record, add one
 * after the end, serve another stream under this one's name. The relay
 * holds no key, so this is everything it can do to stored video; the
 * viewer must refuse each, with the reason (tests/test_tamper.c).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/rd.h"
#include "crypto/stream.h"
#include "crypto/streamfile.h"

enum { RECS_MAX = 1 << 16 };

static const char usage[] =
	"usage: moat-tamper --file STREAM.moat --mode MODE [--with OTHER.moat]\n"
	"\n"
	"Rewrites one stream file of moat-relay's store in place, as a relay\n"
	"that attacks its viewers would. MODE is one of:\n"
	"  flip          one bit of a data record's ciphertext\n"
	"  flip-header   one bit of the stream header's key wraps\n"
	"  flip-id       one bit of a data record's stream id (cleartext, but\n"
	"                authenticated)\n"
	"  truncate      drop the final record\n"
	"  reorder       swap two data records\n"
	"  replay        send a data record twice\n"
	"  drop          leave a data record out\n"
	"  after-final   add a data record after the final one\n"
	"  splice        put OTHER's data record in this one's place (--with)\n"
	"  substitute    replace the whole stream with OTHER's (--with)\n"
	"The file is replaced atomically. Exit 0, or 1 with the reason.\n";

struct recs {
	uint8_t *buf;
	size_t len;
	const uint8_t *p[RECS_MAX];
	size_t n_len[RECS_MAX];
	size_t n;
};

static int load(const char *path, struct recs *r)
{
	struct rd rd;
	int ret = file_read_bounded(path, 256 << 20, &r->buf, &r->len);

	if (ret)
		return ret;
	rd_init(&rd, r->buf, r->len);
	while (r->n < RECS_MAX &&
	       (ret = sf_next(&rd, &r->p[r->n], &r->n_len[r->n])) == 1)
		r->n++;
	return ret < 0 ? ret : (r->n >= 4 ? 0 : -MOAT_E_LIMIT);
}

struct piece {
	const uint8_t *p;
	size_t len;
};

static int write_pieces(const char *path, const struct piece *pc, size_t n)
{
	size_t len = 0, off = 0;
	uint8_t *out;
	int ret;

	for (size_t i = 0; i < n; i++)
		len += pc[i].len;
	out = malloc(len ? len : 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		memcpy(out + off, pc[i].p, pc[i].len);
		off += pc[i].len;
	}
	ret = file_write_atomic(path, out, len, 0600);
	free(out);
	return ret;
}

/*
 * The stream's records as pieces, rewritten as mode says. Records: 0 the
 * stream header, 1 its metadata, 2.. frames, n-1 the final one.
 */
static int rewrite(const char *mode, struct recs *r, const struct recs *o,
		   struct piece *pc, size_t *n)
{
	size_t k = 0;

	for (size_t i = 0; i < r->n; i++)
		pc[k++] = (struct piece){ r->p[i], r->n_len[i] };
	if (!strcmp(mode, "flip") || !strcmp(mode, "flip-header") ||
	    !strcmp(mode, "flip-id")) {
		size_t at = !strcmp(mode, "flip-header") ? 0 : 2;
		uint8_t *p = (uint8_t *)r->p[at];

		if (!strcmp(mode, "flip-id"))
			p[8] ^= 0x01; /* the stream id, in the clear */
		else
			p[REC_HDR_LEN + (r->n_len[at] - REC_HDR_LEN) / 2] ^= 0x10;
	} else if (!strcmp(mode, "truncate")) {
		k--;
	} else if (!strcmp(mode, "reorder")) {
		pc[2] = (struct piece){ r->p[3], r->n_len[3] };
		pc[3] = (struct piece){ r->p[2], r->n_len[2] };
	} else if (!strcmp(mode, "replay")) {
		memmove(pc + 3, pc + 2, sizeof(*pc) * (k - 2));
		k++;
	} else if (!strcmp(mode, "drop")) {
		memmove(pc + 2, pc + 3, sizeof(*pc) * (k - 3));
		k--;
	} else if (!strcmp(mode, "after-final")) {
		pc[k++] = (struct piece){ r->p[2], r->n_len[2] };
	} else if (!strcmp(mode, "splice") && o) {
		pc[2] = (struct piece){ o->p[2], o->n_len[2] };
	} else if (!strcmp(mode, "substitute") && o) {
		k = 0;
		for (size_t i = 0; i < o->n; i++)
			pc[k++] = (struct piece){ o->p[i], o->n_len[i] };
	} else {
		return -EINVAL;
	}
	*n = k;
	return 0;
}

static int tamper(const char *path, const char *mode, const char *with)
{
	static struct recs r, o;
	static struct piece pc[RECS_MAX + 1];
	size_t n = 0;
	int ret = load(path, &r);

	if (!ret && with)
		ret = load(with, &o);
	if (ret) {
		fprintf(stderr, "moat-tamper: %s: %s\n", ret && with && r.n ? with : path,
			moat_strerror(ret));
		return 1;
	}
	if (rewrite(mode, &r, with ? &o : NULL, pc, &n)) {
		fprintf(stderr, "moat-tamper: unknown mode `%s'%s\n%s", mode,
			with ? "" : " (splice and substitute need --with)", usage);
		return 2;
	}
	ret = write_pieces(path, pc, n);
	free(r.buf);
	free(o.buf);
	if (ret) {
		fprintf(stderr, "moat-tamper: %s: %s\n", path, moat_strerror(ret));
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "with", required_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *file = NULL, *mode = NULL, *with = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'm':
			mode = optarg;
			break;
		case 'w':
			with = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!file || !mode || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	return tamper(file, mode, with);
}
