// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-view heartbeat (docs/PROTOCOL.md section 10): erase the private keys
 * no stream can need any more, make a new one when the hub is known to use
 * the newest, and send the hub, through the relay, a heartbeat naming the
 * newest key.
 *
 * Which keys are in use is read from the streams' headers alone (HEAD):
 * a key counts as used by a stream only when that header really opens
 * with it (the wrap unwraps and the header tag verifies), so a relay
 * cannot fake use of a newer key to make this viewer erase an old one.
 *
 * The erase rule. The hub only moves forward through a viewer's keys, and
 * it sends a stream's header before anything sealed after it. So once a
 * header on the relay opens with key N, every stream sealed to an older
 * key has its header on the relay already, and an older key that opens
 * none of them can never be needed: it is erased. Keys newer than the
 * newest in use (sent, not yet applied by the hub) are kept.
 *
 * Order against crashes: the identity file is rewritten (crash-safely)
 * with the erasures and the new key before the heartbeat leaves, so the
 * hub never learns a key this viewer does not hold on disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/wire.h"
#include "crypto/heartbeat.h"
#include "crypto/keystore.h"
#include "tools/view/view.h"

enum {
	HEAD_BATCH = 128,	  /* HEAD requests in flight */
	HB_STREAMS_MAX = 1 << 20, /* streams looked at */
};

/*
 * Which of id's keys opens the header record rec: *bits gets a bit for it
 * (none when no key does). A key counts as not opening it only when the
 * header says so (not wrapped to it, the wrap or the header tag does not
 * verify, or it does not parse); anything else (no memory, OpenSSL
 * failing) is an error, so a failure here never makes a key look unused.
 */
static int header_keys(const struct ks_identity *id, const uint8_t *rec,
		       size_t len, unsigned int *bits)
{
	*bits = 0;
	for (size_t i = 0; i < id->n_keys; i++) {
		struct open_identity one;
		struct open_stream *os;
		size_t out_len;
		bool final;
		int ret;

		ks_identity_open(id, &one);
		one.keys = &id->keys[i];
		one.n_keys = 1;
		os = open_stream_new(&one);
		if (!os)
			return -ENOMEM;
		ret = open_record(os, rec, len, NULL, 0, &out_len, &final);
		open_stream_free(os);
		if (!ret) {
			*bits = 1U << i; /* a stream is wrapped once per viewer */
			return 0;
		}
		if (ret == -MOAT_E_CRYPTO || ret > -MOAT_E_BASE)
			return ret;
	}
	return 0;
}

/* The relay's ERROR frame, said (its reason is why the run stops). */
static void said_error(const struct wire_hdr *h, const uint8_t *f)
{
	fprintf(stderr, "moat-view: heartbeat: the relay says: %.*s\n",
		(int)h->body_len, (const char *)f + WIRE_HDR_LEN);
}

/* What the relay's streams say about this viewer's keys. */
struct scan {
	unsigned int any;  /* a bit per key that opens some stream's header */
	unsigned int need; /* ... of a stream this viewer has not fetched */
	uint8_t (*ids)[16]; /* the streams the relay lists, *n of them */
	size_t n;
	const uint8_t (*fetched)[16]; /* sorted, n_fetched */
	size_t n_fetched;
};

/* LIST, then HEAD each stream; fills sc (ids: the caller frees). */
static int scan(int fd, struct wire_rx *rx, const uint8_t acct[16],
		const struct ks_identity *id, struct scan *sc)
{
	uint8_t (*ids)[16] = NULL;
	size_t cap = 0, asked = 0, *n = &sc->n;
	struct wire_hdr h;
	const uint8_t *f;
	int ret;

	sc->any = sc->need = 0;
	*n = 0;
	ret = wire_send_ctl(fd, WIRE_LIST, acct, 0, NULL, 0);
	while (!ret && !(ret = recv_frame(fd, rx, &h, &f)) &&
	       h.type == WIRE_STREAMS) {
		for (size_t k = 0; k < h.body_len / WIRE_STREAM_ENTRY; k++) {
			if (*n == HB_STREAMS_MAX) {
				ret = -MOAT_E_LIMIT;
				break;
			}
			if (*n == cap) {
				void *p = realloc(ids, (cap ? cap * 2 : 256) *
							       sizeof(*ids));

				if (!p) {
					ret = -ENOMEM;
					break;
				}
				ids = p;
				cap = cap ? cap * 2 : 256;
			}
			memcpy(ids[(*n)++],
			       f + WIRE_HDR_LEN + k * WIRE_STREAM_ENTRY, 16);
		}
	}
	if (!ret && h.type != WIRE_END) {
		if (h.type == WIRE_ERROR)
			said_error(&h, f);
		ret = h.type == WIRE_ERROR ? -EPROTO : -MOAT_E_MALFORMED;
	}
	/* HEAD in batches: the relay answers each with the header record (or
	 * nothing, for a stream deleted since) and END */
	while (!ret && asked < *n) {
		size_t batch = *n - asked < HEAD_BATCH ? *n - asked : HEAD_BATCH;

		for (size_t k = 0; !ret && k < batch; k++)
			ret = wire_send_ctl(fd, WIRE_HEAD, ids[asked + k], 0,
					    NULL, 0);
		for (size_t k = 0; !ret && k < batch;) {
			ret = recv_frame(fd, rx, &h, &f);
			if (ret)
				break;
			if (h.type == WIRE_END)
				k++;
			else if (h.type == REC_TYPE_HEADER &&
				 !memcmp(h.id, ids[asked + k], 16)) {
				unsigned int bits;

				ret = header_keys(id, f, WIRE_HDR_LEN + h.body_len,
						  &bits);
				sc->any |= bits;
				if (!fetched_has(sc->fetched, sc->n_fetched,
						 ids[asked + k]))
					sc->need |= bits;
			} else if (h.type == WIRE_ERROR) {
				said_error(&h, f);
				ret = -EPROTO;
			} else {
				ret = -MOAT_E_MALFORMED;
			}
		}
		asked += batch;
	}
	sc->ids = ids;
	return ret;
}

