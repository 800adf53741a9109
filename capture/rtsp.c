// SPDX-License-Identifier: GPL-2.0-only
/*
 * RTSP camera through libavformat (see rtsp.h). libavformat does the RTSP
 * and RTP depacketisation; this file narrows what it may do (protocols,
 * formats, codecs, transport, time) and checks what it hands back before
 * a byte of it reaches the ring.
 */
#include <errno.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libavformat/avformat.h>
#include <libavutil/log.h>

#include "capture/avlog.h"
#include "capture/h264.h"
#include "capture/rtsp.h"
#include "common/log.h"

#define EXTRADATA_MAX (64u << 10)

struct rtsp_cam {
	struct cap_source src;
	AVFormatContext *fmt;
	AVPacket *pkt;
	int video;		/* stream index */
	enum cap_codec codec;
	int timeout_ms;
	int (*stop)(void);
	uint64_t deadline_ns;	/* for the blocking call under way */
	uint64_t frames;
	uint8_t *ps;		/* SPS/PPS from the SDP, Annex-B */
	size_t ps_len;
	uint8_t *buf;		/* a keyframe with the SPS/PPS put in front */
	size_t buf_cap;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int interrupted(void *opaque)
{
	struct rtsp_cam *c = opaque;

	return (c->stop && c->stop()) || now_ns() > c->deadline_ns;
}

static void arm(struct rtsp_cam *c)
{
	c->deadline_ns = now_ns() + (uint64_t)c->timeout_ms * 1000000u;
}


static int rtsp_next(struct cap_source *s, uint64_t now_us,
		     struct cap_frame *f, uint64_t *due_us)
{
	struct rtsp_cam *c = (struct rtsp_cam *)s;
	int ret;

	(void)now_us;
	(void)due_us;
	/* one deadline for the whole frame: a camera that keeps sending
	 * anything but video (or video in driblets) still times out */
	arm(c);
	for (;;) {
		av_packet_unref(c->pkt);
		ret = av_read_frame(c->fmt, c->pkt);
		if (c->stop && c->stop())
			return -EINTR; /* moatd stops the worker */
		/*
		 * Past the deadline whatever came back: when its read is
		 * interrupted libavformat hands over what its parser held, a
		 * piece of an access unit that must not be recorded as a frame.
		 */
		if (ret == AVERROR_EXIT || now_ns() > c->deadline_ns)
			return -ETIMEDOUT;
		if (ret == AVERROR_EOF)
			return -ECONNRESET; /* the camera ended the session */
		if (ret < 0)
			return -EPROTO;
		if (c->pkt->stream_index == c->video && c->pkt->size > 0)
			break;
	}
	if ((size_t)c->pkt->size > RTSP_AU_MAX)
		return -EMSGSIZE;
	*f = (struct cap_frame){ .p = c->pkt->data,
				 .len = (size_t)c->pkt->size,
				 .ts_us = cap_now_us(),
				 .index = c->frames++,
				 .hevc = c->codec == CODEC_H265 };
	nal_scan(c->codec, f->p, f->len, &f->key, &f->config);
	/*
	 * A camera that sends its parameter sets only in the SDP: put them in
	 * front of each keyframe, so that every recorded GOP decodes alone.
	 */
	if (f->key && !f->config && c->ps_len) {
		size_t need = c->ps_len + f->len;

		if (need > c->buf_cap) {
			uint8_t *b = realloc(c->buf, need);

			if (!b)
				return -ENOMEM;
			c->buf = b;
			c->buf_cap = need;
		}
		memcpy(c->buf, c->ps, c->ps_len);
		memcpy(c->buf + c->ps_len, f->p, f->len);
		f->p = c->buf;
		f->len = need;
		f->config = true;
	}
	return 1;
}

static int rtsp_fd(const struct cap_source *s)
{
	(void)s;
	return -1;
}

static void rtsp_close(struct cap_source *s)
{
	struct rtsp_cam *c = (struct rtsp_cam *)s;

	av_packet_free(&c->pkt);
	avformat_close_input(&c->fmt);
	free(c->ps);
	free(c->buf);
	free(c);
}

static const struct cap_source_ops rtsp_ops = {
	.kind = "rtsp",
	.next = rtsp_next,
	.fd = rtsp_fd,
	.close = rtsp_close,
};

static void av_why(int err, char *why, size_t len)
{
	char e[AV_ERROR_MAX_STRING_SIZE];

	av_strerror(err, e, sizeof(e));
	snprintf(why, len, "%s", e);
}

static int pick_video(struct rtsp_cam *c, char *why, size_t why_len)
{
	for (unsigned int i = 0; i < c->fmt->nb_streams; i++) {
		const AVCodecParameters *cp = c->fmt->streams[i]->codecpar;

		if (cp->codec_type != AVMEDIA_TYPE_VIDEO)
			continue;
		if (cp->codec_id != AV_CODEC_ID_H264 &&
		    cp->codec_id != AV_CODEC_ID_HEVC) {
			snprintf(why, why_len,
				 "the camera's video is %s; moat records H.264 and H.265 only",
				 avcodec_get_name(cp->codec_id));
			return -EPROTONOSUPPORT;
		}
		c->video = (int)i;
		c->codec = cp->codec_id == AV_CODEC_ID_HEVC ? CODEC_H265 :
							      CODEC_H264;
		if (cp->extradata_size > 0 &&
		    (size_t)cp->extradata_size <= EXTRADATA_MAX &&
		    cp->extradata[0] == 0) { /* Annex-B, from the SDP */
			bool key, all;

			nal_scan(c->codec, cp->extradata,
				 (size_t)cp->extradata_size, &key, &all);
			if (all) {
				c->ps = malloc((size_t)cp->extradata_size);
				if (!c->ps)
					return -ENOMEM;
				memcpy(c->ps, cp->extradata,
				       (size_t)cp->extradata_size);
				c->ps_len = (size_t)cp->extradata_size;
			}
		}
		return 0;
	}
	snprintf(why, why_len, "the camera offers no video stream");
	return -ENOMSG;
}

int rtsp_open(const char *url, const struct rtsp_opts *o,
	      struct cap_source **out, char *why, size_t why_len)
{
	const AVInputFormat *ifmt = av_find_input_format("rtsp");
	struct rtsp_cam *c = calloc(1, sizeof(*c));
	AVDictionary *d = NULL;
	char us[32];
	int ret;

