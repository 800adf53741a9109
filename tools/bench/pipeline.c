// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench pipeline: N cameras of 1080p30 H.264 at 8 Mb/s (a clip made
 * with libx264 in constant-bitrate mode, replayed in real time by the file
 * camera) through the whole hub (moatd: workers, sealer, uplink) to a
 * relay on loopback. Measured in the same run, for the same bytes: the
 * pipeline with one extra copy of every frame, TLS 1.3 (OpenSSL) over
 * loopback, and GStreamer's srtpenc with AES-256-GCM. Figures are per CPU
 * second, taken from /proc of the processes that did the work.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <linux/magic.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/annexb.h"
#include "common/fileio.h"
#include "common/sbuf.h"
#include "policy/cgroup.h"
#include "tools/bench/bench.h"

enum { MAX_N = 64, MAX_PIDS = MAX_N + 4 };

struct popts {
	unsigned int cams[8];
	size_t n_cams;
	double seconds;
	const char *clip;
	bool json, no_srtp, no_tls, no_policy, no_extra_copy, no_rt;
	const char *relay_dir; /* where the relay stores; NULL: the run's folder */
};

/* CPU by role: the hub's (where a camera's share goes), then the
 * relay's, measured beside it and never counted as moat's. */
enum {
	R_MOATD,
	R_WORKERS,
	R_SEALER,
	R_UPLINK,
	N_HUB_ROLES,
	R_RELAY = N_HUB_ROLES,
	N_ROLES
};
static const char *const cpu_role_name[N_ROLES] = { "moatd", "workers",
						    "sealer", "uplink",
						    "relay" };

/* Quantiles of the seal-and-send latency given in --json (a CDF). */
static const double lat_q[] = { 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
				0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999 };
enum { N_LAT_Q = sizeof(lat_q) / sizeof(lat_q[0]) };

struct prun {
	unsigned int n;
	bool extra_copy;
	double secs, cpu_hub; /* cpu_hub: the sum of the hub's roles */
	double frames, bytes;
	long long lat50, lat99, cap50, cap99, copies, zc, zc_copied;
	double pss_mib, drops;
	double cpu_med, cpu_lo, cpu_hi; /* CPU per camera in 1-s windows */
	double cpu_role[N_ROLES]; /* CPU seconds of each in the window */
	long long lat_q[N_LAT_Q];
	bool ok;
};

static char bindir[PATH_MAX];

/* Ctrl-C or SIGTERM: the run in progress stops and cleans up (its hub's
 * policy, cgroup, pins and folders, the relay's store), then the bench
 * ends. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
	bench_stop = 1;
}

/* What the bench says and returns when interrupted (128 + the signal,
 * as a shell would report it). */
static int interrupted_exit(const char *what, void *buf)
{
	fprintf(stderr, "moat-bench pipeline: interrupted (%s)%s\n",
		strsignal(interrupted), what);
	free(buf);
	return 128 + interrupted;
}

/* Sleeps ms, or less once interrupted. */
static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int sh(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int st;

	if (!f)
		return -1;
	if (out) {
		n = fread(out, 1, len - 1, f);
		out[n] = 0;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The 1080p30 8 Mb/s clip: made once, with libx264 in CBR (filler NALs). */
int bench_make_clip(const char *path)
{
	char cmd[PATH_MAX + 512];
	struct stat st;

	if (!stat(path, &st) && st.st_size > 1000000)
		return 0;
	fprintf(stderr, "moat-bench: making %s (1080p30, 8 Mb/s CBR, libx264)...\n",
		path);
	/* (on a fresh clone its folder is not there yet) */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p \"$(dirname '%s')\" && "
		 "ffmpeg -loglevel error -y -f lavfi -i testsrc2=size=1920x1080:rate=30 "
		 "-t 4 -vf noise=alls=12:allf=t -c:v libx264 -preset ultrafast "
		 "-b:v 8M -minrate 8M -maxrate 8M -bufsize 8M -x264-params nal-hrd=cbr "
		 "-g 30 -bf 0 -pix_fmt yuv420p -f h264 '%s.tmp' && mv '%s.tmp' '%s'",
		 path, path, path, path);
	return sh(cmd, NULL, 0) ? -EIO : 0;
}


static double proc_pss_kib(pid_t pid)
{
	char path[64], line[256];
	double kib = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "Pss:", 4))
			kib = atof(line + 4);
	if (f)
		fclose(f);
	return kib;
}