/* Drops bit i, moving the higher bits down one (key i was erased). */
static unsigned int drop_bit(unsigned int bits, int i)
{
	return (bits & ((1U << i) - 1)) | ((bits >> (i + 1)) << i);
}

static int cmp16(const void *a, const void *b)
{
	return memcmp(a, b, 16);
}

/* Keeps in FILE.fetched only the streams the relay still lists. */
static void prune_fetched(const char *ident, const struct scan *sc)
{
	uint8_t (*keep)[16] = malloc((sc->n_fetched ? sc->n_fetched : 1) * 16);
	size_t k = 0;
	uint8_t (*listed)[16] = sc->ids;

	if (!keep)
		return;
	qsort(listed, sc->n, 16, cmp16);
	for (size_t i = 0; i < sc->n_fetched; i++)
		if (fetched_has((const uint8_t (*)[16])listed, sc->n,
				sc->fetched[i]))
			memcpy(keep[k++], sc->fetched[i], 16);
	if (k < sc->n_fetched && fetched_keep(ident, (const uint8_t (*)[16])keep, k))
		fprintf(stderr, "moat-view: heartbeat: could not rewrite %s.fetched\n",
			ident);
	free(keep);
}

/* An exclusive lock on the folder holding the identity file (the file
 * itself is replaced by each write, so it cannot hold the lock). */
static int lock_identity(const char *ident)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(ident, '/');
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == ident)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ident), ident);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0) {
		fprintf(stderr, "moat-view: heartbeat: another heartbeat for an identity in %s is running; try again when it is done\n",
			dir);
		close(fd);
		return -1;
	}
	if (fd < 0)
		fprintf(stderr, "moat-view: heartbeat: %s: %s\n", dir,
			strerror(errno));
	return fd;
}

static void key_hex(const struct open_key *k, char out[33])
{
	uint8_t kid[SEAL_KEY_ID_LEN];

	seal_key_id(k->pk, kid);
	hex_encode(out, kid, sizeof(kid));
}

