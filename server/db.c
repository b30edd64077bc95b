/* The store: one SQLite file (WAL, so the admin CLI can read and write while
 * the server runs) plus a data directory of image files. SQL only with
 * bound parameters. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "port/fota_err.h"
#include "port/port.h"
#include "srv.h"
#include "at.h"

static const char *const schema =
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS project("
    " id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, product_key TEXT NOT NULL UNIQUE,"
    " owner TEXT, created INTEGER NOT NULL);"
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
    " updated INTEGER NOT NULL, UNIQUE(project_id, firmware_name));"
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
    "CREATE INDEX IF NOT EXISTS log_imei_ts ON log(imei, ts);";

static const char *const hot_sql[ST__COUNT] = {
    [ST_PROJECT_BY_KEY] = "SELECT id, owner FROM project WHERE product_key=?1",
    [ST_DEVICE_GET] = "SELECT owner, banned, count_since FROM device WHERE imei=?1",
    /* The device may not be stored yet (auto-registration is batched). */
    [ST_DEVICE_BAN] = "INSERT INTO device(imei, project_id, owner, banned, created)"
                      " VALUES(?1, ?2, ?3, 1, ?4) ON CONFLICT(imei) DO UPDATE SET banned=1",
    [ST_LOG_COUNT] = "SELECT COUNT(*) FROM log WHERE imei=?1 AND ts>=?2 AND counted=1",
    [ST_FW_NAME_EXISTS] = "SELECT 1 FROM firmware WHERE project_id=?1 AND name=?2 LIMIT 1",
    [ST_CONFIG_GET] = "SELECT c.id, c.firmware_id, c.all_devices, c.any_from, c.enabled,"
                      " f.core_version, f.script_version FROM config c"
                      " JOIN firmware f ON f.id=c.firmware_id"
                      " WHERE c.project_id=?1 AND c.firmware_name=?2",
    [ST_CONFIG_IMEI] = "SELECT 1 FROM config_imei WHERE config_id=?1 AND imei=?2",
    [ST_CONFIG_FROM] = "SELECT 1 FROM config_from WHERE config_id=?1 AND version=?2",
    [ST_FW_GET] = "SELECT f.id, f.project_id, p.name, f.name, f.bsp, f.core_version,"
                  " f.script_version, f.core_path, f.script_path, f.key_path"
                  " FROM firmware f JOIN project p ON p.id=f.project_id WHERE f.id=?1",
    [ST_BASE_IMAGE] = "SELECT core_path FROM firmware WHERE project_id=?1 AND bsp=?2"
                      " AND core_version=?3 ORDER BY id DESC LIMIT 1",
    [ST_LOG_INSERT] = "INSERT INTO log(ts, imei, status, code, counted, request, msg)"
                      " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    [ST_DEVICE_AUTOADD] = "INSERT OR IGNORE INTO device(imei, project_id, owner, created)"
                          " VALUES(?1, ?2, ?3, ?4)",
};

