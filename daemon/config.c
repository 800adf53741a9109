// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat.conf parser. One table holds every key: its section, type, limits,
 * default and help. Defaults are set by parsing the default text through
 * the same setter as the file, so a default can never be invalid.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/fileio.h"
#include "common/subnet.h"
#include "daemon/config.h"

enum cfg_section { S_NONE, S_HUB, S_RELAY, S_CAMERA };
enum cfg_type {
	T_PATH,
	T_SIZE,
	T_PORT,
	T_ENUM,
	T_BOOL,
	T_USER,
	T_HOST,
	T_SOURCE,
	T_UINT,
	T_ZONES,
	T_SUBSTREAM,
	T_IFLIST,
	T_SUBNET,
	T_AUTOPATH,
	T_IFNAME,
	T_FOURCC,
	T_WXH,
	T_RATE,
	T_MAC,
	T_ENCODER,
	T_IP
};

struct cfg_enum {
	const char *name;
	int value;
};

struct cfg_key {
	enum cfg_section sect;
	const char *key;
	enum cfg_type type;
	size_t off;	 /* in struct cfg or struct cfg_camera */
	size_t size;	 /* of string fields */
	const char *def; /* NULL: required */
	const struct cfg_enum *enums;
	uint64_t min, max; /* T_SIZE, T_PORT */
	const char *help;
};

static const char *const sect_names[] = { "", "hub", "relay", "camera" };

static const struct cfg_enum cipher_enum[] = {
	{ "auto", CIPHER_AUTO },
	{ "aes-256-gcm", CIPHER_AES256GCM },
	{ "chacha20-poly1305", CIPHER_CHACHA20 },
	{ NULL, 0 },
};

static const struct cfg_enum pace_enum[] = {
	{ "realtime", PACE_REALTIME },
	{ "fast", PACE_FAST },
	{ NULL, 0 },
};

static const struct cfg_enum policy_enum[] = {
	{ "enforce", POLICY_ENFORCE },
	{ "off", POLICY_OFF },
	{ NULL, 0 },
};

static const struct cfg_enum record_enum[] = {
	{ "continuous", REC_CONTINUOUS },
	{ "events", REC_EVENTS },
	{ "off", REC_OFF },
	{ NULL, 0 },
};

#define HUB(f) offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f)
#define CAM(f) \
	offsetof(struct cfg_camera, f), sizeof(((struct cfg_camera *)0)->f)

