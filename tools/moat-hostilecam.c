// SPDX-License-Identifier: GPL-2.0-only
/*
 * moat-hostilecam: a misbehaving IP camera for tests. A small RTSP server
 * of our own (RFC 2326; RTP over TCP interleaved, H.264 per RFC 6184)
 * serves an Annex-B file, and the URL path picks how it misbehaves:
 * rtsp://HOST:PORT/MODE. One process, a child per connection; each mode
 * is deterministic (a fixed PRNG seed per connection), so a failure seen
 * once is seen again.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/annexb.h"

enum {
	CLIP_MAX = 256 << 20, /* largest input file */
	IN_MAX = 16 << 10,    /* a request (head and body) from a client */
	MTU = 1400,	      /* most RTP payload per packet */
	PKT_MAX = 4 + 12 + MTU + 64,
	IDLE_MS = 30000,     /* a client silent this long before PLAY goes */
	SEND_TIMEOUT_S = 20, /* a client that stops reading goes */
	MAX_CLIENTS = 256,
	HUGE_FRAME = 12 << 20, /* huge-frame: one access unit this big */
	BIG_FRAME = 3 << 20,   /* big-frame: a 4K keyframe, under moatd's 4 MiB */
	HUGE_SDP = 4 << 20,    /* huge-sdp: an SDP this big */
	PT_H264 = 96,
};

/* NAL types beyond capture/annexb.h's: RTP packetisation (RFC 6184) */
enum {
	NAL_FILLER = 12,
	NAL_STAP_A = 24,
	NAL_FU_A = 28,
};

struct nal {
	const uint8_t *p;
	uint32_t len;
};

struct au {
	uint32_t first, n; /* NAL units clip.nal[first .. first + n) */
};

struct clip {
	uint8_t *buf;
	size_t len;
	struct nal *nal;
	size_t n_nal;
	struct au *au;
	size_t n_au;
	const struct nal *sps, *pps;
	size_t sps_i, pps_i; /* 1 + their index in nal[], 0: none yet */
};

struct conn;

/* How a mode misbehaves: its DESCRIBE answer (NULL: a correct one), how
 * it sends each access unit after PLAY (NULL: it sends nothing and holds
 * the connection), and flags. */
struct mode {
	const char *name;
	const char *help;
	int (*describe)(struct conn *c, int cseq);
	int (*step)(struct conn *c, const struct au *au);
	unsigned int flags;
};

enum {
	M_SLOW_REPLIES = 1U << 0, /* every RTSP reply one byte per second */
	M_DRIP = 1U << 1,	  /* after PLAY, a few bytes every 500 ms */
	M_NOT_H264 = 1U << 2,	  /* the SDP offers MPEG-4 Part 2 video */
};

/* Where a NAL unit is damaged on its way out (all zero: not at all). */
struct fault {
	uint32_t cut;  /* send only this many bytes of it */
	uint32_t frag; /* FU-A fragments of at most this many bytes */
	uint32_t stop; /* stop after this many packets (returns 1) */
	bool no_end;   /* leave out the FU-A end fragment */
};

struct conn {
	int fd;
	const struct clip *clip;
	const struct mode *mode;
	unsigned int fps;
	char peer[64];
	uint8_t in[IN_MAX];
	size_t in_len;
	uint8_t pkt[PKT_MAX];
	uint64_t rng;
	uint32_t ssrc, session;
	uint16_t seq;
	uint8_t ch; /* interleaved channel of RTP (from SETUP) */
	bool playing;
	size_t next_au;	 /* index into the clip, modulo its length */
	uint64_t frames; /* access units sent since PLAY */
	uint64_t bytes;	 /* bytes written in all */
	uint64_t t_play_ns, due_ns, media_ns;
	unsigned int speed; /* 1, or 10 while bursting */
	int lie;	    /* next interleaved header's length lie */
	unsigned int requests, responses, setups;
	char did[256]; /* what this connection saw and did */
};

