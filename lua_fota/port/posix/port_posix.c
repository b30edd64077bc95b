/* POSIX port: files (port.h) on the POSIX primitives, nothing simulated. */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/posix/posix_files.h"

#include <stdlib.h>

struct fota_port_file {
    int fd;
};

int fota_port_open(fota_port_file **out, const char *path, int mode)
{
    fota_port_file *f = malloc(sizeof *f);
    int rc;
    *out = NULL;
    if (!f)
        return FOTA_ERR_NOMEM;
    if ((rc = fota_posix_open(path, mode, &f->fd)) != FOTA_OK) {
        free(f);
        return rc;
    }
    *out = f;
    return FOTA_OK;
}

int fota_port_pread(fota_port_file *f, uint64_t off, void *buf, size_t len, size_t *got)
{
    return fota_posix_pread(f->fd, off, buf, len, got);
}

int fota_port_pwrite(fota_port_file *f, uint64_t off, const void *buf, size_t len)
{
    return fota_posix_pwrite(f->fd, off, buf, len);
}

int fota_port_truncate(fota_port_file *f, uint64_t len)
{
    return fota_posix_truncate(f->fd, len);
}

int fota_port_size(fota_port_file *f, uint64_t *size)
{
    return fota_posix_size(f->fd, size);
}

int fota_port_sync(fota_port_file *f)
{
    return fota_posix_sync(f->fd);
}

void fota_port_close(fota_port_file *f)
{
    if (f) {
        fota_posix_close(f->fd);
        free(f);
    }
}

int fota_port_remove(const char *path)
{
    int rc = fota_posix_remove(path);
    return rc == FOTA_ERR_NOENT ? FOTA_OK : rc;
}

int fota_port_rename(const char *from, const char *to)
{
    return fota_posix_rename(from, to);
}

static int make_dir(void *ud, const char *dir)
{
    (void)ud;
    return fota_posix_mkdir(dir);
}

int fota_port_mkdirs(const char *path)
{
    return fota_posix_mkdirs(path, make_dir, NULL);
}

int fota_port_rmdir(const char *path)
{
    return fota_posix_rmdir(path);
}

int fota_port_exists(const char *path)
{
    return fota_posix_kind(path) != FOTA_PORT_MISSING;
}

int fota_port_kind(const char *path)
{
    return fota_posix_kind(path);
}

int fota_port_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud)
{
    return fota_posix_listdir(dir, fn, ud);
}
