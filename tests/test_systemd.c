// SPDX-License-Identifier: GPL-2.0-only
/*
 * The systemd units run by systemd itself. This machine's PID 1 is not
 * systemd, so tests/systemd/boot.sh boots this machine's own Debian with
 * systemd as PID 1 in a systemd-nspawn container (an overlay of /, its
 * own network and bpffs), installs moat from this build as the package
 * would, and runs tests/systemd/inside.sh there: a viewer is paired, the
 * relay and moatd are started with systemctl, moatd is restarted and
 * stopped. What test_install can only imitate is checked here as systemd
 * does it:
 *
 * - moatd.service's ExecStartPre= applies the policy as root to moatd's
 *   own cgroup, and moatd runs as the user moat with CAP_SETUID and
 *   CAP_SETGID only, in that cgroup (Delegate=), which is the only part of
 *   /sys/fs/cgroup it may write (ProtectControlGroups= and
 *   ReadWritePaths=);
 * - each role runs as its own user with no capability, in its folder,
 *   with the policy's programs on the cgroups; records reach the relay;
 * - a restart makes the cgroup anew and the policy is applied to it
 *   again; a stop leaves no role running (systemd signals the whole
 *   cgroup; moatd's own way without CAP_KILL is test_install's);
 * - what moat-view writes into the key store as root is moat's.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

/* The value of the line `name: value' in out ("" if none), into v. */
static const char *val(const char *out, const char *name, char *v, size_t cap)
{
	char key[64];
	const char *p, *e;

	snprintf(key, sizeof(key), "\n%s: ", name);
	p = strstr(out, key);
	v[0] = 0;
	if (!p)
		return v;
	p += strlen(key);
	e = strchr(p, '\n');
	snprintf(v, cap, "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return v;
}

static unsigned int uid_of(const char *user)
{
	struct passwd *pw = getpwnam(user);

	return pw ? (unsigned int)pw->pw_uid : 0;
}

/* A role's (or moatd's) creds line: its user and its capabilities. */
static void check_creds(const char *out, const char *name, const char *user,
			const char *caps)
{
	char v[256], want[160];

	val(out, name, v, sizeof(v));
	snprintf(want, sizeof(want), "Uid:%u CapEff:%s CapAmb:%s", uid_of(user),
		 caps, strcmp(user, "moat") ? "0000000000000000" : caps);
	CHECK(uid_of(user) && strstr(v, want), "%s runs as %s with capabilities %s: %s",
	      name, user, caps, v);
}

int main(void)
{
	static char out[1 << 18];
	char cmd[4096], v[512], build[512], logdir[] = "/tmp/moat-systemd-XXXXXX";
	char boot[512], inside[512], clip[512];
	const char *media = getenv("MOAT_MEDIA");
	long before;
	int rc;

	if (geteuid())
		test_skip("booting a container needs root");
	CHECK(!system("command -v systemd-nspawn >/dev/null && command -v bpftool >/dev/null"),
	      "systemd-nspawn and bpftool are installed (make deps)");
	snprintf(build, sizeof(build), "%.500s", test_build_dir());
	if (!mkdtemp(logdir)) {
		CHECK(0, "a folder for the container's console");
		return test_done("test_systemd");
	}
	/* (test_src_path answers in one buffer) */
	snprintf(boot, sizeof(boot), "%s", test_src_path("tests/systemd/boot.sh"));
	snprintf(inside, sizeof(inside), "%s", test_src_path("tests/systemd/inside.sh"));
	snprintf(clip, sizeof(clip), "%s", test_src_path("build/media/clip.h264"));
	/* ASan programs: their leak check at exit cannot run in a sandbox */
	snprintf(cmd, sizeof(cmd),
		 "%s %s %s %s %s %s 2>&1",
#if defined(__SANITIZE_ADDRESS__)
		 "MOAT_NSPAWN_ENV=ASAN_OPTIONS=detect_leaks=0",
#else
		 "",
#endif
		 boot, build, media && *media ? media : clip, inside, logdir);
	rc = run_cmd(cmd, out + 1, sizeof(out) - 1);
	out[0] = '\n';
	CHECK(rc == 0, "the container booted and the script ran (%d)", rc);
	val(out, "boot", v, sizeof(v));
	CHECK(!strcmp(v, "running") || !strcmp(v, "degraded"),
	      "systemd came up in the container: %s", v);

	val(out, "keys", v, sizeof(v));
	CHECK(!strcmp(v, "moat "),
	      "what moat-view pair wrote into the key store as root is moat's: %s",
	      v);
	val(out, "start", v, sizeof(v));
	CHECK(!strcmp(v, "0"), "systemctl start moat-relay moatd: %s", v);
	for (int i = 0; i < 4; i++) {
		static const char *const u[] = { "moat-policy", "moatd",
						 "moat-policy-watch", "moat-relay" };
		char name[64];

		snprintf(name, sizeof(name), "active-%s", u[i]);
		val(out, name, v, sizeof(v));
		CHECK(!strcmp(v, "active"), "%s is active: %s", u[i], v);
	}
	val(out, "acked", v, sizeof(v));
	before = atol(v);
	CHECK(before > 0, "the relay acknowledges what moatd sent: %s", v);
	check_creds(out, "moatd", "moat", "00000000000000c0");
	val(out, "moatd-cgroup", v, sizeof(v));
	CHECK(!strcmp(v, "/system.slice/moatd.service"),
	      "moatd runs in its own cgroup: %s", v);
	val(out, "moatd-mounts", v, sizeof(v));
	CHECK(strstr(v, "/sys/fs/cgroup ro,") &&
		      strstr(v, "/sys/fs/cgroup/system.slice/moatd.service rw,"),
	      "moatd may write only its own cgroup: %s", v);
	check_creds(out, "sealer", "moat-seal", "0000000000000000");
	check_creds(out, "uplink", "moat-up", "0000000000000000");
	check_creds(out, "worker-front-door", "moat-cam", "0000000000000000");
	val(out, "attached", v, sizeof(v));
	CHECK(strstr(v, "moat_connect4") && strstr(v, "moat_egress") &&
		      strstr(v, "moat_ingress"),
	      "the roles' programs are on moatd's cgroup: %s", v);
	val(out, "gate", v, sizeof(v));
	CHECK(strstr(v, "moat_gate") != NULL,
	      "the ciphertext gate is on the uplink's folder: %s", v);

	val(out, "restart", v, sizeof(v));
	CHECK(!strcmp(v, "0"), "systemctl restart moatd: %s", v);
	val(out, "active-after-restart", v, sizeof(v));
	CHECK(!strcmp(v, "active"), "moatd is active again: %s", v);
	val(out, "acked-after-restart", v, sizeof(v));
	CHECK(atol(v) > before, "more acknowledged after the restart (%ld): %s",
	      before, v);
	check_creds(out, "sealer-after-restart", "moat-seal", "0000000000000000");
	val(out, "stop", v, sizeof(v));
	CHECK(!strncmp(v, "0 ", 2) && atoi(v + 2) < 15,
	      "systemctl stop moatd, in under 15 s (status, seconds): %s", v);
	val(out, "left", v, sizeof(v));
	CHECK(!v[0], "no role is left running: %s", v);
	CHECK(strstr(out, "journal-moatd: applied and verified") &&
		      strstr(out, "journal-moatd: moatd: network policy: applied and verified by `moatctl policy apply'"),
	      "moatd's journal: the policy applied by ExecStartPre=, then moatd");
	if (check_failures) {
		fprintf(stderr, "%s\nthe console: %s/console.log\n", out, logdir);
	} else {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", logdir);
		CHECK(!system(cmd), "cleaned up");
	}
	return test_done("test_systemd");
}
