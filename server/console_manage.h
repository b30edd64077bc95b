/* Editing and removing from the console (console_manage.c): projects
 * (rename, new ProductKey, remove), releases, configurations, the checks
 * before a vendor package goes, a configuration chosen by its id, and what
 * an upload is (GET upload/info) with the refusal of a file that is not
 * what its field says. Every object is looked up within the user's own
 * projects. Callers hold no lock; each function takes the console's. */
#ifndef FOTA_SRV_CONSOLE_MANAGE_H
#define FOTA_SRV_CONSOLE_MANAGE_H

#include <jansson.h>
#include <microhttpd.h>

#include "console_http.h"

/* POST projects/edit {project, name}, projects/key {project},
 * projects/remove {project}, firmware/remove {project, id},
 * config/remove {project, id}. */
enum MHD_Result console_project_edit(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
enum MHD_Result console_project_key(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
enum MHD_Result console_project_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
enum MHD_Result console_firmware_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
enum MHD_Result console_config_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
/* GET upload/info?id=N. */
enum MHD_Result console_upload_info(struct srv_console *k, struct MHD_Connection *c, const session *s);

/* Lock held. The vendor package id of the user may go: 0, or e filled
 * (404, or 409 package_in_use while a configuration or a live rollout
 * targets its release). */
int console_package_removable(struct srv_console *k, const char *user, int64_t id, ops_err *e);
/* Lock held. The configuration id of the user's project: its firmware
 * name into fw (SRV_NAME_MAX + 1). 0, or e filled (404). When want (may be
 * NULL) names another firmware, the configuration is renamed to it first
 * (409 when the project has a configuration of that name). */
int console_config_pick(struct srv_console *k, const char *user, const char *project, int64_t id, const char *want,
                        char *fw, ops_err *e);
/* Lock held. The upload id of the user is what field needs: kinds a
 * comma list of console_file.h's kinds. 0, or e filled (400
 * file_mismatch with what the file is). */
int console_upload_is(struct srv_console *k, const char *user, const char *id, const char *field, const char *kinds,
                      ops_err *e);

#endif
