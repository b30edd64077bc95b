/* A zlib-stream compressor with a bounded window and near-optimal parsing:
 * the delta generator's compressor for windows smaller than 32 KiB, where
 * libdeflate (whose window is always 32 KiB) cannot be used and zlib's lazy
 * parsing costs several percent. Host side only; the device inflates with
 * zlib. No global state. */
#ifndef FOTA_ZDEFLATE_H
#define FOTA_ZDEFLATE_H

#include <stddef.h>
#include <stdint.h>

/* Compresses in[0..n) into a zlib stream (RFC 1950/1951) whose header
 * declares a window of 2^wbits bytes (9..15) and whose matches reach no
 * further back. *out is malloc()ed, free() it. 0, FOTA_ERR_ARG or
 * FOTA_ERR_NOMEM. */
int fota_zdeflate(const uint8_t *in, size_t n, unsigned wbits, uint8_t **out, size_t *out_len);

/* The same; with split != 0 each 32 KiB block becomes smaller ones where
 * that is smaller (about 5 times the parsing work). */
int fota_zdeflate_split(const uint8_t *in, size_t n, unsigned wbits, int split, uint8_t **out,
                        size_t *out_len);

#endif
