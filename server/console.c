/* The web console: the embedded pages and the JSON API under /console/api/,
 * on the operations of ops.c (the admin CLI's). Its own SQLite connection
 * and lock, so a console request never holds the device path's lock.
 *
 * Security model (docs/server.md): passwords as Argon2id strings
 * (libsodium); a session is 32 random bytes in an HttpOnly, SameSite=Strict
 * cookie (Secure under https), stored only as its BLAKE2b hash, ending after
 * CONSOLE_IDLE_S unused or CONSOLE_MAX_AGE_S after login; every POST carries
 * the session's CSRF token in X-CSRF-Token; login failures are counted per
 * user and per address; every object is looked up within the user's own
 * projects (ops.h scope), so another user's id answers 404. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "admin.h"
#include "at.h"
#include "console.h"
#include "console_www.h"
#include "ops.h"
#include "rollout.h"
#include "core/fota_err.h"
#include "port/port.h"

const char *const srv_console_schema =
    "CREATE TABLE IF NOT EXISTS console_user(name TEXT PRIMARY KEY, pwhash TEXT NOT NULL,"
    " must_change INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS console_session(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " csrf TEXT NOT NULL, created INTEGER NOT NULL, seen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS console_fail(who TEXT NOT NULL, ts INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS console_fail_who ON console_fail(who, ts);"
    "CREATE TABLE IF NOT EXISTS console_upload(id TEXT PRIMARY KEY, user TEXT NOT NULL, dir TEXT NOT NULL,"
    " name TEXT NOT NULL, files INTEGER NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS project_family(project_id INTEGER PRIMARY KEY REFERENCES project(id),"
    " family TEXT NOT NULL);";

#define COOKIE "fota_session"
#define TOKEN_HEX 64                  /* 32 random bytes */
#define UPLOAD_TTL_MS (3600 * 1000)   /* unused uploads are removed after this */
#define DELTA_JOBS 4

typedef struct delta_job {
    int used, state;                  /* 0 running, 1 done, 2 failed */
    pthread_t thread;
    struct srv_console *con;
    char id[33], user[SRV_OWNER_MAX + 1];
    char old_path[SRV_PATH_MAX], new_path[SRV_PATH_MAX], out_path[SRV_PATH_MAX];
    uint64_t old_size, new_size, delta_size;
} delta_job;

struct srv_console {
    pthread_mutex_t lock;             /* db and jobs */
    srv_db db;
    int secure;
    unsigned idle_s, max_age_s;
    char up_dir[SRV_PATH_MAX - 128];
    delta_job jobs[DELTA_JOBS];
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

/* ---------------------------------------------------------------- */
/* responses                                                         */

static void security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'");
}

static enum MHD_Result send_resp(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                                 const char *type, const char *cookie)
{
    if (!r) return MHD_NO;
    security_headers(r);
    if (type) MHD_add_response_header(r, "Content-Type", type);
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Sends j (taken) as the answer. */
static enum MHD_Result send_j(struct MHD_Connection *c, unsigned status, json_t *j, const char *cookie)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return MHD_NO;
    return send_resp(c, status, MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE),
                     "application/json; charset=utf-8", cookie);
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status, const char *msg)
{
    return send_j(c, status, json_pack("{ss}", "error", msg), NULL);
}

static enum MHD_Result send_busy(struct MHD_Connection *c)
{
    static const char busy[] = "{\"error\":\"busy: try again in a second\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof busy - 1, (void *)busy, MHD_RESPMEM_PERSISTENT);
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return send_resp(c, MHD_HTTP_SERVICE_UNAVAILABLE, r, "application/json; charset=utf-8", NULL);
}

static enum MHD_Result send_ops(struct MHD_Connection *c, const ops_err *e)
{
    return send_err(c, e->http ? (unsigned)e->http : 500, e->msg[0] ? e->msg : "failed");
}

/* ---------------------------------------------------------------- */
/* tokens, users, sessions                                           */

/* Argon2id takes 64 MiB and tens of milliseconds: only CONSOLE_HASHES run at
 * once, so a burst of logins takes neither the memory nor every HTTP thread
 * (device checks share them). take 1: 1 when a run may start; take 0: ended. */
static int hash_slot(struct srv_console *k, int take)
{
    pthread_mutex_lock(&k->lock);
    int ok = !take || k->hashing < CONSOLE_HASHES;
    if (ok) k->hashing += take ? 1 : -1;
    pthread_mutex_unlock(&k->lock);
    return ok;
}

static void random_hex(char *out, size_t bytes)
{
    uint8_t b[32];
    randombytes_buf(b, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, b, bytes);
}

