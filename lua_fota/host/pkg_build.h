/* Package writer: builds an LFPK package (pkg.h) from a core image or
 * delta and a script archive (archive.h), hashed and optionally signed
 * (sig.h). Host side: fotapack and fota-server use it, a device never does. */
#ifndef FOTA_PKG_BUILD_H
#define FOTA_PKG_BUILD_H

#include <stdint.h>

#include "core/pkg.h"

typedef struct fota_pkg_build_opts {
    const char *project;               /* required, [A-Za-z0-9._-], 1..127 */
    const char *bsp;                   /* required */
    const char *firmware;              /* NULL = project "_LuatOS-SoC_" bsp */
    /* core: none, full image, or delta (an LFDL file from fota_delta_create_file;
     * its header must agree with base_sha256, core_image_len/_sha256) */
    int core_type;                     /* 0, FOTA_PKG_SEC_CORE_FULL or _DELTA */
    const char *core_path;             /* the image, or the delta file */
    uint32_t from_core_version;        /* delta only */
    const uint8_t *base_sha256;        /* delta only */
    uint32_t core_image_len;           /* delta only: size of the resulting image */
    const uint8_t *core_image_sha256;  /* delta only: hash of the resulting image */
    const char *script_archive_path;   /* an LFSA archive (compressed here); NULL = none */
    /* The release (both required): the core and script versions it was built
     * as; the sections present install its halves. */
    uint32_t release_core_version;
    const char *release_script_version; /* "x.y.z" */
    /* A partial package's pairing list (1..FOTA_PKG_MAX_RUNS_ON, any order,
     * no repeats); none = the release's own other half. Core versions for a
     * script-only package, script versions for a core-only one. */
    unsigned runs_on_count;
    const uint32_t *runs_on_core;
    const char *const *runs_on_script;
    int reinstall;                     /* may install over the same release */
    const char *sign_key_pem;          /* NUL-terminated P-256 private key; NULL = unsigned */
    uint32_t max_size;                 /* 0 = FOTA_PKG_DEFAULT_MAX_SIZE */
} fota_pkg_build_opts;

/* Writes the package to out_path (removed again on any failure). Sets
 * *total_len_out (may be NULL) to the package size, also when it returns
 * FOTA_PKG_E_TOO_LARGE. Other errors: FOTA_ERR_ARG (bad option, named
 * nowhere else), FOTA_ERR_RANGE (an input over FOTA_PKG_MAX_IMAGE),
 * FOTA_ERR_IO / FOTA_ERR_NOENT, FOTA_ERR_NOMEM. */
int fota_pkg_build(const fota_pkg_build_opts *o, const char *out_path, uint32_t *total_len_out);

#endif
