// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-bench relay: one hub fanning a live 1080p30 stream out through the
 * real moat-relay to 1, 10, 100, 1000 viewers on loopback. The hub's
 * records are really sealed (the clip's access units, one stream a second)
 * before the clock starts; the hub sends each second's records at 30 fps
 * over a logged-in connection, the viewers log in (16 login keys, as a hub
 * approves at most 16 viewers; many connections share one) and ask for
 * LIVE. Measured: the relay's CPU (its /proc times over the run), its peak
 * memory, and the latency each record adds from the hub's send to a
 * viewer's receipt, p50 and p99, against the same records sent straight
 * from hub to one reader over loopback in the same run (the baseline).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "capture/annexb.h"
#include "common/fileio.h"
#include "common/wire.h"
#include "crypto/frame.h"
#include "crypto/hpke.h"
#include "crypto/login.h"
#include "crypto/stream.h"
#include "tools/bench/bench.h"

enum {
	FPS = 30,
	KEYS = 16,	    /* viewer login keys: the most a hub approves */
	MAX_VIEWERS = 1900, /* the relay serves 2048 connections */
};

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the sealed records ---- */

struct rec {
	uint8_t *p;
	size_t len;
	int frame;     /* frame it is sent with (0-based) */
	double sent;   /* when the hub sent it */
};

struct recs {
	struct rec *r;
	size_t n, cap;
	uint8_t (*ids)[16]; /* each stream's id, in order */
	size_t n_streams;
	int frames;
	uint64_t bytes;
};

static int add(struct recs *rs, const uint8_t *p, size_t len, int frame)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? 2 * rs->cap : 1024;
		struct rec *r = realloc(rs->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		rs->r = r;
		rs->cap = cap;
	}
	rs->r[rs->n] = (struct rec){ .p = malloc(len), .len = len,
				     .frame = frame };
	if (!rs->r[rs->n].p)
		return -ENOMEM;
	memcpy(rs->r[rs->n].p, p, len);
	rs->n++;
	rs->bytes += len;
	return 0;
}

/* secs seconds of the clip at 30 fps, sealed, one stream a second. */
static int seal_all(const uint8_t *clip, size_t clip_len, int secs,
		    struct recs *rs)
{
	struct seal_hub_key hub;
	struct seal_recipient r;
	struct annexb a;
	struct annexb_au au;
	struct seal_stream *s = NULL;
	uint8_t *buf = malloc(REC_BODY_MAX + 2 * REC_HDR_LEN);
	size_t hl;
	int ret = 0;

	memset(&r, 0, sizeof(r));
	if (!buf || hpke_generate_keypair(hub.sk, hub.pk) ||
	    hpke_generate_keypair(buf, r.pk) ||
	    RAND_bytes(r.viewer_id, sizeof(r.viewer_id)) != 1 ||
	    RAND_bytes(r.psk, sizeof(r.psk)) != 1) {
		free(buf);
		return -EIO;
	}
	rs->frames = secs * FPS;
	rs->ids = calloc((size_t)secs + 1, 16);
	annexb_init(&a, clip, clip_len);
	for (int f = 0; !ret && f < rs->frames; f++) {
		struct frame_hdr fh = { .kind = FRAME_KIND_AU, .ts_us = (uint64_t)f * 33333 };

		if (annexb_next_au(&a, &au) != 1) { /* the clip loops */
			annexb_init(&a, clip, clip_len);
			if (annexb_next_au(&a, &au) != 1) {
				ret = -EINVAL;
				break;
			}
		}
		if (f % FPS == 0) {
			s = seal_stream_new(SEAL_SUITE_AES256GCM);
			ret = s ? seal_stream_header(s, &hub, &r, 1, buf,
						     REC_BODY_MAX, &hl) :
				  -ENOMEM;
			if (!ret) {
				memcpy(rs->ids[rs->n_streams++],
				       seal_stream_id(s), 16);
				ret = add(rs, buf, hl, f);
			}
		}
		if (ret || au.len + FRAME_HDR_LEN > REC_BODY_MAX - REC_TAG_LEN)
			break;
		frame_hdr_put(buf + REC_HDR_LEN, &fh);
		memcpy(buf + REC_HDR_LEN + FRAME_HDR_LEN, au.p, au.len);
		ret = seal_record_inplace(s, buf, FRAME_HDR_LEN + au.len,
					  f % FPS == FPS - 1);
		if (!ret)
			ret = add(rs, buf,
				  REC_HDR_LEN + FRAME_HDR_LEN + au.len +
					  REC_TAG_LEN,
				  f);
		if (f % FPS == FPS - 1) {
			seal_stream_free(s);
			s = NULL;
		}
	}
	seal_stream_free(s);
	free(buf);
	return ret;
}

