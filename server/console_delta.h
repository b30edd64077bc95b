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
/* Waits for the running jobs (console_stop). */
void console_delta_stop(struct srv_console *k);

#endif