static volatile sig_atomic_t stopping;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: deterministic, seeded per connection from the mode. */
static uint32_t rnd(struct conn *c)
{
	c->rng ^= c->rng >> 12;
	c->rng ^= c->rng << 25;
	c->rng ^= c->rng >> 27;
	return (uint32_t)((c->rng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void __attribute__((format(printf, 2, 3)))
note(struct conn *c, const char *fmt, ...)
{
	size_t n = strlen(c->did);
	va_list ap;

	if (n + 3 >= sizeof(c->did))
		return;
	if (n) {
		strcpy(c->did + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(c->did + n, sizeof(c->did) - n, fmt, ap);
	va_end(ap);
}

/* ---- the clip ---- */

static int add_nal(struct clip *cl, const uint8_t *p, size_t len)
{
	struct nal *n;

	while (len && !p[len - 1]) /* a 4-byte start code's zero */
		len--;
	if (!len)
		return 0;
	n = realloc(cl->nal, (cl->n_nal + 1) * sizeof(*n));
	if (!n)
		return -ENOMEM;
	cl->nal = n;
	cl->nal[cl->n_nal++] = (struct nal){ p, (uint32_t)len };
	if ((p[0] & 0x1f) == NAL_SPS && !cl->sps_i)
		cl->sps_i = cl->n_nal;
	if ((p[0] & 0x1f) == NAL_PPS && !cl->pps_i)
		cl->pps_i = cl->n_nal;
	return 0;
}

/* The NAL units of one access unit. */
static int split_nals(struct clip *cl, const uint8_t *b, size_t len)
{
	size_t start = SIZE_MAX;

	for (size_t i = 0; i + 3 <= len; i++) {
		if (b[i] || b[i + 1] || b[i + 2] != 1)
			continue;
		if (start != SIZE_MAX && add_nal(cl, b + start, i - start))
			return -ENOMEM;
		i += 2;
		start = i + 1;
	}
	if (start != SIZE_MAX && start < len &&
	    add_nal(cl, b + start, len - start))
		return -ENOMEM;
	return 0;
}

/* Access units as moat's own Annex-B splitter finds them. */
static int group_aus(struct clip *cl)
{
	struct annexb a;
	struct annexb_au au;

	annexb_init(&a, cl->buf, cl->len);
	while (annexb_next_au(&a, &au) == 1) {
		struct au *x = realloc(cl->au, (cl->n_au + 1) * sizeof(*x));
		uint32_t first = (uint32_t)cl->n_nal;

		if (!x)
			return -ENOMEM;
		cl->au = x;
		if (split_nals(cl, au.p, au.len))
			return -ENOMEM;
		if (cl->n_nal > first)
			cl->au[cl->n_au++] = (struct au){
				first, (uint32_t)(cl->n_nal - first)
			};
	}
	/* indexes, not pointers, until nal[] stops moving */
	cl->sps = cl->sps_i ? &cl->nal[cl->sps_i - 1] : NULL;
	cl->pps = cl->pps_i ? &cl->nal[cl->pps_i - 1] : NULL;
	return 0;
}

static int clip_load(const char *path, struct clip *cl)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	memset(cl, 0, sizeof(*cl));
	if (!f || fstat(fileno(f), &st) || st.st_size <= 0 ||
	    st.st_size > CLIP_MAX) {
		fprintf(stderr, "moat-hostilecam: %s: %s\n", path,
			f ? "empty, unreadable or over 256 MiB" :
			    strerror(errno));
		if (f)
			fclose(f);
		return -EINVAL;
	}
	cl->len = (size_t)st.st_size;
	cl->buf = malloc(cl->len);
	if (!cl->buf || fread(cl->buf, 1, cl->len, f) != cl->len) {
		fclose(f);
		fprintf(stderr, "moat-hostilecam: %s: cannot read it\n", path);
		return -EIO;
	}
	fclose(f);
	if (group_aus(cl))
		return -ENOMEM;
	if (!cl->sps || !cl->pps || !cl->n_au) {
		fprintf(stderr,
			"moat-hostilecam: %s: not Annex-B H.264 with an SPS and a PPS\n",
			path);
		return -EINVAL;
	}
	return 0;
}

static void clip_free(struct clip *cl)
{
	free(cl->au);
	free(cl->nal);
	free(cl->buf);
	memset(cl, 0, sizeof(*cl));
}

/* ---- output: every byte to the client goes through out_bytes() ---- */

static int pump(struct conn *c, int ms);

static int write_all(struct conn *c, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n) {
		ssize_t w = write(c->fd, b, n);

		if (w < 0 && errno == EINTR && !stopping)
			continue;
		if (w == 0)
			return -EPIPE;
		if (w < 0)
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		b += w;
		n -= (size_t)w;
		c->bytes += (uint64_t)w;
	}
	return 0;
}

/* In driblets: step bytes, then every_ms of waiting, until all is out. */
static int dribble(struct conn *c, const void *p, size_t n, size_t step,
		   int every_ms)
{
	const uint8_t *b = p;
	int ret = 0;

	while (!ret && n) {
		size_t k = n < step ? n : step;

		ret = write_all(c, b, k);
		b += k;
		n -= k;
		if (!ret)
			ret = pump(c, every_ms);
	}
	return ret;
}

static int out_bytes(struct conn *c, const void *p, size_t n)
{
	if (c->playing && (c->mode->flags & M_DRIP))
		return dribble(c, p, n, 8, 500);
	return write_all(c, p, n);
}

/* One interleaved frame ('$', channel, 16-bit length) of c->pkt + 4. */
static int out_frame(struct conn *c, size_t len)
{
	long claim = (long)len + c->lie;

	c->lie = 0;
	if (claim < 0)
		claim = 0;
	if (claim > 0xffff)
		claim = 0xffff;
	c->pkt[0] = '$';
	c->pkt[1] = c->ch;
	c->pkt[2] = (uint8_t)(claim >> 8);
	c->pkt[3] = (uint8_t)claim;
	return out_bytes(c, c->pkt, 4 + len);
}

static uint32_t rtp_ts(const struct conn *c)
{
	return (uint32_t)(c->media_ns * 9 / 100000) + c->ssrc;
}

/* An RTP packet of head (1-2 bytes) and body, framed and sent. */
static int out_rtp(struct conn *c, const uint8_t *head, size_t hlen,
		   const uint8_t *body, size_t blen, bool marker)
{
	uint8_t *r = c->pkt + 4;
	uint32_t ts = rtp_ts(c);

	r[0] = 0x80;
	r[1] = (uint8_t)((marker ? 0x80 : 0) | PT_H264);
	r[2] = (uint8_t)(c->seq >> 8);
	r[3] = (uint8_t)c->seq;
	c->seq++;
	for (int i = 0; i < 4; i++) {
		r[4 + i] = (uint8_t)(ts >> (24 - 8 * i));
		r[8 + i] = (uint8_t)(c->ssrc >> (24 - 8 * i));
	}
	memcpy(r + 12, head, hlen);
	memcpy(r + 12 + hlen, body, blen);
	return out_frame(c, 12 + hlen + blen);
}

/*
 * One NAL unit (RFC 6184): alone if it fits, else as FU-A fragments,
 * damaged as f says. 0 sent, 1 stopped on purpose (f->stop), -errno.
 */
static int send_nal(struct conn *c, const uint8_t *p, uint32_t len, bool last,
		    const struct fault *f)
{
	uint32_t frag = f->frag ? f->frag : MTU - 2, off = 1, packets = 0;
	uint8_t fu[2] = { (uint8_t)((p[0] & 0xe0) | NAL_FU_A), p[0] & 0x1f };
	int ret = 0;

	if (f->cut && f->cut < len)
		len = f->cut;
	if (len <= MTU && !f->frag)
		return out_rtp(c, p, 0, p, len, last);
	fu[1] |= 0x80; /* S */
	while (!ret && off < len) {
		uint32_t k = len - off < frag ? len - off : frag;
		bool end = off + k == len;

		if (end && f->no_end)
			break;
		if (f->stop && packets++ == f->stop)
			return 1;
		if (end)
			fu[1] |= 0x40; /* E */
		ret = out_rtp(c, fu, 2, p + off, k, last && end);
		fu[1] &= 0x7f;
		off += k;
	}
	return ret;
}

static const struct fault no_fault;

/* An access unit; fault (if any) applies to its NAL unit number which. */
static int send_au(struct conn *c, const struct au *au, uint32_t which,
		   const struct fault *fault)
{
	int ret = 0;

	for (uint32_t i = 0; !ret && i < au->n; i++) {
		const struct nal *n = &c->clip->nal[au->first + i];

		ret = send_nal(c, n->p, n->len, i + 1 == au->n,
			       fault && i == which ? fault : &no_fault);
	}
	return ret;
}

/* The NAL unit of an access unit with the most bytes (the picture). */
static uint32_t biggest(const struct conn *c, const struct au *au)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < au->n; i++)
		if (c->clip->nal[au->first + i].len >
		    c->clip->nal[au->first + best].len)
			best = i;
	return best;
}

static const struct nal *nal_of(const struct conn *c, const struct au *au,
				uint32_t i)
{
	return &c->clip->nal[au->first + i];
}

/* ---- input: requests, and interleaved frames (RTCP) to skip ---- */

/*
 * Reads what the client sends for ms (or, with early, until something
 * came); 0, or -ECONNRESET once the client went.
 */
static int pump_for(struct conn *c, int ms, bool early)
{
	uint64_t until = now_ns() + (uint64_t)ms * 1000000u;

	for (;;) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t now = now_ns();
		int left = now < until ? (int)((until - now) / 1000000u) : 0;
		ssize_t n;
		int ready;

		if (stopping)
			return -EINTR;
		ready = poll(&p, 1, left);

		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			return ready ? -errno : 0;
		if (c->in_len == sizeof(c->in))
			c->in_len = 0; /* neither a request nor a frame */
		n = read(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len);
		if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			return -ECONNRESET;
		if (n > 0)
			c->in_len += (size_t)n;
		if (!left || (early && n > 0))
			return 0;
	}
}

