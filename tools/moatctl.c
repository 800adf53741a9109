// SPDX-License-Identifier: GPL-2.0-only
/* moatctl: asks a running moatd how it is doing, and deals with what the
 * hub is set up with (the policy, cameras, viewers); a file a command. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "tools/moatctl/cmds.h"

const char moatctl_usage[] =
	"usage: moatctl [--config FILE | --socket PATH] status [--json]\n"
	"       moatctl [--config FILE] policy show|apply|verify|watch|remove\n"
	"       moatctl [--config FILE] policy status [--json]\n"
	"       moatctl [--config FILE] policy log [--json] [--follow]\n"
	"       moatctl cameras [--json]\n"
	"       moatctl [--config FILE] viewers list [--json]\n"
	"       moatctl [--config FILE] viewers approve|remove NAME|ID\n"
	"       moatctl [--config FILE] pair [--address ADDR] [--port N]\n"
	"                                    [--timeout SECONDS] [--json]\n"
	"       moatctl [--config FILE] doctor [--json]\n"
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
	"  watch   checks every 10 s that all of it is in force and applies\n"
	"          it again if not (an ALERT in the log), and logs blocked\n"
	"          attempts, until stopped (moat-policy-watch.service runs it\n"
	"          for moatd.service, whose moatd may do neither)\n"
	"  remove  takes it all away\n"
	"viewers lists who the hub seals video to: the first viewer paired is\n"
	"approved at once, any later one is pending until approved here;\n"
	"remove takes a viewer away (nothing sealed after opens for it). A\n"
	"running moatd starts its sealer again with the new set.\n"
	"\n"
	"pair lets one viewer pair with this hub over the LAN: it shows a QR\n"
	"code and the same code as text (the hub id, which is its key's\n"
	"fingerprint, a fresh 256-bit secret and the address it listens on),\n"
	"then waits --timeout seconds (300) for `moat-view pair CODE'. Both\n"
	"sides prove they hold the secret without sending it; a viewer with\n"
	"another code is turned away and saves nothing. It listens on the\n"
	"first IPv4 address of an interface that is up, or --address, on\n"
	"--port (any free one). The code works once.\n"
	"\n"
	"cameras lists every local camera (V4L2) this machine has: driver,\n"
	"formats with their sizes and frame rates, and what a `v4l2:' camera\n"
	"in moat.conf would do with it (pass its H.264 through, or encode NV12\n"
	"or YUYV with libx264); then every camera libcamera finds (a Pi camera\n"
	"module), with the `libcamera:ID' line that names it in moat.conf and\n"
	"the format moat would encode.\n"
	"\n"
	"doctor checks what the hub needs and says how to fix what is wrong:\n"
	"the kernel (cgroup v2, bpf(), io_uring, nftables; BTF, which does not\n"
	"matter), the camera interfaces and their link and address, the\n"
	"clock, every camera (its RTSP server answers, its file or device\n"
	"opens), the relay (it answers), free space for the spool, the\n"
	"network policy (in force), the cipher and why, and moatd. Each line\n"
	"is ok, info, warn or FAIL; exit 0 when nothing failed, else 1.\n"
	"\n"
	"moatd run as root applies and verifies the policy itself before it\n"
	"starts any role, and watches it ([hub] policy = enforce); moatd.service\n"
	"runs moatd as its own user, after `policy apply' as root. All of these\n"
	"need root.\n"
	"\n"
	"  --config FILE  moat.conf (default /etc/moat/moat.conf)\n"
	"  --socket PATH  moatd's control socket (default: from FILE)\n"
	"  --json         machine-readable output\n"
	"  --follow       policy log: keep printing\n"
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
			fputs(moatctl_usage, stdout);
			return 0;
		default:
			fputs(moatctl_usage, stderr);
			return 2;
		}
	}
	if (optind < argc && !strcmp(argv[optind], "viewers"))
		return viewers_cmd(cfg_path, sock, argc - optind - 1,
				   argv + optind + 1, json);
	if (optind < argc && !strcmp(argv[optind], "pair"))
		return pair_cmd(cfg_path, sock, argc - optind, argv + optind,
				json);
	if (optind < argc && !strcmp(argv[optind], "doctor"))
		return doctor_cmd(cfg_path, argc - optind - 1, argv + optind + 1,
				  json);
	if (optind < argc && !strcmp(argv[optind], "cameras"))
		return cameras_cmd(argc - optind - 1, argv + optind + 1, json);
	if (optind < argc && !strcmp(argv[optind], "policy"))
		return policy_cmd(cfg_path, argc - optind - 1, argv + optind + 1,
				  json);
	if (optind >= argc || strcmp(argv[optind], "status")) {
		fprintf(stderr, "moatctl: %s\n%s",
			optind >= argc ? "say what to do" : "unknown command",
			moatctl_usage);
		return 2;
	}
	for (int i = optind + 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "moatctl: unexpected `%s'\n%s", argv[i],
				moatctl_usage);
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
