// SPDX-License-Identifier: GPL-2.0-only
/*
 * Key files (crypto/keystore.h). One table of fields per kind of file
 * drives both the writer and the parser; the parser reads untrusted bytes
 * line by line through the bounded reader and checks the version, then the
 * checksum, then every field.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/rd.h"
#include "crypto/hpke.h"
#include "crypto/keystore.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum {
	KS_SUM_LEN = 32, /* SHA-256 */
	KS_MAX_FIELDS = 8,
	KS_TEXT_MAX = 4096, /* a written file is under 2 KiB */
	KS_ID_HEX = 2 * SEAL_VIEWER_ID_LEN,
	KS_STORE_EXCL = 1U << 0, /* create only: never replace */
};

static const char ks_magic[] = "moat-keyfile ";
static const char ks_sum_tag[] = "checksum ";
static const char ks_viewer_ext[] = ".viewer";
static const char ks_damaged[] =
	"the file is damaged: restore it from backup (moat never replaces a damaged key file)";

enum ks_type {
	KS_T_HEX,   /* lowercase hex, exactly len bytes */
	KS_T_NAME,  /* char[KS_NAME_MAX + 1] */
	KS_T_STATE, /* enum ks_viewer_state */
	KS_T_TIME,  /* int64_t unix seconds */
	KS_T_KEY,   /* struct ks_identity keys, repeated */
};

struct ks_field {
	const char *name;
	enum ks_type type;
	size_t off; /* in the struct of the kind */
	size_t len; /* KS_T_HEX: bytes */
	bool optional; /* KS_T_HEX: may be missing (then all zero, and an
			* all-zero value is not written) */
};

struct ks_parse;

struct ks_kind {
	const char *kind; /* on the `kind' line */
	const char *what; /* in messages */
	size_t size;	  /* of the struct parsed into */
	const struct ks_field *fields;
	size_t n_fields;
	int (*check)(struct ks_parse *p, const void *out);
};

struct ks_parse {
	const char *name;   /* for messages */
	unsigned int flags; /* KS_QUIET */
	const struct ks_kind *kind;
	struct rd rd;			/* the lines before the checksum */
	unsigned int line;		/* number of the line being parsed */
	unsigned int at[KS_MAX_FIELDS]; /* line of each field seen, or 0 */
};

/* The bytes of a file being written. */
struct ks_text {
	char buf[KS_TEXT_MAX];
	size_t len;
	bool full;
};

static int ks_hub_check(struct ks_parse *p, const void *out);
static int ks_login_check(struct ks_parse *p, const void *out);
static int ks_identity_check(struct ks_parse *p, const void *out);

enum { KS_HUB_SK, KS_HUB_PK };

static const struct ks_field ks_hub_fields[] = {
	[KS_HUB_SK] = { .name = "secret-key",
			.type = KS_T_HEX,
			.off = offsetof(struct seal_hub_key, sk),
			.len = SEAL_KEY_LEN },
	[KS_HUB_PK] = { .name = "public-key",
			.type = KS_T_HEX,
			.off = offsetof(struct seal_hub_key, pk),
			.len = SEAL_KEY_LEN },
};

static const struct ks_field ks_viewer_fields[] = {
	{ .name = "viewer-id",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_viewer, rcpt.viewer_id),
	  .len = SEAL_VIEWER_ID_LEN },
	{ .name = "name",
	  .type = KS_T_NAME,
	  .off = offsetof(struct ks_viewer, name),
	  .len = 0 },
	{ .name = "state",
	  .type = KS_T_STATE,
	  .off = offsetof(struct ks_viewer, state),
	  .len = 0 },
	{ .name = "added",
	  .type = KS_T_TIME,
	  .off = offsetof(struct ks_viewer, added),
	  .len = 0 },
	{ .name = "public-key",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_viewer, rcpt.pk),
	  .len = SEAL_KEY_LEN },
	{ .name = "psk",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_viewer, rcpt.psk),
	  .len = SEAL_PSK_LEN },
	{ .name = "login-key",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_viewer, login_pk),
	  .len = LOGIN_KEY_LEN,
	  .optional = true },
	/* optional: written once a heartbeat was applied (len is for the
	 * all-zero test of optional fields) */
	{ .name = "heartbeat",
	  .type = KS_T_TIME,
	  .off = offsetof(struct ks_viewer, heartbeat_us),
	  .len = sizeof(int64_t),
	  .optional = true },
};

enum { KS_LOGIN_SK, KS_LOGIN_PK };

static const struct ks_field ks_login_fields[] = {
	[KS_LOGIN_SK] = { .name = "secret-key",
			  .type = KS_T_HEX,
			  .off = offsetof(struct login_key, sk),
			  .len = LOGIN_KEY_LEN },
	[KS_LOGIN_PK] = { .name = "public-key",
			  .type = KS_T_HEX,
			  .off = offsetof(struct login_key, pk),
			  .len = LOGIN_KEY_LEN },
};

enum { KS_ID_LOGIN_SK = 5, KS_ID_LOGIN_PK };

static const struct ks_field ks_identity_fields[] = {
	{ .name = "hub-public-key",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_identity, hub_pk),
	  .len = SEAL_KEY_LEN },
	{ .name = "viewer-id",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_identity, viewer_id),
	  .len = SEAL_VIEWER_ID_LEN },
	{ .name = "psk",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_identity, psk),
	  .len = SEAL_PSK_LEN },
	{ .name = "name",
	  .type = KS_T_NAME,
	  .off = offsetof(struct ks_identity, name),
	  .len = 0 },
	{ .name = "key", .type = KS_T_KEY, .off = 0, .len = 0 },
	[KS_ID_LOGIN_SK] = { .name = "login-secret-key",
			     .type = KS_T_HEX,
			     .off = offsetof(struct ks_identity, login.sk),
			     .len = LOGIN_KEY_LEN,
			     .optional = true },
	[KS_ID_LOGIN_PK] = { .name = "login-public-key",
			     .type = KS_T_HEX,
			     .off = offsetof(struct ks_identity, login.pk),
			     .len = LOGIN_KEY_LEN,
			     .optional = true },
	{ .name = "hub-login-key",
	  .type = KS_T_HEX,
	  .off = offsetof(struct ks_identity, hub_login_pk),
	  .len = LOGIN_KEY_LEN,
	  .optional = true },
};

