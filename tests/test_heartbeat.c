// SPDX-License-Identifier: GPL-2.0-only
/*
 * Heartbeats and key rotation (docs/PROTOCOL.md section 10), with the real
 * processes: moatd recording a file camera, moat-relay keeping a quota
 * (so old streams go, as they do on a real relay), and moat-view
 * heartbeat.
 *
 * - A heartbeat makes a new key; the relay hands it to the logged-in hub;
 *   moatd opens it, rewrites the viewer's file with the new key and
 *   starts the sealer again; new streams open with the new key only.
 * - Once the relay holds no stream sealed to an old key, the next
 *   heartbeat erases it: its secret is gone from the identity file.
 * - The relay as attacker: an old heartbeat delivered again, and one
 *   forged without the viewer's psk, are refused by moatd, each with its
 *   reason, and the viewer's key on the hub stays as it was.
 * - kill -9 of the viewer (mid-heartbeat), moatd and the relay at random
 *   moments, over MOAT_HB_ROUNDS rounds (12 by default): at the end every
 *   stream on the relay opens with a key the identity still holds (moat-
 *   view fetch refuses none), the identity holds no key the erase rule
 *   lets go (each one older than the newest in use opens some stream),
 *   and the hub seals to the viewer's newest key.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/hex.h"
#include "common/rd.h"
#include "crypto/heartbeat.h"
#include "crypto/keystore.h"
#include "crypto/streamfile.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct hub h;

/* moat-view heartbeat --json: its exit status and output. */
static int heartbeat(char *out, size_t len)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view heartbeat --identity %s --relay %s --json 2>&1",
		 h.bin, h.ident, h.relay_addr);
	return run_cmd(cmd, out, len);
}

/* The hub's file of the viewer (its only one): the public key it seals to. */
static int hub_key(uint8_t pk[SEAL_KEY_LEN])
{
	struct ks_viewer *v = NULL;
	char dir[300];
	size_t n = 0;
	int ret;

	snprintf(dir, sizeof(dir), "%s/keys", h.dir);
	ret = ks_viewer_list(dir, &v, &n);
	if (!ret && n == 1)
		memcpy(pk, v[0].rcpt.pk, SEAL_KEY_LEN);
	ks_viewer_list_free(v, n);
	return ret ? ret : n == 1 ? 0 : -EINVAL;
}

/* Waits (up to ms) for the hub to seal to the identity's newest key. */
static bool hub_takes_newest(const struct ks_identity *id, int ms)
{
	uint8_t pk[SEAL_KEY_LEN];

	for (int t = 0; t < ms; t += 100) {
		if (!hub_key(pk) &&
		    !memcmp(pk, id->keys[id->n_keys - 1].pk, SEAL_KEY_LEN))
			return true;
		usleep(100 * 1000);
	}
	return false;
}

/*
 * The relay's streams of the hub, read from its folder: which of the
 * identity's keys opens each one's header (a bit per key); *none counts
 * those no key opens, *n all with a whole header. With unfetched, the
 * streams the viewer fetched (FILE.fetched) are left out.
 */
static unsigned int relay_keys(const struct ks_identity *id, size_t *n,
			       size_t *none, bool unfetched)
{
	char cmd[600], paths[1 << 16], fpath[300];
	unsigned int used = 0;
	char *p, *save = NULL;
	size_t flen = 0;
	uint8_t *fetched;

	*n = *none = 0;
	snprintf(fpath, sizeof(fpath), "%s.fetched", h.ident);
	fetched = unfetched ? read_all(fpath, &flen) : NULL;
	snprintf(cmd, sizeof(cmd), "ls %s/*/*.moat 2>/dev/null", h.relay_dir);
	run_cmd(cmd, paths, sizeof(paths));
	for (p = strtok_r(paths, "\n", &save); p; p = strtok_r(NULL, "\n", &save)) {
		size_t len = 0, rlen;
		uint8_t *buf = read_all(p, &len);
		const uint8_t *rec;
		bool opened = false;
		struct rd r;

		const char *base = strrchr(p, '/');

		if (fetched && base && memmem(fetched, flen, base + 1, 32)) {
			free(buf);
			continue;
		}
		if (!buf)
			continue; /* deleted by the quota since ls */
		rd_init(&r, buf, len);
		if (sf_next(&r, &rec, &rlen) == 1) {
			(*n)++;
			for (size_t i = 0; i < id->n_keys && !opened; i++) {
				struct open_identity one;
				struct open_stream *os;
				size_t ol;
				bool fin;

				ks_identity_open(id, &one);
				one.keys = &id->keys[i];
				one.n_keys = 1;
				os = open_stream_new(&one);
				if (os && !open_record(os, rec, rlen, NULL, 0,
						       &ol, &fin)) {
					used |= 1U << i;
					opened = true;
				}
				open_stream_free(os);
			}
			*none += !opened;
		}
		free(buf);
	}
	free(fetched);
	return used;
}

