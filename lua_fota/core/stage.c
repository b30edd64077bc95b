#include "core/stage.h"
#include "core/files.h"
#include "core/pkg.h"
#include "port/fota_err.h"

#include <stdio.h>
#include <string.h>

void fota_stage_setup(fota_stage *s)
{
    memset(s, 0, sizeof *s);
    s->state = FOTA_STAGE_IDLE;
}

int fota_stage_ready_path(const char *path, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.ready", path);
    return (n < 0 || (size_t)n >= outlen) ? FOTA_ERR_RANGE : FOTA_OK;
}

int fota_stage_part_path(const char *path, char *out, size_t outlen)
{
    int n = snprintf(out, outlen, "%s.part", path);
    return (n < 0 || (size_t)n >= outlen) ? FOTA_ERR_RANGE : FOTA_OK;
}

int fota_stage_discard(const char *path)
{
    char p[FOTA_STAGE_PATH_MAX + 8];
    int rc;
    /* The marker goes first: a package never looks ready without its data. */
    if ((rc = fota_stage_ready_path(path, p, sizeof p)) != FOTA_OK || (rc = fota_port_remove(p)) != FOTA_OK ||
        (rc = fota_stage_part_path(path, p, sizeof p)) != FOTA_OK || (rc = fota_port_remove(p)) != FOTA_OK)
        return rc;
    return fota_port_remove(path);
}

static void stage_close(fota_stage *s)
{
    fota_port_close(s->file);
    s->file = NULL;
}

static long stage_fail(fota_stage *s, int err)
{
    s->state = FOTA_STAGE_FAILED;
    s->error = err;
    return err;
}

/* Forgets any previous package in s and points it at path. */
static int stage_reset(fota_stage *s, const char *path, uint32_t capacity)
{
    if (!path || strlen(path) >= sizeof s->path || capacity < FOTA_PKG_PREFIX_LEN)
        return FOTA_ERR_ARG;
    stage_close(s);
    fota_stage_setup(s);
    memcpy(s->path, path, strlen(path) + 1);
    s->capacity = capacity;
    return FOTA_OK;
}

