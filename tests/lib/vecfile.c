// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/hex.h"
#include "tests/lib/vecfile.h"

enum vec_section { SEC_NONE, SEC_SETUP, SEC_ENC, SEC_EXP };

struct vec_parser {
	struct vec_file *f;
	enum vec_section sec;
	bool group_open; /* a group of the current section is being filled */
	size_t line;
	bool quiet;
	char name[32]; /* pending field, "" if none */
	char text[2 * VEC_VALUE_MAX + 1];
	size_t text_len;
};

/* A field: where it goes in its struct, and whether it is decimal. */
struct vec_field {
	const char *name;
	size_t off;
	size_t set_off; /* decimal fields: offset of their bool */
	bool decimal;
};

#define HEX(s, f)                                   \
	{                                           \
#f, offsetof(struct s, f), 0, false \
	}
#define HEXN(n, s, f)                              \
	{                                          \
		n, offsetof(struct s, f), 0, false \
	}
#define DEC(n, s, f, b)                                               \
	{                                                             \
		n, offsetof(struct s, f), offsetof(struct s, b), true \
	}

static const struct vec_field setup_fields[] = {
	DEC("mode", vec_setup, mode, mode_set),
	DEC("kem_id", vec_setup, kem_id, kem_set),
	DEC("kdf_id", vec_setup, kdf_id, kdf_set),
	DEC("aead_id", vec_setup, aead_id, aead_set),
	HEX(vec_setup, info),
	HEX(vec_setup, ikmE),
	HEX(vec_setup, pkEm),
	HEX(vec_setup, skEm),
	HEX(vec_setup, ikmR),
	HEX(vec_setup, pkRm),
	HEX(vec_setup, skRm),
	HEX(vec_setup, ikmS),
	HEX(vec_setup, pkSm),
	HEX(vec_setup, skSm),
	HEX(vec_setup, psk),
	HEX(vec_setup, psk_id),
	HEX(vec_setup, enc),
	HEX(vec_setup, shared_secret),
	HEX(vec_setup, key_schedule_context),
	HEX(vec_setup, secret),
	HEX(vec_setup, key),
	HEX(vec_setup, base_nonce),
	HEX(vec_setup, exporter_secret),
	{ NULL, 0, 0, false },
};

static const struct vec_field enc_fields[] = {
	DEC("sequence number", vec_enc, seq, seq_set),
	HEX(vec_enc, pt),
	HEX(vec_enc, aad),
	HEX(vec_enc, nonce),
	HEX(vec_enc, ct),
	{ NULL, 0, 0, false },
};

static const struct vec_field exp_fields[] = {
	HEXN("exporter_context", vec_exp, ctx),
	DEC("L", vec_exp, L, L_set),
	HEXN("exported_value", vec_exp, value),
	{ NULL, 0, 0, false },
};

