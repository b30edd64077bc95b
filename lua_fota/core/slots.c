#include "core/slots.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/sig.h"
#include "core/stage.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REC_MAGIC "LFBR"
#define REC_FORMAT_V1 1              /* read only: a device from before provisioning */
#define REC_FORMAT 2
#define IMG_LEN 112
#define REC_LEN_V1 (16 + 2 * IMG_LEN + 4)
#define REC_KEY_AT (16 + 2 * IMG_LEN)  /* flags byte, 3 zero bytes, key id, last package hash */
#define REC_LEN (REC_KEY_AT + 4 + 32 + 32 + 4)
#define REC_FLAG_KEY 1u
/* The copy buffer, one NOR erase block, is malloc()ed: a module's task
 * stack is a few KiB. */
#define COPY_BUF 4096

static void put_image(uint8_t *p, const fota_image *img)
{
    memset(p, 0, IMG_LEN);
    p[0] = img->core_slot;
    p[1] = img->script_slot;
    fota_put32(p + 4, img->core_version);
    fota_put32(p + 8, img->core_len);
    fota_put32(p + 12, img->script_len);
    memcpy(p + 16, img->script_version, strnlen(img->script_version, FOTA_SLOTS_VERSION_MAX - 1));
    memcpy(p + 48, img->core_sha256, 32);
    memcpy(p + 80, img->script_sha256, 32);
}

static int get_image(const uint8_t *p, fota_image *img)
{
    memset(img, 0, sizeof *img);
    if (p[0] > 1 || p[1] > 1 || p[16 + FOTA_SLOTS_VERSION_MAX - 1] != 0)
        return FOTA_ERR_FORMAT;
    img->core_slot = p[0];
    img->script_slot = p[1];
    img->core_version = fota_get32(p + 4);
    img->core_len = fota_get32(p + 8);
    img->script_len = fota_get32(p + 12);
    memcpy(img->script_version, p + 16, FOTA_SLOTS_VERSION_MAX);
    memcpy(img->core_sha256, p + 48, 32);
    memcpy(img->script_sha256, p + 80, 32);
    return FOTA_OK;
}

int fota_slots_init(fota_slots *s, const char *device_dir)
{
    char d[FOTA_SLOTS_PATH_MAX + 8];
    size_t n = strlen(device_dir);
    if (n == 0 || n + 16 >= sizeof s->dir)
        return FOTA_ERR_ARG;
    memcpy(s->dir, device_dir, n + 1);
    snprintf(d, sizeof d, "%s/slots", s->dir);
    return fota_port_mkdirs(d);
}

int fota_slots_path(const fota_slots *s, char kind, unsigned slot, char *out, size_t len)
{
    int n;
    if (slot > 1 || (kind != 'c' && kind != 's'))
        return FOTA_ERR_ARG;
    n = snprintf(out, len, "%s/slots/%s_%c.%s", s->dir, kind == 'c' ? "core" : "script",
                 slot ? 'b' : 'a', kind == 'c' ? "bin" : "lfsa");
    return (n < 0 || (size_t)n >= len) ? FOTA_ERR_RANGE : FOTA_OK;
}

static void rec_path(const fota_slots *s, unsigned copy, char *out, size_t len)
{
    snprintf(out, len, "%s/slots/boot%u.rec", s->dir, copy);
}

/* One copy: 1 valid (rec filled), 0 missing, unreadable or invalid, or
 * FOTA_ERR_NOMEM: a port short of memory says nothing about the copy, and
 * taking it for a missing one would roll a good upgrade back. */
