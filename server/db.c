/* The server's database (db.h): one SQLite file (WAL, so the admin CLI can
 * read and write while the server runs) or a PostgreSQL database, plus a
 * data directory of image files. Its own tables (projects, firmware,
 * configurations, devices, the log); the other modules' tables come in
 * through db_open_schema (schema.c lists them). SQL only with bound
 * parameters. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fota_err.h"
#include "port/port.h"
#include "db.h"
#include "rollout.h"
#include "store.h"
#include "store_files.h"
#include "validate.h"

const char *const srv_db_schema =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS project("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL, product_key TEXT NOT NULL UNIQUE,"
    " owner TEXT, created INTEGER NOT NULL);"
    /* a name is unique per account (owner; the CLI's projects without one are one account) */
    "CREATE UNIQUE INDEX IF NOT EXISTS project_owner_name ON project((COALESCE(owner, '')), name);"
    "CREATE TABLE IF NOT EXISTS firmware("
    " id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project(id),"
    " name TEXT NOT NULL, bsp TEXT NOT NULL, core_version INTEGER NOT NULL,"
    " script_version TEXT NOT NULL, core_path TEXT NOT NULL, core_sha256 TEXT NOT NULL,"
    " core_size INTEGER NOT NULL, script_path TEXT NOT NULL, key_path TEXT NOT NULL DEFAULT '',"
    " created INTEGER NOT NULL, UNIQUE(project_id, name, core_version, script_version));"
    "CREATE TABLE IF NOT EXISTS config("
    " id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project(id),"
    " firmware_name TEXT NOT NULL, firmware_id INTEGER NOT NULL REFERENCES firmware(id),"
    " all_devices INTEGER NOT NULL, any_from INTEGER NOT NULL, enabled INTEGER NOT NULL,"
    " updated INTEGER NOT NULL, reinstall INTEGER NOT NULL DEFAULT 0, UNIQUE(project_id, firmware_name));"
    "CREATE TABLE IF NOT EXISTS config_imei(config_id INTEGER NOT NULL, imei TEXT NOT NULL,"
    " PRIMARY KEY(config_id, imei)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS config_from(config_id INTEGER NOT NULL, version TEXT NOT NULL,"
    " PRIMARY KEY(config_id, version)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS device("
    " imei TEXT PRIMARY KEY, project_id INTEGER, owner TEXT, banned INTEGER NOT NULL DEFAULT 0,"
    " count_since INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS log("
    " id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, imei TEXT NOT NULL, status INTEGER NOT NULL,"
    " code INTEGER NOT NULL, counted INTEGER NOT NULL, request TEXT NOT NULL, msg TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS log_imei_ts ON log(imei, ts);"
    /* the day's deliveries (SQLite's loop count, ST_DEVICE_CHECK) without
     * visiting the rows of a device that polls every minute */
    "CREATE INDEX IF NOT EXISTS log_counted ON log(imei, ts) WHERE counted=1;"
    /* the day counts on PostgreSQL (srv_pg_count_sql); empty on SQLite */
    "CREATE TABLE IF NOT EXISTS device_day(imei TEXT NOT NULL, day INTEGER NOT NULL, n INTEGER NOT NULL,"
    " PRIMARY KEY(imei, day)) WITHOUT ROWID;";

const char *const srv_hot_sql[ST__COUNT] = {
    [ST_PROJECT_BY_KEY] = "SELECT id, owner FROM project WHERE product_key=?1",
    [ST_DEVICE_GET] = "SELECT owner, banned, count_since FROM device WHERE imei=?1",
    [ST_LOG_COUNT] = "SELECT COUNT(*) FROM log WHERE imei=?1 AND ts>=?2 AND counted=1",
    [ST_FW_NAME_EXISTS] = "SELECT 1 FROM firmware WHERE project_id=?1 AND name=?2 LIMIT 1",
    /* with the latest rollout for the configuration's current target (a
     * rollout of an earlier target no longer decides) */
    [ST_CONFIG_GET] = ("SELECT c.id, c.firmware_id, c.all_devices, c.any_from, c.enabled,"
                      " f.core_version, f.script_version, c.reinstall, r.id, r.state, r.share_bp, r.waves"
                      " FROM config c JOIN firmware f ON f.id=c.firmware_id"
                      " LEFT JOIN rollout r ON r.id=(SELECT MAX(id) FROM rollout"
                      "  WHERE config_id=c.id AND firmware_id=c.firmware_id)"
                      " WHERE c.project_id=?1 AND c.firmware_name=?2"),
    [ST_CONFIG_IMEI] = "SELECT 1 FROM config_imei WHERE config_id=?1 AND imei=?2",
    [ST_CONFIG_FROM] = "SELECT 1 FROM config_from WHERE config_id=?1 AND version=?2",
    [ST_FW_GET] = ("SELECT f.id, f.project_id, p.name, f.name, f.bsp, f.core_version,"
                  " f.script_version, f.core_path, f.script_path, f.key_path, f.core_size"
                  " FROM firmware f JOIN project p ON p.id=f.project_id WHERE f.id=?1"),
    [ST_BASE_IMAGE] = ("SELECT core_path FROM firmware WHERE project_id=?1 AND bsp=?2"
                      " AND core_version=?3 ORDER BY id DESC LIMIT 1"),
    /* a vendor package (vendor.c) for this base, else one for any base (0) */
    [ST_VENDOR_FIND] = ("SELECT v.path, v.sha256, v.size FROM vendor_base b JOIN vendor_package v"
                       " ON v.id=b.package_id WHERE b.firmware_id=?1 AND b.base IN (?2, 0)"
                       " ORDER BY b.base DESC LIMIT 1"),
    /* One row whether or not the device is registered: its owner, ban and
     * its deliveries since the day's start or its unban. */
    [ST_DEVICE_CHECK] = ("SELECT d.imei IS NOT NULL, d.owner, d.banned, d.count_since,"
                        " (SELECT COUNT(*) FROM log WHERE imei=?1 AND counted=1"
                        "  AND ts>=max(?2, IFNULL(d.count_since, 0)))"
                        " FROM (SELECT 1) AS one LEFT JOIN device d ON d.imei=?1"),
};

