/* The core's inflater as a module builds it (FOTA_DEVICE=ON: the core
 * alone, no zlib anywhere): the checked-in zlib stream test/c/data/fw.lua.z
 * (fw.lua deflated by zlib at level 9, window 32 KiB: one dynamic Huffman
 * block, as a package's script section is) inflated in the chunk sizes a
 * transport and a small buffer give, and compared with fw.lua. Made with
 *   python3 -c "import zlib,sys; sys.stdout.buffer.write(zlib.compress(open('fw.lua','rb').read(), 9))"
 * Runs in the host build too. */
#include <stdlib.h>
#include <string.h>

#include "core/inflate.h"
#include "ctest_util.h"

/* Inflates z (zn bytes) step bytes in, ostep bytes out at a time, into out
 * (cap bytes) with a window of win bytes: the last result. */
static int inflate_steps(const uint8_t *z, size_t zn, size_t step, size_t ostep, uint8_t *out,
                         size_t cap, size_t *out_len, size_t win)
{
    fota_inflate *st = malloc(sizeof *st);
    uint8_t *w = malloc(win);
    int rc = st && w ? fota_inflate_init(st, w, win) : -1;
    size_t in = 0;
    *out_len = 0;
    while (rc == 0) {
        size_t ic = zn - in < step ? zn - in : step, oc = cap - *out_len < ostep ? cap - *out_len : ostep;
        size_t used, made;
        rc = fota_inflate_run(st, z + in, ic, &used, out + *out_len, oc, &made);
        in += used;
        *out_len += made;
        if (rc == FOTA_INFLATE_MORE && used == 0 && made == 0) break;   /* cut short */
    }
    if (rc == FOTA_INFLATE_END && in != zn) rc = -1;   /* bytes after the stream */
    free(st);
    free(w);
    return rc;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "test/c/data";
    size_t ln, zn, n;
    uint8_t *lua = ctest_load(dir, "fw.lua", &ln), *z = ctest_load(dir, "fw.lua.z", &zn);
    uint8_t *out = malloc(ln + 64);
    if (!out) return 2;
    CHECK(z[0] == 0x78 && (z[2] >> 1 & 3) == 2);   /* 32 KiB window; a dynamic block */

    static const size_t steps[][2] = {{1, 1}, {3, 17}, {64, 256}, {4096, 4096}};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++) {
        CHECK_EQ(inflate_steps(z, zn, steps[i][0], steps[i][1], out, ln + 64, &n, FOTA_INFLATE_MAX_WINDOW),
                 FOTA_INFLATE_END);
        CHECK(n == ln && memcmp(out, lua, ln) == 0);
    }
    /* a window smaller than the stream's, a cut stream, a changed byte */
    CHECK_EQ(inflate_steps(z, zn, 64, 64, out, ln + 64, &n, 1024), FOTA_INFLATE_E_WINDOW);
    CHECK_EQ(inflate_steps(z, zn - 1, 64, 64, out, ln + 64, &n, FOTA_INFLATE_MAX_WINDOW), FOTA_INFLATE_MORE);
    z[zn / 2] ^= 0x08;
    CHECK(inflate_steps(z, zn, 64, 64, out, ln + 64, &n, FOTA_INFLATE_MAX_WINDOW) < 0);
    printf("inflater: %zu bytes of RAM + a window of up to %u\n", sizeof(fota_inflate),
           FOTA_INFLATE_MAX_WINDOW);
    free(lua);
    free(z);
    free(out);
    return ctest_finish("test_inflate_device");
}