static const struct cfg_key keys[] = {
	{ S_HUB, "keys", T_PATH, HUB(keys), "/var/lib/moat/keys", NULL, 0, 0,
	  "folder of the hub key store (hub key, paired viewers); 0700" },
	{ S_HUB, "spool", T_PATH, HUB(spool), "/var/lib/moat/spool", NULL, 0, 0,
	  "folder of sealed records waiting for the relay's acknowledgement" },
	{ S_HUB, "spool_quota", T_SIZE, HUB(spool_quota), "1G", NULL, 1 << 20,
	  1ULL << 40,
	  "most the spool may hold (K, M, G, T); the oldest is evicted first, with an alert" },
	{ S_HUB, "control", T_PATH, HUB(control), "/run/moat/control.sock",
	  NULL, 0, 0, "control socket that moatctl talks to" },
	{ S_HUB, "cipher", T_ENUM, HUB(cipher), "auto", cipher_enum, 0, 0,
	  "record cipher; auto is AES-256-GCM with AES instructions, else ChaCha20-Poly1305" },
	{ S_HUB, "worker_user", T_USER, HUB(worker_user), "moat-cam", NULL, 0,
	  0, "user of the capture workers (no keys, camera network only)" },
	{ S_HUB, "sealer_user", T_USER, HUB(sealer_user), "moat-seal", NULL, 0,
	  0, "user of the sealer (keys, no sockets)" },
	{ S_HUB, "uplink_user", T_USER, HUB(uplink_user), "moat-up", NULL, 0, 0,
	  "user of the uplink (ciphertext only, relay only)" },
	{ S_HUB, "camera_interfaces", T_IFLIST, HUB(camera_interfaces), "none",
	  NULL, 0, 0,
	  "network interfaces the cameras are on, separated by commas (none: no camera network policy)" },
	{ S_HUB, "lan_subnet", T_SUBNET, HUB(lan_subnet), "none", NULL, 0, 0,
	  "the LAN allowed to view live directly from the hub, as 192.168.1.0/24 or fd00::/64 (none: nobody)" },
	{ S_HUB, "lan_port", T_PORT, HUB(lan_port), "38732", NULL, 1024, 65535,
	  "TCP port the hub takes live viewers from the LAN on (1024-65535: the uplink has no privilege to bind below; used only with lan_subnet)" },
	{ S_HUB, "policy", T_ENUM, HUB(policy), "enforce", policy_enum, 0, 0,
	  "enforce: moatd applies and verifies the network policy (nftables, BPF) before any worker starts, and refuses to start without it; off: no policy (tests, or a hub walled off some other way)" },
	{ S_HUB, "realtime", T_BOOL, HUB(realtime), "yes", NULL, 0, 0,
	  "run the sealer and the uplink at the lowest real-time priority (SCHED_FIFO 1), so a frame does not wait behind the camera workers for a CPU; needs root, CAP_SYS_NICE or a real-time priority limit of 1 (moatd.service: a drop-in, see docs/CONFIG.md), else they run at normal priority with a warning" },
	{ S_HUB, "cgroup", T_AUTOPATH, HUB(cgroup), "auto", NULL, 0, 0,
	  "cgroup v2 folder for the roles, one child each (auto: moatd.service's own on a host booted with systemd, else moat under the cgroup2 mount)" },
	{ S_HUB, "bpf_pin", T_PATH, HUB(bpf_pin), "/sys/fs/bpf/moat", NULL, 0,
	  0, "where the policy's BPF programs, links and maps are pinned (bpffs)" },
	{ S_RELAY, "address", T_HOST, HUB(relay_host), NULL, NULL, 0, 0,
	  "host name or IP address of the relay" },
	{ S_RELAY, "port", T_PORT, HUB(relay_port), "7443", NULL, 1, 65535,
	  "TCP port of the relay" },
	{ S_CAMERA, "source", T_SOURCE, CAM(source), NULL, NULL, 0, 0,
	  "file:/path/clip.h264 (Annex-B H.264), rtsp://host/path, v4l2:/dev/videoN or libcamera:[ID] (a Pi camera module; no ID: the first)" },
	{ S_CAMERA, "pace", T_ENUM, CAM(pace), "realtime", pace_enum, 0, 0,
	  "file cameras: realtime (30 fps as recorded) or fast (benchmarks)" },
	{ S_CAMERA, "loop", T_BOOL, CAM(loop), "yes", NULL, 0, 0,
	  "file cameras: start over at the end of the file" },
	{ S_CAMERA, "record", T_ENUM, CAM(record), "continuous", record_enum, 0,
	  0, "continuous (every GOP), events (motion clips) or off" },
	{ S_CAMERA, "live", T_BOOL, CAM(live), "yes", NULL, 0, 0,
	  "whether viewers may watch this camera live" },
	{ S_CAMERA, "mac", T_MAC, CAM(mac), "none", NULL, 0, 0,
	  "the camera's MAC address, aa:bb:cc:dd:ee:ff (the network policy binds it to its IP)" },
	{ S_CAMERA, "ip", T_IP, CAM(ip), "auto", NULL, 0, 0,
	  "the camera's IP address (auto: the numeric host of an rtsp:// source)" },
	{ S_CAMERA, "interface", T_IFNAME, CAM(interface), "auto", NULL, 0, 0,
	  "the hub interface or camera-bridge port it is plugged into (auto: the first it is seen on); frames with its MAC anywhere else are dropped" },
	{ S_CAMERA, "format", T_FOURCC, CAM(v4l2_format), "auto", NULL, 0, 0,
	  "local cameras: auto (the camera's own H264, else NV12, else YUYV, else MJPEG), h264, nv12, yuyv or mjpeg" },
	{ S_CAMERA, "encoder", T_ENCODER, CAM(encoder), "auto", NULL, 0, 0,
	  "V4L2 cameras that send raw pictures: auto (the first V4L2 memory-to-memory H.264 encoder, e.g. a Pi 4's /dev/video11, else libx264), libx264, or an encoder's device path" },
	{ S_CAMERA, "size", T_WXH, CAM(width), "auto", NULL, 0, 0,
	  "local cameras: WIDTHxHEIGHT, or auto (v4l2: the largest the camera offers up to 1920x1080; libcamera: its pipeline's choice for video)" },
	{ S_CAMERA, "fps", T_UINT, CAM(fps), "30", NULL, 1, 120,
	  "local cameras: frames a second" },
	{ S_CAMERA, "bitrate", T_RATE, CAM(bitrate), "4M", NULL, 100000,
	  100000000,
	  "local cameras that send raw pictures: the H.264 encoder's bitrate in bits a second (K, M)" },
	{ S_CAMERA, "motion_source", T_SUBSTREAM, CAM(motion_source), "main",
	  NULL, 0, 0,
	  "record = events: main (decode the recorded stream) or the rtsp:// URL of the camera's low-resolution substream, on the same host and port" },
	{ S_CAMERA, "motion_sensitivity", T_UINT, CAM(motion_sensitivity), "50",
	  NULL, 1, 100,
	  "record = events: 1 (only large, clear motion) to 100 (the smallest change)" },
	{ S_CAMERA, "motion_fps", T_UINT, CAM(motion_fps), "5", NULL, 1, 30,
	  "record = events: pictures compared per second" },
	{ S_CAMERA, "motion_ignore", T_ZONES, CAM(motion_ignore), "none", NULL,
	  0, 0,
	  "record = events: zones where motion does not count, x,y,w,h in percent of the picture, separated by ';' (at most 8), or none" },
	{ S_CAMERA, "preroll", T_UINT, CAM(preroll_s), "5", NULL, 5, 60,
	  "record = events: seconds before the motion that a clip starts with (held sealed)" },
	{ S_CAMERA, "clip_length", T_UINT, CAM(clip_length_s), "10", NULL, 1,
	  600, "record = events: seconds a clip goes on after the last motion" },
	{ S_CAMERA, "clip_max", T_UINT, CAM(clip_max_s), "120", NULL, 10, 3600,
	  "record = events: longest clip in seconds (motion that goes on starts a new clip)" },
	{ S_CAMERA, "cooldown", T_UINT, CAM(cooldown_s), "5", NULL, 0, 3600,
	  "record = events: seconds after a clip before motion can start the next" },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= 64, "struct cfg_parser.seen has 64 bits");

