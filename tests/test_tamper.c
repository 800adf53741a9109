// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay as attacker (guarantee 4), with the real processes: moatd
 * records a camera into moat-relay; then the relay's store is rewritten as
 * a hostile relay could (moat-tamper: a bit flipped in a record, in the
 * stream header, in a stream id; the final record dropped; records
 * reordered, replayed, dropped, added after the end; another stream's
 * record spliced in; another stream served under this one's name), one
 * stream each. The viewer refuses each of them whole, with the precise
 * reason (a stream whose end was cut off gives what verified and is said
 * to have ended early), and opens every stream that was left alone.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static const struct {
	const char *mode, *reason;
} attacks[] = {
	{ "flip", "record failed authentication" },
	{ "flip-header", "content key did not unwrap" },
	{ "flip-id", "belongs to another stream" },
	{ "truncate", "ended without its final record" },
	{ "reorder", "ahead of the next expected" },
	{ "replay", "already seen" },
	{ "drop", "ahead of the next expected" },
	{ "after-final", "after the final record" },
	{ "splice", "belongs to another stream" },
	{ "substitute", "sent another stream" },
};
#define N_ATTACKS (sizeof(attacks) / sizeof(attacks[0]))

/* <stream id>.moat, not the relay's own files (.viewers) */
static int is_stream(const struct dirent *e)
{
	size_t l = strlen(e->d_name);

	return l == 37 && !strcmp(e->d_name + 32, ".moat");
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* The relay's stream files (one hub): their folder and names. */
static int streams(const char *relay_dir, char *hub_dir, size_t len,
		   struct dirent ***names)
{
	struct dirent **hubs = NULL;
	int n = scandir(relay_dir, &hubs, NULL, by_name), found = -1;

	for (int i = 0; i < n; i++) {
		if (found < 0 && hubs[i]->d_name[0] != '.') {
			snprintf(hub_dir, len, "%s/%s", relay_dir, hubs[i]->d_name);
			found = 0;
		}
		free(hubs[i]);
	}
	free(hubs);
	if (found < 0)
		return -1;
	n = scandir(hub_dir, names, is_stream, by_name);
	return n;
}

int main(void)
{
	const char *clip = test_clip_path();
	char lines[PATH_MAX + 200], hub_dir[PATH_MAX], clip5[64],
		cmd[4 * PATH_MAX], out[1 << 16], err_path[PATH_MAX];
	struct dirent **names = NULL;
	struct hub h;
	uint8_t *clip5_bytes;
	size_t clip5_len;
	int n;
	uint8_t *errs;
	size_t errs_len;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	if (access(clip, R_OK)) {
		CHECK(0, "the test clip %s", clip);
		return test_done("test_tamper");
	}
	/* the clip five times over, played once as fast as the hub seals:
	 * a known, finite set of streams (one a GOP), all of them sent
	 * before moatd stops (a looping camera would leave a stream cut at
	 * the stop, which the viewer rightly calls ended early) */
	clip5_bytes = clip_repeated(clip, 5, clip5, sizeof(clip5), &clip5_len);
	free(clip5_bytes);
	if (!clip5_bytes) {
		CHECK(0, "the test clip %s, five times over", clip);
		return test_done("test_tamper");
	}
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\npace = fast\nloop = no\n", clip5);
	CHECK(!hub_init(&h, "tamper", lines), "hub set up");
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_drained(&h, 60000, true),
	      "the camera's file sealed and every record acknowledged");
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "moatd stopped (its streams closed)");
	unlink(clip5);
	CHECK(!hub_stop(&h.relay, SIGTERM, 3000), "the relay stopped");
	n = streams(h.relay_dir, hub_dir, sizeof(hub_dir), &names);
	CHECK(n >= (int)N_ATTACKS + 3, "the relay holds %d streams",
	      n);
	if (n < (int)N_ATTACKS + 3) {
		hub_cleanup(&h, true);
		return test_done("test_tamper");
	}
	/* stream i gets attack i; the last one lends its records */
	for (size_t i = 0; i < N_ATTACKS; i++) {
		snprintf(cmd, sizeof(cmd),
			 "%s/moat-tamper --file %s/%s --mode %s --with %s/%s 2>&1",
			 h.bin, hub_dir, names[i]->d_name,
			 attacks[i].mode, hub_dir, names[n - 1]->d_name);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0,
		      "the relay's copy of a stream rewritten: %s: %s",
		      attacks[i].mode, out);
	}
	CHECK(!hub_start_relay(&h), "the relay serves its store again");
	snprintf(err_path, sizeof(err_path), "%s/view.err", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s/view.h264 --json 2>%s",
		 h.bin, h.ident, h.relay_addr, h.dir, err_path);
	run_cmd(cmd, out, sizeof(out));
	errs = read_all(err_path, &errs_len);
	CHECK(json_num(out, NULL, "streams") == n &&
		      json_num(out, NULL, "opened") == n - (int)N_ATTACKS &&
		      json_num(out, NULL, "refused") +
				      json_num(out, NULL, "ended_early") ==
			      (int)N_ATTACKS,
	      "the viewer opens the %d streams left alone and none of the %zu rewritten: %s",
	      n - (int)N_ATTACKS, N_ATTACKS, out);
	for (size_t i = 0; i < N_ATTACKS; i++) {
		char id[40], *line;

		snprintf(id, sizeof(id), "%.32s", names[i]->d_name);
		line = errs ? strstr((char *)errs, id) : NULL;
		CHECK(line && strstr(line, attacks[i].reason) &&
			      strstr(line, attacks[i].reason) < strchr(line, '\n'),
		      "%s: the viewer says of stream %.8s `%s': %.200s",
		      attacks[i].mode, id, attacks[i].reason,
		      line ? line : (char *)(errs ? errs : (uint8_t *)""));
	}
	free(errs);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_tamper");
}
