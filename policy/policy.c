// SPDX-License-Identifier: GPL-2.0-only
/*
 * The nftables part of the network policy (see policy.h). The ruleset is
 * text in nft's own syntax, built here and handed to libnftables, the
 * library nft itself uses: what is applied is exactly what
 * `moatctl policy show` prints and what the golden test pins.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nftables/libnftables.h>

#include "capture/rtsp.h"
#include "policy/policy.h"

struct text {
	char *p;
	size_t len, used;
	bool full;
};

static void vput(struct text *t, const char *fmt, va_list ap)
{
	int n;

	if (t->full)
		return;
	n = vsnprintf(t->p + t->used, t->len - t->used, fmt, ap);
	if (n < 0 || (size_t)n >= t->len - t->used)
		t->full = true;
	else
		t->used += (size_t)n;
}

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vput(t, fmt, ap);
	va_end(ap);
}

/* The interfaces as an nft set expression: { "cam0", "cam1" } */
static void ifset(struct text *t, const char *list)
{
	put(t, "{ ");
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");

		put(t, "%s\"%.*s\"", p == list ? "" : ", ", (int)n, p);
		p += n + (p[n] == ',');
	}
	put(t, " }");
}

/* One rule on the camera interfaces: "\t\tDIRname { ... } REST\n", DIR
 * iif or oif. */
static void if_rule(struct text *t, const char *dir, const char *ifs,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void if_rule(struct text *t, const char *dir, const char *ifs,
		    const char *fmt, ...)
{
	va_list ap;

	if (!ifs[0])
		return; /* no camera network: no rules about one */
	put(t, "\t\t%sname ", dir);
	ifset(t, ifs);
	put(t, " ");
	va_start(ap, fmt);
	vput(t, fmt, ap);
	va_end(ap);
	put(t, "\n");
}

int policy_camera_addr(const struct cfg_camera *cam, char *ip, size_t ip_len,
		       unsigned int *port, char *why, size_t why_len)
{
	unsigned char a[16];
	char host[256];

	if (rtsp_host_port(cam->source, host, sizeof(host), port)) {
		snprintf(why, why_len, "[camera %s] source is not an rtsp:// URL",
			 cam->name);
		return -EINVAL;
	}
	if (cam->ip[0]) {
		snprintf(ip, ip_len, "%s", cam->ip);
		return 0;
	}
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1) {
		snprintf(why, why_len,
			 "[camera %s] its source names the host `%.64s'; the policy needs its address: add `ip = ...' to the camera's section",
			 cam->name, host);
		return -EINVAL;
	}
	snprintf(ip, ip_len, "%.45s", host); /* numeric: INET6_ADDRSTRLEN */
	return 0;
}

/*
 * The relay's addresses, numeric. A name is looked up at most every
 * RELAY_TTL_S in one process (moatd checks the policy every 10 s and must
 * not wait on DNS each time), and a failed lookup falls back to the last
 * answer for the same name: a resolver that is down is not a policy that
 * is gone.
 */
enum { RELAY_TTL_S = 300 };

static struct {
	char host[CFG_STR_MAX];
	struct policy_addrs a;
	time_t at;
} relay_cache;

int policy_relay_addrs(const char *host, struct policy_addrs *out, char *why,
		       size_t why_len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *r;
	struct timespec ts;
	time_t now;
	bool same = !strcmp(relay_cache.host, host);
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec;
	if (same && relay_cache.a.n && now - relay_cache.at < RELAY_TTL_S) {
		*out = relay_cache.a;
		return 0;
	}
	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret) {
		if (same && relay_cache.a.n) {
			*out = relay_cache.a;
			return 0;
		}
		snprintf(why, why_len, "[relay] address %s: %s", host,
			 gai_strerror(ret));
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	for (r = res; r && out->n < POLICY_ADDRS_MAX; r = r->ai_next) {
		const void *sa = r->ai_family == AF_INET6 ?
					 (const void *)&((struct sockaddr_in6 *)r->ai_addr)->sin6_addr :
					 (const void *)&((struct sockaddr_in *)r->ai_addr)->sin_addr;
		bool dup = false;

		if (!inet_ntop(r->ai_family, sa, out->ip[out->n],
			       sizeof(out->ip[0])))
			continue;
		for (int i = 0; i < out->n; i++)
			dup |= !strcmp(out->ip[i], out->ip[out->n]);
		if (!dup)
			out->v6[out->n++] = r->ai_family == AF_INET6;
	}
	freeaddrinfo(res);
	snprintf(relay_cache.host, sizeof(relay_cache.host), "%s", host);
	relay_cache.a = *out;
	relay_cache.at = now;
	return 0;
}

