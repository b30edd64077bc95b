/* Self-built packages: one per (firmware release, device base core), built
 * on demand by one background thread and cached as files under
 * DATA/cache. builder_get() is the single entry point the API uses. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/files.h"
#include "host/pkg_build.h"
#include "core/sig.h"
#include "core/fota_err.h"
#include "port/port.h"
#include "build.h"
#include "store_files.h"
#include "delta_glue.h"

#define FAIL_TTL_MS 60000   /* a failed build is retried after this (admin may fix it) */

int srv_read_key(const char *path, char **pem_out)
{
    *pem_out = NULL;
    fota_port_file *f;
    uint64_t size = 0;
    if (fota_port_open(&f, path, FOTA_PORT_READ) != FOTA_OK) return -1;
    if (fota_port_size(f, &size) != FOTA_OK || size == 0 || size >= SRV_KEY_PEM_MAX) {
        fota_port_close(f);
        return -1;
    }
    char *buf = malloc((size_t)size + 1);
    size_t got = 0;
    if (!buf || fota_port_pread(f, 0, buf, (size_t)size, &got) != FOTA_OK || got != size) {
        free(buf);
        fota_port_close(f);
        return -1;
    }
    fota_port_close(f);
    buf[got] = '\0';
    /* A usable P-256 private key, or refuse it now rather than at build time. */
    char pub[1024];
    if (fota_sig_pubkey_from_private(buf, pub, sizeof pub) != 0) {
        memset(buf, 0, got);
        free(buf);
        return -2;
    }
    *pem_out = buf;
    return 0;
}

