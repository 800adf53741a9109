// SPDX-License-Identifier: GPL-2.0-only
/*
 * Hostile cameras against the real daemon. moat-hostilecam serves one
 * misbehaving RTSP camera per URL path from its own network namespace;
 * moatd records them all at once, next to a file camera (the control)
 * and a well-behaved RTSP camera. For about 40 s the test asks moatd's
 * status once a second and checks what a user would see: moatd always
 * answers, the good cameras keep recording, and each hostile camera is
 * reported (status, restarts, log) with a reason that fits what it did.
 * At the end the viewer must open everything that was recorded.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/camnet.h"
#include "daemon/ctl.h"
#include "tests/lib/check.h"
#include "tests/lib/hub.h"

enum {
	POLLS = 40, /* once a second */
	WINDOW = 5, /* polls per "keeps recording" window */
	STATUS_MAX_MS = 2000,
	ERRS_MAX = 4, /* distinct error texts kept per camera */
	ERR_LEN = 200,
};

/*
 * A hostile mode and the reasons a user could make sense of, as
 * substrings of the status error and of moatd's log line. may_record:
 * the damage is inside the video (moat passes it through unparsed) or
 * libavformat copes, so recording on without a word is acceptable too.
 * known: the text moatd gives today where it should give why[]; it
 * passes, flagged as a known issue, until the daemon is fixed (then
 * delete it here).
 */
struct expect {
	const char *mode;
	const char *why[4];
	bool may_record;
	const char *known;
};

#define TIMEOUT_WHY                                    \
	{                                              \
		"nothing for 10 s", "no answer within" \
	}
static const struct expect expects[] = {
	{ "truncated-nal", { "did not decode", "damaged" }, true, NULL },
	{ "lying-length",
	  { "damaged", "broke the protocol", "nothing for 10 s" },
	  true,
	  NULL },
	{ "garbage-sdp", { "cannot open" }, false, NULL },
	{ "huge-sdp", { "lists 1000 streams" }, true, NULL },
	{ "huge-sdp-length", { "cannot open" }, false, NULL },
	{ "desync",
	  { "damaged", "broke the protocol", "nothing for 10 s" },
	  true,
	  NULL },
	{ "stall", TIMEOUT_WHY, false, NULL },
	{ "stall-midframe", TIMEOUT_WHY, false, NULL },
	{ "slowloris", TIMEOUT_WHY, false, NULL },
	{ "slow-frames", TIMEOUT_WHY, false, NULL },
	{ "burst",
	  { "frames a second", "times the camera's usual", "pipeline full" },
	  true,
	  NULL },
	{ "disconnect",
	  { "ended the session", "broke the protocol" },
	  false,
	  NULL },
	{ "huge-frame", { "too large to record" }, false, NULL },
	{ "not-h264", { "moat records H.264" }, false, NULL },
};

#define N_MODES (sizeof(expects) / sizeof(expects[0]))
/* the control, the good RTSP camera, and big-frame: a legal 3 MiB
 * keyframe that must simply be recorded */
#define N_GOOD 3
#define N_CAMS (N_MODES + N_GOOD)

/* What the polls saw of one camera. */
struct seen {
	const char *name;
	char err[ERRS_MAX][ERR_LEN];
	int n_err;
	int64_t restarts, sealed, drops;
	int64_t sealed_at[POLLS];
	char state[32];
};

static struct camnet net;
static volatile sig_atomic_t interrupted; /* SIGINT/SIGTERM: clean up, go */

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int camera_up(const struct hub *h, const char *clip)
{
	char args[PATH_MAX + 32];

	snprintf(args, sizeof(args), "--file %s --port 8554", clip);
	return camnet_serve(&net, h, "moat-hostilecam", args, 8554,
			    "hostilecam.log");
}

static void conf_lines(unsigned int n, const char *clip, char *out, size_t len)
{
	size_t off = (size_t)snprintf(
		out, len,
		"[camera control]\nsource = file:%1$s\n"
		"[camera good]\nsource = rtsp://10.78.%2$u.2:8554/good\n"
		"[camera big-frame]\nsource = rtsp://10.78.%2$u.2:8554/big-frame\n",
		clip, n);

	for (size_t i = 0; i < N_MODES && off < len; i++)
		off += (size_t)snprintf(
			out + off, len - off,
			"[camera %s]\nsource = rtsp://10.78.%u.2:8554/%s\n",
			expects[i].mode, n, expects[i].mode);
}

