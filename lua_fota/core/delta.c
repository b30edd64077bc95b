/* Core delta engine: generator and bounded-RAM streaming applier. Format in
 * docs/delta-format.md. Offsets are 64-bit internally so no sum of two
 * 32-bit values read from a delta can wrap. */
#include "core/delta.h"

#include <stdlib.h>
#include <string.h>

#include "core/bytes.h"
#include "core/fota_err.h"
#include "port/port.h"

#ifndef FOTA_DELTA_NO_GENERATOR
#include <divsufsort.h>
#include <libdeflate.h>

#include "core/zdeflate.h"
#endif

#define MAX_VARINT 5   /* 35 bits: every control value is below 2^32 */

enum { ST_HDR, ST_BHDR, ST_BCTRL, ST_BEXTRA, ST_BRC, ST_EXEC, ST_DONE, ST_END };

const char *fota_delta_errname(int code)
{
    switch (code) {
    case FOTA_DELTA_E_FORMAT: return "format";
    case FOTA_DELTA_E_WRONG_BASE: return "wrong_base";
    case FOTA_DELTA_E_TRUNCATED: return "truncated";
    case FOTA_DELTA_E_RANGE: return "range";
    case FOTA_DELTA_E_HASH: return "hash_mismatch";
    case FOTA_DELTA_E_TOO_LARGE: return "too_large";
    default: return NULL;
    }
}

int fota_delta_parse_header(const uint8_t p[FOTA_DELTA_HEADER_LEN], fota_delta_header *h)
{
    if (!p || !h) return FOTA_ERR_ARG;
    if (memcmp(p, FOTA_DELTA_MAGIC, 4) != 0) return FOTA_DELTA_E_FORMAT;
    h->version = p[4];
    h->flags = p[5];
    if (h->version == 2) {
        /* v2: window 15, the first two flags, no parameters */
        if ((h->flags & ~(unsigned)(FOTA_DELTA_F_PREDICT | FOTA_DELTA_F_REL32)) || p[6] || p[7])
            return FOTA_DELTA_E_FORMAT;
        h->window_bits = FOTA_DELTA_MAX_WBITS;
        h->region_shift = 0;
        h->header_len = FOTA_DELTA_HEADER_LEN;
    } else if (h->version >= 3 && h->version <= 5) {
        h->window_bits = p[6];
        h->region_shift = p[7];
        h->header_len = (h->flags & FOTA_DELTA_F_WORDS) ? FOTA_DELTA_HEADER_V3_LEN : FOTA_DELTA_HEADER_LEN;
        /* rel32 (x86) and the ARM fields share one table: never both */
        if ((h->flags & ~(unsigned)(FOTA_DELTA_F_PREDICT | FOTA_DELTA_F_REL32 | FOTA_DELTA_F_ARM)) ||
            ((h->flags & FOTA_DELTA_F_REL32) && (h->flags & FOTA_DELTA_F_ARM)) ||
            (h->version == 5 ? h->window_bits != 0   /* v5 has no zlib stream */
                             : h->window_bits < FOTA_DELTA_MIN_WBITS || h->window_bits > FOTA_DELTA_MAX_WBITS) ||
            h->region_shift < FOTA_DELTA_MIN_SHIFT || h->region_shift > FOTA_DELTA_MAX_SHIFT)
            return FOTA_DELTA_E_FORMAT;
    } else {
        return FOTA_DELTA_E_FORMAT;
    }
    h->old_size = fota_get32(p + 8);
    h->new_size = fota_get32(p + 12);
    memcpy(h->old_sha256, p + 16, 32);
    memcpy(h->new_sha256, p + 48, 32);
    if (h->old_size > FOTA_DELTA_MAX_IMAGE || h->new_size > FOTA_DELTA_MAX_IMAGE)
        return FOTA_DELTA_E_TOO_LARGE;
    return 0;
}

/* ------------------------------------------------------------------ */
/* field predictors (both sides)                                       */

/* Opcodes whose ModRM byte with mod 00, r/m 101 (RIP-relative) is followed
 * by a disp32 that ends the instruction, bit o of rip_ops[o >> 3]: 03 0B 10
 * 11 13 1B 23 28 29 2B 2E 2F 33 38 39 3A 3B 54 57 58 59 5C 5E 63 6F 7F 84 85
 * 86 87 88 89 8A 8B 8D FF. Part of the format; a heuristic, so an
 * instruction it misjudges costs only size. */
static const uint8_t rip_ops[32] = {
    0x08, 0x08, 0x0b, 0x08, 0x08, 0xcb, 0x08, 0x0f, 0x00, 0x00, 0x90, 0x53, 0x08, 0x80, 0x00, 0x80,
    0xf0, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80};

static uint32_t le32(const uint8_t b[4])
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static unsigned table_slot(uint32_t key)
{
    return (unsigned)((uint32_t)(key * 2654435761u) >> 24);
}

/* x86: when the two new bytes before old position k (h2 h1) end a
 * CALL/JMP rel32 or Jcc rel32 opcode (E8, E9, 0F 80..8F) or an instruction
 * with a RIP-relative disp32 (ModRM 00 xxx 101 after an opcode in rip_ops;
 * a false field mostly predicts 0, as without the predictor) and the field's
 * target k + 4 + old32 (mod 2^32) lies inside old, the field is predicted
 * to change by its target page's learned change. */
static int rel_begin(fota_delta_rel *m, const uint8_t o[4], uint8_t h1, uint8_t h2, uint64_t k,
                     uint64_t on)
{
    if (!(h1 == 0xe8 || h1 == 0xe9 || (h2 == 0x0f && (h1 & 0xf0) == 0x80) ||
          ((h1 & 0xc7) == 0x05 && (rip_ops[h2 >> 3] >> (h2 & 7) & 1))))
        return 0;
    uint32_t old32 = le32(o);
    uint32_t t = (uint32_t)k + 4u + old32;
    if (t >= on) return 0;
    uint32_t key = t >> FOTA_DELTA_REL_SHIFT;   /* below 2^12: old is at most 16 MiB */
    unsigned h = table_slot(key);
    m->slot = h;
    m->hit = (m->e[h].st & 1) && m->e[h].tag == key;
    uint32_t p = old32 + (m->hit && (m->e[h].st & 2) ? m->e[h].val : 0);
    for (int q = 0; q < 4; q++) m->pend[q] = (uint8_t)((uint8_t)(p >> (8 * q)) - o[q]);
    m->old32 = old32;
    m->tag_pending = (uint16_t)key;
    m->len = 4;
    return 1;
}

/* ARM field kinds; from K_SHORT on, flag bit 7's, which learn nothing. */
enum { K_THUMB = 1, K_A32, K_WORD, K_RELWORD, K_SHORT, K_BCOND, K_B16, K_LDR16, K_CBZ, K_BCONDW, K_LDRW, K_SKIP };

/* Where a Thumb-2 branch at p counts from. */
static int64_t thumb_pc(uint32_t w, uint64_t p)
{
    return (int64_t)((w & 0x10000000) ? p + 4 : (p + 4) & ~(uint64_t)3);
}

/* Thumb-2 BL (T1), B.W (T4), BLX (T2): 11110 S imm10, 1 x J1 y J2 imm11
 * (x y: 1 1 BL, 0 1 B.W, 1 0 BLX), offset S:I1:I2:imm10:imm11:0 with
 * I = NOT(J XOR S), from the instruction + 4 (BLX: rounded down to 4).
 * Returns 1 and the offset when w (two halfwords, first one low) is one. */
static int thumb_decode(uint32_t w, int32_t *off)
{
    uint32_t h1 = w & 0xffff, h2 = w >> 16;
    if ((h1 & 0xf800) != 0xf000 || !((h2 & 0x9000) == 0x9000 || (h2 & 0xd000) == 0xc000)) return 0;
    uint32_t s = h1 >> 10 & 1, i1 = ~(h2 >> 13 ^ s) & 1, i2 = ~(h2 >> 11 ^ s) & 1;
    uint32_t v = s << 24 | i1 << 23 | i2 << 22 | (h1 & 0x3ff) << 12 | (h2 & 0x7ff) << 1;
    *off = (int32_t)(v ^ 0x1000000u) - 0x1000000;   /* sign-extend 25 bits */
    return 1;
}

static uint32_t thumb_encode(uint32_t w, int64_t off)
{
    uint32_t v = (uint32_t)off, s = v >> 24 & 1;
    uint32_t j1 = (~(v >> 23) ^ s) & 1, j2 = (~(v >> 22) ^ s) & 1;
    uint32_t h1 = 0xf000 | s << 10 | (v >> 12 & 0x3ff);
    uint32_t h2 = (w >> 16 & 0xd000) | j1 << 13 | j2 << 11 | (v >> 1 & 0x7ff);
    return h1 | h2 << 16;
}

/* A32 BL: cond 1011 imm24 (cond 1111 is BLX), offset imm24 x 4 from the
 * instruction + 8. */
static int a32_decode(uint32_t w, int32_t *off)
{
    if ((w & 0x0f000000) != 0x0b000000 || w >> 28 == 0xf) return 0;
    *off = ((int32_t)(w << 8) >> 6);
    return 1;
}

static uint32_t a32_encode(uint32_t w, int64_t off)
{
    return (w & 0xff000000) | ((uint32_t)(off >> 2) & 0xffffff);
}

/* Flag bit 6: how far the current block's first command copying old
 * position t moves it. */
static int map_move(const fota_delta_map *mp, uint64_t t, uint32_t *d)
{
    for (unsigned i = 0; i < mp->n; i++)
        if (t >= mp->old[i] && t - mp->old[i] < mp->len[i]) {
            *d = mp->nw[i] - mp->old[i];
            return 1;
        }
    return 0;
}

/* Flag bit 7: inside a function, code inserted or removed changes the
 * offsets of the short branches and literal loads that cross it. At an even
 * k, the halfword h (old[k..k+1]) and the next one h2 (k+2..k+3):
 *   B<cond> (T1, 1101 cond imm8, cond < 1110), B (T2, 11100 imm11),
 *   LDR literal (T1, 01001 Rt imm8: Align(pc, 4) + imm8 x 4),
 *   CBZ/CBNZ (1011 x0i1 imm5 Rn): 2-byte fields;
 *   B<cond>.W (T3) and LDR{B,H,SB,SH,}.W literal: 4-byte fields;
 *   any other 32-bit instruction (h >> 11 = 11101, 11110, 11111): a 4-byte
 *   field predicted unchanged, so its second halfword is not taken for one.
 * The target is predicted to move as the block's command that copies it
 * (the command map), else as the field itself (offset unchanged); an offset
 * the encoding cannot hold predicts the old bytes. */
static int short_decode(uint32_t w, uint64_t k, unsigned *kind, int64_t *t)
{
    uint32_t h = w & 0xffff, h2 = w >> 16;
    int64_t pc = (int64_t)k + 4;
    if ((h & 0xf000) == 0xd000 && (h & 0x0e00) != 0x0e00) {
        *kind = K_BCOND;
        *t = pc + (int8_t)(h & 0xff) * 2;
    } else if ((h & 0xf800) == 0xe000) {
        *kind = K_B16;
        *t = pc + ((int32_t)((h & 0x7ff) << 21) >> 20);
    } else if ((h & 0xf800) == 0x4800) {
        *kind = K_LDR16;
        *t = (pc & ~(int64_t)3) + (int64_t)(h & 0xff) * 4;
    } else if ((h & 0xf500) == 0xb100) {
        *kind = K_CBZ;
        *t = pc + (int64_t)((h >> 3 & 0x1f) | (h >> 4 & 0x20)) * 2;
    } else if ((h & 0xf800) == 0xf000 && (h2 & 0xd000) == 0x8000 && (h & 0x0380) != 0x0380) {
        uint32_t v = (h >> 10 & 1) << 20 | (h2 >> 11 & 1) << 19 | (h2 >> 13 & 1) << 18 | (h & 0x3f) << 12 |
                     (h2 & 0x7ff) << 1;
        *kind = K_BCONDW;
        *t = pc + ((int32_t)(v << 11) >> 11);
    } else if ((h & 0xfe1f) == 0xf81f) {
        *kind = K_LDRW;
        *t = (pc & ~(int64_t)3) + ((h & 0x80) ? (int64_t)(h2 & 0xfff) : -(int64_t)(h2 & 0xfff));
    } else if (h >> 11 >= 0x1d) {
        *kind = K_SKIP;
        *t = 0;
    } else {
        return 0;
    }
    return 1;
}

/* The field of that kind at new position np with target tn; w when the
 * encoding cannot reach tn. */
