// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "policy/cgroup.h"
#include "tests/lib/hub.h"

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

int run_cmd(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n = 0;
	int st;

	if (!f)
		return -1;
	if (out && len) {
		n = fread(out, 1, len - 1, f);
		out[n] = 0;
	} else {
		char sink[4096];

		while (fread(sink, 1, sizeof(sink), f) > 0)
			;
	}
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

uint8_t *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p = NULL;
	long n;

	*len = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
		rewind(f);
		p = malloc((size_t)n + 1);
		if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
			free(p);
			p = NULL;
		}
		if (p)
			p[n] = 0;
		*len = p ? (size_t)n : 0;
	}
	fclose(f);
	return p;
}

/* A port nobody listens on now (the kernel's pick, then released). */
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

/*
 * The network policy of a test hub: enforced, as on a real hub, in a
 * cgroup and a bpffs folder of its own (so that hubs of different tests,
 * or a real one, never share them).
 */
static int hub_policy(struct hub *h, const char *name)
{
	static struct cfg none; /* cgroup = auto */
	char root[CG_PATH_MAX];
	int ret = cg_root(&none, root);

	if (ret)
		return ret;
	snprintf(h->cgroup, sizeof(h->cgroup), "%s-test-%s-%d", root, name,
		 (int)getpid());
	snprintf(h->bpf_pin, sizeof(h->bpf_pin), "/sys/fs/bpf/moat-test-%s-%d",
		 name, (int)getpid());
	return 0;
}

int hub_init(struct hub *h, const char *name, const char *camera_lines)
{
	return hub_init_with(h, name, "", camera_lines);
}

int hub_init_with(struct hub *h, const char *name, const char *hub_lines,
		  const char *camera_lines)
{
	char cmd[1024], out[512];
	FILE *f;
	ssize_t n;

	memset(h, 0, sizeof(*h));
	snprintf(h->dir, sizeof(h->dir), "/tmp/moat-%s-XXXXXX", name);
	if (!mkdtemp(h->dir))
		return -errno;
	chmod(h->dir, 0755);
	n = readlink("/proc/self/exe", h->bin, sizeof(h->bin) - 16);
	if (n <= 0)
		return -errno;
	h->bin[n] = 0;
	strcpy(strrchr(h->bin, '/'), "/../bin");
	h->port = free_port();
	snprintf(h->relay_addr, sizeof(h->relay_addr), "127.0.0.1:%u", h->port);
	snprintf(h->conf, sizeof(h->conf), "%s/moat.conf", h->dir);
	snprintf(h->ident, sizeof(h->ident), "%s/viewer.key", h->dir);
	snprintf(h->relay_dir, sizeof(h->relay_dir), "%s/relay", h->dir);
	snprintf(h->spool, sizeof(h->spool), "%s/spool", h->dir);
	snprintf(h->sock, sizeof(h->sock), "%s/control.sock", h->dir);
	snprintf(cmd, sizeof(cmd),
		 "%s/moat-view pair --hub-keys %s/keys --out %s --name test 2>&1",
		 h->bin, h->dir, h->ident);
	if (run_cmd(cmd, out, sizeof(out))) {
		fprintf(stderr, "pairing failed: %s\n", out);
		return -EIO;
	}
	f = fopen(h->conf, "w");
	if (!f)
		return -errno;
	if (hub_policy(h, name)) {
		fclose(f);
		return -ENOENT;
	}
	fprintf(f,
		"[hub]\nkeys = %s/keys\nspool = %s\ncontrol = %s\n"
		"cgroup = %s\nbpf_pin = %s\n%s"
		"[relay]\naddress = 127.0.0.1\nport = %u\n%s",
		h->dir, h->spool, h->sock, h->cgroup, h->bpf_pin, hub_lines,
		h->port, camera_lines);
	return fclose(f) ? -errno : 0;
}

