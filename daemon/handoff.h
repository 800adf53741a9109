/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The sealer and the uplink are programs of their own, moat-sealer and
 * moat-uplink, linked with libcrypto, liburing and libseccomp only; a
 * camera worker stays a fork of moatd (it needs the codecs and camera
 * libraries moatd links). moatd's child sets the role up as before
 * (cgroup, priority, limits, its descriptors and nothing else), writes
 * what the role's main would have been called with into a memfd and
 * execs the program from a descriptor moatd opened at start, so a
 * package upgrade under a running moatd cannot pair it with a program
 * of another build. The program reads it back, checks it (its layout,
 * folded into the magic, is this build's; handoff_check()) and runs the
 * role (docs/SANDBOX.md). The handoff holds the configuration with every
 * camera's source cleared (their URLs carry passwords) and, for the
 * uplink, its login key; the role gets an environment of sanitizer
 * options and MOAT_CIPHER only.
 *
 * Where the programs are: next to moatd (the build tree), or in
 * ../lib/moat/ from moatd's folder (/usr/sbin/moatd ->
 * /usr/lib/moat/moat-sealer, as make install and the packages put them;
 * make install refuses a LIBDIR that is not SBINDIR/../lib). Only a
 * program owned by root, moatd's user or moatd's own owner, and not
 * writable by group or others, is run.
 */
#ifndef MOAT_DAEMON_HANDOFF_H
#define MOAT_DAEMON_HANDOFF_H

#include <stddef.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/roles.h"

struct handoff {
	uint64_t magic;
	uint32_t size; /* sizeof(struct handoff) */
	uint32_t role;
	pid_t parent; /* moatd: the role dies with it */
	int log_level;
	int stats_fd; /* the role's counters (stats.h), mapped anew */
	size_t stats_len;
	struct cfg cfg; /* as moatd read it (io.*.cfg points here) */
	union {
		struct sealer_io sealer;
		struct uplink_io uplink;
	} io;
};

/* The program's exit status when it refuses a handoff, and then moatd's:
 * moatd stops, as a restart would be refused again, and moatd.service
 * does not restart it (RestartPreventExitStatus). */
enum { HANDOFF_REFUSED = 78 };

/* This build's handoff magic: its layout (sizes and offsets) hashed. */
uint64_t handoff_magic(void);

/* The program's name for a role (moat-sealer, moat-uplink), or NULL. */
const char *handoff_program(enum role role);

/*
 * Opens the role's program (O_PATH) where moatd's own executable lies, or
 * in ../lib/moat/ from there. An fd, or -errno with a message naming both
 * places logged.
 */
int handoff_open_program(enum role role);

/*
 * In moatd's child, after it closed all but the role's descriptors:
 * clears close-on-exec on keep[0..n), writes h into a memfd and execs
 * prog_fd. Returns only on failure (-errno, logged).
 */
int handoff_exec(int prog_fd, enum role role, struct handoff *h,
		 const int *keep, int n);

/*
 * What is wrong with a handoff read by the program for role (its layout
 * is this build's, its counts and lengths fit their arrays, its strings
 * end, its sandbox is the role's and not root's), or NULL.
 */
const char *handoff_check(const struct handoff *h, enum role role);

/*
 * In the program: takes the handoff named by argv (`--handoff FD'),
 * checks it, maps the counters and points the io's cfg and counters at
 * them. *out is freed by nobody (the role runs until it exits). 0, or
 * -errno after a message on stderr: -EPROTO for a handoff it refuses
 * (the program exits HANDOFF_REFUSED), -EINVAL for a command line that
 * is not moatd's.
 */
int handoff_take(int argc, char **argv, enum role role, struct handoff **out);

#endif
