// SPDX-License-Identifier: GPL-2.0-only
/*
 * GStreamer's SRTP for moat-bench's comparisons (pipeline, peers):
 * filesrc ! h264parse ! rtph264pay ! srtpenc (AES-256-GCM) ! udpsink to a
 * port on loopback nobody reads, flat out, timed as the whole process's
 * user and system time.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bench/bench.h"

double bench_srtp_file(const char *path)
{
	char loc[PATH_MAX + 16];
	struct rusage ru;
	int status;
	pid_t pid;

	snprintf(loc, sizeof(loc), "location=%s", path);
	pid = fork();
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execlp("gst-launch-1.0", "gst-launch-1.0", "-q", "filesrc", loc,
		       "!", "h264parse", "!", "rtph264pay", "mtu=1400", "!",
		       "srtpenc",
		       "key=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b",
		       "rtp-cipher=aes-256-gcm", "rtp-auth=null",
		       "rtcp-cipher=aes-256-gcm", "rtcp-auth=null", "!",
		       "udpsink", "host=127.0.0.1", "port=9", "sync=false",
		       (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || wait4(pid, &status, 0, &ru) != pid ||
	    !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}
