/* The delta generator (host side: fotapack, the server; needs
 * libdivsufsort, zlib and libdeflate): the deltas that core/delta.h
 * applies, coded with the model of core/delta_model.h. Format in
 * docs/delta-format.md. No global state. */
#ifndef FOTA_DELTA_GEN_H
#define FOTA_DELTA_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "core/delta.h"

#ifndef FOTA_DELTA_GEN_WBITS
#define FOTA_DELTA_GEN_WBITS FOTA_DELTA_APPLY_WBITS   /* the generator's default window */
#endif

/* Builds a delta turning old into new: suffix-array matching with
 * approximate extension (bsdiff-class), one zlib stream of blocks. *out is
 * malloc()ed, free() it. Sizes above FOTA_DELTA_MAX_IMAGE: FOTA_ERR_RANGE.
 * Memory: about 5 x old + new + the delta (and a bit per byte of each for
 * the scan's Thumb-2 branch masks). opt may be NULL (all defaults). */
typedef struct fota_delta_options {
    unsigned window_bits;             /* 0: FOTA_DELTA_GEN_WBITS; else 9..15 */
    int has_base;                     /* base_address given; else found from the image */
    uint32_t base_address;            /* the address old's byte 0 is loaded at */
    int quick_rank;                   /* rank the candidates by a quick compression and try two scan
                                         thresholds, as for a new image above 1 MiB, whatever its size
                                         (tests: much faster, a little larger); 0: the default, every
                                         candidate of an image up to 1 MiB ranked by its real size */
    unsigned version;                 /* 0: the smallest of versions 3..5; else that one (3, 4: for appliers
                                         built before version 5) */
} fota_delta_options;

int fota_delta_create(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
                      size_t new_len, const fota_delta_options *opt, uint8_t **out, size_t *out_len);

#endif
