#include "core/stage.h"
#include "core/files.h"
#include "core/pkg.h"
#include "core/fota_err.h"

#include <stdio.h>
#include <stdlib.h>
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

#define RECORD_MAX (FOTA_STAGE_URL_MAX + FOTA_STAGE_VALIDATOR_MAX + 16)

/* The resume record: "<url>\n<validator>\n<durable bytes>\n". */
static int record_write(const fota_stage *s)
{
    char part[FOTA_STAGE_PATH_MAX + 8], buf[RECORD_MAX];
    int n = snprintf(buf, sizeof buf, "%s\n%s\n%u\n", s->url, s->validator, (unsigned)s->synced), rc;
    if (n < 0 || (size_t)n >= sizeof buf)
        return FOTA_ERR_RANGE;
    if ((rc = fota_stage_part_path(s->path, part, sizeof part)) != FOTA_OK)
        return rc;
    return fota_file_write_atomic(part, buf, (size_t)n);
}

/* Everything written so far becomes durable, and the record says so. */
static int checkpoint(fota_stage *s)
{
    int rc = fota_port_sync(s->file);
    if (rc != FOTA_OK)
        return rc;
    s->synced = s->written;
    return s->has_origin ? record_write(s) : FOTA_OK;
}

int fota_stage_init(fota_stage *s, const char *path, uint32_t capacity)
{
    char ready[FOTA_STAGE_PATH_MAX + 8], part[FOTA_STAGE_PATH_MAX + 8];
    int rc;

    if ((rc = stage_reset(s, path, capacity)) != FOTA_OK)
        return rc;
    /* A new package invalidates any staged one (and its resume record)
     * before a byte of it lands. */
    if ((rc = fota_stage_ready_path(path, ready, sizeof ready)) != FOTA_OK ||
        (rc = fota_port_remove(ready)) != FOTA_OK ||
        (rc = fota_stage_part_path(path, part, sizeof part)) != FOTA_OK ||
        (rc = fota_port_remove(part)) != FOTA_OK ||
        (rc = fota_port_open(&s->file, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK)
        return (int)stage_fail(s, rc);
    s->state = FOTA_STAGE_RECEIVING;
    return FOTA_OK;
}

static int origin_ok(const char *url, const char *validator)
{
    size_t u = url ? strlen(url) : 0, v = validator ? strlen(validator) : 0;
    return u > 0 && u <= FOTA_STAGE_URL_MAX && v > 0 && v < FOTA_STAGE_VALIDATOR_MAX &&
           !strchr(url, '\n') && !strchr(validator, '\n');
}

int fota_stage_set_origin(fota_stage *s, const char *url, const char *validator)
{
    if (s->state != FOTA_STAGE_RECEIVING || !origin_ok(url, validator))
        return FOTA_ERR_ARG;
    memcpy(s->url, url, strlen(url) + 1);
    memcpy(s->validator, validator, strlen(validator) + 1);
    s->has_origin = 1;
    return record_write(s);
}

/* Parses a record naming url: its validator and durable count. */
static int record_read(const char *path, const char *url, char *validator, uint32_t *durable)
{
    char part[FOTA_STAGE_PATH_MAX + 8], buf[RECORD_MAX + 1];
    fota_port_file *f;
    size_t got = 0, ulen = strlen(url);
    char *v, *nl, *end;
    unsigned long n;
    int rc;

    if ((rc = fota_stage_part_path(path, part, sizeof part)) != FOTA_OK)
        return rc;
    if (fota_port_open(&f, part, FOTA_PORT_READ) != FOTA_OK)
        return FOTA_ERR_NOENT;
    rc = fota_port_pread(f, 0, buf, RECORD_MAX, &got);
    fota_port_close(f);
    if (rc != FOTA_OK)
        return rc;
    buf[got] = '\0';
    if (got <= ulen || memcmp(buf, url, ulen) != 0 || buf[ulen] != '\n')
        return FOTA_ERR_NOENT;
    v = buf + ulen + 1;
    if (!(nl = strchr(v, '\n')) || nl == v || (size_t)(nl - v) >= FOTA_STAGE_VALIDATOR_MAX)
        return FOTA_ERR_NOENT;
    *nl = '\0';
    if (nl[1] < '0' || nl[1] > '9')
        return FOTA_ERR_NOENT;
    n = strtoul(nl + 1, &end, 10);
    if (*end != '\n' || n > UINT32_MAX)
        return FOTA_ERR_NOENT;
    memcpy(validator, v, (size_t)(nl - v) + 1);
    *durable = (uint32_t)n;
    return FOTA_OK;
}

int fota_stage_resume_origin(fota_stage *s, const char *path, uint32_t capacity, const char *url)
{
    char validator[FOTA_STAGE_VALIDATOR_MAX];
    fota_port_file *f;
    uint32_t durable;
    uint64_t size;
    int rc;

    if (!path || !url || strlen(url) > FOTA_STAGE_URL_MAX)
        return FOTA_ERR_ARG;
    if ((rc = record_read(path, url, validator, &durable)) != FOTA_OK)
        return rc;
    /* Bytes past the durable count may be anything after a power cut. */
    if ((rc = fota_port_open(&f, path, FOTA_PORT_WRITE)) != FOTA_OK)
        return rc;
    rc = fota_port_size(f, &size);
    if (rc == FOTA_OK && size > durable && (rc = fota_port_truncate(f, durable)) == FOTA_OK)
        rc = fota_port_sync(f);
    fota_port_close(f);
    if (rc != FOTA_OK || (rc = fota_stage_resume(s, path, capacity)) != FOTA_OK)
        return rc;
    memcpy(s->url, url, strlen(url) + 1);
    memcpy(s->validator, validator, strlen(validator) + 1);
    s->has_origin = 1;
    s->synced = s->written;
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
    if (s->total && s->written == s->total)
        s->state = FOTA_STAGE_COMPLETE;
    if ((s->state == FOTA_STAGE_COMPLETE || s->written - s->synced >= FOTA_STAGE_SYNC_BYTES) &&
        (rc = checkpoint(s)) != FOTA_OK)
        return stage_fail(s, rc);
    return s->state == FOTA_STAGE_COMPLETE ? 0 : stage_remaining(s);
}

int fota_stage_checkpoint(fota_stage *s)
{
    if (s->state != FOTA_STAGE_RECEIVING && s->state != FOTA_STAGE_COMPLETE)
        return FOTA_ERR_STATE;
    return s->written == s->synced ? FOTA_OK : checkpoint(s);
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
    char ready[FOTA_STAGE_PATH_MAX + 8], part[FOTA_STAGE_PATH_MAX + 8];
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
    if (s->synced != s->written && (rc = fota_port_sync(s->file)) != FOTA_OK)
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
    /* Ready now: a cut from here on never fetches the package again. */
    if ((rc = fota_stage_part_path(s->path, part, sizeof part)) != FOTA_OK)
        return rc;
    return fota_port_remove(part);
}

void fota_stage_free(fota_stage *s)
{
    stage_close(s);
    s->state = FOTA_STAGE_IDLE;
}

uint32_t fota_stage_written(const fota_stage *s)
{
    return s->written;
}

uint32_t fota_stage_total(const fota_stage *s)
{
    return s->total;
}

const char *fota_stage_path(const fota_stage *s)
{
    return s->path;
}

const char *fota_stage_validator(const fota_stage *s)
{
    return s->has_origin ? s->validator : NULL;
}
