/* Upgrade package reader, verifier and writer; script archive. Format in
 * docs/package-format.md. Every length read from input is checked against
 * fixed bounds before use; arithmetic on offsets is done in 64 bits. */
#include "core/pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/version.h>

#include "port/fota_err.h"

/* mbedTLS 2.x and 3.x differ in a few names; the device may carry either. */
#if MBEDTLS_VERSION_MAJOR >= 3
#define SHA_START(c) mbedtls_sha256_starts((c), 0)
#define SHA_UPDATE(c, p, n) mbedtls_sha256_update((c), (p), (n))
#define SHA_FINISH(c, o) mbedtls_sha256_finish((c), (o))
#define MBED_PRIV(x) MBEDTLS_PRIVATE(x)
#else
#define SHA_START(c) mbedtls_sha256_starts_ret((c), 0)
#define SHA_UPDATE(c, p, n) mbedtls_sha256_update_ret((c), (p), (n))
#define SHA_FINISH(c, o) mbedtls_sha256_finish_ret((c), (o))
#define MBED_PRIV(x) x
#endif

#define COPY_BUF 4096
#define MAX_PEM 16384

/* A delta's images are core images: one bound for both. */
_Static_assert(FOTA_DELTA_MAX_IMAGE == FOTA_PKG_MAX_IMAGE, "delta and package image bounds differ");

/* ------------------------------------------------------------------ */
/* little-endian helpers                                               */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static int is_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++) acc |= p[i];
    return acc == 0;
}

/* ------------------------------------------------------------------ */
/* names                                                               */

const char *fota_pkg_errname(int code)
{
    switch (code) {
    case 0: return "ok";
    case FOTA_PKG_E_BAD_MAGIC: return "bad_magic";
    case FOTA_PKG_E_BAD_VERSION: return "bad_version";
    case FOTA_PKG_E_TRUNCATED: return "truncated";
    case FOTA_PKG_E_TOO_LARGE: return "too_large";
    case FOTA_PKG_E_BAD_SECTION: return "bad_section";
    case FOTA_PKG_E_HASH_MISMATCH: return "hash_mismatch";
    case FOTA_PKG_E_BAD_SIGNATURE: return "bad_signature";
    case FOTA_PKG_E_NO_SIGNATURE: return "no_signature";
    case FOTA_PKG_E_WRONG_BASE: return "wrong_base";
    case FOTA_PKG_E_ROLLBACK: return "rollback";
    case FOTA_PKG_E_BAD_META: return "bad_meta";
    case FOTA_PKG_E_IO: return "io";
    case FOTA_ERR_IO: return "io";
    case FOTA_ERR_NOMEM: return "nomem";
    case FOTA_ERR_ARG: return "bad_arg";
    case FOTA_ERR_STATE: return "bad_state";
    case FOTA_ERR_RANGE: return "range";
    case FOTA_ERR_FORMAT: return "format";
    case FOTA_ERR_NOENT: return "noent";
    case FOTA_ERR_POWER: return "power";
    default: {
        const char *d = fota_delta_errname(code);
        return d ? d : "unknown";
    }
    }
}

/* ------------------------------------------------------------------ */
/* versions and strings                                                */

int fota_pkg_version_valid(const char *s)
{
    if (!s) return 0;
    int parts = 0;
    for (;;) {
        size_t digits = 0;
        while (s[digits] >= '0' && s[digits] <= '9') digits++;
        if (digits == 0) return 0;
        s += digits;
        parts++;
        if (*s == '.' && parts < 3) { s++; continue; }
        return *s == '\0' && parts == 3;
    }
}

/* Compares one digit run; advances both pointers past it and the dot. */
static int cmp_part(const char **pa, const char **pb)
{
    const char *a = *pa, *b = *pb;
    while (*a == '0' && a[1] >= '0' && a[1] <= '9') a++;
    while (*b == '0' && b[1] >= '0' && b[1] <= '9') b++;
    size_t la = 0, lb = 0;
    while (a[la] >= '0' && a[la] <= '9') la++;
    while (b[lb] >= '0' && b[lb] <= '9') lb++;
    int c = la < lb ? -1 : la > lb ? 1 : 0;
    if (c == 0) {
        int m = memcmp(a, b, la);
        c = m < 0 ? -1 : m > 0 ? 1 : 0;
    }
    *pa = a + la + (a[la] == '.');
    *pb = b + lb + (b[lb] == '.');
    return c;
}

int fota_pkg_version_compare(const char *a, const char *b, int *cmp)
{
    if (!cmp || !fota_pkg_version_valid(a) || !fota_pkg_version_valid(b)) return FOTA_ERR_ARG;
    int c = 0;
    for (int i = 0; i < 3; i++) {
        int r = cmp_part(&a, &b);
        if (c == 0) c = r;
    }
    *cmp = c;
    return 0;
}

int fota_pkg_parse_core_version(const char *s, uint32_t *out)
{
    if (!s || !out) return FOTA_ERR_ARG;
    if (*s == 'V' || *s == 'v') s++;
    uint32_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 9) return FOTA_ERR_ARG;  /* 9 digits cannot overflow */
        v = v * 10 + (uint32_t)(s[n] - '0');
    }
    if (n == 0 || v == 0) return FOTA_ERR_ARG;
    *out = v;
    return 0;
}

/* Metadata strings are restricted so they are safe as file names, in JSON
 * and in log lines without escaping. */
static int meta_str_ok(const char *s, size_t len)
{
    if (len < 1 || len > FOTA_PKG_MAX_STR) return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

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

/* ------------------------------------------------------------------ */
/* prefix                                                              */

int fota_pkg_parse_prefix(const uint8_t p[FOTA_PKG_PREFIX_LEN], uint32_t *total_len,
                          uint16_t *version, uint16_t *flags)
{
    if (!p) return FOTA_ERR_ARG;
    if (memcmp(p, FOTA_PKG_MAGIC, 4) != 0) return FOTA_PKG_E_BAD_MAGIC;
    uint16_t v = get16(p + 4), f = get16(p + 6);
    uint32_t t = get32(p + 8);
    if (version) *version = v;
    if (flags) *flags = f;
    if (total_len) *total_len = t;
    if (v == 0 || v > FOTA_PKG_FORMAT_VERSION) return FOTA_PKG_E_BAD_VERSION;
    if (f & ~FOTA_PKG_FLAG_SIGNED) return FOTA_PKG_E_BAD_META;
    if (t < FOTA_PKG_MIN_LEN) return FOTA_PKG_E_BAD_META;
    return 0;
}

/* ------------------------------------------------------------------ */
/* sources                                                             */

static int file_read(void *ud, uint64_t off, void *buf, size_t len, size_t *got)
{
    return fota_port_pread((fota_port_file *)ud, off, buf, len, got);
}

static int mem_read(void *ud, uint64_t off, void *buf, size_t len, size_t *got)
{
    fota_pkg_reader *r = ud;
    *got = 0;
    if (off >= r->mem_len) return 0;
    size_t avail = r->mem_len - (size_t)off;
    size_t n = len < avail ? len : avail;
    memcpy(buf, r->mem + off, n);
    *got = n;
    return 0;
}

/* Reads up to len bytes; *got short only at end of input. */
static int src_read_upto(fota_pkg_reader *r, uint64_t off, void *buf, size_t len, size_t *got)
{
    size_t done = 0;
    while (done < len) {
        size_t g = 0;
        if (r->src.read(r->src.ud, off + done, (uint8_t *)buf + done, len - done, &g) != 0)
            return FOTA_PKG_E_IO;
        if (g == 0 || g > len - done) break;
        done += g;
    }
    *got = done;
    return 0;
}

static int src_read_exact(fota_pkg_reader *r, uint64_t off, void *buf, size_t len)
{
    size_t got;
    int rc = src_read_upto(r, off, buf, len, &got);
    if (rc) return rc;
    return got == len ? 0 : FOTA_PKG_E_TRUNCATED;
}

/* ------------------------------------------------------------------ */
/* header parsing                                                      */

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    int bad;
} cursor;