static uint32_t short_encode(unsigned kind, uint32_t w, uint64_t np, int64_t tn)
{
    int64_t pc = (int64_t)np + 4, off = tn - pc, al = tn - (pc & ~(int64_t)3);
    uint32_t h = w & 0xffff, h2 = w >> 16;
    switch (kind) {
    case K_BCOND:
        if (off & 1 || off < -256 || off > 254) return w;
        return (w & 0xffff0000u) | (h & 0xff00) | (uint32_t)(off >> 1 & 0xff);
    case K_B16:
        if (off & 1 || off < -2048 || off > 2046) return w;
        return (w & 0xffff0000u) | 0xe000 | (uint32_t)(off >> 1 & 0x7ff);
    case K_LDR16:
        if (al & 3 || al < 0 || al > 1020) return w;
        return (w & 0xffff0000u) | (h & 0xff00) | (uint32_t)(al >> 2);
    case K_CBZ:
        if (off & 1 || off < 0 || off > 126) return w;
        return (w & 0xffff0000u) | (h & 0xfd07) | (uint32_t)(off >> 6 & 1) << 9 | (uint32_t)(off >> 1 & 0x1f) << 3;
    case K_BCONDW: {
        if (off & 1 || off < -(1 << 20) || off >= (1 << 20)) return w;
        uint32_t v = (uint32_t)off;
        h = (h & 0xfbc0) | (v >> 20 & 1) << 10 | (v >> 12 & 0x3f);
        h2 = (h2 & 0xd000) | (v >> 18 & 1) << 13 | (v >> 19 & 1) << 11 | (v >> 1 & 0x7ff);
        return h | h2 << 16;
    }
    case K_LDRW:
        if (al <= -4096 || al >= 4096) return w;
        h = (h & ~0x80u) | (al >= 0 ? 0x80u : 0);
        h2 = (h2 & 0xf000) | (uint32_t)(al >= 0 ? al : -al);
        return h | h2 << 16;
    default:
        return w;
    }
}

static int short_begin(fota_delta_rel *m, const fota_delta_params *p, uint32_t w, uint64_t k, uint64_t np)
{
    unsigned kind;
    int64_t t;
    if (!short_decode(w, k, &kind, &t)) return 0;
    uint32_t pred = w, d = (uint32_t)(np - k);
    if (kind != K_SKIP && t >= 0 && (uint64_t)t < p->old_size) {
        map_move(p->map, (uint64_t)t, &d);
        pred = short_encode(kind, w, np, t + (int32_t)d);
    }
    m->kind = kind;
    m->len = kind <= K_CBZ ? 2 : 4;
    const uint8_t o[4] = {(uint8_t)w, (uint8_t)(w >> 8), (uint8_t)(w >> 16), (uint8_t)(w >> 24)};
    for (int q = 0; q < 4; q++) m->pend[q] = (uint8_t)((uint8_t)(pred >> (8 * q)) - o[q]);
    return 1;
}

/* ARM: at old position k, new position np, old bytes o: a Thumb-2 BL/B.W
 * (k even), an A32 BL or a word pointing into old (k a multiple of 4),
 * each only with its flag. The old target's region (2^shift bytes) selects
 * a learned displacement (the last one seen when the region has none);
 * the field is predicted as the target moved by it, encoded at np. */
static int arm_begin(fota_delta_rel *m, const fota_delta_params *p, const uint8_t o[4], uint64_t k,
                     uint64_t np)
{
    uint32_t w = le32(o), pred;
    int32_t off;
    int64_t t;
    if ((p->flags & FOTA_DELTA_F_THUMB) && !(k & 1) && thumb_decode(w, &off)) {
        t = thumb_pc(w, k) + off;
        m->kind = K_THUMB;
    } else if ((p->flags & FOTA_DELTA_F_A32) && !(k & 3) && a32_decode(w, &off)) {
        t = (int64_t)k + 8 + off;
        m->kind = K_A32;
    } else if (!(k & 3) && (p->flags & FOTA_DELTA_F_WORDS) && (uint32_t)(w - p->base) < p->old_size) {
        t = (uint32_t)(w - p->base);
        m->kind = K_WORD;
    } else if (!(k & 3) && (p->flags & FOTA_DELTA_F_RELWORDS)) {
        t = (int64_t)k + (int32_t)w;
        m->kind = K_RELWORD;
    } else if ((p->flags & FOTA_DELTA_F_SHORT) && !(k & 1)) {
        return short_begin(m, p, w, k, np);
    } else {
        return 0;
    }
    if (t < 0 || (uint64_t)t >= p->old_size) return 0;
    m->len = 4;
    uint32_t key = (uint32_t)t >> p->shift;   /* below 2^16: old is at most 16 MiB */
    unsigned h = table_slot(key), hx = table_slot((uint32_t)t);
    m->slot = h;
    m->xslot = hx;
    m->hit = (m->e[h].st & 1) && m->e[h].tag == key;
    uint32_t d = m->last;
    if (m->x[hx].tag == (uint32_t)t + 1) d = m->x[hx].val;
    else if (!((p->flags & FOTA_DELTA_F_RUNS) && map_move(p->map, (uint64_t)t, &d)) && m->hit) d = m->e[h].val;
    int64_t tn = t + (int32_t)d;
    if (m->kind == K_THUMB) pred = thumb_encode(w, tn - thumb_pc(w, np));
    else if (m->kind == K_A32) pred = a32_encode(w, tn - (int64_t)(np + 8));
    else if (m->kind == K_RELWORD) pred = (uint32_t)(tn - (int64_t)np);
    else pred = (uint32_t)(tn - t) + w;
    for (int q = 0; q < 4; q++) m->pend[q] = (uint8_t)((uint8_t)(pred >> (8 * q)) - o[q]);
    m->old32 = w;
    m->target = (uint32_t)t;
    m->npos = np;
    m->tag_pending = (uint16_t)key;
    return 1;
}

/* Before the byte at old position k (new position np) is made: 1 when it
 * belongs to a predicted field, whose predicted difference is then
 * m->pend[m->n]. A field starts only with at least 4 bytes of the diff run
 * left (run_left, this byte included); o: old[k..k+3], h1, h2: the two new
 * bytes before np (0 before the image). */
static int field_begin(fota_delta_rel *m, const fota_delta_params *p, const uint8_t o[4], uint8_t h1,
                       uint8_t h2, uint64_t k, uint64_t np, uint64_t run_left)
{
    if (m->n) return 1;
    if (run_left < 4) return 0;
    if (p->flags & FOTA_DELTA_F_REL32) return rel_begin(m, o, h1, h2, k, p->old_size);
    return arm_begin(m, p, o, k, np);
}

/* ARM, flag bit 6: a diff run about to make new bytes from old [a, a +
 * len) at new position b teaches the regions it covers (the last 256 at
 * most) the displacement b - a, so a call to a function that was copied
 * already is predicted even when no call to its region was seen. */
static void field_run(fota_delta_rel *m, const fota_delta_params *p, uint64_t a, uint64_t len, uint64_t b)
{
    if (!(p->flags & FOTA_DELTA_F_RUNS) || len == 0) return;
    uint32_t last = (uint32_t)((a + len - 1) >> p->shift), first = (uint32_t)(a >> p->shift);
    if (last - first >= FOTA_DELTA_REL_SIZE) first = last - (FOTA_DELTA_REL_SIZE - 1);
    for (uint32_t key = first; key <= last; key++) {
        unsigned h = table_slot(key);
        m->e[h].tag = (uint16_t)key;
        m->e[h].val = (uint32_t)(b - a);
        m->e[h].st = 1;
    }
}

/* The ARM field's new displacement once its four new bytes are made; 0
 * when they are no longer that kind of field. */
static int arm_moved(const fota_delta_rel *m, const fota_delta_params *p, uint32_t nw, uint32_t *d)
{
    int32_t off;
    if (m->kind == K_THUMB && thumb_decode(nw, &off) && ((nw ^ m->old32) & 0x10000000) == 0)
        *d = (uint32_t)(thumb_pc(nw, m->npos) + off - m->target);
    else if (m->kind == K_A32 && a32_decode(nw, &off))
        *d = (uint32_t)((int64_t)m->npos + 8 + off - m->target);
    else if (m->kind == K_WORD && (uint32_t)(nw - p->base) < p->new_size)
        *d = nw - m->old32;
    else if (m->kind == K_RELWORD && (int64_t)m->npos + (int32_t)nw >= 0 &&
             (uint64_t)((int64_t)m->npos + (int32_t)nw) < p->new_size)
        *d = (uint32_t)((int64_t)m->npos + (int32_t)nw - m->target);
    else
        return 0;
    return 1;
}

/* After a field byte was made as new byte b: at the field's end its change
 * updates the entry. x86: the entry learns the field's change (confirmed
 * when seen twice); ARM: the entry and the last displacement learn how far
 * the target moved. */
static void field_made(fota_delta_rel *m, const fota_delta_params *p, uint8_t b)
{
    m->newb[m->n++] = b;
    if (m->n < m->len) return;
    m->n = 0;
    uint32_t nw = le32(m->newb), d;
    unsigned h = m->slot;
    if (!(p->flags & FOTA_DELTA_F_REL32)) {
        if (m->kind >= K_SHORT || !arm_moved(m, p, nw, &d)) return;
        m->x[m->xslot].tag = m->target + 1;
        m->x[m->xslot].val = d;
        m->e[h].tag = m->tag_pending;
        m->e[h].val = d;
        m->e[h].st = 1;
        m->last = d;
        return;
    }
    d = nw - m->old32;
    if (m->hit) {
        if (d == m->e[h].val) m->e[h].st = 3;
        else { m->e[h].val = d; m->e[h].st = 1; }
    } else if (d) {
        m->e[h].tag = m->tag_pending;
        m->e[h].val = d;
        m->e[h].st = 1;
    }
}

/* v4's coding of the diff bytes (both sides): a binary range coder (LZMA's)
 * over adaptive 12-bit probabilities that move 1/16 of the way per bit. */
#define RC_BITS 12
#define RC_MOVE 4
#define RC_TOP (1u << 24)
#define RC_START 5   /* bytes of a coder's start (the first one is always 0) */

/* Every model starts at 1/2 (the model structs are all uint16_t). */
static void probs_init(uint16_t *p, size_t bytes)
{
    for (size_t i = 0; i < bytes / sizeof *p; i++) p[i] = 1u << (RC_BITS - 1);
}

static void prob_update(uint16_t *p, int bit)
{
    if (bit) *p = (uint16_t)(*p - (*p >> RC_MOVE));
    else *p = (uint16_t)(*p + (((1u << RC_BITS) - *p) >> RC_MOVE));
}

/* A diff byte's models, whether it is zero and its bits (field: what
 * field_begin said, before field_made moves on; npos: its new position;
 * hist: nz_hist). v4 (m5 NULL): by the kind of field it belongs to (0: none;
 * x86 rel32 fields: the last), its byte in that field, and whether the diff
 * byte before was non-zero. v5 also by the one before that and, outside a
 * field, by npos's parity (a Thumb-2 halfword's low and high bytes differ). */
static void diff_models(fota_delta_model *m4, fota_delta_model5 *m5, const fota_delta_rel *m,
                        const fota_delta_params *p, int field, uint64_t npos, unsigned hist, uint16_t **zero,
                        uint16_t **tree)
{
    unsigned kind = !field ? 0 : (p->flags & FOTA_DELTA_F_REL32) ? FOTA_DELTA_CTX_KINDS - 1 : m->kind;
    unsigned idx = field ? m->n : 0;
    if (m5) {
        if (!field) idx = (unsigned)(npos & 1);
        *zero = &m5->zero[kind][idx][hist & 3];
        *tree = m5->val[field ? idx : 4 + idx];
    } else {
        *zero = &m4->zero[kind][idx][hist & 1];
        *tree = m4->val[idx];
    }
}

/* v5: the model of bit j of a number of nb bits (above: its bits above j,
 * the top one included): the two below the top one by the tree top[nb],
 * the others by their position. */
static uint16_t *num_prob(fota_delta_num_model *m, unsigned nb, unsigned j, uint64_t above)
{
    unsigned done = nb - 2 - j;   /* bits below the top one before this one */
    return done < 2 ? &m->top[nb][(above & ((1u << done) - 1)) | 1u << done] : &m->low[j];
}

/* v5: the tree of a literal byte at new position npos after the new byte
 * `before`. */
static uint16_t *lit_probs(fota_delta_model5 *m, uint64_t npos, uint8_t before)
{
    return m->lit[npos & 1][before >> 5];
}

/* ------------------------------------------------------------------ */
/* applier                                                             */

/* zlib allocates from the arena inside the context (or the one lent at
 * init): RAM is fixed and no heap is touched. inflateEnd's frees are no-ops;
 * start_apply resets the arena. */
