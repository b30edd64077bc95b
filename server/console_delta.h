/* The console's delta tool (console_delta.c): a delta between two uploaded
 * images, made by a background thread per job (not the HTTP threads), at
 * most DELTA_JOBS at once. */
#ifndef FOTA_SRV_CONSOLE_DELTA_H
#define FOTA_SRV_CONSOLE_DELTA_H

#include <jansson.h>
#include <microhttpd.h>

#include "console_http.h"

/* POST delta {old, new}: starts a job (202). */
enum MHD_Result console_delta_start(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
/* GET delta?id= (file 0: its state) or delta/file?id= (file 1: the delta). */
enum MHD_Result console_delta_get(struct srv_console *k, struct MHD_Connection *c, const session *s, int file);
/* POST delta/save {id?, project, as: "release"|"package", ...}: the job
 * (id, else the user's latest) saved in the project: "release" its new
 * image as a release (kind "at" with model, bsp, core_version; kind
 * "luatos" with bsp, core_version, version, script, lua_project?);
 * "package" the delta in a signed package from core "from" to
 * "core_version", stored as the AT delta of model and bsp (at delta). */
enum MHD_Result console_delta_save(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in);
/* Waits for the running jobs (console_stop). */
void console_delta_stop(struct srv_console *k);

#endif
