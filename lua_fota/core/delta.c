/* The delta applier (delta.h): a push parser of the delta whose commands
 * patch the old image's bytes into the new one, chunk by chunk, with the
 * model of delta_model.h. Format in docs/delta-format.md. Offsets are
 * 64-bit internally so no sum of two 32-bit values read from a delta can
 * wrap. */
#include "core/delta.h"

#include <string.h>

#include "core/bytes.h"
#include "core/fota_err.h"

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

static size_t chunk_of(const fota_delta_applier *a)
{
    size_t c = a->io.max_chunk;
    return (c == 0 || c > FOTA_DELTA_CHUNK) ? FOTA_DELTA_CHUNK : c;
}

int fota_delta_apply_init(fota_delta_applier *a, const fota_delta_io *io)
{
    if (!a || !io || !io->read_old) return FOTA_ERR_ARG;
    memset(a, 0, sizeof *a);
    a->io = *io;
    a->state = ST_HDR;
#ifndef FOTA_DELTA_V5_ONLY
    a->zarena = a->u.z3.zmem.b;
    a->zarena_len = sizeof a->u.z3.zmem.b;
    a->max_wbits = FOTA_DELTA_APPLY_WBITS;
#endif
    mbedtls_sha256_init(&a->sha);
    if (io->old_size > FOTA_DELTA_MAX_IMAGE) a->err = FOTA_DELTA_E_WRONG_BASE;  /* no delta has such a base */
    return 0;
}

void fota_delta_apply_free(fota_delta_applier *a)
{
    if (!a) return;
#ifndef FOTA_DELTA_V5_ONLY
    if (a->z_active) inflateEnd(&a->z);
    a->z_active = 0;
#endif
    mbedtls_sha256_free(&a->sha);
}

/* A range decoder starts: its 5-byte start comes next; left: the bytes it
 * may read (v4: its section's length). */
