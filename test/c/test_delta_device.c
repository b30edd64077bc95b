/* The applier as a module builds it (FOTA_DEVICE=ON: the core alone; with
 * FOTA_DELTA_V5_ONLY, no inflater and no zlib in it): the checked-in deltas
 * of test/c/data (fw.lua there) applied from memory, in chunks of the sizes
 * a transport hands over. Version 5 makes the new image; version 3 is
 * refused as too large by a V5-only applier (it has no window) and applied
 * by any other. Runs in the host build too. */
#include <stdlib.h>
#include <string.h>

#include "core/delta.h"
#include "ctest_util.h"

typedef struct {
    const uint8_t *old;
    size_t old_len;
    uint8_t out[8192];
    size_t out_len;
    unsigned writes;
} mem;

static int read_old(void *ud, uint64_t off, void *buf, size_t len)
{
    const mem *m = ud;
    if (off > m->old_len || len > m->old_len - off) return -1;
    memcpy(buf, m->old + off, len);
    return 0;
}

static int write_new(void *ud, const void *buf, size_t len)
{
    mem *m = ud;
    if (len > sizeof m->out - m->out_len) return -1;
    memcpy(m->out + m->out_len, buf, len);
    m->out_len += len;
    m->writes++;
    return 0;
}

/* Applies d to old, fed step bytes at a time: the first error, or 0. */
static int apply(mem *m, const uint8_t *old, size_t old_len, const uint8_t *d, size_t dl, size_t step)
{
    memset(m, 0, sizeof *m);
    m->old = old;
    m->old_len = old_len;
    fota_delta_io io = {read_old, m, old_len, write_new, m, 0};
    fota_delta_applier *a = malloc(sizeof *a);   /* about 20 KiB: off the stack */
    if (!a) return -1;
    int rc = fota_delta_apply_init(a, &io);
    for (size_t off = 0; rc == 0 && off < dl; off += step)
        rc = fota_delta_apply_feed(a, d + off, dl - off < step ? dl - off : step);
    if (rc == 0) rc = fota_delta_apply_finish(a, NULL, NULL);
    fota_delta_apply_free(a);
    free(a);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "test/c/data";
    size_t ol, nl, d5l, d3l;
    uint8_t *old = ctest_load(dir, "fw0.bin", &ol), *nw = ctest_load(dir, "fw1.bin", &nl);
    uint8_t *d5 = ctest_load(dir, "fw1.v5.lfdl", &d5l), *d3 = ctest_load(dir, "fw1.v3.lfdl", &d3l);
    mem *m = malloc(sizeof *m);
    if (!m) return 2;
    CHECK(d5[4] == 5 && d3[4] == 3);
    CHECK(d5[5] & FOTA_DELTA_F_PREDICT);   /* the byte predictor is in use, and the ARM fields */
    CHECK(d5[5] & FOTA_DELTA_F_THUMB);

    static const size_t steps[] = {1, 3, 64, 4096};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        CHECK_EQ(apply(m, old, ol, d5, d5l, steps[i]), 0);
        CHECK(m->out_len == nl && memcmp(m->out, nw, nl) == 0);
    }
#ifdef FOTA_DELTA_V5_ONLY
    CHECK_EQ(apply(m, old, ol, d3, d3l, 64), FOTA_DELTA_E_TOO_LARGE);
    CHECK_EQ(m->writes, 0);
#else
    CHECK_EQ(apply(m, old, ol, d3, d3l, 64), 0);
    CHECK(m->out_len == nl && memcmp(m->out, nw, nl) == 0);
#endif
    /* another base: refused before anything is written */
    old[100] ^= 1;
    CHECK_EQ(apply(m, old, ol, d5, d5l, 64), FOTA_DELTA_E_WRONG_BASE);
    CHECK_EQ(m->writes, 0);
    old[100] ^= 1;
    /* a byte of the range-coded stream changed: caught (the result's hash at the latest) */
    d5[d5l / 2] ^= 0x10;
    CHECK(apply(m, old, ol, d5, d5l, 64) < 0);
    printf("applier: %zu bytes of RAM\n", sizeof(fota_delta_applier));
    free(m);
    free(old);
    free(nw);
    free(d5);
    free(d3);
    return ctest_finish("test_delta_device");
}