static int pump(struct conn *c, int ms)
{
	return pump_for(c, ms, false);
}

static void consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	c->in_len -= n;
}

struct req {
	char method[24];
	char url[512];
	int cseq;
	int ch; /* interleaved=ch-... in Transport, or -1 */
	bool tcp;
};

static void req_header(struct req *r, const char *line)
{
	const char *v = strchr(line, ':'), *il;

	if (!v)
		return;
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	if (!strncasecmp(line, "CSeq:", 5)) {
		r->cseq = atoi(v);
	} else if (!strncasecmp(line, "Transport:", 10)) {
		r->tcp = strstr(v, "RTP/AVP/TCP") != NULL;
		il = strstr(v, "interleaved=");
		r->ch = il ? atoi(il + 12) & 0xff : -1;
	}
}

/* Parses a request whose head ends at end; its body length in *body. */
static void req_parse(char *head, struct req *r, size_t *body)
{
	char *save = NULL, *line = strtok_r(head, "\r\n", &save);

	memset(r, 0, sizeof(*r));
	r->ch = -1;
	*body = 0;
	if (line)
		sscanf(line, "%23s %511s", r->method, r->url);
	while ((line = strtok_r(NULL, "\r\n", &save))) {
		if (!strncasecmp(line, "Content-Length:", 15))
			*body = strtoul(line + 15, NULL, 10);
		req_header(r, line);
	}
}

/*
 * The next thing in the input: 1 and a request in r, 2 an interleaved
 * frame skipped, 0 nothing whole yet.
 */
