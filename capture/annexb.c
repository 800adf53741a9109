// SPDX-License-Identifier: GPL-2.0-only
#include <string.h>

#include "capture/annexb.h"
#include "common/err.h"

void annexb_init(struct annexb *a, const uint8_t *buf, size_t len)
{
	a->buf = buf;
	a->len = len;
	a->off = 0;
}

/*
 * Offset of the first start code (00 00 01, or 00 00 00 01 counted from its
 * first zero) at or after from; len if none.
 */
static size_t find_start(const uint8_t *b, size_t len, size_t from)
{
	size_t i = from + 2;

	while (i < len) {
		const uint8_t *one = memchr(b + i, 1, len - i);

		if (!one)
			return len;
		i = (size_t)(one - b);
		if (b[i - 1] == 0 && b[i - 2] == 0) {
			i -= 2;
			return i > from && b[i - 1] == 0 ? i - 1 : i;
		}
		i++;
	}
	return len;
}

/* Length of the start code at off (3 or 4), 0 if there is none. */
static size_t start_code_len(const uint8_t *b, size_t len, size_t off)
{
	if (len - off >= 3 && !b[off] && !b[off + 1] && b[off + 2] == 1)
		return 3;
	if (len - off >= 4 && !b[off] && !b[off + 1] && !b[off + 2] &&
	    b[off + 3] == 1)
		return 4;
	return 0;
}

/* Does a NAL of this type (and first slice byte) open a new picture? */
static bool nal_starts_au(unsigned int type, const uint8_t *nal, size_t n)
{
	if (type == NAL_SEI || type == NAL_SPS || type == NAL_PPS ||
	    type == NAL_AUD || (type >= 14 && type <= 18))
		return true;
	/* first_mb_in_slice == 0 is ue(v) "1": the top bit of the byte. */
	if (type == NAL_SLICE || type == NAL_IDR)
		return n > 1 && (nal[1] & 0x80);
	return false;
}

int annexb_next_au(struct annexb *a, struct annexb_au *au)
{
	size_t off = a->off, sc, next;
	bool vcl = false;

	memset(au, 0, sizeof(*au));
	if (off >= a->len)
		return 0;
	if (!start_code_len(a->buf, a->len, off))
		return -MOAT_E_MALFORMED;
	au->p = a->buf + off;
	while (off < a->len) {
		const uint8_t *nal;
		unsigned int type;

		sc = start_code_len(a->buf, a->len, off);
		next = find_start(a->buf, a->len, off + sc);
		nal = a->buf + off + sc;
		type = next > off + sc ? nal[0] & 0x1f : 0;
		if (vcl && nal_starts_au(type, nal, next - off - sc))
			break;
		vcl |= type == NAL_SLICE || type == NAL_IDR;
		au->key |= type == NAL_IDR;
		au->config |= type == NAL_SPS || type == NAL_PPS;
		au->nals++;
		off = next;
		if (off - a->off > ANNEXB_AU_MAX)
			return -MOAT_E_LIMIT;
	}
	au->len = off - a->off;
	a->off = off;
	return 1;
}
