// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <linux/videodev2.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/m2m.h"
#include "capture/source.h"
#include "common/err.h"
#include "common/fileio.h"
#include "capture/rtsp.h"
#include "common/hex.h"
#include "common/log.h"
#include "common/sbuf.h"
#include "common/wire.h"
#include "crypto/keystore.h"
#include "daemon/ctl.h"
#include "daemon/handoff.h"
#include "daemon/netpolicy.h"
#include "daemon/super.h"

static int find_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw = getpwnam(name);

	if (!pw) {
		log_err("user `%s' does not exist; create it with `useradd --system --no-create-home --shell /usr/sbin/nologin %s' (make deps does)",
			name, name);
		return -ENOENT;
	}
	if (!pw->pw_uid || !pw->pw_gid) {
		log_err("user `%s' is root or in group root; each role needs an unprivileged user and group of its own",
			name);
		return -EPERM;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

/* The hub key must exist; the relay login key is made if missing (hubs
 * set up before the relay login), and names the hub's relay account. */
static int hub_keys(struct super *s)
{
	struct seal_hub_key hub;
	struct login_key login;
	int ret = ks_hub_load(s->cfg.keys, &hub);

	if (ret) {
		log_err("no hub key in %s (%s); make one and pair a viewer with `moatctl pair' (over the LAN) or `moat-view pair --hub-keys %s --out FILE' (on this machine)",
			s->cfg.keys, moat_strerror(ret), s->cfg.keys);
		return ret;
	}
	ks_hub_wipe(&hub);
	ret = ks_login_load_or_create(s->cfg.keys, &login);
	if (ret) {
		log_err("relay login key %s/relay.key: %s", s->cfg.keys,
			moat_strerror(ret));
		return ret;
	}
	login_account(login.pk, s->account);
	login_wipe(&login);
	return 0;
}

/*
 * In the uplink's child, still root: its relay login key, and the login
 * keys of the approved viewers, which it gives the relay at each connect
 * (pending viewers, and viewers paired before the relay login, are not
 * among them). moatd starts the uplink again when the viewers change.
 */
static int uplink_keys(struct super *s, struct uplink_io *io)
{
	struct ks_viewer *v = NULL;
	size_t n = 0;
	int ret = ks_login_load(s->cfg.keys, &io->login);

	if (!ret)
		ret = ks_viewer_list(s->cfg.keys, &v, &n);
	for (size_t i = 0; !ret && i < n; i++) {
		static const uint8_t none[LOGIN_KEY_LEN];

		if (v[i].state != KS_VIEWER_APPROVED ||
		    !memcmp(v[i].login_pk, none, LOGIN_KEY_LEN) ||
		    io->n_viewers == WIRE_VIEWERS_MAX)
			continue;
		memcpy(io->viewers[io->n_viewers++], v[i].login_pk,
		       LOGIN_KEY_LEN);
	}
	ks_viewer_list_free(v, n);
	if (ret)
		log_err("uplink: keys in %s: %s", s->cfg.keys,
			moat_strerror(ret));
	return ret;
}

static int efd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/*
 * A V4L2 camera's memory-to-memory encoder, opened once here and held for
 * the whole run: the worker drives it (and a new worker takes over what a
 * dead one left), the sealer maps its coded buffers read-only to seal the
 * access units where the encoder wrote them. auto: the first device that
 * makes H.264; none is not an error (libx264 encodes). A device the config
 * names must be one; if it cannot be opened, the worker says why.
 */
static void open_encoder(struct super *s, size_t i)
{
	const struct cfg_camera *cam = &s->cfg.cams[i];
	char path[CFG_STR_MAX], card[40] = "";
	int ret;

	s->enc_err[i] = 0;
	if ((cam->kind != CAM_V4L2 && cam->kind != CAM_LIBCAMERA) ||
	    !strcmp(cam->encoder, "libx264"))
		return;
	if (cam->encoder[0]) {
		snprintf(path, sizeof(path), "%s", cam->encoder);
		ret = m2m_probe(path, 0, 0, card, sizeof(card));
	} else {
		ret = m2m_find(V4L2_PIX_FMT_H264, 0, path, sizeof(path), card,
			       sizeof(card));
		if (ret)
			return; /* no hardware encoder here: libx264 */
	}
	if (!ret) {
		s->enc_fd[i] = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		ret = s->enc_fd[i] < 0 ? -errno : 0;
	}
	if (ret) {
		s->enc_err[i] = ret;
		log_err("camera %s: the encoder %s: %s", cam->name, path,
			ret == -ENODEV ? "not a memory-to-memory device" :
			ret == -ENOENT && !access(path, F_OK) ?
					 "it encodes nothing from raw pictures" :
					 strerror(-ret));
		return;
	}
	log_info("camera %s: the V4L2 encoder %s (%s)", cam->name, path, card);
}

/* Ring memfds belong to root, mode 0600: no role can reopen one by path.
 * Their memory is taken whole now (ring_create): a shortage shows here. */
static int make_ring(uint64_t cap, struct ring_fds *fds)
{
	int ret = ring_create(cap, fds);

	if (ret)
		log_err("cannot make a ring of %llu MiB in memory: %s (moatd takes %d MiB for each camera, %d for an rtsp:// one, and %d for sealed records, at start)",
			(unsigned long long)(cap >> 20), strerror(-ret),
			P_RING_CAP >> 20, P_RING_CAP_IP >> 20, C_RING_CAP >> 20);
	return ret;
}

static int stats_map(struct child *c, size_t len)
{
	c->stats_fd = memfd_create("moat-stats", MFD_CLOEXEC);
	if (c->stats_fd < 0 || ftruncate(c->stats_fd, (off_t)len) < 0 ||
	    fchmod(c->stats_fd, 0600) < 0)
		return -errno;
	c->stats = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED,
			c->stats_fd, 0);
	if (c->stats == MAP_FAILED) {
		c->stats = NULL;
		return -errno;
	}
	c->stats_len = len;
	return 0;
}

static int add_child(struct super *s, enum role role, int cam, size_t len)
{
	struct child *c = &s->ch[s->n_ch++];

	c->role = role;
	c->cam = cam;
	c->state = CH_WAITING;
	c->backoff_ms = BACKOFF_FIRST_MS;
	return stats_map(c, len);
}

static int listen_ctl(struct super *s)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[CFG_STR_MAX], *slash;
	int ret;

	if (strlen(s->cfg.control) >= sizeof(sa.sun_path)) {
		log_err("control socket path %s is too long", s->cfg.control);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", s->cfg.control);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		ret = mkdir_p(dir, 0755);
		if (ret)
			return ret;
	}
	strcpy(sa.sun_path, s->cfg.control);
	s->ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			   0);
	if (s->ctl_fd < 0)
		return -errno;
	unlink(s->cfg.control);
	if (bind(s->ctl_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(s->cfg.control, 0600) < 0 || listen(s->ctl_fd, 8) < 0) {
		ret = -errno;
		log_err("control socket %s: %s", s->cfg.control, strerror(-ret));
		return ret;
	}
	return 0;
}

