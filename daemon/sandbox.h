/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Confining a role process (docs/SANDBOX.md): after it has opened what it
 * needs (keys, camera file, spool folder, io_uring), a role drops to its own
 * uid with no groups and no capabilities, forbids new privileges, limits
 * the file system with Landlock (nothing, or only the spool folder), and
 * installs a seccomp allowlist. A call outside the list kills the process
 * (SIGSYS): a compromised role dies rather than probes.
 */
#ifndef MOAT_DAEMON_SANDBOX_H
#define MOAT_DAEMON_SANDBOX_H

#include <stdbool.h>
#include <sys/types.h>

enum role {
	ROLE_WORKER = 1,
	ROLE_SEALER,
	ROLE_UPLINK,
};

/* A capture worker's address space (RLIMIT_AS), decoders included. */
#define WORKER_MEM_MAX (1ULL << 30)

struct sandbox {
	enum role role;
	uid_t uid; /* 0: stay (tests that are not root) */
	gid_t gid;
	int spool_fd; /* uplink: the only folder it may touch */
	/* An IP camera's worker: it may connect to TCP port net_port (until
	 * sandbox_close_net()), send and receive on that socket. */
	bool net;
	unsigned int net_port;
	/* ... and run a second thread (its motion substream's reader) */
	bool threads;
	/* A local camera's worker: ioctl on its device, io_uring_enter on
	 * the ring that polls it (both opened before the sandbox). */
	bool v4l2;
	int dev_fd, uring_fd;
	int enc_fd; /* and its memory-to-memory encoder, or -1 */
	/* A camera libcamera drives: its threads run already (the filter
	 * goes on all of them), ioctl on the devices it opened, no file
	 * opened again. */
	bool libcamera;
};

const char *role_name(enum role role);

/*
 * Drops to the role's uid (no groups, no capabilities); sandbox_enter()
 * does it too if it has not been done. A role calls it early when what it
 * opens next must belong to its own uid (the uplink's spool files).
 */
int sandbox_drop_user(const struct sandbox *sb);
/* Drops privileges and installs the filters. 0 or -errno (logged). */
int sandbox_enter(const struct sandbox *sb);

/*
 * An IP camera's worker, once connected: a second filter on top of the
 * first that kills the process on any new socket or connection, so what
 * parses the camera's stream can only talk on the socket it has.
 */
int sandbox_close_net(void);

/* 1 if Landlock is available, else 0 (the kernel lacks it). */
int sandbox_landlock_abi(void);

#endif
