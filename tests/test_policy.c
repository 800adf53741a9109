// SPDX-License-Identifier: GPL-2.0-only
/*
 * The nftables policy, for real, in a network namespace of the test's own
 * (the machine's firewall is never touched):
 * - the ruleset made from tests/golden/policy.conf equals the golden file;
 * - what cannot be made into a policy is refused with the camera or key;
 * - apply replaces the table atomically (twice gives one table); a ruleset
 *   nftables refuses leaves the old table in place and names the rule;
 * - real connections: each role's user reaches only what the policy
 *   allows (the uplink the relay, the sealer nothing, a worker no host
 *   but its camera), and root is not affected;
 * - remove takes the table away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/config.h"
#include "policy/policy.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static char text[POLICY_TEXT_MAX], listed[POLICY_TEXT_MAX];

static void golden(void)
{
	static struct cfg c;
	uint8_t *want;
	size_t want_len = 0;
	char why[512] = "";

	CHECK(cfg_load(test_src_path("tests/golden/policy.conf"), &c) == 0,
	      "the sample config parses");
	CHECK(policy_ruleset(&c, "tests/golden/policy.conf", text, sizeof(text),
			     why, sizeof(why)) == 0,
	      "a ruleset from it: %s", why);
	if (getenv("MOAT_UPDATE_GOLDEN")) {
		FILE *f = fopen(test_src_path("tests/golden/policy.nft"), "w");

		if (f) {
			fputs(text, f);
			fclose(f);
		}
	}
	want = read_all(test_src_path("tests/golden/policy.nft"), &want_len);
	CHECK(want && want_len == strlen(text) &&
		      !memcmp(want, text, want_len),
	      "the ruleset equals tests/golden/policy.nft (MOAT_UPDATE_GOLDEN=1 rewrites it after a reviewed change)");
	free(want);
}

static void refusals(void)
{
	static const char base[] = "[relay]\naddress = 203.0.113.7\n";
	static struct cfg c;
	char conf[512], err[CFG_ERR_MAX], why[512] = "";

	snprintf(conf, sizeof(conf),
		 "%s[hub]\ncamera_interfaces = cam0\n[camera yard]\nsource = rtsp://cam-yard.local/live\n",
		 base);
	CHECK(cfg_parse("t.conf", conf, strlen(conf), &c, err) == 0, "%s", err);
	CHECK(policy_ruleset(&c, "t.conf", text, sizeof(text), why,
			     sizeof(why)) == -EINVAL &&
		      strstr(why, "[camera yard]") && strstr(why, "ip = "),
	      "a camera known by name only is refused, and the fix named: %s",
	      why);
	snprintf(conf, sizeof(conf), "%s[camera a]\nsource = rtsp://192.0.2.1/x\n",
		 base);
	CHECK(cfg_parse("t.conf", conf, strlen(conf), &c, err) == 0, "%s", err);
	CHECK(policy_ruleset(&c, "t.conf", text, sizeof(text), why,
			     sizeof(why)) == 0 &&
		      !strstr(text, "iifname") && !strstr(text, "oifname") &&
		      strstr(text, "ip daddr 192.0.2.1 tcp dport 554 accept comment \"camera a: its worker pulls RTSP from it\"") &&
		      strstr(text, "uplink: nowhere but the relay"),
	      "no camera interface: the roles are still held, with no camera-network rules: %s",
	      why);
	snprintf(conf, sizeof(conf), "%s[hub]\ncamera_interfaces = cam0,\n",
		 base);
	CHECK(cfg_parse("t.conf", conf, strlen(conf), &c, err) == -EINVAL &&
		      strstr(err, "camera_interfaces"),
	      "a bad interface list is a config error: %s", err);
	snprintf(conf, sizeof(conf), "%s[camera a]\nsource = file:/x\nmac = 00:11:22:33:44\n",
		 base);
	CHECK(cfg_parse("t.conf", conf, strlen(conf), &c, err) == -EINVAL &&
		      strstr(err, "MAC address"),
	      "a bad MAC is a config error: %s", err);
}

/* connect() to addr:port as uid: 0 connected, or -errno. */
static int connect_as(uid_t uid, const char *addr, unsigned int port)
{
	pid_t pid = fork();
	int st;

	if (!pid) {
		struct sockaddr_in a = { .sin_family = AF_INET,
					 .sin_port = htons((uint16_t)port) };
		int fd;

		if (uid && setresuid(uid, uid, uid))
			_exit(100);
		inet_pton(AF_INET, addr, &a.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			_exit(101);
		/* a policy that drops instead of refusing would hang here */
		{
			struct timeval tv = { 5, 0 };

			setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		}
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			_exit(0);
		_exit(errno & 0xff);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -999;
	return -WEXITSTATUS(st);
}

/* A listener on addr:port (in this namespace), for the traffic checks. */
static int listen_on(const char *addr, unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	inet_pton(AF_INET, addr, &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, 16))
		return -1;
	return fd;
}

static void in_kernel(void)
{
	static struct cfg c;
	/* getpwnam's answer lives in one static buffer: keep the uids */
	struct passwd *pw;
	uid_t cam = (pw = getpwnam("moat-cam")) ? pw->pw_uid : 0,
	      up = (pw = getpwnam("moat-up")) ? pw->pw_uid : 0,
	      seal = (pw = getpwnam("moat-seal")) ? pw->pw_uid : 0;
	char conf[1024], err[4096] = "", why[512] = "", *bad;
	int l1, l2, n = 0;

	CHECK(cam && up && seal, "the role users exist (make deps)");
	if (!cam || !up || !seal)
		return;
	/* the relay on 127.0.0.5:7443, a camera on 127.0.0.6:554 */
	snprintf(conf, sizeof(conf),
		 "[hub]\ncamera_interfaces = cam0\n[relay]\naddress = 127.0.0.5\nport = 7443\n"
		 "[camera porch]\nsource = rtsp://127.0.0.6/live\n");
	CHECK(cfg_parse("t.conf", conf, strlen(conf), &c, err) == 0, "%s", err);
	CHECK(policy_ruleset(&c, "t.conf", text, sizeof(text), why,
			     sizeof(why)) == 0,
	      "a ruleset for loopback: %s", why);
	CHECK(policy_list(listed, sizeof(listed)) == -ENOENT,
	      "a fresh namespace has no moat table");
	CHECK(policy_apply(text, err, sizeof(err)) == 0, "applied: %s", err);
	CHECK(policy_apply(text, err, sizeof(err)) == 0,
	      "applied again (the replace is atomic): %s", err);
	CHECK(policy_list(listed, sizeof(listed)) == 0 &&
		      strstr(listed, "hook output priority filter - 5") &&
		      strstr(listed, "comment \"uplink: nowhere but the relay\""),
	      "the kernel has the table, at filter - 5, its rules commented");
	for (const char *p = listed; (p = strstr(p, "table inet moat")); p++)
		n++;
	CHECK(n == 1, "one moat table, not two (%d)", n);

	l1 = listen_on("127.0.0.5", 7443);
	l2 = listen_on("127.0.0.7", 7443);
	CHECK(l1 >= 0 && l2 >= 0, "two listeners on loopback");
	n = connect_as(up, "127.0.0.5", 7443);
	CHECK(n == 0, "the uplink's user reaches the relay (%d)", n);
	CHECK(connect_as(up, "127.0.0.7", 7443) == -EHOSTUNREACH,
	      "the uplink's user cannot reach another host (refused at once: EHOSTUNREACH)");
	CHECK(connect_as(seal, "127.0.0.5", 7443) == -EHOSTUNREACH,
	      "the sealer's user reaches nothing, not even the relay (refused at once: EHOSTUNREACH)");
	CHECK(connect_as(cam, "127.0.0.5", 7443) == -EHOSTUNREACH,
	      "a camera worker's user cannot reach the relay (refused at once: EHOSTUNREACH)");
	CHECK(connect_as(0, "127.0.0.7", 7443) == 0,
	      "root is not affected");

	/* A ruleset nftables refuses: the table stays as it was. */
	bad = strdup(text);
	if (bad) {
		char *u = strstr(bad, "meta skuid \"moat-seal\"");

		/* a user that does not exist, same length */
		if (u)
			memcpy(u + 12, "nouser-xx", 9);
		CHECK(u && policy_apply(bad, err, sizeof(err)) == -EINVAL &&
			      strstr(err, "nouser-xx"),
		      "a broken ruleset is refused, the rule named: %.200s", err);
		CHECK(connect_as(seal, "127.0.0.5", 7443) == -EHOSTUNREACH &&
			      connect_as(up, "127.0.0.5", 7443) == 0,
		      "and the table in force is the old one");
		free(bad);
	}
	CHECK(policy_remove(err, sizeof(err)) == 0 &&
		      policy_list(listed, sizeof(listed)) == -ENOENT,
	      "remove takes the table away: %s", err);
	CHECK(connect_as(seal, "127.0.0.5", 7443) == 0,
	      "and the sealer's user is no longer held back");
	close(l1);
	close(l2);
}

int main(void)
{
	golden();
	refusals();
	if (geteuid())
		test_skip("nftables needs root (run the suite with sudo)");
	/* a namespace of our own: the machine's firewall is not touched */
	if (unshare(CLONE_NEWNET)) {
		CHECK(0, "a network namespace: %s", strerror(errno));
		return test_done("test_policy");
	}
	if (system("ip link set lo up") != 0)
		CHECK(0, "loopback up in the namespace");
	in_kernel();
	return test_done("test_policy");
}
