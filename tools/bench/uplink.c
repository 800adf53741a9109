// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench uplink: what the ciphertext gate costs the uplink's send path.
 *
 * A sender does what the uplink does (docs/POLICY.md, daemon/uplink.c):
 * in the uplink's cgroup, as its user, it sends relay frames (HELLO, then
 * one record per access unit of the 1080p clip, sized as the sealer makes
 * them) from a read-only map of a memfd ring with io_uring, SEND_ZC or
 * SEND, in linked chains of 16, as fast as it can, to a sink on loopback that
 * counts what arrives. The whole network policy is in force (in a network
 * namespace of the benchmark's own); only the gate is switched, with
 * polbpf_gate(). Configurations run interleaved, rounds times, and the
 * median is reported, with ratios taken within the run:
 *
 *   gate off/on x SEND_ZC/SEND, and an sk_msg verdict program (passing
 *   everything unread) on the socket instead of the gate: the design the
 *   gate was chosen over (DECISIONS.md section 19).
 *
 * Figures: MB/s through the socket, and MB per CPU-second of the sender
 * (its threads and io_uring workers: where the gate's work is charged).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "skmsg.skel.h"

#include "capture/annexb.h"
#include "common/fileio.h"
#include "common/wire.h"
#include "daemon/config.h"
#include "policy/bpf.h"
#include "policy/cgroup.h"
#include "policy/enforce.h"
#include "tools/bench/bench.h"

#ifndef IORING_SEND_ZC_REPORT_USAGE
#define IORING_SEND_ZC_REPORT_USAGE (1U << 3)
#endif
#ifndef IORING_NOTIF_USAGE_ZC_COPIED
#define IORING_NOTIF_USAGE_ZC_COPIED (1U << 31)
#endif

enum {
	CHAIN = 16, /* sends linked in one chain */
	FRAME_OVERHEAD = 16 + 16, /* frame header and tag, per record */
	PORT = 7443,
};

enum mode { M_ZC_OFF, M_ZC_GATE, M_SEND_OFF, M_SEND_GATE, M_SKMSG, M_N };

static const char *const mode_name[M_N] = {
	"SEND_ZC, no gate", "SEND_ZC, gate", "SEND, no gate", "SEND, gate",
	"sk_msg verdict",
};

struct uopts {
	double seconds;
	int rounds;
	const char *clip;
	bool json;
};

/* What a sender reports back through its pipe. */
struct result {
	double bytes, cpu, secs;
	long long zc, zc_copied, zc_refused, errors;
	int last_err;
	double gate_ns, gate_runs; /* the kernel's time in the gate */
	int notifs_left; /* zero-copy notifications not in when it ended */
};

struct records {
	int memfd;
	size_t len;
	size_t *off, *size; /* each frame */
	size_t n;
};

static struct cfg cfg;

/* HELLO and one data record per access unit, in a memfd. */
static int records_make(const uint8_t *clip, size_t clip_len,
			struct records *r)
{
	struct annexb a;
	struct annexb_au au;
	size_t cap = 4096, pos;
	uint8_t *p, id[WIRE_ID_LEN] = { 0x6d };
	uint64_t ctr = 1;

	r->off = calloc(cap, sizeof(size_t));
	r->size = calloc(cap, sizeof(size_t));
	r->len = 3 * WIRE_HDR_LEN + WIRE_AUTH_LEN;
	annexb_init(&a, clip, clip_len);
	while (r->n < cap - 1 && annexb_next_au(&a, &au) == 1) {
		r->size[r->n + 1] = WIRE_HDR_LEN + au.len + FRAME_OVERHEAD;
		r->len += r->size[++r->n];
	}
	r->memfd = memfd_create("moat-bench-c-ring", MFD_CLOEXEC);
	if (r->memfd < 0 || ftruncate(r->memfd, (off_t)r->len))
		return -errno;
	p = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* what the gate allows first: HELLO, the login (AUTH: the sink
	 * checks no signature; VIEWERS: none) */
	wire_put(p, WIRE_HELLO, 0, id, WIRE_ROLE_HUB);
	wire_put(p + WIRE_HDR_LEN, WIRE_AUTH, WIRE_AUTH_LEN, id, 0);
	wire_put(p + 2 * WIRE_HDR_LEN + WIRE_AUTH_LEN, WIRE_VIEWERS, 0, NULL, 0);
	r->size[0] = 3 * WIRE_HDR_LEN + WIRE_AUTH_LEN;
	pos = r->size[0];
	for (size_t i = 1; i <= r->n; i++) {
		uint32_t body = (uint32_t)(r->size[i] - WIRE_HDR_LEN);

		r->off[i] = pos;
		wire_put(p + pos, 2, body, id, ctr++);
		/* a body the gate cannot read anyway: whatever is there */
		memset(p + pos + WIRE_HDR_LEN, (int)(i & 0xff), body);
		pos += r->size[i];
	}
	r->n++;
	munmap(p, r->len);
	return 0;
}

/* ---- the sink ---- */

struct sink {
	int lfd;
	double bytes;
};

static void *sink_run(void *arg)
{
	struct sink *s = arg;
	static uint8_t buf[1 << 20];
	int fd = accept(s->lfd, NULL, NULL);
	ssize_t n;

	s->bytes = 0;
	while (fd >= 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0)
		s->bytes += (double)n;
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* ---- the sender (a child: the uplink's cgroup and user) ---- */

static double cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double mono(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Into the uplink's cgroup; as its user unless keep_root (sk_msg: the
 * socket goes into a sockmap, which takes CAP_BPF). */
static int become_uplink(bool keep_root)
{
	char cg[CG_PATH_MAX];
	struct passwd *pw = getpwnam(cfg.uplink_user);

	/* as moatd gives the uplink: room to pin a ring's worth of sends */
	struct rlimit pin = { 64 << 20, 64 << 20 };

	if (cg_path(&cfg, ROLE_UPLINK, -1, cg) || cg_enter(cg) || !pw)
		return -1;
	/* without CAP_SYS_RESOURCE (some containers) the limit stays: a
	 * send over it falls back to a copy, counted as refused */
	setrlimit(RLIMIT_MEMLOCK, &pin);
	if (keep_root)
		return 0;
	return setgroups(0, NULL) || setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) ||
			       setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) ?
		       -1 :
		       0;
}

static int connect_sink(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A chain of linked sends, in order: as the uplink sends, one chain in
 * flight (io_uring may run unlinked sends on a stream socket side by
 * side, and a short one would let another's bytes in between). */
static int submit_chain(struct io_uring *ring, int fd, const uint8_t *base,
			const struct records *r, size_t *next, bool zc)
{
	for (int k = 0; k < CHAIN; k++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		size_t i = *next;

		if (zc)
			io_uring_prep_send_zc(sqe, fd, base + r->off[i],
					      r->size[i], MSG_WAITALL,
					      IORING_SEND_ZC_REPORT_USAGE);
		else
			io_uring_prep_send(sqe, fd, base + r->off[i],
					   r->size[i], MSG_WAITALL);
		io_uring_sqe_set_data64(sqe, i);
		if (k < CHAIN - 1)
			sqe->flags |= IOSQE_IO_LINK;
		*next = i + 1 < r->n ? i + 1 : 1;
	}
	return CHAIN;
}

/* Completions: sends (busy) and zero-copy notifications (notifs). */
static void reap(struct io_uring *ring, int *busy, int *notifs, bool *skip,
		 struct result *out)
{
	struct io_uring_cqe *cqe;

	while (io_uring_peek_cqe(ring, &cqe) == 0) {
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			if (cqe->res & IORING_NOTIF_USAGE_ZC_COPIED)
				out->zc_copied++;
			(*notifs)--; /* the pages are the ring's again */
			io_uring_cqe_seen(ring, cqe);
			continue;
		}
		if (cqe->flags & IORING_CQE_F_MORE)
			(*notifs)++; /* its notification is to come */
		if (cqe->res > 0) {
			out->bytes += cqe->res;
			out->zc += (cqe->flags & IORING_CQE_F_MORE) != 0;
		} else if (cqe->res == -EOPNOTSUPP || cqe->res == -ENOMEM) {
			/* as the uplink does: the next chain by copy */
			out->zc_refused++;
			*skip = true;
		} else if (cqe->res != -ECANCELED) {
			/* (cancelled: after a refused one in its chain, and
			 * skipped whole) */
			out->errors++;
			out->last_err = cqe->res;
		}
		(*busy)--;
		io_uring_cqe_seen(ring, cqe);
	}
}

/* Sends until secs have passed; the result goes to out. */
static void sender(const struct records *r, bool zc, int sockmap,
		   double secs, struct result *out)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring ring;
	const uint8_t *base;
	size_t next = 1;
	int fd, busy = 0, notifs = 0;
	bool skip = false;
	double t0, c0;

	memset(out, 0, sizeof(*out));
	if (become_uplink(sockmap >= 0)) {
		out->errors = 1;
		out->last_err = -errno;
		return;
	}
	if (io_uring_queue_init(64, &ring, 0)) {
		out->errors = 1;
		out->last_err = -ENOSYS;
		return;
	}
	base = mmap(NULL, r->len, PROT_READ, MAP_SHARED, r->memfd, 0);
	fd = connect_sink();
	if (base == MAP_FAILED || fd < 0) {
		out->errors = 1;
		return;
	}
	if (sockmap >= 0) {
		uint32_t k = 0;

		if (bpf_map_update_elem(sockmap, &k, &fd, BPF_ANY)) {
			out->errors = 1;
			out->last_err = -errno;
			return;
		}
	}
	/* HELLO and the login first, on their own */
	if (send(fd, base, r->size[0], 0) != (ssize_t)r->size[0]) {
		out->errors = 1;
		return;
	}
	out->bytes = (double)r->size[0];
	t0 = mono();
	c0 = cpu_self();
	/* the sends, timed to the completion of the last one */
	while ((mono() - t0 < secs || busy) && !out->errors) {
		struct io_uring_cqe *cqe;

		if (!busy && mono() - t0 < secs) {
			busy += submit_chain(&ring, fd, base, r, &next,
					     zc && !skip);
			skip = false;
		}
		io_uring_submit(&ring);
		/* a connection that stalls (a gate that refused) ends it */
		if (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == -ETIME &&
		    mono() - t0 > secs + 5) {
			out->errors++;
			out->last_err = -ETIME;
		}
		reap(&ring, &busy, &notifs, &skip, out);
	}
	out->secs = mono() - t0;
	out->cpu = cpu_self() - c0;
	/* then the zero-copy notifications, for their count (a few may
	 * still be out when the socket closes: not an error) */
	for (double t1 = mono(); notifs > 0 && mono() - t1 < 2;) {
		struct io_uring_cqe *cqe;

		io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		reap(&ring, &busy, &notifs, &skip, out);
	}
	out->notifs_left = notifs;
	close(fd);
	io_uring_queue_exit(&ring);
}

/* One run: the sink in this process, the sender in a child. */
static int run(const struct records *r, enum mode m, double secs,
	       struct result *res, double *sunk)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(PORT),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct skmsg_bpf *sk = NULL;
	struct sink s = { .lfd = socket(AF_INET, SOCK_STREAM, 0) };
	int one = 1, pfd[2], sockmap = -1, st;
	uint64_t ns0, runs0, ns1, runs1;
	char why[512] = "";
	pthread_t th;
	pid_t pid;

	memset(res, 0, sizeof(*res));
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s.lfd < 0 || bind(s.lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(s.lfd, 4) || pipe(pfd))
		return -1;
	if (polbpf_gate(&cfg, m == M_ZC_GATE || m == M_SEND_GATE, why,
			sizeof(why))) {
		fprintf(stderr, "moat-bench uplink: the gate: %s\n", why);
		return -1;
	}
	if (m == M_SKMSG) {
		sk = skmsg_bpf__open_and_load();
		if (!sk || bpf_prog_attach(bpf_program__fd(sk->progs.moat_skmsg),
					   bpf_map__fd(sk->maps.socks),
					   BPF_SK_MSG_VERDICT, 0)) {
			fprintf(stderr, "moat-bench uplink: cannot attach the sk_msg program\n");
			skmsg_bpf__destroy(sk);
			return -1;
		}
		sockmap = bpf_map__fd(sk->maps.socks);
	}
	pthread_create(&th, NULL, sink_run, &s);
	if (polbpf_gate_runtime(&cfg, &ns0, &runs0))
		ns0 = runs0 = 0;
	pid = fork();
	if (!pid) {
		struct result out;

		close(pfd[0]);
		sender(r, m == M_ZC_OFF || m == M_ZC_GATE || m == M_SKMSG,
		       sockmap, secs, &out);
		_exit(write(pfd[1], &out, sizeof(out)) == sizeof(out) ? 0 : 1);
	}
	close(pfd[1]);
	if (read(pfd[0], res, sizeof(*res)) != sizeof(*res))
		res->errors++;
	if (!polbpf_gate_runtime(&cfg, &ns1, &runs1)) {
		res->gate_ns = (double)(ns1 - ns0);
		res->gate_runs = (double)(runs1 - runs0);
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	shutdown(s.lfd, SHUT_RDWR);
	pthread_join(th, NULL);
	close(s.lfd);
	*sunk = s.bytes;
	skmsg_bpf__destroy(sk);
	return res->errors ? -1 : 0;
}

static int setup(char *dir, size_t len)
{
	char conf[PATH_MAX], root[CG_PATH_MAX], why[2048] = "";
	static struct cfg none;
	FILE *f;

	snprintf(dir, len, "/tmp/moat-bench-uplink-XXXXXX");
	if (!mkdtemp(dir) || cg_root(&none, root))
		return -1;
	*strrchr(root, '/') = '\0';
	/* the policy in a network namespace of our own: whatever a hub on
	 * this machine enforces is left alone */
	if (unshare(CLONE_NEWNET) || system("ip link set lo up"))
		return -1;
	snprintf(conf, sizeof(conf), "%s/moat.conf", dir);
	f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f,
		"[hub]\ncgroup = %s/moat-bench-%d\nbpf_pin = /sys/fs/bpf/moat-bench-%d\n"
		"[relay]\naddress = 127.0.0.1\nport = %d\n"
		"[camera bench]\nsource = file:/dev/null\n",
		root, (int)getpid(), (int)getpid(), PORT);
	fclose(f);
	if (cfg_load(conf, &cfg) || policy_enforce(&cfg, conf, why, sizeof(why))) {
		fprintf(stderr, "moat-bench uplink: the policy: %s\n", why);
		return -1;
	}
	return 0;
}

static int parse(struct uopts *o, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seconds", required_argument, NULL, 's' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "clip", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	int c;

	o->seconds = 4;
	o->rounds = 3;
	o->clip = "build/media/bench-1080p.h264";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->seconds = atof(optarg);
			if (o->seconds < 1 || o->seconds > 120) {
				fprintf(stderr, "moat-bench uplink: --seconds: 1..120\n");
				return 2;
			}
			break;
		case 'r':
			o->rounds = atoi(optarg);
			if (o->rounds < 1 || o->rounds > 20) {
				fprintf(stderr, "moat-bench uplink: --rounds: 1..20\n");
				return 2;
			}
			break;
		case 'f':
			o->clip = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'h':
			printf("Usage: moat-bench uplink [--seconds 4] [--rounds 3] [--clip FILE] [--json]\n\n"
			       "What the ciphertext gate costs the uplink. A sender in the uplink's\n"
			       "cgroup, as its user, sends relay records (one per access unit of the\n"
			       "1080p30 clip) from a read-only memfd ring with io_uring as fast as it\n"
			       "can to a sink on loopback, with the network policy in force in a\n"
			       "namespace of the benchmark's own. Five ways, interleaved, each\n"
			       "--rounds times for --seconds: SEND_ZC and SEND, each with the gate\n"
			       "off and on, and an sk_msg verdict program (passing all) in the\n"
			       "gate's place. Reports MB/s, MB per CPU-second of the sender, and\n"
			       "the zero-copy sends the kernel took, refused and copied; ratios are\n"
			       "within the run. Target: the gate costs under 5%% and keeps SEND_ZC.\n"
			       "On loopback the kernel copies zero-copy pages when it delivers them\n"
			       "(the copied column): the NIC-level gain needs real hardware.\n"
			       "Needs root.\n");
			exit(0);
		default:
			return 2;
		}
	}
	return optind == argc ? 0 : 2;
}

