/* Admin commands of fota-server (admin.c); main.c parses the options. */
#ifndef FOTA_SRV_ADMIN_H
#define FOTA_SRV_ADMIN_H

#include "srv.h"

enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_USAGE_ERR = 2, EXIT_IO_ERR = 3 };

int cmd_project_add(srv_db *d, const char *name, const char *key, const char *owner);
int cmd_project_list(srv_db *d);
int cmd_firmware_add(srv_db *d, const char *project, const char *bsp, const char *core_ver,
                     const char *core, const char *script, const char *version, const char *key);
/* firmware add with the firmware name given; core NULL = no image (packages
 * uploaded prebuilt), script NULL = none (AT firmware, server/at.c). */
int firmware_add_named(srv_db *d, const char *project, const char *name, const char *bsp,
                       const char *core_ver, const char *core, const char *script, const char *version,
                       const char *key);
int cmd_firmware_list(srv_db *d, const char *project);
int cmd_config_set(srv_db *d, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall);
int cmd_config_show(srv_db *d, const char *project);
/* what: "add", "ban" or "unban" */
int cmd_device(srv_db *d, const char *what, const char *imei, const char *project, const char *owner);
int cmd_log(srv_db *d, const char *imei, const char *date);

/* Helpers of admin.c that the AT commands (at.c) share. */
int fail(const char *fmt, const char *arg);   /* prints, returns EXIT_USAGE_ERR */
store_stmt *prep(srv_db *d, const char *sql);
int exec_text(srv_db *d, const char *sql, int n, const char *const *v);
int64_t project_id(srv_db *d, const char *name, char *owner, size_t cap);
int copy_file(const char *from, const char *to, uint64_t max);

#endif
