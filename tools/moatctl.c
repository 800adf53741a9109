// SPDX-License-Identifier: GPL-2.0-only
/* moatctl: asks a running moatd how it is doing, over its control socket. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/v4l2.h"
#include "capture/v4l2cam.h"
#include "common/log.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "policy/bpf.h"
#include "policy/enforce.h"
#include "policy/policy.h"

static const char usage[] =
	"usage: moatctl [--config FILE | --socket PATH] status [--json]\n"
	"       moatctl [--config FILE] policy show|apply|verify|remove\n"
	"       moatctl [--config FILE] policy status [--json]\n"
	"       moatctl [--config FILE] policy log [--json] [--follow]\n"
	"       moatctl cameras [--json]\n"
	"\n"
	"status shows what a running moatd is doing: per camera the frame\n"
	"rate, bitrate, frames captured and sealed, drops and the last keyframe;\n"
	"the sealer; the uplink (relay connection, records sent and\n"
	"acknowledged, zero-copy sends, latency); the spool (use, quota,\n"
	"alert); and the network policy.\n"
	"\n"
	"policy deals with the network policy made from FILE (docs/POLICY.md):\n"
	"  show    the nftables table it makes, without applying anything\n"
	"  apply   sets the camera interfaces' sysctls, replaces the table\n"
	"          inet moat in one transaction after a dry run (on an error\n"
	"          the old table stays and the rule at fault is named), loads\n"
	"          and attaches the BPF programs (roles, ciphertext gate,\n"
	"          camera filter) and pins them under [hub] bpf_pin\n"
	"  verify  asks the kernel whether all of it is in force: exit 0 if\n"
	"          so, else 1 with one line per problem\n"
	"  status  what is attached where, the sysctls and the counters\n"
	"  log     blocked attempts by cameras and roles, most recent first:\n"
	"            porch 192.0.2.10 -> 203.0.113.7:443/tcp x37, last 10:42\n"
	"          --follow prints new ones as they happen (Ctrl-C stops)\n"
	"  remove  takes it all away\n"
	"cameras lists every local camera (V4L2) this machine has: driver,\n"
	"formats with their sizes and frame rates, and what a `v4l2:' camera\n"
	"in moat.conf would do with it (pass its H.264 through, or encode NV12\n"
	"or YUYV with libx264).\n"
	"\n"
	"moatd applies and verifies the policy itself before it starts any\n"
	"role ([hub] policy = enforce). All of these need root.\n"
	"\n"
	"  --config FILE  moat.conf (default /etc/moat/moat.conf)\n"
	"  --socket PATH  moatd's control socket (default: from FILE)\n"
	"  --json         machine-readable output\n"
	"  --follow       policy log: keep printing\n"
	"  -h, --help     this text\n";

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

static void camera_json(struct sbuf *b, const char *path,
			const struct v4l2_info *in, const char *plan,
			uint32_t take)
{
	char fc[5];

	sb_printf(b, "{\"device\": \"%s\", \"driver\": \"", path);
	sb_json_str(b, in->driver);
	sb_printf(b, "\", \"card\": \"");
	sb_json_str(b, in->card);
	v4l2_fourcc_str(take, fc);
	sb_printf(b, "\", \"capture\": %s, \"encoder\": %s, \"plan\": \"%s\", \"takes\": \"%s\", \"formats\": [",
		  in->capture && !in->m2m ? "true" : "false",
		  in->m2m ? "true" : "false", plan, take ? fc : "");
	for (unsigned int i = 0; i < in->n_fmts; i++) {
		const struct v4l2_format_info *f = &in->fmts[i];

		v4l2_fourcc_str(f->fourcc, fc);
		sb_printf(b, "%s{\"fourcc\": \"", i ? ", " : "");
		sb_json_str(b, fc);
		sb_printf(b, "\", \"sizes\": [");
		for (unsigned int k = 0; k < f->n_sizes; k++)
			sb_printf(b, "%s{\"width\": %u, \"height\": %u, \"fps\": %u}",
				  k ? ", " : "", f->sizes[k].width,
				  f->sizes[k].height, f->sizes[k].fps_max);
		sb_printf(b, "]}");
	}
	sb_printf(b, "]}");
}

static void camera_text(struct sbuf *b, const char *path,
			const struct v4l2_info *in, const char *plan)
{
	char fc[5];

	sb_printf(b, "%s  %s (%s)\n  moat: %s\n", path, in->card, in->driver,
		  plan);
	for (unsigned int i = 0; i < in->n_fmts; i++) {
		const struct v4l2_format_info *f = &in->fmts[i];

		v4l2_fourcc_str(f->fourcc, fc);
		sb_printf(b, "    %-4s %-30s", fc, f->desc);
		for (unsigned int k = 0; k < f->n_sizes && k < 6; k++)
			sb_printf(b, " %ux%u%s", f->sizes[k].width,
				  f->sizes[k].height, f->stepwise ? " max" : "");
		if (f->n_sizes && f->sizes[0].fps_max)
			sb_printf(b, " (up to %u fps)", f->sizes[0].fps_max);
		sb_printf(b, "\n");
	}
}

/* Every V4L2 device, and what moat would do with it. */
static int cameras_cmd(int argc, char **argv, bool json)
{
	struct sbuf b = { 0 };
	int n = 0;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json")) {
			fprintf(stderr, "moatctl: cameras: unexpected `%s'\n%s",
				argv[i], usage);
			return 2;
		}
		json = true;
	}
	if (json)
		sb_printf(&b, "[");
	for (int i = 0; i < 64; i++) {
		static struct v4l2_info in;
		char path[32];
		const char *plan;
		uint32_t take;
		int fd;

		snprintf(path, sizeof(path), "/dev/video%d", i);
		fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (v4l2_query(fd, &in)) {
			close(fd);
			continue;
		}
		close(fd);
		plan = v4l2cam_plan(&in, &take);
		if (json) {
			sb_printf(&b, "%s\n  ", n ? "," : "");
			camera_json(&b, path, &in, plan, take);
		} else {
			camera_text(&b, path, &in, plan);
		}
		n++;
	}
	if (json)
		sb_printf(&b, "%s]\n", n ? "\n" : "");
	else if (!n)
		sb_printf(&b, "no V4L2 devices (no /dev/video*): no local cameras here\n");
	fputs(b.p ? b.p : "", stdout);
	free(b.p);
	return 0;
}

