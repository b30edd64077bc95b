/* store.h over sqlite3 and libpq. */
#include "store.h"
#include <ctype.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define STORE_PIPELINE_SYNC_EVERY 256

struct store {
    enum store_kind kind;
    sqlite3 *db;
    PGconn *pg;
    uint64_t next_name;     /* prepared statement names s1, s2, ... */
    uint64_t generation;    /* bumped by a reset: older preparations are gone */
    uint64_t notified;      /* notifications received (store_clock) */
    int listening;
    int piped;              /* in a pipeline (store_pipeline_begin) */
    int pending;            /* statements sent since its last sync */
    int pipe_rc;            /* its first failure */
    char err[256];
};

struct store_stmt {
    store *s;
    sqlite3_stmt *lite;
    /* PostgreSQL */
    char *sql;              /* rewritten text, to prepare again after a reset */
    char name[24];
    uint64_t prepared_gen;  /* 0: not prepared on the current connection */
    int nparams;
    char *val[STORE_PARAMS_MAX];
    int len[STORE_PARAMS_MAX];  /* a binary parameter's length (fmt 1) */
    int fmt[STORE_PARAMS_MAX];  /* 0 text, 1 binary (store_bind_blob) */
    unsigned char *blob;        /* store_column_blob's decoded bytea */
    PGresult *res;
    int row, nrows, executed;
    int64_t changes;
};

static void set_err(store *s, const char *msg)
{
    snprintf(s->err, sizeof s->err, "%s", msg ? msg : "?");
    /* libpq's messages end in a newline */
    size_t n = strlen(s->err);
    while (n && (s->err[n - 1] == '\n' || s->err[n - 1] == '\r'))
        s->err[--n] = 0;
}

int store_is_pg(const char *loc)
{
    return loc && (strncmp(loc, "postgresql://", 13) == 0 || strncmp(loc, "postgres://", 11) == 0);
}

store *store_open(const char *loc, char *err, size_t errlen)
{
    if (!loc || !*loc || strlen(loc) > 4096) {
        snprintf(err, errlen, "store: no location");
        return NULL;
    }
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "store: out of memory");
        return NULL;
    }
    if (store_is_pg(loc)) {
        s->kind = STORE_PG;
        s->pg = PQconnectdb(loc);
        if (!s->pg || PQstatus(s->pg) != CONNECTION_OK) {
            snprintf(err, errlen, "store: %s", s->pg ? PQerrorMessage(s->pg) : "out of memory");
            size_t n = strlen(err);
            while (n && err[n - 1] == '\n')
                err[--n] = 0;
            PQfinish(s->pg);
            free(s);
            return NULL;
        }
        s->generation = 1;
        /* Quiet NOTICEs (CREATE ... IF NOT EXISTS) instead of stderr noise. */
        PGresult *r = PQexec(s->pg, "SET client_min_messages = warning");
        PQclear(r);
        return s;
    }
    s->kind = STORE_SQLITE;
    /* No memory statistics: they take a process-wide mutex on every
     * allocation of every connection. Only possible before SQLite's first
     * use (later calls are refused, harmlessly). */
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    /* no mutexes of SQLite's own: a store is used by one thread at a time
     * (store.h), which the callers' locks already ensure */
    if (sqlite3_open_v2(loc, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "store: %s: %s", loc, s->db ? sqlite3_errmsg(s->db) : "out of memory");
        sqlite3_close(s->db);
        free(s);
        return NULL;
    }
    sqlite3_busy_timeout(s->db, 5000);
    return s;
}

void store_close(store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
    if (s->pg)
        PQfinish(s->pg);
    free(s);
}

enum store_kind store_kind_of(const store *s) { return s->kind; }

const char *store_errmsg(const store *s)
{
    if (s->kind == STORE_SQLITE && !s->err[0])
        return sqlite3_errmsg(s->db);
    return s->err;
}

/* A new session on the same location: prepared statements are gone (the
 * generation moves, they are prepared again on their next step). */
static int pg_reset(store *s)
{
    PQreset(s->pg);
    if (PQstatus(s->pg) != CONNECTION_OK) {
        set_err(s, PQerrorMessage(s->pg));
        return 0;
    }
    s->generation++;
    PGresult *r = PQexec(s->pg, "SET client_min_messages = warning");
    PQclear(r);
    if (s->listening) {     /* a new session listens afresh */
        r = PQexec(s->pg, "LISTEN fota_changed");
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            set_err(s, PQerrorMessage(s->pg));
            return 0;
        }
    }
    return 1;
}