struct cfg_parser {
	const char *name;
	unsigned int line;
	enum cfg_section sect;
	struct cfg *c;
	struct cfg_camera *cam;
	uint64_t seen; /* keys set in this section, by index */
	char *err;
};

__attribute__((format(printf, 2, 3))) static int cfg_err(struct cfg_parser *p,
							 const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, CFG_ERR_MAX, "%s: line %u: ", p->name,
			 p->line);

	va_start(ap, fmt);
	if (n > 0 && n < CFG_ERR_MAX)
		vsnprintf(p->err + n, CFG_ERR_MAX - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int bad(struct cfg_parser *p, const struct cfg_key *k, const char *v,
	       const char *what)
{
	return cfg_err(p, "[%s] %s `%.64s' %s", sect_names[k->sect], k->key, v,
		       what);
}

static bool printable(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

static int set_path(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	if (v[0] != '/' || strstr(v, "/../") || !printable(v))
		return bad(p, k, v, "is not an absolute path");
	if (strlen(v) >= k->size)
		return bad(p, k, v, "is too long");
	strcpy(dst, v);
	return 0;
}

/* "auto" (stored as "") or an absolute path */
static int set_autopath(struct cfg_parser *p, const struct cfg_key *k,
			const char *v, void *dst)
{
	if (!strcmp(v, "auto")) {
		*(char *)dst = '\0';
		return 0;
	}
	return set_path(p, k, v, dst);
}

static int set_size(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	static const char units[] = "KMGT";
	const char *u;
	uint64_t n = 0;
	size_t i;

	for (i = 0; isdigit((unsigned char)v[i]); i++) {
		if (n > (UINT64_MAX - 9) / 10)
			return bad(p, k, v, "is too large");
		n = n * 10 + (uint64_t)(v[i] - '0');
	}
	u = v[i] ? strchr(units, toupper((unsigned char)v[i])) : NULL;
	if (!i || (v[i] && (!u || v[i + 1])))
		return bad(p, k, v, "is not a size like 512M or 2G");
	if (u && n > k->max >> (10 * (u - units + 1)))
		return bad(p, k, v, "is too large");
	n <<= u ? 10 * (u - units + 1) : 0;
	if (n < k->min || n > k->max)
		return cfg_err(p, "[%s] %s `%.64s' is out of range %lluM-%lluT",
			       sect_names[k->sect], k->key, v,
			       (unsigned long long)(k->min >> 20),
			       (unsigned long long)(k->max >> 40));
	memcpy(dst, &n, sizeof(n));
	return 0;
}

static int set_port(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; isdigit((unsigned char)v[i]) && i < 6; i++)
		n = n * 10 + (unsigned long)(v[i] - '0');
	if (!i || v[i] || n < k->min || n > k->max) {
		char what[64];

		snprintf(what, sizeof(what), "is out of range %llu-%llu",
			 (unsigned long long)k->min, (unsigned long long)k->max);
		return bad(p, k, v, what);
	}
	*(uint16_t *)dst = (uint16_t)n;
	return 0;
}

static int set_enum(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	const struct cfg_enum *e;
	char allowed[128] = "";

	for (e = k->enums; e->name; e++) {
		if (!strcmp(e->name, v)) {
			*(int *)dst = e->value;
			return 0;
		}
		snprintf(allowed + strlen(allowed),
			 sizeof(allowed) - strlen(allowed), "%s%s",
			 e == k->enums ? "" : ", ", e->name);
	}
	return cfg_err(p, "[%s] %s `%.64s' is not one of: %s",
		       sect_names[k->sect], k->key, v, allowed);
}

static int set_bool(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
			*(bool *)dst = !strcmp(v, yes[i]);
			return 0;
		}
	}
	return bad(p, k, v, "is not yes or no");
}

