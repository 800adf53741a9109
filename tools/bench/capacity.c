// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cameras per core from one report's results. The hub's CPU per camera is
 * split into what grows with bytes (the AEAD, from the peers step's moat
 * figure; the uplink's send, from the uplink step's SEND_ZC-with-gate
 * figure) and what is paid per frame (the rest of the pipeline step's CPU
 * per camera at its largest camera count, the median of its 1-s windows:
 * parsing, the rings, waking the worker, the sealer and the uplink). A camera
 * at another bitrate and the same 30 frames a second costs the same per-frame
 * part plus its bytes.
 */
#include <string.h>

#include "tools/bench/report.h"

const struct bj *rep_runs(const struct rep *rep, enum rep_step s,
			  const char *key)
{
	return rep->r[s].ok ? bj_get(rep->r[s].json, key) : NULL;
}

const struct bj *rep_pipeline_top(const struct rep *rep)
{
	const struct bj *runs = rep_runs(rep, RS_PIPELINE, "runs"), *top = NULL;

	for (size_t i = 0; runs && i < runs->n; i++) {
		const struct bj *r = bj_at(runs, i);

		if (strcmp(bj_str(r, "path", ""), "moat") ||
		    !bj_num(r, "ok", 0))
			continue;
		if (!top || bj_num(r, "cameras", 0) > bj_num(top, "cameras", 0))
			top = r;
	}
	return top;
}

const struct bj *rep_peer(const struct rep *rep, const char *name)
{
	const struct bj *p = rep_runs(rep, RS_PEERS, "peers");

	for (size_t i = 0; p && i < p->n; i++)
		if (!strcmp(bj_str(bj_at(p, i), "name", ""), name) &&
		    bj_num(bj_at(p, i), "ok", 0))
			return bj_at(p, i);
	return NULL;
}

const struct bj *rep_uplink_mode(const struct rep *rep, const char *mode)
{
	const struct bj *m = rep_runs(rep, RS_UPLINK, "modes");

	for (size_t i = 0; m && i < m->n; i++)
		if (!strcmp(bj_str(bj_at(m, i), "mode", ""), mode))
			return bj_at(m, i);
	return NULL;
}

/* Share of a core for one camera of mbit Mb/s at 30 fps. */
static void one(const struct rep *rep, struct rep_capacity *c)
{
	const struct bj *top = rep_pipeline_top(rep);
	double seal = bj_num(rep_peer(rep, "moat_seal"), "median", 0);
	double send = bj_num(rep_uplink_mode(rep, "SEND_ZC, gate"),
			     "mb_per_cpu_s", 0);
	double mb = c->mbit / 8, total;

	c->seal = seal > 0 ? mb / seal : 0;
	c->send = send > 0 ? mb / send : 0;
	if (top) {
		double n = bj_num(top, "cameras", 1);
		double cam = bj_num(top, "cpu_per_camera_pct_windows", 0) / 100;
		double bytes = bj_num(top, "mb_per_s", 0) / n;

		c->per_frame = cam - (seal > 0 ? bytes / seal : 0) -
			       (send > 0 ? bytes / send : 0);
		if (c->per_frame < 0)
			c->per_frame = 0;
	}
	total = c->per_frame + c->seal + c->send;
	c->cameras = total > 0 ? 1 / total : 0;
	c->limit = "the AEAD (sealing)";
	if (c->send > c->seal)
		c->limit = "the uplink's send";
	if (c->per_frame > c->seal && c->per_frame > c->send)
		c->limit =
			"per-frame work (the worker, sealer and uplink woken for every frame)";
}

void rep_capacity(struct rep *rep)
{
	static const char *const what[2] = { "1080p30 at 8 Mb/s",
					     "4K30 at 25 Mb/s" };
	static const double mbit[2] = { 8, 25 };
	static const enum rep_step enc[2] = { RS_ENC1080, RS_ENC4K };

	for (int i = 0; i < 2; i++) {
		struct rep_capacity *c = &rep->cap[i];

		memset(c, 0, sizeof(*c));
		c->what = what[i];
		c->mbit = mbit[i];
		one(rep, c);
		/* a raw camera: libx264 at 30 fps, one thread */
		if (rep->r[enc[i]].ok)
			c->encode = bj_num(rep->r[enc[i]].json,
					   "encode_ms_per_frame", 0) *
				    30 / 1000;
	}
}
