/* What the console's files share (console_http.c): the console's state,
 * one request's state, a session, and the plumbing of answers (security
 * headers, JSON) and of JSON input. */
#ifndef FOTA_SRV_CONSOLE_HTTP_H
#define FOTA_SRV_CONSOLE_HTTP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "console.h"
#include "db.h"
#include "util.h"

#define TOKEN_HEX 64                  /* 32 random bytes */
#define DELTA_JOBS 4

/* A job of the delta tool (console_delta.c). */
typedef struct delta_job {
    int used, state;                  /* 0 running, 1 done, 2 failed */
    pthread_t thread;
    struct srv_console *con;
    char id[33], user[SRV_OWNER_MAX + 1];
    char old_path[SRV_PATH_MAX], new_path[SRV_PATH_MAX], out_path[SRV_PATH_MAX];
    uint64_t old_size, new_size, delta_size;
    uint64_t seq;                     /* the user's latest job has the highest */
} delta_job;

struct srv_console {
    pthread_mutex_t lock;             /* db and jobs */
    srv_db db;
    int secure;
    unsigned idle_s, max_age_s;
    char up_dir[SRV_PATH_MAX - 128];
    delta_job jobs[DELTA_JOBS];
    uint64_t delta_seq;
    char key_path[SRV_PATH_MAX];      /* the server's signing key ("" none): delta/save signs with it */
    int hashing;                      /* Argon2id runs in progress */
};

/* One request's state between libmicrohttpd's calls. */
#define CREQ_MAGIC 0x636f6e73u
typedef struct creq {
    uint32_t magic;
    int upload;                       /* raw body to a file, else a JSON body in memory */
    char *body;
    size_t n, cap;
    int fd, done;
    char path[SRV_PATH_MAX], dir[SRV_PATH_MAX], id[33], name[65], user[SRV_OWNER_MAX + 1];
    int files;                        /* files in the upload before this one */
    int new_dir;                      /* this request made dir (removed when it is cut) */
    uint64_t expect, got;
} creq;

/* A logged-in user's session (console_auth.c). */
typedef struct session {
    char user[SRV_OWNER_MAX + 1], csrf[TOKEN_HEX + 1], hash[65];
    int must_change;
    int admin;                        /* the first account (console_auth.c) */
} session;

/* Answers: r (taken) with the security headers, type and cookie (may be
 * NULL); j (taken) as JSON; an error of the code table (util.c) with its
 * args as name, value pairs ended by NULL; 503 busy; an operation's error
 * ({"error","code","args"}, docs/server.md "Console error codes"). */
enum MHD_Result con_send_resp(struct MHD_Connection *c, unsigned status, struct MHD_Response *r, const char *type,
                              const char *cookie);
enum MHD_Result con_send_j(struct MHD_Connection *c, unsigned status, json_t *j, const char *cookie);
enum MHD_Result con_send_err(struct MHD_Connection *c, unsigned status, const char *code, ...)
    __attribute__((sentinel));
enum MHD_Result con_send_busy(struct MHD_Connection *c);
enum MHD_Result con_send_ops(struct MHD_Connection *c, const ops_err *e);

/* bytes random bytes as hex into out (2 * bytes + 1). */
void con_random_hex(char *out, size_t bytes);
/* s is n lowercase hex digits. */
int con_is_hex(const char *s, size_t n);

/* JSON input: a string field (NULL absent; *bad set when present and not a
 * string or longer than max), a boolean (-1 absent), an array of strings
 * joined with commas into a new buffer (NULL absent); a comma list back
 * into an array; a non-empty query argument or NULL. */
const char *con_jstr(json_t *o, const char *k, size_t max, const char **bad);
int con_jbool(json_t *o, const char *k, const char **bad);
char *con_jlist(json_t *o, const char *k, size_t item_max, const char **bad);
json_t *con_split_list(const char *s);
const char *con_arg(struct MHD_Connection *c, const char *k);

#endif
