/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * moat.conf: the hub's configuration (docs/CONFIG.md, and the commented
 * example daemon/moat.conf.example).
 *
 * INI: `[hub]`, `[relay]` and one `[camera NAME]` section per camera, with
 * `key = value` lines; `#` or `;` starts a comment line. Every key is in
 * one table (config.c) that drives the parser, the defaults and the
 * documentation check. The file is untrusted text: bounded (64 KiB, lines
 * of 1 KiB, 64 cameras), and any problem is refused with the line, the key
 * and what is allowed. Nothing starts on a bad file.
 */
#ifndef MOAT_DAEMON_CONFIG_H
#define MOAT_DAEMON_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/motion.h"

enum {
	CFG_FILE_MAX = 64 << 10,
	CFG_LINE_MAX = 1024,
	CFG_MAX_CAMERAS = 64,
	CFG_NAME_MAX = 32,
	CFG_STR_MAX = 256,
	CFG_ERR_MAX = 512,
};

enum cfg_source { CAM_FILE = 1, CAM_RTSP, CAM_V4L2, CAM_LIBCAMERA };
enum cfg_pace { PACE_REALTIME = 1, PACE_FAST };
enum cfg_cipher { CIPHER_AUTO = 0, CIPHER_AES256GCM, CIPHER_CHACHA20 };
enum cfg_record { REC_OFF = 1, REC_CONTINUOUS, REC_EVENTS };
enum cfg_policy { POLICY_ENFORCE = 1, POLICY_OFF };

struct cfg_camera {
	char name[CFG_NAME_MAX + 1];
	enum cfg_source kind;
	char source[CFG_STR_MAX]; /* path, URL or device after the scheme
				   * (libcamera: its id, "" the first) */
	enum cfg_pace pace;
	bool loop;
	enum cfg_record record;
	bool live;
	/* record = events */
	char motion_source[CFG_STR_MAX]; /* a substream URL, or "" */
	unsigned int motion_sensitivity, motion_fps;
	struct motion_zone motion_ignore[MOTION_ZONES_MAX];
	size_t n_motion_ignore;
	unsigned int preroll_s, clip_length_s, clip_max_s, cooldown_s;
	/* the network policy (policy/): where the camera is */
	char mac[18]; /* aa:bb:cc:dd:ee:ff, or "" */
	char ip[CFG_NAME_MAX + 16]; /* its address, or "" (from source) */
	char interface[CFG_NAME_MAX]; /* the hub port it is on, or "" */
	/* a local camera (v4l2: or libcamera:) */
	uint32_t v4l2_format; /* a fourcc, or 0: the best offered */
	/* raw local cameras: "" auto (a V4L2 H.264 encoder if there is one,
	 * else libx264), "libx264", or an encoder's device path */
	char encoder[CFG_STR_MAX];
	unsigned int width, height; /* 0: the largest up to 1920x1080 */
	unsigned int fps;
	uint64_t bitrate; /* the software encoder's, bits per second */
	unsigned int line; /* where the section starts */
};

struct cfg {
	char keys[CFG_STR_MAX];
	char spool[CFG_STR_MAX];
	uint64_t spool_quota;
	char control[CFG_STR_MAX];
	enum cfg_cipher cipher;
	char worker_user[CFG_NAME_MAX + 1];
	char sealer_user[CFG_NAME_MAX + 1];
	char uplink_user[CFG_NAME_MAX + 1];
	char relay_host[CFG_STR_MAX];
	uint16_t relay_port;
	/* the network policy: the hub's interfaces to its cameras, and the
	 * LAN that may view locally */
	char camera_interfaces[CFG_STR_MAX]; /* "cam0,cam1", or "" */
	char lan_subnet[64];		      /* "192.168.1.0/24", or "" */
	uint16_t lan_port;		      /* where LAN viewers connect */
	enum cfg_policy policy;
	bool realtime;
	char cgroup[CFG_STR_MAX];  /* the roles' cgroup, or "" for auto */
	char bpf_pin[CFG_STR_MAX]; /* bpffs folder of the BPF policy */
	struct cfg_camera cams[CFG_MAX_CAMERAS];
	size_t n_cams;
};

/* Fills c with the defaults of every key (no cameras). */
void cfg_defaults(struct cfg *c);

/*
 * Parses a whole file held in memory (name is for messages). 0, or
 * -EINVAL with one line in err: "NAME: line N: [section] key `value' ...".
 */
int cfg_parse(const char *name, const char *text, size_t len, struct cfg *c,
	      char err[static CFG_ERR_MAX]);

/* Reads and parses path; the message (if any) goes to stderr. */
int cfg_load(const char *path, struct cfg *c);

/* Walks every documented key: "section", "key", "default", "help". */
/*
 * Walks [hub] camera_interfaces: the next name into name (at most
 * CFG_IFNAME_MAX - 1 bytes) and where to go on from, or NULL at the end:
 *   for (const char *p = c->camera_interfaces;
 *        (p = cfg_next_interface(p, name));)
 */
enum { CFG_IFNAME_MAX = 16 };
const char *cfg_next_interface(const char *p, char name[CFG_IFNAME_MAX]);

typedef void (*cfg_key_fn)(void *arg, const char *section, const char *key,
			   const char *def, const char *help);
void cfg_each_key(cfg_key_fn fn, void *arg);

#endif
