// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bench/json.h"

struct bj_in {
	const char *start, *p, *end;
	char *why;
	size_t why_len;
};

static int bj_value(struct bj_in *in, struct bj *v, int depth);

static int fail(struct bj_in *in, const char *what)
{
	if (in->why && in->why_len)
		snprintf(in->why, in->why_len, "%s at byte offset %td", what,
			 in->p - in->start);
	return -EINVAL;
}

static void skip_ws(struct bj_in *in)
{
	while (in->p < in->end && isspace((unsigned char)*in->p))
		in->p++;
}

static bool take(struct bj_in *in, char c)
{
	skip_ws(in);
	if (in->p < in->end && *in->p == c) {
		in->p++;
		return true;
	}
	return false;
}

/* A string, escapes kept simple: \" \\ \/ \n \t and \uXXXX as '?'. */
static int bj_string(struct bj_in *in, char **out)
{
	const char *s = ++in->p; /* past the quote */
	char *o;
	size_t k = 0;

	while (in->p < in->end && *in->p != '"')
		in->p += *in->p == '\\' && in->p + 1 < in->end ? 2 : 1;
	if (in->p >= in->end)
		return fail(in, "unterminated string");
	o = malloc((size_t)(in->p - s) + 1);
	if (!o)
		return -ENOMEM;
	for (const char *q = s; q < in->p; q++) {
		if (*q != '\\') {
			o[k++] = *q;
			continue;
		}
		q++;
		o[k++] = *q == 'n' ? '\n' :
			 *q == 't' ? '\t' :
			 *q == 'u' ? '?' :
				     *q;
		if (*q == 'u')
			q += in->p - q > 4 ? 4 : in->p - q - 1;
	}
	o[k] = '\0';
	in->p++;
	*out = o;
	return 0;
}

static int add_kid(struct bj *v, struct bj **kid)
{
	struct bj *k = realloc(v->kids, (v->n + 1) * sizeof(*k));

	if (!k)
		return -ENOMEM;
	v->kids = k;
	*kid = &k[v->n++];
	memset(*kid, 0, sizeof(**kid));
	return 0;
}

/* The members or elements after '{' or '['. */
static int bj_list(struct bj_in *in, struct bj *v, int depth)
{
	char close = v->type == BJ_OBJ ? '}' : ']';
	struct bj *kid;
	char *key = NULL;
	int ret;

	if (take(in, close))
		return 0;
	do {
		skip_ws(in);
		if (v->type == BJ_OBJ) {
			if (in->p >= in->end || *in->p != '"')
				return fail(in, "expected a member name");
			ret = bj_string(in, &key);
			if (ret)
				return ret;
			if (!take(in, ':')) {
				free(key);
				return fail(in, "expected ':'");
			}
		}
		ret = add_kid(v, &kid);
		if (ret) {
			free(key);
			return ret;
		}
		kid->key = key;
		key = NULL;
		ret = bj_value(in, kid, depth + 1);
		if (ret)
			return ret;
	} while (take(in, ','));
	return take(in, close) ? 0 : fail(in, "expected ',' or a close");
}

static int bj_word(struct bj_in *in, struct bj *v)
{
	static const struct {
		const char *w;
		enum bj_type t;
		double n;
	} words[] = { { "true", BJ_BOOL, 1 },
		      { "false", BJ_BOOL, 0 },
		      { "null", BJ_NULL, 0 } };

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t l = strlen(words[i].w);

		if ((size_t)(in->end - in->p) >= l &&
		    !memcmp(in->p, words[i].w, l)) {
			v->type = words[i].t;
			v->num = words[i].n;
			in->p += l;
			return 0;
		}
	}
	return fail(in, "unexpected character");
}

static int bj_number(struct bj_in *in, struct bj *v)
{
	char buf[64], *end;
	size_t n = 0;

	while (in->p + n < in->end && n < sizeof(buf) - 1 &&
	       strchr("+-0123456789.eE", in->p[n]))
		n++;
	memcpy(buf, in->p, n);
	buf[n] = '\0';
	v->type = BJ_NUM;
	v->num = strtod(buf, &end);
	if (!n || end != buf + n)
		return fail(in, "bad number");
	in->p += n;
	return 0;
}

static int bj_value(struct bj_in *in, struct bj *v, int depth)
{
	if (depth > BJ_MAX_DEPTH)
		return fail(in, "nested too deep");
	skip_ws(in);
	if (in->p >= in->end)
		return fail(in, "unexpected end");
	switch (*in->p) {
	case '{':
	case '[':
		v->type = *in->p == '{' ? BJ_OBJ : BJ_ARR;
		in->p++;
		return bj_list(in, v, depth);
	case '"':
		v->type = BJ_STR;
		return bj_string(in, &v->str);
	case 't':
	case 'f':
	case 'n':
		return bj_word(in, v);
	default:
		return bj_number(in, v);
	}
}

struct bj *bj_parse(const char *text, size_t len, char *why, size_t why_len)
{
	struct bj_in in = { text, text, text + len, why, why_len };
	struct bj *v = calloc(1, sizeof(*v));

	if (!v)
		return NULL;
	if (bj_value(&in, v, 0)) {
		bj_free(v);
		return NULL;
	}
	skip_ws(&in);
	if (in.p != in.end) {
		fail(&in, "text after the value");
		bj_free(v);
		return NULL;
	}
	return v;
}

static void bj_clear(struct bj *v)
{
	for (size_t i = 0; i < v->n; i++)
		bj_clear(&v->kids[i]);
	free(v->kids);
	free(v->str);
	free(v->key);
}

void bj_free(struct bj *v)
{
	if (!v)
		return;
	bj_clear(v);
	free(v);
}

const struct bj *bj_get(const struct bj *v, const char *key)
{
	if (!v || v->type != BJ_OBJ)
		return NULL;
	for (size_t i = 0; i < v->n; i++)
		if (v->kids[i].key && !strcmp(v->kids[i].key, key))
			return &v->kids[i];
	return NULL;
}

const struct bj *bj_at(const struct bj *v, size_t i)
{
	return v && v->type == BJ_ARR && i < v->n ? &v->kids[i] : NULL;
}

double bj_num(const struct bj *v, const char *key, double def)
{
	const struct bj *k = bj_get(v, key);

	return k && (k->type == BJ_NUM || k->type == BJ_BOOL) ? k->num : def;
}

const char *bj_str(const struct bj *v, const char *key, const char *def)
{
	const struct bj *k = bj_get(v, key);

	return k && k->type == BJ_STR ? k->str : def;
}