static int read_copy(const fota_slots *s, unsigned copy, fota_boot_record *rec)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    uint8_t b[REC_LEN];
    fota_port_file *f;
    size_t got = 0, len;
    int rc;

    rec_path(s, copy, path, sizeof path);
    if ((rc = fota_port_open(&f, path, FOTA_PORT_READ)) != FOTA_OK)
        return rc == FOTA_ERR_NOMEM ? rc : 0;
    rc = fota_port_pread(f, 0, b, sizeof b, &got);
    fota_port_close(f);
    if (rc == FOTA_ERR_NOMEM)
        return rc;
    if (rc != FOTA_OK || got < REC_LEN_V1 || memcmp(b, REC_MAGIC, 4) != 0)
        return 0;
    len = fota_get16(b + 4) == REC_FORMAT_V1 ? REC_LEN_V1 : fota_get16(b + 4) == REC_FORMAT ? REC_LEN : 0;
    if (len == 0 || got < len || fota_get32(b + len - 4) != fota_crc32(0, b, len - 4))
        return 0;
    memset(rec, 0, sizeof *rec);
    if (len == REC_LEN) {
        if (b[REC_KEY_AT] & ~REC_FLAG_KEY)
            return 0;
        rec->key_provisioned = b[REC_KEY_AT] & REC_FLAG_KEY;
        memcpy(rec->key_id, b + REC_KEY_AT + 4, 32);
        memcpy(rec->last_pkg_sha256, b + REC_KEY_AT + 36, 32);
    }
    rec->seq = fota_get32(b + 8);
    rec->state = b[12];
    rec->tries_left = b[13];
    rec->last_result = b[14];
    rec->reason = b[15];
    if (rec->state > FOTA_BOOT_TRYING || get_image(b + 16, &rec->active) != FOTA_OK ||
        get_image(b + 16 + IMG_LEN, &rec->prev) != FOTA_OK)
        return 0;
    return 1;
}

int fota_slots_read(const fota_slots *s, fota_boot_record *rec)
{
    fota_boot_record r0, r1;
    int v0 = read_copy(s, 0, &r0), v1 = read_copy(s, 1, &r1);
    if (v0 < 0 || v1 < 0)
        return v0 < 0 ? v0 : v1;
    if (!v0 && !v1)
        return FOTA_ERR_NOENT;
    /* Sequence numbers only grow; the newer valid copy is in force. */
    *rec = (v0 && (!v1 || (int32_t)(r0.seq - r1.seq) > 0)) ? r0 : r1;
    return FOTA_OK;
}

int fota_slots_write(const fota_slots *s, fota_boot_record *rec)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    fota_boot_record r;   /* each copy in turn: only their sequence numbers are kept */
    uint8_t b[REC_LEN];
    fota_port_file *f;
    unsigned target;
    uint32_t q0, q1;
    int v0, v1, rc;

    /* Which copy is in force must be known before one is overwritten. */
    if ((v0 = read_copy(s, 0, &r)) < 0)
        return v0;
    q0 = v0 ? r.seq : 0;
    if ((v1 = read_copy(s, 1, &r)) < 0)
        return v1;
    q1 = v1 ? r.seq : 0;
    /* Overwrite the copy not in force, so a torn write keeps the other. */
    if (!v0)
        target = 0;
    else if (!v1)
        target = 1;
    else
        target = (int32_t)(q0 - q1) > 0 ? 1 : 0;
    if (v0 || v1) {
        uint32_t cur = (v0 && (!v1 || (int32_t)(q0 - q1) > 0)) ? q0 : q1;
        rec->seq = cur + 1;
    } else {
        rec->seq = 1;
    }
    memset(b, 0, sizeof b);
    memcpy(b, REC_MAGIC, 4);
    fota_put16(b + 4, REC_FORMAT);
    fota_put32(b + 8, rec->seq);
    b[12] = rec->state;
    b[13] = rec->tries_left;
    b[14] = rec->last_result;
    b[15] = rec->reason;
    put_image(b + 16, &rec->active);
    put_image(b + 16 + IMG_LEN, &rec->prev);
    if (rec->key_provisioned) {
        b[REC_KEY_AT] = REC_FLAG_KEY;
        memcpy(b + REC_KEY_AT + 4, rec->key_id, 32);
    }
    memcpy(b + REC_KEY_AT + 36, rec->last_pkg_sha256, 32);
    fota_put32(b + REC_LEN - 4, fota_crc32(0, b, REC_LEN - 4));
    rec_path(s, target, path, sizeof path);
    /* Erased, then written whole: on NOR flash a write only clears bits. */
    if ((rc = fota_port_open(&f, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK)
        return rc;
    rc = fota_port_pwrite(f, 0, b, sizeof b);
    if (rc == FOTA_OK)
        rc = fota_port_sync(f);
    fota_port_close(f);
    return rc;
}

static int hash_slot(const fota_slots *s, char kind, unsigned slot, uint32_t len, const uint8_t sha[32])
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    uint8_t got[32];
    uint64_t n = 0;
    int rc = fota_slots_path(s, kind, slot, path, sizeof path);
    if (rc != FOTA_OK)
        return rc;
    rc = fota_sha256_file(path, FOTA_PKG_MAX_IMAGE, got, &n);
    if (rc == FOTA_ERR_NOMEM)
        return rc;   /* no buffer: says nothing about the image */
    if (rc != 0)
        return FOTA_ERR_FORMAT;
    return (n == len && memcmp(got, sha, 32) == 0) ? FOTA_OK : FOTA_ERR_FORMAT;
}

