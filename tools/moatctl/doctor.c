// SPDX-License-Identifier: GPL-2.0-only
/*
 * moatctl doctor: checks what a hub needs, says what is wrong and how to
 * put it right. Each check is ok, info (worth knowing, not a fault), warn
 * (works, but not as it should) or FAIL (the hub cannot do its job); the
 * exit status is 1 when any check fails.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/bpf.h>
#include <liburing.h>
#include <net/if.h>
#include <netdb.h>
#include <nftables/libnftables.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <unistd.h>

#include "capture/libcam.h"
#include "capture/rtsp.h"
#include "common/fileio.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "crypto/stream.h"
#include "daemon/config.h"
#include "daemon/ctl.h"
#include "policy/enforce.h"
#include "policy/policy.h"
#include "tools/moatctl/cmds.h"

enum level { L_OK, L_INFO, L_WARN, L_FAIL };

static const char *const level_name[] = { "ok", "info", "warn", "FAIL" };

struct doctor {
	struct sbuf out; /* the text, or the JSON array's items */
	bool json;
	int n, fails, warns;
};

/* One check's result: what was found, and (unless ok) what to do. */
static void report(struct doctor *d, const char *check, enum level lv,
		   const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void report(struct doctor *d, const char *check, enum level lv,
		   const char *fix, const char *fmt, ...)
{
	char what[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	d->fails += lv == L_FAIL;
	d->warns += lv == L_WARN;
	if (d->json) {
		sb_printf(&d->out, "%s\n    {\"check\": \"%s\", \"status\": \"%s\", \"detail\": \"",
			  d->n ? "," : "", check, lv == L_FAIL ? "fail" :
							   level_name[lv]);
		sb_json_str(&d->out, what);
		sb_printf(&d->out, "\", \"fix\": \"");
		sb_json_str(&d->out, lv == L_OK || !fix ? "" : fix);
		sb_printf(&d->out, "\"}");
	} else {
		sb_printf(&d->out, "%-5s %-9s %s\n", level_name[lv], check, what);
		if (lv != L_OK && fix)
			sb_printf(&d->out, "                fix: %s\n", fix);
	}
	d->n++;
}

/* ---- the kernel ---- */

static void check_cgroup2(struct doctor *d)
{
	char line[1024], mnt[512] = "";
	FILE *f = fopen("/proc/self/mountinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		/* ... mount-point ... - fstype source options */
		char *sep = strstr(line, " - cgroup2 ");
		char point[512];

		if (sep && sscanf(line, "%*s %*s %*s %*s %511s", point) == 1) {
			snprintf(mnt, sizeof(mnt), "%s", point);
			break;
		}
	}
	if (f)
		fclose(f);
	if (mnt[0])
		report(d, "cgroup2", L_OK, NULL, "cgroup v2 is mounted at %s", mnt);
	else
		report(d, "cgroup2", L_FAIL,
		       "boot with systemd.unified_cgroup_hierarchy=1 (Raspberry Pi OS: add it to the one line of /boot/firmware/cmdline.txt) and reboot",
		       "no cgroup v2 file system: the network policy tells the roles apart by their cgroup");
}

static void check_bpf(struct doctor *d)
{
	union bpf_attr a;
	int fd;

	memset(&a, 0, sizeof(a));
	a.map_type = BPF_MAP_TYPE_ARRAY;
	a.key_size = 4;
	a.value_size = 4;
	a.max_entries = 1;
	fd = (int)syscall(__NR_bpf, BPF_MAP_CREATE, &a, sizeof(a));
	if (fd >= 0) {
		close(fd);
		report(d, "bpf", L_OK, NULL, "the bpf() system call works");
	} else if (errno == ENOSYS) {
		report(d, "bpf", L_FAIL,
		       "use a kernel built with CONFIG_BPF_SYSCALL (Raspberry Pi OS and Debian kernels have it)",
		       "this kernel has no bpf() system call");
	} else {
		report(d, "bpf", L_FAIL, "run moatctl doctor as root (sudo)",
		       "bpf() refused: %s", strerror(errno));
	}
}

static void check_io_uring(struct doctor *d)
{
	struct io_uring ring;
	char v[16] = "";
	int fd = open("/proc/sys/kernel/io_uring_disabled", O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd >= 0) {
		if (read(fd, v, sizeof(v) - 1) < 0)
			v[0] = 0;
		close(fd);
	}
	v[strcspn(v, "\n")] = 0;
	ret = io_uring_queue_init(4, &ring, 0);
	if (!ret && atoi(v) == 1) {
		/* root may, the uplink (its own user, no capability) may not */
		io_uring_queue_exit(&ring);
		report(d, "io_uring", L_FAIL,
		       "sysctl -w kernel.io_uring_disabled=0 and keep it in /etc/sysctl.d/, or put the uplink's user in the group kernel.io_uring_group names",
		       "kernel.io_uring_disabled = 1: only root and the members of kernel.io_uring_group may use io_uring, and the uplink runs as its own user");
		return;
	}
	if (!ret) {
		io_uring_queue_exit(&ring);
		if (v[0])
			report(d, "io_uring", L_OK, NULL,
			       "io_uring works (kernel.io_uring_disabled = %s)", v);
		else
			report(d, "io_uring", L_OK, NULL, "io_uring works");
		return;
	}
	report(d, "io_uring", L_FAIL,
	       atoi(v) ? "sysctl -w kernel.io_uring_disabled=0, and set it in /etc/sysctl.d/ so it stays" :
			 "use a kernel built with CONFIG_IO_URING (Raspberry Pi OS and Debian kernels have it)",
	       "io_uring cannot be used (%s)%s: the uplink sends and spools through it",
	       strerror(-ret), atoi(v) ? ", kernel.io_uring_disabled is set" : "");
}

static void check_nftables(struct doctor *d)
{
	struct nft_ctx *nft;
	char why[256];
	int ret = policy_nft_kernel(why, sizeof(why));

	if (ret) {
		report(d, "nftables", L_FAIL,
		       "load nf_tables (modprobe nf_tables), or use a kernel built with CONFIG_NF_TABLES",
		       "%s", why);
		return;
	}
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		report(d, "nftables", L_FAIL, "reinstall libnftables1",
		       "libnftables cannot start");
		return;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, "list tables");
	if (!ret)
		report(d, "nftables", L_OK, NULL, "nftables answers");
	else
		report(d, "nftables", L_FAIL,
		       "run as root; if it still fails, the kernel lacks nf_tables: modprobe nf_tables, or use a kernel with CONFIG_NF_TABLES",
		       "nftables does not answer: %.200s",
		       nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
}

static void check_btf(struct doctor *d)
{
	bool btf = !access("/sys/kernel/btf/vmlinux", R_OK);

	report(d, "btf", L_INFO, NULL,
	       "kernel BTF is %s; it does not matter: moat's BPF programs are built against the kernel's UAPI headers, without CO-RE, and load either way",
	       btf ? "present" : "absent");
}

/* ---- the hub's surroundings ---- */

static bool iface_has_ipv4(const char *name, char *addr, size_t len)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, name)) {
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)i->ifa_addr)->sin_addr,
				  addr, (socklen_t)len);
			found = true;
		}
	freeifaddrs(ifa);
	return found;
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (f) {
		if (!fgets(buf, (int)len, f))
			buf[0] = 0;
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = 0;
}

