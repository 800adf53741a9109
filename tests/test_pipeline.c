// SPDX-License-Identifier: GPL-2.0-only
/*
 * End to end, with real processes: the file camera through moatd (worker,
 * sealer, io_uring uplink, spool) to moat-relay, fetched and opened by
 * moat-view. What the viewer gets must equal what the camera sent, byte
 * for byte; no file the hub or the relay wrote may hold any 8-byte run of
 * the camera's video.
 */
#include <fcntl.h>
#include <limits.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/handoff.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

/*
 * A second approved viewer whose public key is a low-order X25519 point
 * (all zeros), written by hand as a damaged or hostile keystore would hold
 * it: the sealer must leave it out and go on sealing for the real viewer.
 */
static void plant_bad_viewer(const struct hub *h)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "cd %s/keys/viewers && f=000000000000000000000000000000ee.viewer && "
		 "cp -p $(ls *.viewer | head -1) $f && "
		 "printf 'moat-keyfile 1\nkind viewer\nviewer-id 000000000000000000000000000000ee\n"
		 "name broken\nstate approved\nadded 1795427741\npublic-key %064d\npsk %064d\n' > $f && "
		 "echo \"checksum $(sha256sum $f | cut -c1-64)\" >> $f",
		 h->dir, 0, 0);
	CHECK(run_cmd(cmd, NULL, 0) == 0, "a viewer with a low-order key planted");
}

static void bad_config(struct hub *h)
{
	char cmd[2048], out[2048], path[200];
	FILE *f;

	snprintf(path, sizeof(path), "%s/bad.conf", h->dir);
	f = fopen(path, "w");
	fprintf(f, "[hub]\nspool_quota = lots\n[relay]\naddress = 127.0.0.1\n"
		   "[camera a]\nsource = file:/nonexistent\n");
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/moatd --config %s 2>&1", h->bin, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 1, "a bad config stops moatd");
	CHECK(strstr(out, "line 2") && strstr(out, "spool_quota"),
	      "the message names the line and the key: %s", out);
	CHECK(access(h->sock, F_OK) != 0, "nothing started on a bad config");

	/* A policy that cannot be applied: moatd fails closed, saying why,
	 * and no role runs (the config is the hub's own, one line added). */
	snprintf(cmd, sizeof(cmd),
		 "sed 's/^\\[hub\\]$/[hub]\\ncamera_interfaces = nosuch0/' %s > %s && "
		 "timeout 20 %s/moatd --config %s 2>&1",
		 h->conf, path, h->bin, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 1 &&
		      strstr(out, "the network policy cannot be applied, so nothing starts") &&
		      strstr(out, "nosuch0"),
	      "without its network policy moatd starts nothing and names the reason: %s",
	      out);
	CHECK(access(h->sock, F_OK) != 0 && access(h->spool, F_OK) != 0,
	      "no control socket, no spool: no role ran");

	/* moatd without its sealer and uplink programs beside it (or in
	 * ../lib/moat/) says which and where it looked, and starts nothing */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/alone && cp %s/moatd %s/alone/ && "
		 "%s/alone/moatd --config %s --check 2>&1",
		 h->dir, h->bin, h->dir, h->dir, h->conf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 1 &&
		      strstr(out, "moat-sealer is neither in") &&
		      strstr(out, "/alone/../lib/moat/"),
	      "moatd alone names the program it lacks and where it looked: %s",
	      out);
	snprintf(cmd, sizeof(cmd), "%s/moat-sealer 2>&1", h->bin);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 2 &&
		      strstr(out, "it is not run by hand"),
	      "moat-sealer run by hand says it is moatd's: %s", out);

	/* a build folder made by a user and run with sudo: programs owned
	 * by moatd's owner are run; one owned by someone else is not */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/user && cp %s/moatd %s/moat-sealer %s/moat-uplink %s/user/ && "
		 "chown -R 65534 %s/user && %s/user/moatd --config %s --check 2>&1",
		 h->dir, h->bin, h->bin, h->bin, h->dir, h->dir, h->dir,
		 h->conf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "is valid"),
	      "moatd runs programs owned by its own owner: %s", out);
	snprintf(cmd, sizeof(cmd),
		 "chown 0 %s/user/moatd && %s/user/moatd --config %s --check 2>&1",
		 h->dir, h->dir, h->conf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 1 &&
		      strstr(out, "/user/moat-sealer: refused: owned by uid 65534"),
	      "and refuses one owned by another user, naming it: %s", out);

	/* a handoff of another layout is refused, saying so (exit 78) */
	snprintf(cmd, sizeof(cmd),
		 "head -c %zu /dev/zero > %s/zero.hof && %s/moat-uplink --handoff 3 3<%s/zero.hof 2>&1",
		 sizeof(struct handoff), h->dir, h->bin, h->dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == HANDOFF_REFUSED &&
		      strstr(out, "laid out for another build"),
	      "moat-uplink refuses a handoff of another layout: %s", out);
	/* a mismatched install (the uplink's program where the sealer's
	 * should be): the role refuses, and moatd stops rather than
	 * restart it for ever */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/mixed && cp %s/moatd %s/moat-uplink %s/mixed/ && "
		 "cp %s/moat-uplink %s/mixed/moat-sealer && "
		 "timeout 60 %s/mixed/moatd --config %s 2>&1",
		 h->dir, h->bin, h->bin, h->dir, h->bin, h->dir, h->dir,
		 h->conf);
	CHECK(run_cmd(cmd, out, sizeof(out)) == HANDOFF_REFUSED &&
		      strstr(out, "handoff is refused: it is for another role") &&
		      strstr(out, "moatd stops"),
	      "moatd stops when a program refuses its handoff, saying why: %s",
	      out);
	CHECK(access(h->sock, F_OK) != 0, "and its control socket is gone");
}

