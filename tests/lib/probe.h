/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Probes for network tests across namespaces (test_escape): run code in
 * a named network namespace, listen as a host would, and watch a link as
 * a wire tap would. Listeners and taps are child processes that write one
 * line per thing seen to a log file, until probe_stop().
 *
 * Tap lines:      ip4 SRC>DST p=PROTO sport=N dport=N len=PAYLOAD id=N pl=TEXT
 *                 ip6 SRC>DST p=... (the same fields)
 *                 arp op=N sha=MAC spa=IP tpa=IP
 * Listener lines: tcp SRC sport=N dport=N
 *                 udp SRC sport=N dport=N pl=TEXT
 * (pl: the payload's first printable bytes; id: an ICMP echo's id.)
 */
#ifndef MOAT_TESTS_PROBE_H
#define MOAT_TESTS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Joins the network namespace /run/netns/NAME: 0 or -errno. */
int probe_join(const char *ns);

/* Forks; the child joins ns and returns fn(arg) as its exit status (255
 * if it could not join). The parent waits: fn's status, or -1. */
int probe_in(const char *ns, int (*fn)(void *arg), void *arg);

/* A tap on interface ifname in ns, logging to log. */
pid_t probe_tap(const char *ns, const char *ifname, const char *log);

/* Listeners in ns: TCP on each of tcp_ports, UDP on each of udp_ports
 * (0-terminated lists; both IPv4 and IPv6, broadcasts too). */
pid_t probe_listen(const char *ns, const unsigned int *tcp_ports,
		   const unsigned int *udp_ports, const char *log);

/* Stops a tap or listener (its log is complete once this returns). */
void probe_stop(pid_t pid);

/* Whether a line of log contains all of the given words (NULL-ended). */
bool probe_saw(const char *log, ...) __attribute__((sentinel));

/* The sum of len= over the tap's lines that contain all the words. */
long probe_bytes(const char *log, ...) __attribute__((sentinel));

#endif
