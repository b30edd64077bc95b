/* The operations on projects, firmware releases, upgrade configurations,
 * devices and the log (ops.c), behind both the admin CLI (cli.c prints
 * them) and the web console's JSON API (console_api.c). They print nothing: a failure
 * is an ops_err, rows go to a callback. `scope` is the acting console user:
 * only that user's projects (project.owner) and what is in them are seen;
 * NULL = the CLI, everything. Another user's object answers "not found". */
#ifndef FOTA_SRV_OPS_H
#define FOTA_SRV_OPS_H

#include "db.h"
#include "srv.h"
#include "util.h"

#define OPS_FAMILY_MAX 32

typedef struct ops_project {
    int64_t id, created;
    char name[SRV_PROJECT_MAX + 1], key[SRV_KEY_MAX + 1], owner[SRV_OWNER_MAX + 1], family[OPS_FAMILY_MAX + 1];
} ops_project;

typedef struct ops_firmware {
    int64_t id, created;
    char project[SRV_PROJECT_MAX + 1], name[SRV_NAME_MAX + 1], bsp[SRV_NAME_MAX + 1];
    uint32_t core;
    char version[SRV_VER_MAX];
    uint64_t core_size;
    int has_core, has_script;
} ops_firmware;

typedef struct ops_config {
    int64_t id;
    char firmware[SRV_NAME_MAX + 1], version[SRV_VER_MAX];
    int64_t firmware_id;
    uint32_t core;
    int enabled, all_devices, any_from, reinstall;
    const char *imeis, *from;     /* comma lists, valid during the callback ("" none) */
} ops_config;

typedef struct ops_device {
    char imei[SRV_IMEI_LEN + 1], project[SRV_PROJECT_MAX + 1], owner[SRV_OWNER_MAX + 1];
    char version[SRV_VER_MAX];    /* of its last request, "" none */
    int banned, last_code;
    int64_t created, last_ms;     /* last_ms 0: never asked */
} ops_device;

typedef struct ops_log {
    int64_t id, ts;
    char imei[SRV_IMEI_LEN + 1];
    int status, code;
    const char *request, *msg;    /* valid during the callback */
} ops_log;

/* Callbacks: non-zero stops the listing and is returned. */
typedef int (*ops_project_cb)(void *ctx, const ops_project *p);
typedef int (*ops_firmware_cb)(void *ctx, const ops_firmware *f);
typedef int (*ops_config_cb)(void *ctx, const ops_config *c);
typedef int (*ops_device_cb)(void *ctx, const ops_device *dv);
typedef int (*ops_log_cb)(void *ctx, const ops_log *l);

/* The project's id (> 0), or 0 with e filled (404) when it is not in scope. */
int64_t ops_project_find(srv_db *d, const char *scope, const char *name, ops_err *e);
/* The same without checking the name first (a name the CLI was given). */
int64_t ops_project_named(srv_db *d, const char *scope, const char *name, ops_err *e);
/* owner: the project's owner (the console: the user itself); family may be NULL. */
int ops_project_add(srv_db *d, const char *name, const char *key, const char *owner, const char *family,
                    ops_err *e);
int ops_project_list(srv_db *d, const char *scope, ops_project_cb cb, void *ctx, ops_err *e);

/* The platform's firmware name: PROJECT_LuatOS-SoC_BSP (LuatOS) or MODEL_AT_BSP (AT). */
int ops_firmware_name(const char *project_or_model, const char *bsp, int at, char *out, size_t cap,
                      ops_err *e);
/* core NULL: no image (prebuilt packages); script NULL: none (AT). key NULL:
 * the server's. out (may be NULL) gets the stored release. */
int ops_firmware_add(srv_db *d, const char *scope, const char *project, const char *name, const char *bsp,
                     const char *core_ver, const char *core, const char *script, const char *version,
                     const char *key, ops_firmware *out, ops_err *e);
/* Copies src (at most max bytes) into DATA/sub/<sha256>.ext once: out gets
 * its path, size_out (may be NULL) its size, sha_hex its hash. 0 / -1. */
int ops_store_file(srv_db *d, const char *src, const char *sub, const char *ext, uint64_t max,
                   char *out, size_t cap, uint64_t *size_out, char sha_hex[65]);
int ops_firmware_list(srv_db *d, const char *scope, const char *project, ops_firmware_cb cb, void *ctx,
                      ops_err *e);

/* Unset (NULL) options keep their value; imeis "" or "all" = every device,
 * from "" or "any" = every version; lists are comma separated. */
int ops_config_set(srv_db *d, const char *scope, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall, ops_err *e);
int ops_config_show(srv_db *d, const char *scope, const char *project, ops_config_cb cb, void *ctx,
                    ops_err *e);

/* what: "add" (project, owner may be NULL), "ban" or "unban". A scoped
 * caller acts only on devices of its projects. */
int ops_device_act(srv_db *d, const char *scope, const char *what, const char *imei, const char *project,
               const char *owner, ops_err *e);
/* project NULL: all in scope; imei_part NULL: all, else IMEIs containing it. */
int ops_device_list(srv_db *d, const char *scope, const char *project, const char *imei_part,
                    ops_device_cb cb, void *ctx, ops_err *e);

/* date "YYYY-MM-DD" (local) or NULL; newest first or oldest first; limit 0 = all. */
int ops_log_list(srv_db *d, const char *scope, const char *imei, const char *date, int newest_first,
                 unsigned limit, ops_log_cb cb, void *ctx, ops_err *e);

/* The meaning and advice of a platform answer code (English), for the log. */
const char *ops_code_meaning(int code);

#endif
