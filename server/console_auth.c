/* Console accounts, logins and sessions (console_auth.h).
 *
 * Security model (docs/server.md): passwords as Argon2id strings
 * (libsodium); a session is 32 random bytes in an HttpOnly, SameSite=Strict
 * cookie (Secure under https), stored only as its BLAKE2b hash, ending after
 * CONSOLE_IDLE_S unused or CONSOLE_MAX_AGE_S after login; every POST carries
 * the session's CSRF token in X-CSRF-Token; login failures are counted per
 * user and per address. */
#include "console_auth.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "validate.h"

const char *const srv_console_schema =
    "CREATE TABLE IF NOT EXISTS console_user(name TEXT PRIMARY KEY, pwhash TEXT NOT NULL,"
    " must_change INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS console_session(token_hash TEXT PRIMARY KEY, user TEXT NOT NULL,"
    " csrf TEXT NOT NULL, created INTEGER NOT NULL, seen INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS console_fail(who TEXT NOT NULL, ts INTEGER NOT NULL);"
    /* accounts the admin disabled: no login, no session */
    "CREATE TABLE IF NOT EXISTS console_user_off(name TEXT PRIMARY KEY, since INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS console_fail_who ON console_fail(who, ts);"
    "CREATE TABLE IF NOT EXISTS console_upload(id TEXT PRIMARY KEY, user TEXT NOT NULL, dir TEXT NOT NULL,"
    " name TEXT NOT NULL, files INTEGER NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS project_family(project_id INTEGER PRIMARY KEY REFERENCES project(id),"
    " family TEXT NOT NULL);";

#define COOKIE "fota_session"

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

static void token_hash(const char *token, char out[65])
{
    uint8_t h[32];
    crypto_generichash(h, sizeof h, (const uint8_t *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof h);
}

static int password_ok(const char *p, const char **why)
{
    size_t n = p ? strlen(p) : 0;
    if (n < CONSOLE_PASS_MIN || n > CONSOLE_PASS_MAX) *why = "password_length";   /* codes: util.c's table */
    else if (strspn(p, "0123456789") == n && n <= 8) *why = "password_digits";
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

int console_user_set(srv_db *d, const char *name, const char *password, int create, ops_err *e)
{
    const char *why = NULL;
    if (!name || !srv_is_owner(name, strlen(name)))
        return ops_fail(e, EXIT_USAGE_ERR, 400, "--name %s: 1..64 of [A-Za-z0-9._@-]", name ? name : "missing");
    if (!password_ok(password, &why)) return ops_failk(e, EXIT_USAGE_ERR, 400, why, "min", "8", "max", "128", NULL);
    if (sodium_init() < 0) return ops_fail(e, EXIT_IO_ERR, 500, "libsodium cannot start");
    char h[crypto_pwhash_STRBYTES];
    if (hash_password(password, h)) return ops_failk(e, EXIT_IO_ERR, 500, "out_of_memory", NULL);
    store_stmt *st = store_prepare(d->db, create ? "INSERT INTO console_user(name, pwhash, must_change, created)"
                                                   " VALUES(?1, ?2, 1, ?3)"
                                                 : "UPDATE console_user SET pwhash=?2, must_change=1 WHERE name=?1");
    if (!st) return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
    store_bind_str(st, 1, name);
    store_bind_str(st, 2, h);
    if (create) store_bind_int64(st, 3, srv_now_ms());
    int rc = store_step(st);
    int changed = rc == STORE_DONE && store_changes(st) > 0;
    store_finalize(st);
    sodium_memzero(h, sizeof h);
    if (rc != STORE_DONE || !changed)
        return ops_failk(e, EXIT_USAGE_ERR, create ? 409 : 404, create ? "user_exists" : "user_unknown", "user", name,
                         NULL);
    if (!create) {   /* a reset ends the user's sessions */
        const char *v[] = { name };
        db_exec_text(d, "DELETE FROM console_session WHERE user=?1", 1, v);
    }
    return 0;
}

int console_user_list(srv_db *d, console_user_cb cb, void *ctx, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, "SELECT u.name, u.must_change,"
                                          " (SELECT COUNT(*) FROM project WHERE owner=u.name)"
                                          " FROM console_user u ORDER BY u.name");
    if (!st) return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
    int rc = 0;
    while (rc == 0 && store_step(st) == STORE_ROW)
        rc = cb(ctx, store_column_text(st, 0), (int)store_column_int64(st, 1), store_column_int64(st, 2));
    store_finalize(st);
    return rc;
}

/* The request's session: 1 found (and its idle clock restarted), 0 none or
 * expired (then deleted), -1 the store failed. Caller holds the console lock. */
int console_session_get(struct srv_console *k, struct MHD_Connection *c, session *out)
{
    const char *tok = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, COOKIE);
    if (!con_is_hex(tok, TOKEN_HEX)) return 0;
    token_hash(tok, out->hash);
    int64_t now = srv_now_ms();
    store_stmt *st = db_prep(&k->db, "SELECT s.user, s.csrf, s.created, s.seen, u.must_change,"
                                    " (SELECT name FROM console_user ORDER BY created, name LIMIT 1)"
                                    " FROM console_session s JOIN console_user u ON u.name=s.user WHERE s.token_hash=?1"
                                    " AND NOT EXISTS (SELECT 1 FROM console_user_off o WHERE o.name=s.user)");
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
            out->admin = store_column_text(st, 5) && !strcmp(store_column_text(st, 5), u);
        }
    }
    store_finalize(st);
    const char *v[] = { out->hash };
    if (!found) db_exec_text(&k->db, "DELETE FROM console_session WHERE token_hash=?1", 1, v);
    else if ((st = db_prep(&k->db, "UPDATE console_session SET seen=?2 WHERE token_hash=?1"))) {
        store_bind_str(st, 1, out->hash);
        store_bind_int64(st, 2, now);
        store_step(st);
        store_finalize(st);
    }
    return found;
}