static voidpf arena_alloc(voidpf opaque, uInt items, uInt size)
{
    fota_delta_applier *a = opaque;
    if (size && items > SIZE_MAX / size) return Z_NULL;
    size_t n = ((size_t)items * size + 15) & ~(size_t)15;
    if (n > a->zarena_len - a->zmem_used) return Z_NULL;
    void *p = a->zarena + a->zmem_used;
    a->zmem_used += n;
    return p;
}

static void arena_free(voidpf opaque, voidpf p)
{
    (void)opaque;
    (void)p;
}

static size_t chunk_of(const fota_delta_applier *a)
{
    size_t c = a->io.max_chunk;
    return (c == 0 || c > FOTA_DELTA_CHUNK) ? FOTA_DELTA_CHUNK : c;
}

/* The largest window whose inflater fits n bytes (0: none). */
static unsigned wbits_for(size_t n)
{
    unsigned w = FOTA_DELTA_MAX_WBITS;
    while (w >= FOTA_DELTA_MIN_WBITS && FOTA_DELTA_ZMEM_FOR(w) > n) w--;
    return w >= FOTA_DELTA_MIN_WBITS ? w : 0;
}

int fota_delta_apply_init_arena(fota_delta_applier *a, const fota_delta_io *io, void *zmem, size_t zmem_len)
{
    if (!a || !io || !io->read_old) return FOTA_ERR_ARG;
    memset(a, 0, sizeof *a);
    a->io = *io;
    a->state = ST_HDR;
    a->zarena = a->u.z3.zmem.b;
    a->zarena_len = sizeof a->u.z3.zmem.b;
    a->max_wbits = FOTA_DELTA_APPLY_WBITS;
    size_t skip = zmem ? (16 - (uintptr_t)zmem % 16) % 16 : 0;
    if (zmem && zmem_len > skip && zmem_len - skip > a->zarena_len) {
        a->zarena = (unsigned char *)zmem + skip;
        a->zarena_len = zmem_len - skip;
        unsigned w = wbits_for(a->zarena_len);
        if (w > a->max_wbits) a->max_wbits = w;
    }
    mbedtls_sha256_init(&a->sha);
    if (io->old_size > FOTA_DELTA_MAX_IMAGE) a->err = FOTA_DELTA_E_WRONG_BASE;  /* no delta has such a base */
    return 0;
}

int fota_delta_apply_init(fota_delta_applier *a, const fota_delta_io *io)
{
    return fota_delta_apply_init_arena(a, io, NULL, 0);
}

void fota_delta_apply_free(fota_delta_applier *a)
{
    if (!a) return;
    if (a->z_active) inflateEnd(&a->z);
    a->z_active = 0;
    mbedtls_sha256_free(&a->sha);
}

/* Header complete: check it and the base before anything is written. */
/* A range decoder starts: its 5-byte start comes next; left: the bytes it
 * may read (v4: its section's length). */
static void rc_start(fota_delta_applier *a, uint32_t left)
{
    a->rc_left = left;
    a->rc_range = UINT32_MAX;
    a->rc_code = 0;
    a->rc_init = 0;
}

static int start_apply(fota_delta_applier *a)
{
    int rc = fota_delta_parse_header(a->hdr, &a->h);
    if (rc) return rc;
    if (a->h.window_bits > a->max_wbits) return FOTA_DELTA_E_TOO_LARGE;
    if (a->h.old_size != a->io.old_size) return FOTA_DELTA_E_WRONG_BASE;
    a->par.flags = a->h.flags;
    a->par.base = a->h.header_len > FOTA_DELTA_HEADER_LEN ? fota_get32(a->hdr + FOTA_DELTA_HEADER_LEN) : 0;
    a->par.shift = a->h.region_shift;
    a->par.old_size = a->h.old_size;
    a->par.new_size = a->h.new_size;
    a->par.map = &a->map;
    size_t chunk = chunk_of(a);
    uint8_t got[32];
    if (FOTA_SHA256_START(&a->sha)) return FOTA_ERR_NOMEM;
    for (uint64_t off = 0; off < a->h.old_size;) {
        size_t n = a->h.old_size - off < chunk ? (size_t)(a->h.old_size - off) : chunk;
        rc = a->io.read_old(a->io.old_ud, off, a->wbuf, n);
        if (rc) return rc < 0 ? rc : FOTA_ERR_IO;
        if (FOTA_SHA256_UPDATE(&a->sha, a->wbuf, n)) return FOTA_ERR_NOMEM;
        off += n;
    }
    if (FOTA_SHA256_FINISH(&a->sha, got) || FOTA_SHA256_START(&a->sha)) return FOTA_ERR_NOMEM;
    if (memcmp(got, a->h.old_sha256, 32) != 0) return FOTA_DELTA_E_WRONG_BASE;

    if (a->h.version == 5) {
        /* one range coder from here to the delta's end */
        probs_init((uint16_t *)(void *)&a->u.m5, sizeof a->u.m5);
        rc_start(a, UINT32_MAX);   /* no bound: the delta's end ends it */
        a->state = a->h.new_size ? ST_BHDR : ST_END;
        return 0;
    }
    a->z.zalloc = arena_alloc;
    a->z.zfree = arena_free;
    a->z.opaque = a;
    a->zmem_used = 0;
    /* zlib header only (RFC 1950); inflate refuses a stream whose header
     * declares a larger window than the delta's header. */
    if (inflateInit2(&a->z, (int)a->h.window_bits) != Z_OK) return FOTA_ERR_NOMEM;
    a->z_active = 1;
    probs_init((uint16_t *)(void *)&a->u.z3.model, sizeof a->u.z3.model);
    a->state = a->h.new_size ? ST_BHDR : ST_DONE;
    return 0;
}

/* Writes out and hashes wbuf; called only when no old byte awaits a patch. */
static int flush(fota_delta_applier *a)
{
    if (a->wlen == 0) return 0;
    if (a->io.write_new) {
        int rc = a->io.write_new(a->io.new_ud, a->wbuf, a->wlen);
        if (rc) return rc < 0 ? rc : FOTA_ERR_IO;
    }
    if (FOTA_SHA256_UPDATE(&a->sha, a->wbuf, a->wlen)) return FOTA_ERR_NOMEM;
    /* The rel32 predictor looks at the two new bytes before the current one. */
    a->prev[0] = a->wlen >= 2 ? a->wbuf[a->wlen - 2] : a->prev[1];
    a->prev[1] = a->wbuf[a->wlen - 1];
    a->new_pos += a->wlen;
    a->cur = a->wlen = 0;
    return 0;
}

/* Reads the three old bytes after the loaded ones (the predictors' context). */
static int load_look(fota_delta_applier *a)
{
    size_t chunk = chunk_of(a);
    memset(a->look, 0, sizeof a->look);
    for (size_t i = 0; i < sizeof a->look && a->old_pos + i < a->h.old_size;) {
        size_t m = sizeof a->look - i;
        if (m > a->h.old_size - (a->old_pos + i)) m = (size_t)(a->h.old_size - (a->old_pos + i));
        if (m > chunk) m = chunk;
        int rc = a->io.read_old(a->io.old_ud, a->old_pos + i, a->look + i, m);
        if (rc) return rc < 0 ? rc : FOTA_ERR_IO;
        i += m;
    }
    return 0;
}

/* The cursor reached the loaded old bytes' end: load more of the run. */
static int load_old(fota_delta_applier *a)
{
    size_t chunk = chunk_of(a);
    if (a->wlen == chunk) {
        int rc = flush(a);
        if (rc) return rc;
    }
    size_t m = chunk - a->wlen;
    if (m > a->old_left) m = a->old_left;
    int rc = a->io.read_old(a->io.old_ud, a->old_pos, a->wbuf + a->wlen, m);
    if (rc) return rc < 0 ? rc : FOTA_ERR_IO;
    a->old_pos += m;
    a->old_left -= (uint32_t)m;
    a->wlen += m;
    return a->h.flags ? load_look(a) : 0;
}

/* Accumulates one byte of a LEB128 value; *done when complete in a->var. */
static int var_byte(fota_delta_applier *a, uint8_t b, int *done)
{
    *done = 0;
    if (++a->var_bytes > MAX_VARINT) return FOTA_DELTA_E_FORMAT;
    a->var |= (uint64_t)(b & 0x7f) << a->var_shift;
    a->var_shift += 7;
    if (b & 0x80) return 0;
    if (a->var > UINT32_MAX) return FOTA_DELTA_E_RANGE;
    a->var_bytes = a->var_shift = 0;
    *done = 1;
    return 0;
}

/* All three control values of a command are in: check them against the
 * header's sizes and the block's buffer before any byte moves. */
static int add_command(fota_delta_applier *a)
{
    uint64_t z = a->ctrl[0], diff = a->ctrl[1], extra = a->ctrl[2];
    /* zigzag: 0, -1, 1, -2, ... */
    int64_t seek = (z & 1) ? -(int64_t)(z >> 1) - 1 : (int64_t)(z >> 1);
    int64_t np = (int64_t)a->sim_old + seek;
    uint64_t left = a->h.new_size - a->cmd_end;
    if (np < 0 || (uint64_t)np > a->h.old_size) return FOTA_DELTA_E_RANGE;
    if (diff > left || diff > a->h.old_size - (uint64_t)np || extra > left - diff)
        return FOTA_DELTA_E_RANGE;
    if (diff + extra == 0) return FOTA_DELTA_E_FORMAT;   /* no-op commands are never needed */
    if (extra > FOTA_DELTA_BLOCK_BUF - a->extra_len) return FOTA_DELTA_E_FORMAT;
    a->map.old[a->cmd_i] = (uint32_t)np;
    a->map.len[a->cmd_i] = (uint32_t)diff;
    a->map.nw[a->cmd_i] = (uint32_t)a->cmd_end;
    a->cmd_extra[a->cmd_i] = (uint32_t)extra;
    a->cmd_i++;
    a->sim_old = (uint64_t)np + diff;
    a->cmd_end += diff + extra;
    a->extra_len += (uint32_t)extra;
    return 0;
}

/* Next section of the block once the previous one is complete. */
static void next_section(fota_delta_applier *a)
{
    if (a->state == ST_BCTRL && a->cmd_i == a->ncmd) a->state = ST_BEXTRA;
    /* v5 decodes the extra bytes in place, among the diff runs */
    if (a->state == ST_BEXTRA && (a->h.version == 5 || a->buf_len == a->extra_len)) {
        a->state = a->h.version == 4 ? ST_BRC : ST_EXEC;
        a->cmd_i = 0;
        a->in_cmd = 0;
        a->xoff = 0;
    }
}

/* A block of ncmd commands begins: its controls come next. */
static void block_begin(fota_delta_applier *a, unsigned ncmd)
{
    a->ncmd = a->map.n = ncmd;
    a->extra_len = a->buf_len = 0;
    a->cmd_i = a->ctrl_i = 0;
    a->state = ST_BCTRL;
}

/* One control value is in; the third completes a command (add_command). */
static int control_value(fota_delta_applier *a, uint64_t v)
{
    a->ctrl[a->ctrl_i++] = v;
    if (a->ctrl_i < 3) return 0;
    a->ctrl_i = 0;
    int rc = add_command(a);
    if (rc == 0) next_section(a);
    return rc;
}

/* Predictor: context = the two old bytes after the one being made. A hit
 * on a confirmed entry predicts its value; residual + prediction = the
 * byte's difference, which then updates the table. */
static uint8_t predict(fota_delta_applier *a, uint8_t res)
{
    size_t j = a->cur + 1;
    uint8_t c1 = j < a->wlen ? a->wbuf[j] : a->look[j - a->wlen];
    j++;
    uint8_t c2 = j < a->wlen ? a->wbuf[j] : a->look[j - a->wlen];
    unsigned c = (unsigned)c1 << 8 | c2;
    unsigned h = ((c * 40503u) & 0xffffu) >> 8;
    int hit = (a->pred[h].st & 1) && a->pred[h].tag == c;
    uint8_t d = (uint8_t)(res + (hit && (a->pred[h].st & 2) ? a->pred[h].val : 0));
    if (hit) {
        if (d == a->pred[h].val) a->pred[h].st = 3;
        else { a->pred[h].val = d; a->pred[h].st = 1; }
    } else if (d) {
        a->pred[h].tag = (uint16_t)c;
        a->pred[h].val = d;
        a->pred[h].st = 1;
    }
    return d;
}

/* Whether the diff run's byte at cur (an old byte, loaded) belongs to a
 * predicted field (called once per byte: a field starts here). */
