/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moatctl's commands, a file each: status (moatctl.c), policy, cameras,
 * viewers, pair, doctor. Each returns the exit status: 0, 1 (failed, said why), 2 (a
 * usage error, usage printed).
 */
#ifndef MOAT_TOOLS_MOATCTL_CMDS_H
#define MOAT_TOOLS_MOATCTL_CMDS_H

#include <stdbool.h>

extern const char moatctl_usage[];

int policy_cmd(const char *cfg_path, int argc, char **argv, bool json);
int cameras_cmd(int argc, char **argv, bool json);
int viewers_cmd(const char *cfg_path, const char *sock, int argc,
		char **argv, bool json);
int doctor_cmd(const char *cfg_path, int argc, char **argv, bool json);
int pair_cmd(const char *cfg_path, const char *sock, int argc, char **argv,
	     bool json);
/* Tells a running moatd the viewers changed (what it says on stdout,
 * unless quiet); no moatd is fine, it reads them when it starts. */
void viewers_tell(const char *sock, bool quiet);

#endif
