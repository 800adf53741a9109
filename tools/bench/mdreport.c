// SPDX-License-Identifier: GPL-2.0-only
/*
 * report.md: the machine, the capacity line, then one section per
 * benchmark (a table of medians with their spread, the chart where there
 * is one), then how the figures were taken. Every section is written even
 * when its step did not run, saying why.
 */
#include <string.h>

#include "tools/bench/report.h"

static const char *mode_flag(const struct rep *rep)
{
	return rep->mode == RM_QUICK ? " --quick" :
	       rep->mode == RM_TINY  ? " --tiny" :
				       "";
}

/* Says why step s has no figures ("needs root", or its log); false if
 * it ran. */
static bool missing(FILE *f, const struct rep *rep, enum rep_step s)
{
	const struct rep_result *r = &rep->r[s];

	if (r->ok)
		return false;
	if (r->skipped)
		fprintf(f, "Not measured: %s.\n\n", r->skipped);
	else
		fprintf(f, "Not measured: `%s` failed (see logs/%s.log).\n\n",
			r->args, rep_step_name[s]);
	return true;
}

static void md_head(FILE *f, const struct rep *rep)
{
	const struct bench_machine *m = &rep->m;

	fprintf(f, "# moat benchmark report\n\n");
	fprintf(f, "Command: `moat-bench report%s%s` (%s, %.0f s).\n\n",
		mode_flag(rep), rep->no_policy ? " --no-policy" : "", rep->when,
		rep->total_secs);
	fprintf(f, "| machine | |\n|---|---|\n");
	fprintf(f, "| CPU | %s, %d CPUs |\n", m->cpu, m->cpus);
	fprintf(f, "| AES instructions | %s |\n", m->aes ? "yes" : "no");
	fprintf(f, "| cipher chosen | %s |\n", rep->cipher);
	fprintf(f, "| kernel | %s |\n", m->kernel);
	fprintf(f, "| OpenSSL | %s |\n", m->openssl);
	fprintf(f, "| GStreamer | %s |\n| age | %s |\n| gnuplot | %s |\n\n",
		rep->gst_ver, rep->age_ver, rep->gnuplot_ver);
}

static void md_capacity(FILE *f, const struct rep *rep)
{
	const struct rep_capacity *a = &rep->cap[0], *b = &rep->cap[1];
	const struct bj *top = rep_pipeline_top(rep);

	fprintf(f, "## Capacity\n\n");
	if (a->cameras <= 0) {
		fprintf(f,
			"Not known: the seal, peers or uplink step did not run.\n\n");
		return;
	}
	fprintf(f,
		"**One core of this machine seals and sends about %.0f cameras of %s, or %.0f of %s; the limit is %s.**",
		a->cameras, a->what, b->cameras, b->what, a->limit);
	if (!top)
		fprintf(f,
			" This is an upper bound: the pipeline did not run, so the per-frame work is not counted.");
	fprintf(f, "\n\n");
	fprintf(f,
		"| camera | per-frame work | sealing | send | per camera | cameras per core | limit |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---|\n");
	for (int i = 0; i < 2; i++) {
		const struct rep_capacity *c = &rep->cap[i];

		fprintf(f,
			"| %s | %.3f%% | %.3f%% | %.3f%% | %.3f%% | %.0f | %s |\n",
			c->what, c->per_frame * 100, c->seal * 100,
			c->send * 100, (c->per_frame + c->seal + c->send) * 100,
			c->cameras, c->limit);
	}
	fprintf(f,
		"\nShares of one core. Per-frame work is the hub's CPU per camera at %.0f cameras "
		"(the pipeline step) less its sealing and sending; sealing is the bitrate over moat's "
		"MB per CPU second (peers step); send is the bitrate over the uplink's SEND_ZC-with-gate "
		"MB per CPU second (uplink step). A 4K30 camera is counted with the same per-frame work "
		"(30 frames a second) and 25/8 the bytes. The relay runs elsewhere and is not counted.\n\n",
		bj_num(top, "cameras", 0));
	if (a->encode > 0 || b->encode > 0)
		fprintf(f,
			"A raw camera (no H.264 of its own) also needs libx264 on the hub: "
			"%.1f%% of a core at 1080p30 (%.1f cameras per core), %.1f%% at 4K30 (%.2f per core), "
			"ultrafast preset, one thread (the encode steps). Encoding, not sealing, limits such cameras.\n\n",
			a->encode * 100, a->encode > 0 ? 1 / a->encode : 0,
			b->encode * 100, b->encode > 0 ? 1 / b->encode : 0);
}