static int set_user(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	size_t i, n = strlen(v);

	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)v[i]) || v[i] == '_' ||
		      (i && (isdigit((unsigned char)v[i]) || v[i] == '-'))))
			return bad(
				p, k, v,
				"is not a user name (a-z, 0-9, _ and -, starting with a letter or _)");
	if (!n || n >= k->size)
		return bad(p, k, v, "is not 1-32 characters");
	strcpy(dst, v);
	return 0;
}

static int set_host(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	size_t i, n = strlen(v);

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)v[i]) && !strchr(".-:", v[i]))
			return bad(p, k, v, "is not a host name or IP address");
	if (!n || n > 253 || v[0] == '-' || v[0] == '.')
		return bad(p, k, v, "is not a host name or IP address");
	strcpy(dst, v);
	return 0;
}

static int set_source(struct cfg_parser *p, const struct cfg_key *k,
		      const char *v, void *dst)
{
	struct cfg_camera *cam = p->cam;
	const char *rest;

	if (strlen(v) >= k->size || !printable(v))
		return bad(p, k, v, "is too long or has control characters");
	/* libcamera's ids may have spaces ("platform/vimc.0 Sensor B") */
	if (!strncmp(v, "libcamera:", 10)) {
		cam->kind = CAM_LIBCAMERA;
		strcpy(dst, v + 10);
		return 0;
	}
	if (strchr(v, ' '))
		return bad(p, k, v, "has spaces");
	if (!strncmp(v, "file:", 5) && v[5] == '/') {
		cam->kind = CAM_FILE;
		rest = v + 5;
	} else if (!strncmp(v, "rtsp://", 7) && v[7]) {
		cam->kind = CAM_RTSP;
		rest = v;
	} else if (!strncmp(v, "v4l2:/dev/video", 15) && v[15] &&
		   strspn(v + 15, "0123456789") == strlen(v + 15)) {
		cam->kind = CAM_V4L2;
		rest = v + 5;
	} else {
		return bad(
			p, k, v,
			"is not file:/path, rtsp://host/path, v4l2:/dev/videoN or libcamera:[ID]");
	}
	strcpy(dst, rest);
	return 0;
}

static int set_uint(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; isdigit((unsigned char)v[i]) && i < 8; i++)
		n = n * 10 + (unsigned long)(v[i] - '0');
	if (!i || v[i] || n < k->min || n > k->max)
		return cfg_err(p, "[%s] %s `%.64s' is not a whole number from %llu to %llu",
			       sect_names[k->sect], k->key, v,
			       (unsigned long long)k->min,
			       (unsigned long long)k->max);
	*(unsigned int *)dst = (unsigned int)n;
	return 0;
}