int fota_slots_check_image(const fota_slots *s, const fota_image *img)
{
    int rc = hash_slot(s, 'c', img->core_slot, img->core_len, img->core_sha256);
    return rc != FOTA_OK ? rc : hash_slot(s, 's', img->script_slot, img->script_len, img->script_sha256);
}

/* A slot file opened empty for writing (path gets its name) and a
 * COPY_BUF buffer to fill it through; slot_out_end closes both. */
static int slot_out_begin(const fota_slots *s, char kind, unsigned slot, char path[FOTA_SLOTS_PATH_MAX + 24],
                          fota_port_file **out, uint8_t **buf)
{
    int rc = fota_slots_path(s, kind, slot, path, FOTA_SLOTS_PATH_MAX + 24);

    if (rc != FOTA_OK)
        return rc;
    if (!(*buf = malloc(COPY_BUF)))
        return FOTA_ERR_NOMEM;
    if ((rc = fota_port_open(out, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK)
        free(*buf);
    return rc;
}

/* Frees the buffer and closes the slot file, synced first when rc (the
 * writing's result) is FOTA_OK; returns rc, else the sync's error. */
static int slot_out_end(fota_port_file *out, uint8_t *buf, int rc)
{
    free(buf);
    if (rc == FOTA_OK)
        rc = fota_port_sync(out);
    fota_port_close(out);
    return rc;
}

/* Copies a whole file into a slot, synced; fills len and hash. */
static int copy_into_slot(const fota_slots *s, char kind, unsigned slot, const char *src,
                          uint32_t *len, uint8_t sha[32])
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    uint8_t *buf;
    fota_port_file *in = NULL, *out;
    uint64_t off = 0, n = 0;
    int rc = slot_out_begin(s, kind, slot, path, &out, &buf);

    if (rc != FOTA_OK)
        return rc;
    if (src && (rc = fota_port_open(&in, src, FOTA_PORT_READ)) != FOTA_OK)
        return slot_out_end(out, buf, rc);
    while (in) {
        size_t got;
        if ((rc = fota_port_pread(in, off, buf, COPY_BUF, &got)) != FOTA_OK || got == 0)
            break;
        if (off + got > FOTA_PKG_MAX_IMAGE) {
            rc = FOTA_ERR_RANGE;
            break;
        }
        if ((rc = fota_port_pwrite(out, off, buf, got)) != FOTA_OK)
            break;
        off += got;
    }
    fota_port_close(in);
    rc = slot_out_end(out, buf, rc);
    if (rc == FOTA_OK)
        rc = fota_sha256_file(path, FOTA_PKG_MAX_IMAGE, sha, &n) == 0 ? FOTA_OK : FOTA_ERR_IO;
    *len = (uint32_t)n;
    return rc;
}

int fota_slots_flash(const fota_slots *s, const char *core_image, uint32_t core_version,
                     const char *script_archive, const char *script_version)
{
    fota_boot_record rec, old;
    int rc;

    memset(&rec, 0, sizeof rec);
    if (script_version && strlen(script_version) >= FOTA_SLOTS_VERSION_MAX)
        return FOTA_ERR_ARG;
    if (fota_slots_read(s, &old) == FOTA_OK && old.key_provisioned) {
        rec.key_provisioned = 1;   /* provisioning is for the device's life */
        memcpy(rec.key_id, old.key_id, 32);
    }
    rec.active.core_version = core_version;
    snprintf(rec.active.script_version, sizeof rec.active.script_version, "%s", script_version ? script_version : "");
    if ((rc = copy_into_slot(s, 'c', 0, core_image, &rec.active.core_len, rec.active.core_sha256)) != FOTA_OK ||
        (rc = copy_into_slot(s, 's', 0, script_archive, &rec.active.script_len, rec.active.script_sha256)) != FOTA_OK)
        return rc;
    rec.prev = rec.active;
    rec.state = FOTA_BOOT_CONFIRMED;
    return fota_slots_write(s, &rec);
}

/* Streams section idx of the package into a slot through a fixed buffer,
 * then checks the slot file against the section's decoded length and hash. */
static int write_section(const fota_slots *s, fota_pkg_reader *r, unsigned idx, char kind, unsigned slot)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    const fota_pkg_section *sec = &r->info.sections[idx];
    fota_pkg_stream st;
    fota_port_file *out;
    uint8_t *buf;
    uint64_t off = 0;
    size_t fill = 0;
    int rc = slot_out_begin(s, kind, slot, path, &out, &buf);

    if (rc != FOTA_OK)
        return rc;
    if ((rc = fota_pkg_stream_open(&st, r, idx)) != 0)
        return slot_out_end(out, buf, rc);
    for (;;) {
        size_t got = 0;
        rc = fota_pkg_stream_read(&st, buf + fill, COPY_BUF - fill, &got);
        if (rc != 0)
            break;
        fill += got;
        /* Whole buffers: fewer, larger flash writes. */
        if (fill == COPY_BUF || (got == 0 && fill > 0)) {
            if ((rc = fota_port_pwrite(out, off, buf, fill)) != FOTA_OK)
                break;
            off += fill;
            fill = 0;
        }
        if (got == 0)
            break;
    }
    fota_pkg_stream_close(&st);
    rc = slot_out_end(out, buf, rc);
    if (rc == FOTA_OK)
        rc = hash_slot(s, kind, slot, sec->decoded_length, sec->sha256);
    return rc;
}

