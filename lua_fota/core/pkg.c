/* Upgrade package reader and verifier. Format in docs/package-format.md.
 * Every length read from input is checked against fixed bounds before use;
 * arithmetic on offsets is done in 64 bits. */
#include "core/pkg.h"

#include <stdlib.h>
#include <string.h>

#include "core/archive.h"
#include "core/bytes.h"
#include "core/sig.h"
#include "core/version.h"
#include "core/fota_err.h"

/* A delta's images are core images: one bound for both. */
_Static_assert(FOTA_DELTA_MAX_IMAGE == FOTA_PKG_MAX_IMAGE, "delta and package image bounds differ");
/* A script section holds an archive: one bound for both. */
_Static_assert(FOTA_ARC_MAX_SIZE == FOTA_PKG_MAX_IMAGE, "archive and package image bounds differ");
_Static_assert(FOTA_SIG_RAW_LEN == FOTA_PKG_SIG_RAW_LEN, "signature lengths differ");
/* The archive's verdicts are the package's. */
_Static_assert(FOTA_ARC_E_NAME_CLASH == FOTA_PKG_E_NAME_CLASH && FOTA_ARC_E_MAIN_NOT_TOP == FOTA_PKG_E_MAIN_NOT_TOP &&
                   FOTA_ARC_E_TOO_DEEP == FOTA_PKG_E_PATH_TOO_DEEP &&
                   FOTA_ARC_E_TOO_LARGE == FOTA_PKG_E_SCRIPTS_TOO_LARGE,
               "archive and package verdicts differ");

/* Metadata strings are restricted so they are safe as file names, in JSON
 * and in log lines without escaping. */
int fota_pkg_meta_str_ok(const char *s, size_t len)
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
    case FOTA_PKG_E_WRONG_PAIR: return "wrong_pair";
    case FOTA_PKG_E_SAME_RELEASE: return "same_release";
    case FOTA_PKG_E_NAME_CLASH: return "name_clash";
    case FOTA_PKG_E_MAIN_NOT_TOP: return "main_not_top";
    case FOTA_PKG_E_PATH_TOO_DEEP: return "path_too_deep";
    case FOTA_PKG_E_SCRIPTS_TOO_LARGE: return "scripts_too_large";
    case FOTA_PKG_E_KEY_MISSING: return "trusted_key_missing";
    case FOTA_PKG_E_KEY_CHANGED: return "trusted_key_changed";
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

int fota_pkg_refused(int code)
{
    return code <= FOTA_PKG_E_BAD_MAGIC && code >= FOTA_PKG_E_SCRIPTS_TOO_LARGE && code != FOTA_PKG_E_IO;
}

/* ------------------------------------------------------------------ */
/* prefix                                                              */

int fota_pkg_parse_prefix(const uint8_t p[FOTA_PKG_PREFIX_LEN], uint32_t *total_len,
                          uint16_t *version, uint16_t *flags)
{
    if (!p) return FOTA_ERR_ARG;
    if (memcmp(p, FOTA_PKG_MAGIC, 4) != 0) return FOTA_PKG_E_BAD_MAGIC;
    uint16_t v = fota_get16(p + 4), f = fota_get16(p + 6);
    uint32_t t = fota_get32(p + 8);
    if (version) *version = v;
    if (flags) *flags = f;
    if (total_len) *total_len = t;
    /* v1 named no release: accepting it would reopen mix-and-match. */
    if (v != FOTA_PKG_FORMAT_VERSION) return FOTA_PKG_E_BAD_VERSION;
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
    if (!fota_pkg_meta_str_ok((const char *)s, n)) { c->bad = 1; return; }
    memcpy(out, s, n);
    out[n] = '\0';
}

static uint32_t cur_u32(cursor *c)
{
    const uint8_t *q = cur_take(c, 4);
    return q ? fota_get32(q) : 0;
}

static uint8_t cur_u8(cursor *c)
{
    const uint8_t *q = cur_take(c, 1);
    return q ? *q : 0;
}

/* A partial package's pairing list: core versions (script-only) or script
 * versions (core-only), strictly ascending so each is named once. */