static const uint8_t *cur_take(cursor *c, size_t n)
{
    if (c->bad || n > c->len - c->pos) { c->bad = 1; return NULL; }
    const uint8_t *q = c->p + c->pos;
    c->pos += n;
    return q;
}

static void cur_str(cursor *c, char out[FOTA_PKG_MAX_STR + 1], int may_be_empty)
{
    const uint8_t *l = cur_take(c, 1);
    if (!l) return;
    size_t n = *l;
    const uint8_t *s = cur_take(c, n);
    if (!s) return;
    if (n == 0 && may_be_empty) { out[0] = '\0'; return; }
    if (!meta_str_ok((const char *)s, n)) { c->bad = 1; return; }
    memcpy(out, s, n);
    out[n] = '\0';
}

static uint32_t cur_u32(cursor *c)
{
    const uint8_t *q = cur_take(c, 4);
    return q ? get32(q) : 0;
}

static int parse_meta(fota_pkg_info *in, const uint8_t *p, size_t len)
{
    cursor c = {p, len, 0, 0};
    cur_str(&c, in->project, 0);
    cur_str(&c, in->firmware, 0);
    cur_str(&c, in->bsp, 0);
    in->from_core_version = cur_u32(&c);
    const uint8_t *h = cur_take(&c, 32);
    if (h) memcpy(in->base_sha256, h, 32);
    in->to_core_version = cur_u32(&c);
    cur_str(&c, in->script_version, 1);
    /* Exact length: a v1 reader must understand every byte it hashes. */
    if (c.bad || c.pos != len) return FOTA_PKG_E_BAD_META;
    if (in->script_version[0] && !fota_pkg_version_valid(in->script_version))
        return FOTA_PKG_E_BAD_META;
    return 0;
}

static int parse_table(fota_pkg_info *in, const uint8_t *p, uint32_t data_start)
{
    uint64_t expect = data_start;
    int have_core = 0, have_script = 0;
    for (unsigned i = 0; i < in->section_count; i++) {
        const uint8_t *e = p + (size_t)i * FOTA_PKG_SECTION_ENTRY_LEN;
        fota_pkg_section *s = &in->sections[i];
        s->type = e[0];
        s->offset = get32(e + 4);
        s->length = get32(e + 8);
        s->decoded_length = get32(e + 12);
        memcpy(s->sha256, e + 16, 32);
        if (e[1] != 0 || get16(e + 2) != 0) return FOTA_PKG_E_BAD_SECTION;
        switch (s->type) {
        case FOTA_PKG_SEC_CORE_DELTA:
        case FOTA_PKG_SEC_CORE_FULL:
            if (have_core++) return FOTA_PKG_E_BAD_SECTION;
            break;
        case FOTA_PKG_SEC_SCRIPT:
            if (have_script++) return FOTA_PKG_E_BAD_SECTION;
            break;
        default:
            return FOTA_PKG_E_BAD_SECTION;
        }
        /* Sections are contiguous, in table order, straight after the table. */
        if (s->offset != expect || s->length == 0) return FOTA_PKG_E_BAD_SECTION;
        if (s->decoded_length == 0 || s->decoded_length > FOTA_PKG_MAX_IMAGE)
            return FOTA_PKG_E_BAD_SECTION;
        if (s->type == FOTA_PKG_SEC_CORE_FULL && s->decoded_length != s->length)
            return FOTA_PKG_E_BAD_SECTION;
        if (s->type == FOTA_PKG_SEC_SCRIPT && s->decoded_length < FOTA_ARC_HEADER_LEN)
            return FOTA_PKG_E_BAD_SECTION;
        expect += s->length;
    }
    uint64_t sig = (in->flags & FOTA_PKG_FLAG_SIGNED) ? FOTA_PKG_SIG_BLOCK_LEN : 0;
    if (expect + FOTA_PKG_HASH_LEN + sig != in->total_len) return FOTA_PKG_E_BAD_SECTION;
    in->hash_offset = (uint32_t)expect;
    return 0;
}

/* Metadata must describe exactly the sections present. */
static int check_consistency(const fota_pkg_info *in)
{
    const fota_pkg_section *core = NULL, *script = NULL;
    for (unsigned i = 0; i < in->section_count; i++) {
        if (in->sections[i].type == FOTA_PKG_SEC_SCRIPT) script = &in->sections[i];
        else core = &in->sections[i];
    }
    int has_base = !is_zero(in->base_sha256, 32);
    if ((core != NULL) != (in->to_core_version != 0)) return FOTA_PKG_E_BAD_META;
    if ((script != NULL) != (in->script_version[0] != '\0')) return FOTA_PKG_E_BAD_META;
    if (core && core->type == FOTA_PKG_SEC_CORE_DELTA) {
        if (!has_base || in->from_core_version == 0) return FOTA_PKG_E_BAD_META;
    } else if (has_base || in->from_core_version != 0) {
        return FOTA_PKG_E_BAD_META;
    }
    return 0;
}

static int open_common(fota_pkg_reader *r, uint32_t max_size)
{
    fota_pkg_info *in = &r->info;
    uint8_t hdr[FOTA_PKG_MAX_HEADER];
    size_t got = 0;
    uint32_t max = max_size ? max_size : FOTA_PKG_DEFAULT_MAX_SIZE;

    int rc = src_read_upto(r, 0, hdr, FOTA_PKG_PREFIX_LEN, &got);
    if (rc) return rc;
    if (got < FOTA_PKG_PREFIX_LEN) {
        size_t m = got < 4 ? got : 4;
        return memcmp(hdr, FOTA_PKG_MAGIC, m) ? FOTA_PKG_E_BAD_MAGIC : FOTA_PKG_E_TRUNCATED;
    }
    rc = fota_pkg_parse_prefix(hdr, &in->total_len, &in->format_version, &in->flags);
    if (rc) return rc;
    in->is_signed = (in->flags & FOTA_PKG_FLAG_SIGNED) != 0;
    if (in->total_len > max) return FOTA_PKG_E_TOO_LARGE;
    if (r->src.size < in->total_len) return FOTA_PKG_E_TRUNCATED;
    if (r->src.size > in->total_len) return FOTA_PKG_E_BAD_META;  /* trailing bytes */

    rc = src_read_exact(r, FOTA_PKG_PREFIX_LEN, hdr + FOTA_PKG_PREFIX_LEN,
                        FOTA_PKG_HEADER_LEN - FOTA_PKG_PREFIX_LEN);
    if (rc) return rc;
    uint16_t meta_len = get16(hdr + 12);
    unsigned count = hdr[14];
    if (hdr[15] != 0 || meta_len > FOTA_PKG_MAX_META) return FOTA_PKG_E_BAD_META;
    if (count == 0 || count > FOTA_PKG_MAX_SECTIONS) return FOTA_PKG_E_BAD_SECTION;
    in->section_count = count;
    size_t hdr_len = FOTA_PKG_HEADER_LEN + (size_t)meta_len + count * FOTA_PKG_SECTION_ENTRY_LEN;
    if (hdr_len + FOTA_PKG_HASH_LEN > in->total_len) return FOTA_PKG_E_BAD_META;
    rc = src_read_exact(r, FOTA_PKG_HEADER_LEN, hdr + FOTA_PKG_HEADER_LEN,
                        hdr_len - FOTA_PKG_HEADER_LEN);
    if (rc) return rc;
    rc = parse_meta(in, hdr + FOTA_PKG_HEADER_LEN, meta_len);
    if (rc) return rc;
    rc = parse_table(in, hdr + FOTA_PKG_HEADER_LEN + meta_len, (uint32_t)hdr_len);
    if (rc) return rc;
    rc = check_consistency(in);
    if (rc) return rc;
    return src_read_exact(r, in->hash_offset, in->sha256, FOTA_PKG_HASH_LEN);
}

int fota_pkg_open_source(fota_pkg_reader *r, const fota_pkg_source *src, uint32_t max_size)
{
    if (!r || !src || !src->read) return FOTA_ERR_ARG;
    memset(r, 0, sizeof *r);
    r->src = *src;
    int rc = open_common(r, max_size);
    if (rc) fota_pkg_close(r);
    return rc;
}