int store_reconnect(store *s)
{
    if (s->kind == STORE_SQLITE)
        return 1;
    if (PQstatus(s->pg) == CONNECTION_OK)
        return 1;
    return pg_reset(s);
}

static int pg_failed(store *s, PGresult *r);

int store_clock(store *s, int64_t *clock)
{
    if (s->kind == STORE_SQLITE) {
        unsigned int dv = 0;
        if (sqlite3_file_control(s->db, "main", SQLITE_FCNTL_DATA_VERSION, &dv) != SQLITE_OK)
            return STORE_ERR;
        *clock = dv;
        return 0;
    }
    if (!s->listening) {
        set_err(s, "store_clock before store_watch");
        return STORE_ERR;
    }
    /* Reads what has arrived on the socket; never waits. */
    if (!PQconsumeInput(s->pg)) {
        set_err(s, PQerrorMessage(s->pg));
        return PQstatus(s->pg) == CONNECTION_OK ? STORE_ERR : STORE_DOWN;
    }
    PGnotify *nt;
    while ((nt = PQnotifies(s->pg)) != NULL) {
        s->notified++;
        PQfreemem(nt);
    }
    /* the generation in the high bits: a reconnect always moves the clock */
    *clock = (int64_t)((s->generation << 40) ^ s->notified);
    return 0;
}

static int pg_run(store *s, const char *sql)
{
    PGresult *r = PQexec(s->pg, sql);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(s, r);
    PQclear(r);
    return 0;
}

int store_watch(store *s, const char *const *tables, int n)
{
    if (s->kind == STORE_SQLITE)
        return 0;
    if (n < 0 || n > 64)
        return STORE_ERR;
    int rc = pg_run(s, "CREATE OR REPLACE FUNCTION fota_changed() RETURNS trigger LANGUAGE plpgsql AS"
                       " $$BEGIN PERFORM pg_notify('fota_changed', ''); RETURN NULL; END$$");
    for (int i = 0; rc == 0 && i < n; i++) {
        /* names go into DDL (identifiers can't be bound): only plain ones */
        size_t len = strlen(tables[i]);
        if (len == 0 || len > 48 || strspn(tables[i], "abcdefghijklmnopqrstuvwxyz_") != len) {
            set_err(s, "store_watch: bad table name");
            return STORE_ERR;
        }
        char q[256];
        snprintf(q, sizeof q, "CREATE OR REPLACE TRIGGER %s_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE"
                 " ON %s FOR EACH STATEMENT EXECUTE FUNCTION fota_changed()", tables[i], tables[i]);
        rc = pg_run(s, q);
    }
    if (rc == 0)
        rc = pg_run(s, "LISTEN fota_changed");
    if (rc == 0)
        s->listening = 1;
    return rc;
}

/* ---- dialect ---------------------------------------------------------- */

typedef struct {
    char *p;
    size_t n, cap;
    int bad;
} buf;

