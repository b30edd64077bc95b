/* The POSIX file primitives on plain descriptors. The POSIX port
 * (port_posix.c) is these behind port.h; the simulator's port (port/sim/)
 * builds its power cuts and NOR flash model on them. All return FOTA_OK or a
 * negative fota_err. */
#ifndef FOTA_POSIX_FILES_H
#define FOTA_POSIX_FILES_H

#include <stddef.h>
#include <stdint.h>

int fota_posix_open(const char *path, int mode, int *fd);   /* mode: enum fota_port_mode */
int fota_posix_pread(int fd, uint64_t off, void *buf, size_t len, size_t *got);
int fota_posix_pwrite(int fd, uint64_t off, const void *buf, size_t len);
int fota_posix_truncate(int fd, uint64_t len);
int fota_posix_size(int fd, uint64_t *size);
int fota_posix_sync(int fd);
void fota_posix_close(int fd);
/* Durable when they return (the directory is synced). remove: FOTA_ERR_NOENT
 * when path is missing, so a caller can tell an unlink from nothing. */
int fota_posix_remove(const char *path);
int fota_posix_rename(const char *from, const char *to);
int fota_posix_rmdir(const char *path);
/* Calls make(ud, prefix) for each leading directory of path and path itself,
 * shortest first; make creates the one directory when it is missing. */
int fota_posix_mkdirs(const char *path, int (*make)(void *ud, const char *dir), void *ud);
int fota_posix_mkdir(const char *dir);                      /* exists already: FOTA_OK */
int fota_posix_kind(const char *path);                      /* enum fota_port_kind */
int fota_posix_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud);

#endif