int console_csrf_ok(struct MHD_Connection *c, const session *s)
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
    else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6)   /* each its own, not one "?" */
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)ci->client_addr)->sin6_addr, out,
                  INET6_ADDRSTRLEN);
}

/* Failures of who since: how many, and the oldest and newest time. */
static int fail_count(srv_db *d, const char *who, int64_t since, int64_t *oldest, int64_t *newest)
{
    store_stmt *st = db_prep(d, "SELECT COUNT(*), MIN(ts), MAX(ts) FROM console_fail WHERE who=?1 AND ts>=?2");
    *oldest = *newest = 0;
    if (!st) return INT32_MAX;
    store_bind_str(st, 1, who);
    store_bind_int64(st, 2, since);
    int n = INT32_MAX;
    if (store_step(st) == STORE_ROW) {
        n = (int)store_column_int64(st, 0);
        *oldest = store_column_int64(st, 1);
        *newest = store_column_int64(st, 2);
    }
    store_finalize(st);
    return n;
}

/* Lock held. Milliseconds this login must wait (0: it may try). A name is
 * slowed down only from the addresses it failed from: after
 * CONSOLE_FAIL_FREE failures of this name from this address, each try waits
 * 1 s after the last failure, doubling per failure up to
 * CONSOLE_FAIL_WAIT_MAX_S; so a stranger's failures never keep the owner
 * out from the owner's address. An address with CONSOLE_FAIL_ADDR failures
 * (any names) in the window waits until the oldest leaves it: together with
 * CONSOLE_HASHES this bounds the Argon2id work one address causes. */
static int64_t login_wait(srv_db *d, const char *who_pair, const char *who_addr, int64_t now)
{
    int64_t since = now - (int64_t)CONSOLE_FAIL_WINDOW_S * 1000, oldest, newest, wait = 0;
    int n = fail_count(d, who_addr, since, &oldest, &newest);
    if (n == INT32_MAX) return 1000;   /* the store failed: no hash */
    if (n >= CONSOLE_FAIL_ADDR) wait = oldest + (int64_t)CONSOLE_FAIL_WINDOW_S * 1000 - now;
    n = fail_count(d, who_pair, since, &oldest, &newest);
    if (n == INT32_MAX) return 1000;
    if (n >= CONSOLE_FAIL_FREE) {
        int shift = n - CONSOLE_FAIL_FREE > 10 ? 10 : n - CONSOLE_FAIL_FREE;
        int64_t step = (int64_t)1000 << shift;
        if (step > (int64_t)CONSOLE_FAIL_WAIT_MAX_S * 1000) step = (int64_t)CONSOLE_FAIL_WAIT_MAX_S * 1000;
        if (newest + step - now > wait) wait = newest + step - now;
    }
    return wait > 0 ? wait : 0;
}

