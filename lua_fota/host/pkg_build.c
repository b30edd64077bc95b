#include "host/pkg_build.h"

#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "core/archive.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/sig.h"
#include "core/version.h"
#include "core/fota_err.h"

#define COPY_BUF 4096

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
    int rc = fota_file_size(arc_path, &size);
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
    rc = FOTA_SHA256_START(&sha) ? FOTA_ERR_NOMEM : 0;
    int flush = Z_NO_FLUSH;
    while (rc == 0) {
        if (z.avail_in == 0 && flush == Z_NO_FLUSH) {
            size_t want = size - done < sizeof ibuf ? (size_t)(size - done) : sizeof ibuf;
            size_t got = 0;
            if (want) rc = fota_port_pread(in, done, ibuf, want, &got);
            if (rc) break;
            if (want && got == 0) { rc = FOTA_ERR_IO; break; }
            /* Never package an archive the device would refuse. */
            if (got && (fota_arc_parser_feed(&ap, ibuf, got) || FOTA_SHA256_UPDATE(&sha, ibuf, got))) {
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
    if (rc == 0 && FOTA_SHA256_FINISH(&sha, sec->sha256)) rc = FOTA_ERR_NOMEM;
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
    int rc = fota_file_size(o->core_path, &size);
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
    rc = FOTA_SHA256_START(&sha) ? FOTA_ERR_NOMEM : 0;
    if (rc == 0) rc = fota_file_copy_into(out, off, o->core_path, size, &sha);
    if (rc == 0 && full && FOTA_SHA256_FINISH(&sha, sec->sha256)) rc = FOTA_ERR_NOMEM;
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
    if (!o->project || !o->bsp || !fota_pkg_meta_str_ok(o->project, strnlen(o->project, 256)) ||
        !fota_pkg_meta_str_ok(o->bsp, strnlen(o->bsp, 256)))
        return FOTA_ERR_ARG;
    if (o->firmware) {
        size_t n = strnlen(o->firmware, 256);
        if (!fota_pkg_meta_str_ok(o->firmware, n)) return FOTA_ERR_ARG;
        memcpy(firmware, o->firmware, n + 1);
    } else {
        int n = snprintf(firmware, FOTA_PKG_MAX_STR + 1, "%s_LuatOS-SoC_%s", o->project, o->bsp);
        if (n < 0 || n > FOTA_PKG_MAX_STR) return FOTA_ERR_ARG;
    }
    if (o->core_type == 0 && !o->script_archive_path) return FOTA_ERR_ARG;
    if (o->release_core_version == 0 || !fota_version_valid(o->release_script_version) ||
        strlen(o->release_script_version) > FOTA_PKG_MAX_STR)
        return FOTA_ERR_ARG;
    if (o->core_type) {
        if (o->core_type != FOTA_PKG_SEC_CORE_FULL && o->core_type != FOTA_PKG_SEC_CORE_DELTA)
            return FOTA_ERR_ARG;
        if (!o->core_path) return FOTA_ERR_ARG;
        if (o->core_type == FOTA_PKG_SEC_CORE_DELTA) {
            if (!o->base_sha256 || fota_is_zero(o->base_sha256, 32) || o->from_core_version == 0 ||
                !o->core_image_sha256 || o->core_image_len == 0 ||
                o->core_image_len > FOTA_PKG_MAX_IMAGE)
                return FOTA_ERR_ARG;
        } else if (o->from_core_version || (o->base_sha256 && !fota_is_zero(o->base_sha256, 32))) {
            return FOTA_ERR_ARG;   /* a full image has no base */
        }
    } else if (o->from_core_version) {
        return FOTA_ERR_ARG;
    }
    int full = o->core_type && o->script_archive_path;
    if (o->runs_on_count > FOTA_PKG_MAX_RUNS_ON || (full && o->runs_on_count)) return FOTA_ERR_ARG;
    if (o->runs_on_count && (o->core_type ? !o->runs_on_script : !o->runs_on_core)) return FOTA_ERR_ARG;
    return 0;
}

/* Orders versions for a pairing list; 0 equal, FOTA_ERR_ARG invalid. */
static int runs_on_cmp(const fota_pkg_build_opts *o, unsigned a, unsigned b, int *cmp)
{
    if (!o->core_type) {
        uint32_t x = o->runs_on_core[a], y = o->runs_on_core[b];
        *cmp = x < y ? -1 : x > y;
        return x && y ? 0 : FOTA_ERR_ARG;
    }
    return fota_version_compare(o->runs_on_script[a], o->runs_on_script[b], cmp);
}

/* Appends the release, the flags and the pairing list (sorted, so the same
 * inputs give the same bytes) at p; returns the bytes written or < 0. */
static int put_release(uint8_t *p, size_t cap, const fota_pkg_build_opts *o)
{
    size_t m = 0;
    fota_put32(p, o->release_core_version);
    m += 4;
    m += put_str(p + m, o->release_script_version);
    p[m++] = o->reinstall ? FOTA_PKG_META_REINSTALL : 0;
    int partial = !(o->core_type && o->script_archive_path);
    unsigned n = partial ? (o->runs_on_count ? o->runs_on_count : 1) : 0;
    p[m++] = (uint8_t)n;
    unsigned order[FOTA_PKG_MAX_RUNS_ON];
    for (unsigned i = 0; i < o->runs_on_count; i++) {
        unsigned j = i;
        int c = 0;
        if (o->core_type && (strlen(o->runs_on_script[i]) > FOTA_PKG_MAX_RUNS_ON_STR ||
                             !fota_version_valid(o->runs_on_script[i])))
            return FOTA_ERR_ARG;
        for (; j > 0; j--) {   /* insertion sort: at most 8 entries */
            if (runs_on_cmp(o, order[j - 1], i, &c)) return FOTA_ERR_ARG;
            if (c == 0) return FOTA_ERR_ARG;   /* named twice */
            if (c < 0) break;
            order[j] = order[j - 1];
        }
        order[j] = i;
    }
    for (unsigned i = 0; partial && i < n; i++) {
        if (m + 1 + FOTA_PKG_MAX_STR > cap) return FOTA_ERR_RANGE;
        if (!o->core_type) {
            fota_put32(p + m, o->runs_on_count ? o->runs_on_core[order[i]] : o->release_core_version);
            m += 4;
        } else {
            const char *v = o->runs_on_count ? o->runs_on_script[order[i]] : o->release_script_version;
            if (strlen(v) > FOTA_PKG_MAX_RUNS_ON_STR) return FOTA_ERR_ARG;
            m += put_str(p + m, v);
        }
    }
    return (int)m;
}

static int build_into(const fota_pkg_build_opts *o, fota_port_file *out, uint32_t *total_out)
{
    char firmware[FOTA_PKG_MAX_STR + 1];
    int rc = check_build_opts(o, firmware);
    if (rc) return rc;

    fota_sig_key key;
    fota_sig_key_init(&key);
    if (o->sign_key_pem) rc = fota_sig_key_load_private(&key, o->sign_key_pem);

    uint8_t hdr[FOTA_PKG_MAX_HEADER];
    memset(hdr, 0, sizeof hdr);
    size_t m = FOTA_PKG_HEADER_LEN;
    m += put_str(hdr + m, o->project);
    m += put_str(hdr + m, firmware);
    m += put_str(hdr + m, o->bsp);
    int delta = o->core_type == FOTA_PKG_SEC_CORE_DELTA;
    fota_put32(hdr + m, delta ? o->from_core_version : 0);
    m += 4;
    if (delta) memcpy(hdr + m, o->base_sha256, 32);
    m += 32;
    int rel = put_release(hdr + m, FOTA_PKG_HEADER_LEN + FOTA_PKG_MAX_META - m, o);
    if (rel < 0) {
        fota_sig_key_free(&key);
        return rel;
    }
    m += (size_t)rel;
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
        fota_put16(hdr + 4, FOTA_PKG_FORMAT_VERSION);
        fota_put16(hdr + 6, is_signed ? FOTA_PKG_FLAG_SIGNED : 0);
        fota_put32(hdr + 8, (uint32_t)total);
        fota_put16(hdr + 12, (uint16_t)meta_len);
        hdr[14] = (uint8_t)count;
        hdr[15] = 0;
        for (unsigned i = 0; i < count; i++) {
            uint8_t *e = hdr + m + i * FOTA_PKG_SECTION_ENTRY_LEN;
            e[0] = secs[i].type;
            fota_put32(e + 4, secs[i].offset);
            fota_put32(e + 8, secs[i].length);
            fota_put32(e + 12, secs[i].decoded_length);
            memcpy(e + 16, secs[i].sha256, 32);
        }
        /* Header last: an interrupted build leaves no valid magic. */
        rc = fota_port_pwrite(out, 0, hdr, hdr_len);
    }
    uint8_t h[32];
    if (rc == 0) {
        /* Hashed as read back: what is on storage is what gets signed. */
        rc = fota_file_sha256_range(out, off, h);
    }
    if (rc == 0) rc = fota_port_pwrite(out, off, h, sizeof h);
    if (rc == 0 && is_signed) {
        uint8_t blk[FOTA_PKG_SIG_BLOCK_LEN];
        fota_put16(blk, FOTA_PKG_SIG_ALG_ECDSA_P256);
        fota_put16(blk + 2, FOTA_PKG_SIG_RAW_LEN);
        rc = fota_sig_sign(&key, h, blk + 4);
        if (rc == 0) rc = fota_port_pwrite(out, off + FOTA_PKG_HASH_LEN, blk, sizeof blk);
    }
    if (rc == 0) rc = fota_port_truncate(out, total);
    if (rc == 0) rc = fota_port_sync(out);
    fota_sig_key_free(&key);
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
