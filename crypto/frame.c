// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <string.h>

#include "common/err.h"
#include "common/rd.h"
#include "crypto/frame.h"

void frame_hdr_put(uint8_t out[static FRAME_HDR_LEN], const struct frame_hdr *f)
{
	out[0] = f->kind;
	out[1] = f->flags;
	put_u16(out + 2, 0);
	put_u32(out + 4, f->pad);
	put_u64(out + 8, f->ts_us);
}

int frame_parse(const uint8_t *p, size_t len, struct frame_hdr *f,
		const uint8_t **payload, size_t *payload_len)
{
	struct rd r;
	uint16_t reserved;

	memset(f, 0, sizeof(*f));
	*payload = NULL;
	*payload_len = 0;
	rd_init(&r, p, len);
	if (!rd_u8(&r, &f->kind) || !rd_u8(&r, &f->flags) ||
	    !rd_u16(&r, &reserved) || !rd_u32(&r, &f->pad) ||
	    !rd_u64(&r, &f->ts_us))
		return -MOAT_E_LENGTH;
	if ((f->kind != FRAME_KIND_META && f->kind != FRAME_KIND_AU) ||
	    reserved || (f->flags & ~(FRAME_F_KEY | FRAME_F_CONFIG)))
		return -MOAT_E_MALFORMED;
	if (f->pad > rd_left(&r))
		return -MOAT_E_MALFORMED;
	*payload = p + FRAME_HDR_LEN;
	*payload_len = rd_left(&r) - f->pad;
	return 0;
}

static long tlv_put(uint8_t *out, size_t cap, size_t off, uint8_t type,
		    const void *v, size_t n)
{
	if (n > UINT16_MAX || cap < off || cap - off < 3 + n)
		return -ENOBUFS;
	out[off] = type;
	put_u16(out + off + 1, (uint16_t)n);
	memcpy(out + off + 3, v, n);
	return (long)(off + 3 + n);
}

long frame_meta_put(uint8_t *out, size_t cap, const struct frame_meta *m)
{
	size_t name_len = strnlen(m->camera, sizeof(m->camera));
	uint8_t start[8];
	long off = 0;

	if (!name_len || name_len > META_NAME_MAX)
		return -EINVAL;
	put_u64(start, m->start_us);
	off = tlv_put(out, cap, 0, META_CAMERA, m->camera, name_len);
	if (off >= 0)
		off = tlv_put(out, cap, (size_t)off, META_CODEC, m->codec,
			      strnlen(m->codec, sizeof(m->codec)));
	if (off >= 0)
		off = tlv_put(out, cap, (size_t)off, META_START_US, start, 8);
	if (off >= 0)
		off = tlv_put(out, cap, (size_t)off, META_KIND, &m->kind, 1);
	if (off >= 0 && m->n_gops) {
		uint8_t t[8];

		if (m->n_gops > META_CLIP_GOPS_MAX)
			return -EINVAL;
		off = tlv_put(out, cap, (size_t)off, META_CLIP_GOPS, m->gops,
			      m->n_gops * 16);
		put_u64(t, m->motion_us);
		if (off >= 0)
			off = tlv_put(out, cap, (size_t)off, META_MOTION_US, t,
				      8);
		put_u64(t, m->end_us);
		if (off >= 0)
			off = tlv_put(out, cap, (size_t)off, META_END_US, t, 8);
	}
	return off;
}

static int meta_field(struct frame_meta *m, uint8_t type, const uint8_t *v,
		      uint16_t n)
{
	switch (type) {
	case META_CAMERA:
		if (!n || n > META_NAME_MAX)
			return -MOAT_E_MALFORMED;
		memcpy(m->camera, v, n);
		m->camera[n] = '\0';
		break;
	case META_CODEC:
		if (n >= sizeof(m->codec))
			return -MOAT_E_MALFORMED;
		memcpy(m->codec, v, n);
		m->codec[n] = '\0';
		break;
	case META_START_US:
		if (n != 8)
			return -MOAT_E_MALFORMED;
		m->start_us = get_u64(v);
		break;
	case META_KIND:
		if (n != 1)
			return -MOAT_E_MALFORMED;
		m->kind = v[0];
		break;
	case META_CLIP_GOPS:
		if (!n || n % 16)
			return -MOAT_E_MALFORMED;
		m->gops = v;
		m->n_gops = n / 16;
		break;
	case META_MOTION_US:
	case META_END_US:
		if (n != 8)
			return -MOAT_E_MALFORMED;
		*(type == META_MOTION_US ? &m->motion_us : &m->end_us) =
			get_u64(v);
		break;
	}
	return 0;
}

int frame_meta_parse(const uint8_t *p, size_t len, struct frame_meta *m)
{
	struct rd r;
	uint8_t type;
	uint16_t n;
	const uint8_t *v;
	int ret;

	memset(m, 0, sizeof(*m));
	rd_init(&r, p, len);
	while (rd_left(&r)) {
		if (!rd_u8(&r, &type) || !rd_u16(&r, &n))
			return -MOAT_E_LENGTH;
		v = rd_take(&r, n);
		if (!v)
			return -MOAT_E_LENGTH;
		ret = meta_field(m, type, v, n);
		if (ret)
			return ret;
	}
	return m->camera[0] ? 0 : -MOAT_E_MALFORMED;
}
