// SPDX-License-Identifier: GPL-2.0-only
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

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

__attribute__((format(printf, 3, 0))) static void
log_vmsg(enum log_level lvl, const char *func, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };

	if (lvl > log_level)
		return;
	if (log_level >= LOG_LVL_DEBUG)
		fprintf(stderr, "%s: %s: %s: ", log_prog, names[lvl], func);
	else if (lvl <= LOG_LVL_WARN)
		fprintf(stderr, "%s: %s: ", log_prog, names[lvl]);
	else
		fprintf(stderr, "%s: ", log_prog);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
