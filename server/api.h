/* The HTTP side (api.c): the server's life cycle (srv_start, srv_stop),
 * the device check GET /api/site/firmware_upgrade, and the routing of
 * /console/ to the web console (console.h). */
#ifndef FOTA_SRV_API_H
#define FOTA_SRV_API_H

#include <pthread.h>
#include <stdint.h>

#include "build.h"
#include "db.h"
#include "guard.h"
#include "srv.h"
#include "core/fresh.h"

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
    unsigned max_connections;     /* live connections; 0 = SRV_MAX_CONNECTIONS (tests lower it) */
    int cache_ms;                 /* configuration cache; 0 = SRV_CACHE_MS, < 0 = off */
    uint64_t cache_size;          /* PostgreSQL's cache of files, bytes; 0 = FILES_CACHE_DEFAULT */
    /* the web console (console.h): off, and session lifetimes (0 = defaults) */
    int console_off;
    unsigned console_idle_s, console_max_age_s;
} srv_serve_opts;

int srv_start(srv_server *s, const srv_serve_opts *o);
/* Stops accepting, waits for running requests, flushes the log, closes. */
void srv_stop(srv_server *s);

#endif
