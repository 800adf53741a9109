/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * RTSP camera: H.264 or H.265 from an IP camera through libavformat, RTSP over TCP
 * (interleaved) only, with protocol, format and codec whitelists, an I/O
 * timeout, and access units passed through without re-encoding.
 *
 * Everything the camera sends is untrusted and is parsed here, inside the
 * sandboxed capture worker (docs/SANDBOX.md): a stream that breaks a rule
 * ends the source with a reason, and moatd restarts the worker with
 * backoff, which is also how a lost camera is reconnected.
 *
 * Unlike the file camera, next() blocks until the camera sends a frame,
 * for at most timeout_ms (or until stop() says so).
 */
#ifndef MOAT_CAPTURE_RTSP_H
#define MOAT_CAPTURE_RTSP_H

#include <stddef.h>

#include "capture/source.h"

#define RTSP_AU_MAX (4u << 20) /* a larger access unit ends the source */

struct rtsp_opts {
	int timeout_ms;		/* connect, each reply, and each frame */
	int (*stop)(void);	/* nonzero: abort what is blocking */
};

/*
 * Connects to url (rtsp://[user:password@]host[:port]/path; host already
 * numeric if the caller must not resolve names later), DESCRIBE/SETUP/PLAY
 * over TCP, and picks the first H.264 or H.265 video stream. 0 and *out, or -errno
 * with why (a line, no password in it) in why[why_len].
 */
int rtsp_open(const char *url, const struct rtsp_opts *o,
	      struct cap_source **out, char *why, size_t why_len);

/*
 * Streams the camera's SDP listed (moat uses the first video one): a
 * camera that lists dozens is odd enough to be worth saying.
 */
unsigned int rtsp_streams(const struct cap_source *s);

/*
 * Bytes received so far on this process's TCP sockets (TCP_INFO), to
 * compare with what came out as frames: libavformat silently skips bytes
 * it cannot parse, so a camera whose stream is mostly garbage shows as
 * many bytes in, few frames out.
 */
uint64_t rtsp_bytes_received(void);

/*
 * 1 when both rtsp:// URLs name the same host (as written) and port, so
 * that a worker allowed one TCP port can reach both; 0 otherwise.
 */
int rtsp_same_endpoint(const char *a, const char *b);

/* The host (as written, brackets of an IPv6 literal removed) and the port
 * (554 when the URL names none) of an rtsp:// URL: 0, or -EINVAL. */
int rtsp_host_port(const char *url, char *host, size_t host_len,
		   unsigned int *port);

/*
 * The URL with any user:password@ replaced by "***@", for logs and status.
 */
void rtsp_redact(const char *url, char *out, size_t len);

/*
 * Resolves the URL's host name now (the worker cannot later: its sandbox
 * has no files and no DNS) and writes the URL with the numeric address
 * and the port (554 unless the URL names one) in *port. With ip (the
 * camera's `ip' in moat.conf) that address is used without a lookup.
 */
int rtsp_resolve(const char *url, const char *ip, char *out, size_t len,
		 unsigned int *port, char *why, size_t why_len);

#endif