int policy_ruleset(const struct cfg *c, const char *conf, char *out,
		   size_t len, char *why, size_t why_len)
{
	struct text t = { out, len, 0, false };
	struct policy_addrs relay;
	const char *ifs = c->camera_interfaces;
	int ret;

	ret = policy_relay_addrs(c->relay_host, &relay, why, why_len);
	if (ret)
		return ret;
	/* Replaced whole in one transaction: made if absent, then deleted
	 * and defined again. */
	put(&t, "table inet moat\ndelete table inet moat\n\n");
	put(&t, "table inet moat {\n"
		"\tcomment \"moat network policy, made from %s by moatctl policy apply; edit that file, not this table\"\n\n",
	    conf);
	put(&t, "\tchain input {\n"
		"\t\ttype filter hook input priority filter - 5; policy accept;\n");
	if_rule(&t, "iif", ifs, "ct state established,related accept comment \"cameras: replies to connections the hub made\"");
	if_rule(&t, "iif", ifs, "udp dport 67 accept comment \"cameras: DHCP requests to the hub\"");
	if_rule(&t, "iif", ifs, "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } accept comment \"cameras: IPv6 neighbour discovery with the hub\"");
	if_rule(&t, "iif", ifs, "counter drop comment \"cameras: nothing else reaches the hub\"");
	if (c->lan_subnet[0]) {
		put(&t, "\t\ttcp dport %u %s saddr %s accept comment \"LAN viewers: live view from the hub (lan_subnet)\"\n",
		    c->lan_port, strchr(c->lan_subnet, ':') ? "ip6" : "ip",
		    c->lan_subnet);
		put(&t, "\t\ttcp dport %u counter drop comment \"live view: nobody outside lan_subnet\"\n",
		    c->lan_port);
	}
	put(&t, "\t}\n\n");

	put(&t, "\tchain forward {\n"
		"\t\ttype filter hook forward priority filter - 5; policy accept;\n");
	if_rule(&t, "iif", ifs, "counter drop comment \"cameras: nothing is routed from a camera network\"");
	if_rule(&t, "oif", ifs, "counter drop comment \"cameras: nothing is routed to a camera network\"");
	put(&t, "\t}\n\n");

	put(&t, "\tchain output {\n"
		"\t\ttype filter hook output priority filter - 5; policy accept;\n");
	for (size_t i = 0; i < c->n_cams; i++) {
		const struct cfg_camera *cam = &c->cams[i];
		char ip[64];
		unsigned int port;

		if (cam->kind != CAM_RTSP)
			continue;
		ret = policy_camera_addr(cam, ip, sizeof(ip), &port, why,
					 why_len);
		if (ret)
			goto out;
		if (ifs[0])
			if_rule(&t, "oif", ifs,
				"meta skuid \"%s\" %s daddr %s tcp dport %u accept comment \"camera %s: its worker pulls RTSP from it\"",
				c->worker_user, strchr(ip, ':') ? "ip6" : "ip",
				ip, port, cam->name);
		else
			put(&t, "\t\tmeta skuid \"%s\" %s daddr %s tcp dport %u accept comment \"camera %s: its worker pulls RTSP from it\"\n",
			    c->worker_user, strchr(ip, ':') ? "ip6" : "ip", ip,
			    port, cam->name);
	}
	if_rule(&t, "oif", ifs, "ct state established,related accept comment \"the hub: replies (DHCP, neighbour discovery)\"");
	if_rule(&t, "oif", ifs, "udp sport 67 accept comment \"the hub: DHCP offers\"");
	if_rule(&t, "oif", ifs, "icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-advert } accept comment \"the hub: IPv6 neighbour discovery\"");
	if_rule(&t, "oif", ifs, "counter drop comment \"nothing else goes to the cameras\"");
	put(&t, "\t\tmeta skuid \"%s\" counter reject with icmpx admin-prohibited comment \"camera workers: nowhere but their cameras\"\n",
	    c->worker_user);
	for (int i = 0; i < relay.n; i++)
		put(&t, "\t\tmeta skuid \"%s\" %s daddr %s tcp dport %u accept comment \"uplink: the relay (%s)\"\n",
		    c->uplink_user, relay.v6[i] ? "ip6" : "ip", relay.ip[i],
		    c->relay_port, c->relay_host);
	if (c->lan_subnet[0])
		put(&t, "\t\tmeta skuid \"%s\" %s daddr %s tcp sport %u accept comment \"uplink: live view to LAN viewers\"\n",
		    c->uplink_user, strchr(c->lan_subnet, ':') ? "ip6" : "ip",
		    c->lan_subnet, c->lan_port);
	put(&t, "\t\tmeta skuid \"%s\" counter reject with icmpx admin-prohibited comment \"uplink: nowhere but the relay\"\n",
	    c->uplink_user);
	put(&t, "\t\tmeta skuid \"%s\" counter reject with icmpx admin-prohibited comment \"sealer: no network at all\"\n\t}\n}\n",
	    c->sealer_user);
	ret = t.full ? -ENOBUFS : 0;
	if (t.full)
		snprintf(why, why_len, "the ruleset is over %zu bytes", len);
out:
	return ret;
}