/* argv after h->wrap's words (the result points into both). */
static char **wrapped(const struct hub *h, char *const argv[], char **out,
		      int cap)
{
	int n = 0;

	for (int i = 0; i < 8 && h->wrap[i] && n < cap - 1; i++)
		out[n++] = (char *)h->wrap[i];
	for (int i = 0; argv[i] && n < cap - 1; i++)
		out[n++] = argv[i];
	out[n] = NULL;
	return out;
}

pid_t spawn_logged(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setpgid(0, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

int hub_start_relay(struct hub *h)
{
	char bin[300], log[200];
	char *argv[20] = { bin, "--dir", h->relay_dir, "--listen",
			   h->relay_addr };
	char *wargv[32];
	int n = 5;

	if (h->relay_quota[0]) {
		argv[n++] = "--quota";
		argv[n++] = h->relay_quota;
	}
	for (int i = 0; i < 9 && h->relay_args[i]; i++)
		argv[n++] = (char *)h->relay_args[i];
	snprintf(bin, sizeof(bin), "%s/moat-relay", h->bin);
	snprintf(log, sizeof(log), "%s/relay.log", h->dir);
	h->relay = spawn_logged(wrapped(h, argv, wargv, 32), log);
	/* Ready when it accepts a connection. */
	for (int i = 0; i < 100; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)h->port),
					  .sin_addr.s_addr =
						  htonl(INADDR_LOOPBACK) };
		int fd = socket(AF_INET, SOCK_STREAM, 0), ok;

		ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (ok)
			return 0;
		msleep(20);
	}
	return -ETIMEDOUT;
}

int hub_start_moatd(struct hub *h)
{
	char bin[300], log[200];
	char *argv[] = { bin, "--config", h->conf, NULL };
	/* nsenter joins the network namespace only (`ip netns exec' would
	 * remount /sys, and with it the cgroup and bpf file systems), and
	 * execs moatd in place: the pid is moatd's */
	char ns[96];
	char *in_ns[] = { "/usr/bin/nsenter", ns, bin, "--config", h->conf,
			  NULL };
	char *wargv[32];

	snprintf(ns, sizeof(ns), "--net=/run/netns/%s", h->netns);

	snprintf(bin, sizeof(bin), "%s/moatd", h->bin);
	snprintf(log, sizeof(log), "%s/moatd.log", h->dir);
	h->moatd = spawn_logged(wrapped(h, h->netns[0] ? in_ns : argv, wargv, 32),
				log);
	for (int i = 0; i < 200; i++) {
		char *s = hub_status(h);

		if (s) {
			free(s);
			return 0;
		}
		msleep(25);
	}
	return -ETIMEDOUT;
}

int hub_stop(pid_t *pid, int sig, int ms)
{
	int st;

	if (*pid <= 0)
		return 0;
	kill(*pid, sig);
	for (int i = 0; i <= ms / 10; i++) {
		if (waitpid(*pid, &st, WNOHANG) == *pid) {
			*pid = 0;
			return 0;
		}
		msleep(10);
	}
	kill(*pid, SIGKILL);
	waitpid(*pid, &st, 0);
	*pid = 0;
	return -ETIMEDOUT;
}

char *hub_status(const struct hub *h)
{
	char cmd[512];
	char *out = malloc(1 << 16);

	if (!out)
		return NULL;
	snprintf(cmd, sizeof(cmd), "%s/moatctl --socket %s status --json 2>/dev/null",
		 h->bin, h->sock);
	if (run_cmd(cmd, out, 1 << 16) || !strchr(out, '{')) {
		free(out);
		return NULL;
	}
	return out;
}

static const char *find_key(const char *json, const char *section,
			    const char *key)
{
	char pat[96];
	const char *p = json;

	if (section) {
		snprintf(pat, sizeof(pat), "\"%s\"", section);
		p = strstr(json, pat);
		if (!p)
			return NULL;
	}
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = strstr(p, pat);
	return p ? p + strlen(pat) : NULL;
}

int64_t json_num(const char *json, const char *section, const char *key)
{
	const char *p = json ? find_key(json, section, key) : NULL;

	return p ? strtoll(p, NULL, 10) : -1;
}

