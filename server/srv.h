/* fota-server: the upgrade server (self-built mode + the IoT-platform API).
 * See docs/server.md. Everything lives in caller-owned structs; the only
 * process-wide state is the signal flag in main.c. */
#ifndef FOTA_SRV_H
#define FOTA_SRV_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#include "core/fresh.h"
#include "core/pkg.h"

/* ---- input bounds (everything from the network is checked against these) ---- */
#define SRV_KEY_MAX 64          /* product key: [A-Za-z0-9_-] */
#define SRV_NAME_MAX FOTA_PKG_MAX_STR /* project / firmware / bsp: [A-Za-z0-9._-] */
#define SRV_OWNER_MAX 64
#define SRV_IMEI_LEN 15         /* exactly 15 digits, Luhn-valid */
#define SRV_VER_MAX 32          /* "x.y.z" */
#define SRV_VER_PART_MAX 9      /* digits per part of a version from the network */
#define SRV_URL_MAX 1024        /* path + query */
#define SRV_MSG_MAX 160
#define SRV_REQ_MAX 400         /* the request as logged */
#define SRV_PATH_MAX 1024
#define SRV_AIR_URL_MAX 512     /* serve --package-url */
#define SRV_MAX_LIST 10000      /* IMEIs or from-versions in one config */
#define SRV_LOOP_LIMIT 6        /* more requests than this a day = loop upgrade */
#define SRV_KEY_PEM_MAX 16384
#define SRV_ROLLOUT_WAVES_MAX 16  /* waves of one rollout */
#define SRV_RVER_MAX 96           /* a version as a device reports it (rollouts): CORE.x.z, or Air's CORE:x.y.z */

/* Platform answer codes (lib/fotaflow.lua PLATFORM_CODES). 0 = a package. */
enum srv_code {
    SRV_OK = 0,
    SRV_INVALID_DEVICE = 3,
    SRV_NO_PERMISSION = 17,
    SRV_VERSION_NOT_ALLOWED = 21,
    SRV_INVALID_PROJECT = 25,
    SRV_INVALID_FIRMWARE = 26,
    SRV_LATEST = 27,
    SRV_LOOP = 40,
    SRV_WAIT = 43,
    SRV_BASE_MISSING = 44,
    SRV_INTERNAL = 500          /* ours, not the platform's: the server failed */
};

/* ---- validation (validate.c) ---- */
int srv_is_key(const char *s, size_t n);          /* product key */
int srv_is_name(const char *s, size_t n);         /* project/firmware/bsp */
int srv_is_owner(const char *s, size_t n);
int srv_is_imei(const char *s, size_t n);         /* 15 digits (charset + length) */
int srv_imei_luhn(const char *imei);              /* 1 when the check digit is right */
/* "x.y.z", each part 1..SRV_VER_PART_MAX digits; writes the canonical form
 * (leading zeros dropped) into out (SRV_VER_MAX). 1 ok, 0 bad. */
int srv_version_canon(const char *s, size_t n, char *out);

/* ---- the store (db.c) ---- */
typedef struct srv_firmware {
    int64_t id;
    int64_t project_id;
    char project[SRV_NAME_MAX + 1];
    char name[SRV_NAME_MAX + 1];
    char bsp[SRV_NAME_MAX + 1];
    uint32_t core_version;
    char script_version[SRV_VER_MAX];
    char core_path[SRV_PATH_MAX];
    char script_path[SRV_PATH_MAX];
    char key_path[SRV_PATH_MAX];  /* "" = the server's key */
} srv_firmware;

/* A log row, queued in memory and written in batches (see db_log_*). */
typedef struct srv_log_row {
    int64_t ts_ms;
    char imei[SRV_IMEI_LEN + 1];
    int status;                   /* HTTP status */
    int code;                     /* srv_code */
    int counted;                  /* counts toward the loop limit */
    int new_device;               /* register the device (project_id, owner) */
    int ban;                      /* ban the device (the 7th counted request) */
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
    ST_CONFIG_GET, ST_CONFIG_IMEI, ST_CONFIG_FROM, ST_FW_GET, ST_BASE_IMAGE,
    ST_DEVICE_CHECK, ST__COUNT
};
/* PostgreSQL's day counts, exact across server instances: the check
 * counts itself in the database (device_day) in the same statement that
 * reads the device, and a "please wait" (43, not counted) takes it back.
 * On SQLite one process owns the count: stored log rows + its queue. */