int policy_nft_kernel(char *why, size_t why_len)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);

	if (fd < 0) {
		int err = errno;

		snprintf(why, why_len,
			 "the kernel has no nf_tables (netlink: %s): modprobe nf_tables, or use a kernel with CONFIG_NF_TABLES",
			 strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}

/* Runs text through libnftables (a dry run first if asked). */
static int nft_run(const char *text, bool dry, char *out, size_t out_len,
		   char *err, size_t err_len)
{
	struct nft_ctx *nft;
	int ret = policy_nft_kernel(err, err_len);

	if (ret)
		return ret;
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		snprintf(err, err_len, "cannot start libnftables");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	nft_ctx_set_dry_run(nft, dry);
	/*
	 * From a file, not a buffer: nftables then quotes the right line
	 * of a rule it refuses (from a buffer it shows the first line).
	 */
	{
		int fd = memfd_create("moat-policy.nft", MFD_CLOEXEC);
		char path[64];
		size_t n = strlen(text);

		if (fd < 0 || write(fd, text, n) != (ssize_t)n) {
			if (fd >= 0)
				close(fd);
			nft_ctx_free(nft);
			snprintf(err, err_len, "cannot stage the ruleset: %s",
				 strerror(errno));
			return -EIO;
		}
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		ret = nft_run_cmd_from_filename(nft, path) ? -EINVAL : 0;
		close(fd);
	}
	if (ret && err)
		snprintf(err, err_len, "%s", nft_ctx_get_error_buffer(nft));
	if (out)
		snprintf(out, out_len, "%s", nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return ret;
}

int policy_apply(const char *text, char *err, size_t err_len)
{
	/* the dry run finds every error without touching the kernel's
	 * table; the real run is one transaction, all or nothing */
	int ret = nft_run(text, true, NULL, 0, err, err_len);

	return ret ? ret : nft_run(text, false, NULL, 0, err, err_len);
}

int policy_remove(char *err, size_t err_len)
{
	return nft_run("table inet moat\ndelete table inet moat\n", false, NULL,
		       0, err, err_len);
}

int policy_list(char *out, size_t len)
{
	char err[256];

	return nft_run("list table inet moat", false, out, len, err,
		       sizeof(err)) ?
		       -ENOENT :
		       0;
}
