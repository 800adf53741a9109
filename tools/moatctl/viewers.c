// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatctl viewers: who the hub seals to. The hub's key store (moat.conf's
 * `keys') holds a record per paired viewer; the first is approved when it
 * pairs, any later one waits until the owner approves it here. Removing a
 * viewer deletes its record: no stream sealed after that opens for it.
 * A running moatd is told (its sealer starts again with the new set).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/err.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "crypto/keystore.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "tools/moatctl/cmds.h"

static const char *state_name(enum ks_viewer_state s)
{
	return s == KS_VIEWER_APPROVED ? "approved" : "pending";
}

static void list(const struct ks_viewer *v, size_t n, bool json,
		 struct sbuf *b)
{
	if (json)
		sb_printf(b, "[");
	else if (!n)
		sb_printf(b, "no viewer is paired with this hub (moat-view pair)\n");
	for (size_t i = 0; i < n; i++) {
		char id[2 * SEAL_VIEWER_ID_LEN + 1], when[32], hb[32] = "";
		uint8_t kid[SEAL_KEY_ID_LEN];
		char key[2 * SEAL_KEY_ID_LEN + 1];
		time_t t = (time_t)v[i].added;
		struct tm tm;

		hex_encode(id, v[i].rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
		seal_key_id(v[i].rcpt.pk, kid);
		hex_encode(key, kid, sizeof(kid));
		gmtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (v[i].heartbeat_us) {
			t = (time_t)(v[i].heartbeat_us / 1000000);
			gmtime_r(&t, &tm);
			strftime(hb, sizeof(hb), "%Y-%m-%dT%H:%M:%SZ", &tm);
		}
		if (json) {
			sb_printf(b, "%s\n  {\"id\": \"%s\", \"name\": \"", i ? "," : "",
				  id);
			sb_json_str(b, v[i].name);
			sb_printf(b, "\", \"state\": \"%s\", \"added\": \"%s\", \"key\": \"%s\", \"last_heartbeat\": \"%s\"}",
				  state_name(v[i].state), when, key, hb);
		} else {
			sb_printf(b, "%s  %-9s %-20s paired %s, key %.8s, %s%s\n", id,
				  state_name(v[i].state), v[i].name, when, key,
				  hb[0] ? "last heartbeat " : "no heartbeat yet",
				  hb);
		}
	}
	if (json)
		sb_printf(b, "%s]\n", n ? "\n" : "");
}

/* The one viewer whose id starts with, or whose name is, what. */
static int find(const struct ks_viewer *v, size_t n, const char *what,
		size_t *at)
{
	size_t hits = 0, len = strlen(what);

	for (size_t i = 0; i < n; i++) {
		char id[2 * SEAL_VIEWER_ID_LEN + 1];

		hex_encode(id, v[i].rcpt.viewer_id, SEAL_VIEWER_ID_LEN);
		if ((len >= 4 && !strncmp(id, what, len)) ||
		    !strcmp(v[i].name, what)) {
			*at = i;
			hits++;
		}
	}
	return hits == 1 ? 0 : hits ? -EEXIST : -ENOENT;
}

void viewers_tell(const char *sock, bool quiet)
{
	char *reply = NULL;

	if (ctl_request(sock, "viewers changed", &reply) == 0 && reply) {
		if (!quiet)
			fputs(reply, stdout);
	} else if (!quiet) {
		printf("moatd is not running: it seals to these viewers when it starts\n");
	}
	free(reply);
}

static int change(const struct cfg *c, const char *sock, const char *verb,
		  const char *what)
{
	struct ks_viewer *v = NULL;
	size_t n = 0, at = 0;
	/* moatd rewrites a viewer's file when a heartbeat comes: one
	 * read-modify-write at a time */
	int lock = ks_lock(c->keys, true);
	int ret = lock < 0 ? lock : ks_viewer_list(c->keys, &v, &n);

	if (!ret)
		ret = find(v, n, what, &at);
	if (ret == -ENOENT || ret == -EEXIST) {
		fprintf(stderr, "moatctl: viewers %s: %s `%s' (moatctl viewers list shows them; give a name or at least 4 hex digits of the id)\n",
			verb, ret == -ENOENT ? "no viewer is" : "more than one viewer is",
			what);
	} else if (ret) {
		fprintf(stderr, "moatctl: the key store %s: %s\n", c->keys,
			moat_strerror(ret));
	} else if (!strcmp(verb, "remove")) {
		ret = ks_viewer_remove(c->keys, v[at].rcpt.viewer_id);
		if (!ret)
			printf("removed %s: no stream sealed from now on opens for it\n",
			       v[at].name);
	} else if (v[at].state == KS_VIEWER_APPROVED) {
		printf("%s is approved already\n", v[at].name);
	} else {
		v[at].state = KS_VIEWER_APPROVED;
		ret = ks_viewer_save(c->keys, &v[at]);
		if (!ret)
			printf("approved %s: new streams are sealed to it\n",
			       v[at].name);
	}
	ks_unlock(lock);
	if (!ret && strcmp(verb, "list"))
		viewers_tell(sock, false);
	ks_viewer_list_free(v, n);
	return ret ? 1 : 0;
}

int viewers_cmd(const char *cfg_path, const char *sock, int argc,
		char **argv, bool json)
{
	static struct cfg c;
	const char *verb = argc >= 1 ? argv[0] : "list";
	struct ks_viewer *v = NULL;
	struct sbuf b = { 0 };
	size_t n = 0;
	int ret;

	log_init("moatctl", LOG_LVL_WARN);
	if (argc >= 2 && !strcmp(argv[argc - 1], "--json")) {
		json = true;
		argc--;
	}
	if (!((!strcmp(verb, "list") && argc <= 1) ||
	      ((!strcmp(verb, "approve") || !strcmp(verb, "remove")) &&
	       argc == 2))) {
		fprintf(stderr, "moatctl: viewers: say list, approve NAME|ID or remove NAME|ID\n%s",
			moatctl_usage);
		return 2;
	}
	if (cfg_load(cfg_path, &c))
		return 1;
	if (strcmp(verb, "list"))
		return change(&c, sock ? sock : c.control, verb, argv[1]);
	ret = ks_viewer_list(c.keys, &v, &n);
	if (ret) {
		fprintf(stderr, "moatctl: the key store %s: %s\n", c.keys,
			moat_strerror(ret));
		return 1;
	}
	list(v, n, json, &b);
	fputs(b.p ? b.p : "", stdout);
	free(b.p);
	ks_viewer_list_free(v, n);
	return 0;
}