static int classify(fota_delta_applier *a)
{
    size_t c = a->cur;
    if (!(a->h.flags & (FOTA_DELTA_F_REL32 | FOTA_DELTA_F_ARM))) return 0;
    uint64_t k = a->old_pos - (a->wlen - c);   /* old position of the byte */
    uint8_t o[4];
    for (size_t q = 0; q < 4; q++) o[q] = c + q < a->wlen ? a->wbuf[c + q] : a->look[c + q - a->wlen];
    uint8_t h1 = c >= 1 ? a->wbuf[c - 1] : a->prev[1];
    uint8_t h2 = c >= 2 ? a->wbuf[c - 2] : c == 1 ? a->prev[1] : a->prev[0];
    return field_begin(&a->rel, &a->par, o, h1, h2, k, a->new_pos + c, a->run_end - k);
}

/* Makes that byte from its coded value: the difference, or with a
 * predictor on, its residual (field: what classify() said). */
static void make_byte(fota_delta_applier *a, int field, uint8_t res)
{
    size_t c = a->cur;
    if (field) {
        a->wbuf[c] = (uint8_t)(a->wbuf[c] + res + a->rel.pend[a->rel.n]);
        field_made(&a->rel, &a->par, a->wbuf[c]);
    } else {
        if (a->h.flags & FOTA_DELTA_F_PREDICT) res = predict(a, res);
        a->wbuf[c] = (uint8_t)(a->wbuf[c] + res);
    }
    a->cur++;
}

/* v4: reads what the range decoder needs before its next decision (its
 * start, or a byte when its range fell below 2^24). 1 ready, 0 waiting for
 * input, FOTA_DELTA_E_FORMAT when the block's section is used up. */
static int rc_fill(fota_delta_applier *a, const uint8_t **pp, size_t *np)
{
    while (a->rc_init < RC_START || a->rc_range < RC_TOP) {
        if (a->rc_left == 0) return FOTA_DELTA_E_FORMAT;
        if (*np == 0) return 0;
        if (a->rc_init == 0 && **pp != 0) return FOTA_DELTA_E_FORMAT;   /* a coder's first byte is 0 */
        a->rc_code = a->rc_code << 8 | *(*pp)++;
        (*np)--;
        a->rc_left--;
        if (a->rc_init < RC_START) a->rc_init++;
        else a->rc_range <<= 8;
    }
    return 1;
}

/* One decision by *p: 1 with *bit, 0 waiting for input, or an error. */
static int rc_bit(fota_delta_applier *a, const uint8_t **pp, size_t *np, uint16_t *p, unsigned *bit)
{
    int r = rc_fill(a, pp, np);
    if (r <= 0) return r;
    uint32_t bound = (a->rc_range >> RC_BITS) * *p;
    *bit = a->rc_code >= bound;
    if (*bit) {
        a->rc_code -= bound;
        a->rc_range -= bound;
    } else {
        a->rc_range = bound;
    }
    prob_update(p, (int)*bit);
    return 1;
}

/* A value of `bits` bits by the tree probs[1 .. 2^bits - 1], resuming at
 * a->node where the input ran out: 1 with *v, 0 waiting, or an error. */
static int decode_tree(fota_delta_applier *a, const uint8_t **pp, size_t *np, uint16_t *probs, unsigned bits,
                       unsigned *v)
{
    if (a->node == 0) a->node = 1;
    while (a->node < 1u << bits) {
        unsigned bit;
        int r = rc_bit(a, pp, np, &probs[a->node], &bit);
        if (r <= 0) return r;
        a->node = a->node << 1 | bit;
    }
    *v = a->node - (1u << bits);
    a->node = 0;
    return 1;
}

/* v5: a control value (as rc_encode_number codes it), resuming likewise. */
static int decode_number(fota_delta_applier *a, const uint8_t **pp, size_t *np, fota_delta_num_model *m,
                         uint64_t *v)
{
    int r;
    if (a->nbits == 0) {
        unsigned nb;
        if ((r = decode_tree(a, pp, np, m->nbits, 6, &nb)) <= 0) return r;
        if (nb > 32) return FOTA_DELTA_E_FORMAT;   /* every control value is below 2^32 */
        a->nbits = nb + 1;
        a->var = nb != 0;
        a->bits_left = nb ? nb - 1 : 0;
    }
    while (a->bits_left > 0) {
        unsigned bit;
        if ((r = rc_bit(a, pp, np, num_prob(m, a->nbits - 1, a->bits_left - 1, a->var), &bit)) <= 0) return r;
        a->var = a->var << 1 | bit;
        a->bits_left--;
    }
    *v = a->var;
    a->var = 0;
    a->nbits = 0;
    return 1;
}

/* v4, v5: decodes the byte at cur's residual (its models chosen by
 * diff_models), resuming where the input ran out: 1 with *v, 0 waiting for
 * input, or an error. */
static int decode_byte(fota_delta_applier *a, const uint8_t **pp, size_t *np, uint8_t *v)
{
    int r;
    unsigned bit, t;
    if (!a->nonzero) {
        if ((r = rc_bit(a, pp, np, a->zero_p, &bit)) <= 0) return r;
        if (!bit) {
            a->nz_hist = a->nz_hist << 1 & 3;
            *v = 0;
            return 1;
        }
        a->nonzero = 1;
    }
    if ((r = decode_tree(a, pp, np, a->tree_p, 8, &t)) <= 0) return r;
    a->nonzero = 0;
    a->nz_hist = (a->nz_hist << 1 | 1) & 3;
    *v = (uint8_t)t;
    return 1;
}

/* Makes n bytes of the diff run from old with residual 0 (a gap). */
static int copy_run(fota_delta_applier *a, uint32_t g)
{
    int rc;
    while (g > 0) {
        if (a->cur == a->wlen && (rc = load_old(a)) != 0) return rc;
        size_t step = a->wlen - a->cur < g ? a->wlen - a->cur : (size_t)g;
        if (a->h.flags) {
            for (size_t i = 0; i < step; i++) make_byte(a, classify(a), 0);
        } else {
            a->cur += step;
        }
        g -= (uint32_t)step;
    }
    return 0;
}

/* Runs the block's commands as far as the value bytes at hand allow. */
static int exec_block(fota_delta_applier *a, const uint8_t **pp, size_t *np)
{
    size_t chunk = chunk_of(a);
    int rc;
    for (;;) {
        if (!a->in_cmd) {
            if (a->cmd_i == a->ncmd) {
                int last = a->cmd_end == a->h.new_size;
                /* the coder's last bytes: v4's at each block's end, then its
                 * section must be used up; v5's at the last block's, which
                 * leave code 0 (the encoder writes its low end whole), so
                 * no byte of the stream can change unnoticed */
                if (a->h.version == 4 ? a->rc_init || a->rc_left : a->h.version == 5 && last) {
                    if ((rc = rc_fill(a, pp, np)) <= 0) return rc;
                    if (a->h.version == 4 ? a->rc_left != 0 : a->rc_code != 0) return FOTA_DELTA_E_FORMAT;
                }
                a->state = last ? ST_DONE : ST_BHDR;
                return 0;
            }
            a->old_pos = a->map.old[a->cmd_i];
            a->diff_left = a->old_left = a->map.len[a->cmd_i];
            a->extra_left = a->cmd_extra[a->cmd_i];
            a->run_end = a->old_pos + a->diff_left;
            field_run(&a->rel, &a->par, a->old_pos, a->diff_left, a->new_pos + a->wlen);
            a->in_gap = 1;
            a->in_cmd = 1;
        }
        if (a->diff_left > 0 && a->h.version >= 4) {
            if (!a->cls) {
                if (a->cur == a->wlen && (rc = load_old(a)) != 0) return rc;
                int field = classify(a);
                diff_models(&a->u.z3.model, a->h.version == 5 ? &a->u.m5 : NULL, &a->rel, &a->par, field,
                            a->new_pos + a->cur, a->nz_hist, &a->zero_p, &a->tree_p);
                a->cls = 1 + field;
            }
            uint8_t v;
            if ((rc = decode_byte(a, pp, np, &v)) <= 0) return rc;
            make_byte(a, a->cls == 2, v);
            a->cls = 0;
            a->diff_left--;
            continue;
        }
        if (a->diff_left > 0) {
            if (*np == 0) return 0;   /* wait for the gap or value byte */
            if (a->in_gap) {
                int done;
                rc = var_byte(a, *(*pp)++, &done);
                (*np)--;
                if (rc) return rc;
                if (!done) continue;
                uint64_t g = a->var;
                a->var = 0;
                if (g > a->diff_left) return FOTA_DELTA_E_RANGE;
                a->diff_left -= (uint32_t)g;
                if ((rc = copy_run(a, g)) != 0) return rc;
                a->in_gap = 0;
            } else {
                if (a->cur == a->wlen && (rc = load_old(a)) != 0) return rc;
                uint8_t v = *(*pp)++;
                (*np)--;
                make_byte(a, classify(a), v);
                a->diff_left--;
                a->in_gap = 1;
            }
            continue;
        }
        while (a->extra_left > 0 && a->h.version == 5) {
            /* v5: literal bytes, decoded in place (the generator's context) */
            if (a->wlen == chunk && (rc = flush(a)) != 0) return rc;
            uint8_t before = a->wlen ? a->wbuf[a->wlen - 1] : a->prev[1];
            unsigned v;
            rc = decode_tree(a, pp, np, lit_probs(&a->u.m5, a->new_pos + a->wlen, before), 8, &v);
            if (rc <= 0) return rc;
            a->wbuf[a->wlen++] = (uint8_t)v;
            a->cur = a->wlen;
            a->extra_left--;
        }
        while (a->extra_left > 0) {
            if (a->wlen == chunk && (rc = flush(a)) != 0) return rc;
            size_t k = chunk - a->wlen;
            if (k > a->extra_left) k = a->extra_left;
            memcpy(a->wbuf + a->wlen, a->u.z3.buf + a->xoff, k);
            a->wlen += k;
            a->cur = a->wlen;
            a->xoff += (uint32_t)k;
            a->extra_left -= (uint32_t)k;
        }
        a->in_cmd = 0;
        a->cmd_i++;
    }
}

/* Consumes inflated bytes: blocks of (ncmd, controls, extra bytes, diff
 * runs). */
static int process(fota_delta_applier *a, const uint8_t *p, size_t n)
{
    int rc, done;
    for (;;) {
        if (a->state == ST_EXEC) {
            if ((rc = exec_block(a, &p, &n)) != 0) return rc;
            if (a->state == ST_EXEC) return 0;   /* needs more value bytes */
            continue;
        }
        if (n == 0) return 0;
        uint64_t v = 0;
        if (a->state == ST_BHDR || a->state == ST_BCTRL || a->state == ST_BRC) {
            /* a LEB128 value, byte by byte */
            rc = var_byte(a, *p++, &done);
            n--;
            if (rc) return rc;
            if (!done) continue;
            v = a->var;
            a->var = 0;
        }
        switch (a->state) {
        case ST_BHDR:
            if (v == 0 || v > FOTA_DELTA_BLOCK_CMDS) return FOTA_DELTA_E_FORMAT;
            block_begin(a, (unsigned)v);
            break;
        case ST_BCTRL:
            if ((rc = control_value(a, v)) != 0) return rc;
            break;
        case ST_BRC:
            /* v4: the length of the block's range-coded section */
            rc_start(a, (uint32_t)v);
            a->state = ST_EXEC;
            break;
        case ST_BEXTRA: {
            size_t k = a->extra_len - a->buf_len;
            if (k > n) k = n;
            memcpy(a->u.z3.buf + a->buf_len, p, k);
            a->buf_len += (uint32_t)k;
            p += k;
            n -= k;
            next_section(a);
            break;
        }
        default:
            return FOTA_DELTA_E_FORMAT;   /* bytes after the last block */
        }
    }
}

/* v5: the delta's bytes after the header, every value range-decoded. */
static int process5(fota_delta_applier *a, const uint8_t *p, size_t n)
{
    int rc;
    for (;;) {
        unsigned v;
        uint64_t x;
        switch (a->state) {
        case ST_BHDR:
            if ((rc = decode_tree(a, &p, &n, a->u.m5.ncmd, 7, &v)) <= 0) return rc;
            block_begin(a, v + 1);
            break;
        case ST_BCTRL:
            if ((rc = decode_number(a, &p, &n, &a->u.m5.num[a->ctrl_i], &x)) <= 0) return rc;
            if ((rc = control_value(a, x)) != 0) return rc;
            break;
        case ST_EXEC:
            if ((rc = exec_block(a, &p, &n)) != 0) return rc;
            if (a->state == ST_EXEC) return 0;   /* needs more input */
            break;
        case ST_DONE:
            return n ? FOTA_DELTA_E_FORMAT : 0;   /* bytes after the coder's end */
        default:
            return FOTA_DELTA_E_FORMAT;
        }
    }
}

