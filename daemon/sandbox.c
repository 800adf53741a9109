// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/landlock.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <netinet/in.h>
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

/* Landlock ABI 4 (network) as the kernel defines it; Debian 12's headers
 * predate it. */
struct ll_ruleset_net {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
};
struct ll_net_port {
	uint64_t allowed_access;
	uint64_t port;
} __attribute__((packed));
enum {
	LL_RULE_NET_PORT = 2,
	LL_NET_BIND_TCP = 1 << 0,
	LL_NET_CONNECT_TCP = 1 << 1,
};

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
	/* Landlock 4 (Linux 6.7) also governs TCP: the camera's port only. */
	if (sb->net && sandbox_landlock_abi() < 4)
		log_warn("%s: Landlock before ABI 4 cannot limit TCP ports; seccomp and the network policy alone confine this camera's connection",
			 role_name(sb->role));
	if (sb->net && sandbox_landlock_abi() >= 4) {
		struct ll_ruleset_net na = {
			.handled_access_fs = FS_ALL,
			.handled_access_net = LL_NET_BIND_TCP |
					      LL_NET_CONNECT_TCP,
		};
		struct ll_net_port np = { .allowed_access = LL_NET_CONNECT_TCP,
					  .port = sb->net_port };

		close(fd);
		fd = (int)syscall(SYS_landlock_create_ruleset, &na, sizeof(na),
				  0);
		if (fd < 0)
			return -errno;
		if (sb->net_port && syscall(SYS_landlock_add_rule, fd,
					    LL_RULE_NET_PORT, &np, 0) < 0)
			ret = -errno;
	}
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

/* Empties the effective, permitted and inheritable capability sets. */
static int caps_none(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3] = { 0 };

	return (int)syscall(SYS_capset, &h, d);
}

int sandbox_drop_user(const struct sandbox *sb)
{
	pid_t parent = getppid();

	if (!sb->uid || getuid() == sb->uid)
		return 0;
	if (setgroups(0, NULL) < 0 || setresgid(sb->gid, sb->gid, sb->gid) < 0 ||
	    setresuid(sb->uid, sb->uid, sb->uid) < 0)
		return -errno;
	/* From root the kernel clears every capability at the change of
	 * uid; from moatd's own user (moatd.service) it keeps them, so they
	 * go here: none left, none to come back at an exec. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 ||
	    caps_none() < 0)
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

/* socket(family, SOCK_STREAM [| flags], 0 or IPPROTO_TCP): TCP only, not
 * MPTCP or SCTP, which share the stream type. */
#define TCP_SOCKET(family)                                                 \
	do {                                                               \
		ALLOW_IF(socket, 3, SCMP_A0(SCMP_CMP_EQ, family),          \
			 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM),   \
			 SCMP_A2(SCMP_CMP_EQ, 0));                         \
		ALLOW_IF(socket, 3, SCMP_A0(SCMP_CMP_EQ, family),          \
			 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff, SOCK_STREAM),   \
			 SCMP_A2(SCMP_CMP_EQ, IPPROTO_TCP));               \
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
	/* a new TCP socket for each connection to the relay */
	TCP_SOCKET(AF_INET);
	TCP_SOCKET(AF_INET6);
	return ret;
}

/* An IP camera's worker: a TCP connection to the camera, and its I/O. */
static int allow_camera_net(scmp_filter_ctx ctx)
{
	int ret = 0;

	TCP_SOCKET(AF_INET);
	TCP_SOCKET(AF_INET6);
	ALLOW(connect);
	ALLOW(fcntl);
	ALLOW(setsockopt);
	ALLOW(getsockopt);
	ALLOW(getsockname);
	ALLOW(getpeername);
	ALLOW(sendto);
	ALLOW(recvfrom);
	ALLOW(shutdown);
	ALLOW(uname); /* the TLS library's set-up in avformat_network_init */
	/* sandbox_close_net() adds a second filter once the camera is
	 * connected; a filter can only take rights away */
	ALLOW(seccomp);
	/* libavutil's random seed (a digest cnonce) tries /dev/urandom
	 * before its fallback: refused here without looking at the path */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
				       SCMP_SYS(openat), 0);
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
				       SCMP_SYS(open), 0);
	return ret;
}

/*
 * pthread_create(): clone() only with CLONE_THREAD (a thread of this
 * process, never a new process); clone3 fails with ENOSYS, which makes
 * glibc use clone(), whose flags a filter can see.
 */
