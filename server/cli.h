/* The admin CLI's commands (cli.c; main.c parses the options, export.c is
 * `export`): each calls an operation (ops.h, at.h, vendor.h, rollout.h,
 * console_auth.h) and prints its result or its error. Nothing else calls
 * them. They open the same database as a running server (WAL): a change is
 * seen by the server's next request. Return an exit code (util.h). */
#ifndef FOTA_SRV_CLI_H
#define FOTA_SRV_CLI_H

#include "db.h"
#include "util.h"

/* Prints "fota-server: " fmt (with arg) to stderr; returns EXIT_USAGE_ERR. */
int cli_fail(const char *fmt, const char *arg);
/* Prints a failed operation's message; returns its exit code. */
int cli_report(const ops_err *e);

/* scope: --owner, which of several projects of one name a --project means
 * (NULL: the name must be unique across owners). */
int cmd_project_add(srv_db *d, const char *name, const char *key, const char *owner);
int cmd_project_list(srv_db *d, const char *owner);
int cmd_firmware_add(srv_db *d, const char *scope, const char *project, const char *lua_project, const char *bsp, const char *core_ver,
                     const char *core, const char *script, const char *version, const char *key);
int cmd_firmware_list(srv_db *d, const char *scope, const char *project);
int cmd_config_set(srv_db *d, const char *scope, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall);
int cmd_config_show(srv_db *d, const char *scope, const char *project);
/* what: "add", "ban" or "unban" */
int cmd_device(srv_db *d, const char *what, const char *imei, const char *project, const char *owner);
int cmd_device_assign(srv_db *d, const char *owner, const char *imei, const char *project);
int cmd_log(srv_db *d, const char *imei, const char *date);
/* AT firmware (at.h) */
int cmd_at_add(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp, const char *version,
               const char *image, const char *key);
int cmd_at_delta(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp, const char *package);
int cmd_at_family(srv_db *d, const char *scope, const char *model, const char *project);
/* The guide's default AT projects (at.h), made or completed; owner may be NULL. */
int cmd_at_defaults(srv_db *d, const char *owner);
/* vendor packages (vendor.h); to/from/firmware NULL: from the file name */
int cmd_package_add(srv_db *d, const char *scope, const char *project, const char *firmware, const char *to,
                    const char *from, const char *max_size, const char *file);
int cmd_package_list(srv_db *d, const char *scope, const char *project);
int cmd_package_remove(srv_db *d, const char *id);
/* rollout start|status|pause|resume|abort|advance (rollout.h): prints the status */
int cmd_rollout(srv_db *d, const char *scope, const char *what, const char *project, const char *fwname, const char *waves,
                const char *every, const char *max_failure, const char *min_outcomes);
/* user add|passwd (create 1|0) and user list: the web console's accounts */
int cmd_user_set(srv_db *d, const char *name, const char *password, int create);
int cmd_user_list(srv_db *d);

#endif
