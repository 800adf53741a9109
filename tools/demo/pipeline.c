// SPDX-License-Identifier: GPL-2.0-only
/*
 * The pipeline demo: on this machine, a relay (moat-relay), the hub
 * (moatd with its workers, sealer and uplink) and a viewer (moat-view), all
 * the real programs, and two cameras: the file camera recording
 * continuously, and an IP camera (moat-testcam, an RTSP server with digest
 * auth) in a network namespace of its own, recording motion clips. A tap
 * between the hub and the relay keeps every byte that crosses the wire.
 * When both have done, the viewer fetches the file camera's recording as
 * an MP4 and the motion clip as another; then the demo checks the
 * viewer's frames against the camera's and looks for either video in
 * every file the hub and the relay wrote and in the captured traffic.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/ptscan.h"
#include "common/wire.h"
#include "daemon/config.h"
#include "policy/bpf.h"
#include "policy/cgroup.h"
#include "policy/enforce.h"
#include "tools/demo/demo.h"

struct pd {
	const char *clip, *out, *clips, *motion;
	bool rtsp; /* the IP camera part (default on) */
	char ns[32], pass[20], motion_abs[PATH_MAX];
	unsigned int net; /* 10.79.NET.0/24 for the camera */
	pid_t cam;
	char dir[PATH_MAX], bin[PATH_MAX], relay_dir[PATH_MAX + 8];
	char spool[PATH_MAX + 8], sock[PATH_MAX + 16], ident[PATH_MAX + 16];
	bool keep, json, made_dir;
	unsigned int relay_port, tap_port;
	pid_t relay, tap, moatd;
	int wire_fd; /* memfd: every byte the hub sent the relay */
	/* the network policy, in a cgroup and bpffs folder of the demo's */
	char cgroup[PATH_MAX], pin[64];
	struct cfg cfg;
	bool policy_on;
};

#define PORCH_MAC "02:79:00:00:00:02"
#define PORCH_HOME "203.0.113.7" /* TEST-NET-3: nobody's vendor cloud */

static void msleep(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int listen_any(unsigned int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &l) || listen(fd, 4)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static int connect_port(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Copies one direction; the hub's side is also kept in the memfd. */
static int pump(int from, int to, int keep_fd)
{
	uint8_t buf[65536];
	ssize_t n = read(from, buf, sizeof(buf));

	if (n <= 0)
		return -1;
	if (keep_fd >= 0 && write(keep_fd, buf, (size_t)n) != n)
		return -1;
	return wire_write_all(to, buf, (size_t)n);
}

/* The wire tap: a TCP relay of bytes between the hub and the relay. */
static void tap_loop(int lfd, unsigned int relay_port, int keep_fd)
{
	signal(SIGTERM, SIG_DFL);
	for (;;) {
		int hub = accept(lfd, NULL, NULL), rel;

		if (hub < 0)
			continue;
		rel = connect_port(relay_port);
		while (rel >= 0) {
			struct pollfd p[2] = { { hub, POLLIN, 0 },
					       { rel, POLLIN, 0 } };

			if (poll(p, 2, -1) < 0)
				break;
			if (p[0].revents && pump(hub, rel, keep_fd))
				break;
			if (p[1].revents && pump(rel, hub, -1))
				break;
		}
		close(hub);
		if (rel >= 0)
			close(rel);
	}
}

static pid_t spawn(char *const argv[], const char *log)
{
	pid_t pid = fork();

	if (!pid) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			      0600);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

static void stop(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGTERM);
		waitpid(*pid, NULL, 0);
	}
	*pid = 0;
}

