/* The server's database (db.c): opening it (the data directory, and the
 * tables every module registers: schema.h), the device checks' reads and
 * their configuration cache, the log queue and its writer, PostgreSQL's
 * pool for the day counts, and statements that print their failure. */
#ifndef FOTA_SRV_DB_H
#define FOTA_SRV_DB_H

#include <stddef.h>
#include <stdint.h>

#include "srv.h"
#include "store.h"

typedef struct srv_firmware {
    int64_t id;
    int64_t project_id;
    char project[SRV_PROJECT_MAX + 1];
    char name[SRV_NAME_MAX + 1];
    char bsp[SRV_NAME_MAX + 1];
    uint32_t core_version;
    char script_version[SRV_VER_MAX];
    char core_path[SRV_PATH_MAX];
    char script_path[SRV_PATH_MAX];
    char key_path[SRV_PATH_MAX];  /* "" = the server's key */
    uint64_t core_size;           /* the core image's bytes (0: none) */
} srv_firmware;

/* A log row, queued in memory and written in batches (see db_log_*). */
typedef struct srv_log_row {
    int64_t ts_ms;
    char imei[SRV_IMEI_LEN + 1];
    int status;                   /* HTTP status */
    int code;                     /* srv_code */
    int counted;                  /* a delivery from byte 0: counts toward the loop limit */
    int new_device;               /* register the device (project_id, owner) */
    int ban;                      /* ban the device (its 7th delivery of the day) */
    int64_t project_id;
    char owner[SRV_OWNER_MAX + 1];
    char request[SRV_REQ_MAX];
    char msg[SRV_MSG_MAX];
    /* A check of a configuration under a rollout (server/rollout.c): the
     * writer records the package sent and the outcome, in the database. */
    int64_t rollout_id;           /* 0 = none */
    int rl_outcome;               /* judge this check (not a resume) */
    int rl_sent;                  /* the package was answered */
    int rl_wave;                  /* the device's wave (0-based) */
    char rl_version[SRV_RVER_MAX];   /* as the device reports it */
    char rl_target[SRV_RVER_MAX];    /* the target, in the same form */
} srv_log_row;

#define SRV_LOG_QUEUE 2048        /* rows held in memory; more = answer 503 */
#define SRV_DB_READ_WAIT_MS 100   /* the most a device check waits on SQLite */
#define SRV_DB_WRITE_WAIT_MS 50   /* the most the log writer waits per try */
#define SRV_DB_RETRY_MS 500       /* PostgreSQL down: a reconnect at most this often */
#define SRV_DB_STOP_WAIT_MS 10000 /* at shutdown, for the last rows */
#define SRV_LOG_FULL_WAIT_MS 20   /* a check waits at most this for room in a full queue, then 503 */

/* Read by device checks (the serving connection, under the server's lock). */
enum srv_stmt {
    ST_PROJECT_BY_KEY, ST_DEVICE_GET, ST_LOG_COUNT, ST_FW_NAME_EXISTS,
    ST_CONFIG_GET, ST_CONFIG_IMEI, ST_CONFIG_FROM, ST_FW_GET, ST_BASE_IMAGE, ST_VENDOR_FIND,
    ST_DEVICE_CHECK, ST__COUNT
};
/* PostgreSQL's day counts of deliveries, exact across server instances:
 * every check reads the device and its count (device_day) in one
 * statement; only a delivery claims (counts itself) in the database, in
 * one atomic upsert that returns the count before it. On SQLite one
 * process owns the count: stored log rows + its queue. */
enum srv_pg_stmt { PG_DEVICE_READ, PG_DEVICE_CLAIM, PG__COUNT };
extern const char *const srv_pg_count_sql[PG__COUNT];
/* Written by the log writer only (its own connection, outside that lock). */
enum srv_wstmt { WS_LOG_INSERT, WS_DEVICE_AUTOADD, WS_DEVICE_BAN, WS__COUNT };
/* PostgreSQL's writer: rows in groups (db.c's srv_pg_writer_sql). */
enum srv_pg_wstmt { PW_LOG_ROWS, PW_DEVICE_ADD, PW__COUNT };
extern const char *const srv_pg_writer_sql[PW__COUNT];
#define SRV_LOG_GROUP 128         /* rows per statement (each array well under STORE_SQL_MAX) */
/* The rollout statements of the writer (their SQL is in rollout.c). */
enum srv_rollout_wstmt { RW_OUTCOME, RW_SENT, RW__COUNT };
/* db.c's tables and statements (test_store runs them on both stores). */
extern const char *const srv_db_schema;
extern const char *const srv_hot_sql[ST__COUNT];
extern const char *const srv_writer_sql[WS__COUNT];

