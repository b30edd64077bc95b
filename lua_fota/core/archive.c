#include "core/archive.h"

#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/fota_err.h"

int fota_arc_name_ok(const char *name, size_t len)
{
    if (!name || len < 1 || len > FOTA_ARC_MAX_NAME) return 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || name[i] == '/') {
            size_t clen = i - start;
            if (clen == 0) return 0;                         /* leading '/', "//", trailing '/' */
            if (clen == 1 && name[start] == '.') return 0;
            if (clen == 2 && name[start] == '.' && name[start + 1] == '.') return 0;
            start = i + 1;
            continue;
        }
        char c = name[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '+'))
            return 0;
    }
    return 1;
}

void fota_arc_names_init(fota_arc_names *st)
{
    if (st) memset(st, 0, sizeof *st);
}

int fota_arc_names_next(fota_arc_names *st, const char *name, size_t len)
{
    if (!st || !fota_arc_name_ok(name, len)) return FOTA_ERR_FORMAT;
    size_t common = 0;
    if (st->count > 0) {
        /* Strictly ascending: deterministic and no duplicates. */
        size_t m = len < st->prev_len ? len : st->prev_len;
        int c = memcmp(st->prev, name, m);
        if (c > 0 || (c == 0 && st->prev_len >= len)) return FOTA_ERR_FORMAT;
        while (common < m && st->prev[common] == name[common]) common++;
    }
    size_t dirs = 0, last = 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] == '/') { dirs++; last = i + 1; }
    /* LuatOS flattens the scripts and boots only the top main.lua: a
     * deeper one would be taken for it, or clash with it. */
    if (dirs > 0 && len - last == 8 && memcmp(name + last, "main.lua", 8) == 0)
        return FOTA_ARC_E_MAIN_NOT_TOP;
    if (dirs > FOTA_ARC_MAX_DEPTH) return FOTA_ARC_E_TOO_DEEP;
    /* Earlier names that do not prefix this one prefix no later one either
     * (sorted order); of those that do, one followed by '/' is a file the
     * archive also needs as a directory. */
    while (st->pfx_n > 0 && st->pfx[st->pfx_n - 1] > common) st->pfx_n--;
    for (size_t i = 0; i < st->pfx_n; i++)
        if (st->pfx[i] < len && name[st->pfx[i]] == '/') return FOTA_ARC_E_NAME_CLASH;
    /* Each kept length is below len (ascending, a prefix, no duplicate), so
     * the stack holds at most FOTA_ARC_MAX_NAME lengths of at most 128. */
    if (st->pfx_n < sizeof st->pfx) st->pfx[st->pfx_n++] = (uint8_t)len;
    memcpy(st->prev, name, len);
    st->prev[len] = '\0';
    st->prev_len = len;
    st->count++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* script archive: parser                                              */

enum { ARC_HDR, ARC_NLEN, ARC_NAME, ARC_SIZE, ARC_DATA, ARC_DONE };

void fota_arc_parser_init(fota_arc_parser *p, const fota_arc_sink *sink)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    if (sink) p->sink = *sink;
    p->state = ARC_HDR;
    p->area = FOTA_ARC_MAX_SIZE;
}

void fota_arc_parser_set_area(fota_arc_parser *p, uint32_t area)
{
    if (p) p->area = area == 0 || area > FOTA_ARC_MAX_SIZE ? FOTA_ARC_MAX_SIZE : area;
}

/* Accumulates a fixed-size field; returns 1 when complete. */
static int arc_acc(fota_arc_parser *p, const uint8_t **d, size_t *n, size_t need)
{
    size_t take = need - p->acc_len;
    if (take > *n) take = *n;
    memcpy(p->acc + p->acc_len, *d, take);
    p->acc_len += take;
    *d += take;
    *n -= take;
    if (p->acc_len < need) return 0;
    p->acc_len = 0;
    return 1;
}

static int arc_entry_done(fota_arc_parser *p)
{
    if (p->sink.end) {
        int rc = p->sink.end(p->sink.ud);
        if (rc) return rc;
    }
    p->index++;
    p->state = p->index == p->count ? ARC_DONE : ARC_NLEN;
    return 0;
}