static const struct ks_kind ks_hub_kind = {
	"hub",
	"hub key",
	sizeof(struct seal_hub_key),
	ks_hub_fields,
	ARRAY_SIZE(ks_hub_fields),
	ks_hub_check,
};

static const struct ks_kind ks_viewer_kind = {
	"viewer",
	"viewer",
	sizeof(struct ks_viewer),
	ks_viewer_fields,
	ARRAY_SIZE(ks_viewer_fields),
	NULL,
};

static const struct ks_kind ks_identity_kind = {
	"identity",
	"viewer identity",
	sizeof(struct ks_identity),
	ks_identity_fields,
	ARRAY_SIZE(ks_identity_fields),
	ks_identity_check,
};

static const struct ks_kind ks_login_kind = {
	"login",
	"relay login key",
	sizeof(struct login_key),
	ks_login_fields,
	ARRAY_SIZE(ks_login_fields),
	ks_login_check,
};

static const struct ks_kind *const ks_kinds[] = {
	&ks_hub_kind,
	&ks_viewer_kind,
	&ks_identity_kind,
	&ks_login_kind,
};

/* ---- small helpers ---- */

static const char *ks_state_name(enum ks_viewer_state s)
{
	switch (s) {
	case KS_VIEWER_PENDING:
		return "pending";
	case KS_VIEWER_APPROVED:
		return "approved";
	}
	return NULL;
}

static bool ks_eq(const uint8_t *s, size_t n, const char *str)
{
	return n == strlen(str) && !memcmp(s, str, n);
}

static bool ks_lower_hex(const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* Decodes exactly 2 * n lowercase hex digits (one spelling per value). */
static bool ks_hex(uint8_t *out, size_t n, const uint8_t *s, size_t len)
{
	return len == 2 * n && ks_lower_hex(s, len) &&
	       hex_decode(out, n, (const char *)s, len) == (long)n;
}

/* Decimal 0 .. INT64_MAX: digits only, no leading zero. */
static bool ks_dec(const uint8_t *s, size_t n, int64_t *v)
{
	size_t i;

	*v = 0;
	if (!n || n > 19 || (s[0] == '0' && n > 1))
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (*v > (INT64_MAX - (s[i] - '0')) / 10)
			return false;
		*v = *v * 10 + (s[i] - '0');
	}
	return true;
}

/* Length of the UTF-8 sequence at s (n > 0 bytes left), 0 if invalid. */
static size_t ks_utf8_len(const uint8_t *s, size_t n, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t len, i;

	if (c < 0x80)
		len = 1, min = 0;
	else if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* What is wrong with a display name, or NULL if nothing. */
static const char *ks_name_problem(const uint8_t *s, size_t n)
{
	uint32_t cp = 0;
	size_t i, k;

	if (!n)
		return "is empty";
	if (n > KS_NAME_MAX)
		return "is longer than 63 bytes";
	for (i = 0; i < n; i += k) {
		k = ks_utf8_len(s + i, n - i, &cp);
		if (!k)
			return "is not valid UTF-8";
		if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
			return "contains a control character or newline";
	}
	return NULL;
}

/* What is wrong with the keys of an identity to be written, or NULL. */
static const char *ks_keys_problem(const struct ks_identity *id)
{
	uint8_t pk[SEAL_KEY_LEN];
	const char *why = NULL;
	size_t i;

	if (!id->n_keys || id->n_keys > KS_MAX_KEYS)
		return "must hold 1 to 8 keys";
	for (i = 0; i < id->n_keys && !why; i++) {
		if (id->key_created[i] < 0)
			why = "has a creation time before 1970";
		else if (hpke_public_key(id->keys[i].sk, pk) ||
			 CRYPTO_memcmp(pk, id->keys[i].pk, SEAL_KEY_LEN))
			why = "has a public key that does not match its secret key";
	}
	OPENSSL_cleanse(pk, sizeof(pk));
	return why;
}

/* ---- parser ---- */

static const char *ks_advice(int err)
{
	if (err == -MOAT_E_VERSION)
		return "it was written by a newer moat: upgrade moat to read it";
	if (err == -MOAT_E_CORRUPT)
		return ks_damaged;
	return moat_strerror(err);
}

/* Prints one line about p's input (unless quiet) and returns err. */
__attribute__((format(printf, 3, 4))) static int
ks_fail(const struct ks_parse *p, int err, const char *fmt, ...)
{
	char what[256], where[32] = "";
	va_list ap;

	if (p->flags & KS_QUIET)
		return err;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (p->line)
		snprintf(where, sizeof(where), "line %u: ", p->line);
	log_err("keystore: %s: %s%s; %s", p->name, where, what, ks_advice(err));
	return err;
}

/* Next line of p->rd without its newline; false if no whole line is left. */
static bool ks_line(struct ks_parse *p, const uint8_t **s, size_t *n)
{
	size_t left = rd_left(&p->rd);
	const uint8_t *q = rd_peek(&p->rd, left);
	const uint8_t *nl = left ? memchr(q, '\n', left) : NULL;

	if (!nl)
		return false;
	*s = q;
	*n = (size_t)(nl - q);
	rd_take(&p->rd, *n + 1);
	p->line++;
	return true;
}

static int ks_parse_version(struct ks_parse *p, const uint8_t *buf, size_t len)
{
	const size_t m = sizeof(ks_magic) - 1;
	const uint8_t *s;
	int64_t v;
	size_t n;

	rd_init(&p->rd, buf, len);
	if (!len)
		return ks_fail(p, -MOAT_E_CORRUPT, "the file is empty");
	p->line = 1;
	if (memcmp(buf, ks_magic, len < m ? len : m))
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"not a moat key file (it does not start with `moat-keyfile')");
	p->line = 0;
	if (!ks_line(p, &s, &n)) {
		p->line = 1;
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"the first line is incomplete: the file is truncated");
	}
	if (!ks_dec(s + m, n - m, &v))
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "the version is not a number");
	if (v != KS_VERSION)
		return ks_fail(p, -MOAT_E_VERSION,
			       "key file version %" PRId64
			       " is not supported (this moat reads version %d)",
			       v, KS_VERSION);
	return 0;
}