/*
 * The spool folder belongs to the uplink's user, mode 0700. moatd as root
 * makes it so; moatd as its own user (moatd.service) finds it so, made by
 * systemd-tmpfiles, since it may neither chown nor look inside. Either
 * way it holds the folder only as a path (O_PATH) for the uplink, which
 * opens what is in it as its own user.
 */
static int open_spool(struct super *s)
{
	uid_t uid = s->uid[ROLE_UPLINK];
	gid_t gid = s->gid[ROLE_UPLINK];
	struct stat st;
	int ret = mkdir_p(s->cfg.spool, 0700);

	if (!ret && stat(s->cfg.spool, &st) < 0)
		ret = -errno;
	if (!ret && (st.st_uid != uid || st.st_gid != gid) &&
	    chown(s->cfg.spool, uid, gid) < 0) {
		ret = -errno;
		log_err("spool %s belongs to uid %u, not to the uplink's user %s (uid %u), and moatd may not change that: %s (as root: chown %s:%s %s; an install's systemd-tmpfiles --create does it)",
			s->cfg.spool, (unsigned int)st.st_uid,
			s->cfg.uplink_user, (unsigned int)uid, strerror(-ret),
			s->cfg.uplink_user, s->cfg.uplink_user, s->cfg.spool);
		return ret;
	}
	if (!ret && (st.st_mode & 07777) != 0700 && chmod(s->cfg.spool, 0700) < 0)
		ret = -errno;
	if (ret) {
		log_err("spool %s: %s", s->cfg.spool, strerror(-ret));
		return ret;
	}
	s->spool_fd = open(s->cfg.spool, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return s->spool_fd < 0 ? -errno : 0;
}

/*
 * moatd starts as root, or as a user of its own with CAP_SETUID and
 * CAP_SETGID in force (moatd.service gives them as ambient capabilities):
 * either way it can give each role a user of its own.
 */
static bool can_become_roles(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];
	uint32_t want = (1U << CAP_SETUID) | (1U << CAP_SETGID);

	if (!geteuid())
		return true;
	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return (d[0].effective & want) == want;
}

int super_setup(struct super *s, const char *path, bool check_only)
{
	const char *users[4] = { NULL, s->cfg.worker_user, s->cfg.sealer_user,
				 s->cfg.uplink_user };
	int ret;

	s->ctl_fd = s->sig_fd = s->spool_fd = s->pol_names = -1;
	s->pol_events_fd = -1;
	s->c.data = s->c.cons = s->c_cons_ro = s->c_data_ro = -1;
	for (int r = 0; r <= ROLE_UPLINK; r++)
		s->prog_fd[r] = -1;
	snprintf(s->cfg_path, sizeof(s->cfg_path), "%s", path);
	ret = cfg_load(path, &s->cfg);
	if (ret)
		return ret;
	users[1] = s->cfg.worker_user;
	users[2] = s->cfg.sealer_user;
	users[3] = s->cfg.uplink_user;
	for (size_t i = 0; i < s->cfg.n_cams; i++) {
		const struct cfg_camera *cam = &s->cfg.cams[i];

		if (cam->motion_source[0] &&
		    (cam->kind != CAM_RTSP || cam->record != REC_EVENTS ||
		     !rtsp_same_endpoint(cam->source, cam->motion_source))) {
			log_err("%s: line %u: [camera %s] motion_source: a substream is for an rtsp:// camera with record = events, on the same host and port as its source",
				path, cam->line, cam->name);
			return -EINVAL;
		}
	}
	if (!can_become_roles()) {
		log_err("moatd must start as root, or as its own user with the capabilities CAP_SETUID and CAP_SETGID (as moatd.service starts it): it gives each role a user of its own");
		return -EPERM;
	}
	for (int r = ROLE_WORKER; r <= ROLE_UPLINK; r++) {
		ret = find_user(users[r], &s->uid[r], &s->gid[r]);
		if (ret)
			return ret;
	}
	for (int r = ROLE_SEALER; r <= ROLE_UPLINK; r++) {
		s->prog_fd[r] = handoff_open_program(r);
		if (s->prog_fd[r] < 0)
			return s->prog_fd[r];
	}
	ret = hub_keys(s);
	if (ret || check_only)
		return ret;
	/* fail closed: no role starts unless the kernel shows the policy */
	ret = netpol_up(s);
	if (ret)
		return ret;
	for (size_t i = 0; i < CFG_MAX_CAMERAS; i++)
		s->enc_fd[i] = -1;
	for (size_t i = 0; !ret && i < s->cfg.n_cams; i++) {
		open_encoder(s, i);
		s->p_ro[i].data = s->p_ro[i].cons = -1;
		/* an IP camera's keyframes can reach RTSP_AU_MAX (4K) */
		ret = make_ring(s->cfg.cams[i].kind == CAM_RTSP ? P_RING_CAP_IP :
								  P_RING_CAP,
				&s->p[i]);
		if (!ret) {
			s->p_ro[i].data = ring_fd_readonly(s->p[i].data);
			s->p_ro[i].cons = dup(s->p[i].cons);
			s->p_cons_ro[i] = ring_fd_readonly(s->p[i].cons);
			if (s->p_ro[i].data < 0 || s->p_ro[i].cons < 0 ||
			    s->p_cons_ro[i] < 0)
				ret = -EIO;
		}
		if (!ret) {
			s->pw[i].data = efd();
			s->pw[i].space = efd();
			if (s->pw[i].data < 0 || s->pw[i].space < 0)
				ret = -EIO;
		}
		if (!ret)
			ret = add_child(s, ROLE_WORKER, (int)i,
					sizeof(struct stats_worker));
	}
	if (!ret)
		ret = make_ring(C_RING_CAP, &s->c);
	if (!ret)
		ret = ring_observe(&s->c, &s->c_watch);
	if (!ret) {
		s->c_cons_ro = ring_fd_readonly(s->c.cons);
		if (s->c_cons_ro < 0)
			ret = s->c_cons_ro;
	}
	/* The uplink reads sealed records and must not be able to change
	 * one: the sealer's AEAD reads back what it wrote while it computes
	 * the tag, so a writer there could get a forged record tagged. */
	if (!ret) {
		s->c_data_ro = ring_fd_readonly(s->c.data);
		if (s->c_data_ro < 0)
			ret = s->c_data_ro;
	}
	if (!ret) {
		s->cw.data = efd();
		s->cw.space = efd();
		if (s->cw.data < 0 || s->cw.space < 0)
			ret = -EIO;
	}
	if (!ret)
		ret = add_child(s, ROLE_SEALER, -1, sizeof(struct stats_sealer));
	if (!ret)
		ret = add_child(s, ROLE_UPLINK, -1, sizeof(struct stats_uplink));
	if (!ret)
		ret = open_spool(s);
	if (!ret)
		ret = listen_ctl(s);
	if (ret)
		log_err("cannot set up: %s", moat_strerror(ret));
	return ret;
}