static int set_zones(struct cfg_parser *p, const struct cfg_key *k,
		     const char *v, void *dst)
{
	char why[160];

	if (!strcmp(v, "none")) {
		p->cam->n_motion_ignore = 0;
		return 0;
	}
	if (motion_parse_zones(v, dst, &p->cam->n_motion_ignore, why,
			       sizeof(why)))
		return bad(p, k, v, why);
	return 0;
}

static int set_substream(struct cfg_parser *p, const struct cfg_key *k,
			 const char *v, void *dst)
{
	if (!strcmp(v, "main")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strncmp(v, "rtsp://", 7) || !v[7] || strlen(v) >= k->size ||
	    !printable(v) || strchr(v, ' '))
		return bad(p, k, v,
			   "is not main or an rtsp://host/path URL (no spaces)");
	strcpy(dst, v);
	return 0;
}

static int set_iflist(struct cfg_parser *p, const struct cfg_key *k,
		      const char *v, void *dst)
{
	size_t n = 0;

	if (!strcmp(v, "none")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strlen(v) >= k->size)
		return bad(p, k, v, "is too long");
	for (const char *c = v;; c++) {
		if (*c == ',' || !*c) {
			if (!n || n > 15)
				return bad(p, k, v,
					   "is not interface names (1-15 of a-z, A-Z, 0-9, _ . -) separated by commas");
			if (!*c)
				break;
			n = 0;
			continue;
		}
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c))
			return bad(p, k, v,
				   "is not interface names (1-15 of a-z, A-Z, 0-9, _ . -) separated by commas");
		n++;
	}
	strcpy(dst, v);
	return 0;
}

/* A pixel format by name (auto: 0). */
static int set_fourcc(struct cfg_parser *p, const struct cfg_key *k,
		      const char *v, void *dst)
{
	static const struct {
		const char *name;
		uint32_t fourcc;
	} f[] = {
		{ "auto", 0 },
		{ "h264", 'H' | '2' << 8 | '6' << 16 | (uint32_t)'4' << 24 },
		{ "nv12", 'N' | 'V' << 8 | '1' << 16 | (uint32_t)'2' << 24 },
		{ "yuyv", 'Y' | 'U' << 8 | 'Y' << 16 | (uint32_t)'V' << 24 },
		{ "mjpeg", 'M' | 'J' << 8 | 'P' << 16 | (uint32_t)'G' << 24 },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(v, f[i].name)) {
			*(uint32_t *)dst = f[i].fourcc;
			return 0;
		}
	return bad(p, k, v, "is not one of: auto, h264, nv12, yuyv, mjpeg");
}

/* WIDTHxHEIGHT (even, 16-4096 by 16-2304), or auto (0x0), into the
 * width field and the height field after it. */
static int set_wxh(struct cfg_parser *p, const struct cfg_key *k,
		   const char *v, void *dst)
{
	unsigned int w = 0, h = 0;
	char end;

	if (!strcmp(v, "auto")) {
		((unsigned int *)dst)[0] = ((unsigned int *)dst)[1] = 0;
		return 0;
	}
	if (sscanf(v, "%4ux%4u%c", &w, &h, &end) != 2 || w < 16 || h < 16 ||
	    w > 4096 || h > 2304 || w % 2 || h % 2)
		return bad(p, k, v,
			   "is not a size like 1280x720 (even, up to 4096x2304), or auto");
	((unsigned int *)dst)[0] = w;
	((unsigned int *)dst)[1] = h;
	return 0;
}

/* A rate: digits with an optional K or M (bits a second). */
static int set_rate(struct cfg_parser *p, const struct cfg_key *k,
		    const char *v, void *dst)
{
	uint64_t n = 0;
	size_t i;

	for (i = 0; isdigit((unsigned char)v[i]) && i < 10; i++)
		n = n * 10 + (uint64_t)(v[i] - '0');
	if (i && (v[i] == 'K' || v[i] == 'k') && !v[i + 1])
		n *= 1000;
	else if (i && (v[i] == 'M' || v[i] == 'm') && !v[i + 1])
		n *= 1000000;
	else if (!i || v[i])
		return bad(p, k, v, "is not a rate like 4M or 800K");
	if (n < k->min || n > k->max)
		return bad(p, k, v, "is out of range 100K-100M");
	*(uint64_t *)dst = n;
	return 0;
}