static void check_interfaces(struct doctor *d, const struct cfg *c)
{
	char name[CFG_IFNAME_MAX];
	bool any_ip_camera = false;

	for (size_t i = 0; i < c->n_cams; i++)
		any_ip_camera |= c->cams[i].kind == CAM_RTSP;
	if (!c->camera_interfaces[0]) {
		report(d, "interface", any_ip_camera ? L_WARN : L_INFO,
		       "plug the cameras into a port of their own and name it in [hub] camera_interfaces (docs/INSTALL-PI5.md)",
		       "[hub] camera_interfaces = none: %s",
		       any_ip_camera ? "the IP cameras are not walled off" :
				       "no camera network");
		return;
	}
	for (const char *p = c->camera_interfaces;
	     (p = cfg_next_interface(p, name));) {
		char path[128], state[32], carrier[8], addr[INET_ADDRSTRLEN];

		snprintf(path, sizeof(path), "/sys/class/net/%s/operstate", name);
		read_line(path, state, sizeof(state));
		snprintf(path, sizeof(path), "/sys/class/net/%s/carrier", name);
		read_line(path, carrier, sizeof(carrier));
		if (!if_nametoindex(name))
			report(d, "interface", L_FAIL,
			       "`ip -br link' lists the interfaces; put the camera port's name in [hub] camera_interfaces (a USB adapter may be named enx...)",
			       "there is no interface %s", name);
		else if (strcmp(carrier, "1"))
			report(d, "interface", L_FAIL,
			       "check the cable and that the camera or switch is powered; `ip link set NAME up' if it is down",
			       "%s has no link (state %s)", name,
			       state[0] ? state : "unknown");
		else if (!iface_has_ipv4(name, addr, sizeof(addr)))
			report(d, "interface", L_FAIL,
			       "give it a static address, e.g. nmcli con add type ethernet ifname NAME ipv4.method manual ipv4.addresses 192.168.50.1/24",
			       "%s has a link but no IPv4 address", name);
		else
			report(d, "interface", L_OK, NULL,
			       "%s is up, with link, at %s", name, addr);
	}
}

