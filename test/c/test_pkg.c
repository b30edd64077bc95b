/* Package format, reader, verifier, writer and script archive. Crafted
 * packages are assembled here independently of pkg.c's writer, following
 * docs/package-format.md, so the test also checks the documented layout. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <zlib.h>

#include "core/archive.h"
#include "host/archive_pack.h"
#include "core/files.h"
#include "core/pkg.h"
#include "host/delta_gen.h"
#include "host/pkg_build.h"
#include "core/sig.h"
#include "core/version.h"
#include "ctest_util.h"
#include "core/fota_err.h"

/* dir/name into pbuf (a char[512] in scope); too long is a test bug. */
#define P(dir, name) join(pbuf, sizeof pbuf, dir, name)

static const char *join(char *buf, size_t cap, const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    if (a + 1 + b >= cap) {
        fprintf(stderr, "path too long\n");
        exit(2);
    }
    memcpy(buf, dir, a);
    buf[a] = '/';
    memcpy(buf + a + 1, name, b + 1);
    return buf;
}

typedef struct {
    char priv[2048];
    char pub[1024];
} keypair;

/* ---------------- small byte helpers ---------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ---------------- independent signer / crafter ---------------- */

static void sign_raw(const char *priv_pem, const uint8_t h[32], uint8_t sig[64])
{
    mbedtls_pk_context pk;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_pk_init(&pk);
    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&drbg);
    CHECK_EQ(mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0), 0);
    CHECK_EQ(mbedtls_pk_parse_key(&pk, (const unsigned char *)priv_pem, strlen(priv_pem) + 1, NULL, 0), 0);
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(pk);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    CHECK_EQ(mbedtls_ecdsa_sign(&ec->grp, &r, &s, &ec->d, h, 32, mbedtls_ctr_drbg_random, &drbg), 0);
    mbedtls_mpi_write_binary(&r, sig, 32);
    mbedtls_mpi_write_binary(&s, sig + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    mbedtls_pk_free(&pk);
    mbedtls_ctr_drbg_free(&drbg);
    mbedtls_entropy_free(&ent);
}

/* Recomputes the package hash at hash_off and, when key is given, the
 * signature after it: lets a test reach the checks behind the hash. */
static void rehash(uint8_t *buf, uint32_t hash_off, const char *priv_pem)
{
    ctest_sha256(buf, hash_off, buf + hash_off);
    if (priv_pem) {
        put16(buf + hash_off + 32, FOTA_PKG_SIG_ALG_ECDSA_P256);
        put16(buf + hash_off + 34, 64);
        sign_raw(priv_pem, buf + hash_off, buf + hash_off + 36);
    }
}

typedef struct {
    uint8_t type;
    const uint8_t *data;
    uint32_t len;
    uint32_t dec_len;
    uint8_t sha[32];
} csec;

typedef struct {
    const char *project, *firmware, *bsp, *script_version;
    uint32_t from, to;
    const uint8_t *base;     /* NULL = zero */
    uint16_t version;        /* 0 = current */
    uint16_t flags;
    const char *priv;        /* sign when set */
    /* The release: core from `to` (else 1103 for scripts only), scripts from
     * script_version (else "1.0.1" for a core only); a partial package runs on
     * the release's other half unless runs_n / runs_* say otherwise. */
    const char *rel_script;  /* NULL = derived */
    uint8_t meta_flags;
    int runs_n;              /* 0 = derived, -1 = none, else that many of runs_* */
    const uint32_t *runs_core;
    const char *const *runs_script;
} cmeta;

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

/* Assembles a package per docs/package-format.md. Returns its length; the
 * hash offset goes to *hash_off. */
static size_t craft(uint8_t *out, const cmeta *m, const csec *s, unsigned n, uint32_t *hash_off)
{
    size_t k = 16;
    k += put_str(out + k, m->project);
    k += put_str(out + k, m->firmware);
    k += put_str(out + k, m->bsp);
    put32(out + k, m->from); k += 4;
    if (m->base) memcpy(out + k, m->base, 32); else memset(out + k, 0, 32);
    k += 32;
    int has_core = 0, has_script = 0;
    for (unsigned i = 0; i < n; i++) {
        if (s[i].type == FOTA_PKG_SEC_SCRIPT) has_script = 1;
        else has_core = 1;
    }
    uint32_t rel_core = m->to ? m->to : has_core ? 0 : 1103;
    const char *rel_script = m->rel_script ? m->rel_script
                           : m->script_version[0] || has_script ? m->script_version : "1.0.1";
    put32(out + k, rel_core); k += 4;
    k += put_str(out + k, rel_script);
    out[k++] = m->meta_flags;
    int runs = m->runs_n < 0 ? 0 : m->runs_n ? m->runs_n : has_core && has_script ? 0 : 1;
    out[k++] = (uint8_t)runs;
    for (int i = 0; i < runs; i++) {
        if (has_core && m->runs_n) k += put_str(out + k, m->runs_script[i]);
        else if (has_core) k += put_str(out + k, rel_script);
        else { put32(out + k, m->runs_n ? m->runs_core[i] : rel_core); k += 4; }
    }
    size_t meta_len = k - 16;
    size_t table = k;
    size_t off = table + n * 48;
    for (unsigned i = 0; i < n; i++) {
        uint8_t *e = out + table + i * 48;
        memset(e, 0, 48);
        e[0] = s[i].type;
        put32(e + 4, (uint32_t)off);
        put32(e + 8, s[i].len);
        put32(e + 12, s[i].dec_len);
        memcpy(e + 16, s[i].sha, 32);
        memcpy(out + off, s[i].data, s[i].len);
        off += s[i].len;
    }
    int signed_ = m->priv != NULL || (m->flags & 1);
    size_t total = off + 32 + (signed_ ? 68 : 0);
    memcpy(out, "LFPK", 4);
    put16(out + 4, m->version ? m->version : 2);
    put16(out + 6, m->flags | (m->priv ? 1 : 0));
    put32(out + 8, (uint32_t)total);
    put16(out + 12, (uint16_t)meta_len);
    out[14] = (uint8_t)n;
    out[15] = 0;
    memset(out + off, 0, total - off);
    rehash(out, (uint32_t)off, m->priv);
    *hash_off = (uint32_t)off;
    return total;
}

/* An LFSA archive from (name, data) pairs, in the order given. */
static size_t craft_arc(uint8_t *out, const char *const *names, const char *const *datas, unsigned n)
{
    memcpy(out, "LFSA", 4);
    put16(out + 4, 1);
    put16(out + 6, 0);
    put32(out + 8, n);
    size_t k = 12;
    for (unsigned i = 0; i < n; i++) {
        size_t nl = strlen(names[i]), dl = strlen(datas[i]);
        put16(out + k, (uint16_t)nl); k += 2;
        memcpy(out + k, names[i], nl); k += nl;
        put32(out + k, (uint32_t)dl); k += 4;
        memcpy(out + k, datas[i], dl); k += dl;
    }
    return k;
}

static csec script_sec(const uint8_t *arc, size_t arc_len, uint8_t *zbuf, size_t zcap)
{
    csec s;
    uLongf zl = zcap;
    CHECK_EQ(compress2(zbuf, &zl, arc, arc_len, 9), Z_OK);
    s.type = FOTA_PKG_SEC_SCRIPT;
    s.data = zbuf;
    s.len = (uint32_t)zl;
    s.dec_len = (uint32_t)arc_len;
    ctest_sha256(arc, arc_len, s.sha);
    return s;
}

/* ---------------- tests ---------------- */

