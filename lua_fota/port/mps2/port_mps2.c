/* The mps2 device port's files (port.h) on a NOR flash array (nor_flash.h),
 * with no file system: the device's files are fixed regions of the flash,
 * the same layout the simulator's NOR model (port/sim/port_nor.h) checks.
 *
 * A region is a header block and its data blocks. The header holds a log
 * of 8-byte size entries (size, ~size), each programmed into erased bytes;
 * the last valid one is the file's size, none means no file. The size is
 * logged at sync and close (POSIX's contract: unsynced data may be lost);
 * data is programmed at once. Opening with FOTA_PORT_TRUNC, or creating,
 * erases the header first (the file is gone), then every data block not
 * already erased, then logs size 0. A program onto bytes that are not
 * erased enough (old AND new != new) is FOTA_ERR_IO: nothing is silently
 * mixed. Renames copy: the target is created, filled and its size logged,
 * then the source removed, so a cut leaves the target missing or whole.
 * Paths are FOTA_MPS2_ROOT "/slots/..." and "/fota/...". */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/mps2/nor_flash.h"
#include "port/mps2/port_mps2.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK FOTA_FLASH_BLOCK
#define ENTRY 8u
#define ENTRIES (BLOCK / ENTRY)

static const struct {
    const char *name;   /* below FOTA_MPS2_ROOT */
    uint32_t blocks;    /* data blocks, after the header block */
} regions[] = {
    { "slots/boot0.rec", 1 }, { "slots/boot1.rec", 1 },
    { "slots/core_a.bin", 128 }, { "slots/core_b.bin", 128 },       /* 512 KiB */
    { "slots/script_a.lfsa", 32 }, { "slots/script_b.lfsa", 32 },   /* 128 KiB */
    { "fota/stage.bin", 128 },
    { "fota/stage.bin.ready", 1 }, { "fota/stage.bin.ready.tmp", 1 },
    { "fota/stage.bin.part", 1 }, { "fota/stage.bin.part.tmp", 1 },
    { "fota/trusted.pem", 1 }, { "fota/fresh.rec", 1 }, { "fota/fresh.rec.tmp", 1 },
};
#define NREGIONS ((int)(sizeof regions / sizeof regions[0]))
static const char *const dirs[] = { "", "/slots", "/fota" };

struct fota_port_file {
    int region;
    int writable;
    uint32_t size, logged;   /* current size; the size the header holds */
};

uint32_t fota_mps2_flash_needed(void)
{
    uint32_t b = 0;
    for (int i = 0; i < NREGIONS; i++)
        b += 1 + regions[i].blocks;
    return b * BLOCK;
}

static uint32_t region_block(int r)
{
    uint32_t b = 0;
    for (int i = 0; i < r; i++)
        b += 1 + regions[i].blocks;
    return b;
}

static const uint8_t *flash(void)
{
    size_t size;
    const uint8_t *base = fota_flash_base(&size);
    if (!base && fota_flash_open() == FOTA_OK)
        base = fota_flash_base(&size);
    return base && size >= fota_mps2_flash_needed() ? base : NULL;
}

/* The part of path below the root, or NULL when outside it. */
static const char *below_root(const char *path)
{
    size_t n = strlen(FOTA_MPS2_ROOT);
    if (strncmp(path, FOTA_MPS2_ROOT, n) != 0 || (path[n] != '/' && path[n] != 0))
        return NULL;
    return path + n;
}

static int region_of(const char *path)
{
    const char *p = below_root(path);
    if (!p || *p != '/')
        return -1;
    for (int i = 0; i < NREGIONS; i++)
        if (strcmp(p + 1, regions[i].name) == 0)
            return i;
    return -1;
}

