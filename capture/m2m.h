/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A stateful V4L2 memory-to-memory H.264 encoder (the kernel's "Memory-to-
 * Memory Stateful Video Encoder Interface"): bcm2835-codec at /dev/video11
 * on a Pi 4 or Zero 2 W, and its like on other SoCs. OUTPUT takes raw
 * pictures, CAPTURE gives access units. Both APIs are spoken, chosen by
 * QUERYCAP: the single-planar one, and the multi-planar one (the only one
 * bcm2835-codec offers), with one plane per buffer either way.
 *
 * Set-up follows the documented order: the coded format on CAPTURE, the
 * raw format on OUTPUT (the driver may adjust it), the frame interval on
 * OUTPUT, then bitrate, GOP, profile, level and REPEAT_SEQ_HEADER (every
 * keyframe carries SPS and PPS, so any GOP opens on its own); OUTPUT
 * buffers import the camera's dmabufs (no copy), CAPTURE buffers are
 * mapped read-only; both queues stream.
 *
 * Running: a camera frame is queued by its dmabuf; access units are
 * dequeued from CAPTURE, read once (sealed) and queued back at once; the
 * raw buffer comes back on OUTPUT and goes back to the camera. An event
 * forces a keyframe (FORCE_KEY_FRAME). A CAPTURE buffer flagged ERROR is
 * dropped and counted. Draining (V4L2_ENC_CMD_STOP) ends with the buffer
 * flagged LAST; after it, DQBUF says EPIPE.
 *
 * Every ioctl and mmap goes through the function pointers in the options,
 * so that tests can answer as a recorded driver does (tests/test_m2m.c);
 * by default they are the real calls.
 */
#ifndef MOAT_CAPTURE_M2M_H
#define MOAT_CAPTURE_M2M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { M2M_BUFS = 8 };

struct m2m_ops {
	int (*ioctl)(void *arg, int fd, unsigned long req, void *data);
	void *(*mmap)(void *arg, size_t len, int fd, long offset);
	void *arg;
};

struct m2m_opts {
	int fd;			/* the encoder device, opened O_NONBLOCK */
	uint32_t fourcc;	/* raw: NV12, YUYV, ... */
	/* coded: 0 is H264; V4L2_PIX_FMT_FWHT is vicodec's, the kernel's
	 * virtual encoder (tests: no viewer plays it) */
	uint32_t coded;
	uint32_t width, height, bytesperline;
	/* the camera's frame size, or 0: an encoder that wants more (its
	 * planes padded, e.g. rows to a multiple of 16) is refused, since it
	 * would read the camera's chroma from the wrong place */
	uint32_t sizeimage;
	uint32_t fps, bitrate, gop;
	unsigned int n_raw, n_coded; /* buffers on OUTPUT, on CAPTURE */
	const struct m2m_ops *ops; /* NULL: the real calls */
};

struct m2m_enc;

/* An access unit on CAPTURE, the caller's until m2m_coded_done(). key:
 * the driver flagged it a keyframe (or, for FWHT, its header says
 * intra). */
struct m2m_coded {
	unsigned int index;
	const uint8_t *p;
	size_t len;
	uint64_t ts_us;
	bool key, last;
};

/*
 * The device may come from a predecessor that died with both queues
 * streaming (moatd holds the file open across worker restarts, and the
 * sealer maps its CAPTURE buffers): streaming stops and the buffers are
 * let go first. Then negotiates and starts both queues. 0, or -errno with the step and the
 * driver's answer in why. */
int m2m_open(const struct m2m_opts *o, struct m2m_enc **out, char *why,
	     size_t why_len);

/* m2m_open() for H.264, or, from a device that makes none, FWHT
 * (vicodec, named in the config: auto never picks it). */
int m2m_open_best(struct m2m_opts *o, struct m2m_enc **out, char *why,
		  size_t why_len);

/* What the driver settled on for the raw side. */
void m2m_raw_format(const struct m2m_enc *e, uint32_t *width,
		    uint32_t *height, uint32_t *bytesperline,
		    uint32_t *sizeimage);

/* Queues a camera frame by its dmabuf (of length bytes, bytesused of
 * them the frame); tag comes back with it from m2m_raw_done(). 0, -EBUSY
 * (no free OUTPUT buffer), -errno. */
int m2m_queue_raw(struct m2m_enc *e, int dmabuf, size_t length,
		  size_t bytesused, uint64_t ts_us, unsigned int tag);

/* A raw buffer the encoder has finished with: 1 and *tag, 0, -errno. */
int m2m_raw_done(struct m2m_enc *e, unsigned int *tag);

/* The next access unit: 1 and *c, 0 none yet, -EPIPE after the last
 * (drained), -errno. Buffers flagged ERROR are skipped (counted). */
int m2m_coded(struct m2m_enc *e, struct m2m_coded *c);

/* Gives a CAPTURE buffer back. 0 or -errno. */
int m2m_coded_done(struct m2m_enc *e, unsigned int index);

/* An access unit left in a CAPTURE buffer for a reader that maps it
 * itself (the sealer): where it lies, and what it is. */
struct m2m_ref {
	const uint8_t *p;	/* this side's read-only mapping */
	size_t len;
	unsigned int index;
	uint32_t offset, length; /* the buffer in the device's mmap space */
	uint32_t coded;		/* V4L2_PIX_FMT_H264, or _FWHT (vicodec) */
	uint64_t ts_us;
	bool key;
};

struct m2m_reader {
	void *arg;
	/* 1 taken (*token marks it), 0 no room (lost), -errno */
	int (*take)(void *arg, const struct m2m_ref *r, uint64_t *token);
	/* whether the reader is done with what token marks */
	bool (*done)(void *arg, uint64_t token);
};

/*
 * Coded buffers the reader is done with go back to the encoder; then each
 * new access unit goes to the reader, in place (one it has no room for
 * goes straight back, lost). 1 when one or more were taken, 2 when one
 * was lost, 0 when there was none, -errno.
 */
int m2m_pump(struct m2m_enc *e, const struct m2m_reader *rd);

/* The next access unit is a keyframe (an event began). 0 or -errno. */
int m2m_force_key(struct m2m_enc *e);

/* Asks for the end: what is queued is encoded, then LAST. */
int m2m_drain(struct m2m_enc *e);

/* Where CAPTURE buffer index lies in the device's mmap space (for a
 * reader that maps it from its own descriptor of the same file). */
int m2m_coded_buf(const struct m2m_enc *e, unsigned int index,
		  uint32_t *offset, uint32_t *length);

/* The coded format the driver settled on (V4L2_PIX_FMT_H264, ...). */
uint32_t m2m_coded_format(const struct m2m_enc *e);

/* CAPTURE buffers the driver holds (queued, not dequeued). */
unsigned int m2m_coded_queued(const struct m2m_enc *e);
/* Raw frames the driver holds on OUTPUT (queued, not given back). */
unsigned int m2m_raw_queued(const struct m2m_enc *e);

/* Whether the drain has ended (the buffer flagged LAST came). */
bool m2m_drained(const struct m2m_enc *e);

/* Access units the driver flagged as damaged. */
uint64_t m2m_errors(const struct m2m_enc *e);

void m2m_close(struct m2m_enc *e);

/*
 * Whether the device at path is a memory-to-memory encoder that makes
 * coded from raw (0: any raw format): 0 (and its card name), -ENOENT when
 * it encodes something else, -ENODEV when it is no such device, -errno
 * when it cannot be opened.
 */
int m2m_probe(const char *path, uint32_t coded, uint32_t raw, char *card,
	      size_t card_len);

/* The first /dev/videoN that m2m_probe() accepts: 0, or -ENOENT. */
int m2m_find(uint32_t coded, uint32_t raw, char *path, size_t path_len,
	     char *card, size_t card_len);

#endif