/* The running core slot, read by offset: the base of a core delta. */
static int read_core(void *ud, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    int rc = fota_port_pread((fota_port_file *)ud, off, buf, len, &got);
    return rc != FOTA_OK ? rc : got == len ? FOTA_OK : FOTA_ERR_IO;
}

typedef struct {
    fota_port_file *f;
    uint64_t off;
} slot_writer;

static int write_core(void *ud, const void *buf, size_t len)
{
    slot_writer *w = ud;
    int rc = fota_port_pwrite(w->f, w->off, buf, len);
    w->off += len;
    return rc;
}

/* The new core from a delta against the running core, into a slot. */
static int write_delta(const fota_slots *s, fota_pkg_reader *r, unsigned idx, fota_port_file *base,
                       uint64_t base_len, unsigned slot)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    const fota_pkg_section *sec = &r->info.sections[idx];
    slot_writer w = { NULL, 0 };
    fota_delta_io io;
    int rc = fota_slots_path(s, 'c', slot, path, sizeof path);

    if (rc != FOTA_OK || (rc = fota_port_open(&w.f, path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC)) != FOTA_OK)
        return rc;
    memset(&io, 0, sizeof io);
    io.read_old = read_core;
    io.old_ud = base;
    io.old_size = base_len;
    io.write_new = write_core;
    io.new_ud = &w;
    rc = fota_pkg_apply_delta(r, idx, &io);
    if (rc == FOTA_OK)
        rc = fota_port_sync(w.f);
    fota_port_close(w.f);
    if (rc == FOTA_OK)
        rc = hash_slot(s, 'c', slot, sec->decoded_length, sec->sha256);
    return rc;
}

static int find_section(const fota_pkg_info *in, int type)
{
    for (unsigned i = 0; i < in->section_count; i++)
        if (in->sections[i].type == type)
            return (int)i;
    return -1;
}