static int policy_cmd(const char *cfg_path, int argc, char **argv, bool json)
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
				what, argv[i], usage);
			return 2;
		}
	}
	if (strcmp(what, "show") && strcmp(what, "apply") &&
	    strcmp(what, "status") && strcmp(what, "remove") &&
	    strcmp(what, "verify") && strcmp(what, "log")) {
		fprintf(stderr, "moatctl: policy: say show, apply, verify, status, log or remove\n%s",
			usage);
		return 2;
	}
	if (cfg_load(cfg_path, &cfg))
		return 1;
	if (!strcmp(what, "log"))
		return policy_log(&cfg, json, follow);
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

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *cfg_path = "/etc/moat/moat.conf", *sock = NULL;
	bool json = false;
	char *reply;
	int c, ret;

	while ((c = getopt_long(argc, argv, "+c:s:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			cfg_path = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "cameras"))
		return cameras_cmd(argc - optind - 1, argv + optind + 1, json);
	if (optind < argc && !strcmp(argv[optind], "policy"))
		return policy_cmd(cfg_path, argc - optind - 1, argv + optind + 1,
				  json);
	if (optind >= argc || strcmp(argv[optind], "status")) {
		fprintf(stderr, "moatctl: %s\n%s",
			optind >= argc ? "say what to do" : "unknown command",
			usage);
		return 2;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "moatctl: unexpected `%s'\n%s", argv[i],
				usage);
			return 2;
		}
	}
	log_init("moatctl", LOG_LVL_WARN);
	if (!sock) {
		static struct cfg cfg;

		if (cfg_load(cfg_path, &cfg))
			return 1;
		sock = cfg.control;
	}
	ret = ctl_request(sock, json ? "status json" : "status", &reply);
	if (ret) {
		fprintf(stderr, "moatctl: cannot talk to moatd at %s: %s (is moatd running?)\n",
			sock, strerror(-ret));
		return 1;
	}
	fputs(reply, stdout);
	ret = !strncmp(reply, "error:", 6);
	free(reply);
	return ret;
}