/* Checks the last line, the checksum; *end is where that line starts. */
static int ks_check_sum(struct ks_parse *p, const uint8_t *buf, size_t len,
			size_t *end)
{
	const size_t m = sizeof(ks_sum_tag) - 1;
	uint8_t want[KS_SUM_LEN], got[KS_SUM_LEN];
	const uint8_t *nl;
	size_t i, start;

	for (p->line = 0, i = 0; i < len; i++)
		p->line += buf[i] == '\n';
	if (buf[len - 1] != '\n') {
		p->line++;
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"the last line is incomplete: the file is truncated");
	}
	nl = memrchr(buf, '\n', len - 1);
	start = nl ? (size_t)(nl - buf) + 1 : 0;
	if (!start || len - 1 - start < m || memcmp(buf + start, ks_sum_tag, m))
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"the file does not end with its checksum line: it is truncated");
	if (!ks_hex(want, sizeof(want), buf + start + m, len - 1 - start - m))
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "the checksum is not %d lowercase hex digits",
			       2 * KS_SUM_LEN);
	if (EVP_Digest(buf, start, got, NULL, EVP_sha256(), NULL) != 1)
		return ks_fail(p, -MOAT_E_CRYPTO,
			       "cannot compute the checksum");
	if (CRYPTO_memcmp(want, got, sizeof(got)))
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "the checksum does not match the contents");
	*end = start;
	return 0;
}

static int ks_parse_kind(struct ks_parse *p)
{
	const uint8_t *s = NULL;
	size_t n = 0, i;

	if (!ks_line(p, &s, &n) || n < 5 || memcmp(s, "kind ", 5)) {
		p->line = 2;
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "the second line is not `kind %s'",
			       p->kind->kind);
	}
	for (i = 0; i < ARRAY_SIZE(ks_kinds); i++) {
		if (!ks_eq(s + 5, n - 5, ks_kinds[i]->kind))
			continue;
		if (ks_kinds[i] == p->kind)
			return 0;
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "this is a %s file, not a %s file (wrong path?)",
			       ks_kinds[i]->what, p->kind->what);
	}
	return ks_fail(p, -MOAT_E_CORRUPT, "unknown kind (expected `kind %s')",
		       p->kind->kind);
}

/* The public key pub() computes from sk must be pk (32 bytes each). */
static int ks_check_pair_by(struct ks_parse *p,
			    int (*pub)(const uint8_t *sk, uint8_t *pk),
			    const uint8_t *sk, const uint8_t *pk,
			    const char *field)
{
	uint8_t want[SEAL_KEY_LEN];
	int ret;

	_Static_assert((int)SEAL_KEY_LEN == (int)LOGIN_KEY_LEN,
		       "both 32-byte keys");
	ret = pub(sk, want);
	if (ret)
		ret = ks_fail(p, ret, "cannot compute the public key of `%s'",
			      field);
	else if (CRYPTO_memcmp(want, pk, SEAL_KEY_LEN))
		ret = ks_fail(
			p, -MOAT_E_CORRUPT,
			"field `%s': the public key does not match the secret key",
			field);
	OPENSSL_cleanse(want, sizeof(want));
	return ret;
}

static int ks_check_pair(struct ks_parse *p, const uint8_t *sk,
			 const uint8_t *pk, const char *field)
{
	return ks_check_pair_by(p, hpke_public_key, sk, pk, field);
}

static int ks_hub_check(struct ks_parse *p, const void *out)
{
	const struct seal_hub_key *hub = out;

	p->line = p->at[KS_HUB_PK];
	return ks_check_pair(p, hub->sk, hub->pk, "public-key");
}

static int ks_login_check(struct ks_parse *p, const void *out)
{
	const struct login_key *k = out;

	p->line = p->at[KS_LOGIN_PK];
	return ks_check_pair_by(p, login_public, k->sk, k->pk, "public-key");
}

/* The relay login key is optional (files from before it), but whole. */
static int ks_identity_check(struct ks_parse *p, const void *out)
{
	const struct ks_identity *id = out;
	bool sk = p->at[KS_ID_LOGIN_SK], pk = p->at[KS_ID_LOGIN_PK];

	if (!sk && !pk)
		return 0;
	p->line = sk ? p->at[KS_ID_LOGIN_SK] : p->at[KS_ID_LOGIN_PK];
	if (!sk || !pk)
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "field `%s' without `%s'",
			       sk ? "login-secret-key" : "login-public-key",
			       sk ? "login-public-key" : "login-secret-key");
	p->line = p->at[KS_ID_LOGIN_PK];
	return ks_check_pair_by(p, login_public, id->login.sk, id->login.pk,
				"login-public-key");
}

static int ks_parse_hex(struct ks_parse *p, const struct ks_field *f,
			const uint8_t *v, size_t n, uint8_t *dst)
{
	if (n % 2 || !ks_lower_hex(v, n))
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "field `%s' is not lowercase hex", f->name);
	if (n / 2 != f->len)
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "field `%s' is %zu bytes, expected %zu", f->name,
			       n / 2, f->len);
	hex_decode(dst, f->len, (const char *)v, n);
	return 0;
}

