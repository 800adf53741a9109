// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/sandbox.h"

const char *role_name(enum role role)
{
	switch (role) {
	case ROLE_WORKER:
		return "worker";
	case ROLE_SEALER:
		return "sealer";
	case ROLE_UPLINK:
		return "uplink";
	}
	return "?";
}

int sandbox_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

/* File-system rights Landlock ABI 1 knows; all of them are handled. */
#define FS_ALL                                                            \
	(LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |     \
	 LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |     \
	 LANDLOCK_ACCESS_FS_REMOVE_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE | \
	 LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_DIR |     \
	 LANDLOCK_ACCESS_FS_MAKE_REG | LANDLOCK_ACCESS_FS_MAKE_SOCK |     \
	 LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_BLOCK |   \
	 LANDLOCK_ACCESS_FS_MAKE_SYM)
#define FS_SPOOL                                                          \
	(LANDLOCK_ACCESS_FS_WRITE_FILE | LANDLOCK_ACCESS_FS_READ_FILE |   \
	 LANDLOCK_ACCESS_FS_READ_DIR | LANDLOCK_ACCESS_FS_REMOVE_FILE |   \
	 LANDLOCK_ACCESS_FS_MAKE_REG)

/* No path at all, or only beneath the spool folder. */
static int landlock(const struct sandbox *sb)
{
	struct landlock_ruleset_attr attr = { .handled_access_fs = FS_ALL };
	int fd, ret = 0;

	if (!sandbox_landlock_abi()) {
		log_warn("%s: the kernel has no Landlock; relying on uid and seccomp alone",
			 role_name(sb->role));
		return 0;
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0)
		return -errno;
	if (sb->role == ROLE_UPLINK && sb->spool_fd >= 0) {
		struct landlock_path_beneath_attr pb = {
			.allowed_access = FS_SPOOL,
			.parent_fd = sb->spool_fd,
		};

		if (syscall(SYS_landlock_add_rule, fd,
			    LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
			ret = -errno;
	}
	if (!ret && syscall(SYS_landlock_restrict_self, fd, 0) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int sandbox_drop_user(const struct sandbox *sb)
{
	pid_t parent = getppid();

	if (!sb->uid || getuid() == sb->uid)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
	    setresuid(sb->uid, sb->uid, sb->uid) < 0)
		return -errno;
	/* No way back: a root uid must now be refused. */
	if (setuid(0) == 0)
		return -EPERM;
	/* Changing uid cleared the parent-death signal: set it again, so a
	 * role never outlives moatd (and never holds the spool or a ring of
	 * a moatd that is gone). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		return -errno;
	if (getppid() != parent)
		_exit(1);
	return 0;
}

#define ALLOW(name)                                                       \
	do {                                                              \
		if (!ret)                                                 \
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,       \
					       SCMP_SYS(name), 0);        \
	} while (0)
#define ALLOW_IF(name, n, ...)                                            \
	do {                                                              \
		if (!ret)                                                 \
			ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW,       \
					       SCMP_SYS(name), n,         \
					       __VA_ARGS__);              \
	} while (0)

/* What every role needs: memory, time, waiting, eventfds, logging, exit. */
static int allow_common(scmp_filter_ctx ctx)
{
	int ret = 0;

	ALLOW(read);
	ALLOW(write);
	ALLOW(writev);
	ALLOW(close);
	ALLOW(exit);
	ALLOW(exit_group);
	ALLOW(clock_gettime);
	ALLOW(clock_nanosleep);
	ALLOW(nanosleep);
	ALLOW(ppoll);
	ALLOW(poll);
	ALLOW(futex);
	ALLOW(brk);
	ALLOW(munmap);
	ALLOW(madvise);
	ALLOW(mremap);
	ALLOW(rt_sigreturn);
	ALLOW(rt_sigprocmask);
	ALLOW(restart_syscall);
	ALLOW(getpid);
	ALLOW(gettid);
	ALLOW(sched_yield);
	ALLOW(sigaltstack); /* the sanitizers tear theirs down at exit */
	ALLOW(fstat);
	ALLOW(newfstatat);
	ALLOW(lseek);
	ALLOW(getrandom);
	/* no executable memory, ever */
	ALLOW_IF(mmap, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	ALLOW_IF(mprotect, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
	return ret;
}

static int allow_uplink(scmp_filter_ctx ctx, int spool)
{
	int ret = 0;

	ALLOW(io_uring_enter);
	ALLOW(fsync);
	ALLOW(fdatasync);
	ALLOW(ftruncate);
	ALLOW(pread64);
	ALLOW(pwrite64);
	ALLOW(sendto);
	ALLOW(recvfrom);
	ALLOW(setsockopt);
	ALLOW(getsockopt);
	ALLOW(shutdown);
	/* files only relative to the spool folder (Landlock keeps them there) */
	ALLOW_IF(openat, 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)spool));
	ALLOW_IF(unlinkat, 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)spool));
	ALLOW_IF(renameat, 2, SCMP_A0(SCMP_CMP_EQ, (uint64_t)spool),
		 SCMP_A2(SCMP_CMP_EQ, (uint64_t)spool));
	ALLOW_IF(renameat2, 2, SCMP_A0(SCMP_CMP_EQ, (uint64_t)spool),
		 SCMP_A2(SCMP_CMP_EQ, (uint64_t)spool));
	/* a new TCP socket for each connection to the relay */
	ALLOW_IF(socket, 2, SCMP_A0(SCMP_CMP_EQ, AF_INET),
		 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM));
	ALLOW_IF(socket, 2, SCMP_A0(SCMP_CMP_EQ, AF_INET6),
		 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM));
	return ret;
}

static int seccomp(const struct sandbox *sb)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int ret;

	if (!ctx)
		return -ENOMEM;
	ret = allow_common(ctx);
	if (!ret && sb->role == ROLE_UPLINK)
		ret = allow_uplink(ctx, sb->spool_fd);
	/* the sealer waits on its cameras with epoll (set up beforehand) */
	if (!ret && sb->role == ROLE_SEALER) {
		ALLOW(epoll_wait);
		ALLOW(epoll_pwait);
	}
	/* the sealer and the file-camera worker need nothing more */
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	return ret;
}

int sandbox_enter(const struct sandbox *sb)
{
	const char *step = "drop the user";
	int ret = sandbox_drop_user(sb);

	if (!ret && prctl(PR_SET_DUMPABLE, 0) < 0)
		ret = -errno;
	if (!ret && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		step = "set no_new_privs";
		ret = -errno;
	}
	if (!ret) {
		step = "restrict the file system (Landlock)";
		ret = landlock(sb);
	}
	if (!ret) {
		step = "install the seccomp filter";
		ret = seccomp(sb);
	}
	if (ret)
		log_err("%s: cannot %s: %s", role_name(sb->role), step,
			strerror(-ret));
	return ret;
}