static void test_versions(void)
{
    const char *good[] = {"1.0.2", "0.0.0", "10.20.30", "001.2.3", "123456789012345678901234.1.1"};
    const char *bad[] = {"1.0", "1.0.2a", " 1.0.2", "1.0.2 ", "1..2", ".1.2", "1.2.", "1.2.3.4",
                         "", "v1.0.2", "1.-1.2", "1,0,2", "a.b.c"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) CHECK(fota_version_valid(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!fota_version_valid(bad[i]));
    CHECK(!fota_version_valid(NULL));
    struct { const char *a, *b; int c; } cmp[] = {
        {"1.0.2", "1.0.2", 0}, {"1.0.2", "1.0.10", -1}, {"1.10.0", "1.9.99", 1},
        {"2.0.0", "10.0.0", -1}, {"01.0.0", "1.0.0", 0}, {"0.0.1", "0.0.0", 1},
        {"99999999999999999999.0.0", "99999999999999999998.9.9", 1}, {"1.2.3", "1.2.03", 0}};
    for (size_t i = 0; i < sizeof cmp / sizeof *cmp; i++) {
        int c = 99;
        CHECK_EQ(fota_version_compare(cmp[i].a, cmp[i].b, &c), 0);
        CHECK_EQ(c, cmp[i].c);
        CHECK_EQ(fota_version_compare(cmp[i].b, cmp[i].a, &c), 0);
        CHECK_EQ(c, -cmp[i].c);
    }
    int c;
    CHECK_EQ(fota_version_compare("1.0", "1.0.0", &c), FOTA_ERR_ARG);
    uint32_t v = 0;
    CHECK_EQ(fota_version_parse_core("V1103", &v), 0); CHECK_EQ(v, 1103);
    CHECK_EQ(fota_version_parse_core("1104", &v), 0); CHECK_EQ(v, 1104);
    CHECK_EQ(fota_version_parse_core("v7", &v), 0); CHECK_EQ(v, 7);
    const char *badcv[] = {"", "V", "V0", "0", "V11a", "V 1103", "1103 ", "V1234567890", "-1", "VV1"};
    for (size_t i = 0; i < sizeof badcv / sizeof *badcv; i++)
        CHECK_EQ(fota_version_parse_core(badcv[i], &v), FOTA_ERR_ARG);
}

static void test_errnames(void)
{
    struct { int code; const char *name; } n[] = {
        {FOTA_PKG_E_BAD_MAGIC, "bad_magic"}, {FOTA_PKG_E_BAD_VERSION, "bad_version"},
        {FOTA_PKG_E_TRUNCATED, "truncated"}, {FOTA_PKG_E_TOO_LARGE, "too_large"},
        {FOTA_PKG_E_BAD_SECTION, "bad_section"}, {FOTA_PKG_E_HASH_MISMATCH, "hash_mismatch"},
        {FOTA_PKG_E_BAD_SIGNATURE, "bad_signature"}, {FOTA_PKG_E_NO_SIGNATURE, "no_signature"},
        {FOTA_PKG_E_WRONG_BASE, "wrong_base"}, {FOTA_PKG_E_ROLLBACK, "rollback"},
        {FOTA_PKG_E_BAD_META, "bad_meta"}, {FOTA_PKG_E_IO, "io"}, {0, "ok"}};
    for (size_t i = 0; i < sizeof n / sizeof *n; i++) CHECK(strcmp(fota_pkg_errname(n[i].code), n[i].name) == 0);
    CHECK(strcmp(fota_pkg_errname(12345), "unknown") == 0);
}

static void test_prefix(void)
{
    uint8_t p[12] = {'L', 'F', 'P', 'K', 2, 0, 1, 0, 0, 2, 0, 0};
    uint32_t t; uint16_t v, f;
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), 0);
    CHECK_EQ(t, 512); CHECK_EQ(v, 2); CHECK_EQ(f, 1);
    p[4] = 3;
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), FOTA_PKG_E_BAD_VERSION);
    p[4] = 1;   /* v1 named no release: refused, not read as v2 */
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), FOTA_PKG_E_BAD_VERSION);
    p[4] = 0;
    CHECK_EQ(fota_pkg_parse_prefix(p, NULL, NULL, NULL), FOTA_PKG_E_BAD_VERSION);
    p[4] = 2; p[6] = 2;
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), FOTA_PKG_E_BAD_META);
    p[6] = 0; p[9] = 0; p[8] = 10;
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), FOTA_PKG_E_BAD_META);
    p[0] = 'X';
    CHECK_EQ(fota_pkg_parse_prefix(p, &t, &v, &f), FOTA_PKG_E_BAD_MAGIC);
}

typedef struct {
    char log[2048];
    size_t len;
} rec_sink;

static int rec_begin(void *ud, const char *name, uint32_t size)
{
    rec_sink *r = ud;
    r->len += (size_t)snprintf(r->log + r->len, sizeof r->log - r->len, "[%s:%u]", name, (unsigned)size);
    return 0;
}
static int rec_data(void *ud, const uint8_t *p, size_t n)
{
    rec_sink *r = ud;
    for (size_t i = 0; i < n && r->len + 1 < sizeof r->log; i++) r->log[r->len++] = (char)p[i];
    r->log[r->len] = '\0';
    return 0;
}
static int rec_end(void *ud)
{
    rec_sink *r = ud;
    r->len += (size_t)snprintf(r->log + r->len, sizeof r->log - r->len, "|");
    return 0;
}

static int parse_arc(const uint8_t *a, size_t n, size_t chunk, rec_sink *rs)
{
    fota_arc_sink sink = {rec_begin, rec_data, rec_end, rs};
    fota_arc_parser p;
    memset(rs, 0, sizeof *rs);
    fota_arc_parser_init(&p, &sink);
    int rc = 0;
    for (size_t off = 0; off < n && rc == 0; off += chunk)
        rc = fota_arc_parser_feed(&p, a + off, n - off < chunk ? n - off : chunk);
    return rc ? rc : fota_arc_parser_finish(&p);
}

static void test_archive(const char *dir)
{
    char pbuf[512];
    /* names */
    const char *ok[] = {"main.lua", "lib/util.lua", "a", "x+y-z_1.bin", "a/b/c/d.lua", "..a", "a..b"};
    const char *bad[] = {"..", "../x.lua", "/abs.lua", "a/../b", "a//b", "a/", ".", "./a", "a/./b",
                         "a\\b", "a b", "a:b", "", "x/.."};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) CHECK(fota_arc_name_ok(ok[i], strlen(ok[i])));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) CHECK(!fota_arc_name_ok(bad[i], strlen(bad[i])));
    char longn[FOTA_ARC_MAX_NAME + 2];
    memset(longn, 'a', sizeof longn);
    CHECK(fota_arc_name_ok(longn, FOTA_ARC_MAX_NAME));
    CHECK(!fota_arc_name_ok(longn, FOTA_ARC_MAX_NAME + 1));
    CHECK(!fota_arc_name_ok("a\0b", 3));

    /* pack -> unpack round trip, input order irrelevant */
    char src[256];
    snprintf(src, sizeof src, "%s/src", dir);
    mkdir(src, 0755);
    uint8_t big[70000];
    ctest_fill(big, sizeof big, 7);
    ctest_write_file(P(src, "main.lua"), "print('main')\n", 14);
    ctest_write_file(P(src, "util.lua"), "return {}\n", 10);
    ctest_write_file(P(src, "data.bin"), big, sizeof big);
    ctest_write_file(P(src, "empty.txt"), "", 0);
    char p1[512], p2[512], p3[512], p4[512];
    snprintf(p1, sizeof p1, "%s/main.lua", src);
    snprintf(p2, sizeof p2, "%s/util.lua", src);
    snprintf(p3, sizeof p3, "%s/data.bin", src);
    snprintf(p4, sizeof p4, "%s/empty.txt", src);
    const char *names[] = {"main.lua", "lib/util.lua", "res/data.bin", "empty.txt"};
    const char *paths[] = {p1, p2, p3, p4};
    char arc1[512], arc2[512];
    snprintf(arc1, sizeof arc1, "%s/a1.lfsa", dir);
    snprintf(arc2, sizeof arc2, "%s/a2.lfsa", dir);
    CHECK_EQ(fota_arc_pack(names, paths, 4, arc1), 0);
    const char *names_r[] = {"res/data.bin", "empty.txt", "main.lua", "lib/util.lua"};
    const char *paths_r[] = {p3, p4, p1, p2};
    CHECK_EQ(fota_arc_pack(names_r, paths_r, 4, arc2), 0);
    size_t n1, n2;
    uint8_t *a1 = ctest_read_file(arc1, &n1), *a2 = ctest_read_file(arc2, &n2);
    CHECK(a1 && a2 && n1 == n2 && memcmp(a1, a2, n1) == 0);   /* deterministic */
    free(a2);
    char out[512];
    snprintf(out, sizeof out, "%s/out", dir);
    CHECK_EQ(fota_arc_unpack(arc1, out), 0);
    CHECK(ctest_file_equals(P(out, "main.lua"), "print('main')\n", 14));
    CHECK(ctest_file_equals(P(out, "lib/util.lua"), "return {}\n", 10));
    CHECK(ctest_file_equals(P(out, "res/data.bin"), big, sizeof big));
    CHECK(ctest_file_equals(P(out, "empty.txt"), "", 0));

    /* chunking does not matter to the parser */
    rec_sink r1, r2;
    CHECK_EQ(parse_arc(a1, n1, n1, &r1), 0);
    CHECK_EQ(parse_arc(a1, n1, 1, &r2), 0);
    CHECK(strcmp(r1.log, r2.log) == 0);
    CHECK(strncmp(r1.log, "[empty.txt:0]|[lib/util.lua:10]return {}\n|[main.lua:14]", 54) == 0);
    free(a1);

    /* packing refuses unsafe and duplicate names */
    const char *ev[] = {"../evil.lua"};
    const char *evp[] = {p1};
    CHECK_EQ(fota_arc_pack(ev, evp, 1, arc2), FOTA_ERR_ARG);
    const char *abs_[] = {"/etc/evil"};
    CHECK_EQ(fota_arc_pack(abs_, evp, 1, arc2), FOTA_ERR_ARG);
    const char *dup[] = {"a.lua", "a.lua"};
    const char *dupp[] = {p1, p2};
    CHECK_EQ(fota_arc_pack(dup, dupp, 2, arc2), FOTA_ERR_ARG);
    CHECK_EQ(fota_arc_pack(dup, dupp, 0, arc2), FOTA_ERR_ARG);

    /* parser refuses crafted traversal, unsorted, duplicates, trailing, truncated */
    uint8_t a[512];
    rec_sink rs;
    const char *d1[] = {"x"};
    const char *tn[][2] = {{"../evil.lua", NULL}, {"/abs.lua", NULL}, {"a/../../b", NULL},
                           {"ok/../x", NULL}, {"a\\..\\b", NULL}};
    for (size_t i = 0; i < sizeof tn / sizeof *tn; i++) {
        size_t n = craft_arc(a, &tn[i][0], d1, 1);
        CHECK_EQ(parse_arc(a, n, 3, &rs), FOTA_ERR_FORMAT);
        CHECK_EQ(rs.len, 0);   /* nothing reached the sink */
        /* and unpacking such a file writes nothing outside (or inside) */
        ctest_write_file(P(dir, "evil.lfsa"), a, n);
        char ex[512];
        snprintf(ex, sizeof ex, "%s/ex", dir);
        CHECK_EQ(fota_arc_unpack(pbuf, ex), FOTA_ERR_FORMAT);
        CHECK(!fota_port_exists(P(dir, "evil.lua")));
    }
    const char *uns[] = {"b.lua", "a.lua"};
    const char *dd[] = {"1", "2"};
    size_t n = craft_arc(a, uns, dd, 2);
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);
    const char *dupn[] = {"a.lua", "a.lua"};
    n = craft_arc(a, dupn, dd, 2);
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);
    const char *goodn[] = {"a.lua", "b.lua"};
    n = craft_arc(a, goodn, dd, 2);
    CHECK_EQ(parse_arc(a, n, n, &rs), 0);
    a[n] = 0;
    CHECK_EQ(parse_arc(a, n + 1, n + 1, &rs), FOTA_ERR_FORMAT);       /* trailing byte */
    for (size_t t = 0; t < n; t++) CHECK_EQ(parse_arc(a, t, 5, &rs), FOTA_ERR_FORMAT);
    a[4] = 2;
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);               /* newer archive */
    a[4] = 1;
    put32(a + 8, 0);
    CHECK_EQ(parse_arc(a, 12, 12, &rs), FOTA_ERR_FORMAT);             /* empty */
    put32(a + 8, FOTA_ARC_MAX_ENTRIES + 1);
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);
    put32(a + 8, 2);
    put16(a + 12, FOTA_ARC_MAX_NAME + 1);
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);
    put16(a + 12, 0);
    CHECK_EQ(parse_arc(a, n, n, &rs), FOTA_ERR_FORMAT);
}