/* key <created> <secret key hex> <public key hex> */
static int ks_parse_key(struct ks_parse *p, const uint8_t *v, size_t n,
			struct ks_identity *id)
{
	const size_t h = 2 * SEAL_KEY_LEN;
	const uint8_t *sp = memchr(v, ' ', n);
	size_t t = sp ? (size_t)(sp - v) : n;
	struct open_key *k;
	int64_t created;

	if (id->n_keys == KS_MAX_KEYS)
		return ks_fail(p, -MOAT_E_CORRUPT, "more than %d keys",
			       KS_MAX_KEYS);
	k = &id->keys[id->n_keys];
	if (!sp || !ks_dec(v, t, &created))
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"field `key' does not start with its creation time");
	if (n - t != 2 + 2 * h || v[t + 1 + h] != ' ' ||
	    !ks_hex(k->sk, SEAL_KEY_LEN, v + t + 1, h) ||
	    !ks_hex(k->pk, SEAL_KEY_LEN, v + t + 2 + h, h))
		return ks_fail(
			p, -MOAT_E_CORRUPT,
			"field `key' is not `<created> <secret key> <public key>' in lowercase hex");
	id->key_created[id->n_keys++] = created;
	return ks_check_pair(p, k->sk, k->pk, "key");
}

static int ks_parse_value(struct ks_parse *p, const struct ks_field *f,
			  const uint8_t *v, size_t n, uint8_t *out)
{
	const char *why;
	int64_t t;

	switch (f->type) {
	case KS_T_HEX:
		return ks_parse_hex(p, f, v, n, out + f->off);
	case KS_T_NAME:
		why = ks_name_problem(v, n);
		if (why)
			return ks_fail(p, -MOAT_E_CORRUPT, "field `%s' %s",
				       f->name, why);
		memcpy(out + f->off, v, n);
		return 0;
	case KS_T_STATE:
		if (ks_eq(v, n, "pending") || ks_eq(v, n, "approved")) {
			*(enum ks_viewer_state *)(out + f->off) =
				v[0] == 'p' ? KS_VIEWER_PENDING :
					      KS_VIEWER_APPROVED;
			return 0;
		}
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "field `%s' is not `pending' or `approved'",
			       f->name);
	case KS_T_TIME:
		if (!ks_dec(v, n, &t))
			return ks_fail(
				p, -MOAT_E_CORRUPT,
				"field `%s' is not a time in unix seconds",
				f->name);
		*(int64_t *)(out + f->off) = t;
		return 0;
	case KS_T_KEY:
		return ks_parse_key(p, v, n, (struct ks_identity *)out);
	}
	return -EINVAL;
}

static const struct ks_field *ks_field_find(const struct ks_kind *k,
					    const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < k->n_fields; i++)
		if (ks_eq(s, n, k->fields[i].name))
			return &k->fields[i];
	return NULL;
}

static int ks_unknown_field(struct ks_parse *p, const uint8_t *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i <= 32; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '-' ||
		      (s[i] >= '0' && s[i] <= '9')))
			break;
	if (!n || i < n)
		return ks_fail(p, -MOAT_E_CORRUPT,
			       "not a `<field> <value>' line");
	return ks_fail(p, -MOAT_E_CORRUPT, "unknown field `%.*s'", (int)n,
		       (const char *)s);
}

static int ks_parse_fields(struct ks_parse *p, uint8_t *out)
{
	const struct ks_field *f;
	const uint8_t *s, *sp;
	size_t n, k, i;
	int ret;

	while (ks_line(p, &s, &n)) {
		sp = memchr(s, ' ', n);
		k = sp ? (size_t)(sp - s) : n;
		f = sp ? ks_field_find(p->kind, s, k) : NULL;
		if (!f)
			return ks_unknown_field(p, s, k);
		i = (size_t)(f - p->kind->fields);
		if (p->at[i] && f->type != KS_T_KEY)
			return ks_fail(
				p, -MOAT_E_CORRUPT,
				"field `%s' appears twice (also on line %u)",
				f->name, p->at[i]);
		p->at[i] = p->line;
		ret = ks_parse_value(p, f, sp + 1, (size_t)(s + n - sp - 1),
				     out);
		if (ret)
			return ret;
	}
	p->line = 0;
	for (i = 0; i < p->kind->n_fields; i++)
		if (!p->at[i] && !p->kind->fields[i].optional)
			return ks_fail(p, -MOAT_E_CORRUPT,
				       "field `%s' is missing",
				       p->kind->fields[i].name);
	return 0;
}

/* Parses buf[0 .. end): the lines before the checksum line. */
static int ks_parse_body(struct ks_parse *p, const uint8_t *buf, size_t end,
			 void *out)
{
	const uint8_t *s;
	size_t n;
	int ret;

	rd_init(&p->rd, buf, end);
	p->line = 0;
	ks_line(p, &s, &n); /* the version, checked already */
	ret = ks_parse_kind(p);
	if (!ret)
		ret = ks_parse_fields(p, out);
	return ret;
}

static int ks_parse(const struct ks_kind *k, const char *name,
		    const uint8_t *buf, size_t len, unsigned int flags,
		    void *out)
{
	struct ks_parse p = { .name = name ? name : "(key file)",
			      .flags = flags,
			      .kind = k };
	size_t end = 0;
	int ret;

	memset(out, 0, k->size);
	if (len > KS_FILE_MAX)
		ret = ks_fail(&p, -MOAT_E_CORRUPT,
			      "larger than %d bytes: not a moat key file",
			      KS_FILE_MAX);
	else
		ret = ks_parse_version(&p, buf, len);
	if (!ret)
		ret = ks_check_sum(&p, buf, len, &end);
	if (!ret)
		ret = ks_parse_body(&p, buf, end, out);
	if (!ret && k->check)
		ret = k->check(&p, out);
	if (ret)
		OPENSSL_cleanse(out, k->size);
	return ret;
}

