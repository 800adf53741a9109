// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench report: every benchmark in one run, each as a child
 * (`moat-bench X --json`, the same code a person runs by hand), with a
 * progress line on stderr; then report.md and the charts in --out.
 * --quick is about a minute; --tiny (not in --help) is the test's
 * shortest form, whose figures mean little.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crypto/stream.h"
#include "tools/bench/report.h"

const char *const rep_step_name[RS_N] = {
	"seal",	 "peers",	 "pipeline",  "uplink",
	"relay", "encode-1080p", "encode-4k",
};

static const char *const step_label[RS_N] = {
	"sealing by record size", "memcpy, OpenSSL EVP, moat, age",
	"the hub, N cameras",	  "the uplink's send and gate",
	"relay fan-out",	  "libx264 1080p + seal",
	"libx264 4K + seal",
};

/* The arguments of each step in each mode: full, quick, tiny. */
static const char *const step_args[RS_N][3] = {
	[RS_SEAL] = { "--runs 7 --seconds 0.2", "--runs 3 --seconds 0.05",
		      "--runs 2 --seconds 0.02 --sizes 4k,64k,1m" },
	[RS_PEERS] = { "--rounds 7 --seconds 0.2 --mb 64",
		       "--rounds 3 --seconds 0.1 --mb 16",
		       "--rounds 2 --seconds 0.02 --mb 4" },
	[RS_PIPELINE] = { "--cameras 1,4,16,64 --seconds 10",
			  "--cameras 1,4,16 --seconds 3 --no-extra-copy",
			  "--cameras 1,2 --seconds 2 --no-extra-copy" },
	[RS_UPLINK] = { "--seconds 4 --rounds 3", "--seconds 1 --rounds 2",
			"--seconds 1 --rounds 1" },
	[RS_RELAY] = { "--viewers 1,10,100,1000 --seconds 6",
		       "--viewers 1,10,100 --seconds 2",
		       "--viewers 1,10 --seconds 2" },
	[RS_ENC1080] = { "--synthetic --frames 150", "--synthetic --frames 30",
			 "--synthetic --frames 8" },
	[RS_ENC4K] = { "--synthetic --size 3840x2160 --frames 60",
		       "--synthetic --size 3840x2160 --frames 12",
		       "--synthetic --size 3840x2160 --frames 4" },
};

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* "moat-bench SUB ARGS --json [--clip C] [--no-policy]" into r->args. */
static void step_cmd(const struct rep *rep, enum rep_step s, char *out,
		     size_t len)
{
	const char *sub =
		s == RS_ENC1080 || s == RS_ENC4K ? "encode" : rep_step_name[s];

	snprintf(out, len, "moat-bench %s %s --json", sub,
		 step_args[s][rep->mode]);
	if (s == RS_SEAL)
		snprintf(out + strlen(out), len - strlen(out), " --suite %s%s",
			 rep->cipher,
			 rep->mode == RM_TINY ?
				 "" :
				 " --sizes 1k,4k,16k,64k,256k,1m");
	if (s != RS_SEAL && s != RS_ENC1080 && s != RS_ENC4K)
		snprintf(out + strlen(out), len - strlen(out), " --clip %s",
			 rep->clip);
	if (s == RS_PIPELINE && rep->no_policy)
		snprintf(out + strlen(out), len - strlen(out), " --no-policy");
}

/* The command line split at spaces (no quoting: paths without spaces). */
static int split(char *cmd, char **argv, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(cmd, " ", &save);
	     t && n < max - 1; t = strtok_r(NULL, " ", &save))
		argv[n++] = t;
	argv[n] = NULL;
	return n;
}

static void progress(const struct rep *rep, int k, double t, const char *end)
{
	bool tty = isatty(STDERR_FILENO);

	if (!tty && !end)
		return;
	fprintf(stderr, "%s[%d/%d] %s ... %.0f s%s", tty ? "\r" : "", k + 1,
		RS_N, step_label[k], t, end ? end : "   ");
}

static pid_t spawn(const struct rep *rep, enum rep_step s, char *cmd, int *out)
{
	char log[PATH_MAX + 64], *argv[40];
	int p[2];
	pid_t pid;

	snprintf(log, sizeof(log), "%s/logs/%s.log", rep->out,
		 rep_step_name[s]);
	split(cmd, argv, 40);
	if (pipe2(p, O_CLOEXEC))
		return -1;
	pid = fork();
	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		dup2(p[1], 1);
		if (fd >= 0)
			dup2(fd, 2);
		argv[0] = (char *)rep->self;
		execv(rep->self, argv);
		_exit(127);
	}
	close(p[1]);
	*out = p[0];
	return pid;
}

/* Appends what fd has to *buf; 0 at the end, 1 for more, -errno. */
static int slurp(int fd, char **buf, size_t *len, size_t *cap)
{
	ssize_t n;

	if (*cap - *len < 4096) {
		char *b = realloc(*buf, *cap * 2);

		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap *= 2;
	}
	n = read(fd, *buf + *len, *cap - *len - 1);
	if (n < 0)
		return errno == EINTR ? 1 : -errno;
	*len += (size_t)n;
	(*buf)[*len] = '\0';
	return n > 0;
}