__attribute__((format(printf, 2, 3))) static int
vec_err(const struct vec_parser *p, const char *fmt, ...)
{
	va_list ap;

	if (p->quiet)
		return -EINVAL;
	fprintf(stderr, "vectors: line %zu: ", p->line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

static struct vec_setup *cur_setup(struct vec_parser *p)
{
	return p->f->n ? &p->f->setups[p->f->n - 1] : NULL;
}

/* The struct the pending field goes into, and its field table. */
static void *field_target(struct vec_parser *p, const struct vec_field **table)
{
	struct vec_setup *s = cur_setup(p);

	if (!s)
		return NULL;
	switch (p->sec) {
	case SEC_SETUP:
		*table = setup_fields;
		return s;
	case SEC_ENC:
		*table = enc_fields;
		return s->n_enc ? &s->encs[s->n_enc - 1] : NULL;
	case SEC_EXP:
		*table = exp_fields;
		return s->n_exp ? &s->exps[s->n_exp - 1] : NULL;
	default:
		return NULL;
	}
}

static int store_decimal(struct vec_parser *p, uint8_t *base,
			 const struct vec_field *fd)
{
	uint64_t v = 0;
	size_t i;

	if (!p->text_len || p->text_len > 12)
		return vec_err(p, "`%s' is not a number", p->name);
	for (i = 0; i < p->text_len; i++) {
		if (p->text[i] < '0' || p->text[i] > '9')
			return vec_err(p, "`%s' is not a number", p->name);
		v = v * 10 + (uint64_t)(p->text[i] - '0');
	}
	if (*(bool *)(base + fd->set_off))
		return vec_err(p, "`%s' given twice", p->name);
	memcpy(base + fd->off, &v, sizeof(v));
	*(bool *)(base + fd->set_off) = true;
	return 0;
}

static int store_hex(struct vec_parser *p, struct vec_buf *b)
{
	long n;

	if (b->set)
		return vec_err(p, "`%s' given twice", p->name);
	b->p = malloc(p->text_len / 2 + 1);
	if (!b->p)
		return -ENOMEM;
	n = hex_decode(b->p, VEC_VALUE_MAX, p->text, p->text_len);
	if (n < 0)
		return vec_err(p, "`%s' is not whole bytes of hex", p->name);
	b->len = (size_t)n;
	b->set = true;
	return 0;
}

/* Stores the pending field, if any. */
static int flush(struct vec_parser *p)
{
	const struct vec_field *table = NULL, *fd;
	uint8_t *base;

	if (!p->name[0])
		return 0;
	base = field_target(p, &table);
	if (!base)
		return vec_err(p, "`%s' outside a setup or group", p->name);
	for (fd = table; fd->name; fd++)
		if (!strcmp(fd->name, p->name))
			break;
	if (!fd->name)
		return vec_err(p, "unknown field `%s'", p->name);
	p->name[0] = '\0';
	if (fd->decimal)
		return store_decimal(p, base, fd);
	return store_hex(p, (struct vec_buf *)(base + fd->off));
}

static int append_text(struct vec_parser *p, const char *s, size_t n)
{
	if (n > sizeof(p->text) - 1 - p->text_len)
		return vec_err(p, "value of `%s' longer than %d bytes", p->name,
			       VEC_VALUE_MAX);
	memcpy(p->text + p->text_len, s, n);
	p->text_len += n;
	return 0;
}

/* Appends a new element to an array of at most VEC_GROUPS_MAX. */
static void *grow(void **arr, size_t *n, size_t size, size_t max)
{
	uint8_t *q;

	if (*n == max)
		return NULL;
	q = realloc(*arr, (*n + 1) * size);
	if (!q)
		return NULL;
	memset(q + *n * size, 0, size);
	*arr = q;
	return q + (*n)++ * size;
}

static int heading(struct vec_parser *p, const char *l, size_t n)
{
	struct vec_setup *s;

	p->group_open = false;
	if (n >= 4 && !memcmp(l, "### ", 4) &&
	    memmem(l, n, "Setup Information", 17)) {
		if (!grow((void **)&p->f->setups, &p->f->n,
			  sizeof(*p->f->setups), VEC_SETUPS_MAX))
			return vec_err(p, "more than %d setups",
				       VEC_SETUPS_MAX);
		p->sec = SEC_SETUP;
		return 0;
	}
	s = cur_setup(p);
	if (n == 16 && !memcmp(l, "#### Encryptions", 16))
		p->sec = s ? SEC_ENC : SEC_NONE;
	else if (n == 20 && !memcmp(l, "#### Exported Values", 20))
		p->sec = s ? SEC_EXP : SEC_NONE;
	else
		p->sec = SEC_NONE;
	return 0;
}

/* "name: value": starts a field (and a group in the group sections). */
static int field_line(struct vec_parser *p, const char *l, size_t n,
		      const char *colon)
{
	struct vec_setup *s = cur_setup(p);
	size_t nl = (size_t)(colon - l);
	const char *v = colon + 1;

	if (!nl || nl >= sizeof(p->name))
		return vec_err(p, "field name of %zu bytes", nl);
	if (p->sec == SEC_NONE || !s)
		return vec_err(p, "field outside a setup");
	if (p->sec != SEC_SETUP && !p->group_open) {
		bool enc = p->sec == SEC_ENC;

		if (!(enc ? grow((void **)&s->encs, &s->n_enc, sizeof(*s->encs),
				 VEC_GROUPS_MAX) :
			    grow((void **)&s->exps, &s->n_exp, sizeof(*s->exps),
				 VEC_GROUPS_MAX)))
			return vec_err(p, "more than %d groups",
				       VEC_GROUPS_MAX);
		p->group_open = true;
	}
	memcpy(p->name, l, nl);
	p->name[nl] = '\0';
	p->text_len = 0;
	while (v < l + n && *v == ' ')
		v++;
	return append_text(p, v, (size_t)(l + n - v));
}

static bool all_hex(const char *l, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdefABCDEF", l[i]) || !l[i])
			return false;
	return n > 0;
}

static int vec_line(struct vec_parser *p, const char *l, size_t n)
{
	const char *colon = memchr(l, ':', n);
	int ret;

	while (n && (l[n - 1] == ' ' || l[n - 1] == '\r'))
		n--;
	if (all_hex(l, n) && p->name[0])
		return append_text(p, l, n);
	ret = flush(p);
	if (ret)
		return ret;
	if (!n) {
		p->group_open = false;
		return 0;
	}
	if (l[0] == '#')
		return heading(p, l, n);
	if (n == 3 && !memcmp(l, "~~~", 3))
		return 0;
	if (colon)
		return field_line(p, l, n, colon);
	return vec_err(p, "unexpected text");
}

int vec_parse(const char *text, size_t len, bool quiet, struct vec_file *f)
{
	struct vec_parser *p;
	size_t off = 0;
	int ret = 0;

	memset(f, 0, sizeof(*f));
	if (len > VEC_FILE_MAX)
		return -EFBIG;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->f = f;
	p->quiet = quiet;
	while (off < len && !ret) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - text - off) : len - off;

		p->line++;
		ret = vec_line(p, text + off, n);
		off += n + (nl ? 1 : 0);
	}
	if (!ret)
		ret = flush(p);
	free(p);
	if (ret)
		vec_free(f);
	return ret;
}

int vec_load(const char *path, struct vec_file *f)
{
	uint8_t *buf;
	size_t len;
	int ret;

	memset(f, 0, sizeof(*f));
	ret = file_read_bounded(path, VEC_FILE_MAX, &buf, &len);
	if (ret) {
		fprintf(stderr, "vectors: %s: %s\n", path, strerror(-ret));
		return ret;
	}
	ret = vec_parse((const char *)buf, len, false, f);
	free(buf);
	return ret;
}

static void buf_free(struct vec_buf *b)
{
	free(b->p);
}

void vec_free(struct vec_file *f)
{
	size_t i, j;

	if (!f)
		return;
	for (i = 0; i < f->n; i++) {
		struct vec_setup *s = &f->setups[i];
		struct vec_buf *b;

		for (b = &s->info; b <= &s->exporter_secret; b++)
			buf_free(b);
		for (j = 0; j < s->n_enc; j++) {
			buf_free(&s->encs[j].pt);
			buf_free(&s->encs[j].aad);
			buf_free(&s->encs[j].nonce);
			buf_free(&s->encs[j].ct);
		}
		for (j = 0; j < s->n_exp; j++) {
			buf_free(&s->exps[j].ctx);
			buf_free(&s->exps[j].value);
		}
		free(s->encs);
		free(s->exps);
	}
	free(f->setups);
	memset(f, 0, sizeof(*f));
}
