/* The delta generator (delta_gen.h): bsdiff-class matching on a suffix
 * array (libdivsufsort), the blocks coded with the model of
 * core/delta_model.h exactly as the applier (core/delta.c) decodes them,
 * versions 3 and 4 deflated (zdeflate, zlib, libdeflate), the candidates
 * (scan thresholds x predictor flags x versions) ranked by size. Host side
 * only. Format in docs/delta-format.md. */
#include "host/delta_gen.h"

#include <stdlib.h>
#include <string.h>

#include <divsufsort.h>
#include <libdeflate.h>
#include <zlib.h>

#include "core/bytes.h"
#include "core/fota_err.h"
#include "host/zdeflate.h"

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

/* The byte predictor (delta_model.h) on old[k]'s context: the residual
 * that codes difference d. */
static uint8_t pred_residual(fota_delta_pred *t, const uint8_t *old, size_t on, size_t k, uint8_t d)
{
    uint8_t c1 = k + 1 < on ? old[k + 1] : 0, c2 = k + 2 < on ? old[k + 2] : 0;
    uint8_t r = (uint8_t)(d - fota_delta_pred_guess(t, c1, c2));
    fota_delta_pred_learn(t, c1, c2, d);
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
    uint32_t bound = (e->range >> FOTA_DELTA_RC_BITS) * *p;
    if (bit) {
        e->low += bound;
        e->range -= bound;
    } else {
        e->range = bound;
    }
    fota_delta_prob_update(p, bit);
    while (e->range < FOTA_DELTA_RC_TOP) {
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
static void rc_encode_number(grc *e, dbuf *out, uint16_t *m5, unsigned i, uint64_t v)
{
    unsigned nb = 0;
    while (nb < 64 && v >> nb) nb++;
    rc_encode_tree(e, out, m5 + fota_delta_num_nbits(i), 6, nb);
    for (unsigned j = nb > 1 ? nb - 1 : 0; j-- > 0;)   /* below the top one, high first */
        rc_encode(e, out, m5 + fota_delta_num_prob(i, nb, j, v >> (j + 1)), (int)(v >> j & 1));
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
    uint16_t *model;   /* v4: the diff bytes' models (fota_delta_model's layout); NULL: v3 */
    grc rc;
} gblock;

static void block_flush(gblock *k, dbuf *out)
{
    if (k->ncmd == 0) return;
    db_varint(out, k->ncmd);
    db_bytes(out, k->ctrl.p, k->ctrl.len);
    db_bytes(out, k->extra.p, k->extra.len);
    if (k->model) {
        for (int i = 0; k->rc.active && i < FOTA_DELTA_RC_START; i++) rc_shift(&k->rc, &k->diff);
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
    /* the models, laid out as delta_model.h's structs say */
    uint16_t *model = version == 4 ? malloc(sizeof(fota_delta_model)) : NULL;
    uint16_t *m5 = version == 5 ? malloc(sizeof(fota_delta_model5)) : NULL;
    unsigned hist = 0;
    if (model) fota_delta_probs_init(model, sizeof(fota_delta_model));
    if (m5) fota_delta_probs_init(m5, sizeof(fota_delta_model5));
    k.model = model;
    /* v5: one coder for the whole stream, straight into out */
    dbuf *rcout = m5 ? out : &k.diff;
    fota_delta_params par = *par_in;
    size_t on = (size_t)par.old_size, np = 0;
    int predict = par.flags & FOTA_DELTA_F_PREDICT;
    int fields = par.flags & (FOTA_DELTA_F_REL32 | FOTA_DELTA_F_ARM);
    fota_delta_pred *t = predict ? calloc(1, sizeof *t) : NULL;
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
            map->nw0 = (uint32_t)g->npos;
            for (size_t q = pi; q < np && (q == pi || !pc[q].first); q++) {
                map->old[map->n] = (uint32_t)pc[q].opos;
                map->len[map->n] = (uint32_t)pc[q].diff;
                map->extra[map->n++] = (uint16_t)pc[q].extra;   /* a block's are at most FOTA_DELTA_BLOCK_BUF */
            }
            if (m5) {
                rc_encode_tree(&k.rc, out, m5 + FOTA_DELTA_M5_NCMD, 7, map->n - 1);
                for (unsigned q = 0; q < map->n; q++) {
                    rc_encode_number(&k.rc, out, m5, 0, zigzag((int64_t)map->old[q] - (int64_t)k.old_pos));
                    rc_encode_number(&k.rc, out, m5, 1, map->len[q]);
                    rc_encode_number(&k.rc, out, m5, 2, pc[pi + q].extra);
                    k.old_pos = map->old[q] + map->len[q];
                }
            }
        }
        const uint8_t *o = old + g->opos, *w = nw + g->npos;
        /* Sparse diff run: gap of bytes with residual 0, then one
         * residual; deflate codes small gap numbers better than long runs
         * of zero bytes. The run may end after a gap or after a value. */
        size_t zeros = 0;
        if (rel) fota_delta_field_run(rel, &par, g->opos, g->diff, g->npos);
        for (size_t i = 0; i < g->diff; i++) {
            uint8_t d = (uint8_t)(w[i] - o[i]);
            size_t j = g->npos + i;
            int field = rel && fota_delta_field_begin(rel, &par, o + i, j >= 1 ? nw[j - 1] : 0, j >= 2 ? nw[j - 2] : 0,
                                           g->opos + i, j, g->diff - i);
            uint16_t *zp = NULL, *tp = NULL;
            if (model || m5) {
                unsigned zi, ti;
                fota_delta_diff_models(m5 != NULL, rel, &par, field, j, hist, &zi, &ti);
                zp = (m5 ? m5 : model) + zi;
                tp = (m5 ? m5 : model) + ti;
            }
            if (field) {
                uint8_t r = (uint8_t)(d - rel->pend[rel->n]);
                fota_delta_field_made(rel, &par, w[i]);
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
                rc_encode_tree(&k.rc, out, m5 + fota_delta_lit_probs(j, j ? nw[j - 1] : 0), 8, w[i]);
            }
            continue;
        }
        db_bytes(&k.extra, w + g->diff, g->extra);
        block_command(&k, g->opos, g->diff, g->extra);
    }
    block_flush(&k, out);
    for (int i = 0; m5 && k.rc.active && i < FOTA_DELTA_RC_START; i++) rc_shift(&k.rc, out);
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
    uint32_t reset = fota_get32(old + 4), best = 0;
    size_t best_n = 0;
    for (unsigned bits = 10; bits <= 24; bits++) {
        uint32_t b = reset & ~((1u << bits) - 1), n = 0;
        for (size_t k = 0; k + 4 <= on; k += 4) n += (uint32_t)(fota_get32(old + k) - b) < on;
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
