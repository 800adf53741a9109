// SPDX-License-Identifier: GPL-2.0-only
/*
 * The role sandboxes hold: a process confined as each role (its own user,
 * Landlock, the seccomp allowlist, exactly as moatd confines it) attempts
 * what its role must never do and is refused: killed by SIGSYS, or the
 * call fails. Each role also does what it needs, so the filters are not
 * simply refusing everything.
 */
#include <errno.h>
#include <arpa/inet.h>
#include <liburing.h>
#include <fcntl.h>
#include <pwd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ring.h"
#include "daemon/roles.h"
#include "daemon/sandbox.h"
#include "tests/lib/check.h"

static struct ring_fds ring_rw;
static int ring_ro = -1, spool_fd = -1;

typedef int (*probe_fn)(void);

/* The IP camera worker's sandbox: open to one TCP port, or closed. */
static struct {
	bool on, closed;
	unsigned int port;
} net;

static struct io_uring up_ring; /* the uplink's, in a confined child */
static char victim[96];	/* a file moat-up may delete but for Landlock */

/* Runs fn confined as role: "killed", "ok" (returned 0) or "refused". */
static const char *confined(enum role role, probe_fn fn)
{
	static const char *const users[] = { NULL, "moat-cam", "moat-seal",
					     "moat-up" };
	struct passwd *pw = getpwnam(users[role]);
	struct sandbox sb = { .role = role, .spool_fd = spool_fd };
	int st;
	pid_t pid;

	if (!pw)
		return "no user (run make deps)";
	sb.uid = pw->pw_uid;
	sb.gid = pw->pw_gid;
	sb.net = net.on;
	sb.net_port = net.port;
	fflush(NULL);
	pid = fork();
	if (!pid) {
		/* the uplink's ring is made before its sandbox, as it is */
		if (role == ROLE_UPLINK && uplink_ring_setup(&up_ring))
			_exit(100);
		if (sandbox_enter(&sb))
			_exit(100);
		if (net.closed && sandbox_close_net())
			_exit(100);
		_exit(fn());
	}
	if (waitpid(pid, &st, 0) != pid)
		return "lost";
	if (WIFSIGNALED(st))
		return WTERMSIG(st) == SIGSYS ? "killed" : "crashed";
	switch (WEXITSTATUS(st)) {
	case 0:
		return "ok";
	case 1:
		return "refused";
	case 100:
		return "sandbox failed";
	}
	return "did it";
}

/* 0 when the call worked, 1 when it failed with EACCES/EPERM, 2 else. */
static int result(long r)
{
	if (r >= 0)
		return 2;
	return errno == EACCES || errno == EPERM ? 1 : 3;
}

static int p_inet(void)
{
	return socket(AF_INET, SOCK_STREAM, 0) >= 0 ? 0 : 3;
}

static int p_unix(void)
{
	return socket(AF_UNIX, SOCK_STREAM, 0) >= 0 ? 2 : 3;
}

static int p_open_etc(void)
{
	return open("/etc/hostname", O_RDONLY) >= 0 ? 2 : 3;
}

static int p_open_etc_errno(void)
{
	return result(open("/etc/hostname", O_RDONLY));
}

static int p_reopen_ring_rw(void)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", ring_ro);
	return result(open(path, O_RDWR));
}

static int p_reopen_ring_via_spool(void)
{
	char path[64];

	/* an absolute path ignores the directory fd seccomp checks */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", ring_ro);
	return result(openat(spool_fd, path, O_RDWR));
}

static int p_map_ring_writable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, ring_ro,
		       0);

	return result(p == MAP_FAILED ? -1 : 0);
}

/* A read-only mapping made writable afterwards. */
static int p_mprotect_ring_writable(void)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, ring_ro, 0);

	if (p == MAP_FAILED)
		return 3;
	return result(mprotect(p, 4096, PROT_READ | PROT_WRITE));
}

