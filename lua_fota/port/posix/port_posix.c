/* POSIX port: files and clock. The files of LUAT_FOTA_NOR's directory live
 * in a NOR flash model instead (port_nor.h). */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/sim/port_fault.h"
#include "port/sim/port_nor.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

int fota_port_open(fota_port_file **out, const char *path, int mode)
{
    enum fota_fault_mode cut = FOTA_FAULT_NONE;
    size_t plen = strlen(path);
    int flags, rc;
    fota_port_file *f;

    *out = NULL;
    f = malloc(sizeof *f + plen + 1);
    if (!f)
        return FOTA_ERR_NOMEM;
    memcpy(f->path, path, plen + 1);
    f->fd = -1;
    if ((f->nor = fota_nor_region(path)) != -1) {
        if ((rc = nor_open(f, mode)) != FOTA_OK) {
            free(f);
            return rc;
        }
        *out = f;
        return FOTA_OK;
    }
    if (mode & FOTA_PORT_WRITE) {
        struct stat st;
        int exists = stat(path, &st) == 0;
        flags = O_RDWR | O_CREAT | ((mode & FOTA_PORT_TRUNC) ? O_TRUNC : 0);
        fota_fault_opened(path);
        if (!exists || (mode & FOTA_PORT_TRUNC))
            cut = cut_before(exists ? FOTA_FAULT_TRUNCATE : FOTA_FAULT_CREATE);
    } else {
        flags = O_RDONLY;
    }
    f->fd = open(path, flags | O_CLOEXEC, 0644);
    cut_after(cut);
    if (f->fd < 0) {
        int e = errno;
        free(f);
        return e == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    }
    *out = f;
    return FOTA_OK;
}

int fota_port_pread(fota_port_file *f, uint64_t off, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    if (f->nor >= 0)
        return fota_nor_read(f->nor, off, buf, len, got);
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return FOTA_ERR_IO;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return FOTA_OK;
}

int fota_port_pwrite(fota_port_file *f, uint64_t off, const void *buf, size_t len)
{
    size_t done = 0;
    if (cut_before(FOTA_FAULT_WRITE) == FOTA_FAULT_TORN) {
        if (f->nor >= 0) {
            fota_nor_write(f->nor, off, buf, len, 1);
        } else {
            ssize_t torn = pwrite(f->fd, buf, len / 2, (off_t)off);
            (void)torn;   /* whatever landed, landed */
        }
        fota_fault_power_off(FOTA_FAULT_TORN);
    }
    if (f->nor >= 0)
        return fota_nor_write(f->nor, off, buf, len, 0);
    while (done < len) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FOTA_ERR_IO;
        done += (size_t)n;
    }
    return FOTA_OK;
}

int fota_port_truncate(fota_port_file *f, uint64_t len)
{
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_TRUNCATE);
    int rc = f->nor >= 0 ? fota_nor_truncate(f->nor, len) : ftruncate(f->fd, (off_t)len) == 0 ? FOTA_OK : FOTA_ERR_IO;
    cut_after(cut);
    return rc;
}

int fota_port_size(fota_port_file *f, uint64_t *size)
{
    struct stat st;
    if (f->nor >= 0)
        return fota_nor_size(f->nor, size);
    if (fstat(f->fd, &st) != 0)
        return FOTA_ERR_IO;
    *size = (uint64_t)st.st_size;
    return FOTA_OK;
}

int fota_port_sync(fota_port_file *f)
{
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_SYNC);
    if (f->nor >= 0) {   /* flash caches nothing */
        cut_after(cut);
        return FOTA_OK;
    }
    if (fsync(f->fd) != 0)
        return FOTA_ERR_IO;
    fota_fault_synced(f->path, f->fd);
    cut_after(cut);
    return FOTA_OK;
}

void fota_port_close(fota_port_file *f)
{
    if (f) {
        if (f->fd >= 0)
            close(f->fd);
        free(f);
    }
}