int fota_slots_provision_key(const fota_slots *s, const char *pub_pem)
{
    fota_boot_record rec;
    uint8_t id[32];
    int rc;

    if (fota_sig_key_id(pub_pem, id) != 0)
        return FOTA_ERR_ARG;
    if ((rc = fota_slots_read(s, &rec)) != FOTA_OK)
        return rc;
    if (rec.key_provisioned)
        return memcmp(rec.key_id, id, 32) == 0 ? FOTA_OK : FOTA_ERR_STATE;
    rec.key_provisioned = 1;
    memcpy(rec.key_id, id, 32);
    /* Into both copies: neither may later be found without the key. */
    if ((rc = fota_slots_write(s, &rec)) != FOTA_OK)
        return rc;
    return fota_slots_write(s, &rec);
}

int fota_slots_provision_found(const fota_slots *s, const char *pub_pem)
{
    fota_boot_record rec;
    uint8_t id[32];
    int rc;

    /* An unusable key is no key: a later boot that finds the whole file
     * provisions then. */
    if (!pub_pem || !pub_pem[0] || fota_sig_key_id(pub_pem, id) != 0)
        return 0;
    if ((rc = fota_slots_read(s, &rec)) == FOTA_ERR_NOENT)
        return 0;
    if (rc != FOTA_OK)
        return rc;
    /* Never a second key: the one first seen stays, a swap is refused later. */
    if (rec.key_provisioned)
        return 0;
    rc = fota_slots_provision_key(s, pub_pem);
    return rc == FOTA_OK ? 1 : rc;
}

/* A provisioned device trusts its key and nothing else, whatever the files say. */
static int check_provisioned_key(const fota_boot_record *rec, const fota_pkg_policy *pol)
{
    uint8_t id[32];
    if (!rec->key_provisioned)
        return FOTA_OK;
    if (!pol->pubkey_pem || !pol->pubkey_pem[0])
        return FOTA_PKG_E_KEY_MISSING;
    if (fota_sig_key_id(pol->pubkey_pem, id) != 0 || memcmp(id, rec->key_id, 32) != 0)
        return FOTA_PKG_E_KEY_CHANGED;
    return FOTA_OK;
}

int fota_slots_base_policy(const fota_slots *s, const fota_boot_record *rec, fota_pkg_policy *pol,
                           fota_port_file **core)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    int rc;

    *core = NULL;
    if ((rc = check_provisioned_key(rec, pol)) != FOTA_OK)
        return rc;
    /* The running pair is the base and the floor for anti-rollback. */
    if (!pol->current_core_version)
        pol->current_core_version = rec->active.core_version;
    if (!pol->has_current_core_sha256) {
        memcpy(pol->current_core_sha256, rec->active.core_sha256, 32);
        pol->has_current_core_sha256 = 1;
    }
    if (!pol->current_script_version && fota_version_valid(rec->active.script_version))
        pol->current_script_version = rec->active.script_version;
    /* Verify applies a core delta to the running core too, so its result is
     * checked before any slot is touched. */
    if ((rc = fota_slots_path(s, 'c', rec->active.core_slot, path, sizeof path)) != FOTA_OK ||
        (rc = fota_port_open(core, path, FOTA_PORT_READ)) != FOTA_OK)
        return rc;
    pol->read_core = read_core;
    pol->core_ud = *core;
    pol->core_size = rec->active.core_len;
    return FOTA_OK;
}

static int commit(const fota_slots *s, const char *pkg_path, const fota_pkg_policy *policy, uint8_t tries,
                  int once);

int fota_slots_commit(const fota_slots *s, const char *pkg_path, const fota_pkg_policy *pol, uint8_t tries)
{
    return commit(s, pkg_path, pol, tries, 0);
}

