// SPDX-License-Identifier: GPL-2.0-only
/*
 * The heartbeat message (crypto/heartbeat.h) and the viewer file's
 * heartbeat field: what the hub opens, and everything it must refuse.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/err.h"
#include "crypto/heartbeat.h"
#include "crypto/hpke.h"
#include "crypto/keystore.h"
#include "tests/lib/check.h"

int main(void)
{
	struct seal_hub_key hub, other;
	uint8_t vid[16], psk[32], psk2[32], pk[32], sk[32], msg[HB_LEN],
		bad[HB_LEN], id[16];
	/* a point of order 8 on Curve25519: cannot be encrypted to */
	static const uint8_t low[32] = { 0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41,
					 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa,
					 0xf1, 0x9f, 0xc4, 0x6a, 0xda, 0x09,
					 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd,
					 0x86, 0x62, 0x05, 0x16, 0x5f, 0x49,
					 0xb8, 0x00 };
	struct hb_msg m;
	int flips_refused = 0;

	CHECK(!hpke_generate_keypair(hub.sk, hub.pk) &&
		      !hpke_generate_keypair(other.sk, other.pk) &&
		      !hpke_generate_keypair(sk, pk),
	      "key pairs");
	memset(vid, 0x5a, sizeof(vid));
	memset(psk, 0x11, sizeof(psk));
	memset(psk2, 0x12, sizeof(psk2));

	CHECK(!hb_seal(hub.pk, vid, psk, 1234567890123456ULL, pk, msg),
	      "a heartbeat seals");
	CHECK(msg[0] == 'B' && msg[1] == 1 && !memcmp(msg + 2, vid, 16),
	      "its cleartext: kind, version, viewer id");
	CHECK(!hb_viewer(msg, sizeof(msg), id) && !memcmp(id, vid, 16),
	      "the viewer id is read before opening");
	CHECK(!hb_open(&hub, psk, msg, sizeof(msg), &m) &&
		      m.time_us == 1234567890123456ULL &&
		      !memcmp(m.pk, pk, 32) && !memcmp(m.viewer_id, vid, 16),
	      "the hub opens it: the time and the new key");
	CHECK(hb_open(&hub, psk2, msg, sizeof(msg), &m) == -MOAT_E_AUTH,
	      "another psk (not the viewer) does not open it");
	CHECK(hb_open(&other, psk, msg, sizeof(msg), &m) == -MOAT_E_AUTH,
	      "another hub does not open it");
	for (size_t i = 0; i < sizeof(msg); i++) {
		memcpy(bad, msg, sizeof(msg));
		bad[i] ^= 0x01;
		flips_refused += hb_open(&hub, psk, bad, sizeof(bad), &m) != 0;
	}
	CHECK(flips_refused == HB_LEN, "a flipped bit anywhere is refused (%d of %d)",
	      flips_refused, HB_LEN);
	memcpy(bad, msg, sizeof(msg));
	bad[1] = 2;
	CHECK(hb_open(&hub, psk, bad, sizeof(bad), &m) == -MOAT_E_VERSION,
	      "another version is named as such");
	CHECK(hb_open(&hub, psk, msg, sizeof(msg) - 1, &m) == -MOAT_E_LENGTH &&
		      hb_viewer(msg, 1, id) == -MOAT_E_LENGTH,
	      "a short one is refused for its length");
	bad[0] = 'X';
	CHECK(hb_viewer(bad, sizeof(bad), id) == -MOAT_E_MALFORMED,
	      "another kind of mail is not a heartbeat");
	CHECK(hb_seal(hub.pk, vid, psk, 1, low, bad) == -EINVAL,
	      "a low-order new key is refused when sealing");
	{
		/* a live request: a heartbeat of kind 'L', its kind bound */
		uint8_t live[HB_LEN];

		CHECK(!hb_seal_kind(HB_KIND_LIVE, hub.pk, vid, psk, 77, pk,
				    live) &&
			      live[0] == 'L' &&
			      !hb_open(&hub, psk, live, sizeof(live), &m) &&
			      m.live && m.time_us == 77 && !memcmp(m.pk, pk, 32),
		      "a live request seals and opens as one (and names the key)");
		CHECK(!hb_open(&hub, psk, msg, sizeof(msg), &m) && !m.live,
		      "a heartbeat is no live request");
		live[0] = 'B';
		CHECK(hb_open(&hub, psk, live, sizeof(live), &m) == -MOAT_E_AUTH,
		      "a live request relabelled a heartbeat does not open (the kind is authenticated)");
		msg[0] = 'L';
		CHECK(hb_open(&hub, psk, msg, sizeof(msg), &m) == -MOAT_E_AUTH,
		      "nor a heartbeat relabelled a live request");
		msg[0] = 'B';
		CHECK(hb_seal_kind('X', hub.pk, vid, psk, 1, pk, live) == -EINVAL,
		      "no other kind is sealed");
	}
	{
		/* the viewer file keeps the last heartbeat applied */
		char dir[] = "/tmp/moat-hbmsg-XXXXXX";
		struct ks_viewer v = { 0 }, w;

		CHECK(mkdtemp(dir) != NULL, "a folder");
		memcpy(v.rcpt.viewer_id, vid, 16);
		memcpy(v.rcpt.pk, pk, 32);
		memcpy(v.rcpt.psk, psk, 32);
		snprintf(v.name, sizeof(v.name), "phone");
		v.state = KS_VIEWER_APPROVED;
		v.added = 1700000000;
		CHECK(!ks_viewer_save(dir, &v) && !ks_viewer_load(dir, vid, &w) &&
			      w.heartbeat_us == 0,
		      "a viewer that never sent a heartbeat: none on file");
		v.heartbeat_us = 1764000000123456LL;
		CHECK(!ks_viewer_save(dir, &v) && !ks_viewer_load(dir, vid, &w) &&
			      w.heartbeat_us == 1764000000123456LL,
		      "the time of the last heartbeat applied is kept");
		{
			char cmd[200];

			snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
			CHECK(system(cmd) == 0, "cleaned up");
		}
	}
	return test_done("test_hbmsg");
}
