#include "core/files.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/fota_err.h"

/* malloc()ed, not on the stack: a module's task stack is a few KiB. */
#define COPY_BUF 4096

int fota_file_size(const char *path, uint64_t *size)
{
    fota_port_file *f = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_size(f, size);
    fota_port_close(f);
    return rc;
}

int fota_file_copy_into(fota_port_file *out, uint64_t *off, const char *path, uint64_t size,
                        mbedtls_sha256_context *sha)
{
    fota_port_file *in = NULL;
    uint8_t *buf = malloc(COPY_BUF);
    if (!buf) return FOTA_ERR_NOMEM;
    int rc = fota_port_open(&in, path, FOTA_PORT_READ);
    if (rc) { free(buf); return rc; }
    uint64_t done = 0;
    while (rc == 0 && done < size) {
        size_t want = size - done < COPY_BUF ? (size_t)(size - done) : COPY_BUF;
        size_t got = 0;
        rc = fota_port_pread(in, done, buf, want, &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;   /* file shrank under us */
        if (rc == 0 && sha && FOTA_SHA256_UPDATE(sha, buf, got)) rc = FOTA_ERR_NOMEM;
        if (rc == 0) rc = fota_port_pwrite(out, *off, buf, got);
        done += got;
        *off += got;
    }
    fota_port_close(in);
    free(buf);
    return rc;
}

int fota_file_copy(const char *from, const char *to, uint64_t max)
{
    uint64_t size = 0, off = 0;
    fota_port_file *out = NULL;
    int rc = fota_file_size(from, &size);
    if (rc == 0 && size > max) rc = FOTA_ERR_RANGE;
    if (rc == 0) rc = fota_port_open(&out, to, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) return rc;
    rc = fota_file_copy_into(out, &off, from, size, NULL);
    if (rc == 0) rc = fota_port_sync(out);
    fota_port_close(out);
    if (rc) fota_port_remove(to);
    return rc;
}

int fota_file_sha256_range(fota_port_file *f, uint64_t len, uint8_t out[32])
{
    mbedtls_sha256_context c;
    uint8_t *buf = malloc(COPY_BUF);
    if (!buf) return FOTA_ERR_NOMEM;
    mbedtls_sha256_init(&c);
    int rc = FOTA_SHA256_START(&c) ? FOTA_ERR_NOMEM : 0;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t got = 0;
        size_t want = len - off < COPY_BUF ? (size_t)(len - off) : COPY_BUF;
        rc = fota_port_pread(f, off, buf, want, &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;
        if (rc == 0 && FOTA_SHA256_UPDATE(&c, buf, got)) rc = FOTA_ERR_NOMEM;
        off += got;
    }
    if (rc == 0 && FOTA_SHA256_FINISH(&c, out)) rc = FOTA_ERR_NOMEM;
    mbedtls_sha256_free(&c);
    free(buf);
    return rc;
}

int fota_sha256_file(const char *path, uint64_t max_len, uint8_t out[32], uint64_t *len_out)
{
    if (!path || !out) return FOTA_ERR_ARG;
    fota_port_file *f = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    uint64_t size = 0;
    rc = fota_port_size(f, &size);
    if (rc == 0 && size > max_len) rc = FOTA_ERR_RANGE;
    if (rc == 0) rc = fota_file_sha256_range(f, size, out);
    fota_port_close(f);
    if (rc == 0 && len_out) *len_out = size;
    return rc;
}

int fota_file_write_atomic(const char *path, const void *data, size_t len)
{
    char tmp[1024];
    fota_port_file *f = NULL;
    size_t n = strlen(path);
    int rc;
    if (n == 0 || n + 5 > sizeof tmp) return FOTA_ERR_ARG;
    memcpy(tmp, path, n);
    memcpy(tmp + n, ".tmp", 5);
    rc = fota_port_open(&f, tmp, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) return rc;
    if (len) rc = fota_port_pwrite(f, 0, data, len);
    if (rc == 0) rc = fota_port_sync(f);
    fota_port_close(f);
    if (rc == 0) rc = fota_port_rename(tmp, path);
    if (rc) fota_port_remove(tmp);
    return rc;
}