void super_free(struct super *s)
{
	netpol_down(s);
	for (int r = ROLE_SEALER; r <= ROLE_UPLINK; r++)
		if (s->prog_fd[r] >= 0)
			close(s->prog_fd[r]);
	for (size_t i = 0; i < s->cfg.n_cams && i < CFG_MAX_CAMERAS; i++) {
		if (s->n_ch && s->enc_fd[i] >= 0)
			close(s->enc_fd[i]);
		if (s->n_ch) {
			ring_fds_close(&s->p[i]);
			ring_fds_close(&s->p_ro[i]);
		}
	}
	for (size_t i = 0; i < s->n_ch; i++) {
		if (s->ch[i].stats)
			munmap(s->ch[i].stats, s->ch[i].stats_len);
		if (s->ch[i].stats_fd >= 0)
			close(s->ch[i].stats_fd);
	}
	if (s->c_watch.prod || s->c_watch.cons)
		ring_unmap(&s->c_watch);
	if (s->ctl_fd >= 0) {
		close(s->ctl_fd);
		unlink(s->cfg.control);
	}
}

/* ---- children ---- */

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

/* Everything but keep[] (and 0-2) is closed: a role holds only its fds. */
static void close_all_but(int *keep, int n)
{
	int prev = 2;

	qsort(keep, (size_t)n, sizeof(*keep), cmp_int);
	for (int i = 0; i < n; i++) {
		if (keep[i] > prev + 1)
			close_range((unsigned)prev + 1, (unsigned)keep[i] - 1, 0);
		if (keep[i] > prev)
			prev = keep[i];
	}
	close_range((unsigned)prev + 1, ~0U, 0);
}

static struct sandbox sandbox_for(const struct super *s, enum role role)
{
	return (struct sandbox){ .role = role,
				 .uid = s->uid[role],
				 .gid = s->gid[role],
				 .spool_fd = -1,
				 .enc_fd = -1 };
}

/*
 * The sealer and the uplink: their own programs, with only the libraries
 * they use (handoff.h). keep[] has room for the program's descriptor.
 */
static int exec_role(struct super *s, struct child *c, struct handoff *h,
		     int *keep, int n)
{
	int ret;

	h->parent = getppid();
	h->stats_fd = c->stats_fd;
	h->stats_len = c->stats_len;
	memcpy(&h->cfg, &s->cfg, sizeof(h->cfg));
	/* neither reads where a camera is: the URLs carry its password */
	if (c->role == ROLE_UPLINK) {
		explicit_bzero(h->cfg.cams, sizeof(h->cfg.cams));
		h->cfg.n_cams = 0;
	}
	for (size_t i = 0; i < h->cfg.n_cams; i++) {
		explicit_bzero(h->cfg.cams[i].source,
			       sizeof(h->cfg.cams[i].source));
		explicit_bzero(h->cfg.cams[i].motion_source,
			       sizeof(h->cfg.cams[i].motion_source));
	}
	keep[n++] = s->prog_fd[c->role];
	close_all_but(keep, n);
	ret = handoff_exec(s->prog_fd[c->role], c->role, h, keep, n);
	explicit_bzero(h, sizeof(*h));
	free(h);
	return ret ? 1 : 0;
}

static int child_body(struct super *s, struct child *c)
{
	int keep[5 * CFG_MAX_CAMERAS + 8], n = 0;

	/* Only its own counters stay mapped. */
	for (size_t i = 0; i < s->n_ch; i++)
		if (&s->ch[i] != c && s->ch[i].stats)
			munmap(s->ch[i].stats, s->ch[i].stats_len);
	keep[n++] = c->stats_fd;
	if (c->role == ROLE_WORKER) {
		struct worker_io io = { .cam = &s->cfg.cams[c->cam],
					.enc_fd = s->enc_fd[c->cam],
					.enc_err = s->enc_err[c->cam],
					.p = { s->p[c->cam].data,
					       s->p_cons_ro[c->cam] },
					.wake = s->pw[c->cam],
					.st = c->stats,
					.sb = sandbox_for(s, ROLE_WORKER) };

		/* moat-bench: real cameras are not in step; file cameras
		 * started together are, keyframes and all, unless spread. */
		if (getenv("MOAT_BENCH_STAGGER") && !c->restarts)
			io.start_delay_ms =
				(unsigned)(1000 * c->cam / s->cfg.n_cams);

		keep[n++] = io.p.data;
		keep[n++] = io.p.cons;
		keep[n++] = io.wake.data;
		keep[n++] = io.wake.space;
		if (io.enc_fd >= 0)
			keep[n++] = io.enc_fd;
		close_all_but(keep, n);
		return worker_main(&io);
	}
	if (c->role == ROLE_SEALER) {
		struct handoff *h = calloc(1, sizeof(*h));
		struct sealer_io *io;

		if (!h)
			return 1;
		io = &h->io.sealer;
		for (size_t i = 0; i < s->cfg.n_cams; i++) {
			io->p[i] = s->p_ro[i];
			io->pw[i] = s->pw[i];
			io->enc_fd[i] = s->enc_fd[i];
			if (io->enc_fd[i] >= 0)
				keep[n++] = io->enc_fd[i];
			keep[n++] = io->p[i].data;
			keep[n++] = io->p[i].cons;
			keep[n++] = io->pw[i].data;
			keep[n++] = io->pw[i].space;
		}
		io->c.data = s->c.data;
		io->c.cons = s->c_cons_ro;
		io->cw = s->cw;
		keep[n++] = io->c.data;
		keep[n++] = io->c.cons;
		keep[n++] = io->cw.data;
		keep[n++] = io->cw.space;
		io->sb = sandbox_for(s, ROLE_SEALER);
		io->extra_copy = getenv("MOAT_BENCH_EXTRA_COPY") != NULL;
		return exec_role(s, c, h, keep, n);
	}
	{
		struct handoff *h = calloc(1, sizeof(*h));
		struct uplink_io *io;
		/* SEND_ZC pins the pages it sends and charges them to the
		 * uplink's user: room for the whole ring (and a predecessor
		 * still letting go), set while moatd's child is root */
		struct rlimit pin = { UPLINK_PIN_MAX, UPLINK_PIN_MAX };

		if (!h)
			return 1;
		io = &h->io.uplink;
		io->c.data = s->c_data_ro;
		io->c.cons = s->c.cons;
		io->cw = s->cw;
		io->spool_fd = s->spool_fd;
		io->sb = sandbox_for(s, ROLE_UPLINK);
		if (setrlimit(RLIMIT_MEMLOCK, &pin) < 0)
			log_warn("uplink: cannot raise RLIMIT_MEMLOCK: %s; zero-copy sends may fall back to copies",
				 strerror(errno));
		memcpy(io->account, s->account, sizeof(io->account));
		if (uplink_keys(s, io)) {
			explicit_bzero(h, sizeof(*h));
			free(h);
			return 1;
		}
		memcpy(&io->relay, &s->relay, sizeof(io->relay));
		io->relay_len = s->relay_len;
		io->sb.spool_fd = s->spool_fd;
		keep[n++] = io->c.data;
		keep[n++] = io->c.cons;
		keep[n++] = io->cw.data;
		keep[n++] = io->cw.space;
		keep[n++] = io->spool_fd;
		return exec_role(s, c, h, keep, n);
	}
}

