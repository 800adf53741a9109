// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench report, end to end: its shortest form (--tiny, a hidden
 * option: --quick takes about a minute, --tiny about 30 s; its figures
 * mean little, the shape of the report is what is checked) into a temp
 * folder, --no-policy so that it leaves the host's nftables alone. Checks
 * that report.md has every section, each with figures in it and none "not
 * measured", that the capacity line names a number of cameras and a limit,
 * that --json gives the whole run (the pipeline's CPU split by role adding
 * up to its CPU per camera), and that every chart is a real PNG of the
 * size drawn.
 *
 * Then moat-bench pipeline is interrupted (SIGINT, as Ctrl-C sends) in
 * the middle of a run: it ends with status 130 and says so, and leaves
 * nothing behind: no moatd or relay of the run, no run folder, no relay
 * store.
 *
 * It runs moatd and moat-relay (the pipeline and relay steps) and needs
 * root. MOAT_TEST_REPORT_DIR=DIR checks a report made before instead of
 * running one (then nothing is started).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/lib/check.h"

static const char *const sections[] = {
	"## Capacity",
	"## What ran",
	"## Sealing throughput by record size",
	"## The peers, side by side",
	"## CPU per camera by camera count",
	"## Latency distribution",
	"### Relay fan-out",
	"## The uplink's send path",
	"## The encoder path (libx264)",
	"## How the figures were taken",
};

static const char *const charts[] = { "seal.png", "cpu.png", "latency.png",
				      "peers.png" };

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)n + 1))) {
		*len = fread(buf, 1, (size_t)n, f);
		buf[*len] = '\0';
	}
	fclose(f);
	return buf;
}

/* A table row with a figure: a line starting "| " with a digit in it. */
static int rows_with_figures(const char *s, const char *end)
{
	int n = 0;

	while (s && s < end) {
		const char *nl = strchr(s, '\n');

		if (!nl || nl > end)
			nl = end;
		if (!strncmp(s, "| ", 2) && strpbrk(s, "123456789") &&
		    strpbrk(s, "123456789") < nl)
			n++;
		s = nl + 1;
	}
	return n;
}

static void check_sections(const char *md)
{
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		const char *s = strstr(md, sections[i]), *end;

		CHECK(s != NULL, "report.md has the section `%s'", sections[i]);
		if (!s)
			continue;
		s += strlen(sections[i]);
		end = strstr(s, "\n## ");
		end = end ? end : s + strlen(s);
		if (!strcmp(sections[i], "## Latency distribution"))
			end = strstr(s, "\n### ") ? strstr(s, "\n### ") : end;
		if (strcmp(sections[i], "## How the figures were taken") &&
		    strcmp(sections[i], "## Latency distribution"))
			CHECK(rows_with_figures(s, end) >= 1,
			      "`%s' has a table with figures", sections[i]);
		/* "-": a latency with no sample (a run that sent nothing) */
		CHECK(!strcmp(sections[i], "## What ran") ||
			      !memmem(s, (size_t)(end - s), "| - |", 5),
		      "every figure in `%s' is there", sections[i]);
		CHECK(!memmem(s, (size_t)(end - s), "Not measured", 12) &&
			      !memmem(s, (size_t)(end - s), "not measured", 12),
		      "everything in `%s' was measured", sections[i]);
	}
}

static void check_head(const char *md)
{
	static const char head[] =
		"# moat benchmark report\n\nCommand: `moat-bench report";
	const char *cap = strstr(md, "seals and sends about ");
	int a = 0, b = 0;

	CHECK(!strncmp(md, head, sizeof(head) - 1),
	      "report.md starts with its title and the command");
	CHECK(strstr(md, "| AES instructions | yes |") ||
		      strstr(md, "| AES instructions | no |"),
	      "the header says whether the CPU has AES instructions");
	CHECK(strstr(md, "| cipher chosen | aes-256-gcm |") ||
		      strstr(md, "| cipher chosen | chacha20-poly1305 |"),
	      "the header names the cipher chosen");
	CHECK(strstr(md, "| OpenSSL | OpenSSL 3") &&
		      strstr(md, "| kernel | Linux "),
	      "the header names the kernel and OpenSSL");
	CHECK(cap &&
		      sscanf(cap,
			     "seals and sends about %d cameras of 1080p30 at 8 Mb/s, or %d of 4K30 at 25 Mb/s",
			     &a, &b) == 2 &&
		      a > 0 && b > 0 && b <= a,
	      "the capacity line: %d 1080p30 and %d 4K30 cameras per core", a,
	      b);
	CHECK(cap && strstr(cap, "; the limit is ") &&
		      strstr(cap, "; the limit is ") < strchr(cap, '\n'),
	      "the capacity line names what limits it");
	CHECK(strstr(md, "![the peers side by side](peers.png)") &&
		      strstr(md, "| TLS 1.3, paced like the cameras | ") &&
		      strstr(md, "| SRTP srtpenc | ") &&
		      strstr(md, "| OpenSSL EVP (AEAD limit) | ") &&
		      strstr(md, "| memcpy (memory limit) | ") &&
		      strstr(md, "| TLS 1.3 over loopback (sending thread) | ") &&
		      strstr(md, "| GStreamer srtpenc (process, less start-up) | ") &&
		      strstr(md, "| age (whole process) | "),
	      "the peers are side by side");
}