/*
 * The checks a program makes of moatd's handoff (handoff_check), on a
 * handoff built here: each count or length out of its array, a string
 * without its end, or a role left as root, is named.
 */
static void handoff_checks(void)
{
	struct handoff *h = calloc(1, sizeof(*h));
	const char *why;

	if (!h)
		return;
	h->magic = handoff_magic();
	h->size = sizeof(*h);
	h->role = ROLE_UPLINK;
	h->stats_len = sizeof(struct stats_uplink);
	h->io.uplink.sb.role = ROLE_UPLINK;
	h->io.uplink.sb.uid = h->io.uplink.sb.gid = 4242;
	h->io.uplink.relay_len = sizeof(struct sockaddr_in);
	h->cfg.n_cams = 1;
	why = handoff_check(h, ROLE_UPLINK);
	CHECK(!why, "a well-formed handoff passes (%s)", why ? why : "");
	CHECK((why = handoff_check(h, ROLE_SEALER)) &&
		      strstr(why, "another role"),
	      "the sealer refuses the uplink's handoff: %s", why);
	h->cfg.n_cams = CFG_MAX_CAMERAS + 1;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "cameras"),
	      "65 cameras refused: %s", why);
	h->cfg.n_cams = 1;
	memset(h->cfg.cams[0].source, 'x', sizeof(h->cfg.cams[0].source));
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "camera"),
	      "a camera string without its end refused: %s", why);
	h->cfg.cams[0].source[0] = '\0';
	memset(h->cfg.spool, 'x', sizeof(h->cfg.spool));
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "string"),
	      "a setting without its end refused: %s", why);
	h->cfg.spool[0] = '\0';
	h->io.uplink.n_viewers = WIRE_VIEWERS_MAX + 1;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "viewers"),
	      "17 viewers refused: %s", why);
	h->io.uplink.n_viewers = 1;
	h->io.uplink.relay_len = sizeof(h->io.uplink.relay) + 1;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "relay"),
	      "a relay address longer than its room refused: %s", why);
	h->io.uplink.relay_len = 0;
	CHECK(!handoff_check(h, ROLE_UPLINK),
	      "a relay name that did not resolve (length 0) is the uplink's to report, not a refusal");
	h->io.uplink.relay_len = sizeof(struct sockaddr_in);
	h->stats_len = sizeof(struct stats_sealer);
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "counters"),
	      "the sealer's counters for the uplink refused: %s", why);
	h->stats_len = sizeof(struct stats_uplink);
	h->io.uplink.sb.uid = 0;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "root"),
	      "a role left as root refused (this test is root): %s", why);
	h->io.uplink.sb.uid = 4242;
	h->io.uplink.sb.gid = 0;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "root"),
	      "a role left in group root refused: %s", why);
	h->io.uplink.sb.gid = 4242;
	h->magic ^= 1;
	CHECK((why = handoff_check(h, ROLE_UPLINK)) && strstr(why, "another build"),
	      "another layout's magic refused: %s", why);
	free(h);
}

