// SPDX-License-Identifier: GPL-2.0-only
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "crypto/stream.h"
#include "tools/bench/bench.h"

volatile sig_atomic_t bench_stop;

double bench_cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bench_median(const double *v, size_t n)
{
	double tmp[64];

	if (!n || n > 64)
		return 0;
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void cpu_model(char *out, size_t cap)
{
	char line[256];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(out, cap, "unknown CPU");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon || (strncmp(line, "model name", 10) &&
			       strncmp(line, "Model", 5)))
			continue;
		colon++;
		while (isspace((unsigned char)*colon))
			colon++;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, cap, "%s", colon);
		break;
	}
	fclose(f);
}

void bench_machine(struct bench_machine *m)
{
	struct utsname u;

	memset(m, 0, sizeof(*m));
	cpu_model(m->cpu, sizeof(m->cpu));
	if (uname(&u) == 0)
		snprintf(m->kernel, sizeof(m->kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	snprintf(m->openssl, sizeof(m->openssl), "%s",
		 OpenSSL_version(OPENSSL_VERSION));
	m->cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
	m->aes = seal_cpu_has_aes();
}

void bench_machine_print(FILE *f, const struct bench_machine *m)
{
	fprintf(f, "machine: %s, %d CPUs, AES instructions: %s\n", m->cpu,
		m->cpus, m->aes ? "yes" : "no");
	fprintf(f, "kernel:  %s; %s\n", m->kernel, m->openssl);
}

void bench_machine_json(FILE *f, const struct bench_machine *m)
{
	fprintf(f,
		"{\"cpu\": \"%s\", \"cpus\": %d, \"aes\": %s, "
		"\"kernel\": \"%s\", \"openssl\": \"%s\"}",
		m->cpu, m->cpus, m->aes ? "true" : "false", m->kernel,
		m->openssl);
}

size_t bench_parse_size(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return 0;
	if (*end == 'k' || *end == 'K')
		v <<= 10, end++;
	else if (*end == 'm' || *end == 'M')
		v <<= 20, end++;
	if (*end || v > REC_BODY_MAX - REC_TAG_LEN)
		return 0;
	return (size_t)v;
}

const char *bench_size_str(size_t n, char *buf, size_t cap)
{
	if (n >= (1 << 20) && !(n % (1 << 20)))
		snprintf(buf, cap, "%zu MiB", n >> 20);
	else if (n >= 1024 && !(n % 1024))
		snprintf(buf, cap, "%zu KiB", n >> 10);
	else
		snprintf(buf, cap, "%zu B", n);
	return buf;
}

/*
 * CPU seconds (user + system) a process has used so far: its CPU-time
 * clock, to the nanosecond (all its threads, the ones gone included).
 * /proc/PID/stat counts in ticks of 10 ms, and a short run of a quiet
 * role is a tick or two: a role could read 0 beside one that read 1.
 * The ticks are the fallback.
 */
double bench_proc_cpu(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long ut = 0, st = 0;
	struct timespec ts;
	clockid_t clk;
	FILE *f;

	if (!clock_getcpuclockid(pid, &clk) && !clock_gettime(clk, &ts))
		return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