enum srv_pg_stmt { PG_DEVICE_CLAIM, PG_DEVICE_UNCLAIM, PG__COUNT };
extern const char *const srv_pg_count_sql[PG__COUNT];
/* Written by the log writer only (its own connection, outside that lock). */
enum srv_wstmt { WS_LOG_INSERT, WS_DEVICE_AUTOADD, WS_DEVICE_BAN, WS__COUNT };
/* The rollout statements of the writer (their SQL is in rollout.c). */
enum srv_rollout_wstmt { RW_OUTCOME, RW_SENT, RW__COUNT };
/* db.c's schema and statements (test_store runs them on both stores). */
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
 * and its counted requests since the day's start (or its unban). */
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
} srv_db;

#define SRV_LOG_BUCKETS 4096

/* Opens (creating when missing) the database; data_dir NULL = the stored
 * one, or FILE.d for a new database. serving: 0, or how many threads make
 * device checks: prepare the hot statements, allocate the log queue and,
 * on PostgreSQL, open a connection per thread (at most SRV_DB_POOL_MAX) for
 * the checks' day counts. Errors are printed to stderr. */
int db_open(srv_db *d, const char *path, const char *data_dir, unsigned serving);
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
 * SQLite). count_this: this request counts towards the day's limit (on
 * PostgreSQL it is counted now; db_uncount takes it back). 0, -1 (database
 * error) or STORE_DOWN (the database is unreachable: answer 503). On
 * PostgreSQL it runs on the pool and needs no lock; on SQLite it runs under
 * the server's lock. Serving only. */
int db_check_device(srv_db *d, const char *imei, int64_t day_start_ms, int count_this, srv_dev *out);
/* Takes back the count of a request that turned out not to count (43). */
void db_uncount(srv_db *d, const char *imei, int64_t day_start_ms);
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

/* ---- package building (build.c) ---- */
/* Whether this build can make core deltas (lua_fota/core/delta.h wired in). */
int srv_delta_available(void);
/* Writes the delta from base to target image into out_path. */
int srv_delta_make(const char *base_path, const char *target_path, const char *out_path);

enum srv_pkg_state { PKG_READY, PKG_BUILDING, PKG_BASE_MISSING, PKG_FAILED };
/* The base of a reinstall package: the release's scripts for a device on its
 * own core, marked reinstall. No core from the network can be it (9 digits). */
#define SRV_BASE_REINSTALL UINT32_MAX

typedef struct srv_pkg {
    char path[SRV_PATH_MAX];
    uint64_t size;
    char etag[40];                /* "\"<32 hex>\"" from the package hash */
    char sha256[65];              /* the package hash, hex (freshness statements) */
    char why[SRV_MSG_MAX];        /* for PKG_FAILED / PKG_BASE_MISSING */
} srv_pkg;

#define SRV_CACHE_SLOTS 256       /* remembered package states */
#define SRV_JOB_QUEUE 16

typedef struct srv_cache_slot {
    int used;
    int64_t fw_id;
    uint32_t base;
    int state;                    /* enum srv_pkg_state */
    int64_t when_ms;              /* last use; failures expire */
    srv_pkg pkg;
} srv_cache_slot;

typedef struct srv_builder {
    pthread_mutex_t lock;         /* slots and jobs; never held while building */
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    srv_cache_slot slots[SRV_CACHE_SLOTS];
    struct { srv_firmware fw; uint32_t base; char base_image[SRV_PATH_MAX]; } jobs[SRV_JOB_QUEUE];
    size_t njobs;
    char cache_dir[SRV_PATH_MAX];
    char *key_pem;                /* the server's signing key, or NULL */
    char key_id[17];              /* in cache file names: packages per key */
    uint32_t max_size;
    unsigned delay_ms;            /* test knob: a slow build, for code 43 */
    /* PostgreSQL: instances over one database (and one data directory)
     * claim each build with an advisory lock on this connection of the
     * builder's thread; the others answer 43 until the file is there.
     * NULL on SQLite. */
    store *claims;
} srv_builder;

/* db_location: the database; a PostgreSQL one gets the build claims. */
int builder_init(srv_builder *b, const char *data_dir, const char *key_path, uint32_t max_size,
                 unsigned delay_ms, const char *db_location);
int builder_start(srv_builder *b);  /* the background thread */
void builder_stop(srv_builder *b);  /* finishes the running build, drops queued ones */
/* The package of firmware fw for devices on core `base`: PKG_READY (pkg
 * filled), PKG_BUILDING (started now or already running: answer 43),
 * PKG_BASE_MISSING (44), PKG_FAILED (pkg->why). base_image is the stored
 * image of the base core, or "". */
int builder_get(srv_builder *b, const srv_firmware *fw, uint32_t base, const char *base_image,
                srv_pkg *pkg);