/* Sums every "key": n in the JSON after section (all cameras). */
static double json_sum(const char *j, const char *section, const char *key)
{
	char pat[64];
	const char *p = strstr(j, section), *end = NULL;
	double sum = 0;

	if (!p)
		return 0;
	if (!strcmp(section, "\"cameras\""))
		end = strstr(p, "\"sealer\"");
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	while ((p = strstr(p, pat)) && (!end || p < end)) {
		p += strlen(pat);
		sum += atof(p);
		if (!end)
			break;
	}
	return sum;
}

/* A latency histogram from the status ("NAME": [[us, n], ...]). */
static void lat_hist(const char *j, const char *name, double *h, size_t n)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\"%s\": [", name);
	p = strstr(j, key);
	memset(h, 0, n * sizeof(*h));
	if (!p)
		return;
	p += strlen(key);
	while ((p = strchr(p, '[')) && p < strchr(p, ']') + 1) {
		unsigned long us = 0, c = 0;

		if (sscanf(p, "[%lu, %lu]", &us, &c) != 2)
			break;
		if (us / 10 - 1 < n)
			h[us / 10 - 1] = (double)c;
		p = strchr(p, ']');
		if (!p || p[1] != ',')
			break;
		p++;
	}
}

/* Percentile (in us) of the difference of two histograms. */
static long long lat_pct(const double *a, const double *b, size_t n, double q)
{
	double total = 0, acc = 0;

	for (size_t i = 0; i < n; i++)
		total += b[i] - a[i];
	for (size_t i = 0; i < n && total > 0; i++) {
		acc += b[i] - a[i];
		if (acc >= total * q)
			return (long long)(i + 1) * 10;
	}
	return -1;
}

/* A role's CPU in the window, in % of one core (all its processes). */
static double role_pct(const struct prun *r, int role)
{
	return r->secs > 0 ? r->cpu_role[role] / r->secs * 100 : 0;
}

/* Under a run's row: where its CPU went, and the relay's beside it. */
static void role_line(const struct prun *r)
{
	printf("%15s", "% of a core:");
	for (int k = 0; k < N_HUB_ROLES; k++)
		printf(" %s %.1f%s", cpu_role_name[k], role_pct(r, k),
		       k < N_HUB_ROLES - 1 ? "," : "");
	printf("; %s %.1f (not counted)\n", cpu_role_name[R_RELAY],
	       role_pct(r, R_RELAY));
}

/* Every hub process: moatd and the pids its status names, with each
 * one's role (the cameras come before the sealer, the sealer before the
 * uplink). */
static size_t hub_pids(pid_t moatd, const char *j, pid_t *pids, int *roles)
{
	const char *p = j, *sealer = strstr(j, "\"sealer\": {"),
		   *uplink = strstr(j, "\"uplink\": {");
	size_t n = 0;

	roles[n] = R_MOATD;
	pids[n++] = moatd;
	while (n < MAX_PIDS && (p = strstr(p, "\"pid\": "))) {
		p += 7;
		if (atoi(p) <= 0)
			continue;
		roles[n] = uplink && p > uplink ? R_UPLINK :
			   sealer && p > sealer ? R_SEALER :
						  R_WORKERS;
		pids[n++] = atoi(p);
	}
	return n;
}

/*
 * Sleeps secs in windows of about a second, noting the hub's CPU per
 * camera (% of a core) in each: the spread of the run.
 */
static void hub_windows(const pid_t *pids, size_t np, double secs,
			unsigned int n, struct prun *r)
{
	int w = secs >= 2 ? (int)secs : 1;
	double c0 = 0, t0 = now_s(), pcts[64];

	w = w > 64 ? 64 : w;

	for (size_t i = 0; i < np; i++)
		c0 += bench_proc_cpu(pids[i]);
	r->cpu_lo = 1e9;
	r->cpu_hi = 0;
	for (int k = 0; k < w && !interrupted; k++) {
		double c1 = 0, t1, pct;

		msleep((int)(secs * 1000 / w));
		t1 = now_s();
		for (size_t i = 0; i < np; i++)
			c1 += bench_proc_cpu(pids[i]);
		pct = (c1 - c0) / (t1 - t0) / n * 100;
		pcts[k] = pct;
		r->cpu_lo = pct < r->cpu_lo ? pct : r->cpu_lo;
		r->cpu_hi = pct > r->cpu_hi ? pct : r->cpu_hi;
		c0 = c1;
		t0 = t1;
	}
	r->cpu_med = interrupted ? 0 : bench_median(pcts, (size_t)w);
}