int fota_pkg_open_mem(fota_pkg_reader *r, const uint8_t *p, size_t len, uint32_t max_size)
{
    if (!r || (!p && len)) return FOTA_ERR_ARG;
    memset(r, 0, sizeof *r);
    r->mem = p;
    r->mem_len = len;
    r->src.read = mem_read;
    r->src.ud = r;
    r->src.size = len;
    int rc = open_common(r, max_size);
    if (rc) fota_pkg_close(r);
    return rc;
}

int fota_pkg_open_file(fota_pkg_reader *r, const char *path, uint32_t max_size)
{
    if (!r || !path) return FOTA_ERR_ARG;
    memset(r, 0, sizeof *r);
    if (fota_port_open(&r->file, path, FOTA_PORT_READ) != 0) { r->file = NULL; return FOTA_PKG_E_IO; }
    uint64_t size;
    if (fota_port_size(r->file, &size) != 0) { fota_pkg_close(r); return FOTA_PKG_E_IO; }
    r->src.read = file_read;
    r->src.ud = r->file;
    r->src.size = size;
    int rc = open_common(r, max_size);
    if (rc) fota_pkg_close(r);
    return rc;
}

void fota_pkg_close(fota_pkg_reader *r)
{
    if (!r) return;
    if (r->file) fota_port_close(r->file);
    r->file = NULL;
    r->mem = NULL;
    r->mem_len = 0;
    r->src.read = NULL;
}

/* ------------------------------------------------------------------ */
/* section access                                                      */

int fota_pkg_read_section(fota_pkg_reader *r, unsigned idx, uint32_t off, void *buf,
                          size_t len, size_t *got)
{
    if (!r || !r->src.read || !got || (!buf && len) || idx >= r->info.section_count)
        return FOTA_ERR_ARG;
    const fota_pkg_section *s = &r->info.sections[idx];
    *got = 0;
    if (off >= s->length) return 0;
    size_t n = s->length - off;
    if (len < n) n = len;
    int rc = src_read_exact(r, (uint64_t)s->offset + off, buf, n);
    if (rc) return rc;
    *got = n;
    return 0;
}

int fota_pkg_stream_open(fota_pkg_stream *s, fota_pkg_reader *r, unsigned idx)
{
    if (!s || !r || !r->src.read || idx >= r->info.section_count) return FOTA_ERR_ARG;
    memset(s, 0, sizeof *s);
    s->r = r;
    s->idx = idx;
    mbedtls_sha256_init(&s->sha);
    if (SHA_START(&s->sha) != 0) { mbedtls_sha256_free(&s->sha); return FOTA_ERR_NOMEM; }
    if (r->info.sections[idx].type == FOTA_PKG_SEC_SCRIPT) {
        /* zlib allocates its own window: bounded (about 44 KiB for 32 KiB windows). */
        if (inflateInit(&s->z) != Z_OK) { mbedtls_sha256_free(&s->sha); return FOTA_ERR_NOMEM; }
        s->z_active = 1;
    }
    return 0;
}

static int stream_finish(fota_pkg_stream *s, const fota_pkg_section *sec)
{
    s->done = 1;
    /* A delta's length and hash describe the image it produces, checked
     * by whoever applies it; here only its stored bytes are passed on. */
    if (sec->type == FOTA_PKG_SEC_CORE_DELTA) return 0;
    if (s->out_len != sec->decoded_length) return FOTA_PKG_E_BAD_SECTION;
    uint8_t h[32];
    if (SHA_FINISH(&s->sha, h) != 0) return FOTA_ERR_NOMEM;
    return memcmp(h, sec->sha256, 32) ? FOTA_PKG_E_HASH_MISMATCH : 0;
}

static int stream_read_inner(fota_pkg_stream *s, uint8_t *buf, size_t cap, size_t *got)
{
    const fota_pkg_section *sec = &s->r->info.sections[s->idx];
    if (sec->type != FOTA_PKG_SEC_SCRIPT) {
        uint32_t left = sec->length - s->in_off;
        if (left == 0) return stream_finish(s, sec);
        size_t n = cap < left ? cap : left;
        int rc = src_read_exact(s->r, (uint64_t)sec->offset + s->in_off, buf, n);
        if (rc) return rc;
        if (SHA_UPDATE(&s->sha, buf, n) != 0) return FOTA_ERR_NOMEM;
        s->in_off += (uint32_t)n;
        s->out_len += (uint32_t)n;
        *got = n;
        return 0;
    }
    if (s->z_end) return stream_finish(s, sec);
    if (cap > 65536) cap = 65536;   /* keeps avail_out in uInt */
    for (;;) {
        if (s->z.avail_in == 0 && s->in_off < sec->length) {
            uint32_t left = sec->length - s->in_off;
            size_t n = left < sizeof s->in ? left : sizeof s->in;
            int rc = src_read_exact(s->r, (uint64_t)sec->offset + s->in_off, s->in, n);
            if (rc) return rc;
            s->in_off += (uint32_t)n;
            s->z.next_in = s->in;
            s->z.avail_in = (uInt)n;
        }
        s->z.next_out = buf;
        s->z.avail_out = (uInt)cap;
        int zr = inflate(&s->z, Z_NO_FLUSH);
        size_t produced = cap - s->z.avail_out;
        if (zr == Z_MEM_ERROR) return FOTA_ERR_NOMEM;
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) return FOTA_PKG_E_BAD_SECTION;
        if (produced) {
            if (produced > (size_t)(sec->decoded_length - s->out_len)) return FOTA_PKG_E_BAD_SECTION;
            if (SHA_UPDATE(&s->sha, buf, produced) != 0) return FOTA_ERR_NOMEM;
            s->out_len += (uint32_t)produced;
        }
        if (zr == Z_STREAM_END) {
            /* The zlib stream must fill the section exactly. */
            if (s->z.avail_in != 0 || s->in_off != sec->length) return FOTA_PKG_E_BAD_SECTION;
            s->z_end = 1;
            if (produced) { *got = produced; return 0; }
            return stream_finish(s, sec);
        }
        if (produced) { *got = produced; return 0; }
        if (zr == Z_BUF_ERROR && s->z.avail_in == 0 && s->in_off == sec->length)
            return FOTA_PKG_E_BAD_SECTION;  /* compressed data ends early */
    }
}

int fota_pkg_stream_read(fota_pkg_stream *s, uint8_t *buf, size_t cap, size_t *got)
{
    if (!s || !s->r || !buf || !got || cap == 0) return FOTA_ERR_ARG;
    *got = 0;
    if (s->err) return s->err;
    if (s->done) return 0;
    int rc = stream_read_inner(s, buf, cap, got);
    if (rc) { s->err = rc; *got = 0; }
    return rc;
}

void fota_pkg_stream_close(fota_pkg_stream *s)
{
    if (!s || !s->r) return;
    if (s->z_active) inflateEnd(&s->z);
    mbedtls_sha256_free(&s->sha);
    s->z_active = 0;
    s->r = NULL;
}

/* ------------------------------------------------------------------ */
/* signatures                                                          */

typedef struct {
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context drbg;
} rng_ctx;

static int rng_init(rng_ctx *g)
{
    static const unsigned char pers[] = "luat-fota";
    mbedtls_entropy_init(&g->ent);
    mbedtls_ctr_drbg_init(&g->drbg);
    return mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->ent, pers, sizeof pers - 1)
               ? FOTA_ERR_IO : 0;
}

static void rng_free(rng_ctx *g)
{
    mbedtls_ctr_drbg_free(&g->drbg);
    mbedtls_entropy_free(&g->ent);
}

static int pem_len(const char *pem, size_t *len)
{
    if (!pem) return FOTA_ERR_ARG;
    size_t n = strnlen(pem, MAX_PEM);
    if (n == 0 || n >= MAX_PEM) return FOTA_ERR_ARG;
    *len = n + 1;   /* mbedTLS wants the NUL counted for PEM */
    return 0;
}

static int is_p256(mbedtls_pk_context *pk)
{
    if (mbedtls_pk_get_type(pk) != MBEDTLS_PK_ECKEY) return 0;
    return mbedtls_pk_ec(*pk)->MBED_PRIV(grp).id == MBEDTLS_ECP_DP_SECP256R1;
}

