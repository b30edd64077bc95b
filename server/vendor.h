/* Vendor packages (vendor.c, docs/server.md "Vendor packages"): files made
 * by the vendor's tools (Luatools' SOC delta tool, the AT delta tool) that
 * modules on the vendor's firmware apply, served byte for byte to the
 * devices whose firmware name and base core they are for. Each is attached
 * to the release it brings devices to (a firmware row, made without image
 * or scripts when missing), so every check of api.c (configuration, newer,
 * --from, rollout, the loop ban, the log) applies around it; the package
 * choice (api.c) asks srv_vendor_find before building one. */
#ifndef FOTA_SRV_VENDOR_H
#define FOTA_SRV_VENDOR_H

#include <stddef.h>
#include <stdint.h>

#include "build.h"
#include "db.h"
#include "ops.h"
#include "srv.h"

#define SRV_VENDOR_ANY 0u            /* the base "any": no real core is 0 */
#define SRV_VENDOR_BASES_MAX 32
#define SRV_VENDOR_BASES_TEXT (SRV_VENDOR_BASES_MAX * 11)   /* "V123456789," each */
#define SRV_VENDOR_FILE_MAX 128      /* the uploaded file's name, as shown */
#define SRV_VENDOR_MAX_SIZE 491520   /* default limit: what a module accepts (480 KB) */

extern const char *const srv_vendor_schema;

/* What a vendor file name says; "" where it says nothing. */
typedef struct srv_vendor_guess {
    char firmware[SRV_NAME_MAX + 1];
    char to[SRV_VER_MAX];
    char from[SRV_VENDOR_BASES_TEXT];
} srv_vendor_guess;

/* Reads Luatools' PROJECT_CORE.x.z_LuatOS-SoC_BSP.bin (or .soc) and the AT
 * tool's dfota_final_..._V1016.bin (a V<n> before the last one is the
 * base). 1 when the name follows one of them, else 0 (out all ""). */
int srv_vendor_guess_name(const char *file_name, srv_vendor_guess *out);

typedef struct ops_vendor {
    int64_t id, firmware_id, created;
    char project[SRV_PROJECT_MAX + 1], firmware[SRV_NAME_MAX + 1], file_name[SRV_VENDOR_FILE_MAX + 1];
    uint32_t core;                    /* the target release */
    char version[SRV_VER_MAX];
    char bases[SRV_VENDOR_BASES_TEXT];  /* "V1101,V1102" or "any" */
    char sha256[65];
    uint64_t size;
    int release_added;                /* add: the target release was made for it */
} ops_vendor;

typedef int (*ops_vendor_cb)(void *ctx, const ops_vendor *v);

/* Stores file (shown as file_name: NULL = its base name) for project.
 * firmware, to, from: NULL = from the file name (srv_vendor_guess_name);
 * to: CORE.x.z (as LuatOS reports it: y is 0), CORE.X.Y.Z (the whole
 * script version, LuatOS-Air), or V<core> (AT: script 0.0.0); from: a
 * comma list of V<core> or "any". max_size 0 = SRV_VENDOR_MAX_SIZE. The
 * whole input is checked before anything is stored. 0 (out filled) or an
 * EXIT_* code with e filled. */
int ops_vendor_add(srv_db *d, const char *scope, const char *project, const char *firmware, const char *to,
                   const char *from, const char *file, const char *file_name, uint64_t max_size,
                   ops_vendor *out, ops_err *e);
/* project NULL: every project in scope. */
int ops_vendor_list(srv_db *d, const char *scope, const char *project, ops_vendor_cb cb, void *ctx,
                    ops_err *e);
/* Removes package id (of a project in scope); its target release goes too
 * when nothing else is left in it and no configuration or rollout names it.
 * 0 or an EXIT_* code with e filled. */
int ops_vendor_remove(srv_db *d, const char *scope, int64_t id, ops_err *e);

/* Serving: the vendor package of release fw_id for devices on core base
 * (an exact base before "any"): 1 (pkg filled), 0 none, -1 database error.
 * Under the server's lock (the serving connection). */
int srv_vendor_find(srv_db *d, int64_t fw_id, uint32_t base, srv_pkg *pkg);

#endif