static void md_steps(FILE *f, const struct rep *rep)
{
	fprintf(f,
		"## What ran\n\n| step | command | seconds | result |\n|---|---|---:|---|\n");
	for (int s = 0; s < RS_N; s++) {
		const struct rep_result *r = &rep->r[s];

		fprintf(f, "| %s | `%s` | %.1f | %s |\n", rep_step_name[s],
			r->args[0] ? r->args : "-", r->secs,
			r->ok	   ? "ok" :
			r->skipped ? r->skipped :
				     "failed");
	}
	fprintf(f, "\n");
}

static void md_seal(FILE *f, const struct rep *rep)
{
	const struct bj *cells = rep_runs(rep, RS_SEAL, "cells");
	char sz[32];

	fprintf(f, "## Sealing throughput by record size\n\n");
	if (missing(f, rep, RS_SEAL))
		return;
	fprintf(f,
		"MB per CPU second on one core, median of %.0f interleaved runs (min-max); ratio = moat / EVP within each run, median.\n\n",
		bj_num(rep->r[RS_SEAL].json, "runs", 0));
	fprintf(f,
		"| suite | record | OpenSSL EVP | moat in place | ratio | moat to buffer | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; cells && i < cells->n; i++) {
		const struct bj *c = bj_at(cells, i);

		fprintf(f,
			"| %s | %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.3f | %.0f (%.0f-%.0f) | %.3f |\n",
			bj_str(c, "suite", "?"),
			bench_size_str((size_t)bj_num(c, "size", 0), sz,
				       sizeof(sz)),
			bj_num(c, "evp", 0), bj_num(c, "evp_min", 0),
			bj_num(c, "evp_max", 0), bj_num(c, "in_place", 0),
			bj_num(c, "in_place_min", 0),
			bj_num(c, "in_place_max", 0),
			bj_num(c, "in_place_ratio", 0),
			bj_num(c, "to_buffer", 0),
			bj_num(c, "to_buffer_min", 0),
			bj_num(c, "to_buffer_max", 0),
			bj_num(c, "to_buffer_ratio", 0));
	}
	fprintf(f, "\n![sealing throughput by record size](seal.png)\n\n");
}

/* The whole hub against TLS paced and SRTP: the pipeline's own ratios. */
static void md_hub(FILE *f, const struct rep *rep)
{
	const struct bj *top = rep_pipeline_top(rep),
			*pl = rep->r[RS_PIPELINE].json;

	fprintf(f,
		"\nThe whole hub against TLS and SRTP, for the bytes of the pipeline's largest run, in that run "
		"(moat: every hub process; TLS 1.3 `TLS_AES_256_GCM_SHA384` over loopback TCP: the sending thread; "
		"SRTP: the whole `gst-launch-1.0 ... srtpenc` (AES-256-GCM) process; one measurement each):\n\n");
	if (!top) {
		missing(f, rep, RS_PIPELINE);
	} else {
		static const char *const k[] = {
			"tls13_paced_sender_bytes_per_cpu_s",
			"tls13_sender_bytes_per_cpu_s", "srtp_bytes_per_cpu_s"
		};
		static const char *const l[] = {
			"TLS 1.3, paced like the cameras", "TLS 1.3, flat out",
			"SRTP srtpenc"
		};
		double hub = bj_num(top, "bytes_per_cpu_s", 0);

		fprintf(f,
			"| path | MB per CPU second | moat hub / path |\n|---|---:|---:|\n");
		fprintf(f, "| moat hub, %.0f cameras | %.0f | 1.000 |\n",
			bj_num(top, "cameras", 0), hub / 1e6);
		for (int i = 0; i < 3; i++) {
			double v = bj_num(pl, k[i], 0);

			if (v > 0)
				fprintf(f, "| %s | %.0f | %.3f |\n", l[i],
					v / 1e6, hub / v);
			else
				fprintf(f, "| %s | not measured | |\n", l[i]);
		}
		fprintf(f, "\n");
	}
}