static int p_udp(void)
{
	return socket(AF_INET, SOCK_DGRAM, 0) >= 0 ? 2 : 3;
}

static int p_mptcp(void)
{
	return socket(AF_INET, SOCK_STREAM, 262 /* IPPROTO_MPTCP */) >= 0 ? 2 : 3;
}

static unsigned int cam_port, other_port;

static int connect_to(unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 3;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
		return 0;
	return result(-1);
}

static int p_connect_camera(void)
{
	return connect_to(cam_port);
}

static int p_connect_other(void)
{
	return connect_to(other_port) == 0 ? 2 : connect_to(other_port);
}

/* A listener on loopback: its port. */
static unsigned int listener(int *fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	if (*fd < 0 || bind(*fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(*fd, 8) || getsockname(*fd, (struct sockaddr *)&a, &len))
		return 0;
	return ntohs(a.sin_port);
}

static int p_spool_file(void)
{
	int fd = openat(spool_fd, "probe.seg", O_RDWR | O_CREAT, 0600);

	if (fd < 0 || write(fd, "x", 1) != 1 || fsync(fd))
		return 3;
	return unlinkat(spool_fd, "probe.seg", 0) ? 3 : 0;
}

static int p_spool_escape(void)
{
	return result(openat(spool_fd, "../escape", O_RDWR | O_CREAT, 0600));
}

/* The spool's deletions go through the uplink's ring (UNLINKAT), which
 * seccomp cannot see: Landlock keeps them in the spool folder. */
static int ring_unlink(int dirfd, const char *path)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&up_ring);
	struct io_uring_cqe *cqe;
	int res;

	io_uring_prep_unlinkat(sqe, dirfd, path, 0);
	if (io_uring_submit(&up_ring) != 1 || io_uring_wait_cqe(&up_ring, &cqe))
		return 3;
	res = cqe->res;
	io_uring_cqe_seen(&up_ring, cqe);
	if (!res)
		return 0;
	return res == -EACCES || res == -EPERM ? 1 : 3;
}

static int p_ring_unlink_spool(void)
{
	int fd = openat(spool_fd, "old.seg", O_RDWR | O_CREAT, 0600);

	if (fd < 0)
		return 3;
	close(fd);
	if (ring_unlink(spool_fd, "old.seg"))
		return 3;
	/* gone: opening it finds nothing */
	return openat(spool_fd, "old.seg", O_RDONLY) < 0 && errno == ENOENT ? 0 : 3;
}

static int p_ring_unlink_escape(void)
{
	int r = ring_unlink(spool_fd, "../victim");

	return r ? r : 2;
}

static int p_ring_unlink_abs(void)
{
	int r = ring_unlink(AT_FDCWD, victim);

	return r ? r : 2;
}

static int p_exec_memory(void)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? 3 : 2;
}

static int p_execve(void)
{
	char *argv[] = { "/bin/true", NULL };

	execv(argv[0], argv);
	return 3;
}

static int p_work(void)
{
	uint8_t b[32];

	/* what every role does: randomness, its own memory, its fds */
	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return 3;
	free(malloc(1 << 20));
	return 0;
}

/* One operation on the uplink's restricted ring: its CQE result. */
static int ring_try(struct io_uring *r, int op, uint8_t flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(r);
	struct io_uring_cqe *cqe;
	int res;

	if (op == IORING_OP_OPENAT)
		io_uring_prep_openat(sqe, AT_FDCWD, "/etc/hostname", O_RDONLY, 0);
	else
		io_uring_prep_nop(sqe);
	sqe->flags |= flags;
	if (io_uring_submit(r) != 1 || io_uring_wait_cqe(r, &cqe))
		return -999;
	res = cqe->res;
	io_uring_cqe_seen(r, cqe);
	return res;
}

