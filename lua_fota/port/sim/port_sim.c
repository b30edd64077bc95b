/* The simulator's port: files (port.h) on the POSIX primitives, with the
 * power-cut injector (port_fault.h) at every storage operation, and the files
 * of LUAT_FOTA_NOR's directory kept in the NOR flash model (port_nor.h).
 * Linked into the simulator's module, luat-at and the tests, never into a
 * tool or the server. */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/posix/posix_files.h"
#include "port/sim/port_fault.h"
#include "port/sim/port_nor.h"

#include <stdlib.h>
#include <string.h>

struct fota_port_file {
    int fd;
    int nor;       /* its NOR region, or -1 */
    char path[];   /* for the fault injector's durable model */
};

/* Every storage operation may be the one the power goes at (port_fault.h):
 * before it (modes before, lost) or right after it (torn). */
static enum fota_fault_mode cut_before(enum fota_fault_op op)
{
    enum fota_fault_mode m = fota_fault_at(op);
    if (m == FOTA_FAULT_BEFORE || m == FOTA_FAULT_LOST)
        fota_fault_power_off(m);
    return m;
}

static void cut_after(enum fota_fault_mode m)
{
    if (m == FOTA_FAULT_TORN)
        fota_fault_power_off(m);
}

/* A file of the NOR directory: a region of the flash model. */
static int nor_open(fota_port_file *f, int mode)
{
    int exists = fota_nor_exists(f->nor), trunc = (mode & FOTA_PORT_TRUNC) != 0;
    if (f->nor < 0)
        return (mode & FOTA_PORT_WRITE) ? FOTA_ERR_ARG : FOTA_ERR_NOENT;   /* no such region */
    if (!(mode & FOTA_PORT_WRITE))
        return exists ? FOTA_OK : FOTA_ERR_NOENT;
    if (!exists || trunc) {
        if (cut_before(exists ? FOTA_FAULT_TRUNCATE : FOTA_FAULT_CREATE) == FOTA_FAULT_TORN) {
            fota_nor_open(f->nor, trunc, 1);   /* cut mid-erase */
            fota_fault_power_off(FOTA_FAULT_TORN);
        }
    }
    return fota_nor_open(f->nor, trunc, 0);
}

static int file_open(fota_port_file *f, const char *path, int mode)
{
    enum fota_fault_mode cut = FOTA_FAULT_NONE;
    int rc;
    if (mode & FOTA_PORT_WRITE) {
        int exists = fota_posix_kind(path) != FOTA_PORT_MISSING;
        fota_fault_opened(path);
        if (!exists || (mode & FOTA_PORT_TRUNC))
            cut = cut_before(exists ? FOTA_FAULT_TRUNCATE : FOTA_FAULT_CREATE);
    }
    rc = fota_posix_open(path, mode, &f->fd);
    cut_after(cut);
    return rc;
}

int fota_port_open(fota_port_file **out, const char *path, int mode)
{
    size_t plen = strlen(path);
    fota_port_file *f = malloc(sizeof *f + plen + 1);
    int rc;

    *out = NULL;
    if (!f)
        return FOTA_ERR_NOMEM;
    memcpy(f->path, path, plen + 1);
    f->fd = -1;
    f->nor = fota_nor_region(path);
    rc = f->nor != -1 ? nor_open(f, mode) : file_open(f, path, mode);
    if (rc != FOTA_OK) {
        free(f);
        return rc;
    }
    *out = f;
    return FOTA_OK;
}

int fota_port_pread(fota_port_file *f, uint64_t off, void *buf, size_t len, size_t *got)
{
    if (f->nor >= 0)
        return fota_nor_read(f->nor, off, buf, len, got);
    return fota_posix_pread(f->fd, off, buf, len, got);
}