static void token_hash(const char *token, char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

static int password_ok(const char *p, const char **why)
{
    size_t n = p ? strlen(p) : 0;
    if (n < CONSOLE_PASS_MIN || n > CONSOLE_PASS_MAX) *why = "password: 8..128 characters";
    else if (strspn(p, "0123456789") == n && n <= 8) *why = "password: not digits only";
    else return 1;
    return 0;
}

/* Argon2id, libsodium's interactive limits: a login costs ~64 MiB and a
 * fraction of a second, an offline guess as much. */
static int hash_password(const char *p, char out[crypto_pwhash_STRBYTES])
{
    return crypto_pwhash_str_alg(out, p, strlen(p), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                 crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13);
}

int console_user_set(srv_db *d, const char *name, const char *password, int create)
{
    const char *why = NULL;
    if (!name || !srv_is_owner(name, strlen(name))) return fail("--name %s: 1..64 of [A-Za-z0-9._@-]", name ? name : "missing");
    if (!password_ok(password, &why)) return fail("--password: %s", why + 10);
    if (sodium_init() < 0) return EXIT_IO_ERR;
    char h[crypto_pwhash_STRBYTES];
    if (hash_password(password, h)) return fail("%s", "out of memory hashing the password");
    store_stmt *st = prep(d, create ? "INSERT INTO console_user(name, pwhash, must_change, created) VALUES(?1, ?2, 1, ?3)"
                                      : "UPDATE console_user SET pwhash=?2, must_change=1 WHERE name=?1");
    if (!st) return EXIT_IO_ERR;
    store_bind_str(st, 1, name);
    store_bind_str(st, 2, h);
    if (create) store_bind_int64(st, 3, srv_now_ms());
    int rc = store_step(st);
    int changed = rc == STORE_DONE && store_changes(st) > 0;
    store_finalize(st);
    sodium_memzero(h, sizeof h);
    if (rc != STORE_DONE || !changed) return fail(create ? "user %s exists already" : "no user %s", name);
    if (!create) {   /* a reset ends the user's sessions */
        const char *v[] = { name };
        exec_text(d, "DELETE FROM console_session WHERE user=?1", 1, v);
    }
    printf("user %s %s; the first login asks for a new password\n", name, create ? "added" : "reset");
    return 0;
}

int console_user_list(srv_db *d)
{
    store_stmt *st = prep(d, "SELECT u.name, u.must_change, (SELECT COUNT(*) FROM project WHERE owner=u.name)"
                               " FROM console_user u ORDER BY u.name");
    if (!st) return EXIT_IO_ERR;
    while (store_step(st) == STORE_ROW)
        printf("%s\t%s\t%d projects\n", store_column_text(st, 0),
               (int)store_column_int64(st, 1) ? "must change password" : "active", (int)store_column_int64(st, 2));
    store_finalize(st);
    return 0;
}

typedef struct session {
    char user[SRV_OWNER_MAX + 1], csrf[TOKEN_HEX + 1], hash[65];
    int must_change;
} session;

/* The request's session: 1 found (and its idle clock restarted), 0 none or
 * expired (then deleted), -1 the store failed. Caller holds the console lock. */
static int session_get(struct srv_console *k, struct MHD_Connection *c, session *out)
{
    const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (!is_hex(tok, TOKEN_HEX)) return 0;
    token_hash(tok, out->hash);
    int64_t now = srv_now_ms();
    store_stmt *st = prep(&k->db, "SELECT s.user, s.csrf, s.created, s.seen, u.must_change FROM console_session s"
                                    " JOIN console_user u ON u.name=s.user WHERE s.token_hash=?1");
    if (!st) return -1;
    store_bind_str(st, 1, out->hash);
    int found = 0, rc = store_step(st);
    if (rc != STORE_ROW && rc != STORE_DONE) {
        store_finalize(st);
        return -1;   /* not "logged out": the store failed */
    }
    if (rc == STORE_ROW) {
        const char *u = store_column_text(st, 0), *cs = store_column_text(st, 1);
        int64_t created = store_column_int64(st, 2), seen = store_column_int64(st, 3);
        found = u && cs && strlen(u) <= SRV_OWNER_MAX && strlen(cs) == TOKEN_HEX &&
                now - created < (int64_t)k->max_age_s * 1000 && now - seen < (int64_t)k->idle_s * 1000;
        if (found) {
            memcpy(out->user, u, strlen(u) + 1);
            memcpy(out->csrf, cs, TOKEN_HEX + 1);
            out->must_change = (int)store_column_int64(st, 4);
        }
    }
    store_finalize(st);
    const char *v[] = { out->hash };
    if (!found) exec_text(&k->db, "DELETE FROM console_session WHERE token_hash=?1", 1, v);
    else if ((st = prep(&k->db, "UPDATE console_session SET seen=?2 WHERE token_hash=?1"))) {
        store_bind_str(st, 1, out->hash);
        store_bind_int64(st, 2, now);
        store_step(st);
        store_finalize(st);
    }
    return found;
}

static int csrf_ok(struct MHD_Connection *c, const session *s)
{
    const char *t = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-CSRF-Token");
    return t && strlen(t) == TOKEN_HEX && sodium_memcmp(t, s->csrf, TOKEN_HEX) == 0;
}

static void client_addr(struct MHD_Connection *c, char out[INET6_ADDRSTRLEN])
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, INET6_ADDRSTRLEN, "?");
    if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_addr, out,
                  INET6_ADDRSTRLEN);
}

static int fail_count(srv_db *d, const char *who, int64_t since)
{
    store_stmt *st = prep(d, "SELECT COUNT(*) FROM console_fail WHERE who=?1 AND ts>=?2");
    if (!st) return INT32_MAX;
    store_bind_str(st, 1, who);
    store_bind_int64(st, 2, since);
    int n = store_step(st) == STORE_ROW ? (int)store_column_int64(st, 0) : INT32_MAX;
    store_finalize(st);
    return n;
}

static void fail_add(srv_db *d, const char *who)
{
    store_stmt *st = prep(d, "INSERT INTO console_fail(who, ts) VALUES(?1, ?2)");
    if (!st) return;
    store_bind_str(st, 1, who);
    store_bind_int64(st, 2, srv_now_ms());
    store_step(st);
    store_finalize(st);
}

/* Failures out of the window and ended sessions are dropped (at each login). */
static void prune(struct srv_console *k, int64_t since)
{
    int64_t now = srv_now_ms();
    store_stmt *st = prep(&k->db, "DELETE FROM console_fail WHERE ts<?1");
    if (st) {
        store_bind_int64(st, 1, since);
        store_step(st);
        store_finalize(st);
    }
    if ((st = prep(&k->db, "DELETE FROM console_session WHERE seen<?1 OR created<?2"))) {
        store_bind_int64(st, 1, now - (int64_t)k->idle_s * 1000);
        store_bind_int64(st, 2, now - (int64_t)k->max_age_s * 1000);
        store_step(st);
        store_finalize(st);
    }
}

static json_t *me_json(const session *s)
{
    return json_pack("{sssssb}", "user", s->user, "csrf", s->csrf, "must_change", s->must_change);
}

static void cookie_value(struct srv_console *k, const char *token, char *out, size_t cap)
{
    snprintf(out, cap, COOKIE "=%s; Path=" CONSOLE_PREFIX "; HttpOnly; SameSite=Strict; Max-Age=%u%s",
             token ? token : "", token ? k->max_age_s : 0, k->secure ? "; Secure" : "");
}

/* ---------------------------------------------------------------- */
/* JSON input                                                        */

/* A string field: NULL when absent; *bad set when present and not a string
 * or longer than max. */
static const char *jstr(json_t *o, const char *k, size_t max, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        if (!*bad) *bad = k;
        return NULL;
    }
    return json_string_value(v);
}

/* A boolean field: -1 absent, 0/1, *bad when another type. */
static int jbool(json_t *o, const char *k, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return -1;
    if (!json_is_boolean(v)) {
        if (!*bad) *bad = k;
        return -1;
    }
    return json_is_true(v);
}

