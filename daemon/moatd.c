// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatd: the supervisor (docs/SANDBOX.md). It reads moat.conf, makes the
 * rings, spawns one capture worker per camera, the sealer and the uplink,
 * each as its own uid in its own sandbox, restarts any that dies (with
 * backoff), and answers `moatctl status` on the control socket. It never
 * holds a private key or touches a frame: it owns descriptors and counts.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/log.h"
#include "crypto/keystore.h"
#include "daemon/ctl.h"
#include "daemon/handoff.h"
#include "daemon/roles.h"
#include "daemon/super.h"

static const char usage[] =
	"usage: moatd [--config FILE] [--check] [--verbose]\n"
	"\n"
	"The moat hub daemon. Reads FILE (default /etc/moat/moat.conf, see\n"
	"docs/CONFIG.md), then runs one capture worker per camera, the sealer\n"
	"and the uplink as separate sandboxed processes, restarting any that\n"
	"stops. It stays in the foreground and logs to stderr; stop it with\n"
	"SIGTERM (open streams are closed and flushed first).\n"
	"\n"
	"  -c, --config FILE  configuration file\n"
	"  -n, --check        check the configuration and the users, then exit\n"
	"  -v, --verbose      log debugging detail\n"
	"  -h, --help         this text\n"
	"\n"
	"Status: `moatctl status` (or --json). Roles run as the users named in\n"
	"[hub] worker_user, sealer_user and uplink_user; create them with\n"
	"`useradd --system --no-create-home --shell /usr/sbin/nologin NAME`\n"
	"(make deps does).\n";

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *path = "/etc/moat/moat.conf";
	enum log_level lvl = LOG_LVL_INFO;
	bool check = false;
	struct super *s;
	int c, ret;

	while ((c = getopt_long(argc, argv, "c:nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			check = true;
			break;
		case 'v':
			lvl = LOG_LVL_DEBUG;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "moatd: unexpected argument `%s'\n%s",
			argv[optind], usage);
		return 2;
	}
	log_init("moatd", lvl);
	s = calloc(1, sizeof(*s));
	if (!s)
		return 1;
	ret = super_setup(s, path, check);
	if (!ret && !check)
		ret = super_run(s);
	if (!ret && check)
		printf("moatd: %s is valid: %zu camera(s), relay %s:%u\n", path,
		       s->cfg.n_cams, s->cfg.relay_host, s->cfg.relay_port);
	super_free(s);
	free(s);
	/* a role refused its handoff: systemd is not to restart moatd
	 * (RestartPreventExitStatus in moatd.service) */
	if (ret == HANDOFF_REFUSED)
		return HANDOFF_REFUSED;
	return ret ? 1 : 0;
}
