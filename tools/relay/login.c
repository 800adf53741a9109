// SPDX-License-Identifier: GPL-2.0-only
/* The relay's login state: approved viewers per account, and lockout. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/hex.h"
#include "tools/relay/login.h"

static const char viewers_magic[] = "moat-relay-viewers 1\n";

void lockout_init(struct lockout *l, uint32_t fails, uint32_t first_s)
{
	memset(l, 0, sizeof(*l));
	l->fails = fails ? fails : LOCK_FAILS;
	l->first_s = first_s ? first_s : LOCK_FIRST_S;
}

/* The key an address is counted under: IPv4 whole, IPv6 by its /64 (a
 * host has a whole /64 to pick addresses from). */
static void addr_key(const struct sockaddr_storage *a, uint8_t k[16])
{
	memset(k, 0, 16);
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)a;

		k[10] = k[11] = 0xff;
		memcpy(k + 12, &s->sin_addr, 4);
	} else if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)a;

		memcpy(k, &s->sin6_addr, 8);
	}
}

static struct lock_entry *find(struct lockout *l,
			       const struct sockaddr_storage *a, int role,
			       bool make, uint64_t now_ms)
{
	struct lock_entry *old = &l->e[0];
	uint8_t k[16];

	addr_key(a, k);
	for (size_t i = 0; i < LOCK_SLOTS; i++) {
		struct lock_entry *e = &l->e[i];

		if (e->used && e->role == role && !memcmp(e->addr, k, 16))
			return e;
		if (!e->used || (old->used && e->last_ms < old->last_ms))
			old = e;
	}
	if (!make)
		return NULL;
	memset(old, 0, sizeof(*old));
	memcpy(old->addr, k, 16);
	old->role = role;
	old->used = true;
	old->first_ms = now_ms;
	return old;
}

uint32_t lockout_check(struct lockout *l, const struct sockaddr_storage *a,
		       int role, uint64_t now_ms)
{
	struct lock_entry *e = find(l, a, role, false, now_ms);

	if (!e || e->until_ms <= now_ms)
		return 0;
	return (uint32_t)((e->until_ms - now_ms + 999) / 1000);
}

uint32_t lockout_fail(struct lockout *l, const struct sockaddr_storage *a,
		      int role, uint64_t now_ms)
{
	struct lock_entry *e = find(l, a, role, true, now_ms);

	e->last_ms = now_ms;
	if (now_ms - e->first_ms > (uint64_t)LOCK_WINDOW_S * 1000) {
		e->first_ms = now_ms;
		e->fails = 0;
	}
	if (++e->fails < l->fails)
		return 0;
	e->lock_s = !e->lock_s ? l->first_s :
		    e->lock_s >= LOCK_MAX_S / 2 ? LOCK_MAX_S :
						  e->lock_s * 2;
	e->until_ms = now_ms + (uint64_t)e->lock_s * 1000;
	e->fails = 0;
	e->first_ms = now_ms;
	return e->lock_s;
}

void lockout_ok(struct lockout *l, const struct sockaddr_storage *a, int role)
{
	struct lock_entry *e = find(l, a, role, false, 0);

	if (e) {
		e->fails = 0;
		e->lock_s = 0;
	}
}

/*
 * .viewers: the magic line, then one line of 64 hex digits per key. The
 * file is the relay's own, but it sits on a disk an attacker may have
 * written to: it is read bounded and strictly.
 */
int viewers_load(const char *acct_dir,
		 uint8_t keys[RELAY_VIEWERS_MAX][LOGIN_KEY_LEN], size_t *n)
{
	enum { LINE = 2 * LOGIN_KEY_LEN + 1 };
	char path[600];
	uint8_t *buf = NULL;
	size_t len = 0, m = sizeof(viewers_magic) - 1;
	int ret;

	*n = 0;
	snprintf(path, sizeof(path), "%s/.viewers", acct_dir);
	ret = file_read_bounded(path, m + RELAY_VIEWERS_MAX * LINE, &buf, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret)
		return ret;
	if (len < m || memcmp(buf, viewers_magic, m) || (len - m) % LINE)
		ret = -EBADMSG;
	for (size_t at = m; !ret && at < len; at += LINE) {
		if (buf[at + LINE - 1] != '\n' ||
		    hex_decode(keys[*n], LOGIN_KEY_LEN, (const char *)buf + at,
			       2 * LOGIN_KEY_LEN) != LOGIN_KEY_LEN)
			ret = -EBADMSG;
		else
			(*n)++;
	}
	if (ret)
		*n = 0;
	free(buf);
	return ret;
}

int viewers_save(const char *acct_dir, const uint8_t *keys, size_t n)
{
	char path[600], text[sizeof(viewers_magic) +
			     RELAY_VIEWERS_MAX * (2 * LOGIN_KEY_LEN + 1)];
	size_t len = sizeof(viewers_magic) - 1;
	int ret;

	if (n > RELAY_VIEWERS_MAX)
		return -EINVAL;
	memcpy(text, viewers_magic, len);
	for (size_t i = 0; i < n; i++) {
		hex_encode(text + len, keys + i * LOGIN_KEY_LEN, LOGIN_KEY_LEN);
		len += 2 * LOGIN_KEY_LEN;
		text[len++] = '\n';
	}
	ret = mkdir_p(acct_dir, 0700);
	snprintf(path, sizeof(path), "%s/.viewers", acct_dir);
	return ret ? ret : file_write_atomic(path, text, len, 0600);
}

const char *addr_str(const struct sockaddr_storage *a, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)a)->sin_addr,
			  ip, sizeof(ip));
	else if (a->ss_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)(const void *)a)->sin6_addr,
			  ip, sizeof(ip));
	snprintf(buf, len, "%s", ip);
	return buf;
}
