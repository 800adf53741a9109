/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A whole hub for tests: a key folder with a paired viewer, a relay and
 * moatd, each a real process started from the built binaries (the ones
 * next to the test: ../bin), in a fresh folder under /tmp.
 */
#ifndef MOAT_TESTS_HUB_H
#define MOAT_TESTS_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct hub {
	char dir[128];
	char bin[256];
	char conf[200], ident[200], relay_dir[200], spool[200], sock[200];
	char relay_addr[64];
	char relay_quota[16]; /* --quota for the relay, if set */
	const char *relay_args[10]; /* more for the relay, NULL-terminated */
	char cgroup[600], bpf_pin[100]; /* the policy's, the test's own */
	char netns[64]; /* where moatd runs, if not here */
	/* a command moatd and the relay run under (strace ...), or NULL */
	const char *wrap[8];
	unsigned int port;
	pid_t relay, moatd;
};

/*
 * Makes the folder, the keys, the config (camera lines as given). The hub
 * enforces the network policy in a cgroup and bpffs folder of its own;
 * hub_cleanup() removes them.
 */
int hub_init(struct hub *h, const char *name, const char *camera_lines);
/* The same, with lines added to [hub] (such as "policy = off\n"). */
int hub_init_with(struct hub *h, const char *name, const char *hub_lines,
		  const char *camera_lines);
void hub_cleanup(struct hub *h, bool keep);

int hub_start_relay(struct hub *h);
int hub_start_moatd(struct hub *h);
/* Sends sig and waits (up to ms) for the process to go; 0 if it went. */
int hub_stop(pid_t *pid, int sig, int ms);

/* `moatctl status --json` output (malloc'd) or NULL. */
char *hub_status(const struct hub *h);
/* A number from the JSON: the first "key" after "section" (or anywhere). */
int64_t json_num(const char *json, const char *section, const char *key);
/* A string value from the JSON (copied into out). */
int json_str(const char *json, const char *section, const char *key,
	     char *out, size_t len);

/* Waits until every sealed record is acknowledged and nothing waits. */
int hub_wait_drained(struct hub *h, int timeout_ms, bool want_ended);
/*
 * The clip at clip, n times in a row, in a new file under /tmp whose name
 * goes to path: a longer camera file with a known end. Its bytes
 * (malloc'd, the caller frees) and their count, or NULL.
 */
uint8_t *clip_repeated(const char *clip, int n, char *path, size_t len,
		       size_t *total);
/* Waits until the relay has acknowledged a record of the hub's (it is
 * logged in, and has named its viewers): 0 or -ETIMEDOUT. */
int hub_wait_acked(struct hub *h, int timeout_ms);

/* Starts argv[0] with its output appended to log, in a process group of
 * its own. */
pid_t spawn_logged(char *const argv[], const char *log);

/* Runs a shell command line; its exit status, output in out (if any). */
int run_cmd(const char *cmd, char *out, size_t len);

/* Whether the file at path is whole access units of the clip, in the
 * clip's order (looping): every byte where the clip has it. *got: its
 * size. */
bool hub_from_clip(const uint8_t *clip, size_t clip_len, const char *path,
		   size_t *got);

/* Reads a whole file (malloc'd). */
uint8_t *read_all(const char *path, size_t *len);

#include "common/ptscan.h"

#endif