/*
 * What a role's process has mapped from files: 1 if any mapping's path
 * contains one of the names, 0 if none does, -1 if the maps are not
 * readable. exe gets the program it runs (/proc/PID/exe).
 */
static int maps_have(int64_t pid, const char *const *names, char *exe,
		     size_t exe_len)
{
	char path[64], line[1024];
	int found = 0;
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/exe", (long long)pid);
	n = readlink(path, exe, exe_len - 1);
	exe[n > 0 ? n : 0] = '\0';
	snprintf(path, sizeof(path), "/proc/%lld/maps", (long long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; names[i]; i++)
			if (strstr(line, names[i]))
				found = 1;
	fclose(f);
	return found;
}

/* 1 if a readable mapping of pid (of up to 1 GiB) holds needle, 0 if none does, -1 if its
 * memory cannot be read at all. */
static int mem_has(int64_t pid, const char *needle)
{
	size_t nl = strlen(needle), cap = 1 << 20;
	char path[64], line[1024];
	int found = 0, read_any = 0, fd;
	uint8_t *buf = malloc(cap + nl);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/maps", (long long)pid);
	f = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%lld/mem", (long long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	while (f && fd >= 0 && buf && !found && fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perm[5];
		size_t keep = 0, total;

		/* not ASan's shadow (terabytes of zeros, read page by
		 * page): no heap or mapping of a role here is near 1 GiB */
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) != 3 ||
		    perm[0] != 'r' || hi - lo > (1UL << 30) ||
		    strstr(line, "[vvar]") || strstr(line, "[vsyscall]"))
			continue;
		for (unsigned long a = lo; a < hi && !found;) {
			size_t want = hi - a < cap ? hi - a : cap;
			ssize_t r = pread(fd, buf + keep, want, (off_t)a);

			if (r <= 0)
				break;
			read_any = 1;
			total = keep + (size_t)r;
			if (memmem(buf, total, needle, nl))
				found = 1;
			/* the tail stays: a needle across two reads */
			keep = total < nl - 1 ? total : nl - 1;
			memmove(buf, buf + total - keep, keep);
			a += (unsigned long)r;
		}
	}
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	free(buf);
	return found ? 1 : read_any ? 0 : -1;
}

/* A /proc file (its size is 0 to stat) into buf, NUL-ended: bytes read. */
static size_t read_proc(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;
	ssize_t r;

	while (fd >= 0 && n < len - 1 && (r = read(fd, buf + n, len - 1 - n)) > 0)
		n += (size_t)r;
	if (fd >= 0)
		close(fd);
	buf[n] = '\0';
	return n;
}

/* The value of name in pid's environment, into out ("" if absent). */
static void env_of(int64_t pid, const char *name, char *out, size_t len)
{
	char path[64], env[16384];
	size_t nl = strlen(name), n;

	snprintf(path, sizeof(path), "/proc/%lld/environ", (long long)pid);
	n = read_proc(path, env, sizeof(env));
	out[0] = '\0';
	for (size_t i = 0; i < n; i += strlen(env + i) + 1)
		if (!strncmp(env + i, name, nl) && env[i + nl] == '=')
			snprintf(out, len, "%s", env + i + nl + 1);
}

/* The name the kernel gives pid (/proc/PID/comm), into out. */
static const char *comm_of(int64_t pid, char *out, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%lld/comm", (long long)pid);
	read_proc(path, out, len);
	out[strcspn(out, "\n")] = '\0';
	return out;
}

