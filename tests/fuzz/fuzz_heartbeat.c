// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the heartbeat a hub opens (crypto/heartbeat.c):
 * the bytes come from the relay through the uplink, untrusted. Whatever
 * they are, hb_viewer() and hb_open() stay in bounds and agree: what opens
 * names the viewer id its cleartext names. A real heartbeat is written as
 * a seed, so the fuzzer starts from bytes that open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/heartbeat.h"
#include "crypto/hpke.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct seal_hub_key hub;
static const uint8_t psk[SEAL_PSK_LEN] = { 7 };

static void setup(void)
{
	static const uint8_t ikm[32] = { 1, 2, 3 };
	uint8_t vid[SEAL_VIEWER_ID_LEN] = { 9 }, sk[32], pk[32], msg[HB_LEN];
	const char *dir = getenv("MOAT_FUZZ_SEED_DIR");

	hpke_derive_keypair(ikm, sizeof(ikm), hub.sk, hub.pk);
	if (!dir || hpke_generate_keypair(sk, pk) ||
	    hb_seal(hub.pk, vid, psk, 1, pk, msg))
		return;
	{
		char path[4096];
		FILE *f;

		snprintf(path, sizeof(path), "%s/seed-heartbeat", dir);
		f = fopen(path, "wb");
		if (f) {
			fwrite(msg, 1, sizeof(msg), f);
			fclose(f);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	uint8_t vid[SEAL_VIEWER_ID_LEN];
	struct hb_msg m;
	int v, o;

	if (!ready) {
		setup();
		ready = 1;
	}
	v = hb_viewer(data, size, vid);
	o = hb_open(&hub, psk, data, size, &m);
	if (v && o != v)
		__builtin_trap(); /* refused unread, for the same reason */
	if (!o && (memcmp(m.viewer_id, vid, sizeof(vid)) || size != HB_LEN))
		__builtin_trap();
	return 0;
}