static int commit(const fota_slots *s, const char *pkg_path, const fota_pkg_policy *policy, uint8_t tries,
                  int once)
{
    fota_boot_record rec;
    fota_pkg_policy pol = *policy;
    fota_port_file *base = NULL;
    fota_pkg_reader *r;   /* 1.1 KiB: malloc()ed, off a module's small stack */
    fota_image next;
    int rc, core, delta, script;

    if (tries == 0)
        return FOTA_ERR_ARG;
    if ((rc = fota_slots_read(s, &rec)) != FOTA_OK)
        return rc;
    /* Overwriting the inactive pair now would lose the last confirmed image. */
    if (rec.state == FOTA_BOOT_TRYING)
        return FOTA_ERR_STATE;
    if ((rc = fota_slots_base_policy(s, &rec, &pol, &base)) != FOTA_OK)
        return rc;

    if (!(r = malloc(sizeof *r))) {
        fota_port_close(base);
        return FOTA_ERR_NOMEM;
    }
    if ((rc = fota_pkg_open_file(r, pkg_path, pol.max_size)) != 0) {
        fota_port_close(base);
        free(r);
        return rc;
    }
    /* Before verifying: the running release would be refused as a replay.
     * The stored hash is not checked yet, but a match only means nothing is
     * written. */
    if (once && memcmp(r->info.sha256, rec.last_pkg_sha256, 32) == 0) {
        rc = FOTA_SLOTS_ALREADY_APPLIED;
        goto out;
    }
    if ((rc = fota_pkg_verify(r, &pol)) != 0)
        goto out;
    if (strlen(r->info.script_version) >= sizeof next.script_version) {
        rc = FOTA_PKG_E_BAD_META;   /* the boot record could not name it */
        goto out;
    }
    next = rec.active;
    core = find_section(&r->info, FOTA_PKG_SEC_CORE_FULL);
    delta = find_section(&r->info, FOTA_PKG_SEC_CORE_DELTA);
    script = find_section(&r->info, FOTA_PKG_SEC_SCRIPT);
    if (delta >= 0)
        core = delta;
    if (core >= 0) {
        next.core_slot = (uint8_t)!rec.active.core_slot;
        rc = delta >= 0 ? write_delta(s, r, (unsigned)delta, base, rec.active.core_len, next.core_slot)
                        : write_section(s, r, (unsigned)core, 'c', next.core_slot);
        if (rc != FOTA_OK)
            goto out;
        next.core_version = r->info.to_core_version;
        next.core_len = r->info.sections[core].decoded_length;
        memcpy(next.core_sha256, r->info.sections[core].sha256, 32);
    }
    if (script >= 0) {
        next.script_slot = (uint8_t)!rec.active.script_slot;
        if ((rc = write_section(s, r, (unsigned)script, 's', next.script_slot)) != FOTA_OK)
            goto out;
        memcpy(next.script_version, r->info.script_version, strlen(r->info.script_version) + 1);
        next.script_len = r->info.sections[script].decoded_length;
        memcpy(next.script_sha256, r->info.sections[script].sha256, 32);
    }
    /* Everything is written and checked: now the one write that switches. */
    rec.prev = rec.active;
    rec.active = next;
    memcpy(rec.last_pkg_sha256, r->info.sha256, 32);
    rec.state = FOTA_BOOT_TRYING;
    rec.tries_left = tries;
    rec.last_result = FOTA_RESULT_NONE;
    rec.reason = FOTA_REASON_NONE;
    rc = fota_slots_write(s, &rec);
out:
    fota_pkg_close(r);
    free(r);
    fota_port_close(base);
    return rc;
}

static int open_trusted_key(const char *device_dir, fota_port_file **f)
{
    char path[FOTA_SLOTS_PATH_MAX + 24];
    if (snprintf(path, sizeof path, "%s/fota/trusted.pem", device_dir) >= (int)sizeof path)
        return FOTA_ERR_RANGE;
    return fota_port_open(f, path, FOTA_PORT_READ);
}

int fota_slots_trusted_key_size(const char *device_dir, uint64_t *size)
{
    fota_port_file *f;
    int rc;
    *size = 0;
    if ((rc = open_trusted_key(device_dir, &f)) != FOTA_OK)
        return rc == FOTA_ERR_NOENT ? FOTA_OK : rc;
    rc = fota_port_size(f, size);
    fota_port_close(f);
    if (rc != FOTA_OK)
        *size = 0;
    return rc;
}

int fota_slots_trusted_key(const char *device_dir, char *buf, size_t cap)
{
    fota_port_file *f;
    size_t got = 0;
    int rc;
    if (cap == 0)
        return 0;
    buf[0] = '\0';
    if ((rc = open_trusted_key(device_dir, &f)) != FOTA_OK)
        return rc == FOTA_ERR_NOENT ? 0 : rc;
    rc = fota_port_pread(f, 0, buf, cap - 1, &got);
    fota_port_close(f);
    if (rc != FOTA_OK)
        return rc;
    buf[got] = '\0';
    return got > 0;
}