/*
 * The sealer (keys) and the uplink (the network) run programs of their
 * own: none of the camera, codec, libcamera or policy libraries moatd
 * links is in their address space. A camera worker, a fork of moatd, has
 * them (the check can tell). They are named after their programs, get
 * none of moatd's environment but what they read, and hold no camera's
 * source (an IP camera's URL carries its password).
 */
static void role_programs(const struct hub *h, const char *st,
			  const char *clip)
{
	static const char *const big[] = { "libavcodec", "libavformat",
					   "libcamera", "libnftables",
					   "libbpf", NULL };
	char exe[PATH_MAX], name[32], val[64];

	CHECK(maps_have(json_num(st, "sealer", "pid"), big, exe,
			sizeof(exe)) == 0 &&
		      strstr(exe, "/moat-sealer"),
	      "the sealer runs moat-sealer (%s), with no codec, camera or policy library mapped",
	      exe);
	CHECK(maps_have(json_num(st, "uplink", "pid"), big, exe,
			sizeof(exe)) == 0 &&
		      strstr(exe, "/moat-uplink"),
	      "the uplink runs moat-uplink (%s), with no codec, camera or policy library mapped",
	      exe);
	CHECK(maps_have(json_num(st, "cameras", "pid"), big, exe,
			sizeof(exe)) == 1 &&
		      strstr(exe, "/moatd"),
	      "a camera worker is moatd's fork (%s), its libraries mapped",
	      exe);
	CHECK(!strcmp(comm_of(json_num(st, "sealer", "pid"), name,
			      sizeof(name)), "moat-sealer"),
	      "the sealer is named moat-sealer (not its descriptor): `%s'",
	      name);
	CHECK(!strcmp(comm_of(json_num(st, "uplink", "pid"), name,
			      sizeof(name)), "moat-uplink"),
	      "the uplink is named moat-uplink: `%s'", name);
	/* moatd's caller set MOAT_TEST_ENV (main): moatd has it, a role
	 * does not; what a role reads (MOAT_CIPHER) it keeps */
	env_of(h->moatd, "MOAT_TEST_ENV", val, sizeof(val));
	CHECK(!strcmp(val, "moatd-only"), "moatd has its caller's environment (%s)",
	      val);
	for (int r = 0; r < 2; r++) {
		const char *role = r ? "uplink" : "sealer";
		int64_t pid = json_num(st, role, "pid");

		env_of(pid, "MOAT_TEST_ENV", val, sizeof(val));
		CHECK(!val[0], "the %s does not get moatd's environment (MOAT_TEST_ENV=%s)",
		      role, val);
		env_of(pid, "MOAT_CIPHER", val, sizeof(val));
		CHECK(!strcmp(val, "chacha20-poly1305"),
		      "the %s keeps MOAT_CIPHER (%s)", role, val);
		CHECK(mem_has(pid, clip) == 0,
		      "no camera source (%s) in the %s's memory", clip, role);
	}
	CHECK(mem_has(json_num(st, "cameras", "pid"), clip) == 1,
	      "the camera worker's memory has its source (the check can tell)");
}

/* Whether this process (root) may take SCHED_FIFO: not without
 * CAP_SYS_NICE, nor where RT group scheduling leaves its cgroup none. */
static bool rt_allowed(void)
{
	struct sched_param rt = { .sched_priority = 1 }, other = { 0 };

	if (sched_setscheduler(0, SCHED_FIFO, &rt) < 0)
		return false;
	sched_setscheduler(0, SCHED_OTHER, &other);
	return true;
}

/* "sealer/uplink": the two roles' "scheduling" in moatctl status --json. */
static const char *scheds(const char *st, char *out, size_t len)
{
	char sl[16] = "?", up[16] = "?";

	json_str(st, "sealer", "scheduling", sl, sizeof(sl));
	json_str(st, "uplink", "scheduling", up, sizeof(up));
	snprintf(out, len, "%s/%s", sl, up);
	return out;
}

/*
 * The relay is away and the camera keeps recording: the spool keeps to its
 * quota by evicting the oldest, and says so (status, text, log). When the
 * relay comes back, what is left goes out and every stream there opens.
 */