/* What a check needs of (product key, firmware name): the project, whether
 * the firmware name exists, its configuration and its rollout. Cached per
 * server (db_check_config) while the database is unchanged (SQLite's
 * data_version) and at most cache_ms old. */
typedef struct srv_cfg {
    int project_found;
    int64_t project_id;
    char owner[SRV_OWNER_MAX + 1];
    int fw_found, cfg_found;
    int64_t cfg_id, fw_id;
    int all_devices, any_from, enabled, reinstall;
    uint32_t target_core;
    char target_script[SRV_VER_MAX];
    int64_t rollout_id;           /* 0: no rollout decides for this configuration */
    int rollout_state;            /* enum srv_rollout_state (rollout.h) */
    uint32_t share_bp;            /* the open waves' share */
    uint32_t waves[SRV_ROLLOUT_WAVES_MAX];
    int nwaves;
} srv_cfg;

typedef struct srv_cfg_slot {
    int used;
    char key[SRV_KEY_MAX + 1];
    char fw[SRV_NAME_MAX + 1];
    int64_t data_version, loaded_ms;
    srv_cfg cfg;
} srv_cfg_slot;
#define SRV_CFG_SLOTS 64          /* direct-mapped by (key, firmware name) */
#define SRV_CACHE_MS 1000         /* default --cache-ms */

/* The device's side of a check, one statement: registered, owner, banned,
 * and its deliveries (log rows counted) since the day's start (or its
 * unban). */
typedef struct srv_dev {
    int known, banned;
    char owner[SRV_OWNER_MAX + 1];
    int64_t count;                /* stored + queued */
} srv_dev;

/* Log rows in memory, chained per IMEI hash so a day count does not scan
 * them all. */
typedef struct srv_log_batch {
    srv_log_row *rows;
    size_t n;
    int32_t *head;                /* SRV_LOG_BUCKETS chain heads, -1 = empty */
    int32_t *next;                /* per row */
} srv_log_batch;

typedef struct srv_db {
    store *db;
    store_stmt *st[ST__COUNT];
    char data_dir[SRV_PATH_MAX];
    /* Serving only: the writer's connection, so a held write lock (admin
     * CLI, backup) delays log rows, never a device check. */
    store *wdb;
    store_stmt *wst[WS__COUNT];
    store_stmt *rwst[RW__COUNT];
    store_stmt *pwst[PW__COUNT];  /* PostgreSQL only, else NULL */
    /* the configuration cache of device checks (serving only) */
    srv_cfg_slot *cfg_cache;      /* SRV_CFG_SLOTS, NULL when off */
    unsigned cache_ms;
    /* queued rows, and the batch being written (both counted, both owned by
     * the db; the caller holds the server's lock except in db_log_write) */
    srv_log_batch queue, writing;
    int64_t retry_ms;             /* the serving connection's last reconnect try */
    /* PostgreSQL: the device side of checks (the day count's round trip)
     * on connections of its own, outside the server's lock, so that the
     * round trips of concurrent checks overlap: one per check thread
     * (db_open's serving). NULL on SQLite, or when not serving. */
    struct srv_db_pool *pool;
    int64_t pruned_ms;            /* device_day's last pruning (PostgreSQL) */
    char location[SRV_PATH_MAX];  /* what db_open opened (the builder's own connections) */
    /* PostgreSQL: data_dir is this instance's cache of the stored files
     * (store_files.h: --data, or a temporary directory without it), at most cache_max bytes; temp_dir: made by db_open, removed
     * by db_close. */
    uint64_t cache_max;
    int temp_dir;
} srv_db;

#define SRV_LOG_BUCKETS 4096

/* Opens (creating what is missing of the tables in schema, each part a
 * script of CREATE ... IF NOT EXISTS, in order) the database; schema.h's
 * db_open passes every module's part. data_dir NULL = the stored
 * one, or FILE.d for a new database. serving: 0, or how many threads make
 * device checks: prepare the hot statements, allocate the log queue and,
 * on PostgreSQL, open a connection per thread (at most SRV_DB_POOL_MAX) for
 * the checks' day counts. Errors are printed to stderr. */
