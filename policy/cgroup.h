/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The roles' cgroup tree (cgroup v2): one folder, `[hub] cgroup`, and a
 * child per role, which moatd moves each role into before it drops root:
 *
 *   ROOT/worker-NAME   one per camera
 *   ROOT/sealer
 *   ROOT/uplink
 *
 * The BPF policy is attached to ROOT (the roles' rules, keyed by each
 * child's cgroup id) and to ROOT/uplink (the ciphertext gate). No
 * controllers are enabled: the tree is only for the kernel to tell the
 * roles apart.
 */
#ifndef MOAT_POLICY_CGROUP_H
#define MOAT_POLICY_CGROUP_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/config.h"
#include "daemon/sandbox.h"

enum { CG_PATH_MAX = 512 };

/* ROOT: [hub] cgroup, or under the cgroup2 mount system.slice/moatd.service
 * on a host booted with systemd (moatd.service's cgroup, Delegate=yes),
 * else moat. 0 or -ENOENT (no cgroup2 file system mounted). */
int cg_root(const struct cfg *c, char out[static CG_PATH_MAX]);

/* The folder of a role (cam: the camera's index, for a worker). */
int cg_path(const struct cfg *c, enum role role, int cam,
	    char out[static CG_PATH_MAX]);

/* The id the kernel gives a cgroup (what BPF sees): 0 or -errno. */
int cg_id(const char *path, uint64_t *id);

/* Makes ROOT and every role's folder (for c's cameras). 0 or -errno,
 * with the folder at fault in why. */
int cg_make(const struct cfg *c, char *why, size_t why_len);

/* Moves the calling process into path. 0 or -errno. */
int cg_enter(const char *path);

/* Removes ROOT's role folders that no process is in, then ROOT if it is
 * empty. Returns how many folders are left (busy). */
int cg_remove(const struct cfg *c);

#endif
