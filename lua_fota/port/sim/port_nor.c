/* The NOR flash model: see port_nor.h. */
#include "port/sim/port_nor.h"
#include "core/fota_err.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ENTRY 8u
#define ENTRIES (FOTA_NOR_BLOCK / ENTRY)

static const struct {
    const char *name;
    uint32_t blocks;   /* data blocks, after the header block */
} regions[] = {
    { "boot0.rec", 1 }, { "boot1.rec", 1 },
    { "core_a.bin", 256 }, { "core_b.bin", 256 },       /* 1 MiB */
    { "script_a.lfsa", 64 }, { "script_b.lfsa", 64 },   /* 256 KiB */
};
#define NREGIONS ((int)(sizeof regions / sizeof regions[0]))

static const char *nor_dir(size_t *len)
{
    const char *d = getenv("LUAT_FOTA_NOR");
    if (!d || !*d)
        return NULL;
    *len = strlen(d);
    return d;
}

int fota_nor_is_dir(const char *path)
{
    size_t n;
    const char *d = nor_dir(&n);
    return d && strcmp(path, d) == 0;
}

int fota_nor_region(const char *path)
{
    size_t n;
    const char *d = nor_dir(&n);
    if (!d || strncmp(path, d, n) != 0 || path[n] != '/')
        return -1;
    for (int i = 0; i < NREGIONS; i++)
        if (strcmp(path + n + 1, regions[i].name) == 0)
            return i;
    return -2;
}

static uint64_t region_start(int r)
{
    uint64_t off = 0;
    for (int i = 0; i < r; i++)
        off += (uint64_t)(1 + regions[i].blocks) * FOTA_NOR_BLOCK;
    return off;
}

static int image_path(char *path, size_t cap)
{
    size_t n;
    const char *d = nor_dir(&n);
    return d && snprintf(path, cap, "%s.nor", d) < (int)cap;
}

static int image_open(void)
{
    char path[1100];
    if (!image_path(path, sizeof path)) {
        errno = ENOENT;
        return -1;
    }
    return open(path, O_RDWR | O_CLOEXEC);
}

int fota_nor_present(void)
{
    char path[1100];
    struct stat st;
    return image_path(path, sizeof path) && stat(path, &st) == 0;
}

static int io(int write, uint64_t off, void *buf, size_t len)
{
    int fd = image_open(), rc = FOTA_OK;
    size_t done = 0;
    if (fd < 0)
        return errno == ENOENT ? FOTA_ERR_NOENT : FOTA_ERR_IO;
    while (done < len) {
        ssize_t k = write ? pwrite(fd, (char *)buf + done, len - done, (off_t)(off + done))
                          : pread(fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            rc = FOTA_ERR_IO;
            break;
        }
        done += (size_t)k;
    }
    close(fd);
    return rc;
}

/* NOR programming: bits only go from 1 to 0. */
static int program(uint64_t off, const uint8_t *data, size_t len)
{
    uint8_t cell[FOTA_NOR_BLOCK];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof cell ? len - done : sizeof cell;
        int rc = io(0, off + done, cell, n);
        if (rc != FOTA_OK)
            return rc;
        for (size_t i = 0; i < n; i++)
            cell[i] &= data[done + i];
        if ((rc = io(1, off + done, cell, n)) != FOTA_OK)
            return rc;
        done += n;
    }
    return FOTA_OK;
}

/* Erases len bytes at off (whole blocks, or half of one when cut). */
static int erase(uint64_t off, size_t len)
{
    uint8_t *ff = malloc(len);
    int rc;
    if (!ff)
        return FOTA_ERR_NOMEM;
    memset(ff, 0xFF, len);
    rc = io(1, off, ff, len);
    free(ff);
    return rc;
}

/* The size log: *size of the last valid entry (-1 none), *free the first erased slot. */
static int size_log(int r, int64_t *size, int *free_slot)
{
    uint8_t h[FOTA_NOR_BLOCK];
    int rc = io(0, region_start(r), h, sizeof h);
    *size = -1;
    *free_slot = (int)ENTRIES;
    if (rc != FOTA_OK)
        return rc;
    for (unsigned i = 0; i < ENTRIES; i++) {
        const uint8_t *e = h + i * ENTRY;
        uint32_t v = (uint32_t)e[0] | (uint32_t)e[1] << 8 | (uint32_t)e[2] << 16 | (uint32_t)e[3] << 24;
        uint32_t c = (uint32_t)e[4] | (uint32_t)e[5] << 8 | (uint32_t)e[6] << 16 | (uint32_t)e[7] << 24;
        if (v == 0xFFFFFFFFu && c == 0xFFFFFFFFu) {
            *free_slot = (int)i;
            break;
        }
        if ((v ^ c) == 0xFFFFFFFFu && v <= regions[r].blocks * FOTA_NOR_BLOCK)
            *size = v;   /* a torn or damaged entry is skipped */
    }
    return FOTA_OK;
}