static int run_capture(const char *cmd, char *out, size_t len)
{
	FILE *f = popen(cmd, "r");
	size_t n;
	int st;

	if (!f)
		return -1;
	n = fread(out, 1, len - 1, f);
	out[n] = 0;
	st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long long json_ll(const char *j, const char *section, const char *key)
{
	char pat[64];
	const char *p = j;

	snprintf(pat, sizeof(pat), "\"%s\"", section);
	p = strstr(j, pat);
	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	p = p ? strstr(p, pat) : NULL;
	return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

/*
 * The IP camera: a network namespace with a veth pair to this one
 * (10.79.N.1 here, 10.79.N.2 there) and moat-testcam in it serving the
 * motion clip over RTSP, behind digest auth with a random password; the
 * namespace first, the camera once the policy is in force.
 */
static int camera_up(struct pd *d)
{
	char cmd[3 * PATH_MAX], out[1024];
	uint8_t r[8];

	d->net = (unsigned int)getpid() % 200 + 20;
	snprintf(d->ns, sizeof(d->ns), "moat-demo-%d", (int)getpid());
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		return -1;
	for (size_t i = 0; i < sizeof(r); i++)
		snprintf(d->pass + 2 * i, 3, "%02x", r[i]);
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %1$s && ip link add md%2$u-h type veth peer name md%2$u-c && "
		 "ip link set md%2$u-c netns %1$s && ip addr add 10.79.%2$u.1/24 dev md%2$u-h && "
		 "ip link set md%2$u-h up && ip -n %1$s addr add 10.79.%2$u.2/24 dev md%2$u-c && "
		 "ip -n %1$s link set md%2$u-c address " PORCH_MAC " && "
		 "ip -n %1$s link set md%2$u-c up && ip -n %1$s link set lo up && "
		 "ip -n %1$s route add default via 10.79.%2$u.1 2>&1",
		 d->ns, d->net);
	if (run_capture(cmd, out, sizeof(out))) {
		fprintf(stderr, "moat-demo: cannot make the camera's network namespace (iproute2, root): %s",
			out);
		return -1;
	}
	return 0;
}

/* The camera itself, once the policy walls it off: it phones home. */
static int camera_start(struct pd *d)
{
	char cmd[3 * PATH_MAX], out[1024], port[8] = "8554", bin[PATH_MAX + 16],
		log[PATH_MAX + 16], user[] = "demo", ipb[] = "/usr/bin/ip",
		netns[] = "netns", exec[] = "exec", file[] = "--file",
		portf[] = "--port", pathf[] = "--path", path[] = "/live",
		userf[] = "--user", passf[] = "--password";
	char homef[] = "--phone-home", home[] = PORCH_HOME;
	char *const argv[] = { ipb,   netns, exec,  d->ns,  bin,   file,
			       d->motion_abs, portf, port,  pathf, path,
			       userf, user,  passf, d->pass, homef, home, NULL };

	snprintf(bin, sizeof(bin), "%s/moat-testcam", d->bin);
	snprintf(log, sizeof(log), "%s/camera.log", d->dir);
	d->cam = spawn(argv, log);
	for (int i = 0; i < 100; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s ss -Hltn 'sport = :8554' | grep -q 8554",
			 d->ns);
		if (!run_capture(cmd, out, sizeof(out)))
			return 0;
		msleep(50);
	}
	fprintf(stderr, "moat-demo: the RTSP camera did not start; see %s\n",
		log);
	return -1;
}

static void camera_down(struct pd *d)
{
	char cmd[256], out[256];

	if (!d->ns[0])
		return;
	stop(&d->cam);
	snprintf(cmd, sizeof(cmd),
		 "ip link del md%u-h 2>/dev/null; ip netns del %s 2>/dev/null; true",
		 d->net, d->ns);
	run_capture(cmd, out, sizeof(out));
	d->ns[0] = 0;
}

