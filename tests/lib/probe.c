// SPDX-License-Identifier: GPL-2.0-only
/* Probes across network namespaces (see probe.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/probe.h"

int probe_join(const char *ns)
{
	char p[128];
	int fd, ret = 0;

	snprintf(p, sizeof(p), "/run/netns/%s", ns);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int probe_in(const char *ns, int (*fn)(void *arg), void *arg)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (!pid)
		_exit(probe_join(ns) ? 255 : fn(arg) & 0xff);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

static volatile sig_atomic_t done;

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

/* A child in ns that runs fn until SIGTERM, its output line-buffered to
 * log. */
static pid_t child(const char *ns, const char *log, void (*fn)(void *),
		   void *arg)
{
	pid_t pid = fork();

	if (pid)
		return pid;
	if (!freopen(log, "w", stdout) || probe_join(ns))
		_exit(1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGTERM, on_term);
	fn(arg);
	fflush(stdout);
	_exit(0);
}

void probe_stop(pid_t pid)
{
	int st;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

/* The printable start of a payload, for markers. */
static void text(const uint8_t *p, size_t n, char *out, size_t len)
{
	size_t i;

	for (i = 0; i < n && i + 1 < len && p[i] > 0x20 && p[i] < 0x7f; i++)
		out[i] = (char)p[i];
	out[i] = '\0';
}

static void print_l4(uint8_t proto, const uint8_t *l4, size_t n)
{
	char pl[24] = "";
	size_t hl;

	if ((proto == IPPROTO_TCP && n >= 20) || (proto == IPPROTO_UDP && n >= 8)) {
		hl = proto == IPPROTO_TCP ? (size_t)(l4[12] >> 4) * 4 : 8;
		if (hl > n)
			hl = n;
		text(l4 + hl, n - hl, pl, sizeof(pl));
		printf(" sport=%u dport=%u len=%zu pl=%s\n",
		       (unsigned)l4[0] << 8 | l4[1], (unsigned)l4[2] << 8 | l4[3],
		       n - hl, pl);
	} else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && n >= 8) {
		printf(" type=%u id=%u len=%zu\n", l4[0],
		       (unsigned)l4[4] << 8 | l4[5], n);
	} else {
		printf(" len=%zu\n", n);
	}
}

static void frame(const uint8_t *f, size_t n)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	unsigned int type;

	if (n < 14)
		return;
	type = (unsigned)f[12] << 8 | f[13];
	f += 14;
	n -= 14;
	if (type == ETH_P_ARP && n >= 28) {
		printf("arp op=%u sha=%02x:%02x:%02x:%02x:%02x:%02x spa=%s tpa=%s\n",
		       f[7], f[8], f[9], f[10], f[11], f[12], f[13],
		       inet_ntop(AF_INET, f + 14, s, sizeof(s)),
		       inet_ntop(AF_INET, f + 24, d, sizeof(d)));
	} else if (type == ETH_P_IP && n >= 20) {
		size_t hl = (size_t)(f[0] & 15) * 4, tot = (size_t)f[2] << 8 | f[3];

		if (tot > n)
			tot = n;
		if (hl < 20 || hl > tot)
			return;
		printf("ip4 %s>%s p=%u", inet_ntop(AF_INET, f + 12, s, sizeof(s)),
		       inet_ntop(AF_INET, f + 16, d, sizeof(d)), f[9]);
		print_l4(f[9], f + hl, tot - hl);
	} else if (type == ETH_P_IPV6 && n >= 40) {
		size_t pl = (size_t)f[4] << 8 | f[5];
		uint8_t next = f[6];
		size_t off = 40;

		if (pl > n - 40)
			pl = n - 40;
		if (next == 0 && pl >= 8) { /* hop-by-hop */
			next = f[40];
			off += ((size_t)f[41] + 1) * 8;
		}
		if (off > 40 + pl)
			return;
		printf("ip6 %s>%s p=%u", inet_ntop(AF_INET6, f + 8, s, sizeof(s)),
		       inet_ntop(AF_INET6, f + 24, d, sizeof(d)), next);
		print_l4(next, f + off, 40 + pl - off);
	} else {
		printf("eth type=0x%04x len=%zu\n", type, n);
	}
}

