/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Logging to stderr. Every line carries the program name and, at debug
 * level, the function that logged it (after OpenSSH log.h). fatal() is for
 * start-up failures and broken invariants only.
 */
#ifndef MOAT_COMMON_LOG_H
#define MOAT_COMMON_LOG_H

enum log_level { LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_init(const char *prog, enum log_level level);
enum log_level log_get_level(void);
void log_msg(enum log_level lvl, const char *func, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void fatal_msg(const char *func, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#define log_err(...)   log_msg(LOG_LVL_ERR, __func__, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __func__, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __func__, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __func__, __VA_ARGS__)
#define fatal(...)     fatal_msg(__func__, __VA_ARGS__)

#endif