int cmd_heartbeat(const char *ident, const char *relay, bool json)
{
	struct ks_identity id;
	struct open_identity oid;
	struct wire_rx rx = { 0 };
	struct wire_hdr h;
	const uint8_t *f;
	uint8_t acct[LOGIN_ACCOUNT_LEN], mail[HB_LEN];
	char erased[KS_MAX_KEYS][33], cur[33];
	struct scan sc = { 0 };
	uint8_t (*fetched)[16] = NULL;
	size_t n_erased = 0, held_before;
	int newest_used = -1, fd = -1, ret, rc = 1, lock;
	bool made = false;
	const char *why;
	struct timespec now;

	/* two heartbeats at once (a timer and a person) could each write
	 * a new key, and the hub take the one no longer on disk: one at a
	 * time, by a lock on the identity's folder */
	lock = lock_identity(ident);
	if (lock < 0)
		return 1;
	if (view_identity(ident, &id, &oid)) {
		close(lock);
		return 1;
	}
	held_before = id.n_keys;
	fd = connect_relay(relay);
	if (fd < 0 || wire_rx_init(&rx, WIRE_CTL_BODY_MAX + WIRE_HDR_LEN))
		goto out;
	if (relay_login(fd, &rx, &id, ident, acct))
		goto out;
	/* the streams fetched whole need their keys no more */
	ret = fetched_load(ident, &fetched, &sc.n_fetched);
	if (ret)
		fprintf(stderr, "moat-view: heartbeat: %s.fetched: %s; every stream on the relay counts as not fetched\n",
			ident, strerror(-ret));
	sc.fetched = (const uint8_t (*)[16])fetched;
	ret = scan(fd, &rx, acct, &id, &sc);
	if (ret) {
		if (ret != -EPROTO)
			fprintf(stderr, "moat-view: heartbeat: reading the streams' headers from the relay: %s; nothing was erased or sent\n",
				moat_strerror(ret));
		goto out;
	}
	for (size_t i = 0; i < id.n_keys; i++)
		if (sc.any & (1U << i))
			newest_used = (int)i;
	/* erase every key older than the newest in use that opens no
	 * stream this viewer still needs (not fetched) */
	for (int i = newest_used - 1; i >= 0; i--) {
		if (sc.need & (1U << i))
			continue;
		key_hex(&id.keys[i], erased[n_erased++]);
		memmove(&id.keys[i], &id.keys[i + 1],
			(id.n_keys - (size_t)i - 1) * sizeof(id.keys[0]));
		memmove(&id.key_created[i], &id.key_created[i + 1],
			(id.n_keys - (size_t)i - 1) * sizeof(id.key_created[0]));
		id.n_keys--;
		OPENSSL_cleanse(&id.keys[id.n_keys], sizeof(id.keys[0]));
		id.key_created[id.n_keys] = 0;
		sc.any = drop_bit(sc.any, i);
		sc.need = drop_bit(sc.need, i);
		newest_used--;
	}
	/* a new key once the hub uses the newest; else the newest again (it
	 * was sent before, and lost, or not applied yet) */
	if (newest_used == (int)id.n_keys - 1 && id.n_keys < KS_MAX_KEYS) {
		ret = ks_identity_new_key(&id);
		if (ret)
			goto out;
		made = true;
	}
	if ((n_erased || made) && (ret = ks_identity_save(ident, &id))) {
		fprintf(stderr, "moat-view: heartbeat: cannot write %s: %s; nothing was sent\n",
			ident, moat_strerror(ret));
		goto out;
	}
	key_hex(&id.keys[id.n_keys - 1], cur);
	clock_gettime(CLOCK_REALTIME, &now);
	ret = hb_seal(id.hub_pk, id.viewer_id, id.psk,
		      (uint64_t)now.tv_sec * 1000000 +
			      (uint64_t)now.tv_nsec / 1000,
		      id.keys[id.n_keys - 1].pk, mail);
	if (!ret)
		ret = wire_send_ctl(fd, WIRE_MAIL, acct, 0, mail, sizeof(mail));
	if (!ret)
		ret = recv_frame(fd, &rx, &h, &f);
	if (!ret && h.type == WIRE_ERROR) {
		fprintf(stderr, "moat-view: heartbeat: the relay refused it: %.*s\n",
			(int)h.body_len, (const char *)f + WIRE_HDR_LEN);
		goto out;
	}
	if (!ret && (h.type != WIRE_ACK || h.value != 1))
		ret = -MOAT_E_MALFORMED;
	if (ret) {
		fprintf(stderr, "moat-view: heartbeat: sending it through the relay: %s\n",
			moat_strerror(ret));
		goto out;
	}
	rc = 0;
	prune_fetched(ident, &sc);
	if (made)
		why = "new";
	else if (newest_used < 0)
		why = "sent again: no stream on the relay opens with this viewer's keys yet, so none is erased and no new one made";
	else if (newest_used == (int)id.n_keys - 1)
		why = "sent again: this viewer holds 8 keys, all needed by streams on the relay; a new one comes once the oldest streams are fetched (moat-view fetch --out) or deleted by the relay";
	else
		why = "sent again: the hub has not sealed a stream to it yet";
	if (json) {
		printf("{\"streams\": %zu, \"fetched\": %zu, \"keys_before\": %zu, \"keys\": %zu, \"new_key\": %s, \"key\": \"%s\", \"note\": \"%s\", \"erased\": [",
		       sc.n, sc.n_fetched, held_before, id.n_keys,
		       made ? "true" : "false", cur, made ? "" : why);
		for (size_t i = 0; i < n_erased; i++)
			printf("%s\"%s\"", i ? ", " : "", erased[i]);
		printf("]}\n");
	} else {
		printf("heartbeat sent: the hub will seal new streams to key %.8s (%s)\n",
		       cur, why);
		printf("%zu stream(s) on the relay looked at (%zu fetched before); %zu key(s) held (%zu erased: no stream still to fetch needs them)\n",
		       sc.n, sc.n_fetched, id.n_keys, n_erased);
	}
out:
	OPENSSL_cleanse(mail, sizeof(mail));
	free(sc.ids);
	free(fetched);
	ks_identity_wipe(&id);
	wire_rx_free(&rx);
	if (fd >= 0)
		close(fd);
	close(lock);
	return rc;
}
