// SPDX-License-Identifier: GPL-2.0-only
/* The policy's kernel settings (see sysctl.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/sysctl.h"

/* Per camera interface: net/FAMILY/conf/IFNAME/KEY. */
static const struct {
	const char *family, *key;
	int value;
} per_if[] = {
	{ "ipv4", "rp_filter", 1 },
	{ "ipv4", "arp_ignore", 2 },
	{ "ipv4", "arp_announce", 2 },
	{ "ipv4", "accept_redirects", 0 },
	{ "ipv4", "accept_source_route", 0 },
	{ "ipv6", "accept_ra", 0 },
	{ "ipv6", "accept_redirects", 0 },
};
#define N_PER_IF (sizeof(per_if) / sizeof(per_if[0]))
#define TFO "ipv4/tcp_fastopen"
#define TFO_CLIENT 1

static int get(const char *name, int *v)
{
	char p[256];
	FILE *f;
	int ret;

	snprintf(p, sizeof(p), "/proc/sys/net/%s", name);
	f = fopen(p, "re");
	if (!f)
		return -errno;
	ret = fscanf(f, "%d", v) == 1 ? 0 : -EIO;
	fclose(f);
	return ret;
}

static int set(const char *name, int v)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "/proc/sys/net/%s", name);
	f = fopen(p, "we");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", v);
	return fclose(f) ? -errno : 0;
}

/* The value that counts: rp_filter takes the larger of all and the
 * interface's, so a strict interface under a loose `all' is loose. */
static int effective(const char *name, int *v)
{
	int a, ret = get(name, v);

	if (ret || !strstr(name, "/rp_filter"))
		return ret;
	if (get("ipv4/conf/all/rp_filter", &a) == 0 && a > *v)
		*v = a;
	return 0;
}

/* Calls fn for each setting: (name, the value wanted, the interface). */
static int each(const struct cfg *c,
		int (*fn)(void *arg, const char *name, int want, bool mask),
		void *arg)
{
	int ret = fn(arg, TFO, TFO_CLIENT, true);
	char ifn[CFG_IFNAME_MAX];

	for (const char *p = c->camera_interfaces;
	     !ret && (p = cfg_next_interface(p, ifn));)
		for (size_t i = 0; !ret && i < N_PER_IF; i++) {
			char name[256];

			snprintf(name, sizeof(name), "%s/conf/%s/%s",
				 per_if[i].family, ifn, per_if[i].key);
			ret = fn(arg, name, per_if[i].value, false);
		}
	return ret;
}

struct msg {
	char *why;
	size_t len;
	struct sbuf *out;
	bool json;
	int n;
};

static int apply_one(void *arg, const char *name, int want, bool mask)
{
	struct msg *m = arg;
	int v, ret = get(name, &v);

	if (!ret && (mask ? !(v & want) : v == want))
		return 0;
	if (!ret)
		ret = set(name, mask ? v & ~want : want);
	if (ret)
		snprintf(m->why, m->len, "cannot set net.%s: %s", name,
			 strerror(-ret));
	return ret;
}

int polsys_apply(const struct cfg *c, char *why, size_t why_len)
{
	struct msg m = { .why = why, .len = why_len };

	return each(c, apply_one, &m);
}

static void dotted(const char *name, char *out, size_t len)
{
	snprintf(out, len, "net.%s", name);
	for (char *p = out; *p; p++)
		if (*p == '/')
			*p = '.';
}

static int verify_one(void *arg, const char *name, int want, bool mask)
{
	struct msg *m = arg;
	char d[256];
	int v;

	dotted(name, d, sizeof(d));
	if (effective(name, &v)) {
		sb_printf(m->out, "sysctl: cannot read %s (moatctl policy apply)\n", d);
		m->n++;
	} else if (mask ? (v & want) != 0 : v != want) {
		sb_printf(m->out, "sysctl: %s is %d, the policy needs %s%d (moatctl policy apply)\n",
			  d, v, mask ? "bit 0 clear, " : "", mask ? v & ~want : want);
		m->n++;
	}
	return 0;
}

int polsys_verify(const struct cfg *c, struct sbuf *out)
{
	struct msg m = { .out = out };

	each(c, verify_one, &m);
	return m.n;
}

static int status_one(void *arg, const char *name, int want, bool mask)
{
	struct msg *m = arg;
	char d[256];
	int v = -1;

	dotted(name, d, sizeof(d));
	effective(name, &v);
	if (m->json)
		sb_printf(m->out, "%s\n      \"%s\": %d", m->n++ ? "," : "", d, v);
	else
		sb_printf(m->out, "  %-44s %d%s\n", d, v,
			  (mask ? (v & want) == 0 : v == want) ? "" :
								 "  (not as the policy sets it)");
	return 0;
}

void polsys_status(const struct cfg *c, struct sbuf *out, bool json)
{
	struct msg m = { .out = out, .json = json };

	sb_printf(out, json ? "  \"sysctl\": {" : "sysctls:\n");
	each(c, status_one, &m);
	if (json)
		sb_printf(out, "\n  }");
}