/* An array of strings joined with commas into a new buffer (NULL absent). */
static char *jlist(json_t *o, const char *k, size_t item_max, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return NULL;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || n > SRV_MAX_LIST) {
        if (!*bad) *bad = k;
        return NULL;
    }
    char *out = malloc(n * (item_max + 1) + 1);
    if (!out) {
        if (!*bad) *bad = k;
        return NULL;
    }
    size_t o_ = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(v, i);
        size_t l = json_is_string(it) ? json_string_length(it) : 0;
        if (!json_is_string(it) || l == 0 || l > item_max || strchr(json_string_value(it), ',') ||
            strlen(json_string_value(it)) != l) {
            free(out);
            if (!*bad) *bad = k;
            return NULL;
        }
        if (o_) out[o_++] = ',';
        memcpy(out + o_, json_string_value(it), l);
        o_ += l;
    }
    out[o_] = '\0';
    return out;
}

static json_t *split_list(const char *s)
{
    json_t *a = json_array();
    for (const char *p = s; a && p && *p;) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

/* ---------------------------------------------------------------- */
/* uploads                                                           */

/* The upload of this user: its directory and last file (the single file of
 * an image upload). 1 found, 0 not (404). Caller holds the lock. */
static int upload_get(struct srv_console *k, const char *user, const char *id, char dir[SRV_PATH_MAX],
                      char file[SRV_PATH_MAX], int *files, uint64_t *size)
{
    if (!is_hex(id, 32)) return 0;
    store_stmt *st = prep(&k->db, "SELECT dir, name, files, size FROM console_upload WHERE id=?1 AND user=?2");
    if (!st) return 0;
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, user);
    int found = 0;
    if (store_step(st) == STORE_ROW) {
        const char *dd = store_column_text(st, 0), *nm = store_column_text(st, 1);
        if (dd && nm && strlen(dd) + strlen(nm) + 2 < SRV_PATH_MAX) {
            snprintf(dir, SRV_PATH_MAX, "%s", dd);
            snprintf(file, SRV_PATH_MAX, "%s/%s", dd, nm);
            if (files) *files = (int)store_column_int64(st, 2);
            if (size) *size = (uint64_t)store_column_int64(st, 3);
            found = 1;
        }
    }
    store_finalize(st);
    return found;
}

static int unlink_in(void *ud, const char *name)
{
    char p[SRV_PATH_MAX + 80];
    int n = snprintf(p, sizeof p, "%s/%s", (const char *)ud, name);
    if (n > 0 && (size_t)n < sizeof p) unlink(p);
    return 0;
}

/* An upload directory holds files only (names checked on upload). */
static void remove_dir(const char *dir)
{
    fota_port_listdir(dir, unlink_in, (void *)dir);
    rmdir(dir);
}

/* Drops uploads older than UPLOAD_TTL_MS (their files too). Lock held. */
static void uploads_expire(struct srv_console *k)
{
    store_stmt *st = prep(&k->db, "SELECT id, dir FROM console_upload WHERE created<?1 LIMIT 100");
    if (!st) return;
    store_bind_int64(st, 1, srv_now_ms() - UPLOAD_TTL_MS);
    char ids[100][33];
    int n = 0;
    while (n < 100 && store_step(st) == STORE_ROW) {
        const char *id = store_column_text(st, 0), *dir = store_column_text(st, 1);
        if (!id || strlen(id) != 32 || !dir) continue;
        remove_dir(dir);
        memcpy(ids[n++], id, 33);
    }
    store_finalize(st);
    for (int i = 0; i < n; i++) {
        const char *v[] = { ids[i] };
        exec_text(&k->db, "DELETE FROM console_upload WHERE id=?1", 1, v);
    }
}

static int is_file_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 64 && s[0] != '.' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789._-") == n;
}

/* First call of POST /console/api/upload: checks everything before a body
 * byte is read; opens the file. NULL = answered (status in *status). */
static enum MHD_Result upload_begin(struct srv_console *k, struct MHD_Connection *c, const session *s, creq *r)
{
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    const char *into = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "into");
    if (!is_file_name(name)) return send_err(c, 400, "name: 1..64 of [A-Za-z0-9._-], not starting with a dot");
    if (r->expect == 0) return send_err(c, 400, "empty upload");
    if (r->expect > CONSOLE_UPLOAD_MAX) return send_err(c, 413, "upload over 16 MiB");
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->user, sizeof r->user, "%s", s->user);
    pthread_mutex_lock(&k->lock);
    int ok = 1;
    if (into) {
        char file[SRV_PATH_MAX];
        ok = upload_get(k, s->user, into, r->dir, file, &r->files, NULL);
        if (ok) snprintf(r->id, sizeof r->id, "%s", into);
    } else {
        uploads_expire(k);
        random_hex(r->id, 16);
        snprintf(r->dir, sizeof r->dir, "%s/%s", k->up_dir, r->id);
        r->new_dir = 1;
    }
    pthread_mutex_unlock(&k->lock);
    if (!ok) return send_err(c, 404, "no such upload");
    if (r->files >= CONSOLE_UPLOAD_FILES) return send_err(c, 413, "too many files in one upload");
    if (fota_port_mkdirs(r->dir) != FOTA_OK) return send_err(c, 500, "cannot store the upload");
    int n = snprintf(r->path, sizeof r->path, "%s/%s", r->dir, r->name);
    if (n < 0 || (size_t)n >= sizeof r->path) return send_err(c, 500, "path too long");
    r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->fd < 0) return send_err(c, errno == EEXIST ? 409 : 500, errno == EEXIST ? "file already in this upload"
                                                                                  : "cannot store the upload");
    r->upload = 1;
    return MHD_YES;
}

static enum MHD_Result upload_end(struct srv_console *k, struct MHD_Connection *c, creq *r)
{
    int ok = r->got == r->expect && fsync(r->fd) == 0;
    close(r->fd);
    r->fd = -1;
    if (!ok) {
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
        return send_err(c, 400, "upload incomplete");
    }
    r->done = 1;
    pthread_mutex_lock(&k->lock);
    store_stmt *st = prep(&k->db, "INSERT INTO console_upload(id, user, dir, name, files, size, created)"
                                    " VALUES(?1, ?2, ?3, ?4, 1, ?5, ?6) ON CONFLICT(id) DO UPDATE SET"
                                    " name=?4, files=console_upload.files+1, size=console_upload.size+?5");
    int rc = -1;
    if (st) {
        store_bind_str(st, 1, r->id);
        store_bind_str(st, 2, r->user);
        store_bind_str(st, 3, r->dir);
        store_bind_str(st, 4, r->name);
        store_bind_int64(st, 5, (int64_t)r->got);
        store_bind_int64(st, 6, srv_now_ms());
        rc = store_step(st) == STORE_DONE ? 0 : -1;
        store_finalize(st);
    }
    pthread_mutex_unlock(&k->lock);
    if (rc) {
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
        return send_err(c, 500, "cannot record the upload");
    }
    return send_j(c, 200, json_pack("{sssssIsi}", "id", r->id, "name", r->name, "size", (json_int_t)r->got,
                                    "files", r->files + 1), NULL);
}

