/* The web console (console.c and console_*.c): pages under /console/, a
 * JSON API under /console/api/, accounts and sessions, in the serving
 * process on its own database connection. See docs/server.md "The web
 * console". console.c: the entry points api.c calls and the embedded pages;
 * console_http.c: the console's state and its HTTP/JSON plumbing;
 * console_auth.c: accounts, logins, sessions; console_upload.c: uploads;
 * console_delta.c: the delta tool; console_file.c: what an upload is;
 * console_manage.c: edit and remove; console_api.c: the JSON API. */
#ifndef FOTA_SRV_CONSOLE_H
#define FOTA_SRV_CONSOLE_H

#include <microhttpd.h>

#include "api.h"

#define CONSOLE_PREFIX "/console"
#define CONSOLE_PASS_MIN 8
#define CONSOLE_PASS_MAX 128
#define CONSOLE_IDLE_S 1800            /* a session unused this long ends */
#define CONSOLE_MAX_AGE_S (12 * 3600)  /* and every session ends this long after login */
#define CONSOLE_JSON_MAX (256 * 1024)  /* a JSON request body (10000 IMEIs fit) */
#define CONSOLE_UPLOAD_MAX FOTA_PKG_MAX_IMAGE   /* one uploaded file */
#define CONSOLE_UPLOAD_FILES 64        /* files in one upload (a script directory) */
#define CONSOLE_HASHES 2               /* Argon2id runs at once (64 MiB each); more: 503 */
#define CONSOLE_FAIL_WINDOW_S 900      /* login failures counted over this */
#define CONSOLE_FAIL_FREE 3            /* failures of one name from one address before waits start */
#define CONSOLE_FAIL_WAIT_MAX_S 900    /* the longest wait (1 s, doubling per failure, up to this) */
#define CONSOLE_FAIL_ADDR 20           /* failures per address (any names) in the window, then 429 */

/* Opens the console's connection; 0 or -1. Called by srv_start. */
int console_start(srv_server *s, const srv_serve_opts *o);
void console_stop(srv_server *s);
/* Answers every request under CONSOLE_PREFIX (api.c's handler routes them). */
enum MHD_Result console_handle(srv_server *s, struct MHD_Connection *c, const char *url, const char *method,
                               const char *upload_data, size_t *upload_data_size, void **con_cls);
/* The request ended (also when cut): frees what console_handle kept. */
void console_done(srv_server *s, void **con_cls);

#endif