static double rate(const struct result *r, bool per_cpu)
{
	return per_cpu ? (r->cpu > 0 ? r->bytes / r->cpu : 0) :
			 (r->secs > 0 ? r->bytes / r->secs : 0);
}

/* The median over rounds of mode a against mode b in the same round:
 * drift between rounds cancels out. */
static double ratio(struct result (*r)[M_N], int rounds, enum mode a,
		    enum mode b, bool per_cpu)
{
	double v[20];

	for (int i = 0; i < rounds; i++)
		v[i] = rate(&r[i][b], per_cpu) > 0 ?
			       rate(&r[i][a], per_cpu) / rate(&r[i][b], per_cpu) :
			       0;
	return bench_median(v, (size_t)rounds);
}

static double med(struct result (*r)[M_N], int rounds, enum mode m, bool per_cpu)
{
	double v[20];

	for (int i = 0; i < rounds; i++)
		v[i] = rate(&r[i][m], per_cpu);
	return bench_median(v, (size_t)rounds);
}

/* The smallest (hi false) or largest rate of mode m over the rounds. */
static double edge(struct result (*r)[M_N], int rounds, enum mode m,
		   bool per_cpu, bool hi)
{
	double e = rate(&r[0][m], per_cpu);

	for (int i = 1; i < rounds; i++) {
		double x = rate(&r[i][m], per_cpu);

		e = (hi ? x > e : x < e) ? x : e;
	}
	return e;
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

int bench_uplink(int argc, char **argv)
{
	static struct result res[20][M_N];
	struct uopts o = { 0 };
	struct records recs = { 0 };
	struct bench_machine mach;
	char dir[64], why[512];
	uint8_t *clip = NULL;
	size_t clip_len = 0;
	int ret = parse(&o, argc, argv), bad = 0, stats;

	if (ret)
		return ret;
	if (geteuid()) {
		fprintf(stderr, "moat-bench uplink: needs root (the policy, the uplink's cgroup and user)\n");
		return 1;
	}
	if (bench_make_clip(o.clip) ||
	    file_read_bounded(o.clip, 1 << 30, &clip, &clip_len) ||
	    records_make(clip, clip_len, &recs)) {
		fprintf(stderr, "moat-bench uplink: no clip at %s\n", o.clip);
		return 1;
	}
	if (setup(dir, sizeof(dir))) {
		fprintf(stderr, "moat-bench uplink: cannot set up the policy\n");
		return 1;
	}
	{
		/* ^C or a kill ends the rounds, not the clean-up: the policy,
		 * the cgroup and the pins go as after a full run */
		struct sigaction sa = { .sa_handler = on_interrupt };

		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
	}
	/* the kernel's time in each BPF program, for the gate's share */
	stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	bench_machine(&mach);
	if (!o.json) {
		bench_machine_print(stdout, &mach);
		printf("records: %zu (HELLO and one per access unit), %.1f MB a pass; %d round(s) of %.0f s\n\n",
		       recs.n, (double)recs.len / 1e6, o.rounds, o.seconds);
	}
	for (int i = 0; i < o.rounds && !interrupted; i++)
		for (int k = 0; k < M_N && !interrupted; k++) {
			/* every other round with the gate first, so that
			 * whatever the first of a pair leaves behind (or the
			 * machine's drift) falls on both alike */
			static const enum mode order[2][M_N] = {
				{ M_ZC_OFF, M_ZC_GATE, M_SEND_OFF, M_SEND_GATE, M_SKMSG },
				{ M_ZC_GATE, M_ZC_OFF, M_SEND_GATE, M_SEND_OFF, M_SKMSG },
			};
			enum mode m = order[i & 1][k];
			double sunk = 0;

			if (run(&recs, m, o.seconds, &res[i][m], &sunk) ||
			    sunk != res[i][m].bytes) {
				fprintf(stderr, "moat-bench uplink: %s, round %d: sent %.0f bytes, the sink got %.0f (%s)\n",
					mode_name[m], i + 1, res[i][m].bytes, sunk,
					strerror(-res[i][m].last_err));
				bad++;
			}
			if (!o.json)
				fprintf(stderr, "  round %d %-17s %8.1f MB/s\n", i + 1,
					mode_name[m],
					res[i][m].secs > 0 ?
						res[i][m].bytes / res[i][m].secs / 1e6 :
						0);
		}
	if (interrupted) {
		fprintf(stderr, "moat-bench uplink: interrupted; no results\n");
		bad++;
	} else {
		double t_zc = ratio(res, o.rounds, M_ZC_GATE, M_ZC_OFF, false),
		       t_s = ratio(res, o.rounds, M_SEND_GATE, M_SEND_OFF, false),
		       c_zc = ratio(res, o.rounds, M_ZC_GATE, M_ZC_OFF, true),
		       c_s = ratio(res, o.rounds, M_SEND_GATE, M_SEND_OFF, true),
		       t_sk = ratio(res, o.rounds, M_SKMSG, M_ZC_GATE, false);
		struct result *last = res[o.rounds - 1];
		double share[2], per_run[2];

		/* the gate's own CPU time against the sender's, per mode */
		for (int k = 0; k < 2; k++) {
			double v[20], w[20];
			enum mode m = k ? M_SEND_GATE : M_ZC_GATE;

			for (int i = 0; i < o.rounds; i++) {
				v[i] = res[i][m].cpu > 0 ?
					       res[i][m].gate_ns / 1e9 / res[i][m].cpu :
					       0;
				w[i] = res[i][m].gate_runs > 0 ?
					       res[i][m].gate_ns / res[i][m].gate_runs :
					       0;
			}
			share[k] = bench_median(v, (size_t)o.rounds);
			per_run[k] = bench_median(w, (size_t)o.rounds);
		}

		if (o.json) {
			printf("{\"rounds\": %d, \"seconds\": %.1f, \"modes\": [", o.rounds,
			       o.seconds);
			for (int m = 0; m < M_N; m++)
				printf("%s{\"mode\": \"%s\", \"mb_per_s\": %.1f, \"mb_per_s_min\": %.1f, \"mb_per_s_max\": %.1f, "
				       "\"mb_per_cpu_s\": %.1f, \"mb_per_cpu_s_min\": %.1f, \"mb_per_cpu_s_max\": %.1f, "
				       "\"zc_sends\": %lld, \"zc_copied\": %lld, \"zc_refused\": %lld}",
				       m ? ", " : "", mode_name[m],
				       med(res, o.rounds, (enum mode)m, false) / 1e6,
				       edge(res, o.rounds, (enum mode)m, false, false) / 1e6,
				       edge(res, o.rounds, (enum mode)m, false, true) / 1e6,
				       med(res, o.rounds, (enum mode)m, true) / 1e6,
				       edge(res, o.rounds, (enum mode)m, true, false) / 1e6,
				       edge(res, o.rounds, (enum mode)m, true, true) / 1e6,
				       last[m].zc, last[m].zc_copied, last[m].zc_refused);
			printf("], \"gate_throughput_ratio_zc\": %.3f, \"gate_throughput_ratio_send\": %.3f, "
			       "\"gate_cpu_ratio_zc\": %.3f, \"gate_cpu_ratio_send\": %.3f, \"skmsg_vs_gate_zc\": %.3f, "
			       "\"gate_share_of_sender_cpu_zc\": %.4f, \"gate_share_of_sender_cpu_send\": %.4f, \"gate_ns_per_packet\": %.0f, \"ok\": %s}\n",
			       t_zc, t_s, c_zc, c_s, t_sk, share[0], share[1],
			       per_run[0], bad ? "false" : "true");
		} else {
			printf("medians of %d rounds; zero-copy counts from the last round\n",
			       o.rounds);
			printf("%-18s %9s %11s %9s %9s %9s\n", "", "MB/s",
			       "MB/CPU-s", "zc sends", "copied", "refused");
			for (int m = 0; m < M_N; m++)
				/* copied: of the zero-copy sends the kernel took */
				printf("%-18s %9.1f %11.1f %9lld %9lld %9lld\n",
				       mode_name[m],
				       med(res, o.rounds, (enum mode)m, false) / 1e6,
				       med(res, o.rounds, (enum mode)m, true) / 1e6,
				       last[m].zc, last[m].zc ? last[m].zc_copied : 0,
				       last[m].zc_refused);
			printf("\nmedians of each round's ratio:\n");
			printf("the gate, SEND_ZC: %.3fx the throughput, %.3fx the bytes per CPU-second (target: over 0.95x)\n",
			       t_zc, c_zc);
			printf("the gate, SEND:    %.3fx the throughput, %.3fx the bytes per CPU-second\n",
			       t_s, c_s);
			printf("the gate's own time (BPF statistics): %.2f%% of the sender's CPU with SEND_ZC, %.2f%% with SEND; %.0f / %.0f ns a packet\n",
			       share[0] * 100, share[1] * 100, per_run[0],
			       per_run[1]);
			printf("sk_msg instead:    %.3fx the gate's throughput with SEND_ZC (which it refused %lld times in its last run)\n",
			       t_sk, last[M_SKMSG].zc_refused);
			printf("On loopback the kernel copies zero-copy sends on delivery (copied);\n"
			       "the NIC-level gain of SEND_ZC shows only on real hardware.\n");
		}
	}
	if (getenv("MOAT_BENCH_KEEP")) /* to look at: moatctl policy log */
		fprintf(stderr, "kept the policy of %s/moat.conf\n", dir);
	else
		policy_teardown(&cfg, why, sizeof(why));
	snprintf(why, sizeof(why), "rm -rf '%s'", dir);
	if (!getenv("MOAT_BENCH_KEEP") && system(why))
		bad++;
	if (stats >= 0)
		close(stats);
	free(recs.off);
	free(recs.size);
	if (recs.memfd > 0)
		close(recs.memfd);
	free(clip);
	return bad ? 1 : 0;
}