static int load_private(mbedtls_pk_context *pk, const char *pem, rng_ctx *g)
{
    size_t len;
    if (pem_len(pem, &len)) return FOTA_ERR_ARG;
#if MBEDTLS_VERSION_MAJOR >= 3
    int rc = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len, NULL, 0,
                                  mbedtls_ctr_drbg_random, &g->drbg);
#else
    (void)g;
    int rc = mbedtls_pk_parse_key(pk, (const unsigned char *)pem, len, NULL, 0);
#endif
    return (rc == 0 && is_p256(pk)) ? 0 : FOTA_ERR_ARG;
}

static int load_public(mbedtls_pk_context *pk, const char *pem)
{
    size_t len;
    if (pem_len(pem, &len)) return FOTA_ERR_ARG;
    int rc = mbedtls_pk_parse_public_key(pk, (const unsigned char *)pem, len);
    return (rc == 0 && is_p256(pk)) ? 0 : FOTA_ERR_ARG;
}

static int sign_hash(mbedtls_pk_context *pk, rng_ctx *g, const uint8_t hash[32], uint8_t sig[64])
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    /* Deterministic (RFC 6979); the RNG only blinds the computation. */
    int rc = mbedtls_ecdsa_sign_det_ext(&ec->MBED_PRIV(grp), &r, &s, &ec->MBED_PRIV(d), hash, 32,
                                        MBEDTLS_MD_SHA256, mbedtls_ctr_drbg_random, &g->drbg);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&r, sig, 32);
    if (rc == 0) rc = mbedtls_mpi_write_binary(&s, sig + 32, 32);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? FOTA_ERR_IO : 0;
}

static int verify_sig(mbedtls_pk_context *pk, const uint8_t hash[32], const uint8_t sig[64])
{
    mbedtls_ecp_keypair *ec = mbedtls_pk_ec(*pk);
    mbedtls_mpi r, s;
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    int rc = mbedtls_mpi_read_binary(&r, sig, 32);
    if (rc == 0) rc = mbedtls_mpi_read_binary(&s, sig + 32, 32);
    if (rc == 0) rc = mbedtls_ecdsa_verify(&ec->MBED_PRIV(grp), hash, 32, &ec->MBED_PRIV(Q), &r, &s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&s);
    return rc ? FOTA_PKG_E_BAD_SIGNATURE : 0;
}

int fota_pkg_keygen(char *priv_pem, size_t priv_cap, char *pub_pem, size_t pub_cap)
{
    if (!priv_pem || !priv_cap || (pub_pem && !pub_cap)) return FOTA_ERR_ARG;
    rng_ctx g;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = rng_init(&g);
    if (rc == 0 && (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
                    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk),
                                        mbedtls_ctr_drbg_random, &g.drbg) != 0))
        rc = FOTA_ERR_IO;
    if (rc == 0 && mbedtls_pk_write_key_pem(&pk, (unsigned char *)priv_pem, priv_cap) != 0)
        rc = FOTA_ERR_RANGE;
    if (rc == 0 && pub_pem &&
        mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pub_pem, pub_cap) != 0)
        rc = FOTA_ERR_RANGE;
    mbedtls_pk_free(&pk);
    rng_free(&g);
    return rc;
}

int fota_pkg_pubkey_from_private(const char *priv_pem, char *pub_pem, size_t pub_cap)
{
    if (!priv_pem || !pub_pem || !pub_cap) return FOTA_ERR_ARG;
    rng_ctx g;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = rng_init(&g);
    if (rc == 0) rc = load_private(&pk, priv_pem, &g);
    if (rc == 0 && mbedtls_pk_write_pubkey_pem(&pk, (unsigned char *)pub_pem, pub_cap) != 0)
        rc = FOTA_ERR_RANGE;
    mbedtls_pk_free(&pk);
    rng_free(&g);
    return rc;
}

/* ------------------------------------------------------------------ */
/* verification                                                        */

void fota_pkg_policy_init(fota_pkg_policy *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->max_size = FOTA_PKG_DEFAULT_MAX_SIZE;
}

static int hash_range(fota_pkg_reader *r, uint64_t len, uint8_t out[32])
{
    uint8_t buf[1024];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int rc = SHA_START(&c) ? FOTA_ERR_NOMEM : 0;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
        rc = src_read_exact(r, off, buf, n);
        if (rc == 0 && SHA_UPDATE(&c, buf, n)) rc = FOTA_ERR_NOMEM;
        off += n;
    }
    if (rc == 0 && SHA_FINISH(&c, out)) rc = FOTA_ERR_NOMEM;
    mbedtls_sha256_free(&c);
    return rc;
}

static int check_signature(fota_pkg_reader *r, mbedtls_pk_context *pk)
{
    fota_pkg_info *in = &r->info;
    if (!in->is_signed) return pk ? FOTA_PKG_E_NO_SIGNATURE : 0;
    uint8_t blk[FOTA_PKG_SIG_BLOCK_LEN];
    int rc = src_read_exact(r, (uint64_t)in->hash_offset + FOTA_PKG_HASH_LEN, blk, sizeof blk);
    if (rc) return rc;
    if (get16(blk) != FOTA_PKG_SIG_ALG_ECDSA_P256 || get16(blk + 2) != FOTA_PKG_SIG_RAW_LEN)
        return FOTA_PKG_E_BAD_SIGNATURE;
    if (!pk) return 0;   /* no key: signature carried but not required */
    rc = verify_sig(pk, in->sha256, blk + 4);
    if (rc == 0) in->signature_verified = 1;
    return rc;
}

/* A delta's own header must describe the same base and result as the
 * package: the commit step trusts the metadata it verified. */
static int check_delta_header(fota_pkg_reader *r, unsigned idx)
{
    const fota_pkg_section *sec = &r->info.sections[idx];
    uint8_t hb[FOTA_DELTA_HEADER_LEN];
    fota_delta_header h;
    if (sec->length < FOTA_DELTA_HEADER_LEN) return FOTA_PKG_E_BAD_SECTION;
    int rc = src_read_exact(r, sec->offset, hb, sizeof hb);
    if (rc) return rc;
    if (fota_delta_parse_header(hb, &h) != 0 || h.new_size != sec->decoded_length ||
        memcmp(h.new_sha256, sec->sha256, 32) != 0 ||
        memcmp(h.old_sha256, r->info.base_sha256, 32) != 0)
        return FOTA_PKG_E_BAD_SECTION;
    return 0;
}

/* Delta verdicts as package verdicts; callback and resource errors pass. */
static int map_delta_err(int rc)
{
    switch (rc) {
    case FOTA_DELTA_E_WRONG_BASE: return FOTA_PKG_E_WRONG_BASE;
    case FOTA_DELTA_E_HASH: return FOTA_PKG_E_HASH_MISMATCH;
    case FOTA_DELTA_E_FORMAT:
    case FOTA_DELTA_E_TRUNCATED:
    case FOTA_DELTA_E_RANGE:
    case FOTA_DELTA_E_TOO_LARGE: return FOTA_PKG_E_BAD_SECTION;
    default: return rc;
    }
}

