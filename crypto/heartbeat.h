/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Heartbeats (docs/PROTOCOL.md section 10): a viewer tells its hub, through
 * the relay, the public key new streams are to be sealed to.
 *
 * The message is sealed with HPKE psk mode to the hub's static key (psk =
 * the viewer's pairing psk, psk_id = its viewer id, info "moat/1
 * heartbeat"), so only the hub opens it and only the paired viewer can
 * make one. Its bytes, 106 in all:
 *
 *   0   1   kind 'B' (a heartbeat) or 'L' (a heartbeat that also asks to
 *           watch live: PROTOCOL.md section 10, "Live requests")
 *   1   1   version 1
 *   2   16  viewer id             (cleartext: which psk to open it with)
 *   18  32  enc                   HPKE encapsulated key
 *   50  56  ciphertext + tag      of: time (8, big-endian microseconds
 *                                 since 1970) || the new public key (32)
 *
 * The first 18 bytes are the AEAD's associated data. The time lets the hub
 * refuse a replayed heartbeat: it applies one only if it is newer than the
 * last it applied for that viewer.
 *
 * Every parser here is bounded; every secret is wiped.
 */
#ifndef MOAT_CRYPTO_HEARTBEAT_H
#define MOAT_CRYPTO_HEARTBEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/hpke.h"
#include "crypto/stream.h"

enum {
	HB_KIND = 'B',
	HB_KIND_LIVE = 'L',
	HB_VERSION = 1,
	HB_AAD_LEN = 2 + SEAL_VIEWER_ID_LEN,
	HB_PT_LEN = 8 + SEAL_KEY_LEN,
	HB_LEN = HB_AAD_LEN + HPKE_X25519_LEN + HB_PT_LEN + HPKE_TAG_LEN, /* 106 */
};

/* An opened heartbeat. */
struct hb_msg {
	uint8_t viewer_id[SEAL_VIEWER_ID_LEN];
	uint64_t time_us;
	uint8_t pk[SEAL_KEY_LEN]; /* the viewer's new public key */
	bool live;		  /* kind 'L': it asks to watch live */
};

/*
 * Seals a heartbeat for the hub whose static public key is hub_pk, from
 * the viewer (viewer_id, psk), naming new_pk. out gets HB_LEN bytes.
 * 0, -EINVAL (new_pk cannot be encrypted to) or -MOAT_E_CRYPTO.
 */
int hb_seal(const uint8_t hub_pk[static SEAL_KEY_LEN],
	    const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
	    const uint8_t psk[static SEAL_PSK_LEN], uint64_t time_us,
	    const uint8_t new_pk[static SEAL_KEY_LEN], uint8_t out[static HB_LEN]);
/* The same, of kind HB_KIND or HB_KIND_LIVE (the kind is authenticated:
 * it is in the associated data). */
int hb_seal_kind(uint8_t kind, const uint8_t hub_pk[static SEAL_KEY_LEN],
		 const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
		 const uint8_t psk[static SEAL_PSK_LEN], uint64_t time_us,
		 const uint8_t new_pk[static SEAL_KEY_LEN],
		 uint8_t out[static HB_LEN]);

/*
 * The viewer id a heartbeat claims to come from, read before it is opened
 * (to find that viewer's psk). 0, -MOAT_E_LENGTH (not HB_LEN bytes),
 * -MOAT_E_MALFORMED (not a heartbeat) or -MOAT_E_VERSION.
 */
int hb_viewer(const uint8_t *p, size_t len,
	      uint8_t viewer_id[static SEAL_VIEWER_ID_LEN]);

/*
 * Opens a heartbeat with the hub's key and the psk of the viewer it names.
 * 0 with *m filled; the errors of hb_viewer(), -MOAT_E_AUTH (not sealed by
 * a holder of this psk to this hub, or changed on the way), or
 * -MOAT_E_CRYPTO (the key it names cannot be encrypted to). On error *m is
 * wiped.
 */
int hb_open(const struct seal_hub_key *hub,
	    const uint8_t psk[static SEAL_PSK_LEN], const uint8_t *p,
	    size_t len, struct hb_msg *m);

#endif