/* ---------------------------------------------------------------- */
/* listings into JSON                                                */

static int add_project(void *ctx, const ops_project *p)
{
    return json_array_append_new(ctx, json_pack("{sssssssI}", "name", p->name, "key", p->key, "family", p->family,
                                                "created", (json_int_t)p->created));
}

static int add_firmware(void *ctx, const ops_firmware *f)
{
    return json_array_append_new(ctx, json_pack("{sIsssssssIsssIsbsbsI}", "id", (json_int_t)f->id, "project",
                                                f->project, "name", f->name, "bsp", f->bsp, "core",
                                                (json_int_t)f->core, "version", f->version, "size",
                                                (json_int_t)f->core_size, "has_core", f->has_core, "has_script",
                                                f->has_script, "created", (json_int_t)f->created));
}

static int add_config(void *ctx, const ops_config *x)
{
    return json_array_append_new(ctx, json_pack("{sssIsIsssbsbsosbsosb}", "firmware", x->firmware, "firmware_id",
                                                (json_int_t)x->firmware_id, "core", (json_int_t)x->core, "version",
                                                x->version, "enabled", x->enabled, "all", x->all_devices, "imeis",
                                                split_list(x->imeis), "any_from", x->any_from, "from",
                                                split_list(x->from), "reinstall", x->reinstall));
}

static int add_device(void *ctx, const ops_device *d)
{
    return json_array_append_new(ctx, json_pack("{sssssbsssIsIsi}", "imei", d->imei, "project", d->project,
                                                "banned", d->banned, "version", d->version, "last",
                                                (json_int_t)d->last_ms, "created", (json_int_t)d->created,
                                                "last_code", d->last_code));
}

static int add_log(void *ctx, const ops_log *l)
{
    return json_array_append_new(ctx, json_pack("{sI sI ss si si ss ss ss}", "id", (json_int_t)l->id, "ts",
                                                (json_int_t)l->ts, "imei", l->imei, "status", l->status, "code",
                                                l->code, "request", l->request, "msg", l->msg, "meaning",
                                                ops_code_meaning(l->code)));
}

/* ---------------------------------------------------------------- */
/* the delta tool: one background thread per job (not the HTTP threads) */

static void *delta_run(void *arg)
{
    delta_job *j = arg;
    int rc = srv_delta_make(j->old_path, j->new_path, j->out_path);
    struct stat sb;
    pthread_mutex_lock(&j->con->lock);
    j->state = rc == 0 && stat(j->out_path, &sb) == 0 ? 1 : 2;
    if (j->state == 1) j->delta_size = (uint64_t)sb.st_size;
    pthread_mutex_unlock(&j->con->lock);
    return NULL;
}

static json_t *job_json(const delta_job *j)
{
    double ratio = j->new_size ? (double)j->delta_size / (double)j->new_size : 0;
    return json_pack("{sssssIsIsIsf}", "id", j->id, "state", j->state == 0 ? "running" : j->state == 1 ? "done" : "failed",
                     "old_size", (json_int_t)j->old_size, "new_size", (json_int_t)j->new_size, "delta_size",
                     (json_int_t)j->delta_size, "ratio", ratio);
}

/* Lock held. A free slot (finished jobs are joined and reused). */
static delta_job *job_slot(struct srv_console *k)
{
    delta_job *oldest = NULL;
    for (int i = 0; i < DELTA_JOBS; i++) {
        delta_job *j = &k->jobs[i];
        if (!j->used) return j;
        if (j->state != 0 && !oldest) oldest = j;
    }
    if (oldest) {
        pthread_join(oldest->thread, NULL);
        unlink(oldest->out_path);
        oldest->used = 0;
    }
    return oldest;
}

static delta_job *job_find(struct srv_console *k, const char *user, const char *id)
{
    for (int i = 0; id && i < DELTA_JOBS; i++)
        if (k->jobs[i].used && !strcmp(k->jobs[i].id, id) && !strcmp(k->jobs[i].user, user)) return &k->jobs[i];
    return NULL;
}

static enum MHD_Result delta_start(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *old = jstr(in, "old", 32, &bad), *neu = jstr(in, "new", 32, &bad);
    if (bad || !old || !neu) return send_err(c, 400, "old and new: upload ids");
    if (!srv_delta_available()) return send_err(c, 501, "this server cannot make deltas");
    char dir[SRV_PATH_MAX], op[SRV_PATH_MAX], np[SRV_PATH_MAX];
    uint64_t os = 0, ns = 0;
    int of = 0, nf = 0;
    pthread_mutex_lock(&k->lock);
    int found = upload_get(k, s->user, old, dir, op, &of, &os) && upload_get(k, s->user, neu, dir, np, &nf, &ns);
    delta_job *j = found && of == 1 && nf == 1 ? job_slot(k) : NULL;
    if (j) {
        memset(j, 0, sizeof *j);
        j->used = 1;
        j->con = k;
        random_hex(j->id, 16);
        snprintf(j->user, sizeof j->user, "%s", s->user);
        memcpy(j->old_path, op, sizeof op);
        memcpy(j->new_path, np, sizeof np);
        snprintf(j->out_path, sizeof j->out_path, "%s/delta-%s.lfdl", k->up_dir, j->id);
        j->old_size = os;
        j->new_size = ns;
        if (pthread_create(&j->thread, NULL, delta_run, j)) j->used = 0;
    }
    json_t *out = j && j->used ? job_json(j) : NULL;
    pthread_mutex_unlock(&k->lock);
    if (!found || of != 1 || nf != 1) return send_err(c, 404, "no such upload (one file each)");
    if (!out) return send_err(c, 503, "delta tool busy, retry later");
    return send_j(c, 202, out, NULL);
}