	*out = NULL;
	cap_av_log_init();
	snprintf(why, why_len, "out of memory");
	if (!c)
		return -ENOMEM;
	c->src.ops = &rtsp_ops;
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 10000;
	c->stop = o->stop;
	c->video = -1;
	c->fmt = avformat_alloc_context();
	c->pkt = av_packet_alloc();
	if (!ifmt || !c->fmt || !c->pkt) {
		if (!ifmt)
			snprintf(why, why_len, "this libavformat has no RTSP");
		rtsp_close(&c->src);
		return -ENOSYS;
	}
	c->fmt->interrupt_callback.callback = interrupted;
	c->fmt->interrupt_callback.opaque = c;
	/* Only what a camera on the LAN needs: RTSP, over TCP, H.264/5. */
	av_dict_set(&d, "protocol_whitelist", "rtsp,tcp", 0);
	av_dict_set(&d, "format_whitelist", "rtsp", 0);
	av_dict_set(&d, "codec_whitelist", "h264,hevc", 0);
	av_dict_set(&d, "rtsp_transport", "tcp", 0);
	av_dict_set(&d, "allowed_media_types", "video", 0);
	snprintf(us, sizeof(us), "%lld", (long long)c->timeout_ms * 1000);
	av_dict_set(&d, "timeout", us, 0); /* socket I/O, microseconds */
	av_dict_set(&d, "user_agent", "moat", 0);
	arm(c);
	ret = avformat_open_input(&c->fmt, url, ifmt, &d);
	av_dict_free(&d);
	if (ret < 0) {
		av_why(ret, why, why_len);
		if (c->stop && c->stop())
			snprintf(why, why_len, "stopped while connecting");
		else if (interrupted(c))
			snprintf(why, why_len, "no answer within %d ms",
				 c->timeout_ms);
		/* avformat_open_input freed the context on failure */
		c->fmt = NULL;
		rtsp_close(&c->src);
		return ret == AVERROR(ECONNREFUSED) ? -ECONNREFUSED :
		       ret == AVERROR_EXIT	     ? -ETIMEDOUT :
						       -EPROTO;
	}
	ret = pick_video(c, why, why_len);
	if (ret) {
		rtsp_close(&c->src);
		return ret;
	}