static const char *child_name(const struct super *s, const struct child *c,
			      char *buf, size_t len)
{
	if (c->role == ROLE_WORKER)
		snprintf(buf, len, "worker %s", s->cfg.cams[c->cam].name);
	else
		snprintf(buf, len, "%s", role_name(c->role));
	return buf;
}

/* The relay's address for the uplink: looked up here, each time it
 * starts (its own network policy has no room for DNS). */
static void resolve_relay(struct super *s)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	char port[8];
	int ret;

	snprintf(port, sizeof(port), "%u", s->cfg.relay_port);
	ret = getaddrinfo(s->cfg.relay_host, port, &hints, &res);
	s->relay_len = 0;
	if (ret) {
		log_err("relay address %s: %s", s->cfg.relay_host,
			gai_strerror(ret));
		return;
	}
	if (res->ai_addrlen <= sizeof(s->relay)) {
		memcpy(&s->relay, res->ai_addr, res->ai_addrlen);
		s->relay_len = res->ai_addrlen;
	}
	freeaddrinfo(res);
}

/*
 * The sealer and the uplink are on every frame's way to the relay. With
 * [hub] realtime = yes they run SCHED_FIFO at the lowest real-time
 * priority: woken, they take a CPU from the camera workers at once rather
 * than queue behind them (docs/DECISIONS.md section 28). It takes root,
 * CAP_SYS_NICE or an RLIMIT_RTPRIO of 1 (moatd.service with the drop-in
 * docs/CONFIG.md gives); refused, they run at normal priority, said once.
 * SCHED_RESET_ON_FORK keeps the uplink's io_uring worker threads (spool
 * writes) at normal priority. A role that inherited a real-time policy
 * from moatd (a unit with CPUSchedulingPolicy=) and should not have one
 * goes down to SCHED_OTHER. Every role then gets RLIMIT_RTPRIO 0.
 */
static void role_sched(const struct super *s, const struct child *c)
{
	struct sched_param rt = { .sched_priority = 1 }, other = { 0 };
	struct rlimit none = { 0, 0 };
	int cur = sched_getscheduler(0) & ~SCHED_RESET_ON_FORK;
	bool has = cur == SCHED_FIFO || cur == SCHED_RR;
	char name[64];

	if (!s->cfg.realtime || c->role == ROLE_WORKER) {
		if (has && sched_setscheduler(0, SCHED_OTHER, &other) < 0)
			log_warn("%s: cannot leave real-time priority: %s",
				 child_name(s, c, name, sizeof(name)),
				 strerror(errno));
	} else if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK,
				      &rt) < 0 && !has && !c->restarts) {
		log_warn("%s: real-time priority refused (%s), so it runs at normal priority: moatd needs root, CAP_SYS_NICE or a real-time priority limit of 1 (under moatd.service, a drop-in with LimitRTPRIO=1 and RestrictRealtime=no; docs/CONFIG.md, realtime), or set [hub] realtime = no",
			 child_name(s, c, name, sizeof(name)), strerror(errno));
	}
	if (setrlimit(RLIMIT_RTPRIO, &none) < 0)
		log_debug("RLIMIT_RTPRIO: %s", strerror(errno));
}

static void spawn(struct super *s, struct child *c)
{
	pid_t parent = getpid(), pid;
	char name[64];

	if (c->role == ROLE_UPLINK)
		resolve_relay(s);
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		c->state = CH_WAITING;
		c->restart_ns = mono_ns() + 1000000000ULL;
		return;
	}
	if (!pid) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(1);
		/* into its cgroup before it does anything: the policy's BPF
		 * rules know the role by it */
		if (netpol_enter(s, c->role, c->cam))
			_exit(1);
		prctl(PR_SET_NAME, c->role == ROLE_WORKER ? "moat-worker" :
				   c->role == ROLE_SEALER ? "moat-sealer" :
							    "moat-uplink");
		role_sched(s, c);
		_exit(child_body(s, c));
	}
	c->pid = pid;
	c->state = CH_RUNNING;
	c->started_ns = mono_ns();
	log_debug("%s started (pid %d)", child_name(s, c, name, sizeof(name)),
		  pid);
}

static void reaped(struct super *s, pid_t pid, int status)
{
	char name[64], how[64];

	for (size_t i = 0; i < s->n_ch; i++) {
		struct child *c = &s->ch[i];
		uint64_t ran;

		if (c->pid != pid)
			continue;
		c->pid = 0;
		c->last_status = status;
		child_name(s, c, name, sizeof(name));
		if (WIFSIGNALED(status))
			snprintf(how, sizeof(how), "was killed by signal %d (%s)",
				 WTERMSIG(status), strsignal(WTERMSIG(status)));
		else
			snprintf(how, sizeof(how), "exited with status %d",
				 WEXITSTATUS(status));
		if (s->stopping) {
			c->state = CH_STOPPED;
			log_debug("%s %s", name, how);
			return;
		}
		if (c->role != ROLE_WORKER && WIFEXITED(status) &&
		    WEXITSTATUS(status) == HANDOFF_REFUSED) {
			/* it will refuse again: a restart cannot mend it */
			log_err("%s (%s) refused moatd's handoff, saying why above; a restart would be refused again, so moatd stops (exit status %d)",
				name, handoff_program(c->role), HANDOFF_REFUSED);
			c->state = CH_STOPPED;
			s->fatal = HANDOFF_REFUSED;
			s->stopping = true;
			return;
		}
		if (c->role == ROLE_WORKER && WIFEXITED(status) &&
		    !WEXITSTATUS(status) &&
		    ((struct stats_worker *)c->stats)->ended) {
			c->state = CH_ENDED;
			log_info("%s: its source ended", name);
			return;
		}
		if (c->reload) {
			/* asked for (the viewers changed): at once */
			c->reload = false;
			c->state = CH_WAITING;
			c->restart_ns = mono_ns();
			log_info("%s stopped to take the new viewer keys; starting it again",
				 name);
			return;
		}
		ran = mono_ns() - c->started_ns;
		if (ran > 30000000000ULL)
			c->backoff_ms = BACKOFF_FIRST_MS;
		c->state = CH_WAITING;
		c->restart_ns = mono_ns() + (uint64_t)c->backoff_ms * 1000000;
		c->restarts++;
		log_warn("%s %s; restarting in %d ms", name, how, c->backoff_ms);
		c->backoff_ms = c->backoff_ms * 2 > BACKOFF_LAST_MS ?
					BACKOFF_LAST_MS :
					c->backoff_ms * 2;
		return;
	}
}