static int load_identity(struct ks_identity *id)
{
	return ks_identity_load(h.ident, id);
}

/* A secret key's hex, to look for in a file. */
static bool file_has(const char *path, const uint8_t *key)
{
	char hex[2 * SEAL_KEY_LEN + 1];
	size_t len = 0;
	uint8_t *buf = read_all(path, &len);
	bool has;

	hex_encode(hex, key, SEAL_KEY_LEN);
	has = buf && memmem(buf, len, hex, strlen(hex));
	free(buf);
	return has;
}

/* Waits until moatd's status has more than before in heartbeats.key. */
static int64_t wait_hb(const char *key, int64_t before, int ms)
{
	int64_t v = -1;

	for (int t = 0; t < ms; t += 100) {
		char *st = hub_status(&h);

		v = st ? json_num(st, "heartbeats", key) : -1;
		free(st);
		if (v > before)
			break;
		usleep(100 * 1000);
	}
	return v;
}

static void json_last_refused(char *out, size_t len)
{
	char *st = hub_status(&h);

	out[0] = 0;
	if (st)
		json_str(st, "heartbeats", "last_refused", out, len);
	free(st);
}

/*
 * The relay as attacker: it puts file in its mailbox under the viewer's
 * own name (it hands a hub mail only from viewers the hub approved), and
 * moatd, started again, gets it at its login: it must refuse it, saying
 * why.
 */
static void relay_hands_hub(const char *file, const char *what,
			    const char *reason)
{
	char cmd[2048], out[512], why[256];

	snprintf(cmd, sizeof(cmd),
		 "d=$(ls -d %s/*/) && k=$(sed -n 's/^login-public-key //p' %s) && mkdir -p $d.mail && cp %s $d.mail/$k",
		 h.relay_dir, h.ident, file);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "the relay holds %s: %s",
	      what, out);
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000) && !hub_start_moatd(&h),
	      "moatd restarted (it logs in again and gets the mail)");
	CHECK(wait_hb("refused", 0, 10000) >= 1, "moatd refused %s", what);
	json_last_refused(why, sizeof(why));
	CHECK(strstr(why, reason), "and says why: %s", why);
}

/* Starts a heartbeat in the background (its pid). */
static pid_t heartbeat_bg(void)
{
	char *argv[] = { NULL, "heartbeat", "--identity", h.ident, "--relay",
			 h.relay_addr, NULL };
	char path[300], log[300];

	snprintf(path, sizeof(path), "%s/moat-view", h.bin);
	snprintf(log, sizeof(log), "%s/viewer.log", h.dir);
	argv[0] = path;
	return spawn_logged(argv, log);
}