/* A rename or unlink lives in the directory: it is durable once that is synced. */
static int sync_parent(const char *path)
{
    char dir[1024];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    int fd, rc;

    if (n >= sizeof dir)
        return FOTA_ERR_ARG;
    if (slash && n == 0)
        n = 1;                       /* "/x": the root */
    memcpy(dir, slash ? path : ".", slash ? n : 1);
    dir[slash ? n : 1] = '\0';
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return FOTA_ERR_IO;
    rc = fsync(fd) == 0 ? FOTA_OK : FOTA_ERR_IO;
    close(fd);
    return rc;
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
        cut_after(cut);
        return rc;
    }
    if (unlink(path) == 0) {
        fota_fault_unlinked(path);
        rc = sync_parent(path);
    } else {
        rc = errno == ENOENT ? FOTA_OK : FOTA_ERR_IO;
    }
    cut_after(cut);
    return rc;
}

int fota_port_rename(const char *from, const char *to)
{
    enum fota_fault_mode cut;
    int rc = FOTA_ERR_IO;
    if (fota_nor_region(from) != -1 || fota_nor_region(to) != -1)
        return FOTA_ERR_ARG;   /* a raw partition has no names to swap */
    cut = cut_before(FOTA_FAULT_RENAME);
    if (rename(from, to) == 0) {
        fota_fault_renamed(from, to);
        rc = sync_parent(to);
    }
    cut_after(cut);
    return rc;
}

int fota_port_mkdirs(const char *path)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return FOTA_ERR_ARG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            struct stat st;
            if (fota_nor_is_dir(buf)) {
                if (!fota_nor_present()) {
                    enum fota_fault_mode cut = cut_before(FOTA_FAULT_MKDIR);
                    int rc = fota_nor_mkdir();
                    if (rc != FOTA_OK)
                        return rc;
                    cut_after(cut);
                }
            } else if (stat(buf, &st) != 0) {
                enum fota_fault_mode cut = cut_before(FOTA_FAULT_MKDIR);
                if (mkdir(buf, 0755) != 0 && errno != EEXIST)
                    return FOTA_ERR_IO;
                cut_after(cut);
            }
            buf[i] = c;
        }
    }
    return FOTA_OK;
}

int fota_port_rmdir(const char *path)
{
    /* an unlink of a directory, to the fault plan */
    enum fota_fault_mode cut = cut_before(FOTA_FAULT_UNLINK);
    int rc = rmdir(path) == 0 ? sync_parent(path) : errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    cut_after(cut);
    return rc;
}

int fota_port_exists(const char *path)
{
    return fota_port_kind(path) != FOTA_PORT_MISSING;
}

int fota_port_kind(const char *path)
{
    struct stat st;
    int nor = fota_nor_region(path);
    if (fota_nor_is_dir(path))
        return fota_nor_present() ? FOTA_PORT_DIRECTORY : FOTA_PORT_MISSING;
    if (nor != -1)
        return nor >= 0 && fota_nor_exists(nor) ? FOTA_PORT_REGULAR : FOTA_PORT_MISSING;
    if (stat(path, &st) != 0)
        return FOTA_PORT_MISSING;
    return S_ISREG(st.st_mode) ? FOTA_PORT_REGULAR : S_ISDIR(st.st_mode) ? FOTA_PORT_DIRECTORY : FOTA_PORT_OTHER;
}

int fota_port_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud)
{
    DIR *d;
    struct dirent *e;
    int rc = FOTA_OK;
    if (fota_nor_is_dir(dir))
        return fota_nor_present() ? fota_nor_listdir(fn, ud) : FOTA_ERR_NOENT;
    if (!(d = opendir(dir)))
        return errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    while (rc == FOTA_OK && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = fn(ud, e->d_name);
    closedir(d);
    return rc;
}

uint64_t fota_port_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fota_port_sleep_ms(uint32_t ms)
{
    struct timespec ts = { (time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}