static long rec_index(const struct recs *rs, const uint8_t *id,
		      uint64_t counter)
{
	/* streams in order, each a header then FPS records */
	for (size_t k = 0; k < rs->n_streams; k++)
		if (!memcmp(rs->ids[k], id, 16))
			return (long)(k * (FPS + 1) + counter);
	return -1;
}

/* ---- connections ---- */

static int dial(unsigned int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int read_exact(int fd, uint8_t *p, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t k = recv(fd, p + got, n - got, 0);

		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

/* HELLO, CHALLENGE, AUTH; a hub also VIEWERS. The connection, or -1. */
static int login(unsigned int port, int role, const uint8_t *acct,
		 const struct login_key *k, const struct login_key *viewers)
{
	uint8_t h[WIRE_HDR_LEN + 32], auth[LOGIN_AUTH_LEN],
		keys[KEYS * LOGIN_KEY_LEN];
	int fd = dial(port);

	if (fd < 0 || wire_send_ctl(fd, WIRE_HELLO, acct, (uint64_t)role, NULL, 0) ||
	    read_exact(fd, h, sizeof(h)) || h[1] != WIRE_CHALLENGE ||
	    login_sign(k, (uint8_t)role, acct, h + WIRE_HDR_LEN, auth) ||
	    wire_send_ctl(fd, WIRE_AUTH, acct, 0, auth, sizeof(auth)))
		goto fail;
	if (role == WIRE_ROLE_HUB) {
		for (int i = 0; i < KEYS; i++)
			memcpy(keys + i * LOGIN_KEY_LEN, viewers[i].pk,
			       LOGIN_KEY_LEN);
		if (wire_send_ctl(fd, WIRE_VIEWERS, NULL, KEYS, keys,
				  sizeof(keys)))
			goto fail;
	} else if (wire_send_ctl(fd, WIRE_LIVE, acct, 0, NULL, 0)) {
		goto fail;
	}
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	return -1;
}

/* ---- the receivers: one thread, epoll over every viewer ---- */

struct viewer {
	int fd;
	struct wire_rx rx;
	bool closed;
	long first; /* the first stream it got (its connection warming up) */
};

struct samples {
	double *v;
	size_t n, cap;
};

struct recv_state {
	struct recs *rs;
	struct viewer *v;
	int n;
	struct samples lat;   /* seconds, after each viewer's first stream */
	struct samples first; /* seconds, in each viewer's first stream */
	uint64_t bytes, records;
	int closed;
	volatile int stop;
};

static void sample(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1 << 16;
		double *p = realloc(s->v, cap * sizeof(*p));

		if (!p)
			return;
		s->v = p;
		s->cap = cap;
	}
	s->v[s->n++] = x;
}

static void on_bytes(struct recv_state *st, struct viewer *v, double now)
{
	struct wire_hdr h;
	const uint8_t *f;
	int ret;

	while ((ret = wire_rx_next(&v->rx, &h, &f)) == 1) {
		long i;

		if (!wire_is_record(h.type))
			continue;
		st->records++;
		st->bytes += WIRE_HDR_LEN + h.body_len;
		i = rec_index(st->rs, h.id, h.value);
		if (i < 0 || (size_t)i >= st->rs->n || !st->rs->r[i].sent)
			continue;
		/* a new connection's first stream waits on TCP growing its
		 * windows (the first keyframe outgrows them): kept apart */
		if (v->first < 0)
			v->first = i / (FPS + 1);
		sample(i / (FPS + 1) == v->first ? &st->first : &st->lat,
		       now - st->rs->r[i].sent);
	}
}

static void *receiver(void *arg)
{
	struct recv_state *st = arg;
	struct epoll_event ev[64];
	int ep = epoll_create1(EPOLL_CLOEXEC);

	for (int i = 0; i < st->n; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };

		epoll_ctl(ep, EPOLL_CTL_ADD, st->v[i].fd, &e);
	}
	while (!st->stop) {
		int n = epoll_wait(ep, ev, 64, 100);
		double now = mono();

		for (int k = 0; k < n; k++) {
			struct viewer *v = &st->v[ev[k].data.u32];
			size_t room;
			uint8_t *dst = wire_rx_space(&v->rx, &room);
			ssize_t got = room ? recv(v->fd, dst, room, MSG_DONTWAIT) : -1;

			if (got > 0) {
				wire_rx_added(&v->rx, (size_t)got);
				on_bytes(st, v, now);
			} else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				epoll_ctl(ep, EPOLL_CTL_DEL, v->fd, NULL);
				if (!v->closed)
					st->closed++;
				v->closed = true;
			}
		}
	}
	close(ep);
	return NULL;
}