int srv_package_name(const srv_pkg *pkg, char *out, size_t cap)
{
    /* the package hash: 64 lowercase hex digits, nothing else */
    if (strlen(pkg->sha256) != 64 || strspn(pkg->sha256, "0123456789abcdef") != 64) return -1;
    int n = snprintf(out, cap, "%s.fota", pkg->sha256);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int srv_prebuilt_path(const char *cache_dir, int64_t fw_id, uint32_t base, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/fw%" PRId64 "-from%lu-prebuilt.fota", cache_dir, fw_id, (unsigned long)base);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

static void free_key(char *pem)
{
    if (pem) {
        memset(pem, 0, strlen(pem));
        free(pem);
    }
}

int builder_init(srv_builder *b, const char *data_dir, const char *key_path, uint32_t max_size,
                 unsigned delay_ms, const char *db_location)
{
    memset(b, 0, sizeof *b);
    b->max_size = max_size ? max_size : FOTA_PKG_DEFAULT_MAX_SIZE;
    b->delay_ms = delay_ms;
    b->cache_max = FILES_CACHE_DEFAULT;
    if (strlen(data_dir) >= sizeof b->data_dir) return -1;
    memcpy(b->data_dir, data_dir, strlen(data_dir) + 1);
    int n = snprintf(b->cache_dir, sizeof b->cache_dir, "%s/cache", data_dir);
    if (n < 0 || (size_t)n >= sizeof b->cache_dir || fota_port_mkdirs(b->cache_dir) != FOTA_OK) {
        fprintf(stderr, "fota-server: cannot create %s/cache\n", data_dir);
        return -1;
    }
    memcpy(b->key_id, "unsigned", 9);
    if (key_path) {
        int rc = srv_read_key(key_path, &b->key_pem);
        if (rc) {
            fprintf(stderr, "fota-server: %s: %s\n", key_path,
                    rc == -2 ? "not a P-256 private key (PEM)" : "cannot read the key");
            return -1;
        }
        /* Packages are cached per signing key: a new key never serves a
         * package signed with the old one. */
        char pub[1024];
        uint8_t h[32];
        fota_sig_pubkey_from_private(b->key_pem, pub, sizeof pub);
        fota_sha256(pub, strlen(pub), h);
        fota_hex(h, 8, b->key_id);
    }
    if (db_location && store_is_pg(db_location)) {
        char err[256];
        if (!(b->claims = store_open(db_location, err, sizeof err))) {
            fprintf(stderr, "fota-server: the builder's database connection: %s\n", err);
            free_key(b->key_pem);
            return -1;
        }
    }
    if (pthread_mutex_init(&b->lock, NULL) == 0) {
        if (pthread_cond_init(&b->wake, NULL) == 0) return 0;
        pthread_mutex_destroy(&b->lock);
    }
    store_close(b->claims);
    free_key(b->key_pem);
    return -1;
}

static int cache_path(const srv_builder *b, const srv_firmware *fw, uint32_t base, char *out, size_t cap)
{
    int n = base == SRV_BASE_REINSTALL
                ? snprintf(out, cap, "%s/fw%lld-reinstall-%s.fota", b->cache_dir, (long long)fw->id,
                           fw->key_path[0] ? "own" : b->key_id)
                : snprintf(out, cap, "%s/fw%lld-from%lu-%s.fota", b->cache_dir, (long long)fw->id,
                           (unsigned long)base, fw->key_path[0] ? "own" : b->key_id);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Size and ETag of a finished package file. */
static int describe(const char *path, srv_pkg *pkg, uint32_t max_size, int link_name)
{
    fota_pkg_reader r;
    if (fota_pkg_open_file(&r, path, max_size) != 0) return -1;
    fota_hex(r.info.sha256, 32, pkg->sha256);
    snprintf(pkg->etag, sizeof pkg->etag, "\"%.32s\"", pkg->sha256);
    pkg->size = r.info.total_len;
    fota_pkg_close(&r);
    snprintf(pkg->path, sizeof pkg->path, "%s", path);
    /* Its content-addressed name beside it (a hard link: no copy), so a
     * copy of the cache can be a static package host (serve --package-url).
     * Best effort: `fota-server export` writes them too. Not on
     * PostgreSQL (link_name 0), where export is the way and the cache is
     * trimmed. */
    char ca[SRV_PATH_MAX + 80], name[80];
    const char *slash = strrchr(path, '/');
    if (link_name && slash && srv_package_name(pkg, name, sizeof name) == 0 &&
        snprintf(ca, sizeof ca, "%.*s/%s", (int)(slash - path), path, name) < (int)sizeof ca &&
        strcmp(ca, path) != 0)
        (void)link(path, ca);
    return 0;
}

static srv_cache_slot *find_slot(srv_builder *b, int64_t fw_id, uint32_t base)
{
    for (size_t i = 0; i < SRV_CACHE_SLOTS; i++)
        if (b->slots[i].used && b->slots[i].fw_id == fw_id && b->slots[i].base == base)
            return &b->slots[i];
    return NULL;
}

/* A free slot, else the least recently used one that is not building. */
static srv_cache_slot *new_slot(srv_builder *b, int64_t fw_id, uint32_t base)
{
    srv_cache_slot *victim = NULL;
    for (size_t i = 0; i < SRV_CACHE_SLOTS; i++) {
        srv_cache_slot *s = &b->slots[i];
        if (!s->used) {
            victim = s;
            break;
        }
        if (s->state != PKG_BUILDING && (!victim || s->when_ms < victim->when_ms)) victim = s;
    }
    if (!victim) return NULL;
    memset(victim, 0, sizeof *victim);
    victim->used = 1;
    victim->fw_id = fw_id;
    victim->base = base;
    return victim;
}

static int64_t mono_ms(void)
{
    return (int64_t)fota_port_now_ms();
}

int builder_get(srv_builder *b, const srv_firmware *fw, uint32_t base, const char *base_image,
                srv_pkg *pkg)
{
    int64_t now = mono_ms();
    int state;
    /* An uploaded package for this base (AT firmware, at.c) comes first. */
    char prebuilt[SRV_PATH_MAX];
    if (srv_prebuilt_path(b->cache_dir, fw->id, base, prebuilt, sizeof prebuilt) == 0 &&
        describe(prebuilt, pkg, b->max_size, !b->claims) == 0)
        return PKG_READY;
    pthread_mutex_lock(&b->lock);
    srv_cache_slot *s = find_slot(b, fw->id, base);
    if (s && (s->state == PKG_FAILED || s->state == PKG_BASE_MISSING) &&
        now - s->when_ms > FAIL_TTL_MS) {
        s->used = 0;
        s = NULL;
    }
    if (s) {
        if (s->state != PKG_BUILDING) s->when_ms = now;
        *pkg = s->pkg;
        state = s->state;
        pthread_mutex_unlock(&b->lock);
        return state;
    }
    srv_pkg found;
    memset(&found, 0, sizeof found);
    char path[SRV_PATH_MAX];
    state = PKG_FAILED;
    snprintf(found.why, sizeof found.why, "cannot name the package file");
    if (cache_path(b, fw, base, path, sizeof path) == 0) {
        struct stat st;
        if (stat(path, &st) == 0 && describe(path, &found, b->max_size, !b->claims) == 0) {
            state = PKG_READY;   /* built by an earlier run */
        } else if (!fw->core_path[0]) {
            /* A release of uploaded deltas only: nothing to build from. */
            state = PKG_BASE_MISSING;
            snprintf(found.why, sizeof found.why,
                     "base core version missing: no delta from V%lu uploaded", (unsigned long)base);
        } else if (fw->core_version != base && base != SRV_BASE_REINSTALL &&
                   !(base_image[0] && srv_delta_available()) &&
                   /* the stored size: PostgreSQL's image may not be in this cache yet */
                   (fw->core_size || stat(fw->core_path, &st) == 0) &&
                   (fw->core_size ? fw->core_size : (uint64_t)st.st_size) + FOTA_PKG_MIN_LEN +
                   FOTA_PKG_SIG_BLOCK_LEN > b->max_size) {
            /* The full core alone does not fit: only a delta can do, and a
             * delta needs the device's current core image. */
            if (!base_image[0]) {
                state = PKG_BASE_MISSING;
                snprintf(found.why, sizeof found.why,
                         "base core version missing: no image of V%lu to build a delta from",
                         (unsigned long)base);
            } else {
                snprintf(found.why, sizeof found.why,
                         "core too large for a full package and no delta engine in this build");
            }
        } else if (b->njobs < SRV_JOB_QUEUE) {
            b->jobs[b->njobs].fw = *fw;
            b->jobs[b->njobs].base = base;
            snprintf(b->jobs[b->njobs].base_image, sizeof b->jobs[b->njobs].base_image, "%s",
                     base_image);
            b->njobs++;
            pthread_cond_signal(&b->wake);
            state = PKG_BUILDING;
        } else {
            /* Queue full: say "wait" without remembering; a retry queues it. */
            pthread_mutex_unlock(&b->lock);
            return PKG_BUILDING;
        }
    }
    s = new_slot(b, fw->id, base);
    if (s) {
        s->state = state;
        s->when_ms = now;
        s->pkg = found;
    }
    *pkg = found;
    pthread_mutex_unlock(&b->lock);
    return state;
}

static void sleep_ms(srv_builder *b, unsigned ms)
{
    /* In small steps so a stop is not held up by the test delay. */
    while (ms > 0 && !b->stop) {
        unsigned step = ms < 20 ? ms : 20;
        fota_port_sleep_ms(step);
        ms -= step;
    }
}

static int sync_file(const char *path)
{
    fota_port_file *f;
    if (fota_port_open(&f, path, FOTA_PORT_READ) != FOTA_OK) return -1;
    int rc = fota_port_sync(f);
    fota_port_close(f);
    return rc;
}

/* The package's project field: the PROJECT of the firmware name
 * PROJECT_LuatOS-SoC_BSP (what the device compares with its own), or the
 * MODEL of MODEL_AT_BSP; the project's name for any other. The project's
 * name is the platform's (any UTF-8), the field the package format's
 * alphabet: the firmware name is in it. 0, or -1 when there is none. */
static int package_project(const srv_firmware *fw, char out[SRV_NAME_MAX + 1])
{
    static const char *const marks[] = { "_LuatOS-SoC_", "_AT_" };
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
        const char *m = strstr(fw->name, marks[i]);
        if (m && m > fw->name) {
            size_t n = (size_t)(m - fw->name);
            memcpy(out, fw->name, n);
            out[n] = '\0';
            return fota_pkg_meta_str_ok(out, n) ? 0 : -1;
        }
    }
    size_t n = strlen(fw->project);
    if (n > SRV_NAME_MAX || !fota_pkg_meta_str_ok(fw->project, n)) return -1;
    memcpy(out, fw->project, n + 1);
    return 0;
}

/* Builds one package; returns its state with pkg filled. */
static int build_one(srv_builder *b, const srv_firmware *fw, uint32_t base, const char *base_image,
                     srv_pkg *pkg)
{
    char final[SRV_PATH_MAX], tmp[SRV_PATH_MAX + 32], delta[SRV_PATH_MAX + 32];
    memset(pkg, 0, sizeof *pkg);
    if (cache_path(b, fw, base, final, sizeof final)) return PKG_FAILED;
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", final, (long)getpid());
    snprintf(delta, sizeof delta, "%s.delta%ld", final, (long)getpid());
    /* Built meanwhile by another instance (it held the claim). */
    if (describe(final, pkg, b->max_size, !b->claims) == 0) return PKG_READY;
    /* PostgreSQL: built by another instance, into the database: fetched
     * (its hash checked), not built again */
    char built_sha[65];
    const char *name = strrchr(final, '/') + 1;
    if (b->claims && files_built_find(b->claims, name, built_sha) == 1 &&
        files_fetch(b->claims, built_sha, final) == 0 && describe(final, pkg, b->max_size, !b->claims) == 0) {
        files_trim(b->claims, b->data_dir, b->cache_max);
        b->fetched++;
        return PKG_READY;
    }
    /* The release's files, local (PostgreSQL: from the database into the cache) */
    srv_firmware local = *fw;
    char base_local[SRV_PATH_MAX] = "";
    if ((fw->core_path[0] &&
         files_local(b->claims, b->data_dir, b->cache_max, fw->core_path, local.core_path, sizeof local.core_path)) ||
        (fw->script_path[0] && files_local(b->claims, b->data_dir, b->cache_max, fw->script_path, local.script_path,
                                           sizeof local.script_path)) ||
        (base_image[0] &&
         files_local(b->claims, b->data_dir, b->cache_max, base_image, base_local, sizeof base_local))) {
        snprintf(pkg->why, sizeof pkg->why, "the release's files are missing from the store");
        return PKG_FAILED;
    }
    fw = &local;
    base_image = base_local;
    if (b->delay_ms) sleep_ms(b, b->delay_ms);

    char project[SRV_NAME_MAX + 1];
    if (package_project(fw, project)) {
        snprintf(pkg->why, sizeof pkg->why, "the firmware name has no PROJECT in [A-Za-z0-9._-]");
        return PKG_FAILED;
    }
    char *own_key = NULL;
    if (fw->key_path[0] && srv_read_key(fw->key_path, &own_key) != 0) {
        snprintf(pkg->why, sizeof pkg->why, "cannot read the firmware's signing key");
        return PKG_FAILED;
    }
    fota_pkg_build_opts o;
    memset(&o, 0, sizeof o);
    o.project = project;
    o.bsp = fw->bsp;
    o.firmware = fw->name;
    o.script_archive_path = fw->script_path[0] ? fw->script_path : NULL;   /* AT firmware: none */
    /* The release binds both halves; a script-only package (the device
     * already runs the release's core) runs on that core alone. */
    o.release_core_version = fw->core_version;
    o.release_script_version = fw->script_version;
    o.reinstall = base == SRV_BASE_REINSTALL;   /* asked for by the configuration */
    if (o.reinstall) base = fw->core_version;
    o.sign_key_pem = own_key ? own_key : b->key_pem;
    o.max_size = b->max_size;
    uint8_t base_sha[32], img_sha[32];
    int rc = 0;
    if (fw->core_version != base) {
        o.core_type = FOTA_PKG_SEC_CORE_FULL;
        o.core_path = fw->core_path;
        /* A delta when the device's base image is known and the engine is
         * there; otherwise the whole core. */
        uint64_t img_len = 0;
        if (base_image[0] && srv_delta_available() &&
            fota_sha256_file(base_image, FOTA_PKG_MAX_IMAGE, base_sha, NULL) == 0 &&
            fota_sha256_file(fw->core_path, FOTA_PKG_MAX_IMAGE, img_sha, &img_len) == 0 &&
            srv_delta_make(base_image, fw->core_path, delta) == 0) {
            o.core_type = FOTA_PKG_SEC_CORE_DELTA;
            o.core_path = delta;
            o.from_core_version = base;
            o.base_sha256 = base_sha;
            o.core_image_len = (uint32_t)img_len;
            o.core_image_sha256 = img_sha;
        }
    }
    uint32_t total = 0;
    rc = fota_pkg_build(&o, tmp, &total);
    fota_port_remove(delta);
    free_key(own_key);
    if (rc == FOTA_PKG_E_TOO_LARGE) {
        if (o.core_type == FOTA_PKG_SEC_CORE_FULL && !base_image[0]) {
            snprintf(pkg->why, sizeof pkg->why,
                     "base core version missing: no image of V%lu for a delta (a full package is "
                     "%lu bytes, over %lu)", (unsigned long)base, (unsigned long)total,
                     (unsigned long)b->max_size);
            return PKG_BASE_MISSING;
        }
        snprintf(pkg->why, sizeof pkg->why, "package would be %lu bytes, over the limit of %lu",
                 (unsigned long)total, (unsigned long)b->max_size);
        return PKG_FAILED;
    }
    if (rc) {
        snprintf(pkg->why, sizeof pkg->why, "package build failed: %s", fota_pkg_errname(rc));
        return PKG_FAILED;
    }
    /* Durable before it becomes visible under its final name. */
    if (sync_file(tmp) || fota_port_rename(tmp, final) || describe(final, pkg, b->max_size, !b->claims)) {
        fota_port_remove(tmp);
        snprintf(pkg->why, sizeof pkg->why, "cannot store the package");
        return PKG_FAILED;
    }
    b->built++;
    /* PostgreSQL: for the other instances, before the claim is released;
     * this one serves it either way (the others would build it again) */
    if (b->claims) {
        if (files_built_put(b->claims, name, final) != 0)
            fprintf(stderr, "fota-server: package %s not stored in the database: %s\n", name,
                    store_errmsg(b->claims));
        files_trim(b->claims, b->data_dir, b->cache_max);
    }
    return PKG_READY;
}

/* The advisory lock key of one package: FNV-1a over what names its file. */
static int64_t claim_key(const srv_builder *b, const srv_firmware *fw, uint32_t base)
{
    char name[SRV_PATH_MAX];
    uint64_t h = 1469598103934665603ull;
    if (cache_path(b, fw, base, name, sizeof name)) return 0;
    for (const char *p = strrchr(name, '/') ? strrchr(name, '/') + 1 : name; *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ull;
    return (int64_t)(h >> 1);
}

static void *worker(void *arg)
{
    srv_builder *b = arg;
    pthread_mutex_lock(&b->lock);
    for (;;) {
        while (b->njobs == 0 && !b->stop) pthread_cond_wait(&b->wake, &b->lock);
        if (b->stop) break;
        srv_firmware fw = b->jobs[0].fw;
        uint32_t base = b->jobs[0].base;
        char base_image[SRV_PATH_MAX];
        memcpy(base_image, b->jobs[0].base_image, sizeof base_image);
        memmove(&b->jobs[0], &b->jobs[1], (b->njobs - 1) * sizeof b->jobs[0]);
        b->njobs--;
        pthread_mutex_unlock(&b->lock);

        srv_pkg pkg;
        int64_t key = claim_key(b, &fw, base);
        int claimed = b->claims ? store_try_lock(b->claims, key) : 1;
        if (claimed < 0) {
            /* the database is unreachable: build here, at worst twice */
            store_reconnect(b->claims);
        }
        int state = PKG_BUILDING;
        if (claimed != 0) {
            state = build_one(b, &fw, base, base_image, &pkg);
            if (claimed > 0 && b->claims) store_unlock(b->claims, key);
            if (state != PKG_READY) fprintf(stderr, "fota-server: firmware %lld from V%lu: %s\n",
                                            (long long)fw.id, (unsigned long)base, pkg.why);
        }

        pthread_mutex_lock(&b->lock);
        srv_cache_slot *s = find_slot(b, fw.id, base);
        if (claimed == 0) {
            /* Another instance builds it: the next request looks for its
             * file again (and queues a claim while there is none). */
            if (s) s->used = 0;
            continue;
        }
        if (!s) s = new_slot(b, fw.id, base);
        if (s) {
            s->state = b->stop && state != PKG_READY ? PKG_FAILED : state;
            s->pkg = pkg;
            s->when_ms = mono_ms();
        }
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

int builder_start(srv_builder *b)
{
    if (pthread_create(&b->thread, NULL, worker, b)) return -1;
    b->running = 1;
    return 0;
}

void builder_stop(srv_builder *b)
{
    pthread_mutex_lock(&b->lock);
    b->stop = 1;
    b->njobs = 0;
    pthread_cond_broadcast(&b->wake);
    pthread_mutex_unlock(&b->lock);
    if (b->running) pthread_join(b->thread, NULL);
    b->running = 0;
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->lock);
    free_key(b->key_pem);
    b->key_pem = NULL;
    store_close(b->claims);
    b->claims = NULL;
}

void builder_forget(srv_builder *b, int64_t fw_id, uint32_t base)
{
    pthread_mutex_lock(&b->lock);
    srv_cache_slot *s = find_slot(b, fw_id, base);
    if (s && s->state != PKG_BUILDING) s->used = 0;
    pthread_mutex_unlock(&b->lock);
}