const char *const srv_pg_count_sql[PG__COUNT] = {
    /* ST_DEVICE_CHECK's row, the day's deliveries from device_day (a read:
     * most checks are answered 27 and count nothing) */
    [PG_DEVICE_READ] = ("SELECT d.imei IS NOT NULL, d.owner, d.banned, d.count_since,"
                       " COALESCE((SELECT n FROM device_day WHERE imei=?1 AND day=?2), 0)"
                       " FROM (SELECT 1) AS one LEFT JOIN device d ON d.imei=?1"),
    /* a delivery: the day's count taken in one atomic upsert, the count
     * before it returned */
    [PG_DEVICE_CLAIM] = ("INSERT INTO device_day(imei, day, n) VALUES(?1, ?2, 1)"
                        " ON CONFLICT(imei, day) DO UPDATE SET n=device_day.n+1 RETURNING n - 1"),
};

const char *const srv_writer_sql[WS__COUNT] = {
    [WS_LOG_INSERT] = ("INSERT INTO log(ts, imei, status, code, counted, request, msg)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)"),
    [WS_DEVICE_AUTOADD] = ("INSERT OR IGNORE INTO device(imei, project_id, owner, created)"
                          " VALUES(?1, ?2, ?3, ?4)"),
    /* The device may not be stored yet (auto-registration is batched). A
     * ban decided before an unban (count_since) is not written over it. */
    [WS_DEVICE_BAN] = ("INSERT INTO device(imei, project_id, owner, banned, created)"
                      " VALUES(?1, ?2, ?3, 1, ?4) ON CONFLICT(imei) DO UPDATE SET banned=1"
                      " WHERE device.count_since <= excluded.created"),
};

/* PostgreSQL's writer: a batch of log rows, and its first contacts, each
 * in one statement per SRV_LOG_GROUP rows (arrays unnested), not one per
 * row: the database parses, plans and answers once for the lot. */
const char *const srv_pg_writer_sql[PW__COUNT] = {
    [PW_LOG_ROWS] = ("INSERT INTO log(ts, imei, status, code, counted, request, msg)"
                    " SELECT * FROM unnest(?1::bigint[], ?2::text[], ?3::bigint[], ?4::bigint[], ?5::bigint[],"
                    " ?6::text[], ?7::text[])"),
    [PW_DEVICE_ADD] = ("INSERT INTO device(imei, project_id, owner, created)"
                      " SELECT * FROM unnest(?1::text[], ?2::bigint[], ?3::text[], ?4::bigint[])"
                      " ON CONFLICT DO NOTHING"),
};

int db_exec(srv_db *d, const char *sql)
{
    if (store_exec(d->db, sql) != 0) {
        fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
        return -1;
    }
    return 0;
}

store_stmt *db_prep(srv_db *d, const char *sql)
{
    store_stmt *st = store_prepare(d->db, sql);
    if (!st) fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
    return st;
}

int db_exec_text(srv_db *d, const char *sql, int n, const char *const *v)
{
    store_stmt *st = db_prep(d, sql);
    if (!st) return -1;
    for (int i = 0; i < n; i++) {
        if (v[i]) store_bind_str(st, i + 1, v[i]);
        else store_bind_null(st, i + 1);
    }
    int rc = store_step(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
    store_finalize(st);
    return rc == STORE_DONE || rc == STORE_ROW ? 0 : -1;
}

static int meta_get(srv_db *d, const char *k, char *out, size_t cap)
{
    store_stmt *st;
    int found = 0;
    if (!(st = store_prepare(d->db, "SELECT v FROM meta WHERE k=?1")))
        return -1;
    store_bind_str(st, 1, k);
    if (store_step(st) == STORE_ROW) {
        const char *v = store_column_text(st, 0);
        if (v && strlen(v) < cap) {
            memcpy(out, v, strlen(v) + 1);
            found = 1;
        }
    }
    store_finalize(st);
    return found;
}

static int meta_set(srv_db *d, const char *k, const char *v)
{
    store_stmt *st;
    if (!(st = store_prepare(d->db, "INSERT INTO meta(k, v) VALUES(?1, ?2)"
                                  " ON CONFLICT(k) DO UPDATE SET v=?2")))
        return -1;
    store_bind_str(st, 1, k);
    store_bind_str(st, 2, v);
    int rc = store_step(st) == STORE_DONE ? 0 : -1;
    store_finalize(st);
    return rc;
}

static int batch_init(srv_log_batch *b)
{
    b->rows = calloc(SRV_LOG_QUEUE, sizeof *b->rows);
    b->head = malloc(SRV_LOG_BUCKETS * sizeof *b->head);
    b->next = malloc(SRV_LOG_QUEUE * sizeof *b->next);
    if (b->head) memset(b->head, 0xff, SRV_LOG_BUCKETS * sizeof *b->head);
    return b->rows && b->head && b->next ? 0 : -1;
}

static void batch_clear(srv_log_batch *b)
{
    b->n = 0;
    if (b->head) memset(b->head, 0xff, SRV_LOG_BUCKETS * sizeof *b->head);
}

static void batch_free(srv_log_batch *b)
{
    free(b->rows);
    free(b->head);
    free(b->next);
    memset(b, 0, sizeof *b);
}

static int prepare_all(store *db, const char *const *sql, store_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        if (!(st[i] = store_prepare(db, sql[i]))) {
            fprintf(stderr, "fota-server: prepare: %s\n", store_errmsg(db));
            return -1;
        }
    }
    return 0;
}

