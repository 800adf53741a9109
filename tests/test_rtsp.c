// SPDX-License-Identifier: GPL-2.0-only
/*
 * An IP camera end to end, with real parts: GStreamer's RTSP server
 * (moat-testcam) serves the test clip from its own network namespace
 * behind digest authentication; moatd's sandboxed worker pulls it over
 * RTSP/TCP through libavformat, and the sealer, uplink, relay and viewer
 * do the rest. The viewer's NAL units must equal the clip's, in order;
 * nothing plaintext may rest at the hub or the relay; a camera with the
 * wrong password is reported and leaves the other camera recording.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static char ns[32], cam_pidfile[200];

static const char *clip_path(void)
{
	static char abs[PATH_MAX];
	const char *m = getenv("MOAT_MEDIA");

	m = m && *m ? m : test_src_path("build/media/clip.h264");
	return realpath(m, abs) ? abs : m;
}

/* A namespace with a veth to this one: the camera is at 10.77.N.2. */
static int netns_up(unsigned int n)
{
	char cmd[1024], out[1024];

	snprintf(ns, sizeof(ns), "moat-rtsp-%d", (int)getpid());
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %1$s && ip link add mr%2$u-h type veth peer name mr%2$u-c && "
		 "ip link set mr%2$u-c netns %1$s && ip addr add 10.77.%2$u.1/24 dev mr%2$u-h && "
		 "ip link set mr%2$u-h up && ip -n %1$s addr add 10.77.%2$u.2/24 dev mr%2$u-c && "
		 "ip -n %1$s link set mr%2$u-c up && ip -n %1$s link set lo up",
		 ns, n);
	if (run_cmd(cmd, out, sizeof(out))) {
		fprintf(stderr, "netns: %s\n", out);
		return -1;
	}
	return 0;
}

static void netns_down(unsigned int n)
{
	char cmd[1024], out[256];

	snprintf(cmd, sizeof(cmd),
		 "[ -s %s ] && kill $(cat %s) 2>/dev/null; sleep 0.2; "
		 "ip link del mr%u-h 2>/dev/null; ip netns del %s 2>/dev/null; true",
		 cam_pidfile, cam_pidfile, n, ns);
	run_cmd(cmd, out, sizeof(out));
}

static int camera_up(const struct hub *h, const char *clip)
{
	char cmd[8192], out[1024];

	snprintf(cam_pidfile, sizeof(cam_pidfile), "%s/testcam.pid", h->dir);
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s sh -c 'echo $$ > %s; exec %s/moat-testcam --file %s "
		 "--port 8554 --path /main --user admin --password s3cret' "
		 ">%s/testcam.log 2>&1 &",
		 ns, cam_pidfile, h->bin, clip, h->dir);
	if (run_cmd(cmd, out, sizeof(out)))
		return -1;
	/* up when it listens */
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s ss -Hltn 'sport = :8554' | grep -q 8554",
			 ns);
		if (!run_cmd(cmd, out, sizeof(out)))
			return 0;
		usleep(100000);
	}
	return -1;
}

/* NAL units (start codes stripped, AUDs left out) of an Annex-B buffer. */
struct nals {
	const uint8_t **p;
	size_t *len, n;
};

static void split(const uint8_t *b, size_t len, struct nals *out)
{
	size_t i = 0, start = SIZE_MAX;

	out->n = 0;
	out->p = calloc(len / 3 + 1, sizeof(*out->p));
	out->len = calloc(len / 3 + 1, sizeof(*out->len));
	for (;; i++) {
		bool sc = i + 3 <= len && !b[i] && !b[i + 1] && b[i + 2] == 1;

		if (sc || i >= len) {
			if (start != SIZE_MAX) {
				size_t end = i;

				/* a 4-byte start code's zero is not ours */
				while (end > start && i < len && !b[end - 1])
					end--;
				if (end > start && (b[start] & 0x1f) != 9) {
					out->p[out->n] = b + start;
					out->len[out->n++] = end - start;
				}
			}
			if (i >= len)
				break;
			i += 2;
			start = i + 1;
		}
	}
}

static bool nal_eq(const struct nals *a, size_t i, const struct nals *b,
		   size_t j)
{
	return a->len[i] == b->len[j] && !memcmp(a->p[i], b->p[j], a->len[i]);
}

/*
 * The recording is the clip played over and over (each connection starts
 * it again), the last pass cut short by the stop. Returns the number of
 * NAL units matched, or 0 on the first difference (reported).
 */
