// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for pairing (crypto/pair.c): a typed or scanned code
 * (untrusted text), and each message one side of a pairing receives from
 * the other (untrusted bytes off the LAN). The first byte picks which.
 * What parses must say the same once written again; a code that parses
 * must format back to a code that parses to the same.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "crypto/pair.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[PAIR_MSG_MAX], mac[PAIR_MAC_LEN];
	char why[PAIR_ERROR_MAX + 1];
	bool approved;

	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0: {
		char *s = malloc(size);
		struct pair_code c, d;
		char text[PAIR_CODE_TEXT_MAX];

		if (!s)
			return 0;
		memcpy(s, data + 1, size - 1);
		s[size - 1] = 0;
		if (!pair_code_parse(s, &c)) {
			if ((c.family != AF_INET && c.family != AF_INET6) ||
			    !c.port || pair_code_format(&c, text, sizeof(text)) ||
			    pair_code_parse(text, &d) || memcmp(&c, &d, sizeof(c)))
				__builtin_trap();
		}
		free(s);
		break;
	}
	case 1: {
		struct pair_hello h, again;

		if (!pair_hello_parse(data + 1, size - 1, &h)) {
			size_t n = pair_hello_put(&h, out);

			if (n != size - 1 || memcmp(out, data + 1, n) ||
			    pair_hello_parse(out, n, &again) ||
			    memcmp(&h, &again, sizeof(h)) ||
			    !h.name[0] || strlen(h.name) > PAIR_NAME_MAX)
				__builtin_trap();
		}
		break;
	}
	case 2: {
		struct pair_reply r;

		if (!pair_reply_parse(data + 1, size - 1, &r) &&
		    (pair_reply_put(&r, out) != size - 1 ||
		     memcmp(out, data + 1, size - 1)))
			__builtin_trap();
		break;
	}
	case 3:
		if (!pair_confirm_parse(data + 1, size - 1, mac) &&
		    (pair_confirm_put(mac, out) != size - 1 ||
		     memcmp(out, data + 1, size - 1)))
			__builtin_trap();
		break;
	default: {
		int r = pair_end_parse(data + 1, size - 1, &approved, why);

		if (r == 0 && size - 1 != 2)
			__builtin_trap();
		if (r == -MOAT_E_AUTH &&
		    strlen(why) != size - 2)
			__builtin_trap();
		break;
	}
	}
	return 0;
}