int json_str(const char *json, const char *section, const char *key,
	     char *out, size_t len)
{
	const char *p = json ? find_key(json, section, key) : NULL;
	size_t n = 0;

	if (!p || *p != '"')
		return -1;
	for (p++; *p && *p != '"' && n + 1 < len; p++)
		out[n++] = *p;
	out[n] = 0;
	return 0;
}

uint8_t *clip_repeated(const char *clip, int n, char *path, size_t len,
		       size_t *total)
{
	size_t one;
	uint8_t *b = read_all(clip, &one), *all = NULL;
	int fd = -1;

	snprintf(path, len, "/tmp/moat-clip-x%d.XXXXXX", n);
	if (b && one)
		all = malloc(one * (size_t)n);
	if (all)
		fd = mkstemp(path);
	for (int i = 0; all && i < n; i++)
		memcpy(all + (size_t)i * one, b, one);
	free(b);
	if (fd < 0 || write(fd, all, one * (size_t)n) != (ssize_t)(one * (size_t)n) ||
	    close(fd)) {
		if (fd >= 0)
			unlink(path);
		free(all);
		return NULL;
	}
	*total = one * (size_t)n;
	return all;
}

int hub_wait_acked(struct hub *h, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 100) {
		char *s = hub_status(h);
		int64_t acked = s ? json_num(s, "uplink", "acked") : -1;

		free(s);
		if (acked > 0)
			return 0;
		msleep(100);
	}
	return -ETIMEDOUT;
}

int hub_wait_drained(struct hub *h, int timeout_ms, bool want_ended)
{
	for (int t = 0; t < timeout_ms; t += 100) {
		char *s = hub_status(h), state[32] = "";
		int64_t sealed, acked, unacked, ring;
		bool ok;

		if (s) {
			sealed = json_num(s, "sealer", "records");
			acked = json_num(s, "uplink", "acked");
			unacked = json_num(s, "spool", "unacked_bytes");
			ring = json_num(s, "uplink", "ring_bytes");
			json_str(s, "cameras", "state", state, sizeof(state));
			ok = sealed > 0 && unacked == 0 && ring == 0 &&
			     acked >= sealed &&
			     (!want_ended || !strcmp(state, "ended"));
			free(s);
			if (ok)
				return 0;
		}
		msleep(100);
	}
	return -ETIMEDOUT;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void hub_cleanup(struct hub *h, bool keep)
{
	hub_stop(&h->moatd, SIGTERM, 8000);
	hub_stop(&h->relay, SIGTERM, 3000);
	if (h->conf[0] && access(h->conf, F_OK) == 0) {
		char cmd[600], out[512];

		/* the table, the BPF programs, the test's cgroups */
		snprintf(cmd, sizeof(cmd),
			 "%s%s%s%s/moatctl --config %s policy remove 2>&1",
			 h->netns[0] ? "nsenter --net=/run/netns/" : "",
			 h->netns, h->netns[0] ? " " : "", h->bin, h->conf);
		if (run_cmd(cmd, out, sizeof(out)))
			fprintf(stderr, "policy remove: %s\n", out);
	}
	if (keep)
		fprintf(stderr, "kept %s\n", h->dir);
	else if (h->dir[0])
		nftw(h->dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

bool hub_from_clip(const uint8_t *clip, size_t clip_len, const char *path,
		   size_t *got)
{
	uint8_t *out, *twice;
	size_t n, at = 0;
	bool ok = true;

	out = read_all(path, &n);
	*got = out ? n : 0;
	if (!out || !n) {
		free(out);
		return false;
	}
	twice = malloc(2 * clip_len);
	if (!twice) {
		free(out);
		return false;
	}
	memcpy(twice, clip, clip_len);
	memcpy(twice + clip_len, clip, clip_len);
	/* chunks of up to one clip length, each found in the clip twice
	 * over (where a loop restarts it continues from the start) */
	while (ok && at < n) {
		size_t take = n - at < clip_len ? n - at : clip_len;

		ok = memmem(twice, 2 * clip_len, out + at, take) != NULL;
		at += take;
	}
	free(twice);
	free(out);
	return ok;
}