static size_t match(const struct nals *clip, const struct nals *got,
		    unsigned int *passes)
{
	size_t j = 0;

	*passes = 0;
	for (size_t i = 0; i < got->n; i++) {
		if (j == clip->n) {
			j = 0;
			++*passes;
		}
		if (!nal_eq(got, i, clip, j)) {
			fprintf(stderr,
				"NAL %zu of the recording (%zu bytes, type %u) differs from NAL %zu of the clip (%zu bytes, type %u)\n",
				i, got->len[i], got->p[i][0] & 0x1fu, j,
				clip->len[j], clip->p[j][0] & 0x1fu);
			return 0;
		}
		j++;
	}
	*passes += j == clip->n;
	return got->n;
}

int main(void)
{
	static const char cams[] =
		"[camera door]\nsource = rtsp://admin:s3cret@10.77.%u.2:8554/main\n"
		"[camera yard]\nsource = rtsp://admin:wrong@10.77.%u.2:8554/main\n";
	unsigned int n = (unsigned int)getpid() % 200 + 20, passes = 0;
	char lines[512], cmd[2048], out[8192], path[300], err[256] = "";
	const char *clip = clip_path();
	struct nals cn, gn;
	size_t clip_len, got_len, files = 0;
	uint8_t *clip_b, *got = NULL;
	int64_t sealed = 0, restarts = 0;
	struct pt_set *pt;
	struct hub h;
	char *st = NULL;

	if (geteuid())
		test_skip("moatd and network namespaces need root (run the suite with sudo)");
	clip_b = read_all(clip, &clip_len);
	CHECK(clip_b && clip_len > 100000, "clip %s readable", clip);
	if (!clip_b)
		return test_done("test_rtsp");
	snprintf(lines, sizeof(lines), cams, n, n);
	CHECK(!hub_init(&h, "rtsp", lines), "hub folder, keys, config");
	if (netns_up(n)) {
		CHECK(0, "a network namespace for the camera");
		goto out;
	}
	CHECK(!camera_up(&h, clip), "the RTSP camera listens in its namespace");
	CHECK(!hub_start_relay(&h), "relay up");
	CHECK(!hub_start_moatd(&h), "moatd answers on its control socket");

	/* Two passes of the clip at 30 fps: the first connection ends with
	 * the clip, the worker restarts and the camera plays it again. */
	for (int i = 0; i < 300 && sealed < 240; i++) {
		usleep(100000);
		free(st);
		st = hub_status(&h);
		sealed = json_num(st, "door", "frames_sealed");
	}
	CHECK(sealed >= 240, "240 access units from the RTSP camera sealed (%lld)",
	      (long long)sealed);
	restarts = json_num(st, "door", "restarts");
	CHECK(restarts >= 1,
	      "the worker reconnected after the camera ended its session (%lld restarts)",
	      (long long)restarts);
	json_str(st, "yard", "error", err, sizeof(err));
	CHECK(strstr(err, "401") || strstr(err, "uthoriz"),
	      "the camera with the wrong password says why: \"%s\"", err);
	CHECK(!strstr(st, "wrong") && !strstr(st, "s3cret"),
	      "no password in the status");
	CHECK(json_num(st, "yard", "frames_sealed") == 0,
	      "nothing recorded from the camera that refused us");
	free(st);

	/* A clean stop closes the open stream; everything reaches the relay. */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops on SIGTERM");
	snprintf(path, sizeof(path), "%s/view.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --out %s --json",
		 h.bin, h.ident, h.relay_addr, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "\"opened\""),
	      "the viewer fetches and opens the streams: %.300s", out);
	got = read_all(path, &got_len);
	CHECK(got && got_len > clip_len, "the viewer wrote %zu bytes", got_len);
	if (got) {
		split(clip_b, clip_len, &cn);
		split(got, got_len, &gn);
		CHECK(cn.n > 120 && match(&cn, &gn, &passes) == gn.n &&
			      passes >= 2,
		      "the viewer's NAL units equal the camera's, in order (%zu NAL units, %u whole passes of the clip's %zu)",
		      gn.n, passes, cn.n);
		free(cn.p);
		free(cn.len);
		free(gn.p);
		free(gn.len);
	}
	pt = pt_set_new(clip_b, clip_len);
	CHECK(pt && pt_scan_tree(pt, h.spool, &files) == 0 && files >= 1,
	      "no 8-byte run of the video in the spool (%zu files)", files);
	CHECK(pt && pt_scan_tree(pt, h.relay_dir, &files) == 0 && files >= 2,
	      "no 8-byte run of the video at the relay (%zu files)", files);
	pt_set_free(pt);
out:
	netns_down(n);
	hub_cleanup(&h, check_failures != 0);
	free(got);
	free(clip_b);
	return test_done("test_rtsp");
}
