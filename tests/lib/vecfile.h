/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Parser of the RFC 9180 Appendix A test vector text (tests/vectors/):
 * "### <Mode> Setup Information" sections of "name: hex" fields (a long
 * value continues on following lines of pure hex; a name alone takes its
 * value from the next lines, or is empty), then "#### Encryptions" and
 * "#### Exported Values" groups separated by blank lines. Bounded: the
 * file, each value, the setups and the groups have limits, and anything
 * unexpected is refused with the line number.
 */
#ifndef MOAT_TESTS_VECFILE_H
#define MOAT_TESTS_VECFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	VEC_FILE_MAX = 1 << 20,
	VEC_VALUE_MAX = 4096, /* decoded bytes of one value */
	VEC_SETUPS_MAX = 64,
	VEC_GROUPS_MAX = 512, /* encryptions or exports of one setup */
};

struct vec_buf {
	uint8_t *p;
	size_t len;
	bool set;
};

struct vec_enc {
	uint64_t seq;
	bool seq_set;
	struct vec_buf pt, aad, nonce, ct;
};

struct vec_exp {
	struct vec_buf ctx;
	uint64_t L;
	bool L_set;
	struct vec_buf value;
};

struct vec_setup {
	uint64_t mode, kem_id, kdf_id, aead_id;
	bool mode_set, kem_set, kdf_set, aead_set;
	struct vec_buf info, ikmE, pkEm, skEm, ikmR, pkRm, skRm, ikmS, pkSm,
		skSm, psk, psk_id, enc, shared_secret, key_schedule_context,
		secret, key, base_nonce, exporter_secret;
	struct vec_enc *encs;
	size_t n_enc;
	struct vec_exp *exps;
	size_t n_exp;
};

struct vec_file {
	struct vec_setup *setups;
	size_t n;
};

/* Parses text; 0 or -EINVAL (message on stderr unless quiet) / -ENOMEM. */
int vec_parse(const char *text, size_t len, bool quiet, struct vec_file *f);
int vec_load(const char *path, struct vec_file *f);
/* Accepts NULL and a zeroed struct. */
void vec_free(struct vec_file *f);

#endif