static enum MHD_Result delta_get(struct srv_console *k, struct MHD_Connection *c, const session *s, int file)
{
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
    pthread_mutex_lock(&k->lock);
    delta_job *j = job_find(k, s->user, id);
    json_t *out = j ? job_json(j) : NULL;
    int fd = j && file && j->state == 1 ? open(j->out_path, O_RDONLY | O_CLOEXEC) : -1;
    pthread_mutex_unlock(&k->lock);
    if (!j) return send_err(c, 404, "no such delta");
    if (!file) return send_j(c, 200, out, NULL);
    json_decref(out);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) close(fd);
        return send_err(c, 409, "the delta is not ready");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (r) MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"core.lfdl\"");
    else close(fd);
    return send_resp(c, 200, r, "application/octet-stream", NULL);
}

/* ---------------------------------------------------------------- */
/* the API                                                           */

static const char *arg(struct MHD_Connection *c, const char *k)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    return v && *v ? v : NULL;
}

static enum MHD_Result login(struct srv_console *k, struct MHD_Connection *c, json_t *in)
{
    const char *bad = NULL;
    const char *user = jstr(in, "user", SRV_OWNER_MAX, &bad), *pass = jstr(in, "password", CONSOLE_PASS_MAX, &bad);
    if (bad || !user || !pass || !srv_is_owner(user, strlen(user))) return send_err(c, 400, "user and password");
    char addr[INET6_ADDRSTRLEN], who_u[SRV_OWNER_MAX + 3], who_a[INET6_ADDRSTRLEN + 2];
    client_addr(c, addr);
    snprintf(who_u, sizeof who_u, "u:%s", user);
    snprintf(who_a, sizeof who_a, "a:%s", addr);
    int64_t since = srv_now_ms() - (int64_t)CONSOLE_FAIL_WINDOW_S * 1000;
    char h[crypto_pwhash_STRBYTES] = "";
    int must = 0;
    pthread_mutex_lock(&k->lock);
    prune(k, since);
    int throttled = fail_count(&k->db, who_u, since) >= CONSOLE_FAIL_USER ||
                    fail_count(&k->db, who_a, since) >= CONSOLE_FAIL_ADDR;
    store_stmt *st = throttled ? NULL : prep(&k->db, "SELECT pwhash, must_change FROM console_user WHERE name=?1");
    if (st) {
        store_bind_str(st, 1, user);
        if (store_step(st) == STORE_ROW && store_column_text(st, 0) && strlen(store_column_text(st, 0)) < sizeof h) {
            snprintf(h, sizeof h, "%s", store_column_text(st, 0));
            must = (int)store_column_int64(st, 1);
        }
        store_finalize(st);
    }
    pthread_mutex_unlock(&k->lock);
    if (throttled) return send_err(c, 429, "too many failed logins; wait 15 minutes");
    if (!hash_slot(k, 1)) return send_busy(c);
    /* outside the lock: Argon2id takes a while. An unknown name costs the
     * same (a hash made and dropped), so names cannot be probed by timing. */
    int ok = 0;
    if (h[0]) ok = crypto_pwhash_str_verify(h, pass, strlen(pass)) == 0;
    else if (hash_password(pass, h) == 0) sodium_memzero(h, sizeof h);
    hash_slot(k, 0);
    session s;
    memset(&s, 0, sizeof s);
    char token[TOKEN_HEX + 1], cookie[200];
    pthread_mutex_lock(&k->lock);
    if (!ok) {
        fail_add(&k->db, who_u);
        fail_add(&k->db, who_a);
    } else {
        const char *v[] = { who_u };
        exec_text(&k->db, "DELETE FROM console_fail WHERE who=?1", 1, v);
        random_hex(token, 32);
        random_hex(s.csrf, 32);
        token_hash(token, s.hash);
        snprintf(s.user, sizeof s.user, "%s", user);
        s.must_change = must;
        if ((st = prep(&k->db, "INSERT INTO console_session(token_hash, user, csrf, created, seen)"
                               " VALUES(?1, ?2, ?3, ?4, ?4)"))) {
            store_bind_str(st, 1, s.hash);
            store_bind_str(st, 2, user);
            store_bind_str(st, 3, s.csrf);
            store_bind_int64(st, 4, srv_now_ms());
            ok = store_step(st) == STORE_DONE ? 1 : -1;
            store_finalize(st);
        } else {
            ok = -1;
        }
    }
    pthread_mutex_unlock(&k->lock);
    sodium_memzero(h, sizeof h);
    if (ok == 0) return send_err(c, 401, "wrong user or password");
    if (ok < 0) return send_err(c, 500, "cannot start a session");
    cookie_value(k, token, cookie, sizeof cookie);
    return send_j(c, 200, me_json(&s), cookie);
}

static enum MHD_Result change_password(struct srv_console *k, struct MHD_Connection *c, session *s, json_t *in)
{
    const char *bad = NULL, *why = NULL;
    const char *old = jstr(in, "old", CONSOLE_PASS_MAX, &bad), *neu = jstr(in, "new", CONSOLE_PASS_MAX, &bad);
    if (bad || !old || !neu) return send_err(c, 400, "old and new password");
    if (!password_ok(neu, &why)) return send_err(c, 400, why);
    if (!strcmp(old, neu)) return send_err(c, 400, "the new password must differ from the old one");
    char h[crypto_pwhash_STRBYTES] = "";
    pthread_mutex_lock(&k->lock);
    store_stmt *st = prep(&k->db, "SELECT pwhash FROM console_user WHERE name=?1");
    if (st) {
        store_bind_str(st, 1, s->user);
        if (store_step(st) == STORE_ROW && store_column_text(st, 0) && strlen(store_column_text(st, 0)) < sizeof h)
            snprintf(h, sizeof h, "%s", store_column_text(st, 0));
        store_finalize(st);
    }
    pthread_mutex_unlock(&k->lock);
    if (!hash_slot(k, 1)) return send_busy(c);
    int right = h[0] && crypto_pwhash_str_verify(h, old, strlen(old)) == 0;
    int hashed = right && hash_password(neu, h) == 0;
    hash_slot(k, 0);
    if (!right) return send_err(c, 403, "the old password is wrong");
    if (!hashed) return send_err(c, 500, "cannot hash the password");
    pthread_mutex_lock(&k->lock);
    int rc = -1;
    if ((st = prep(&k->db, "UPDATE console_user SET pwhash=?2, must_change=0 WHERE name=?1"))) {
        store_bind_str(st, 1, s->user);
        store_bind_str(st, 2, h);
        rc = store_step(st) == STORE_DONE ? 0 : -1;
        store_finalize(st);
    }
    /* the other sessions of the user end (a stolen one among them) */
    const char *v[] = { s->user, s->hash };
    if (rc == 0) rc = exec_text(&k->db, "DELETE FROM console_session WHERE user=?1 AND token_hash!=?2", 2, v);
    pthread_mutex_unlock(&k->lock);
    sodium_memzero(h, sizeof h);
    if (rc) return send_err(c, 500, "cannot store the password");
    s->must_change = 0;
    return send_j(c, 200, me_json(s), NULL);
}