static int user_disabled(srv_db *d, const char *name)
{
    store_stmt *st = db_prep(d, "SELECT 1 FROM console_user_off WHERE name=?1");
    if (!st) return 1;
    store_bind_str(st, 1, name);
    int off = store_step(st) == STORE_ROW;
    store_finalize(st);
    return off;
}

static int user_is_admin(srv_db *d, const char *name)
{
    store_stmt *st = db_prep(d, "SELECT name FROM console_user ORDER BY created, name LIMIT 1");
    if (!st) return 0;
    int admin = store_step(st) == STORE_ROW && store_column_text(st, 0) && !strcmp(store_column_text(st, 0), name);
    store_finalize(st);
    return admin;
}

static void fail_add(srv_db *d, const char *who)
{
    store_stmt *st = db_prep(d, "INSERT INTO console_fail(who, ts) VALUES(?1, ?2)");
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
    store_stmt *st = db_prep(&k->db, "DELETE FROM console_fail WHERE ts<?1");
    if (st) {
        store_bind_int64(st, 1, since);
        store_step(st);
        store_finalize(st);
    }
    if ((st = db_prep(&k->db, "DELETE FROM console_session WHERE seen<?1 OR created<?2"))) {
        store_bind_int64(st, 1, now - (int64_t)k->idle_s * 1000);
        store_bind_int64(st, 2, now - (int64_t)k->max_age_s * 1000);
        store_step(st);
        store_finalize(st);
    }
}

json_t *console_me_json(const session *s)
{
    return json_pack("{sssssbsb}", "user", s->user, "csrf", s->csrf, "must_change", s->must_change, "admin", s->admin);
}

static void cookie_value(struct srv_console *k, const char *token, char *out, size_t cap)
{
    snprintf(out, cap, COOKIE "=%s; Path=" CONSOLE_PREFIX "; HttpOnly; SameSite=Strict; Max-Age=%u%s",
             token ? token : "", token ? k->max_age_s : 0, k->secure ? "; Secure" : "");
}