/* Databases made before config.reinstall existed get it (off). SQLite
 * only: every PostgreSQL database was made with the column. */
static int add_reinstall_column(srv_db *d)
{
    if (store_kind_of(d->db) != STORE_SQLITE) return 0;
    store_stmt *st;
    int have = 0;
    if (!(st = store_prepare(d->db, "SELECT 1 FROM pragma_table_info('config') WHERE name='reinstall'")))
        return -1;
    have = store_step(st) == STORE_ROW;
    store_finalize(st);
    return have ? 0 : db_exec(d, "ALTER TABLE config ADD COLUMN reinstall INTEGER NOT NULL DEFAULT 0");
}

/* Databases made when project names were unique across all owners get
 * them unique per owner (the schema's project_owner_name). PostgreSQL
 * drops the constraint; SQLite cannot, so the table is copied into one
 * without it (foreign keys off meanwhile: the other tables refer to the
 * table by name and keep referring to the copy). */
static int names_per_owner(srv_db *d)
{
    int pg = store_kind_of(d->db) == STORE_PG;
    store_stmt *st;
    /* looked up first: an ALTER TABLE locks the table even when it changes nothing */
    if (!(st = store_prepare(d->db, pg ? "SELECT 1 FROM pg_constraint WHERE conname='project_name_key'"
                                         " AND conrelid=to_regclass('project')"
                                       : "SELECT 1 FROM pragma_index_list('project') l WHERE l.\"unique\"=1"
                                         " AND l.origin='u'"
                                         " AND (SELECT group_concat(name) FROM pragma_index_info(l.name))='name'")))
        return -1;
    int old = store_step(st) == STORE_ROW;
    store_finalize(st);
    if (!old) return 0;
    if (pg) return db_exec(d, "ALTER TABLE project DROP CONSTRAINT project_name_key");
    if (db_exec(d, "PRAGMA foreign_keys=OFF; BEGIN IMMEDIATE;"
                   "CREATE TABLE project_by_owner(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
                   " product_key TEXT NOT NULL UNIQUE, owner TEXT, created INTEGER NOT NULL);"
                   "INSERT INTO project_by_owner(id, name, product_key, owner, created)"
                   " SELECT id, name, product_key, owner, created FROM project;"
                   "DROP TABLE project; ALTER TABLE project_by_owner RENAME TO project; COMMIT;")) {
        db_exec(d, "ROLLBACK");
        return -1;
    }
    return 0;
}

/* What the configuration cache reads: a change to one of these moves
 * PostgreSQL's cache clock (store_watch's triggers). */
static const char *const cached_tables[] = { "project", "firmware", "config", "rollout" };

/* The schema of every part (schema.c lists them). On PostgreSQL in one
 * transaction under an advisory lock: instances starting together would
 * otherwise race inside CREATE ... IF NOT EXISTS. */
