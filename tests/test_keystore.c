// SPDX-License-Identifier: GPL-2.0-only
/*
 * Key store: what a user would notice. The hub key is created 0600 in a
 * 0700 folder, loads back, is never replaced (create again, or after any
 * damage); every truncation and every single-byte change of a key file is
 * refused with one line naming the file and is left in place; crafted files
 * with a valid checksum but a wrong field, version, kind or key pair are
 * refused with a message saying what is wrong. Viewers save, list sorted,
 * update, remove; a damaged viewer file fails the listing by name. The
 * viewer identity holds up to 8 keys, erases by key id, and feeds an
 * open_identity. Bad display names are refused. No temporary file is left
 * behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/hpke.h"
#include "crypto/keystore.h"
#include "tests/lib/check.h"

static char root[] = "/tmp/moat-keystore.XXXXXX";
static char dir[PATH_MAX]; /* hub key store: root/keys */

/* ---- helpers ---- */

static char *join(const char *a, const char *b)
{
	static char bufs[4][PATH_MAX];
	static int i;
	char *p = bufs[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", a, b);
	return p;
}

static int read_all(const char *path, uint8_t **buf, size_t *len)
{
	return file_read_bounded(path, 1 << 20, buf, len);
}

/* Overwrites path in place (as damage would), mode 0600. */
static int write_raw(const char *path, const void *p, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, p, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static bool file_is(const char *path, const uint8_t *p, size_t len)
{
	uint8_t *buf;
	size_t n;
	bool same;

	if (read_all(path, &buf, &n))
		return false;
	same = n == len && !memcmp(buf, p, len);
	free(buf);
	return same;
}

static unsigned int mode_of(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : (unsigned int)(st.st_mode & 07777);
}

/* Lines of text, and how many of them contain needle. */
static size_t lines_with(const char *text, const char *needle, size_t *lines)
{
	size_t hits = 0;
	const char *nl;

	*lines = 0;
	for (; *text; text = nl + 1) {
		nl = strchr(text, '\n');
		if (!nl)
			nl = text + strlen(text) - 1;
		(*lines)++;
		hits += memmem(text, (size_t)(nl - text), needle,
			       strlen(needle)) != NULL;
	}
	return hits;
}

/* body followed by its checksum line, as the format wants. */
static size_t with_sum(char *out, size_t cap, const char *body)
{
	uint8_t md[32];
	char hex[65];
	int n;

	EVP_Digest(body, strlen(body), md, NULL, EVP_sha256(), NULL);
	hex_encode(hex, md, sizeof(md));
	n = snprintf(out, cap, "%schecksum %s\n", body, hex);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int leftovers;

static int count_one(const char *path, const struct stat *st, int flag,
		     struct FTW *ftw)
{
	const char *base = path + ftw->base;

	leftovers += strstr(base, ".tmp.") || strstr(base, ".new.");
	return 0;
}

/* Files whose names show an unfinished write (temp files). */
static int count_leftovers(const char *folder)
{
	leftovers = 0;
	if (nftw(folder, count_one, 16, FTW_PHYS))
		return -1;
	return leftovers;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

/* ---- hub key ---- */

static struct seal_hub_key hub;
static uint8_t *hub_file;
static size_t hub_len;

static void test_hub_create(void)
{
	struct seal_hub_key again, loaded;
	const char *path = join(dir, "hub.key");
	char *err;
	int ret;

	ret = ks_hub_create(dir, &hub);
	CHECK(ret == 0, "create: %s", moat_strerror(ret));
	CHECK(mode_of(dir) == 0700, "folder mode %o", mode_of(dir));
	CHECK(mode_of(path) == 0600, "file mode %o", mode_of(path));
	CHECK(read_all(path, &hub_file, &hub_len) == 0, "read hub.key");
	ret = ks_hub_load(dir, &loaded);
	CHECK(ret == 0, "load: %s", moat_strerror(ret));
	CHECK_MEM(loaded.sk, hub.sk, 32, "secret key round trip");
	CHECK_MEM(loaded.pk, hub.pk, 32, "public key round trip");

	cap_begin();
	ret = ks_hub_create(dir, &again);
	err = cap_end();
	CHECK(ret == -EEXIST, "create again: %d", ret);
	CHECK(strstr(err, path) != NULL, "EEXIST names the file: %s", err);
	CHECK(file_is(path, hub_file, hub_len), "hub.key replaced by create");
	ks_hub_wipe(&loaded);
	free(err);
}

/* Every truncation fails CORRUPT, one line naming the file, kept as is. */
static void test_hub_truncated(void)
{
	const char *path = join(dir, "hub.key");
	size_t len, bad_ret = 0, bad_keep = 0, lines, named;
	struct seal_hub_key h;
	char *err;

	cap_begin();
	for (len = 0; len < hub_len; len++) {
		write_raw(path, hub_file, len);
		if (ks_hub_load(dir, &h) != -MOAT_E_CORRUPT)
			bad_ret++;
		if (ks_hub_create(dir, &h) != -EEXIST ||
		    !file_is(path, hub_file, len))
			bad_keep++;
	}
	err = cap_end();
	named = lines_with(err, path, &lines);
	CHECK(bad_ret == 0, "%zu truncations not refused as corrupt", bad_ret);
	CHECK(bad_keep == 0, "%zu truncated files replaced", bad_keep);
	CHECK(lines == 2 * hub_len, "%zu lines for %zu failures", lines,
	      2 * hub_len);
	CHECK(named == lines, "%zu of %zu lines name the file", named, lines);
	CHECK(strstr(err, "truncated") != NULL, "says truncated");
	free(err);
	write_raw(path, hub_file, hub_len);
}

static void test_hub_flipped(void)
{
	static const uint8_t masks[] = { 0x01, 0x20, 0x80, 0xff };
	const char *path = join(dir, "hub.key");
	size_t i, m, bad = 0, kept = 0, lines, named;
	uint8_t *copy = malloc(hub_len);
	struct seal_hub_key h;
	char *err;
	int ret;

	cap_begin();
	for (i = 0; copy && i < hub_len; i++) {
		for (m = 0; m < sizeof(masks); m++) {
			memcpy(copy, hub_file, hub_len);
			copy[i] ^= masks[m];
			write_raw(path, copy, hub_len);
			ret = ks_hub_load(dir, &h);
			bad += ret != -MOAT_E_CORRUPT && ret != -MOAT_E_VERSION;
			kept += file_is(path, copy, hub_len);
		}
	}
	err = cap_end();
	named = lines_with(err, path, &lines);
	CHECK(copy != NULL, "malloc");
	CHECK(bad == 0, "%zu single-byte changes loaded or wrong error", bad);
	CHECK(kept == hub_len * sizeof(masks), "damaged file changed by load");
	CHECK(lines == hub_len * sizeof(masks), "%zu lines", lines);
	CHECK(named == lines, "%zu of %zu lines name the file", named, lines);
	free(err);
	free(copy);
	write_raw(path, hub_file, hub_len);
}

struct crafted {
	const char *what;
	const char *body;
	int err;
	const char *says;
};

/* Runs one crafted hub file through the parser; checks code and message. */
static void check_crafted(const struct crafted *c)
{
	char file[2048];
	size_t len = with_sum(file, sizeof(file), c->body);
	struct seal_hub_key h;
	char *err;
	int ret;

	cap_begin();
	ret = ks_parse_hub("crafted/hub.key", (uint8_t *)file, len, 0, &h);
	err = cap_end();
	CHECK(ret == c->err, "%s: got %d want %d", c->what, ret, c->err);
	CHECK(strstr(err, c->says) != NULL, "%s: message `%s' lacks `%s'",
	      c->what, err, c->says);
	CHECK(strstr(err, "crafted/hub.key") != NULL, "%s: names file",
	      c->what);
	free(err);
}

static void test_hub_crafted(void)
{
	char sk[65], pk[65], other[65], b[8][512];
	const struct crafted cases[] = {
		{ "short key", b[0], -MOAT_E_CORRUPT,
		  "line 4: field `public-key' is 30 bytes, expected 32" },
		{ "version 2", b[1], -MOAT_E_VERSION, "version 2" },
		{ "unknown field", b[2], -MOAT_E_CORRUPT,
		  "line 4: unknown field `colour'" },
		{ "duplicate", b[3], -MOAT_E_CORRUPT,
		  "line 4: field `secret-key' appears twice" },
		{ "missing", b[4], -MOAT_E_CORRUPT,
		  "field `public-key' is missing" },
		{ "uppercase", b[5], -MOAT_E_CORRUPT, "not lowercase hex" },
		{ "wrong kind", b[6], -MOAT_E_CORRUPT,
		  "viewer file, not a hub key file" },
		{ "mismatched", b[7], -MOAT_E_CORRUPT,
		  "does not match the secret key" },
	};
	const char *head = "moat-keyfile 1\nkind hub\n";
	size_t i;

	hex_encode(sk, hub.sk, 32);
	hex_encode(pk, hub.pk, 32);
	memset(other, 'a', 64);
	other[64] = '\0';
	snprintf(b[0], 512, "%ssecret-key %s\npublic-key %.60s\n", head, sk,
		 pk);
	snprintf(b[1], 512, "moat-keyfile 2\nkind hub\nsecret-key %s\n", sk);
	snprintf(b[2], 512, "%ssecret-key %s\ncolour blue\n", head, sk);
	snprintf(b[3], 512, "%ssecret-key %s\nsecret-key %s\n", head, sk, sk);
	snprintf(b[4], 512, "%ssecret-key %s\n", head, sk);
	snprintf(
		b[5], 512, "%ssecret-key %s\npublic-key %s\n", head, sk,
		"ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789");
	snprintf(b[6], 512, "moat-keyfile 1\nkind viewer\nsecret-key %s\n", sk);
	snprintf(b[7], 512, "%ssecret-key %s\npublic-key %s\n", head, sk,
		 other);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_crafted(&cases[i]);
}

/* A key file whose public key is not the secret key's, on disk. */
static void test_hub_mismatch_file(void)
{
	const char *d2 = join(root, "mismatch"), *path = join(d2, "hub.key");
	char sk[65], pk[65], body[512], file[1024];
	struct seal_hub_key h, other;
	size_t len;
	char *err;
	int ret;

	hpke_generate_keypair(other.sk, other.pk);
	hex_encode(sk, hub.sk, 32);
	hex_encode(pk, other.pk, 32);
	snprintf(body, sizeof(body),
		 "moat-keyfile 1\nkind hub\nsecret-key %s\npublic-key %s\n", sk,
		 pk);
	len = with_sum(file, sizeof(file), body);
	mkdir_p(d2, 0700);
	write_raw(path, file, len);
	cap_begin();
	ret = ks_hub_load(d2, &h);
	err = cap_end();
	CHECK(ret == -MOAT_E_CORRUPT, "mismatched pair: %d", ret);
	CHECK(strstr(err, path) && strstr(err, "line 4") &&
		      strstr(err, "does not match the secret key"),
	      "message: %s", err);
	CHECK(file_is(path, (uint8_t *)file, len), "file kept");
	free(err);
	OPENSSL_cleanse(sk, sizeof(sk));
	ks_hub_wipe(&other);
}

static void test_mode_warning(void)
{
	const char *path = join(dir, "hub.key");
	struct seal_hub_key h;
	char *err;
	int ret;

	chmod(path, 0644);
	cap_begin();
	ret = ks_hub_load(dir, &h);
	err = cap_end();
	CHECK(ret == 0, "load of a 0644 file: %d", ret);
	CHECK(strstr(err, "warning") && strstr(err, path) &&
		      strstr(err, "chmod 600"),
	      "no warning about mode 0644: `%s'", err);
	free(err);
	chmod(path, 0600);
	cap_begin();
	ret = ks_hub_load(dir, &h);
	err = cap_end();
	CHECK(ret == 0 && err[0] == '\0', "0600 file: %d `%s'", ret, err);
	free(err);
	ks_hub_wipe(&h);
}

/* ---- viewers ---- */

static void make_viewer(struct ks_viewer *v, const char *name,
			enum ks_viewer_state state)
{
	uint8_t sk[32];

	memset(v, 0, sizeof(*v));
	RAND_bytes(v->rcpt.viewer_id, sizeof(v->rcpt.viewer_id));
	RAND_bytes(v->rcpt.psk, sizeof(v->rcpt.psk));
	hpke_generate_keypair(sk, v->rcpt.pk);
	OPENSSL_cleanse(sk, sizeof(sk));
	snprintf(v->name, sizeof(v->name), "%s", name);
	v->state = state;
	v->added = 1700000000;
}

static bool viewer_eq(const struct ks_viewer *a, const struct ks_viewer *b)
{
	return !memcmp(&a->rcpt, &b->rcpt, sizeof(a->rcpt)) &&
	       !strcmp(a->name, b->name) && a->state == b->state &&
	       a->added == b->added;
}

static int by_id(const void *a, const void *b)
{
	return memcmp(((const struct ks_viewer *)a)->rcpt.viewer_id,
		      ((const struct ks_viewer *)b)->rcpt.viewer_id,
		      SEAL_VIEWER_ID_LEN);
}

static struct ks_viewer vw[3];

/* Lists and compares with the n viewers of want (sorted here). */
static void check_list(struct ks_viewer *want, size_t n, const char *when)
{
	struct ks_viewer *list;
	size_t i, got;
	int ret;

	qsort(want, n, sizeof(*want), by_id);
	ret = ks_viewer_list(dir, &list, &got);
	CHECK(ret == 0, "%s: list: %s", when, moat_strerror(ret));
	CHECK(got == n, "%s: %zu viewers, expected %zu", when, got, n);
	for (i = 0; !ret && i < n && i < got; i++)
		CHECK(viewer_eq(&list[i], &want[i]), "%s: viewer %zu differs",
		      when, i);
	ks_viewer_list_free(list, got);
}

static void test_viewers(void)
{
	const char *vdir = join(dir, "viewers");
	struct ks_viewer got;
	size_t i;
	int ret;

	make_viewer(&vw[0], "kitchen tablet", KS_VIEWER_APPROVED);
	make_viewer(&vw[1], "Anna's phone", KS_VIEWER_APPROVED);
	make_viewer(&vw[2], "new phone", KS_VIEWER_PENDING);
	for (i = 0; i < 3; i++) {
		ret = ks_viewer_save(dir, &vw[i]);
		CHECK(ret == 0, "save %zu: %s", i, moat_strerror(ret));
	}
	CHECK(mode_of(vdir) == 0700, "viewers folder mode %o", mode_of(vdir));
	check_list(vw, 3, "after 3 saves");

	/* update: other state, new key and name */
	vw[1].state = vw[1].state == KS_VIEWER_PENDING ? KS_VIEWER_APPROVED :
							 KS_VIEWER_PENDING;
	RAND_bytes(vw[1].rcpt.pk, 32);
	snprintf(vw[1].name, sizeof(vw[1].name), "renamed");
	CHECK(ks_viewer_save(dir, &vw[1]) == 0, "update");
	ret = ks_viewer_load(dir, vw[1].rcpt.viewer_id, &got);
	CHECK(ret == 0 && viewer_eq(&got, &vw[1]), "update loads back");
	check_list(vw, 3, "after update");
	ks_viewer_wipe(&got);
}

static void test_viewer_remove(void)
{
	char hex[33], name[64], *err;
	uint8_t unknown[SEAL_VIEWER_ID_LEN];
	struct ks_viewer got;
	int ret;

	hex_encode(hex, vw[0].rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
	snprintf(name, sizeof(name), "viewers/%s.viewer", hex);
	CHECK(mode_of(join(dir, name)) == 0600, "viewer file mode");
	ret = ks_viewer_remove(dir, vw[0].rcpt.viewer_id);
	CHECK(ret == 0, "remove: %s", moat_strerror(ret));
	CHECK(access(join(dir, name), F_OK) < 0 && errno == ENOENT,
	      "removed file still there");
	check_list(vw + 1, 2, "after remove");
	ret = ks_viewer_load(dir, vw[0].rcpt.viewer_id, &got);
	CHECK(ret == -ENOENT, "load removed: %d", ret);
	memset(unknown, 0x5a, sizeof(unknown));
	cap_begin();
	ret = ks_viewer_remove(dir, unknown);
	free(cap_end());
	CHECK(ret == -ENOENT, "remove unknown: %d", ret);
	cap_begin();
	ret = ks_viewer_remove(dir, vw[0].rcpt.viewer_id);
	err = cap_end();
	CHECK(ret == -ENOENT, "remove twice: %d", ret);
	CHECK(strstr(err, "no such viewer") != NULL, "message: %s", err);
	free(err);
}

/* A damaged viewer file fails the whole listing, by name. */
static void test_viewer_corrupt(void)
{
	char hex[33], name[64], *err;
	struct ks_viewer *list;
	uint8_t *orig;
	size_t len, n;
	const char *path;
	int ret;

	hex_encode(hex, vw[2].rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
	snprintf(name, sizeof(name), "viewers/%s.viewer", hex);
	path = join(dir, name);
	if (read_all(path, &orig, &len)) {
		CHECK(0, "read %s", path);
		return;
	}
	orig[len / 2] ^= 0x04;
	write_raw(path, orig, len);
	cap_begin();
	ret = ks_viewer_list(dir, &list, &n);
	err = cap_end();
	CHECK(ret == -MOAT_E_CORRUPT, "list with a damaged file: %d", ret);
	CHECK(list == NULL && n == 0, "damaged list returned viewers");
	CHECK(strstr(err, name) != NULL, "message names %s: `%s'", name, err);
	CHECK(file_is(path, orig, len), "damaged viewer file changed");
	orig[len / 2] ^= 0x04;
	write_raw(path, orig, len);
	check_list(vw + 1, 2, "after repair");
	free(err);
	OPENSSL_cleanse(orig, len);
	free(orig);
}

/* Other files: a stray one is ignored with a warning, a misnamed viewer
 * file fails the listing by name. */
static void test_viewer_strays(void)
{
	const char *stray = join(dir, "viewers/notes.txt");
	const char *misnamed = join(dir, "viewers/ABC.viewer");
	struct ks_viewer *list;
	size_t n;
	char *err;
	int ret;

	write_raw(stray, "hello\n", 6);
	cap_begin();
	ret = ks_viewer_list(dir, &list, &n);
	err = cap_end();
	CHECK(ret == 0 && n == 2, "list with a stray file: %d, %zu", ret, n);
	CHECK(strstr(err, "warning") && strstr(err, stray),
	      "stray file not named in a warning: `%s'", err);
	ks_viewer_list_free(list, n);
	free(err);
	write_raw(misnamed, "", 0);
	cap_begin();
	ret = ks_viewer_list(dir, &list, &n);
	err = cap_end();
	CHECK(ret == -MOAT_E_CORRUPT && !list && !n,
	      "list with a misnamed viewer file: %d", ret);
	CHECK(strstr(err, misnamed) != NULL, "misnamed file not named: `%s'",
	      err);
	free(err);
	unlink(stray);
	unlink(misnamed);
}

/* At most KS_MAX_VIEWERS; an update still works when full. */
static void test_viewer_limit(void)
{
	const char *d2 = join(root, "full");
	struct ks_viewer v, first;
	size_t i, bad = 0;
	char *err, limit[64];
	int ret;

	for (i = 0; i < KS_MAX_VIEWERS; i++) {
		make_viewer(&v, "v", KS_VIEWER_APPROVED);
		bad += ks_viewer_save(d2, &v) != 0;
		if (!i)
			first = v;
	}
	CHECK(bad == 0, "%zu of %d saves failed", bad, KS_MAX_VIEWERS);
	make_viewer(&v, "one too many", KS_VIEWER_PENDING);
	cap_begin();
	ret = ks_viewer_save(d2, &v);
	err = cap_end();
	CHECK(ret == -MOAT_E_LIMIT, "viewer %d: %d", KS_MAX_VIEWERS + 1, ret);
	snprintf(limit, sizeof(limit), "already %d viewers", KS_MAX_VIEWERS);
	CHECK(strstr(err, limit) != NULL, "limit message: %s", err);
	first.state = KS_VIEWER_PENDING;
	CHECK(ks_viewer_save(d2, &first) == 0, "update when full");
	free(err);
	ks_viewer_wipe(&v);
	ks_viewer_wipe(&first);
}

/* ---- names ---- */

static void test_names(void)
{
	static const char *const bad[] = {
		"two\nlines",
		"tab\there",
		"bell\a",
		"del\x7f",
		"c1 \xc2\x85",
		"",
		"bad utf-8 \xff",
		"overlong \xc0\xaf",
		"0123456789012345678901234567890123456789012345678901234567890123",
	};
	const char *id_path = join(root, "names/viewer.key");
	struct ks_viewer v, got;
	struct ks_identity id;
	size_t i, wrong = 0;
	int ret;

	make_viewer(&v, "", KS_VIEWER_APPROVED);
	memset(&id, 0, sizeof(id));
	ks_identity_new_key(&id);
	cap_begin();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(v.name, sizeof(v.name), "%s", bad[i]);
		if (strlen(bad[i]) > KS_NAME_MAX)
			memcpy(v.name, bad[i], sizeof(v.name));
		memcpy(id.name, v.name, sizeof(id.name));
		wrong += ks_viewer_save(dir, &v) != -EINVAL;
		wrong += ks_identity_create(id_path, &id) != -EINVAL;
	}
	free(cap_end());
	CHECK(wrong == 0, "%zu bad names accepted", wrong);
	CHECK(ks_viewer_load(dir, v.rcpt.viewer_id, &got) == -ENOENT,
	      "a viewer with a bad name was written");
	CHECK(access(id_path, F_OK) < 0, "identity with a bad name written");

	snprintf(v.name, sizeof(v.name),
		 "K\xc3\xbc"
		 "che \xf0\x9f\x93\xb7");
	ret = ks_viewer_save(dir, &v);
	CHECK(ret == 0, "UTF-8 name: %s", moat_strerror(ret));
	ret = ks_viewer_load(dir, v.rcpt.viewer_id, &got);
	CHECK(ret == 0 && !strcmp(got.name, v.name), "UTF-8 name round trip");
	CHECK(ks_viewer_remove(dir, v.rcpt.viewer_id) == 0, "remove");

	/* a key nothing can be encrypted to is never stored */
	memset(v.rcpt.pk, 0, sizeof(v.rcpt.pk));
	cap_begin();
	ret = ks_viewer_save(dir, &v);
	free(cap_end());
	CHECK(ret == -EINVAL, "a viewer with an all-zero (low-order) key refused: %s",
	      moat_strerror(ret));
	CHECK(ks_viewer_load(dir, v.rcpt.viewer_id, &got) == -ENOENT,
	      "and not written");
	ks_viewer_wipe(&got);
	ks_identity_wipe(&id);
}

/* ---- viewer identity ---- */

static char id_path[PATH_MAX];

static bool identity_eq(const struct ks_identity *a,
			const struct ks_identity *b)
{
	return !memcmp(a->hub_pk, b->hub_pk, 32) &&
	       !memcmp(a->viewer_id, b->viewer_id, 16) &&
	       !memcmp(a->psk, b->psk, 32) && !strcmp(a->name, b->name) &&
	       a->n_keys == b->n_keys &&
	       !memcmp(a->keys, b->keys, a->n_keys * sizeof(a->keys[0])) &&
	       !memcmp(a->key_created, b->key_created,
		       a->n_keys * sizeof(a->key_created[0]));
}

static void test_identity_create(struct ks_identity *id)
{
	const char *folder = join(root, "home/.config/moat");
	struct ks_identity got;
	uint8_t *orig = NULL;
	size_t len = 0;
	int ret;

	snprintf(id_path, sizeof(id_path), "%s/viewer.key", folder);
	memset(id, 0, sizeof(*id));
	memcpy(id->hub_pk, hub.pk, 32);
	RAND_bytes(id->viewer_id, sizeof(id->viewer_id));
	RAND_bytes(id->psk, sizeof(id->psk));
	snprintf(id->name, sizeof(id->name), "home");
	CHECK(ks_identity_new_key(id) == 0 && id->n_keys == 1, "first key");
	ret = ks_identity_create(id_path, id);
	CHECK(ret == 0, "create: %s", moat_strerror(ret));
	CHECK(mode_of(id_path) == 0600, "identity mode %o", mode_of(id_path));
	CHECK(mode_of(folder) == 0700, "folder mode %o", mode_of(folder));
	ret = ks_identity_load(id_path, &got);
	CHECK(ret == 0 && identity_eq(&got, id), "identity round trip");
	read_all(id_path, &orig, &len);
	cap_begin();
	ret = ks_identity_create(id_path, id);
	free(cap_end());
	CHECK(ret == -EEXIST, "create again: %d", ret);
	CHECK(orig && file_is(id_path, orig, len), "identity replaced");
	ks_identity_wipe(&got);
	if (orig)
		OPENSSL_cleanse(orig, len);
	free(orig);
}

static void test_identity_keys(struct ks_identity *id)
{
	struct open_key first = id->keys[0];
	struct ks_identity got;
	uint8_t *orig = NULL;
	size_t i, len = 0;
	int ret;

	for (i = 2; i <= KS_MAX_KEYS; i++) {
		ret = ks_identity_add_key(id_path, id);
		CHECK(ret == 0 && id->n_keys == i, "add key %zu: %s", i,
		      moat_strerror(ret));
	}
	CHECK(!memcmp(&id->keys[0], &first, sizeof(first)),
	      "oldest key moved: keys are not oldest first");
	ret = ks_identity_load(id_path, &got);
	CHECK(ret == 0 && identity_eq(&got, id), "8 keys round trip");
	read_all(id_path, &orig, &len);
	cap_begin();
	ret = ks_identity_add_key(id_path, &got);
	free(cap_end());
	CHECK(ret == -MOAT_E_LIMIT, "9th key: %d", ret);
	CHECK(orig && file_is(id_path, orig, len), "file changed by 9th key");
	ks_identity_wipe(&got);
	OPENSSL_cleanse(&first, sizeof(first));
	if (orig)
		OPENSSL_cleanse(orig, len);
	free(orig);
}

static void test_identity_erase(struct ks_identity *id)
{
	struct ks_identity want = *id, got;
	uint8_t kid[SEAL_KEY_ID_LEN];
	size_t i;
	int ret;

	seal_key_id(id->keys[2].pk, kid);
	ret = ks_identity_erase_key(id_path, kid, id);
	CHECK(ret == 0 && id->n_keys == KS_MAX_KEYS - 1, "erase: %s",
	      moat_strerror(ret));
	for (i = 0; i < id->n_keys; i++)
		CHECK(!memcmp(&id->keys[i], &want.keys[i < 2 ? i : i + 1],
			      sizeof(id->keys[i])),
		      "key %zu after erase is not the expected one", i);
	ret = ks_identity_load(id_path, &got);
	CHECK(ret == 0 && identity_eq(&got, id), "erase reaches the file");
	for (i = 0; i < got.n_keys; i++)
		CHECK(memcmp(got.keys[i].sk, want.keys[2].sk, 32),
		      "erased key still in the file");
	cap_begin();
	ret = ks_identity_erase_key(id_path, kid, &got);
	free(cap_end());
	CHECK(ret == -ENOENT, "erase twice: %d", ret);
	ks_identity_wipe(&want);
	ks_identity_wipe(&got);
}

static void test_identity_open(const struct ks_identity *id)
{
	struct open_identity oid;

	memset(&oid, 0xee, sizeof(oid));
	ks_identity_open(id, &oid);
	CHECK(oid.keys == id->keys, "open_identity points at the keys");
	CHECK(oid.n_keys == id->n_keys, "open_identity key count");
	CHECK_MEM(oid.hub_pk, hub.pk, 32, "open_identity hub key");
	CHECK_MEM(oid.viewer_id, id->viewer_id, 16, "open_identity viewer");
	CHECK_MEM(oid.psk, id->psk, 32, "open_identity psk");
	OPENSSL_cleanse(&oid, sizeof(oid));
}

/* Down to one key; the last one cannot be erased. */
static void test_identity_last_key(struct ks_identity *id)
{
	uint8_t kid[SEAL_KEY_ID_LEN];
	size_t bad = 0;
	char *err;
	int ret;

	while (id->n_keys > 1) {
		seal_key_id(id->keys[0].pk, kid);
		bad += ks_identity_erase_key(id_path, kid, id) != 0;
	}
	CHECK(bad == 0, "%zu erases failed", bad);
	seal_key_id(id->keys[0].pk, kid);
	cap_begin();
	ret = ks_identity_erase_key(id_path, kid, id);
	err = cap_end();
	CHECK(ret == -EINVAL, "erasing the only key: %d", ret);
	CHECK(strstr(err, "only key") && strstr(err, id_path), "message: %s",
	      err);
	free(err);
	ret = ks_identity_load(id_path, id);
	CHECK(ret == 0 && id->n_keys == 1, "only key kept");
}

static void test_identity_flipped(void)
{
	size_t i, len, bad = 0, lines, named;
	struct ks_identity got;
	uint8_t *orig;
	char *err;
	int ret;

	if (read_all(id_path, &orig, &len)) {
		CHECK(0, "read identity");
		return;
	}
	cap_begin();
	for (i = 0; i < len; i++) {
		orig[i] ^= 0x20;
		write_raw(id_path, orig, len);
		ret = ks_identity_load(id_path, &got);
		bad += ret != -MOAT_E_CORRUPT && ret != -MOAT_E_VERSION;
		orig[i] ^= 0x20;
	}
	err = cap_end();
	named = lines_with(err, id_path, &lines);
	CHECK(bad == 0, "%zu changed identity files loaded", bad);
	CHECK(lines == len && named == len, "%zu lines, %zu named", lines,
	      named);
	write_raw(id_path, orig, len);
	CHECK(ks_identity_load(id_path, &got) == 0, "restored identity loads");
	ks_identity_wipe(&got);
	free(err);
	OPENSSL_cleanse(orig, len);
	free(orig);
}

static void test_quiet_parse(void)
{
	static const uint8_t junk[] = "moat-keyfile 1\nkind hub\n";
	struct ks_identity id;
	char *err;
	int ret;

	cap_begin();
	ret = ks_parse_identity("junk", junk, sizeof(junk) - 1, KS_QUIET, &id);
	err = cap_end();
	CHECK(ret == -MOAT_E_CORRUPT && err[0] == '\0', "quiet parse: %d `%s'",
	      ret, err);
	free(err);
}

int main(void)
{
	struct ks_identity id;

	log_init("test_keystore", LOG_LVL_INFO);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(dir, sizeof(dir), "%s/keys", root);
	test_hub_create();
	test_hub_truncated();
	test_hub_flipped();
	test_hub_crafted();
	test_hub_mismatch_file();
	test_mode_warning();
	test_viewers();
	test_viewer_remove();
	test_viewer_corrupt();
	test_viewer_strays();
	test_viewer_limit();
	test_names();
	test_identity_create(&id);
	test_identity_keys(&id);
	test_identity_erase(&id);
	test_identity_open(&id);
	test_identity_last_key(&id);
	test_identity_flipped();
	test_quiet_parse();
	CHECK(count_leftovers(root) == 0, "temporary files left in %s", root);

	ks_identity_wipe(&id);
	ks_hub_wipe(&hub);
	if (hub_file)
		OPENSSL_cleanse(hub_file, hub_len);
	free(hub_file);
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return test_done("test_keystore");
}
