/* Uploads to the console (console_upload.c): a file per request, streamed
 * to DATA/console-uploads/<id>/ (several for a script directory), recorded
 * per user and removed after an hour unused. */
#ifndef FOTA_SRV_CONSOLE_UPLOAD_H
#define FOTA_SRV_CONSOLE_UPLOAD_H

#include <stdint.h>

#include <microhttpd.h>

#include "console_http.h"

/* The upload of this user: its directory and last file (the single file of
 * an image upload). 1 found, 0 not (404). Caller holds the lock. */
int console_upload_get(struct srv_console *k, const char *user, const char *id, char dir[SRV_PATH_MAX],
                       char file[SRV_PATH_MAX], int *files, uint64_t *size);
/* First call of POST /console/api/upload: checks everything before a body
 * byte is read; opens the file (r->fd). Otherwise answers. */
enum MHD_Result console_upload_begin(struct srv_console *k, struct MHD_Connection *c, const session *s, creq *r);
/* The body is in: the file synced and recorded, and the answer. */
enum MHD_Result console_upload_end(struct srv_console *k, struct MHD_Connection *c, creq *r);

#endif
