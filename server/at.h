/* AT firmware projects (docs/at.md): releases that are one whole firmware
 * image (firmware name MODEL_AT_BSP, no script), prebuilt delta packages
 * uploaded per base version (the guide's dfota.bin), and the default
 * projects per module family that a module without a KEY belongs to. The
 * check itself is the LuatOS one (api.c) once the project is known. */
#ifndef FOTA_SRV_AT_H
#define FOTA_SRV_AT_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"

#define SRV_AT_SCRIPT_VERSION "0.0.0"   /* what an AT release has for a script version */

/* Tables added to the store's schema (db.c runs it). */
extern const char *const srv_at_schema;

/* 1 when name (n bytes) is an AT firmware name MODEL_AT_BSP. */
int srv_at_is_firmware(const char *name, size_t n);

/* The product key of the project a module asking without project_key
 * belongs to: the project its IMEI is placed in (device assign, or its
 * first request with a key), else its family's default project (at family).
 * Takes s->lock. 1 found (key filled), 0 none, -1 database error. */
int srv_at_default_key(srv_server *s, const char *fwname, size_t fwlen, const char *imei, size_t imeilen,
                       char key[SRV_KEY_MAX + 1]);

/* Where an uploaded delta package of firmware fw_id for devices on core
 * `base` is kept (beside the built ones); the builder serves it first. */
int srv_at_prebuilt_path(const char *cache_dir, int64_t fw_id, uint32_t base, char *out, size_t cap);

/* Admin commands (main.c parses the options). */
int cmd_at_add(srv_db *d, const char *project, const char *model, const char *bsp, const char *version,
               const char *image, const char *key);
int cmd_at_delta(srv_db *d, const char *project, const char *model, const char *bsp, const char *package);
int cmd_at_family(srv_db *d, const char *model, const char *project);
int cmd_at_list(srv_db *d);
int cmd_device_assign(srv_db *d, const char *imei, const char *project);

#endif
