/* The field predictors of the delta model (delta_model.h): x86 rel32
 * fields, ARM branches and pointer words, predicted from what the diff runs
 * made so far. Shared by the generator and the applier; offsets are 64-bit
 * so no sum of two 32-bit values read from a delta can wrap. */
#include "core/delta_model.h"

#include "core/bytes.h"

/* Opcodes whose ModRM byte with mod 00, r/m 101 (RIP-relative) is followed
 * by a disp32 that ends the instruction, bit o of rip_ops[o >> 3]: 03 0B 10
 * 11 13 1B 23 28 29 2B 2E 2F 33 38 39 3A 3B 54 57 58 59 5C 5E 63 6F 7F 84 85
 * 86 87 88 89 8A 8B 8D FF. Part of the format; a heuristic, so an
 * instruction it misjudges costs only size. */
static const uint8_t rip_ops[32] = {
    0x08, 0x08, 0x0b, 0x08, 0x08, 0xcb, 0x08, 0x0f, 0x00, 0x00, 0x90, 0x53, 0x08, 0x80, 0x00, 0x80,
    0xf0, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80};

/* An entry's state (2 bits, packed four a byte): bit 0 in use, bit 1 confirmed. */
static unsigned st_get(const fota_delta_rel *m, unsigned h)
{
    return m->e_st[h >> 2] >> (h & 3) * 2 & 3u;
}

static void st_set(fota_delta_rel *m, unsigned h, unsigned st)
{
    unsigned shift = (h & 3) * 2;
    m->e_st[h >> 2] = (uint8_t)((m->e_st[h >> 2] & ~(3u << shift)) | st << shift);
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
    uint32_t old32 = fota_get32(o);
    uint32_t t = (uint32_t)k + 4u + old32;
    if (t >= on) return 0;
    uint32_t key = t >> FOTA_DELTA_REL_SHIFT;   /* below 2^12: old is at most 16 MiB */
    unsigned h = table_slot(key);
    m->slot = h;
    m->hit = (st_get(m, h) & 1) && m->e_tag[h] == key;
    uint32_t p = old32 + (m->hit && (st_get(m, h) & 2) ? m->e_val[h] : 0);
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
    uint32_t nw = mp->nw0;   /* command i's new start */
    for (unsigned i = 0; i < mp->n; i++) {
        if (t >= mp->old[i] && t - mp->old[i] < mp->len[i]) {
            *d = nw - mp->old[i];
            return 1;
        }
        nw += mp->len[i] + mp->extra[i];
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
    uint32_t w = fota_get32(o), pred;
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
    m->hit = (st_get(m, h) & 1) && m->e_tag[h] == key;
    uint32_t d = m->last;
    if (m->x[hx].tag == (uint32_t)t + 1) d = m->x[hx].val;
    else if (!((p->flags & FOTA_DELTA_F_RUNS) && map_move(p->map, (uint64_t)t, &d)) && m->hit) d = m->e_val[h];
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
int fota_delta_field_begin(fota_delta_rel *m, const fota_delta_params *p, const uint8_t o[4], uint8_t h1,
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
void fota_delta_field_run(fota_delta_rel *m, const fota_delta_params *p, uint64_t a, uint64_t len,
                          uint64_t b)
{
    if (!(p->flags & FOTA_DELTA_F_RUNS) || len == 0) return;
    uint32_t last = (uint32_t)((a + len - 1) >> p->shift), first = (uint32_t)(a >> p->shift);
    if (last - first >= FOTA_DELTA_REL_SIZE) first = last - (FOTA_DELTA_REL_SIZE - 1);
    for (uint32_t key = first; key <= last; key++) {
        unsigned h = table_slot(key);
        m->e_tag[h] = (uint16_t)key;
        m->e_val[h] = (uint32_t)(b - a);
        st_set(m, h, 1);
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
void fota_delta_field_made(fota_delta_rel *m, const fota_delta_params *p, uint8_t b)
{
    m->newb[m->n++] = b;
    if (m->n < m->len) return;
    m->n = 0;
    uint32_t nw = fota_get32(m->newb), d;
    unsigned h = m->slot;
    if (!(p->flags & FOTA_DELTA_F_REL32)) {
        if (m->kind >= K_SHORT || !arm_moved(m, p, nw, &d)) return;
        m->x[m->xslot].tag = m->target + 1;
        m->x[m->xslot].val = d;
        m->e_tag[h] = m->tag_pending;
        m->e_val[h] = d;
        st_set(m, h, 1);
        m->last = d;
        return;
    }
    d = nw - m->old32;
    if (m->hit) {
        if (d == m->e_val[h]) st_set(m, h, 3);
        else { m->e_val[h] = d; st_set(m, h, 1); }
    } else if (d) {
        m->e_tag[h] = m->tag_pending;
        m->e_val[h] = d;
        st_set(m, h, 1);
    }
}