/* One interface name, or auto. */
static int set_ifname(struct cfg_parser *p, const struct cfg_key *k,
		      const char *v, void *dst)
{
	if (!strcmp(v, "auto")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strchr(v, ','))
		return bad(p, k, v, "is not one interface name");
	return set_iflist(p, k, v, dst);
}

/* A numeric IPv4 or IPv6 address (no names: the policy is for the kernel). */
static bool numeric_ip(const char *v)
{
	unsigned char a[16];

	return inet_pton(AF_INET, v, a) == 1 || inet_pton(AF_INET6, v, a) == 1;
}

static int set_subnet(struct cfg_parser *p, const struct cfg_key *k,
		      const char *v, void *dst)
{
	struct subnet sn;
	char why[160];

	if (!strcmp(v, "none")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strlen(v) >= k->size || subnet_parse(v, &sn, why, sizeof(why)))
		return bad(p, k, v, strlen(v) >= k->size ?
				    "is not a subnet like 192.168.1.0/24 or fd00::/64" :
				    why);
	strcpy(dst, v);
	return 0;
}

static int set_mac(struct cfg_parser *p, const struct cfg_key *k,
		   const char *v, void *dst)
{
	if (!strcmp(v, "none")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strlen(v) != 17)
		return bad(p, k, v, "is not a MAC address like 00:11:22:aa:bb:cc");
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? v[i] != ':' : !isxdigit((unsigned char)v[i]))
			return bad(p, k, v,
				   "is not a MAC address like 00:11:22:aa:bb:cc");
	for (int i = 0; i < 17; i++)
		((char *)dst)[i] = (char)tolower((unsigned char)v[i]);
	((char *)dst)[17] = 0;
	return 0;
}

static int set_ip(struct cfg_parser *p, const struct cfg_key *k,
		  const char *v, void *dst)
{
	if (!strcmp(v, "auto")) {
		*(char *)dst = 0;
		return 0;
	}
	if (strlen(v) >= k->size || !numeric_ip(v))
		return bad(p, k, v, "is not a numeric IPv4 or IPv6 address (or auto)");
	strcpy(dst, v);
	return 0;
}

/* "auto" (stored as ""), "libx264", or a /dev path */
static int set_encoder(struct cfg_parser *p, const struct cfg_key *k,
		       const char *v, void *dst)
{
	if (!strcmp(v, "libx264")) {
		strcpy(dst, v);
		return 0;
	}
	if (strcmp(v, "auto") && strncmp(v, "/dev/", 5))
		return bad(p, k, v,
			   "is not auto, libx264 or an encoder's device (/dev/video11)");
	return set_autopath(p, k, v, dst);
}

static int (*const setters[])(struct cfg_parser *, const struct cfg_key *,
			      const char *, void *) = {
	[T_PATH] = set_path, [T_SIZE] = set_size,     [T_PORT] = set_port,
	[T_ENUM] = set_enum, [T_BOOL] = set_bool,     [T_USER] = set_user,
	[T_HOST] = set_host, [T_SOURCE] = set_source, [T_UINT] = set_uint,
	[T_ZONES] = set_zones, [T_SUBSTREAM] = set_substream,
	[T_IFLIST] = set_iflist, [T_SUBNET] = set_subnet, [T_MAC] = set_mac,
	[T_IP] = set_ip, [T_AUTOPATH] = set_autopath, [T_IFNAME] = set_ifname,
	[T_FOURCC] = set_fourcc, [T_WXH] = set_wxh, [T_RATE] = set_rate,
	[T_ENCODER] = set_encoder,
};

static void *key_dst(struct cfg_parser *p, const struct cfg_key *k)
{
	return k->sect == S_CAMERA ? (uint8_t *)p->cam + k->off :
				     (uint8_t *)p->c + k->off;
}

/* Sets every key of the current section to its default. */
static void section_defaults(struct cfg_parser *p)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (keys[i].sect == p->sect && keys[i].def)
			setters[keys[i].type](p, &keys[i], keys[i].def,
					      key_dst(p, &keys[i]));
}