int fota_pkg_apply_delta(fota_pkg_reader *r, unsigned idx, const fota_delta_io *io)
{
    if (!r || !r->src.read || !io || idx >= r->info.section_count ||
        r->info.sections[idx].type != FOTA_PKG_SEC_CORE_DELTA)
        return FOTA_ERR_ARG;
    int rc = check_delta_header(r, idx);
    if (rc) return rc;
    fota_delta_applier *a = malloc(sizeof *a);
    if (!a) return FOTA_ERR_NOMEM;
    rc = fota_delta_apply_init(a, io);
    if (rc) { free(a); return rc; }
    fota_pkg_stream s;
    uint8_t buf[1024];
    rc = fota_pkg_stream_open(&s, r, idx);
    while (rc == 0) {
        size_t got = 0;
        rc = fota_pkg_stream_read(&s, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        rc = fota_delta_apply_feed(a, buf, got);
    }
    fota_pkg_stream_close(&s);
    uint64_t n = 0;
    uint8_t h[32];
    if (rc == 0) rc = fota_delta_apply_finish(a, &n, h);
    /* The header matched the section entry, so this holds; kept as a guard. */
    if (rc == 0 && (n != r->info.sections[idx].decoded_length ||
                    memcmp(h, r->info.sections[idx].sha256, 32) != 0))
        rc = FOTA_PKG_E_HASH_MISMATCH;
    fota_delta_apply_free(a);
    free(a);
    return map_delta_err(rc);
}

/* Streams one section through its decoder; the script archive is also
 * parsed so a package cannot carry an archive the device would refuse. */
static int check_section(fota_pkg_reader *r, unsigned idx)
{
    fota_pkg_stream s;
    uint8_t buf[1024];
    fota_arc_parser ap;
    int is_script = r->info.sections[idx].type == FOTA_PKG_SEC_SCRIPT;
    int arc_rc = 0;
    int rc = fota_pkg_stream_open(&s, r, idx);
    if (rc) return rc;
    fota_arc_parser_init(&ap, NULL);
    for (;;) {
        size_t got = 0;
        rc = fota_pkg_stream_read(&s, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        if (is_script && arc_rc == 0) arc_rc = fota_arc_parser_feed(&ap, buf, got);
    }
    fota_pkg_stream_close(&s);
    if (rc) return rc;
    if (is_script && arc_rc == 0) arc_rc = fota_arc_parser_finish(&ap);
    return arc_rc ? FOTA_PKG_E_BAD_SECTION : 0;
}

/* With the current core at hand, a delta is applied into a hashing sink:
 * the result is then checked before commit, and a wrong base is caught
 * even when the policy has no SHA-256 for the current core. */
static int check_delta(fota_pkg_reader *r, unsigned idx, const fota_pkg_policy *p)
{
    int rc = check_delta_header(r, idx);
    if (rc || !p->read_core) return rc;
    fota_delta_io io;
    memset(&io, 0, sizeof io);
    io.read_old = p->read_core;
    io.old_ud = p->core_ud;
    io.old_size = p->core_size;
    return fota_pkg_apply_delta(r, idx, &io);
}

static int check_policy(const fota_pkg_info *in, const fota_pkg_policy *p)
{
    if (p->project && strcmp(p->project, in->project) != 0) return FOTA_PKG_E_BAD_META;
    if (p->bsp && strcmp(p->bsp, in->bsp) != 0) return FOTA_PKG_E_BAD_META;
    const fota_pkg_section *core = NULL;
    int has_script = 0;
    for (unsigned i = 0; i < in->section_count; i++) {
        if (in->sections[i].type == FOTA_PKG_SEC_SCRIPT) has_script = 1;
        else core = &in->sections[i];
    }
    if (core && core->type == FOTA_PKG_SEC_CORE_DELTA) {
        if (p->current_core_version && p->current_core_version != in->from_core_version)
            return FOTA_PKG_E_WRONG_BASE;
        if (p->has_current_core_sha256 && memcmp(p->current_core_sha256, in->base_sha256, 32))
            return FOTA_PKG_E_WRONG_BASE;
    }
    if (p->allow_rollback) return 0;
    if (core && p->current_core_version && in->to_core_version < p->current_core_version)
        return FOTA_PKG_E_ROLLBACK;
    if (has_script && p->current_script_version) {
        int c;
        if (fota_pkg_version_compare(in->script_version, p->current_script_version, &c))
            return FOTA_ERR_ARG;
        if (c < 0) return FOTA_PKG_E_ROLLBACK;
    }
    return 0;
}

int fota_pkg_verify(fota_pkg_reader *r, const fota_pkg_policy *policy)
{
    if (!r || !r->src.read || !policy) return FOTA_ERR_ARG;
    if (policy->current_script_version && !fota_pkg_version_valid(policy->current_script_version))
        return FOTA_ERR_ARG;
    fota_pkg_info *in = &r->info;
    in->signature_verified = 0;
    uint32_t max = policy->max_size ? policy->max_size : FOTA_PKG_DEFAULT_MAX_SIZE;
    if (in->total_len > max) return FOTA_PKG_E_TOO_LARGE;

    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    int rc = 0;
    if (policy->pubkey_pem) rc = load_public(&pk, policy->pubkey_pem);

    /* Authenticate before believing anything the metadata says. */
    uint8_t h[32];
    if (rc == 0) rc = hash_range(r, in->hash_offset, h);
    if (rc == 0 && memcmp(h, in->sha256, 32) != 0) rc = FOTA_PKG_E_HASH_MISMATCH;
    if (rc == 0) rc = check_signature(r, policy->pubkey_pem ? &pk : NULL);
    mbedtls_pk_free(&pk);
    for (unsigned i = 0; rc == 0 && i < in->section_count; i++) rc = check_section(r, i);
    /* Cheap policy checks first: a wrong base version needs no delta run. */
    if (rc == 0) rc = check_policy(in, policy);
    for (unsigned i = 0; rc == 0 && i < in->section_count; i++)
        if (in->sections[i].type == FOTA_PKG_SEC_CORE_DELTA) rc = check_delta(r, i, policy);
    return rc;
}

static int verify_and_close(fota_pkg_reader *r, int rc, const fota_pkg_policy *policy,
                            fota_pkg_info *info_out)
{
    if (rc == 0) rc = fota_pkg_verify(r, policy);
    if (info_out) *info_out = r->info;
    fota_pkg_close(r);
    /* Storage failures are one verdict for the caller. */
    if (rc == FOTA_ERR_IO || rc == FOTA_ERR_NOENT) rc = FOTA_PKG_E_IO;
    return rc;
}

int fota_pkg_verify_file(const char *path, const fota_pkg_policy *policy, fota_pkg_info *info_out)
{
    fota_pkg_reader r;
    fota_pkg_policy def;
    if (!policy) { fota_pkg_policy_init(&def); policy = &def; }
    if (info_out) memset(info_out, 0, sizeof *info_out);
    if (!path) return FOTA_ERR_ARG;
    int rc = fota_pkg_open_file(&r, path, policy->max_size);
    return verify_and_close(&r, rc, policy, info_out);
}

int fota_pkg_verify_mem(const uint8_t *p, size_t len, const fota_pkg_policy *policy,
                        fota_pkg_info *info_out)
{
    fota_pkg_reader r;
    fota_pkg_policy def;
    if (!policy) { fota_pkg_policy_init(&def); policy = &def; }
    if (info_out) memset(info_out, 0, sizeof *info_out);
    int rc = fota_pkg_open_mem(&r, p, len, policy->max_size);
    return verify_and_close(&r, rc, policy, info_out);
}

/* ------------------------------------------------------------------ */
/* script archive: parser                                              */

enum { ARC_HDR, ARC_NLEN, ARC_NAME, ARC_SIZE, ARC_DATA, ARC_DONE };

/* The script files under a directory, for fota_arc_pack. */
#define ARC_WALK_DEPTH 8
#define ARC_PATH_CAP 1024
typedef struct {
    char *names[FOTA_ARC_MAX_ENTRIES];
    char *paths[FOTA_ARC_MAX_ENTRIES];
    size_t n;
    char dir[ARC_PATH_CAP], rel[ARC_PATH_CAP];
    int depth;
    char *why;
    size_t why_len;
} arc_walk;

static int arc_why(arc_walk *w, int rc, const char *what, const char *path)
{
    if (w->why && w->why_len)
        snprintf(w->why, w->why_len, "%s: %s", path, what);
    return rc;
}

static char *arc_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

static int arc_add(arc_walk *w, const char *name, const char *path)
{
    if (w->n >= FOTA_ARC_MAX_ENTRIES) return arc_why(w, FOTA_ERR_ARG, "more than 1024 script files", path);
    if (!fota_arc_name_ok(name, strlen(name)))
        return arc_why(w, FOTA_ERR_ARG, "file name not allowed (components of [A-Za-z0-9._+-])", name);
    w->names[w->n] = arc_strdup(name);
    w->paths[w->n] = arc_strdup(path);
    if (!w->names[w->n] || !w->paths[w->n]) {
        free(w->names[w->n]);
        free(w->paths[w->n]);
        return arc_why(w, FOTA_ERR_NOMEM, "out of memory", path);
    }
    w->n++;
    return 0;
}

static int arc_visit(void *ud, const char *entry)
{
    arc_walk *w = ud;
    char path[ARC_PATH_CAP], name[ARC_PATH_CAP];
    int n1, n2, rc;
    if (entry[0] == '.') return 0;
    n1 = snprintf(path, sizeof path, "%s/%s", w->dir, entry);
    n2 = snprintf(name, sizeof name, "%s%s%s", w->rel, w->rel[0] ? "/" : "", entry);
    if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof path || (size_t)n2 >= sizeof name)
        return arc_why(w, FOTA_ERR_ARG, "path too long", w->dir);
    switch (fota_port_kind(path)) {
    case FOTA_PORT_REGULAR:
        return arc_add(w, name, path);
    case FOTA_PORT_DIRECTORY: {
        char saved_dir[ARC_PATH_CAP], saved_rel[ARC_PATH_CAP];
        if (w->depth >= ARC_WALK_DEPTH) return arc_why(w, FOTA_ERR_ARG, "directories nested deeper than 8", path);
        memcpy(saved_dir, w->dir, sizeof saved_dir);
        memcpy(saved_rel, w->rel, sizeof saved_rel);
        memcpy(w->dir, path, (size_t)n1 + 1);
        memcpy(w->rel, name, (size_t)n2 + 1);
        w->depth++;
        rc = fota_port_listdir(path, arc_visit, w);
        w->depth--;
        memcpy(w->dir, saved_dir, sizeof saved_dir);
        memcpy(w->rel, saved_rel, sizeof saved_rel);
        return rc ? (rc == FOTA_ERR_IO ? arc_why(w, rc, "cannot read directory", path) : rc) : 0;
    }
    default:
        return 0;   /* sockets, devices: not scripts */
    }
}

int fota_arc_pack_path(const char *src, const char *out_path, char *why, size_t why_len)
{
    arc_walk *w = calloc(1, sizeof *w);
    int rc, kind;
    if (!w) return FOTA_ERR_NOMEM;
    w->why = why;
    w->why_len = why_len;
    if (why && why_len) why[0] = '\0';
    kind = fota_port_kind(src);
    if (kind == FOTA_PORT_DIRECTORY) {
        if (strlen(src) >= sizeof w->dir) {
            rc = arc_why(w, FOTA_ERR_ARG, "path too long", src);
        } else {
            memcpy(w->dir, src, strlen(src) + 1);
            rc = fota_port_listdir(src, arc_visit, w);
            if (rc == FOTA_ERR_IO) arc_why(w, rc, "cannot read directory", src);
            if (rc == 0 && w->n == 0) rc = arc_why(w, FOTA_ERR_ARG, "no script files", src);
        }
    } else if (kind == FOTA_PORT_REGULAR) {
        const char *base = strrchr(src, '/');
        rc = arc_add(w, base ? base + 1 : src, src);
    } else {
        rc = arc_why(w, FOTA_ERR_NOENT, "no such file or directory", src);
    }
    if (rc == 0) {
        rc = fota_arc_pack((const char *const *)w->names, (const char *const *)w->paths, w->n, out_path);
        if (rc) arc_why(w, rc, "cannot write the archive", out_path);
    }
    for (size_t i = 0; i < w->n; i++) {
        free(w->names[i]);
        free(w->paths[i]);
    }
    free(w);
    return rc;
}

void fota_arc_parser_init(fota_arc_parser *p, const fota_arc_sink *sink)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    if (sink) p->sink = *sink;
    p->state = ARC_HDR;
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
            if (memcmp(p->acc, FOTA_ARC_MAGIC, 4) || get16(p->acc + 4) != FOTA_ARC_VERSION ||
                get16(p->acc + 6) != 0)
                return FOTA_ERR_FORMAT;
            p->count = get32(p->acc + 8);
            if (p->count == 0 || p->count > FOTA_ARC_MAX_ENTRIES) return FOTA_ERR_FORMAT;
            p->state = ARC_NLEN;
            break;
        case ARC_NLEN:
            if (!arc_acc(p, &d, &n, 2)) return 0;
            p->name_len = get16(p->acc);
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
            if (!fota_arc_name_ok(p->name, p->name_len)) return FOTA_ERR_FORMAT;
            /* Strictly ascending: deterministic and no duplicates. */
            if (p->index > 0) {
                size_t m = p->name_len < p->prev_len ? p->name_len : p->prev_len;
                int c = memcmp(p->prev, p->name, m);
                if (c > 0 || (c == 0 && p->prev_len >= p->name_len)) return FOTA_ERR_FORMAT;
            }
            memcpy(p->prev, p->name, p->name_len + 1);
            p->prev_len = p->name_len;
            p->state = ARC_SIZE;
            break;
        }
        case ARC_SIZE:
            if (!arc_acc(p, &d, &n, 4)) return 0;
            p->remaining = get32(p->acc);
            p->total += p->remaining;
            if (p->total > FOTA_PKG_MAX_IMAGE) return FOTA_ERR_FORMAT;
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