static int make_schema(srv_db *d, const char *const *parts, size_t nparts)
{
    int pg = store_kind_of(d->db) == STORE_PG;
    if (!pg && db_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;")) return -1;
    /* 1718579297 = "fota": the advisory lock key of schema changes */
    if (pg && db_exec(d, "BEGIN; SELECT pg_advisory_xact_lock(1718579297)")) return -1;
    int rc = names_per_owner(d);
    for (size_t i = 0; rc == 0 && i < nparts; i++) rc = db_exec(d, parts[i]);
    if (rc == 0) rc = db_exec(d, srv_files_schema);
    if (rc == 0) rc = add_reinstall_column(d);
    if (rc == 0 && pg && store_watch(d->db, cached_tables, (int)(sizeof cached_tables / sizeof cached_tables[0]))) {
        fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
        rc = -1;
    }
    if (pg) rc = rc == 0 ? db_exec(d, "COMMIT") : (db_exec(d, "ROLLBACK"), -1);
    return rc;
}

static store *open_store(const char *location)
{
    char err[512];
    store *s = store_open(location, err, sizeof err);
    if (!s) fprintf(stderr, "fota-server: cannot open database: %s\n", err);
    return s;
}

static int pool_open(srv_db *d, const char *location, unsigned n);

int db_open_schema(srv_db *d, const char *const *schema, size_t nschema, const char *path, const char *data_dir,
                   unsigned serving)
{
    memset(d, 0, sizeof *d);
    if (strlen(path) >= SRV_PATH_MAX - 16) {
        fprintf(stderr, "fota-server: database location too long\n");
        return -1;
    }
    if (!(d->db = open_store(path))) return -1;
    /* The CLI and the server share the file: wait for each other's writes. */
    store_busy_timeout(d->db, 10000);
    if (make_schema(d, schema, nschema)) {
        db_close(d);
        return -1;
    }
    int pg = store_is_pg(path);
    d->cache_max = FILES_CACHE_DEFAULT;
    char stored[SRV_PATH_MAX];
    /* PostgreSQL keeps the files (store_files.h): the directory is this
     * instance's cache of them, its own (--data) or a new temporary one. */
    int have = pg ? 0 : meta_get(d, "data_dir", stored, sizeof stored);
    const char *want = data_dir;
    char def[SRV_PATH_MAX];
    if (!want && have == 1) want = stored;
    if (!want && pg) {
        const char *tmp = getenv("TMPDIR");
        snprintf(def, sizeof def, "%s/fota-cache-XXXXXX", tmp && *tmp && strlen(tmp) < 256 ? tmp : "/tmp");
        if (!mkdtemp(def)) {
            fprintf(stderr, "fota-server: cannot make a cache directory %s\n", def);
            db_close(d);
            return -1;
        }
        d->temp_dir = 1;
        want = def;
    }
    if (!want) {
        snprintf(def, sizeof def, "%s.d", path);
        want = def;
    }
    char abs[PATH_MAX];
    if (fota_port_mkdirs(want) != FOTA_OK || !realpath(want, abs) || strlen(abs) >= SRV_PATH_MAX - 64) {
        fprintf(stderr, "fota-server: cannot use data directory %s\n", want);
        if (d->temp_dir) files_remove_tree(want);
        d->temp_dir = 0;
        db_close(d);
        return -1;
    }
    memcpy(d->data_dir, abs, strlen(abs) + 1);
    memcpy(d->location, path, strlen(path) + 1);
    if (!pg && have != 1 && meta_set(d, "data_dir", d->data_dir)) {
        fprintf(stderr, "fota-server: cannot record the data directory: %s\n", store_errmsg(d->db));
        db_close(d);
        return -1;
    }
    if (!serving) return 0;
    /* A device check reads (WAL: readers do not wait for a writer) and never
     * waits long for anything; writes go through the writer's connection.
     * The day counts read the log index at random places: a larger cache. */
    store_busy_timeout(d->db, SRV_DB_READ_WAIT_MS);
    if (db_exec(d, "PRAGMA cache_size=-16384;") || prepare_all(d->db, srv_hot_sql, d->st, ST__COUNT) ||
        pool_open(d, path, serving)) {
        db_close(d);
        return -1;
    }
    /* SQLite: no checkpoint inside COMMIT (the commit runs under the
     * server's lock: a checkpoint's sync there would stall every check);
     * the flusher checkpoints after it, outside (db_checkpoint). A larger
     * page cache: the log's and devices' indexes take random inserts. */
    if (!(d->wdb = open_store(path)) ||
        store_exec(d->wdb, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=0;"
                           " PRAGMA cache_size=-32768;") ||
        prepare_all(d->wdb, srv_writer_sql, d->wst, WS__COUNT) ||
        prepare_all(d->wdb, srv_rollout_writer_sql, d->rwst, RW__COUNT) ||
        (store_kind_of(d->wdb) == STORE_PG && prepare_all(d->wdb, srv_pg_writer_sql, d->pwst, PW__COUNT))) {
        fprintf(stderr, "fota-server: cannot open the log writer's connection\n");
        db_close(d);
        return -1;
    }
    if (batch_init(&d->queue) || batch_init(&d->writing)) {
        fprintf(stderr, "fota-server: out of memory\n");
        db_close(d);
        return -1;
    }
    return 0;
}

static void pool_free(struct srv_db_pool *p);

static void finalize_all(store_stmt **st, int n)
{
    for (int i = 0; i < n; i++) {
        store_finalize(st[i]);
        st[i] = NULL;
    }
}

void db_close(srv_db *d)
{
    finalize_all(d->st, ST__COUNT);
    finalize_all(d->wst, WS__COUNT);
    finalize_all(d->rwst, RW__COUNT);
    finalize_all(d->pwst, PW__COUNT);
    free(d->cfg_cache);
    d->cfg_cache = NULL;
    pool_free(d->pool);
    d->pool = NULL;
    store_close(d->db);
    store_close(d->wdb);
    d->db = d->wdb = NULL;
    batch_free(&d->queue);
    batch_free(&d->writing);
    if (d->temp_dir && d->data_dir[0]) files_remove_tree(d->data_dir);
    d->temp_dir = 0;
}

int db_forget_file(srv_db *d, const char *stored)
{
    const char *slash = strchr(stored, '/');
    char sha[65], local[SRV_PATH_MAX];
    if (!slash || strlen(slash + 1) < 64) return -1;
    memcpy(sha, slash + 1, 64);
    sha[64] = 0;
    if (snprintf(local, sizeof local, "%s/%s", d->data_dir, stored) < (int)sizeof local) unlink(local);
    /* the row first: a row means a whole file (store_files.h) */
    static const char *const unused =
        " WHERE sha256=?1 AND NOT EXISTS (SELECT 1 FROM firmware WHERE core_path LIKE '%' || CAST(?1 AS TEXT) || '%'"
        " OR script_path LIKE '%' || CAST(?1 AS TEXT) || '%')"
        " AND NOT EXISTS (SELECT 1 FROM vendor_package WHERE path LIKE '%' || CAST(?1 AS TEXT) || '%')"
        " AND NOT EXISTS (SELECT 1 FROM built_package WHERE sha256=?1)";
    char q1[512], q2[512];
    snprintf(q1, sizeof q1, "DELETE FROM file_blob%s", unused);
    snprintf(q2, sizeof q2, "DELETE FROM file_chunk%s AND NOT EXISTS (SELECT 1 FROM file_blob WHERE sha256=?1)",
             unused);
    const char *v[1] = { sha };
    return db_exec_text(d, q1, 1, v) || db_exec_text(d, q2, 1, v) ? -1 : 0;
}

int db_local_file(srv_db *d, const char *stored, char *out, size_t cap)
{
    return files_local(d->db, d->data_dir, d->cache_max, stored, out, cap);
}

static unsigned imei_bucket(const char *imei)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *imei; imei++) h = (h ^ (uint8_t)*imei) * 16777619u;
    return h & (SRV_LOG_BUCKETS - 1);
}

size_t db_log_take(srv_db *d)
{
    if (d->writing.n == 0 && d->queue.n > 0) {
        srv_log_batch t = d->writing;
        d->writing = d->queue;
        d->queue = t;
    }
    return d->writing.n;
}

static int step_done(store_stmt *st)
{
    int rc = store_step(st) == STORE_DONE ? 0 : -1;
    store_reset(st);
    return rc;
}