int ks_parse_hub(const char *name, const uint8_t *buf, size_t len,
		 unsigned int flags, struct seal_hub_key *hub)
{
	return ks_parse(&ks_hub_kind, name, buf, len, flags, hub);
}

int ks_parse_viewer(const char *name, const uint8_t *buf, size_t len,
		    unsigned int flags, struct ks_viewer *v)
{
	return ks_parse(&ks_viewer_kind, name, buf, len, flags, v);
}

int ks_parse_identity(const char *name, const uint8_t *buf, size_t len,
		      unsigned int flags, struct ks_identity *id)
{
	return ks_parse(&ks_identity_kind, name, buf, len, flags, id);
}

int ks_parse_login(const char *name, const uint8_t *buf, size_t len,
		   unsigned int flags, struct login_key *k)
{
	return ks_parse(&ks_login_kind, name, buf, len, flags, k);
}

/* ---- writer ---- */

__attribute__((format(printf, 2, 3))) static void ks_put(struct ks_text *t,
							 const char *fmt, ...)
{
	size_t room = sizeof(t->buf) - t->len;
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		t->full = true;
	else
		t->len += (size_t)n;
}

static bool ks_all_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;

	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return !acc;
}

static void ks_put_hex(struct ks_text *t, const uint8_t *p, size_t n)
{
	if (t->full || 2 * n >= sizeof(t->buf) - t->len) {
		t->full = true;
		return;
	}
	hex_encode(t->buf + t->len, p, n);
	t->len += 2 * n;
}

static void ks_put_keys(struct ks_text *t, const char *name,
			const struct ks_identity *id)
{
	size_t i;

	for (i = 0; i < id->n_keys; i++) {
		ks_put(t, "%s %" PRId64 " ", name, id->key_created[i]);
		ks_put_hex(t, id->keys[i].sk, SEAL_KEY_LEN);
		ks_put(t, " ");
		ks_put_hex(t, id->keys[i].pk, SEAL_KEY_LEN);
		ks_put(t, "\n");
	}
}

static void ks_put_field(struct ks_text *t, const struct ks_field *f,
			 const uint8_t *in)
{
	const uint8_t *v = in + f->off;

	if (f->type == KS_T_KEY) {
		ks_put_keys(t, f->name, (const struct ks_identity *)in);
		return;
	}
	if (f->optional && ks_all_zero(v, f->len))
		return;
	ks_put(t, "%s ", f->name);
	switch (f->type) {
	case KS_T_HEX:
		ks_put_hex(t, v, f->len);
		break;
	case KS_T_NAME:
		ks_put(t, "%s", (const char *)v);
		break;
	case KS_T_STATE:
		ks_put(t, "%s",
		       ks_state_name(*(const enum ks_viewer_state *)v));
		break;
	case KS_T_TIME:
		ks_put(t, "%" PRId64, *(const int64_t *)v);
		break;
	case KS_T_KEY:
		break;
	}
	ks_put(t, "\n");
}

static int ks_format(const struct ks_kind *k, const void *in, struct ks_text *t)
{
	uint8_t sum[KS_SUM_LEN];
	size_t i;

	ks_put(t, "%s%d\nkind %s\n", ks_magic, KS_VERSION, k->kind);
	for (i = 0; i < k->n_fields; i++)
		ks_put_field(t, &k->fields[i], in);
	if (t->full)
		return -MOAT_E_LIMIT;
	if (EVP_Digest(t->buf, t->len, sum, NULL, EVP_sha256(), NULL) != 1)
		return -MOAT_E_CRYPTO;
	ks_put(t, "%s", ks_sum_tag);
	ks_put_hex(t, sum, sizeof(sum));
	ks_put(t, "\n");
	return t->full ? -MOAT_E_LIMIT : 0;
}

/* What is wrong with field f of in, to be written, or NULL. */
static const char *ks_field_problem(const struct ks_field *f, const uint8_t *in)
{
	const uint8_t *v = in + f->off;

	switch (f->type) {
	case KS_T_HEX:
		return NULL;
	case KS_T_NAME:
		return ks_name_problem(v, strnlen((const char *)v,
						  KS_NAME_MAX + 1));
	case KS_T_STATE:
		return ks_state_name(*(const enum ks_viewer_state *)v) ?
			       NULL :
			       "is neither pending nor approved";
	case KS_T_TIME:
		return *(const int64_t *)v < 0 ? "is before 1970" : NULL;
	case KS_T_KEY:
		return ks_keys_problem((const struct ks_identity *)in);
	}
	return NULL;
}

