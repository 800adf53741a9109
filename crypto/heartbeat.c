// SPDX-License-Identifier: GPL-2.0-only
/* Heartbeats: a viewer's next key, sealed to its hub (crypto/heartbeat.h). */
#include <errno.h>
#include <openssl/crypto.h>
#include <string.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/hpke.h"
#include "crypto/heartbeat.h"

static const char hb_info[] = "moat/1 heartbeat";

static void hb_params(struct hpke_params *p, const uint8_t *psk,
		      const uint8_t *viewer_id)
{
	*p = (struct hpke_params){
		.mode = HPKE_MODE_PSK,
		.aead = HPKE_AEAD_CHACHA20POLY1305,
		.info = (const uint8_t *)hb_info,
		.info_len = sizeof(hb_info) - 1,
		.psk = psk,
		.psk_len = SEAL_PSK_LEN,
		.psk_id = viewer_id,
		.psk_id_len = SEAL_VIEWER_ID_LEN,
	};
}

int hb_seal(const uint8_t hub_pk[static SEAL_KEY_LEN],
	    const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
	    const uint8_t psk[static SEAL_PSK_LEN], uint64_t time_us,
	    const uint8_t new_pk[static SEAL_KEY_LEN], uint8_t out[static HB_LEN])
{
	return hb_seal_kind(HB_KIND, hub_pk, viewer_id, psk, time_us, new_pk,
			    out);
}

int hb_seal_kind(uint8_t kind, const uint8_t hub_pk[static SEAL_KEY_LEN],
		 const uint8_t viewer_id[static SEAL_VIEWER_ID_LEN],
		 const uint8_t psk[static SEAL_PSK_LEN], uint64_t time_us,
		 const uint8_t new_pk[static SEAL_KEY_LEN],
		 uint8_t out[static HB_LEN])
{
	struct hpke_params p;
	uint8_t pt[HB_PT_LEN];
	int ret;

	if (kind != HB_KIND && kind != HB_KIND_LIVE)
		return -EINVAL;
	if (hpke_check_public_key(new_pk))
		return -EINVAL;
	out[0] = kind;
	out[1] = HB_VERSION;
	memcpy(out + 2, viewer_id, SEAL_VIEWER_ID_LEN);
	put_u64(pt, time_us);
	memcpy(pt + 8, new_pk, SEAL_KEY_LEN);
	hb_params(&p, psk, viewer_id);
	ret = hpke_seal_single(&p, hub_pk, NULL, out + HB_AAD_LEN, out,
			       HB_AAD_LEN, pt, sizeof(pt),
			       out + HB_AAD_LEN + HPKE_X25519_LEN);
	OPENSSL_cleanse(pt, sizeof(pt));
	if (ret)
		OPENSSL_cleanse(out, HB_LEN);
	return ret;
}

int hb_viewer(const uint8_t *p, size_t len,
	      uint8_t viewer_id[static SEAL_VIEWER_ID_LEN])
{
	if (len < 2)
		return -MOAT_E_LENGTH;
	if (p[0] != HB_KIND && p[0] != HB_KIND_LIVE)
		return -MOAT_E_MALFORMED;
	if (p[1] != HB_VERSION)
		return -MOAT_E_VERSION;
	if (len != HB_LEN)
		return -MOAT_E_LENGTH;
	memcpy(viewer_id, p + 2, SEAL_VIEWER_ID_LEN);
	return 0;
}

int hb_open(const struct seal_hub_key *hub,
	    const uint8_t psk[static SEAL_PSK_LEN], const uint8_t *p,
	    size_t len, struct hb_msg *m)
{
	struct hpke_params hp;
	uint8_t pt[HB_PT_LEN];
	int ret;

	memset(m, 0, sizeof(*m));
	ret = hb_viewer(p, len, m->viewer_id);
	if (ret)
		return ret;
	hb_params(&hp, psk, m->viewer_id);
	ret = hpke_open_single(&hp, p + HB_AAD_LEN, hub->sk, NULL, p,
			       HB_AAD_LEN, p + HB_AAD_LEN + HPKE_X25519_LEN,
			       HB_PT_LEN + HPKE_TAG_LEN, pt);
	if (!ret) {
		m->time_us = get_u64(pt);
		memcpy(m->pk, pt + 8, SEAL_KEY_LEN);
		m->live = p[0] == HB_KIND_LIVE;
		if (hpke_check_public_key(m->pk))
			ret = -MOAT_E_CRYPTO;
	} else {
		/* a bad enc (a low-order point) is refused like a bad tag */
		ret = -MOAT_E_AUTH;
	}
	OPENSSL_cleanse(pt, sizeof(pt));
	if (ret)
		OPENSSL_cleanse(m, sizeof(*m));
	return ret;
}