static void put(buf *b, const char *t, size_t n)
{
    if (b->bad)
        return;
    if (n > STORE_SQL_MAX || b->n + n + 1 > STORE_SQL_MAX) {
        b->bad = 1;
        return;
    }
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, t, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void puts_(buf *b, const char *t) { put(b, t, strlen(t)); }

static int is_word_start(char c) { return isalpha((unsigned char)c) || c == '_'; }
static int is_word(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* The word at p (none: length 0). */
static size_t word_len(const char *p)
{
    size_t n = 0;
    if (!is_word_start(p[0]))
        return 0;
    while (is_word(p[n]))
        n++;
    return n;
}

static int word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && strncasecmp(p, w, n) == 0;
}

/* The next word after p's word (skipping blanks), or NULL. */
static const char *next_word(const char *p, size_t n, size_t *len)
{
    p += n;
    while (isspace((unsigned char)*p))
        p++;
    *len = word_len(p);
    return *len ? p : NULL;
}

/* p at a function name: 1 when its parentheses hold a top-level comma
 * (SQLite's scalar max(a, b), PostgreSQL's GREATEST), 0 for max(x). */
static int has_two_args(const char *p)
{
    while (is_word(*p))
        p++;
    while (isspace((unsigned char)*p))
        p++;
    if (*p != '(')
        return 0;
    int depth = 0;
    for (; *p; p++) {
        if (*p == '\'') {
            for (p++; *p && *p != '\''; p++)
                ;
            if (!*p)
                return 0;
        } else if (*p == '(') {
            depth++;
        } else if (*p == ')') {
            if (--depth == 0)
                return 0;
        } else if (*p == ',' && depth == 1) {
            return 1;
        }
    }
    return 0;
}

/* store_dialect's state while it rewrites. */
typedef struct dialect {
    buf b;
    enum store_kind kind;
    int maxp, seq;
    int ignore;                       /* INSERT OR IGNORE: its ON CONFLICT at the statement's end */
    int stmt_start;                   /* nothing but blanks since the statement began */
} dialect;

/* A literal or quoted name at p, copied as is; the text after it (p, with
 * b->bad set, when it is not closed). */
static const char *copy_quoted(buf *b, const char *p)
{
    char c = *p;
    const char *q = p + 1;
    for (;;) {
        if (!*q) {
            b->bad = 1;
            return p;
        }
        if (*q == c) {
            if (q[1] == c) {
                q += 2;
                continue;
            }
            break;
        }
        q++;
    }
    put(b, p, (size_t)(q - p) + 1);
    return q + 1;
}

/* The placeholder after a '?' at p (?N, or a bare ? numbered in order) in
 * the target's spelling; the text after it (p with bad set when out of range). */
static const char *placeholder(dialect *d, const char *p)
{
    int num;
    if (isdigit((unsigned char)*p)) {
        char *end;
        long v = strtol(p, &end, 10);
        if (v < 1 || v > STORE_PARAMS_MAX) {
            d->b.bad = 1;
            return p;
        }
        num = (int)v;
        p = end;
    } else {
        num = ++d->seq;
        if (num > STORE_PARAMS_MAX) {
            d->b.bad = 1;
            return p;
        }
    }
    if (num > d->maxp)
        d->maxp = num;
    char t[16];
    snprintf(t, sizeof t, "%c%d", d->kind == STORE_PG ? '$' : '?', num);
    puts_(&d->b, t);
    return p;
}

/* One SQLite word at p (n bytes, with the words after it) rewritten for
 * PostgreSQL: the text after what was rewritten, or NULL to copy it as is. */
static const char *pg_word(dialect *d, const char *p, size_t n)
{
    size_t n2 = 0, n3 = 0;
    const char *w2 = next_word(p, n, &n2);
    const char *w3 = w2 ? next_word(w2, n2, &n3) : NULL;
    const char *to = NULL;
    if (d->stmt_start && word_is(p, n, "PRAGMA")) {   /* dropped, with its ';' */
        while (*p && *p != ';')
            p++;
        if (*p)
            p++;
        while (isspace((unsigned char)*p))
            p++;
        return p;
    }
    if (word_is(p, n, "AUTOINCREMENT"))
        return p + n;
    if (word_is(p, n, "WITHOUT") && w2 && word_is(w2, n2, "ROWID"))
        return w2 + n2;
    if (word_is(p, n, "INTEGER") && w2 && word_is(w2, n2, "PRIMARY") && w3 && word_is(w3, n3, "KEY")) {
        puts_(&d->b, "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY");
        to = w3 + n3;
    } else if (word_is(p, n, "INSERT") && w2 && word_is(w2, n2, "OR") && w3 && word_is(w3, n3, "IGNORE")) {
        puts_(&d->b, "INSERT");
        d->ignore = 1;
        to = w3 + n3;
    } else {
        const char *as = word_is(p, n, "INTEGER") ? "BIGINT"
                         /* reserved in PostgreSQL, a plain name in SQLite */
                         : word_is(p, n, "user") ? "\"user\""
                         /* of text, with its separator */
                         : word_is(p, n, "group_concat") ? "string_agg"
                         : word_is(p, n, "IFNULL") ? "COALESCE"
                         : word_is(p, n, "BLOB") ? "BYTEA"
                         : word_is(p, n, "max") && has_two_args(p) ? "GREATEST"
                         : word_is(p, n, "min") && has_two_args(p) ? "LEAST" : NULL;
        if (!as)
            return NULL;
        puts_(&d->b, as);
        to = p + n;
    }
    d->stmt_start = 0;
    return to;
}

/* A statement ends (';', or the end of the text). */
static void end_statement(dialect *d)
{
    if (d->ignore)
        puts_(&d->b, " ON CONFLICT DO NOTHING");
    d->ignore = 0;
    d->stmt_start = 1;
}

char *store_dialect(enum store_kind kind, const char *sql, int *nparams)
{
    dialect d;
    const char *p = sql;
    size_t n;
    if (!sql || strlen(sql) > STORE_SQL_MAX)
        return NULL;
    memset(&d, 0, sizeof d);
    d.kind = kind;
    d.stmt_start = 1;
    while (*p && !d.b.bad) {
        char c = *p;
        if (c == '\'' || c == '"') {                /* literal or quoted name: as is */
            p = copy_quoted(&d.b, p);
            d.stmt_start = 0;
        } else if (c == '-' && p[1] == '-') {       /* comment to end of line */
            p += strcspn(p, "\n");
        } else if (c == '?') {
            p = placeholder(&d, p + 1);
            d.stmt_start = 0;
        } else if (c == ';') {
            end_statement(&d);
            put(&d.b, p++, 1);
        } else if ((n = word_len(p)) && (p == sql || !is_word(p[-1]))) {
            const char *next = kind == STORE_PG ? pg_word(&d, p, n) : NULL;
            if (!next) {
                put(&d.b, p, n);
                next = p + n;
                d.stmt_start = 0;
            }
            p = next;
        } else {
            if (!isspace((unsigned char)c))
                d.stmt_start = 0;
            put(&d.b, p++, 1);
        }
    }
    end_statement(&d);
    if (!d.b.bad && !d.b.p)
        puts_(&d.b, "");
    if (d.b.bad) {
        free(d.b.p);
        return NULL;
    }
    if (nparams)
        *nparams = d.maxp;
    return d.b.p;
}

/* ---- statements --------------------------------------------------------- */

static int pg_failed(store *s, PGresult *r)
{
    set_err(s, r ? PQresultErrorMessage(r) : PQerrorMessage(s->pg));
    if (!s->err[0])
        set_err(s, PQerrorMessage(s->pg));
    PQclear(r);
    return PQstatus(s->pg) == CONNECTION_OK ? STORE_ERR : STORE_DOWN;
}

int store_exec(store *s, const char *sql)
{
    s->err[0] = 0;
    if (s->kind == STORE_SQLITE) {
        char *msg = NULL;
        if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
            set_err(s, msg ? msg : sqlite3_errmsg(s->db));
            sqlite3_free(msg);
            return STORE_ERR;
        }
        return 0;
    }
    char *q = store_dialect(STORE_PG, sql, NULL);
    if (!q) {
        set_err(s, "SQL too long or malformed");
        return STORE_ERR;
    }
    /* PQexec runs a multi-statement script as one transaction unless it
     * says otherwise; parameters are not allowed here anyway. */
    PGresult *r = PQexec(s->pg, q);
    free(q);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        return pg_failed(s, r);
    PQclear(r);
    return 0;
}