/* Refuses (-EINVAL, with a message) what the parser would refuse. */
static int ks_check_in(const struct ks_kind *k, const char *path,
		       const uint8_t *in)
{
	const char *why;
	size_t i;

	for (i = 0; i < k->n_fields; i++) {
		why = ks_field_problem(&k->fields[i], in);
		if (why) {
			log_err("keystore: %s: not saved: field `%s' %s", path,
				k->fields[i].name, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* Directory part of path (at least "." or "/"). */
static int ks_dirname(const char *path, char dir[static PATH_MAX])
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (!slash)
		strcpy(dir, ".");
	else if (!n)
		strcpy(dir, "/");
	else
		memcpy(dir, path, n), dir[n] = '\0';
	return 0;
}

/*
 * Writes a new file at path, failing with -EEXIST if one exists: the bytes
 * go to a synced file beside it, which is then hard-linked to path (link
 * never replaces) and unlinked.
 */
static int ks_create_excl(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int n, ret, synced;

	n = snprintf(tmp, sizeof(tmp), "%s.new.%ld", path, (long)getpid());
	if (n < 0 || n >= (int)sizeof(tmp) || ks_dirname(path, dir))
		return -ENAMETOOLONG;
	ret = file_write_atomic(tmp, data, len, 0600);
	if (ret)
		return ret;
	ret = link(tmp, path) < 0 ? -errno : 0;
	if (unlink(tmp) < 0)
		log_warn("keystore: cannot remove %s: %s", tmp,
			 strerror(errno));
	synced = fsync_dir(dir);
	return ret ? ret : synced;
}

static int ks_store(const struct ks_kind *k, const char *path, const void *in,
		    unsigned int how)
{
	struct ks_text t = { .len = 0 };
	int ret;

	ret = ks_check_in(k, path, in);
	if (ret)
		return ret;
	ret = ks_format(k, in, &t);
	if (!ret && (how & KS_STORE_EXCL))
		ret = ks_create_excl(path, t.buf, t.len);
	else if (!ret)
		ret = file_write_atomic(path, t.buf, t.len, 0600);
	if (ret == -EEXIST)
		log_err("keystore: %s already exists; moat never replaces a key file: use it, or move it away yourself",
			path);
	else if (ret)
		log_err("keystore: cannot write %s: %s", path,
			moat_strerror(ret));
	OPENSSL_cleanse(&t, sizeof(t));
	return ret;
}

/* ---- files ---- */

__attribute__((format(printf, 2, 3))) static int
ks_path(char path[static PATH_MAX], const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(path, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n >= 0 && n < PATH_MAX)
		return 0;
	log_err("keystore: path too long: %.64s...", path);
	return -ENAMETOOLONG;
}

static int ks_mkdir(const char *dir)
{
	int ret = mkdir_p(dir, 0700);

	if (ret)
		log_err("keystore: cannot create folder %s: %s", dir,
			moat_strerror(ret));
	return ret;
}

static void ks_warn_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && (st.st_mode & 077))
		log_warn(
			"keystore: %s can be accessed by group or others (mode %04o): run `chmod 600 %s'",
			path, (unsigned int)(st.st_mode & 0777), path);
}

static int ks_load(const struct ks_kind *k, const char *path, void *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int ret;

	memset(out, 0, k->size);
	ret = file_read_bounded(path, KS_FILE_MAX, &buf, &len);
	if (ret == -EFBIG) {
		log_err("keystore: %s: larger than %d bytes, so not a moat key file; %s",
			path, KS_FILE_MAX, ks_damaged);
		return -MOAT_E_CORRUPT;
	}
	if (ret && ret != -ENOENT)
		log_err("keystore: cannot read %s: %s", path,
			ret == -EINVAL ? "not a regular file" :
					 moat_strerror(ret));
	if (ret)
		return ret;
	ks_warn_mode(path);
	ret = ks_parse(k, path, buf, len, 0, out);
	OPENSSL_cleanse(buf, len);
	free(buf);
	return ret;
}

/* ---- hub key ---- */

int ks_hub_create(const char *dir, struct seal_hub_key *hub)
{
	char path[PATH_MAX];
	int ret;

	memset(hub, 0, sizeof(*hub));
	ret = ks_path(path, "%s/hub.key", dir);
	if (!ret)
		ret = ks_mkdir(dir);
	if (ret)
		return ret;
	ret = hpke_generate_keypair(hub->sk, hub->pk);
	if (ret)
		log_err("keystore: cannot make a key pair for %s: %s", path,
			moat_strerror(ret));
	else
		ret = ks_store(&ks_hub_kind, path, hub, KS_STORE_EXCL);
	if (ret)
		ks_hub_wipe(hub);
	return ret;
}

int ks_hub_load(const char *dir, struct seal_hub_key *hub)
{
	char path[PATH_MAX];
	int ret;

	memset(hub, 0, sizeof(*hub));
	ret = ks_path(path, "%s/hub.key", dir);
	return ret ? ret : ks_load(&ks_hub_kind, path, hub);
}

void ks_hub_wipe(struct seal_hub_key *hub)
{
	if (hub)
		OPENSSL_cleanse(hub, sizeof(*hub));
}

/* ---- relay login key: <dir>/relay.key ---- */

int ks_login_load(const char *dir, struct login_key *k)
{
	char path[PATH_MAX];
	int ret;

	memset(k, 0, sizeof(*k));
	ret = ks_path(path, "%s/relay.key", dir);
	return ret ? ret : ks_load(&ks_login_kind, path, k);
}

int ks_login_load_or_create(const char *dir, struct login_key *k)
{
	char path[PATH_MAX];
	int ret = ks_login_load(dir, k);

	if (ret != -ENOENT)
		return ret;
	ret = ks_path(path, "%s/relay.key", dir);
	if (!ret)
		ret = ks_mkdir(dir);
	if (!ret)
		ret = login_keygen(k);
	if (!ret)
		ret = ks_store(&ks_login_kind, path, k, KS_STORE_EXCL);
	if (ret == -EEXIST) /* made meanwhile by another: take that one */
		ret = ks_login_load(dir, k);
	if (ret)
		login_wipe(k);
	return ret;
}

/* ---- viewers ---- */

static int ks_viewer_path(char path[static PATH_MAX],
			  char vdir[static PATH_MAX], const char *dir,
			  const uint8_t id[static SEAL_VIEWER_ID_LEN])
{
	char hex[KS_ID_HEX + 1];
	int ret;

	hex_encode(hex, id, SEAL_VIEWER_ID_LEN);
	ret = ks_path(vdir, "%s/viewers", dir);
	if (!ret)
		ret = ks_path(path, "%s/%s%s", vdir, hex, ks_viewer_ext);
	return ret;
}

/* Adds the viewer id named by one folder entry to ids[*n], if it is one. */
static int ks_scan_entry(const char *vdir, const char *name,
			 uint8_t (*ids)[SEAL_VIEWER_ID_LEN], size_t *n)
{
	const size_t ext = sizeof(ks_viewer_ext) - 1;
	size_t len = strlen(name);

	if (name[0] == '.')
		return 0;
	/* what a write cut short by a crash leaves (file_write_atomic's
	 * temporary, holding a psk): never a viewer; removed once it is a
	 * minute old (a younger one may be a write in progress) */
	if (len > ext + 5 && strstr(name, ".viewer.tmp.")) {
		char path[PATH_MAX];
		struct stat sb;

		if (!ks_path(path, "%s/%s", vdir, name) && !stat(path, &sb) &&
		    time(NULL) - sb.st_mtime > 60 && !unlink(path))
			log_info("keystore: removed %s, left by an interrupted write",
				 path);
		return 0;
	}
	if (len < ext || strcmp(name + len - ext, ks_viewer_ext)) {
		log_warn("keystore: ignoring %s/%s: not a viewer file", vdir,
			 name);
		return 0;
	}
	if (len != KS_ID_HEX + ext ||
	    !ks_lower_hex((const uint8_t *)name, KS_ID_HEX)) {
		log_err("keystore: %s/%s: a viewer file is named <32 lowercase hex digits>.viewer; rename or remove it",
			vdir, name);
		return -MOAT_E_CORRUPT;
	}
	if (*n == KS_MAX_VIEWERS) {
		log_err("keystore: %s: more than %d viewer files; remove viewers no longer used",
			vdir, KS_MAX_VIEWERS);
		return -MOAT_E_LIMIT;
	}
	hex_decode(ids[(*n)++], SEAL_VIEWER_ID_LEN, name, KS_ID_HEX);
	return 0;
}

/* The viewer ids named by the files in vdir (none if it does not exist). */
static int ks_scan(const char *vdir, uint8_t (*ids)[SEAL_VIEWER_ID_LEN],
		   size_t *n)
{
	struct dirent *e;
	DIR *d;
	int ret = 0;

	*n = 0;
	d = opendir(vdir);
	if (!d && errno == ENOENT)
		return 0;
	if (!d) {
		ret = -errno;
		log_err("keystore: cannot open folder %s: %s", vdir,
			strerror(-ret));
		return ret;
	}
	while (!ret) {
		errno = 0;
		e = readdir(d);
		if (e) {
			ret = ks_scan_entry(vdir, e->d_name, ids, n);
			continue;
		}
		ret = -errno;
		if (ret)
			log_err("keystore: cannot read folder %s: %s", vdir,
				strerror(-ret));
		break;
	}
	closedir(d);
	return ret;
}

/* -MOAT_E_LIMIT if path is a new viewer and the store is full. */
static int ks_viewer_room(const char *vdir, const char *path)
{
	uint8_t ids[KS_MAX_VIEWERS][SEAL_VIEWER_ID_LEN];
	size_t n;
	int ret;

	if (access(path, F_OK) == 0)
		return 0;
	ret = ks_scan(vdir, ids, &n);
	if (!ret && n == KS_MAX_VIEWERS) {
		log_err("keystore: %s: already %d viewers; remove one before pairing another",
			vdir, KS_MAX_VIEWERS);
		ret = -MOAT_E_LIMIT;
	}
	return ret;
}

int ks_lock(const char *dir, bool wait)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno != EINTR) {
			int err = -errno;

			close(fd);
			return err;
		}
	}
	return fd;
}