/* ---- the relay process ---- */

static pid_t start_relay(const char *dir, unsigned int *port)
{
	char self[PATH_MAX], bin[PATH_MAX + 16], addr[64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	pid_t pid;

	if (n <= 0)
		return -1;
	self[n] = 0;
	*strrchr(self, '/') = 0;
	snprintf(bin, sizeof(bin), "%s/moat-relay", self);
	{
		/* a port nobody listens on now: the kernel's pick */
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
		socklen_t sl = sizeof(sa);
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
		    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		*port = ntohs(sa.sin_port);
		close(fd);
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", *port);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(bin, bin, "--dir", dir, "--listen", addr, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; pid > 0 && i < 100; i++) {
		int fd = dial(*port);

		if (fd >= 0) {
			close(fd);
			return pid;
		}
		usleep(20000);
	}
	return -1;
}


/* A line of /proc/PID/status in KiB (VmRSS:, VmHWM:), or -1. */
static long proc_kib(pid_t pid, const char *field)
{
	char path[64], line[256];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtol(line + strlen(field), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* ---- one run ---- */

struct result {
	int viewers;
	double cpu;	/* relay CPU, fraction of one core */
	long rss_kib, hwm_kib;
	double p50, p99; /* seconds, after each viewer's first stream */
	double first99;	 /* seconds, p99 in each viewer's first stream */
	double delivered; /* of the bytes due to the viewers */
	int cut;
	int failed; /* viewers that could not log in */
};

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double pct(struct samples *s, double p)
{
	if (!s->n)
		return -1;
	qsort(s->v, s->n, sizeof(double), cmp_d);
	return s->v[(size_t)(p * (double)(s->n - 1))];
}

static void results(struct recv_state *st, struct result *out)
{
	out->p50 = pct(&st->lat, 0.5);
	out->p99 = pct(&st->lat, 0.99);
	out->first99 = pct(&st->first, 0.99);
	free(st->lat.v);
	free(st->first.v);
}

/* The hub's sends, frame by frame at 30 fps, to fd. */
static void hub_send(struct recs *rs, int fd)
{
	double t0 = mono();
	size_t i = 0;

	for (int f = 0; f < rs->frames; f++) {
		double due = t0 + (double)f / FPS, now = mono();

		if (due > now)
			usleep((useconds_t)((due - now) * 1e6));
		for (; i < rs->n && rs->r[i].frame == f; i++) {
			rs->r[i].sent = mono();
			if (wire_write_all(fd, rs->r[i].p, rs->r[i].len))
				return;
		}
	}
}

/* Hub straight to one reader, no relay: the baseline. */
static int run_direct(struct recs *rs, struct result *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), hub, one = 1;
	struct recv_state st = { .rs = rs, .n = 1 };
	struct viewer v = { .fd = -1, .first = -1 };
	pthread_t th;

	memset(out, 0, sizeof(*out));
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(lfd, 4) || getsockname(lfd, (struct sockaddr *)&sa, &sl))
		return -1;
	hub = dial(ntohs(sa.sin_port));
	v.fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	close(lfd);
	if (hub < 0 || v.fd < 0 || wire_rx_init(&v.rx, REC_BODY_MAX + WIRE_HDR_LEN))
		return -1;
	setsockopt(v.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	for (size_t i = 0; i < rs->n; i++)
		rs->r[i].sent = 0;
	st.v = &v;
	pthread_create(&th, NULL, receiver, &st);
	hub_send(rs, hub);
	usleep(300000);
	st.stop = 1;
	pthread_join(th, NULL);
	results(&st, out);
	out->delivered = (double)st.bytes / (double)rs->bytes;
	close(hub);
	close(v.fd);
	wire_rx_free(&v.rx);
	return 0;
}

static int run(struct recs *rs, int n, struct result *out)
{
	char dir[] = "/tmp/moat-bench-relay.XXXXXX", cmd[128];
	struct login_key hubk, keys[KEYS];
	uint8_t acct[16];
	struct recv_state st = { .rs = rs, .n = n };
	unsigned int port;
	pthread_t th;
	double c0, c1;
	pid_t relay;
	int hub;

	memset(out, 0, sizeof(*out));
	out->viewers = n;
	if (!mkdtemp(dir))
		return -1;
	relay = start_relay(dir, &port);
	if (relay < 0)
		return -1;
	login_keygen(&hubk);
	for (int i = 0; i < KEYS; i++)
		login_keygen(&keys[i]);
	login_account(hubk.pk, acct);
	hub = login(port, WIRE_ROLE_HUB, acct, &hubk, keys);
	usleep(100000); /* the relay saves the viewers */
	st.v = calloc((size_t)n, sizeof(*st.v));
	for (int i = 0; i < n; i++) {
		st.v[i].first = -1;
		st.v[i].fd = login(port, WIRE_ROLE_VIEWER, acct,
				   &keys[i % KEYS], NULL);
		if (st.v[i].fd < 0 ||
		    wire_rx_init(&st.v[i].rx, REC_BODY_MAX + WIRE_HDR_LEN)) {
			out->failed++;
			st.v[i].closed = true;
			continue;
		}
	}
	usleep(300000); /* the relay takes every LIVE before the first record */
	for (size_t i = 0; i < rs->n; i++)
		rs->r[i].sent = 0;
	pthread_create(&th, NULL, receiver, &st);
	c0 = bench_proc_cpu(relay);
	{
		double t0 = mono();

		hub_send(rs, hub);
		usleep(300000);
		c1 = bench_proc_cpu(relay);
		out->cpu = (c1 - c0) / (mono() - t0);
	}
	st.stop = 1;
	pthread_join(th, NULL);
	out->rss_kib = proc_kib(relay, "VmRSS:");
	out->hwm_kib = proc_kib(relay, "VmHWM:");
	results(&st, out);
	out->cut = st.closed;
	/* every viewer is due everything but the first stream's records
	 * sent before its LIVE (none: all log in first) */
	out->delivered = n - out->failed > 0 ?
				 (double)st.bytes /
					 ((double)rs->bytes * (n - out->failed)) :
				 0;
	kill(relay, SIGTERM);
	waitpid(relay, NULL, 0);
	if (hub >= 0)
		close(hub);
	for (int i = 0; i < n; i++) {
		if (st.v[i].fd >= 0)
			close(st.v[i].fd);
		wire_rx_free(&st.v[i].rx);
	}
	free(st.v);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		fprintf(stderr, "moat-bench relay: could not remove %s\n", dir);
	return 0;
}

static const char usage[] =
	"Usage: moat-bench relay [--viewers 1,10,100,1000] [--seconds 6]\n"
	"                        [--clip FILE] [--json]\n"
	"\n"
	"One hub fanning a live 1080p30 stream out through moat-relay to each\n"
	"number of viewers on loopback. The clip's access units are sealed\n"
	"(one stream a second) before the clock starts; the hub sends them at\n"
	"30 fps; every viewer logs in and asks for LIVE. Per number of\n"
	"viewers: the relay's CPU (share of one core, from /proc), its memory\n"
	"(resident and peak), the latency from the hub's send to a viewer's\n"
	"receipt (p50, p99), the share of the bytes due that arrived, and the\n"
	"viewers the relay cut off as too slow. Latency is given apart for\n"
	"each viewer's first stream (a new connection's first keyframe waits\n"
	"for TCP to grow its windows). The baseline, in the same run:\n"
	"the same records sent straight to one reader, no relay.\n"
	"Target: 100 viewers under one core and p99 under 10 ms.\n";

int bench_relay(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "viewers", required_argument, NULL, 'v' },
		{ "seconds", required_argument, NULL, 's' },
		{ "clip", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *list = "1,10,100,1000", *clip_path = "build/media/bench-1080p.h264";
	struct bench_machine m;
	struct recs rs = { 0 };
	struct result base, res[16];
	int secs = 6, nres = 0, c;
	bool json = false;
	uint8_t *clip;
	size_t clip_len;
	struct rlimit nf;

	while ((c = getopt_long(argc, argv, "v:s:c:jh", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			list = optarg;
			break;
		case 's':
			secs = atoi(optarg);
			if (secs < 2 || secs > 60) {
				fprintf(stderr, "moat-bench relay: --seconds %s: give 2 to 60\n",
					optarg);
				return 2;
			}
			break;
		case 'c':
			clip_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (!getrlimit(RLIMIT_NOFILE, &nf) && nf.rlim_cur < nf.rlim_max) {
		nf.rlim_cur = nf.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nf);
	}
	signal(SIGPIPE, SIG_IGN);
	if (bench_make_clip(clip_path)) {
		fprintf(stderr, "moat-bench relay: cannot make or read %s\n",
			clip_path);
		return 1;
	}
	if (file_read_bounded(clip_path, 1 << 30, &clip, &clip_len)) {
		fprintf(stderr, "moat-bench relay: cannot read %s\n", clip_path);
		return 1;
	}
	if (seal_all(clip, clip_len, secs, &rs)) {
		fprintf(stderr, "moat-bench relay: sealing the clip failed\n");
		return 1;
	}
	bench_machine(&m);
	if (!json) {
		bench_machine_print(stdout, &m);
		printf("a hub sending %d s of 1080p30 (%.1f Mb/s sealed, %zu records) to moat-relay, live\n\n",
		       secs, (double)rs.bytes * 8 / secs / 1e6, rs.n);
	}
	if (run_direct(&rs, &base)) {
		fprintf(stderr, "moat-bench relay: the baseline could not run\n");
		return 1;
	}
	if (!json)
		printf("%-22s %9s %9s %9s %9s %9s %11s %9s %4s\n", "",
		       "relay CPU", "RSS", "peak RSS", "p50", "p99",
		       "1st str p99", "delivered", "cut");
	if (!json)
		printf("%-22s %9s %9s %9s %7.2fms %7.2fms %9.2fms %8.1f%% %4s\n",
		       "no relay, one reader", "-", "-", "-", base.p50 * 1e3,
		       base.p99 * 1e3, base.first99 * 1e3,
		       base.delivered * 100, "-");
	for (const char *p = list; *p && nres < 16;) {
		char *end;
		long n = strtol(p, &end, 10);
		char label[64];

		if (end == p || n < 1 || n > MAX_VIEWERS) {
			fprintf(stderr, "moat-bench relay: --viewers %s: numbers from 1 to %d, comma-separated\n",
				list, MAX_VIEWERS);
			return 2;
		}
		p = *end == ',' ? end + 1 : end;
		if (run(&rs, (int)n, &res[nres])) {
			fprintf(stderr, "moat-bench relay: the run with %ld viewers failed\n",
				n);
			return 1;
		}
		snprintf(label, sizeof(label), "%ld viewer%s", n, n > 1 ? "s" : "");
		if (!json)
			printf("%-22s %8.1f%% %6.1f MB %6.1f MB %7.2fms %7.2fms %9.2fms %8.1f%% %4d\n",
			       label, res[nres].cpu * 100,
			       (double)res[nres].rss_kib / 1024,
			       (double)res[nres].hwm_kib / 1024,
			       res[nres].p50 * 1e3, res[nres].p99 * 1e3,
			       res[nres].first99 * 1e3,
			       res[nres].delivered * 100, res[nres].cut);
		fflush(stdout);
		nres++;
	}
	if (json) {
		printf("{\"machine\": ");
		bench_machine_json(stdout, &m);
		printf(", \"seconds\": %d, \"baseline\": {\"p50_ms\": %.3f, \"p99_ms\": %.3f}, \"runs\": [",
		       secs, base.p50 * 1e3, base.p99 * 1e3);
		for (int i = 0; i < nres; i++)
			printf("%s{\"viewers\": %d, \"relay_cpu\": %.4f, \"rss_kib\": %ld, \"peak_rss_kib\": %ld, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"first_stream_p99_ms\": %.3f, \"delivered\": %.4f, \"cut\": %d, \"login_failed\": %d}",
			       i ? ", " : "", res[i].viewers, res[i].cpu,
			       res[i].rss_kib, res[i].hwm_kib,
			       res[i].p50 * 1e3, res[i].p99 * 1e3,
			       res[i].first99 * 1e3, res[i].delivered,
			       res[i].cut, res[i].failed);
		printf("]}\n");
	} else {
		for (int i = 0; i < nres; i++)
			if (res[i].viewers == 100)
				printf("\n100 viewers: %.2f of a core (target under 1), p99 %.2f ms after the first stream (target under 10 ms; %.1fx the baseline's p99), %.2f ms in it\n",
				       res[i].cpu, res[i].p99 * 1e3,
				       base.p99 > 0 ? res[i].p99 / base.p99 : 0,
				       res[i].first99 * 1e3);
	}
	for (size_t i = 0; i < rs.n; i++)
		free(rs.r[i].p);
	free(rs.r);
	free(rs.ids);
	free(clip);
	return 0;
}