enum MHD_Result console_login(struct srv_console *k, struct MHD_Connection *c, json_t *in)
{
    const char *bad = NULL;
    const char *user = con_jstr(in, "user", SRV_OWNER_MAX, &bad), *pass = con_jstr(in, "password", CONSOLE_PASS_MAX, &bad);
    if (bad || !user || !pass || !srv_is_owner(user, strlen(user)))
        return con_send_err(c, 400, "field_required", "field", "user, password", NULL);
    char addr[INET6_ADDRSTRLEN], who_u[SRV_OWNER_MAX + INET6_ADDRSTRLEN + 4], who_a[INET6_ADDRSTRLEN + 2];
    client_addr(c, addr);
    snprintf(who_u, sizeof who_u, "p:%s|%s", addr, user);   /* this name from this address */
    snprintf(who_a, sizeof who_a, "a:%s", addr);
    int64_t now = srv_now_ms(), since = now - (int64_t)CONSOLE_FAIL_WINDOW_S * 1000;
    char h[crypto_pwhash_STRBYTES] = "";
    int must = 0, off = 0, admin = 0;
    pthread_mutex_lock(&k->lock);
    prune(k, since);
    int64_t wait = login_wait(&k->db, who_u, who_a, now);
    store_stmt *st = wait ? NULL : db_prep(&k->db, "SELECT pwhash, must_change FROM console_user WHERE name=?1");
    if (st) {
        store_bind_str(st, 1, user);
        if (store_step(st) == STORE_ROW && store_column_text(st, 0) && strlen(store_column_text(st, 0)) < sizeof h) {
            snprintf(h, sizeof h, "%s", store_column_text(st, 0));
            must = (int)store_column_int64(st, 1);
        }
        store_finalize(st);
        off = user_disabled(&k->db, user);
        admin = user_is_admin(&k->db, user);
    }
    pthread_mutex_unlock(&k->lock);
    if (wait) {
        char secs[24];
        return con_send_err(c, 429, "login_throttled", "seconds", ops_num(secs, (wait + 999) / 1000), NULL);
    }
    if (!hash_slot(k, 1)) return con_send_busy(c);
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
    } else if (off) {
        ok = -2;   /* the right password of a disabled account: said, since the password was right */
    } else {
        const char *v[] = { who_u };
        db_exec_text(&k->db, "DELETE FROM console_fail WHERE who=?1", 1, v);
        con_random_hex(token, 32);
        con_random_hex(s.csrf, 32);
        token_hash(token, s.hash);
        snprintf(s.user, sizeof s.user, "%s", user);
        s.must_change = must;
        s.admin = admin;
        if ((st = db_prep(&k->db, "INSERT INTO console_session(token_hash, user, csrf, created, seen)"
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
    if (ok == 0) return con_send_err(c, 401, "login_bad", NULL);
    if (ok == -2) return con_send_err(c, 403, "login_disabled", NULL);
    if (ok < 0) return con_send_err(c, 500, "session_failed", NULL);
    cookie_value(k, token, cookie, sizeof cookie);
    return con_send_j(c, 200, console_me_json(&s), cookie);
}

enum MHD_Result console_change_password(struct srv_console *k, struct MHD_Connection *c, session *s, json_t *in)
{
    const char *bad = NULL, *why = NULL;
    const char *old = con_jstr(in, "old", CONSOLE_PASS_MAX, &bad), *neu = con_jstr(in, "new", CONSOLE_PASS_MAX, &bad);
    if (bad || !old || !neu) return con_send_err(c, 400, "field_required", "field", "old, new", NULL);
    if (!password_ok(neu, &why)) return con_send_err(c, 400, why, "min", "8", "max", "128", NULL);
    if (!strcmp(old, neu)) return con_send_err(c, 400, "password_same", NULL);
    char h[crypto_pwhash_STRBYTES] = "";
    pthread_mutex_lock(&k->lock);
    store_stmt *st = db_prep(&k->db, "SELECT pwhash FROM console_user WHERE name=?1");
    if (st) {
        store_bind_str(st, 1, s->user);
        if (store_step(st) == STORE_ROW && store_column_text(st, 0) && strlen(store_column_text(st, 0)) < sizeof h)
            snprintf(h, sizeof h, "%s", store_column_text(st, 0));
        store_finalize(st);
    }
    pthread_mutex_unlock(&k->lock);
    if (!hash_slot(k, 1)) return con_send_busy(c);
    int right = h[0] && crypto_pwhash_str_verify(h, old, strlen(old)) == 0;
    int hashed = right && hash_password(neu, h) == 0;
    hash_slot(k, 0);
    if (!right) return con_send_err(c, 403, "password_old_wrong", NULL);
    if (!hashed) return con_send_err(c, 500, "password_failed", NULL);
    pthread_mutex_lock(&k->lock);
    int rc = -1;
    if ((st = db_prep(&k->db, "UPDATE console_user SET pwhash=?2, must_change=0 WHERE name=?1"))) {
        store_bind_str(st, 1, s->user);
        store_bind_str(st, 2, h);
        rc = store_step(st) == STORE_DONE ? 0 : -1;
        store_finalize(st);
    }
    /* the other sessions of the user end (a stolen one among them) */
    const char *v[] = { s->user, s->hash };
    if (rc == 0) rc = db_exec_text(&k->db, "DELETE FROM console_session WHERE user=?1 AND token_hash!=?2", 2, v);
    pthread_mutex_unlock(&k->lock);
    sodium_memzero(h, sizeof h);
    if (rc) return con_send_err(c, 500, "password_failed", NULL);
    s->must_change = 0;
    return con_send_j(c, 200, console_me_json(s), NULL);
}

enum MHD_Result console_logout(struct srv_console *k, struct MHD_Connection *c, const session *s)
{
    char cookie[200];
    const char *v[] = { s->hash };
    pthread_mutex_lock(&k->lock);
    db_exec_text(&k->db, "DELETE FROM console_session WHERE token_hash=?1", 1, v);
    pthread_mutex_unlock(&k->lock);
    cookie_value(k, NULL, cookie, sizeof cookie);
    return con_send_j(c, 200, json_pack("{sb}", "ok", 1), cookie);
}

/* An initial password for a user the admin adds or resets: 16 letters and
 * digits (no 0/O, 1/l), shown once to the admin; the user must change it. */
static void initial_password(char out[17])
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    for (int i = 0; i < 16; i++) out[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
    out[16] = '\0';
}

static int add_user_row(void *ctx, const char *name, int must_change, int64_t projects)
{
    (void)projects;
    return json_array_append_new(ctx, json_pack("{sssb}", "user", name, "must_change", must_change));
}

/* The users with whether each is the admin or disabled and when made. */
static json_t *user_list(srv_db *d, ops_err *e)
{
    json_t *a = json_array();
    if (!a || console_user_list(d, add_user_row, a, e)) {
        json_decref(a);
        return NULL;
    }
    store_stmt *st = db_prep(d, "SELECT u.name, u.created, EXISTS (SELECT 1 FROM console_user_off o WHERE o.name=u.name)"
                                " FROM console_user u");
    if (!st) {
        json_decref(a);
        ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
        return NULL;
    }
    size_t i;
    json_t *row;
    while (store_step(st) == STORE_ROW) {
        const char *name = store_column_text(st, 0);
        json_array_foreach(a, i, row)
            if (name && !strcmp(json_string_value(json_object_get(row, "user")), name)) {
                json_object_set_new(row, "created", json_integer(store_column_int64(st, 1)));
                json_object_set_new(row, "disabled", json_boolean(store_column_int64(st, 2) != 0));
                json_object_set_new(row, "admin", json_boolean(user_is_admin(d, name)));
            }
    }
    store_finalize(st);
    return a;
}

enum MHD_Result console_users(struct srv_console *k, struct MHD_Connection *c, const session *s, const char *path,
                              int post, json_t *in)
{
    if (!s->admin) return con_send_err(c, 403, "admin_only", NULL);
    ops_err e = { 0 };
    if (!post) {
        pthread_mutex_lock(&k->lock);
        json_t *a = user_list(&k->db, &e);
        pthread_mutex_unlock(&k->lock);
        return a ? con_send_j(c, 200, json_pack("{so}", "items", a), NULL) : con_send_ops(c, &e);
    }
    const char *bad = NULL, *user = con_jstr(in, "user", SRV_OWNER_MAX, &bad);
    if (bad || !user || !srv_is_owner(user, strlen(user)))
        return con_send_err(c, 400, "user_invalid", "user", user ? user : "", NULL);
    int rc;
    if (!strcmp(path, "users/disable")) {
        int off = con_jbool(in, "disabled", &bad);
        if (off < 0) return con_send_err(c, 400, "field_invalid", "field", "disabled", NULL);
        if (!strcmp(user, s->user)) return con_send_err(c, 409, "user_self", NULL);
        pthread_mutex_lock(&k->lock);
        store_stmt *st = db_prep(&k->db, "SELECT 1 FROM console_user WHERE name=?1");
        int known = 0;
        if (st) {
            store_bind_str(st, 1, user);
            known = store_step(st) == STORE_ROW;
            store_finalize(st);
        }
        const char *v[] = { user };
        int failed = 0;
        if (known && off && (st = db_prep(&k->db, "INSERT INTO console_user_off(name, since) VALUES(?1, ?2)"
                                                   " ON CONFLICT(name) DO NOTHING"))) {
            store_bind_str(st, 1, user);
            store_bind_int64(st, 2, srv_now_ms());
            failed = store_step(st) != STORE_DONE;
            store_finalize(st);
        } else if (known && off) {
            failed = 1;
        }
        if (known && !failed)   /* disabled: out now; enabled: back */
            failed = db_exec_text(&k->db, off ? "DELETE FROM console_session WHERE user=?1"
                                              : "DELETE FROM console_user_off WHERE name=?1", 1, v) != 0;
        rc = !known  ? ops_failk(&e, EXIT_USAGE_ERR, 404, "user_unknown", "user", user, NULL)
             : failed ? ops_failk(&e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(k->db.db), NULL)
                      : 0;
        pthread_mutex_unlock(&k->lock);
        return rc ? con_send_ops(c, &e) : con_send_j(c, 200, json_pack("{sssb}", "user", user, "disabled", off), NULL);
    }
    int create = !strcmp(path, "users");
    if (!create && strcmp(path, "users/reset")) return con_send_err(c, 404, "no_endpoint", NULL);
    char pass[17];
    initial_password(pass);
    if (!hash_slot(k, 1)) return con_send_busy(c);
    pthread_mutex_lock(&k->lock);   /* held over one Argon2id run: an admin's rare action */
    rc = console_user_set(&k->db, user, pass, create, &e);
    pthread_mutex_unlock(&k->lock);
    hash_slot(k, 0);
    if (rc) return con_send_ops(c, &e);
    return con_send_j(c, create ? 201 : 200, json_pack("{ssss}", "user", user, "password", pass), NULL);
}