/* Everything a package test needs. */
typedef struct {
    char dir[256];
    keypair ka, kb;
    uint8_t core[3000];
    char core_path[300], arc_path[300];
    uint8_t *arc;
    size_t arc_len;
} fixture;

static int build(fixture *fx, const char *out, int with_core, int with_script, const char *key,
                 uint32_t max, uint32_t *total)
{
    fota_pkg_build_opts o;
    memset(&o, 0, sizeof o);
    o.project = "demo";
    o.bsp = "EC618";
    o.release_core_version = 1104;
    o.release_script_version = "1.0.2";
    if (with_core) {
        o.core_type = FOTA_PKG_SEC_CORE_FULL;
        o.core_path = fx->core_path;
    }
    if (with_script) o.script_archive_path = fx->arc_path;
    o.sign_key_pem = key;
    o.max_size = max;
    return fota_pkg_build(&o, out, total);
}

static int vmem(const uint8_t *p, size_t n, const fota_pkg_policy *pol)
{
    return fota_pkg_verify_mem(p, n, pol, NULL);
}

static void test_roundtrip(fixture *fx)
{
    char pbuf[512], out[512];
    uint32_t total = 0;
    snprintf(out, sizeof out, "%s/full.fota", fx->dir);
    CHECK_EQ(build(fx, out, 1, 1, fx->ka.priv, 0, &total), 0);

    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    CHECK_EQ(pol.max_size, 491520);
    pol.pubkey_pem = fx->ka.pub;
    pol.project = "demo";
    pol.bsp = "EC618";
    pol.current_core_version = 1103;
    pol.current_script_version = "1.0.1";
    fota_pkg_info info;
    CHECK_EQ(fota_pkg_verify_file(out, &pol, &info), 0);
    CHECK_EQ(info.total_len, total);
    CHECK_EQ(info.format_version, 2);
    CHECK_EQ(info.release_core_version, 1104);
    CHECK(strcmp(info.release_script_version, "1.0.2") == 0);
    CHECK_EQ(info.runs_on_count, 0);
    CHECK(!info.reinstall);
    CHECK(info.is_signed && info.signature_verified);
    CHECK(strcmp(info.project, "demo") == 0);
    CHECK(strcmp(info.bsp, "EC618") == 0);
    CHECK(strcmp(info.firmware, "demo_LuatOS-SoC_EC618") == 0);
    CHECK(strcmp(info.script_version, "1.0.2") == 0);
    CHECK_EQ(info.to_core_version, 1104);
    CHECK_EQ(info.from_core_version, 0);
    CHECK_EQ(info.section_count, 2);
    CHECK_EQ(info.sections[0].type, FOTA_PKG_SEC_CORE_FULL);
    CHECK_EQ(info.sections[0].length, sizeof fx->core);
    CHECK_EQ(info.sections[1].type, FOTA_PKG_SEC_SCRIPT);
    CHECK_EQ(info.sections[1].decoded_length, fx->arc_len);
    uint8_t h[32];
    ctest_sha256(fx->core, sizeof fx->core, h);
    CHECK(memcmp(h, info.sections[0].sha256, 32) == 0);

    /* signed but no key in the policy: accepted, not marked verified */
    fota_pkg_policy_init(&pol);
    CHECK_EQ(fota_pkg_verify_file(out, &pol, &info), 0);
    CHECK(info.is_signed && !info.signature_verified);
    CHECK_EQ(fota_pkg_verify_file(out, NULL, NULL), 0);

    /* streamed decoding with small odd buffers gives the images back */
    fota_pkg_reader r;
    CHECK_EQ(fota_pkg_open_file(&r, out, 0), 0);
    for (unsigned i = 0; i < 2; i++) {
        const uint8_t *want = i == 0 ? fx->core : fx->arc;
        size_t want_len = i == 0 ? sizeof fx->core : fx->arc_len;
        fota_pkg_stream s;
        CHECK_EQ(fota_pkg_stream_open(&s, &r, i), 0);
        uint8_t *got_all = malloc(want_len + 64), buf[7];
        size_t n = 0, got = 0;
        int rc;
        while ((rc = fota_pkg_stream_read(&s, buf, sizeof buf, &got)) == 0 && got > 0) {
            if (n + got <= want_len + 64) memcpy(got_all + n, buf, got);
            n += got;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(n, want_len);
        CHECK(memcmp(got_all, want, want_len) == 0);
        CHECK_EQ(fota_pkg_stream_read(&s, buf, sizeof buf, &got), 0);   /* stays at end */
        CHECK_EQ(got, 0);
        fota_pkg_stream_close(&s);
        free(got_all);
    }
    /* raw chunks of the core section */
    uint8_t chunk[1000];
    size_t got = 0, total_raw = 0;
    for (uint32_t off = 0;; off += (uint32_t)got) {
        CHECK_EQ(fota_pkg_read_section(&r, 0, off, chunk, sizeof chunk, &got), 0);
        if (got == 0) break;
        CHECK(memcmp(chunk, fx->core + off, got) == 0);
        total_raw += got;
    }
    CHECK_EQ(total_raw, sizeof fx->core);
    CHECK_EQ(fota_pkg_read_section(&r, 5, 0, chunk, 1, &got), FOTA_ERR_ARG);
    /* unpack the script section */
    char ex[512];
    snprintf(ex, sizeof ex, "%s/extract", fx->dir);
    CHECK_EQ(fota_pkg_extract_script(&r, ex), 0);
    CHECK(ctest_file_equals(P(ex, "main.lua"), "print('main')\n", 14));
    CHECK(ctest_file_equals(P(ex, "lib/util.lua"), "return {}\n", 10));
    fota_pkg_close(&r);

    /* deterministic output: same inputs, same unsigned bytes */
    char o2[512], o3[512];
    snprintf(o2, sizeof o2, "%s/u1.fota", fx->dir);
    snprintf(o3, sizeof o3, "%s/u2.fota", fx->dir);
    CHECK_EQ(build(fx, o2, 1, 1, NULL, 0, NULL), 0);
    CHECK_EQ(build(fx, o3, 1, 1, NULL, 0, NULL), 0);
    size_t l2, l3;
    uint8_t *b2 = ctest_read_file(o2, &l2), *b3 = ctest_read_file(o3, &l3);
    CHECK(b2 && b3 && l2 == l3 && memcmp(b2, b3, l2) == 0);
    free(b2);
    free(b3);

    /* single-part packages */
    CHECK_EQ(build(fx, o2, 0, 1, NULL, 0, NULL), 0);
    CHECK_EQ(fota_pkg_verify_file(o2, NULL, &info), 0);
    CHECK_EQ(info.section_count, 1);
    CHECK_EQ(info.to_core_version, 0);
    CHECK_EQ(info.runs_on_count, 1);              /* scripts only: on the release's core */
    CHECK_EQ(info.runs_on_core[0], 1104);
    CHECK_EQ(build(fx, o2, 1, 0, NULL, 0, NULL), 0);
    CHECK_EQ(fota_pkg_verify_file(o2, NULL, &info), 0);
    CHECK_EQ(info.script_version[0], '\0');
    CHECK_EQ(info.runs_on_count, 1);              /* core only: with the release's scripts */
    CHECK(strcmp(info.runs_on_script[0], "1.0.2") == 0);
    CHECK_EQ(build(fx, o2, 0, 0, NULL, 0, NULL), FOTA_ERR_ARG);
    CHECK(!fota_port_exists(o2));
}

static void test_writer_errors(fixture *fx)
{
    char out[512];
    uint32_t total = 0;
    snprintf(out, sizeof out, "%s/big.fota", fx->dir);
    CHECK_EQ(build(fx, out, 1, 1, NULL, 1000, &total), FOTA_PKG_E_TOO_LARGE);
    CHECK(total > 1000);
    CHECK(!fota_port_exists(out));       /* no partial package left */
    uint32_t exact = total;
    CHECK_EQ(build(fx, out, 1, 1, NULL, exact, &total), 0);
    CHECK_EQ(build(fx, out, 1, 1, NULL, exact - 1, &total), FOTA_PKG_E_TOO_LARGE);

    fota_pkg_build_opts o;
    memset(&o, 0, sizeof o);
    o.project = "bad name";
    o.bsp = "EC618";
    o.script_archive_path = fx->arc_path;
    o.release_core_version = 1104;
    o.release_script_version = "1.0.2";
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.project = "demo";
    o.release_script_version = "1.0";
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.release_script_version = "1.0.2";
    o.release_core_version = 0;                              /* no release core */
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.release_core_version = 1104;
    o.sign_key_pem = "-----BEGIN nonsense-----";
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.sign_key_pem = fx->ka.pub;   /* public key cannot sign */
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.sign_key_pem = NULL;
    o.core_type = FOTA_PKG_SEC_CORE_FULL;
    o.core_path = fx->core_path;
    o.from_core_version = 1103;                               /* full image has no base */
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.from_core_version = 0;
    o.core_type = 7;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.core_type = FOTA_PKG_SEC_CORE_FULL;
    o.core_path = "/nonexistent/core.bin";
    CHECK(fota_pkg_build(&o, out, NULL) != 0);
    o.core_type = 0;
    /* pairing lists: a full package pairs with itself, no repeats, at most 8 */
    uint32_t cores[FOTA_PKG_MAX_RUNS_ON + 1] = {1105, 1103, 1104, 1106, 1107, 1108, 1109, 1110, 1111};
    o.runs_on_core = cores;
    o.runs_on_count = 3;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), 0);
    fota_pkg_info in;
    CHECK_EQ(fota_pkg_verify_file(out, NULL, &in), 0);
    CHECK_EQ(in.runs_on_count, 3);                            /* sorted */
    CHECK(in.runs_on_core[0] == 1103 && in.runs_on_core[1] == 1104 && in.runs_on_core[2] == 1105);
    o.runs_on_count = FOTA_PKG_MAX_RUNS_ON + 1;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    cores[1] = 1105;
    o.runs_on_count = 2;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);    /* named twice */
    cores[1] = 0;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.runs_on_core = NULL;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    const char *scripts[] = {"1.0.1", "1.0.10", "1.0.9"};
    o.script_archive_path = NULL;
    o.core_type = FOTA_PKG_SEC_CORE_FULL;
    o.core_path = fx->core_path;
    o.runs_on_script = scripts;
    o.runs_on_count = 3;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), 0);
    CHECK_EQ(fota_pkg_verify_file(out, NULL, &in), 0);
    CHECK(!strcmp(in.runs_on_script[1], "1.0.9") && !strcmp(in.runs_on_script[2], "1.0.10"));
    scripts[2] = "1.0";
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);
    o.script_archive_path = fx->arc_path;
    o.runs_on_count = 1;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_ARG);    /* full package */
    o.runs_on_count = 0;
    o.core_type = 0;
    char badarc[512];
    snprintf(badarc, sizeof badarc, "%s/bad.lfsa", fx->dir);
    uint8_t a[128];
    const char *nm[] = {"../x"}, *dt[] = {"y"};
    ctest_write_file(badarc, a, craft_arc(a, nm, dt, 1));
    o.script_archive_path = badarc;
    CHECK_EQ(fota_pkg_build(&o, out, NULL), FOTA_ERR_FORMAT);   /* never ships a bad archive */
    CHECK(!fota_port_exists(out));
}

