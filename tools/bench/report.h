/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moat-bench report: the parts that share one run's results. report.c
 * runs every benchmark as a child (`moat-bench X --json`) with a progress
 * line; capacity.c turns the results into cameras per core; mdreport.c
 * writes report.md; charts.c writes the PNGs with gnuplot.
 */
#ifndef MOAT_TOOLS_BENCH_REPORT_H
#define MOAT_TOOLS_BENCH_REPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "tools/bench/bench.h"
#include "tools/bench/json.h"

enum rep_step {
	RS_SEAL,
	RS_PEERS,
	RS_PIPELINE,
	RS_UPLINK,
	RS_RELAY,
	RS_ENC1080,
	RS_ENC4K,
	RS_N
};

enum rep_mode { RM_FULL, RM_QUICK, RM_TINY };

struct rep_result {
	char *text;	     /* the child's stdout: one JSON object */
	struct bj *json;     /* parsed, or NULL */
	char args[512];	     /* the command, for the report */
	double secs;	     /* wall time */
	const char *skipped; /* why it did not run, or NULL */
	bool ok;
};

/* Cameras per core at one bitrate, and what limits it. */
struct rep_capacity {
	const char *what; /* "1080p30 at 8 Mb/s" */
	double mbit;
	double per_frame, seal, send; /* share of a core per camera */
	double cameras;		      /* per core; 0 if not known */
	const char *limit;	      /* the largest share */
	double encode; /* libx264 share of a core per camera, or 0 */
};

struct rep {
	enum rep_mode mode;
	bool json, no_policy;
	char out[PATH_MAX];
	char clip[PATH_MAX];
	char self[PATH_MAX];
	char when[64];
	char cipher[32];
	char age_ver[64], gst_ver[64], gnuplot_ver[64];
	struct bench_machine m;
	struct rep_result r[RS_N];
	struct rep_capacity cap[2];
	double total_secs;
};

extern const char *const rep_step_name[RS_N];

void rep_capacity(struct rep *rep);
int rep_write_md(const struct rep *rep, const char *path);
/* The PNGs into rep->out, for the steps that ran; 0 or -1 (gnuplot). */
int rep_charts(const struct rep *rep);

/* Quantities read from the results, for the writers. */
const struct bj *rep_runs(const struct rep *rep, enum rep_step s,
			  const char *key);
/* The pipeline run with the most cameras (moat path), or NULL. */
const struct bj *rep_pipeline_top(const struct rep *rep);
/* A peer of the peers step by name, or NULL. */
const struct bj *rep_peer(const struct rep *rep, const char *name);
/* The uplink mode named, or NULL. */
const struct bj *rep_uplink_mode(const struct rep *rep, const char *mode);

#endif
