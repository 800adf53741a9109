// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatd's side of the heartbeat (docs/PROTOCOL.md section 10). The relay
 * hands the uplink a viewer's sealed heartbeat; the uplink, which holds no
 * key, leaves the bytes in its status page (struct stats_uplink, mail).
 * moatd, which can read hub.key, opens each here: a heartbeat that opens
 * with the psk of the viewer it names, and is newer than the last one
 * applied for that viewer, makes that viewer's public key the one new
 * streams are sealed to. The viewer file is rewritten (crash-safely) first,
 * then the sealer starts again and reads it.
 *
 * The bytes come from the uplink's page: another process, and in the end
 * from the relay and the network. They are copied out, bounded, and given
 * to hb_open(), which refuses anything that is not a heartbeat sealed by
 * that viewer to this hub.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/heartbeat.h"
#include "crypto/keystore.h"
#include "daemon/super.h"

/* A heartbeat from further ahead than this is refused: a viewer whose clock
 * ran a year ahead would otherwise make the hub ignore it until then. */
#define HB_FUTURE_US (24ULL * 3600 * 1000000)
/* a live request lasts this long; moat-view renews it while it watches */
#define LIVE_REQ_NS (60ULL * 1000000000)
/* and is honoured only if made this recently (not held while the hub was
 * away from the relay) */
#define LIVE_FRESH_US (120ULL * 1000000)
/* a LAN viewer keeps live view going this long after it leaves */
#define LIVE_LAN_NS (3ULL * 1000000000)
/* the sealer starts again for new keys at most this often */
#define HB_RELOAD_GAP_NS (5ULL * 1000000000)

static void refused(struct super *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void refused(struct super *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->hb_last, sizeof(s->hb_last), fmt, ap);
	va_end(ap);
	s->hb_refused++;
	log_warn("heartbeat refused: %s", s->hb_last);
}

/*
 * A live request (a heartbeat of kind 'L'): it names a key, but changes
 * none: a viewer that watches for an hour while `moat-view heartbeat`
 * rotates its key would otherwise move the hub back to the old one. It
 * counts if the viewer is approved, it was made within LIVE_FRESH_US of
 * this hub's clock either way (not held by a relay to be played later),
 * and it is newer than the last one honoured from that viewer (kept in
 * memory: after a moatd restart a relay could replay one still fresh,
 * which buys it one more minute of live view). Then events cameras send
 * what they seal for LIVE_REQ_NS.
 */
static void live_request(struct super *s, const struct ks_viewer *v,
			 const struct hb_msg *m, uint64_t now_us)
{
	size_t slot = 0;

	if (v->state != KS_VIEWER_APPROVED) {
		refused(s, "a live request from viewer %s, who is not approved (moatctl viewers approve %s)",
			v->name, v->name);
		return;
	}
	if (m->time_us + LIVE_FRESH_US < now_us ||
	    m->time_us > now_us + LIVE_FRESH_US) {
		refused(s, "a live request from viewer %s made %.0f s %s this hub's clock: the hub was away from the relay, or one of the two clocks is wrong",
			v->name,
			(double)(m->time_us > now_us ? m->time_us - now_us :
						       now_us - m->time_us) /
				1e6,
			m->time_us > now_us ? "ahead of" : "behind");
		return;
	}
	for (size_t i = 0; i < sizeof(s->live_seen) / sizeof(s->live_seen[0]);
	     i++) {
		if (!memcmp(s->live_seen[i].id, v->rcpt.viewer_id, 16)) {
			slot = i;
			break;
		}
		if (s->live_seen[i].time_us < s->live_seen[slot].time_us)
			slot = i; /* else the least recent */
	}
	if (!memcmp(s->live_seen[slot].id, v->rcpt.viewer_id, 16) &&
	    m->time_us <= s->live_seen[slot].time_us) {
		refused(s, "a live request from viewer %s not newer than its last (a replay, or sent twice)",
			v->name);
		return;
	}
	memcpy(s->live_seen[slot].id, v->rcpt.viewer_id, 16);
	s->live_seen[slot].time_us = m->time_us;
	if (mono_ns() >= s->live_until_ns)
		log_info("viewer %s watches live through the relay: events cameras send what they seal for the next %llu s",
			 v->name, LIVE_REQ_NS / 1000000000ULL);
	s->live_requests++;
	s->live_until_ns = mono_ns() + LIVE_REQ_NS;
}

