// SPDX-License-Identifier: GPL-2.0-only
/*
 * The report's charts: tab-separated data files and one gnuplot script in
 * DIR/data, run once; PNGs in DIR. A chart whose step did not run is not
 * drawn (report.md says why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tools/bench/report.h"

static FILE *data(const struct rep *rep, const char *name)
{
	char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/data/%s", rep->out, name);
	return fopen(path, "w");
}

/* seal.dat: size, then median, min, max of EVP, in place, to buffer. */
static bool seal_data(const struct rep *rep)
{
	static const char *const v[] = { "evp", "in_place", "to_buffer" };
	const struct bj *cells = rep_runs(rep, RS_SEAL, "cells");
	FILE *f;

	if (!cells || !cells->n || !(f = data(rep, "seal.dat")))
		return false;
	for (size_t i = 0; i < cells->n; i++) {
		const struct bj *c = bj_at(cells, i);
		char k[32];

		fprintf(f, "%.0f", bj_num(c, "size", 0));
		for (int j = 0; j < 3; j++) {
			fprintf(f, "\t%.1f", bj_num(c, v[j], 0));
			snprintf(k, sizeof(k), "%s_min", v[j]);
			fprintf(f, "\t%.1f", bj_num(c, k, 0));
			snprintf(k, sizeof(k), "%s_max", v[j]);
			fprintf(f, "\t%.1f", bj_num(c, k, 0));
		}
		/* the tic's label: "16 KiB" */
		fprintf(f, "\t%s\n",
			bench_size_str((size_t)bj_num(c, "size", 0), k,
				       sizeof(k)));
	}
	return fclose(f) == 0;
}

/* cpu.dat (moat) and cpu-copy.dat (extra copy): N, median, min, max;
 * lat.dat: one block per N of (ms, quantile). */
static bool pipeline_data(const struct rep *rep, int *n_lat, int *cams,
			  bool *copies)
{
	const struct bj *runs = rep_runs(rep, RS_PIPELINE, "runs");
	FILE *f = runs ? data(rep, "cpu.dat") : NULL;
	FILE *g = f ? data(rep, "cpu-copy.dat") : NULL;
	FILE *l = g ? data(rep, "lat.dat") : NULL;

	*n_lat = 0;
	*copies = false;
	for (size_t i = 0; l && i < runs->n; i++) {
		const struct bj *r = bj_at(runs, i),
				*q = bj_get(r, "latency_cdf");
		bool moat = !strcmp(bj_str(r, "path", ""), "moat");

		if (!bj_num(r, "ok", 0))
			continue;
		*copies = *copies || !moat;
		fprintf(moat ? f : g, "%.0f\t%.4f\t%.4f\t%.4f\n",
			bj_num(r, "cameras", 0),
			bj_num(r, "cpu_per_camera_pct_windows", 0),
			bj_num(r, "cpu_per_camera_pct_min", 0),
			bj_num(r, "cpu_per_camera_pct_max", 0));
		if (!moat || !q)
			continue;
		if (*n_lat == 16)
			continue;
		cams[*n_lat] = (int)bj_num(r, "cameras", 0);
		for (size_t k = 0; k < q->n; k++) {
			const struct bj *pt = bj_at(q, k);

			if (bj_at(pt, 0) && bj_at(pt, 0)->num > 0)
				fprintf(l, "%.3f\t%.3f\n",
					bj_at(pt, 0)->num / 1000,
					bj_at(pt, 1)->num);
		}
		fprintf(l, "\n\n");
		(*n_lat)++;
	}
	if (f)
		fclose(f);
	if (g)
		fclose(g);
	return l && fclose(l) == 0 && *n_lat > 0;
}

/* peers.dat: label, median, min, max (MB per CPU second): the peers
 * step's, then the whole hub and TLS paced like its cameras (the
 * pipeline step's largest run, one measurement each). */
static bool peers_data(const struct rep *rep)
{
	static const char *const names[] = { "memcpy", "evp", "moat_seal",
					     "tls",    "srtp", "age" };
	static const char *const labels[] = { "memcpy",      "OpenSSL EVP",
					      "moat seal",   "TLS 1.3",
					      "SRTP srtpenc", "age" };
	const struct bj *top = rep_pipeline_top(rep);
	double hub, paced;
	FILE *f;
	int n = 0;

	if (!rep_runs(rep, RS_PEERS, "peers") || !(f = data(rep, "peers.dat")))
		return false;
	for (int i = 0; i < 6; i++) {
		const struct bj *p = rep_peer(rep, names[i]);

		if (p && ++n)
			fprintf(f, "%s\t%.1f\t%.1f\t%.1f\n", labels[i],
				bj_num(p, "median", 0), bj_num(p, "min", 0),
				bj_num(p, "max", 0));
	}
	if (top) {
		hub = bj_num(top, "bytes_per_cpu_s", 0) / 1e6;
		paced = bj_num(rep->r[RS_PIPELINE].json,
			       "tls13_paced_sender_bytes_per_cpu_s", 0) / 1e6;
		fprintf(f, "moat hub, %.0f cams\t%.1f\t%.1f\t%.1f\n",
			bj_num(top, "cameras", 0), hub, hub, hub);
		if (paced > 0)
			fprintf(f, "TLS 1.3 paced\t%.1f\t%.1f\t%.1f\n", paced,
				paced, paced);
	}
	return fclose(f) == 0 && n > 0;
}

