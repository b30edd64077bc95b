/* The delta model (docs/delta-format.md): what the generator (host/delta_gen.c)
 * and the applier (core/delta.c) must compute identically, written once for
 * both: the format's constants, the byte predictor, the field predictors
 * (x86 rel32, ARM branches and pointer words) and the range coder's adaptive
 * models and the contexts that pick them. Any change here changes every
 * delta. What runs per byte or per bit is static inline (both sides' inner
 * loops); no Lua, no I/O, no allocation, no global state. */
#ifndef FOTA_DELTA_MODEL_H
#define FOTA_DELTA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#define FOTA_DELTA_MAGIC "LFDL"
#define FOTA_DELTA_VERSION 5             /* the newest written: the whole stream range-coded, no zlib */
#define FOTA_DELTA_HEADER_LEN 80          /* magic ... SHA-256s: the part every version shares */
#define FOTA_DELTA_HEADER_V3_LEN 84       /* v3 with pointer words adds the base address */
#define FOTA_DELTA_F_PREDICT 0x01         /* header flag: diff bytes are residuals of the predictor */
#define FOTA_DELTA_F_REL32 0x02           /* header flag: x86 rel32 fields are predicted by target */
#define FOTA_DELTA_F_THUMB 0x04           /* v3 flag: Thumb-2 BL / B.W targets predicted by region */
#define FOTA_DELTA_F_A32 0x08             /* v3 flag: A32 BL targets predicted by region */
#define FOTA_DELTA_F_WORDS 0x10           /* v3 flag: aligned words pointing into the image, too */
#define FOTA_DELTA_F_RELWORDS 0x20          /* v3 flag: aligned words pointing at word + offset */
#define FOTA_DELTA_F_RUNS 0x40            /* v3 flag: ARM targets also predicted by the diff runs' moves */
#define FOTA_DELTA_F_SHORT 0x80           /* v3 flag: Thumb-2 short branches and literal loads, too */
#define FOTA_DELTA_F_ARM                                                                               \
    (FOTA_DELTA_F_THUMB | FOTA_DELTA_F_A32 | FOTA_DELTA_F_WORDS | FOTA_DELTA_F_RELWORDS | FOTA_DELTA_F_RUNS | \
     FOTA_DELTA_F_SHORT)
#define FOTA_DELTA_MAX_IMAGE (16u * 1024 * 1024) /* old and new image bound (= FOTA_PKG_MAX_IMAGE) */
#define FOTA_DELTA_MIN_WBITS 9            /* deflate window bits a v3 delta may declare */
#define FOTA_DELTA_MAX_WBITS 15
#define FOTA_DELTA_BLOCK_CMDS 128         /* most commands in one block */
#define FOTA_DELTA_BLOCK_BUF 4096         /* most extra bytes in one block */
#define FOTA_DELTA_PRED_SIZE 256          /* predictor entries */
#define FOTA_DELTA_REL_SIZE 256           /* field predictor entries */
#define FOTA_DELTA_REL_SHIFT 12           /* rel32 predictor: targets grouped by 4 KiB */
#define FOTA_DELTA_MIN_SHIFT 8            /* ARM predictor: regions of 2^shift bytes */
#define FOTA_DELTA_MAX_SHIFT 16
#define FOTA_DELTA_DEFAULT_SHIFT 12

/* ---- the byte predictor (FOTA_DELTA_F_PREDICT), outside the fields ----
 * Context: the two old bytes after the one being made (c1, c2; 0 past old's
 * end). A hit on a confirmed entry predicts its value (residual +
 * prediction = the byte's difference); the difference then updates the
 * entry: seen again it is confirmed, another one replaces it, and a miss
 * with a non-zero difference takes the entry over. */
typedef struct fota_delta_pred {
    struct { uint16_t tag; uint8_t val, st; } e[FOTA_DELTA_PRED_SIZE];
} fota_delta_pred;

static inline unsigned fota_delta_pred_slot(unsigned c)
{
    return ((c * 40503u) & 0xffffu) >> 8;
}

