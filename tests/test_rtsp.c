// SPDX-License-Identifier: GPL-2.0-only
/*
 * An IP camera end to end, with real parts: GStreamer's RTSP server
 * (moat-testcam) serves the test clip from its own network namespace
 * behind digest authentication; moatd's sandboxed worker pulls it over
 * RTSP/TCP through libavformat, and the sealer, uplink, relay and viewer
 * do the rest. The viewer's NAL units must equal the clip's, in order;
 * nothing plaintext may rest at the hub or the relay; a camera with the
 * wrong password is reported and leaves the other camera recording.
 * Two more cameras record motion clips (record = events) from RTSP: one
 * sees a box cross the picture at 7 s (its motion found in a 320x180
 * substream on the same port) and yields exactly one clip with
 * at least 5 s of pre-roll, NAL for NAL the camera's frames 60-359; the
 * other sees a still scene and yields none.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/camnet.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

static struct camnet net;

/* moat-testcam serving clip at :port/main (and sub at /sub), digest auth. */
static int camera_up(const struct hub *h, const char *clip, unsigned int port,
		     const char *sub)
{
	char args[4096], log[32];

	snprintf(args, sizeof(args),
		 "--file %s --port %u --path /main --user admin --password s3cret%s%s",
		 clip, port, sub ? " --sub-file " : "", sub ? sub : "");
	snprintf(log, sizeof(log), "testcam-%u.log", port);
	return camnet_serve(&net, h, "moat-testcam", args, port, log);
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

				/* a 4-byte start code's zero, trailing_zero_8bits */
				while (end > start && !b[end - 1])
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

static void nals_free(struct nals *n)
{
	free(n->p);
	free(n->len);
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
		"[camera door]\nsource = rtsp://admin:s3cret@10.77.%1$u.2:8554/main\n"
		"[camera yard]\nsource = rtsp://admin:wrong@10.77.%1$u.2:8554/main\n"
		"[camera porch]\nsource = rtsp://admin:s3cret@10.77.%1$u.2:8555/main\n"
		"record = events\npreroll = 5\nclip_length = 2\ncooldown = 60\n"
		"motion_source = rtsp://admin:s3cret@10.77.%1$u.2:8555/sub\n"
		"[camera hall]\nsource = rtsp://admin:s3cret@10.77.%1$u.2:8556/main\n"
		"record = events\n"
		"[camera garage]\nsource = rtsp://admin:s3cret@10.77.%1$u.2:8557/main\n";
	unsigned int passes = 0;
	char lines[1024], cmd[4096], out[8192], path[300], err[256] = "";
	char motion[PATH_MAX], still[PATH_MAX], hevc[PATH_MAX], sub[PATH_MAX],
		clipdir[300];
	const char *clip = test_clip_path();
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
	if (camnet_up(&net, "rtsp", "mr", 77)) {
		CHECK(0, "a network namespace for the cameras");
		camnet_down(&net);
		free(clip_b);
		return test_done("test_rtsp");
	}
	snprintf(lines, sizeof(lines), cams, net.n);
	CHECK(!hub_init(&h, "rtsp", lines), "hub folder, keys, config");
	snprintf(motion, sizeof(motion), "%s", clip);
	snprintf(strrchr(motion, '/'), sizeof(motion) - (size_t)(strrchr(motion, '/') - motion),
		 "/motion.h264");
	snprintf(still, sizeof(still), "%s", motion);
	memcpy(strrchr(still, '/'), "/still.h264", sizeof("/still.h264"));
	snprintf(hevc, sizeof(hevc), "%s", motion);
	memcpy(strrchr(hevc, '/'), "/clip-h265.hevc", sizeof("/clip-h265.hevc"));
	snprintf(sub, sizeof(sub), "%s", motion);
	memcpy(strrchr(sub, '/'), "/motion-sub.h264", sizeof("/motion-sub.h264"));
	CHECK(!camera_up(&h, clip, 8554, NULL) &&
		      !camera_up(&h, motion, 8555, sub) &&
		      !camera_up(&h, still, 8556, NULL) &&
		      !camera_up(&h, hevc, 8557, NULL),
	      "four RTSP cameras listen in their namespace (one with a substream)");
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
	CHECK(st && !strstr(st, "wrong") && !strstr(st, "s3cret"),
	      "no password in the status");
	CHECK(json_num(st, "yard", "frames_sealed") == 0,
	      "nothing recorded from the camera that refused us");
	/* the box crosses porch's picture 7-9 s into its session */
	for (int i = 0; i < 300; i++) {
		if (st && json_num(st, "porch", "clips") >= 1 &&
		    !strstr(st, "\"in_clip\": true"))
			break;
		usleep(100000);
		free(st);
		st = hub_status(&h);
	}
	CHECK(json_num(st, "porch", "clips") == 1,
	      "porch: one motion clip (%lld)",
	      (long long)json_num(st, "porch", "clips"));
	CHECK(json_num(st, "hall", "clips") == 0 &&
		      json_num(st, "hall", "motion_starts") == 0 &&
		      json_num(st, "hall", "frames_sealed") > 100,
	      "hall: frames sealed, no motion, no clip");
	CHECK(json_num(st, "garage", "frames_sealed") >= 200,
	      "garage: H.265 sealed as it came (%lld frames)",
	      (long long)json_num(st, "garage", "frames_sealed"));
	free(st);

	/* A clean stop closes the open stream; everything reaches the relay. */
	CHECK(!hub_stop(&h.moatd, SIGTERM, 15000), "moatd stops on SIGTERM");
	snprintf(path, sizeof(path), "%s/view.h264", h.dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --camera door --out %s --json",
		 h.bin, h.ident, h.relay_addr, path);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "\"opened\""),
	      "the viewer fetches and opens the streams: %.300s", out);
	got = read_all(path, &got_len);
	/* garage's H.265: raw, NAL for NAL; and as an MP4 */
	{
		char hpath[300], mpath[300];
		uint8_t *hb, *gb;
		size_t hl = 0, gl = 0;
		struct nals hn, gn2;
		unsigned int hp = 0;

		snprintf(hpath, sizeof(hpath), "%s/garage.hevc", h.dir);
		snprintf(mpath, sizeof(mpath), "%s/garage.mp4", h.dir);
		snprintf(cmd, sizeof(cmd),
			 "%s/moat-view fetch --identity %s --relay %s --camera garage --out %s --format h264 --json && "
			 "%s/moat-view fetch --identity %s --relay %s --camera garage --out %s --json >/dev/null && "
			 "ffprobe -v error -count_frames -select_streams v:0 -show_entries stream=codec_name,nb_read_frames -of csv=p=0 %s",
			 h.bin, h.ident, h.relay_addr, hpath, h.bin, h.ident,
			 h.relay_addr, mpath, mpath);
		CHECK(run_cmd(cmd, out, sizeof(out)) == 0 && strstr(out, "hevc,"),
		      "garage: the viewer writes H.265 and an MP4 of it: %.300s",
		      out);
		CHECK(strstr(out, "hevc,") && atoi(strstr(out, "hevc,") + 5) >= 200,
		      "garage: the MP4 holds the frames (%s)",
		      strstr(out, "hevc,") ? strstr(out, "hevc,") : "none");
		hb = read_all(hevc, &hl);
		gb = read_all(hpath, &gl);
		if (hb && gb) {
			split(hb, hl, &hn);
			split(gb, gl, &gn2);
			CHECK(hn.n > 120 && match(&hn, &gn2, &hp) == gn2.n &&
				      hp >= 1,
			      "garage: the viewer's H.265 NAL units equal the camera's, in order (%zu NAL units, %u whole passes)",
			      gn2.n, hp);
			nals_free(&hn);
			nals_free(&gn2);
		} else {
			CHECK(0, "%s and %s readable", hevc, hpath);
		}
		free(hb);
		free(gb);
	}
	/* porch's clip, as its own file */
	snprintf(clipdir, sizeof(clipdir), "%s/clips", h.dir);
	mkdir(clipdir, 0700);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view fetch --identity %s --relay %s --clips %s --format h264 --json",
		 h.bin, h.ident, h.relay_addr, clipdir);
	CHECK(run_cmd(cmd, out, sizeof(out)) == 0 &&
		      strstr(out, "\"clips_written\": 1,"),
	      "the viewer writes exactly one clip: %.400s", out);
	{
		int64_t pre = json_num(out, "clips", "motion_us") -
			      json_num(out, "clips", "start_us");
		char cpath[PATH_MAX] = "";
		size_t cl = 0, ml = 0;
		uint8_t *cb, *mb = read_all(motion, &ml);
		struct nals mn, kn;

		/* at least 5 s, and at most a GOP more (arrival times jitter,
		 * so the keyframe at 2 s may be kept a GOP early) */
		CHECK(pre >= 5000000 && pre < 7500000,
		      "at least 5 s of pre-roll before the motion (%.2f s)",
		      (double)pre / 1e6);
		json_str(out, "clips", "out", cpath, sizeof(cpath));
		cb = read_all(cpath, &cl);
		if (cb && mb) {
			size_t first = 0, k = 0, gop = 0;

			split(mb, ml, &mn);
			split(cb, cl, &kn);
			/* where the clip's first IDR is in the camera's clip:
			 * the keyframe at 1 s or 2 s (GOPs of 30 frames) */
			for (size_t i = 0, sps = 0; kn.n > 2 && i + 2 < mn.n;
			     i++) {
				sps += (mn.p[i][0] & 0x1f) == 7;
				if ((mn.p[i][0] & 0x1f) == 7 &&
				    nal_eq(&kn, 2, &mn, i + 2)) {
					first = i;
					gop = sps - 1;
					break;
				}
			}
			for (; k < kn.n && first + k < mn.n &&
			       nal_eq(&kn, k, &mn, first + k);
			     k++)
				;
			CHECK(first && (gop == 1 || gop == 2) && k == kn.n &&
				      kn.n > 300 &&
				      (first + k == mn.n ||
				       (mn.p[first + k][0] & 0x1f) == 7),
			      "the clip's NAL units equal the camera's, from the keyframe at %zu s to a GOP's end (%zu of %zu matched)",
			      gop, k, kn.n);
			nals_free(&mn);
			nals_free(&kn);
		} else {
			CHECK(0, "the clip %s and %s readable", cpath, motion);
		}
		free(cb);
		free(mb);
	}
	CHECK(got && got_len > clip_len, "the viewer wrote %zu bytes", got_len);
	if (got) {
		split(clip_b, clip_len, &cn);
		split(got, got_len, &gn);
		CHECK(cn.n > 120 && match(&cn, &gn, &passes) == gn.n &&
			      passes >= 2,
		      "the viewer's NAL units equal the camera's, in order (%zu NAL units, %u whole passes of the clip's %zu)",
		      gn.n, passes, cn.n);
		nals_free(&cn);
		nals_free(&gn);
	}
	pt = pt_set_new(clip_b, clip_len);
	CHECK(pt && pt_scan_tree(pt, h.spool, &files) == 0 && files >= 1,
	      "no 8-byte run of the video in the spool (%zu files)", files);
	CHECK(pt && pt_scan_tree(pt, h.relay_dir, &files) == 0 && files >= 2,
	      "no 8-byte run of the video at the relay (%zu files)", files);
	pt_set_free(pt);
	camnet_down(&net);
	hub_cleanup(&h, check_failures != 0);
	free(got);
	free(clip_b);
	return test_done("test_rtsp");
}