static void check_time(struct doctor *d)
{
	struct timex tx = { 0 };
	int st = adjtimex(&tx);

	if (st == TIME_ERROR || (tx.status & STA_UNSYNC))
		report(d, "time", L_WARN,
		       "timedatectl set-ntp true (systemd-timesyncd), and let the hub reach an NTP server; a Pi without a battery-backed clock starts with a wrong time",
		       "the clock is not synchronised: recording times and logs may be wrong");
	else
		report(d, "time", L_OK, NULL,
		       "the clock is synchronised (estimated error %ld us)",
		       tx.esterror);
}

/* A TCP connection to host:port within ms: 0, or an errno (why names it). */
static int tcp_reach(const char *host, unsigned int port, int ms, char *why,
		     size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *r;
	char p[8];
	int ret, err = ECONNREFUSED;

	snprintf(p, sizeof(p), "%u", port);
	ret = getaddrinfo(host, p, &hints, &res);
	if (ret) {
		snprintf(why, len, "cannot resolve %s: %s", host, gai_strerror(ret));
		return EHOSTUNREACH;
	}
	for (r = res; r; r = r->ai_next) {
		struct timeval tv = { .tv_sec = ms / 1000,
				      .tv_usec = (ms % 1000) * 1000 };
		int fd = socket(r->ai_family, r->ai_socktype | SOCK_CLOEXEC, 0);

		if (fd < 0)
			continue;
		/* SO_SNDTIMEO bounds connect() too */
		err = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
			      connect(fd, r->ai_addr, r->ai_addrlen) ?
			      (errno == EINPROGRESS ? ETIMEDOUT : errno) :
			      0;
		close(fd);
		if (!err)
			break;
	}
	freeaddrinfo(res);
	if (err)
		snprintf(why, len, "%s port %u: %s", host, port, strerror(err));
	return err;
}

/*
 * What moatd says of a camera, from its status JSON: 1 frames are coming
 * (fps set), 0 none (why: its last error), -1 moatd did not answer.
 */
static int camera_from_moatd(const char *st, const char *name, double *fps,
			     char *why, size_t len)
{
	char key[128];
	const char *p, *q;
	size_t n;

	snprintf(key, sizeof(key), "{\"name\": \"%s\", \"state\": \"", name);
	p = st ? strstr(st, key) : NULL;
	q = p ? strstr(p, "\"fps\": ") : NULL;
	if (!q)
		return -1;
	*fps = strtod(q + 7, NULL);
	why[0] = 0;
	q = strstr(p, "\"error\": \"");
	if (q) {
		q += 10;
		n = strcspn(q, "\"");
		snprintf(why, len, "%.*s", (int)(n < len ? n : len - 1), q);
	}
	return *fps > 0;
}

