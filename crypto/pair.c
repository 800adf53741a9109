// SPDX-License-Identifier: GPL-2.0-only
/* Pairing over the LAN: the code, the messages, the keys (crypto/pair.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/pair.h"

/* ---- the code ---- */

static const char b32[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; /* Crockford */
static const char code_prefix[] = "moat1-";

/*
 * CRC-16/CCITT-FALSE, MSB first. One mistyped base32 character changes at
 * most 5 adjacent bits, two swapped neighbours at most 10: a burst of 16
 * bits or fewer, which a CRC of degree 16 always catches (a hash of the
 * same size would miss one typo in 65536).
 */
static uint16_t crc16(const uint8_t *p, size_t n)
{
	uint16_t crc = 0xffff;

	while (n--) {
		crc ^= (uint16_t)(*p++ << 8);
		for (int i = 0; i < 8; i++)
			crc = crc & 0x8000 ? (uint16_t)((crc << 1) ^ 0x1021) :
					     (uint16_t)(crc << 1);
	}
	return crc;
}

/* version | hub id | secret | family (4 or 6) | address | port | CRC */
static size_t code_bin(const struct pair_code *c, uint8_t *p)
{
	size_t alen = c->family == AF_INET6 ? 16 : 4, n = 0;

	p[n++] = PAIR_VERSION;
	memcpy(p + n, c->hub_id, PAIR_ID_LEN);
	n += PAIR_ID_LEN;
	memcpy(p + n, c->secret, PAIR_SECRET_LEN);
	n += PAIR_SECRET_LEN;
	p[n++] = c->family == AF_INET6 ? 6 : 4;
	memcpy(p + n, c->addr, alen);
	n += alen;
	put_u16(p + n, c->port);
	n += 2;
	put_u16(p + n, crc16(p, n));
	return n + 2;
}

int pair_code_format(const struct pair_code *c, char *out, size_t cap)
{
	uint8_t bin[PAIR_CODE_BIN_MAX];
	size_t n = code_bin(c, bin), o = 0, digits = 0;
	uint32_t acc = 0;
	int bits = 0;

	if (cap < PAIR_CODE_TEXT_MAX) {
		OPENSSL_cleanse(bin, sizeof(bin));
		return -ENOSPC;
	}
	memcpy(out, code_prefix, sizeof(code_prefix) - 1);
	o = sizeof(code_prefix) - 1;
	for (size_t i = 0; i < n || bits > 0;) {
		if (bits < 5 && i < n) {
			acc = (acc << 8) | bin[i++];
			bits += 8;
		}
		if (bits < 5) { /* the last bits, padded with zeros */
			acc <<= 5 - bits;
			bits = 5;
		}
		if (digits && digits % 4 == 0)
			out[o++] = '-';
		out[o++] = b32[(acc >> (bits - 5)) & 31];
		bits -= 5;
		digits++;
	}
	out[o] = 0;
	OPENSSL_cleanse(bin, sizeof(bin));
	acc = 0;
	return 0;
}

static int b32_value(int ch)
{
	if (ch >= 'a' && ch <= 'z')
		ch -= 'a' - 'A';
	if (ch == 'O')
		ch = '0';
	if (ch == 'I' || ch == 'L')
		ch = '1';
	for (int i = 0; i < 32; i++)
		if (b32[i] == ch)
			return i;
	return -1;
}

int pair_code_parse(const char *s, struct pair_code *c)
{
	uint8_t bin[PAIR_CODE_BIN_MAX + 4];
	size_t n = 0, alen;
	uint32_t acc = 0;
	int bits = 0, ret = 0;
	struct rd r;
	uint8_t fam;

	memset(c, 0, sizeof(*c));
	while (*s == ' ' || *s == '\t' || *s == '\n')
		s++;
	if (strncasecmp(s, code_prefix, sizeof(code_prefix) - 1))
		return -MOAT_E_VERSION;
	for (s += sizeof(code_prefix) - 1; *s; s++) {
		int v;

		if (*s == '-' || *s == ' ' || *s == '\t' || *s == '\n' ||
		    *s == '\r')
			continue;
		v = b32_value((unsigned char)*s);
		if (v < 0 || n == sizeof(bin)) {
			ret = -MOAT_E_MALFORMED;
			goto out;
		}
		acc = (acc << 5) | (uint32_t)v;
		bits += 5;
		if (bits >= 8) {
			bin[n++] = (uint8_t)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	/* the length of an IPv4 or an IPv6 code, then the check (a typo
	 * anywhere shows there), then what it says */
	if (n != PAIR_CODE_BIN_MAX - 12 && n != PAIR_CODE_BIN_MAX) {
		ret = -MOAT_E_MALFORMED;
		goto out;
	}
	if (crc16(bin, n - 2) != (((unsigned int)bin[n - 2] << 8) | bin[n - 1])) {
		ret = -MOAT_E_CORRUPT;
		goto out;
	}
	rd_init(&r, bin, n - 2);
	if (!rd_u8(&r, &fam) || fam != PAIR_VERSION) {
		ret = -MOAT_E_VERSION;
		goto out;
	}
	if (!rd_copy(&r, c->hub_id, PAIR_ID_LEN) ||
	    !rd_copy(&r, c->secret, PAIR_SECRET_LEN) || !rd_u8(&r, &fam) ||
	    (fam != 4 && fam != 6)) {
		ret = -MOAT_E_MALFORMED;
		goto out;
	}
	c->family = fam == 6 ? AF_INET6 : AF_INET;
	alen = fam == 6 ? 16 : 4;
	if (!rd_copy(&r, c->addr, alen) || !rd_u16(&r, &c->port) ||
	    rd_left(&r)) {
		ret = -MOAT_E_MALFORMED;
		goto out;
	}
	/* the padding bits of the last digit are zero, and a port is set */
	if (!c->port || bits >= 5 || (acc & ((1u << bits) - 1)))
		ret = -MOAT_E_MALFORMED;
out:
	OPENSSL_cleanse(bin, sizeof(bin));
	if (ret)
		OPENSSL_cleanse(c, sizeof(*c));
	return ret;
}

/* ---- messages ---- */

static bool name_ok(const char *s, size_t n)
{
	if (n < 1 || n > PAIR_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		/* what the key store's name rules and JSON output take
		 * without escapes: printable ASCII and UTF-8 bytes */
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			return false;
	}
	return true;
}

size_t pair_hello_put(const struct pair_hello *h, uint8_t out[PAIR_MSG_MAX])
{
	size_t n = 0, nl = strnlen(h->name, PAIR_NAME_MAX);

	out[n++] = PAIR_HELLO;
	out[n++] = PAIR_VERSION;
	memcpy(out + n, h->hub_id, PAIR_ID_LEN);
	n += PAIR_ID_LEN;
	memcpy(out + n, h->nonce, PAIR_NONCE_LEN);
	n += PAIR_NONCE_LEN;
	memcpy(out + n, h->viewer_pk, PAIR_KEY_LEN);
	n += PAIR_KEY_LEN;
	memcpy(out + n, h->login_pk, PAIR_KEY_LEN);
	n += PAIR_KEY_LEN;
	memcpy(out + n, h->viewer_id, PAIR_ID_LEN);
	n += PAIR_ID_LEN;
	out[n++] = (uint8_t)nl;
	memcpy(out + n, h->name, nl);
	return n + nl;
}

int pair_hello_parse(const uint8_t *p, size_t len, struct pair_hello *h)
{
	struct rd r;
	uint8_t type, ver, nl;
	const uint8_t *name;

	memset(h, 0, sizeof(*h));
	rd_init(&r, p, len);
	if (!rd_u8(&r, &type) || type != PAIR_HELLO)
		return -MOAT_E_MALFORMED;
	if (!rd_u8(&r, &ver) || ver != PAIR_VERSION)
		return -MOAT_E_VERSION;
	if (!rd_copy(&r, h->hub_id, PAIR_ID_LEN) ||
	    !rd_copy(&r, h->nonce, PAIR_NONCE_LEN) ||
	    !rd_copy(&r, h->viewer_pk, PAIR_KEY_LEN) ||
	    !rd_copy(&r, h->login_pk, PAIR_KEY_LEN) ||
	    !rd_copy(&r, h->viewer_id, PAIR_ID_LEN) || !rd_u8(&r, &nl) ||
	    !(name = rd_take(&r, nl)))
		return -MOAT_E_LENGTH;
	if (rd_left(&r))
		return -MOAT_E_LENGTH;
	if (!name_ok((const char *)name, nl))
		return -MOAT_E_MALFORMED;
	memcpy(h->name, name, nl);
	h->name[nl] = 0;
	return 0;
}

enum { REPLY_LEN = 2 + PAIR_NONCE_LEN + 2 * PAIR_KEY_LEN + PAIR_MAC_LEN };

size_t pair_reply_put(const struct pair_reply *r, uint8_t out[PAIR_MSG_MAX])
{
	size_t n = 0;

	out[n++] = PAIR_REPLY;
	out[n++] = PAIR_VERSION;
	memcpy(out + n, r->nonce, PAIR_NONCE_LEN);
	n += PAIR_NONCE_LEN;
	memcpy(out + n, r->hub_pk, PAIR_KEY_LEN);
	n += PAIR_KEY_LEN;
	memcpy(out + n, r->hub_login_pk, PAIR_KEY_LEN);
	n += PAIR_KEY_LEN;
	memcpy(out + n, r->mac, PAIR_MAC_LEN);
	return n + PAIR_MAC_LEN;
}

int pair_reply_parse(const uint8_t *p, size_t len, struct pair_reply *r)
{
	memset(r, 0, sizeof(*r));
	if (len < 2 || p[0] != PAIR_REPLY)
		return -MOAT_E_MALFORMED;
	if (p[1] != PAIR_VERSION)
		return -MOAT_E_VERSION;
	if (len != REPLY_LEN)
		return -MOAT_E_LENGTH;
	p += 2;
	memcpy(r->nonce, p, PAIR_NONCE_LEN);
	p += PAIR_NONCE_LEN;
	memcpy(r->hub_pk, p, PAIR_KEY_LEN);
	p += PAIR_KEY_LEN;
	memcpy(r->hub_login_pk, p, PAIR_KEY_LEN);
	p += PAIR_KEY_LEN;
	memcpy(r->mac, p, PAIR_MAC_LEN);
	return 0;
}

size_t pair_confirm_put(const uint8_t mac[PAIR_MAC_LEN],
			uint8_t out[PAIR_MSG_MAX])
{
	out[0] = PAIR_CONFIRM;
	memcpy(out + 1, mac, PAIR_MAC_LEN);
	return 1 + PAIR_MAC_LEN;
}

int pair_confirm_parse(const uint8_t *p, size_t len, uint8_t mac[PAIR_MAC_LEN])
{
	if (len < 1 || p[0] != PAIR_CONFIRM)
		return -MOAT_E_MALFORMED;
	if (len != 1 + PAIR_MAC_LEN)
		return -MOAT_E_LENGTH;
	memcpy(mac, p + 1, PAIR_MAC_LEN);
	return 0;
}

size_t pair_done_put(bool approved, uint8_t out[PAIR_MSG_MAX])
{
	out[0] = PAIR_DONE;
	out[1] = approved ? 1 : 2;
	return 2;
}

size_t pair_error_put(const char *why, uint8_t out[PAIR_MSG_MAX])
{
	size_t n = strnlen(why, PAIR_ERROR_MAX);

	out[0] = PAIR_ERROR;
	memcpy(out + 1, why, n);
	return 1 + n;
}

int pair_end_parse(const uint8_t *p, size_t len, bool *approved,
		   char why[PAIR_ERROR_MAX + 1])
{
	why[0] = 0;
	if (len == 2 && p[0] == PAIR_DONE && (p[1] == 1 || p[1] == 2)) {
		*approved = p[1] == 1;
		return 0;
	}
	if (len < 2 || len > 1 + PAIR_ERROR_MAX || p[0] != PAIR_ERROR)
		return -MOAT_E_MALFORMED;
	for (size_t i = 1; i < len; i++) /* shown to a person: printable */
		why[i - 1] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '?';
	why[len - 1] = 0;
	return -MOAT_E_AUTH;
}

/* ---- keys ---- */

static int hmac(const uint8_t key[32], const char *label, const uint8_t *a,
		size_t alen, uint8_t out[32])
{
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
		OSSL_PARAM_construct_end(),
	};
	size_t outl = 0;
	int ok = c && EVP_MAC_init(c, key, 32, params) == 1 &&
		 EVP_MAC_update(c, (const uint8_t *)label, strlen(label)) == 1 &&
		 (!alen || EVP_MAC_update(c, a, alen) == 1) &&
		 EVP_MAC_final(c, out, &outl, 32) == 1 && outl == 32;

	EVP_MAC_CTX_free(c);
	EVP_MAC_free(m);
	return ok ? 0 : -MOAT_E_CRYPTO;
}

int pair_derive(const uint8_t secret[PAIR_SECRET_LEN], const uint8_t *hello,
		size_t hello_len, const uint8_t *reply, size_t reply_len,
		struct pair_keys *pk)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int n = 0;
	int ok;

	ok = reply_len > PAIR_MAC_LEN && c &&
	     EVP_DigestInit_ex(c, EVP_sha256(), NULL) &&
	     EVP_DigestUpdate(c, "moat/1 pairing transcript", 25) &&
	     EVP_DigestUpdate(c, hello, hello_len) &&
	     EVP_DigestUpdate(c, reply, reply_len - PAIR_MAC_LEN) &&
	     EVP_DigestFinal_ex(c, pk->t, &n) && n == 32;
	EVP_MD_CTX_free(c);
	if (!ok || hmac(secret, "moat/1 pairing", NULL, 0, pk->k)) {
		pair_keys_wipe(pk);
		return -MOAT_E_CRYPTO;
	}
	return 0;
}

int pair_mac(const struct pair_keys *pk, const char *role,
	     uint8_t mac[PAIR_MAC_LEN])
{
	char label[32];

	snprintf(label, sizeof(label), "moat/1 pairing %s", role);
	return hmac(pk->k, label, pk->t, sizeof(pk->t), mac);
}

bool pair_mac_ok(const uint8_t a[PAIR_MAC_LEN], const uint8_t b[PAIR_MAC_LEN])
{
	return CRYPTO_memcmp(a, b, PAIR_MAC_LEN) == 0;
}

int pair_psk(const struct pair_keys *pk, uint8_t psk[32])
{
	return hmac(pk->k, "moat/1 pairing psk", pk->t, sizeof(pk->t), psk);
}

void pair_keys_wipe(struct pair_keys *pk)
{
	OPENSSL_cleanse(pk, sizeof(*pk));
}

/* ---- I/O ---- */

int pair_send(int fd, const uint8_t *body, size_t len)
{
	uint8_t buf[2 + PAIR_MSG_MAX];
	size_t off = 0;

	if (len > PAIR_MSG_MAX)
		return -MOAT_E_LENGTH;
	put_u16(buf, (uint16_t)len);
	memcpy(buf + 2, body, len);
	while (off < len + 2) {
		ssize_t n = send(fd, buf + off, len + 2 - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			OPENSSL_cleanse(buf, sizeof(buf));
			return n < 0 ? -errno : -EPIPE;
		}
		off += (size_t)n;
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
}

static int recv_all(int fd, uint8_t *p, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, p + off, len - off, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ?
				       -ETIMEDOUT :
				       -errno;
		if (n == 0)
			return -ECONNRESET;
		off += (size_t)n;
	}
	return 0;
}

long pair_recv(int fd, uint8_t buf[PAIR_MSG_MAX])
{
	uint8_t lb[2];
	size_t len;
	int ret = recv_all(fd, lb, 2);

	if (ret)
		return ret;
	len = ((size_t)lb[0] << 8) | lb[1];
	if (!len || len > PAIR_MSG_MAX)
		return -MOAT_E_LENGTH;
	ret = recv_all(fd, buf, len);
	return ret ? ret : (long)len;
}
