/* Deltas as files through port.h (delta_file.h): the generator on two
 * image files, the applier on an old image and a delta file. */
#include "host/delta_file.h"

#include <stdlib.h>
#include <string.h>

#include "core/fota_err.h"
#include "port/port.h"

typedef struct {
    fota_port_file *old, *out;
    uint64_t out_off;
} file_pair;

static int file_read_old(void *ud, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    int rc = fota_port_pread(((file_pair *)ud)->old, off, buf, len, &got);
    return rc ? rc : got == len ? 0 : FOTA_ERR_IO;
}

static int file_write_new(void *ud, const void *buf, size_t len)
{
    file_pair *fp = ud;
    int rc = fota_port_pwrite(fp->out, fp->out_off, buf, len);
    fp->out_off += len;
    return rc;
}

int fota_delta_apply_file(const char *old_path, const char *delta_path, const char *new_path,
                          unsigned window_bits, uint64_t *new_size, uint8_t sha256[32])
{
    if (!old_path || !delta_path || !new_path) return FOTA_ERR_ARG;
    if (window_bits == 0) window_bits = FOTA_DELTA_APPLY_WBITS;
    if (window_bits < FOTA_DELTA_MIN_WBITS || window_bits > FOTA_DELTA_MAX_WBITS) return FOTA_ERR_ARG;
    file_pair fp = {NULL, NULL, 0};
    fota_port_file *df = NULL;
    fota_delta_applier *a = malloc(sizeof *a);   /* fixed size, kept off the stack */
    size_t zl = window_bits > FOTA_DELTA_APPLY_WBITS ? FOTA_DELTA_ZMEM_FOR(window_bits) : 0;
    void *zmem = zl ? malloc(zl) : NULL;          /* at most 40 KiB */
    if (!a || (zl && !zmem)) {
        free(a);
        free(zmem);
        return FOTA_ERR_NOMEM;
    }
    fota_delta_io io;
    memset(&io, 0, sizeof io);
    int rc = fota_port_open(&fp.old, old_path, FOTA_PORT_READ);
    if (rc == 0) rc = fota_port_size(fp.old, &io.old_size);
    if (rc == 0) rc = fota_port_open(&df, delta_path, FOTA_PORT_READ);
    if (rc == 0) rc = fota_port_open(&fp.out, new_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    io.read_old = file_read_old;
    io.old_ud = &fp;
    io.write_new = file_write_new;
    io.new_ud = &fp;
    int inited = 0;
    if (rc == 0) rc = fota_delta_apply_init_arena(a, &io, zmem, zl);
    inited = rc == 0;
    if (inited) a->max_wbits = window_bits;   /* no more than asked for, as an applier built for it */
    uint8_t buf[FOTA_DELTA_CHUNK];
    for (uint64_t off = 0; rc == 0;) {
        size_t got = 0;
        rc = fota_port_pread(df, off, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        off += got;
        rc = fota_delta_apply_feed(a, buf, got);
    }
    if (rc == 0) rc = fota_delta_apply_finish(a, new_size, sha256);
    if (rc == 0) rc = fota_port_sync(fp.out);
    if (inited) fota_delta_apply_free(a);
    free(a);
    free(zmem);
    if (df) fota_port_close(df);
    if (fp.old) fota_port_close(fp.old);
    if (fp.out) {
        fota_port_close(fp.out);
        if (rc) fota_port_remove(new_path);
    }
    return rc;
}

static int read_whole(const char *path, uint8_t **p, size_t *n)
{
    fota_port_file *f = NULL;
    uint64_t size = 0;
    *p = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_size(f, &size);
    if (rc == 0 && size > FOTA_DELTA_MAX_IMAGE) rc = FOTA_ERR_RANGE;
    if (rc == 0 && !(*p = malloc(size ? (size_t)size : 1))) rc = FOTA_ERR_NOMEM;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t got = 0;
        rc = fota_port_pread(f, off, *p + off, (size_t)(size - off), &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;   /* shrank under us */
        off += got;
    }
    fota_port_close(f);
    if (rc) { free(*p); *p = NULL; return rc; }
    *n = (size_t)size;
    return 0;
}

int fota_delta_create_file(const char *old_path, const char *new_path, const char *out_path,
                           const fota_delta_options *opt, uint64_t *out_len)
{
    if (!old_path || !new_path || !out_path) return FOTA_ERR_ARG;
    uint8_t *o = NULL, *n = NULL, *d = NULL;
    size_t ol = 0, nl = 0, dl = 0;
    int rc = read_whole(old_path, &o, &ol);
    if (rc == 0) rc = read_whole(new_path, &n, &nl);
    if (rc == 0) rc = fota_delta_create(o, ol, n, nl, opt, &d, &dl);
    free(o);
    free(n);
    if (rc) return rc;
    fota_port_file *f = NULL;
    rc = fota_port_open(&f, out_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc == 0) {
        rc = fota_port_pwrite(f, 0, d, dl);
        if (rc == 0) rc = fota_port_sync(f);
        fota_port_close(f);
        if (rc) fota_port_remove(out_path);
    }
    free(d);
    if (rc == 0 && out_len) *out_len = dl;
    return rc;
}