void ks_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the lock */
}

int ks_viewer_save(const char *dir, const struct ks_viewer *v)
{
	char path[PATH_MAX], vdir[PATH_MAX];
	int ret;

	ret = ks_viewer_path(path, vdir, dir, v->rcpt.viewer_id);
	if (!ret)
		ret = ks_check_in(&ks_viewer_kind, path, (const void *)v);
	if (!ret && hpke_check_public_key(v->rcpt.pk)) {
		log_err("keystore: %s: not saved: the viewer's public key is a low-order X25519 point, which nothing can be encrypted to; the viewer must pair again with a new key",
			path);
		ret = -EINVAL;
	}
	if (!ret)
		ret = ks_mkdir(vdir);
	if (!ret)
		ret = ks_viewer_room(vdir, path);
	if (!ret)
		ret = ks_store(&ks_viewer_kind, path, v, 0);
	return ret;
}

int ks_viewer_load(const char *dir,
		   const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
		   struct ks_viewer *v)
{
	char path[PATH_MAX], vdir[PATH_MAX];
	int ret;

	memset(v, 0, sizeof(*v));
	ret = ks_viewer_path(path, vdir, dir, viewer_id);
	if (!ret)
		ret = ks_load(&ks_viewer_kind, path, v);
	if (ret)
		return ret;
	if (memcmp(v->rcpt.viewer_id, viewer_id, SEAL_VIEWER_ID_LEN)) {
		log_err("keystore: %s: holds another viewer id than its name says; %s",
			path, ks_damaged);
		ks_viewer_wipe(v);
		return -MOAT_E_CORRUPT;
	}
	return 0;
}

int ks_viewer_remove(const char *dir,
		     const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN])
{
	char path[PATH_MAX], vdir[PATH_MAX];
	int ret;

	ret = ks_viewer_path(path, vdir, dir, viewer_id);
	if (ret)
		return ret;
	if (unlink(path) < 0) {
		ret = -errno;
		if (ret == -ENOENT)
			log_err("keystore: no such viewer: %s does not exist",
				path);
		else
			log_err("keystore: cannot remove %s: %s", path,
				strerror(-ret));
		return ret;
	}
	ret = fsync_dir(vdir);
	if (ret)
		log_err("keystore: cannot sync folder %s: %s", vdir,
			strerror(-ret));
	return ret;
}

static int ks_id_cmp(const void *a, const void *b)
{
	return memcmp(a, b, SEAL_VIEWER_ID_LEN);
}