/* A camera moatd is not running for: can it be reached from here? The
 * policy, once in force, lets only the camera's worker talk to it. */
static void probe_rtsp(struct doctor *d, const struct cfg *c,
		       const struct cfg_camera *cam)
{
	char host[256], why[400];
	unsigned int port;

	if (rtsp_host_port(cam->source, host, sizeof(host), &port)) {
		report(d, "camera", L_FAIL, "give source = rtsp://HOST[:PORT]/PATH",
		       "%s: the source is not an rtsp:// URL", cam->name);
	} else if (!tcp_reach(host, port, 2000, why, sizeof(why))) {
		report(d, "camera", L_OK, NULL,
		       "%s: its RTSP server answers at %s port %u", cam->name,
		       host, port);
	} else if (c->policy == POLICY_ENFORCE && c->camera_interfaces[0]) {
		report(d, "camera", L_WARN,
		       "start moatd and run doctor again: it then asks moatd, whose worker the policy lets through",
		       "%s: no answer from here (%s); the policy lets only the camera's worker reach it, so this proves nothing",
		       cam->name, why);
	} else {
		report(d, "camera", L_FAIL,
		       "check the camera's power, cable and address (its web page or the label), and that its RTSP server is on",
		       "%s: its RTSP server does not answer: %s", cam->name, why);
	}
}

/* A libcamera: camera moatd is not running for: does libcamera find it? */
static void check_libcamera(struct doctor *d, const struct cfg_camera *cam)
{
	static struct libcam_info lc[16];
	struct sbuf ids = { 0 };
	char why[256] = "";
	int n = libcam_list(lc, 16, why, sizeof(why));

	if (n == -ENOSYS) {
		report(d, "camera", L_FAIL,
		       "build moat on the Pi itself with Raspberry Pi OS's libcamera-dev installed (docs/INSTALL-PI5.md)",
		       "%s: %s", cam->name, why);
		return;
	}
	if (n < 0) {
		report(d, "camera", L_FAIL,
		       "install libcamera's IPA modules (libcamera-ipa), and check `dmesg' for the camera's driver",
		       "%s: %s", cam->name, why);
		return;
	}
	for (int i = 0; i < n; i++) {
		if (!cam->source[0] || !strcmp(cam->source, lc[i].id)) {
			report(d, "camera", L_OK, NULL,
			       "%s: libcamera finds %s%s%s%s", cam->name,
			       lc[i].id, lc[i].model[0] ? " (" : "",
			       lc[i].model, lc[i].model[0] ? ")" : "");
			free(ids.p);
			return;
		}
		sb_printf(&ids, "%s%s", i ? ", " : "", lc[i].id);
	}
	report(d, "camera", L_FAIL,
	       "`moatctl cameras' lists what libcamera finds; check the camera's ribbon cable (with the Pi off) or fix source = libcamera:...",
	       "%s: libcamera finds no camera %s (it finds: %s)", cam->name,
	       cam->source[0] ? cam->source : "at all",
	       n && ids.p ? ids.p : "none");
	free(ids.p);
}

