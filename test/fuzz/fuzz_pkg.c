/* libFuzzer target for the package and archive parsers.
 *   cmake -DFOTA_FUZZ=ON -DCMAKE_C_COMPILER=clang ... && ./fuzz_pkg -max_total_time=30 [corpus]
 * The first input byte picks a mode:
 *   0 verify as is (header, hash, policy paths);
 *   1 repair the package hash first, so sections, inflate, the archive and
 *     policy checks are reached (a fuzzer cannot forge SHA-256);
 *   2 push-parse the rest as a script archive, in chunks sized by input;
 *   3 version strings and the prefix helper. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>

#include "core/archive.h"
#include "core/pkg.h"
#include "core/version.h"

static void run_verify(const uint8_t *d, size_t n)
{
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    pol.max_size = 1u << 20;
    pol.current_core_version = 1103;
    pol.current_script_version = "1.0.0";
    pol.has_current_core_sha256 = 1;
    fota_pkg_info info;
    (void)fota_pkg_verify_mem(d, n, &pol, &info);
}

static void run_repaired(const uint8_t *d, size_t n)
{
    fota_pkg_reader r;
    if (n > (1u << 20)) return;
    uint8_t *b = malloc(n ? n : 1);
    if (!b) return;
    memcpy(b, d, n);
    if (fota_pkg_open_mem(&r, b, n, 1u << 20) == 0) {
        uint32_t ho = r.info.hash_offset;
        fota_pkg_close(&r);
        mbedtls_sha256_ret(b, ho, b + ho, 0);
        run_verify(b, n);
        /* and the streams, with an odd small buffer */
        if (fota_pkg_open_mem(&r, b, n, 1u << 20) == 0) {
            for (unsigned i = 0; i < r.info.section_count; i++) {
                fota_pkg_stream s;
                uint8_t buf[13];
                size_t got;
                if (fota_pkg_stream_open(&s, &r, i)) continue;
                while (fota_pkg_stream_read(&s, buf, sizeof buf, &got) == 0 && got) {}
                fota_pkg_stream_close(&s);
            }
            fota_pkg_close(&r);
        }
    }
    free(b);
}

static int cb_begin(void *ud, const char *name, uint32_t size)
{
    (void)size;
    /* Whatever reaches a sink must be a safe name. */
    if (!fota_arc_name_ok(name, strlen(name))) abort();
    *(size_t *)ud += 1;
    return 0;
}

static void run_archive(const uint8_t *d, size_t n)
{
    if (n < 1) return;
    size_t chunk = (size_t)d[0] + 1, entries = 0;
    d++;
    n--;
    fota_arc_sink sink = {cb_begin, NULL, NULL, &entries};
    fota_arc_parser p;
    fota_arc_parser_init(&p, &sink);
    for (size_t off = 0; off < n; off += chunk)
        if (fota_arc_parser_feed(&p, d + off, n - off < chunk ? n - off : chunk)) break;
    (void)fota_arc_parser_finish(&p);
}

static void run_strings(const uint8_t *d, size_t n)
{
    char a[64], b[64];
    size_t h = n / 2;
    size_t la = h < sizeof a - 1 ? h : sizeof a - 1;
    size_t lb = n - h < sizeof b - 1 ? n - h : sizeof b - 1;
    memcpy(a, d, la);
    a[la] = '\0';
    memcpy(b, d + h, lb);
    b[lb] = '\0';
    int c;
    if (fota_version_compare(a, b, &c) == 0) {
        int c2;
        if (fota_version_compare(b, a, &c2) != 0 || c2 != -c) abort();
    }
    uint32_t v;
    (void)fota_version_parse_core(a, &v);
    if (n >= FOTA_PKG_PREFIX_LEN) (void)fota_pkg_parse_prefix(d, NULL, NULL, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const uint8_t *d = data + 1;
    size_t n = size - 1;
    switch (data[0] & 3) {
    case 0: run_verify(d, n); break;
    case 1: run_repaired(d, n); break;
    case 2: run_archive(d, n); break;
    default: run_strings(d, n); break;
    }
    return 0;
}
