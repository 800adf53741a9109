// SPDX-License-Identifier: GPL-2.0-only
/*
 * Several viewers, each with the owner's consent, and removable (guarantee
 * 8), with the real processes:
 *
 * - the first viewer paired is approved; two more wait, pending, until
 *   `moatctl viewers approve`; the relay does not let a pending viewer
 *   log in (the hub gives it its approved viewers' login keys);
 * - moatd records; all three open every stream;
 * - `moatctl viewers remove` while moatd runs: its sealer and uplink start
 *   again; the relay refuses the removed viewer's login; the two others
 *   open everything;
 * - the relay turns traitor and lets the removed viewer in: it opens what
 *   was sealed before its removal and none of what was sealed after (the
 *   sealing, not the relay, is what keeps it out);
 * - a name that is nobody's, or an id prefix that is several viewers',
 *   is refused saying so;
 * - fetch shows its progress on a terminal, and only there.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

/* moatctl --config (the hub's) viewers ARGS: its exit status, output. */
static int viewers(const char *args, char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "%s/moatctl --config %s viewers %s 2>&1",
		 h.bin, h.conf, args);
	return run_cmd(cmd, out, len);
}

/* moat-view fetch as one viewer: "opened" (a stream still being written
 * counts, though it "ended early") and "refused" from its JSON. */
static char said[8192]; /* what the last fetch printed, both streams */

static void fetch(const char *ident, int64_t *opened, int64_t *refused,
		  int64_t *streams)
{
	char cmd[2048], path[300], *out = said;

	snprintf(path, sizeof(path), "%s/out.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s --json 2>&1",
		 h.bin, ident, h.relay_addr, path);
	run_cmd(cmd, said, sizeof(said));
	*opened = json_num(out, NULL, "opened") +
		  json_num(out, NULL, "ended_early");
	*refused = json_num(out, NULL, "refused");
	*streams = json_num(out, NULL, "streams");
	unlink(path);
}

/* The relay, as a traitor: it appends a viewer's login public key (read
 * from the viewer's own identity file) to the account's .viewers. */
static int traitor_admits(const char *ident)
{
	char cmd[2048], out[512];

	snprintf(cmd, sizeof(cmd),
		 "k=$(sed -n 's/^login-public-key //p' %s) && [ -n \"$k\" ] && "
		 "f=$(ls -d %s/*/.viewers) && echo \"$k\" >> \"$f\" 2>&1",
		 ident, h.relay_dir);
	return run_cmd(cmd, out, sizeof(out));
}

/* The status once the sealer seals to n viewers (up to 15 s), then 2 s
 * more for streams sealed to them and the uplink's new login. */
static char *sealing_to(int64_t n)
{
	char *st = NULL;

	for (int i = 0; i < 150; i++) {
		free(st);
		st = hub_status(&h);
		if (st && json_num(st, "sealer", "viewers") == n)
			break;
		usleep(100 * 1000);
	}
	usleep(2000 * 1000);
	return st;
}

static void pair(const char *name, char *ident, size_t len)
{
	char cmd[1024], out[1024];

	snprintf(ident, len, "%s/%s.key", h.dir, name);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view pair --hub-keys %s/keys --out %s --name %s 2>&1",
		 h.bin, h.dir, ident, name);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "pending") &&
		      strstr(out, "moatctl viewers approve"),
	      "%s pairs, and is pending until the owner approves: %s", name, out);
}

