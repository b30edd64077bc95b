/* The POSIX file primitives (posix_files.h). */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/posix/posix_files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fota_posix_open(const char *path, int mode, int *fd)
{
    int flags = (mode & FOTA_PORT_WRITE) ? O_RDWR | O_CREAT | ((mode & FOTA_PORT_TRUNC) ? O_TRUNC : 0) : O_RDONLY;
    if ((*fd = open(path, flags | O_CLOEXEC, 0644)) < 0)
        return errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    return FOTA_OK;
}

int fota_posix_pread(int fd, uint64_t off, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
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

int fota_posix_pwrite(int fd, uint64_t off, const void *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return FOTA_ERR_IO;
        done += (size_t)n;
    }
    return FOTA_OK;
}

int fota_posix_truncate(int fd, uint64_t len)
{
    return ftruncate(fd, (off_t)len) == 0 ? FOTA_OK : FOTA_ERR_IO;
}

int fota_posix_size(int fd, uint64_t *size)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return FOTA_ERR_IO;
    *size = (uint64_t)st.st_size;
    return FOTA_OK;
}

int fota_posix_sync(int fd)
{
    return fsync(fd) == 0 ? FOTA_OK : FOTA_ERR_IO;
}

void fota_posix_close(int fd)
{
    if (fd >= 0)
        close(fd);
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

int fota_posix_remove(const char *path)
{
    if (unlink(path) != 0)
        return errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    return sync_parent(path);
}

int fota_posix_rename(const char *from, const char *to)
{
    return rename(from, to) == 0 ? sync_parent(to) : FOTA_ERR_IO;
}

int fota_posix_rmdir(const char *path)
{
    return rmdir(path) == 0 ? sync_parent(path) : errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
}

int fota_posix_mkdirs(const char *path, int (*make)(void *ud, const char *dir), void *ud)
{
    char buf[1024];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf)
        return FOTA_ERR_ARG;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            int rc;
            buf[i] = '\0';
            if ((rc = make(ud, buf)) != FOTA_OK)
                return rc;
            buf[i] = c;
        }
    }
    return FOTA_OK;
}

int fota_posix_mkdir(const char *dir)
{
    return mkdir(dir, 0755) == 0 || errno == EEXIST ? FOTA_OK : FOTA_ERR_IO;
}

int fota_posix_kind(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return FOTA_PORT_MISSING;
    return S_ISREG(st.st_mode) ? FOTA_PORT_REGULAR : S_ISDIR(st.st_mode) ? FOTA_PORT_DIRECTORY : FOTA_PORT_OTHER;
}

int fota_posix_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud)
{
    DIR *d;
    struct dirent *e;
    int rc = FOTA_OK;
    if (!(d = opendir(dir)))
        return errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    while (rc == FOTA_OK && (e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            rc = fn(ud, e->d_name);
    closedir(d);
    return rc;
}
