// SPDX-License-Identifier: GPL-2.0-only
/* moatd's child hands a role to its own program (handoff.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/hash.h"
#include "common/log.h"
#include "daemon/handoff.h"

extern char **environ;

/*
 * The handoff's layout, folded into its magic (FNV-1a over the sizes and
 * offsets the two sides must agree on): a moatd and a program whose
 * structures differ in size, or in where the parts above lie, refuse
 * each other even where the whole happens to be the same size. Fields
 * of equal size reordered, or enums renumbered, it does not see: moatd
 * and its programs are installed together.
 */
uint64_t handoff_magic(void)
{
	const size_t layout[] = {
		sizeof(struct handoff),	      offsetof(struct handoff, cfg),
		offsetof(struct handoff, io), sizeof(struct cfg),
		sizeof(struct cfg_camera),    offsetof(struct cfg, cams),
		offsetof(struct cfg, n_cams), sizeof(struct sealer_io),
		sizeof(struct uplink_io),     offsetof(struct uplink_io, login),
		sizeof(struct sandbox),	      sizeof(struct ring_fds),
		sizeof(struct stats_sealer),  sizeof(struct stats_uplink),
		CFG_MAX_CAMERAS,	      WIRE_VIEWERS_MAX,
		LOGIN_KEY_LEN,
	};
	return fnv1a64(layout, sizeof(layout));
}

/* The environment a role gets: the sanitizers' options and the cipher
 * override the sealer reads (crypto/suite.h), nothing else (no
 * LD_PRELOAD, OPENSSL_CONF or GLIBC_TUNABLES from moatd's caller). */
static const char *const env_keep[] = { "ASAN_OPTIONS=", "UBSAN_OPTIONS=",
					"LSAN_OPTIONS=", "MOAT_CIPHER=" };
enum { ENV_MAX = sizeof(env_keep) / sizeof(env_keep[0]) };

static void role_env(char *envp[ENV_MAX + 1])
{
	int n = 0;

	for (char **e = environ; e && *e && n < ENV_MAX; e++)
		for (int k = 0; k < ENV_MAX; k++)
			if (!strncmp(*e, env_keep[k], strlen(env_keep[k]))) {
				envp[n++] = *e;
				break;
			}
	envp[n] = NULL;
}

const char *handoff_program(enum role role)
{
	switch (role) {
	case ROLE_SEALER:
		return "moat-sealer";
	case ROLE_UPLINK:
		return "moat-uplink";
	default:
		return NULL;
	}
}

/*
 * The program runs with moatd's credentials until it drops them: it must
 * be a regular executable file owned by root, by moatd's user or by
 * whoever owns moatd's own executable (a build folder made as a user and
 * run with sudo: that user could change moatd as well), and writable by
 * its owner only. Its folder and ACLs are not looked at.
 */
static int open_exe(const char *path, uid_t moatd_owner)
{
	struct stat st;
	int fd = open(path, O_PATH | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !(st.st_mode & S_IXUSR)) {
		close(fd);
		return -ENOEXEC;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid() &&
	     st.st_uid != moatd_owner) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH))) {
		log_err("%s: refused: owned by uid %u with mode %04o; the program a role runs as must be owned by root, moatd's user or moatd's owner, and writable by its owner only",
			path, (unsigned)st.st_uid,
			(unsigned)(st.st_mode & 07777));
		close(fd);
		return -EPERM;
	}
	return fd;
}

int handoff_open_program(enum role role)
{
	const char *prog = handoff_program(role);
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct stat me;
	char *slash;
	int fd;

	if (!prog)
		return -EINVAL;
	if (stat("/proc/self/exe", &me) < 0)
		me.st_uid = 0;
	if (n < 0) {
		log_err("cannot find moatd's own folder (/proc/self/exe): %s",
			strerror(errno));
		return -errno;
	}
	self[n] = '\0';
	slash = strrchr(self, '/');
	if (slash)
		*slash = '\0';
	snprintf(path, sizeof(path), "%s/%s", self, prog);
	fd = open_exe(path, me.st_uid);
	if (fd >= 0 || fd == -EPERM)
		return fd;
	snprintf(path, sizeof(path), "%s/../lib/moat/%s", self, prog);
	fd = open_exe(path, me.st_uid);
	if (fd >= 0 || fd == -EPERM)
		return fd;
	log_err("%s is neither in %s/ nor in %s/../lib/moat/: the %s runs as that program; install it with moatd (make install, or the moat package)",
		prog, self, self, role_name(role));
	return fd;
}