static int parse_runs_on(cursor *c, fota_pkg_info *in, int cores)
{
    for (unsigned i = 0; i < in->runs_on_count; i++) {
        if (cores) {
            uint32_t v = cur_u32(c);
            if (v == 0 || (i > 0 && v <= in->runs_on_core[i - 1])) return FOTA_PKG_E_BAD_META;
            in->runs_on_core[i] = v;
            continue;
        }
        char v[FOTA_PKG_MAX_STR + 1] = "";
        int cmp = -1;
        cur_str(c, v, 0);
        if (c->bad || strlen(v) > FOTA_PKG_MAX_RUNS_ON_STR || !fota_version_valid(v))
            return FOTA_PKG_E_BAD_META;
        if (i > 0 && (fota_version_compare(in->runs_on_script[i - 1], v, &cmp) || cmp >= 0))
            return FOTA_PKG_E_BAD_META;
        memcpy(in->runs_on_script[i], v, strlen(v) + 1);
    }
    return 0;
}

/* The sections present are known from the table, parsed before: the
 * release says what they install, the list what they pair with. */
static int parse_meta(fota_pkg_info *in, const uint8_t *p, size_t len, int has_core, int has_script)
{
    cursor c = {p, len, 0, 0};
    cur_str(&c, in->project, 0);
    cur_str(&c, in->firmware, 0);
    cur_str(&c, in->bsp, 0);
    in->from_core_version = cur_u32(&c);
    const uint8_t *h = cur_take(&c, 32);
    if (h) memcpy(in->base_sha256, h, 32);
    in->release_core_version = cur_u32(&c);
    cur_str(&c, in->release_script_version, 0);
    uint8_t flags = cur_u8(&c);
    in->runs_on_count = cur_u8(&c);
    if (c.bad || (flags & ~FOTA_PKG_META_REINSTALL) || in->release_core_version == 0 ||
        !fota_version_valid(in->release_script_version))
        return FOTA_PKG_E_BAD_META;
    in->reinstall = (flags & FOTA_PKG_META_REINSTALL) != 0;
    /* A full release pairs with itself; a partial one names at least one. */
    if (has_core && has_script ? in->runs_on_count != 0
                               : in->runs_on_count < 1 || in->runs_on_count > FOTA_PKG_MAX_RUNS_ON)
        return FOTA_PKG_E_BAD_META;
    int rc = parse_runs_on(&c, in, !has_core);
    if (rc) return rc;
    /* Exact length: a reader must understand every byte it hashes. */
    if (c.bad || c.pos != len) return FOTA_PKG_E_BAD_META;
    in->to_core_version = has_core ? in->release_core_version : 0;
    if (has_script)
        memcpy(in->script_version, in->release_script_version, sizeof in->script_version);
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
        s->offset = fota_get32(e + 4);
        s->length = fota_get32(e + 8);
        s->decoded_length = fota_get32(e + 12);
        memcpy(s->sha256, e + 16, 32);
        if (e[1] != 0 || fota_get16(e + 2) != 0) return FOTA_PKG_E_BAD_SECTION;
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

/* The core section (delta or full) and the script section, or NULL. */
static void find_parts(const fota_pkg_info *in, const fota_pkg_section **core,
                       const fota_pkg_section **script)
{
    *core = *script = NULL;
    for (unsigned i = 0; i < in->section_count; i++) {
        if (in->sections[i].type == FOTA_PKG_SEC_SCRIPT) *script = &in->sections[i];
        else *core = &in->sections[i];
    }
}

/* A delta names its base; nothing else has one. */
static int check_base_meta(const fota_pkg_info *in, const fota_pkg_section *core)
{
    int has_base = !fota_is_zero(in->base_sha256, 32);
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
    uint16_t meta_len = fota_get16(hdr + 12);
    unsigned count = hdr[14];
    if (hdr[15] != 0 || meta_len > FOTA_PKG_MAX_META) return FOTA_PKG_E_BAD_META;
    if (count == 0 || count > FOTA_PKG_MAX_SECTIONS) return FOTA_PKG_E_BAD_SECTION;
    in->section_count = count;
    size_t hdr_len = FOTA_PKG_HEADER_LEN + (size_t)meta_len + count * FOTA_PKG_SECTION_ENTRY_LEN;
    if (hdr_len + FOTA_PKG_HASH_LEN > in->total_len) return FOTA_PKG_E_BAD_META;
    rc = src_read_exact(r, FOTA_PKG_HEADER_LEN, hdr + FOTA_PKG_HEADER_LEN,
                        hdr_len - FOTA_PKG_HEADER_LEN);
    if (rc) return rc;
    rc = parse_table(in, hdr + FOTA_PKG_HEADER_LEN + meta_len, (uint32_t)hdr_len);
    if (rc) return rc;
    const fota_pkg_section *core, *script;
    find_parts(in, &core, &script);
    rc = parse_meta(in, hdr + FOTA_PKG_HEADER_LEN, meta_len, core != NULL, script != NULL);
    if (rc) return rc;
    rc = check_base_meta(in, core);
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
    int orc = fota_port_open(&r->file, path, FOTA_PORT_READ);
    if (orc != 0) { r->file = NULL; return orc == FOTA_ERR_NOMEM ? orc : FOTA_PKG_E_IO; }
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

/* A script section's inflater: its window fits any zlib stream; and its
 * input buffer (a stream is a local of its user: a small stack frame). */
typedef struct script_inflater {
    fota_inflate z;
    uint8_t win[FOTA_INFLATE_MAX_WINDOW];
    uint8_t in[FOTA_PKG_STREAM_BUF];
} script_inflater;

int fota_pkg_stream_open(fota_pkg_stream *s, fota_pkg_reader *r, unsigned idx)
{
    if (!s || !r || !r->src.read || idx >= r->info.section_count) return FOTA_ERR_ARG;
    memset(s, 0, sizeof *s);
    s->r = r;
    s->idx = idx;
    mbedtls_sha256_init(&s->sha);
    if (FOTA_SHA256_START(&s->sha) != 0) { mbedtls_sha256_free(&s->sha); return FOTA_ERR_NOMEM; }
    if (r->info.sections[idx].type == FOTA_PKG_SEC_SCRIPT) {
        /* The inflater, a window for any zlib stream and the input buffer in
         * one allocation: 34,960 bytes on a 64-bit host (zlib's inflater
         * alone took 40,040, inflate.h). */
        script_inflater *si = malloc(sizeof *si);
        if (!si) { mbedtls_sha256_free(&s->sha); return FOTA_ERR_NOMEM; }
        fota_inflate_init(&si->z, si->win, sizeof si->win);
        s->z = &si->z;
        s->in = si->in;
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
    if (FOTA_SHA256_FINISH(&s->sha, h) != 0) return FOTA_ERR_NOMEM;
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
        if (FOTA_SHA256_UPDATE(&s->sha, buf, n) != 0) return FOTA_ERR_NOMEM;
        s->in_off += (uint32_t)n;
        s->out_len += (uint32_t)n;
        *got = n;
        return 0;
    }
    if (s->z_end) return stream_finish(s, sec);
    for (;;) {
        if (s->in_pos == s->in_len && s->in_off < sec->length) {
            uint32_t left = sec->length - s->in_off;
            size_t n = left < FOTA_PKG_STREAM_BUF ? left : FOTA_PKG_STREAM_BUF;
            int rc = src_read_exact(s->r, (uint64_t)sec->offset + s->in_off, s->in, n);
            if (rc) return rc;
            s->in_off += (uint32_t)n;
            s->in_pos = 0;
            s->in_len = n;
        }
        size_t used, produced;
        int zr = fota_inflate_run(s->z, s->in + s->in_pos, s->in_len - s->in_pos, &used, buf, cap,
                                  &produced);
        s->in_pos += used;
        if (zr < 0) return FOTA_PKG_E_BAD_SECTION;
        if (produced) {
            if (produced > (size_t)(sec->decoded_length - s->out_len)) return FOTA_PKG_E_BAD_SECTION;
            if (FOTA_SHA256_UPDATE(&s->sha, buf, produced) != 0) return FOTA_ERR_NOMEM;
            s->out_len += (uint32_t)produced;
        }
        if (zr == FOTA_INFLATE_END) {
            /* The zlib stream must fill the section exactly. */
            if (s->in_pos != s->in_len || s->in_off != sec->length) return FOTA_PKG_E_BAD_SECTION;
            s->z_end = 1;
            if (produced) { *got = produced; return 0; }
            return stream_finish(s, sec);
        }
        if (produced) { *got = produced; return 0; }
        if (s->in_pos == s->in_len && s->in_off == sec->length)
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
    free(s->z);   /* the first member of its script_inflater */
    mbedtls_sha256_free(&s->sha);
    s->z = NULL;
    s->in = NULL;
    s->r = NULL;
}

/* ------------------------------------------------------------------ */
/* verification                                                        */

void fota_pkg_policy_init(fota_pkg_policy *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->max_size = FOTA_PKG_DEFAULT_MAX_SIZE;
    p->script_area = FOTA_PKG_DEFAULT_SCRIPT_AREA;
}

static int hash_range(fota_pkg_reader *r, uint64_t len, uint8_t out[32])
{
    uint8_t buf[1024];
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int rc = FOTA_SHA256_START(&c) ? FOTA_ERR_NOMEM : 0;
    for (uint64_t off = 0; rc == 0 && off < len;) {
        size_t n = len - off < sizeof buf ? (size_t)(len - off) : sizeof buf;
        rc = src_read_exact(r, off, buf, n);
        if (rc == 0 && FOTA_SHA256_UPDATE(&c, buf, n)) rc = FOTA_ERR_NOMEM;
        off += n;
    }
    if (rc == 0 && FOTA_SHA256_FINISH(&c, out)) rc = FOTA_ERR_NOMEM;
    mbedtls_sha256_free(&c);
    return rc;
}

static int check_signature(fota_pkg_reader *r, fota_sig_key *key)
{
    fota_pkg_info *in = &r->info;
    if (!in->is_signed) return key ? FOTA_PKG_E_NO_SIGNATURE : 0;
    uint8_t blk[FOTA_PKG_SIG_BLOCK_LEN];
    int rc = src_read_exact(r, (uint64_t)in->hash_offset + FOTA_PKG_HASH_LEN, blk, sizeof blk);
    if (rc) return rc;
    if (fota_get16(blk) != FOTA_PKG_SIG_ALG_ECDSA_P256 || fota_get16(blk + 2) != FOTA_PKG_SIG_RAW_LEN)
        return FOTA_PKG_E_BAD_SIGNATURE;
    if (!key) return 0;   /* no key: signature carried but not required */
    rc = fota_sig_verify(key, in->sha256, blk + 4) ? FOTA_PKG_E_BAD_SIGNATURE : 0;
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
 * parsed so a package cannot carry an archive the device would refuse or
 * could not boot. An archive verdict ends the stream at once: the package
 * hash (and signature) already passed, and a small package may declare
 * megabytes of files. */
static int check_section(fota_pkg_reader *r, unsigned idx, uint32_t script_area)
{
    fota_pkg_stream s;
    uint8_t buf[1024];
    fota_arc_parser ap;
    int is_script = r->info.sections[idx].type == FOTA_PKG_SEC_SCRIPT;
    int arc_rc = 0;
    int rc = fota_pkg_stream_open(&s, r, idx);
    if (rc) return rc;
    fota_arc_parser_init(&ap, NULL);
    fota_arc_parser_set_area(&ap, script_area ? script_area : FOTA_PKG_DEFAULT_SCRIPT_AREA);
    while (arc_rc == 0) {
        size_t got = 0;
        rc = fota_pkg_stream_read(&s, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        if (is_script) arc_rc = fota_arc_parser_feed(&ap, buf, got);
    }
    fota_pkg_stream_close(&s);
    if (rc) return rc;
    if (is_script && arc_rc == 0) arc_rc = fota_arc_parser_finish(&ap);
    if (arc_rc == FOTA_ARC_E_NAME_CLASH || arc_rc == FOTA_ARC_E_MAIN_NOT_TOP || arc_rc == FOTA_ARC_E_TOO_DEEP ||
        arc_rc == FOTA_ARC_E_TOO_LARGE)
        return arc_rc;
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

/* 1 when the partial package names the half the device keeps. */
static int names_kept_half(const fota_pkg_info *in, int keeps_core, uint32_t core, const char *script)
{
    for (unsigned i = 0; i < in->runs_on_count; i++) {
        int c = 1;
        if (keeps_core ? in->runs_on_core[i] == core
                       : fota_version_compare(in->runs_on_script[i], script, &c) == 0 && c == 0)
            return 1;
    }
    return 0;
}

static int check_policy(const fota_pkg_info *in, const fota_pkg_policy *p)
{
    if (p->project && strcmp(p->project, in->project) != 0) return FOTA_PKG_E_BAD_META;
    if (p->bsp && strcmp(p->bsp, in->bsp) != 0) return FOTA_PKG_E_BAD_META;
    const fota_pkg_section *core, *script;
    find_parts(in, &core, &script);
    if (core && core->type == FOTA_PKG_SEC_CORE_DELTA) {
        if (p->current_core_version && p->current_core_version != in->from_core_version)
            return FOTA_PKG_E_WRONG_BASE;
        if (p->has_current_core_sha256 && memcmp(p->current_core_sha256, in->base_sha256, 32))
            return FOTA_PKG_E_WRONG_BASE;
    }
    /* The pair the device would run must be one the package names. */
    if (!script && p->current_script_version &&
        !names_kept_half(in, 0, 0, p->current_script_version))
        return FOTA_PKG_E_WRONG_PAIR;
    if (!core && p->current_core_version && !names_kept_half(in, 1, p->current_core_version, NULL))
        return FOTA_PKG_E_WRONG_PAIR;
    int script_cmp = 1;
    if (script && p->current_script_version &&
        fota_version_compare(in->script_version, p->current_script_version, &script_cmp))
        return FOTA_ERR_ARG;
    if (!p->allow_rollback) {
        if (core && p->current_core_version && in->to_core_version < p->current_core_version)
            return FOTA_PKG_E_ROLLBACK;
        if (script_cmp < 0) return FOTA_PKG_E_ROLLBACK;
    }
    /* Same release again: only what the running pair is known to equal. */
    int same_core = !core || (p->current_core_version && in->to_core_version == p->current_core_version);
    int same_script = !script || (p->current_script_version && script_cmp == 0);
    if (same_core && same_script && !in->reinstall) return FOTA_PKG_E_SAME_RELEASE;
    return 0;
}

int fota_pkg_verify(fota_pkg_reader *r, const fota_pkg_policy *policy)
{
    if (!r || !r->src.read || !policy) return FOTA_ERR_ARG;
    if (policy->current_script_version && !fota_version_valid(policy->current_script_version))
        return FOTA_ERR_ARG;
    fota_pkg_info *in = &r->info;
    in->signature_verified = 0;
    uint32_t max = policy->max_size ? policy->max_size : FOTA_PKG_DEFAULT_MAX_SIZE;
    if (in->total_len > max) return FOTA_PKG_E_TOO_LARGE;

    fota_sig_key key;
    fota_sig_key_init(&key);
    int rc = 0;
    if (policy->pubkey_pem) rc = fota_sig_key_load_public(&key, policy->pubkey_pem);

    /* Authenticate before believing anything the metadata says. */
    uint8_t h[32];
    if (rc == 0) rc = hash_range(r, in->hash_offset, h);
    if (rc == 0 && memcmp(h, in->sha256, 32) != 0) rc = FOTA_PKG_E_HASH_MISMATCH;
    if (rc == 0) rc = check_signature(r, policy->pubkey_pem ? &key : NULL);
    fota_sig_key_free(&key);
    for (unsigned i = 0; rc == 0 && i < in->section_count; i++) rc = check_section(r, i, policy->script_area);
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