/* The difference predicted for the byte whose context is c1 c2. */
static inline uint8_t fota_delta_pred_guess(const fota_delta_pred *t, uint8_t c1, uint8_t c2)
{
    unsigned c = (unsigned)c1 << 8 | c2, h = fota_delta_pred_slot(c);
    int hit = (t->e[h].st & 1) && t->e[h].tag == c;
    return hit && (t->e[h].st & 2) ? t->e[h].val : 0;
}

/* That byte's difference turned out to be d. */
static inline void fota_delta_pred_learn(fota_delta_pred *t, uint8_t c1, uint8_t c2, uint8_t d)
{
    unsigned c = (unsigned)c1 << 8 | c2, h = fota_delta_pred_slot(c);
    if ((t->e[h].st & 1) && t->e[h].tag == c) {
        if (d == t->e[h].val) t->e[h].st = 3;
        else { t->e[h].val = d; t->e[h].st = 1; }
    } else if (d) {
        t->e[h].tag = (uint16_t)c;
        t->e[h].val = d;
        t->e[h].st = 1;
    }
}

/* ---- the field predictors ----
 * Their state (docs/delta-format.md): x86 rel32 fields, or ARM branches
 * and pointer words. */
typedef struct fota_delta_rel {
    struct { uint32_t val; uint16_t tag; uint8_t st, pad; } e[FOTA_DELTA_REL_SIZE];
    struct { uint32_t tag, val; } x[FOTA_DELTA_REL_SIZE];   /* ARM: by exact target; tag target + 1 */
    uint32_t old32;                   /* the field's old value */
    uint32_t target;                  /* ARM: the field's old target (image offset) */
    uint32_t last;                    /* ARM: the last displacement seen */
    uint64_t npos;                    /* ARM: the field's new position */
    uint8_t pend[4];                  /* predicted differences of the field's bytes */
    uint8_t newb[4];                  /* the field's bytes made so far */
    unsigned n, slot, hit, kind;      /* bytes of the field made (0: not in one); its entry; ARM kind */
    unsigned len;                     /* the field's length: 4, or 2 (flag bit 7's 16-bit kinds) */
    unsigned xslot;                   /* ARM: its exact-target entry */
    uint16_t tag_pending;             /* the entry's key */
} fota_delta_rel;

/* The current block's commands, known before any of its bytes is made:
 * each one's old start, diff length and new start. */
typedef struct fota_delta_map {
    unsigned n;
    uint32_t old[FOTA_DELTA_BLOCK_CMDS], len[FOTA_DELTA_BLOCK_CMDS], nw[FOTA_DELTA_BLOCK_CMDS];
} fota_delta_map;

/* What the field predictors need from the header and the block. */
typedef struct fota_delta_params {
    uint32_t flags, base, shift;      /* FOTA_DELTA_F_*; load address; region bits */
    uint64_t old_size, new_size;
    const fota_delta_map *map;
} fota_delta_params;

/* Before the byte at old position k (new position np) is made: 1 when it
 * belongs to a predicted field, whose predicted difference is then
 * m->pend[m->n]. A field starts only with at least 4 bytes of the diff run
 * left (run_left, this byte included); o: old[k..k+3], h1, h2: the two new
 * bytes before np (0 before the image). */
int fota_delta_field_begin(fota_delta_rel *m, const fota_delta_params *p, const uint8_t o[4], uint8_t h1,
                           uint8_t h2, uint64_t k, uint64_t np, uint64_t run_left);
/* After a field byte was made as new byte b: at the field's end its change
 * updates the entry. */
void fota_delta_field_made(fota_delta_rel *m, const fota_delta_params *p, uint8_t b);
/* ARM, flag bit 6: a diff run about to make new bytes from old [a, a +
 * len) at new position b. */
void fota_delta_field_run(fota_delta_rel *m, const fota_delta_params *p, uint64_t a, uint64_t len, uint64_t b);

/* ---- the range coder's models (v4: the diff bytes; v5: everything) ----
 * A binary range coder (LZMA's) over adaptive 12-bit probabilities of a 0
 * bit that move 1/16 of the way per bit; they live for the whole delta. */