static void test_errors(fixture *fx)
{
    char out[512];
    uint32_t total = 0;
    snprintf(out, sizeof out, "%s/e.fota", fx->dir);
    CHECK_EQ(build(fx, out, 1, 1, fx->ka.priv, 0, &total), 0);
    size_t n;
    uint8_t *pkg = ctest_read_file(out, &n);
    CHECK(pkg != NULL && n == total);
    if (!pkg) return;
    uint8_t *b = malloc(n + 16);
    fota_pkg_info info;
    CHECK_EQ(fota_pkg_verify_mem(pkg, n, NULL, &info), 0);
    const uint32_t hash_off = info.hash_offset;
    const uint32_t s0 = info.sections[0].offset, s1 = info.sections[1].offset;
    const uint32_t s1end = s1 + info.sections[1].length;
    CHECK_EQ(hash_off, s1end);
    CHECK_EQ(n, hash_off + 32 + 68);

    fota_pkg_policy key_a, key_b, none;
    fota_pkg_policy_init(&key_a);
    key_a.pubkey_pem = fx->ka.pub;
    fota_pkg_policy_init(&key_b);
    key_b.pubkey_pem = fx->kb.pub;
    fota_pkg_policy_init(&none);

    /* wrong key / right key */
    CHECK_EQ(vmem(pkg, n, &key_a), 0);
    CHECK_EQ(vmem(pkg, n, &key_b), FOTA_PKG_E_BAD_SIGNATURE);

    /* a byte flipped anywhere is refused; the code depends on the part */
    int counts[16] = {0};
    for (size_t i = 0; i < n; i++) {
        memcpy(b, pkg, n);
        b[i] ^= 0x01;
        int rc = vmem(b, n, &key_a);
        CHECK(rc != 0);
        if (rc < 0 && rc >= FOTA_PKG_E_IO) counts[-rc - 200]++;
        if (i < 4) CHECK_EQ(rc, FOTA_PKG_E_BAD_MAGIC);
        else if (i == 4) CHECK_EQ(rc, FOTA_PKG_E_BAD_VERSION);
        else if (i == 6) CHECK(rc == FOTA_PKG_E_BAD_SECTION || rc == FOTA_PKG_E_BAD_META);
        else if (i >= s0 && i < hash_off) CHECK_EQ(rc, FOTA_PKG_E_HASH_MISMATCH);
        else if (i >= hash_off && i < hash_off + 32) CHECK_EQ(rc, FOTA_PKG_E_HASH_MISMATCH);
        else if (i >= hash_off + 32) CHECK_EQ(rc, FOTA_PKG_E_BAD_SIGNATURE);
        else if (i >= 16) CHECK(rc == FOTA_PKG_E_HASH_MISMATCH || rc == FOTA_PKG_E_BAD_META ||
                                rc == FOTA_PKG_E_BAD_SECTION);
        /* every other flip (bytes 5, 7..15) is caught structurally or by size */
    }
    CHECK(counts[-FOTA_PKG_E_HASH_MISMATCH - 200] > 0);

    /* truncated at every byte (prefix length unchanged) */
    for (size_t l = 0; l < n; l++) {
        int rc = vmem(pkg, l, &key_a);
        if (rc != FOTA_PKG_E_TRUNCATED) {
            CHECK_EQ(rc, FOTA_PKG_E_TRUNCATED);
            fprintf(stderr, "  at length %zu\n", l);
            break;
        }
    }
    /* explicitly at each boundary */
    uint32_t bounds[] = {0, 4, 8, 12, 16, s0 - 48 * 2, s0, s1, s1end, hash_off + 32, hash_off + 36};
    for (size_t i = 0; i < sizeof bounds / sizeof *bounds; i++)
        CHECK_EQ(vmem(pkg, bounds[i], &key_a), FOTA_PKG_E_TRUNCATED);
    /* truncated with the prefix length patched to match: never accepted */
    for (size_t l = FOTA_PKG_PREFIX_LEN; l < n; l++) {
        memcpy(b, pkg, l);
        put32(b + 8, (uint32_t)l);
        int rc = vmem(b, l, &key_a);
        if (rc == 0 || rc == FOTA_PKG_E_TRUNCATED) {
            CHECK(rc != 0 && rc != FOTA_PKG_E_TRUNCATED);
            fprintf(stderr, "  patched length %zu gave %s\n", l, fota_pkg_errname(rc));
            break;
        }
    }
    /* trailing bytes */
    memcpy(b, pkg, n);
    b[n] = 0;
    CHECK_EQ(vmem(b, n + 1, &key_a), FOTA_PKG_E_BAD_META);

    /* oversize */
    fota_pkg_policy small = key_a;
    small.max_size = (uint32_t)n - 1;
    CHECK_EQ(vmem(pkg, n, &small), FOTA_PKG_E_TOO_LARGE);
    small.max_size = (uint32_t)n;
    CHECK_EQ(vmem(pkg, n, &small), 0);
    memcpy(b, pkg, n);
    put32(b + 8, 491521);
    CHECK_EQ(vmem(b, n, &none), FOTA_PKG_E_TOO_LARGE);

    /* newer format version, and v1 (which named no release) */
    memcpy(b, pkg, n);
    put16(b + 4, 3);
    CHECK_EQ(vmem(b, n, &none), FOTA_PKG_E_BAD_VERSION);
    fota_pkg_info vi;
    CHECK_EQ(fota_pkg_verify_mem(b, n, &none, &vi), FOTA_PKG_E_BAD_VERSION);
    CHECK_EQ(vi.format_version, 3);
    put16(b + 4, 1);
    CHECK_EQ(vmem(b, n, &none), FOTA_PKG_E_BAD_VERSION);

    /* unknown section type, even with a valid hash and signature */
    uint8_t types[] = {0, 4, 5, 255};
    for (size_t i = 0; i < sizeof types; i++) {
        memcpy(b, pkg, n);
        b[s0 - 96] = types[i];
        rehash(b, hash_off, fx->ka.priv);
        CHECK_EQ(vmem(b, n, &key_a), FOTA_PKG_E_BAD_SECTION);
    }
    /* section length that does not add up */
    memcpy(b, pkg, n);
    put32(b + s0 - 96 + 8, get32(b + s0 - 96 + 8) + 1);
    rehash(b, hash_off, fx->ka.priv);
    CHECK_EQ(vmem(b, n, &key_a), FOTA_PKG_E_BAD_SECTION);
    /* section content hash wrong (package hash re-made, so only the section check sees it) */
    memcpy(b, pkg, n);
    b[s0 + 10] ^= 0x80;
    rehash(b, hash_off, fx->ka.priv);
    CHECK_EQ(vmem(b, n, &key_a), FOTA_PKG_E_HASH_MISMATCH);
    /* corrupt compressed script */
    memcpy(b, pkg, n);
    b[s1 + 5] ^= 0xff;
    rehash(b, hash_off, fx->ka.priv);
    int rc = vmem(b, n, &key_a);
    CHECK(rc == FOTA_PKG_E_BAD_SECTION || rc == FOTA_PKG_E_HASH_MISMATCH);
    /* hash made but signature stripped (flag cleared, length shortened): no_signature */
    memcpy(b, pkg, n);
    put16(b + 6, 0);
    put32(b + 8, (uint32_t)n - 68);
    rehash(b, hash_off, NULL);
    CHECK_EQ(vmem(b, n - 68, &key_a), FOTA_PKG_E_NO_SIGNATURE);
    CHECK_EQ(vmem(b, n - 68, &none), 0);
    /* forged signature by another key */
    memcpy(b, pkg, n);
    rehash(b, hash_off, fx->kb.priv);
    CHECK_EQ(vmem(b, n, &key_a), FOTA_PKG_E_BAD_SIGNATURE);
    CHECK_EQ(vmem(b, n, &key_b), 0);
    /* bad signature block header */
    memcpy(b, pkg, n);
    put16(b + hash_off + 32, 2);
    CHECK_EQ(vmem(b, n, &none), FOTA_PKG_E_BAD_SIGNATURE);
    /* zero r,s */
    memcpy(b, pkg, n);
    memset(b + hash_off + 36, 0, 64);
    CHECK_EQ(vmem(b, n, &key_a), FOTA_PKG_E_BAD_SIGNATURE);

    /* policy: project/bsp mismatch, unusable key, bad current version */
    fota_pkg_policy pp = none;
    pp.project = "other";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_BAD_META);
    pp = none;
    pp.bsp = "EC7XX";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_BAD_META);
    pp = none;
    pp.pubkey_pem = "not a key";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_ERR_ARG);
    pp.pubkey_pem = fx->ka.priv;    /* a private key is not a trusted public key */
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_ERR_ARG);
    pp = none;
    pp.current_script_version = "1.0";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_ERR_ARG);

    /* rollback: script and core */
    pp = none;
    pp.current_script_version = "1.0.3";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_ROLLBACK);
    pp.allow_rollback = 1;
    CHECK_EQ(vmem(pkg, n, &pp), 0);
    pp = none;
    pp.current_script_version = "1.0.2";     /* same version is not a rollback */
    CHECK_EQ(vmem(pkg, n, &pp), 0);
    pp = none;
    pp.current_core_version = 1105;
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_ROLLBACK);
    pp.allow_rollback = 1;
    CHECK_EQ(vmem(pkg, n, &pp), 0);
    pp = none;
    pp.current_core_version = 1104;
    CHECK_EQ(vmem(pkg, n, &pp), 0);
    /* the running release again (V1104 + 1.0.2): not without the reinstall flag */
    pp.current_script_version = "1.0.2";
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_SAME_RELEASE);
    pp.allow_rollback = 1;                   /* a replay is no rollback to excuse */
    CHECK_EQ(vmem(pkg, n, &pp), FOTA_PKG_E_SAME_RELEASE);
    pp.allow_rollback = 0;
    pp.current_script_version = "1.0.1";
    CHECK_EQ(vmem(pkg, n, &pp), 0);

    /* io */
    CHECK_EQ(fota_pkg_verify_file("/nonexistent/x.fota", NULL, NULL), FOTA_PKG_E_IO);
    CHECK_EQ(fota_pkg_verify_file(fx->dir, NULL, NULL) != 0, 1);

    /* short files */
    CHECK_EQ(vmem((const uint8_t *)"", 0, &none), FOTA_PKG_E_TRUNCATED);
    CHECK_EQ(vmem((const uint8_t *)"LF", 2, &none), FOTA_PKG_E_TRUNCATED);
    CHECK_EQ(vmem((const uint8_t *)"PK", 2, &none), FOTA_PKG_E_BAD_MAGIC);
    CHECK_EQ(vmem((const uint8_t *)"LFPK\1\0\0\0", 8, &none), FOTA_PKG_E_TRUNCATED);
    free(b);
    free(pkg);
}

