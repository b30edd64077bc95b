/* AT firmware projects (at.c, docs/at.md): releases that are one whole
 * firmware image (firmware name MODEL_AT_BSP, no script), prebuilt delta
 * packages uploaded per base version (the guide's dfota.bin), and the
 * default projects per module family that a module without a KEY belongs
 * to. The check itself is the LuatOS one (api.c) once the project is
 * known. The operations print nothing: the CLI (cli.c) and the console
 * report their ops_err. */
#ifndef FOTA_SRV_AT_H
#define FOTA_SRV_AT_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "ops.h"
#include "srv.h"
#include "util.h"

#define SRV_AT_SCRIPT_VERSION "0.0.0"   /* what an AT release has for a script version */

/* Tables added to the database (schema.c registers them). */
extern const char *const srv_at_schema;

/* 1 when name (n bytes) is an AT firmware name MODEL_AT_BSP. */
int srv_at_is_firmware(const char *name, size_t n);
/* The length of its MODEL (> 0), or 0 when it is not one. */
size_t srv_at_model_len(const char *name, size_t n);

/* The product key of the project a module asking without project_key
 * belongs to: the project its IMEI is placed in (device assign, or its
 * first request with a key), else its family's default project (at family).
 * The caller holds the lock of d. 1 found (key filled), 0 none, -1 database
 * error. */
int srv_at_default_key(srv_db *d, const char *fwname, size_t fwlen, const char *imei, size_t imeilen,
                       char key[SRV_KEY_MAX + 1]);

/* MODEL_AT_BSP into out; e says what is wrong with model or bsp. */
int srv_at_firmware_name(const char *model, const char *bsp, char *out, size_t cap, ops_err *e);

/* What ops_at_delta stored. */
typedef struct srv_at_delta {
    char name[SRV_NAME_MAX + 1];      /* the firmware name */
    uint32_t from, to;                /* the package's base and target core */
    int64_t fw_id;                    /* the target release */
    uint64_t size;
    int is_signed;
    int release_added;                /* the target release was made for it (without an image) */
    ops_firmware release;             /* that release, when release_added */
} srv_at_delta;

/* A prebuilt delta package for (project, model, bsp): checked whole (hash,
 * sections; a signature is the devices' to check) before anything is
 * stored, then kept where the builder serves it to modules on its base
 * version; its target release is made (without an image) when missing.
 * scope as ops.h (NULL: the CLI). 0, or an EXIT_* code with e filled. */
int ops_at_delta(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp,
                 const char *package, srv_at_delta *out, ops_err *e);
/* Modules of model asking without a KEY whose IMEI is in no project belong
 * to project. 0, or an EXIT_* code with e filled. */
int ops_at_family(srv_db *d, const char *scope, const char *model, const char *project, ops_err *e);

/* The guide's default projects, one per module family, with the models
 * that belong to each (docs/at.md). */
typedef struct srv_at_family_default {
    const char *project;
    const char *const *models;        /* NULL-terminated */
} srv_at_family_default;
extern const srv_at_family_default srv_at_defaults[];
#define SRV_AT_DEFAULTS 3

/* What ops_at_defaults did with one default project. */
typedef struct srv_at_default_row {
    const char *project;
    char key[SRV_KEY_MAX + 1];
    int added;                        /* made now (else it was there: its key kept) */
    char models[256];                 /* models whose default it is, space separated */
    char elsewhere[512];              /* "MODEL:PROJECT ..." models left with another project */
} srv_at_default_row;
typedef int (*srv_at_default_cb)(void *ctx, const srv_at_default_row *r);

/* Makes the default projects owner (NULL: no owner) lacks, with a random
 * ProductKey each, and makes each the default of its models unless a model
 * has one already (at family changes that). Running it again changes
 * nothing. 0, or an EXIT_* code with e filled. */
int ops_at_defaults(srv_db *d, const char *owner, srv_at_default_cb cb, void *ctx, ops_err *e);

#endif