static void bind_owner(store_stmt *st, int col, const char *owner)
{
    if (owner[0]) store_bind_str(st, col, owner);
    else store_bind_null(st, col);
}

/* An array literal of PostgreSQL's text form, growing: elements quoted
 * (backslash before " and \\), NULL bare. */
typedef struct arr {
    char *p;
    size_t n, cap;
    int bad;
} arr;

static void arr_put(arr *a, const char *t, size_t n)
{
    if (a->bad) return;
    if (a->n + n + 2 > a->cap) {
        size_t cap = a->cap ? a->cap : 4096;
        while (cap < a->n + n + 2) cap *= 2;
        char *q = cap <= STORE_SQL_MAX ? realloc(a->p, cap) : NULL;
        if (!q) {
            a->bad = 1;
            return;
        }
        a->p = q;
        a->cap = cap;
    }
    memcpy(a->p + a->n, t, n);
    a->n += n;
    a->p[a->n] = 0;
}

static void arr_sep(arr *a) { arr_put(a, a->n ? "," : "{", 1); }

static void arr_text(arr *a, const char *t)
{
    arr_sep(a);
    if (!t) {
        arr_put(a, "NULL", 4);
        return;
    }
    arr_put(a, "\"", 1);
    for (const char *p = t; *p; p++) {
        size_t run = strcspn(p, "\"\\");
        arr_put(a, p, run);
        p += run;
        if (!*p) break;
        arr_put(a, "\\", 1);
        arr_put(a, p, 1);
    }
    arr_put(a, "\"", 1);
}

static void arr_int(arr *a, int64_t v)
{
    char t[24];
    arr_sep(a);
    arr_put(a, t, (size_t)snprintf(t, sizeof t, "%lld", (long long)v));
}

/* Closes the literal and binds it (an empty one: "{}"). 0 / -1. */
static int arr_bind(store_stmt *st, int idx, arr *a)
{
    if (!a->n) arr_put(a, "{", 1);
    arr_put(a, "}", 1);
    return a->bad ? -1 : store_bind_text(st, idx, a->p, a->n);
}

/* PostgreSQL: the log rows from..to of the writing batch, and their
 * devices' first contacts, in two statements (pipelined). 0 / -1. */
static int write_group(srv_db *d, size_t from, size_t to)
{
    arr c[7], dv[4];
    memset(c, 0, sizeof c);
    memset(dv, 0, sizeof dv);
    size_t adds = 0;
    for (size_t i = from; i < to; i++) {
        const srv_log_row *r = &d->writing.rows[i];
        arr_int(&c[0], r->ts_ms);
        arr_text(&c[1], r->imei);
        arr_int(&c[2], r->status);
        arr_int(&c[3], r->code);
        arr_int(&c[4], r->counted);
        arr_text(&c[5], r->request);
        arr_text(&c[6], r->msg);
        if (r->new_device && !r->ban) {   /* a ban stores the device itself (row by row) */
            arr_text(&dv[0], r->imei);
            arr_int(&dv[1], r->project_id);
            arr_text(&dv[2], r->owner[0] ? r->owner : NULL);
            arr_int(&dv[3], r->ts_ms);
            adds++;
        }
    }
    int rc = 0;
    store_stmt *st = d->pwst[PW_LOG_ROWS];
    for (int k = 0; k < 7 && rc == 0; k++) rc = arr_bind(st, k + 1, &c[k]);
    if (rc == 0) rc = step_done(st);
    st = d->pwst[PW_DEVICE_ADD];
    for (int k = 0; k < 4 && rc == 0 && adds; k++) rc = arr_bind(st, k + 1, &dv[k]);
    if (rc == 0 && adds) rc = step_done(st);
    for (int k = 0; k < 7; k++) free(c[k].p);
    for (int k = 0; k < 4; k++) free(dv[k].p);
    return rc;
}

int db_log_write(srv_db *d, unsigned wait_ms)
{
    if (d->writing.n == 0) return 0;
    /* A connection lost before (PostgreSQL down): try again first. */
    if (!store_reconnect(d->wdb)) return -1;
    store_busy_timeout(d->wdb, wait_ms);
    if (store_begin_write(d->wdb) != 0) return -1;
    /* PostgreSQL: the batch's statements in one pipeline (one round trip
     * per few hundred, not one each) */
    int rc = store_pipeline_begin(d->wdb) == 0 ? 0 : -1;
    int grouped = d->pwst[PW_LOG_ROWS] != NULL;
    for (size_t i = 0; grouped && i < d->writing.n && rc == 0; i += SRV_LOG_GROUP)
        rc = write_group(d, i, i + SRV_LOG_GROUP < d->writing.n ? i + SRV_LOG_GROUP : d->writing.n);
    for (size_t i = 0; i < d->writing.n && rc == 0; i++) {
        const srv_log_row *r = &d->writing.rows[i];
        /* A device's first request registers it, batched with its log row;
         * a ban (decided from memory) is written the same way. Grouped
         * (PostgreSQL): rows and first contacts went above, bans here. */
        store_stmt *dev = r->ban ? d->wst[WS_DEVICE_BAN] : r->new_device && !grouped ? d->wst[WS_DEVICE_AUTOADD] : NULL;
        if (!grouped) {
            store_stmt *ins = d->wst[WS_LOG_INSERT];
            store_bind_int64(ins, 1, r->ts_ms);
            store_bind_str(ins, 2, r->imei);
            store_bind_int64(ins, 3, r->status);
            store_bind_int64(ins, 4, r->code);
            store_bind_int64(ins, 5, r->counted);
            store_bind_str(ins, 6, r->request);
            store_bind_str(ins, 7, r->msg);
            rc = step_done(ins);
        }
        if (rc == 0 && dev) {
            store_bind_str(dev, 1, r->imei);
            store_bind_int64(dev, 2, r->project_id);
            bind_owner(dev, 3, r->owner);
            store_bind_int64(dev, 4, r->ts_ms);
            rc = step_done(dev);
        }
        /* Rollouts: the outcome of an earlier package first, then this
         * answer's package (so a re-sent one never hides a failure). */
        if (rc == 0 && r->rollout_id && r->rl_outcome) {
            store_stmt *o = d->rwst[RW_OUTCOME];
            store_bind_int64(o, 1, r->rollout_id);
            store_bind_str(o, 2, r->imei);
            store_bind_str(o, 3, r->rl_version);
            store_bind_str(o, 4, r->rl_target);
            store_bind_int64(o, 5, r->ts_ms);
            rc = step_done(o);
        }
        if (rc == 0 && r->rollout_id && r->rl_sent) {
            store_stmt *o = d->rwst[RW_SENT];
            store_bind_int64(o, 1, r->rollout_id);
            store_bind_str(o, 2, r->imei);
            store_bind_int64(o, 3, r->rl_wave);
            store_bind_str(o, 4, r->rl_version);
            store_bind_int64(o, 5, r->ts_ms);
            rc = step_done(o);
        }
    }
    if (store_pipeline_end(d->wdb) != 0) rc = -1;
    if (rc == 0) return 0;
    fprintf(stderr, "fota-server: log write failed: %s (rows kept for the next try)\n",
            store_errmsg(d->wdb));
    store_rollback(d->wdb);
    return -1;
}