static int dir_of(const char *path)
{
    const char *p = below_root(path);
    size_t n;
    if (!p)
        return -1;
    n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    for (int i = 0; i < (int)(sizeof dirs / sizeof dirs[0]); i++)
        if (strlen(dirs[i]) == n && strncmp(p, dirs[i], n) == 0)
            return i;
    return -1;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int erased(const uint8_t *p, size_t n)
{
    while (n--)
        if (*p++ != 0xff)
            return 0;
    return 1;
}

/* The header's last valid size (1) and the index of its first erased entry;
 * 0 when no entry is valid (no file). */
static int header_size(int r, uint32_t *size, uint32_t *next)
{
    const uint8_t *h = flash() + (size_t)region_block(r) * BLOCK;
    int found = 0;
    uint32_t i;
    for (i = 0; i < ENTRIES; i++) {
        const uint8_t *e = h + i * ENTRY;
        if (erased(e, ENTRY))
            break;
        /* a torn entry is neither erased nor valid: skipped */
        if (get32(e) == (uint32_t)~get32(e + 4) && get32(e) <= regions[r].blocks * BLOCK) {
            *size = get32(e);
            found = 1;
        }
    }
    if (next)
        *next = i;
    return found;
}

static int log_size(int r, uint32_t size)
{
    uint32_t next, old, hb = region_block(r);
    uint8_t e[ENTRY];
    int rc;
    if (!header_size(r, &old, &next))
        next = 0;
    /* a full log starts again: the one window where a cut loses the file */
    if (next == ENTRIES) {
        if ((rc = fota_flash_erase(hb)) != FOTA_OK)
            return rc;
        next = 0;
    }
    for (int i = 0; i < 4; i++) {
        e[i] = (uint8_t)(size >> (8 * i));
        e[4 + i] = (uint8_t)(~size >> (8 * i));
    }
    return fota_flash_program(hb * BLOCK + next * ENTRY, e, ENTRY);
}

/* Empties region r: header first, so a cut in between leaves no file. */
static int create(int r)
{
    const uint8_t *base = flash();
    uint32_t hb = region_block(r);
    int rc;
    if (!erased(base + (size_t)hb * BLOCK, BLOCK) && (rc = fota_flash_erase(hb)) != FOTA_OK)
        return rc;
    for (uint32_t b = hb + 1; b <= hb + regions[r].blocks; b++)
        if (!erased(base + (size_t)b * BLOCK, BLOCK) && (rc = fota_flash_erase(b)) != FOTA_OK)
            return rc;
    return log_size(r, 0);
}

int fota_port_open(fota_port_file **f, const char *path, int mode)
{
    int r = region_of(path), exists, rc;
    uint32_t size = 0;
    *f = NULL;
    if (!flash())
        return FOTA_ERR_IO;
    if (r < 0)
        return (mode & FOTA_PORT_WRITE) ? FOTA_ERR_ARG : FOTA_ERR_NOENT;
    exists = header_size(r, &size, NULL);
    if (!(mode & FOTA_PORT_WRITE) && !exists)
        return FOTA_ERR_NOENT;
    if ((mode & FOTA_PORT_WRITE) && (!exists || (mode & FOTA_PORT_TRUNC))) {
        if ((rc = create(r)) != FOTA_OK)
            return rc;
        size = 0;
    }
    if (!(*f = malloc(sizeof **f)))
        return FOTA_ERR_NOMEM;
    (*f)->region = r;
    (*f)->writable = (mode & FOTA_PORT_WRITE) != 0;
    (*f)->size = (*f)->logged = size;
    return FOTA_OK;
}

int fota_port_pread(fota_port_file *f, uint64_t off, void *buf, size_t len, size_t *got)
{
    *got = 0;
    if (off >= f->size)
        return FOTA_OK;
    if (len > f->size - off)
        len = (size_t)(f->size - off);
    memcpy(buf, flash() + (size_t)(region_block(f->region) + 1) * BLOCK + off, len);
    *got = len;
    return FOTA_OK;
}

int fota_port_pwrite(fota_port_file *f, uint64_t off, const void *buf, size_t len)
{
    uint32_t cap = regions[f->region].blocks * BLOCK, start;
    const uint8_t *old, *src = buf;
    int rc;
    if (!f->writable)
        return FOTA_ERR_STATE;
    if (off > cap || len > cap - off)
        return FOTA_ERR_RANGE;
    start = (region_block(f->region) + 1) * BLOCK + (uint32_t)off;
    old = flash() + start;
    for (size_t i = 0; i < len; i++)
        if ((old[i] & src[i]) != src[i])
            return FOTA_ERR_IO;   /* would need an erase: never mixed in */
    if ((rc = fota_flash_program(start, buf, len)) != FOTA_OK)
        return rc;
    if (off + len > f->size)
        f->size = (uint32_t)(off + len);
    return FOTA_OK;
}

/* Shrinks only; what lies past the new end stays programmed, so writing
 * there again fails unless it matches (pwrite's check). */
int fota_port_truncate(fota_port_file *f, uint64_t len)
{
    if (!f->writable)
        return FOTA_ERR_STATE;
    if (len > f->size)
        return FOTA_ERR_RANGE;
    f->size = (uint32_t)len;
    return FOTA_OK;
}

int fota_port_size(fota_port_file *f, uint64_t *size)
{
    *size = f->size;
    return FOTA_OK;
}

int fota_port_sync(fota_port_file *f)
{
    int rc;
    if (!f->writable || f->size == f->logged)
        return FOTA_OK;
    if ((rc = log_size(f->region, f->size)) != FOTA_OK)
        return rc;
    f->logged = f->size;
    return FOTA_OK;
}

void fota_port_close(fota_port_file *f)
{
    if (!f)
        return;
    (void)fota_port_sync(f);   /* as close(2): no error reported */
    free(f);
}

int fota_port_remove(const char *path)
{
    int r = region_of(path);
    uint32_t size, hb;
    if (r < 0)
        return dir_of(path) >= 0 ? FOTA_ERR_ARG : FOTA_OK;
    if (!flash())
        return FOTA_ERR_IO;
    hb = region_block(r);
    if (!header_size(r, &size, NULL) && erased(flash() + (size_t)hb * BLOCK, BLOCK))
        return FOTA_OK;
    return fota_flash_erase(hb);
}

int fota_port_rename(const char *from, const char *to)
{
    int rf = region_of(from), rt = region_of(to), rc;
    uint32_t size;
    if (rf < 0 || rt < 0)
        return FOTA_ERR_ARG;
    if (!flash())
        return FOTA_ERR_IO;
    if (!header_size(rf, &size, NULL))
        return FOTA_ERR_NOENT;
    if (rf == rt)
        return FOTA_OK;
    if (size > regions[rt].blocks * BLOCK)
        return FOTA_ERR_RANGE;
    if ((rc = create(rt)) != FOTA_OK ||
        (rc = fota_flash_program((region_block(rt) + 1) * BLOCK,
                                 flash() + (size_t)(region_block(rf) + 1) * BLOCK, size)) != FOTA_OK ||
        (size > 0 && (rc = log_size(rt, size)) != FOTA_OK))
        return rc;
    return fota_port_remove(from);
}

int fota_port_mkdirs(const char *path)
{
    return dir_of(path) >= 0 ? FOTA_OK : FOTA_ERR_ARG;   /* only the layout's directories */
}

int fota_port_exists(const char *path)
{
    return fota_port_kind(path) != FOTA_PORT_MISSING;
}

int fota_port_rmdir(const char *path)
{
    return dir_of(path) >= 0 ? FOTA_ERR_STATE : FOTA_ERR_NOENT;   /* the layout's are fixed */
}

int fota_port_kind(const char *path)
{
    int r = region_of(path);
    uint32_t size;
    if (dir_of(path) >= 0)
        return FOTA_PORT_DIRECTORY;
    return r >= 0 && flash() && header_size(r, &size, NULL) ? FOTA_PORT_REGULAR : FOTA_PORT_MISSING;
}

int fota_port_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud)
{
    int d = dir_of(dir), rc;
    uint32_t size;
    if (d < 0)
        return FOTA_ERR_NOENT;
    if (!flash())
        return FOTA_ERR_IO;
    for (int i = 0; i < NREGIONS; i++) {
        const char *name = regions[i].name, *slash = strchr(name, '/');
        size_t n = (size_t)(slash - name);
        if (d == 0) {   /* the root holds the two directories */
            if (i == 0 || strncmp(regions[i - 1].name, name, n + 1) != 0) {
                char sub[8];
                memcpy(sub, name, n);
                sub[n] = 0;
                if ((rc = fn(ud, sub)) != 0)
                    return rc;
            }
        } else if (strncmp(dirs[d] + 1, name, n) == 0 && dirs[d][n + 1] == 0 &&
                   header_size(i, &size, NULL) && (rc = fn(ud, slash + 1)) != 0) {
            return rc;
        }
    }
    return FOTA_OK;
}

int fota_mps2_map(const char *path, const uint8_t **data, uint32_t *size)
{
    int r = region_of(path);
    if (r < 0 || !flash() || !header_size(r, size, NULL))
        return FOTA_ERR_NOENT;
    *data = flash() + (size_t)(region_block(r) + 1) * BLOCK;
    return FOTA_OK;
}