static void md_peers(FILE *f, const struct rep *rep)
{
	const struct bj *p = rep_runs(rep, RS_PEERS, "peers");

	fprintf(f, "## The peers, side by side\n\n");
	if (missing(f, rep, RS_PEERS))
		return;
	fprintf(f,
		"The same bytes: every access unit of the 1080p30 clip (%.0f access units, %.1f MB), "
		"median of %.0f interleaved rounds (min-max); moat / peer is the median of the ratios within each round.\n\n",
		bj_num(rep->r[RS_PEERS].json, "access_units", 0),
		bj_num(rep->r[RS_PEERS].json, "bytes", 0) / 1e6,
		bj_num(rep->r[RS_PEERS].json, "rounds", 0));
	fprintf(f,
		"| peer | MB per CPU second | moat seal / peer |\n|---|---:|---:|\n");
	for (size_t i = 0; p && i < p->n; i++) {
		const struct bj *x = bj_at(p, i);

		if (!bj_num(x, "ok", 0))
			fprintf(f, "| %s | not measured | |\n",
				bj_str(x, "label", "?"));
		else
			fprintf(f, "| %s | %.0f (%.0f-%.0f) | %.3f |\n",
				bj_str(x, "label", "?"), bj_num(x, "median", 0),
				bj_num(x, "min", 0), bj_num(x, "max", 0),
				bj_num(x, "moat_ratio", 0));
	}
	fprintf(f,
		"\nTLS 1.3: `TLS_AES_256_GCM_SHA384` (OpenSSL), one `SSL_write` per access unit over a loopback TCP "
		"connection in one process, flat out, the sending thread's CPU (on loopback it includes the kernel's "
		"receive path). SRTP: `gst-launch-1.0 filesrc ! h264parse ! rtph264pay ! srtpenc ! udpsink` with "
		"AES-256-GCM, the clip repeated, the whole process less a run over the clip's first second "
		"(its start-up). age: `age -r` to an X25519 recipient over the same repeated clip, the whole process.\n");
	md_hub(f, rep);
	fprintf(f, "![the peers side by side](peers.png)\n\n");
}