/* Versions 3..5 with pointer words: the header goes on with the base
 * address (hdr: its first FOTA_DELTA_HEADER_LEN bytes). */
static int header_has_base(const uint8_t *hdr)
{
    return hdr[4] >= 3 && hdr[4] <= 5 && (hdr[5] & FOTA_DELTA_F_WORDS);
}

static int feed_inner(fota_delta_applier *a, const uint8_t *d, size_t n)
{
    while (a->state == ST_HDR) {
        /* The first 80 bytes say how long the header is (version 3 with
         * pointer words: 84, with the base address). */
        size_t want = FOTA_DELTA_HEADER_LEN;
        if (a->hdr_len >= FOTA_DELTA_HEADER_LEN && header_has_base(a->hdr)) want = FOTA_DELTA_HEADER_V3_LEN;
        size_t take = want - a->hdr_len;
        if (take > n) take = n;
        memcpy(a->hdr + a->hdr_len, d, take);
        a->hdr_len += take;
        d += take;
        n -= take;
        if (a->hdr_len < want) return 0;
        if (want == FOTA_DELTA_HEADER_LEN && header_has_base(a->hdr)) continue;
        int rc = start_apply(a);
        if (rc) return rc;
    }
    if (n == 0) return 0;
    if (a->state == ST_END) return FOTA_DELTA_E_FORMAT;   /* trailing bytes */
    if (a->h.version == 5) {
        int rc = process5(a, d, n);
        if (rc || a->state != ST_DONE) return rc;
        a->state = ST_END;
        return flush(a);
    }
    while (n > 0) {
        /* avail_in is a uInt: feed at most 1 GiB per round. */
        uInt step = n > (1u << 30) ? (1u << 30) : (uInt)n;
        a->z.next_in = (Bytef *)(uintptr_t)d;
        a->z.avail_in = step;
        for (;;) {
            a->z.next_out = a->u.z3.out;
            a->z.avail_out = sizeof a->u.z3.out;
            int zr = inflate(&a->z, Z_NO_FLUSH);
            size_t produced = sizeof a->u.z3.out - a->z.avail_out;
            if (zr == Z_MEM_ERROR) return FOTA_ERR_NOMEM;
            if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) return FOTA_DELTA_E_FORMAT;
            int rc = process(a, a->u.z3.out, produced);
            if (rc) return rc;
            if (zr == Z_STREAM_END) {
                /* The stream must end exactly after the last command and
                 * exactly at the end of the delta. */
                if (a->state != ST_DONE || a->z.avail_in != 0 || n > step) return FOTA_DELTA_E_FORMAT;
                a->state = ST_END;
                return flush(a);
            }
            if (a->z.avail_in == 0 && a->z.avail_out != 0) break;   /* needs more input */
        }
        d += step;
        n -= step;
    }
    return 0;
}

int fota_delta_apply_feed(fota_delta_applier *a, const uint8_t *delta, size_t n)
{
    if (!a || (!delta && n)) return FOTA_ERR_ARG;
    if (a->err) return a->err;
    int rc = feed_inner(a, delta, n);
    if (rc) a->err = rc;
    return rc;
}

int fota_delta_apply_finish(fota_delta_applier *a, uint64_t *new_size, uint8_t sha256[32])
{
    if (!a) return FOTA_ERR_ARG;
    if (a->err) return a->err;
    if (a->state != ST_END) {
        a->err = FOTA_DELTA_E_TRUNCATED;
        return a->err;
    }
    uint8_t h[32];
    if (FOTA_SHA256_FINISH(&a->sha, h)) return a->err = FOTA_ERR_NOMEM;   /* flushed at the stream end */
    if (a->new_pos != a->h.new_size || memcmp(h, a->h.new_sha256, 32) != 0)
        return a->err = FOTA_DELTA_E_HASH;
    if (new_size) *new_size = a->new_pos;
    if (sha256) memcpy(sha256, h, 32);
    a->err = FOTA_ERR_STATE;   /* finished: any later call is a mistake */
    return 0;
}

/* ------------------------------------------------------------------ */
/* applying files (host side and tests)                                */

typedef struct {
    fota_port_file *old, *out;
    uint64_t out_off;
} file_pair;

static int file_read_old(void *ud, uint64_t off, void *buf, size_t len)
{
    size_t got = 0;
    int rc = fota_port_pread(((file_pair *)ud)->old, off, buf, len, &got);
    return rc ? rc : got == len ? 0 : FOTA_ERR_IO;
}

static int file_write_new(void *ud, const void *buf, size_t len)
{
    file_pair *fp = ud;
    int rc = fota_port_pwrite(fp->out, fp->out_off, buf, len);
    fp->out_off += len;
    return rc;
}