/* At the end of a section: every required key must have been given. */
static int section_end(struct cfg_parser *p)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (keys[i].sect == p->sect && !keys[i].def &&
		    !(p->seen & 1ULL << i))
			return cfg_err(p, "[%s%s%s] has no `%s' (%s)",
				       sect_names[p->sect], p->cam ? " " : "",
				       p->cam ? p->cam->name : "", keys[i].key,
				       keys[i].help);
	return 0;
}

static bool valid_name(const char *n, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)n[i]) && n[i] != '-' && n[i] != '_')
			return false;
	return len > 0 && len <= CFG_NAME_MAX;
}

static int camera_section(struct cfg_parser *p, const char *name, size_t n)
{
	size_t i;

	if (!valid_name(name, n))
		return cfg_err(
			p,
			"camera name `%.*s' is not 1-%d letters, digits, - or _",
			(int)(n > 64 ? 64 : n), name, CFG_NAME_MAX);
	for (i = 0; i < p->c->n_cams; i++)
		if (strlen(p->c->cams[i].name) == n &&
		    !memcmp(p->c->cams[i].name, name, n))
			return cfg_err(
				p,
				"camera `%.*s' is already defined at line %u",
				(int)n, name, p->c->cams[i].line);
	if (p->c->n_cams == CFG_MAX_CAMERAS)
		return cfg_err(p, "more than %d cameras", CFG_MAX_CAMERAS);
	p->cam = &p->c->cams[p->c->n_cams++];
	memset(p->cam, 0, sizeof(*p->cam));
	memcpy(p->cam->name, name, n);
	p->cam->line = p->line;
	p->sect = S_CAMERA;
	return 0;
}

/* "[hub]", "[relay]" or "[camera NAME]". */
static int section_line(struct cfg_parser *p, const char *l, size_t n)
{
	int ret = p->sect ? section_end(p) : 0;

	if (ret)
		return ret;
	if (n < 3 || l[n - 1] != ']')
		return cfg_err(p, "section header without a closing ]");
	l++;
	n -= 2;
	p->seen = 0;
	p->cam = NULL;
	if (n == 3 && !memcmp(l, "hub", 3)) {
		p->sect = S_HUB;
	} else if (n == 5 && !memcmp(l, "relay", 5)) {
		p->sect = S_RELAY;
	} else if (n > 7 && !memcmp(l, "camera ", 7)) {
		ret = camera_section(p, l + 7, n - 7);
	} else {
		return cfg_err(
			p,
			"unknown section [%.*s]; allowed: [hub], [relay], [camera NAME]",
			(int)(n > 64 ? 64 : n), l);
	}
	if (!ret)
		section_defaults(p);
	return ret;
}

static const struct cfg_key *find_key(enum cfg_section s, const char *k,
				      size_t n, size_t *idx)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++) {
		if (keys[i].sect == s && strlen(keys[i].key) == n &&
		    !memcmp(keys[i].key, k, n)) {
			*idx = i;
			return &keys[i];
		}
	}
	return NULL;
}

static int unknown_key(struct cfg_parser *p, const char *k, size_t n)
{
	char allowed[256] = "";
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		if (keys[i].sect == p->sect)
			snprintf(allowed + strlen(allowed),
				 sizeof(allowed) - strlen(allowed), "%s%s",
				 allowed[0] ? ", " : "", keys[i].key);
	return cfg_err(p, "unknown key `%.*s' in [%s]; allowed: %s",
		       (int)(n > 64 ? 64 : n), k, sect_names[p->sect], allowed);
}

/* "key = value" */
static int key_line(struct cfg_parser *p, char *l, size_t n)
{
	char *eq = memchr(l, '=', n), *v;
	const struct cfg_key *k;
	size_t kn, idx;

	if (!eq)
		return cfg_err(p, "expected `key = value' or a [section]");
	for (kn = (size_t)(eq - l); kn && isspace((unsigned char)l[kn - 1]);)
		kn--;
	if (!p->sect)
		return cfg_err(
			p,
			"`%.*s' is outside any section; start with [hub], [relay] or [camera NAME]",
			(int)(kn > 64 ? 64 : kn), l);
	k = find_key(p->sect, l, kn, &idx);
	if (!k)
		return unknown_key(p, l, kn);
	if (p->seen & 1ULL << idx)
		return cfg_err(p, "[%s] %s is given twice", sect_names[p->sect],
			       k->key);
	p->seen |= 1ULL << idx;
	l[n] = '\0';
	for (v = eq + 1; isspace((unsigned char)*v);)
		v++;
	if (!*v)
		return cfg_err(p, "[%s] %s has no value (%s)",
			       sect_names[p->sect], k->key, k->help);
	return setters[k->type](p, k, v, key_dst(p, k));
}