int db_open_schema(srv_db *d, const char *const *schema, size_t nschema, const char *path, const char *data_dir,
                   unsigned serving);
#define SRV_DB_POOL_MAX 64
void db_close(srv_db *d);
int db_exec(srv_db *d, const char *sql);
/* Queue a log row: 0, or -1 when the queue is full (nothing waits on disk). */
int db_log_queue(srv_db *d, const srv_log_row *row);
int db_log_full(const srv_db *d);
/* Writing the queue, in three steps so only the first and last need the
 * server's lock: take moves the queued rows to the writing batch (when it is
 * empty) and returns how many are to write; write inserts them on the
 * writer's connection, waiting at most wait_ms for the write lock (no
 * server lock held: it only reads the batch); commit makes them durable and
 * drops the batch, or keeps it for the next try. 0 or -1. */
size_t db_log_take(srv_db *d);
int db_log_write(srv_db *d, unsigned wait_ms);
int db_log_commit(srv_db *d);
/* Rows of the loop count for imei since ts_ms: stored + queued. */
int db_log_count(srv_db *d, const char *imei, int64_t since_ms, int64_t *out);
int db_firmware_get(srv_db *d, int64_t id, srv_firmware *fw);
/* The configuration side of a check, from the cache when the database is
 * unchanged since (and not older than cache_ms), else read in one go. 0,
 * -1 (database error) or STORE_DOWN (unreachable). */
int db_check_config(srv_db *d, const char *key, const char *fwname, srv_cfg *out);
/* The device side of a check in one statement (+ the queued rows on
 * SQLite), counting nothing. 0, -1 (database error) or STORE_DOWN (the
 * database is unreachable: answer 503). On PostgreSQL it runs on the pool
 * and needs no lock; on SQLite it runs under the server's lock. Serving
 * only. */
int db_check_device(srv_db *d, const char *imei, int64_t day_start_ms, srv_dev *out);
/* A delivery from byte 0 claims its place in the day's count. PostgreSQL:
 * counted now in device_day, atomically across instances, *before the
 * deliveries of the day before this one; a claim is never taken back (one
 * past the limit is the ban, until its row is written). SQLite: nothing to
 * do, the log row (counted = 1) is the count and *before is left as the
 * caller read it with db_check_device under the same lock. 0, -1 or
 * STORE_DOWN. Serving only. */
int db_claim_delivery(srv_db *d, const char *imei, int64_t day_start_ms, int64_t *before);
/* After STORE_DOWN: tries to reconnect, at most every SRV_DB_RETRY_MS.
 * 1 when the store is reachable again. */
int db_retry(srv_db *d);
/* Turns the configuration cache on (cache_ms > 0) for a serving db. 0 / -1. */
int db_cache_init(srv_db *d, unsigned cache_ms);
/* A WAL checkpoint on the writer's connection, outside the server's lock
 * (the writer's commits do not checkpoint). 0 / -1. */
int db_checkpoint(srv_db *d);
/* The rollouts' tick on the writer's connection (server/rollout.c). */
int db_rollout_tick(srv_db *d, int64_t now_ms);
/* Path of a stored core image of that version for the project/bsp, or "". */
int db_base_image(srv_db *d, int64_t project_id, const char *bsp, uint32_t core, char *path,
                  size_t cap);

/* A stored file's path for reading (store_files.h's files_local on the
 * serving connection): SQLite's as it is, PostgreSQL's in the cache,
 * fetched when missing. 0 / -1. */
int db_local_file(srv_db *d, const char *stored, char *out, size_t cap);
/* PostgreSQL: a stored file no row names any more leaves the database (and
 * this instance's cache). 0 / -1. */
int db_forget_file(srv_db *d, const char *stored);

/* Statements of the CLI and the console that print a failure to stderr
 * ("fota-server: database: ..."). db_exec: a script without parameters;
 * db_prep: a prepared statement, or NULL; db_exec_text: one statement with
 * text parameters ?1.. (NULL binds NULL) that returns no rows. 0 or -1. */
int db_exec(srv_db *d, const char *sql);
store_stmt *db_prep(srv_db *d, const char *sql);
int db_exec_text(srv_db *d, const char *sql, int n, const char *const *v);

#endif
