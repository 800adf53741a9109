// SPDX-License-Identifier: GPL-2.0-only
/*
 * The demo's key stores, made as pairing will make them: the hub's (its
 * key pair, and per viewer: id, public key, pairing secret) and each
 * viewer's own file (hub public key, viewer id, pairing secret, private
 * key). Everything used afterwards is read back from those files.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/err.h"
#include "common/fileio.h"
#include "tools/demo/demo.h"

const char *const DEMO_VIEWER_NAMES[DEMO_VIEWERS] = { "alice", "bob" };

static int demo_dir(struct demo_keys *k, const char *dir)
{
	char hub[512];

	if (!dir) {
		snprintf(k->dir, sizeof(k->dir), "/tmp/moat-demo.XXXXXX");
		if (!mkdtemp(k->dir))
			return -errno;
		k->made_dir = true;
		return 0;
	}
	snprintf(k->dir, sizeof(k->dir), "%s", dir);
	snprintf(hub, sizeof(hub), "%s/hub/hub.key", dir);
	if (access(hub, F_OK) == 0) {
		fprintf(stderr,
			"moat-demo: %s already holds a hub key; give --dir a new or empty folder\n",
			dir);
		return -EEXIST;
	}
	return mkdir_p(dir, 0700);
}

/* Pairing, as both sides will store it: viewer file and hub record. */
static int demo_pair(struct demo_keys *k, const char *hub_dir, size_t i,
		     const struct seal_hub_key *hub)
{
	struct ks_identity id = { 0 };
	struct ks_viewer v = { 0 };
	char path[512];
	int ret;

	memcpy(id.hub_pk, hub->pk, SEAL_KEY_LEN);
	RAND_bytes(id.viewer_id, sizeof(id.viewer_id));
	ret = RAND_priv_bytes(id.psk, sizeof(id.psk)) == 1 ? 0 : -MOAT_E_CRYPTO;
	snprintf(id.name, sizeof(id.name), "%s", DEMO_VIEWER_NAMES[i]);
	if (!ret)
		ret = ks_identity_new_key(&id);
	snprintf(path, sizeof(path), "%s/%s/viewer.key", k->dir,
		 DEMO_VIEWER_NAMES[i]);
	if (!ret)
		ret = ks_identity_create(path, &id);
	memcpy(v.rcpt.viewer_id, id.viewer_id, SEAL_VIEWER_ID_LEN);
	memcpy(v.rcpt.pk, id.keys[id.n_keys - 1].pk, SEAL_KEY_LEN);
	memcpy(v.rcpt.psk, id.psk, SEAL_PSK_LEN);
	snprintf(v.name, sizeof(v.name), "%s", DEMO_VIEWER_NAMES[i]);
	v.state = KS_VIEWER_APPROVED;
	v.added = time(NULL);
	if (!ret)
		ret = ks_viewer_save(hub_dir, &v);
	ks_identity_wipe(&id);
	ks_viewer_wipe(&v);
	return ret;
}

/* Reads back what sealing and opening use, from the files alone. */
static int demo_load(struct demo_keys *k, const char *hub_dir)
{
	struct ks_viewer *list = NULL;
	char path[512];
	size_t n = 0, i, j;
	int ret;

	ret = ks_hub_load(hub_dir, &k->hub);
	if (!ret)
		ret = ks_viewer_list(hub_dir, &list, &n);
	if (!ret && n != DEMO_VIEWERS)
		ret = -MOAT_E_CORRUPT;
	for (i = 0; i < DEMO_VIEWERS && !ret; i++) {
		snprintf(path, sizeof(path), "%s/%s/viewer.key", k->dir,
			 DEMO_VIEWER_NAMES[i]);
		ret = ks_identity_load(path, &k->ids[i]);
		if (!ret)
			ks_identity_open(&k->ids[i], &k->ident[i]);
	}
	for (j = 0; j < n && !ret; j++)
		k->rcpt[j] = list[j].rcpt;
	ks_viewer_list_free(list, n);
	seal_key_id(k->hub.pk, k->hub_id);
	return ret;
}

/* An outsider: real keys and secrets, never paired with this hub. */
static int demo_stranger(struct demo_keys *k)
{
	struct ks_identity *id = &k->ids[DEMO_VIEWERS];
	int ret;

	memcpy(id->hub_pk, k->hub.pk, SEAL_KEY_LEN);
	RAND_bytes(id->viewer_id, sizeof(id->viewer_id));
	RAND_bytes(id->psk, sizeof(id->psk));
	ret = ks_identity_new_key(id);
	if (!ret)
		ks_identity_open(id, &k->stranger);
	return ret;
}

int demo_keys_make(struct demo_keys *k, const char *dir)
{
	struct seal_hub_key hub;
	char hub_dir[512];
	size_t i;
	int ret;

	memset(k, 0, sizeof(*k));
	ret = demo_dir(k, dir);
	if (ret)
		return ret;
	snprintf(hub_dir, sizeof(hub_dir), "%s/hub", k->dir);
	ret = ks_hub_create(hub_dir, &hub);
	for (i = 0; i < DEMO_VIEWERS && !ret; i++)
		ret = demo_pair(k, hub_dir, i, &hub);
	ks_hub_wipe(&hub);
	if (!ret)
		ret = demo_load(k, hub_dir);
	if (!ret)
		ret = demo_stranger(k);
	if (ret)
		fprintf(stderr, "moat-demo: key stores in %s: %s\n", k->dir,
			moat_strerror(ret));
	return ret;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

void demo_keys_remove(struct demo_keys *k)
{
	if (k->made_dir)
		nftw(k->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

void demo_keys_wipe(struct demo_keys *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}