static int take(struct conn *c, struct req *r)
{
	char head[IN_MAX + 1];
	uint8_t *end;
	size_t hlen, body;

	if (c->in_len && c->in[0] == '$') {
		size_t len;

		if (c->in_len < 4)
			return 0;
		len = 4 + ((size_t)c->in[2] << 8 | c->in[3]);
		if (c->in_len < len)
			return 0;
		consume(c, len);
		return 2;
	}
	end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	hlen = (size_t)(end - c->in) + 4;
	memcpy(head, c->in, hlen);
	head[hlen] = 0;
	req_parse(head, r, &body);
	if (body > sizeof(c->in) - hlen)
		body = sizeof(c->in) - hlen; /* dropped when it comes */
	if (c->in_len < hlen + body)
		return 0;
	consume(c, hlen + body);
	return 1;
}

/* ---- RTSP replies ---- */

static int reply(struct conn *c, int code, const char *reason, int cseq,
		 const char *headers, const void *body, size_t blen)
{
	char head[2048];
	int n, ret;

	n = snprintf(
		head, sizeof(head),
		"RTSP/1.0 %d %s\r\nCSeq: %d\r\nServer: moat-hostilecam\r\n%s",
		code, reason, cseq, headers);
	if (blen)
		n += snprintf(head + n, sizeof(head) - (size_t)n,
			      "Content-Length: %zu\r\n", blen);
	n += snprintf(head + n, sizeof(head) - (size_t)n, "\r\n");
	if (c->mode && (c->mode->flags & M_SLOW_REPLIES))
		return dribble(c, head, (size_t)n, 1, 1000) ?:
			       dribble(c, body, blen, 1, 1000);
	ret = write_all(c, head, (size_t)n);
	if (!ret && blen)
		ret = write_all(c, body, blen);
	return ret;
}

struct buf {
	char *p;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !b->p)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		char *p = realloc(b->p, (b->len + (size_t)n + 1) * 2);

		if (!p) {
			free(b->p);
			b->p = NULL;
			return;
		}
		b->p = p;
		b->cap = (b->len + (size_t)n + 1) * 2;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void base64(struct buf *b, const uint8_t *p, size_t n)
{
	static const char a[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		size_t k = n - i < 3 ? n - i : 3;

		if (k > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (k > 2)
			v |= p[i + 2];
		buf_printf(b, "%c%c%c%c", a[v >> 18], a[(v >> 12) & 63],
			   k > 1 ? a[(v >> 6) & 63] : '=',
			   k > 2 ? a[v & 63] : '=');
	}
}

/* The session part and one video stream, as a correct camera says it. */
static void sdp_video(struct conn *c, struct buf *b, const char *codec)
{
	const struct nal *sps = c->clip->sps, *pps = c->clip->pps;

	buf_printf(b,
		   "v=0\r\no=- %u 1 IN IP4 0.0.0.0\r\ns=moat-hostilecam %s\r\n"
		   "c=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n"
		   "a=range:npt=0-\r\nm=video 0 RTP/AVP %d\r\n"
		   "a=rtpmap:%d %s/90000\r\n",
		   c->session, c->mode->name, PT_H264, PT_H264, codec);
	if (strcmp(codec, "H264")) {
		buf_printf(b, "a=control:trackID=0\r\n");
		return;
	}
	buf_printf(b, "a=fmtp:%d packetization-mode=1", PT_H264);
	if (sps->len >= 4)
		buf_printf(b, ";profile-level-id=%02X%02X%02X", sps->p[1],
			   sps->p[2], sps->p[3]);
	buf_printf(b, ";sprop-parameter-sets=");
	base64(b, sps->p, sps->len);
	buf_printf(b, ",");
	base64(b, pps->p, pps->len);
	buf_printf(b, "\r\na=control:trackID=0\r\n");
}

static int describe_sdp(struct conn *c, int cseq, const struct buf *b)
{
	if (!b->p)
		return -ENOMEM;
	return reply(c, 200, "OK", cseq, "Content-Type: application/sdp\r\n",
		     b->p, b->len);
}

static int describe_good(struct conn *c, int cseq)
{
	struct buf b = { .p = malloc(4096), .cap = 4096 };
	int ret;

	sdp_video(c, &b, c->mode->flags & M_NOT_H264 ? "MP4V-ES" : "H264");
	ret = describe_sdp(c, cseq, &b);
	free(b.p);
	return ret;
}

/* ---- the request handlers ---- */

static const struct mode *mode_find(const char *name, size_t len);

/* The mode named by the URL's first path segment (rtsp://h:p/MODE/..). */
static const struct mode *mode_of_url(const char *url)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		return NULL;
	p++;
	return mode_find(p, strcspn(p, "/?"));
}

static int on_setup(struct conn *c, const struct req *r)
{
	char h[256];

	if (!r->tcp) {
		note(c, "refused a SETUP without RTP/AVP/TCP");
		return reply(c, 461, "Unsupported Transport", r->cseq, "", NULL,
			     0);
	}
	/* RTP goes on the first stream's channel (huge-sdp has thousands) */
	if (r->ch >= 0 && (!c->setups++ || strstr(r->url, "/trackID=0")))
		c->ch = (uint8_t)r->ch;
	snprintf(
		h, sizeof(h),
		"Transport: RTP/AVP/TCP;unicast;interleaved=%u-%u;ssrc=%08X\r\n"
		"Session: %08X;timeout=60\r\n",
		c->ch, (c->ch + 1) & 0xff, c->ssrc, c->session);
	return reply(c, 200, "OK", r->cseq, h, NULL, 0);
}