/* The package's content-addressed file name, <sha256 hex>.fota, as the
 * static package host holds it (server/air.c). 0 / -1. */
int srv_package_name(const srv_pkg *pkg, char *out, size_t cap);
/* Drops a remembered package (its file went missing). */
void builder_forget(srv_builder *b, int64_t fw_id, uint32_t base);
/* Reads a PEM key file (bounded) into a new buffer. */
int srv_read_key(const char *path, char **pem_out);

/* ---- the connection guard (guard.c): a deadline for each request head ---- */
#define SRV_MAX_CONNECTIONS 1000      /* the daemon's limit, all addresses */
#define SRV_PER_ADDRESS 64            /* default connections from one address (NATs share one) */
#define SRV_HEADER_TIMEOUT_MS 5000    /* default: request line + headers within this */
#define SRV_FRESH_TTL 3600            /* default: a signed answer is fresh for an hour */

typedef struct srv_guard_conn {
    int used, fd;
    int in_request;               /* head complete, being answered: no deadline */
    int cut;                      /* shut down already */
    int64_t since_ms;             /* monotonic: opened, or previous request ended */
} srv_guard_conn;

typedef struct srv_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    unsigned header_ms;
    srv_guard_conn *conns;        /* SRV_MAX_CONNECTIONS slots */
    uint64_t cut_total;           /* connections shut for a late head */
} srv_guard;

int guard_init(srv_guard *g, unsigned header_ms);   /* 0 = SRV_HEADER_TIMEOUT_MS */
int guard_start(srv_guard *g);
void guard_stop(srv_guard *g);                      /* also frees */
/* A connection opened (its slot, or NULL when none is free: not watched). */
srv_guard_conn *guard_opened(srv_guard *g, int fd);
/* Its head is complete (1), or its request ended (0: the next head's clock starts). */
void guard_request(srv_guard *g, srv_guard_conn *slot, int in_request);
void guard_closed(srv_guard *g, srv_guard_conn *slot);
uint64_t guard_cut_total(srv_guard *g);

/* ---- the HTTP side (api.c) ---- */
typedef struct srv_server {
    pthread_mutex_t lock;         /* the SQLite connection and the log queue */
    srv_db db;
    srv_builder builder;
    srv_guard guard;
    struct MHD_Daemon *mhd;
    pthread_t flusher;
    pthread_mutex_t flush_lock;
    pthread_cond_t flush_wake;
    pthread_cond_t room;          /* with lock: the writer took the queued rows */
    int flush_pending;            /* under flush_lock: a batch is wanted now */
    int stopping;
    unsigned flush_ms;
    unsigned threads;
    char *tls_cert, *tls_key;     /* PEM, kept while the daemon runs (https) */
    /* Freshness statements (core/fresh.h) on every answer to a valid
     * request, when the server has a key and fresh_ttl > 0. */
    fota_sig_key fresh_key;
    int fresh_on;
    unsigned fresh_ttl;           /* seconds an answer stays fresh */
    pthread_mutex_t fresh_lock;   /* mbedTLS caches tables inside the key */
    char package_url[SRV_AIR_URL_MAX + 1];   /* --package-url: upgrades are 302s there ("" none) */
    int64_t rollout_tick_ms;      /* the flusher's last rollout tick (monotonic) */
    struct srv_console *console;  /* the web console (console.h), NULL when off */
} srv_server;

typedef struct srv_serve_opts {
    const char *db_path, *data_dir, *listen, *key_path, *port_file;
    const char *tls_cert_path, *tls_key_path;   /* both: serve https */
    const char *package_url;                    /* upgrades: 302 to URL/<sha256>.fota (server/air.c) */
    unsigned threads, flush_ms, build_delay_ms;
    uint32_t max_size;
    unsigned per_address;         /* 0 = SRV_PER_ADDRESS */
    int fresh_ttl;                /* seconds; 0 = SRV_FRESH_TTL, < 0 = no statements */
    unsigned header_timeout_ms;   /* 0 = SRV_HEADER_TIMEOUT_MS */
    int cache_ms;                 /* configuration cache; 0 = SRV_CACHE_MS, < 0 = off */
    /* the web console (console.h): off, and session lifetimes (0 = defaults) */
    int console_off;
    unsigned console_idle_s, console_max_age_s;
} srv_serve_opts;

int srv_start(srv_server *s, const srv_serve_opts *o);
/* Stops accepting, waits for running requests, flushes the log, closes. */
void srv_stop(srv_server *s);

/* Start of the local day containing ts_ms, in ms. */
int64_t srv_day_start(int64_t ts_ms);
int64_t srv_now_ms(void);

#endif