int fota_delta_apply_file(const char *old_path, const char *delta_path, const char *new_path,
                          unsigned window_bits, uint64_t *new_size, uint8_t sha256[32])
{
    if (!old_path || !delta_path || !new_path) return FOTA_ERR_ARG;
    if (window_bits == 0) window_bits = FOTA_DELTA_APPLY_WBITS;
    if (window_bits < FOTA_DELTA_MIN_WBITS || window_bits > FOTA_DELTA_MAX_WBITS) return FOTA_ERR_ARG;
    file_pair fp = {NULL, NULL, 0};
    fota_port_file *df = NULL;
    fota_delta_applier *a = malloc(sizeof *a);   /* fixed size, kept off the stack */
    size_t zl = window_bits > FOTA_DELTA_APPLY_WBITS ? FOTA_DELTA_ZMEM_FOR(window_bits) : 0;
    void *zmem = zl ? malloc(zl) : NULL;          /* at most 40 KiB */
    if (!a || (zl && !zmem)) {
        free(a);
        free(zmem);
        return FOTA_ERR_NOMEM;
    }
    fota_delta_io io;
    memset(&io, 0, sizeof io);
    int rc = fota_port_open(&fp.old, old_path, FOTA_PORT_READ);
    if (rc == 0) rc = fota_port_size(fp.old, &io.old_size);
    if (rc == 0) rc = fota_port_open(&df, delta_path, FOTA_PORT_READ);
    if (rc == 0) rc = fota_port_open(&fp.out, new_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    io.read_old = file_read_old;
    io.old_ud = &fp;
    io.write_new = file_write_new;
    io.new_ud = &fp;
    int inited = 0;
    if (rc == 0) rc = fota_delta_apply_init_arena(a, &io, zmem, zl);
    inited = rc == 0;
    if (inited) a->max_wbits = window_bits;   /* no more than asked for, as an applier built for it */
    uint8_t buf[FOTA_DELTA_CHUNK];
    for (uint64_t off = 0; rc == 0;) {
        size_t got = 0;
        rc = fota_port_pread(df, off, buf, sizeof buf, &got);
        if (rc || got == 0) break;
        off += got;
        rc = fota_delta_apply_feed(a, buf, got);
    }
    if (rc == 0) rc = fota_delta_apply_finish(a, new_size, sha256);
    if (rc == 0) rc = fota_port_sync(fp.out);
    if (inited) fota_delta_apply_free(a);
    free(a);
    free(zmem);
    if (df) fota_port_close(df);
    if (fp.old) fota_port_close(fp.old);
    if (fp.out) {
        fota_port_close(fp.out);
        if (rc) fota_port_remove(new_path);
    }
    return rc;
}

/* ------------------------------------------------------------------ */
/* generator                                                           */

#ifndef FOTA_DELTA_NO_GENERATOR

typedef struct {
    uint8_t *p;
    size_t len, cap;
    int err;
} dbuf;

static void db_reserve(dbuf *b, size_t more)
{
    if (b->err) return;
    if (more <= b->cap - b->len) return;
    size_t cap = b->cap ? b->cap : 65536;
    while (cap - b->len < more) {
        if (cap > SIZE_MAX / 2) { b->err = FOTA_ERR_NOMEM; return; }
        cap *= 2;
    }
    uint8_t *p = realloc(b->p, cap);
    if (!p) { b->err = FOTA_ERR_NOMEM; return; }
    b->p = p;
    b->cap = cap;
}

static void db_varint(dbuf *b, uint64_t v)
{
    db_reserve(b, 10);
    if (b->err) return;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        b->p[b->len++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
}

static size_t match_len(const uint8_t *a, size_t an, const uint8_t *b, size_t bn)
{
    size_t n = an < bn ? an : bn, i = 0;
    while (i < n && a[i] == b[i]) i++;
    return i;
}

/* Suffix array plus, for each two-byte prefix, the range of suffixes that
 * start with it: the binary search then starts in that range, about 16
 * steps (cache misses) shorter. */
typedef struct {
    const int32_t *sa;
    const uint8_t *old;
    size_t on;
    uint32_t *lo, *hi;   /* 65536 each; lo == hi: no suffix has the prefix */
} sa_index;

/* Longest match of nw[0..nn) among old's suffixes, by binary search on
 * the suffix array (as bsdiff). The prefix that both bounds share with nw
 * is not compared again (Manber-Myers), which keeps long matches cheap. */
static size_t longest_match(const sa_index *ix, const uint8_t *nw, size_t nn, size_t *pos)
{
    const int32_t *sa = ix->sa;
    const uint8_t *old = ix->old;
    size_t on = ix->on, st = 0, en = on - 1;
    if (nn >= 2) {
        unsigned key = (unsigned)nw[0] << 8 | nw[1];
        if (ix->lo[key] < ix->hi[key]) {
            st = ix->lo[key];
            en = ix->hi[key] - 1;
        }
    }
    size_t lst = match_len(old + sa[st], on - (size_t)sa[st], nw, nn);
    size_t len_ = match_len(old + sa[en], on - (size_t)sa[en], nw, nn);
    while (en - st >= 2) {
        size_t x = st + (en - st) / 2;
        size_t o = (size_t)sa[x];
        size_t l = on - o < nn ? on - o : nn;
        size_t k = lst < len_ ? lst : len_;
        k += match_len(old + o + k, on - o - k, nw + k, nn - k);
        /* A suffix that is a proper prefix of nw sorts before it (bsdiff
         * treats it as equal, which makes long runs of one byte quadratic). */
        if (k < l ? old[o + k] < nw[k] : on - o < nn) { st = x; lst = k; }
        else { en = x; len_ = k; }
    }
    if (lst > len_) { *pos = (size_t)sa[st]; return lst; }
    *pos = (size_t)sa[en];
    return len_;
}

/* One command of the scan: diff_len bytes of new at npos made from old at
 * opos, then extra_len literal bytes of new. */
typedef struct {
    size_t opos, npos, diff_len, extra_len;
} gcmd;

typedef struct {
    gcmd *v;
    size_t n, cap;
    int err;
} gcmds;

static void push_command(gcmds *c, size_t opos, size_t npos, size_t diff_len, size_t extra_len)
{
    if (c->err) return;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 1024;
        gcmd *v = cap > SIZE_MAX / sizeof *v ? NULL : realloc(c->v, cap * sizeof *v);
        if (!v) { c->err = FOTA_ERR_NOMEM; return; }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = (gcmd){opos, npos, diff_len, extra_len};
}

static void db_bytes(dbuf *b, const uint8_t *p, size_t n)
{
    db_reserve(b, n);
    if (b->err || n == 0) return;
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* The applier's predictor, mirrored (see predict() above). */
typedef struct {
    struct { uint16_t tag; uint8_t val, st; } e[FOTA_DELTA_PRED_SIZE];
} gpred;

static uint8_t pred_residual(gpred *t, const uint8_t *old, size_t on, size_t k, uint8_t d)
{
    unsigned c = (unsigned)(k + 1 < on ? old[k + 1] : 0) << 8 | (k + 2 < on ? old[k + 2] : 0);
    unsigned h = ((c * 40503u) & 0xffffu) >> 8;
    int hit = (t->e[h].st & 1) && t->e[h].tag == c;
    uint8_t r = (uint8_t)(d - (hit && (t->e[h].st & 2) ? t->e[h].val : 0));
    if (hit) {
        if (d == t->e[h].val) t->e[h].st = 3;
        else { t->e[h].val = d; t->e[h].st = 1; }
    } else if (d) {
        t->e[h].tag = (uint16_t)c;
        t->e[h].val = d;
        t->e[h].st = 1;
    }
    return r;
}

static uint64_t zigzag(int64_t v)
{
    return v < 0 ? ((uint64_t)(-(v + 1)) << 1) | 1 : (uint64_t)v << 1;
}

/* The range encoder (LZMA's: low keeps a carry bit above its 32; a byte is
 * held back while a carry may reach it): v4's of one block's diff bytes,
 * v5's of the whole stream. */
typedef struct {
    uint64_t low, pending;   /* pending: the held byte and the 0xFF bytes after it */
    uint32_t range;
    uint8_t cache;
    int active;
} grc;

static void rc_shift(grc *e, dbuf *out)
{
    if ((uint32_t)e->low < 0xff000000u || (e->low >> 32) != 0) {
        uint8_t carry = (uint8_t)(e->low >> 32), b = e->cache;
        db_reserve(out, e->pending);
        if (out->err) return;
        do {
            out->p[out->len++] = (uint8_t)(b + carry);
            b = 0xff;
        } while (--e->pending);
        e->cache = (uint8_t)(e->low >> 24);
    }
    e->pending++;
    e->low = (e->low & 0x00ffffffu) << 8;
}

static void rc_encode(grc *e, dbuf *out, uint16_t *p, int bit)
{
    if (!e->active) *e = (grc){0, 1, UINT32_MAX, 0, 1};
    uint32_t bound = (e->range >> RC_BITS) * *p;
    if (bit) {
        e->low += bound;
        e->range -= bound;
    } else {
        e->range = bound;
    }
    prob_update(p, bit);
    while (e->range < RC_TOP) {
        e->range <<= 8;
        rc_shift(e, out);
    }
}

/* A value of `bits` bits by the binary tree probs[1 .. 2^bits - 1], high bit first. */
static void rc_encode_tree(grc *e, dbuf *out, uint16_t *probs, unsigned bits, unsigned v)
{
    unsigned node = 1;
    for (unsigned j = bits; j-- > 0;) {
        int b = v >> j & 1;
        rc_encode(e, out, &probs[node], b);
        node = node << 1 | (unsigned)b;
    }
}

/* v5: a control value: its bit count, then its bits below the top one
 * (num_prob). */
static void rc_encode_number(grc *e, dbuf *out, fota_delta_num_model *m, uint64_t v)
{
    unsigned nb = 0;
    while (nb < 64 && v >> nb) nb++;
    rc_encode_tree(e, out, m->nbits, 6, nb);
    for (unsigned j = nb > 1 ? nb - 1 : 0; j-- > 0;)   /* below the top one, high first */
        rc_encode(e, out, num_prob(m, nb, j, v >> (j + 1)), (int)(v >> j & 1));
}

/* A diff byte by its models (diff_models): whether it is zero, then (not)
 * its 8 bits by the tree. */
static void rc_encode_byte(grc *e, dbuf *out, uint16_t *zero, uint16_t *tree, unsigned *hist, uint8_t d)
{
    rc_encode(e, out, zero, d != 0);
    if (d) rc_encode_tree(e, out, tree, 8, d);
    *hist = (*hist << 1 | (d != 0)) & 3;
}

/* Block being built: its controls, extra bytes, diff runs (v4: range-coded
 * into diff by rc). */
typedef struct {
    dbuf ctrl, extra, diff;
    size_t ncmd;
    uint64_t old_pos;   /* old position after the commands emitted so far */
    fota_delta_model *model;   /* v4: the diff bytes' models; NULL: v3 */
    grc rc;
} gblock;

static void block_flush(gblock *k, dbuf *out)
{
    if (k->ncmd == 0) return;
    db_varint(out, k->ncmd);
    db_bytes(out, k->ctrl.p, k->ctrl.len);
    db_bytes(out, k->extra.p, k->extra.len);
    if (k->model) {
        for (int i = 0; k->rc.active && i < RC_START; i++) rc_shift(&k->rc, &k->diff);
        k->rc.active = 0;
        db_varint(out, k->diff.len);
    }
    db_bytes(out, k->diff.p, k->diff.len);
    k->ctrl.len = k->extra.len = k->diff.len = 0;
    k->ncmd = 0;
    if (k->ctrl.err || k->extra.err || k->diff.err) out->err = FOTA_ERR_NOMEM;
}

static void block_command(gblock *k, size_t opos, size_t diff_len, size_t extra_len)
{
    db_varint(&k->ctrl, zigzag((int64_t)opos - (int64_t)k->old_pos));
    db_varint(&k->ctrl, diff_len);
    db_varint(&k->ctrl, extra_len);
    k->old_pos = opos + diff_len;
    k->ncmd++;
}

/* The commands as the blocks carry them: a command whose extra bytes do
 * not fit its block's FOTA_DELTA_BLOCK_BUF goes on in the next blocks as
 * commands without a diff run; `first` marks each block's first piece. */
typedef struct {
    size_t opos, npos, diff, extra;
    int first;
} gpiece;

static gpiece *split_blocks(const gcmds *c, size_t *np)
{
    size_t n = 0, cap = c->n + 16, ncmd = 0, room = FOTA_DELTA_BLOCK_BUF;
    gpiece *v = malloc(cap * sizeof *v);
    int first = 1;
    for (size_t ci = 0; v && ci < c->n; ci++) {
        size_t opos = c->v[ci].opos, npos = c->v[ci].npos, diff = c->v[ci].diff_len, extra = c->v[ci].extra_len;
        for (;;) {
            size_t e = extra < room ? extra : room;
            if (diff + e > 0) {
                if (n == cap) {
                    gpiece *w = cap > SIZE_MAX / 2 / sizeof *v ? NULL : realloc(v, 2 * cap * sizeof *v);
                    if (!w) { free(v); return NULL; }
                    v = w;
                    cap *= 2;
                }
                v[n++] = (gpiece){opos, npos, diff, e, first};
                first = 0;
                room -= e;
                if (++ncmd == FOTA_DELTA_BLOCK_CMDS) { ncmd = 0; room = FOTA_DELTA_BLOCK_BUF; first = 1; }
            }
            npos += diff + e;
            opos += diff;
            diff = 0;
            extra -= e;
            if (extra == 0) break;
            if (ncmd) { ncmd = 0; room = FOTA_DELTA_BLOCK_BUF; first = 1; }
        }
    }
    *np = n;
    return v;
}

/* Encodes the commands as blocks; each block's command map is known to
 * the predictors before its first byte is made, as on the applier. */
static int encode_blocks(const gcmds *c, const uint8_t *old, const uint8_t *nw,
                         const fota_delta_params *par_in, unsigned version, dbuf *out)
{
    gblock k;
    memset(&k, 0, sizeof k);
    fota_delta_model *model = version == 4 ? malloc(sizeof *model) : NULL;
    fota_delta_model5 *m5 = version == 5 ? malloc(sizeof *m5) : NULL;
    unsigned hist = 0;
    if (model) probs_init((uint16_t *)(void *)model, sizeof *model);
    if (m5) probs_init((uint16_t *)(void *)m5, sizeof *m5);
    k.model = model;
    /* v5: one coder for the whole stream, straight into out */
    dbuf *rcout = m5 ? out : &k.diff;
    fota_delta_params par = *par_in;
    size_t on = (size_t)par.old_size, np = 0;
    int predict = par.flags & FOTA_DELTA_F_PREDICT;
    int fields = par.flags & (FOTA_DELTA_F_REL32 | FOTA_DELTA_F_ARM);
    gpred *t = predict ? calloc(1, sizeof *t) : NULL;
    fota_delta_rel *rel = fields ? calloc(1, sizeof *rel) : NULL;
    fota_delta_map *map = calloc(1, sizeof *map);
    gpiece *pc = split_blocks(c, &np);
    par.map = map;
    if ((predict && !t) || (fields && !rel) || !map || !pc || (version == 4 && !model) || (version == 5 && !m5)) {
        free(model);
        free(m5);
        free(t);
        free(rel);
        free(map);
        free(pc);
        return FOTA_ERR_NOMEM;
    }
    for (size_t pi = 0; pi < np && !out->err; pi++) {
        const gpiece *g = &pc[pi];
        if (g->first) {
            block_flush(&k, out);
            map->n = 0;
            for (size_t q = pi; q < np && (q == pi || !pc[q].first); q++) {
                map->old[map->n] = (uint32_t)pc[q].opos;
                map->len[map->n] = (uint32_t)pc[q].diff;
                map->nw[map->n++] = (uint32_t)pc[q].npos;
            }
            if (m5) {
                rc_encode_tree(&k.rc, out, m5->ncmd, 7, map->n - 1);
                for (unsigned q = 0; q < map->n; q++) {
                    rc_encode_number(&k.rc, out, &m5->num[0], zigzag((int64_t)map->old[q] - (int64_t)k.old_pos));
                    rc_encode_number(&k.rc, out, &m5->num[1], map->len[q]);
                    rc_encode_number(&k.rc, out, &m5->num[2], pc[pi + q].extra);
                    k.old_pos = map->old[q] + map->len[q];
                }
            }
        }
        const uint8_t *o = old + g->opos, *w = nw + g->npos;
        /* Sparse diff run: gap of bytes with residual 0, then one
         * residual; deflate codes small gap numbers better than long runs
         * of zero bytes. The run may end after a gap or after a value. */
        size_t zeros = 0;
        if (rel) field_run(rel, &par, g->opos, g->diff, g->npos);
        for (size_t i = 0; i < g->diff; i++) {
            uint8_t d = (uint8_t)(w[i] - o[i]);
            size_t j = g->npos + i;
            int field = rel && field_begin(rel, &par, o + i, j >= 1 ? nw[j - 1] : 0, j >= 2 ? nw[j - 2] : 0,
                                           g->opos + i, j, g->diff - i);
            uint16_t *zp = NULL, *tp = NULL;
            if (model || m5) diff_models(model, m5, rel, &par, field, j, hist, &zp, &tp);
            if (field) {
                uint8_t r = (uint8_t)(d - rel->pend[rel->n]);
                field_made(rel, &par, w[i]);
                d = r;
            } else if (t) {
                d = pred_residual(t, old, on, g->opos + i, d);
            }
            if (model || m5) {
                rc_encode_byte(&k.rc, rcout, zp, tp, &hist, d);
                continue;
            }
            if (d == 0) { zeros++; continue; }
            db_varint(&k.diff, zeros);
            db_reserve(&k.diff, 1);
            if (k.diff.err) break;
            k.diff.p[k.diff.len++] = d;
            zeros = 0;
        }
        if (zeros) db_varint(&k.diff, zeros);   /* v3 */
        if (m5) {
            /* v5: the literal bytes, each in the context of the new position's
             * parity and the top bits of the byte before */
            for (size_t i = g->diff; i < g->diff + g->extra; i++) {
                size_t j = g->npos + i;
                rc_encode_tree(&k.rc, out, lit_probs(m5, j, j ? nw[j - 1] : 0), 8, w[i]);
            }
            continue;
        }
        db_bytes(&k.extra, w + g->diff, g->extra);
        block_command(&k, g->opos, g->diff, g->extra);
    }
    block_flush(&k, out);
    for (int i = 0; m5 && k.rc.active && i < RC_START; i++) rc_shift(&k.rc, out);
    free(model);
    free(m5);
    free(t);
    free(rel);
    free(map);
    free(pc);
    free(k.ctrl.p);
    free(k.extra.p);
    free(k.diff.p);
    return out->err;
}

/* An extension of a match is kept as long as more than AGREE_NUM /
 * AGREE_DEN of its bytes agree. bsdiff keeps half; 4/9 (44%) makes every
 * pair of bench/delta smaller (the diff runs' zero gaps deflate well, and
 * the predictors take the changed branch and pointer bytes): alone, 3.4%
 * on Cortex-M Lua, 0.8% zlib, 1.5% armhf, 0-0.1% x86; 2/5 and 3/7 do about
 * as well, 1/3 a little worse, 3/5 worse. Taking Thumb-2 long branches as
 * agreeing (agree()) then takes another 0.4% off Lua, 1.5% off the
 * generated apps, 1.3% off armhf libcrypto, and adds 0.1% to zlib; counting
 * the short branches or pointer words so too, or using agree() for the
 * scan's own score, was worse. */
#define AGREE_NUM 4
#define AGREE_DEN 9

/* Marks (one bit per byte) the bytes of old's or new's Thumb-2 BL, B.W and
 * BLX instructions, found halfword by halfword from the start. */
static void mark_long_branches(const uint8_t *im, size_t n, uint8_t *mask)
{
    for (size_t k = 0; k + 4 <= n;) {
        uint32_t h1 = im[k] | (uint32_t)im[k + 1] << 8, h2 = im[k + 2] | (uint32_t)im[k + 3] << 8;
        if ((h1 & 0xf800) == 0xf000 && ((h2 & 0x9000) == 0x9000 || (h2 & 0xd000) == 0xc000)) {
            for (size_t i = k; i < k + 4; i++) mask[i >> 3] |= (uint8_t)(1u << (i & 7));
            k += 4;
        } else {
            k += 2;
        }
    }
}

/* Whether old[o] and nw[n] agree for the scan: equal bytes, or (with the
 * masks) both bytes of a Thumb-2 long branch, whose offset the ARM
 * predictor makes cheap when the call moved with its target. */
static int agree(const uint8_t *old, const uint8_t *nw, const uint8_t *om, const uint8_t *nm, int64_t o,
                 int64_t n)
{
    return old[o] == nw[n] || (om && (om[o >> 3] >> (o & 7) & 1) && (nm[n >> 3] >> (n & 7) & 1));
}

/* bsdiff's scan: find a long exact match, extend the previous one forward
 * and this one backward while enough of the bytes agree (agree(): om, nm
 * are long-branch masks or NULL), emit the gap as literals. Positions are
 * signed so the arithmetic mirrors bsdiff's. */
static int make_commands(const sa_index *ix, const uint8_t *old, int64_t on, const uint8_t *nw,
                         int64_t nn, int64_t thr, const uint8_t *om, const uint8_t *nm, gcmds *c)
{
    int64_t scan = 0, len = 0, pos = 0, lastscan = 0, lastpos = 0, lastoffset = 0;
    while (scan < nn) {
        int64_t oldscore = 0, scsc;
        for (scsc = scan += len; scan < nn; scan++) {
            size_t p = 0;
            len = on > 0 ? (int64_t)longest_match(ix, nw + scan, (size_t)(nn - scan), &p) : 0;
            pos = (int64_t)p;
            for (; scsc < scan + len; scsc++)
                if (scsc + lastoffset < on && old[scsc + lastoffset] == nw[scsc]) oldscore++;
            if ((len == oldscore && len != 0) || len > oldscore + thr) break;
            if (scan + lastoffset < on && old[scan + lastoffset] == nw[scan]) oldscore--;
        }
        if (len == oldscore && scan != nn) continue;

        int64_t s = 0, sf = 0, lenf = 0, i;
        for (i = 0; lastscan + i < scan && lastpos + i < on;) {
            if (agree(old, nw, om, nm, lastpos + i, lastscan + i)) s++;
            i++;
            if (s * AGREE_DEN - i * AGREE_NUM > sf * AGREE_DEN - lenf * AGREE_NUM) { sf = s; lenf = i; }
        }
        int64_t lenb = 0;
        if (scan < nn) {
            int64_t sb = 0;
            s = 0;
            for (i = 1; scan >= lastscan + i && pos >= i; i++) {
                if (agree(old, nw, om, nm, pos - i, scan - i)) s++;
                if (s * AGREE_DEN - i * AGREE_NUM > sb * AGREE_DEN - lenb * AGREE_NUM) { sb = s; lenb = i; }
            }
        }
        if (lastscan + lenf > scan - lenb) {
            int64_t overlap = (lastscan + lenf) - (scan - lenb), ss = 0, lens = 0;
            s = 0;
            for (i = 0; i < overlap; i++) {
                if (agree(old, nw, om, nm, lastpos + lenf - overlap + i, lastscan + lenf - overlap + i)) s++;
                if (agree(old, nw, om, nm, pos - lenb + i, scan - lenb + i)) s--;
                if (s > ss) { ss = s; lens = i + 1; }
            }
            lenf += lens - overlap;
            lenb -= lens;
        }
        int64_t extra = (scan - lenb) - (lastscan + lenf);
        if (lenf + extra > 0)
            push_command(c, (size_t)lastpos, (size_t)lastscan, (size_t)lenf, (size_t)extra);
        lastscan = scan - lenb;
        lastpos = pos - lenb;
        lastoffset = pos - scan;
    }
    return c->err;
}


static unsigned varint_len(uint64_t v)
{
    unsigned n = 1;
    while (v >>= 7) n++;
    return n;
}

/* The scan takes a short match far away in old for a few bytes of new code
 * (then seeks back), costing two long seeks and a command to save a few
 * literal bytes. A command of at most 32 bytes between two others becomes
 * literal bytes of the one before when its controls cost more than its
 * bytes would as literals, counted as 3/8 byte each (deflated they cost
 * more, about 7/8, but the controls' cost is their raw varints): against
 * 7/8, 3/8 takes 0.9% off Cortex-M Lua and up to 0.5% off the other
 * Cortex-M pairs of bench/delta; 1/2 does 0.1-0.4% better on those but
 * 0.7% worse on Lua, 1/4 worse. The generator tries the commands with and
 * without this (by the real size). */
static void absorb_excursions(gcmds *c)
{
    size_t w = 0;
    for (size_t i = 0; i < c->n; i++) {
        gcmd b = c->v[i];
        if (w > 0 && i + 1 < c->n && b.diff_len <= 32) {
            gcmd *a = &c->v[w - 1];
            int64_t a_end = (int64_t)(a->opos + a->diff_len), b_end = (int64_t)(b.opos + b.diff_len);
            int64_t next = (int64_t)c->v[i + 1].opos;
            unsigned keep = varint_len(zigzag((int64_t)b.opos - a_end)) + varint_len(b.diff_len) +
                            varint_len(b.extra_len) + varint_len(zigzag(next - b_end));
            unsigned drop = varint_len(zigzag(next - a_end)) + (unsigned)(b.diff_len * 3 / 8);
            if (drop < keep) {
                a->extra_len += b.diff_len + b.extra_len;
                continue;
            }
        }
        c->v[w++] = b;
    }
    c->n = w;
}


/* New code often repeats a few bytes of old exactly (a string, a sequence of
 * instructions) that the scan leaves as literals: its threshold needs a
 * match clearly longer than what the current alignment gives. Splits each
 * command's extra bytes at every exact match in old of at least minlen
 * bytes, as a command of its own (a diff run with no difference). Tried on
 * the absorbed command list, as a third list (ranked by the real size, so it
 * never loses; on the list as scanned it gains less): bench/delta
 * 1.4% off the generated Cortex-M app (newlib-full), 0.9% (nano), 0.1% Lua
 * (version 4, 10 bytes); nothing on the rest, nor on the libraries, where it
 * is not tried. Each match costs a command (3-4 bytes of controls), so
 * shorter ones lose: with version 5's cheaper controls 8 bytes beats 10 on
 * every ARM pair (Lua -15 bytes, the apps -43 and -37), 6 and 7 lose on Lua. */
#define OLD_MATCH_MIN 8

static int take_old_matches(const sa_index *ix, const uint8_t *nw, gcmds *c, size_t minlen)
{
    gcmds r = {NULL, 0, 0, 0};
    for (size_t i = 0; i < c->n && !r.err; i++) {
        gcmd g = c->v[i];
        size_t xs = g.npos + g.diff_len, xe = xs + g.extra_len, s = xs, lit = xs;
        size_t opos = g.opos, dl = g.diff_len, np = g.npos;
        while (ix->on > 0 && s + minlen <= xe) {
            size_t p = 0, len = longest_match(ix, nw + s, xe - s, &p);
            if (len < minlen) { s++; continue; }
            push_command(&r, opos, np, dl, s - lit);
            opos = p;
            np = s;
            dl = len;
            s += len;
            lit = s;
        }
        push_command(&r, opos, np, dl, xe - lit);
    }
    free(c->v);
    *c = r;
    return r.err;
}

/* zlib's level 9 with its most thorough match search, window 2^wbits;
 * memLevel sets the block size, which moves the result by about 1% either
 * way. */
static int zlib_compress(const dbuf *in, unsigned wbits, int mem_level, dbuf *out)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 9, Z_DEFLATED, (int)wbits, mem_level, Z_DEFAULT_STRATEGY) != Z_OK)
        return FOTA_ERR_NOMEM;
    deflateTune(&z, 258, 258, 258, 4096);
    out->len = 0;
    db_reserve(out, deflateBound(&z, (uLong)in->len));
    int rc = out->err;
    if (rc == 0) {
        z.next_in = in->p;
        z.avail_in = (uInt)in->len;
        z.next_out = out->p;
        z.avail_out = (uInt)out->cap;
        rc = deflate(&z, Z_FINISH) == Z_STREAM_END ? 0 : FOTA_ERR_NOMEM;
        out->len = z.total_out;
    }
    deflateEnd(&z);
    return rc;
}

