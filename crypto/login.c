// SPDX-License-Identifier: GPL-2.0-only
/* Relay login keys: Ed25519 on OpenSSL 3.0 EVP (crypto/login.h). */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "common/err.h"
#include "crypto/login.h"

static const char login_label[] = "moat/1 relay login";
static const char account_label[] = "moat/1 relay account";

enum {
	LOGIN_MSG_LEN = sizeof(login_label) - 1 + 1 + LOGIN_ACCOUNT_LEN +
			LOGIN_CHALLENGE_LEN + LOGIN_KEY_LEN,
};

int login_public(const uint8_t sk[static LOGIN_KEY_LEN],
		 uint8_t pk[static LOGIN_KEY_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk,
						   LOGIN_KEY_LEN);
	size_t n = LOGIN_KEY_LEN;
	int ok = k && EVP_PKEY_get_raw_public_key(k, pk, &n) &&
		 n == LOGIN_KEY_LEN;

	EVP_PKEY_free(k);
	return ok ? 0 : -MOAT_E_CRYPTO;
}

int login_keygen(struct login_key *k)
{
	int ret = RAND_priv_bytes(k->sk, LOGIN_KEY_LEN) == 1 ?
			  login_public(k->sk, k->pk) :
			  -MOAT_E_CRYPTO;

	if (ret)
		login_wipe(k);
	return ret;
}

void login_account(const uint8_t pk[static LOGIN_KEY_LEN],
		   uint8_t acct[static LOGIN_ACCOUNT_LEN])
{
	uint8_t md[32];
	unsigned int n = 0;
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	memset(md, 0, sizeof(md));
	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(c, account_label, sizeof(account_label) - 1) &&
	    EVP_DigestUpdate(c, pk, LOGIN_KEY_LEN))
		EVP_DigestFinal_ex(c, md, &n);
	EVP_MD_CTX_free(c);
	memcpy(acct, md, LOGIN_ACCOUNT_LEN);
}

int login_ed25519_sign(const uint8_t sk[static LOGIN_KEY_LEN],
		       const uint8_t *msg, size_t len,
		       uint8_t sig[static LOGIN_SIG_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, sk,
						   LOGIN_KEY_LEN);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	size_t n = LOGIN_SIG_LEN;
	int ok = k && c && EVP_DigestSignInit(c, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestSign(c, sig, &n, msg, len) == 1 &&
		 n == LOGIN_SIG_LEN;

	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k); /* OpenSSL wipes the key it held */
	return ok ? 0 : -MOAT_E_CRYPTO;
}

int login_ed25519_verify(const uint8_t pk[static LOGIN_KEY_LEN],
			 const uint8_t *msg, size_t len,
			 const uint8_t sig[static LOGIN_SIG_LEN])
{
	EVP_PKEY *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pk,
						  LOGIN_KEY_LEN);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int ok = k && c && EVP_DigestVerifyInit(c, NULL, NULL, NULL, k) == 1 &&
		 EVP_DigestVerify(c, sig, LOGIN_SIG_LEN, msg, len) == 1;

	EVP_MD_CTX_free(c);
	EVP_PKEY_free(k);
	return ok ? 0 : -MOAT_E_AUTH;
}

static void login_msg(uint8_t msg[static LOGIN_MSG_LEN], uint8_t role,
		      const uint8_t *acct, const uint8_t *challenge,
		      const uint8_t *pk)
{
	uint8_t *p = msg;

	memcpy(p, login_label, sizeof(login_label) - 1);
	p += sizeof(login_label) - 1;
	*p++ = role;
	memcpy(p, acct, LOGIN_ACCOUNT_LEN);
	p += LOGIN_ACCOUNT_LEN;
	memcpy(p, challenge, LOGIN_CHALLENGE_LEN);
	p += LOGIN_CHALLENGE_LEN;
	memcpy(p, pk, LOGIN_KEY_LEN);
}

int login_sign(const struct login_key *k, uint8_t role,
	       const uint8_t acct[static LOGIN_ACCOUNT_LEN],
	       const uint8_t challenge[static LOGIN_CHALLENGE_LEN],
	       uint8_t auth[static LOGIN_AUTH_LEN])
{
	uint8_t msg[LOGIN_MSG_LEN];

	login_msg(msg, role, acct, challenge, k->pk);
	memcpy(auth, k->pk, LOGIN_KEY_LEN);
	return login_ed25519_sign(k->sk, msg, sizeof(msg),
				  auth + LOGIN_KEY_LEN);
}

int login_verify(const uint8_t auth[static LOGIN_AUTH_LEN], uint8_t role,
		 const uint8_t acct[static LOGIN_ACCOUNT_LEN],
		 const uint8_t challenge[static LOGIN_CHALLENGE_LEN])
{
	uint8_t msg[LOGIN_MSG_LEN];

	login_msg(msg, role, acct, challenge, auth);
	return login_ed25519_verify(auth, msg, sizeof(msg),
				    auth + LOGIN_KEY_LEN);
}

void login_wipe(struct login_key *k)
{
	if (k)
		OPENSSL_cleanse(k, sizeof(*k));
}
