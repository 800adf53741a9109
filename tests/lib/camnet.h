/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * IP cameras for tests: a network namespace joined to this one by a veth
 * pair (10.NET.N.1 here, 10.NET.N.2 there), and camera servers run inside
 * it, each stopped by its pid file. Tests pick NET so they never collide.
 */
#ifndef MOAT_TESTS_CAMNET_H
#define MOAT_TESTS_CAMNET_H

#include "tests/lib/hub.h"

enum { CAMNET_SERVERS = 8 };

struct camnet {
	char ns[40];	   /* moat-NAME-PID */
	char ifp[8];	   /* interface prefix: IFPn-h, IFPn-c */
	unsigned int net;  /* 10.NET.n.0/24 */
	unsigned int n;	   /* from the pid: 20-219 */
	char addr[20];	   /* the cameras' address, 10.NET.n.2 */
	char pidfile[CAMNET_SERVERS][200];
	int servers;
};

/* Makes the namespace and the link; 0, or -1 with the reason printed. */
int camnet_up(struct camnet *c, const char *name, const char *ifp,
	      unsigned int net);

/*
 * Runs `DIR/PROGRAM ARGS` (h->bin) in the namespace, output to
 * h->dir/LOG, and waits up to 5 s until it listens on TCP port.
 */
int camnet_serve(struct camnet *c, const struct hub *h, const char *program,
		 const char *args, unsigned int port, const char *log);

/* Stops the servers (waiting up to 1 s), removes link and namespace. */
void camnet_down(struct camnet *c);

#endif