static void quota_alert(const char *clip, const uint8_t *clip_b,
			size_t clip_len)
{
	char lines[PATH_MAX + 200], cmd[2048], out[4096], log[300], sc[40];
	struct pt_set *pt;
	struct hub h;
	size_t ll, files = 0;
	uint8_t *l;
	char *st = NULL;

	snprintf(lines, sizeof(lines),
		 "[camera yard]\nsource = file:%s\npace = fast\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "quota", lines), "quota: hub set up");
	/* the quota line goes in [hub], which comes first */
	snprintf(cmd, sizeof(cmd), "sed -i 's/^\\[hub\\]$/[hub]\\nspool_quota = 1M\\nrealtime = no/' %s",
		 h.conf);
	CHECK(run_cmd(cmd, NULL, 0) == 0, "quota: 1 MiB, and normal priority");
	CHECK(!hub_start_moatd(&h), "quota: moatd up, no relay");
	for (int i = 0; i < 100; i++) {
		free(st);
		st = hub_status(&h);
		if (st && strstr(st, "\"alert\": true"))
			break;
		usleep(100000);
	}
	CHECK(!strcmp(scheds(st, sc, sizeof(sc)), "normal/normal"),
	      "quota: with realtime = no the sealer and the uplink run at normal priority (%s)",
	      sc);
	CHECK(st && strstr(st, "\"alert\": true") &&
		      json_num(st, "spool", "evicted_bytes") > 0 &&
		      json_num(st, "spool", "bytes") <= (1 << 20) + (1 << 20) / 8 + 300000,
	      "quota: the spool stays at its quota and raises the alert: %s",
	      st ? strstr(st, "\"spool\"") : "no status");
	free(st);
	snprintf(cmd, sizeof(cmd), "%s/moatctl --socket %s status", h.bin, h.sock);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "ALERT"),
	      "quota: moatctl status shows the alert");
	snprintf(log, sizeof(log), "%s/moatd.log", h.dir);
	l = read_all(log, &ll);
	CHECK(l && strstr((char *)l, "ALERT spool: quota"), "quota: logged");
	free(l);
	/* no relay acknowledged anything: every record went to disk, sealed */
	pt = pt_set_new(clip_b, clip_len);
	CHECK(pt && pt_scan_tree(pt, h.spool, &files) == 0 && files >= 2,
	      "quota: no 8-byte run of the video in the spool the uplink wrote (%zu files)",
	      files);
	pt_set_free(pt);
	CHECK(!hub_start_relay(&h), "quota: the relay comes back");
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "quota: moatd stops");
	snprintf(cmd, sizeof(cmd), "sed -i 's/^loop = yes/loop = no/' %s", h.conf);
	run_cmd(cmd, NULL, 0);
	CHECK(!hub_start_moatd(&h) && !hub_wait_drained(&h, 60000, true),
	      "quota: what was left is delivered");
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/q.h264 --json",
		 h.bin, h.ident, h.relay_addr, h.dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "\"refused\": 0"),
	      "quota: every stream at the relay opens: %s", out);
	hub_cleanup(&h, check_failures != 0);
}

/*
 * A live-only camera (record = off): its streams go to the relay when it is
 * there, are never spooled, and are dropped (and counted) when it is not.
 */
