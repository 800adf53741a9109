// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatctl doctor against a real hub: before the relay and moatd are up it
 * says the hub is not healthy, names the relay, the policy and moatd, and
 * gives a fix for each, exit 1; with the relay and moatd up (moatd applies
 * the policy) it says healthy, exit 0; a camera whose file is gone, and a
 * relay that went away, are each named; --json carries the same.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static char out[65536];

static int doctor(const struct hub *h, const char *conf, bool json)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "%s/moatctl --config %s doctor%s 2>&1",
		 h->bin, conf, json ? " --json" : "");
	return run_cmd(cmd, out, sizeof(out));
}

/* The JSON item of one check has this status ("ok", "fail", ...). */
static bool has(const char *check, const char *status)
{
	char key[128];

	snprintf(key, sizeof(key), "{\"check\": \"%s\", \"status\": \"%s\"",
		 check, status);
	return strstr(out, key) != NULL;
}

int main(void)
{
	const char *m = getenv("MOAT_MEDIA");
	char clip[4096], lines[4200], conf2[300], cmd[1024];
	struct hub h;
	int rc;

	if (geteuid())
		test_skip("the checks (bpf, nftables, the policy) need root");
	if (!realpath(m && *m ? m : test_src_path("build/media/clip.h264"), clip)) {
		CHECK(0, "the test clip exists (make media)");
		return test_done("test_doctor");
	}
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\nrecord = continuous\n",
		 clip);
	CHECK(!hub_init(&h, "doctor", lines), "hub folder, keys, config");

	/* Nothing running yet. */
	rc = doctor(&h, h.conf, true);
	CHECK(rc == 1 && strstr(out, "\"healthy\": false"),
	      "nothing up: exit 1, not healthy (%d): %s", rc, out);
	CHECK(has("cgroup2", "ok") && has("bpf", "ok") && has("io_uring", "ok") &&
		      has("nftables", "ok") && has("btf", "info"),
	      "the kernel checks pass here: %s", out);
	CHECK(has("relay", "fail") && strstr(out, "the relay does not answer"),
	      "the relay that is not there is named: %s", out);
	CHECK(has("policy", "warn") && has("moatd", "warn"),
	      "before the hub starts, the policy not in force and moatd not running warn: %s", out);
	CHECK(has("camera", "ok") && strstr(out, "porch: the file"),
	      "the file camera is found: %s", out);
	CHECK(has("cipher", "info") && strstr(out, "because"),
	      "the cipher and why: %s", out);
	rc = doctor(&h, h.conf, false);
	CHECK(rc == 1 && strstr(out, "FAIL  relay") && strstr(out, "fix: check [relay]") &&
		      strstr(out, "the hub is NOT healthy"),
	      "the text says FAIL, the fix and the verdict: %s", out);

	/* The relay and moatd up: healthy. */
	CHECK(!hub_start_relay(&h), "relay up");
	CHECK(!hub_start_moatd(&h), "moatd up (it applies the policy)");
	/* the camera's rate shows once frames have come (up to 10 s) */
	for (int i = 0; i < 20 && (rc = doctor(&h, h.conf, true)); i++)
		usleep(500000);
	CHECK(rc == 0 && strstr(out, "\"healthy\": true") && has("relay", "ok") &&
		      has("policy", "ok") && has("moatd", "ok") &&
		      strstr(out, "\"failed\": 0"),
	      "all up: exit 0, healthy, relay, policy and moatd ok (%d): %s", rc,
	      out);
	CHECK(has("camera", "ok") && strstr(out, "porch: moatd receives"),
	      "the camera is judged by what moatd receives from it: %s", out);

	/* The policy taken away under moatd (a `nft flush ruleset' by
	 * another program): moatd notices within POLICY_WATCH_S, says so,
	 * and applies it again; doctor sees it in force. */
	CHECK(!system("nft delete table inet moat"), "the nftables table deleted");
	rc = doctor(&h, h.conf, true);
	{
		char lg[300], *l;
		size_t n;

		/* (unless moatd's check ran in between and repaired it) */
		snprintf(lg, sizeof(lg), "%s/moatd.log", h.dir);
		l = (char *)read_all(lg, &n);
		CHECK((rc == 1 && has("policy", "fail") && strstr(out, "nftables")) ||
			      (l && strstr(l, "in force again")),
		      "doctor sees the policy gone (%d): %s", rc, out);
		free(l);
	}
	{
		char log[300], *l = NULL;
		size_t n;
		char *st;

		/* moatd logs the repair once the kernel shows it all again
		 * (10 s between checks, and the repair's own time) */
		snprintf(log, sizeof(log), "%s/moatd.log", h.dir);
		for (int i = 0; i < 300; i++) {
			free(l);
			l = (char *)read_all(log, &n);
			if (l && strstr(l, "the network policy is in force again"))
				break;
			usleep(100000);
		}
		CHECK(!system("nft list table inet moat >/dev/null 2>&1"),
		      "moatd put the table back");
		CHECK(l && strstr(l, "ALERT the network policy is no longer in force") &&
			      strstr(l, "the network policy is in force again"),
		      "moatd's log has the ALERT and the repair: %s", l ? l : "");
		free(l);
		st = hub_status(&h);
		CHECK(st && json_num(st, "policy", "lapses") >= 1,
		      "moatctl status counts the lapse: %s", st ? st : "");
		free(st);
	}
	rc = doctor(&h, h.conf, true);
	CHECK(rc == 0 && has("policy", "ok"), "doctor: healthy again (%d): %s",
	      rc, out);

	/* A moat.conf that does not load: the line and the key named. */
	snprintf(conf2, sizeof(conf2), "%s/moat2.conf", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "sed 's|^spool = |spol = |' %s > %s", h.conf, conf2);
	CHECK(!system(cmd), "a config with a mistyped key");
	rc = doctor(&h, conf2, true);
	CHECK(rc == 1 && has("config", "fail") && strstr(out, "unknown key `spol'") &&
		      strstr(out, "line "),
	      "the config check names the line and the key (%d): %s", rc, out);

	/* A camera whose file is gone (a moat.conf no moatd runs with: a
	 * running one would be asked, and it knows its own cameras). */
	snprintf(conf2, sizeof(conf2), "%s/moat2.conf", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "sed -e 's|^source = file:.*|source = file:/nonexistent/cam.h264|' "
		 "-e 's|^control = .*|control = %s/none.sock|' %s > %s",
		 h.dir, h.conf, conf2);
	CHECK(!system(cmd), "a config whose camera file is gone");
	rc = doctor(&h, conf2, false);
	CHECK(rc == 1 && strstr(out, "FAIL  camera    porch: cannot read /nonexistent/cam.h264"),
	      "the camera is named, with its file and why (%d): %s", rc, out);

	/* Camera interfaces: one that is up with an address, one missing. */
	snprintf(cmd, sizeof(cmd),
		 "sed 's|^\\[hub\\]$|[hub]\\ncamera_interfaces = lo,nosuch0|' %s > %s",
		 h.conf, conf2);
	CHECK(!system(cmd), "a config naming two camera interfaces");
	rc = doctor(&h, conf2, false);
	CHECK(rc == 1 && strstr(out, "ok    interface lo is up, with link, at 127.0.0.1") &&
		      strstr(out, "FAIL  interface there is no interface nosuch0") &&
		      strstr(out, "fix: `ip -br link' lists the interfaces"),
	      "the interface that is there passes, the missing one is named with its fix (%d): %s",
	      rc, out);

	/* policy apply names the missing interface before it touches
	 * anything (it used to fail on a sysctl path of it) */
	snprintf(cmd, sizeof(cmd), "%s/moatctl --config %s policy apply 2>&1",
		 h.bin, conf2);
	rc = run_cmd(cmd, out, sizeof(out));
	CHECK(rc == 1 && strstr(out, "there is no interface nosuch0") &&
		      !strstr(out, "sysctl"),
	      "moatctl policy apply names the interface that is not there (%d): %s",
	      rc, out);

	/* The relay goes away. */
	CHECK(!hub_stop(&h.relay, SIGKILL, 5000), "relay stopped");
	rc = doctor(&h, h.conf, true);
	CHECK(rc == 1 && has("relay", "fail") && has("moatd", "ok"),
	      "a relay that went away fails the check (%d): %s", rc, out);

	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops");
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_doctor");
}