int fota_stage_init(fota_stage *s, const char *path, uint32_t capacity)
{
    char ready[FOTA_STAGE_PATH_MAX + 8];
    int rc;

    if ((rc = stage_reset(s, path, capacity)) != FOTA_OK)
        return rc;
    /* A new package invalidates any staged one before a byte of it lands. */
    if ((rc = fota_stage_ready_path(path, ready, sizeof ready)) != FOTA_OK ||
        (rc = fota_port_remove(ready)) != FOTA_OK ||
        (rc = fota_port_open(&s->file, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    s->state = FOTA_STAGE_RECEIVING;
    return FOTA_OK;
}

int fota_stage_resume(fota_stage *s, const char *path, uint32_t capacity)
{
    uint64_t size;
    size_t got;
    int rc;

    if ((rc = stage_reset(s, path, capacity)) != FOTA_OK)
        return rc;
    if ((rc = fota_port_open(&s->file, path, FOTA_PORT_WRITE)) != FOTA_OK ||
        (rc = fota_port_size(s->file, &size)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    if (size > capacity)
        return (int)stage_fail(s, FOTA_ERR_RANGE);
    s->written = (uint32_t)size;
    s->state = FOTA_STAGE_RECEIVING;
    if (size >= FOTA_PKG_PREFIX_LEN) {
        uint16_t version, flags;
        if ((rc = fota_port_pread(s->file, 0, s->prefix, FOTA_PKG_PREFIX_LEN, &got)) != FOTA_OK)
            return (int)stage_fail(s, rc);
        if (got != FOTA_PKG_PREFIX_LEN ||
            fota_pkg_parse_prefix(s->prefix, &s->total, &version, &flags) != 0)
            return (int)stage_fail(s, FOTA_ERR_FORMAT);
        if (s->total > capacity || s->total < size)
            return (int)stage_fail(s, FOTA_ERR_RANGE);
        if (s->total == size)
            s->state = FOTA_STAGE_COMPLETE;
    } else if (size > 0) {
        if ((rc = fota_port_pread(s->file, 0, s->prefix, (size_t)size, &got)) != FOTA_OK)
            return (int)stage_fail(s, rc);
    }
    return FOTA_OK;
}

static long stage_remaining(const fota_stage *s)
{
    return s->total ? (long)(s->total - s->written) : 1;
}

long fota_stage_write(fota_stage *s, const uint8_t *data, size_t len)
{
    int rc;

    if (s->state == FOTA_STAGE_FAILED)
        return s->error;
    if (s->state == FOTA_STAGE_IDLE || s->state == FOTA_STAGE_READY)
        return FOTA_ERR_STATE;
    if (len == 0)
        return s->state == FOTA_STAGE_COMPLETE ? 0 : stage_remaining(s);
    if (s->state == FOTA_STAGE_COMPLETE || len > s->capacity - s->written ||
        (s->total && len > s->total - s->written))
        return stage_fail(s, FOTA_ERR_RANGE);

    if (s->written < FOTA_PKG_PREFIX_LEN) {
        size_t take = FOTA_PKG_PREFIX_LEN - s->written;
        if (take > len)
            take = len;
        memcpy(s->prefix + s->written, data, take);
        if (s->written + take == FOTA_PKG_PREFIX_LEN) {
            uint32_t total;
            uint16_t version, flags;
            rc = fota_pkg_parse_prefix(s->prefix, &total, &version, &flags);
            if (rc != 0)
                return stage_fail(s, FOTA_ERR_FORMAT);
            if (total > s->capacity || total < FOTA_PKG_PREFIX_LEN)
                return stage_fail(s, FOTA_ERR_RANGE);
            s->total = total;
            if (len > (size_t)(total - s->written))
                return stage_fail(s, FOTA_ERR_RANGE);
        }
    }
    rc = fota_port_pwrite(s->file, s->written, data, len);
    if (rc != FOTA_OK)
        return stage_fail(s, rc);
    s->written += (uint32_t)len;
    if (s->total && s->written == s->total) {
        s->state = FOTA_STAGE_COMPLETE;
        return 0;
    }
    return stage_remaining(s);
}

long fota_stage_done(const fota_stage *s)
{
    switch (s->state) {
    case FOTA_STAGE_COMPLETE:
    case FOTA_STAGE_READY: return 0;
    case FOTA_STAGE_FAILED: return s->error;
    case FOTA_STAGE_RECEIVING: return stage_remaining(s);
    default: return FOTA_ERR_STATE;
    }
}

int fota_stage_finish(fota_stage *s, int ok)
{
    char ready[FOTA_STAGE_PATH_MAX + 8];
    uint8_t mark[4];
    int rc;

    if (s->state == FOTA_STAGE_IDLE)
        return FOTA_ERR_STATE;
    if (!ok) {
        stage_close(s);
        s->state = FOTA_STAGE_IDLE;
        return fota_stage_discard(s->path);
    }
    if (s->state == FOTA_STAGE_READY)
        return FOTA_OK;
    if (s->state != FOTA_STAGE_COMPLETE)
        return FOTA_ERR_STATE;
    if ((rc = fota_port_sync(s->file)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    stage_close(s);
    /* The marker (package length) appears atomically, after the data is durable. */
    mark[0] = (uint8_t)s->total;
    mark[1] = (uint8_t)(s->total >> 8);
    mark[2] = (uint8_t)(s->total >> 16);
    mark[3] = (uint8_t)(s->total >> 24);
    if ((rc = fota_stage_ready_path(s->path, ready, sizeof ready)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    if ((rc = fota_file_write_atomic(ready, mark, sizeof mark)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    s->state = FOTA_STAGE_READY;
    return FOTA_OK;
}

void fota_stage_free(fota_stage *s)
{
    stage_close(s);
    s->state = FOTA_STAGE_IDLE;
}
