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
			super_kill(s, up, SIGKILL);
		return 0;
	}
	if (!polbpf_recently(&s->pol_recent, e))
		log_warn("blocked: %s -> %s (%s); `moatctl policy log' has them all",
			 who, what, polbpf_reason(e->key.who, e->key.reason));
	return 0;
}

/*
 * moatd as its own user (moatd.service) may neither apply the policy nor
 * read it back from the kernel: `moatctl policy apply' did both as root
 * just before (the unit's ExecStartPre=+), in moatd's own cgroup, and
 * gave moatd each role's folder. moatd checks that every folder is there
 * and its to enter, and starts no role otherwise.
 */
static int roles_ready(struct super *s)
{
	char p[CG_PATH_MAX], procs[CG_PATH_MAX + 16];

	/* the sealer, the uplink, then a worker per camera */
	for (int i = -2; i < (int)s->cfg.n_cams; i++) {
		if (cg_path(&s->cfg, i == -2 ? ROLE_SEALER :
				     i == -1 ? ROLE_UPLINK :
					       ROLE_WORKER,
			    i, p))
			return -ENAMETOOLONG;
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", p);
		if (access(procs, W_OK) < 0) {
			log_err("the role's cgroup %s is missing or not moatd's to enter (%s): `moatctl policy apply', run as root, makes the roles' folders and gives them to moatd's user (moatd.service runs it before moatd); nothing starts",
				p, strerror(errno));
			return -EPERM;
		}
	}
	log_info("network policy: applied and verified by `moatctl policy apply' before moatd started; moatd, as its own user, can neither read it back nor apply it again (`moatctl policy verify' and `moatctl policy log', as root, can)");
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
	if (geteuid())
		return roles_ready(s);
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

	if (s->cfg.policy == POLICY_OFF || geteuid())
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
	/* moatd as its own user cannot read the policy's maps */
	bool on = s->cfg.policy == POLICY_ENFORCE && !geteuid() &&
		  polbpf_counters(&s->cfg, c) == 0;

	if (!on)
		memset(c, 0, sizeof(c));
	if (json) {
		sb_printf(b,
			  "  \"policy\": {\"mode\": \"%s\", \"pinned\": \"%s\", \"counters\": %s, \"blocked_camera\": %" PRIu64
			  ", \"blocked_role\": %" PRIu64 ", \"gate_frames\": %" PRIu64
			  ", \"gate_bytes\": %" PRIu64 ", \"gate_drops\": %" PRIu64
			  ", \"gate_killed\": %" PRIu64 ", \"events\": %" PRIu64
			  ", \"lapses\": %" PRIu64 "},\n",
			  s->cfg.policy == POLICY_ENFORCE ? "enforce" : "off",
			  s->cfg.bpf_pin, on ? "true" : "false",
			  c[POL_C_DROP_CAMERA], c[POL_C_DROP_ROLE],
			  c[POL_C_GATE_FRAMES], c[POL_C_GATE_BYTES],
			  c[POL_C_GATE_DROPS], c[POL_C_GATE_KILLED],
			  s->pol_events, s->pol_lapses);
		return;
	}
	if (s->cfg.policy == POLICY_OFF) {
		sb_printf(b, "policy  OFF ([hub] policy = off): cameras and roles are not walled off\n");
		return;
	}
	if (geteuid()) {
		sb_printf(b, "policy  enforced, applied by `moatctl policy apply' before moatd started; moatd runs as its own user and cannot read the counters (`moatctl policy status' as root can)\n");
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