static int arc_feed(fota_arc_parser *p, const uint8_t *d, size_t n)
{
    while (n > 0) {
        switch (p->state) {
        case ARC_HDR:
            if (!arc_acc(p, &d, &n, FOTA_ARC_HEADER_LEN)) return 0;
            if (memcmp(p->acc, FOTA_ARC_MAGIC, 4) || fota_get16(p->acc + 4) != FOTA_ARC_VERSION ||
                fota_get16(p->acc + 6) != 0)
                return FOTA_ERR_FORMAT;
            p->count = fota_get32(p->acc + 8);
            if (p->count == 0 || p->count > FOTA_ARC_MAX_ENTRIES) return FOTA_ERR_FORMAT;
            p->state = ARC_NLEN;
            break;
        case ARC_NLEN:
            if (!arc_acc(p, &d, &n, 2)) return 0;
            p->name_len = fota_get16(p->acc);
            if (p->name_len == 0 || p->name_len > FOTA_ARC_MAX_NAME) return FOTA_ERR_FORMAT;
            p->acc_len = 0;
            p->state = ARC_NAME;
            break;
        case ARC_NAME: {
            size_t take = p->name_len - p->acc_len;   /* acc_len counts name bytes here */
            if (take > n) take = n;
            memcpy(p->name + p->acc_len, d, take);
            p->acc_len += take;
            d += take;
            n -= take;
            if (p->acc_len < p->name_len) return 0;
            p->acc_len = 0;
            p->name[p->name_len] = '\0';
            int rc = fota_arc_names_next(&p->names, p->name, p->name_len);
            if (rc) return rc;
            p->state = ARC_SIZE;
            break;
        }
        case ARC_SIZE:
            if (!arc_acc(p, &d, &n, 4)) return 0;
            p->remaining = fota_get32(p->acc);
            p->total += p->remaining;
            if (p->total > FOTA_ARC_MAX_SIZE) return FOTA_ERR_FORMAT;
            if (p->total > p->area) return FOTA_ARC_E_TOO_LARGE;
            if (p->sink.begin) {
                int rc = p->sink.begin(p->sink.ud, p->name, p->remaining);
                if (rc) return rc;
            }
            if (p->remaining == 0) {
                int rc = arc_entry_done(p);
                if (rc) return rc;
            } else {
                p->state = ARC_DATA;
            }
            break;
        case ARC_DATA: {
            size_t take = p->remaining < n ? p->remaining : n;
            if (p->sink.data) {
                int rc = p->sink.data(p->sink.ud, d, take);
                if (rc) return rc;
            }
            d += take;
            n -= take;
            p->remaining -= (uint32_t)take;
            if (p->remaining == 0) {
                int rc = arc_entry_done(p);
                if (rc) return rc;
            }
            break;
        }
        default:
            return FOTA_ERR_FORMAT;   /* bytes after the last entry */
        }
    }
    return 0;
}

int fota_arc_parser_feed(fota_arc_parser *p, const uint8_t *data, size_t n)
{
    if (!p || (!data && n)) return FOTA_ERR_ARG;
    if (p->err) return p->err;
    int rc = arc_feed(p, data, n);
    if (rc) p->err = rc;
    return rc;
}

int fota_arc_parser_finish(fota_arc_parser *p)
{
    if (!p) return FOTA_ERR_ARG;
    if (p->err) return p->err;
    return p->state == ARC_DONE ? 0 : FOTA_ERR_FORMAT;
}

/* ------------------------------------------------------------------ */
/* script archive: directory sink and unpack                           */

static int dir_begin(void *ud, const char *name, uint32_t size)
{
    fota_arc_dir_sink *d = ud;
    (void)size;
    if (d->f) return FOTA_ERR_STATE;
    int n = snprintf(d->path, sizeof d->path, "%s/%s", d->dir, name);
    if (n < 0 || (size_t)n >= sizeof d->path) return FOTA_ERR_RANGE;
    char *slash = strrchr(d->path, '/');
    if (slash && slash != d->path) {
        *slash = '\0';
        int rc = fota_port_mkdirs(d->path);
        *slash = '/';
        if (rc) return rc;
    }
    d->off = 0;
    int rc = fota_port_open(&d->f, d->path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) d->f = NULL;
    return rc;
}

static int dir_data(void *ud, const uint8_t *p, size_t n)
{
    fota_arc_dir_sink *d = ud;
    if (!d->f) return FOTA_ERR_STATE;
    int rc = fota_port_pwrite(d->f, d->off, p, n);
    d->off += n;
    return rc;
}

static int dir_end(void *ud)
{
    fota_arc_dir_sink *d = ud;
    if (!d->f) return FOTA_ERR_STATE;
    int rc = fota_port_sync(d->f);
    fota_port_close(d->f);
    d->f = NULL;
    return rc;
}

int fota_arc_dir_sink_init(fota_arc_dir_sink *d, const char *dest_dir, fota_arc_sink *sink_out)
{
    if (!d || !dest_dir || !sink_out) return FOTA_ERR_ARG;
    memset(d, 0, sizeof *d);
    size_t n = strlen(dest_dir);
    if (n == 0 || n >= sizeof d->dir) return FOTA_ERR_ARG;
    memcpy(d->dir, dest_dir, n + 1);
    int rc = fota_port_mkdirs(dest_dir);
    if (rc) return rc;
    sink_out->begin = dir_begin;
    sink_out->data = dir_data;
    sink_out->end = dir_end;
    sink_out->ud = d;
    return 0;
}

void fota_arc_dir_sink_close(fota_arc_dir_sink *d)
{
    if (d && d->f) {
        fota_port_close(d->f);
        d->f = NULL;
    }
}

int fota_arc_unpack(const char *archive_path, const char *dest_dir)
{
    if (!archive_path || !dest_dir) return FOTA_ERR_ARG;
    fota_arc_dir_sink ds;
    fota_arc_sink sink;
    fota_arc_parser p;
    fota_port_file *f = NULL;
    uint8_t buf[1024];
    int rc = fota_arc_dir_sink_init(&ds, dest_dir, &sink);
    if (rc) return rc;
    rc = fota_port_open(&f, archive_path, FOTA_PORT_READ);
    if (rc) return rc;
    fota_arc_parser_init(&p, &sink);
    for (uint64_t off = 0; rc == 0;) {
        size_t got = 0;
        rc = fota_port_pread(f, off, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        off += got;
        rc = fota_arc_parser_feed(&p, buf, got);
    }
    if (rc == 0) rc = fota_arc_parser_finish(&p);
    fota_arc_dir_sink_close(&ds);
    fota_port_close(f);
    return rc;
}