static int on_play(struct conn *c, const struct req *r)
{
	char h[768];
	int ret;

	snprintf(h, sizeof(h),
		 "Session: %08X\r\nRange: npt=0.000-\r\n"
		 "RTP-Info: url=%.500s/trackID=0;seq=%u;rtptime=%u\r\n",
		 c->session, r->url, c->seq, rtp_ts(c));
	ret = reply(c, 200, "OK", r->cseq, h, NULL, 0);
	if (!ret && !c->playing) {
		c->playing = true;
		c->t_play_ns = c->due_ns = now_ns();
		note(c, "PLAY");
	}
	return ret;
}

static int on_describe(struct conn *c, const struct req *r)
{
	if (!c->mode) {
		note(c, "DESCRIBE of an unknown mode: %.60s", r->url);
		return reply(c, 404, "Not Found", r->cseq, "", NULL, 0);
	}
	note(c, "DESCRIBE");
	return (c->mode->describe ? c->mode->describe : describe_good)(c,
								       r->cseq);
}

/* Answers one request; 1 when the client tore the session down. */
static int dispatch(struct conn *c, const struct req *r)
{
	const char *m = r->method;

	if (!strncmp(m, "RTSP/", 5)) {
		c->responses++; /* the client answering what it took for a
				 * request of ours (garbage, in some modes) */
		return 0;
	}
	c->requests++;
	if (!c->mode)
		c->mode = mode_of_url(r->url);
	if (!strcmp(m, "OPTIONS"))
		return reply(
			c, 200, "OK", r->cseq,
			"Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n",
			NULL, 0);
	if (!strcmp(m, "DESCRIBE"))
		return on_describe(c, r);
	if (!c->mode)
		return reply(c, 404, "Not Found", r->cseq, "", NULL, 0);
	if (!strcmp(m, "SETUP"))
		return on_setup(c, r);
	if (!strcmp(m, "PLAY"))
		return on_play(c, r);
	if (!strcmp(m, "GET_PARAMETER"))
		return reply(c, 200, "OK", r->cseq, "", NULL, 0);
	if (!strcmp(m, "TEARDOWN")) {
		note(c, "TEARDOWN");
		return reply(c, 200, "OK", r->cseq, "", NULL, 0) ?: 1;
	}
	note(c, "answered %.20s with 501", m);
	return reply(c, 501, "Not Implemented", r->cseq, "", NULL, 0);
}

/* Answers every whole request waiting; 1 on TEARDOWN, -errno. */
static int handle_input(struct conn *c)
{
	struct req r;
	int got, ret = 0;

	while (!ret && (got = take(c, &r)))
		if (got == 1)
			ret = dispatch(c, &r);
	return ret;
}

/* Waits ms, answering the client meanwhile; 0, 1 (torn down), -errno. */
static int wait_ms(struct conn *c, int ms)
{
	int ret = pump(c, ms);

	return ret ? ret : handle_input(c);
}

/* Keeps the connection open, sending nothing, until the client goes. */
static int hold(struct conn *c, const char *what)
{
	uint64_t t0 = now_ns();
	int ret;

	while (!(ret = wait_ms(c, 1000)))
		;
	note(c, "%s, held %.1f s", what, (double)(now_ns() - t0) / 1e9);
	return ret;
}

/* ---- the modes' access units ---- */

static int step_good(struct conn *c, const struct au *au)
{
	return send_au(c, au, 0, NULL);
}

static int step_truncated(struct conn *c, const struct au *au)
{
	uint32_t i = biggest(c, au), len = nal_of(c, au, i)->len, r = rnd(c);
	struct fault f = { 0 };

	if (len < 8 || r % 3 == 0)
		return send_au(c, au, 0, NULL);
	if (r % 3 == 1) {
		/* fragments, the last of which never comes */
		f.frag = len / 3 + 1 < MTU - 2 ? len / 3 + 1 : MTU - 2;
		f.no_end = true;
	} else {
		f.cut = 2 + rnd(c) % (len - 2);
	}
	return send_au(c, au, i, &f);
}

/* A STAP-A whose second NAL size claims more than the packet holds. */
static int send_lying_stap(struct conn *c)
{
	const struct nal *sps = c->clip->sps, *pps = c->clip->pps;
	uint8_t b[MTU];
	size_t n = 0;

	if (sps->len + pps->len + 5 > sizeof(b))
		return 0;
	b[n++] = (uint8_t)((sps->p[0] & 0x60) | NAL_STAP_A);
	b[n++] = (uint8_t)(sps->len >> 8);
	b[n++] = (uint8_t)sps->len;
	memcpy(b + n, sps->p, sps->len);
	n += sps->len;
	b[n++] = (uint8_t)((pps->len + 3000) >> 8);
	b[n++] = (uint8_t)(pps->len + 3000);
	memcpy(b + n, pps->p, pps->len);
	n += pps->len;
	return out_rtp(c, b, 0, b, n, false);
}

static int step_lying(struct conn *c)
{
	uint32_t r = rnd(c);

	if (c->frames % 4 == 1)
		c->lie = (int)(1 + r % 3000); /* claims more */
	else if (c->frames % 4 == 3)
		c->lie = -(int)(1 + r % 8); /* claims less */
	return c->frames % 5 == 2 ? send_lying_stap(c) : 0;
}