/* Until the relay listens (at most 5 s): an uplink that finds no relay
 * backs off, and the warm-up would not cover it on a busy machine. */
static void relay_wait(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	for (int i = 0; i < 250; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int ok = fd >= 0 &&
			 !connect(fd, (struct sockaddr *)&sa, sizeof(sa));

		if (fd >= 0)
			close(fd);
		if (ok)
			return;
		msleep(20);
	}
}

static bool stagger = true;

static pid_t spawn(char *const argv[], const char *log, bool extra_copy)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (extra_copy)
			setenv("MOAT_BENCH_EXTRA_COPY", "1", 1);
		if (stagger)
			setenv("MOAT_BENCH_STAGGER", "1", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static unsigned int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	unsigned int port = 0;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    !getsockname(fd, (struct sockaddr *)&sa, &l))
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int rm_tree(const char *dir)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return sh(cmd, NULL, 0);
}

static int run_hub(const struct popts *o, unsigned int n, bool extra_copy,
		   struct prun *r)
{
	static char js[1 << 18], js0[1 << 18];
	char dir[] = "/tmp/moat-bench-XXXXXX", path[PATH_MAX], cmd[4 * PATH_MAX];
	char bin[PATH_MAX + 16], conf[PATH_MAX], sock[PATH_MAX], listen[32],
		rdir[PATH_MAX], log[PATH_MAX];
	char *relay_argv[] = { bin, "--dir", rdir, "--listen", listen, NULL };
	pid_t relay, moatd, pids[MAX_PIDS];
	int roles[MAX_PIDS];
	double t0, t1;
	unsigned int port = free_port();
	size_t np;
	FILE *f;
	int ret = -1;

	static struct cfg none; /* cgroup = auto */
	char cg_base[CG_PATH_MAX];