static int setup(struct pd *d)
{
	char cmd[4 * PATH_MAX], out[2048], path[PATH_MAX + 16], log[PATH_MAX + 16];
	char *relay_argv[] = { NULL, "--dir", d->relay_dir, "--listen", NULL,
			       NULL };
	char bin[PATH_MAX + 16], listen[32];
	int lfd;
	FILE *f;

	{
		static struct cfg none; /* cgroup = auto */
		char root[CG_PATH_MAX];

		if (cg_root(&none, root)) {
			fprintf(stderr, "moat-demo: no cgroup v2 file system is mounted (the hub's roles need one)\n");
			return -1;
		}
		snprintf(d->cgroup, sizeof(d->cgroup), "%.*s-demo-%d",
			 (int)(sizeof(d->cgroup) - 32), root, (int)getpid());
		snprintf(d->pin, sizeof(d->pin), "/sys/fs/bpf/moat-demo-%d",
			 (int)getpid());
	}
	snprintf(d->relay_dir, sizeof(d->relay_dir), "%s/relay", d->dir);
	snprintf(d->spool, sizeof(d->spool), "%s/spool", d->dir);
	snprintf(d->sock, sizeof(d->sock), "%s/control.sock", d->dir);
	snprintf(d->ident, sizeof(d->ident), "%s/viewer.key", d->dir);
	snprintf(cmd, sizeof(cmd),
		 "'%s/moat-view' pair --hub-keys '%s/keys' --out '%s' --name demo-viewer 2>&1",
		 d->bin, d->dir, d->ident);
	if (run_capture(cmd, out, sizeof(out))) {
		fprintf(stderr, "moat-demo: pairing failed: %s", out);
		return -1;
	}
	/* The relay, on a port of its own. */
	lfd = listen_any(&d->relay_port);
	if (lfd < 0)
		return -1;
	close(lfd);
	snprintf(bin, sizeof(bin), "%s/moat-relay", d->bin);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", d->relay_port);
	relay_argv[0] = bin;
	relay_argv[4] = listen;
	snprintf(log, sizeof(log), "%s/relay.log", d->dir);
	d->relay = spawn(relay_argv, log);
	for (int i = 0; i < 100; i++) {
		int fd = connect_port(d->relay_port);

		if (fd >= 0) {
			close(fd);
			break;
		}
		msleep(20);
	}
	/* The tap the hub talks to. */
	d->wire_fd = memfd_create("moat-demo-wire", MFD_CLOEXEC);
	lfd = listen_any(&d->tap_port);
	if (lfd < 0 || d->wire_fd < 0)
		return -1;
	d->tap = fork();
	if (!d->tap) {
		tap_loop(lfd, d->relay_port, d->wire_fd);
		_exit(0);
	}
	close(lfd);
	if (d->rtsp && camera_up(d))
		return -1;
	snprintf(path, sizeof(path), "%s/moat.conf", d->dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	/* the policy is enforced as on a real hub: moatd applies it before
	 * any role starts; the camera's veth is the camera network */
	fprintf(f,
		"# written by moat-demo\n[hub]\nkeys = %s/keys\nspool = %s\ncontrol = %s\n"
		"policy = enforce\ncgroup = %s\nbpf_pin = %s\n",
		d->dir, d->spool, d->sock, d->cgroup, d->pin);
	if (d->rtsp)
		fprintf(f, "camera_interfaces = md%u-h\n", d->net);
	fprintf(f,
		"\n[relay]\naddress = 127.0.0.1\nport = %u\n\n"
		"[camera front-door]\nsource = file:%s\npace = realtime\nloop = no\n"
		"record = continuous\nlive = no\n",
		d->tap_port, d->clip);
	if (d->rtsp)
		fprintf(f,
			"\n[camera porch]\nsource = rtsp://demo:%s@10.79.%u.2:8554/live\n"
			"mac = " PORCH_MAC "\ninterface = md%u-h\n"
			"record = events\npreroll = 5\nclip_length = 2\ncooldown = 60\nlive = no\n",
			d->pass, d->net, d->net);
	if (fclose(f) || cfg_load(path, &d->cfg))
		return -1;
	/* in force before the camera runs (moatd applies it again, and
	 * verifies it before any role starts) */
	d->policy_on = true;
	if (policy_enforce(&d->cfg, path, out, sizeof(out))) {
		fprintf(stderr, "moat-demo: the network policy: %s\n", out);
		return -1;
	}
	return d->rtsp ? camera_start(d) : 0;
}

static int run_hub(struct pd *d, char *status, size_t len)
{
	char bin[PATH_MAX + 16], conf[PATH_MAX + 16], log[PATH_MAX + 16],
		cmd[3 * PATH_MAX];
	char *argv[] = { bin, "--config", conf, NULL };
	long long last = -1;

	snprintf(bin, sizeof(bin), "%s/moatd", d->bin);
	snprintf(conf, sizeof(conf), "%s/moat.conf", d->dir);
	snprintf(log, sizeof(log), "%s/moatd.log", d->dir);
	snprintf(cmd, sizeof(cmd), "'%s/moatctl' --socket '%s' status --json 2>/dev/null",
		 d->bin, d->sock);
	d->moatd = spawn(argv, log);
	for (int t = 0; t < 600; t++) {
		long long sealed, sent, acked, unacked;
		int ended;

		msleep(100);
		if (run_capture(cmd, status, len))
			continue;
		sealed = json_ll(status, "cameras", "frames_sealed");
		sent = json_ll(status, "sealer", "records");
		acked = json_ll(status, "uplink", "acked");
		unacked = json_ll(status, "spool", "unacked_bytes");
		ended = strstr(status, "\"state\": \"ended\"") != NULL;
		/* the IP camera: one clip recorded and closed */
		if (d->rtsp && (json_ll(status, "porch", "clips") < 1 ||
				strstr(status, "\"in_clip\": true")))
			ended = false;
		if (!d->json && sealed != last && isatty(1)) {
			printf("\r  recording: %lld frames sealed, %lld records acknowledged%s",
			       sealed, acked,
			       !d->rtsp ? "" :
			       strstr(status, "\"in_clip\": true") ?
					  "; porch: recording a motion clip" :
			       json_ll(status, "porch", "clips") > 0 ?
					  "; porch: clip done    " :
					  "; porch: no motion yet");
			fflush(stdout);
			last = sealed;
		}
		if (ended && sent > 0 && acked >= sent && !unacked) {
			if (!d->json && isatty(1))
				putchar('\n');
			return 0;
		}
	}
	fprintf(stderr, "moat-demo: the hub did not finish in 60 s; see %s/moatd.log\n",
		d->dir);
	if (d->rtsp)
		fprintf(stderr, "moat-demo: the IP camera: %s/camera.log, and `porch' in the status above\n",
			d->dir);
	return -1;
}

static bool dir_empty(const char *path)
{
	DIR *dp = opendir(path);
	struct dirent *e;
	bool empty = true;

	while (dp && (e = readdir(dp)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			empty = false;
	if (dp)
		closedir(dp);
	return empty;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void usage(FILE *f)
{
	fputs("Usage: moat-demo [--out FILE.mp4] [--clips DIR] [--motion-clip FILE]\n"
	      "                 [--no-rtsp] [--dir DIR] [--keep] [--json] [CLIP.h264]\n"
	      "       moat-demo offline --help\n\n"
	      "Runs the whole hub on this machine: moat-relay, moatd (a capture\n"
	      "worker per camera, the sealer and the uplink, each sandboxed as its\n"
	      "own user) and moat-view, with a tap on the wire between hub and relay,\n"
	      "and two cameras. front-door, a file camera, records CLIP (default\n"
	      "build/media/clip.h264, made by `make media') continuously in real\n"
	      "time; porch, an IP camera, is moat-testcam serving the motion clip\n"
	      "(default build/media/motion.h264: a box crosses the picture at 7 s)\n"
	      "over RTSP with digest auth from a network namespace of its own, and\n"
	      "records motion clips with 5 s of sealed pre-roll. The viewer fetches\n"
	      "front-door's recording, checks it against the camera's bytes and\n"
	      "writes an MP4, and writes porch's motion clip as an MP4 of its own.\n"
	      "Then every file the hub and the relay wrote, and every byte on the\n"
	      "wire, is searched for any 8-byte run of either video. Needs root.\n\n"
	      "  --out FILE         front-door's MP4 (default moat-demo.mp4)\n"
	      "  --clips DIR        where porch's clips go (default moat-demo-clips)\n"
	      "  --motion-clip FILE what porch's camera serves\n"
	      "  --no-rtsp          the file camera only\n"
	      "  --dir DIR          work folder (default: new under /tmp, removed after)\n"
	      "  --keep             keep the work folder (logs, spool, relay store)\n"
	      "  --json             one JSON object instead of the summary\n",
	      f);
}

static int parse(struct pd *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "dir", required_argument, NULL, 'd' },
		{ "keep", no_argument, NULL, 'k' },
		{ "json", no_argument, NULL, 'j' },
		{ "clips", required_argument, NULL, 'c' },
		{ "motion-clip", required_argument, NULL, 'm' },
		{ "no-rtsp", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	d->clip = "build/media/clip.h264";
	d->out = "moat-demo.mp4";
	d->clips = "moat-demo-clips";
	d->motion = NULL;
	d->rtsp = true;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			d->out = optarg;
			break;
		case 'd':
			snprintf(d->dir, sizeof(d->dir), "%s", optarg);
			break;
		case 'k':
			d->keep = true;
			break;
		case 'j':
			d->json = true;
			break;
		case 'c':
			d->clips = optarg;
			break;
		case 'm':
			d->motion = optarg;
			break;
		case 'n':
			d->rtsp = false;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc)
		d->clip = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "moat-demo: unexpected argument `%s'\n",
			argv[optind]);
		return 2;
	}
	return 0;
}

/* What the network policy did: porch's blocked attempts (from the
 * policy's own log) and the ciphertext gate's count. */
struct walled {
	long long porch_home, porch_other, gate_frames, gate_killed;
	char lines[512];
};

static void walled(const struct pd *d, struct walled *w)
{
	struct polbpf_blocked *l = NULL;
	uint64_t c[POL_C_MAX];
	size_t n = 0, used = 0;

	if (!polbpf_counters(&d->cfg, c)) {
		w->gate_frames = (long long)c[POL_C_GATE_FRAMES];
		w->gate_killed = (long long)c[POL_C_GATE_KILLED];
	}
	if (polbpf_blocked(&d->cfg, &l, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		char what[96];

		char dst[64];

		if (strcmp(l[i].who, "porch"))
			continue;
		polbpf_addr(l[i].key.addr, dst, sizeof(dst));
		if (strcmp(dst, PORCH_HOME)) {
			/* a Linux camera's own link chatter (MLD, DAD) */
			w->porch_other += (long long)l[i].val.count;
			continue;
		}
		w->porch_home += (long long)l[i].val.count;
		polbpf_what(&l[i].key, what, sizeof(what));
		if (used < sizeof(w->lines) - 100)
			used += (size_t)snprintf(w->lines + used,
						 sizeof(w->lines) - used,
						 "%s%s x%llu", used ? ", " : "",
						 what,
						 (unsigned long long)l[i].val.count);
	}
	free(l);
}

int demo_pipeline_main(int argc, char **argv)
{
	static struct pd d;
	static char status[1 << 16], fetch[4096], probe[256], clipj[4096];
	char clip_abs[PATH_MAX], cmd[4 * PATH_MAX], h264[PATH_MAX + 16];
	char clip_out[PATH_MAX] = "";
	size_t clip_len = 0, got_len = 0, spool_files = 0, relay_files = 0;
	size_t hits = 0, wire_hits = 0, control = 0, wire_len = 0, mot_len = 0;
	uint8_t *clip = NULL, *got = NULL, *wire = NULL, *mot = NULL;
	struct pt_set *set = NULL, *mset = NULL;
	long long clips = 0, pre_us = 0, clip_us = 0;
	bool same = false;
	struct walled w = { 0 };
	char wline[512] = "";
	ssize_t n;
	int ret = parse(&d, argc, argv), frames = -1, clip_frames = -1;

	if (ret)
		return ret;
	if (geteuid()) {
		fprintf(stderr, "moat-demo: needs root, to run each hub role as its own user (sudo make demo)\n");
		return 1;
	}
	if (!realpath(d.clip, clip_abs) ||
	    file_read_bounded(clip_abs, 1 << 30, &clip, &clip_len)) {
		fprintf(stderr, "moat-demo: %s: %s (make it with `make media')\n",
			d.clip, strerror(errno));
		return 1;
	}
	d.clip = clip_abs;
	if (d.rtsp) {
		char tmp[PATH_MAX];

		if (!d.motion) {
			snprintf(tmp, sizeof(tmp), "%s", clip_abs);
			*strrchr(tmp, '/') = 0;
			snprintf(d.motion_abs, sizeof(d.motion_abs),
				 "%.*s/motion.h264", PATH_MAX - 20, tmp);
		} else if (!realpath(d.motion, d.motion_abs)) {
			d.motion_abs[0] = 0;
		}
		if (!d.motion_abs[0] ||
		    file_read_bounded(d.motion_abs, 1 << 30, &mot, &mot_len)) {
			fprintf(stderr, "moat-demo: the motion clip %s: %s (make it with `make media', or run with --no-rtsp)\n",
				d.motion ? d.motion : d.motion_abs,
				strerror(errno));
			free(clip);
			return 1;
		}
		if (mkdir_p(d.clips, 0755)) {
			fprintf(stderr, "moat-demo: --clips %s: %s\n", d.clips,
				strerror(errno));
			free(clip);
			free(mot);
			return 1;
		}
	}
	n = readlink("/proc/self/exe", d.bin, sizeof(d.bin) - 1);
	if (n <= 0)
		return 1;
	d.bin[n] = 0;
	*strrchr(d.bin, '/') = 0;
	if (!d.dir[0]) {
		snprintf(d.dir, sizeof(d.dir), "/tmp/moat-demo-XXXXXX");
		if (!mkdtemp(d.dir))
			return 1;
		d.made_dir = true;
	} else if (mkdir_p(d.dir, 0700)) {
		fprintf(stderr, "moat-demo: --dir %s: %s\n", d.dir, strerror(errno));
		return 1;
	} else if (!dir_empty(d.dir)) {
		/* an earlier run's keys and relay store would mix with this
		 * one's (another viewer, streams it cannot open) */
		fprintf(stderr, "moat-demo: --dir %s is not empty; give a new or empty folder\n",
			d.dir);
		return 2;
	}
	chmod(d.dir, 0755); /* the roles' users reach their spool through it */
	if (!d.json)
		printf("moat demo: cameras -> moatd (workers, sealer, uplink) -> relay -> viewer\n"
		       "  work folder %s\n",
		       d.dir);
	ret = setup(&d) || run_hub(&d, status, sizeof(status)) ? 1 : 0;
	stop(&d.moatd);
	stop(&d.tap);
	camera_down(&d);
	if (d.policy_on) {
		walled(&d, &w);
		policy_teardown(&d.cfg, wline, sizeof(wline));
		if (d.rtsp && !ret && !w.porch_home) {
			fprintf(stderr, "moat-demo: porch tried to phone home, but the policy logged none of it\n");
			ret = 1;
		}
	}
	if (!ret) {
		snprintf(cmd, sizeof(cmd),
			 "'%s/moat-view' fetch --identity '%s' --relay 127.0.0.1:%u --camera front-door --out '%s' --json",
			 d.bin, d.ident, d.relay_port, d.out);
		ret = run_capture(cmd, fetch, sizeof(fetch)) ? 1 : 0;
		if (ret)
			fprintf(stderr, "moat-demo: the viewer failed: %s\n", fetch);
	}
	if (!ret) {
		/* Raw H.264 too, to compare with the camera's bytes. */
		snprintf(h264, sizeof(h264), "%s/viewer.h264", d.dir);
		snprintf(cmd, sizeof(cmd),
			 "'%s/moat-view' fetch --identity '%s' --relay 127.0.0.1:%u --camera front-door --out '%s' --json",
			 d.bin, d.ident, d.relay_port, h264);
		run_capture(cmd, probe, sizeof(probe));
		file_read_bounded(h264, 1 << 30, &got, &got_len);
		same = got && got_len == clip_len && !memcmp(got, clip, clip_len);
		snprintf(cmd, sizeof(cmd),
			 "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
			 "stream=nb_read_frames -of csv=p=0 '%s'",
			 d.out);
		if (!run_capture(cmd, probe, sizeof(probe)))
			frames = atoi(probe);
		if (got)
			unlink(h264); /* plaintext: the viewer's, not the hub's */
	}
	if (!ret && d.rtsp) {
		const char *o;

		snprintf(cmd, sizeof(cmd),
			 "'%s/moat-view' fetch --identity '%s' --relay 127.0.0.1:%u --clips '%s' --json",
			 d.bin, d.ident, d.relay_port, d.clips);
		if (run_capture(cmd, clipj, sizeof(clipj))) {
			fprintf(stderr, "moat-demo: the viewer could not write the clip: %s\n",
				clipj);
			ret = 1;
		}
		clips = json_ll(clipj, "clips_written", "clips_written");
		pre_us = json_ll(clipj, "clips", "motion_us") -
			 json_ll(clipj, "clips", "start_us");
		clip_us = json_ll(clipj, "clips", "end_us") -
			  json_ll(clipj, "clips", "start_us");
		o = strstr(clipj, "\"out\": \"");
		if (o)
			snprintf(clip_out, sizeof(clip_out), "%.*s",
				 (int)strcspn(o + 8, "\""), o + 8);
		snprintf(cmd, sizeof(cmd),
			 "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
			 "stream=nb_read_frames -of csv=p=0 '%s'",
			 clip_out);
		if (clip_out[0] && !run_capture(cmd, probe, sizeof(probe)))
			clip_frames = atoi(probe);
	}
	stop(&d.relay);
	camera_down(&d);
	set = pt_set_new(clip, clip_len);
	mset = mot ? pt_set_new(mot, mot_len) : NULL;
	if (set) {
		control = got ? pt_scan(set, got, got_len) : 0;
		hits = pt_scan_tree(set, d.spool, &spool_files) +
		       pt_scan_tree(set, d.relay_dir, &relay_files);
		if (mset)
			hits += pt_scan_tree(mset, d.spool, &spool_files) +
				pt_scan_tree(mset, d.relay_dir, &relay_files);
		wire_len = (size_t)lseek(d.wire_fd, 0, SEEK_END);
		wire = wire_len ? mmap(NULL, wire_len, PROT_READ, MAP_PRIVATE,
				       d.wire_fd, 0) :
				  NULL;
		if (wire && wire != MAP_FAILED) {
			wire_hits = pt_scan(set, wire, wire_len);
			if (mset)
				wire_hits += pt_scan(mset, wire, wire_len);
			munmap(wire, wire_len);
		}
	}
	if (!ret && (!same || hits || wire_hits || !wire_len || frames != 120))
		ret = 1;
	/* the motion clip: one, with at least 5 s before the motion */
	if (!ret && d.rtsp &&
	    (clips != 1 || pre_us < 5000000 || clip_frames < 200))
		ret = 1;
	if (d.json) {
		printf("{\"ok\": %s, \"frames_sealed\": %lld, \"streams\": %lld, \"records\": %lld, "
		       "\"bytes_sent\": %lld, \"zero_copy_sends\": %lld, \"plain_sends\": %lld, "
		       "\"zero_copy_fallbacks\": %lld, \"acked\": %lld, "
		       "\"viewer_identical\": %s, \"mp4\": \"%s\", \"mp4_frames\": %d, "
		       "\"plaintext_hits_disk\": %zu, \"plaintext_hits_wire\": %zu, "
		       "\"wire_bytes\": %zu, \"files_scanned\": %zu, \"clips\": %lld, "
		       "\"clip\": \"%s\", \"clip_frames\": %d, \"clip_preroll_us\": %lld, "
		       "\"clip_us\": %lld, \"camera_blocked\": %lld, \"gate_frames\": %lld, \"gate_killed\": %lld}\n",
		       ret ? "false" : "true",
		       json_ll(status, "cameras", "frames_sealed"),
		       json_ll(status, "cameras", "streams"),
		       json_ll(status, "sealer", "records"),
		       json_ll(status, "uplink", "bytes_sent"),
		       json_ll(status, "uplink", "zc_sends"),
		       json_ll(status, "uplink", "plain_sends"),
		       json_ll(status, "uplink", "zc_copy_fallbacks"),
		       json_ll(status, "uplink", "acked"), same ? "true" : "false",
		       d.out, frames, hits, wire_hits, wire_len,
		       spool_files + relay_files, clips, clip_out, clip_frames,
		       pre_us, clip_us, w.porch_home, w.gate_frames,
		       w.gate_killed);
	} else if (status[0]) {
		printf("  camera      front-door, a file camera: %s, %zu bytes of H.264, recorded in real time\n",
		       d.clip, clip_len);
		if (d.rtsp)
			printf("  camera      porch, an IP camera: RTSP from its own network namespace\n"
			       "              (moat-testcam, digest auth), motion clips only\n");
		printf("  sealed      %lld frames in %lld streams (one per GOP) for 1 paired viewer\n",
		       json_ll(status, "cameras", "frames_sealed"),
		       json_ll(status, "cameras", "streams"));
		printf("  sent        %lld records, %lld bytes to the relay (%lld zero-copy sends%s); %lld acknowledged\n",
		       json_ll(status, "sealer", "records"),
		       json_ll(status, "uplink", "bytes_sent"),
		       json_ll(status, "uplink", "zc_sends"),
		       json_ll(status, "uplink", "zc_copy_fallbacks") ?
			       ", then plain ones: loopback copies them anyway" :
			       "",
		       json_ll(status, "uplink", "acked"));
		printf("  viewer      %s\n", same ?
			       "every frame identical to the camera's, byte for byte" :
			       "FRAMES DIFFER from the camera's");
		printf("  written     %s (MP4, %d frames per ffprobe)\n", d.out,
		       frames);
		if (d.rtsp && clip_out[0])
			printf("  motion      porch saw motion: %lld clip, %.1f s long with %.1f s of pre-roll\n"
			       "              held sealed before the motion; the viewer wrote %s\n"
			       "              (MP4, %d frames per ffprobe)\n",
			       clips, (double)clip_us / 1e6,
			       (double)pre_us / 1e6, clip_out, clip_frames);
		else if (d.rtsp)
			printf("  motion      NO CLIP from porch: %s\n", clipj);
		printf("  policy      enforced before any role started: nftables, BPF on the roles'\n"
		       "              cgroups, the ciphertext gate (%lld relay frames passed, %lld\n"
		       "              connections ended), TC on the camera network\n",
		       w.gate_frames, w.gate_killed);
		if (d.rtsp)
			printf("  walled off  porch tried to phone home %lld times, every one dropped at the\n"
			       "              hub and logged (%s);\n"
			       "              %lld more frames of its IPv6 link chatter dropped too\n",
			       w.porch_home, w.lines[0] ? w.lines : "nothing logged",
			       w.porch_other);
		printf("  plaintext   %zu 8-byte runs of either video on disk (%zu spool and relay files), %zu on the wire (%zu bytes seen);\n"
		       "              the same search finds %zu runs in the viewer's own output\n",
		       hits, spool_files + relay_files, wire_hits, wire_len,
		       control);
		printf("%s\n", ret ? "moat demo: FAILED (see above)" :
				     "moat demo: ok");
	}
	pt_set_free(set);
	pt_set_free(mset);
	free(clip);
	free(mot);
	free(got);
	if (d.wire_fd >= 0)
		close(d.wire_fd);
	if (!d.keep && d.made_dir)
		nftw(d.dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	else if (!d.json)
		printf("  kept        %s (logs, spool, relay store)\n", d.dir);
	return ret;
}