static void reap(struct super *s)
{
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(s->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!s->stopping)
				log_info("stopping (signal %u)", si.ssi_signo);
			s->stopping = true;
		}
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		reaped(s, pid, status);
}

/* ---- rates ---- */

static void sample(struct super *s)
{
	struct sample *sm;

	if (s->n_samples == RATE_WINDOW + 1) {
		memmove(s->samples, s->samples + 1,
			RATE_WINDOW * sizeof(*s->samples));
		s->n_samples--;
	}
	sm = &s->samples[s->n_samples++];
	memset(sm, 0, sizeof(*sm));
	sm->t_ns = mono_ns();
	for (size_t i = 0; i < s->n_ch; i++) {
		const struct child *c = &s->ch[i];

		if (c->role == ROLE_WORKER) {
			const struct stats_worker *w = c->stats;

			sm->frames[c->cam] = w->frames;
			sm->bytes[c->cam] = w->bytes;
		} else if (c->role == ROLE_UPLINK) {
			sm->sent_bytes =
				((const struct stats_uplink *)c->stats)->bytes_sent;
		}
	}
}

/* ---- status ---- */

static const struct child *child_of(const struct super *s, enum role role,
				    int cam)
{
	for (size_t i = 0; i < s->n_ch; i++)
		if (s->ch[i].role == role && s->ch[i].cam == cam)
			return &s->ch[i];
	return NULL;
}

static const char *state_name(const struct child *c)
{
	switch (c->state) {
	case CH_RUNNING:
		return "running";
	case CH_WAITING:
		return c->restarts ? "restarting" : "starting";
	case CH_ENDED:
		return "ended";
	case CH_STOPPED:
		return "stopped";
	}
	return "?";
}

/* How the kernel schedules a running role: "realtime" or "normal". */
static const char *sched_name(const struct child *c)
{
	int p;

	if (c->state != CH_RUNNING || c->pid <= 0)
		return "none";
	p = sched_getscheduler(c->pid);
	if (p < 0)
		return "unknown";
	p &= ~SCHED_RESET_ON_FORK;
	return p == SCHED_FIFO || p == SCHED_RR ? "realtime" : "normal";
}

static const char *uplink_state(uint64_t st)
{
	switch (st) {
	case UPLINK_CONNECTING:
		return "connecting";
	case UPLINK_CONNECTED:
		return "connected";
	case UPLINK_BACKOFF:
		return "waiting to reconnect";
	}
	return "starting";
}

static uint64_t pct(const struct stats_uplink *u, const uint32_t *hist,
		    unsigned int p)
{
	uint64_t want, acc = 0;

	if (!u->lat_n)
		return 0;
	want = (u->lat_n * p + 99) / 100;
	for (size_t i = 0; i < LAT_BUCKETS; i++) {
		acc += hist[i];
		if (acc >= want)
			return (i + 1) * LAT_BUCKET_US;
	}
	return LAT_BUCKETS * LAT_BUCKET_US;
}

static void rates(const struct super *s, int cam, double *fps, double *bps)
{
	const struct sample *a = &s->samples[0],
			    *b = &s->samples[s->n_samples ? s->n_samples - 1 : 0];
	double dt = (double)(b->t_ns - a->t_ns) / 1e9;

	*fps = *bps = 0;
	if (s->n_samples < 2 || dt <= 0)
		return;
	*fps = (double)(b->frames[cam] - a->frames[cam]) / dt;
	*bps = (double)(b->bytes[cam] - a->bytes[cam]) * 8 / dt;
}

/*
 * A role's error text from its stats page: the role may be compromised,
 * so the text is copied once, cut to size, and anything but printable
 * ASCII becomes '?'; JSON also escapes quotes and backslashes.
 */
