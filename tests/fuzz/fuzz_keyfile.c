// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the key file parsers (hub key, viewer, viewer
 * identity). Each input goes to all three as it is, then again with its
 * last line replaced by the right checksum line: a fuzzer cannot forge
 * SHA-256, and without this it would never get past the checksum to the
 * field parsers. A parse that succeeds must give a struct that keeps the
 * documented limits.
 */
#include <string.h>

#include <openssl/evp.h>

#include "common/hex.h"
#include "crypto/keystore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *name)
{
	size_t n = strnlen(name, KS_NAME_MAX + 1);

	return n >= 1 && n <= KS_NAME_MAX && !memchr(name, '\n', n);
}

static void parse_all(const uint8_t *p, size_t n)
{
	struct seal_hub_key hub;
	struct ks_viewer v;
	struct ks_identity id;
	struct login_key lk;

	ks_parse_hub("fuzz", p, n, KS_QUIET, &hub);
	ks_parse_login("fuzz", p, n, KS_QUIET, &lk);
	if (!ks_parse_viewer("fuzz", p, n, KS_QUIET, &v) &&
	    (!name_ok(v.name) || v.added < 0 ||
	     (v.state != KS_VIEWER_PENDING && v.state != KS_VIEWER_APPROVED)))
		__builtin_trap();
	if (!ks_parse_identity("fuzz", p, n, KS_QUIET, &id) &&
	    (!name_ok(id.name) || id.n_keys < 1 || id.n_keys > KS_MAX_KEYS))
		__builtin_trap();
}

/* data with a correct checksum line in place of its last line. */
static size_t with_sum(const uint8_t *data, size_t size, uint8_t *out)
{
	static const char tag[] = "checksum ";
	const uint8_t *nl;
	size_t body = size, start;
	uint8_t md[32];

	if (size && data[size - 1] == '\n') {
		nl = memrchr(data, '\n', size - 1);
		start = nl ? (size_t)(nl - data) + 1 : 0;
		if (size - start > sizeof(tag) - 1 &&
		    !memcmp(data + start, tag, sizeof(tag) - 1))
			body = start;
	}
	memcpy(out, data, body);
	if (body && out[body - 1] != '\n')
		out[body++] = '\n';
	EVP_Digest(out, body, md, NULL, EVP_sha256(), NULL);
	memcpy(out + body, tag, sizeof(tag) - 1);
	body += sizeof(tag) - 1;
	hex_encode((char *)out + body, md, sizeof(md));
	body += 2 * sizeof(md);
	out[body++] = '\n';
	return body;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[KS_FILE_MAX + 128];

	parse_all(data, size);
	if (size <= KS_FILE_MAX)
		parse_all(buf, with_sum(data, size, buf));
	return 0;
}
