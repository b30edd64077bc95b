/* The console's JSON API (console_api.c): the answer to a complete request
 * under /console/api/, routed to logins and sessions (console_auth.c),
 * uploads, the delta tool, and the operations of ops.h, at.h and rollout.h
 * within the user's own projects. */
#ifndef FOTA_SRV_CONSOLE_API_H
#define FOTA_SRV_CONSOLE_API_H

#include <microhttpd.h>

#include "console_http.h"

/* path: after /console/api/; r: the request's body, or its finished upload. */
enum MHD_Result console_api(struct srv_console *k, struct MHD_Connection *c, const char *path, int post, creq *r);

#endif