static int step_lying_length(struct conn *c, const struct au *au)
{
	int ret = step_lying(c);

	return ret ? ret : send_au(c, au, 0, NULL);
}

static int step_desync(struct conn *c, const struct au *au)
{
	uint8_t junk[300];
	size_t n;

	if (c->frames < c->fps)
		return send_au(c, au, 0, NULL);
	if (c->frames == c->fps)
		note(c, "garbage between frames from frame %llu on",
		     (unsigned long long)c->frames);
	n = 1 + rnd(c) % sizeof(junk);
	for (size_t i = 0; i < n; i++)
		junk[i] = (uint8_t)rnd(c);
	if (junk[0] == '$')
		junk[0] = '#';
	return out_bytes(c, junk, n) ?: send_au(c, au, 0, NULL);
}

static int step_stall(struct conn *c, const struct au *au)
{
	if (c->frames < 10)
		return send_au(c, au, 0, NULL);
	return hold(c, "stalled after 10 frames") ?: 1;
}

/* Half the fragments of the access unit's picture, then stop. */
static int send_half_au(struct conn *c, const struct au *au)
{
	uint32_t i = biggest(c, au), len = nal_of(c, au, i)->len;
	struct fault f = { .frag = len / 4 + 1, .stop = 2 };

	if (f.frag > MTU - 2)
		f.frag = MTU - 2;
	f.stop = (len / f.frag) / 2 + 1;
	return send_au(c, au, i, &f) < 0 ? -EPIPE : 0;
}

static int step_stall_midframe(struct conn *c, const struct au *au)
{
	if (c->frames < 10)
		return send_au(c, au, 0, NULL);
	return send_half_au(c, au)				    ?:
		       hold(c, "stalled mid-frame after 10 frames") ?:
								      1;
}

static int step_burst(struct conn *c, const struct au *au)
{
	uint64_t ran = now_ns() - c->t_play_ns;

	if (c->speed == 1 && !c->frames) {
		c->speed = 10;
		note(c, "bursting at %u fps", c->fps * 10);
	} else if (c->speed == 10 && ran > 8000000000ULL) {
		c->speed = 1;
		note(c, "back to %u fps after %llu frames", c->fps,
		     (unsigned long long)c->frames);
	}
	return send_au(c, au, 0, NULL);
}

static int step_disconnect(struct conn *c, const struct au *au)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	int ret;

	if (c->frames < c->fps)
		return send_au(c, au, 0, NULL);
	ret = send_half_au(c, au);
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(c->fd);
	c->fd = -1;
	note(c, "reset the connection mid-frame after %llu frames",
	     (unsigned long long)c->frames);
	return ret ?: 1;
}

/* One access unit of size bytes: a filler NAL unit in FU-A. */
static int send_filler_au(struct conn *c, uint32_t size)
{
	uint8_t *p = malloc(size);
	int ret;

	if (!p)
		return -ENOMEM;
	memset(p, 0xff, size);
	p[0] = NAL_FILLER;
	p[size - 1] = 0x80; /* rbsp_trailing_bits */
	ret = send_nal(c, p, size, true, &no_fault);
	free(p);
	note(c, "%s a %u KiB access unit after %llu frames",
	     ret ? "began" : "sent", size >> 10, (unsigned long long)c->frames);
	return ret;
}

/* Ten good frames, one access unit of size bytes, then good frames. */
static int step_filler(struct conn *c, const struct au *au, uint32_t size)
{
	int ret = c->frames == 10 ? send_filler_au(c, size) : 0;

	return ret ? ret : send_au(c, au, 0, NULL);
}

static int step_huge_frame(struct conn *c, const struct au *au)
{
	return step_filler(c, au, HUGE_FRAME);
}

static int step_big_frame(struct conn *c, const struct au *au)
{
	return step_filler(c, au, BIG_FRAME);
}

/* ---- the modes' DESCRIBE answers ---- */

static int describe_garbage(struct conn *c, int cseq)
{
	struct buf b = { .p = malloc(2000), .cap = 2000, .len = 2000 };
	int ret;

	if (!b.p)
		return -ENOMEM;
	for (size_t i = 0; i < b.len; i++)
		b.p[i] = (char)rnd(c);
	ret = describe_sdp(c, cseq, &b);
	note(c, "answered DESCRIBE with %zu random bytes", b.len);
	free(b.p);
	return ret;
}

static int describe_huge(struct conn *c, int cseq)
{
	struct buf b = { .p = malloc(HUGE_SDP + 4096), .cap = HUGE_SDP + 4096 };
	unsigned int streams = 1;
	int ret;

	sdp_video(c, &b, "H264");
	while (b.p && b.len < HUGE_SDP) {
		if (streams < 5000)
			buf_printf(
				&b,
				"m=video 0 RTP/AVP %d\r\na=rtpmap:%d H264/90000\r\n"
				"a=control:trackID=%u\r\n",
				PT_H264, PT_H264, streams++);
		buf_printf(&b, "a=x-moat-%u:%0200u\r\n", streams, streams);
	}
	ret = describe_sdp(c, cseq, &b);
	note(c, "answered DESCRIBE with a %zu-byte SDP of %u streams", b.len,
	     streams);
	free(b.p);
	return ret;
}

