// SPDX-License-Identifier: GPL-2.0-only
/*
 * Cipher suite choice: AES-256-GCM where the CPU has AES (and carry-less
 * multiply) instructions, ChaCha20-Poly1305 where it does not (a Pi 4 or
 * Zero 2 W: software AES there is slow and not constant-time). MOAT_CIPHER
 * overrides.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#if defined(__aarch64__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

#include "crypto/stream.h"

static const struct {
	const char *name;
	enum seal_suite suite;
} suite_names[] = {
	{ "aes-256-gcm", SEAL_SUITE_AES256GCM },
	{ "chacha20-poly1305", SEAL_SUITE_CHACHA20POLY1305 },
};

#if defined(__aarch64__)
_Static_assert(SEAL_HWCAP_AES == HWCAP_AES && SEAL_HWCAP_PMULL == HWCAP_PMULL,
	       "arm64 hwcap bits");
#endif

bool seal_arm64_hwcap_has_aes(unsigned long hwcap)
{
	unsigned long want = SEAL_HWCAP_AES | SEAL_HWCAP_PMULL;

	return (hwcap & want) == want;
}

enum seal_suite seal_suite_for_cpu(bool cpu_has_aes)
{
	return cpu_has_aes ? SEAL_SUITE_AES256GCM : SEAL_SUITE_CHACHA20POLY1305;
}

bool seal_cpu_has_aes(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("aes") &&
	       __builtin_cpu_supports("pclmul");
#elif defined(__aarch64__)
	return seal_arm64_hwcap_has_aes(getauxval(AT_HWCAP));
#else
	return false;
#endif
}

const char *seal_suite_name(enum seal_suite suite)
{
	size_t i;

	for (i = 0; i < sizeof(suite_names) / sizeof(suite_names[0]); i++)
		if (suite_names[i].suite == suite)
			return suite_names[i].name;
	return "unknown";
}

int seal_suite_parse(const char *name, enum seal_suite *suite)
{
	size_t i;

	for (i = 0; i < sizeof(suite_names) / sizeof(suite_names[0]); i++) {
		if (!strcmp(suite_names[i].name, name)) {
			*suite = suite_names[i].suite;
			return 0;
		}
	}
	return -EINVAL;
}

int seal_suite_default(enum seal_suite *suite, const char **why)
{
	const char *env = getenv("MOAT_CIPHER");
	bool aes = seal_cpu_has_aes();

	if (env && *env) {
		*why = "set by MOAT_CIPHER";
		return seal_suite_parse(env, suite);
	}
	*suite = seal_suite_for_cpu(aes);
	*why = aes ? "the CPU has AES instructions" :
		     "the CPU has no AES instructions";
	return 0;
}
