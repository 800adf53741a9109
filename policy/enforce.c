// SPDX-License-Identifier: GPL-2.0-only
/* The whole network policy (see enforce.h). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/bpf.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "policy/sysctl.h"

/* Every camera interface exists: said first, before a sysctl of it fails
 * with a message about /proc/sys that does not name the mistake. */
static int interfaces_exist(const struct cfg *c, char *why, size_t why_len)
{
	char name[CFG_IFNAME_MAX];

	for (const char *p = c->camera_interfaces;
	     (p = cfg_next_interface(p, name));)
		if (!if_nametoindex(name)) {
			snprintf(why, why_len,
				 "[hub] camera_interfaces: there is no interface %s (`ip -br link' lists them; a USB adapter may be named enx...)",
				 name);
			return -ENODEV;
		}
	return 0;
}

int policy_enforce(const struct cfg *c, const char *conf, char *why,
		   size_t why_len)
{
	char *text = malloc(POLICY_TEXT_MAX), err[2048] = "";
	int ret = text ? 0 : -ENOMEM;

	if (!ret)
		ret = interfaces_exist(c, why, why_len);
	if (!ret)
		ret = polsys_apply(c, why, why_len);
	if (!ret)
		ret = policy_ruleset(c, conf, text, POLICY_TEXT_MAX, why,
				     why_len);
	if (!ret) {
		ret = policy_apply(text, err, sizeof(err));
		if (ret)
			snprintf(why, why_len,
				 "nftables refused the ruleset (the table in force is as it was): %s",
				 err);
	}
	if (!ret)
		ret = polbpf_apply(c, why, why_len);
	free(text);
	return ret;
}

/*
 * The table in the kernel against the one c makes: the three base chains
 * at filter - 5, and every rule, known by its comment (nft prints rules
 * in its own words, but keeps comments as written).
 */
static int verify_nft(const struct cfg *c, const char *conf, struct sbuf *out)
{
	static const char *const hooks[] = {
		"hook input priority filter - 5",
		"hook forward priority filter - 5",
		"hook output priority filter - 5",
	};
	char *want = malloc(POLICY_TEXT_MAX), *have = malloc(POLICY_TEXT_MAX);
	char why[512] = "";
	int n = 0;

	if (!want || !have) {
		free(want);
		free(have);
		return -ENOMEM;
	}
	if (policy_ruleset(c, conf, want, POLICY_TEXT_MAX, why, sizeof(why))) {
		sb_printf(out, "nftables: %s\n", why);
		n++;
	} else if (policy_list(have, POLICY_TEXT_MAX)) {
		sb_printf(out, "nftables: there is no table inet moat (moatctl policy apply)\n");
		n++;
	} else {
		for (size_t i = 0; i < 3; i++)
			if (!strstr(have, hooks[i])) {
				sb_printf(out, "nftables: no chain with %s (moatctl policy apply)\n",
					  hooks[i]);
				n++;
			}
		for (const char *p = strstr(want, "comment \""); p;
		     p = strstr(p + 1, "comment \"")) {
			const char *q = strchr(p + 9, '"');
			char needle[512];

			if (!q || q - p >= (long)sizeof(needle))
				break;
			snprintf(needle, sizeof(needle), "%.*s", (int)(q - p + 1),
				 p);
			if (!strstr(have, needle)) {
				sb_printf(out, "nftables: the table lacks the rule %s (moatctl policy apply)\n",
					  needle + 8);
				n++;
			}
		}
	}
	free(want);
	free(have);
	return n;
}

int policy_verify(const struct cfg *c, const char *conf, struct sbuf *out)
{
	int n = polsys_verify(c, out), k;

	k = verify_nft(c, conf, out);
	n += k > 0 ? k : 0;
	k = polbpf_verify(c, out);
	n += k > 0 ? k : 0;
	return n;
}

void policy_status(const struct cfg *c, struct sbuf *out, bool json)
{
	char *have = malloc(POLICY_TEXT_MAX);
	bool table = have && !policy_list(have, POLICY_TEXT_MAX);

	if (json) {
		sb_printf(out, "{\n  \"nftables\": {\"table\": %s},\n",
			  table ? "true" : "false");
		polsys_status(c, out, true);
		sb_printf(out, ",\n");
		polbpf_status(c, out, true);
		sb_printf(out, "\n}\n");
	} else {
		sb_printf(out, "%s", table ? have :
				       "no table inet moat in the kernel\n");
		polsys_status(c, out, false);
		polbpf_status(c, out, false);
	}
	free(have);
}

int policy_teardown(const struct cfg *c, char *why, size_t why_len)
{
	int ret = policy_remove(why, why_len);

	if (!ret)
		ret = polbpf_remove(c, why, why_len);
	return ret;
}