static void run_step(struct rep *rep, enum rep_step s)
{
	struct rep_result *r = &rep->r[s];
	char cmd[sizeof(r->args)], why[128] = "";
	size_t len = 0, cap = 1 << 16;
	double t0 = mono();
	int fd, st = 0, more = 1;
	pid_t pid;

	step_cmd(rep, s, r->args, sizeof(r->args));
	snprintf(cmd, sizeof(cmd), "%s", r->args);
	r->text = malloc(cap);
	pid = r->text ? spawn(rep, s, cmd, &fd) : -1;
	if (pid < 0) {
		r->skipped = "could not start";
		return;
	}
	r->text[0] = '\0';
	while (more > 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		progress(rep, s, mono() - t0, NULL);
		if (poll(&p, 1, 1000) > 0)
			more = slurp(fd, &r->text, &len, &cap);
	}
	close(fd);
	waitpid(pid, &st, 0);
	r->secs = mono() - t0;
	r->json = bj_parse(r->text, len, why, sizeof(why));
	r->ok = r->json && WIFEXITED(st) && !WEXITSTATUS(st);
	progress(rep, s, r->secs, r->ok ? ", done\n" : ", FAILED\n");
	if (!r->ok)
		fprintf(stderr, "  %s: exit %d%s%s; see %s/logs/%s.log\n",
			r->args, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
			why[0] ? ", output: " : "", why, rep->out,
			rep_step_name[s]);
}

