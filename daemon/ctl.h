/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control socket (a Unix stream socket, root only): one request line,
 * one reply, then the server closes. Requests: "status" and "status json".
 */
#ifndef MOAT_DAEMON_CTL_H
#define MOAT_DAEMON_CTL_H

#include <stddef.h>

enum { CTL_REQ_MAX = 128, CTL_REPLY_MAX = 1 << 20 };

/* Sends req to the socket at path; the reply (malloc'd) in *reply. */
int ctl_request(const char *path, const char *req, char **reply);

#endif
