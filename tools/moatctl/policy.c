// SPDX-License-Identifier: GPL-2.0-only
/* moatctl policy: the network policy by hand (docs/POLICY.md). */
#include <arpa/inet.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "common/log.h"
#include "daemon/config.h"
#include "policy/bpf.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "tools/moatctl/cmds.h"

enum { WATCH_S = 10 }; /* policy watch: seconds between checks */

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void when(uint64_t mono_ns, char *out, size_t len, bool iso)
{
	time_t t = (time_t)polbpf_wall(mono_ns);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, len, iso ? "%Y-%m-%dT%H:%M:%S%z" : "%H:%M:%S", &tm);
}

static void log_line(struct sbuf *b, const struct polbpf_blocked *l, bool json)
{
	char what[96], src[INET6_ADDRSTRLEN], first[40], last[40], dst[64];
	const uint8_t *m = l->val.mac;

	polbpf_what(&l->key, what, sizeof(what));
	polbpf_addr(l->val.src, src, sizeof(src));
	polbpf_addr(l->key.addr, dst, sizeof(dst));
	when(l->val.first_ns, first, sizeof(first), json);
	when(l->val.last_ns, last, sizeof(last), json);
	if (!json) {
		/* a role's refused connect has no source address yet */
		sb_printf(b, "%s%s%s -> %s x%llu, last %s (%s)\n", l->who,
			  strcmp(src, "::") ? " " : "", strcmp(src, "::") ? src : "",
			  what, (unsigned long long)l->val.count, last,
			  polbpf_reason(l->key.who, l->key.reason));
		return;
	}
	sb_printf(b, "{\"who\": \"");
	sb_json_str(b, l->who);
	sb_printf(b, "\", \"source\": \"%s\", \"mac\": \"%02x:%02x:%02x:%02x:%02x:%02x\", \"destination\": \"%s\", \"protocol\": %u, \"port\": %u, \"what\": \"",
		  src, m[0], m[1], m[2], m[3], m[4], m[5], dst, l->key.proto,
		  ntohs(l->key.port));
	sb_json_str(b, what);
	sb_printf(b, "\", \"reason\": \"%s\", \"count\": %llu, \"first\": \"%s\", \"last\": \"%s\"}",
		  polbpf_reason(l->key.who, l->key.reason),
		  (unsigned long long)l->val.count, first, last);
}

static int policy_log(const struct cfg *c, bool json, bool follow)
{
	struct polbpf_blocked *l = NULL, *seen = NULL;
	size_t n = 0, n_seen = 0;
	int ret = polbpf_blocked(c, &l, &n);
	struct sbuf b = { 0 };

	if (ret) {
		fprintf(stderr, "moatctl: policy log: no policy is pinned in %s (moatctl policy apply)\n",
			c->bpf_pin);
		return 1;
	}
	if (json && !follow)
		sb_printf(&b, "[");
	for (size_t i = 0; i < n; i++) {
		size_t k = follow ? n - 1 - i : i; /* oldest first if so */

		if (json && !follow)
			sb_printf(&b, "%s\n  ", i ? "," : "");
		log_line(&b, &l[k], json);
		if (json && follow)
			sb_printf(&b, "\n");
	}
	if (json && !follow)
		sb_printf(&b, "%s]\n", n ? "\n" : "");
	if (!json && !n && !follow)
		sb_printf(&b, "no blocked attempts\n");
	fputs(b.p ? b.p : "", stdout);
	fflush(stdout);
	free(b.p);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	while (follow && !interrupted) {
		/* what changed since the last look, oldest first */
		free(seen);
		seen = l;
		n_seen = n;
		usleep(500 * 1000);
		if (polbpf_blocked(c, &l, &n))
			break;
		b = (struct sbuf){ 0 };
		for (size_t i = n; i-- > 0;) {
			bool old = false;

			for (size_t j = 0; j < n_seen && !old; j++)
				old = !memcmp(&seen[j].key, &l[i].key,
					      sizeof(l[i].key)) &&
				      seen[j].val.count == l[i].val.count;
			if (old)
				continue;
			log_line(&b, &l[i], json);
			if (json)
				sb_printf(&b, "\n");
		}
		fputs(b.p ? b.p : "", stdout);
		fflush(stdout);
		free(b.p);
	}
	free(seen);
	free(l);
	return 0;
}

/* Each event the policy reports: a blocked attempt, said once per 10 s. */
struct watch {
	int names;
	struct polbpf_recent recent;
};

static int on_event(void *arg, void *data, size_t len)
{
	struct watch *w = arg;
	const struct pol_event *e = data;
	char who[48], what[96];

	if (len < sizeof(*e) || polbpf_recently(&w->recent, e))
		return 0;
	polbpf_who(w->names, e->key.who, who, sizeof(who));
	polbpf_what(&e->key, what, sizeof(what));
	if (e->key.reason >= POL_R_GATE && e->key.reason <= POL_R_GATE_FLOW)
		log_err("the ciphertext gate ended a connection to %s: the uplink sent %s",
			what, polbpf_reason(e->key.who, e->key.reason));
	else
		log_warn("blocked: %s -> %s (%s)", who, what,
			 polbpf_reason(e->key.who, e->key.reason));
	return 0;
}

static void events_close(struct ring_buffer *rb, int *names, int *events)
{
	if (rb)
		ring_buffer__free(rb);
	if (*names >= 0)
		close(*names);
	if (*events >= 0)
		close(*events);
	*names = *events = -1;
}

