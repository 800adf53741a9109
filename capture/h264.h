/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What moat itself reads of a camera's H.264: the NAL unit types in an
 * Annex-B access unit (keyframe? parameter sets?). Camera bytes are
 * untrusted; this scan reads nothing past len (tests/fuzz/fuzz_camera.c).
 */
#ifndef MOAT_CAPTURE_H264_H
#define MOAT_CAPTURE_H264_H

#include <stddef.h>
#include <stdint.h>

enum { H264_NAL_IDR = 5, H264_NAL_SPS = 7, H264_NAL_PPS = 8 };

/* Bit t set for each NAL unit type t that follows a start code. */
uint32_t h264_nal_types(const uint8_t *p, size_t n);

#endif