static enum MHD_Result project_add(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *name = jstr(in, "name", SRV_NAME_MAX, &bad), *family = jstr(in, "family", OPS_FAMILY_MAX, &bad),
               *key = jstr(in, "key", SRV_KEY_MAX, &bad);
    if (bad) return send_err(c, 400, "name, family, key: strings");
    char gen[33];
    if (!key) {   /* the platform makes the ProductKey */
        random_hex(gen, 16);
        key = gen;
    }
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_project_add(&k->db, name, key, s->user, family, &e);
    pthread_mutex_unlock(&k->lock);
    if (rc) return send_ops(c, &e);
    return send_j(c, 201, json_pack("{ssssss}", "name", name, "key", key, "family", family ? family : ""), NULL);
}

static enum MHD_Result firmware_add(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *kind = jstr(in, "kind", 16, &bad), *project = jstr(in, "project", SRV_NAME_MAX, &bad),
               *bsp = jstr(in, "bsp", SRV_NAME_MAX, &bad), *core_ver = jstr(in, "core_version", 16, &bad),
               *version = jstr(in, "version", SRV_VER_MAX, &bad), *model = jstr(in, "model", SRV_NAME_MAX, &bad),
               *core_id = jstr(in, "core", 32, &bad), *script_id = jstr(in, "script", 32, &bad),
               *pkg_id = jstr(in, "package", 32, &bad);
    if (bad) return send_err(c, 400, "fields: strings");
    int at = kind && !strcmp(kind, "at"), pkg = kind && !strcmp(kind, "package");
    if (!kind || (!at && !pkg && strcmp(kind, "luatos"))) return send_err(c, 400, "kind: luatos, at or package");
    char name[SRV_NAME_MAX + 1], dir[SRV_PATH_MAX], core[SRV_PATH_MAX], sdir[SRV_PATH_MAX], sfile[SRV_PATH_MAX];
    int files = 0;
    ops_err e = { 0 };
    ops_firmware f;
    memset(&f, 0, sizeof f);
    pthread_mutex_lock(&k->lock);
    int rc = ops_firmware_name(at || pkg ? model : project, bsp, at || pkg, name, sizeof name, &e);
    if (rc == 0 && ops_project_find(&k->db, s->user, project, &e) <= 0) rc = e.rc;
    const char *need = pkg ? pkg_id : core_id;
    if (rc == 0 && (!need || !upload_get(k, s->user, need, dir, core, &files, NULL) || files != 1))
        rc = ops_fail(&e, EXIT_USAGE_ERR, need ? 404 : 400, pkg ? "package: an upload of one file" : "core: an upload of one file");
    if (rc == 0 && !at && !pkg &&
        (!script_id || !upload_get(k, s->user, script_id, sdir, sfile, NULL, NULL)))
        rc = ops_fail(&e, EXIT_USAGE_ERR, script_id ? 404 : 400, "script: an upload of the script files");
    if (rc == 0 && pkg) {
        /* the CLI's at delta (server/at.c): it checks the package whole */
        rc = cmd_at_delta(&k->db, project, model, bsp, core);
        if (rc) ops_fail(&e, rc, rc == EXIT_USAGE_ERR ? 400 : 500, "not an AT delta package for this model and bsp");
    } else if (rc == 0) {
        rc = ops_firmware_add(&k->db, s->user, project, name, bsp, core_ver, core, at ? NULL : sdir,
                              at ? SRV_AT_SCRIPT_VERSION : version, NULL, &f, &e);
    }
    pthread_mutex_unlock(&k->lock);
    if (rc) return send_ops(c, &e);
    if (pkg) return send_j(c, 201, json_pack("{ss}", "name", name), NULL);
    json_t *a = json_array();
    add_firmware(a, &f);
    json_t *one = json_incref(json_array_get(a, 0));
    json_decref(a);
    return send_j(c, 201, one, NULL);
}

static enum MHD_Result config_set(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *project = jstr(in, "project", SRV_NAME_MAX, &bad), *fw = jstr(in, "firmware", SRV_NAME_MAX, &bad),
               *version = jstr(in, "version", SRV_VER_MAX, &bad), *core_ver = jstr(in, "core_version", 16, &bad);
    int all = jbool(in, "all", &bad), any = jbool(in, "any_from", &bad), en = jbool(in, "enabled", &bad),
        re = jbool(in, "reinstall", &bad);
    char *imeis = jlist(in, "imeis", SRV_IMEI_LEN, &bad), *from = jlist(in, "from", SRV_VER_MAX, &bad);
    ops_err e = { 0 };
    int rc = 0;
    if (bad) rc = ops_fail(&e, EXIT_USAGE_ERR, 400, "field %s: wrong type or too long", bad);
    else if (all == 0 && (!imeis || !*imeis)) rc = ops_fail(&e, EXIT_USAGE_ERR, 400, "imeis: at least one, or all");
    else if (any == 0 && (!from || !*from)) rc = ops_fail(&e, EXIT_USAGE_ERR, 400, "from: at least one, or any_from");
    if (rc == 0) {
        pthread_mutex_lock(&k->lock);
        rc = ops_config_set(&k->db, s->user, project, fw, version, core_ver, all == 1 ? "all" : all == 0 ? imeis : NULL,
                            any == 1 ? "any" : any == 0 ? from : NULL, en < 0 ? NULL : en ? "1" : "0",
                            re < 0 ? NULL : re ? "1" : "0", &e);
        pthread_mutex_unlock(&k->lock);
    }
    free(imeis);
    free(from);
    if (rc) return send_ops(c, &e);
    return send_j(c, 200, json_pack("{sb}", "ok", 1), NULL);
}

