/* SPDX-License-Identifier: GPL-2.0-only */
/* moatd's supervisor: processes, rings, restarts, the control socket. */
#ifndef MOAT_DAEMON_SUPER_H
#define MOAT_DAEMON_SUPER_H

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "daemon/config.h"
#include "daemon/ring.h"
#include "daemon/roles.h"
#include "daemon/stats.h"
#include "policy/bpf.h"

enum {
	P_RING_CAP = 2 << 20,	   /* 2 s of 8 Mb/s video */
	P_RING_CAP_IP = 8 << 20,  /* an IP camera's: two 4 MiB keyframes */
	C_RING_CAP = 32 << 20,
	UPLINK_PIN_MAX = 2 * C_RING_CAP, /* RLIMIT_MEMLOCK: SEND_ZC pins */
	POLICY_WATCH_S = 10, /* moatd checks the policy is in force */
	MAX_CHILDREN = CFG_MAX_CAMERAS + 2,
	BACKOFF_FIRST_MS = 250,
	BACKOFF_LAST_MS = 30000,
	RATE_WINDOW = 5, /* seconds over which fps and bitrate are reckoned */
};

enum child_state { CH_RUNNING = 1, CH_WAITING, CH_ENDED, CH_STOPPED };

struct child {
	enum role role;
	int cam; /* workers */
	pid_t pid;
	enum child_state state;
	uint64_t started_ns, restart_ns;
	int backoff_ms;
	unsigned int restarts;
	bool reload; /* stopped on purpose: start again at once */
	int last_status;
	int stats_fd;
	void *stats;
	size_t stats_len;
};

/* Counters sampled once a second, for rates. */
struct sample {
	uint64_t t_ns;
	uint64_t frames[CFG_MAX_CAMERAS], bytes[CFG_MAX_CAMERAS];
	uint64_t sent_bytes;
};

struct ring_buffer;

struct super {
	struct cfg cfg;
	char cfg_path[256];
	uid_t uid[4];
	gid_t gid[4];
	int prog_fd[4]; /* the sealer's and uplink's programs (O_PATH) */
	uint8_t account[16]; /* the hub's relay account (crypto/login.h) */
	struct ring_fds p[CFG_MAX_CAMERAS], p_ro[CFG_MAX_CAMERAS];
	struct ring_wake pw[CFG_MAX_CAMERAS];
	int p_cons_ro[CFG_MAX_CAMERAS]; /* the worker's view of the tail */
	/* a V4L2 camera's memory-to-memory encoder, open for the whole run
	 * (the worker drives it, the sealer maps its coded buffers), or -1;
	 * enc_err: why the one the config names could not be opened */
	int enc_fd[CFG_MAX_CAMERAS];
	int enc_err[CFG_MAX_CAMERAS];
	struct ring_fds c;
	int c_cons_ro;			 /* the sealer's view of the tail */
	int c_data_ro;			 /* the uplink's view of the records */
	struct ring_wake cw;
	struct ring c_watch;
	int spool_fd;
	int ctl_fd, sig_fd;
	struct child ch[MAX_CHILDREN];
	size_t n_ch;
	struct sample samples[RATE_WINDOW + 1];
	unsigned int n_samples;
	uint64_t started_ns;
	bool stopping;
	int fatal; /* HANDOFF_REFUSED: moatd stopped by itself; or 0 */
	/* the network policy (netpolicy.c) */
	struct ring_buffer *pol_rb;
	int pol_names, pol_events_fd;
	bool pol_down; /* the watch found the policy not in force */
	struct polbpf_recent pol_recent; /* to rate-limit blocked logs */
	uint64_t pol_events, gate_kills;
	uint64_t pol_lapses; /* times the policy was found not in force */
	unsigned int watch_ticks; /* seconds since the policy was checked */
	/* viewers' heartbeats, from the uplink's mailbox (mailbox.c) */
	uint64_t mail_seen;		 /* mails taken from the uplink */
	uint64_t hb_applied, hb_same, hb_refused, hb_lost;
	bool hb_reload_due;	 /* a key changed: restart the sealer */
	uint64_t hb_reload_ns;	 /* when it last did for that */
	char hb_last[STATS_ERR_MAX];	 /* the last refusal, for status */
	/* live requests (mailbox.c): events cameras send while one lasts */
	uint64_t live_requests;		 /* honoured, from the relay */
	uint64_t live_until_ns;		 /* the last one's end (CLOCK_MONOTONIC) */
	uint64_t lan_until_ns;		 /* a LAN viewer's, 3 s after it left */
	struct {
		uint8_t id[16];		 /* a viewer id */
		uint64_t time_us;	 /* its last live request honoured */
	} live_seen[16];
	/* the relay, resolved by moatd for the uplink */
	struct sockaddr_storage relay;
	socklen_t relay_len;
};

int super_setup(struct super *s, const char *cfg_path, bool check_only);
int super_run(struct super *s);
void super_free(struct super *s);

/*
 * Stops the given roles (ROLE_SEALER, ROLE_UPLINK bits: 1 << role) to start
 * them again at once with the viewers' files as they are now; true if the
 * sealer was running.
 */
bool super_reload(struct super *s, unsigned int roles, const char *why);

/*
 * Sends sig to a role's process: itself as root, else as the role's own
 * user (moatd.service's moatd has no CAP_KILL).
 */
void super_kill(const struct super *s, const struct child *c, int sig);

/* Opens and applies the heartbeats the uplink received (mailbox.c). */
void super_mail(struct super *s);
/* Once a second: whether anyone watches live (a live request through the
 * relay that has not run out, or a viewer on the LAN), for the sealer. */
void super_live(struct super *s);

/* Status as text for people or as JSON; malloc'd, NUL-terminated. */
char *super_status(const struct super *s, bool json);

#endif
