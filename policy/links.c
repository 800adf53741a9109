// SPDX-License-Identifier: GPL-2.0-only
/* Interfaces through rtnetlink (see links.h). */
#include <errno.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "policy/links.h"

static int nl_open(void)
{
	struct sockaddr_nl a = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static struct link *find(struct link *l, int n, unsigned int ifindex)
{
	for (int i = 0; i < n; i++)
		if (l[i].ifindex == ifindex)
			return &l[i];
	return NULL;
}

/* IFLA_LINKINFO -> IFLA_INFO_KIND == "bridge" */
static bool is_bridge(const struct rtattr *info)
{
	int len = (int)RTA_PAYLOAD(info);

	for (const struct rtattr *a = RTA_DATA(info); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_INFO_KIND &&
		    !strncmp(RTA_DATA(a), "bridge", RTA_PAYLOAD(a)))
			return true;
	return false;
}

/* IFLA_PROTINFO (AF_BRIDGE) -> IFLA_BRPORT_ISOLATED */
static bool isolated(const struct rtattr *pi)
{
	int len = (int)RTA_PAYLOAD(pi);

	for (const struct rtattr *a = RTA_DATA(pi); RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if ((a->rta_type & NLA_TYPE_MASK) == IFLA_BRPORT_ISOLATED &&
		    RTA_PAYLOAD(a) >= 1)
			return *(const uint8_t *)RTA_DATA(a) != 0;
	return false;
}

/* One RTM_NEWLINK message into l[*n] (family AF_UNSPEC: a new entry;
 * AF_BRIDGE: the port flags of one already seen). */
static void one(const struct nlmsghdr *h, struct link *l, int *n, int max)
{
	const struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	struct link *k;

	if (ifi->ifi_family == AF_BRIDGE) {
		k = find(l, *n, (unsigned int)ifi->ifi_index);
		for (const struct rtattr *a = IFLA_RTA(ifi); k && RTA_OK(a, len);
		     a = RTA_NEXT(a, len))
			if ((a->rta_type & NLA_TYPE_MASK) == IFLA_PROTINFO)
				k->isolated = isolated(a);
		return;
	}
	if (*n >= max)
		return;
	k = &l[(*n)++];
	memset(k, 0, sizeof(*k));
	k->ifindex = (unsigned int)ifi->ifi_index;
	for (const struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, len);
	     a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			snprintf(k->name, sizeof(k->name), "%.*s",
				 (int)RTA_PAYLOAD(a), (const char *)RTA_DATA(a));
		else if (a->rta_type == IFLA_MASTER && RTA_PAYLOAD(a) >= 4)
			memcpy(&k->master, RTA_DATA(a), 4);
		else if (a->rta_type == IFLA_ADDRESS && RTA_PAYLOAD(a) == 6) {
			memcpy(k->mac, RTA_DATA(a), 6);
			k->has_mac = true;
		} else if (a->rta_type == IFLA_LINKINFO)
			k->bridge = is_bridge(a);
	}
}

/* A dump of family's links, each message given to one(). */
static int dump(int fd, unsigned char family, struct link *l, int *n, int max)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = { .h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_GETLINK,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP, .nlmsg_seq = 1 },
		  .i = { .ifi_family = family } };
	static char buf[1 << 16];

	if (send(fd, &req, sizeof(req), 0) < 0)
		return -errno;
	for (;;) {
		ssize_t got = recv(fd, buf, sizeof(buf), 0);
		int len = (int)got;

		if (got < 0)
			return -errno;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				return 0;
			if (h->nlmsg_type == NLMSG_ERROR)
				return -EIO;
			if (h->nlmsg_type == RTM_NEWLINK)
				one(h, l, n, max);
		}
	}
}

int links_get(struct link *out, size_t max)
{
	int fd = nl_open(), n = 0, ret;

	if (fd < 0)
		return fd;
	ret = dump(fd, AF_UNSPEC, out, &n, (int)max);
	/* bridge ports again, for their flags */
	if (!ret)
		ret = dump(fd, AF_BRIDGE, out, &n, (int)max);
	close(fd);
	return ret ? ret : n;
}

int links_isolate(unsigned int ifindex)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
		struct rtattr pi;
		struct rtattr iso;
		uint8_t on, pad[3];
	} req = {
		.h = { .nlmsg_len = sizeof(req), .nlmsg_type = RTM_SETLINK,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK, .nlmsg_seq = 2 },
		.i = { .ifi_family = AF_BRIDGE, .ifi_index = (int)ifindex },
		.pi = { .rta_len = RTA_LENGTH(RTA_LENGTH(1)),
			.rta_type = IFLA_PROTINFO | NLA_F_NESTED },
		.iso = { .rta_len = RTA_LENGTH(1),
			 .rta_type = IFLA_BRPORT_ISOLATED },
		.on = 1,
	};
	char buf[512];
	int fd = nl_open(), ret = 0;
	ssize_t got;

	if (fd < 0)
		return fd;
	if (send(fd, &req, sizeof(req), 0) < 0)
		ret = -errno;
	got = ret ? -1 : recv(fd, buf, sizeof(buf), 0);
	if (!ret && got >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr))) {
		const struct nlmsgerr *e = NLMSG_DATA((struct nlmsghdr *)buf);

		ret = e->error;
	} else if (!ret) {
		ret = -EIO;
	}
	close(fd);
	return ret;
}