/* Keeps the smaller of *out and *tmp in *out. */
static void keep_smaller(dbuf *out, dbuf *tmp)
{
    if (tmp->len < out->len) {
        dbuf t = *out;
        *out = *tmp;
        *tmp = t;
    }
}

/* The zlib stream of the blocks, window 2^wbits, in out (tmp: scratch).
 * Z_FINAL: the smallest of zdeflate's (near-optimal parsing within the
 * window), zlib's level 9 at memLevel 8 and 9 (which now and then wins by a
 * little) and, for a 32 KiB window, the one libdeflate always uses,
 * libdeflate's level 12. Z_RANK (ranking candidates of a small image):
 * zdeflate's alone, the one that wins nearly always. Z_QUICK (ranking
 * those of a large one): libdeflate's level 4. */
enum { Z_QUICK, Z_FINAL, Z_RANK };

static int compress_blocks(const dbuf *in, unsigned wbits, int final,
                           struct libdeflate_compressor *c, dbuf *out, dbuf *tmp)
{
    out->len = 0;
    if (final == Z_RANK) {
        /* zdeflate's alone, below */
    } else if (final == Z_QUICK || wbits == FOTA_DELTA_MAX_WBITS) {
        db_reserve(out, libdeflate_zlib_compress_bound(c, in->len));
        if (out->err) return out->err;
        out->len = libdeflate_zlib_compress(c, in->p, in->len, out->p, out->cap);
        if (out->len == 0) return FOTA_ERR_NOMEM;
        if (final == Z_QUICK) return 0;
    } else {
        int rc = zlib_compress(in, wbits, 8, out);
        if (rc == 0) rc = zlib_compress(in, wbits, 9, tmp);
        if (rc) return rc;
        keep_smaller(out, tmp);
    }
    uint8_t *zp = NULL;
    size_t zl = 0;
    int rc = fota_zdeflate_split(in->p, in->len, wbits, final == Z_FINAL, &zp, &zl);
    if (rc) return rc;
    if (final == Z_RANK) {
        free(out->p);
        *out = (dbuf){zp, zl, zl, 0};
        return 0;
    }
    free(tmp->p);
    *tmp = (dbuf){zp, zl, zl, 0};
    keep_smaller(out, tmp);
    return 0;
}

/* The address old's byte 0 is loaded at, for the pointer words: 0 for an
 * ELF file (its addresses are file offsets plus at most a segment's
 * alignment); else the image may start with a Cortex-M vector table (stack
 * pointer, reset handler, ...): of the reset handler's address rounded down
 * to 1 KiB ... 16 MiB, the base under which most aligned words point into
 * the image. */
static uint32_t find_base(const uint8_t *old, size_t on)
{
    if (on < 8 || memcmp(old, "\177ELF", 4) == 0) return 0;
    uint32_t reset = le32(old + 4), best = 0;
    size_t best_n = 0;
    for (unsigned bits = 10; bits <= 24; bits++) {
        uint32_t b = reset & ~((1u << bits) - 1), n = 0;
        for (size_t k = 0; k + 4 <= on; k += 4) n += (uint32_t)(le32(old + k) - b) < on;
        if (n > best_n) { best_n = n; best = b; }
    }
    return best;
}

/* Predictor combinations (flags, region bits) the generator tries; the
 * first four are those of v2. Shared libraries do best with 8 KiB regions,
 * firmware whose functions the compiler reorders with 256-byte or (the
 * last one: Cortex-M Lua, 11,371 -> 11,106 bytes) 1 KiB regions and the
 * block's command map (bit 6). */
#define T_ FOTA_DELTA_F_THUMB
#define W_ FOTA_DELTA_F_WORDS
#define S_ FOTA_DELTA_F_SHORT
static const struct { uint8_t flags, shift; } candidates[] = {
    {0, 12}, {FOTA_DELTA_F_PREDICT, 12}, {FOTA_DELTA_F_REL32, 12},
    {FOTA_DELTA_F_REL32 | FOTA_DELTA_F_PREDICT, 12},
    {T_ | W_, 13}, {FOTA_DELTA_F_A32 | W_, 13}, {T_ | FOTA_DELTA_F_A32 | W_, 13},
    {T_ | W_ | FOTA_DELTA_F_PREDICT, 13}, {T_ | W_ | FOTA_DELTA_F_RELWORDS, 13},
    {T_ | W_ | FOTA_DELTA_F_RUNS, 8}, {T_ | W_ | FOTA_DELTA_F_RUNS, 13},
    {FOTA_DELTA_F_A32 | W_ | FOTA_DELTA_F_RUNS, 8}, {T_ | W_ | FOTA_DELTA_F_RUNS | FOTA_DELTA_F_PREDICT, 8},
    {T_ | W_ | S_, 13}, {T_ | W_ | FOTA_DELTA_F_RUNS | S_, 8}, {T_ | W_ | FOTA_DELTA_F_RUNS | S_, 13},
    {T_ | W_ | FOTA_DELTA_F_RUNS | S_ | FOTA_DELTA_F_PREDICT, 8}, {T_ | W_ | FOTA_DELTA_F_RUNS | S_, 10}};
