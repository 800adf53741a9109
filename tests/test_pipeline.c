// SPDX-License-Identifier: GPL-2.0-only
/*
 * End to end, with real processes: the file camera through moatd (worker,
 * sealer, io_uring uplink, spool) to moat-relay, fetched and opened by
 * moat-view. What the viewer gets must equal what the camera sent, byte
 * for byte; no file the hub or the relay wrote may hold any 8-byte run of
 * the camera's video.
 */
#include <limits.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	char cmd[1200], out[2048], path[200];
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

/*
 * The sealer (keys) and the uplink (the network) run programs of their
 * own: none of the camera, codec, libcamera or policy libraries moatd
 * links is in their address space. A camera worker, a fork of moatd, has
 * them (the check can tell).
 */
static void role_programs(const char *st)
{
	static const char *const big[] = { "libavcodec", "libavformat",
					   "libcamera", "libnftables",
					   "libbpf", NULL };
	char exe[PATH_MAX];

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
	bad_config(&h);
	plant_bad_viewer(&h);
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
	role_programs(st);
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