typedef struct {
    const uint8_t *p;
    size_t n;
    int reads;
} memimg;

static int mem_read_core(void *ud, uint64_t off, void *buf, size_t len)
{
    memimg *m = ud;
    m->reads++;
    if (off > m->n || len > m->n - off) return FOTA_ERR_RANGE;
    memcpy(buf, m->p + off, len);
    return 0;
}

typedef struct {
    uint8_t *p;
    size_t n, cap;
} membuf;

static int mem_write(void *ud, const void *buf, size_t len)
{
    membuf *m = ud;
    if (len > m->cap - m->n) return FOTA_ERR_RANGE;
    memcpy(m->p + m->n, buf, len);
    m->n += len;
    return 0;
}

/* Core delta sections: verify applies them when it can read the core,
 * and the delta's header must agree with the package. */
static void test_delta_sections(fixture *fx, uint8_t *buf, const cmeta *m, const csec *d,
                                const uint8_t *old_core, size_t old_len,
                                const uint8_t *new_core, size_t new_len)
{
    uint32_t ho;
    size_t n = craft(buf, m, d, 1, &ho);
    memimg core = {old_core, old_len, 0};
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    pol.pubkey_pem = fx->ka.pub;
    pol.read_core = mem_read_core;
    pol.core_ud = &core;
    pol.core_size = old_len;
    CHECK_EQ(vmem(buf, n, &pol), 0);
    CHECK(core.reads > 0);                        /* the delta was really applied */
    /* another core of the same size: wrong base, found without a policy hash */
    uint8_t *other = malloc(old_len);
    memcpy(other, old_core, old_len);
    other[10] ^= 1;
    memimg oc = {other, old_len, 0};
    pol.core_ud = &oc;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    pol.core_size = old_len - 1;                  /* and of another size */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    pol.core_ud = &core;
    pol.core_size = old_len;
    pol.current_core_version = 1102;              /* version checked before any delta run */
    core.reads = 0;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    CHECK_EQ(core.reads, 0);
    pol.current_core_version = 0;

    /* apply into memory through the package */
    fota_pkg_reader r;
    CHECK_EQ(fota_pkg_open_mem(&r, buf, n, 0), 0);
    membuf out = {malloc(new_len + 16), 0, new_len + 16};
    fota_delta_io io;
    memset(&io, 0, sizeof io);
    io.read_old = mem_read_core;
    io.old_ud = &core;
    io.old_size = old_len;
    io.write_new = mem_write;
    io.new_ud = &out;
    CHECK_EQ(fota_pkg_apply_delta(&r, 0, &io), 0);
    CHECK_EQ(out.n, new_len);
    CHECK(memcmp(out.p, new_core, new_len) == 0);
    out.n = 0;
    io.old_ud = &oc;
    CHECK_EQ(fota_pkg_apply_delta(&r, 0, &io), FOTA_PKG_E_WRONG_BASE);
    CHECK_EQ(out.n, 0);                           /* nothing written for a wrong base */
    CHECK_EQ(fota_pkg_apply_delta(&r, 1, &io), FOTA_ERR_ARG);
    fota_pkg_close(&r);

    /* header disagreeing with the entry: result hash, size, base */
    csec bad = *d;
    bad.sha[0] ^= 1;
    CHECK_EQ(vmem(buf, craft(buf, m, &bad, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    bad = *d;
    bad.dec_len += 1;
    CHECK_EQ(vmem(buf, craft(buf, m, &bad, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    cmeta mb = *m;
    uint8_t base2[32];
    memset(base2, 0xab, 32);
    mb.base = base2;
    CHECK_EQ(vmem(buf, craft(buf, &mb, d, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    /* corrupt delta body (signed package, so only the applier can notice) */
    uint8_t *cd = malloc(d->len);
    memcpy(cd, d->data, d->len);
    cd[d->len - 5] ^= 0x55;
    bad = *d;
    bad.data = cd;
    n = craft(buf, m, &bad, 1, &ho);
    CHECK_EQ(vmem(buf, n, NULL), 0);              /* without the core: not checkable */
    int rc = vmem(buf, n, &pol);
    CHECK(rc == FOTA_PKG_E_BAD_SECTION || rc == FOTA_PKG_E_HASH_MISMATCH);
    bad.len = FOTA_DELTA_HEADER_LEN - 1;          /* shorter than a delta header */
    CHECK_EQ(vmem(buf, craft(buf, m, &bad, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    free(cd);
    free(other);
    free(out.p);
}

/* Mix-and-match: a partial package installs only next to a half it names;
 * the running release again only when marked reinstall. */
static void test_pairs(uint8_t *buf, const cmeta *script_only, const csec *sc, const cmeta *core_only,
                       const csec *core)
{
    uint32_t ho;
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    cmeta ms = *script_only;                      /* scripts 2.0.0 of release V1103 */
    size_t n = craft(buf, &ms, sc, 1, &ho);
    pol.current_core_version = 1103;
    pol.current_script_version = "1.0.1";
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_core_version = 1104;              /* would run 2.0.0 on V1104 */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_PAIR);
    pol.allow_rollback = 1;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_PAIR);
    pol.allow_rollback = 0;
    const uint32_t cores[] = {1103, 1104};
    ms.runs_core = cores;
    ms.runs_n = 2;
    n = craft(buf, &ms, sc, 1, &ho);
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_core_version = 1102;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_PAIR);
    pol.current_core_version = 1104;
    pol.current_script_version = "2.0.0";         /* V1104 + 2.0.0 already */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_SAME_RELEASE);
    ms.meta_flags = FOTA_PKG_META_REINSTALL;
    n = craft(buf, &ms, sc, 1, &ho);
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_core_version = 1102;              /* a reinstall still names its cores */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_PAIR);

    cmeta mc = *core_only;                        /* core V1104 with scripts 1.0.1 */
    n = craft(buf, &mc, core, 1, &ho);
    fota_pkg_policy_init(&pol);
    pol.current_core_version = 1103;
    pol.current_script_version = "1.0.1";
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_script_version = "01.0.1";        /* compared as versions */
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_script_version = "1.0.3";         /* would run 1.0.3 on V1104 */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_PAIR);
    pol.current_core_version = 1104;
    pol.current_script_version = "1.0.1";
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_SAME_RELEASE);
    pol.current_core_version = 1105;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_ROLLBACK);
    fota_pkg_info info;
    mc.meta_flags = FOTA_PKG_META_REINSTALL;
    n = craft(buf, &mc, core, 1, &ho);
    pol.current_core_version = 1104;
    CHECK_EQ(fota_pkg_verify_mem(buf, n, &pol, &info), 0);
    CHECK(info.reinstall);
    CHECK_EQ(info.release_core_version, 1104);
    CHECK(strcmp(info.release_script_version, "1.0.1") == 0);
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_WRONG_PAIR), "wrong_pair") == 0);
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_SAME_RELEASE), "same_release") == 0);
    CHECK(fota_pkg_refused(FOTA_PKG_E_SAME_RELEASE) && fota_pkg_refused(FOTA_PKG_E_BAD_MAGIC));
    CHECK(!fota_pkg_refused(FOTA_PKG_E_IO) && !fota_pkg_refused(FOTA_ERR_IO) && !fota_pkg_refused(0));
}