int db_exec(srv_db *d, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(d->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "fota-server: database: %s\n", err ? err : sqlite3_errmsg(d->db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int meta_get(srv_db *d, const char *k, char *out, size_t cap)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(d->db, "SELECT v FROM meta WHERE k=?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v && strlen(v) < cap) {
            memcpy(out, v, strlen(v) + 1);
            found = 1;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static int meta_set(srv_db *d, const char *k, const char *v)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(d->db, "INSERT INTO meta(k, v) VALUES(?1, ?2)"
                                  " ON CONFLICT(k) DO UPDATE SET v=?2", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, k, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, v, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

int db_open(srv_db *d, const char *path, const char *data_dir, int serving)
{
    memset(d, 0, sizeof *d);
    if (strlen(path) >= SRV_PATH_MAX - 16) {
        fprintf(stderr, "fota-server: database path too long\n");
        return -1;
    }
    /* One connection per process; the server serialises its threads with
     * its own lock, so SQLite's mutexes are not needed. */
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, &d->db, flags, NULL) != SQLITE_OK) {
        fprintf(stderr, "fota-server: cannot open database %s: %s\n", path,
                d->db ? sqlite3_errmsg(d->db) : "out of memory");
        db_close(d);
        return -1;
    }
    /* The CLI and the server share the file: wait for each other's writes. */
    sqlite3_busy_timeout(d->db, 10000);
    if (db_exec(d, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;") || db_exec(d, schema)) {
        db_close(d);
        return -1;
    }
    if (db_exec(d, srv_at_schema)) {   /* AT firmware projects (at.c) */
        db_close(d);
        return -1;
    }
    char stored[SRV_PATH_MAX];
    int have = meta_get(d, "data_dir", stored, sizeof stored);
    const char *want = data_dir;
    char def[SRV_PATH_MAX];
    if (!want && have == 1) want = stored;
    if (!want) {
        snprintf(def, sizeof def, "%s.d", path);
        want = def;
    }
    char abs[PATH_MAX];
    if (fota_port_mkdirs(want) != FOTA_OK || !realpath(want, abs) || strlen(abs) >= SRV_PATH_MAX - 64) {
        fprintf(stderr, "fota-server: cannot use data directory %s\n", want);
        db_close(d);
        return -1;
    }
    memcpy(d->data_dir, abs, strlen(abs) + 1);
    if (have != 1 && meta_set(d, "data_dir", d->data_dir)) {
        fprintf(stderr, "fota-server: cannot record the data directory: %s\n", sqlite3_errmsg(d->db));
        db_close(d);
        return -1;
    }
    if (!serving) return 0;
    for (int i = 0; i < ST__COUNT; i++) {
        if (sqlite3_prepare_v3(d->db, hot_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &d->st[i], NULL)
            != SQLITE_OK) {
            fprintf(stderr, "fota-server: prepare: %s\n", sqlite3_errmsg(d->db));
            db_close(d);
            return -1;
        }
    }
    d->queue = calloc(SRV_LOG_QUEUE, sizeof *d->queue);
    d->qhead = malloc(SRV_LOG_BUCKETS * sizeof *d->qhead);
    d->qnext = malloc(SRV_LOG_QUEUE * sizeof *d->qnext);
    if (d->qhead) memset(d->qhead, 0xff, SRV_LOG_BUCKETS * sizeof *d->qhead);
    if (!d->queue || !d->qhead || !d->qnext) {
        fprintf(stderr, "fota-server: out of memory\n");
        db_close(d);
        return -1;
    }
    return 0;
}

void db_close(srv_db *d)
{
    for (int i = 0; i < ST__COUNT; i++) {
        sqlite3_finalize(d->st[i]);
        d->st[i] = NULL;
    }
    if (d->db) sqlite3_close(d->db);
    d->db = NULL;
    free(d->queue);
    free(d->qhead);
    free(d->qnext);
    d->queue = NULL;
    d->qhead = d->qnext = NULL;
    d->queued = 0;
}

static unsigned imei_bucket(const char *imei)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *imei; imei++) h = (h ^ (uint8_t)*imei) * 16777619u;
    return h & (SRV_LOG_BUCKETS - 1);
}

int db_log_flush(srv_db *d)
{
    if (d->queued == 0) return 0;
    if (db_exec(d, "BEGIN IMMEDIATE")) return -1;
    sqlite3_stmt *ins = d->st[ST_LOG_INSERT];
    int rc = 0;
    for (size_t i = 0; i < d->queued && rc == 0; i++) {
        const srv_log_row *r = &d->queue[i];
        sqlite3_bind_int64(ins, 1, r->ts_ms);
        sqlite3_bind_text(ins, 2, r->imei, -1, SQLITE_STATIC);
        sqlite3_bind_int(ins, 3, r->status);
        sqlite3_bind_int(ins, 4, r->code);
        sqlite3_bind_int(ins, 5, r->counted);
        sqlite3_bind_text(ins, 6, r->request, -1, SQLITE_STATIC);
        sqlite3_bind_text(ins, 7, r->msg, -1, SQLITE_STATIC);
        if (sqlite3_step(ins) != SQLITE_DONE) rc = -1;
        sqlite3_reset(ins);
        /* A device's first request registers it, batched with its log row. */
        if (rc == 0 && r->new_device) {
            sqlite3_stmt *add = d->st[ST_DEVICE_AUTOADD];
            sqlite3_bind_text(add, 1, r->imei, -1, SQLITE_STATIC);
            sqlite3_bind_int64(add, 2, r->project_id);
            if (r->owner[0]) sqlite3_bind_text(add, 3, r->owner, -1, SQLITE_STATIC);
            else sqlite3_bind_null(add, 3);
            sqlite3_bind_int64(add, 4, r->ts_ms);
            if (sqlite3_step(add) != SQLITE_DONE) rc = -1;
            sqlite3_reset(add);
        }
    }
    if (rc == 0 && db_exec(d, "COMMIT") == 0) {
        d->queued = 0;
        memset(d->qhead, 0xff, SRV_LOG_BUCKETS * sizeof *d->qhead);
        return 0;
    }
    fprintf(stderr, "fota-server: log write failed: %s (rows kept for the next try)\n",
            sqlite3_errmsg(d->db));
    db_exec(d, "ROLLBACK");
    return -1;
}

int db_log_queue(srv_db *d, const srv_log_row *row)
{
    /* Full queue: write now. If even that fails, the oldest rows are kept
     * and this one is reported lost rather than growing without bound. */
    if (d->queued >= SRV_LOG_QUEUE && db_log_flush(d) != 0) {
        fprintf(stderr, "fota-server: log queue full, row for %s dropped\n", row->imei);
        return -1;
    }
    unsigned b = imei_bucket(row->imei);
    d->queue[d->queued] = *row;
    d->qnext[d->queued] = d->qhead[b];
    d->qhead[b] = (int32_t)d->queued;
    d->queued++;
    return 0;
}

int db_log_count(srv_db *d, const char *imei, int64_t since_ms, int64_t *out)
{
    sqlite3_stmt *st = d->st[ST_LOG_COUNT];
    sqlite3_bind_text(st, 1, imei, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, since_ms);
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW) return -1;
    for (int32_t i = d->qhead[imei_bucket(imei)]; i >= 0; i = d->qnext[i]) {
        const srv_log_row *r = &d->queue[i];
        if (r->counted && r->ts_ms >= since_ms && strcmp(r->imei, imei) == 0) n++;
    }
    *out = n;
    return 0;
}

static void col_copy(sqlite3_stmt *st, int col, char *out, size_t cap)
{
    const char *v = (const char *)sqlite3_column_text(st, col);
    size_t n = v ? strlen(v) : 0;
    if (n >= cap) n = 0;   /* cannot happen for rows we wrote; never overflow */
    if (n) memcpy(out, v, n);
    out[n] = '\0';
}

int db_firmware_get(srv_db *d, int64_t id, srv_firmware *fw)
{
    sqlite3_stmt *st = d->st[ST_FW_GET];
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        memset(fw, 0, sizeof *fw);
        fw->id = sqlite3_column_int64(st, 0);
        fw->project_id = sqlite3_column_int64(st, 1);
        col_copy(st, 2, fw->project, sizeof fw->project);
        col_copy(st, 3, fw->name, sizeof fw->name);
        col_copy(st, 4, fw->bsp, sizeof fw->bsp);
        fw->core_version = (uint32_t)sqlite3_column_int64(st, 5);
        col_copy(st, 6, fw->script_version, sizeof fw->script_version);
        col_copy(st, 7, fw->core_path, sizeof fw->core_path);
        col_copy(st, 8, fw->script_path, sizeof fw->script_path);
        col_copy(st, 9, fw->key_path, sizeof fw->key_path);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

int db_base_image(srv_db *d, int64_t project_id, const char *bsp, uint32_t core, char *path,
                  size_t cap)
{
    sqlite3_stmt *st = d->st[ST_BASE_IMAGE];
    sqlite3_bind_int64(st, 1, project_id);
    sqlite3_bind_text(st, 2, bsp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, core);
    path[0] = '\0';
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) col_copy(st, 0, path, cap);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}