/* Content-Length 2000000000, then 4 KiB every 100 ms for 5 s, then gone. */
static int describe_huge_length(struct conn *c, int cseq)
{
	static const char head[] =
		"RTSP/1.0 200 OK\r\nCSeq: %d\r\nServer: moat-hostilecam\r\n"
		"Content-Type: application/sdp\r\nContent-Length: 2000000000\r\n\r\n";
	char h[sizeof(head) + 16], body[4096];
	int n = snprintf(h, sizeof(h), head, cseq), ret;

	memset(body, 'a', sizeof(body));
	ret = write_all(c, h, (size_t)n);
	for (int i = 0; !ret && i < 50; i++)
		ret = write_all(c, body, sizeof(body)) ?: pump(c, 100);
	if (ret)
		note(c,
		     "claimed a 2000000000-byte SDP; the client went before the end of the trickle");
	else
		note(c,
		     "claimed a 2000000000-byte SDP, sent 200 KiB of it and closed");
	return ret ?: 1;
}

static const struct mode modes[] = {
	{ "good", "a correct stream of the file, looping", NULL, step_good, 0 },
	{ "truncated-nal",
	  "FU-A sequences without their end fragment and NAL units cut short, among good frames",
	  NULL, step_truncated, 0 },
	{ "lying-length",
	  "interleaved lengths that claim more or less than follows; STAP-A sizes past the packet",
	  NULL, step_lying_length, 0 },
	{ "garbage-sdp", "DESCRIBE answered 200 OK with 2000 random bytes",
	  describe_garbage, NULL, 0 },
	{ "huge-sdp",
	  "DESCRIBE answered with a 4 MiB SDP of 5000 streams; then a correct stream",
	  describe_huge, step_good, 0 },
	{ "huge-sdp-length",
	  "DESCRIBE claims Content-Length 2000000000, trickles 200 KiB for 5 s, closes",
	  describe_huge_length, NULL, 0 },
	{ "desync",
	  "a correct stream for 1 s, then garbage (not '$') between interleaved frames",
	  NULL, step_desync, 0 },
	{ "stall", "10 frames, then nothing, the connection held open", NULL,
	  step_stall, 0 },
	{ "stall-midframe",
	  "10 frames, then half an access unit, then nothing, held open", NULL,
	  step_stall_midframe, 0 },
	{ "slowloris", "every RTSP reply one byte per second", NULL, step_good,
	  M_SLOW_REPLIES },
	{ "slow-frames", "after PLAY, 8 bytes of the stream every 500 ms", NULL,
	  step_good, M_DRIP },
	{ "burst", "10x the frame rate (and bitrate) for 8 s, then normal",
	  NULL, step_burst, 0 },
	{ "disconnect", "1 s of frames, then a TCP reset in mid access unit",
	  NULL, step_disconnect, 0 },
	{ "huge-frame",
	  "10 frames, a 12 MiB access unit (FU-A filler), more frames", NULL,
	  step_huge_frame, 0 },
	{ "big-frame",
	  "10 frames, a 3 MiB access unit (FU-A filler; legal, under 4 MiB), more frames",
	  NULL, step_big_frame, 0 },
	{ "not-h264",
	  "the SDP offers only MPEG-4 Part 2 video (MP4V-ES), then sends nothing",
	  NULL, NULL, M_NOT_H264 },
};

static const struct mode *mode_find(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strlen(modes[i].name) == len &&
		    !strncmp(modes[i].name, name, len))
			return &modes[i];
	return NULL;
}

/* ---- a connection ---- */

/* Paces the next access unit; 0, 1 (torn down), -errno. */
static int pace(struct conn *c)
{
	uint64_t step = 1000000000ULL / ((uint64_t)c->fps * c->speed), now;

	c->media_ns += step;
	c->due_ns += step;
	now = now_ns();
	if (c->due_ns + 1000000000ULL < now)
		c->due_ns = now; /* far behind (slow-frames): do not hurry */
	if (c->due_ns <= now)
		return pump(c, 0) ?: handle_input(c);
	return wait_ms(c, (int)((c->due_ns - now + 999999) / 1000000));
}

static int play(struct conn *c)
{
	int ret;

	if (!c->mode->step)
		return hold(c, "sent nothing after PLAY");
	for (;;) {
		const struct au *au =
			&c->clip->au[c->next_au++ % c->clip->n_au];

		ret = c->mode->step(c, au);
		if (ret)
			return ret;
		c->frames++;
		ret = pace(c);
		if (ret)
			return ret;
	}
}

static int session(struct conn *c)
{
	uint64_t idle_since = now_ns();
	struct req r;
	int ret = 0, got;

	while (!ret && !c->playing) {
		got = take(c, &r);
		if (got == 1) {
			ret = dispatch(c, &r);
			idle_since = now_ns();
		} else if (!got) {
			if (now_ns() - idle_since > IDLE_MS * 1000000ULL)
				return -ETIMEDOUT;
			ret = pump_for(c, 100, true);
		}
	}
	return ret ? ret : play(c);
}

