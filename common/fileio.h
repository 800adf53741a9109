/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Crash-safe file writes and bounded file reads.
 *
 * file_write_atomic() writes a temporary file beside the target (created
 * with the given mode, never wider), fsyncs it, renames it over the target
 * and fsyncs the folder: after a crash the target holds either the old or
 * the new bytes, never a mix. file_read_bounded() refuses files larger than
 * max, so an untrusted file cannot make us allocate without bound.
 */
#ifndef MOAT_COMMON_FILEIO_H
#define MOAT_COMMON_FILEIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

int file_write_atomic(const char *path, const void *data, size_t len,
		      mode_t mode);

/*
 * Reads the whole file into a malloc'd buffer (NUL-terminated, the NUL not
 * counted in *len). Returns 0, -ENOENT, -EFBIG if larger than max, or
 * another -errno. The caller wipes and frees the buffer.
 */
int file_read_bounded(const char *path, size_t max, uint8_t **data,
		      size_t *len);

/* fsync a folder so a rename or unlink inside it is durable. */
int fsync_dir(const char *dir);

/* mkdir -p with the given mode for each created level. */
int mkdir_p(const char *path, mode_t mode);

#endif
