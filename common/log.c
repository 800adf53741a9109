// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static const char *log_prog = "moat";
static enum log_level log_level = LOG_LVL_INFO;

void log_init(const char *prog, enum log_level level)
{
	log_prog = prog;
	log_level = level;
}

enum log_level log_get_level(void)
{
	return log_level;
}

/*
 * One line, one write: moatd and its roles share stderr (the journal, or
 * a log file), and a line written in pieces interleaves with another
 * process's. A line longer than the buffer is cut, and says so.
 */
__attribute__((format(printf, 3, 0))) static void
log_vmsg(enum log_level lvl, const char *func, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	char line[4096];
	size_t n;
	int r;

	if (lvl > log_level)
		return;
	if (log_level >= LOG_LVL_DEBUG)
		r = snprintf(line, sizeof(line), "%s: %s: %s: ", log_prog,
			     names[lvl], func);
	else if (lvl <= LOG_LVL_WARN)
		r = snprintf(line, sizeof(line), "%s: %s: ", log_prog,
			     names[lvl]);
	else
		r = snprintf(line, sizeof(line), "%s: ", log_prog);
	n = r < 0 ? 0 : (size_t)r < sizeof(line) ? (size_t)r : sizeof(line) - 1;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r >= 0 && (size_t)r > sizeof(line) - n - 1) {
		/* cut: room for "...\n" */
		n = sizeof(line) - 4;
		memcpy(line + n, "...", 3);
		n += 3;
	} else if (r > 0) {
		n += (size_t)r;
	}
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, func, fmt, ap);
	va_end(ap);
}

void fatal_msg(const char *func, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(LOG_LVL_ERR, func, fmt, ap);
	va_end(ap);
	exit(1);
}