/* Seccomp kills the kernel reported (audit type 1326), one per line. */
static char *seccomp_lines(void)
{
	char *out = calloc(1, 1 << 16);

	if (out)
		run_cmd("dmesg 2>/dev/null | grep 'type=1326' | grep -E 'comm=\"(moatd|moat-worker|moat-sealer|moat-uplink)\"'",
			out, 1 << 16);
	return out;
}

static void remember_err(struct seen *s, const char *e)
{
	if (!e[0])
		return;
	for (int i = 0; i < s->n_err; i++)
		if (!strcmp(s->err[i], e))
			return;
	if (s->n_err < ERRS_MAX)
		snprintf(s->err[s->n_err++], ERR_LEN, "%s", e);
}

static void observe(const char *st, struct seen *s, int poll)
{
	char e[ERR_LEN] = "";

	s->sealed = json_num(st, s->name, "frames_sealed");
	s->sealed_at[poll] = s->sealed;
	s->restarts = json_num(st, s->name, "restarts");
	s->drops = json_num(st, s->name, "drops_recorded");
	json_str(st, s->name, "state", s->state, sizeof(s->state));
	json_str(st, s->name, "error", e, sizeof(e));
	remember_err(s, e);
	/* a note: something odd that did not stop the camera */
	e[0] = 0;
	json_str(st, s->name, "note", e, sizeof(e));
	remember_err(s, e);
}

/* 2: text gives a fitting reason, 1: the known wrong one, 0: neither. */
static int fits(const struct expect *x, const char *text)
{
	for (int i = 0; i < 4 && x->why[i]; i++)
		if (strstr(text, x->why[i]))
			return 2;
	return x->known && strstr(text, x->known) ? 1 : 0;
}

/* The best fitting line of moatd's log about camera x->mode, in out. */
static int log_line(const char *log, const struct expect *x, char *out,
		    size_t len)
{
	char pat[96];
	const char *p = log;
	int best = 0;

	snprintf(pat, sizeof(pat), "camera %s: ", x->mode);
	out[0] = 0;
	while (log && (p = strstr(p, pat))) {
		int n = (int)strcspn(p, "\n"), f;
		char line[300];

		snprintf(line, sizeof(line), "%.*s", n, p);
		f = fits(x, line);
		if (f > best || !out[0]) {
			snprintf(out, len, "%s", line);
			best = f > best ? f : best;
		}
		p += n;
	}
	return best;
}

/* moatd's word on a worker that died of a signal (seccomp: SIGSYS). */
static void worker_deaths(const char *log, const char *name, char *out,
			  size_t len)
{
	char pat[96];
	const char *p;

	snprintf(pat, sizeof(pat), "worker %s was killed", name);
	out[0] = 0;
	if (log && (p = strstr(log, pat)))
		snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

static void report_mode(const struct expect *x, const struct seen *s,
			const char *errs, const char *line)
{
	printf("mode %-16s state %-10s restarts %3lld sealed %6lld drops %4lld\n"
	       "     status: %s\n     log:    %s\n",
	       x->mode, s->state, (long long)s->restarts, (long long)s->sealed,
	       (long long)s->drops, errs[0] ? errs : "(no error seen)",
	       line[0] ? line : "(nothing)");
}

static void check_mode(const struct expect *x, const struct seen *s,
		       const struct seen *good, const char *log)
{
	char line[300], killed[200], errs[ERRS_MAX * (ERR_LEN + 4)] = "";
	int err_fit = 0, log_fit;

	for (int i = 0; i < s->n_err; i++) {
		int f = fits(x, s->err[i]);

		err_fit = f > err_fit ? f : err_fit;
		snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
			 "%s\"%s\"", i ? " | " : "", s->err[i]);
	}
	log_fit = log_line(log, x, line, sizeof(line));
	worker_deaths(log, s->name, killed, sizeof(killed));
	report_mode(x, s, errs, line);
	CHECK(!killed[0], "camera %s: no worker killed by a signal: %s",
	      s->name, killed);
	if (x->may_record)
		printf("     recorded %.0f%% as many frames as the good camera\n",
		       good->sealed > 0 ? 100.0 * (double)s->sealed /
						  (double)good->sealed :
					  0.0);
	if (x->may_record && !s->restarts)
		CHECK(s->sealed > 0,
		      "camera %s: records on (%lld frames sealed)", s->name,
		      (long long)s->sealed);
	CHECK(err_fit || (s->restarts >= 1 && log_fit),
	      "camera %s: reported with a fitting reason (status %s, %lld restarts)",
	      s->name, errs[0] ? errs : "never said anything",
	      (long long)s->restarts);
	CHECK(log_fit,
	      "camera %s: moatd's log names it with a fitting reason (%s)",
	      s->name, line[0] ? line : "no line at all");
	if (log_fit == 1 || err_fit == 1)
		printf("     KNOWN ISSUE: says \"%s\" where it should say \"%s\"\n",
		       x->known, x->why[0]);
}