int fota_pkg_extract_script(fota_pkg_reader *r, const char *dest_dir)
{
    if (!r || !r->src.read || !dest_dir) return FOTA_ERR_ARG;
    unsigned idx = r->info.section_count;
    for (unsigned i = 0; i < r->info.section_count; i++)
        if (r->info.sections[i].type == FOTA_PKG_SEC_SCRIPT) idx = i;
    if (idx == r->info.section_count) return FOTA_PKG_E_BAD_SECTION;
    fota_arc_dir_sink ds;
    fota_arc_sink sink;
    fota_arc_parser p;
    fota_pkg_stream s;
    uint8_t buf[1024];
    int rc = fota_arc_dir_sink_init(&ds, dest_dir, &sink);
    if (rc) return FOTA_PKG_E_IO;
    rc = fota_pkg_stream_open(&s, r, idx);
    if (rc) return rc;
    fota_arc_parser_init(&p, &sink);
    for (;;) {
        size_t got = 0;
        rc = fota_pkg_stream_read(&s, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        rc = fota_arc_parser_feed(&p, buf, got);
        if (rc) break;
    }
    if (rc == 0) rc = fota_arc_parser_finish(&p);
    fota_pkg_stream_close(&s);
    fota_arc_dir_sink_close(&ds);
    if (rc == FOTA_ERR_FORMAT) rc = FOTA_PKG_E_BAD_SECTION;
    else if (rc < 0 && rc > FOTA_PKG_E_BAD_MAGIC) rc = FOTA_PKG_E_IO;  /* port/sink errors */
    return rc;
}

/* ------------------------------------------------------------------ */
/* script archive: pack                                                */

typedef struct {
    const char *name;
    const char *path;
} arc_ent;

static int arc_ent_cmp(const void *a, const void *b)
{
    return strcmp(((const arc_ent *)a)->name, ((const arc_ent *)b)->name);
}

static int copy_file_into(fota_port_file *out, uint64_t *off, const char *path, uint64_t size,
                          mbedtls_sha256_context *sha)
{
    fota_port_file *in = NULL;
    uint8_t buf[COPY_BUF];
    int rc = fota_port_open(&in, path, FOTA_PORT_READ);
    if (rc) return rc;
    uint64_t done = 0;
    while (rc == 0 && done < size) {
        size_t want = size - done < sizeof buf ? (size_t)(size - done) : sizeof buf;
        size_t got = 0;
        rc = fota_port_pread(in, done, buf, want, &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;   /* file shrank under us */
        if (rc == 0 && sha && SHA_UPDATE(sha, buf, got)) rc = FOTA_ERR_NOMEM;
        if (rc == 0) rc = fota_port_pwrite(out, *off, buf, got);
        done += got;
        *off += got;
    }
    fota_port_close(in);
    return rc;
}

static int file_size_of(const char *path, uint64_t *size)
{
    fota_port_file *f = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_size(f, size);
    fota_port_close(f);
    return rc;
}

int fota_arc_pack(const char *const *names, const char *const *paths, size_t n,
                  const char *out_path)
{
    if (!names || !paths || !out_path || n == 0 || n > FOTA_ARC_MAX_ENTRIES) return FOTA_ERR_ARG;
    arc_ent *e = calloc(n, sizeof *e);
    if (!e) return FOTA_ERR_NOMEM;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!names[i] || !paths[i] || !fota_arc_name_ok(names[i], strnlen(names[i], FOTA_ARC_MAX_NAME + 1)))
            rc = FOTA_ERR_ARG;
        e[i].name = names[i];
        e[i].path = paths[i];
    }
    if (rc) { free(e); return rc; }
    qsort(e, n, sizeof *e, arc_ent_cmp);
    for (size_t i = 1; i < n; i++)
        if (strcmp(e[i - 1].name, e[i].name) == 0) { free(e); return FOTA_ERR_ARG; }

    fota_port_file *out = NULL;
    rc = fota_port_open(&out, out_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) { free(e); return rc; }
    uint8_t hdr[FOTA_ARC_HEADER_LEN];
    memcpy(hdr, FOTA_ARC_MAGIC, 4);
    put16(hdr + 4, FOTA_ARC_VERSION);
    put16(hdr + 6, 0);
    put32(hdr + 8, (uint32_t)n);
    uint64_t off = 0, total = 0;
    rc = fota_port_pwrite(out, off, hdr, sizeof hdr);
    off += sizeof hdr;
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint64_t size = 0;
        rc = file_size_of(e[i].path, &size);
        if (rc) break;
        total += size;
        if (total > FOTA_PKG_MAX_IMAGE) { rc = FOTA_ERR_RANGE; break; }
        uint8_t f[4];
        size_t nl = strlen(e[i].name);
        put16(f, (uint16_t)nl);
        rc = fota_port_pwrite(out, off, f, 2);
        off += 2;
        if (rc == 0) rc = fota_port_pwrite(out, off, e[i].name, nl);
        off += nl;
        put32(f, (uint32_t)size);
        if (rc == 0) rc = fota_port_pwrite(out, off, f, 4);
        off += 4;
        if (rc == 0) rc = copy_file_into(out, &off, e[i].path, size, NULL);
    }
    if (rc == 0) rc = fota_port_sync(out);
    fota_port_close(out);
    free(e);
    if (rc) fota_port_remove(out_path);
    return rc;
}

