/* The script archive's writer (host side: fotapack, the server, the
 * simulator's binding): LFSA files (core/archive.h) from a file list or a
 * script directory. All file access goes through port.h. */
#ifndef FOTA_ARCHIVE_PACK_H
#define FOTA_ARCHIVE_PACK_H

#include <stddef.h>

#include "core/archive.h"

/* Writes an archive of n files (names as stored, paths to read) to out_path.
 * Order of the input does not matter; entries are sorted by name. Returns
 * 0, FOTA_ERR_ARG (bad/duplicate name, n out of range), FOTA_ARC_E_NAME_CLASH,
 * FOTA_ARC_E_MAIN_NOT_TOP or FOTA_ARC_E_TOO_DEEP (an archive a device would
 * refuse as unbootable; nothing written), FOTA_ERR_RANGE (over
 * FOTA_ARC_MAX_SIZE), FOTA_ERR_IO/NOENT, FOTA_ERR_NOMEM. */
int fota_arc_pack(const char *const *names, const char *const *paths, size_t n,
                  const char *out_path);

/* Archives a script directory — its regular files, recursively, dot-files
 * (.git, editor files) skipped — or one file, to out_path. Returns 0 or
 * FOTA_ERR_ARG (a name not allowed, too many files, nesting deeper than 8,
 * no file at all, or a tree a module could not boot: a file that is also a
 * directory of another, a main.lua below the top), FOTA_ERR_NOENT,
 * FOTA_ERR_IO, FOTA_ERR_NOMEM, FOTA_ERR_RANGE; why (may be NULL) tells which
 * file or directory. */
int fota_arc_pack_path(const char *src, const char *out_path, char *why, size_t why_len);

#endif
