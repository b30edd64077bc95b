/* Self-built packages (build.c): one per (firmware release, device base
 * core), built on demand by one background thread and cached as files
 * under DATA/cache, beside the prebuilt ones uploaded for AT firmware. */
#ifndef FOTA_SRV_BUILD_H
#define FOTA_SRV_BUILD_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "srv.h"
#include "store.h"

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
    /* PostgreSQL: the same connection fetches the release's files and
     * stores each built package (store_files.h), so an instance serves
     * another's package without building it; the data directory is this
     * instance's cache of them, at most cache_max bytes. */
    char data_dir[SRV_PATH_MAX];
    uint64_t cache_max;
    /* packages this builder built, and took from the database instead
     * (another instance's build); the worker's, read after builder_stop */
    unsigned long built, fetched;
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
 * static package host holds it (air.c's redirects, export). 0 / -1. */
int srv_package_name(const srv_pkg *pkg, char *out, size_t cap);
/* Drops a remembered package (its file went missing). */
void builder_forget(srv_builder *b, int64_t fw_id, uint32_t base);
/* Reads a PEM key file (bounded) into a new buffer. */
int srv_read_key(const char *path, char **pem_out);
/* Where an uploaded delta package of firmware fw_id for devices on core
 * `base` is kept (beside the built ones); the builder serves it first. */
int srv_prebuilt_path(const char *cache_dir, int64_t fw_id, uint32_t base, char *out, size_t cap);

#endif