/* Packages assembled by hand: delta sections, metadata rules, bad archives. */
static void test_crafted(fixture *fx)
{
    uint8_t *buf = malloc(65536);
    uint8_t zb[4096];
    uint32_t ho;
    uint8_t base[32], image_sha[32];
    /* a real delta: old core 4000 bytes, new core 5000 (old with an insert) */
    static uint8_t old_core[4000], new_core[5000];
    ctest_fill(old_core, sizeof old_core, 3);
    memcpy(new_core, old_core, 2000);
    ctest_fill(new_core + 2000, 1000, 4);
    memcpy(new_core + 3000, old_core + 2000, 2000);
    new_core[4500] ^= 0x40;
    ctest_sha256(old_core, sizeof old_core, base);
    ctest_sha256(new_core, sizeof new_core, image_sha);
    uint8_t *delta = NULL;
    size_t delta_len = 0;
    CHECK_EQ(fota_delta_create(old_core, sizeof old_core, new_core, sizeof new_core, NULL, &delta,
                               &delta_len), 0);

    csec d = {FOTA_PKG_SEC_CORE_DELTA, delta, (uint32_t)delta_len, sizeof new_core, {0}};
    memcpy(d.sha, image_sha, 32);
    cmeta m = {"demo", "demo_LuatOS-SoC_EC618", "EC618", "", 1103, 1104, base, 0, 0, fx->ka.priv, NULL, 0, 0, NULL, NULL};
    size_t n = craft(buf, &m, &d, 1, &ho);
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    pol.pubkey_pem = fx->ka.pub;
    fota_pkg_info info;
    CHECK_EQ(fota_pkg_verify_mem(buf, n, &pol, &info), 0);
    CHECK_EQ(info.sections[0].type, FOTA_PKG_SEC_CORE_DELTA);
    CHECK_EQ(info.from_core_version, 1103);
    CHECK(memcmp(info.base_sha256, base, 32) == 0);
    /* wrong base: by hash and by version */
    pol.has_current_core_sha256 = 1;
    memcpy(pol.current_core_sha256, base, 32);
    CHECK_EQ(vmem(buf, n, &pol), 0);
    pol.current_core_sha256[31] ^= 1;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    pol.allow_rollback = 1;                      /* does not excuse a wrong base */
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    pol.allow_rollback = 0;
    pol.has_current_core_sha256 = 0;
    pol.current_core_version = 1102;
    CHECK_EQ(vmem(buf, n, &pol), FOTA_PKG_E_WRONG_BASE);
    pol.current_core_version = 1103;
    CHECK_EQ(vmem(buf, n, &pol), 0);
    /* delta stream yields stored bytes */
    fota_pkg_reader r;
    CHECK_EQ(fota_pkg_open_mem(&r, buf, n, 0), 0);
    fota_pkg_stream s;
    uint8_t out[512];
    size_t got, tot = 0;
    CHECK_EQ(fota_pkg_stream_open(&s, &r, 0), 0);
    while (fota_pkg_stream_read(&s, out, 100, &got) == 0 && got) tot += got;
    CHECK_EQ(tot, delta_len);
    fota_pkg_stream_close(&s);
    fota_pkg_close(&r);
    test_delta_sections(fx, buf, &m, &d, old_core, sizeof old_core, new_core, sizeof new_core);

    /* metadata rules */
    cmeta mm = m;
    mm.base = NULL;                               /* delta without base */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.from = 0;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.to = 0;                                    /* core section without version */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.project = "bad/name";
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.bsp = "";
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.flags = 4;                                 /* unknown flag */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.meta_flags = 2;                            /* unknown metadata flag */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.rel_script = "1.0";                        /* release scripts not x.y.z */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm = m;
    mm.runs_n = -1;                               /* a core alone pairing with nothing */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    const char *rs[] = {"1.0.1", "1.0.3", "1.0.3", "1.0", "1.0.2"};
    mm.runs_script = rs;
    mm.runs_n = 2;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), 0);
    mm.runs_n = 3;                                /* named twice */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm.runs_script = rs + 2;                      /* not x.y.z */
    mm.runs_n = 2;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm.runs_script = rs + 1;                      /* not ascending */
    mm.runs_n = 1;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), 0);
    const char *desc[] = {"1.0.3", "1.0.2"};
    mm.runs_script = desc;
    mm.runs_n = 2;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    const char *longv[] = {"1.0.12345678901234567890123456789"};   /* over 31 bytes */
    mm.runs_script = longv;
    mm.runs_n = 1;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm.runs_n = 9;                                /* over FOTA_PKG_MAX_RUNS_ON */
    const char *nine[] = {"1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6", "1.0.7", "1.0.8", "1.0.9"};
    mm.runs_script = nine;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm.runs_n = 8;
    CHECK_EQ(vmem(buf, craft(buf, &mm, &d, 1, &ho), NULL), 0);

    csec full = {FOTA_PKG_SEC_CORE_FULL, fx->core, sizeof fx->core, sizeof fx->core, {0}};
    ctest_sha256(fx->core, sizeof fx->core, full.sha);
    cmeta mf = {"demo", "demo_LuatOS-SoC_EC618", "EC618", "", 0, 1104, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};
    CHECK_EQ(vmem(buf, craft(buf, &mf, &full, 1, &ho), NULL), 0);
    mm = mf;
    mm.base = base;                               /* full image with a base */
    CHECK_EQ(vmem(buf, craft(buf, &mm, &full, 1, &ho), NULL), FOTA_PKG_E_BAD_META);
    csec full_bad = full;
    full_bad.dec_len = full.len + 1;              /* full image lengths disagree */
    CHECK_EQ(vmem(buf, craft(buf, &mf, &full_bad, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    csec two[2] = {full, d};                      /* two core sections */
    mm = mf;
    CHECK_EQ(vmem(buf, craft(buf, &mm, two, 2, &ho), NULL), FOTA_PKG_E_BAD_SECTION);

    /* script sections: good, traversal inside, wrong decoded length, trailing zlib bytes */
    const char *names[] = {"main.lua"}, *datas[] = {"print(1)"};
    uint8_t arc[256];
    size_t al = craft_arc(arc, names, datas, 1);
    csec sc = script_sec(arc, al, zb, sizeof zb);
    cmeta ms = {"demo", "demo_LuatOS-SoC_EC618", "EC618", "2.0.0", 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};
    CHECK_EQ(vmem(buf, craft(buf, &ms, &sc, 1, &ho), NULL), 0);
    csec both[2] = {sc, full};                    /* any order */
    mm = ms;
    mm.to = 1104;
    CHECK_EQ(vmem(buf, craft(buf, &mm, both, 2, &ho), NULL), 0);
    mm.runs_n = 1;                                /* a full release pairs with itself only */
    mm.runs_script = rs;
    CHECK_EQ(vmem(buf, craft(buf, &mm, both, 2, &ho), NULL), FOTA_PKG_E_BAD_META);
    mm.runs_n = 0;
    mm.script_version = "2.0";
    CHECK_EQ(vmem(buf, craft(buf, &mm, both, 2, &ho), NULL), FOTA_PKG_E_BAD_META);
    test_pairs(buf, &ms, &sc, &mf, &full);

    const char *evil[] = {"../evil.lua"};
    al = craft_arc(arc, evil, datas, 1);
    csec se = script_sec(arc, al, zb, sizeof zb);
    n = craft(buf, &ms, &se, 1, &ho);
    CHECK_EQ(vmem(buf, n, NULL), FOTA_PKG_E_BAD_SECTION);
    char dest[512], pbuf[512];
    snprintf(dest, sizeof dest, "%s/evil_dest", fx->dir);
    CHECK_EQ(fota_pkg_open_mem(&r, buf, n, 0), 0);
    CHECK_EQ(fota_pkg_extract_script(&r, dest), FOTA_PKG_E_BAD_SECTION);
    fota_pkg_close(&r);
    CHECK(!fota_port_exists(P(fx->dir, "evil.lua")));

    al = craft_arc(arc, names, datas, 1);
    csec sl = script_sec(arc, al, zb, sizeof zb);
    sl.dec_len += 1;
    CHECK_EQ(vmem(buf, craft(buf, &ms, &sl, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    sl.dec_len -= 2;
    CHECK_EQ(vmem(buf, craft(buf, &ms, &sl, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    csec st = script_sec(arc, al, zb, sizeof zb);
    zb[st.len] = 0;                               /* a byte after the zlib stream */
    st.len += 1;
    CHECK_EQ(vmem(buf, craft(buf, &ms, &st, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    csec sz = script_sec(arc, al, zb, sizeof zb);
    sz.len -= 3;                                  /* zlib stream cut short */
    CHECK_EQ(vmem(buf, craft(buf, &ms, &sz, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    csec sr = {FOTA_PKG_SEC_SCRIPT, arc, (uint32_t)al, (uint32_t)al, {0}};   /* not compressed */
    ctest_sha256(arc, al, sr.sha);
    CHECK_EQ(vmem(buf, craft(buf, &ms, &sr, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    /* a zlib bomb is cut at the declared size */
    uint8_t *zeros = calloc(1, 200000);
    uLongf zl = sizeof zb;
    CHECK_EQ(compress2(zb, &zl, zeros, 200000, 9), Z_OK);
    csec bomb = {FOTA_PKG_SEC_SCRIPT, zb, (uint32_t)zl, 100, {0}};
    CHECK_EQ(vmem(buf, craft(buf, &ms, &bomb, 1, &ho), NULL), FOTA_PKG_E_BAD_SECTION);
    free(zeros);
    free(buf);
    free(delta);
}

/* An archive of n entries of sizes[i] bytes of 'x' each (out must hold them). */
static size_t craft_arc_sized(uint8_t *out, const char *const *names, const uint32_t *sizes, unsigned n)
{
    memcpy(out, "LFSA", 4);
    put16(out + 4, 1);
    put16(out + 6, 0);
    put32(out + 8, n);
    size_t k = 12;
    for (unsigned i = 0; i < n; i++) {
        size_t nl = strlen(names[i]);
        put16(out + k, (uint16_t)nl); k += 2;
        memcpy(out + k, names[i], nl); k += nl;
        put32(out + k, sizes[i]); k += 4;
        memset(out + k, 'x', sizes[i]); k += sizes[i];
    }
    return k;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The bounded clash check against the obvious quadratic one, on many small
 * sorted name sets built from components that sort around '/'. */
static void test_clash_oracle(void)
{
    static const char *const comp[] = {"a", "b", "a-", "a.", "a+", "ab"};
    char store[16][40];
    const char *names[16];
    uint32_t x = 12345;
    unsigned clashes = 0;
    for (int round = 0; round < 3000; round++) {
        unsigned n = 0, want = 2 + (x >> 7) % 14;
        for (unsigned t = 0; t < 40 && n < want; t++) {
            char buf[40] = "";
            unsigned parts = 1 + (x = x * 1103515245u + 12345u) % 3 % 3;
            for (unsigned k = 0; k < parts; k++) {
                x = x * 1103515245u + 12345u;
                if (k) strcat(buf, "/");
                strcat(buf, comp[(x >> 16) % 6]);
            }
            int dup = 0;
            for (unsigned k = 0; k < n; k++) dup |= strcmp(store[k], buf) == 0;
            if (!dup) { strcpy(store[n], buf); names[n] = store[n]; n++; }
        }
        qsort(names, n, sizeof *names, cmp_str);
        int oracle = 0;
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < n; j++) {
                size_t l = strlen(names[i]);
                if (i != j && strncmp(names[i], names[j], l) == 0 && names[j][l] == '/') oracle = 1;
            }
        fota_arc_names st;
        fota_arc_names_init(&st);
        int rc = 0;
        for (unsigned i = 0; i < n && rc == 0; i++) rc = fota_arc_names_next(&st, names[i], strlen(names[i]));
        CHECK_EQ(rc, oracle ? FOTA_ARC_E_NAME_CLASH : 0);
        clashes += (unsigned)oracle;
    }
    CHECK(clashes > 300 && clashes < 2700);   /* both outcomes well exercised */
}

/* Archives that would verify yet could not boot (issue 32): a file that is
 * also a directory, a main.lua below the top, a path deeper than 8
 * directories, files over the script area. The parser, verify and the
 * packer refuse each with its own verdict. */
static void test_bootable(fixture *fx)
{
    char pbuf[512];
    static uint8_t a[300000];
    uint8_t *buf = malloc(400000), *zb = malloc(65536);
    rec_sink rs;
    uint32_t ho;
    const uint32_t one[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    const cmeta ms = {"demo", "demo_LuatOS-SoC_EC618", "EC618", "2.0.0", 0, 0, NULL, 0, 0, NULL, NULL, 0, 0, NULL, NULL};
    struct { const char *names[4]; unsigned n; int rc; } cases[] = {
        {{"a", "a/b"}, 2, FOTA_ARC_E_NAME_CLASH},
        {{"a", "a-x", "a.lua", "a/b"}, 4, FOTA_ARC_E_NAME_CLASH},    /* '-' and '.' sort before '/' */
        {{"lib", "lib+", "lib/x/y.lua"}, 3, FOTA_ARC_E_NAME_CLASH},   /* deeper below the file */
        {{"m.lua", "x/a", "x/a+", "x/a/b"}, 4, FOTA_ARC_E_NAME_CLASH},/* a longer prefix */
        {{"main.lua", "sub/main.lua"}, 2, FOTA_ARC_E_MAIN_NOT_TOP},
        {{"sub/main.lua"}, 1, FOTA_ARC_E_MAIN_NOT_TOP},
        {{"a/b/c/d/e/f/g/h/i/x.lua"}, 1, FOTA_ARC_E_TOO_DEEP},       /* 9 directories */
        {{"a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/a/x"},
         1, FOTA_ARC_E_TOO_DEEP},                                      /* 60 levels */
        /* bootable: no clash, main.lua only at the top, 8 directories */
        {{"a", "a-x", "a.lua", "ab/c"}, 4, 0},
        {{"main.lua", "main.luac", "sub/main.lua.txt", "sub/xmain.lua"}, 4, 0},
        {{"a/b/c/d/e/f/g/h/x.lua", "main.lua"}, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n = craft_arc_sized(a, cases[i].names, one, cases[i].n);
        CHECK_EQ(parse_arc(a, n, 3, &rs), cases[i].rc);
        CHECK_EQ(parse_arc(a, n, n, &rs), cases[i].rc);
        csec sc = script_sec(a, n, zb, 65536);
        int want = cases[i].rc;   /* FOTA_ARC_E_* are FOTA_PKG_E_* */
        CHECK_EQ(vmem(buf, craft(buf, &ms, &sc, 1, &ho), NULL), want);
        if (want) CHECK_EQ(fota_pkg_refused(want), 1);
        /* the packer refuses the same names, in any input order */
        const char *paths[4], *rev[4];
        for (unsigned k = 0; k < cases[i].n; k++) {
            paths[k] = fx->core_path;
            rev[k] = cases[i].names[cases[i].n - 1 - k];
        }
        char out[512];
        snprintf(out, sizeof out, "%s/boot%zu.lfsa", fx->dir, i);
        CHECK_EQ(fota_arc_pack(cases[i].names, paths, cases[i].n, out), want);
        CHECK_EQ(fota_arc_pack(rev, paths, cases[i].n, out), want);
        CHECK_EQ(fota_port_exists(out), want == 0);
    }
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_NAME_CLASH), "name_clash") == 0);
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_MAIN_NOT_TOP), "main_not_top") == 0);
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_PATH_TOO_DEEP), "path_too_deep") == 0);
    CHECK(strcmp(fota_pkg_errname(FOTA_PKG_E_SCRIPTS_TOO_LARGE), "scripts_too_large") == 0);
    /* unsorted stays a format error ("a/b" before "a") */
    const char *uns[] = {"a/b", "a"};
    CHECK_EQ(parse_arc(a, craft_arc_sized(a, uns, one, 2), 7, &rs), FOTA_ERR_FORMAT);

    /* a project directory with sub/main.lua: refused at build, saying which */
    char src[512], why[600];
    snprintf(src, sizeof src, "%s/twomain", fx->dir);
    mkdir(src, 0755);
    ctest_write_file(P(src, "main.lua"), "x", 1);
    mkdir(P(src, "sub"), 0755);
    ctest_write_file(P(src, "sub/main.lua"), "x", 1);
    CHECK_EQ(fota_arc_pack_path(src, P(fx->dir, "twomain.lfsa"), why, sizeof why), FOTA_ERR_ARG);
    CHECK(strstr(why, "sub/main.lua: a main.lua below the top") != NULL);
    CHECK(!fota_port_exists(P(fx->dir, "twomain.lfsa")));
    const char *clash[] = {"lib/x.lua", "lib"};
    CHECK_EQ(fota_arc_pack(clash, (const char *const[]){fx->core_path, fx->core_path}, 2, P(fx->dir, "c.lfsa")),
             FOTA_ARC_E_NAME_CLASH);

    /* the script area: the files' bytes, default an Air780E's 128 KiB */
    fota_pkg_policy pol;
    fota_pkg_policy_init(&pol);
    CHECK_EQ(pol.script_area, 131072);
    const char *two[] = {"big.bin", "main.lua"};
    uint32_t fit[] = {131072 - 10, 10}, over[] = {131072 - 10, 11};
    size_t n = craft_arc_sized(a, two, fit, 2);
    csec sc = script_sec(a, n, zb, 65536);
    size_t pn = craft(buf, &ms, &sc, 1, &ho);
    CHECK_EQ(vmem(buf, pn, NULL), 0);
    CHECK_EQ(vmem(buf, pn, &pol), 0);
    n = craft_arc_sized(a, two, over, 2);
    sc = script_sec(a, n, zb, 65536);
    pn = craft(buf, &ms, &sc, 1, &ho);
    CHECK_EQ(vmem(buf, pn, NULL), FOTA_PKG_E_SCRIPTS_TOO_LARGE);
    CHECK_EQ(vmem(buf, pn, &pol), FOTA_PKG_E_SCRIPTS_TOO_LARGE);
    CHECK_EQ(fota_pkg_refused(FOTA_PKG_E_SCRIPTS_TOO_LARGE), 1);
    pol.script_area = 448 * 1024;                 /* a module built with a larger area */
    CHECK_EQ(vmem(buf, pn, &pol), 0);
    pol.script_area = 131072 - 11;
    CHECK_EQ(vmem(buf, pn, &pol), FOTA_PKG_E_SCRIPTS_TOO_LARGE);
    /* the parser stops at the entry that crosses it, before its data */
    fota_arc_parser p;
    fota_arc_sink sink = {rec_begin, rec_data, rec_end, &rs};
    memset(&rs, 0, sizeof rs);
    fota_arc_parser_init(&p, &sink);
    fota_arc_parser_set_area(&p, 131072);
    CHECK_EQ(fota_arc_parser_feed(&p, a, n), FOTA_ARC_E_TOO_LARGE);
    CHECK(strstr(rs.log, "[main.lua") == NULL);
    /* a small package declaring 16 MiB of files: refused without unpacking them */
    const char *bomb[] = {"main.lua"};
    uint32_t huge[] = {FOTA_ARC_MAX_SIZE - 100};
    uint8_t *arc = malloc(FOTA_ARC_MAX_SIZE);
    n = craft_arc_sized(arc, bomb, huge, 1);
    uLongf zl = 65536;
    CHECK_EQ(compress2(zb, &zl, arc, n, 9), Z_OK);
    csec sb = {FOTA_PKG_SEC_SCRIPT, zb, (uint32_t)zl, (uint32_t)n, {0}};
    ctest_sha256(arc, n, sb.sha);
    pn = craft(buf, &ms, &sb, 1, &ho);
    CHECK(pn < 120 * 1024);
    CHECK_EQ(vmem(buf, pn, NULL), FOTA_PKG_E_SCRIPTS_TOO_LARGE);
    free(arc);
    free(buf);
    free(zb);
}

int main(void)
{
    fixture *fx = calloc(1, sizeof *fx);
    char pbuf[512];
    snprintf(fx->dir, sizeof fx->dir, "%s", ctest_tmpdir("test_pkg"));
    test_versions();
    test_errnames();
    test_prefix();
    test_archive(fx->dir);

    CHECK_EQ(fota_sig_keygen(fx->ka.priv, sizeof fx->ka.priv, fx->ka.pub, sizeof fx->ka.pub), 0);
    CHECK_EQ(fota_sig_keygen(fx->kb.priv, sizeof fx->kb.priv, fx->kb.pub, sizeof fx->kb.pub), 0);
    char pub2[1024];
    CHECK_EQ(fota_sig_pubkey_from_private(fx->ka.priv, pub2, sizeof pub2), 0);
    CHECK(strcmp(pub2, fx->ka.pub) == 0);
    ctest_fill(fx->core, sizeof fx->core, 42);
    snprintf(fx->core_path, sizeof fx->core_path, "%s/core.bin", fx->dir);
    ctest_write_file(fx->core_path, fx->core, sizeof fx->core);
    uint8_t h[32], h2[32];
    uint64_t len = 0;
    CHECK_EQ(fota_sha256_file(fx->core_path, 1 << 20, h, &len), 0);
    ctest_sha256(fx->core, sizeof fx->core, h2);
    CHECK(memcmp(h, h2, 32) == 0 && len == sizeof fx->core);
    CHECK_EQ(fota_sha256_file(fx->core_path, 10, h, NULL), FOTA_ERR_RANGE);
    /* A small script archive keeps the per-byte tests quick. */
    char m1[512], m2[512];
    snprintf(m1, sizeof m1, "%s/main.lua", fx->dir);
    snprintf(m2, sizeof m2, "%s/util.lua", fx->dir);
    ctest_write_file(m1, "print('main')\n", 14);
    ctest_write_file(m2, "return {}\n", 10);
    const char *names[] = {"main.lua", "lib/util.lua"};
    const char *paths[] = {m1, m2};
    snprintf(fx->arc_path, sizeof fx->arc_path, "%s/small.lfsa", fx->dir);
    CHECK_EQ(fota_arc_pack(names, paths, 2, fx->arc_path), 0);
    fx->arc = ctest_read_file(fx->arc_path, &fx->arc_len);
    CHECK(fx->arc != NULL);
    (void)pbuf;

    test_roundtrip(fx);
    test_writer_errors(fx);
    test_errors(fx);
    test_crafted(fx);
    test_bootable(fx);
    test_clash_oracle();
    free(fx->arc);
    free(fx);
    return ctest_finish("test_pkg");
}