/* seccomp cannot see io_uring operations: the ring itself refuses them. */
static void uplink_ring(void)
{
	struct io_uring r;

	CHECK(!uplink_ring_setup(&r), "the uplink's io_uring");
	CHECK(ring_try(&r, IORING_OP_NOP, 0) == 0, "a NOP it allows");
	CHECK(ring_try(&r, IORING_OP_NOP, IOSQE_IO_LINK) == 0,
	      "a linked one too (its chains)");
	CHECK(ring_try(&r, IORING_OP_OPENAT, 0) == -EACCES,
	      "opening a file through the ring is refused (EACCES)");
	CHECK(ring_try(&r, IORING_OP_NOP, IOSQE_ASYNC) == -EACCES,
	      "an SQE flag it does not use is refused");
	io_uring_queue_exit(&r);
}

int main(void)
{
	char dir[] = "/tmp/moat-sandbox-XXXXXX", spool[64];
	struct passwd *up = getpwnam("moat-up");

	if (geteuid())
		test_skip("the sandboxes drop from root to each role's user");
	if (getenv("LD_PRELOAD") && strstr(getenv("LD_PRELOAD"), "vgpreload"))
		test_skip("seccomp cannot confine a program valgrind runs (valgrind makes the system calls itself); the plain and ASan runs test the sandboxes");
	CHECK(!ring_create(RING_MIN_CAP, &ring_rw), "a ring");
	ring_ro = ring_fd_readonly(ring_rw.data);
	CHECK(ring_ro >= 0, "its read-only descriptor");
	CHECK(mkdtemp(dir) != NULL, "temp folder");
	chmod(dir, 0755);
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	mkdir(spool, 0700);
	CHECK(up && !chown(spool, up->pw_uid, up->pw_gid), "spool owned by moat-up");
	spool_fd = open(spool, O_RDONLY | O_DIRECTORY);

	/* The sealer: keys and rings, nothing else. */
	CHECK(!strcmp(confined(ROLE_SEALER, p_work), "ok"),
	      "sealer: its own work runs");
	CHECK(!strcmp(confined(ROLE_SEALER, p_inet), "killed"),
	      "sealer: opening an internet socket kills it");
	CHECK(!strcmp(confined(ROLE_SEALER, p_unix), "killed"),
	      "sealer: opening a unix socket kills it");
	CHECK(!strcmp(confined(ROLE_SEALER, p_open_etc), "killed"),
	      "sealer: opening any file kills it");
	CHECK(!strcmp(confined(ROLE_SEALER, p_reopen_ring_rw), "killed"),
	      "sealer: reopening its read-only ring for writing kills it");
	CHECK(!strcmp(confined(ROLE_SEALER, p_map_ring_writable), "refused"),
	      "sealer: a writable mapping of the plaintext ring is refused");
	CHECK(!strcmp(confined(ROLE_SEALER, p_mprotect_ring_writable),
		      "refused"),
	      "sealer: making its read-only mapping writable is refused");
	CHECK(!strcmp(confined(ROLE_SEALER, p_exec_memory), "killed"),
	      "sealer: executable memory kills it");
	CHECK(!strcmp(confined(ROLE_SEALER, p_execve), "killed"),
	      "sealer: running a program kills it");

	/* The uplink: the spool, TCP to the relay, ciphertext only. */
	CHECK(!strcmp(confined(ROLE_UPLINK, p_work), "ok"),
	      "uplink: its own work runs");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_spool_file), "ok"),
	      "uplink: writes spool files");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_inet), "ok"),
	      "uplink: opens a TCP socket");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_unix), "killed"),
	      "uplink: a unix socket kills it");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_reopen_ring_rw), "killed"),
	      "uplink: opening the plaintext ring for writing by path kills it");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_reopen_ring_via_spool),
		      "refused"),
	      "uplink: the same through the spool folder's descriptor is refused");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_map_ring_writable), "refused"),
	      "uplink: a writable mapping of a ring it reads (the sealed records) is refused");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_mprotect_ring_writable),
		      "refused"),
	      "uplink: making its read-only mapping of the records writable is refused");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_mptcp), "killed"),
	      "uplink: an MPTCP socket kills it (TCP only)");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_spool_escape), "refused"),
	      "uplink: a file outside the spool is refused");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_execve), "killed"),
	      "uplink: running a program kills it");
	CHECK(!strcmp(confined(ROLE_UPLINK, p_ring_unlink_spool), "ok"),
	      "uplink: deletes a spool segment through its io_uring (UNLINKAT)");
	{
		/* moat-up's own file in a folder anyone may write: only
		 * Landlock stands in the way */
		int fd;

		snprintf(victim, sizeof(victim), "%s/victim", dir);
		fd = open(victim, O_WRONLY | O_CREAT, 0600);
		CHECK(fd >= 0 && !fchown(fd, up->pw_uid, up->pw_gid) &&
			      !chmod(dir, 0777),
		      "a file of moat-up's beside the spool");
		if (fd >= 0)
			close(fd);
		CHECK(!strcmp(confined(ROLE_UPLINK, p_ring_unlink_escape),
			      "refused"),
		      "uplink: deleting ../victim through its io_uring is refused");
		CHECK(!strcmp(confined(ROLE_UPLINK, p_ring_unlink_abs),
			      "refused"),
		      "uplink: deleting it by its full path through its io_uring is refused");
		CHECK(!access(victim, F_OK), "and the file is still there");
		unlink(victim);
		chmod(dir, 0755);
	}

	/* The file camera worker: no network at all. */
	CHECK(!strcmp(confined(ROLE_WORKER, p_work), "ok"),
	      "worker: its own work runs");
	CHECK(!strcmp(confined(ROLE_WORKER, p_inet), "killed"),
	      "worker: a socket kills it");
	CHECK(!strcmp(confined(ROLE_WORKER, p_open_etc), "killed"),
	      "worker: opening a file kills it");

	/* The IP camera worker: one TCP port until the camera plays, then
	 * no new connection at all. */
	{
		int l1 = -1, l2 = -1;

		cam_port = listener(&l1);
		other_port = listener(&l2);
		CHECK(cam_port && other_port, "two loopback listeners");
		net.on = true;
		net.port = cam_port;
		CHECK(!strcmp(confined(ROLE_WORKER, p_connect_camera), "ok"),
		      "IP camera worker: connects to its camera's port");
		if (sandbox_landlock_abi() >= 4)
			CHECK(!strcmp(confined(ROLE_WORKER, p_connect_other),
				      "refused"),
			      "IP camera worker: another port is refused (Landlock)");
		else
			fprintf(stderr,
				"note: Landlock ABI %d has no TCP rules; the port check is left to the network policy\n",
				sandbox_landlock_abi());
		CHECK(!strcmp(confined(ROLE_WORKER, p_udp), "killed"),
		      "IP camera worker: a UDP socket kills it");
		CHECK(!strcmp(confined(ROLE_WORKER, p_mptcp), "killed"),
		      "IP camera worker: an MPTCP socket kills it");
		CHECK(!strcmp(confined(ROLE_WORKER, p_open_etc_errno), "refused"),
		      "IP camera worker: opening a file is refused");
		CHECK(!strcmp(confined(ROLE_WORKER, p_execve), "killed"),
		      "IP camera worker: running a program kills it");
		net.closed = true;
		CHECK(!strcmp(confined(ROLE_WORKER, p_work), "ok"),
		      "IP camera worker, streaming: its own work runs");
		CHECK(!strcmp(confined(ROLE_WORKER, p_connect_camera),
			      "killed"),
		      "IP camera worker, streaming: a new socket kills it");
		net.on = net.closed = false;
		close(l1);
		close(l2);
	}

	uplink_ring();
	close(spool_fd);
	rmdir(spool);
	rmdir(dir);
	ring_fds_close(&ring_rw);
	close(ring_ro);
	return test_done("test_sandbox");
}
