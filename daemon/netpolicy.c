// SPDX-License-Identifier: GPL-2.0-only
/* moatd and the network policy (see netpolicy.h). */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "common/log.h"
#include "daemon/netpolicy.h"
#include "daemon/super.h"
#include "policy/bpf.h"
#include "policy/cgroup.h"
#include "policy/enforce.h"

enum {
	LOG_EVERY_NS = 10ULL * 1000000000ULL, /* one line per attempt per 10 s */
};

/* Whether this attempt was logged in the last LOG_EVERY_NS. */
static bool recently(struct super *s, const struct pol_event *e)
{
	uint64_t h = 1469598103934665603ULL;
	const uint8_t *p = (const uint8_t *)&e->key;

	for (size_t i = 0; i < sizeof(e->key); i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	for (size_t i = 0; i < NETPOL_RECENT; i++) {
		if (s->pol_recent[i].hash == h) {
			if (e->ts_ns - s->pol_recent[i].at < LOG_EVERY_NS)
				return true;
			s->pol_recent[i].at = e->ts_ns;
			return false;
		}
	}
	s->pol_recent[s->pol_next].hash = h;
	s->pol_recent[s->pol_next].at = e->ts_ns;
	s->pol_next = (s->pol_next + 1) % NETPOL_RECENT;
	return false;
}

static int on_event(void *arg, void *data, size_t len)
{
	struct super *s = arg;
	const struct pol_event *e = data;
	char who[48], what[96];

	if (len < sizeof(*e))
		return 0;
	s->pol_events++;
	polbpf_who(s->pol_names, e->key.who, who, sizeof(who));
	polbpf_what(&e->key, what, sizeof(what));
	if (e->key.reason >= POL_R_GATE && e->key.reason <= POL_R_GATE_FLOW) {
		const struct child *up = NULL;
		const struct stats_uplink *us;

		for (size_t i = 0; i < s->n_ch; i++)
			if (s->ch[i].role == ROLE_UPLINK)
				up = &s->ch[i];
		us = up ? up->stats : NULL;
		s->gate_kills++;
		if (!us || !e->cookie || e->cookie != us->sock_cookie) {
			log_err("the ciphertext gate ended a connection to %s from port %u in the uplink's cgroup (not the uplink's own): it sent %s",
				what, e->sport,
				polbpf_reason(e->key.who, e->key.reason));
			return 0;
		}
		log_err("the ciphertext gate ended the uplink's connection to %s: it sent %s; restarting the uplink",
			what, polbpf_reason(e->key.who, e->key.reason));
		if (up->state == CH_RUNNING)
			kill(up->pid, SIGKILL);
		return 0;
	}
	if (!recently(s, e))
		log_warn("blocked: %s -> %s (%s); `moatctl policy log' has them all",
			 who, what, polbpf_reason(e->key.who, e->key.reason));
	return 0;
}

int netpol_up(struct super *s)
{
	struct sbuf out = { 0 };
	char why[2048] = "";
	int ret, n;

	if (s->cfg.policy == POLICY_OFF) {
		log_warn("[hub] policy = off: the network policy is not enforced; cameras and roles are not walled off by the kernel");
		return 0;
	}
	ret = policy_enforce(&s->cfg, s->cfg_path, why, sizeof(why));
	if (ret) {
		log_err("the network policy cannot be applied, so nothing starts: %s",
			why);
		return -EPERM;
	}
	n = policy_verify(&s->cfg, s->cfg_path, &out);
	if (n) {
		log_err("the network policy is applied but the kernel does not show it in force, so nothing starts:\n%s",
			out.p ? out.p : "");
		free(out.p);
		return -EPERM;
	}
	free(out.p);
	s->pol_rb = polbpf_events(&s->cfg, on_event, s, &s->pol_names,
				  &s->pol_events_fd);
	if (!s->pol_rb)
		log_warn("cannot read the policy's events: blocked attempts are counted but not logged here");
	log_info("network policy in force: table inet moat, BPF pinned in %s, cameras on %s",
		 s->cfg.bpf_pin,
		 s->cfg.camera_interfaces[0] ? s->cfg.camera_interfaces :
					       "no camera network");
	return 0;
}

/* The problems policy_verify() listed, a line each, as one line; out is
 * emptied for the next verify. */
static void one_line(struct sbuf *out, char *buf, size_t len)
{
	struct sbuf one = { 0 };

	sb_join_lines(&one, out->p, "; ");
	snprintf(buf, len, "%s", one.p ? one.p : "");
	free(one.p);
	free(out->p);
	memset(out, 0, sizeof(*out));
}

void netpol_watch(struct super *s)
{
	struct sbuf out = { 0 };
	char why[2048] = "";
	bool first;
	int n;

	if (s->cfg.policy == POLICY_OFF)
		return;
	n = policy_verify(&s->cfg, s->cfg_path, &out);
	if (!n) {
		free(out.p);
		return;
	}
	/* said and counted once a lapse; applied again every check until
	 * it holds (an adapter still unplugged fails each time) */
	first = !s->pol_down;
	s->pol_down = true;
	one_line(&out, why, sizeof(why));
	if (first) {
		s->pol_lapses++;
		log_err("ALERT the network policy is no longer in force (%d problem%s: %s); applying it again",
			n, n == 1 ? "" : "s", why);
	}
	if (policy_enforce(&s->cfg, s->cfg_path, why, sizeof(why))) {
		if (first)
			log_err("ALERT the network policy cannot be applied again: %s; trying every %d s",
				why, POLICY_WATCH_S);
		return;
	}
	n = policy_verify(&s->cfg, s->cfg_path, &out);
	if (n) {
		one_line(&out, why, sizeof(why));
		if (first)
			log_err("ALERT the network policy was applied again but the kernel does not show it all: %s",
				why);
		return;
	}
	free(out.p);
	s->pol_down = false;
	/* the maps may be new ones: read events from those */
	netpol_down(s);
	s->pol_rb = polbpf_events(&s->cfg, on_event, s, &s->pol_names,
				  &s->pol_events_fd);
	log_warn("the network policy is in force again");
}

int netpol_enter(const struct super *s, enum role role, int cam)
{
	char p[CG_PATH_MAX];
	int ret;

	if (s->cfg.policy == POLICY_OFF)
		return 0;
	ret = cg_path(&s->cfg, role, cam, p);
	if (!ret)
		ret = cg_enter(p);
	if (ret)
		log_err("cannot enter the cgroup %s: %s", p, strerror(-ret));
	return ret;
}

int netpol_fd(const struct super *s)
{
	return s->pol_rb ? ring_buffer__epoll_fd(s->pol_rb) : -1;
}

void netpol_events(struct super *s)
{
	if (s->pol_rb)
		ring_buffer__consume(s->pol_rb);
}

void netpol_status(const struct super *s, struct sbuf *b, bool json)
{
	uint64_t c[POL_C_MAX];
	bool on = s->cfg.policy == POLICY_ENFORCE &&
		  polbpf_counters(&s->cfg, c) == 0;

	if (!on)
		memset(c, 0, sizeof(c));
	if (json) {
		sb_printf(b,
			  "  \"policy\": {\"mode\": \"%s\", \"pinned\": \"%s\", \"blocked_camera\": %" PRIu64
			  ", \"blocked_role\": %" PRIu64 ", \"gate_frames\": %" PRIu64
			  ", \"gate_bytes\": %" PRIu64 ", \"gate_drops\": %" PRIu64
			  ", \"gate_killed\": %" PRIu64 ", \"events\": %" PRIu64
			  ", \"lapses\": %" PRIu64 "},\n",
			  s->cfg.policy == POLICY_ENFORCE ? "enforce" : "off",
			  s->cfg.bpf_pin, c[POL_C_DROP_CAMERA], c[POL_C_DROP_ROLE],
			  c[POL_C_GATE_FRAMES], c[POL_C_GATE_BYTES],
			  c[POL_C_GATE_DROPS], c[POL_C_GATE_KILLED],
			  s->pol_events, s->pol_lapses);
		return;
	}
	if (s->cfg.policy == POLICY_OFF) {
		sb_printf(b, "policy  OFF ([hub] policy = off): cameras and roles are not walled off\n");
		return;
	}
	if (s->pol_lapses)
		sb_printf(b, "ALERT   the network policy was found not in force %" PRIu64
			     " time(s) and applied again (moatd's log says what was missing)\n",
			  s->pol_lapses);
	sb_printf(b, "policy  enforced; blocked %" PRIu64 " camera frame(s), %" PRIu64
		     " role attempt(s); gate passed %" PRIu64 " frame(s), ended %" PRIu64
		     " connection(s) (moatctl policy log)\n",
		  c[POL_C_DROP_CAMERA], c[POL_C_DROP_ROLE], c[POL_C_GATE_FRAMES],
		  c[POL_C_GATE_KILLED]);
}

void netpol_down(struct super *s)
{
	if (s->pol_rb)
		ring_buffer__free(s->pol_rb);
	s->pol_rb = NULL;
	if (s->pol_names >= 0)
		close(s->pol_names);
	if (s->pol_events_fd >= 0)
		close(s->pol_events_fd);
	s->pol_names = s->pol_events_fd = -1;
}
