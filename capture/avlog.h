/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libavformat's and libavcodec's messages in moat's log. Their text quotes
 * what a camera sent, so it is untrusted: each message becomes one line of
 * printable ASCII, and a camera that makes the decoder complain on every
 * frame cannot flood the log (at most 20 lines a minute, then a count of
 * what was left out).
 */
#ifndef MOAT_CAPTURE_AVLOG_H
#define MOAT_CAPTURE_AVLOG_H

#include <stdint.h>

/* Routes av_log to moat's log (idempotent). */
void cap_av_log_init(void);

/* Warnings and errors libav* has reported so far in this process. */
uint64_t cap_av_complaints(void);

#endif
