// SPDX-License-Identifier: GPL-2.0-only
/* moatctl: asks a running moatd how it is doing, over its control socket. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "policy/policy.h"

static const char usage[] =
	"usage: moatctl [--config FILE | --socket PATH] status [--json]\n"
	"       moatctl [--config FILE] policy show|apply|status|remove\n"
	"\n"
	"status shows what a running moatd is doing: per camera the frame\n"
	"rate, bitrate, frames captured and sealed, drops and the last keyframe;\n"
	"the sealer; the uplink (relay connection, records sent and\n"
	"acknowledged, zero-copy sends, latency); and the spool (use, quota,\n"
	"alert).\n"
	"\n"
	"policy deals with the nftables table `inet moat' made from FILE\n"
	"(docs/POLICY.md): show prints it without applying it, apply replaces\n"
	"the kernel's in one transaction after a dry run (on an error the old\n"
	"table stays, and the rule at fault is named), status lists what the\n"
	"kernel has (exit 1 if nothing), remove deletes it. Needs root.\n"
	"\n"
	"  --config FILE  moat.conf to find the control socket in\n"
	"                 (default /etc/moat/moat.conf)\n"
	"  --socket PATH  the control socket itself\n"
	"  --json         machine-readable output\n"
	"  -h, --help     this text\n";

static int policy_cmd(const char *cfg_path, int argc, char **argv)
{
	static struct cfg cfg;
	static char text[POLICY_TEXT_MAX];
	char why[512] = "", err[4096] = "";
	const char *what = argc == 1 ? argv[0] : "";
	int ret;

	log_init("moatctl", LOG_LVL_WARN);
	if (strcmp(what, "show") && strcmp(what, "apply") &&
	    strcmp(what, "status") && strcmp(what, "remove")) {
		fprintf(stderr, "moatctl: policy: say show, apply, status or remove\n%s",
			usage);
		return 2;
	}
	if (!strcmp(what, "status")) {
		ret = policy_list(text, sizeof(text));
		if (ret) {
			printf("no moat table in the kernel: the policy is not applied (moatctl policy apply)\n");
			return 1;
		}
		fputs(text, stdout);
		return 0;
	}
	if (!strcmp(what, "remove")) {
		ret = policy_remove(err, sizeof(err));
		if (ret)
			fprintf(stderr, "moatctl: policy remove: %s", err);
		else
			printf("the moat table is gone: cameras and roles are no longer walled off\n");
		return ret ? 1 : 0;
	}
	if (cfg_load(cfg_path, &cfg))
		return 1;
	ret = policy_ruleset(&cfg, cfg_path, text, sizeof(text), why,
			     sizeof(why));
	if (ret) {
		fprintf(stderr, "moatctl: policy: %s: %s\n", cfg_path, why);
		return 1;
	}
	if (!strcmp(what, "show")) {
		fputs(text, stdout);
		return 0;
	}
	ret = policy_apply(text, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "moatctl: policy apply: nftables refused the ruleset; the table in the kernel is as it was:\n%s",
			err);
		return 1;
	}
	printf("applied: table inet moat from %s (see it with `moatctl policy status' or `nft list table inet moat')\n",
	       cfg_path);
	return 0;
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

	while ((c = getopt_long(argc, argv, "c:s:jh", opts, NULL)) != -1) {
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
	if (optind < argc && !strcmp(argv[optind], "policy"))
		return policy_cmd(cfg_path, argc - optind - 1, argv + optind + 1);
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