static enum MHD_Result listing(struct srv_console *k, struct MHD_Connection *c, const session *s, const char *what)
{
    json_t *a = json_array();
    ops_err e = { 0 };
    int rc;
    pthread_mutex_lock(&k->lock);
    if (!strcmp(what, "projects")) rc = ops_project_list(&k->db, s->user, add_project, a, &e);
    else if (!strcmp(what, "firmware")) rc = ops_firmware_list(&k->db, s->user, arg(c, "project"), add_firmware, a, &e);
    else if (!strcmp(what, "config")) rc = ops_config_show(&k->db, s->user, arg(c, "project"), add_config, a, &e);
    else if (!strcmp(what, "devices"))
        rc = ops_device_list(&k->db, s->user, arg(c, "project"), arg(c, "imei"), add_device, a, &e);
    else rc = ops_log_list(&k->db, s->user, arg(c, "imei"), arg(c, "date"), 1, 1000, add_log, a, &e);
    pthread_mutex_unlock(&k->lock);
    if (rc) {
        json_decref(a);
        return e.rc ? send_ops(c, &e) : send_err(c, 500, "out of memory");
    }
    return send_j(c, 200, json_pack("{so}", "items", a), NULL);
}

static enum MHD_Result device_act(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in,
                                  const char *what)
{
    const char *bad = NULL;
    const char *imei = jstr(in, "imei", SRV_IMEI_LEN, &bad), *project = jstr(in, "project", SRV_NAME_MAX, &bad);
    if (bad) return send_err(c, 400, "imei, project: strings");
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_device_act(&k->db, s->user, what, imei, project, NULL, &e);
    pthread_mutex_unlock(&k->lock);
    return rc ? send_ops(c, &e) : send_j(c, 200, json_pack("{sb}", "ok", 1), NULL);
}

/* A configuration's staged rollout: GET its status, POST an action (start
 * with its waves and thresholds, pause, resume, abort, advance). The same
 * operation and status JSON as `fota-server rollout`. */
static enum MHD_Result rollout(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL, *project, *fw, *action = "status", *waves = NULL, *every = NULL, *maxf = NULL,
               *minout = NULL;
    if (in) {
        project = jstr(in, "project", SRV_NAME_MAX, &bad);
        fw = jstr(in, "firmware", SRV_NAME_MAX, &bad);
        action = jstr(in, "action", 16, &bad);
        waves = jstr(in, "waves", 128, &bad);
        every = jstr(in, "every", 32, &bad);
        maxf = jstr(in, "max_failure", 16, &bad);
        minout = jstr(in, "min_outcomes", 16, &bad);
        if (!bad && action && !strcmp(action, "status")) bad = "action";   /* a GET */
    } else {
        project = arg(c, "project");
        fw = arg(c, "firmware");
    }
    if (bad) return send_err(c, 400, "rollout: project, firmware, action (start, pause, resume, abort, advance),"
                                     " waves, every, max_failure, min_outcomes: short strings");
    char *text = malloc(SRV_ROLLOUT_JSON_MAX);
    if (!text) return send_err(c, 500, "out of memory");
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_rollout(&k->db, s->user, action, project, fw, waves, every, maxf, minout, text, SRV_ROLLOUT_JSON_MAX,
                         &e);
    pthread_mutex_unlock(&k->lock);
    json_t *j = rc ? NULL : json_loads(text, 0, NULL);
    free(text);
    if (rc) return send_ops(c, &e);
    return j ? send_j(c, 200, j, NULL) : send_err(c, 500, "rollout status unreadable");
}

/* The answer to a complete request (r: its body, or its finished upload). */
static enum MHD_Result api(struct srv_console *k, struct MHD_Connection *c, const char *path, int post, creq *r)
{
    /* A PostgreSQL connection lost (a restart): a new one for this request
     * (no round trip while it works). */
    pthread_mutex_lock(&k->lock);
    store_reconnect(k->db.db);
    pthread_mutex_unlock(&k->lock);
    if (!strcmp(path, "login") && post) {
        json_t *in = r->body ? json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(in)) {
            json_decref(in);
            return send_err(c, 400, "a JSON object");
        }
        enum MHD_Result rc = login(k, c, in);
        json_decref(in);
        return rc;
    }
    session s;
    memset(&s, 0, sizeof s);
    pthread_mutex_lock(&k->lock);
    int have = session_get(k, c, &s);
    pthread_mutex_unlock(&k->lock);
    if (have < 0) return send_busy(c);
    /* the page asks on load whether it has a session: no error for "no" */
    if (!have && !strcmp(path, "me") && !post) return send_j(c, 200, json_pack("{sn}", "user"), NULL);
    if (!have) return send_err(c, 401, "not logged in");
    if (post && !csrf_ok(c, &s)) return send_err(c, 403, "missing or wrong X-CSRF-Token");
    if (!strcmp(path, "me") && !post) return send_j(c, 200, me_json(&s), NULL);
    if (!strcmp(path, "logout") && post) {
        char cookie[200];
        const char *v[] = { s.hash };
        pthread_mutex_lock(&k->lock);
        exec_text(&k->db, "DELETE FROM console_session WHERE token_hash=?1", 1, v);
        pthread_mutex_unlock(&k->lock);
        cookie_value(k, NULL, cookie, sizeof cookie);
        return send_j(c, 200, json_pack("{sb}", "ok", 1), cookie);
    }
    json_t *in = NULL;
    if (post && !r->upload) {
        in = r->body ? json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(in)) {
            json_decref(in);
            return send_err(c, 400, "a JSON object");
        }
    }
    enum MHD_Result rc;
    if (!strcmp(path, "password") && post) rc = change_password(k, c, &s, in);
    else if (s.must_change) rc = send_err(c, 403, "change the initial password first");
    else if (!strcmp(path, "upload") && post && r->upload) rc = upload_end(k, c, r);
    else if (!post && (!strcmp(path, "projects") || !strcmp(path, "firmware") || !strcmp(path, "config") ||
                       !strcmp(path, "devices") || !strcmp(path, "log")))
        rc = listing(k, c, &s, path);
    else if (post && !strcmp(path, "projects")) rc = project_add(k, c, &s, in);
    else if (post && !strcmp(path, "firmware")) rc = firmware_add(k, c, &s, in);
    else if (post && !strcmp(path, "config")) rc = config_set(k, c, &s, in);
    else if (post && !strcmp(path, "devices/unban")) rc = device_act(k, c, &s, in, "unban");
    else if (post && !strcmp(path, "devices/ban")) rc = device_act(k, c, &s, in, "ban");
    else if (post && !strcmp(path, "devices/add")) rc = device_act(k, c, &s, in, "add");
    else if (!strcmp(path, "rollout")) rc = rollout(k, c, &s, post ? in : NULL);
    else if (post && !strcmp(path, "delta")) rc = delta_start(k, c, &s, in);
    else if (!post && !strcmp(path, "delta")) rc = delta_get(k, c, &s, 0);
    else if (!post && !strcmp(path, "delta/file")) rc = delta_get(k, c, &s, 1);
    else rc = send_err(c, 404, "no such endpoint");
    json_decref(in);
    return rc;
}