int ks_viewer_list(const char *dir, struct ks_viewer **list, size_t *n)
{
	uint8_t ids[KS_MAX_VIEWERS][SEAL_VIEWER_ID_LEN];
	char vdir[PATH_MAX];
	struct ks_viewer *v;
	size_t i, count = 0;
	int ret;

	*list = NULL;
	*n = 0;
	ret = ks_path(vdir, "%s/viewers", dir);
	if (!ret)
		ret = ks_scan(vdir, ids, &count);
	if (ret || !count)
		return ret;
	v = calloc(count, sizeof(*v));
	if (!v)
		return -ENOMEM;
	qsort(ids, count, sizeof(ids[0]), ks_id_cmp);
	for (i = 0; i < count && !ret; i++)
		ret = ks_viewer_load(dir, ids[i], &v[i]);
	if (ret == -ENOENT)
		log_err("keystore: a viewer file in %s was removed while listing; list again",
			vdir);
	if (ret) {
		ks_viewer_list_free(v, count);
		return ret;
	}
	*list = v;
	*n = count;
	return 0;
}

void ks_viewer_list_free(struct ks_viewer *list, size_t n)
{
	if (!list)
		return;
	OPENSSL_cleanse(list, n * sizeof(*list));
	free(list);
}

void ks_viewer_wipe(struct ks_viewer *v)
{
	if (v)
		OPENSSL_cleanse(v, sizeof(*v));
}

/* ---- viewer identity ---- */

int ks_identity_new_key(struct ks_identity *id)
{
	struct open_key *k;
	int ret;

	if (id->n_keys >= KS_MAX_KEYS) {
		log_err("keystore: a viewer holds at most %d keys: erase an old key first",
			KS_MAX_KEYS);
		return -MOAT_E_LIMIT;
	}
	k = &id->keys[id->n_keys];
	ret = hpke_generate_keypair(k->sk, k->pk);
	if (ret) {
		OPENSSL_cleanse(k, sizeof(*k));
		log_err("keystore: cannot make a key pair: %s",
			moat_strerror(ret));
		return ret;
	}
	id->key_created[id->n_keys++] = (int64_t)time(NULL);
	return 0;
}

int ks_identity_create(const char *path, const struct ks_identity *id)
{
	char dir[PATH_MAX];
	int ret;

	ret = ks_check_in(&ks_identity_kind, path, (const void *)id);
	if (ret)
		return ret;
	if (ks_dirname(path, dir)) {
		log_err("keystore: path too long: %.64s...", path);
		return -ENAMETOOLONG;
	}
	ret = ks_mkdir(dir);
	if (!ret)
		ret = ks_store(&ks_identity_kind, path, id, KS_STORE_EXCL);
	return ret;
}

int ks_identity_load(const char *path, struct ks_identity *id)
{
	return ks_load(&ks_identity_kind, path, id);
}

int ks_identity_save(const char *path, const struct ks_identity *id)
{
	int ret = ks_check_in(&ks_identity_kind, path, (const void *)id);

	return ret ? ret : ks_store(&ks_identity_kind, path, id, 0);
}

int ks_identity_add_key(const char *path, struct ks_identity *id)
{
	int ret;

	ret = ks_identity_load(path, id);
	if (ret)
		return ret;
	if (id->n_keys == KS_MAX_KEYS) {
		log_err("keystore: %s already holds %d keys: erase a key no longer needed first",
			path, KS_MAX_KEYS);
		ret = -MOAT_E_LIMIT;
		goto out_wipe;
	}
	ret = ks_identity_new_key(id);
	if (!ret)
		ret = ks_store(&ks_identity_kind, path, id, 0);
	if (!ret)
		return 0;
out_wipe:
	ks_identity_wipe(id);
	return ret;
}

/* Removes keys[i], keeping the order; the freed last slot is wiped. */
static void ks_key_drop(struct ks_identity *id, size_t i)
{
	size_t rest = id->n_keys - i - 1;

	memmove(&id->keys[i], &id->keys[i + 1], rest * sizeof(id->keys[0]));
	memmove(&id->key_created[i], &id->key_created[i + 1],
		rest * sizeof(id->key_created[0]));
	id->n_keys--;
	OPENSSL_cleanse(&id->keys[id->n_keys], sizeof(id->keys[0]));
	id->key_created[id->n_keys] = 0;
}

int ks_identity_erase_key(const char *path,
			  const uint8_t key_id[static SEAL_KEY_ID_LEN],
			  struct ks_identity *id)
{
	uint8_t kid[SEAL_KEY_ID_LEN];
	char hex[2 * SEAL_KEY_ID_LEN + 1];
	size_t i;
	int ret;

	ret = ks_identity_load(path, id);
	if (ret)
		return ret;
	for (i = 0; i < id->n_keys; i++) {
		seal_key_id(id->keys[i].pk, kid);
		if (!memcmp(kid, key_id, SEAL_KEY_ID_LEN))
			break;
	}
	hex_encode(hex, key_id, SEAL_KEY_ID_LEN);
	ret = i == id->n_keys ? -ENOENT : id->n_keys == 1 ? -EINVAL : 0;
	if (ret == -ENOENT)
		log_err("keystore: %s: no key with id %s", path, hex);
	else if (ret)
		log_err("keystore: %s: key %s is the only key: add a new key before erasing it",
			path, hex);
	if (ret)
		goto out_wipe;
	ks_key_drop(id, i);
	ret = ks_store(&ks_identity_kind, path, id, 0);
	if (!ret)
		return 0;
out_wipe:
	ks_identity_wipe(id);
	return ret;
}

void ks_identity_open(const struct ks_identity *id, struct open_identity *oid)
{
	memcpy(oid->hub_pk, id->hub_pk, SEAL_KEY_LEN);
	memcpy(oid->viewer_id, id->viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(oid->psk, id->psk, SEAL_PSK_LEN);
	oid->keys = id->keys;
	oid->n_keys = id->n_keys;
}

void ks_identity_wipe(struct ks_identity *id)
{
	if (id)
		OPENSSL_cleanse(id, sizeof(*id));
}
