/* Console accounts, logins and sessions (console_auth.c): passwords as
 * Argon2id strings (libsodium), sessions as random tokens stored only as
 * their hash, CSRF tokens, login failures counted per user and address.
 * The tables are registered in schema.c. */
#ifndef FOTA_SRV_CONSOLE_AUTH_H
#define FOTA_SRV_CONSOLE_AUTH_H

#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "console_http.h"
#include "db.h"
#include "util.h"

/* Tables of accounts, sessions, login failures and uploads. */
extern const char *const srv_console_schema;

/* Accounts, for the CLI (cli.c: user add|list|passwd). A user made or
 * reset here must choose a new password at the first login; a reset ends
 * the user's sessions. 0, or an EXIT_* code with e filled. */
int console_user_set(srv_db *d, const char *name, const char *password, int create, ops_err *e);
typedef int (*console_user_cb)(void *ctx, const char *name, int must_change, int64_t projects);
int console_user_list(srv_db *d, console_user_cb cb, void *ctx, ops_err *e);

/* The request's session: 1 found (and its idle clock restarted), 0 none or
 * expired (then deleted), -1 the store failed. Caller holds the console lock. */
int console_session_get(struct srv_console *k, struct MHD_Connection *c, session *out);
/* The request carries the session's CSRF token. */
int console_csrf_ok(struct MHD_Connection *c, const session *s);
json_t *console_me_json(const session *s);

/* GET users, POST users, users/reset, users/disable: the admin's (403
 * admin_only for the others). */
enum MHD_Result console_users(struct srv_console *k, struct MHD_Connection *c, const session *s, const char *path,
                              int post, json_t *in);

/* POST login, POST password, POST logout. */
enum MHD_Result console_login(struct srv_console *k, struct MHD_Connection *c, json_t *in);
enum MHD_Result console_change_password(struct srv_console *k, struct MHD_Connection *c, session *s, json_t *in);
enum MHD_Result console_logout(struct srv_console *k, struct MHD_Connection *c, const session *s);

#endif
