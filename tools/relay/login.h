/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The relay's side of login (docs/PROTOCOL.md section 12, "Login"): what
 * it keeps per account, and the lockout of addresses that keep failing.
 *
 * Per account, under DIR/<account>/: `.viewers`, the login public keys of
 * the viewers the hub approved (as the hub last sent them; written
 * crash-safely). Public keys only: nothing the relay holds lets anyone log
 * in.
 *
 * Lockout: an address (IPv4, or an IPv6 /64) that fails LOCK_FAILS logins
 * in one role (hub or viewer) within LOCK_WINDOW_S is refused for
 * LOCK_FIRST_S in that role, doubling with each further lockout up to
 * LOCK_MAX_S; a login that succeeds clears its count. The role is part of
 * the key because a hub and its viewers often share one address (a home
 * behind NAT): a pending or mistyped viewer failing over and over must
 * not lock the hub out. Accounts are never locked (that would let anyone
 * lock a hub out by failing on purpose).
 */
#ifndef MOAT_TOOLS_RELAY_LOGIN_H
#define MOAT_TOOLS_RELAY_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "crypto/login.h"

enum {
	LOCK_FAILS = 5,
	LOCK_WINDOW_S = 600,
	LOCK_FIRST_S = 60,
	LOCK_MAX_S = 3600,
	LOCK_SLOTS = 1024, /* addresses tracked; the oldest entry is reused */
	RELAY_VIEWERS_MAX = 16,
};

struct lock_entry {
	uint8_t addr[16]; /* IPv4-mapped, or the /64 */
	uint32_t fails;
	uint64_t first_ms;    /* of the current window */
	uint64_t until_ms;    /* locked until, or 0 */
	uint32_t lock_s;      /* length of the last lockout */
	uint64_t last_ms;     /* last touched, for reuse */
	int role;	      /* WIRE_ROLE_HUB or WIRE_ROLE_VIEWER */
	bool used;
};

struct lockout {
	struct lock_entry e[LOCK_SLOTS];
	/* test hooks: --lock-fails and --lock-seconds */
	uint32_t fails, first_s;
};

void lockout_init(struct lockout *l, uint32_t fails, uint32_t first_s);
/* Seconds the address is still locked out for in role, or 0. */
uint32_t lockout_check(struct lockout *l, const struct sockaddr_storage *a,
		       int role, uint64_t now_ms);
/* A failed login; returns the lockout it started in seconds, or 0. */
uint32_t lockout_fail(struct lockout *l, const struct sockaddr_storage *a,
		      int role, uint64_t now_ms);
void lockout_ok(struct lockout *l, const struct sockaddr_storage *a, int role);

/* The account's approved viewers' keys; *n = 0 when the hub never sent
 * any. 0, or -errno (-EBADMSG for a damaged file). */
int viewers_load(const char *acct_dir,
		 uint8_t keys[RELAY_VIEWERS_MAX][LOGIN_KEY_LEN], size_t *n);
int viewers_save(const char *acct_dir, const uint8_t *keys, size_t n);

/* Printable address for logs. */
const char *addr_str(const struct sockaddr_storage *a, char *buf, size_t len);

#endif