static void live_only(const char *clip, const uint8_t *clip_b, size_t clip_len)
{
	char lines[PATH_MAX + 200], cmd[2048], out[4096], path[300];
	struct hub h;
	size_t got_len;
	uint8_t *got;
	char *st = NULL;

	snprintf(lines, sizeof(lines),
		 "[camera hall]\nsource = file:%s\npace = fast\nloop = no\n"
		 "record = off\nlive = yes\n", clip);
	CHECK(!hub_init(&h, "live", lines), "live: hub set up");
	CHECK(!hub_start_moatd(&h), "live: moatd up, no relay");
	for (int i = 0; i < 100; i++) {
		free(st);
		st = hub_status(&h);
		if (st && strstr(st, "\"state\": \"ended\"") &&
		    json_num(st, "uplink", "live_dropped") ==
			    json_num(st, "sealer", "records"))
			break;
		usleep(100000);
	}
	CHECK(json_num(st, "sealer", "records") > 120 &&
		      json_num(st, "uplink", "live_dropped") ==
			      json_num(st, "sealer", "records") &&
		      json_num(st, "spool", "bytes") == 0,
	      "live: with no relay every live record is dropped, counted, never spooled: %s",
	      st ? strstr(st, "\"uplink\"") : "no status");
	free(st);
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "live: moatd stops");
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "live: relay, then moatd");
	CHECK(!hub_wait_drained(&h, 60000, true), "live: every record acknowledged");
	st = hub_status(&h);
	CHECK(json_num(st, "spool", "bytes") == 0 &&
		      json_num(st, "uplink", "live_dropped") == 0,
	      "live: sent, not spooled");
	free(st);
	snprintf(path, sizeof(path), "%s/live.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s --json",
		 h.bin, h.ident, h.relay_addr, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "\"opened\": 4"),
	      "live: the viewer opens the live streams: %s", out);
	got = read_all(path, &got_len);
	CHECK(got && got_len == clip_len && !memcmp(got, clip_b, clip_len),
	      "live: byte for byte the camera's");
	free(got);
	hub_cleanup(&h, check_failures != 0);
}