static int allow_threads(scmp_filter_ctx ctx)
{
	int ret = 0;

	ALLOW_IF(clone, 1,
		 SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	ALLOW(set_robust_list);
	ALLOW(rt_sigaction); /* glibc's thread-cancellation handler */
	ALLOW(sched_getaffinity); /* the sanitizers' thread start */
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				       SCMP_SYS(clone3), 0);
	/* the main thread registered rseq at start: glibc aborts when a new
	 * thread cannot */
	ALLOW(rseq);
	return ret;
}

int sandbox_close_net(void)
{
	static const int calls[] = {
		SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect),
		SCMP_SYS(bind),	  SCMP_SYS(listen),	SCMP_SYS(accept),
		SCMP_SYS(accept4),
	};
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int ret = ctx ? 0 : -ENOMEM;

	/* no_new_privs is already set: no prctl() needed to add a filter */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (size_t i = 0; !ret && i < sizeof(calls) / sizeof(calls[0]); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, calls[i], 0);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret)
		log_err("worker: cannot close the network: %s", strerror(-ret));
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
	if (!ret && sb->role == ROLE_WORKER && sb->net)
		ret = allow_camera_net(ctx);
	if (!ret && sb->role == ROLE_WORKER && sb->threads)
		ret = allow_threads(ctx);
	/* a V4L2 camera: its device's ioctls and its poll ring, those
	 * descriptors only */
	if (!ret && sb->role == ROLE_WORKER && sb->v4l2) {
		ALLOW_IF(ioctl, 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)sb->dev_fd));
		if (!ret && sb->enc_fd >= 0)
			ALLOW_IF(ioctl, 1,
				 SCMP_A0(SCMP_CMP_EQ, (uint64_t)sb->enc_fd));
		ALLOW_IF(io_uring_enter, 1,
			 SCMP_A0(SCMP_CMP_EQ, (uint64_t)sb->uring_fd));
	}
	/* a libcamera camera: its threads queue and dequeue buffers and set
	 * controls with ioctl on the devices it opened (V4L2 and sub-device
	 * 'V', media controller '|', DMA heap 'H', dma-buf 'b', udmabuf 'u'
	 * families; any other ioctl, a terminal's TIOCSTI on an inherited
	 * descriptor say, kills it as any call off the list does; a
	 * filter cannot both allow some of a call and refuse the rest
	 * with an error), wait with ppoll, read
	 * udev's news of an unplug (recvmsg on the monitor it opened), and
	 * unlock the media device when the camera is released (lockf:
	 * fcntl F_SETLK); it opens no file once streaming (an attempt
	 * fails, EACCES, rather than killing the camera) */
	if (!ret && sb->role == ROLE_WORKER && sb->libcamera) {
		static const int types[] = { 'V', '|', 'H', 'b', 'u' };

		ret = allow_threads(ctx);
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			ALLOW_IF(ioctl, 1,
				 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00,
					 (uint64_t)types[i] << 8));
		ALLOW(recvmsg);
		ALLOW_IF(fcntl, 1, SCMP_A1(SCMP_CMP_EQ, F_SETLK));
#ifdef __SANITIZE_ADDRESS__
		/* the sanitizers probe memory through a pipe
		 * (IsAccessibleMemoryRange) when they check a C++ object's
		 * type as libcamera tears the camera down: seen as a SIGSYS
		 * on pipe2 in the ASan run of test_libcamera */
		ALLOW(pipe2);
#endif
		if (!ret)
			ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES),
					       SCMP_SYS(openat), 0);
		/* on every thread: libcamera's started before this */
		if (!ret)
			ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	}
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
#ifndef __SANITIZE_ADDRESS__ /* ASan reserves terabytes of shadow */
	/*
	 * A worker's memory is the camera's to inflate (an SDP that claims
	 * 2 GB, a decoder fed lies): past WORKER_MEM_MAX its allocations
	 * fail and it ends with a reason instead of taking the hub's memory.
	 */
	if (!ret && sb->role == ROLE_WORKER) {
		struct rlimit rl = { WORKER_MEM_MAX, WORKER_MEM_MAX };

		step = "limit its memory";
		if (setrlimit(RLIMIT_AS, &rl) < 0)
			ret = -errno;
	}
#endif
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