/* A latency in us as "0.42 ms"; "-" when the run had no sample. */
static const char *ms(const struct bj *r, const char *key, char *buf,
		      size_t len)
{
	double us = bj_num(r, key, -1);

	if (us < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2f ms", us / 1000);
	return buf;
}

static void md_pipeline(FILE *f, const struct rep *rep)
{
	const struct bj *runs = rep_runs(rep, RS_PIPELINE, "runs");

	fprintf(f, "## CPU per camera by camera count\n\n");
	if (missing(f, rep, RS_PIPELINE))
		return;
	fprintf(f,
		"moatd with N file cameras replaying the 1080p30 8 Mb/s clip in real time to moat-relay on loopback%s. "
		"CPU per camera: every hub process, the median of the run's 1-s windows (min-max; "
		"from each process's CPU-time clock, to the nanosecond). "
		"Latency: seal-and-send (the sealer taking a frame to the send's completion) and capture-to-send.\n\n",
		rep->no_policy ?
			", **without the network policy** (`--no-policy`: policy = off, in a network namespace of its own)" :
			", with the network policy in force");
	fprintf(f,
		"| cameras | path | frames/s | MB/s | CPU per camera | seal+send p50 | p99 | capture+send p99 | PSS | copies |\n");
	fprintf(f, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; runs && i < runs->n; i++) {
		const struct bj *r = bj_at(runs, i);

		char p50[32], p99[32], c99[32];

		fprintf(f,
			"| %.0f | %s | %.1f | %.2f | %.3f%% (%.3f-%.3f) | %s | %s | %s | %.1f MiB | %.0f |\n",
			bj_num(r, "cameras", 0), bj_str(r, "path", "?"),
			bj_num(r, "frames_per_s", 0), bj_num(r, "mb_per_s", 0),
			bj_num(r, "cpu_per_camera_pct_windows", 0),
			bj_num(r, "cpu_per_camera_pct_min", 0),
			bj_num(r, "cpu_per_camera_pct_max", 0),
			ms(r, "p50_us", p50, sizeof(p50)),
			ms(r, "p99_us", p99, sizeof(p99)),
			ms(r, "capture_p99_us", c99, sizeof(c99)),
			bj_num(r, "pss_mib", 0), bj_num(r, "copies", 0));
	}
	for (size_t i = 0; runs && i < runs->n; i++)
		if (!bj_num(bj_at(runs, i), "ok", 0))
			fprintf(f,
				"\nThe run with %.0f camera(s) failed: its uplink sent nothing in the window (logs/pipeline.log). "
				"If another hub's moat network policy is in force on this machine, that is the likely cause: "
				"it lets the uplink's user reach only that hub's relay.\n",
				bj_num(bj_at(runs, i), "cameras", 0));
	fprintf(f, "\n![CPU per camera by camera count](cpu.png)\n\n");
}

static void md_latency(FILE *f, const struct rep *rep)
{
	const struct bj *runs = rep_runs(rep, RS_RELAY, "runs");
	const struct bj *base = rep_runs(rep, RS_RELAY, "baseline");

	fprintf(f, "## Latency distribution\n\n");
	if (rep->r[RS_PIPELINE].ok)
		fprintf(f,
			"Seal-and-send latency of every frame in the pipeline runs, cumulative "
			"(10 us buckets; the last bucket, 20 ms, holds everything slower):\n\n"
			"![seal-and-send latency](latency.png)\n\n");
	else
		missing(f, rep, RS_PIPELINE);
	fprintf(f, "### Relay fan-out\n\n");
	if (missing(f, rep, RS_RELAY))
		return;
	fprintf(f,
		"One hub sending the sealed clip live at 30 fps through moat-relay to N viewers on loopback; "
		"latency from the hub's send to a viewer's receipt, after each viewer's first stream "
		"(the first waits for TCP's windows to grow: its p99 is given apart). "
		"Baseline in the same run, no relay, one reader: p50 %.2f ms, p99 %.2f ms.\n\n",
		bj_num(base, "p50_ms", 0), bj_num(base, "p99_ms", 0));
	fprintf(f,
		"| viewers | relay CPU | peak RSS | p50 | p99 | p99 / baseline p99 | first stream p99 | delivered | cut |\n");
	fprintf(f, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; runs && i < runs->n; i++) {
		const struct bj *r = bj_at(runs, i);
		double b99 = bj_num(base, "p99_ms", 0);

		fprintf(f,
			"| %.0f | %.1f%% | %.1f MB | %.2f ms | %.2f ms | %.1fx | %.2f ms | %.1f%% | %.0f |\n",
			bj_num(r, "viewers", 0),
			bj_num(r, "relay_cpu", 0) * 100,
			bj_num(r, "peak_rss_kib", 0) / 1024,
			bj_num(r, "p50_ms", 0), bj_num(r, "p99_ms", 0),
			b99 > 0 ? bj_num(r, "p99_ms", 0) / b99 : 0,
			bj_num(r, "first_stream_p99_ms", 0),
			bj_num(r, "delivered", 0) * 100, bj_num(r, "cut", 0));
	}
	fprintf(f, "\n");
}

static void md_uplink(FILE *f, const struct rep *rep)
{
	const struct bj *j = rep->r[RS_UPLINK].json;
	const struct bj *m = rep_runs(rep, RS_UPLINK, "modes");

	fprintf(f,
		"## The uplink's send path, with and without the gate and zero-copy\n\n");
	if (missing(f, rep, RS_UPLINK))
		return;
	fprintf(f,
		"A sender in the uplink's cgroup and user sends one record per access unit from a read-only memfd ring "
		"with io_uring, flat out, to a sink on loopback, the network policy in force in a namespace of its own; "
		"median of %.0f interleaved rounds (min-max). On loopback the kernel copies zero-copy pages when it "
		"delivers them: the NIC-level gain of SEND_ZC needs real hardware.\n\n",
		bj_num(j, "rounds", 0));
	fprintf(f,
		"| mode | MB/s | MB per CPU second | zero-copy sends | refused |\n|---|---:|---:|---:|---:|\n");
	for (size_t i = 0; m && i < m->n; i++) {
		const struct bj *x = bj_at(m, i);

		fprintf(f,
			"| %s | %.0f (%.0f-%.0f) | %.0f (%.0f-%.0f) | %.0f | %.0f |\n",
			bj_str(x, "mode", "?"), bj_num(x, "mb_per_s", 0),
			bj_num(x, "mb_per_s_min", 0),
			bj_num(x, "mb_per_s_max", 0),
			bj_num(x, "mb_per_cpu_s", 0),
			bj_num(x, "mb_per_cpu_s_min", 0),
			bj_num(x, "mb_per_cpu_s_max", 0),
			bj_num(x, "zc_sends", 0), bj_num(x, "zc_refused", 0));
	}
	fprintf(f,
		"\nRatios within each round (median): the gate with SEND_ZC %.3fx the throughput and %.3fx the bytes per CPU second; "
		"with SEND %.3fx and %.3fx; an sk_msg verdict program instead of the gate %.3fx the gate's throughput.\n\n",
		bj_num(j, "gate_throughput_ratio_zc", 0),
		bj_num(j, "gate_cpu_ratio_zc", 0),
		bj_num(j, "gate_throughput_ratio_send", 0),
		bj_num(j, "gate_cpu_ratio_send", 0),
		bj_num(j, "skmsg_vs_gate_zc", 0));
}

static void md_encode(FILE *f, const struct rep *rep)
{
	static const enum rep_step st[2] = { RS_ENC1080, RS_ENC4K };

	fprintf(f, "## The encoder path (libx264)\n\n");
	fprintf(f,
		"For raw cameras (a Raspberry Pi 5 has no hardware H.264 encoder): NV12 frames made in memory "
		"through libx264 (ultrafast, zerolatency, one thread) into ring memory, each access unit then sealed "
		"(AES-256-GCM), as the worker and sealer do (`moat-bench encode --synthetic`).\n\n");
	fprintf(f,
		"| size | frames | encode per frame | seal per frame | encode : seal | access unit | copies besides the AEAD |\n");
	fprintf(f, "|---|---:|---:|---:|---:|---:|---:|\n");
	for (int i = 0; i < 2; i++) {
		const struct bj *j = rep->r[st[i]].json;
		double e = bj_num(j, "encode_ms_per_frame", 0),
		       s = bj_num(j, "seal_ms_per_frame", 0);

		if (!rep->r[st[i]].ok) {
			fprintf(f, "| %s | not measured (%s) | | | | | |\n",
				i ? "3840x2160" : "1920x1080",
				rep->r[st[i]].skipped ? rep->r[st[i]].skipped :
							"no libx264? see logs");
			continue;
		}
		fprintf(f,
			"| %.0fx%.0f | %.0f | %.2f ms | %.3f ms | %.0f : 1 | %.0f B | %.0f |\n",
			bj_num(j, "width", 0), bj_num(j, "height", 0),
			bj_num(j, "frames", 0), e, s, s > 0 ? e / s : 0,
			bj_num(j, "mean_au_bytes", 0),
			bj_num(j, "copies_beyond_aead", 0));
	}
	fprintf(f, "\n");
}

static void md_method(FILE *f, const struct rep *rep)
{
	fprintf(f,
		"## How the figures were taken\n\n"
		"- Every benchmark ran as a child `moat-bench X --json` (the commands are under *What ran*); their output is in logs/.\n"
		"- Throughput is bytes per CPU second of the processes or threads that did the work, not of the wall clock, "
		"so a busy neighbour slows a run without changing its figure much.\n"
		"- Each figure is a median of several runs with its min-max, unless it says one measurement; "
		"every ratio is taken within one run (or round) and then the median taken.\n"
		"- The clip is 1080p30 H.264 at 8 Mb/s (libx264, constant bitrate, a keyframe a second), made once with ffmpeg.\n"
		"- %s\n",
		rep->mode == RM_FULL ?
			"This is the full run." :
			"This is a short run (fewer runs, camera counts and viewers): `moat-bench report` without --quick takes longer and spreads less.");
}

int rep_write_md(const struct rep *rep, const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	md_head(f, rep);
	md_capacity(f, rep);
	md_steps(f, rep);
	md_seal(f, rep);
	md_peers(f, rep);
	md_pipeline(f, rep);
	md_latency(f, rep);
	md_uplink(f, rep);
	md_encode(f, rep);
	md_method(f, rep);
	return fclose(f) ? -1 : 0;
}