int db_log_commit(srv_db *d)
{
    if (d->writing.n == 0) return 0;
    if (store_commit(d->wdb) == 0) {
        batch_clear(&d->writing);
        return 0;
    }
    fprintf(stderr, "fota-server: log commit failed: %s (rows kept for the next try)\n",
            store_errmsg(d->wdb));
    store_rollback(d->wdb);
    return -1;
}

int db_log_full(const srv_db *d)
{
    return d->queue.n >= SRV_LOG_QUEUE;
}

int db_log_queue(srv_db *d, const srv_log_row *row)
{
    /* Full: the writer is behind (the database is held); the caller answers
     * 503 rather than wait on the disk or grow without bound. */
    if (db_log_full(d)) return -1;
    srv_log_batch *q = &d->queue;
    unsigned b = imei_bucket(row->imei);
    q->rows[q->n] = *row;
    q->next[q->n] = q->head[b];
    q->head[b] = (int32_t)q->n;
    q->n++;
    return 0;
}

static int64_t batch_count(const srv_log_batch *q, const char *imei, int64_t since_ms)
{
    int64_t n = 0;
    for (int32_t i = q->head[imei_bucket(imei)]; i >= 0; i = q->next[i]) {
        const srv_log_row *r = &q->rows[i];
        if (r->counted && r->ts_ms >= since_ms && strcmp(r->imei, imei) == 0) n++;
    }
    return n;
}

int db_log_count(srv_db *d, const char *imei, int64_t since_ms, int64_t *out)
{
    store_stmt *st = d->st[ST_LOG_COUNT];
    store_bind_str(st, 1, imei);
    store_bind_int64(st, 2, since_ms);
    int rc = store_step(st);
    int64_t n = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_reset(st);
    if (rc != STORE_ROW) return -1;
    /* Rows being written are not in the snapshot until their commit, which
     * clears the batch under the same lock: never counted twice. */
    *out = n + batch_count(&d->queue, imei, since_ms) + batch_count(&d->writing, imei, since_ms);
    return 0;
}

int db_firmware_get(srv_db *d, int64_t id, srv_firmware *fw)
{
    /* serving: the prepared statement; the CLI (export) prepares it once here */
    store_stmt *st = d->st[ST_FW_GET], *own = NULL;
    if (!st && !(own = store_prepare(d->db, srv_hot_sql[ST_FW_GET]))) return -1;
    if (own) st = own;
    store_bind_int64(st, 1, id);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        memset(fw, 0, sizeof *fw);
        fw->id = store_column_int64(st, 0);
        fw->project_id = store_column_int64(st, 1);
        store_column_copy(st, 2, fw->project, sizeof fw->project);
        store_column_copy(st, 3, fw->name, sizeof fw->name);
        store_column_copy(st, 4, fw->bsp, sizeof fw->bsp);
        fw->core_version = (uint32_t)store_column_int64(st, 5);
        store_column_copy(st, 6, fw->script_version, sizeof fw->script_version);
        store_column_copy(st, 7, fw->core_path, sizeof fw->core_path);
        store_column_copy(st, 8, fw->script_path, sizeof fw->script_path);
        store_column_copy(st, 9, fw->key_path, sizeof fw->key_path);
        fw->core_size = (uint64_t)store_column_int64(st, 10);
    }
    store_reset(st);
    store_finalize(own);
    return rc == STORE_ROW ? 0 : -1;
}

int db_base_image(srv_db *d, int64_t project_id, const char *bsp, uint32_t core, char *path,
                  size_t cap)
{
    store_stmt *st = d->st[ST_BASE_IMAGE];
    store_bind_int64(st, 1, project_id);
    store_bind_str(st, 2, bsp);
    store_bind_int64(st, 3, core);
    path[0] = '\0';
    int rc = store_step(st);
    if (rc == STORE_ROW) store_column_copy(st, 0, path, cap);
    store_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? 0 : -1;
}

/* ---------------------------------------------------------------- */
/* the check's reads                                                 */

int db_cache_init(srv_db *d, unsigned cache_ms)
{
    d->cache_ms = cache_ms;
    if (!cache_ms) return 0;
    d->cfg_cache = calloc(SRV_CFG_SLOTS, sizeof *d->cfg_cache);
    return d->cfg_cache ? 0 : -1;
}