/* ------------------------------------------------------------------ */
/* package writer                                                      */

static size_t put_str(uint8_t *p, const char *s)
{
    size_t n = strlen(s);
    p[0] = (uint8_t)n;
    memcpy(p + 1, s, n);
    return n + 1;
}

static int write_script_section(fota_port_file *out, uint64_t *off, const char *arc_path,
                                fota_pkg_section *sec)
{
    uint64_t size = 0;
    int rc = file_size_of(arc_path, &size);
    if (rc) return rc;
    if (size > FOTA_PKG_MAX_IMAGE) return FOTA_ERR_RANGE;
    if (size < FOTA_ARC_HEADER_LEN) return FOTA_ERR_FORMAT;
    fota_port_file *in = NULL;
    rc = fota_port_open(&in, arc_path, FOTA_PORT_READ);
    if (rc) return rc;

    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        fota_port_close(in);
        return FOTA_ERR_NOMEM;
    }
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    fota_arc_parser ap;
    fota_arc_parser_init(&ap, NULL);
    uint8_t ibuf[COPY_BUF], obuf[COPY_BUF];
    uint64_t done = 0, start = *off;
    rc = SHA_START(&sha) ? FOTA_ERR_NOMEM : 0;
    int flush = Z_NO_FLUSH;
    while (rc == 0) {
        if (z.avail_in == 0 && flush == Z_NO_FLUSH) {
            size_t want = size - done < sizeof ibuf ? (size_t)(size - done) : sizeof ibuf;
            size_t got = 0;
            if (want) rc = fota_port_pread(in, done, ibuf, want, &got);
            if (rc) break;
            if (want && got == 0) { rc = FOTA_ERR_IO; break; }
            /* Never package an archive the device would refuse. */
            if (got && (fota_arc_parser_feed(&ap, ibuf, got) || SHA_UPDATE(&sha, ibuf, got))) {
                rc = FOTA_ERR_FORMAT;
                break;
            }
            done += got;
            z.next_in = ibuf;
            z.avail_in = (uInt)got;
            if (done == size) flush = Z_FINISH;
        }
        z.next_out = obuf;
        z.avail_out = sizeof obuf;
        int zr = deflate(&z, flush);
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) { rc = FOTA_ERR_NOMEM; break; }
        size_t produced = sizeof obuf - z.avail_out;
        if (produced) rc = fota_port_pwrite(out, *off, obuf, produced);
        *off += produced;
        if (*off - start > UINT32_MAX / 2) rc = FOTA_ERR_RANGE;
        if (zr == Z_STREAM_END) break;
    }
    if (rc == 0 && fota_arc_parser_finish(&ap)) rc = FOTA_ERR_FORMAT;
    if (rc == 0 && SHA_FINISH(&sha, sec->sha256)) rc = FOTA_ERR_NOMEM;
    deflateEnd(&z);
    mbedtls_sha256_free(&sha);
    fota_port_close(in);
    sec->type = FOTA_PKG_SEC_SCRIPT;
    sec->offset = (uint32_t)start;
    sec->length = (uint32_t)(*off - start);
    sec->decoded_length = (uint32_t)size;
    return rc;
}

static int write_core_section(fota_port_file *out, uint64_t *off, const fota_pkg_build_opts *o,
                              fota_pkg_section *sec)
{
    uint64_t size = 0;
    int rc = file_size_of(o->core_path, &size);
    if (rc) return rc;
    if (size == 0) return FOTA_ERR_ARG;
    if (size > FOTA_PKG_MAX_IMAGE) return FOTA_ERR_RANGE;
    int full = o->core_type == FOTA_PKG_SEC_CORE_FULL;
    if (!full) {
        /* Never package a delta the verifier would refuse as inconsistent. */
        uint8_t hb[FOTA_DELTA_HEADER_LEN];
        fota_delta_header h;
        fota_port_file *in = NULL;
        size_t got = 0;
        if (size < FOTA_DELTA_HEADER_LEN) return FOTA_ERR_ARG;
        rc = fota_port_open(&in, o->core_path, FOTA_PORT_READ);
        if (rc) return rc;
        rc = fota_port_pread(in, 0, hb, sizeof hb, &got);
        fota_port_close(in);
        if (rc) return rc;
        if (got != sizeof hb || fota_delta_parse_header(hb, &h) != 0 ||
            h.new_size != o->core_image_len || memcmp(h.new_sha256, o->core_image_sha256, 32) ||
            memcmp(h.old_sha256, o->base_sha256, 32))
            return FOTA_ERR_ARG;
    }
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    sec->type = (uint8_t)o->core_type;
    sec->offset = (uint32_t)*off;
    sec->length = (uint32_t)size;
    rc = SHA_START(&sha) ? FOTA_ERR_NOMEM : 0;
    if (rc == 0) rc = copy_file_into(out, off, o->core_path, size, &sha);
    if (rc == 0 && full && SHA_FINISH(&sha, sec->sha256)) rc = FOTA_ERR_NOMEM;
    mbedtls_sha256_free(&sha);
    if (full) {
        sec->decoded_length = (uint32_t)size;
    } else {
        sec->decoded_length = o->core_image_len;
        memcpy(sec->sha256, o->core_image_sha256, 32);
    }
    return rc;
}

