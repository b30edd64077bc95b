/* libFuzzer target for the core's inflater, differential against zlib.
 *   cmake -DFOTA_FUZZ=ON -DCMAKE_C_COMPILER=clang ... && ./fuzz_inflate -max_total_time=30 [corpus]
 * Input: in_step u8 | out_step u8 | a zlib stream. The inflater is fed
 * 1..64 bytes at a time into 1..64-byte output buffers; zlib inflates the
 * whole. Where zlib ends the stream, so must the inflater, with the same
 * bytes and the same input taken; where zlib finds an error or a preset
 * dictionary, the inflater must not end; where zlib wants more input, the
 * inflater must not end either and, if it too only wants more, must have
 * made the same bytes. (The inflater may see an error sooner than zlib: an
 * empty code length code, which zlib reads on until the missing end code.) */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/inflate.h"

#define OUT_MAX (1u << 18)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t want[OUT_MAX], got[OUT_MAX], win[FOTA_INFLATE_MAX_WINDOW];
    if (size < 2) return 0;
    size_t step = data[0] % 64 + 1, ostep = data[1] % 64 + 1, n = size - 2;
    const uint8_t *d = data + 2;

    z_stream s;
    memset(&s, 0, sizeof s);
    if (inflateInit(&s) != Z_OK) return 0;
    s.next_in = (Bytef *)d;
    s.avail_in = (uInt)n;
    s.next_out = want;
    s.avail_out = OUT_MAX;
    int zr = inflate(&s, Z_FINISH);
    size_t zin = n - s.avail_in, zout = OUT_MAX - s.avail_out;
    int out_full = s.avail_out == 0;
    inflateEnd(&s);

    fota_inflate z;
    if (fota_inflate_init(&z, win, sizeof win) != 0) abort();
    size_t in = 0, out = 0;
    int rc;
    for (;;) {
        size_t ic = n - in < step ? n - in : step, oc = OUT_MAX - out < ostep ? OUT_MAX - out : ostep;
        size_t used, made;
        rc = fota_inflate_run(&z, d + in, ic, &used, got + out, oc, &made);
        if (used > ic || made > oc) abort();
        in += used;
        out += made;
        if (rc != FOTA_INFLATE_MORE || (used == 0 && made == 0)) break;
    }
    if (zr == Z_STREAM_END) {
        if (rc != FOTA_INFLATE_END || in != zin || out != zout || memcmp(want, got, out) != 0) abort();
    } else if (zr == Z_NEED_DICT) {
        if (rc != FOTA_INFLATE_E_DICT) abort();
    } else if (zr == Z_DATA_ERROR) {
        if (rc == FOTA_INFLATE_END) abort();
    } else if (zr == Z_BUF_ERROR && !out_full) {
        if (rc == FOTA_INFLATE_END) abort();
        if (rc == FOTA_INFLATE_MORE && (out != zout || memcmp(want, got, out) != 0)) abort();
    }
    return 0;
}
