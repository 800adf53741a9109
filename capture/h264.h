/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What moat itself reads of a camera's H.264 or H.265: the NAL unit types
 * in an Annex-B access unit (keyframe? parameter sets?). Camera bytes are
 * untrusted; these scans read nothing past len (tests/fuzz/fuzz_camera.c).
 */
#ifndef MOAT_CAPTURE_H264_H
#define MOAT_CAPTURE_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/annexb.h"

enum cap_codec { CODEC_H264 = 0, CODEC_H265 = 1 };

/* H.264's types are capture/annexb.h's NAL_IDR, NAL_SPS, NAL_PPS */
enum {
	H265_NAL_IRAP_FIRST = 16, /* BLA, IDR and CRA pictures: 16-21 */
	H265_NAL_IRAP_LAST = 21,
	H265_NAL_VPS = 32,
	H265_NAL_SPS = 33,
	H265_NAL_PPS = 34,
};

/* The NAL unit type from its first byte (H.264: 5 bits, H.265: 6). */
static inline unsigned int nal_type(enum cap_codec c, uint8_t b0)
{
	return c == CODEC_H265 ? (b0 >> 1) & 0x3f : b0 & 0x1f;
}

/* A picture a decoder can start from (H.264 IDR, H.265 IRAP). */
static inline bool nal_is_key(enum cap_codec c, unsigned int type)
{
	return c == CODEC_H265 ?
		       type >= H265_NAL_IRAP_FIRST && type <= H265_NAL_IRAP_LAST :
		       type == NAL_IDR;
}

/* A parameter set (H.264 SPS, PPS; H.265 VPS, SPS, PPS). */
static inline bool nal_is_ps(enum cap_codec c, unsigned int type)
{
	return c == CODEC_H265 ? type >= H265_NAL_VPS && type <= H265_NAL_PPS :
				 type == NAL_SPS || type == NAL_PPS;
}

/*
 * Scans an Annex-B access unit: *key if it holds a keyframe picture,
 * *config if it carries every parameter set the codec needs (H.264 SPS
 * and PPS; H.265 VPS, SPS and PPS).
 */
void nal_scan(enum cap_codec c, const uint8_t *p, size_t n, bool *key,
	      bool *config);

#endif
