// SPDX-License-Identifier: GPL-2.0-only
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/camnet.h"

int camnet_up(struct camnet *c, const char *name, const char *ifp,
	      unsigned int net)
{
	char cmd[1024], out[1024];

	memset(c, 0, sizeof(*c));
	c->n = (unsigned int)getpid() % 200 + 20;
	c->net = net;
	snprintf(c->ns, sizeof(c->ns), "moat-%s-%d", name, (int)getpid());
	snprintf(c->ifp, sizeof(c->ifp), "%s", ifp);
	snprintf(c->addr, sizeof(c->addr), "10.%u.%u.2", net, c->n);
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %1$s && ip link add %2$s%3$u-h type veth peer name %2$s%3$u-c && "
		 "ip link set %2$s%3$u-c netns %1$s && ip addr add 10.%4$u.%3$u.1/24 dev %2$s%3$u-h && "
		 "ip link set %2$s%3$u-h up && ip -n %1$s addr add 10.%4$u.%3$u.2/24 dev %2$s%3$u-c && "
		 "ip -n %1$s link set %2$s%3$u-c up && ip -n %1$s link set lo up 2>&1",
		 c->ns, c->ifp, c->n, net);
	if (run_cmd(cmd, out, sizeof(out))) {
		fprintf(stderr, "netns: %s\n", out);
		return -1;
	}
	return 0;
}

int camnet_serve(struct camnet *c, const struct hub *h, const char *program,
		 const char *args, unsigned int port, const char *log)
{
	char cmd[8192], out[1024], *pidfile;

	if (c->servers == CAMNET_SERVERS)
		return -1;
	pidfile = c->pidfile[c->servers++];
	snprintf(pidfile, sizeof(c->pidfile[0]), "%s/%s.pid", h->dir, log);
	snprintf(cmd, sizeof(cmd),
		 "ip netns exec %s sh -c 'echo $$ > %s; exec %s/%s %s' >%s/%s 2>&1 &",
		 c->ns, pidfile, h->bin, program, args, h->dir, log);
	if (run_cmd(cmd, out, sizeof(out)))
		return -1;
	for (int i = 0; i < 50; i++) {
		snprintf(cmd, sizeof(cmd),
			 "ip netns exec %s ss -Hltn 'sport = :%u' | grep -q %u",
			 c->ns, port, port);
		if (!run_cmd(cmd, out, sizeof(out)))
			return 0;
		usleep(100000);
	}
	return -1;
}

void camnet_down(struct camnet *c)
{
	char cmd[600], out[256];

	for (int i = 0; i < c->servers; i++) {
		snprintf(cmd, sizeof(cmd),
			 "f=%s; [ -s $f ] && kill $(cat $f) 2>/dev/null; "
			 "for i in 1 2 3 4 5 6 7 8 9 10; do [ -s $f ] && kill -0 $(cat $f) 2>/dev/null || break; sleep 0.1; done; true",
			 c->pidfile[i]);
		run_cmd(cmd, out, sizeof(out));
	}
	if (c->ns[0]) {
		snprintf(cmd, sizeof(cmd),
			 "ip link del %s%u-h 2>/dev/null; ip netns del %s 2>/dev/null; true",
			 c->ifp, c->n, c->ns);
		run_cmd(cmd, out, sizeof(out));
	}
	c->ns[0] = 0;
	c->servers = 0;
}
