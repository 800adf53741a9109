// SPDX-License-Identifier: GPL-2.0-only
/* Subnets from moat.conf (see subnet.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/subnet.h"

static bool bit_set(const uint8_t *a, unsigned int i)
{
	return a[i / 8] & (0x80 >> (i % 8));
}

bool subnet_has(const struct subnet *s, const uint8_t addr[16])
{
	for (unsigned int i = 0; i < s->bits; i++)
		if (bit_set(addr, i) != bit_set(s->addr, i))
			return false;
	return true;
}

int subnet_parse(const char *text, struct subnet *out, char *why,
		 size_t why_len)
{
	const char *slash = strchr(text, '/');
	char host[64], net[INET6_ADDRSTRLEN];
	unsigned long bits;
	char *end;
	uint8_t a[16];

	memset(out, 0, sizeof(*out));
	if (!slash || (size_t)(slash - text) >= sizeof(host) || !slash[1])
		goto bad;
	memcpy(host, text, (size_t)(slash - text));
	host[slash - text] = 0;
	bits = strtoul(slash + 1, &end, 10);
	if (*end || slash[1] < '0' || slash[1] > '9')
		goto bad;
	if (inet_pton(AF_INET6, host, a) == 1) {
		if (bits > 128)
			goto bad;
		out->v6 = true;
		memcpy(out->addr, a, 16);
		out->bits = (unsigned int)bits;
	} else if (inet_pton(AF_INET, host, a) == 1) {
		if (bits > 32)
			goto bad;
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(out->addr + 12, a, 4);
		out->bits = 96 + (unsigned int)bits;
	} else {
		goto bad;
	}
	for (unsigned int i = out->bits; i < 128; i++) {
		if (!bit_set(out->addr, i))
			continue;
		/* the network it names, for the message */
		for (unsigned int j = out->bits; j < 128; j++)
			out->addr[j / 8] &= (uint8_t)~(0x80 >> (j % 8));
		if (out->v6)
			inet_ntop(AF_INET6, out->addr, net, sizeof(net));
		else
			inet_ntop(AF_INET, out->addr + 12, net, sizeof(net));
		snprintf(why, why_len,
			 "has host bits set: the subnet is written with its first address, %s/%lu",
			 net, bits);
		return -EINVAL;
	}
	return 0;
bad:
	snprintf(why, why_len,
		 "is not a subnet like 192.168.1.0/24 or fd00::/64");
	return -EINVAL;
}