static void rc_start(fota_delta_applier *a, uint32_t left)
{
    a->rc_left = left;
    a->rc_range = UINT32_MAX;
    a->rc_code = 0;
    a->rc_init = 0;
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
    a->map.extra[a->cmd_i] = (uint16_t)extra;   /* at most FOTA_DELTA_BLOCK_BUF, checked above */
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
    a->map.nw0 = (uint32_t)a->cmd_end;
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

/* The byte predictor (delta_model.h): its context is the two old bytes
 * after the one at cur, loaded in wbuf or look. */
static uint8_t predict(fota_delta_applier *a, uint8_t res)
{
    size_t j = a->cur + 1;
    uint8_t c1 = j < a->wlen ? a->wbuf[j] : a->look[j - a->wlen];
    j++;
    uint8_t c2 = j < a->wlen ? a->wbuf[j] : a->look[j - a->wlen];
    uint8_t d = (uint8_t)(res + fota_delta_pred_guess(&a->pred, c1, c2));
    fota_delta_pred_learn(&a->pred, c1, c2, d);
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
    return fota_delta_field_begin(&a->rel, &a->par, o, h1, h2, k, a->new_pos + c, a->run_end - k);
}

/* Makes that byte from its coded value: the difference, or with a
 * predictor on, its residual (field: what classify() said). */
static void make_byte(fota_delta_applier *a, int field, uint8_t res)
{
    size_t c = a->cur;
    if (field) {
        a->wbuf[c] = (uint8_t)(a->wbuf[c] + res + a->rel.pend[a->rel.n]);
        fota_delta_field_made(&a->rel, &a->par, a->wbuf[c]);
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
    while (a->rc_init < FOTA_DELTA_RC_START || a->rc_range < FOTA_DELTA_RC_TOP) {
        if (a->rc_left == 0) return FOTA_DELTA_E_FORMAT;
        if (*np == 0) return 0;
        if (a->rc_init == 0 && **pp != 0) return FOTA_DELTA_E_FORMAT;   /* a coder's first byte is 0 */
        a->rc_code = a->rc_code << 8 | *(*pp)++;
        (*np)--;
        a->rc_left--;
        if (a->rc_init < FOTA_DELTA_RC_START) a->rc_init++;
        else a->rc_range <<= 8;
    }
    return 1;
}

#ifdef FOTA_DELTA_V5_ONLY
_Static_assert(FOTA_DELTA_M5_PROBS % 2 == 0, "the packed models hold pairs of probabilities");

/* Probability i of the packed models: i even in the low 12 bits of its
 * pair's 3 bytes, i odd in the high 12. */
static unsigned prob_get(const fota_delta_applier *a, unsigned i)
{
    const uint8_t *q = a->u.m5.b + i / 2 * 3;
    return i & 1 ? (unsigned)(q[1] >> 4 | q[2] << 4) : (unsigned)(q[0] | (q[1] & 0x0fu) << 8);
}

static void prob_set(fota_delta_applier *a, unsigned i, unsigned p)
{
    uint8_t *q = a->u.m5.b + i / 2 * 3;
    if (i & 1) {
        q[1] = (uint8_t)((q[1] & 0x0fu) | (p & 0x0fu) << 4);
        q[2] = (uint8_t)(p >> 4);
    } else {
        q[0] = (uint8_t)p;
        q[1] = (uint8_t)((q[1] & 0xf0u) | p >> 8);
    }
}

/* Version 5's models start at 1/2. */
static void probs5_init(fota_delta_applier *a)
{
    for (unsigned i = 0; i < FOTA_DELTA_M5_PROBS; i++) prob_set(a, i, 1u << (FOTA_DELTA_RC_BITS - 1));
}
#else
static unsigned prob_get(const fota_delta_applier *a, unsigned i)
{
    return a->probs[i];
}

static void prob_set(fota_delta_applier *a, unsigned i, unsigned p)
{
    a->probs[i] = (uint16_t)p;
}

static void probs5_init(fota_delta_applier *a)
{
    fota_delta_probs_init(a->u.m5.p, sizeof a->u.m5.p);
    a->probs = a->u.m5.p;
}
#endif

/* One decision by model i: 1 with *bit, 0 waiting for input, or an error. */
static int rc_bit(fota_delta_applier *a, const uint8_t **pp, size_t *np, unsigned i, unsigned *bit)
{
    int r = rc_fill(a, pp, np);
    if (r <= 0) return r;
    unsigned p = prob_get(a, i);
    uint32_t bound = (a->rc_range >> FOTA_DELTA_RC_BITS) * p;
    *bit = a->rc_code >= bound;
    if (*bit) {
        a->rc_code -= bound;
        a->rc_range -= bound;
    } else {
        a->rc_range = bound;
    }
    prob_set(a, i, fota_delta_prob_next(p, (int)*bit));
    return 1;
}

/* A value of `bits` bits by the tree of models tree + 1 .. tree + 2^bits
 * - 1, resuming at a->node where the input ran out: 1 with *v, 0 waiting,
 * or an error. */
static int decode_tree(fota_delta_applier *a, const uint8_t **pp, size_t *np, unsigned tree, unsigned bits,
                       unsigned *v)
{
    if (a->node == 0) a->node = 1;
    while (a->node < 1u << bits) {
        unsigned bit;
        int r = rc_bit(a, pp, np, tree + a->node, &bit);
        if (r <= 0) return r;
        a->node = a->node << 1 | bit;
    }
    *v = a->node - (1u << bits);
    a->node = 0;
    return 1;
}

/* v5: control value i (as rc_encode_number codes it), resuming likewise. */
static int decode_number(fota_delta_applier *a, const uint8_t **pp, size_t *np, unsigned i, uint64_t *v)
{
    int r;
    if (a->nbits == 0) {
        unsigned nb;
        if ((r = decode_tree(a, pp, np, fota_delta_num_nbits(i), 6, &nb)) <= 0) return r;
        if (nb > 32) return FOTA_DELTA_E_FORMAT;   /* every control value is below 2^32 */
        a->nbits = nb + 1;
        a->var = nb != 0;
        a->bits_left = nb ? nb - 1 : 0;
    }
    while (a->bits_left > 0) {
        unsigned bit;
        if ((r = rc_bit(a, pp, np, fota_delta_num_prob(i, a->nbits - 1, a->bits_left - 1, a->var), &bit)) <= 0) return r;
        a->var = a->var << 1 | bit;
        a->bits_left--;
    }
    *v = a->var;
    a->var = 0;
    a->nbits = 0;
    return 1;
}

/* v4, v5: decodes the byte at cur's residual (its models chosen by
 * fota_delta_diff_models), resuming where the input ran out: 1 with *v, 0 waiting for
 * input, or an error. */
static int decode_byte(fota_delta_applier *a, const uint8_t **pp, size_t *np, uint8_t *v)
{
    int r;
    unsigned bit, t;
    if (!a->nonzero) {
        if ((r = rc_bit(a, pp, np, a->zero_i, &bit)) <= 0) return r;
        if (!bit) {
            a->nz_hist = a->nz_hist << 1 & 3;
            *v = 0;
            return 1;
        }
        a->nonzero = 1;
    }
    if ((r = decode_tree(a, pp, np, a->tree_i, 8, &t)) <= 0) return r;
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
            a->extra_left = a->map.extra[a->cmd_i];
            a->run_end = a->old_pos + a->diff_left;
            fota_delta_field_run(&a->rel, &a->par, a->old_pos, a->diff_left, a->new_pos + a->wlen);
            a->in_gap = 1;
            a->in_cmd = 1;
        }
        if (a->diff_left > 0 && a->h.version >= 4) {
            if (!a->cls) {
                if (a->cur == a->wlen && (rc = load_old(a)) != 0) return rc;
                int field = classify(a);
                fota_delta_diff_models(a->h.version == 5, &a->rel, &a->par, field, a->new_pos + a->cur, a->nz_hist,
                                       &a->zero_i, &a->tree_i);
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
            rc = decode_tree(a, pp, np, fota_delta_lit_probs(a->new_pos + a->wlen, before), 8, &v);
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

/* v5: the delta's bytes after the header, every value range-decoded. */
static int process5(fota_delta_applier *a, const uint8_t *p, size_t n)
{
    int rc;
    for (;;) {
        unsigned v;
        uint64_t x;
        switch (a->state) {
        case ST_BHDR:
            if ((rc = decode_tree(a, &p, &n, FOTA_DELTA_M5_NCMD, 7, &v)) <= 0) return rc;
            block_begin(a, v + 1);
            break;
        case ST_BCTRL:
            if ((rc = decode_number(a, &p, &n, a->ctrl_i, &x)) <= 0) return rc;
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

#ifndef FOTA_DELTA_V5_ONLY
/* ------------------------------------------------------------------ */
/* versions 2..4: the inflater (none with FOTA_DELTA_V5_ONLY)          */

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

/* The largest window whose inflater fits n bytes (0: none). */
static unsigned wbits_for(size_t n)
{
    unsigned w = FOTA_DELTA_MAX_WBITS;
    while (w >= FOTA_DELTA_MIN_WBITS && FOTA_DELTA_ZMEM_FOR(w) > n) w--;
    return w >= FOTA_DELTA_MIN_WBITS ? w : 0;
}

int fota_delta_apply_init_arena(fota_delta_applier *a, const fota_delta_io *io, void *zmem, size_t zmem_len)
{
    int rc = fota_delta_apply_init(a, io);
    if (rc) return rc;
    size_t skip = zmem ? (16 - (uintptr_t)zmem % 16) % 16 : 0;
    if (zmem && zmem_len > skip && zmem_len - skip > a->zarena_len) {
        a->zarena = (unsigned char *)zmem + skip;
        a->zarena_len = zmem_len - skip;
        unsigned w = wbits_for(a->zarena_len);
        if (w > a->max_wbits) a->max_wbits = w;
    }
    return 0;
}

/* Versions 2..4: the blocks come in one zlib stream. */
static int start_inflate(fota_delta_applier *a)
{
    a->z.zalloc = arena_alloc;
    a->z.zfree = arena_free;
    a->z.opaque = a;
    a->zmem_used = 0;
    /* zlib header only (RFC 1950); inflate refuses a stream whose header
     * declares a larger window than the delta's header. */
    if (inflateInit2(&a->z, (int)a->h.window_bits) != Z_OK) return FOTA_ERR_NOMEM;
    a->z_active = 1;
    fota_delta_probs_init(a->u.z3.model, sizeof a->u.z3.model);
    a->probs = a->u.z3.model;
    a->state = a->h.new_size ? ST_BHDR : ST_DONE;
    return 0;
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

/* Versions 2..4: inflates the delta's bytes after the header into process(). */
static int feed_inflate(fota_delta_applier *a, const uint8_t *d, size_t n)
{
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
#endif

/* Header complete: check it and the base before anything is written. */
static int start_apply(fota_delta_applier *a)
{
    int rc = fota_delta_parse_header(a->hdr, &a->h);
    if (rc) return rc;
    if (a->h.window_bits > a->max_wbits) return FOTA_DELTA_E_TOO_LARGE;
    if (a->h.old_size != a->io.old_size) return FOTA_DELTA_E_WRONG_BASE;
    a->par.flags = a->h.flags;
    /* the last of the header read: hdr shares its bytes with wbuf */
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

#ifndef FOTA_DELTA_V5_ONLY
    if (a->h.version < 5) return start_inflate(a);
#endif
    /* version 5: one range coder from here to the delta's end */
    probs5_init(a);
    rc_start(a, UINT32_MAX);   /* no bound: the delta's end ends it */
    a->state = a->h.new_size ? ST_BHDR : ST_END;
    return 0;
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
#ifndef FOTA_DELTA_V5_ONLY
    if (a->h.version < 5) return feed_inflate(a, d, n);
#endif
    int rc = process5(a, d, n);
    if (rc || a->state != ST_DONE) return rc;
    a->state = ST_END;
    return flush(a);
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