	if (cg_root(&none, cg_base))
		return -1;
	memset(r, 0, sizeof(*r));
	r->n = n;
	r->extra_copy = extra_copy;
	if (interrupted || !mkdtemp(dir))
		return -1;
	chmod(dir, 0755);
	snprintf(cmd, sizeof(cmd),
		 "'%s/moat-view' pair --hub-keys %s/keys --out %s/v.key >/dev/null",
		 bindir, dir, dir);
	if (sh(cmd, NULL, 0))
		goto out;
	snprintf(conf, sizeof(conf), "%s/moat.conf", dir);
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	if (o->relay_dir)
		snprintf(rdir, sizeof(rdir), "%s/moat-bench-relay-%d-%u",
			 o->relay_dir, (int)getpid(), n);
	else
		snprintf(rdir, sizeof(rdir), "%s/relay", dir);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	f = fopen(conf, "w");
	if (!f)
		goto out;
	/* the network policy as on a real hub, in a cgroup and bpffs folder
	 * of this run's own, removed after it */
	fprintf(f,
		"[hub]\nkeys = %s/keys\nspool = %s/spool\ncontrol = %s\nspool_quota = 4G\n"
		"cgroup = %s-bench-%d\nbpf_pin = /sys/fs/bpf/moat-bench-%d\npolicy = %s\n"
		"realtime = %s\n[relay]\naddress = 127.0.0.1\nport = %u\n",
		dir, dir, sock, cg_base, (int)getpid(), (int)getpid(),
		o->no_policy ? "off" : "enforce", o->no_rt ? "no" : "yes", port);
	for (unsigned int i = 0; i < n; i++)
		fprintf(f, "[camera cam%u]\nsource = file:%s\npace = realtime\nloop = yes\n",
			i, o->clip);
	fclose(f);
	snprintf(bin, sizeof(bin), "%s/moat-relay", bindir);
	snprintf(log, sizeof(log), "%s/relay.log", dir);
	relay = spawn(relay_argv, log, false);
	relay_wait(port);
	{
		char *argv[] = { bin, "--config", conf, NULL };

		snprintf(bin, sizeof(bin), "%s/moatd", bindir);
		snprintf(log, sizeof(log), "%s/moatd.log", dir);
		moatd = spawn(argv, log, extra_copy);
	}
	snprintf(cmd, sizeof(cmd), "'%s/moatctl' --socket %s status --json 2>/dev/null",
		 bindir, sock);
	msleep(2000); /* warm up: every camera past its first GOP */
	/* and the uplink sending: at one camera it sometimes sends nothing
	 * for its first seconds (a window then measures no bytes) */
	for (int k = 0; k < 20; k++) {
		if (interrupted || sh(cmd, js0, sizeof(js0)))
			goto stop;
		if (json_sum(js0, "\"uplink\"", "bytes_sent") > 0)
			break;
		msleep(500);
	}
	np = hub_pids(moatd, js0, pids, roles);
	for (size_t i = 0; i < np; i++)
		r->cpu_role[roles[i]] -= bench_proc_cpu(pids[i]);
	r->cpu_role[R_RELAY] -= bench_proc_cpu(relay);
	t0 = now_s();
	hub_windows(pids, np, o->seconds, n, r);
	if (interrupted || sh(cmd, js, sizeof(js)))
		goto stop;
	t1 = now_s();
	for (size_t i = 0; i < np; i++) {
		r->cpu_role[roles[i]] += bench_proc_cpu(pids[i]);
		r->pss_mib += proc_pss_kib(pids[i]) / 1024;
	}
	r->cpu_role[R_RELAY] += bench_proc_cpu(relay);
	for (int k = 0; k < N_HUB_ROLES; k++)
		r->cpu_hub += r->cpu_role[k];
	r->secs = t1 - t0;
	r->frames = json_sum(js, "\"cameras\"", "frames_sealed") -
		    json_sum(js0, "\"cameras\"", "frames_sealed");
	r->bytes = json_sum(js, "\"uplink\"", "bytes_sent") -
		   json_sum(js0, "\"uplink\"", "bytes_sent");
	{
		static double h0[2000], h1[2000];

		lat_hist(js0, "latency_hist", h0, 2000);
		lat_hist(js, "latency_hist", h1, 2000);
		r->lat50 = lat_pct(h0, h1, 2000, 0.50);
		r->lat99 = lat_pct(h0, h1, 2000, 0.99);
		lat_hist(js0, "capture_hist", h0, 2000);
		lat_hist(js, "capture_hist", h1, 2000);
		r->cap50 = lat_pct(h0, h1, 2000, 0.50);
		r->cap99 = lat_pct(h0, h1, 2000, 0.99);
		lat_hist(js0, "latency_hist", h0, 2000);
		lat_hist(js, "latency_hist", h1, 2000);
		for (size_t q = 0; q < N_LAT_Q; q++)
			r->lat_q[q] = lat_pct(h0, h1, 2000, lat_q[q]);
	}
	r->zc = (long long)json_sum(js, "\"uplink\"", "zc_sends");
	r->zc_copied = (long long)json_sum(js, "\"uplink\"", "zc_copied");
	r->drops = json_sum(js, "\"cameras\"", "drops_recorded") -
		   json_sum(js0, "\"cameras\"", "drops_recorded");
	r->copies = (long long)(json_sum(js, "\"sealer\"", "copies") +
				json_sum(js, "\"uplink\"", "copies") -
				json_sum(js0, "\"sealer\"", "copies") -
				json_sum(js0, "\"uplink\"", "copies"));
	/* a run whose uplink sent nothing measured nothing */
	r->ok = r->frames > 0 && r->bytes > 0;
	ret = 0;
stop:
	/* (a fork that failed gave -1: kill(-1) would signal everything) */
	if (moatd > 0) {
		kill(moatd, SIGTERM);
		waitpid(moatd, NULL, 0);
	}
	if (relay > 0) {
		kill(relay, SIGTERM);
		waitpid(relay, NULL, 0);
	}
	snprintf(cmd, sizeof(cmd), "'%s/moatctl' --config %s policy remove >/dev/null 2>&1",
		 bindir, conf);
	sh(cmd, NULL, 0);
out:
	if ((ret || !r->ok) && !interrupted) {
		snprintf(cmd, sizeof(cmd), "tail -n 5 %s/moatd.log %s/relay.log >&2", dir,
			 dir);
		sh(cmd, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s", dir);
	rm_tree(path);
	if (o->relay_dir)
		rm_tree(rdir);
	return ret;
}

/* ---- GStreamer srtpenc, AES-256-GCM ---- */

/* Bytes of H.264 per CPU second through h264parse, rtph264pay and srtpenc
 * to a UDP socket on loopback; -1 if GStreamer is not there. */
static double srtp_run(const char *clip, int loops, double *bytes)
{
	char list[PATH_MAX + 64], cmd[4 * PATH_MAX];
	struct stat st;
	double cpu;
	FILE *f;

	snprintf(list, sizeof(list), "/tmp/moat-bench-srtp-%d.h264", getpid());
	f = fopen(list, "w");
	if (!f || stat(clip, &st))
		return -1;
	fclose(f);
	/* the clip back to back, as one long camera stream */
	snprintf(cmd, sizeof(cmd), "for i in $(seq %d); do cat '%s'; done > '%s'",
		 loops, clip, list);
	if (sh(cmd, NULL, 0)) {
		unlink(list);
		return -1;
	}
	*bytes = (double)st.st_size * loops;
	cpu = bench_srtp_file(list);
	unlink(list);
	return cpu;
}

/* MemAvailable of /proc/meminfo, in bytes (0 if unknown). */
static uint64_t mem_available(void)
{
	char line[128];
	unsigned long long kib = 0;
	FILE *f = fopen("/proc/meminfo", "re");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return (uint64_t)kib << 10;
}

static int parse(struct popts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cameras", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 's' },
		{ "clip", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "no-srtp", no_argument, NULL, 'S' },
		{ "no-tls", no_argument, NULL, 'T' },
		{ "lockstep", no_argument, NULL, 'L' },
		{ "no-policy", no_argument, NULL, 'P' },
		{ "no-extra-copy", no_argument, NULL, 'X' },
		{ "relay-dir", required_argument, NULL, 'R' },
		{ "no-realtime", no_argument, NULL, 'N' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	char *s, *tok, *save;
	int c;

	o->seconds = 10;
	o->clip = "build/media/bench-1080p.h264";
	o->cams[0] = 1;
	o->cams[1] = 4;
	o->cams[2] = 16;
	o->cams[3] = 64;
	o->n_cams = 4;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->n_cams = 0;
			s = optarg;
			while ((tok = strtok_r(s, ",", &save)) && o->n_cams < 8) {
				s = NULL;
				o->cams[o->n_cams] = (unsigned)atoi(tok);
				if (!o->cams[o->n_cams] || o->cams[o->n_cams] > MAX_N) {
					fprintf(stderr, "moat-bench pipeline: --cameras: %s is not 1..64\n",
						tok);
					return 2;
				}
				o->n_cams++;
			}
			break;
		case 's':
			o->seconds = atof(optarg);
			if (o->seconds < 2 || o->seconds > 600) {
				fprintf(stderr, "moat-bench pipeline: --seconds: 2..600\n");
				return 2;
			}
			break;
		case 'f':
			o->clip = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'S':
			o->no_srtp = true;
			break;
		case 'T':
			o->no_tls = true;
			break;
		case 'L':
			stagger = false;
			break;
		case 'P':
			o->no_policy = true;
			break;
		case 'X':
			o->no_extra_copy = true;
			break;
		case 'N':
			o->no_rt = true;
			break;
		case 'R': {
			struct stat st;

			if (stat(optarg, &st) || !S_ISDIR(st.st_mode)) {
				fprintf(stderr, "moat-bench pipeline: --relay-dir %s: not a folder\n",
					optarg);
				return 2;
			}
			o->relay_dir = optarg;
			break;
		}
		case 'h':
			printf("Usage: moat-bench pipeline [--cameras 1,4,16,64] [--seconds 10]\n"
			       "                          [--clip FILE] [--no-tls] [--no-srtp] [--lockstep]\n"
			       "                          [--no-policy] [--no-extra-copy]\n"
			       "                          [--relay-dir DIR] [--no-realtime] [--json]\n\n"
			       "Runs moatd with N file cameras replaying a 1080p30 8 Mb/s H.264 clip\n"
			       "in real time (made with libx264 on first use) to moat-relay on\n"
			       "loopback, for each N, then the same with one extra copy of every\n"
			       "frame. For the same bytes it measures TLS 1.3 (OpenSSL) and\n"
			       "GStreamer srtpenc (AES-256-GCM). Reports frames/s, MB/s, CPU per\n"
			       "camera (%% of one core; a line under each run splits it between\n"
			       "moatd, the workers, the sealer and the uplink, with the relay's\n"
			       "beside them), latency p50/p99 (seal-and-send: from the\n"
			       "sealer taking the frame to the send's completion; capture-to-send:\n"
			       "from the worker's commit), memory (PSS), copies of frame bytes besides the AEAD, and bytes per CPU\n"
			       "second with ratios against the baselines. Cameras start spread\n"
			       "over one second, as real ones are out of step; --lockstep starts\n"
			       "them together (every keyframe in the same frame: the worst case).\n"
			       "The hub runs with its network policy enforced, as installed;\n"
			       "--no-policy runs it without (policy = off), to see what it costs,\n"
			       "in a network namespace of its own (with loopback only), so that\n"
			       "no firewall of the host (another hub's policy) is in its way.\n"
			       "--no-extra-copy skips the runs with one extra copy of every frame.\n"
			       "The relay stands in for a server elsewhere: its store goes on\n"
			       "/dev/shm (tmpfs) when it and the memory have 4 GiB free, so\n"
			       "that its fsyncs do not share the hub's disk (on a VM they stall\n"
			       "the hub's CPUs too); --relay-dir DIR puts it in DIR instead. The\n"
			       "hub's spool is always on disk, under /tmp.\n"
			       "The sealer and the uplink run at real-time priority, as moatd\n"
			       "starts them by default; --no-realtime runs them at normal\n"
			       "priority (realtime = no), to compare.\n"
			       "Ctrl-C stops the run in progress and removes what it made (its\n"
			       "hub's network policy, its folders, the relay's store); the\n"
			       "bench then ends with status 130 (143 for SIGTERM).\n"
			       "Needs root.\n");
			exit(0);
		default:
			return 2;
		}
	}
	if (!o->relay_dir) {
		struct statfs fs;

		/* 64 cameras store about 1.4 GB in a run */
		if (!statfs("/dev/shm", &fs) && fs.f_type == TMPFS_MAGIC &&
		    !access("/dev/shm", W_OK) &&
		    (uint64_t)fs.f_bavail * fs.f_bsize >= (4ULL << 30) &&
		    mem_available() >= (4ULL << 30))
			o->relay_dir = "/dev/shm";
	}
	return optind == argc ? 0 : 2;
}

int bench_pipeline(int argc, char **argv)
{
	static struct annexb_au au[4096];
	struct prun runs[8][2];
	struct bench_machine m;
	struct popts o = { 0 };
	char clip[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0, n_au = 0;
	struct annexb a;
	ssize_t nb;
	int ret = parse(&o, argc, argv);

	if (ret)
		return ret;
	if (geteuid()) {
		fprintf(stderr, "moat-bench pipeline: needs root (moatd gives each role its own user)\n");
		return 1;
	}
	{
		/* SA_RESTART for the pipes' reads and waits; nanosleep still
		 * returns early, and the waits check the flag */
		struct sigaction sa = { .sa_handler = on_interrupt,
					.sa_flags = SA_RESTART };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	/* without a policy of its own, none of the host's either: another
	 * hub's policy there limits the uplink's user to that hub's relay */
	if (o.no_policy &&
	    (unshare(CLONE_NEWNET) || system("ip link set lo up"))) {
		fprintf(stderr, "moat-bench pipeline: cannot make a network namespace for --no-policy\n");
		return 1;
	}
	nb = readlink("/proc/self/exe", bindir, sizeof(bindir) - 1);
	if (nb <= 0)
		return 1;
	bindir[nb] = 0;
	*strrchr(bindir, '/') = 0;
	if (bench_make_clip(o.clip) || !realpath(o.clip, clip) ||
	    file_read_bounded(clip, 1 << 30, &buf, &len)) {
		fprintf(stderr, "moat-bench pipeline: no clip at %s\n", o.clip);
		return 1;
	}
	o.clip = clip;
	annexb_init(&a, buf, len);
	while (n_au < 4096 && annexb_next_au(&a, &au[n_au]) == 1)
		n_au++;
	bench_machine(&m);
	if (!o.json) {
		bench_machine_print(stdout, &m);
		printf("clip: %s, %zu frames, %.2f Mb/s at 30 fps; %.0f s per run\n",
		       clip, n_au, (double)len * 8 * 30 / (double)n_au / 1e6,
		       o.seconds);
		printf("relay store: %s; hub spool: /tmp (on disk); realtime = %s (moatctl status shows what the kernel gave)\n\n",
		       o.relay_dir ? o.relay_dir : "/tmp, beside the spool",
		       o.no_rt ? "no" : "yes");
		printf("%28s %-17s %-17s\n", "", "seal+send (us)",
		       "capture-send (us)");
		printf("%4s %-10s %8s %6s %8s %8s %8s %8s %8s %7s %6s %5s %s\n",
		       "N", "path", "frames/s", "MB/s", "CPU/cam", "p50", "p99",
		       "p50", "p99", "PSS MiB", "copies", "drops",
		       "MB/CPU-s");
	}
	for (size_t i = 0; i < o.n_cams; i++) {
		for (int x = 0; x < (o.no_extra_copy ? 1 : 2); x++) {
			struct prun *r = &runs[i][x];

			if (run_hub(&o, o.cams[i], x, r) || !r->ok) {
				if (interrupted)
					return interrupted_exit(
						"; the run's hub, relay, network policy and files are removed",
						buf);
				fprintf(stderr, "moat-bench pipeline: the run with %u camera(s)%s failed\n",
					o.cams[i], x ? " (extra copy)" : "");
			}
			if (!o.json)
				printf("%4u %-10s %8.1f %6.2f %7.3f%% %8lld %8lld %8lld %8lld %7.1f %6lld %5.0f %8.1f\n",
				       r->n, x ? "extra-copy" : "moat",
				       r->frames / r->secs, r->bytes / r->secs / 1e6,
				       r->cpu_hub / r->secs / r->n * 100, r->lat50,
				       r->lat99, r->cap50, r->cap99, r->pss_mib,
				       r->copies, r->drops,
				       r->cpu_hub > 0 ? r->bytes / r->cpu_hub / 1e6 :
							0);
			if (!o.json && r->ok)
				role_line(r);
		}
	}
	if (interrupted)
		return interrupted_exit(" before the baselines", buf);
	{
		/* Baselines for the largest run's bytes. */
		struct prun *big = &runs[o.n_cams - 1][0];
		double tls_s = 0, tls_r = 0, srtp_cpu = -1, srtp_bytes = 0;
		double tlsp_s = 0, tlsp_r = 0, tlsp_bpc = 0;
		double moat_bpc = big->cpu_hub > 0 ? big->bytes / big->cpu_hub : 0;
		double copy_bpc = !o.no_extra_copy &&
					  runs[o.n_cams - 1][1].cpu_hub > 0 ?
					  runs[o.n_cams - 1][1].bytes /
						  runs[o.n_cams - 1][1].cpu_hub :
					  0;
		double tls_bpc = 0, srtp_bpc = 0;

		if (!o.no_tls) {
			/* flat out, and paced like the N cameras */
			if (!bench_tls_run(au, n_au, big->bytes, 0,
				     "TLS_AES_256_GCM_SHA384", &tls_s, &tls_r) &&
			    tls_s > 0)
				tls_bpc = big->bytes / tls_s;
			if (!interrupted &&
			    !bench_tls_run(au, n_au, big->bytes, 30.0 * big->n,
				     "TLS_AES_256_GCM_SHA384", &tlsp_s,
				     &tlsp_r) &&
			    tlsp_s > 0)
				tlsp_bpc = big->bytes / tlsp_s;
		}
		if (!o.no_srtp && !interrupted) {
			int loops = (int)(big->bytes / (double)len) + 1;

			srtp_cpu = srtp_run(clip, loops, &srtp_bytes);
			if (srtp_cpu > 0)
				srtp_bpc = srtp_bytes / srtp_cpu;
		}
		if (interrupted)
			return interrupted_exit(" in the baselines", buf);
		if (o.json) {
			printf("{\"runs\": [");
			for (size_t i = 0; i < o.n_cams; i++)
				for (int x = 0; x < (o.no_extra_copy ? 1 : 2); x++) {
					struct prun *r = &runs[i][x];

					printf("%s{\"cameras\": %u, \"path\": \"%s\", \"frames_per_s\": %.1f, "
					       "\"mb_per_s\": %.3f, \"cpu_per_camera_pct\": %.4f, \"p50_us\": %lld, "
					       "\"p99_us\": %lld, \"capture_p50_us\": %lld, \"capture_p99_us\": %lld, \"pss_mib\": %.1f, \"copies\": %lld, \"drops\": %.0f, "
					       "\"zc_sends\": %lld, \"zc_copied\": %lld, \"bytes_per_cpu_s\": %.0f, "
					       "\"cpu_per_camera_pct_windows\": %.4f, \"cpu_per_camera_pct_min\": %.4f, \"cpu_per_camera_pct_max\": %.4f, "
					       "\"cpu_pct_by_role\": {\"moatd\": %.3f, \"workers\": %.3f, \"sealer\": %.3f, \"uplink\": %.3f, \"relay\": %.3f}, "
					       "\"ok\": %s, \"latency_cdf\": [",
					       i || x ? ", " : "", r->n,
					       x ? "extra-copy" : "moat",
					       r->frames / r->secs,
					       r->bytes / r->secs / 1e6,
					       r->cpu_hub / r->secs / r->n * 100,
					       r->lat50, r->lat99, r->cap50,
					       r->cap99, r->pss_mib,
					       r->copies, r->drops, r->zc,
					       r->zc_copied,
					       r->cpu_hub > 0 ? r->bytes / r->cpu_hub : 0,
					       r->cpu_med, r->cpu_lo, r->cpu_hi,
					       role_pct(r, R_MOATD),
					       role_pct(r, R_WORKERS),
					       role_pct(r, R_SEALER),
					       role_pct(r, R_UPLINK),
					       role_pct(r, R_RELAY),
					       r->ok ? "true" : "false");
					for (size_t q = 0; q < N_LAT_Q; q++)
						printf("%s[%lld, %.3f]", q ? ", " : "",
						       r->lat_q[q], lat_q[q]);
					printf("]}");
				}
			struct sbuf store = { 0 };

			/* the folder is the user's: quoted as JSON wants */
			sb_json_str(&store, o.relay_dir ? o.relay_dir :
							  "run folder");
			printf("], \"tls13_sender_bytes_per_cpu_s\": %.0f, \"tls13_paced_sender_bytes_per_cpu_s\": %.0f, "
			       "\"srtp_bytes_per_cpu_s\": %.0f, \"relay_store\": \"%s\", \"realtime\": %s}\n",
			       tls_bpc, tlsp_bpc, srtp_bpc,
			       store.p ? store.p : "", o.no_rt ? "false" : "true");
			free(store.p);
		} else {
			printf("\nBytes per CPU-second for the %u-camera load (moat: every hub process;\n"
			       "TLS: the sending side only; SRTP: the whole gst-launch process):\n",
			       big->n);
			printf("  moat pipeline     %8.1f MB/CPU-s\n", moat_bpc / 1e6);
			if (!o.no_extra_copy)
				printf("  + one extra copy  %8.1f MB/CPU-s   moat/extra-copy %.2fx\n",
				       copy_bpc / 1e6,
				       copy_bpc > 0 ? moat_bpc / copy_bpc : 0);
			if (tlsp_bpc > 0)
				printf("  TLS 1.3, paced    %8.1f MB/CPU-s   moat/TLS %.2fx  (frames at the cameras' pace)\n",
				       tlsp_bpc / 1e6, moat_bpc / tlsp_bpc);
			if (tls_bpc > 0)
				printf("  TLS 1.3, flat out %8.1f MB/CPU-s   moat/TLS %.2fx  (one tight loop)\n",
				       tls_bpc / 1e6, moat_bpc / tls_bpc);
			else
				printf("  TLS 1.3           %s\n",
				       o.no_tls ? "skipped (--no-tls)" :
						  "not measured (OpenSSL failed)");
			if (srtp_bpc > 0)
				printf("  SRTP srtpenc GCM  %8.1f MB/CPU-s   moat/SRTP %.2fx\n",
				       srtp_bpc / 1e6, moat_bpc / srtp_bpc);
			else
				printf("  SRTP              %s\n",
				       o.no_srtp ? "skipped (--no-srtp)" :
						   "not measured (gst-launch-1.0 with srtpenc missing? make deps)");
			printf("On loopback the kernel copies zero-copy sends on delivery (zc_copied):\n"
			       "the uplink sees it and sends plainly after 64 of them. The NIC-level\n"
			       "gain of SEND_ZC shows only on real hardware.\n");
		}
	}
	free(buf);
	return 0;
}