/* The PNG signature, an IHDR of 900x540 (what the charts are drawn at),
 * and more than a blank image's bytes. */
static void check_png(const char *dir, const char *name)
{
	static const uint8_t sig[8] = { 0x89, 'P',  'N',  'G',
					'\r', '\n', 0x1a, '\n' };
	char path[1200];
	size_t len;
	uint8_t *p;
	uint32_t w = 0, h = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	p = (uint8_t *)slurp(path, &len);
	if (p && len >= 24) {
		w = (uint32_t)p[16] << 24 | (uint32_t)p[17] << 16 |
		    (uint32_t)p[18] << 8 | p[19];
		h = (uint32_t)p[20] << 24 | (uint32_t)p[21] << 16 |
		    (uint32_t)p[22] << 8 | p[23];
	}
	CHECK(p && len >= 24 && !memcmp(p, sig, 8) &&
		      !memcmp(p + 12, "IHDR", 4),
	      "%s is a PNG", name);
	CHECK(w == 900 && h == 540 && len > 8000,
	      "%s is a drawn chart: %ux%u, %zu bytes", name, w, h, len);
	free(p);
}

static int run_report(const char *dir)
{
	char cmd[2048];
	time_t t0 = time(NULL);
	int st;

	snprintf(
		cmd, sizeof(cmd),
		"'%s/bin/moat-bench' report --tiny --no-policy --json --out '%s' >'%s/report.json'",
		test_build_dir(), dir, dir);
	st = system(cmd);
	printf("moat-bench report --tiny: %ld s\n", (long)(time(NULL) - t0));
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The names in /tmp that start moat-bench-, one per line (malloc'd). */
static char *bench_dirs(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;
	size_t len = 0;
	char *all = calloc(1, 1);

	while (d && all && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		char *p;

		if (strncmp(e->d_name, "moat-bench-", 11))
			continue;
		p = realloc(all, len + n + 2);
		if (!p)
			break;
		all = p;
		memcpy(all + len, e->d_name, n);
		len += n;
		all[len++] = '\n';
		all[len] = 0;
	}
	if (d)
		closedir(d);
	return all;
}

/* A process whose command line names dir: moatd's --config names the
 * run folder, the relay's --dir a folder in the store. */
static bool proc_names(const char *dir)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		char path[300], buf[4096];
		ssize_t n;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		for (ssize_t i = 0; i < n; i++)
			buf[i] = buf[i] ? buf[i] : ' ';
		buf[n > 0 ? n : 0] = 0;
		found = strstr(buf, dir) != NULL;
	}
	if (d)
		closedir(d);
	return found;
}