int fota_port_pwrite(fota_port_file *f, uint64_t off, const void *buf, size_t len)
{
    if (cut_before(FOTA_FAULT_WRITE) == FOTA_FAULT_TORN) {
        if (f->nor >= 0)
            fota_nor_write(f->nor, off, buf, len, 1);
        else
            (void)fota_posix_pwrite(f->fd, off, buf, len / 2);   /* whatever landed, landed */
        fota_fault_power_off(FOTA_FAULT_TORN);
    }
    if (f->nor >= 0)
        return fota_nor_write(f->nor, off, buf, len, 0);
    return fota_posix_pwrite(f->fd, off, buf, len);
}

int fota_port_truncate(fota_port_file *f, uint64_t len)
{
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_TRUNCATE);
    int rc = f->nor >= 0 ? fota_nor_truncate(f->nor, len) : fota_posix_truncate(f->fd, len);
    cut_after(cut);
    return rc;
}

int fota_port_size(fota_port_file *f, uint64_t *size)
{
    return f->nor >= 0 ? fota_nor_size(f->nor, size) : fota_posix_size(f->fd, size);
}

int fota_port_sync(fota_port_file *f)
{
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_SYNC);
    if (f->nor < 0) {   /* flash caches nothing */
        int rc = fota_posix_sync(f->fd);
        if (rc != FOTA_OK)
            return rc;
        fota_fault_synced(f->path);
    }
    cut_after(cut);
    return FOTA_OK;
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
    enum fota_fault_mode cut;
    int rc, nor = fota_nor_region(path);
    if (!fota_port_exists(path))
        return FOTA_OK;
    cut = cut_before(FOTA_FAULT_UNLINK);
    if (nor >= 0) {
        rc = fota_nor_remove(nor);
    } else {
        rc = fota_posix_remove(path);
        if (rc == FOTA_OK)
            fota_fault_unlinked(path);
        else if (rc == FOTA_ERR_NOENT)
            rc = FOTA_OK;
    }
    cut_after(cut);
    return rc;
}

int fota_port_rename(const char *from, const char *to)
{
    enum fota_fault_mode cut;
    int rc;
    if (fota_nor_region(from) != -1 || fota_nor_region(to) != -1)
        return FOTA_ERR_ARG;   /* a raw partition has no names to swap */
    cut = cut_before(FOTA_FAULT_RENAME);
    if ((rc = fota_posix_rename(from, to)) == FOTA_OK)
        fota_fault_renamed(from, to);
    cut_after(cut);
    return rc;
}

/* One directory of a mkdirs; the NOR directory is the flash image. */
static int make_dir(void *ud, const char *dir)
{
    enum fota_fault_mode cut;
    int rc;
    (void)ud;
    if (fota_nor_is_dir(dir)) {
        if (fota_nor_present())
            return FOTA_OK;
        cut = cut_before(FOTA_FAULT_MKDIR);
        rc = fota_nor_mkdir();
    } else {
        if (fota_posix_kind(dir) != FOTA_PORT_MISSING)
            return FOTA_OK;
        cut = cut_before(FOTA_FAULT_MKDIR);
        rc = fota_posix_mkdir(dir);
    }
    if (rc == FOTA_OK)
        cut_after(cut);
    return rc;
}

int fota_port_mkdirs(const char *path)
{
    return fota_posix_mkdirs(path, make_dir, NULL);
}

int fota_port_rmdir(const char *path)
{
    /* an unlink of a directory, to the fault plan */
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_UNLINK);
    int rc = fota_posix_rmdir(path);
    cut_after(cut);
    return rc;
}

int fota_port_exists(const char *path)
{
    return fota_port_kind(path) != FOTA_PORT_MISSING;
}

int fota_port_kind(const char *path)
{
    int nor = fota_nor_region(path);
    if (fota_nor_is_dir(path))
        return fota_nor_present() ? FOTA_PORT_DIRECTORY : FOTA_PORT_MISSING;
    if (nor != -1)
        return nor >= 0 && fota_nor_exists(nor) ? FOTA_PORT_REGULAR : FOTA_PORT_MISSING;
    return fota_posix_kind(path);
}

int fota_port_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud)
{
    if (fota_nor_is_dir(dir))
        return fota_nor_present() ? fota_nor_listdir(fn, ud) : FOTA_ERR_NOENT;
    return fota_posix_listdir(dir, fn, ud);
}
