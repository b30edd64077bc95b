/* libFuzzer target for the delta applier (built without the generator).
 *   cmake -DFOTA_FUZZ=ON -DCMAKE_C_COMPILER=clang ... && ./fuzz_delta -max_total_time=30 [corpus]
 * Input: mode u8 | old_len u16 LE | old bytes | delta bytes.
 * Mode bit 0 repairs the delta header to the given old image (a fuzzer
 * cannot forge SHA-256) and to the rules a generator follows, so the block
 * stream is reached with any predictor combination: version 2 with its
 * flags, or version 3, 4 or 5 with valid flags (x86, or ARM with bit 7's
 * short branches and literal loads), for 3 and 4 any window the format
 * allows (5 has none; one above
 * this applier's own is applied with a lent arena, as fotapack patch
 * does), a valid region shift and, with the word flag, any base address,
 * and a new size below 256 KiB;
 * bits 1..7 pick the feed chunk and the callback chunk sizes.
 * Every read must stay inside old and the output inside the header's new
 * size: the callbacks abort otherwise. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "core/delta.h"

typedef struct {
    const uint8_t *old;
    size_t old_len;
    uint64_t written, limit;
} ctx;

static int rd(void *ud, uint64_t off, void *buf, size_t len)
{
    ctx *c = ud;
    if (off > c->old_len || len > c->old_len - off || len > FOTA_DELTA_CHUNK) abort();
    memcpy(buf, c->old + off, len);
    return 0;
}

static int wr(void *ud, const void *buf, size_t len)
{
    ctx *c = ud;
    (void)buf;
    c->written += len;
    if (c->written > c->limit || len > FOTA_DELTA_CHUNK) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fota_delta_applier a;   /* fixed size; static keeps the fuzzer's stack small */
    static unsigned char zmem[FOTA_DELTA_ZMEM_FOR(FOTA_DELTA_MAX_WBITS) + 1];   /* lent, at an odd address */
    if (size < 3) return 0;
    unsigned mode = data[0];
    size_t old_len = (size_t)data[1] | ((size_t)data[2] << 8);
    data += 3;
    size -= 3;
    if (old_len > size) old_len = size;
    ctx c = {data, old_len, 0, FOTA_DELTA_MAX_IMAGE};
    uint8_t *d = malloc(size - old_len + 1);
    if (!d) return 0;
    size_t dl = size - old_len;
    memcpy(d, data + old_len, dl);
    if ((mode & 1) && dl >= FOTA_DELTA_HEADER_V3_LEN && d[4] != 2) {
        d[4] = (uint8_t)(3 + d[4] % 3);   /* 3; 4 (range-coded diff runs); 5 (all range-coded) */
        d[5] &= FOTA_DELTA_F_PREDICT | FOTA_DELTA_F_REL32 | FOTA_DELTA_F_ARM;
        if (d[5] & FOTA_DELTA_F_ARM) d[5] &= (uint8_t)~FOTA_DELTA_F_REL32;
        d[6] = d[4] == 5 ? 0   /* no window */
                         : (uint8_t)(FOTA_DELTA_MIN_WBITS + d[6] % (FOTA_DELTA_MAX_WBITS - FOTA_DELTA_MIN_WBITS + 1));
        d[7] = (uint8_t)(FOTA_DELTA_MIN_SHIFT + d[7] % (FOTA_DELTA_MAX_SHIFT - FOTA_DELTA_MIN_SHIFT + 1));
    } else if ((mode & 1) && dl >= FOTA_DELTA_HEADER_LEN) {
        d[4] = 2;
        d[5] &= FOTA_DELTA_F_PREDICT | FOTA_DELTA_F_REL32;
        d[6] = d[7] = 0;
    }
    if ((mode & 1) && dl >= FOTA_DELTA_HEADER_LEN) {
        for (int i = 0; i < 4; i++) d[8 + i] = (uint8_t)(old_len >> (8 * i));
        mbedtls_sha256_ret(c.old, old_len, d + 16, 0);
        /* new size below 256 KiB: a range-coded stream of garbage can make
         * megabytes from a few bytes (every run ends at the hash check),
         * which would cost the fuzzer most of its runs */
        d[14] &= 3;
        d[15] = 0;
    }
    fota_delta_header h;
    if (dl >= FOTA_DELTA_HEADER_LEN && fota_delta_parse_header(d, &h) == 0) c.limit = h.new_size;
    size_t feed = ((mode >> 1) & 7) == 0 ? dl + 1 : ((size_t)1 << ((mode >> 1) & 7)) - 1;
    size_t chunk = (mode >> 4) == 0 ? 0 : (size_t)(mode >> 4);
    fota_delta_io io = {rd, &c, old_len, wr, &c, chunk};
    int lend = dl > 6 && d[6] > FOTA_DELTA_APPLY_WBITS;
    if ((lend ? fota_delta_apply_init_arena(&a, &io, zmem + 1, sizeof zmem - 1) : fota_delta_apply_init(&a, &io)) == 0) {
        int rc = 0;
        for (size_t off = 0; rc == 0 && off < dl; off += feed)
            rc = fota_delta_apply_feed(&a, d + off, dl - off < feed ? dl - off : feed);
        uint64_t n;
        uint8_t sha[32];
        if (rc == 0 && fota_delta_apply_finish(&a, &n, sha) == 0 && n != c.written) abort();
        fota_delta_apply_free(&a);
    }
    free(d);
    return 0;
}