static void check_interrupt(const char *tmp)
{
	char store[1100], errpath[1100], bin[1100], run[300] = "", rly[1200];
	char *before = bench_dirs(), *err;
	int st = -1, left = 0;
	size_t len;
	DIR *d;
	pid_t pid;

	snprintf(store, sizeof(store), "%s/store", tmp);
	/* the relay's folder in it (the bench's own command line names the
	 * store, not this) */
	snprintf(rly, sizeof(rly), "%s/moat-bench-relay-", store);
	snprintf(errpath, sizeof(errpath), "%s/interrupt.err", tmp);
	snprintf(bin, sizeof(bin), "%s/bin/moat-bench", test_build_dir());
	mkdir(store, 0755);
	pid = fork();
	if (!pid) {
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd >= 0) {
			dup2(fd, 2);
			dup2(fd, 1);
		}
		/* a group of its own, as a shell's job is: Ctrl-C reaches
		 * the bench, its moatd, its relay and their shells alike */
		setpgid(0, 0);
		execl(bin, bin, "pipeline", "--cameras", "2", "--seconds",
		      "20", "--no-extra-copy", "--no-tls", "--no-srtp",
		      "--no-policy", "--relay-dir", store, (char *)NULL);
		_exit(127);
	}
	/* its run folder, once it is made; then the run well under way */
	for (int i = 0; i < 100 && pid > 0 && !run[0]; i++) {
		char *now = bench_dirs();

		for (char *l = now, *nl; l && *l; l = nl + 1) {
			nl = strchr(l, '\n');
			*nl = 0;
			if (!strstr(before ? before : "", l)) {
				snprintf(run, sizeof(run), "/tmp/%s", l);
				break;
			}
		}
		free(now);
		usleep(100 * 1000);
	}
	CHECK(run[0], "moat-bench pipeline made its run folder in /tmp");
	/* moatd names the run folder, the relay its store */
	for (int i = 0; i < 200 && run[0]; i++) {
		if (proc_names(run) && proc_names(rly))
			break;
		usleep(100 * 1000);
	}
	sleep(2);
	CHECK(run[0] && proc_names(run) && proc_names(rly),
	      "moatd and the relay of the run are up before the interrupt");
	if (pid > 0)
		kill(-pid, SIGINT);
	for (int i = 0; i < 300 && pid > 0; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		st = -1;
		usleep(100 * 1000);
	}
	if (st == -1 && pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	err = slurp(errpath, &len);
	CHECK(st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 130 && err &&
		      strstr(err, "moat-bench pipeline: interrupted (Interrupt)"),
	      "moat-bench pipeline, interrupted, ends with 130 and says so: %s",
	      err ? err : "(nothing)");
	free(err);
	CHECK(run[0] && access(run, F_OK) && !proc_names(run) &&
		      !proc_names(rly),
	      "the interrupted run's folder (%s) is gone, and no process of it is left",
	      run);
	d = opendir(store);
	for (struct dirent *e; d && (e = readdir(d));)
		left += e->d_name[0] != '.';
	if (d)
		closedir(d);
	CHECK(d && !left, "the relay's store in %s is removed (%d left)", store,
	      left);
	free(before);
}

/* The last pipeline run's CPU split by role names the hub's roles, the
 * sealer and the uplink with work done, and adds up to the CPU per camera
 * its row gives times its cameras. */
static void check_roles(const char *js)
{
	const char *run = NULL, *split = NULL, *per_at;
	double m = -1, w = -1, se = -1, up = -1, per = -1;
	unsigned int n = 0;

	for (const char *p = js; p && (p = strstr(p, "{\"cameras\": ")); p++)
		run = p;
	split = run ? strstr(run, "\"cpu_pct_by_role\": {") : NULL;
	per_at = run ? strstr(run, "\"cpu_per_camera_pct\": ") : NULL;
	CHECK(split && per_at, "the pipeline's runs give cpu_pct_by_role");
	if (!split || !per_at)
		return;
	sscanf(run, "{\"cameras\": %u", &n);
	sscanf(per_at, "\"cpu_per_camera_pct\": %lf", &per);
	sscanf(split,
	       "\"cpu_pct_by_role\": {\"moatd\": %lf, \"workers\": %lf, \"sealer\": %lf, \"uplink\": %lf",
	       &m, &w, &se, &up);
	CHECK(m >= 0 && w >= 0 && se > 0 && up > 0 && n > 0 &&
		      fabs(m + w + se + up - per * n) <= 0.01 + per * n * 0.01,
	      "the split (moatd %.3f, workers %.3f, sealer %.3f, uplink %.3f) is the hub's %u x %.4f%%",
	      m, w, se, up, n, per);
}

int main(void)
{
	char tmp[] = "/tmp/moat-test-report-XXXXXX", path[1200];
	const char *dir = getenv("MOAT_TEST_REPORT_DIR");
	char *md, *js;
	size_t len;

	if (!dir) {
		if (geteuid())
			test_skip(
				"the report's pipeline and uplink steps need root");
		if (!mkdtemp(tmp)) {
			CHECK(0, "a temp folder: %s", strerror(errno));
			return test_done("test_report");
		}
		dir = tmp;
		CHECK(run_report(dir) == 0, "moat-bench report --tiny exits 0");
		snprintf(path, sizeof(path), "%s/report.json", dir);
		js = slurp(path, &len);
		CHECK(js && !strncmp(js, "{\"bench\": \"report\"", 18) &&
			      strstr(js, "\"cameras_per_core\": ") &&
			      strstr(js, "\"pipeline\": {\"ok\": true"),
		      "--json gives the whole run");
		check_roles(js);
		free(js);
		check_interrupt(dir);
	}
	snprintf(path, sizeof(path), "%s/report.md", dir);
	md = slurp(path, &len);
	CHECK(md && len > 2000, "%s is written", path);
	CHECK(md && !strstr(md, "failed"), "no step and no run failed");
	if (md) {
		check_head(md);
		check_sections(md);
	}
	for (size_t i = 0; i < sizeof(charts) / sizeof(charts[0]); i++)
		check_png(dir, charts[i]);
	free(md);
	if (dir == tmp) {
		snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
		if (system(path))
			fprintf(stderr, "could not remove %s\n", tmp);
	}
	return test_done("test_report");
}