int fota_slots_apply_staged(const fota_slots *s, const char *stage_path, const fota_pkg_policy *pol)
{
    char ready[FOTA_STAGE_PATH_MAX + 8];
    fota_boot_record rec;
    int rc;

    if (fota_stage_ready_path(stage_path, ready, sizeof ready) != FOTA_OK || !fota_port_exists(ready))
        return FOTA_SLOTS_NOTHING_STAGED;
    if ((rc = fota_slots_read(s, &rec)) == FOTA_ERR_NOMEM)
        return rc;   /* the package waits for a boot with memory */
    if (rc != FOTA_OK || rec.state != FOTA_BOOT_CONFIRMED)
        return FOTA_SLOTS_NOTHING_STAGED;
    rc = commit(s, stage_path, pol, FOTA_SLOTS_DEFAULT_TRIES, 1);
    /* a verdict on the package (or on the device's key) ends it; a package
     * that could not be read this time waits for the next boot */
    if (rc == FOTA_OK || rc == FOTA_SLOTS_ALREADY_APPLIED || (rc <= FOTA_PKG_E_BAD_MAGIC && rc != FOTA_PKG_E_IO))
        fota_stage_discard(stage_path);
    return rc;
}

static int roll_back(const fota_slots *s, fota_boot_record *rec, uint8_t reason)
{
    int rc = fota_slots_check_image(s, &rec->prev);
    if (rc != FOTA_OK)
        return rc == FOTA_ERR_NOMEM ? rc : FOTA_ERR_FORMAT;
    rec->active = rec->prev;
    rec->state = FOTA_BOOT_CONFIRMED;
    rec->tries_left = 0;
    rec->last_result = FOTA_RESULT_ROLLED_BACK;
    rec->reason = reason;
    return fota_slots_write(s, rec);
}

static int same_image(const fota_image *a, const fota_image *b)
{
    return a->core_slot == b->core_slot && a->script_slot == b->script_slot &&
           !memcmp(a->core_sha256, b->core_sha256, 32) && !memcmp(a->script_sha256, b->script_sha256, 32);
}

int fota_slots_boot(const fota_slots *s, fota_boot_record *rec)
{
    int rc = fota_slots_read(s, rec);
    if (rc != FOTA_OK)
        return rc;
    if (rec->state == FOTA_BOOT_TRYING && rec->tries_left == 0)
        return roll_back(s, rec, FOTA_REASON_NOT_CONFIRMED);
    /* Out of memory for the hash is no verdict on the image: nothing changes. */
    if ((rc = fota_slots_check_image(s, &rec->active)) == FOTA_ERR_NOMEM)
        return rc;
    if (rc != FOTA_OK)
        return same_image(&rec->active, &rec->prev) ? FOTA_ERR_FORMAT
                                                     : roll_back(s, rec, FOTA_REASON_BAD_IMAGE);
    if (rec->state != FOTA_BOOT_TRYING)
        return FOTA_OK;
    rec->tries_left--;
    return fota_slots_write(s, rec);
}

int fota_slots_confirm(const fota_slots *s)
{
    fota_boot_record rec;
    int rc = fota_slots_read(s, &rec);
    if (rc != FOTA_OK)
        return rc;
    if (rec.state != FOTA_BOOT_TRYING)
        return FOTA_OK;
    rec.state = FOTA_BOOT_CONFIRMED;
    rec.last_result = FOTA_RESULT_UPDATED;
    rec.reason = FOTA_REASON_NONE;
    return fota_slots_write(s, &rec);
}

int fota_slots_rollback(const fota_slots *s, uint8_t reason)
{
    fota_boot_record rec;
    int rc = fota_slots_read(s, &rec);
    if (rc != FOTA_OK)
        return rc;
    if (same_image(&rec.active, &rec.prev))
        return FOTA_ERR_STATE;   /* nothing to go back to */
    return roll_back(s, &rec, reason);
}
