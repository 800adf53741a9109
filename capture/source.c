// SPDX-License-Identifier: GPL-2.0-only
/* What every source shares and needs nothing else: the hub's sealer and
 * moatd use the clock without linking any camera code. */
#include <time.h>

#include "capture/source.h"

uint64_t cap_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
