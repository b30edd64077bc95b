/* Files: whole-file operations built on the port layer (port.h) that the
 * package writer, the archive, the slots, the staging area and the server
 * share: a file's size, copying a file (whole, or into another while
 * hashing it), a file's SHA-256, and replacing a small file atomically. */
#ifndef FOTA_FILES_H
#define FOTA_FILES_H

#include <stddef.h>
#include <stdint.h>

#include <mbedtls/sha256.h>

#include "port/port.h"

/* Size of the file at path. 0, FOTA_ERR_NOENT or FOTA_ERR_IO. */
int fota_file_size(const char *path, uint64_t *size);

/* Appends the first size bytes of the file at path to out at *off (advanced
 * by what was written), feeding them to sha too when it is not NULL. A file
 * shorter than size is FOTA_ERR_IO. */
int fota_file_copy_into(fota_port_file *out, uint64_t *off, const char *path, uint64_t size,
                        mbedtls_sha256_context *sha);

/* Copies the file at from to a new file at to (truncated first, synced
 * after), refusing one over max bytes; on failure to is removed. 0,
 * FOTA_ERR_RANGE (over max) or the port's error. */
int fota_file_copy(const char *from, const char *to, uint64_t max);

/* SHA-256 of the first len bytes of an open file (FOTA_ERR_IO when shorter). */
int fota_file_sha256_range(fota_port_file *f, uint64_t len, uint8_t out[32]);

/* Replaces the file at path by len bytes, crash-safe: they go to path.tmp,
 * which is synced and then renamed over path, so after a power cut path
 * holds either its old or its new content. */
int fota_file_write_atomic(const char *path, const void *data, size_t len);

/* SHA-256 of a whole file, bounded by max_len (FOTA_ERR_RANGE when larger).
 * *len_out may be NULL. */
int fota_sha256_file(const char *path, uint64_t max_len, uint8_t out[32], uint64_t *len_out);


#endif