static void tool_version(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");

	snprintf(out, len, "not installed");
	if (f && fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	if (f)
		pclose(f);
	if (!out[0])
		snprintf(out, len, "not installed");
}

static void machine_facts(struct rep *rep)
{
	enum seal_suite suite = SEAL_SUITE_AES256GCM;
	const char *why;
	time_t now = time(NULL);

	bench_machine(&rep->m);
	seal_suite_default(&suite, &why);
	snprintf(rep->cipher, sizeof(rep->cipher), "%s",
		 seal_suite_name(suite));
	strftime(rep->when, sizeof(rep->when), "%Y-%m-%d %H:%M UTC",
		 gmtime(&now));
	tool_version("age --version 2>/dev/null", rep->age_ver,
		     sizeof(rep->age_ver));
	tool_version("gst-launch-1.0 --version 2>/dev/null | sed -n 2p",
		     rep->gst_ver, sizeof(rep->gst_ver));
	tool_version("gnuplot --version 2>/dev/null", rep->gnuplot_ver,
		     sizeof(rep->gnuplot_ver));
}

static void print_json(const struct rep *rep)
{
	printf("{\"bench\": \"report\", \"mode\": \"%s\", \"when\": \"%s\", \"cipher\": \"%s\", \"machine\": ",
	       rep->mode == RM_FULL  ? "full" :
	       rep->mode == RM_QUICK ? "quick" :
				       "tiny",
	       rep->when, rep->cipher);
	bench_machine_json(stdout, &rep->m);
	printf(", \"out\": \"%s\", \"capacity\": [", rep->out);
	for (int i = 0; i < 2; i++)
		printf("%s{\"what\": \"%s\", \"mbit_per_s\": %.0f, \"cameras_per_core\": %.1f, \"limit\": \"%s\", "
		       "\"per_frame_core\": %.5f, \"seal_core\": %.5f, \"send_core\": %.5f, \"encode_core\": %.5f}",
		       i ? ", " : "", rep->cap[i].what, rep->cap[i].mbit,
		       rep->cap[i].cameras, rep->cap[i].limit,
		       rep->cap[i].per_frame, rep->cap[i].seal,
		       rep->cap[i].send, rep->cap[i].encode);
	printf("], \"steps\": {");
	for (int s = 0; s < RS_N; s++) {
		const struct rep_result *r = &rep->r[s];

		printf("%s\n\"%s\": {\"ok\": %s, \"seconds\": %.1f, \"command\": \"%s\", \"skipped\": \"%s\", \"result\": ",
		       s ? "," : "", rep_step_name[s], r->ok ? "true" : "false",
		       r->secs, r->args, r->skipped ? r->skipped : "");
		if (r->ok)
			fputs(r->text, stdout);
		else
			fputs("null", stdout);
		printf("}");
	}
	printf("\n}}\n");
}

static const char report_usage[] =
	"Usage: moat-bench report [--quick] [--out DIR] [--no-policy] [--json]\n"
	"                         [--clip FILE]\n\n"
	"Runs every benchmark (seal, peers, pipeline, uplink, relay, encode\n"
	"--synthetic at 1080p and 4K), each as `moat-bench X --json`, with a\n"
	"progress line on stderr, and writes DIR/report.md and its charts\n"
	"(throughput by record size, CPU per camera by camera count, latency,\n"
	"the peers side by side; PNG, with gnuplot) and DIR/logs/.\n\n"
	"  --quick      about a minute: fewer runs, camera counts and viewers\n"
	"               (without it: several minutes, up to 64 cameras and\n"
	"               1000 viewers)\n"
	"  --out DIR    where the report goes (default ./moat-report)\n"
	"  --no-policy  run the pipeline without the hub's network policy\n"
	"  --json       the whole run as one JSON object on stdout\n"
	"  --clip FILE  the 1080p30 H.264 clip (default: the build's\n"
	"               media/bench-1080p.h264, made with libx264 if missing)\n\n"
	"pipeline and uplink need root; without it they are skipped and said so.\n";

static int parse(struct rep *rep, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "quick", no_argument, NULL, 'q' },
		{ "tiny", no_argument, NULL, 't' },
		{ "out", required_argument, NULL, 'o' },
		{ "no-policy", no_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "clip", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *out = "moat-report", *clip = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			rep->mode = RM_QUICK;
			break;
		case 't':
			rep->mode = RM_TINY;
			break;
		case 'o':
			out = optarg;
			break;
		case 'P':
			rep->no_policy = true;
			break;
		case 'j':
			rep->json = true;
			break;
		case 'c':
			clip = optarg;
			break;
		case 'h':
			fputs(report_usage, stdout);
			exit(0);
		default:
			fputs(report_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(report_usage, stderr);
		return 2;
	}
	snprintf(rep->out, sizeof(rep->out), "%s", out);
	if (clip)
		snprintf(rep->clip, sizeof(rep->clip), "%s", clip);
	return 0;
}

/* This program, and the build's clip beside its bin/ unless given. */
static int find_self(struct rep *rep)
{
	ssize_t n =
		readlink("/proc/self/exe", rep->self, sizeof(rep->self) - 1);
	char dir[PATH_MAX];

	if (n <= 0)
		return -errno;
	rep->self[n] = '\0';
	if (rep->clip[0])
		return 0;
	snprintf(dir, sizeof(dir), "%s", rep->self);
	*strrchr(dir, '/') = '\0';
	if (strrchr(dir, '/'))
		*strrchr(dir, '/') = '\0';
	if (strlen(dir) + 32 > sizeof(rep->clip))
		return -ENAMETOOLONG;
	snprintf(rep->clip, sizeof(rep->clip), "%s/media/bench-1080p.h264",
		 dir);
	return 0;
}

static int make_out(struct rep *rep)
{
	char logs[PATH_MAX + 8];

	if (mkdir(rep->out, 0755) && errno != EEXIST)
		return -errno;
	snprintf(logs, sizeof(logs), "%s/logs", rep->out);
	if (mkdir(logs, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

int bench_report(int argc, char **argv)
{
	static struct rep rep;
	char md[PATH_MAX + 16];
	double t0 = mono();
	int ret = parse(&rep, argc, argv), bad = 0;

	if (ret)
		return ret;
	if (find_self(&rep) || make_out(&rep)) {
		fprintf(stderr, "moat-bench report: cannot make %s: %s\n",
			rep.out, strerror(errno));
		return 1;
	}
	machine_facts(&rep);
	signal(SIGPIPE, SIG_IGN);
	/* the clip once, before the clock of any step */
	if (bench_make_clip(rep.clip)) {
		fprintf(stderr,
			"moat-bench report: cannot make the clip %s (ffmpeg with libx264?)\n",
			rep.clip);
		return 1;
	}
	if (!geteuid() && !system("nft list table inet moat >/dev/null 2>&1"))
		fprintf(stderr,
			"moat-bench report: a moat network policy (nftables table inet moat) is in force on this machine: it limits the uplink's user to its own relay, so the pipeline's runs may send nothing\n");
	for (int s = 0; s < RS_N; s++) {
		if ((s == RS_PIPELINE || s == RS_UPLINK) && geteuid()) {
			rep.r[s].skipped = "needs root";
			fprintf(stderr, "[%d/%d] %s ... skipped: needs root\n",
				s + 1, RS_N, step_label[s]);
			continue;
		}
		run_step(&rep, (enum rep_step)s);
		bad += !rep.r[s].ok;
	}
	rep.total_secs = mono() - t0;
	rep_capacity(&rep);
	snprintf(md, sizeof(md), "%s/report.md", rep.out);
	if (rep_charts(&rep)) {
		fprintf(stderr,
			"moat-bench report: the charts failed (gnuplot: apt-get install gnuplot-nox); see %s/logs/charts.log\n",
			rep.out);
		bad++;
	}
	if (rep_write_md(&rep, md)) {
		fprintf(stderr, "moat-bench report: cannot write %s\n", md);
		bad++;
	}
	if (rep.json)
		print_json(&rep);
	fprintf(stderr, "moat-bench report: %s and its charts in %.0f s%s\n",
		md, rep.total_secs, bad ? " (with failures: see above)" : "");
	for (int s = 0; s < RS_N; s++) {
		bj_free(rep.r[s].json);
		free(rep.r[s].text);
	}
	return bad ? 1 : 0;
}