static void check_cameras(struct doctor *d, const struct cfg *c,
			  const char *status)
{
	if (!c->n_cams)
		report(d, "camera", L_FAIL, "add a [camera NAME] section to moat.conf (docs/CONFIG.md)",
		       "moat.conf names no camera");
	for (size_t i = 0; i < c->n_cams; i++) {
		const struct cfg_camera *cam = &c->cams[i];
		char why[400];
		double fps;
		int fd, r = camera_from_moatd(status, cam->name, &fps, why,
					      sizeof(why));

		/* a running moatd knows best: frames are coming, or not */
		if (r == 1) {
			report(d, "camera", L_OK, NULL,
			       "%s: moatd receives %.1f frames a second from it",
			       cam->name, fps);
			continue;
		}
		if (r == 0) {
			report(d, "camera", L_FAIL,
			       "check the camera's power, cable, address and password, and `moatctl policy log' for what the policy blocked",
			       "%s: moatd receives no frames from it%s%s", cam->name,
			       why[0] ? ": " : "", why);
			continue;
		}
		switch (cam->kind) {
		case CAM_RTSP:
			probe_rtsp(d, c, cam);
			break;
		case CAM_FILE:
			if (access(cam->source, R_OK))
				report(d, "camera", L_FAIL, "fix the path in source = file:...",
				       "%s: cannot read %s: %s", cam->name,
				       cam->source, strerror(errno));
			else
				report(d, "camera", L_OK, NULL, "%s: the file %s is readable",
				       cam->name, cam->source);
			break;
		case CAM_LIBCAMERA:
			check_libcamera(d, cam);
			break;
		case CAM_V4L2:
			fd = open(cam->source, O_RDWR | O_NONBLOCK | O_CLOEXEC);
			if (fd < 0) {
				report(d, "camera", L_FAIL,
				       "`moatctl cameras' lists the video devices this machine has; plug the camera in or fix source = v4l2:...",
				       "%s: cannot open %s: %s", cam->name,
				       cam->source, strerror(errno));
			} else {
				close(fd);
				report(d, "camera", L_OK, NULL, "%s: %s opens",
				       cam->name, cam->source);
			}
			break;
		}
	}
}

static void check_relay(struct doctor *d, const struct cfg *c)
{
	char why[400];

	if (tcp_reach(c->relay_host, c->relay_port, 3000, why, sizeof(why)))
		report(d, "relay", L_FAIL,
		       "check [relay] address and port in moat.conf, that moat-relay runs on the server (systemctl status moat-relay) and that its firewall lets this port in",
		       "the relay does not answer: %s", why);
	else
		report(d, "relay", L_OK, NULL, "the relay answers at %s port %u",
		       c->relay_host, (unsigned int)c->relay_port);
}

static void check_spool(struct doctor *d, const struct cfg *c)
{
	struct statvfs sv;
	char free_s[32], quota_s[32];
	uint64_t avail;

	if (statvfs(c->spool, &sv)) {
		report(d, "spool", L_FAIL,
		       "moatd makes it at its first start; or check [hub] spool in moat.conf",
		       "the spool folder %s: %s", c->spool, strerror(errno));
		return;
	}
	avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	human_bytes(free_s, sizeof(free_s), (double)avail);
	human_bytes(quota_s, sizeof(quota_s), (double)c->spool_quota);
	if (c->spool_quota && avail < c->spool_quota)
		report(d, "spool", L_WARN,
		       "lower [hub] spool_quota below the free space, or free space on that disk: a full disk stops recording",
		       "%s free where the spool is, less than its quota of %s",
		       free_s, quota_s);
	else
		report(d, "spool", L_OK, NULL,
		       "%s free where the spool is (quota %s)", free_s, quota_s);
}

static void check_policy(struct doctor *d, const struct cfg *c,
			 const char *cfg_path, bool moatd_up)
{
	struct sbuf b = { 0 };
	int ret;

	if (c->policy == POLICY_OFF) {
		report(d, "policy", L_WARN,
		       "set [hub] policy = enforce, then systemctl restart moat-policy moatd",
		       "[hub] policy = off: nothing walls the cameras off or limits what the hub sends");
		return;
	}
	ret = policy_verify(c, cfg_path, &b);
	if (ret) {
		struct sbuf one = { 0 };

		sb_join_lines(&one, b.p, "; ");
		/* before the hub starts, that is as it should be: moat-policy
		 * and moatd apply it when they start */
		report(d, "policy", moatd_up ? L_FAIL : L_WARN,
		       moatd_up ? "systemctl restart moat-policy (or moatctl policy apply); moatctl policy verify lists what is missing" :
				  "systemctl start moat-policy moatd applies it; if it is still not in force then, see moatctl policy verify",
		       "the network policy is not in force (%d problem%s): %s",
		       ret, ret == 1 ? "" : "s", one.p ? one.p : "");
		free(one.p);
	} else {
		report(d, "policy", L_OK, NULL,
		       "the nftables table, the sysctls and the BPF programs are in force");
	}
	free(b.p);
}