int store_begin(store *s) { return store_exec(s, "BEGIN"); }
int store_pipeline_begin(store *s)
{
    if (s->kind == STORE_SQLITE)
        return 0;
    if (s->piped || !PQenterPipelineMode(s->pg)) {
        set_err(s, s->piped ? "already in a pipeline" : PQerrorMessage(s->pg));
        return STORE_ERR;
    }
    s->piped = 1;
    s->pending = 0;
    s->pipe_rc = 0;
    return 0;
}

/* Syncs the pipeline and reads every answer up to the sync; the first
 * failure is kept in pipe_rc. */
static void pg_pipe_sync(store *s)
{
    int nulls = 0;
    s->pending = 0;
    if (PQpipelineSync(s->pg) != 1) {
        if (!s->pipe_rc)
            s->pipe_rc = pg_failed(s, NULL);
        return;
    }
    for (;;) {
        PGresult *r = PQgetResult(s->pg);
        if (!r) {
            /* one NULL ends each statement's answers; a dead connection gives only NULLs */
            if (PQstatus(s->pg) != CONNECTION_OK || ++nulls > 1) {
                if (!s->pipe_rc)
                    s->pipe_rc = pg_failed(s, NULL);
                return;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType es = PQresultStatus(r);
        if (es == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            return;
        }
        if (es == PGRES_FATAL_ERROR && !s->pipe_rc) {
            const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            set_err(s, PQresultErrorMessage(r));
            s->pipe_rc = state && state[0] == '2' && state[1] == '3' ? STORE_CONFLICT : STORE_ERR;
        }
        PQclear(r);
    }
}

int store_pipeline_end(store *s)
{
    if (s->kind == STORE_SQLITE || !s->piped)
        return 0;
    pg_pipe_sync(s);
    int rc = s->pipe_rc;
    s->piped = 0;
    s->pipe_rc = 0;
    if (PQstatus(s->pg) != CONNECTION_OK)
        return STORE_DOWN;
    PQexitPipelineMode(s->pg);
    /* A failed pipeline may have left statements unprepared that we marked
     * prepared: a new session makes that certain. */
    if (rc != 0 && !pg_reset(s))
        return STORE_DOWN;
    return rc;
}

int store_begin_write(store *s) { return store_exec(s, s->kind == STORE_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN"); }
int store_commit(store *s) { return store_exec(s, "COMMIT"); }

void store_busy_timeout(store *s, unsigned ms)
{
    if (s->kind == STORE_SQLITE)
        sqlite3_busy_timeout(s->db, ms > INT32_MAX ? INT32_MAX : (int)ms);
}

int store_checkpoint(store *s)
{
    if (s->kind != STORE_SQLITE)
        return 0;
    int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : STORE_ERR;
}
int store_rollback(store *s) { return store_exec(s, "ROLLBACK"); }

static int pg_prepare(store_stmt *st)
{
    store *s = st->s;
    PGresult *r = PQprepare(s->pg, st->name, st->sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        return pg_failed(s, r);
    PQclear(r);
    st->prepared_gen = s->generation;
    return 0;
}

store_stmt *store_prepare(store *s, const char *sql)
{
    s->err[0] = 0;
    store_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        set_err(s, "out of memory");
        return NULL;
    }
    st->s = s;
    if (s->kind == STORE_SQLITE) {
        if (sqlite3_prepare_v2(s->db, sql, -1, &st->lite, NULL) != SQLITE_OK || !st->lite) {
            set_err(s, sqlite3_errmsg(s->db));
            free(st);
            return NULL;
        }
        return st;
    }
    st->sql = store_dialect(STORE_PG, sql, &st->nparams);
    if (!st->sql) {
        set_err(s, "SQL too long or malformed");
        free(st);
        return NULL;
    }
    snprintf(st->name, sizeof st->name, "s%" PRIu64, ++s->next_name);
    if (pg_prepare(st) != 0) {
        free(st->sql);
        free(st);
        return NULL;
    }
    return st;
}

static int pg_bind(store_stmt *st, int idx, char *v)
{
    if (idx < 1 || idx > st->nparams) {
        set_err(st->s, "parameter index out of range");
        free(v);
        return STORE_ERR;
    }
    free(st->val[idx - 1]);
    st->val[idx - 1] = v;
    st->fmt[idx - 1] = 0;
    st->len[idx - 1] = 0;
    return 0;
}

int store_bind_int64(store_stmt *st, int idx, int64_t v)
{
    if (st->lite)
        return sqlite3_bind_int64(st->lite, idx, v) == SQLITE_OK ? 0 : STORE_ERR;
    char *t = malloc(24);
    if (!t)
        return STORE_ERR;
    snprintf(t, 24, "%" PRId64, v);
    return pg_bind(st, idx, t);
}

int store_bind_text(store_stmt *st, int idx, const char *text, size_t n)
{
    if (!text)
        return store_bind_null(st, idx);
    if (n > STORE_SQL_MAX || memchr(text, 0, n)) {  /* text parameters can't hold NUL */
        set_err(st->s, "text parameter too long or holds NUL");
        return STORE_ERR;
    }
    if (st->lite)
        return sqlite3_bind_text(st->lite, idx, text, (int)n, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : STORE_ERR;
    char *t = malloc(n + 1);
    if (!t)
        return STORE_ERR;
    memcpy(t, text, n);
    t[n] = 0;
    return pg_bind(st, idx, t);
}

int store_bind_str(store_stmt *st, int idx, const char *text)
{
    return store_bind_text(st, idx, text, text ? strlen(text) : 0);
}

int store_bind_blob(store_stmt *st, int idx, const void *data, size_t n)
{
    if (n > STORE_BLOB_MAX) {
        set_err(st->s, "binary parameter too long");
        return STORE_ERR;
    }
    if (st->lite)
        return sqlite3_bind_blob(st->lite, idx, n ? data : "", (int)n, SQLITE_TRANSIENT) == SQLITE_OK ? 0 : STORE_ERR;
    char *t = malloc(n ? n : 1);
    if (!t)
        return STORE_ERR;
    if (n)
        memcpy(t, data, n);
    if (pg_bind(st, idx, t) != 0)
        return STORE_ERR;
    st->fmt[idx - 1] = 1;
    st->len[idx - 1] = (int)n;
    return 0;
}

int store_bind_null(store_stmt *st, int idx)
{
    if (st->lite)
        return sqlite3_bind_null(st->lite, idx) == SQLITE_OK ? 0 : STORE_ERR;
    return pg_bind(st, idx, NULL);
}

int store_step(store_stmt *st)
{
    store *s = st->s;
    if (st->lite) {
        int rc = sqlite3_step(st->lite);
        if (rc == SQLITE_ROW)
            return STORE_ROW;
        if (rc == SQLITE_DONE) {
            st->changes = sqlite3_changes(s->db);
            return STORE_DONE;
        }
        set_err(s, sqlite3_errmsg(s->db));
        return (rc & 0xff) == SQLITE_CONSTRAINT ? STORE_CONFLICT : STORE_ERR;
    }
    if (s->piped) {
        /* Sent, not waited for: the outcome comes with store_pipeline_end. */
        if (st->prepared_gen != s->generation) {
            if (!PQsendPrepare(s->pg, st->name, st->sql, 0, NULL))
                return pg_failed(s, NULL);
            st->prepared_gen = s->generation;
        }
        if (!PQsendQueryPrepared(s->pg, st->name, st->nparams, (const char *const *)st->val, st->len, st->fmt, 0))
            return pg_failed(s, NULL);
        st->changes = 0;
        /* Answers are read now and then: a client that only sends while the
         * server's answers fill both socket buffers would wait for ever. */
        if (++s->pending >= STORE_PIPELINE_SYNC_EVERY)
            pg_pipe_sync(s);
        return STORE_DONE;
    }
    if (!st->executed) {
        if (st->prepared_gen != s->generation) {
            int rc = pg_prepare(st);
            if (rc != 0)
                return rc;
        }
        PGresult *r = PQexecPrepared(s->pg, st->name, st->nparams, (const char *const *)st->val, st->len, st->fmt, 0);
        ExecStatusType es = PQresultStatus(r);
        if (es != PGRES_TUPLES_OK && es != PGRES_COMMAND_OK) {
            /* SQLSTATE class 23: integrity constraint violation */
            const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
            int conflict = state && state[0] == '2' && state[1] == '3';
            int rc = pg_failed(s, r);
            return conflict && rc == STORE_ERR ? STORE_CONFLICT : rc;
        }
        st->executed = 1;
        st->res = r;
        st->nrows = es == PGRES_TUPLES_OK ? PQntuples(r) : 0;
        st->row = -1;
        const char *ct = PQcmdTuples(r);
        st->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
    }
    if (st->row + 1 < st->nrows) {
        st->row++;
        return STORE_ROW;
    }
    st->row = st->nrows;
    return STORE_DONE;
}

int64_t store_changes(store_stmt *st) { return st->changes; }

static int pg_cell(store_stmt *st, int col)
{
    return st->res && st->row >= 0 && st->row < st->nrows && col >= 0 && col < PQnfields(st->res);
}

int store_column_count(store_stmt *st)
{
    if (st->lite)
        return sqlite3_column_count(st->lite);
    return st->res ? PQnfields(st->res) : 0;
}

int store_column_is_null(store_stmt *st, int col)
{
    if (st->lite)
        return sqlite3_column_type(st->lite, col) == SQLITE_NULL;
    return !pg_cell(st, col) || PQgetisnull(st->res, st->row, col);
}

int64_t store_column_int64(store_stmt *st, int col)
{
    if (st->lite)
        return sqlite3_column_int64(st->lite, col);
    if (store_column_is_null(st, col))
        return 0;
    const char *v = PQgetvalue(st->res, st->row, col);
    if (v[0] == 't' && !v[1])       /* booleans, as SQLite's 1/0 */
        return 1;
    if (v[0] == 'f' && !v[1])
        return 0;
    return strtoll(v, NULL, 10);
}

const char *store_column_text(store_stmt *st, int col)
{
    if (st->lite)
        return (const char *)sqlite3_column_text(st->lite, col);
    if (store_column_is_null(st, col))
        return NULL;
    return PQgetvalue(st->res, st->row, col);
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

const void *store_column_blob(store_stmt *st, int col, size_t *n)
{
    *n = 0;
    if (st->lite) {
        const void *v = sqlite3_column_blob(st->lite, col);
        int len = sqlite3_column_bytes(st->lite, col);
        *n = len > 0 ? (size_t)len : 0;
        return v ? v : "";
    }
    /* bytea in text results: "\x" and two hex digits a byte */
    const char *v = store_column_text(st, col);
    size_t len = v ? strlen(v) : 0;
    if (!v || len < 2 || v[0] != '\\' || v[1] != 'x' || len % 2 || (len - 2) / 2 > STORE_BLOB_MAX)
        return NULL;
    free(st->blob);
    if (!(st->blob = malloc((len - 2) / 2 + 1)))
        return NULL;
    for (size_t i = 2, o = 0; i < len; i += 2, o++) {
        int hi = hex_nibble(v[i]), lo = hex_nibble(v[i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        st->blob[o] = (unsigned char)(hi << 4 | lo);
    }
    *n = (len - 2) / 2;
    return st->blob;
}

int store_column_copy(store_stmt *st, int col, char *out, size_t cap)
{
    const char *v = store_column_text(st, col);
    size_t n = v ? strlen(v) : 0;
    if (cap == 0)
        return -1;
    out[0] = 0;
    if (n >= cap)
        return -1;
    if (n)
        memcpy(out, v, n);
    out[n] = 0;
    return 0;
}

void store_reset(store_stmt *st)
{
    if (st->lite) {
        sqlite3_reset(st->lite);
        return;
    }
    PQclear(st->res);
    st->res = NULL;
    free(st->blob);
    st->blob = NULL;
    st->executed = 0;
    st->row = -1;
    st->nrows = 0;
}

void store_clear_bindings(store_stmt *st)
{
    if (st->lite) {
        sqlite3_clear_bindings(st->lite);
        return;
    }
    for (int i = 0; i < STORE_PARAMS_MAX; i++) {
        free(st->val[i]);
        st->val[i] = NULL;
        st->fmt[i] = st->len[i] = 0;
    }
}

void store_finalize(store_stmt *st)
{
    if (!st)
        return;
    if (st->lite) {
        sqlite3_finalize(st->lite);
        free(st);
        return;
    }
    store_reset(st);
    store_clear_bindings(st);
    if (st->prepared_gen == st->s->generation && PQstatus(st->s->pg) == CONNECTION_OK) {
        char q[48];
        snprintf(q, sizeof q, "DEALLOCATE %s", st->name);
        PGresult *r = PQexec(st->s->pg, q);
        PQclear(r);
    }
    free(st->sql);
    free(st);
}

static int pg_lock_call(store *s, const char *sql, int64_t key)
{
    if (s->kind == STORE_SQLITE)
        return 1;
    char k[24];
    snprintf(k, sizeof k, "%" PRId64, key);
    const char *v[1] = { k };
    PGresult *r = PQexecParams(s->pg, sql, 1, NULL, v, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1)
        return pg_failed(s, r);
    int got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    return got;
}

int store_try_lock(store *s, int64_t key) { return pg_lock_call(s, "SELECT pg_try_advisory_lock($1::bigint)", key); }

int store_unlock(store *s, int64_t key)
{
    int rc = pg_lock_call(s, "SELECT pg_advisory_unlock($1::bigint)", key);
    return rc < 0 ? rc : 0;
}
