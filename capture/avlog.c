// SPDX-License-Identifier: GPL-2.0-only
/*
 * av_log to moat's log (see avlog.h). The callback also keeps av_log from
 * probing the terminal, an ioctl the worker's sandbox does not allow.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include <libavutil/log.h>

#include "capture/avlog.h"
#include "common/log.h"

enum { LINES_PER_MINUTE = 20 };

static uint64_t minute, lines, dropped, complaints;

uint64_t cap_av_complaints(void)
{
	return __atomic_load_n(&complaints, __ATOMIC_RELAXED);
}

static void av_to_log(void *avcl, int level, const char *fmt, va_list ap)
{
	struct timespec ts;
	char line[256];
	int n;

	(void)avcl;
	if (level > AV_LOG_WARNING)
		return;
	__atomic_fetch_add(&complaints, 1, __ATOMIC_RELAXED);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if ((uint64_t)ts.tv_sec / 60 != minute) {
		if (dropped)
			log_warn("av: %llu more messages from the camera's stream left out of the log",
				 (unsigned long long)dropped);
		minute = (uint64_t)ts.tv_sec / 60;
		lines = dropped = 0;
	}
	if (++lines > LINES_PER_MINUTE) {
		dropped++;
		return;
	}
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n <= 0)
		return;
	for (char *p = line; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = *p == '\n' && !p[1] ? 0 : '?';
	if (level <= AV_LOG_ERROR)
		log_warn("av: %s", line);
	else
		log_info("av: %s", line);
}

void cap_av_log_init(void)
{
	av_log_set_callback(av_to_log);
}