	*why = 0;
	*out = &c->src;
	return 0;
}

unsigned int rtsp_streams(const struct cap_source *s)
{
	const struct rtsp_cam *c = (const struct rtsp_cam *)s;

	return c->fmt ? c->fmt->nb_streams : 0;
}

uint64_t rtsp_bytes_received(void)
{
	uint64_t n = 0;

	/* the worker holds a handful of descriptors: its camera's sockets
	 * among them */
	for (int fd = 0; fd < 64; fd++) {
		struct tcp_info ti;
		socklen_t len = sizeof(ti);

		if (!getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) &&
		    len >= offsetof(struct tcp_info, tcpi_bytes_received) +
				   sizeof(ti.tcpi_bytes_received))
			n += ti.tcpi_bytes_received;
	}
	return n;
}

int rtsp_host_port(const char *url, char *host, size_t host_len,
		   unsigned int *port)
{
	char proto[16], auth[256], path[8];
	int p = -1;

	av_url_split(proto, sizeof(proto), auth, sizeof(auth), host,
		     (int)host_len, &p, path, sizeof(path), url);
	explicit_bzero(auth, sizeof(auth));
	if (strcmp(proto, "rtsp") || !host[0] || p > 65535)
		return -EINVAL;
	*port = p > 0 ? (unsigned int)p : 554;
	return 0;
}

int rtsp_same_endpoint(const char *a, const char *b)
{
	char pa[16], pb[16], ha[256], hb[256], x[256], path[8];
	int porta = -1, portb = -1;

	av_url_split(pa, sizeof(pa), x, sizeof(x), ha, sizeof(ha), &porta,
		     path, sizeof(path), a);
	av_url_split(pb, sizeof(pb), x, sizeof(x), hb, sizeof(hb), &portb,
		     path, sizeof(path), b);
	explicit_bzero(x, sizeof(x)); /* user:password */
	return !strcmp(pa, "rtsp") && !strcmp(pb, "rtsp") && ha[0] &&
	       !strcmp(ha, hb) &&
	       (porta > 0 ? porta : 554) == (portb > 0 ? portb : 554);
}

void rtsp_redact(const char *url, char *out, size_t len)
{
	const char *host = strstr(url, "://"), *at, *slash;

	host = host ? host + 3 : url;
	slash = strchr(host, '/');
	at = memchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at) {
		snprintf(out, len, "%s", url);
		return;
	}
	snprintf(out, len, "%.*s***%s", (int)(host - url), url, at);
}

int rtsp_resolve(const char *url, const char *ip, char *out, size_t len,
		 unsigned int *port_out, char *why, size_t why_len)
{
	char proto[16], auth[256], host[256], path[1024], num[INET6_ADDRSTRLEN];
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM },
			*res = NULL;
	int port = -1, ret;

	av_url_split(proto, sizeof(proto), auth, sizeof(auth), host,
		     sizeof(host), &port, path, sizeof(path), url);
	if (strcmp(proto, "rtsp") || !host[0]) {
		snprintf(why, why_len, "not an rtsp://host/path URL");
		return -EINVAL;
	}
	/* a known address is used as it is: no DNS (which the network
	 * policy would refuse the worker anyway) */
	if (ip && ip[0]) {
		snprintf(host, sizeof(host), "%s", ip);
		hints.ai_flags = AI_NUMERICHOST;
	}
	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret) {
		snprintf(why, why_len, "cannot resolve %s: %s", host,
			 gai_strerror(ret));
		return -EHOSTUNREACH;
	}
	ret = getnameinfo(res->ai_addr, res->ai_addrlen, num, sizeof(num),
			  NULL, 0, NI_NUMERICHOST);
	if (!ret &&
	    snprintf(out, len, "rtsp://%s%s%s%s%s:%d%s", auth,
		     auth[0] ? "@" : "", res->ai_family == AF_INET6 ? "[" : "",
		     num, res->ai_family == AF_INET6 ? "]" : "",
		     port > 0 ? port : 554, path) >= (int)len)
		ret = -1;
	freeaddrinfo(res);
	if (ret || port > 65535) {
		snprintf(why, why_len, "cannot use the address of %s", host);
		return -EINVAL;
	}
	*port_out = port > 0 ? (unsigned int)port : 554;
	return 0;
}
