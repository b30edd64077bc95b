/* store_files.h: files as rows of chunks, and the local cache of them. */
#define _XOPEN_SOURCE 700
#include "store_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/files.h"
#include "port/port.h"

const char *const srv_files_schema =
    "CREATE TABLE IF NOT EXISTS file_blob(sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL,"
    " created INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS file_chunk(sha256 TEXT NOT NULL, n INTEGER NOT NULL, data BLOB NOT NULL,"
    " PRIMARY KEY(sha256, n));"
    "CREATE TABLE IF NOT EXISTS built_package(name TEXT PRIMARY KEY, sha256 TEXT NOT NULL,"
    " created INTEGER NOT NULL);";

/* The cache's kinds of file (its subdirectories), and the built packages. */
static const char *const kinds[] = { "images", "scripts", "vendor", "cache" };

static int is_sha_hex(const char *h)
{
    for (int i = 0; i < 64; i++)
        if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f'))) return 0;
    return 1;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One statement with text/int parameters stepped to its end. */
static int exec_row(store *s, const char *sql, const char *t1, int64_t i2, int64_t i3)
{
    store_stmt *st = store_prepare(s, sql);
    if (!st) return STORE_ERR;
    store_bind_str(st, 1, t1);
    store_bind_int64(st, 2, i2);
    if (strstr(sql, "?3")) store_bind_int64(st, 3, i3);
    int rc = store_step(st);
    store_finalize(st);
    return rc == STORE_DONE || rc == STORE_ROW ? 0 : rc;
}

static int blob_exists(store *s, const char *sha_hex, uint64_t *size)
{
    store_stmt *st = store_prepare(s, "SELECT size FROM file_blob WHERE sha256=?1");
    if (!st) return STORE_ERR;
    store_bind_str(st, 1, sha_hex);
    int rc = store_step(st);
    if (rc == STORE_ROW && size) *size = (uint64_t)store_column_int64(st, 0);
    store_finalize(st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : rc;
}

int files_put(store *s, const char *path, const char *sha_hex, uint64_t size)
{
    if (strlen(sha_hex) != 64 || !is_sha_hex(sha_hex) || size > FILES_MAX) return STORE_ERR;
    int rc = blob_exists(s, sha_hex, NULL);
    if (rc != 0) return rc > 0 ? 0 : rc;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return STORE_ERR;
    unsigned char *buf = malloc(FILES_CHUNK);
    store_stmt *ins = buf ? store_prepare(s, "INSERT OR IGNORE INTO file_chunk(sha256, n, data) VALUES(?1, ?2, ?3)")
                          : NULL;
    rc = ins ? 0 : STORE_ERR;
    uint64_t done = 0;
    for (int64_t n = 0; rc == 0 && (done < size || n == 0); n++) {
        size_t want = size - done < FILES_CHUNK ? (size_t)(size - done) : FILES_CHUNK, got = 0;
        while (got < want) {
            ssize_t r = read(fd, buf + got, want - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (got != want) {
            rc = STORE_ERR;
            break;
        }
        store_reset(ins);
        store_bind_str(ins, 1, sha_hex);
        store_bind_int64(ins, 2, n);
        store_bind_blob(ins, 3, buf, got);
        int st = store_step(ins);
        if (st != STORE_DONE) rc = st < 0 ? st : STORE_ERR;
        done += got;
    }
    store_finalize(ins);
    free(buf);
    close(fd);
    if (rc == 0)
        rc = exec_row(s, "INSERT OR IGNORE INTO file_blob(sha256, size, created) VALUES(?1, ?2, ?3)", sha_hex,
                      (int64_t)size, wall_ms());
    return rc;
}

/* dest's temporary name: unique per process and thread (checks run on several). */
static int tmp_name(const char *dest, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s.tmp%ld.%lx", dest, (long)getpid(), (unsigned long)pthread_self());
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

int files_fetch(store *s, const char *sha_hex, const char *dest)
{
    uint64_t size = 0;
    if (strlen(sha_hex) != 64 || !is_sha_hex(sha_hex)) return -1;
    int rc = blob_exists(s, sha_hex, &size);
    if (rc != 1) return rc == 0 ? 1 : rc;
    if (size > FILES_MAX) return -1;
    char tmp[4200];
    if (tmp_name(dest, tmp, sizeof tmp)) return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    store_stmt *st = store_prepare(s, "SELECT data FROM file_chunk WHERE sha256=?1 AND n=?2");
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    rc = st && FOTA_SHA256_START(&c) == 0 ? 0 : -1;
    uint64_t done = 0;
    /* one chunk a round trip: memory stays one chunk whatever the size */
    for (int64_t n = 0; rc == 0 && (done < size || n == 0); n++) {
        store_reset(st);
        store_bind_str(st, 1, sha_hex);
        store_bind_int64(st, 2, n);
        size_t len = 0;
        const void *p = store_step(st) == STORE_ROW ? store_column_blob(st, 0, &len) : NULL;
        if (!p || len > FILES_CHUNK || len > size - done || (len == 0 && size > 0) ||
            FOTA_SHA256_UPDATE(&c, p, len) != 0 || write(fd, p, len) != (ssize_t)len) {
            rc = -1;
            break;
        }
        done += len;
    }
    uint8_t h[32];
    char hex[65];
    if (rc == 0 && (done != size || FOTA_SHA256_FINISH(&c, h) != 0)) rc = -1;
    if (rc == 0) {
        fota_hex(h, 32, hex);
        if (strcmp(hex, sha_hex) != 0) {
            fprintf(stderr, "fota-server: file %s from the database has the wrong hash: not used\n", sha_hex);
            rc = -1;
        }
    }
    mbedtls_sha256_free(&c);
    store_finalize(st);
    if (fsync(fd) != 0) rc = -1;
    if (close(fd) != 0) rc = -1;
    if (rc == 0 && rename(tmp, dest) != 0) rc = -1;
    if (rc) unlink(tmp);
    return rc;
}

int files_stored_name(const char *kind, const char *sha_hex, const char *ext, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s.%s", kind, sha_hex, ext);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* A relative stored path: "<kind>/<64 hex>.<ext>", kind one of kinds[]. */
static const char *stored_sha(const char *stored)
{
    const char *slash = strchr(stored, '/');
    if (!slash || strchr(slash + 1, '/') || strlen(slash + 1) < 66 || slash[65] != '.') return NULL;
    int known = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        known |= strlen(kinds[i]) == (size_t)(slash - stored) && !strncmp(stored, kinds[i], strlen(kinds[i]));
    if (!known || !is_sha_hex(slash + 1) || strspn(slash + 66, "abcdefghijklmnopqrstuvwxyz") != strlen(slash + 66))
        return NULL;
    return slash + 1;
}

int files_local(store *s, const char *cache_dir, uint64_t cache_max, const char *stored, char *out, size_t cap)
{
    if (!stored[0]) return -1;
    if (stored[0] == '/') {
        if (strlen(stored) >= cap) return -1;
        memcpy(out, stored, strlen(stored) + 1);
        return 0;
    }
    const char *sha = stored_sha(stored);
    char dir[4200], sha_hex[65];
    int n = snprintf(out, cap, "%s/%s", cache_dir, stored);
    if (!sha || n < 0 || (size_t)n >= cap) return -1;
    struct stat sb;
    if (stat(out, &sb) == 0) return 0;   /* its hash was checked when it was filled */
    memcpy(sha_hex, sha, 64);
    sha_hex[64] = 0;
    snprintf(dir, sizeof dir, "%s/%.*s", cache_dir, (int)(sha - 1 - stored), stored);
    if (fota_port_mkdirs(dir) != FOTA_OK || !s) return -1;
    if (files_fetch(s, sha_hex, out) != 0) {
        fprintf(stderr, "fota-server: %s: not in the database\n", stored);
        return -1;
    }
    files_trim(s, cache_dir, cache_max);
    return 0;
}

int files_built_put(store *s, const char *name, const char *path)
{
    uint8_t h[32];
    char hex[65];
    uint64_t size = 0;
    if (fota_sha256_file(path, FILES_MAX, h, &size) != 0) return STORE_ERR;
    fota_hex(h, 32, hex);
    int rc = files_put(s, path, hex, size);
    if (rc) return rc;
    store_stmt *st = store_prepare(s, "INSERT INTO built_package(name, sha256, created) VALUES(?1, ?2, ?3)"
                                      " ON CONFLICT(name) DO UPDATE SET sha256=excluded.sha256");
    if (!st) return STORE_ERR;
    store_bind_str(st, 1, name);
    store_bind_str(st, 2, hex);
    store_bind_int64(st, 3, wall_ms());
    rc = store_step(st);
    store_finalize(st);
    return rc == STORE_DONE ? 0 : rc < 0 ? rc : STORE_ERR;
}

int files_built_find(store *s, const char *name, char sha_hex[65])
{
    store_stmt *st = store_prepare(s, "SELECT sha256 FROM built_package WHERE name=?1");
    if (!st) return STORE_ERR;
    store_bind_str(st, 1, name);
    int rc = store_step(st);
    int found = rc == STORE_ROW && store_column_copy(st, 0, sha_hex, 65) == 0 && strlen(sha_hex) == 64 &&
                is_sha_hex(sha_hex);
    store_finalize(st);
    return found ? 1 : rc == STORE_ROW || rc == STORE_DONE ? 0 : rc;
}

typedef struct cached {
    char path[4200];
    const char *kind;
    size_t name_at;                 /* the file's name in path */
    int64_t mtime;
    uint64_t size;
} cached;

static int by_age(const void *a, const void *b)
{
    const cached *x = a, *y = b;
    return x->mtime < y->mtime ? -1 : x->mtime > y->mtime;
}

/* Whether the database can give the cached file back: a content-addressed
 * file whose blob is there, or a built package it records by name. The
 * cache never deletes the only copy of anything (a directory shared with
 * an older database's files, uploads of the AT tool). */
static int recoverable(store *s, const char *kind, const char *name)
{
    char sha[65];
    if (!s) return 0;
    if (strcmp(kind, "cache") == 0) {
        int rc = files_built_find(s, name, sha);
        return rc == 1;
    }
    if (strlen(name) < 66 || name[64] != '.' || !is_sha_hex(name)) return 0;
    memcpy(sha, name, 64);
    sha[64] = 0;
    return blob_exists(s, sha, NULL) == 1;
}

void files_trim(store *s, const char *cache_dir, uint64_t max)
{
    cached *all = calloc(FILES_TRIM_MAX, sizeof *all);
    size_t n = 0;
    uint64_t total = 0;
    if (!all) return;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        char dir[4200];
        snprintf(dir, sizeof dir, "%s/%s", cache_dir, kinds[k]);
        DIR *d = opendir(dir);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL && n < FILES_TRIM_MAX) {
            cached *c = &all[n];
            struct stat sb;
            /* files being filled or built (".tmp") are not the cache's yet */
            if (e->d_name[0] == '.' || strstr(e->d_name, ".tmp") || strstr(e->d_name, ".delta") ||
                snprintf(c->path, sizeof c->path, "%s/%s", dir, e->d_name) >= (int)sizeof c->path ||
                lstat(c->path, &sb) != 0 || !S_ISREG(sb.st_mode))
                continue;
            /* a built package's content-addressed hard link shares its bytes */
            c->size = (uint64_t)sb.st_size / (sb.st_nlink ? sb.st_nlink : 1);
            c->mtime = (int64_t)sb.st_mtime;
            c->kind = kinds[k];
            c->name_at = strlen(dir) + 1;
            total += c->size;
            n++;
        }
        if (d) closedir(d);
    }
    qsort(all, n, sizeof *all, by_age);
    /* the newest file stays, whatever its size: it was filled to be used now */
    for (size_t i = 0; i + 1 < n && total > max; i++) {
        if (recoverable(s, all[i].kind, all[i].path + all[i].name_at) && unlink(all[i].path) == 0)
            total -= all[i].size;
    }
    free(all);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void files_remove_tree(const char *dir)
{
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