/* Access units the camera sent to its clients in mode, by its log. */
static long long sent_frames(const struct hub *h, const char *mode)
{
	char path[300], pat[64];
	size_t len;
	char *log, *p;
	long long sum = 0, n;

	snprintf(path, sizeof(path), "%s/hostilecam.log", h->dir);
	snprintf(pat, sizeof(pat), " %s: ", mode);
	log = (char *)read_all(path, &len);
	for (p = log; p && (p = strstr(p, pat)); p++) {
		const char *f = strstr(p, " request(s)");

		f = f ? strstr(f, " response(s), ") : NULL;
		if (f && sscanf(f, " response(s), %lld frame(s)", &n) == 1)
			sum += n;
	}
	free(log);
	return sum;
}

/* A burst at 10x the rate: each frame recorded, or counted as dropped. */
static void check_burst(const struct hub *h, const struct seen *s)
{
	long long sent = sent_frames(h, "burst");
	long long got = (long long)(s->sealed + s->drops);

	printf("     burst: the camera sent %lld frames; moat sealed %lld and counted %lld dropped\n",
	       sent, (long long)s->sealed, (long long)s->drops);
	CHECK(sent > 0 && got * 10 >= sent * 9,
	      "camera burst: every frame is recorded or counted as dropped (%lld of %lld)",
	      got, sent);
}

/* The control and the good RTSP camera: more frames in every window. */
static void check_records(const struct seen *s)
{
	int bad = -1;

	for (int w = WINDOW; w < POLLS; w += WINDOW)
		if (s->sealed_at[w] <= s->sealed_at[w - WINDOW] && bad < 0)
			bad = w;
	CHECK(bad < 0,
	      "camera %s records throughout: frames sealed rose in every %d s window (stuck at %lld from poll %d to %d)",
	      s->name, WINDOW, bad < 0 ? 0LL : (long long)s->sealed_at[bad],
	      bad - WINDOW, bad);
	printf("camera %-8s sealed %lld frames, %lld restarts\n", s->name,
	       (long long)s->sealed, (long long)s->restarts);
}

/* Polls moatd's status once a second; each answer within 2 s. */
static void watch(const struct hub *h, struct seen *seen)
{
	uint64_t worst = 0, start = now_ms();
	int missed = 0;

	for (int poll = 0; poll < POLLS && !interrupted; poll++) {
		uint64_t t0 = now_ms(), dt;
		char *st = NULL;

		/* moatd's answer itself, over its control socket: starting
		 * moatctl (140 libraries to map) on two loaded cores can take
		 * longer than moatd does */
		if (ctl_request(h->sock, "status json", &st) || !st ||
		    !strchr(st, '{')) {
			free(st);
			st = NULL;
		}

		dt = now_ms() - t0;
		worst = dt > worst ? dt : worst;
		CHECK(st && dt <= STATUS_MAX_MS,
		      "moatd answers status at %.0f s (%s in %llu ms)",
		      (double)(t0 - start) / 1000, st ? "answered" : "nothing",
		      (unsigned long long)dt);
		if (!st)
			missed++;
		for (size_t i = 0; st && i < N_CAMS; i++)
			observe(st, &seen[i], poll);
		free(st);
		if (now_ms() < t0 + 1000)
			usleep((useconds_t)(t0 + 1000 - now_ms()) * 1000);
	}
	printf("status: %d polls, slowest answer %llu ms, %d unanswered\n",
	       POLLS, (unsigned long long)worst, missed);
}

/* New seccomp kill lines since before, reported; none may be moatd's. */
static void check_seccomp(const char *before, pid_t moatd)
{
	char *after = seccomp_lines(), pat[32];
	const char *p = after;
	size_t skip = before ? strlen(before) : 0;

	if (!after)
		return;
	/* dmesg only grows (until its ring wraps): the new lines follow */
	p = strlen(after) >= skip && !strncmp(after, before, skip) ?
		    after + skip :
		    after;
	if (*p)
		printf("seccomp kills during the test:\n%s", p);
	else
		printf("seccomp kills during the test: none\n");
	snprintf(pat, sizeof(pat), " pid=%d ", (int)moatd);
	CHECK(!strstr(p, pat), "moatd itself was not killed by seccomp");
	free(after);
}

