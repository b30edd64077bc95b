#include "ctest_util.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

int ctest_failures;
int ctest_checks;

const char *ctest_tmpdir(const char *name)
{
    static char path[256];
    char cmd[600];
    if (strlen(name) > 100) {
        fprintf(stderr, "tmpdir name too long\n");
        exit(2);
    }
    snprintf(path, sizeof path, "ctest_tmp/%s", name);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", path, path);
    if (system(cmd) != 0) {
        fprintf(stderr, "cannot make %s\n", path);
        exit(2);
    }
    return path;
}

int ctest_finish(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, ctest_checks, ctest_failures);
    return ctest_failures ? 1 : 0;
}

void ctest_fill(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (uint8_t)(seed >> 16);
    }
}

void ctest_sha256(const uint8_t *p, size_t n, uint8_t out[32])
{
    mbedtls_sha256_ret(p, n, out, 0);
}

uint8_t *ctest_read_file(const char *path, size_t *n)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    uint8_t *p = NULL;
    long sz;
    *n = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)sz + 1)) != NULL) {
        *n = fread(p, 1, (size_t)sz, f);
        p[*n] = 0;
    }
    fclose(f);
    return p;
}

uint8_t *ctest_load(const char *dir, const char *name, size_t *n)
{
    char path[512];
    uint8_t *p;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!(p = ctest_read_file(path, n))) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    return p;
}

void ctest_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    if (!f) return;
    CHECK_EQ(fwrite(data, 1, n, f), n);
    fclose(f);
}

int ctest_file_equals(const char *path, const void *data, size_t n)
{
    size_t m;
    uint8_t *q = ctest_read_file(path, &m);
    int eq = q && m == n && memcmp(q, data, n) == 0;
    free(q);
    return eq;
}

void ctest_imei(const char *prefix2, unsigned long n, char out[16])
{
    snprintf(out, 16, "%.2s%012lu", prefix2, n % 1000000000000ul);
    int sum = 0;
    for (int i = 0; i < 14; i++) {
        int d = out[13 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    out[14] = (char)('0' + (10 - sum % 10) % 10);
    out[15] = '\0';
}