/* The cache's clock (store_clock): SQLite's change counter as of this
 * connection's last read (the device check runs just before, so it is
 * current; it moves with every commit of any connection); PostgreSQL's
 * notifications of changes to the cached tables, read without a round
 * trip. */
/* The three reads of the configuration side. */
static int load_config(srv_db *d, const char *key, const char *fwname, srv_cfg *c)
{
    memset(c, 0, sizeof *c);
    store_stmt *st = d->st[ST_PROJECT_BY_KEY];
    store_bind_str(st, 1, key);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        c->project_found = 1;
        c->project_id = store_column_int64(st, 0);
        store_column_copy(st, 1, c->owner, sizeof c->owner);
    }
    store_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) return rc == STORE_DOWN ? STORE_DOWN : -1;
    if (!c->project_found) return 0;

    st = d->st[ST_FW_NAME_EXISTS];
    store_bind_int64(st, 1, c->project_id);
    store_bind_str(st, 2, fwname);
    rc = store_step(st);
    c->fw_found = rc == STORE_ROW;
    store_reset(st);
    if (rc != STORE_ROW && rc != STORE_DONE) return rc == STORE_DOWN ? STORE_DOWN : -1;
    if (!c->fw_found) return 0;

    st = d->st[ST_CONFIG_GET];
    store_bind_int64(st, 1, c->project_id);
    store_bind_str(st, 2, fwname);
    rc = store_step(st);
    if (rc == STORE_ROW) {
        c->cfg_found = 1;
        c->cfg_id = store_column_int64(st, 0);
        c->fw_id = store_column_int64(st, 1);
        c->all_devices = (int)store_column_int64(st, 2);
        c->any_from = (int)store_column_int64(st, 3);
        c->enabled = (int)store_column_int64(st, 4);
        c->target_core = (uint32_t)store_column_int64(st, 5);
        store_column_copy(st, 6, c->target_script, sizeof c->target_script);
        c->reinstall = (int)store_column_int64(st, 7);
        if (!store_column_is_null(st, 8)) {
            char state[16], waves[SRV_ROLLOUT_WAVES_MAX * 6 + 1];
            store_column_copy(st, 9, state, sizeof state);
            store_column_copy(st, 11, waves, sizeof waves);
            c->rollout_id = store_column_int64(st, 8);
            c->rollout_state = srv_rollout_state_of(state);
            c->share_bp = (uint32_t)store_column_int64(st, 10);
            /* A row we cannot read decides nothing safely: nobody gets it. */
            if (srv_rollout_parse_bp(waves, c->waves, &c->nwaves) != 0 || c->rollout_state == RL_NONE) {
                c->rollout_state = RL_PAUSED;
                c->share_bp = 0;
            }
        }
    }
    store_reset(st);
    return rc == STORE_ROW || rc == STORE_DONE ? 0 : rc == STORE_DOWN ? STORE_DOWN : -1;
}

static unsigned cfg_slot(const char *key, const char *fwname)
{
    uint32_t h = 2166136261u;   /* FNV-1a over key NUL fwname */
    for (; *key; key++) h = (h ^ (uint8_t)*key) * 16777619u;
    h = (h ^ 0u) * 16777619u;
    for (; *fwname; fwname++) h = (h ^ (uint8_t)*fwname) * 16777619u;
    return h % SRV_CFG_SLOTS;
}

int db_check_config(srv_db *d, const char *key, const char *fwname, srv_cfg *out)
{
    if (!d->cfg_cache) return load_config(d, key, fwname, out);
    int64_t v, now = (int64_t)fota_port_now_ms();
    int rc = store_clock(d->db, &v);
    if (rc) return rc == STORE_DOWN ? STORE_DOWN : -1;
    srv_cfg_slot *e = &d->cfg_cache[cfg_slot(key, fwname)];
    if (e->used && e->data_version == v && now - e->loaded_ms < (int64_t)d->cache_ms &&
        strcmp(e->key, key) == 0 && strcmp(e->fw, fwname) == 0) {
        *out = e->cfg;
        return 0;
    }
    if ((rc = load_config(d, key, fwname, out)) != 0) {
        e->used = 0;
        return rc;
    }
    /* key and fwname are validated (bounded) by the caller */
    if (strlen(key) > SRV_KEY_MAX || strlen(fwname) > SRV_NAME_MAX) return 0;
    e->used = 1;
    memcpy(e->key, key, strlen(key) + 1);
    memcpy(e->fw, fwname, strlen(fwname) + 1);
    e->data_version = v;
    e->loaded_ms = now;
    e->cfg = *out;
    return 0;
}

int db_retry(srv_db *d)
{
    int64_t now = (int64_t)fota_port_now_ms();
    if (now - d->retry_ms < SRV_DB_RETRY_MS) return 0;
    d->retry_ms = now;
    return store_reconnect(d->db);
}

/* ---------------------------------------------------------------- */
/* PostgreSQL's pool for the device side of checks                   */

typedef struct pool_conn {
    store *db;
    store_stmt *read, *claim;
    int busy;
    int64_t retry_ms;
} pool_conn;

struct srv_db_pool {
    pthread_mutex_t lock;
    pthread_cond_t freed;
    unsigned n;
    pool_conn c[SRV_DB_POOL_MAX];
};