static int check_build_opts(const fota_pkg_build_opts *o, char firmware[FOTA_PKG_MAX_STR + 1])
{
    if (!o->project || !o->bsp || !meta_str_ok(o->project, strnlen(o->project, 256)) ||
        !meta_str_ok(o->bsp, strnlen(o->bsp, 256)))
        return FOTA_ERR_ARG;
    if (o->firmware) {
        size_t n = strnlen(o->firmware, 256);
        if (!meta_str_ok(o->firmware, n)) return FOTA_ERR_ARG;
        memcpy(firmware, o->firmware, n + 1);
    } else {
        int n = snprintf(firmware, FOTA_PKG_MAX_STR + 1, "%s_LuatOS-SoC_%s", o->project, o->bsp);
        if (n < 0 || n > FOTA_PKG_MAX_STR) return FOTA_ERR_ARG;
    }
    if (o->core_type == 0 && !o->script_archive_path) return FOTA_ERR_ARG;
    if (o->core_type) {
        if (o->core_type != FOTA_PKG_SEC_CORE_FULL && o->core_type != FOTA_PKG_SEC_CORE_DELTA)
            return FOTA_ERR_ARG;
        if (!o->core_path || o->to_core_version == 0) return FOTA_ERR_ARG;
        if (o->core_type == FOTA_PKG_SEC_CORE_DELTA) {
            if (!o->base_sha256 || is_zero(o->base_sha256, 32) || o->from_core_version == 0 ||
                !o->core_image_sha256 || o->core_image_len == 0 ||
                o->core_image_len > FOTA_PKG_MAX_IMAGE)
                return FOTA_ERR_ARG;
        } else if (o->from_core_version || (o->base_sha256 && !is_zero(o->base_sha256, 32))) {
            return FOTA_ERR_ARG;   /* a full image has no base */
        }
    } else if (o->to_core_version || o->from_core_version) {
        return FOTA_ERR_ARG;
    }
    if (o->script_archive_path && !fota_pkg_version_valid(o->script_version)) return FOTA_ERR_ARG;
    if (!o->script_archive_path && o->script_version) return FOTA_ERR_ARG;
    if (o->script_version && strlen(o->script_version) > FOTA_PKG_MAX_STR) return FOTA_ERR_ARG;
    return 0;
}

static int build_into(const fota_pkg_build_opts *o, fota_port_file *out, uint32_t *total_out)
{
    char firmware[FOTA_PKG_MAX_STR + 1];
    int rc = check_build_opts(o, firmware);
    if (rc) return rc;

    mbedtls_pk_context pk;
    rng_ctx g;
    mbedtls_pk_init(&pk);
    int have_rng = 0;
    if (o->sign_key_pem) {
        rc = rng_init(&g);
        have_rng = rc == 0;
        if (rc == 0) rc = load_private(&pk, o->sign_key_pem, &g);
    }

    uint8_t hdr[FOTA_PKG_MAX_HEADER];
    memset(hdr, 0, sizeof hdr);
    size_t m = FOTA_PKG_HEADER_LEN;
    m += put_str(hdr + m, o->project);
    m += put_str(hdr + m, firmware);
    m += put_str(hdr + m, o->bsp);
    int delta = o->core_type == FOTA_PKG_SEC_CORE_DELTA;
    put32(hdr + m, delta ? o->from_core_version : 0);
    m += 4;
    if (delta) memcpy(hdr + m, o->base_sha256, 32);
    m += 32;
    put32(hdr + m, o->to_core_version);
    m += 4;
    m += put_str(hdr + m, o->script_archive_path ? o->script_version : "");
    size_t meta_len = m - FOTA_PKG_HEADER_LEN;
    unsigned count = (o->core_type ? 1u : 0u) + (o->script_archive_path ? 1u : 0u);
    size_t hdr_len = m + count * FOTA_PKG_SECTION_ENTRY_LEN;

    fota_pkg_section secs[FOTA_PKG_MAX_SECTIONS];
    memset(secs, 0, sizeof secs);
    uint64_t off = hdr_len;
    unsigned k = 0;
    if (rc == 0 && o->core_type) rc = write_core_section(out, &off, o, &secs[k++]);
    if (rc == 0 && o->script_archive_path)
        rc = write_script_section(out, &off, o->script_archive_path, &secs[k++]);

    int is_signed = o->sign_key_pem != NULL;
    uint64_t total = off + FOTA_PKG_HASH_LEN + (is_signed ? FOTA_PKG_SIG_BLOCK_LEN : 0);
    if (rc == 0 && total > UINT32_MAX) rc = FOTA_ERR_RANGE;
    if (rc == 0 && total_out) *total_out = (uint32_t)total;
    uint32_t max = o->max_size ? o->max_size : FOTA_PKG_DEFAULT_MAX_SIZE;
    if (rc == 0 && total > max) rc = FOTA_PKG_E_TOO_LARGE;

    if (rc == 0) {
        memcpy(hdr, FOTA_PKG_MAGIC, 4);
        put16(hdr + 4, FOTA_PKG_FORMAT_VERSION);
        put16(hdr + 6, is_signed ? FOTA_PKG_FLAG_SIGNED : 0);
        put32(hdr + 8, (uint32_t)total);
        put16(hdr + 12, (uint16_t)meta_len);
        hdr[14] = (uint8_t)count;
        hdr[15] = 0;
        for (unsigned i = 0; i < count; i++) {
            uint8_t *e = hdr + m + i * FOTA_PKG_SECTION_ENTRY_LEN;
            e[0] = secs[i].type;
            put32(e + 4, secs[i].offset);
            put32(e + 8, secs[i].length);
            put32(e + 12, secs[i].decoded_length);
            memcpy(e + 16, secs[i].sha256, 32);
        }
        /* Header last: an interrupted build leaves no valid magic. */
        rc = fota_port_pwrite(out, 0, hdr, hdr_len);
    }
    uint8_t h[32];
    if (rc == 0) {
        fota_pkg_reader rr;
        memset(&rr, 0, sizeof rr);
        rr.src.read = file_read;
        rr.src.ud = out;
        rr.src.size = off;
        rc = hash_range(&rr, off, h);
        if (rc == FOTA_PKG_E_IO || rc == FOTA_PKG_E_TRUNCATED) rc = FOTA_ERR_IO;
    }
    if (rc == 0) rc = fota_port_pwrite(out, off, h, sizeof h);
    if (rc == 0 && is_signed) {
        uint8_t blk[FOTA_PKG_SIG_BLOCK_LEN];
        put16(blk, FOTA_PKG_SIG_ALG_ECDSA_P256);
        put16(blk + 2, FOTA_PKG_SIG_RAW_LEN);
        rc = sign_hash(&pk, &g, h, blk + 4);
        if (rc == 0) rc = fota_port_pwrite(out, off + FOTA_PKG_HASH_LEN, blk, sizeof blk);
    }
    if (rc == 0) rc = fota_port_truncate(out, total);
    if (rc == 0) rc = fota_port_sync(out);
    mbedtls_pk_free(&pk);
    if (have_rng) rng_free(&g);
    return rc;
}

int fota_pkg_build(const fota_pkg_build_opts *o, const char *out_path, uint32_t *total_len_out)
{
    if (total_len_out) *total_len_out = 0;
    if (!o || !out_path) return FOTA_ERR_ARG;
    fota_port_file *out = NULL;
    int rc = fota_port_open(&out, out_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) return rc;
    rc = build_into(o, out, total_len_out);
    fota_port_close(out);
    if (rc) fota_port_remove(out_path);
    return rc;
}

int fota_pkg_sha256_file(const char *path, uint64_t max_len, uint8_t out[32], uint64_t *len_out)
{
    if (!path || !out) return FOTA_ERR_ARG;
    fota_port_file *f = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    uint64_t size = 0;
    rc = fota_port_size(f, &size);
    if (rc == 0 && size > max_len) rc = FOTA_ERR_RANGE;
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    if (rc == 0 && SHA_START(&c)) rc = FOTA_ERR_NOMEM;
    uint8_t buf[COPY_BUF];
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t got = 0;
        size_t want = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
        rc = fota_port_pread(f, off, buf, want, &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;
        if (rc == 0 && SHA_UPDATE(&c, buf, got)) rc = FOTA_ERR_NOMEM;
        off += got;
    }
    if (rc == 0 && SHA_FINISH(&c, out)) rc = FOTA_ERR_NOMEM;
    mbedtls_sha256_free(&c);
    fota_port_close(f);
    if (rc == 0 && len_out) *len_out = size;
    return rc;
}

void fota_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}