int main(void)
{
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 100], bob[300], carol[300], out[4096];
	int64_t o1, r1, s1, o2, r2, s2, o3, r3, s3, before;
	char *st;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	if (access(clip, R_OK)) {
		CHECK(0, "the test clip %s", clip);
		return test_done("test_viewers");
	}
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "viewers", lines), "a hub; its first viewer paired");
	pair("bob", bob, sizeof(bob));
	pair("carol", carol, sizeof(carol));
	CHECK(viewers("list --json", out, sizeof(out)) == 0 &&
		      strstr(out, "\"name\": \"test\", \"state\": \"approved\"") &&
		      strstr(out, "\"name\": \"bob\", \"state\": \"pending\"") &&
		      strstr(out, "\"name\": \"carol\", \"state\": \"pending\""),
	      "viewers list: the first approved, the others pending: %s", out);
	CHECK(viewers("approve bob", out, sizeof(out)) == 0 &&
		      strstr(out, "approved bob") && strstr(out, "not running"),
	      "bob approved (moatd not running yet): %s", out);

	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	usleep(1000 * 1000);
	fetch(carol, &o3, &r3, &s3);
	CHECK(s3 < 0 && strstr(said, "login refused: this viewer is not one the hub approved"),
	      "carol, pending, is not let in by the relay: %s", said);
	CHECK(viewers("approve carol", out, sizeof(out)) == 0 &&
		      strstr(out, "approved carol") &&
		      strstr(out, "the sealer starts again"),
	      "carol approved while moatd runs: %s", out);
	st = sealing_to(3);
	CHECK(st && json_num(st, "sealer", "viewers") == 3,
	      "the sealer seals to three viewers now");
	free(st);
	fetch(carol, &o3, &r3, &s3);
	CHECK(o3 > 0, "carol opens what was sealed after her approval (%" PRId64 ")",
	      o3);

	/* carol goes */
	before = s3;
	CHECK(viewers("remove carol", out, sizeof(out)) == 0 &&
		      strstr(out, "removed carol") &&
		      strstr(out, "the sealer starts again"),
	      "carol removed while moatd runs: %s", out);
	st = sealing_to(2);
	CHECK(st && json_num(st, "sealer", "viewers") == 2,
	      "the sealer seals to two viewers now");
	free(st);
	fetch(h.ident, &o1, &r1, &s1);
	fetch(bob, &o2, &r2, &s2);
	fetch(carol, &o3, &r3, &s3);
	CHECK(s3 < 0 && strstr(said, "login refused: this viewer is not one the hub approved (or the owner removed it)"),
	      "carol, removed, is not let in by the relay: %s", said);
	CHECK(s1 > before && o1 == s1 && r1 == 0,
	      "the first viewer opens all %" PRId64 " streams", s1);
	CHECK(o2 == s2 && r2 == 0, "bob opens all %" PRId64 " streams", s2);
	{
		/* on a terminal (script(1) gives it one), fetch shows how
		 * far the download is */
		char cmd[2048], path[300];

		snprintf(path, sizeof(path), "%s/tty.h264", h.dir);
		snprintf(cmd, sizeof(cmd),
			 "script -qec '%s/moat-view fetch --identity %s --relay %s --out %s' /dev/null 2>&1",
			 h.bin, bob, h.relay_addr, path);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
			      strstr(out, "] 100%") && strstr(out, " MB of ") &&
			      strstr(out, "stream 1 of "),
		      "fetch on a terminal shows its progress: %.300s", out);
		snprintf(cmd, sizeof(cmd),
			 "%s/moat-view fetch --identity %s --relay %s --out %s 2>&1 | cat",
			 h.bin, bob, h.relay_addr, path);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && !strstr(out, "%]") &&
			      !strstr(out, "] 100%"),
		      "and none when its output is not a terminal: %.300s", out);
	}
	/* the relay lets her in all the same (moatd, which would tell it
	 * again, is stopped first) */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "moatd stopped");
	CHECK(!traitor_admits(carol), "the relay adds carol's login key to the hub's viewers");
	fetch(carol, &o3, &r3, &s3);
	CHECK(r3 >= 2 && o3 >= 1 && o3 + r3 == s3 && o3 <= before + 1,
	      "let in by a traitor relay, carol opens %" PRId64 " streams sealed before her removal and none of the %" PRId64 " sealed after",
	      o3, r3);
	CHECK(viewers("remove dave", out, sizeof(out)) == 1 &&
		      strstr(out, "no viewer is `dave'"),
	      "a name that is nobody's: refused, saying so: %s", out);
	CHECK(viewers("list", out, sizeof(out)) == 0 &&
		      strstr(out, "bob") && !strstr(out, "carol"),
	      "carol is gone from the list: %s", out);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_viewers");
}