static int log_size(int r, uint32_t size)
{
    uint8_t e[ENTRY];
    int64_t cur;
    int slot, rc = size_log(r, &cur, &slot);
    if (rc != FOTA_OK)
        return rc;
    if (cur == (int64_t)size)
        return FOTA_OK;
    if (slot >= (int)ENTRIES)
        return FOTA_ERR_RANGE;   /* a driver would compact; our files are rewritten whole */
    for (int i = 0; i < 4; i++) {
        e[i] = (uint8_t)(size >> (8 * i));
        e[4 + i] = (uint8_t)(~size >> (8 * i));
    }
    return program(region_start(r) + (uint64_t)slot * ENTRY, e, ENTRY);
}

int fota_nor_exists(int r)
{
    int64_t size;
    int slot;
    return size_log(r, &size, &slot) == FOTA_OK && size >= 0;
}

int fota_nor_size(int r, uint64_t *size)
{
    int64_t s;
    int slot, rc = size_log(r, &s, &slot);
    if (rc != FOTA_OK)
        return rc;
    if (s < 0)
        return FOTA_ERR_NOENT;
    *size = (uint64_t)s;
    return FOTA_OK;
}

int fota_nor_open(int r, int trunc, int torn)
{
    if (trunc) {
        /* Block by block from the header: a cut mid-erase (in block n / 2,
         * half erased) leaves no file rather than a wrong one. */
        uint64_t base = region_start(r);
        uint32_t n = 1 + regions[r].blocks;
        int rc = torn ? erase(base, (size_t)(n / 2) * FOTA_NOR_BLOCK + FOTA_NOR_BLOCK / 2)
                      : erase(base, (size_t)n * FOTA_NOR_BLOCK);
        if (rc != FOTA_OK || torn)
            return rc;
    }
    return fota_nor_exists(r) ? FOTA_OK : log_size(r, 0);
}

int fota_nor_read(int r, uint64_t off, void *buf, size_t len, size_t *got)
{
    uint64_t size;
    int rc = fota_nor_size(r, &size);
    *got = 0;
    if (rc != FOTA_OK)
        return rc;
    if (off >= size)
        return FOTA_OK;
    if (len > size - off)
        len = (size_t)(size - off);
    rc = io(0, region_start(r) + FOTA_NOR_BLOCK + off, buf, len);
    if (rc == FOTA_OK)
        *got = len;
    return rc;
}

int fota_nor_write(int r, uint64_t off, const void *buf, size_t len, int torn)
{
    uint64_t cap = (uint64_t)regions[r].blocks * FOTA_NOR_BLOCK, size;
    int rc;
    if (off > cap || len > cap - off)
        return FOTA_ERR_RANGE;
    if ((rc = fota_nor_size(r, &size)) != FOTA_OK)
        return rc;
    /* the data, then the size entry that makes it part of the file */
    rc = program(region_start(r) + FOTA_NOR_BLOCK + off, buf, torn ? len / 2 : len);
    if (rc != FOTA_OK || torn)
        return rc;
    return off + len > size ? log_size(r, (uint32_t)(off + len)) : FOTA_OK;
}

int fota_nor_truncate(int r, uint64_t len)
{
    uint64_t size;
    int rc = fota_nor_size(r, &size);
    if (rc != FOTA_OK)
        return rc;
    if (len > size)
        return FOTA_ERR_ARG;   /* erased bytes are not zeros */
    return log_size(r, (uint32_t)len);
}

int fota_nor_remove(int r)
{
    return erase(region_start(r), FOTA_NOR_BLOCK);
}

int fota_nor_mkdir(void)
{
    char path[1100];
    uint8_t ff[FOTA_NOR_BLOCK];
    struct stat st;
    uint64_t total = region_start(NREGIONS);
    int fd, rc = FOTA_OK;

    if (!image_path(path, sizeof path))
        return FOTA_ERR_ARG;
    if (stat(path, &st) == 0)
        return (uint64_t)st.st_size == total ? FOTA_OK : FOTA_ERR_FORMAT;
    /* a new chip comes erased */
    if ((fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
        return FOTA_ERR_IO;
    memset(ff, 0xFF, sizeof ff);
    for (uint64_t off = 0; off < total && rc == FOTA_OK; off += sizeof ff)
        if (pwrite(fd, ff, sizeof ff, (off_t)off) != (ssize_t)sizeof ff)
            rc = FOTA_ERR_IO;
    if (rc == FOTA_OK && fsync(fd) != 0)
        rc = FOTA_ERR_IO;
    close(fd);
    return rc;
}

int fota_nor_listdir(int (*fn)(void *ud, const char *name), void *ud)
{
    int rc = FOTA_OK;
    for (int i = 0; i < NREGIONS && rc == FOTA_OK; i++)
        if (fota_nor_exists(i))
            rc = fn(ud, regions[i].name);
    return rc;
}
