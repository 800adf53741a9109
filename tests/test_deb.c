// SPDX-License-Identifier: GPL-2.0-only
/*
 * The Debian packages (tools/make-deb.sh, `make deb`), installed for real
 * on this machine with apt-get and purged again:
 *
 * - moat and moat-relay build from this build, with Depends found by
 *   dpkg-shlibdeps and the configuration files marked as conffiles;
 * - apt-get installs both: the role users, the state folders with their
 *   owners and modes, the units enabled (their links made; this machine's
 *   PID 1 is not systemd, so nothing starts), moatd and moatctl run from
 *   their installed paths and moatctl doctor loads the installed moat.conf;
 * - apt-get purge leaves no file of either package, no unit link, no
 *   /etc/moat and no /var/lib/moat;
 * - the arm64 build (make CROSS=aarch64-linux-gnu-, which `make test`
 *   makes) packages as arm64 with AArch64 programs.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static char out[65536];

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return run_cmd(cmd, out, sizeof(out));
}

/* Every regular file the package holds is gone after the purge. */
static int files_left(const char *deb, char *left, size_t cap)
{
	char cmd[1024], line[1024];
	FILE *f;
	int n = 0;

	left[0] = 0;
	snprintf(cmd, sizeof(cmd), "dpkg-deb -c %s | awk '$1 ~ /^-/ {print $6}'",
		 deb);
	f = popen(cmd, "r");
	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		if (!access(line + 1, F_OK)) { /* "./usr/..." */
			size_t l = strlen(left);

			snprintf(left + l, cap - l, " %s", line + 1);
			n++;
		}
	}
	if (f)
		pclose(f);
	return n;
}