static void tap(void *arg)
{
	const char *ifname = arg;
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_ALL) };
	int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
	uint8_t buf[2048];

	ll.sll_ifindex = (int)if_nametoindex(ifname);
	if (fd < 0 || !ll.sll_ifindex ||
	    bind(fd, (struct sockaddr *)&ll, sizeof(ll)) < 0) {
		printf("tap: cannot open %s: %s\n", ifname, strerror(errno));
		return;
	}
	printf("tap: on %s\n", ifname);
	while (!done) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		struct sockaddr_ll from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (poll(&pf, 1, 100) <= 0)
			continue;
		n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &fl);
		/* what arrives on this link, not what this host sends */
		if (n > 0 && from.sll_pkttype != PACKET_OUTGOING)
			frame(buf, (size_t)n);
	}
	close(fd);
}

pid_t probe_tap(const char *ns, const char *ifname, const char *log)
{
	pid_t pid = child(ns, log, tap, (void *)ifname);

	/* ready when it says so */
	for (int i = 0; i < 100 && !probe_saw(log, "tap:", NULL); i++)
		usleep(20000);
	return pid;
}

struct ports {
	const unsigned int *tcp, *udp;
};

static int sock6(int type, unsigned int port)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6,
				  .sin6_port = htons((uint16_t)port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	int fd = socket(AF_INET6, type | SOCK_NONBLOCK, 0), zero = 0, one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 64) < 0)) {
		printf("listen: port %u: %s\n", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void peer(const struct sockaddr_in6 *a, char *out, size_t len)
{
	if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
		inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)len);
	else
		inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)len);
}

static void listener(void *arg)
{
	const struct ports *p = arg;
	struct pollfd pf[32];
	unsigned int port[32];
	int n = 0, n_tcp;

	for (int i = 0; p->tcp[i] && n < 16; i++, n++) {
		pf[n] = (struct pollfd){ .fd = sock6(SOCK_STREAM, p->tcp[i]),
					 .events = POLLIN };
		port[n] = p->tcp[i];
	}
	n_tcp = n;
	for (int i = 0; p->udp[i] && n < 32; i++, n++) {
		pf[n] = (struct pollfd){ .fd = sock6(SOCK_DGRAM, p->udp[i]),
					 .events = POLLIN };
		port[n] = p->udp[i];
	}
	printf("listen: ready\n");
	while (!done) {
		if (poll(pf, (nfds_t)n, 100) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct sockaddr_in6 a;
			socklen_t al = sizeof(a);
			char who[INET6_ADDRSTRLEN], pl[24];
			uint8_t buf[512];
			ssize_t k;
			int c;

			if (!(pf[i].revents & POLLIN))
				continue;
			if (i < n_tcp) {
				c = accept(pf[i].fd, (struct sockaddr *)&a, &al);
				if (c < 0)
					continue;
				peer(&a, who, sizeof(who));
				printf("tcp %s sport=%u dport=%u\n", who,
				       ntohs(a.sin6_port), port[i]);
				close(c);
				continue;
			}
			k = recvfrom(pf[i].fd, buf, sizeof(buf), 0,
				     (struct sockaddr *)&a, &al);
			if (k < 0)
				continue;
			peer(&a, who, sizeof(who));
			text(buf, (size_t)k, pl, sizeof(pl));
			printf("udp %s sport=%u dport=%u pl=%s\n", who,
			       ntohs(a.sin6_port), port[i], pl);
		}
	}
}

pid_t probe_listen(const char *ns, const unsigned int *tcp_ports,
		   const unsigned int *udp_ports, const char *log)
{
	static struct ports p;
	pid_t pid;

	p.tcp = tcp_ports;
	p.udp = udp_ports;
	pid = child(ns, log, listener, &p);
	for (int i = 0; i < 100 && !probe_saw(log, "listen: ready", NULL); i++)
		usleep(20000);
	return pid;
}

/* Calls fn for each line of log that holds every word of ap. */
static long each_line(const char *log, va_list ap,
		      long (*fn)(const char *line))
{
	const char *w[16];
	char line[512];
	long sum = 0;
	int n = 0;
	FILE *f;

	while (n < 16 && (w[n] = va_arg(ap, const char *)))
		n++;
	f = fopen(log, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		int k;

		for (k = 0; k < n && strstr(line, w[k]); k++)
			;
		if (k == n)
			sum += fn(line);
	}
	fclose(f);
	return sum;
}

static long one(const char *line)
{
	(void)line;
	return 1;
}

static long len_of(const char *line)
{
	const char *l = strstr(line, " len=");

	return l ? strtol(l + 5, NULL, 10) : 0;
}

bool probe_saw(const char *log, ...)
{
	va_list ap;
	long n;

	va_start(ap, log);
	n = each_line(log, ap, one);
	va_end(ap);
	return n > 0;
}

long probe_bytes(const char *log, ...)
{
	va_list ap;
	long n;

	va_start(ap, log);
	n = each_line(log, ap, len_of);
	va_end(ap);
	return n;
}