#undef T_
#undef W_
#undef S_
/* An ELF file says its machine: x86 code needs no ARM candidate and ARM
 * code no rel32 one (each is measured all the same for anything else). */
static int candidate_fits(const uint8_t *old, size_t on, uint8_t flags)
{
    if (on < 20 || memcmp(old, "\177ELF", 4) != 0) return 1;
    unsigned machine = (unsigned)old[18] | (unsigned)old[19] << 8;
    if (machine == 3 || machine == 62) return !(flags & FOTA_DELTA_F_ARM);       /* i386, x86-64 */
    if (machine == 40) return !(flags & FOTA_DELTA_F_REL32);                     /* ARM */
    return 1;
}

/* Command lists per scan threshold for a firmware-sized image: as scanned,
 * with absorb_excursions, and with absorb_excursions then take_old_matches. */
#define LISTS 3
#define FINALISTS 3   /* candidates compressed for real */
#define REAL_RANK_MAX (1u << 20)   /* new images up to this size rank every candidate by its real size */

typedef struct {
    dbuf blocks;
    size_t quick;
    uint8_t flags, shift, used, version;
} gcand;

int fota_delta_create(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
                      size_t new_len, const fota_delta_options *opt, uint8_t **out, size_t *out_len)
{
    if (!out || !out_len || (!old_img && old_len) || (!new_img && new_len)) return FOTA_ERR_ARG;
    *out = NULL;
    *out_len = 0;
    if (old_len > FOTA_DELTA_MAX_IMAGE || new_len > FOTA_DELTA_MAX_IMAGE) return FOTA_ERR_RANGE;
    unsigned wbits = opt && opt->window_bits ? opt->window_bits : FOTA_DELTA_GEN_WBITS;
    if (wbits < FOTA_DELTA_MIN_WBITS || wbits > FOTA_DELTA_MAX_WBITS) return FOTA_ERR_ARG;
    if (opt && opt->version && (opt->version < 3 || opt->version > 5)) return FOTA_ERR_ARG;
    static const uint8_t empty[1] = {0};   /* no arithmetic on NULL for empty images */
    if (!old_img) old_img = empty;
    if (!new_img) new_img = empty;
    fota_delta_params par = {0, opt && opt->has_base ? opt->base_address : find_base(old_img, old_len),
                             FOTA_DELTA_DEFAULT_SHIFT, old_len, new_len, NULL};
    uint8_t hdr[FOTA_DELTA_HEADER_V3_LEN];
    memset(hdr, 0, sizeof hdr);
    memcpy(hdr, FOTA_DELTA_MAGIC, 4);
    hdr[6] = (uint8_t)wbits;
    hdr[7] = (uint8_t)par.shift;
    fota_put32(hdr + 8, (uint32_t)old_len);
    fota_put32(hdr + 12, (uint32_t)new_len);
    fota_put32(hdr + FOTA_DELTA_HEADER_LEN, par.base);
    int rc = fota_sha256(old_img, old_len, hdr + 16);
    if (rc == 0) rc = fota_sha256(new_img, new_len, hdr + 48);
    if (rc) return rc;

    int32_t *sa = NULL;
    sa_index ix = {NULL, old_img, old_len, NULL, NULL};
    if (old_len > 0) {
        sa = malloc(old_len * sizeof *sa);
        ix.lo = calloc(65536, sizeof *ix.lo);
        ix.hi = calloc(65536, sizeof *ix.hi);
        if (!sa || !ix.lo || !ix.hi || divsufsort(old_img, sa, (saidx_t)old_len) != 0) {
            free(sa);
            free(ix.lo);
            free(ix.hi);
            return FOTA_ERR_NOMEM;
        }
        ix.sa = sa;
        /* Equal prefixes are contiguous in the suffix array. */
        for (size_t i = old_len; i-- > 0;) {
            size_t p = (size_t)sa[i];
            if (p + 1 >= old_len) continue;
            unsigned key = (unsigned)old_img[p] << 8 | old_img[p + 1];
            if (ix.hi[key] == 0) ix.hi[key] = (uint32_t)i + 1;
            ix.lo[key] = (uint32_t)i;
        }
    }
    /* Candidates (scan thresholds x predictor combinations) are ranked by
     * their real size for a firmware-sized image; for a larger one by a
     * quick compression, which can misjudge close ones, so the best
     * FINALISTS are then compressed for real and the smallest is kept. */
    struct libdeflate_compressor *c = libdeflate_alloc_compressor(12);
    struct libdeflate_compressor *q = libdeflate_alloc_compressor(4);
    if (!c || !q) rc = FOTA_ERR_NOMEM;
    /* How many unexpected matching bytes make bsdiff's scan start a new
     * alignment: results swing by several percent either way with it, so
     * two values are tried (bsdiff uses 8); for a firmware-sized image four,
     * each with and without absorb_excursions (16: the generated Cortex-M
     * apps of bench/delta, whose functions move by many different amounts,
     * are 11-15% smaller with it, the best of 13..19 there; it changes none of
     * the other pairs). */
    static const int64_t thresholds[] = {6, 12, 4, 16};
    gcand fin[FINALISTS];
    memset(fin, 0, sizeof fin);
    dbuf scratch = {NULL, 0, 0, 0};
    /* A firmware-sized image: every candidate is ranked by its real size. */
    int real = new_len <= REAL_RANK_MAX && !(opt && opt->quick_rank);
    /* Code that may be Thumb-2 (not an x86 ELF file): the scan takes long
     * branches on both sides as agreeing bytes. */
    uint8_t *om = NULL, *nm = NULL;
    if (rc == 0 && candidate_fits(old_img, old_len, FOTA_DELTA_F_THUMB)) {
        om = calloc(old_len / 8 + 1, 1);
        nm = calloc(new_len / 8 + 1, 1);
        if (!om || !nm) rc = FOTA_ERR_NOMEM;
        else {
            mark_long_branches(old_img, old_len, om);
            mark_long_branches(new_img, new_len, nm);
        }
    }
    for (size_t t = 0; rc == 0 && t < LISTS * (real ? sizeof thresholds / sizeof thresholds[0] : 2); t++) {
        if (!real && t % LISTS) continue;   /* a large image: the first two thresholds, as scanned */
        gcmds cmds = {NULL, 0, 0, 0};
        rc = make_commands(&ix, old_img, (int64_t)old_len, new_img, (int64_t)new_len,
                           thresholds[t / LISTS], om, nm, &cmds);
        if (t % LISTS >= 1) absorb_excursions(&cmds);
        if (rc == 0 && t % LISTS == 2) rc = take_old_matches(&ix, new_img, &cmds, OLD_MATCH_MIN);
        for (size_t f = 0; rc == 0 && f < 3 * (sizeof candidates / sizeof candidates[0]); f++) {
            uint8_t version = (uint8_t)(3 + f % 3), flags = candidates[f / 3].flags;
            if (!candidate_fits(old_img, old_len, flags)) continue;
            /* by default 3 and 5: v5 codes the diff bytes as v4 does (with
             * richer contexts), the rest without deflate, and was smaller than
             * v4 on every pair of bench/delta; v4 only when asked for */
            if (opt && opt->version ? opt->version != version : version == 4) continue;
            gcand k = {{NULL, 0, 0, 0}, 0, flags, candidates[f / 3].shift, 1, version};
            par.flags = flags;
            par.shift = candidates[f / 3].shift;
            rc = encode_blocks(&cmds, old_img, new_img, &par, version, &k.blocks);
            /* v5's stream is final as coded: ranked by its exact size */
            if (rc == 0 && version < 5)
                rc = compress_blocks(&k.blocks, wbits, real ? Z_RANK : Z_QUICK, q, &scratch, NULL);
            k.quick = version < 5 ? scratch.len : k.blocks.len;
            /* keep the FINALISTS best, sorted */
            size_t at = FINALISTS;
            while (rc == 0 && at > 0 && (!fin[at - 1].used || k.quick < fin[at - 1].quick)) at--;
            if (rc || at == FINALISTS) {
                free(k.blocks.p);
                continue;
            }
            free(fin[FINALISTS - 1].blocks.p);
            memmove(fin + at + 1, fin + at, (FINALISTS - 1 - at) * sizeof *fin);
            fin[at] = k;
        }
        free(cmds.v);
    }
    size_t best = FINALISTS, best_len = SIZE_MAX;
    dbuf z[FINALISTS];
    memset(z, 0, sizeof z);
    for (size_t i = 0; rc == 0 && i < FINALISTS && fin[i].used; i++) {
        if (fin[i].version == 5) {
            z[i] = fin[i].blocks;
            fin[i].blocks = (dbuf){NULL, 0, 0, 0};
        } else {
            rc = compress_blocks(&fin[i].blocks, wbits, Z_FINAL, c, &z[i], &scratch);
        }
        if (rc == 0 && z[i].len < best_len) { best = i; best_len = z[i].len; }
    }
    uint8_t *o = NULL;
    size_t hl = 0;
    if (rc == 0 && best == FINALISTS) rc = FOTA_ERR_STATE;   /* no candidate: cannot happen */
    if (rc == 0) hl = (fin[best].flags & FOTA_DELTA_F_WORDS) ? FOTA_DELTA_HEADER_V3_LEN : FOTA_DELTA_HEADER_LEN;
    if (rc == 0 && !(o = malloc(hl + best_len))) rc = FOTA_ERR_NOMEM;
    if (rc == 0) {
        hdr[4] = fin[best].version;
        hdr[5] = fin[best].flags;
        if (fin[best].version == 5) hdr[6] = 0;   /* no zlib stream, no window */
        hdr[7] = fin[best].shift;
        memcpy(o, hdr, hl);
        if (best_len) memcpy(o + hl, z[best].p, best_len);
    }
    for (size_t i = 0; i < FINALISTS; i++) {
        free(fin[i].blocks.p);
        free(z[i].p);
    }
    free(scratch.p);
    free(om);
    free(nm);
    if (c) libdeflate_free_compressor(c);
    if (q) libdeflate_free_compressor(q);
    free(sa);
    free(ix.lo);
    free(ix.hi);
    if (rc) {
        free(o);
        return rc;
    }
    *out = o;
    *out_len = hl + best_len;
    return 0;
}

static int read_whole(const char *path, uint8_t **p, size_t *n)
{
    fota_port_file *f = NULL;
    uint64_t size = 0;
    *p = NULL;
    int rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_size(f, &size);
    if (rc == 0 && size > FOTA_DELTA_MAX_IMAGE) rc = FOTA_ERR_RANGE;
    if (rc == 0 && !(*p = malloc(size ? (size_t)size : 1))) rc = FOTA_ERR_NOMEM;
    for (uint64_t off = 0; rc == 0 && off < size;) {
        size_t got = 0;
        rc = fota_port_pread(f, off, *p + off, (size_t)(size - off), &got);
        if (rc == 0 && got == 0) rc = FOTA_ERR_IO;   /* shrank under us */
        off += got;
    }
    fota_port_close(f);
    if (rc) { free(*p); *p = NULL; return rc; }
    *n = (size_t)size;
    return 0;
}

int fota_delta_create_file(const char *old_path, const char *new_path, const char *out_path,
                           const fota_delta_options *opt, uint64_t *out_len)
{
    if (!old_path || !new_path || !out_path) return FOTA_ERR_ARG;
    uint8_t *o = NULL, *n = NULL, *d = NULL;
    size_t ol = 0, nl = 0, dl = 0;
    int rc = read_whole(old_path, &o, &ol);
    if (rc == 0) rc = read_whole(new_path, &n, &nl);
    if (rc == 0) rc = fota_delta_create(o, ol, n, nl, opt, &d, &dl);
    free(o);
    free(n);
    if (rc) return rc;
    fota_port_file *f = NULL;
    rc = fota_port_open(&f, out_path, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc == 0) {
        rc = fota_port_pwrite(f, 0, d, dl);
        if (rc == 0) rc = fota_port_sync(f);
        fota_port_close(f);
        if (rc) fota_port_remove(out_path);
    }
    free(d);
    if (rc == 0 && out_len) *out_len = dl;
    return rc;
}

#endif