/* One mail: 1 when a viewer's key changed (the sealer must restart), 0
 * when not, -EAGAIN when the key folder is locked (try again later). */
static int apply(struct super *s, const uint8_t *body, size_t len)
{
	uint8_t vid[SEAL_VIEWER_ID_LEN];
	char hex[2 * SEAL_VIEWER_ID_LEN + 1];
	struct seal_hub_key hub;
	struct ks_viewer v;
	struct hb_msg m = { 0 };
	struct timespec now;
	uint64_t now_us;
	bool changed = false;
	int ret, lock;

	ret = hb_viewer(body, len, vid);
	if (ret) {
		refused(s, "%zu bytes from the relay are not a heartbeat (%s)",
			len, moat_strerror(ret));
		return 0;
	}
	hex_encode(hex, vid, sizeof(vid));
	/* `moatctl viewers approve|remove' rewrite these files too: one at a
	 * time, and a viewer removed meanwhile stays removed */
	/* never waits: a `moatctl viewers' stopped with the lock held must
	 * not stop the supervisor; the mail waits for the next tick */
	lock = ks_lock(s->cfg.keys, false);
	if (lock == -EWOULDBLOCK)
		return -EAGAIN;
	if (lock < 0) {
		refused(s, "cannot lock the key folder %s (%s)", s->cfg.keys,
			moat_strerror(lock));
		return 0;
	}
	ret = ks_viewer_load(s->cfg.keys, vid, &v);
	if (ret) {
		refused(s, "viewer %.8s... is not paired with this hub (%s)",
			hex, ret == -ENOENT ? "removed?" : moat_strerror(ret));
		ks_unlock(lock);
		return 0;
	}
	ret = ks_hub_load(s->cfg.keys, &hub);
	if (ret) {
		refused(s, "cannot load the hub key from %s (%s)", s->cfg.keys,
			moat_strerror(ret));
		goto out;
	}
	ret = hb_open(&hub, v.rcpt.psk, body, len, &m);
	ks_hub_wipe(&hub);
	clock_gettime(CLOCK_REALTIME, &now);
	now_us = (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
	if (ret == -MOAT_E_CRYPTO) {
		refused(s, "from viewer %s: the key it names cannot be encrypted to (a point of small order)",
			v.name);
	} else if (ret) {
		refused(s, "from viewer %s: it does not open with that viewer's pairing secret and this hub's key (forged, or changed on the way)",
			v.name);
	} else if (m.live) {
		live_request(s, &v, &m, now_us);
	} else if (m.time_us > now_us + HB_FUTURE_US ||
		   m.time_us > (uint64_t)INT64_MAX) {
		refused(s, "from viewer %s: dated %.0f hours ahead of this hub's clock; set the viewer's (or the hub's) clock right",
			v.name, (double)(m.time_us - now_us) / 3.6e9);
	} else if ((int64_t)m.time_us <= v.heartbeat_us) {
		/* the relay may replay an old one, to move the hub back to a
		 * key the viewer has erased: only newer ones count */
		refused(s, "from viewer %s: not newer than the last one applied (a replay, or sent twice)",
			v.name);
	} else {
		changed = memcmp(v.rcpt.pk, m.pk, SEAL_KEY_LEN) != 0;
		memcpy(v.rcpt.pk, m.pk, SEAL_KEY_LEN);
		v.heartbeat_us = (int64_t)m.time_us;
		ret = ks_viewer_save(s->cfg.keys, &v);
		if (ret) {
			refused(s, "from viewer %s: cannot save it in %s (%s)",
				v.name, s->cfg.keys, moat_strerror(ret));
			changed = false;
		} else if (changed) {
			s->hb_applied++;
			log_info("viewer %s sent a new key (heartbeat): new streams are sealed to it",
				 v.name);
		} else {
			s->hb_same++;
			log_info("viewer %s sent a heartbeat with the key it has",
				 v.name);
		}
	}
out:
	ks_unlock(lock);
	OPENSSL_cleanse(&m, sizeof(m));
	ks_viewer_wipe(&v);
	return changed ? 1 : 0;
}

void super_mail(struct super *s)
{
	struct stats_uplink *us = NULL;
	static struct stats_mail m;
	uint64_t in;
	int ret;

	for (size_t i = 0; i < s->n_ch; i++)
		if (s->ch[i].role == ROLE_UPLINK)
			us = s->ch[i].stats;
	if (!us)
		return;
	in = __atomic_load_n(&us->mail_in, __ATOMIC_ACQUIRE);
	if (in < s->mail_seen) /* only a broken uplink goes back */
		s->mail_seen = in;
	if (in - s->mail_seen > STATS_MAIL_SLOTS) {
		s->hb_lost += in - s->mail_seen - STATS_MAIL_SLOTS;
		log_warn("%" PRIu64 " heartbeat(s) came faster than moatd took them and were lost",
			 in - s->mail_seen - STATS_MAIL_SLOTS);
		s->mail_seen = in - STATS_MAIL_SLOTS;
	}
	for (; s->mail_seen < in; s->mail_seen++) {
		const struct stats_mail *slot =
			&us->mail[s->mail_seen % STATS_MAIL_SLOTS];
		uint64_t want = s->mail_seen + 1;

		if (__atomic_load_n(&slot->seq, __ATOMIC_ACQUIRE) != want) {
			s->hb_lost++; /* reused already */
			continue;
		}
		m.len = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);
		if (m.len > STATS_MAIL_MAX)
			m.len = STATS_MAIL_MAX;
		memcpy(m.body, slot->body, m.len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&slot->seq, __ATOMIC_RELAXED) != want) {
			s->hb_lost++; /* reused while it was copied */
			continue;
		}
		ret = apply(s, m.body, m.len);
		if (ret == -EAGAIN)
			break; /* this mail again at the next tick */
		if (ret > 0)
			s->hb_reload_due = true;
	}
	OPENSSL_cleanse(&m, sizeof(m));
	/* each new key restarts the sealer, which ends the streams it has
	 * open: at most once a HB_RELOAD_GAP_NS, whatever a viewer sends */
	if (s->hb_reload_due &&
	    mono_ns() - s->hb_reload_ns >= HB_RELOAD_GAP_NS) {
		s->hb_reload_due = false;
		s->hb_reload_ns = mono_ns();
		super_reload(s, 1U << ROLE_SEALER,
			     "a viewer's key changed: the sealer starts again, sealing new streams to it");
	}
}

void super_live(struct super *s)
{
	struct stats_uplink *us = NULL;
	struct stats_sealer *ss = NULL;
	const struct child *up = NULL;

	for (size_t i = 0; i < s->n_ch; i++) {
		if (s->ch[i].role == ROLE_UPLINK) {
			us = s->ch[i].stats;
			up = &s->ch[i];
		}
		if (s->ch[i].role == ROLE_SEALER)
			ss = s->ch[i].stats;
	}
	/* a LAN viewer counts only while the uplink that serves it runs */
	if (us && up->state == CH_RUNNING &&
	    __atomic_load_n(&us->lan_viewers, __ATOMIC_RELAXED))
		s->lan_until_ns = mono_ns() + LIVE_LAN_NS;
	if (ss) {
		__atomic_store_n(&ss->live_until_ns, s->live_until_ns,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&ss->lan_until_ns, s->lan_until_ns,
				 __ATOMIC_RELAXED);
	}
}