int main(void)
{
	/* at the camera's pace: the uplink is connected long before the
	 * last frame (at pace = fast the clip can be sealed within the
	 * spool's write hold, and a host that stalls the VM for 250 ms then
	 * has every record written) */
	static const char cam[] = "[camera porch]\nsource = file:%s\n"
				  "pace = realtime\nloop = no\n";
	char lines[PATH_MAX + 100], cmd[2048], out[4096], path[300], sc[40];
	const char *clip = test_clip_path();
	size_t clip_len, got_len, files = 0;
	uint8_t *clip_b, *got;
	struct pt_set *pt;
	struct hub h;
	char *st;
	bool rt;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	clip_b = read_all(clip, &clip_len);
	CHECK(clip_b && clip_len > 100000, "clip %s readable", clip);
	if (!clip_b)
		return test_done("test_pipeline");
	snprintf(lines, sizeof(lines), cam, clip);
	CHECK(!hub_init(&h, "e2e", lines), "hub folder, keys, config");
	handoff_checks();
	bad_config(&h);
	plant_bad_viewer(&h);
	/* role_programs(): a role gets none of this but what it reads */
	setenv("MOAT_TEST_ENV", "moatd-only", 1);
	setenv("MOAT_CIPHER", "chacha20-poly1305", 1);
	CHECK(!hub_start_relay(&h), "relay up");
	CHECK(!hub_start_moatd(&h), "moatd answers on its control socket");
	/* while the camera plays (4 s): the first frames sealed and sent */
	st = NULL;
	for (int i = 0; i < 100; i++) {
		free(st);
		st = hub_status(&h);
		if (json_num(st, "uplink", "records_sent") > 0)
			break;
		usleep(50000);
	}
	role_programs(&h, st, clip);
	free(st);
	CHECK(!hub_wait_drained(&h, 60000, true),
	      "every sealed record acknowledged by the relay");

	st = hub_status(&h);
	CHECK(json_num(st, "cameras", "frames_sealed") == 120,
	      "120 access units sealed");
	CHECK(json_num(st, "cameras", "streams") == 4, "a stream per GOP (4)");
	/* moatd as root sets it itself (moatd.service: test_install),
	 * where the kernel gives root real-time priority at all */
	rt = rt_allowed();
	CHECK(!strcmp(scheds(st, sc, sizeof(sc)),
		      rt ? "realtime/realtime" : "normal/normal"),
	      "the sealer and the uplink run at real-time priority by default, where the kernel allows it (%s; allowed here: %s)",
	      sc, rt ? "yes" : "no");
	CHECK(json_num(st, "sealer", "viewers") == 1,
	      "the viewer with the unusable key is left out of every stream");
	snprintf(cmd, sizeof(cmd),
		 "grep -c 'viewer 000000000000000000000000000000ee (broken) has an unusable public key' %s/moatd.log",
		 h.dir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0,
	      "the log names the viewer with the unusable key");
	CHECK(json_num(st, "uplink", "records_sent") >=
		      json_num(st, "sealer", "records"),
	      "every record sent");
	/* the policy was in force all along, and the ciphertext gate let
	 * every record pass as a frame and refused nothing */
	CHECK(st && strstr(st, "\"mode\": \"enforce\"") &&
		      json_num(st, "policy", "gate_frames") >=
			      json_num(st, "uplink", "records_sent") &&
		      json_num(st, "policy", "gate_drops") == 0 &&
		      json_num(st, "policy", "gate_killed") == 0,
	      "the network policy enforced; the gate framed every record sent and dropped nothing (%" PRId64 " frames)",
	      json_num(st, "policy", "gate_frames"));
	CHECK(json_num(st, "uplink", "disconnects") == 0 &&
		      json_num(st, "uplink", "zc_refused") == 0,
	      "the uplink never lost the relay and zero-copy was never refused");
	/* Write-behind: what the relay acknowledged within the hold never
	 * went to disk; every byte sent was one or the other. */
	CHECK(json_num(st, "spool", "skipped_bytes") > 0 &&
		      json_num(st, "spool", "written_bytes") +
				      json_num(st, "spool", "skipped_bytes") ==
			      json_num(st, "uplink", "bytes_sent"),
	      "records the relay acknowledged in time are not written to the spool (%" PRId64
	      " bytes written, %" PRId64 " skipped, %" PRId64 " sent)",
	      json_num(st, "spool", "written_bytes"),
	      json_num(st, "spool", "skipped_bytes"),
	      json_num(st, "uplink", "bytes_sent"));
	CHECK(json_num(st, "sealer", "copies") == 0 &&
		      json_num(st, "cameras", "drops_recorded") == 0,
	      "no extra copy in the sealer, nothing dropped");
	free(st);
	snprintf(cmd, sizeof(cmd), "%s/moatctl --socket %s status", h.bin,
		 h.sock);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "porch") &&
		      strstr(out, "acknowledged"),
	      "moatctl status speaks to people: %s", out);

	/* The viewer: the same bytes, the H.264 file and an MP4. */
	snprintf(path, sizeof(path), "%s/view.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s --json",
		 h.bin, h.ident, h.relay_addr, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "\"opened\": 4") &&
		      strstr(out, "\"frames\": 120"),
	      "the viewer opens 4 streams, 120 frames: %s", out);
	got = read_all(path, &got_len);
	CHECK(got && got_len == clip_len && !memcmp(got, clip_b, clip_len),
	      "the viewer's access units equal the camera's, byte for byte (%zu of %zu bytes)",
	      got_len, clip_len);
	snprintf(path, sizeof(path), "%s/view.mp4", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s >/dev/null && "
		 "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
		 "stream=codec_name,nb_read_frames -of csv=p=0 %s",
		 h.bin, h.ident, h.relay_addr, path, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "h264,120"),
	      "the MP4 plays: 120 H.264 frames per ffprobe (%s)", out);

	/* No plaintext at rest: the hub's spool and the relay's store. */
	pt = pt_set_new(clip_b, clip_len);
	CHECK(pt && pt_scan(pt, got, got_len) > 100000,
	      "the scanner finds the video in the viewer's own output");
	CHECK(pt_scan_tree(pt, h.spool, &files) == 0 && files >= 2,
	      "no 8-byte run of the video in the spool (%zu files)", files);
	CHECK(pt_scan_tree(pt, h.relay_dir, &files) == 0 && files >= 4,
	      "no 8-byte run of the video at the relay (%zu files)", files);
	pt_set_free(pt);
	free(got);

	/* A clean stop leaves nothing behind but the spool. */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "moatd stops on SIGTERM");
	CHECK(access(h.sock, F_OK) != 0, "control socket removed");
	hub_cleanup(&h, check_failures != 0);
	quota_alert(clip, clip_b, clip_len);
	live_only(clip, clip_b, clip_len);
	free(clip_b);
	return test_done("test_pipeline");
}
