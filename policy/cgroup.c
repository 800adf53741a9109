// SPDX-License-Identifier: GPL-2.0-only
/* The roles' cgroup tree (see cgroup.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy/cgroup.h"

/* The first cgroup2 mount in /proc/self/mountinfo. */
static int cg2_mount(char out[static CG_PATH_MAX])
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (ret && fgets(line, sizeof(line), f)) {
		char mnt[CG_PATH_MAX], *dash = strstr(line, " - ");

		/* id parent maj:min root mountpoint ... - fstype ... */
		if (!dash || strncmp(dash, " - cgroup2 ", 11))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) == 1) {
			snprintf(out, CG_PATH_MAX, "%s", mnt);
			ret = 0;
		}
	}
	fclose(f);
	return ret;
}

int cg_root(const struct cfg *c, char out[static CG_PATH_MAX])
{
	char mnt[CG_PATH_MAX];
	int ret;

	if (c->cgroup[0]) {
		snprintf(out, CG_PATH_MAX, "%s", c->cgroup);
		return 0;
	}
	ret = cg2_mount(mnt);
	/* booted with systemd (sd_booted()'s test): moatd.service's own
	 * cgroup, which systemd delegates to moatd */
	if (!ret && snprintf(out, CG_PATH_MAX, "%s/%s", mnt,
			     access("/run/systemd/system", F_OK) ?
				     "moat" :
				     "system.slice/moatd.service") >=
			    CG_PATH_MAX)
		ret = -ENAMETOOLONG;
	return ret;
}

int cg_path(const struct cfg *c, enum role role, int cam,
	    char out[static CG_PATH_MAX])
{
	char root[CG_PATH_MAX];
	int ret = cg_root(c, root), n;

	if (ret)
		return ret;
	if (role == ROLE_WORKER)
		n = snprintf(out, CG_PATH_MAX, "%s/worker-%s", root,
			     c->cams[cam].name);
	else
		n = snprintf(out, CG_PATH_MAX, "%s/%s", root, role_name(role));
	return n >= CG_PATH_MAX ? -ENAMETOOLONG : 0;
}

int cg_id(const char *path, uint64_t *id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh.handle_bytes = sizeof(uint64_t) };
	int mount_id;

	*id = 0;
	/* a cgroup v2 folder's file handle is its id, as BPF sees it */
	if (name_to_handle_at(AT_FDCWD, path, &h.fh, &mount_id, 0) < 0)
		return -errno;
	if (h.fh.handle_bytes != sizeof(uint64_t))
		return -EINVAL;
	memcpy(id, h.fh.f_handle, sizeof(*id));
	return 0;
}

/* A folder moatd's user can enter whatever the umask (moat-policy.service
 * and moatd.service run with UMask=0077). */
static int mkdir_one(const char *path, char *why, size_t why_len)
{
	int ret;

	if (mkdir(path, 0755) == 0) {
		if (chmod(path, 0755) == 0)
			return 0;
	} else if (errno == EEXIST) {
		return 0;
	}
	ret = -errno;
	snprintf(why, why_len, "cannot make the cgroup %s: %s", path,
		 strerror(errno));
	return ret;
}

/*
 * A role's folder goes to whoever owns ROOT. Under systemd, ROOT is
 * moatd.service's own cgroup, delegated (Delegate=yes) to moatd's user,
 * and moatd moves each role it starts into that role's folder: the kernel
 * lets it only if it may write the folder's cgroup.procs (and ROOT's).
 * The folder itself and its other files stay as made: moatd may not
 * remove a folder nor change its limits.
 */
static int give(const char *path, const struct stat *root, char *why,
		size_t why_len)
{
	char f[CG_PATH_MAX + 16];
	struct stat st;

	if (!root->st_uid)
		return 0;
	snprintf(f, sizeof(f), "%s/cgroup.procs", path);
	if (!stat(f, &st) && st.st_uid == root->st_uid &&
	    st.st_gid == root->st_gid)
		return 0;
	if (chown(f, root->st_uid, root->st_gid) < 0) {
		int ret = -errno;

		snprintf(why, why_len,
			 "cannot give %s to uid %u, who owns the roles' cgroup (moatd's user): %s",
			 f, (unsigned int)root->st_uid, strerror(errno));
		return ret;
	}
	return 0;
}

int cg_make(const struct cfg *c, char *why, size_t why_len)
{
	char p[CG_PATH_MAX];
	struct stat root;
	int ret = cg_root(c, p);

	if (ret) {
		snprintf(why, why_len,
			 "no cgroup v2 file system is mounted (the roles need one; mount cgroup2 or set [hub] cgroup)");
		return ret;
	}
	ret = mkdir_one(p, why, why_len);
	if (!ret && stat(p, &root) < 0) {
		ret = -errno;
		snprintf(why, why_len, "the cgroup %s: %s", p, strerror(errno));
	}
	for (int r = ROLE_SEALER; !ret && r <= ROLE_UPLINK; r++) {
		ret = cg_path(c, (enum role)r, -1, p);
		if (!ret)
			ret = mkdir_one(p, why, why_len);
		if (!ret)
			ret = give(p, &root, why, why_len);
	}
	for (size_t i = 0; !ret && i < c->n_cams; i++) {
		ret = cg_path(c, ROLE_WORKER, (int)i, p);
		if (!ret)
			ret = mkdir_one(p, why, why_len);
		if (!ret)
			ret = give(p, &root, why, why_len);
	}
	return ret;
}

int cg_enter(const char *path)
{
	char procs[CG_PATH_MAX + 16];
	int fd, ret = 0;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, "0\n", 2) != 2)
		ret = -errno;
	close(fd);
	return ret;
}

int cg_remove(const struct cfg *c)
{
	char root[CG_PATH_MAX], p[CG_PATH_MAX + 300];
	struct dirent *e;
	DIR *d;
	int left = 0;

	if (cg_root(c, root))
		return 0;
	d = opendir(root);
	if (!d)
		return 0;
	while ((e = readdir(d))) {
		/* only moat's own folders, whatever else is there */
		if (e->d_type != DT_DIR ||
		    (strcmp(e->d_name, "sealer") && strcmp(e->d_name, "uplink") &&
		     strncmp(e->d_name, "worker-", 7)))
			continue;
		snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
		if (rmdir(p) < 0)
			left++;
	}
	closedir(d);
	if (rmdir(root) < 0 && errno != ENOENT)
		left++;
	return left;
}