#define FOTA_DELTA_RC_BITS 12
#define FOTA_DELTA_RC_MOVE 4
#define FOTA_DELTA_RC_TOP (1u << 24)
#define FOTA_DELTA_RC_START 5   /* bytes of a coder's start (the first one is always 0) */

/* v4: the diff bytes' models. */
#define FOTA_DELTA_CTX_KINDS 14           /* not a field, the ARM kinds 1..12, an x86 rel32 field */
typedef struct fota_delta_model {
    uint16_t zero[FOTA_DELTA_CTX_KINDS][4][2];   /* [kind][byte in field][byte before non-zero]: byte is 0 */
    uint16_t val[4][256];             /* [byte in field]: a non-zero residual's bits, as a binary tree */
} fota_delta_model;

/* v5: a control value's models: its bit count, then its bits below the top one */
typedef struct fota_delta_num_model {
    uint16_t nbits[64];               /* the bit count 0..32, as a 6-bit tree */
    uint16_t top[33][4];              /* [bit count]: the two bits below the top one, as a tree */
    uint16_t low[32];                 /* [bit position]: the others */
} fota_delta_num_model;

/* v5: its models (v4's diff byte contexts, with the new position's parity
 * outside a field and the two diff bytes before) */
typedef struct fota_delta_model5 {
    uint16_t ncmd[128];               /* a block's command count - 1, as a 7-bit tree */
    fota_delta_num_model num[3];      /* seek (zigzag), diff length, extra length */
    uint16_t zero[FOTA_DELTA_CTX_KINDS][4][4];   /* [kind][byte in field; parity outside one]
                                                    [the two diff bytes before non-zero]: byte is 0 */
    uint16_t val[6][256];             /* [byte in field; 4 + parity outside one]: a non-zero residual */
    uint16_t lit[2][8][256];          /* [new position odd][byte before >> 5]: a literal byte, as a tree */
} fota_delta_model5;

/* Every model starts at 1/2 (the model structs are all uint16_t). */
static inline void fota_delta_probs_init(uint16_t *p, size_t bytes)
{
    for (size_t i = 0; i < bytes / sizeof *p; i++) p[i] = 1u << (FOTA_DELTA_RC_BITS - 1);
}

static inline void fota_delta_prob_update(uint16_t *p, int bit)
{
    if (bit) *p = (uint16_t)(*p - (*p >> FOTA_DELTA_RC_MOVE));
    else *p = (uint16_t)(*p + (((1u << FOTA_DELTA_RC_BITS) - *p) >> FOTA_DELTA_RC_MOVE));
}

/* A diff byte's models, whether it is zero and its bits (field: what
 * fota_delta_field_begin said, before fota_delta_field_made moves on; npos:
 * its new position; hist: bit 0 the diff byte before was non-zero, bit 1 the
 * one before that). v4 (m5 NULL): by the kind of field it belongs to (0:
 * none; x86 rel32 fields: the last), its byte in that field, and whether the
 * diff byte before was non-zero. v5 also by the one before that and, outside
 * a field, by npos's parity (a Thumb-2 halfword's low and high bytes differ). */
static inline void fota_delta_diff_models(fota_delta_model *m4, fota_delta_model5 *m5, const fota_delta_rel *m,
                                          const fota_delta_params *p, int field, uint64_t npos, unsigned hist,
                                          uint16_t **zero, uint16_t **tree)
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
static inline uint16_t *fota_delta_num_prob(fota_delta_num_model *m, unsigned nb, unsigned j, uint64_t above)
{
    unsigned done = nb - 2 - j;   /* bits below the top one before this one */
    return done < 2 ? &m->top[nb][(above & ((1u << done) - 1)) | 1u << done] : &m->low[j];
}

/* v5: the tree of a literal byte at new position npos after the new byte
 * `before`. */
static inline uint16_t *fota_delta_lit_probs(fota_delta_model5 *m, uint64_t npos, uint8_t before)
{
    return m->lit[npos & 1][before >> 5];
}

#endif