static void pool_free(struct srv_db_pool *p)
{
    if (!p) return;
    for (unsigned i = 0; i < p->n; i++) {
        store_finalize(p->c[i].read);
        store_finalize(p->c[i].claim);
        store_close(p->c[i].db);
    }
    pthread_cond_destroy(&p->freed);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

/* PostgreSQL: n connections for db_check_device and db_claim_delivery,
 * which are then safe without the server's lock. Nothing on SQLite. */
static int pool_open(srv_db *d, const char *location, unsigned n)
{
    if (store_kind_of(d->db) != STORE_PG) return 0;
    if (n > SRV_DB_POOL_MAX) n = SRV_DB_POOL_MAX;
    struct srv_db_pool *p = calloc(1, sizeof *p);
    if (!p) return -1;
    if (pthread_mutex_init(&p->lock, NULL)) {
        free(p);
        return -1;
    }
    if (pthread_cond_init(&p->freed, NULL)) {
        pthread_mutex_destroy(&p->lock);
        free(p);
        return -1;
    }
    for (; p->n < n; p->n++) {
        pool_conn *c = &p->c[p->n];
        if (!(c->db = open_store(location)) || !(c->read = store_prepare(c->db, srv_pg_count_sql[PG_DEVICE_READ])) ||
            !(c->claim = store_prepare(c->db, srv_pg_count_sql[PG_DEVICE_CLAIM]))) {
            if (c->db) fprintf(stderr, "fota-server: prepare: %s\n", store_errmsg(c->db));
            p->n++;   /* what was opened is freed */
            pool_free(p);
            return -1;
        }
    }
    d->pool = p;
    return 0;
}

static pool_conn *pool_take(struct srv_db_pool *p)
{
    pthread_mutex_lock(&p->lock);
    for (;;) {
        for (unsigned i = 0; i < p->n; i++) {
            if (!p->c[i].busy) {
                p->c[i].busy = 1;
                pthread_mutex_unlock(&p->lock);
                return &p->c[i];
            }
        }
        pthread_cond_wait(&p->freed, &p->lock);
    }
}

static void pool_give(struct srv_db_pool *p, pool_conn *c, int rc)
{
    /* lost (PostgreSQL restarting): a new session now and then */
    int64_t now = (int64_t)fota_port_now_ms();
    if (rc == STORE_DOWN && now - c->retry_ms >= SRV_DB_RETRY_MS) {
        c->retry_ms = now;
        store_reconnect(c->db);
    }
    pthread_mutex_lock(&p->lock);
    c->busy = 0;
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&p->lock);
}

/* The device row of a check (ST_DEVICE_CHECK's columns) from st. */
static int device_row(store_stmt *st, int64_t day_start_ms, srv_dev *out, int64_t *since)
{
    int rc = store_step(st);
    *since = day_start_ms;
    if (rc == STORE_ROW) {
        out->known = (int)store_column_int64(st, 0);
        store_column_copy(st, 1, out->owner, sizeof out->owner);
        out->banned = (int)store_column_int64(st, 2);
        int64_t cs = store_column_int64(st, 3);   /* unbanned at: count from there */
        if (cs > *since) *since = cs;
        out->count = store_column_int64(st, 4);
    }
    store_reset(st);
    return rc == STORE_ROW ? 0 : rc == STORE_DOWN ? STORE_DOWN : -1;
}

int db_check_device(srv_db *d, const char *imei, int64_t day_start_ms, srv_dev *out)
{
    memset(out, 0, sizeof *out);
    int64_t since;
    if (d->pool) {
        pool_conn *c = pool_take(d->pool);
        store_stmt *st = c->read;
        store_bind_str(st, 1, imei);
        store_bind_int64(st, 2, day_start_ms);
        int rc = device_row(st, day_start_ms, out, &since);
        pool_give(d->pool, c, rc);
        return rc;
    }
    store_stmt *st = d->st[ST_DEVICE_CHECK];
    store_bind_str(st, 1, imei);
    store_bind_int64(st, 2, day_start_ms);
    int rc = device_row(st, day_start_ms, out, &since);
    if (rc) return rc;
    /* SQLite (PostgreSQL counts every instance's deliveries in device_day,
     * on the pool): rows being written are not in the snapshot until their
     * commit, which clears the batch under the same lock: never counted
     * twice. */
    out->count += batch_count(&d->queue, imei, since) + batch_count(&d->writing, imei, since);
    return 0;
}

int db_claim_delivery(srv_db *d, const char *imei, int64_t day_start_ms, int64_t *before)
{
    if (!d->pool) return 0;   /* SQLite: the log row is the count */
    pool_conn *c = pool_take(d->pool);
    store_stmt *st = c->claim;
    store_bind_str(st, 1, imei);
    store_bind_int64(st, 2, day_start_ms);
    int rc = store_step(st);
    if (rc == STORE_ROW) *before = store_column_int64(st, 0);
    else fprintf(stderr, "fota-server: day count of %s not claimed: %s\n", imei, store_errmsg(c->db));
    store_reset(st);
    rc = rc == STORE_ROW ? 0 : rc == STORE_DOWN ? STORE_DOWN : -1;
    pool_give(d->pool, c, rc);
    return rc;
}

int db_rollout_tick(srv_db *d, int64_t now_ms)
{
    if (!d->wdb) return 0;
    store_busy_timeout(d->wdb, SRV_DB_WRITE_WAIT_MS);
    /* PostgreSQL's day counts of days gone by, every 10 minutes */
    if (store_kind_of(d->wdb) == STORE_PG && now_ms - d->pruned_ms > 600000) {
        store_stmt *st = store_prepare(d->wdb, "DELETE FROM device_day WHERE day<?1");
        if (st) {
            store_bind_int64(st, 1, srv_day_start(now_ms) - 86400000);
            if (store_step(st) == STORE_DONE) d->pruned_ms = now_ms;
            store_finalize(st);
        }
    }
    return srv_rollout_tick(d->wdb, now_ms);
}

int db_checkpoint(srv_db *d)
{
    if (!d->wdb) return 0;
    return store_checkpoint(d->wdb) == 0 ? 0 : -1;
}
