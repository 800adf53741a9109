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

#include "common/log.h"
#include "daemon/handoff.h"

#define HANDOFF_MAGIC 0x31464f4854414f4dULL /* "MOATHOF1" */

extern char **environ;

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

static int open_exe(const char *path)
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
	return fd;
}

int handoff_open_program(enum role role)
{
	const char *prog = handoff_program(role);
	char self[PATH_MAX], path[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *slash;
	int fd;

	if (!prog)
		return -EINVAL;
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
	fd = open_exe(path);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/../lib/moat/%s", self, prog);
	fd = open_exe(path);
	if (fd >= 0)
		return fd;
	log_err("%s is neither in %s/ nor in %s/../lib/moat/: the %s runs as that program; install it with moatd (make install, or the moat package)",
		prog, self, self, role_name(role));
	return fd;
}

int handoff_exec(int prog_fd, enum role role, struct handoff *h,
		 const int *keep, int n)
{
	const char *prog = handoff_program(role);
	char fdarg[16];
	char *argv[] = { (char *)prog, "--handoff", fdarg, NULL };
	const uint8_t *p = (const uint8_t *)h;
	size_t off = 0;
	int ret = 0, mfd;

	h->magic = HANDOFF_MAGIC;
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
		execveat(prog_fd, "", argv, environ, AT_EMPTY_PATH);
		ret = -errno;
	}
	log_err("cannot start %s (the %s): %s", prog, role_name(role),
		strerror(-ret));
	if (mfd >= 0)
		close(mfd);
	return ret;
}

__attribute__((format(printf, 2, 3))) static int
take_fail(const char *prog, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -EINVAL;
}

int handoff_take(int argc, char **argv, enum role role, struct handoff **out)
{
	const char *prog = handoff_program(role);
	struct handoff *h;
	struct stat st;
	void *stats;
	char *end;
	long fd;
	size_t off = 0;

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
	if ((size_t)st.st_size != sizeof(*h))
		return take_fail(prog,
				 "moatd's handoff is not the size this program reads: moatd and %s are from different builds; install them together",
				 prog);
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
	if (h->magic != HANDOFF_MAGIC || h->size != sizeof(*h) ||
	    h->role != (uint32_t)role) {
		explicit_bzero(h, sizeof(*h));
		free(h);
		return take_fail(prog,
				 "moatd's handoff is not for the %s of this build: install moatd and its programs together",
				 role_name(role));
	}
	log_init("moatd", (enum log_level)h->log_level);
	/* as a fork of moatd it was: it dies with moatd (an exec from
	 * another user's credentials would have cleared this) */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != h->parent) {
		log_err("%s: moatd is gone", role_name(role));
		return -ESRCH;
	}
	stats = mmap(NULL, h->stats_len, PROT_READ | PROT_WRITE, MAP_SHARED,
		     h->stats_fd, 0);
	if (stats == MAP_FAILED) {
		log_err("%s: cannot map its counters: %s", role_name(role),
			strerror(errno));
		return -errno;
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
