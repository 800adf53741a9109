// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every role shares (roles.h): the stop signal, the clock and the
 * eventfd wake-ups. Nothing here links camera, codec or network code, so
 * the sealer and the uplink, programs of their own, carry only what they
 * use (docs/SANDBOX.md).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "daemon/roles.h"

static volatile sig_atomic_t stopping;
static int stop_wake_fd = -1;

static void on_term(int sig)
{
	int saved = errno;
	uint64_t one = 1;

	(void)sig;
	stopping = 1;
	if (stop_wake_fd >= 0) {
		/* a full counter (it is not) would wake it all the same */
		ssize_t n = write(stop_wake_fd, &one, sizeof(one));

		(void)n;
	}
	errno = saved;
}

void role_signals(int wake_fd)
{
	struct sigaction sa = { .sa_handler = on_term };

	stop_wake_fd = wake_fd;

	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int role_stopping(void)
{
	return stopping;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

void wake(int efd)
{
	uint64_t one = 1;

	if (write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_debug("eventfd: %s", strerror(errno));
}

int wait_wake(int efd, int timeout_ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	uint64_t v;
	int n = poll(&p, 1, timeout_ms);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (n && read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	return n;
}