/*
 * policy watch: what a moatd running as root does for itself, for a
 * moatd that runs as its own user (moatd.service) and can neither read
 * the policy back nor apply it: every 10 s it asks the kernel whether the
 * policy is in force and applies it again if not (an ALERT, said once a
 * lapse), and it logs each blocked attempt. Until SIGTERM or SIGINT.
 */
static int policy_watch(const struct cfg *c, const char *conf)
{
	struct watch w = { .names = -1 };
	struct ring_buffer *rb;
	char why[2048];
	bool down = false;
	int events = -1;

	log_init("moatctl", LOG_LVL_INFO);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	rb = polbpf_events(c, on_event, &w, &w.names, &events);
	log_info("watching the network policy made from %s: checked every %d s, blocked attempts logged%s",
		 conf, WATCH_S, rb ? "" : " (not yet: no events map is pinned)");
	for (time_t next = 0; !interrupted;) {
		struct sbuf out = { 0 };
		struct timespec now;
		int n;

		if (rb)
			ring_buffer__poll(rb, 1000);
		else
			sleep(1);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec < next)
			continue;
		next = now.tv_sec + WATCH_S;
		n = policy_verify(c, conf, &out);
		if (!n) {
			if (down)
				log_warn("the network policy is in force again");
			down = false;
			free(out.p);
			continue;
		}
		if (!down) {
			struct sbuf one = { 0 };

			sb_join_lines(&one, out.p, "; ");
			log_err("ALERT the network policy is no longer in force (%d problem%s: %s); applying it again",
				n, n == 1 ? "" : "s", one.p ? one.p : "");
			free(one.p);
		}
		free(out.p);
		if (policy_enforce(c, conf, why, sizeof(why))) {
			if (!down)
				log_err("ALERT the network policy cannot be applied again: %s; trying every %d s",
					why, WATCH_S);
			down = true;
			continue;
		}
		down = true; /* said in force at the next check that finds it */
		/* the maps may be new ones: read events from those */
		events_close(rb, &w.names, &events);
		rb = polbpf_events(c, on_event, &w, &w.names, &events);
		next = 0; /* check again at once */
	}
	events_close(rb, &w.names, &events);
	log_info("stopped watching the network policy");
	return 0;
}

int policy_cmd(const char *cfg_path, int argc, char **argv, bool json)
{
	static struct cfg cfg;
	static char text[POLICY_TEXT_MAX];
	const char *what = argc >= 1 ? argv[0] : "";
	char why[2048] = "";
	struct sbuf b = { 0 };
	bool follow = false;
	int ret;

	log_init("moatctl", LOG_LVL_WARN);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--follow") && !strcmp(what, "log")) {
			follow = true;
		} else {
			fprintf(stderr, "moatctl: policy %s: unexpected `%s'\n%s",
				what, argv[i], moatctl_usage);
			return 2;
		}
	}
	if (strcmp(what, "show") && strcmp(what, "apply") &&
	    strcmp(what, "status") && strcmp(what, "remove") &&
	    strcmp(what, "verify") && strcmp(what, "log") &&
	    strcmp(what, "watch")) {
		fprintf(stderr, "moatctl: policy: say show, apply, verify, status, log, watch or remove\n%s",
			moatctl_usage);
		return 2;
	}
	if (cfg_load(cfg_path, &cfg))
		return 1;
	if (!strcmp(what, "log"))
		return policy_log(&cfg, json, follow);
	if (!strcmp(what, "watch"))
		return policy_watch(&cfg, cfg_path);
	if (!strcmp(what, "status")) {
		policy_status(&cfg, &b, json);
		fputs(b.p ? b.p : "", stdout);
		free(b.p);
		return 0;
	}
	if (!strcmp(what, "verify")) {
		ret = policy_verify(&cfg, cfg_path, &b);
		if (ret)
			printf("the policy is NOT in force (%d problem%s):\n%s",
			       ret, ret == 1 ? "" : "s", b.p ? b.p : "");
		else
			printf("verified: the nftables table, the sysctls and the BPF programs made from %s are in force\n",
			       cfg_path);
		free(b.p);
		return ret ? 1 : 0;
	}
	if (!strcmp(what, "remove")) {
		ret = policy_teardown(&cfg, why, sizeof(why));
		if (ret)
			fprintf(stderr, "moatctl: policy remove: %s\n", why);
		else
			printf("removed: cameras and roles are no longer walled off%s%s\n",
			       why[0] ? "; " : "", why);
		return ret ? 1 : 0;
	}
	if (!strcmp(what, "show")) {
		ret = policy_ruleset(&cfg, cfg_path, text, sizeof(text), why,
				     sizeof(why));
		if (ret) {
			fprintf(stderr, "moatctl: policy: %s: %s\n", cfg_path, why);
			return 1;
		}
		fputs(text, stdout);
		return 0;
	}
	ret = policy_enforce(&cfg, cfg_path, why, sizeof(why));
	if (ret) {
		fprintf(stderr, "moatctl: policy apply: %s\n", why);
		return 1;
	}
	ret = policy_verify(&cfg, cfg_path, &b);
	if (ret)
		fprintf(stderr, "moatctl: policy apply: applied, but the kernel does not show it all:\n%s",
			b.p ? b.p : "");
	else
		printf("applied and verified: the policy made from %s is in force (moatctl policy status shows it)\n",
		       cfg_path);
	free(b.p);
	return ret ? 1 : 0;
}