static int cfg_line(struct cfg_parser *p, char *l, size_t n)
{
	while (n && isspace((unsigned char)l[n - 1]))
		n--;
	while (n && isspace((unsigned char)*l))
		l++, n--;
	if (!n || l[0] == '#' || l[0] == ';')
		return 0;
	if (memchr(l, '\0', n))
		return cfg_err(p, "NUL byte in the line");
	if (l[0] == '[')
		return section_line(p, l, n);
	return key_line(p, l, n);
}

void cfg_defaults(struct cfg *c)
{
	struct cfg_parser p = { .c = c };
	char err[CFG_ERR_MAX];

	memset(c, 0, sizeof(*c));
	p.err = err;
	p.sect = S_HUB;
	section_defaults(&p);
	p.sect = S_RELAY;
	section_defaults(&p);
}

/* Whole-file rules, once every line is read. */
static int cfg_finish(struct cfg_parser *p, bool had_relay)
{
	int ret = p->sect ? section_end(p) : 0;

	if (ret)
		return ret;
	if (!had_relay)
		return cfg_err(
			p,
			"no [relay] section: give the relay's address so sealed records have somewhere to go");
	if (!p->c->n_cams)
		return cfg_err(
			p,
			"no [camera NAME] section: a hub needs at least one camera");
	return 0;
}

int cfg_parse(const char *name, const char *text, size_t len, struct cfg *c,
	      char err[static CFG_ERR_MAX])
{
	struct cfg_parser p = { .name = name, .c = c, .err = err };
	char line[CFG_LINE_MAX + 1];
	bool had_relay = false;
	size_t off = 0;
	int ret = 0;

	cfg_defaults(c);
	err[0] = '\0';
	if (len > CFG_FILE_MAX)
		return cfg_err(&p, "file is larger than %d KiB",
			       CFG_FILE_MAX >> 10);
	while (off < len && !ret) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - text) - off : len - off;

		p.line++;
		if (n > CFG_LINE_MAX)
			return cfg_err(&p, "line longer than %d bytes",
				       CFG_LINE_MAX);
		memcpy(line, text + off, n);
		line[n] = '\0';
		ret = cfg_line(&p, line, n);
		had_relay |= p.sect == S_RELAY;
		off += n + (nl != NULL);
	}
	return ret ? ret : cfg_finish(&p, had_relay);
}

int cfg_load(const char *path, struct cfg *c)
{
	char err[CFG_ERR_MAX];
	uint8_t *buf;
	size_t len;
	int ret;

	ret = file_read_bounded(path, CFG_FILE_MAX, &buf, &len);
	if (ret == -EFBIG)
		fprintf(stderr,
			"%s: larger than %d KiB; is this the right file?\n",
			path, CFG_FILE_MAX >> 10);
	else if (ret)
		fprintf(stderr, "%s: %s\n", path, strerror(-ret));
	if (ret)
		return ret;
	ret = cfg_parse(path, (const char *)buf, len, c, err);
	if (ret)
		fprintf(stderr, "%s\n", err);
	free(buf);
	return ret;
}

const char *cfg_next_interface(const char *p, char name[CFG_IFNAME_MAX])
{
	size_t n;

	if (!p || !*p)
		return NULL;
	n = strcspn(p, ",");
	snprintf(name, CFG_IFNAME_MAX, "%.*s", (int)n, p);
	return p + n + (p[n] == ',');
}

void cfg_each_key(cfg_key_fn fn, void *arg)
{
	size_t i;

	for (i = 0; i < N_KEYS; i++)
		fn(arg, sect_names[keys[i].sect], keys[i].key,
		   keys[i].def ? keys[i].def : "", keys[i].help);
}