/* The viewer opens every stream; the control camera's among them. */
static void check_fetch(const struct hub *h, int64_t control_streams)
{
	char cmd[2048], out[8192], path[300];
	long long streams = -1, opened = -1, early = -1, refused = -1;
	const char *j;
	int rc;

	snprintf(path, sizeof(path), "%s/view.h264", h->dir);
	snprintf(
		cmd, sizeof(cmd),
		"%s/moat-view fetch --identity %s --relay %s --out %s --json 2>&1",
		h->bin, h->ident, h->relay_addr, path);
	rc = run_cmd(cmd, out, sizeof(out));
	j = strstr(out, "{\"streams\"");
	if (j)
		sscanf(j,
		       "{\"streams\": %lld, \"opened\": %lld, \"ended_early\": %lld, \"refused\": %lld",
		       &streams, &opened, &early, &refused);
	printf("viewer: %s", j ? j : out);
	CHECK(rc == 0 && refused == 0,
	      "the viewer verifies every stream (exit %d): %.400s", rc, out);
	CHECK(opened >= control_streams && control_streams >= 1 &&
		      opened + early == streams,
	      "the viewer opens the streams (%lld of %lld opened, %lld ended early; the control camera made %lld)",
	      opened, streams, early, (long long)control_streams);
}

static void run(struct hub *h, struct seen *seen)
{
	char *log, *before = seccomp_lines(), path[300];
	size_t log_len;
	pid_t moatd;
	int64_t control_streams;
	char *st;

	if (hub_start_relay(h) || hub_start_moatd(h)) {
		CHECK(0, "the relay and moatd start");
		free(before);
		return;
	}
	moatd = h->moatd;
	watch(h, seen);
	if (interrupted) {
		CHECK(0, "the test ran to the end (it was interrupted)");
		free(before);
		return;
	}
	st = hub_status(h);
	control_streams = json_num(st, "control", "streams");
	free(st);
	CHECK(moatd > 0 && kill(moatd, 0) == 0 &&
		      waitpid(moatd, NULL, WNOHANG) == 0,
	      "moatd (pid %d) is alive after %d s of hostile cameras",
	      (int)moatd, POLLS);
	CHECK(!hub_stop(&h->moatd, SIGTERM, 15000), "moatd stops on SIGTERM");
	usleep(300000); /* the camera logs each connection as it ends */
	snprintf(path, sizeof(path), "%s/moatd.log", h->dir);
	log = (char *)read_all(path, &log_len);
	for (size_t i = 0; i < N_CAMS; i++) {
		if (i < N_GOOD)
			check_records(&seen[i]);
		else
			check_mode(&expects[i - N_GOOD], &seen[i], &seen[1], log);
		if (i >= N_GOOD && !strcmp(seen[i].name, "burst"))
			check_burst(h, &seen[i]);
	}
	CHECK(seen[2].restarts == 0 && !seen[2].n_err,
	      "big-frame: its 3 MiB keyframe recorded, no error, no restart (%lld restarts)",
	      (long long)seen[2].restarts);
	check_seccomp(before, moatd);
	check_fetch(h, control_streams);
	free(log);
	free(before);
}

int main(void)
{
	static struct seen seen[N_CAMS];
	char lines[8192];
	const char *clip = test_clip_path();
	uint64_t t0 = now_ms();
	struct hub h = { 0 };

	if (geteuid())
		test_skip(
			"moatd and network namespaces need root (run the suite with sudo)");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	CHECK(access(clip, R_OK) == 0, "clip %s readable", clip);
	seen[0].name = "control";
	seen[1].name = "good";
	seen[2].name = "big-frame";
	for (size_t i = 0; i < N_MODES; i++)
		seen[i + N_GOOD].name = expects[i].mode;
	if (camnet_up(&net, "hostile", "mh", 78)) {
		CHECK(0, "a network namespace for the cameras");
		goto out;
	}
	conf_lines(net.n, clip, lines, sizeof(lines));
	CHECK(!hub_init(&h, "hostile", lines), "hub folder, keys, config");
	if (camera_up(&h, clip)) {
		CHECK(0, "moat-hostilecam listens in its namespace");
		goto out;
	}
	run(&h, seen);
out:
	camnet_down(&net);
	hub_cleanup(&h, check_failures != 0);
	printf("test_hostile: %.1f s\n", (double)(now_ms() - t0) / 1000);
	return test_done("test_hostile");
}