static void serve(int fd, const char *peer, const struct clip *clip,
		  unsigned int fps)
{
	static struct conn c; /* large: not on the stack */
	struct timeval tv = { .tv_sec = SEND_TIMEOUT_S };
	uint64_t t0 = now_ns();
	int one = 1, ret;

	c = (struct conn){ .fd = fd, .clip = clip, .fps = fps, .speed = 1 };
	snprintf(c.peer, sizeof(c.peer), "%s", peer);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c.rng = 0x9E3779B97F4A7C15ULL; /* never from time or peer */
	c.ssrc = 0x6d6f6174;
	c.session = 0x48434d31;
	c.seq = 4242;
	ret = session(&c);
	fprintf(stderr,
		"moat-hostilecam: %s %s: %.1f s, %u request(s), %u stray response(s), %llu frame(s), %llu bytes; %s; %s\n",
		c.peer, c.mode ? c.mode->name : "(no mode)",
		(double)(now_ns() - t0) / 1e9, c.requests, c.responses,
		(unsigned long long)c.frames, (unsigned long long)c.bytes,
		c.did[0] ? c.did : "nothing",
		ret == 1			    ? "done" :
		ret == -ECONNRESET || ret == -EPIPE ? "the client went" :
		ret == -EINTR			    ? "the server stopped" :
						      strerror(-ret));
	if (c.fd >= 0)
		close(c.fd);
}

/* ---- the server ---- */

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static int listen_on(unsigned int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6,
				   .sin6_port = htons((uint16_t)port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a4 = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port),
				  .sin_addr.s_addr = htonl(INADDR_ANY) };
	int one = 1, zero = 0,
	    fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	/* IPv6 and IPv4 on one socket; IPv4 alone where there is no IPv6 */
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(fd, (struct sockaddr *)&a6, sizeof(a6)) &&
		    !listen(fd, 64))
			return fd;
		close(fd);
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a4, sizeof(a4)) || listen(fd, 64)) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

static void peer_name(const struct sockaddr_storage *sa, char *out, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned int port = 0;

	if (sa->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		port = ntohs(s6->sin6_port);
	} else if (sa->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		port = ntohs(s4->sin_port);
	}
	snprintf(out, len, "%s:%u", strncmp(ip, "::ffff:", 7) ? ip : ip + 7,
		 port);
}

/* A child per connection: whatever a client does ends only its child. */
static void spawn(int lfd, int fd, const struct sockaddr_storage *sa,
		  const struct clip *clip, unsigned int fps)
{
	pid_t parent = getpid(), pid;
	char peer[64];

	peer_name(sa, peer, sizeof(peer));
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "moat-hostilecam: %s: fork: %s\n", peer,
			strerror(errno));
		return;
	}
	if (pid)
		return;
	/* the server's SIGTERM handler stays: the child logs, then goes */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(0);
	close(lfd);
	serve(fd, peer, clip, fps);
	_exit(0);
}

static int run(int lfd, const struct clip *clip, unsigned int fps)
{
	unsigned int children = 0;

	while (!stopping) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		int fd;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			children--;
		if (poll(&p, 1, 500) <= 0)
			continue;
		fd = accept4(lfd, (struct sockaddr *)&sa, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			continue; /* the client went before we took it */
		if (children >= MAX_CLIENTS) {
			fprintf(stderr,
				"moat-hostilecam: %u clients already; refused one\n",
				children);
		} else {
			spawn(lfd, fd, &sa, clip, fps);
			children++;
		}
		close(fd);
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: moat-hostilecam --file CLIP.h264 [--port 8554] [--fps 30]\n"
		"\n"
		"A misbehaving IP camera for tests: serves an Annex-B H.264 file over\n"
		"RTSP (RTP/AVP/TCP interleaved, RFC 6184, no authentication) on every\n"
		"address, a child process per client. The URL path picks the mode,\n"
		"rtsp://HOST:PORT/MODE; every mode is deterministic. Modes:\n\n");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		fprintf(f, "  %-16s %s\n", modes[i].name, modes[i].help);
	fprintf(f,
		"\nOne line per connection goes to stderr: client, mode, what it did.\n"
		"Stops on SIGTERM or SIGINT (its children with it).\n");
}

static bool parse_uint(const char *s, unsigned int lo, unsigned int hi,
		       unsigned int *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (!*s || *end || v < lo || v > hi)
		return false;
	*out = (unsigned int)v;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "port", required_argument, NULL, 'p' },
		{ "fps", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct sigaction sa = { .sa_handler = on_term };
	unsigned int port = 8554, fps = 30;
	const char *file = NULL;
	struct clip clip;
	int c, lfd, ret;

	while ((c = getopt_long(argc, argv, "f:p:r:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			file = optarg;
			break;
		case 'p':
			if (!parse_uint(optarg, 1, 65535, &port)) {
				fprintf(stderr,
					"moat-hostilecam: --port `%s' is not 1-65535\n",
					optarg);
				return 2;
			}
			break;
		case 'r':
			if (!parse_uint(optarg, 1, 240, &fps)) {
				fprintf(stderr,
					"moat-hostilecam: --fps `%s' is not 1-240\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!file || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (clip_load(file, &clip)) {
		clip_free(&clip);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	lfd = listen_on(port);
	if (lfd < 0) {
		fprintf(stderr, "moat-hostilecam: port %u: %s\n", port,
			strerror(-lfd));
		clip_free(&clip);
		return 1;
	}
	fprintf(stderr,
		"moat-hostilecam: %s, %zu access units at %u fps, port %u\n",
		file, clip.n_au, fps, port);
	ret = run(lfd, &clip, fps);
	close(lfd);
	clip_free(&clip);
	return ret;
}
