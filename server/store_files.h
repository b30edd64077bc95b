/* Files kept in the database (issue 33): on PostgreSQL, the images, script
 * archives, vendor packages and built packages are rows, content-addressed
 * by SHA-256 and cut into chunks of bytea (file_chunk), so instances share
 * nothing but the database. Each instance keeps the files it uses in a
 * bounded local cache directory, filled from the database on first use
 * (the hash checked before a file is used) and trimmed oldest first.
 * SQLite keeps its files in the data directory, as before: the paths it
 * stores are absolute and used as they are.
 *
 * On PostgreSQL a stored path is relative, "<kind>/<sha256 hex>.<ext>"
 * (kind: images, scripts, vendor), and names the file in every instance's
 * cache directory. */
#ifndef FOTA_SRV_STORE_FILES_H
#define FOTA_SRV_STORE_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define FILES_CHUNK (256 * 1024)        /* bytes per file_chunk row */
#define FILES_MAX (64u * 1024 * 1024)   /* the largest file kept (a core image is smaller) */
#define FILES_CACHE_DEFAULT (512ull * 1024 * 1024)   /* --cache-size's default, bytes */
#define FILES_TRIM_MAX 8192             /* files looked at per trim */

/* The tables (any store; empty on SQLite). */
extern const char *const srv_files_schema;

/* The file at path, of sha_hex (64 hex) and size bytes, into the database
 * unless it is there (same hash, same bytes). The chunks go first and the
 * file_blob row last, so a row means a whole file; a put cut short is
 * finished by the next one. 0 or STORE_ERR / STORE_DOWN. */
int files_put(store *s, const char *path, const char *sha_hex, uint64_t size);

/* The file of sha_hex from the database into dest (through a temporary
 * file, renamed once its size and hash are right). 0, 1 when the database
 * has no such file, or negative (store error, bad bytes, I/O). */
int files_fetch(store *s, const char *sha_hex, const char *dest);

/* Where the stored path's file is, for reading: an absolute path as it is;
 * a relative one (PostgreSQL) in cache_dir, fetched from the database when
 * missing there (then the cache is trimmed to cache_max bytes). out gets
 * the path. 0, or -1 (malformed path, not in the database, store error). */
int files_local(store *s, const char *cache_dir, uint64_t cache_max, const char *stored, char *out, size_t cap);

/* The relative stored path of a file of sha_hex in kind, with ext. 0 / -1. */
int files_stored_name(const char *kind, const char *sha_hex, const char *ext, char *out, size_t cap);

/* A built package by its cache name (build.c's fw<id>-from<core>-<key>.fota):
 * recorded with its file after a build, looked up by the other instances.
 * find: 1 (sha_hex filled), 0 none, negative on a store error. */
int files_built_put(store *s, const char *name, const char *path);
int files_built_find(store *s, const char *name, char sha_hex[65]);

/* Removes the oldest files of the cache's kinds (and its built packages)
 * until at most max bytes are left, only those the database on s can give
 * back (never the only copy of a file). An open file stays readable. */
void files_trim(store *s, const char *cache_dir, uint64_t max);

/* Removes a directory tree (a temporary cache directory). */
void files_remove_tree(const char *dir);

#endif