int main(void)
{
	const char *clip = test_clip_path();
	const char *env = getenv("MOAT_HB_ROUNDS");
	int rounds = env ? atoi(env) : 12;
	char lines[PATH_MAX + 100], out[8192], saved[700], cmd[2048];
	struct ks_identity id0, id1, id;
	uint8_t pk[SEAL_KEY_LEN], first_sk[SEAL_KEY_LEN];
	int kills[3] = { 0 }, rotations = 0;
	size_t n, none;
	unsigned int used;

	if (geteuid())
		test_skip("moatd needs root (run the suite with sudo)");
	if (access(clip, R_OK)) {
		CHECK(0, "the test clip %s", clip);
		return test_done("test_heartbeat");
	}
	srand((unsigned int)getpid());
	snprintf(lines, sizeof(lines),
		 "[camera porch]\nsource = file:%s\nloop = yes\n", clip);
	CHECK(!hub_init(&h, "heartbeat", lines), "a hub; its viewer paired");
	/* a relay that keeps about 20 s of this camera: old streams go */
	snprintf(h.relay_quota, sizeof(h.relay_quota), "2M");
	CHECK(!hub_start_relay(&h) && !hub_start_moatd(&h), "relay and moatd up");
	CHECK(!hub_wait_acked(&h, 20000), "the hub logged in to the relay");
	usleep(1500 * 1000);

	/* ---- one rotation, by hand ---- */
	CHECK(!load_identity(&id0) && id0.n_keys == 1, "the identity holds one key");
	memcpy(first_sk, id0.keys[0].sk, SEAL_KEY_LEN);
	CHECK(heartbeat(out, sizeof(out)) == 0 &&
		      strstr(out, "\"new_key\": true") &&
		      json_num(out, NULL, "keys") == 2,
	      "a heartbeat makes a second key and is sent: %s", out);
	CHECK(!load_identity(&id1) && id1.n_keys == 2,
	      "the identity holds both keys");
	CHECK(wait_hb("new_key", 0, 10000) == 1,
	      "moatd took the heartbeat from the relay and applied it");
	CHECK(hub_takes_newest(&id1, 5000),
	      "the hub's file of the viewer holds its new public key");
	{
		uint8_t kid[SEAL_KEY_ID_LEN];
		char hex[2 * SEAL_KEY_ID_LEN + 1], want[100];

		seal_key_id(id1.keys[1].pk, kid);
		hex_encode(hex, kid, sizeof(kid));
		snprintf(want, sizeof(want), "\"key\": \"%s\", \"last_heartbeat\": \"20", hex);
		snprintf(cmd, sizeof(cmd), "%s/moatctl --config %s viewers list --json 2>&1",
			 h.bin, h.conf);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, want),
		      "moatctl viewers list shows the new key and when the heartbeat came: %s", out);
	}
	usleep(2500 * 1000);
	{
		/* a stream sealed from now on opens with the new key alone */
		struct ks_identity only_new = id1;

		only_new.keys[0] = id1.keys[1];
		only_new.key_created[0] = id1.key_created[1];
		only_new.n_keys = 1;
		used = relay_keys(&only_new, &n, &none, false);
		CHECK(used == 1 && n > none && none > 0,
		      "streams sealed after the heartbeat open with the new key (%zu of %zu), earlier ones do not",
		      n - none, n);
		ks_identity_wipe(&only_new);
	}
	used = relay_keys(&id1, &n, &none, false);
	CHECK(none == 0 && n > 0, "every stream on the relay (%zu) opens with a key the identity holds",
	      n);
	CHECK(file_has(h.ident, first_sk), "the first key is kept while streams sealed to it are on the relay");

	/* ---- fetched streams need their key no more ---- */
	{
		struct ks_identity only_first = id0;
		char cmdf[2048], path[300];
		size_t fn, fnone;

		snprintf(path, sizeof(path), "%s/acked.h264", h.dir);
		snprintf(cmdf, sizeof(cmdf),
			 "%s/moat-view fetch --identity %s --relay %s --out %s --ack --json 2>&1",
			 h.bin, h.ident, h.relay_addr, path);
		CHECK(run_cmd(cmdf, out, sizeof(out)) == 0 &&
			      json_num(out, NULL, "opened") > 0,
		      "the viewer fetches the streams on the relay and acknowledges them (--ack): %.200s", out);
		CHECK(run_cmd(cmdf, out, sizeof(out)) == 2 &&
			      strstr(out, "exists: with --ack, give a new file"),
		      "--ack never writes over an existing file (what it acknowledges may not open again): %s", out);
		snprintf(path, sizeof(path), "%s/out.h264", h.dir);
		snprintf(cmdf, sizeof(cmdf),
			 "%s/moat-view fetch --identity %s --relay %s --out %s --json 2>&1",
			 h.bin, h.ident, h.relay_addr, path);
		CHECK(heartbeat(out, sizeof(out)) == 0 &&
			      json_num(out, NULL, "fetched") > 0 &&
			      strstr(out, "\"erased\": [\""),
		      "the next heartbeat erases the first key: every stream sealed to it was fetched: %s", out);
		CHECK(!file_has(h.ident, first_sk), "the first key's secret is gone from the identity file");
		used = relay_keys(&only_first, &fn, &fnone, false);
		CHECK(used == 1,
		      "though the relay still holds streams sealed to it (%zu of %zu)", fn - fnone, fn);
		run_cmd(cmdf, out, sizeof(out));
		CHECK(json_num(out, NULL, "fetched_before") > 0 &&
			      json_num(out, NULL, "refused") == 0,
		      "fetching again, those are said to be fetched before, not refused: %.300s", out);
		ks_identity_wipe(&only_first);
		rotations = 2;
		CHECK(wait_hb("new_key", 1, 10000) >= 2 && !load_identity(&id) &&
			      hub_takes_newest(&id, 10000),
		      "the hub took the new key that heartbeat made");
		ks_identity_wipe(&id);
	}

	{
		/* one heartbeat at a time per identity folder */
		int lk = open(h.dir, O_RDONLY | O_DIRECTORY);

		CHECK(lk >= 0 && !flock(lk, LOCK_EX) &&
			      heartbeat(out, sizeof(out)) == 1 &&
			      strstr(out, "another heartbeat for an identity in"),
		      "a second heartbeat while one runs is refused, saying so: %s", out);
		if (lk >= 0)
			close(lk);
	}

	/* ---- the relay replays an old heartbeat; forges another ---- */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "moatd stopped (its heartbeat waits at the relay)");
	CHECK(heartbeat(out, sizeof(out)) == 0, "a heartbeat while the hub is away: %s", out);
	snprintf(saved, sizeof(saved), "%s/hb.saved", h.dir);
	snprintf(cmd, sizeof(cmd), "cp %s/*/.mail/* %s", h.relay_dir, saved);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0, "the relay keeps a copy of the heartbeat: %s", out);
	CHECK(!hub_start_moatd(&h), "moatd up again");
	ks_identity_wipe(&id);
	CHECK(!load_identity(&id) && hub_takes_newest(&id, 10000),
	      "at its login the hub gets the heartbeat and seals to the newest key");
	/* its viewer file is written before the status counts it */
	CHECK(wait_hb("new_key", 0, 10000) + wait_hb("same_key", 0, 100) >= 1,
	      "moatd says it took the heartbeat");
	hub_key(pk);
	relay_hands_hub(saved, "an old heartbeat, replayed",
			"not newer than the last one applied");
	{
		uint8_t now[SEAL_KEY_LEN];

		CHECK(!hub_key(now) && !memcmp(now, pk, SEAL_KEY_LEN),
		      "the hub still seals to the viewer's newest key");
	}
	/* a heartbeat with the viewer's id and a wrong seal */
	{
		uint8_t forged[HB_LEN];
		char f[800];
		FILE *fp;

		forged[0] = HB_KIND;
		forged[1] = HB_VERSION;
		memcpy(forged + 2, id.viewer_id, 16);
		for (size_t i = 18; i < sizeof(forged); i++)
			forged[i] = (uint8_t)rand();
		snprintf(f, sizeof(f), "%s/forged", h.dir);
		fp = fopen(f, "w");
		if (fp) {
			fwrite(forged, 1, sizeof(forged), fp);
			fclose(fp);
		}
		relay_hands_hub(f, "a forged heartbeat",
				"does not open with that viewer's pairing secret");
	}
	CHECK(!hub_key(pk) && hub_takes_newest(&id, 100),
	      "the hub still seals to the viewer's newest key");
	ks_identity_wipe(&id);

	/* ---- kill -9 at random moments ---- */
	for (int r = 0; r < rounds; r++) {
		int v = r % 3 == 0 ? 0 : rand() % 3;
		unsigned int at = 50000 + (unsigned int)rand() % 400000;

		if (v == 0) {
			/* the viewer, mid-heartbeat */
			pid_t pid = heartbeat_bg();

			usleep(at);
			if (pid > 0) {
				kill(pid, SIGKILL);
				waitpid(pid, NULL, 0);
			}
		} else if (v == 1) {
			heartbeat(out, sizeof(out));
			usleep(at);
			kill(h.moatd, SIGKILL);
			waitpid(h.moatd, NULL, 0);
			h.moatd = 0;
			CHECK(!hub_start_moatd(&h), "moatd restarted after kill -9");
		} else {
			/* the relay, while a viewer's heartbeat may be on it */
			pid_t pid = heartbeat_bg();

			usleep(at);
			kill(h.relay, SIGKILL);
			waitpid(h.relay, NULL, 0);
			h.relay = 0;
			CHECK(!hub_start_relay(&h), "the relay restarted after kill -9");
			if (pid > 0)
				waitpid(pid, NULL, 0);
		}
		kills[v]++;
		usleep(1500 * 1000);
		if (heartbeat(out, sizeof(out)) == 0 && strstr(out, "\"new_key\": true"))
			rotations++;
		usleep(1000 * 1000);
	}
	printf("kill -9: %d rounds: viewer %d, moatd %d, relay %d; %d rotations\n",
	       rounds, kills[0], kills[1], kills[2], rotations);

	/* ---- settle, then the invariants ---- */
	CHECK(!hub_wait_acked(&h, 20000), "the hub is logged in to the relay");
	for (int i = 0; i < 3; i++) {
		CHECK(heartbeat(out, sizeof(out)) == 0, "a heartbeat after the kills: %s", out);
		CHECK(!load_identity(&id) && hub_takes_newest(&id, 10000),
		      "the hub seals to the viewer's newest key");
		ks_identity_wipe(&id);
		usleep(2500 * 1000);
	}
	/* the relay deletes old streams as new ones come (its quota): with
	 * moatd stopped the relay's streams stay as they are, so the last
	 * heartbeat and the checks below see the same ones */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 10000), "moatd stopped");
	usleep(500 * 1000);
	CHECK(heartbeat(out, sizeof(out)) == 0, "one more heartbeat: %s", out);
	CHECK(!load_identity(&id), "the identity loads");
	CHECK(rotations >= rounds / 3, "the key rotated %d times over %d rounds", rotations, rounds);
	used = relay_keys(&id, &n, &none, true);
	CHECK(n > 0 && none == 0,
	      "every stream on the relay not fetched yet (%zu) opens with a key the identity still holds", n);
	{
		size_t an, anone;
		unsigned int any = relay_keys(&id, &an, &anone, false);
		int newest_used = -1;
		bool erasable = false;

		for (size_t i = 0; i < id.n_keys; i++)
			if (any & (1U << i))
				newest_used = (int)i;
		for (int i = 0; i < newest_used; i++)
			erasable |= !(used & (1U << i));
		CHECK(newest_used >= 0 && !erasable,
		      "the identity holds %zu key(s), none that the erase rule lets go (keys in use: 0x%x)",
		      id.n_keys, used);
	}
	{
		char cmdf[2048], path[300];

		snprintf(path, sizeof(path), "%s/out.h264", h.dir);
		snprintf(cmdf, sizeof(cmdf),
			 "%s/moat-view fetch --identity %s --relay %s --out %s --json 2>&1",
			 h.bin, h.ident, h.relay_addr, path);
		run_cmd(cmdf, out, sizeof(out));
		CHECK(json_num(out, NULL, "streams") > 0 &&
			      json_num(out, NULL, "refused") == 0,
		      "moat-view fetch opens every stream, refuses none: %.300s", out);
	}
	ks_identity_wipe(&id);
	ks_identity_wipe(&id0);
	ks_identity_wipe(&id1);
	hub_cleanup(&h, check_failures != 0);
	return test_done("test_heartbeat");
}