int handoff_exec(int prog_fd, enum role role, struct handoff *h,
		 const int *keep, int n)
{
	const char *prog = handoff_program(role);
	char fdarg[16], *envp[ENV_MAX + 1];
	char *argv[] = { (char *)prog, "--handoff", fdarg, NULL };
	const uint8_t *p = (const uint8_t *)h;
	size_t off = 0;
	int ret = 0, mfd;

	h->magic = handoff_magic();
	h->size = sizeof(*h);
	h->role = role;
	h->log_level = (int)log_get_level();
	/* not close-on-exec: the program reads it, then lets it go */
	mfd = memfd_create("moat-handoff", 0);
	if (mfd < 0)
		ret = -errno;
	while (!ret && off < sizeof(*h)) {
		ssize_t w = write(mfd, p + off, sizeof(*h) - off);

		if (w < 0 && errno != EINTR)
			ret = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	/* the uplink's login key was in it: only the memfd has it now */
	explicit_bzero(h, sizeof(*h));
	for (int i = 0; !ret && i < n; i++)
		if (keep[i] != prog_fd && fcntl(keep[i], F_SETFD, 0) < 0)
			ret = -errno;
	if (!ret) {
		snprintf(fdarg, sizeof(fdarg), "%d", mfd);
		role_env(envp);
		execveat(prog_fd, "", argv, envp, AT_EMPTY_PATH);
		ret = -errno;
	}
	{
		char link[32], path[PATH_MAX];
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%d", prog_fd);
		len = readlink(link, path, sizeof(path) - 1);
		path[len > 0 ? len : 0] = '\0';
		log_err("cannot start %s (the %s): %s", len > 0 ? path : prog,
			role_name(role), strerror(-ret));
	}
	if (mfd >= 0)
		close(mfd);
	return ret;
}

__attribute__((format(printf, 2, 3))) static int
take_fail(const char *prog, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%s: ", prog);

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	/* one write: moatd's other roles share stderr */
	fprintf(stderr, "%s\n", line);
	return -EINVAL;
}

#define STR_OK(a) (memchr((a), '\0', sizeof(a)) != NULL)

const char *handoff_check(const struct handoff *h, enum role role)
{
	const struct cfg *c = &h->cfg;
	const struct sandbox *sb;

	if (h->magic != handoff_magic() || h->size != sizeof(*h))
		return "it is laid out for another build: install moatd and its programs together";
	if (h->role != (uint32_t)role)
		return "it is for another role";
	if (h->log_level < LOG_LVL_ERR || h->log_level > LOG_LVL_DEBUG)
		return "its log level is out of range";
	if (c->n_cams > CFG_MAX_CAMERAS)
		return "it names more cameras than a hub has";
	if (!STR_OK(c->keys) || !STR_OK(c->spool) || !STR_OK(c->control) ||
	    !STR_OK(c->relay_host) || !STR_OK(c->camera_interfaces) ||
	    !STR_OK(c->lan_subnet) || !STR_OK(c->cgroup) ||
	    !STR_OK(c->bpf_pin) || !STR_OK(c->worker_user) ||
	    !STR_OK(c->sealer_user) || !STR_OK(c->uplink_user))
		return "a setting in it is not a string";
	for (size_t i = 0; i < c->n_cams; i++) {
		const struct cfg_camera *cm = &c->cams[i];

		if (!STR_OK(cm->name) || !STR_OK(cm->source) ||
		    !STR_OK(cm->motion_source) || !STR_OK(cm->mac) ||
		    !STR_OK(cm->ip) || !STR_OK(cm->interface) ||
		    !STR_OK(cm->encoder) ||
		    cm->n_motion_ignore > MOTION_ZONES_MAX)
			return "a camera's settings in it are out of range";
	}
	if (role == ROLE_SEALER) {
		sb = &h->io.sealer.sb;
		if (h->stats_len != sizeof(struct stats_sealer))
			return "its counters are not the sealer's";
	} else {
		const struct uplink_io *u = &h->io.uplink;

		sb = &u->sb;
		if (h->stats_len != sizeof(struct stats_uplink))
			return "its counters are not the uplink's";
		if (u->n_viewers > WIRE_VIEWERS_MAX)
			return "it holds more viewers than a hub approves";
		/* 0: the relay's name did not resolve; the uplink says so
		 * and exits, and moatd looks it up again on its restart */
		if (u->relay_len > sizeof(u->relay))
			return "the relay's address in it is out of range";
	}
	if (sb->role != role)
		return "its sandbox is for another role";
	/* moatd gives every role a user and group of its own, never root's
	 * (as moatd's own user, 0 would keep its CAP_SETUID) */
	if (!sb->uid || !sb->gid)
		return "it would leave the role as root, or with moatd's capabilities";
	return NULL;
}

int handoff_take(int argc, char **argv, enum role role, struct handoff **out)
{
	const char *prog = handoff_program(role), *why;
	struct handoff *h;
	struct stat st;
	void *stats;
	char *end;
	long fd;
	size_t off = 0;

	/* an exec from a descriptor names the process after it ("7") */
	prctl(PR_SET_NAME, prog, 0, 0, 0);
	if (argc != 3 || strcmp(argv[1], "--handoff"))
		return take_fail(prog,
				 "moatd starts this program (the %s) with what it needs; it is not run by hand (docs/SANDBOX.md)",
				 role_name(role));
	errno = 0;
	fd = strtol(argv[2], &end, 10);
	if (errno || *end || end == argv[2] || fd < 3 || fd > INT_MAX)
		return take_fail(prog, "--handoff `%s': not a descriptor",
				 argv[2]);
	if (fstat((int)fd, &st) < 0 || !S_ISREG(st.st_mode))
		return take_fail(prog, "--handoff %s: not moatd's handoff",
				 argv[2]);
	if ((size_t)st.st_size != sizeof(*h)) {
		take_fail(prog,
			  "moatd's handoff is not the size this program reads: moatd and %s are from different builds; install them together",
			  prog);
		return -EPROTO;
	}
	h = malloc(sizeof(*h));
	if (!h)
		return -ENOMEM;
	while (off < sizeof(*h)) {
		ssize_t r = pread((int)fd, (uint8_t *)h + off, sizeof(*h) - off,
				  (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			int e = r < 0 ? errno : 0;

			explicit_bzero(h, sizeof(*h));
			free(h);
			return take_fail(prog, "cannot read moatd's handoff: %s",
					 e ? strerror(e) : "it is short");
		}
		off += (size_t)r;
	}
	/* the pages go with the descriptor (the uplink's login key) */
	if (ftruncate((int)fd, 0) < 0)
		fprintf(stderr, "%s: cannot empty moatd's handoff: %s\n", prog,
			strerror(errno));
	close((int)fd);
	why = handoff_check(h, role);
	if (why) {
		explicit_bzero(h, sizeof(*h));
		free(h);
		take_fail(prog, "moatd's handoff is refused: %s", why);
		return -EPROTO;
	}
	log_init("moatd", (enum log_level)h->log_level);
	/* as a fork of moatd it was: it dies with moatd (an exec from
	 * another user's credentials would have cleared this) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != h->parent) {
		log_err("%s: moatd is gone", role_name(role));
		explicit_bzero(h, sizeof(*h));
		free(h);
		return -ESRCH;
	}
	if (fstat(h->stats_fd, &st) < 0)
		stats = MAP_FAILED;
	else if ((size_t)st.st_size < h->stats_len)
		stats = MAP_FAILED, errno = EINVAL;
	else
		stats = mmap(NULL, h->stats_len, PROT_READ | PROT_WRITE,
			     MAP_SHARED, h->stats_fd, 0);
	if (stats == MAP_FAILED) {
		int e = errno;

		log_err("%s: cannot map its counters: %s", role_name(role),
			strerror(e));
		explicit_bzero(h, sizeof(*h));
		free(h);
		return -e;
	}
	close(h->stats_fd);
	if (role == ROLE_SEALER) {
		h->io.sealer.cfg = &h->cfg;
		h->io.sealer.st = stats;
	} else {
		h->io.uplink.cfg = &h->cfg;
		h->io.uplink.st = stats;
	}
	*out = h;
	return 0;
}