static void check_cipher(struct doctor *d, const struct cfg *c)
{
	enum seal_suite suite;
	const char *why;

	if (c->cipher == CIPHER_AUTO) {
		if (seal_suite_default(&suite, &why)) {
			report(d, "cipher", L_FAIL, "unset MOAT_CIPHER or give aes-256-gcm or chacha20-poly1305",
			       "MOAT_CIPHER names no cipher");
			return;
		}
		report(d, "cipher", L_INFO, NULL,
		       "%s, because %s (cipher = auto: AES-GCM where the CPU has AES instructions, ChaCha20-Poly1305 where it has not, as on a Pi 4)",
		       seal_suite_name(suite), why);
		return;
	}
	report(d, "cipher", L_INFO, NULL, "%s, set by [hub] cipher in moat.conf",
	       c->cipher == CIPHER_AES256GCM ? "AES-256-GCM" :
					       "ChaCha20-Poly1305");
}

static void check_moatd(struct doctor *d, const struct cfg *c, int ret)
{
	if (ret)
		report(d, "moatd", L_WARN,
		       "systemctl start moatd; journalctl -u moatd says why it stopped",
		       "moatd does not answer on %s: %s", c->control,
		       strerror(-ret));
	else
		report(d, "moatd", L_OK, NULL, "moatd runs and answers on %s",
		       c->control);
}

/* moat.conf, with the parser's message (line, key, what is allowed). */
static int load_config(const char *path, struct cfg *c, char *err)
{
	uint8_t *buf;
	size_t len;
	int ret = file_read_bounded(path, CFG_FILE_MAX, &buf, &len);

	if (ret) {
		snprintf(err, CFG_ERR_MAX, "%s: %s", path, strerror(-ret));
		return ret;
	}
	ret = cfg_parse(path, (const char *)buf, len, c, err);
	free(buf);
	return ret;
}

int doctor_cmd(const char *cfg_path, int argc, char **argv, bool json)
{
	static struct cfg cfg;
	struct doctor d = { .json = json };
	char err[CFG_ERR_MAX] = "", *status = NULL;
	int moatd = -ENOENT;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			d.json = json = true;
		} else {
			fprintf(stderr, "moatctl: doctor: unexpected `%s'\n%s",
				argv[i], moatctl_usage);
			return 2;
		}
	}
	log_init("moatctl", LOG_LVL_ERR);
	check_cgroup2(&d);
	check_bpf(&d);
	check_io_uring(&d);
	check_nftables(&d);
	check_btf(&d);
	if (load_config(cfg_path, &cfg, err)) {
		report(&d, "config", L_FAIL,
		       "fix what it names (docs/CONFIG.md lists every key); nothing else can be checked until it loads",
		       "the hub cannot start: %s", err);
	} else {
		report(&d, "config", L_OK, NULL, "%s loads", cfg_path);
		moatd = ctl_request(cfg.control, "status json", &status);
		check_interfaces(&d, &cfg);
		check_time(&d);
		check_cameras(&d, &cfg, moatd ? NULL : status);
		check_relay(&d, &cfg);
		check_spool(&d, &cfg);
		check_policy(&d, &cfg, cfg_path, !moatd);
		check_cipher(&d, &cfg);
		check_moatd(&d, &cfg, moatd);
		free(status);
	}
	if (json)
		printf("{\"healthy\": %s, \"failed\": %d, \"warnings\": %d, \"checks\": [%s\n]}\n",
		       d.fails ? "false" : "true", d.fails, d.warns,
		       d.out.p ? d.out.p : "");
	else
		printf("%s\n%s: %d check%s failed, %d warning%s\n",
		       d.out.p ? d.out.p : "",
		       d.fails ? "the hub is NOT healthy" : "the hub is healthy",
		       d.fails, d.fails == 1 ? "" : "s", d.warns,
		       d.warns == 1 ? "" : "s");
	free(d.out.p);
	return d.fails ? 1 : 0;
}
