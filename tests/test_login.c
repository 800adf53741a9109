// SPDX-License-Identifier: GPL-2.0-only
/*
 * Relay login keys (crypto/login.h) and their files: Ed25519 against
 * RFC 8032 section 7.1's vectors; a login answer verifies only for the
 * role, account, challenge and key it was made for; the hub's relay.key is
 * made 0600 once and never replaced, and a damaged one is refused; an
 * identity with a login key keeps it through rotation, one with half a
 * login key is refused, one from before the login (no such fields) still
 * loads; a viewer file carries the viewer's login public key.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "common/err.h"
#include "common/fileio.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/keystore.h"
#include "crypto/login.h"
#include "tests/lib/check.h"

/* RFC 8032, section 7.1: TEST 1, 2 and 3 (secret, public, message,
 * signature). */
static const struct {
	const char *sk, *pk, *msg, *sig;
} rfc8032[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
	  "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
	  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
	  "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
	  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
	  "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
	  "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};

static void hex(uint8_t *out, size_t n, const char *s)
{
	if (hex_decode(out, n, s, strlen(s)) != (long)n)
		abort();
}

static void vectors(void)
{
	for (size_t i = 0; i < sizeof(rfc8032) / sizeof(rfc8032[0]); i++) {
		uint8_t sk[32], pk[32], want_pk[32], msg[2], sig[64],
			want_sig[64];
		size_t n = strlen(rfc8032[i].msg) / 2;

		hex(sk, 32, rfc8032[i].sk);
		hex(want_pk, 32, rfc8032[i].pk);
		hex(want_sig, 64, rfc8032[i].sig);
		if (n)
			hex(msg, n, rfc8032[i].msg);
		CHECK(login_public(sk, pk) == 0 && !memcmp(pk, want_pk, 32),
		      "RFC 8032 TEST %zu: public key", i + 1);
		CHECK(login_ed25519_sign(sk, msg, n, sig) == 0 &&
			      !memcmp(sig, want_sig, 64),
		      "RFC 8032 TEST %zu: signature", i + 1);
		CHECK(login_ed25519_verify(pk, msg, n, want_sig) == 0,
		      "RFC 8032 TEST %zu: verifies", i + 1);
		want_sig[i * 7] ^= 0x10;
		CHECK(login_ed25519_verify(pk, msg, n, want_sig) == -MOAT_E_AUTH,
		      "RFC 8032 TEST %zu: a flipped signature bit is refused",
		      i + 1);
	}
}

static void answers(void)
{
	struct login_key a, b;
	uint8_t acct[16], other[16], chal[32], chal2[32], auth[96], bad[96];
	int wrong = 0;

	CHECK(login_keygen(&a) == 0 && login_keygen(&b) == 0 &&
		      memcmp(a.pk, b.pk, 32),
	      "two fresh login keys differ");
	login_account(a.pk, acct);
	login_account(b.pk, other);
	CHECK(memcmp(acct, other, 16), "their accounts differ");
	memset(chal, 0x5a, sizeof(chal));
	memcpy(chal2, chal, sizeof(chal));
	chal2[31] ^= 1;
	CHECK(login_sign(&a, 1, acct, chal, auth) == 0 &&
		      !memcmp(auth, a.pk, 32) &&
		      login_verify(auth, 1, acct, chal) == 0,
	      "an answer verifies for its role, account and challenge");
	wrong += login_verify(auth, 2, acct, chal) != -MOAT_E_AUTH;
	wrong += login_verify(auth, 1, other, chal) != -MOAT_E_AUTH;
	wrong += login_verify(auth, 1, acct, chal2) != -MOAT_E_AUTH;
	memcpy(bad, auth, sizeof(bad));
	memcpy(bad, b.pk, 32); /* another key claims the signature */
	wrong += login_verify(bad, 1, acct, chal) != -MOAT_E_AUTH;
	for (size_t i = 32; i < 96; i += 9) {
		memcpy(bad, auth, sizeof(bad));
		bad[i] ^= 0x01;
		wrong += login_verify(bad, 1, acct, chal) != -MOAT_E_AUTH;
	}
	CHECK(wrong == 0,
	      "refused: another role, account, challenge or key, and flipped signature bits (%d accepted)",
	      wrong);
	login_wipe(&a);
	login_wipe(&b);
}

static int count_lines(const char *path, const char *prefix)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int n = 0;

	if (file_read_bounded(path, 1 << 16, &buf, &len))
		return -1;
	for (char *p = (char *)buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		n += !strncmp(p, prefix, strlen(prefix));
	free(buf);
	return n;
}

static void files(const char *root)
{
	char keys[PATH_MAX - 64], path[PATH_MAX], ident[PATH_MAX], old[PATH_MAX];
	struct login_key k1, k2;
	struct ks_identity id = { 0 }, id2;
	struct ks_viewer v = { 0 }, v2;
	struct stat sb;
	uint8_t *buf = NULL;
	size_t len = 0;
	char *cap;

	snprintf(keys, sizeof(keys), "%s/keys", root);
	snprintf(path, sizeof(path), "%s/relay.key", keys);
	CHECK(ks_login_load(keys, &k1) == -ENOENT,
	      "no relay.key yet: -ENOENT");
	CHECK(ks_login_load_or_create(keys, &k1) == 0 && stat(path, &sb) == 0 &&
		      (sb.st_mode & 0777) == 0600,
	      "relay.key made, mode 0600");
	CHECK(ks_login_load_or_create(keys, &k2) == 0 &&
		      !memcmp(&k1, &k2, sizeof(k1)),
	      "made once: loading again gives the same key");
	/* damage: one hex digit of the public key */
	CHECK(file_read_bounded(path, 4096, &buf, &len) == 0, "read relay.key");
	if (buf) {
		char *pk = strstr((char *)buf, "public-key ");

		if (pk)
			pk[11] = pk[11] == 'a' ? 'b' : 'a';
		file_write_atomic(path, buf, len, 0600);
		free(buf);
		buf = NULL;
	}
	cap_begin();
	CHECK(ks_login_load_or_create(keys, &k2) == -MOAT_E_CORRUPT,
	      "a damaged relay.key is refused, not replaced");
	cap = cap_end();
	CHECK(strstr(cap, "relay.key") != NULL, "the message names the file: %s",
	      cap);
	free(cap);

	/* an identity with a login key, through a rotation */
	snprintf(ident, sizeof(ident), "%s/viewer.key", root);
	memset(id.hub_pk, 7, sizeof(id.hub_pk));
	memset(id.viewer_id, 8, sizeof(id.viewer_id));
	memset(id.psk, 9, sizeof(id.psk));
	snprintf(id.name, sizeof(id.name), "kitchen");
	memcpy(id.hub_login_pk, k1.pk, LOGIN_KEY_LEN);
	CHECK(ks_identity_new_key(&id) == 0 && login_keygen(&id.login) == 0 &&
		      ks_identity_create(ident, &id) == 0,
	      "an identity with a login key written");
	CHECK(ks_identity_add_key(ident, &id2) == 0 && id2.n_keys == 2 &&
		      !memcmp(&id2.login, &id.login, sizeof(id.login)) &&
		      !memcmp(id2.hub_login_pk, k1.pk, LOGIN_KEY_LEN),
	      "a rotation keeps the login key and the hub's");
	ks_identity_wipe(&id2);
	CHECK(count_lines(ident, "login-secret-key ") == 1 &&
		      count_lines(ident, "login-public-key ") == 1 &&
		      count_lines(ident, "hub-login-key ") == 1,
	      "each login field once in the file");

	/* from before the login: no login fields at all */
	snprintf(old, sizeof(old), "%s/old.key", root);
	memset(&id.login, 0, sizeof(id.login));
	memset(id.hub_login_pk, 0, sizeof(id.hub_login_pk));
	CHECK(ks_identity_create(old, &id) == 0 &&
		      count_lines(old, "login-") == 0 &&
		      count_lines(old, "hub-login-key") == 0,
	      "an identity without a login key has no login lines");
	CHECK(ks_identity_load(old, &id2) == 0 && id2.n_keys == 1,
	      "and loads (made before the relay login)");
	ks_identity_wipe(&id2);

	/* half a login key: crafted, with a valid checksum */
	{
		struct ks_identity half;

		/* the full identity's text, without its secret line */
		if (file_read_bounded(ident, 4096, &buf, &len) == 0) {
			char *s = strstr((char *)buf, "login-secret-key "), *e;

			e = s ? strchr(s, '\n') : NULL;
			if (s && e)
				memmove(s, e + 1, strlen(e + 1) + 1);
			len = strlen((char *)buf);
			/* recompute the checksum line */
			{
				char *sum = strstr((char *)buf, "checksum ");
				uint8_t md[32];
				unsigned int ml = 0;

				if (sum) {
					EVP_Digest(buf, (size_t)(sum - (char *)buf),
						   md, &ml, EVP_sha256(), NULL);
					hex_encode(sum + 9, md, 32);
					sum[9 + 64] = '\n';
				}
			}
			cap_begin();
			CHECK(ks_parse_identity("half.key", buf, len, 0, &half) ==
					      -MOAT_E_CORRUPT,
			      "an identity with a login public key and no secret is refused");
			cap = cap_end();
			CHECK(strstr(cap, "login-public-key") != NULL,
			      "saying which field lacks its other half: %s", cap);
			free(cap);
			free(buf);
			buf = NULL;
		}
	}

	/* a viewer file carries the viewer's login public key */
	memcpy(v.rcpt.viewer_id, id.viewer_id, SEAL_VIEWER_ID_LEN);
	memset(v.rcpt.pk, 4, sizeof(v.rcpt.pk));
	memset(v.rcpt.psk, 5, sizeof(v.rcpt.psk));
	snprintf(v.name, sizeof(v.name), "kitchen");
	v.state = KS_VIEWER_APPROVED;
	v.added = 1700000000;
	memcpy(v.login_pk, k1.pk, LOGIN_KEY_LEN);
	CHECK(ks_viewer_save(keys, &v) == 0 &&
		      ks_viewer_load(keys, v.rcpt.viewer_id, &v2) == 0 &&
		      !memcmp(v2.login_pk, k1.pk, LOGIN_KEY_LEN),
	      "a viewer's login key saved and loaded");
	login_wipe(&k1);
	login_wipe(&k2);
	ks_identity_wipe(&id);
}

int main(void)
{
	char root[] = "/tmp/moat-login.XXXXXX", cmd[128];

	log_init("test_login", LOG_LVL_INFO);
	vectors();
	answers();
	if (!mkdtemp(root)) {
		CHECK(0, "a temporary folder");
		return test_done("test_login");
	}
	files(root);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		fprintf(stderr, "could not remove %s\n", root);
	return test_done("test_login");
}
