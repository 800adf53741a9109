/* SPDX-License-Identifier: GPL-2.0-only */
/* moat-view's parts (tools/moat-view.c, tools/view/). */
#ifndef MOAT_TOOLS_VIEW_VIEW_H
#define MOAT_TOOLS_VIEW_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"
#include "crypto/keystore.h"

/* Loads the viewer's identity and fills oid from it; 0, or -1 with the
 * reason printed. */
int view_identity(const char *ident, struct ks_identity *id,
		  struct open_identity *oid);
/* Who moat-view talks to, for its messages: "the relay", or "the hub"
 * (live --hub: straight from the hub on the LAN). */
extern const char *view_peer;
/* How long connect_relay() waits for the connection (0: the kernel's). */
extern int view_connect_timeout_s;
/* A connection to the relay (or hub) at HOST:PORT ([v6]:PORT), or -1 with
 * the reason printed. */
int connect_relay(const char *spec);
/* The next frame from the relay, blocking: 0, or -errno / -MOAT_E_*. */
int recv_frame(int fd, struct wire_rx *rx, struct wire_hdr *h,
	       const uint8_t **f);
/* HELLO, CHALLENGE, AUTH as this viewer; 0, or -1 with the reason printed. */
int relay_login(int fd, struct wire_rx *rx, const struct ks_identity *id,
		const char *ident, uint8_t acct[static LOGIN_ACCOUNT_LEN]);

/* A new identity named name: login key, viewer id, first key; not the
 * hub's keys nor the psk, which pairing decides. 0 or -MOAT_E_*. */
int view_new_identity(const char *name, struct ks_identity *id);

/* moat-view pair CODE (tools/view/pair.c): the exit status. */
int cmd_pair_code(const char *code, const char *out, const char *name,
		  bool json);

/* moat-view live (tools/view/live.c): the exit status. */
int cmd_live(const char *ident, const char *relay, const char *out,
	     const char *camera, double seconds, bool json);

/*
 * The streams this viewer fetched (tools/view/fetched.c: FILE.fetched
 * beside the identity FILE). add appends; load gives them sorted (none if
 * the file is missing); has looks one up; keep rewrites the file with
 * exactly ids. 0 or -errno.
 */
int fetched_add(const char *ident, const uint8_t (*ids)[16], size_t n);
int fetched_load(const char *ident, uint8_t (**ids)[16], size_t *n);
bool fetched_has(const uint8_t (*ids)[16], size_t n, const uint8_t id[16]);
int fetched_keep(const char *ident, const uint8_t (*ids)[16], size_t n);

/* moat-view heartbeat (tools/view/heartbeat.c): the exit status. */
int cmd_heartbeat(const char *ident, const char *relay, bool json);

#endif