/* ---------------------------------------------------------------- */
/* entry points                                                      */

static enum MHD_Result page(struct MHD_Connection *c, const char *url)
{
    const char *name = url + strlen(CONSOLE_PREFIX);
    if (!*name) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (r) MHD_add_response_header(r, "Location", CONSOLE_PREFIX "/");
        return send_resp(c, 302, r, NULL, NULL);
    }
    if (!strcmp(name, "/")) name = "/index.html";
    for (size_t i = 0; i < console_asset_count; i++) {
        const console_asset *a = &console_assets[i];
        if (strcmp(name + 1, a->name) != 0) continue;
        const char *ext = strrchr(a->name, '.');
        const char *type = !ext ? "application/octet-stream"
                           : !strcmp(ext, ".html") ? "text/html; charset=utf-8"
                           : !strcmp(ext, ".js") ? "text/javascript; charset=utf-8"
                           : !strcmp(ext, ".css") ? "text/css; charset=utf-8" : "application/octet-stream";
        return send_resp(c, 200, MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT),
                         type, NULL);
    }
    return send_err(c, 404, "not found");
}

static int parse_length(struct MHD_Connection *c, uint64_t *out)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *out = 0;
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) return -1;
    if (!cl) return 0;
    if (!*cl || strlen(cl) > 12 || strspn(cl, "0123456789") != strlen(cl)) return -1;
    *out = strtoull(cl, NULL, 10);
    return 0;
}

enum MHD_Result console_handle(srv_server *s, struct MHD_Connection *c, const char *url, const char *method,
                               const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct srv_console *k = s->console;
    creq *r = *con_cls;
    if (!k) return send_err(c, 404, "the console is off");
    if (r == (void *)s) return send_err(c, 400, "too many parameters");   /* api.c's uri_seen mark */
    int post = !strcmp(method, MHD_HTTP_METHOD_POST);
    int api_url = !strncmp(url, CONSOLE_PREFIX "/api/", 13);
    if (!r) {
        /* first call: headers only; refuse what cannot be right before any body byte */
        if (!post && strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
            return send_err(c, 405, "GET or POST");
        if (post && !api_url) return send_err(c, 405, "GET");
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->magic = CREQ_MAGIC;
        r->fd = -1;
        *con_cls = r;
        if (parse_length(c, &r->expect)) return send_err(c, 411, "a Content-Length, no chunked body");
        if (!post && r->expect) return send_err(c, 400, "unexpected request body");
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        int upload = post && !strcmp(url, CONSOLE_PREFIX "/api/upload");
        /* the type a form cannot send cross-site without a preflight, and the one the data is */
        const char *want = upload ? "application/octet-stream" : "application/json";
        if (post && (!ct || strncmp(ct, want, strlen(want)) || (ct[strlen(want)] && ct[strlen(want)] != ';')))
            return send_err(c, 415, upload ? "Content-Type: application/octet-stream" : "Content-Type: application/json");
        if (upload) {
            session ss;
            memset(&ss, 0, sizeof ss);
            pthread_mutex_lock(&k->lock);
            int have = session_get(k, c, &ss);
            pthread_mutex_unlock(&k->lock);
            if (have < 0) return send_busy(c);
            if (!have) return send_err(c, 401, "not logged in");
            if (!csrf_ok(c, &ss)) return send_err(c, 403, "missing or wrong X-CSRF-Token");
            if (ss.must_change) return send_err(c, 403, "change the initial password first");
            return upload_begin(k, c, &ss, r);
        }
        if (post && r->expect > CONSOLE_JSON_MAX) return send_err(c, 413, "request body over 256 KiB");
        if (post && r->expect && !(r->body = malloc((size_t)r->expect + 1))) return MHD_NO;
        r->cap = (size_t)r->expect;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->upload) {
            if (r->got + n > r->expect) return MHD_NO;
            for (size_t off = 0; off < n;) {
                ssize_t w = write(r->fd, upload_data + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return MHD_NO;   /* disk full: the connection is cut, the file removed */
                off += (size_t)w;
            }
            r->got += n;
        } else {
            if (!r->body || r->n + n > r->cap) return MHD_NO;
            memcpy(r->body + r->n, upload_data, n);
            r->n += n;
        }
        return MHD_YES;
    }
    if (!api_url) return page(c, url);
    return api(k, c, url + 13, post, r);
}

void console_done(srv_server *s, void **con_cls)
{
    creq *r = *con_cls;
    if (!r || r == (void *)s || r->magic != CREQ_MAGIC) return;
    if (r->fd >= 0) {   /* cut mid-upload */
        close(r->fd);
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

int console_start(srv_server *s, const srv_serve_opts *o)
{
    s->console = NULL;
    if (o->console_off) return 0;
    if (sodium_init() < 0) {
        fprintf(stderr, "fota-server: libsodium cannot start\n");
        return -1;
    }
    struct srv_console *k = calloc(1, sizeof *k);
    if (!k) return -1;
    if (db_open(&k->db, o->db_path, o->data_dir, 0)) {
        free(k);
        return -1;
    }
    /* like the device path, a console request does not wait long on the CLI */
    store_busy_timeout(k->db.db, 2000);
    int n = snprintf(k->up_dir, sizeof k->up_dir, "%s/console-uploads", k->db.data_dir);
    if (n < 0 || (size_t)n >= sizeof k->up_dir || fota_port_mkdirs(k->up_dir) != FOTA_OK) {
        fprintf(stderr, "fota-server: cannot make %s\n", k->up_dir);
        db_close(&k->db);
        free(k);
        return -1;
    }
    k->secure = o->tls_cert_path != NULL;
    k->idle_s = o->console_idle_s ? o->console_idle_s : CONSOLE_IDLE_S;
    k->max_age_s = o->console_max_age_s ? o->console_max_age_s : CONSOLE_MAX_AGE_S;
    pthread_mutex_init(&k->lock, NULL);
    s->console = k;
    return 0;
}

void console_stop(srv_server *s)
{
    struct srv_console *k = s->console;
    if (!k) return;
    for (int i = 0; i < DELTA_JOBS; i++)
        if (k->jobs[i].used) pthread_join(k->jobs[i].thread, NULL);
    db_close(&k->db);
    pthread_mutex_destroy(&k->lock);
    free(k);
    s->console = NULL;
}