int main(void)
{
	char build[512], tmp[] = "/tmp/moat-deb-XXXXXX";
	char hub_deb[700], relay_deb[700], left[4096], arch[32] = "", src[512];
	char srcp[PATH_MAX];
	struct passwd *up, *moat;
	struct stat st;
	int rc;

	if (geteuid())
		test_skip("installing a package needs root");
	snprintf(build, sizeof(build), "%.500s", test_build_dir());
	if (!build[0] || !mkdtemp(tmp) ||
	    !realpath(getenv("MOAT_SRC") ? getenv("MOAT_SRC") : ".", srcp)) {
		CHECK(0, "own build folder, the source tree and a temp folder");
		return test_done("test_deb");
	}
	snprintf(src, sizeof(src), "%.500s", srcp);
	run_cmd("dpkg --print-architecture", arch, sizeof(arch));
	arch[strcspn(arch, "\n")] = 0;
	CHECK(!sh("for p in moat moat-relay; do dpkg -s $p >/dev/null 2>&1 && echo \"$p installed\"; done; true") &&
		      !strstr(out, "installed"),
	      "neither package is installed before the test: %s", out);

	/* Build the packages from this build. */
	snprintf(hub_deb, sizeof(hub_deb), "%s/moat_0.0.0+test_%s.deb", tmp, arch);
	snprintf(relay_deb, sizeof(relay_deb), "%s/moat-relay_0.0.0+test_%s.deb",
		 tmp, arch);
	rc = sh("cd %s && sh tools/make-deb.sh %s %s 0.0.0+test %s 2>&1", src,
		build, arch, tmp);
	CHECK(rc == 0 && !stat(hub_deb, &st) && !stat(relay_deb, &st),
	      "tools/make-deb.sh makes moat and moat-relay: %s", out);
	rc = sh("dpkg-deb -f %s Depends Architecture", hub_deb);
	CHECK(rc == 0 && strstr(out, "libssl3") && strstr(out, "liburing2") &&
		      strstr(out, "libnftables1") && strstr(out, arch),
	      "moat's Depends name the libraries it links: %s", out);
	{
		/* built with libcamera: its IPA modules, which it dlopens,
		 * are recommended */
		bool libcamera = strstr(out, "libcamera") != NULL;

		sh("dpkg-deb -f %s Recommends", hub_deb);
		CHECK(libcamera == (strstr(out, "libcamera-ipa") != NULL),
		      "moat recommends libcamera-ipa exactly when it links libcamera (%s): %s",
		      libcamera ? "it does" : "it does not", out);
	}
	rc = sh("dpkg-deb -I %s conffiles; dpkg-deb -I %s conffiles", hub_deb,
		relay_deb);
	CHECK(strstr(out, "/etc/moat/moat.conf") &&
		      strstr(out, "/etc/default/moat-relay"),
	      "the configuration files are conffiles: %s", out);

	/* Install both with apt. */
	rc = sh("apt-get install -y -q %s %s 2>&1", hub_deb, relay_deb);
	CHECK(rc == 0, "apt-get installs both: %s", out);
	rc = sh("dpkg-query -W -f='${Status}\\n' moat moat-relay");
	CHECK(rc == 0 && strstr(out, "install ok installed\ninstall ok installed"),
	      "dpkg says both are installed: %s", out);
	CHECK(!lstat("/etc/systemd/system/multi-user.target.wants/moatd.service", &st) &&
		      !lstat("/etc/systemd/system/multi-user.target.wants/moat-policy.service", &st) &&
		      !lstat("/etc/systemd/system/multi-user.target.wants/moat-relay.service", &st),
	      "moat-policy, moatd and moat-relay are enabled");
	up = getpwnam("moat-up");
	CHECK(up && !stat("/var/lib/moat/spool", &st) &&
		      (st.st_mode & 0777) == 0700 && st.st_uid == up->pw_uid,
	      "the spool is made, moat-up's, 0700");
	moat = getpwnam("moat");
	CHECK(moat && !stat("/var/lib/moat/keys", &st) &&
		      (st.st_mode & 0777) == 0700 && st.st_uid == moat->pw_uid,
	      "the key store is made, moatd's user's, 0700");
	CHECK(moat && !stat("/etc/moat/moat.conf", &st) &&
		      (st.st_mode & 0777) == 0640 && st.st_uid == 0 &&
		      st.st_gid == moat->pw_gid,
	      "/etc/moat/moat.conf is there, root's, 0640, readable by moatd's group");
	rc = sh("/usr/sbin/moatd --help >/dev/null 2>&1 && /usr/bin/moat-relay --help >/dev/null 2>&1 && "
		"/usr/bin/moatctl doctor --json");
	CHECK(strstr(out, "{\"check\": \"config\", \"status\": \"ok\""),
	      "the installed programs run; moatctl doctor loads the installed moat.conf: %s",
	      out);

	/* Purge: nothing left. */
	rc = sh("apt-get purge -y -q moat moat-relay 2>&1");
	CHECK(rc == 0, "apt-get purges both: %s", out);
	CHECK(!files_left(hub_deb, left, sizeof(left)),
	      "no file of moat is left:%s", left);
	CHECK(!files_left(relay_deb, left, sizeof(left)),
	      "no file of moat-relay is left:%s", left);
	CHECK(lstat("/etc/moat", &st) && lstat("/var/lib/moat", &st),
	      "/etc/moat and /var/lib/moat are gone");
	CHECK(lstat("/etc/systemd/system/multi-user.target.wants/moatd.service", &st) &&
		      lstat("/etc/systemd/system/moatd.service", &st) &&
		      lstat("/etc/systemd/system/multi-user.target.wants/moat-relay.service", &st),
	      "no unit link or mask is left");
	rc = sh("dpkg -s moat 2>&1; dpkg -s moat-relay 2>&1");
	CHECK(strstr(out, "is not installed"), "dpkg knows neither any more: %s",
	      out);

	/* The arm64 packages, from the cross build make test makes on an
	 * amd64 machine (MOAT_ARM64_BUILD); by hand, build-arm64 if there. */
	if (strcmp(arch, "arm64")) {
		const char *env = getenv("MOAT_ARM64_BUILD");
		char a64[1100];
		bool have;

		snprintf(a64, sizeof(a64), "%s/%.500s", src,
			 env && *env ? env : "build-arm64");
		have = !stat(a64, &st);
		if (env && *env)
			CHECK(have, "the arm64 build %s is there", a64);
		else if (!have)
			printf("not checked: the arm64 packages (no %s; make test makes it)\n",
			       a64);
		if (have) {
			rc = sh("cd %s && sh tools/make-deb.sh %s arm64 0.0.0+test %s/arm64 2>&1 && "
				"dpkg-deb -f %s/arm64/moat_0.0.0+test_arm64.deb Architecture && "
				"dpkg-deb --fsys-tarfile %s/arm64/moat_0.0.0+test_arm64.deb | "
				"tar -xO ./usr/sbin/moatd >%s/moatd.arm64 && "
				"readelf -h %s/moatd.arm64 | grep Machine",
				src, a64, tmp, tmp, tmp, tmp, tmp);
			CHECK(rc == 0 && strstr(out, "arm64\n") && strstr(out, "AArch64"),
			      "moat for arm64: Architecture arm64, moatd an AArch64 program: %s",
			      out);
		}
	}
	if (!check_failures)
		sh("rm -rf %s", tmp);
	else
		fprintf(stderr, "kept %s\n", tmp);
	return test_done("test_deb");
}
