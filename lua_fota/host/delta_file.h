/* Deltas as files through port.h (host side: fotapack, the server, tests):
 * the generator (delta_gen.h) on two image files, and the applier
 * (core/delta.h) on an old image and a delta file, with a window as large
 * as asked for. */
#ifndef FOTA_DELTA_FILE_H
#define FOTA_DELTA_FILE_H

#include <stdint.h>

#include "host/delta_gen.h"

/* fota_delta_create on files; out_path is removed again on failure. */
int fota_delta_create_file(const char *old_path, const char *new_path, const char *out_path,
                           const fota_delta_options *opt, uint64_t *out_len);
/* Applies a delta file to an old file, writing new_path through port.h
 * (removed again on failure). Deltas with windows above window_bits are
 * refused (FOTA_DELTA_E_TOO_LARGE); 0 is FOTA_DELTA_APPLY_WBITS, else
 * FOTA_DELTA_MIN_WBITS..FOTA_DELTA_MAX_WBITS (above FOTA_DELTA_APPLY_WBITS
 * an arena for it is malloc()ed: the host side, e.g. fotapack patch, takes
 * every window). sha256 may be NULL. */
int fota_delta_apply_file(const char *old_path, const char *delta_path, const char *new_path,
                          unsigned window_bits, uint64_t *new_size, uint8_t sha256[32]);

#endif