static void script_head(FILE *g, const char *png, const char *title)
{
	fprintf(g,
		"reset\nset terminal pngcairo size 900,540 font 'sans,10'\n"
		"set datafile separator '\\t'\nset output '%s'\n"
		"set title '%s'\nset grid\nset key top left\n"
		"set offsets graph 0.04, graph 0.04, graph 0.05, 0\n",
		png, title);
}

static void write_script(const struct rep *rep, FILE *g, bool seal, bool pipe,
			 int n_lat, const int *cams, bool copies, bool peers)
{
	if (seal) {
		script_head(
			g, "seal.png",
			"Sealing throughput by record size (one core; bars: min-max of the runs)");
		fprintf(g,
			"set logscale x 2\nset xlabel 'record size'\n"
			"set ylabel 'MB per CPU second'\nset yrange [0:*]\n"
			"plot 'data/seal.dat' u 1:2:3:4:xtic(11) w yerrorlines t 'OpenSSL EVP (%s)', "
			"'' u 1:5:6:7 w yerrorlines t 'moat, in place', "
			"'' u 1:8:9:10 w yerrorlines t 'moat, to buffer'\n",
			rep->cipher);
	}
	if (pipe) {
		script_head(
			g, "cpu.png",
			"Hub CPU per 1080p30 camera (8 Mb/s) by camera count (bars: min-max of 1-s windows)");
		fprintf(g,
			"set logscale x 2\nset xlabel 'cameras'\n"
			"set ylabel '%% of one core per camera'\nset yrange [0:*]\n"
			"set key top right\n"
			"plot 'data/cpu.dat' u 1:2:3:4 w yerrorlines t 'moat'%s\n",
			copies ?
				", 'data/cpu-copy.dat' u 1:2:3:4 w yerrorlines t 'with one extra copy'" :
				"");
		script_head(
			g, "latency.png",
			"Seal-and-send latency, cumulative (10 us buckets)");
		fprintf(g,
			"set logscale x 10\nset xlabel 'ms from the sealer taking a frame to its send completing'\n"
			"set ylabel 'share of frames'\nset yrange [0:1]\nset key bottom right\nplot ");
		for (int i = 0; i < n_lat; i++)
			fprintf(g,
				"%s'data/lat.dat' index %d u 1:2 w linespoints t '%d camera%s'",
				i ? ", " : "", i, cams[i],
				cams[i] > 1 ? "s" : "");
		fputc('\n', g);
	}
	if (peers) {
		script_head(
			g, "peers.png",
			"The same bytes through moat and its peers (MB per CPU second, log scale)");
		fprintf(g,
			"set logscale y 10\nset ylabel 'MB per CPU second'\nunset grid\nset grid y\n"
			"set style fill solid 0.6\nset boxwidth 0.6\nset xtics rotate by -25\nunset key\n"
			"plot 'data/peers.dat' u 0:2:xtic(1) w boxes, '' u 0:2:3:4 w yerrorbars lc rgb 'black', "
			"'' u 0:2:(sprintf('%%.0f', $2)) w labels offset 0,0.8\n");
	}
}

int rep_charts(const struct rep *rep)
{
	char path[PATH_MAX + 64], cmd[3 * PATH_MAX];
	bool seal, pipe, peers, copies;
	int n_lat = 0, cams[16], st;
	FILE *g;

	snprintf(path, sizeof(path), "%s/data", rep->out);
	mkdir(path, 0755);
	seal = seal_data(rep);
	pipe = pipeline_data(rep, &n_lat, cams, &copies);
	peers = peers_data(rep);
	snprintf(path, sizeof(path), "%s/data/charts.gp", rep->out);
	g = fopen(path, "w");
	if (!g)
		return -1;
	write_script(rep, g, seal, pipe, n_lat, cams, copies, peers);
	if (fclose(g))
		return -1;
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && gnuplot data/charts.gp >logs/charts.log 2>&1",
		 rep->out);
	st = system(cmd);
	return WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}
