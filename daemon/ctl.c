// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/wire.h"
#include "daemon/ctl.h"

int ctl_request(const char *path, const char *req, char **reply)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = 0, cap = 4096;
	char *buf = NULL;
	int fd, ret = 0;

	*reply = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	{
		char line[CTL_REQ_MAX + 2];
		int n = snprintf(line, sizeof(line), "%s\n", req);

		if (n < 0 || (size_t)n >= sizeof(line)) {
			ret = -EINVAL;
			goto out;
		}
		/* one write: the server answers and closes after the line */
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			ret = -errno;
			goto out;
		}
		ret = wire_write_all(fd, line, (size_t)n);
		if (ret)
			goto out;
	}
	shutdown(fd, SHUT_WR);
	buf = malloc(cap);
	while (buf) {
		ssize_t n;

		if (len + 1 == cap) {
			char *p = cap < CTL_REPLY_MAX ? realloc(buf, cap * 2) :
							NULL;

			if (!p) {
				ret = -EMSGSIZE;
				break;
			}
			buf = p;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			break;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	if (!buf)
		ret = -ENOMEM;
	if (!ret) {
		buf[len] = 0;
		*reply = buf;
		buf = NULL;
	}
out:
	free(buf);
	close(fd);
	return ret;
}