static void role_err(const char *shared, char out[STATS_ERR_MAX])
{
	memcpy(out, shared, STATS_ERR_MAX);
	out[STATS_ERR_MAX - 1] = 0;
	for (char *p = out; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
}

/* Seconds from at_us to now_us (0 if the clock stepped back). */
static double age_s(uint64_t now_us, uint64_t at_us)
{
	return now_us > at_us ? (double)(now_us - at_us) / 1e6 : 0.0;
}


/* Non-empty buckets, [upper bound in us, count]: a benchmark can take
 * percentiles over its own window. */
static void json_hist(struct sbuf *b, const char *name, const uint32_t *hist)
{
	sb_printf(b, "  \"%s\": [", name);
	for (size_t i = 0, k = 0; i < LAT_BUCKETS; i++)
		if (hist[i])
			sb_printf(b, "%s[%zu, %u]", k++ ? ", " : "",
				  (i + 1) * LAT_BUCKET_US, hist[i]);
	sb_printf(b, "],\n");
}

static void status_json(const struct super *s, struct sbuf *b)
{
	const struct child *sl = child_of(s, ROLE_SEALER, -1),
			   *up = child_of(s, ROLE_UPLINK, -1);
	const struct stats_sealer *ss = sl->stats;
	const struct stats_uplink *us = up->stats;
	uint64_t now_us = cap_now_us();
	char acct[33];

	hex_encode(acct, s->account, sizeof(s->account));
	sb_printf(b, "{\n  \"uptime_s\": %.1f,\n  \"cameras\": [",
		  (double)(mono_ns() - s->started_ns) / 1e9);
	for (size_t i = 0; i < s->cfg.n_cams; i++) {
		const struct child *w = child_of(s, ROLE_WORKER, (int)i);
		const struct stats_worker *ws = w->stats;
		const struct stats_cam *sc = &ss->cam[i];
		double fps, bps;
		char e[STATS_ERR_MAX];

		rates(s, (int)i, &fps, &bps);
		sb_printf(b,
			  "%s\n    {\"name\": \"%s\", \"state\": \"%s\", \"pid\": %d, \"restarts\": %u, "
			  "\"fps\": %.1f, \"bitrate_bps\": %.0f, \"frames_captured\": %" PRIu64
			  ", \"frames_sealed\": %" PRIu64 ", \"bytes_sealed\": %" PRIu64
			  ", \"streams\": %" PRIu64 ", \"drops_recorded\": %" PRIu64
			  ", \"drops_live\": %" PRIu64 ", \"skipped\": %" PRIu64
			  ", \"copies\": %" PRIu64 ", \"converted\": %" PRIu64
			  ", \"last_keyframe_age_s\": %.1f, \"error_age_s\": %.1f, \"encoder\": \"",
			  i ? "," : "", s->cfg.cams[i].name, state_name(w),
			  (int)w->pid, w->restarts, fps, bps, ws->frames,
			  sc->frames_sealed, sc->bytes_sealed, sc->streams,
			  ws->drops_rec, sc->drops_live, sc->skipped,
			  ws->copies, ws->converted,
			  sc->last_key_us && now_us > sc->last_key_us ?
				  (double)(now_us - sc->last_key_us) / 1e6 :
				  -1.0,
			  ws->err[0] ? age_s(now_us, ws->err_us) : -1.0);
		role_err(ws->encoder, e);
		sb_json_str(b, e);
		sb_printf(b, "\", \"error\": \"");
		role_err(ws->err, e);
		sb_json_str(b, e);
		role_err(ws->note, e);
		sb_printf(b, "\", \"note_age_s\": %.1f, \"note\": \"",
			  e[0] ? age_s(now_us, ws->note_us) : -1.0);
		sb_json_str(b, e);
		sb_printf(b, "\"");
		if (s->cfg.cams[i].record == REC_EVENTS)
			sb_printf(b,
				  ", \"events\": {\"motion\": %s, \"motion_starts\": %" PRIu64
				  ", \"samples\": %" PRIu64 ", \"clips\": %" PRIu64
				  ", \"in_clip\": %s, \"held_bytes\": %" PRIu64
				  ", \"discarded_gops\": %" PRIu64
				  ", \"preroll_short\": %" PRIu64 "}",
				  ws->motion ? "true" : "false", ws->motion_starts,
				  ws->motion_samples, sc->clips,
				  sc->in_clip ? "true" : "false", sc->held_bytes,
				  sc->discarded_gops, sc->preroll_short);
		sb_printf(b, "}");
	}
	sb_printf(b,
		  "\n  ],\n  \"sealer\": {\"state\": \"%s\", \"pid\": %d, \"restarts\": %u, \"scheduling\": \"%s\", "
		  "\"viewers\": %" PRIu64 ", \"records\": %" PRIu64 ", \"bytes\": %" PRIu64
		  ", \"copies\": %" PRIu64 ", \"ring_full\": %" PRIu64 "},\n",
		  state_name(sl), (int)sl->pid, sl->restarts, sched_name(sl),
		  ss->viewers,
		  ss->records, ss->bytes, ss->copies, ss->ring_waits);
	sb_printf(b,
		  "  \"heartbeats\": {\"new_key\": %" PRIu64 ", \"same_key\": %" PRIu64
		  ", \"refused\": %" PRIu64 ", \"lost\": %" PRIu64
		  ", \"live_requests\": %" PRIu64 ", \"live_now\": %s"
		  ", \"last_refused\": \"",
		  s->hb_applied, s->hb_same, s->hb_refused, s->hb_lost,
		  s->live_requests,
		  ss->live_until_ns > mono_ns() || ss->lan_until_ns > mono_ns() ?
			  "true" :
			  "false");
	sb_json_str(b, s->hb_last);
	sb_printf(b, "\"},\n");
	sb_printf(b,
		  "  \"uplink\": {\"state\": \"%s\", \"process\": \"%s\", \"pid\": %d, \"restarts\": %u, \"scheduling\": \"%s\", "
		  "\"relay\": \"%s:%u\", \"account\": \"%s\", \"records_sent\": %" PRIu64 ", \"bytes_sent\": %" PRIu64
		  ", \"acked\": %" PRIu64 ", \"zc_sends\": %" PRIu64 ", \"plain_sends\": %" PRIu64
		  ", \"zc_refused\": %" PRIu64 ", \"zc_copied\": %" PRIu64
		  ", \"zc_copy_fallbacks\": %" PRIu64 ", \"replayed\": %" PRIu64
		  ", \"connects\": %" PRIu64 ", \"disconnects\": %" PRIu64 ", \"copies\": %" PRIu64
		  ", \"latency_p50_us\": %" PRIu64 ", \"latency_p99_us\": %" PRIu64
		  ", \"capture_p50_us\": %" PRIu64 ", \"capture_p99_us\": %" PRIu64
		  ", \"ring_bytes\": %" PRIu64 ", \"live_dropped\": %" PRIu64 "},\n",
		  uplink_state(us->state), state_name(up), (int)up->pid,
		  up->restarts, sched_name(up), s->cfg.relay_host, s->cfg.relay_port, acct,
		  us->records_sent, us->bytes_sent, us->acked, us->zc_sends,
		  us->plain_sends, us->zc_refused, us->zc_copied,
		  us->zc_copy_fallbacks, us->replayed,
		  us->connects, us->disconnects, us->copies,
		  pct(us, us->lat_hist, 50), pct(us, us->lat_hist, 99),
		  pct(us, us->cap_hist, 50), pct(us, us->cap_hist, 99),
		  ring_used(&s->c_watch), us->live_dropped);
	sb_printf(b,
		  "  \"lan\": {\"subnet\": \"%s\", \"port\": %u, \"viewers\": %" PRIu64
		  ", \"connects\": %" PRIu64 ", \"logins\": %" PRIu64
		  ", \"refused\": %" PRIu64 ", \"cut_off\": %" PRIu64
		  ", \"records\": %" PRIu64 ", \"bytes\": %" PRIu64 "},\n",
		  s->cfg.lan_subnet, s->cfg.lan_subnet[0] ? s->cfg.lan_port : 0,
		  us->lan_viewers, us->lan_connects, us->lan_logins,
		  us->lan_refused, us->lan_cut, us->lan_records, us->lan_bytes);
	json_hist(b, "latency_hist", us->lat_hist);
	json_hist(b, "capture_hist", us->cap_hist);
	netpol_status(s, b, true);
	sb_printf(b,
		  "  \"spool\": {\"path\": \"%s\", \"bytes\": %" PRIu64 ", \"quota\": %" PRIu64
		  ", \"unacked_bytes\": %" PRIu64 ", \"segments\": %" PRIu64
		  ", \"written_bytes\": %" PRIu64 ", \"skipped_bytes\": %" PRIu64
		  ", \"evicted_bytes\": %" PRIu64 ", \"alert\": %s}\n}\n",
		  s->cfg.spool, us->spool_bytes, s->cfg.spool_quota,
		  us->spool_unacked_bytes, us->spool_segments, us->spool_written,
		  us->spool_skipped, us->evicted_bytes,
		  us->evictions ? "true" : "false");
}

static void status_text(const struct super *s, struct sbuf *b)
{
	const struct child *sl = child_of(s, ROLE_SEALER, -1),
			   *up = child_of(s, ROLE_UPLINK, -1);
	const struct stats_sealer *ss = sl->stats;
	const struct stats_uplink *us = up->stats;
	uint64_t now_us = cap_now_us();
	char x[32], y[32], acct[33];

	hex_encode(acct, s->account, sizeof(s->account));
	sb_printf(b, "moatd: up %.0f s, %zu camera(s), relay %s:%u, account %s\n\n",
		  (double)(mono_ns() - s->started_ns) / 1e9, s->cfg.n_cams,
		  s->cfg.relay_host, s->cfg.relay_port, acct);
	sb_printf(b, "%-16s %-10s %6s %10s %9s %9s %6s %s\n", "CAMERA", "STATE",
		  "FPS", "BITRATE", "CAPTURED", "SEALED", "DROPS",
		  "LAST KEYFRAME");
	for (size_t i = 0; i < s->cfg.n_cams; i++) {
		const struct child *w = child_of(s, ROLE_WORKER, (int)i);
		const struct stats_worker *ws = w->stats;
		const struct stats_cam *sc = &ss->cam[i];
		double fps, bps;
		char e[STATS_ERR_MAX];

		rates(s, (int)i, &fps, &bps);
		snprintf(x, sizeof(x), "%.2f Mb/s", bps / 1e6);
		if (sc->last_key_us && now_us > sc->last_key_us)
			snprintf(y, sizeof(y), "%.1f s ago",
				 (double)(now_us - sc->last_key_us) / 1e6);
		else
			snprintf(y, sizeof(y), "none yet");
		sb_printf(b, "%-16s %-10s %6.1f %10s %9" PRIu64 " %9" PRIu64
			     " %6" PRIu64 " %s\n",
			  s->cfg.cams[i].name, state_name(w), fps, x, ws->frames,
			  sc->frames_sealed, ws->drops_rec + sc->drops_live, y);
		role_err(ws->err, e);
		if (e[0])
			sb_printf(b, "%-16s %s (%.0f s ago)\n", "", e,
				  age_s(now_us, ws->err_us));
		role_err(ws->note, e);
		if (e[0])
			sb_printf(b, "%-16s note: %s (%.0f s ago)\n", "", e,
				  age_s(now_us, ws->note_us));
		if (s->cfg.cams[i].record == REC_EVENTS) {
			human_bytes(x, sizeof(x), (double)sc->held_bytes);
			sb_printf(b, "%-16s events: %s, %" PRIu64
				     " clip(s)%s, %s of sealed pre-roll held\n",
				  "", ws->motion ? "motion now" : "no motion",
				  sc->clips,
				  sc->in_clip ? ", recording one now" : "", x);
		}
	}
	sb_printf(b, "\nsealer  %s, %" PRIu64 " viewer(s), %" PRIu64
		     " records sealed, %u restart(s); scheduling: %s\n",
		  state_name(sl), ss->viewers, ss->records, sl->restarts,
		  sched_name(sl));
	if (ss->live_until_ns > mono_ns())
		sb_printf(b, "live    a viewer watches through the relay: events cameras send what they seal (%" PRIu64
			     " live request(s))\n",
			  s->live_requests);
	else if (ss->lan_until_ns > mono_ns())
		sb_printf(b, "live    a viewer watches on the LAN: events cameras show it what they seal, and send the relay nothing more\n");
	if (s->hb_applied || s->hb_same || s->hb_refused || s->hb_lost)
		sb_printf(b, "heartbeats  %" PRIu64 " new key(s), %" PRIu64
			     " same key, %" PRIu64 " refused, %" PRIu64
			     " lost%s%s\n",
			  s->hb_applied, s->hb_same, s->hb_refused, s->hb_lost,
			  s->hb_last[0] ? "; last refused: " : "", s->hb_last);
	human_bytes(x, sizeof(x), (double)us->bytes_sent);
	sb_printf(b, "uplink  %s, %" PRIu64 " records sent (%s), %" PRIu64
		     " acknowledged, %" PRIu64 " zero-copy%s, %" PRIu64
		     " resent\n        seal-and-send p50 %" PRIu64 " us p99 %" PRIu64
		     " us; capture to send p50 %" PRIu64 " us p99 %" PRIu64
		     " us; scheduling: %s\n",
		  uplink_state(us->state), us->records_sent, x, us->acked,
		  us->zc_sends,
		  us->zc_copy_fallbacks ?
			  " (then plain: the route copied them)" : "",
		  us->replayed, pct(us, us->lat_hist, 50),
		  pct(us, us->lat_hist, 99), pct(us, us->cap_hist, 50),
		  pct(us, us->cap_hist, 99), sched_name(up));
	if (s->cfg.lan_subnet[0]) {
		human_bytes(x, sizeof(x), (double)us->lan_bytes);
		sb_printf(b, "lan     live view on port %u for %s: %" PRIu64
			     " watching, %" PRIu64 " logins, %" PRIu64
			     " refused, %" PRIu64 " cut off, %s sent\n",
			  s->cfg.lan_port, s->cfg.lan_subnet, us->lan_viewers,
			  us->lan_logins, us->lan_refused, us->lan_cut, x);
	}
	human_bytes(x, sizeof(x), (double)us->spool_bytes);
	human_bytes(y, sizeof(y), (double)s->cfg.spool_quota);
	sb_printf(b, "spool   %s of %s in %s", x, y, s->cfg.spool);
	human_bytes(x, sizeof(x), (double)us->spool_unacked_bytes);
	sb_printf(b, ", %s awaiting acknowledgement", x);
	human_bytes(x, sizeof(x), (double)us->spool_written);
	human_bytes(y, sizeof(y), (double)us->spool_skipped);
	sb_printf(b, "; %s written, %s acknowledged before it was due\n", x,
		  y);
	if (us->evictions) {
		human_bytes(x, sizeof(x), (double)us->evicted_bytes);
		sb_printf(b, "ALERT   the spool quota evicted %s never acknowledged by the relay\n",
			  x);
	}
	netpol_status(s, b, false);
}

char *super_status(const struct super *s, bool json)
{
	struct sbuf b = { 0 };

	if (json)
		status_json(s, &b);
	else
		status_text(s, &b);
	return b.p;
}

/*
 * The owner approved or removed a viewer: the sealer, which read the
 * viewers before its sandbox, is stopped (it closes its streams) and
 * started again with the new set; every stream from then on is sealed to
 * it. A removed viewer opens nothing sealed after this.
 */
bool super_reload(struct super *s, unsigned int roles, const char *why)
{
	bool sealer = false;

	for (size_t i = 0; i < s->n_ch; i++) {
		struct child *c = &s->ch[i];

		if (!(roles & (1U << c->role)) || c->state != CH_RUNNING)
			continue;
		c->reload = true;
		super_kill(s, c, SIGTERM);
		sealer |= c->role == ROLE_SEALER;
	}
	log_info("%s", why);
	return sealer;
}

static char *reload_viewers(struct super *s)
{
	/* the uplink too: it tells the relay which viewers may log in */
	bool sealer = super_reload(
		s, 1U << ROLE_SEALER | 1U << ROLE_UPLINK,
		"the viewers changed: the sealer and the uplink start again with them");

	return strdup(sealer ? "ok: the sealer starts again with the new viewers; new streams are sealed to them, and the relay is told who may log in\n" :
			       "ok: the sealer is not running; it reads the viewers when it starts\n");
}

static void serve_ctl(struct super *s)
{
	struct timeval tv = { .tv_sec = 1 };
	char req[CTL_REQ_MAX + 1] = { 0 }, *reply = NULL;
	const char *err = NULL;
	ssize_t n;
	int fd = accept4(s->ctl_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* the request line, however the client's writes arrive */
	for (size_t got = 0; got < CTL_REQ_MAX;) {
		n = read(fd, req + got, CTL_REQ_MAX - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (memchr(req, '\n', got))
			break;
	}
	n = (ssize_t)strlen(req);
	if (n > 0) {
		req[strcspn(req, "\r\n")] = 0;
		if (!strcmp(req, "status"))
			reply = super_status(s, false);
		else if (!strcmp(req, "status json"))
			reply = super_status(s, true);
		else if (!strcmp(req, "viewers changed"))
			reply = reload_viewers(s);
		else
			err = "error: unknown request (known: status, status json, viewers changed)\n";
	}
	if (reply)
		wire_write_all(fd, reply, strlen(reply));
	else if (err)
		wire_write_all(fd, err, strlen(err));
	free(reply);
	close(fd);
}

/* ---- the loop ---- */

void super_kill(const struct super *s, const struct child *c, int sig)
{
	uid_t uid = s->uid[c->role];
	gid_t gid = s->gid[c->role];
	pid_t pid = c->pid, h;
	int st = 0;

	if (!pid || !kill(pid, sig) || errno != EPERM)
		return;
	/* moatd as its own user has no CAP_KILL: a child of it becomes the
	 * role's user and sends the signal. The role is moatd's child and
	 * not yet reaped, so its pid names no other process meanwhile. */
	h = fork();
	if (!h) {
		if (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(2);
		_exit(kill(pid, sig) < 0 ? 1 : 0);
	}
	while (h > 0 && waitpid(h, &st, 0) < 0 && errno == EINTR)
		;
	if (h < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
		log_err("cannot send signal %d to pid %d as uid %u: %s", sig,
			(int)pid, (unsigned int)uid,
			h < 0 ? strerror(errno) :
			WIFEXITED(st) && WEXITSTATUS(st) == 1 ?
				"the kernel refused it" :
				"cannot become that user");
}

static bool all_stopped(const struct super *s, enum role role)
{
	for (size_t i = 0; i < s->n_ch; i++)
		if (s->ch[i].role == role && s->ch[i].pid)
			return false;
	return true;
}

static void signal_role(struct super *s, enum role role, int sig)
{
	for (size_t i = 0; i < s->n_ch; i++)
		if (s->ch[i].role == role && s->ch[i].pid)
			super_kill(s, &s->ch[i], sig);
}

static void wait_role(struct super *s, enum role role, int ms)
{
	uint64_t until = mono_ns() + (uint64_t)ms * 1000000;

	signal_role(s, role, SIGTERM);
	while (!all_stopped(s, role) && mono_ns() < until) {
		struct pollfd p = { .fd = s->sig_fd, .events = POLLIN };

		poll(&p, 1, 50);
		reap(s);
	}
	signal_role(s, role, SIGKILL);
	while (!all_stopped(s, role)) {
		struct pollfd p = { .fd = s->sig_fd, .events = POLLIN };

		poll(&p, 1, 50);
		reap(s);
	}
}

/* Workers first, then the sealer (it closes its streams), then the uplink
 * once the C ring is empty (what is unacknowledged waits in the spool). */
static void shutdown_all(struct super *s)
{
	uint64_t until;

	wait_role(s, ROLE_WORKER, 2000);
	wait_role(s, ROLE_SEALER, 3000);
	/*
	 * The sealer's last records (the final records of the streams it
	 * closed) are in the C ring: an uplink that died and waits out its
	 * backoff is started now, or they would be lost with the ring and
	 * those streams would end early.
	 */
	if (ring_used(&s->c_watch) && all_stopped(s, ROLE_UPLINK)) {
		for (size_t i = 0; i < s->n_ch; i++)
			if (s->ch[i].role == ROLE_UPLINK && !s->ch[i].pid)
				spawn(s, &s->ch[i]);
	}
	until = mono_ns() + 5000000000ULL;
	while (ring_used(&s->c_watch) && mono_ns() < until &&
	       !all_stopped(s, ROLE_UPLINK)) {
		usleep(20000);
		reap(s);
	}
	wait_role(s, ROLE_UPLINK, 3000);
}

int super_run(struct super *s)
{
	uint64_t next_sample;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	s->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->sig_fd < 0)
		return -errno;
	s->started_ns = mono_ns();
	next_sample = s->started_ns;
	log_info("%zu camera(s), relay %s:%u, spool %s, control %s",
		 s->cfg.n_cams, s->cfg.relay_host, s->cfg.relay_port,
		 s->cfg.spool, s->cfg.control);
	/* The uplink and the sealer before the cameras: nothing waits. */
	for (size_t i = s->n_ch; i-- > 0;)
		spawn(s, &s->ch[i]);
	while (!s->stopping) {
		struct pollfd pf[3] = { { .fd = s->sig_fd, .events = POLLIN },
					{ .fd = s->ctl_fd, .events = POLLIN },
					{ .fd = netpol_fd(s), .events = POLLIN } };
		uint64_t now = mono_ns(), wake_at = next_sample;
		int ms;

		for (size_t i = 0; i < s->n_ch; i++) {
			struct child *c = &s->ch[i];

			if (c->state == CH_WAITING && c->restart_ns <= now)
				spawn(s, c);
			if (c->state == CH_WAITING && c->restart_ns < wake_at)
				wake_at = c->restart_ns;
		}
		if (now >= next_sample) {
			sample(s);
			super_mail(s);
			super_live(s);
			next_sample = now + 1000000000ULL;
			wake_at = next_sample;
			/* the policy still in force? every POLICY_WATCH_S */
			if (++s->watch_ticks >= POLICY_WATCH_S) {
				s->watch_ticks = 0;
				netpol_watch(s);
			}
		}
		ms = wake_at > now ? (int)((wake_at - now) / 1000000) + 1 : 0;
		if (poll(pf, 3, ms) < 0 && errno != EINTR)
			return -errno;
		if (pf[0].revents)
			reap(s);
		if (pf[1].revents)
			serve_ctl(s);
		if (pf[2].revents)
			netpol_events(s);
	}
	shutdown_all(s);
	log_info("stopped");
	return s->fatal;
}
