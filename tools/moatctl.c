// SPDX-License-Identifier: GPL-2.0-only
/* moatctl: asks a running moatd how it is doing, over its control socket. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/ctl.h"

static const char usage[] =
	"usage: moatctl [--config FILE | --socket PATH] status [--json]\n"
	"\n"
	"Shows what a running moatd is doing: per camera the frame rate,\n"
	"bitrate, frames captured and sealed, drops and the last keyframe; the\n"
	"sealer; the uplink (relay connection, records sent and acknowledged,\n"
	"zero-copy sends, latency); and the spool (use, quota, alert).\n"
	"\n"
	"  --config FILE  moat.conf to find the control socket in\n"
	"                 (default /etc/moat/moat.conf)\n"
	"  --socket PATH  the control socket itself\n"
	"  --json         machine-readable output\n"
	"  -h, --help     this text\n";

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
