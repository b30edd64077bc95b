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
 * with a non-zero difference takes the entry over.
 * Stored in 17 bits an entry: its tag is the low byte of c x 40503 (mod
 * 2^16), whose high byte is the entry's slot, so the pair is c exactly
 * (40503 is odd: the product is a bijection of 16-bit values); and an entry
 * of value 0 predicts and learns as an empty one does (it predicts 0, and
 * whatever the difference, ends of value 0 or taken over by it), so every
 * entry counts as in use from the start (tag 0, value 0) and only the
 * confirmed bit is kept. */
typedef struct fota_delta_pred {
    uint8_t tag[FOTA_DELTA_PRED_SIZE], val[FOTA_DELTA_PRED_SIZE];
    uint8_t confirmed[FOTA_DELTA_PRED_SIZE / 8];   /* bit h % 8 of byte h / 8: entry h */
} fota_delta_pred;

static inline unsigned fota_delta_pred_hash(unsigned c)
{
    return (c * 40503u) & 0xffffu;
}

/* The difference predicted for the byte whose context is c1 c2. */
static inline uint8_t fota_delta_pred_guess(const fota_delta_pred *t, uint8_t c1, uint8_t c2)
{
    unsigned x = fota_delta_pred_hash((unsigned)c1 << 8 | c2), h = x >> 8;
    int hit = t->tag[h] == (x & 0xff);
    return hit && (t->confirmed[h >> 3] >> (h & 7) & 1) ? t->val[h] : 0;
}

/* That byte's difference turned out to be d. */
static inline void fota_delta_pred_learn(fota_delta_pred *t, uint8_t c1, uint8_t c2, uint8_t d)
{
    unsigned x = fota_delta_pred_hash((unsigned)c1 << 8 | c2), h = x >> 8;
    uint8_t bit = (uint8_t)(1u << (h & 7));
    if (t->tag[h] == (x & 0xff)) {
        if (d == t->val[h]) {
            t->confirmed[h >> 3] |= bit;
        } else {
            t->val[h] = d;
            t->confirmed[h >> 3] &= (uint8_t)~bit;
        }
    } else if (d) {
        t->tag[h] = (uint8_t)x;
        t->val[h] = d;
        t->confirmed[h >> 3] &= (uint8_t)~bit;
    }
}

/* ---- the field predictors ----
 * Their state (docs/delta-format.md): x86 rel32 fields, or ARM branches
 * and pointer words. */
typedef struct fota_delta_rel {
    /* by the target's page or region: three arrays rather than one of
     * padded entries, the state 2 bits (bit 0 in use, bit 1 confirmed) */
    uint32_t e_val[FOTA_DELTA_REL_SIZE];
    uint16_t e_tag[FOTA_DELTA_REL_SIZE];
    uint8_t e_st[FOTA_DELTA_REL_SIZE / 4];
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
 * each one's old start, diff length and extra length; the new image's
 * commands are consecutive, so each one's new start follows from the
 * first one's. */
typedef struct fota_delta_map {
    unsigned n;
    uint32_t nw0;                     /* the first command's new start */
    uint32_t old[FOTA_DELTA_BLOCK_CMDS], len[FOTA_DELTA_BLOCK_CMDS];
    uint16_t extra[FOTA_DELTA_BLOCK_CMDS];   /* each at most FOTA_DELTA_BLOCK_BUF */
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

/* The structs above lay a version's models out as one array of
 * probabilities; a model is named by its index there (FOTA_DELTA_AT), so a
 * side may store the array as it likes: the generator and the host's
 * applier as the structs (uint16_t), a version-5-only applier packed
 * (12 bits each, delta.h). */
#define FOTA_DELTA_AT(type, member) ((unsigned)(offsetof(type, member) / sizeof(uint16_t)))
#define FOTA_DELTA_M5_PROBS ((unsigned)(sizeof(fota_delta_model5) / sizeof(uint16_t)))

/* Every model starts at 1/2 (the model structs are all uint16_t). */
static inline void fota_delta_probs_init(uint16_t *p, size_t bytes)
{
    for (size_t i = 0; i < bytes / sizeof *p; i++) p[i] = 1u << (FOTA_DELTA_RC_BITS - 1);
}

/* A probability after a bit it modelled: it stays within [15, 4081], so
 * 12 bits hold it. */
static inline unsigned fota_delta_prob_next(unsigned p, int bit)
{
    return bit ? p - (p >> FOTA_DELTA_RC_MOVE) : p + (((1u << FOTA_DELTA_RC_BITS) - p) >> FOTA_DELTA_RC_MOVE);
}

static inline void fota_delta_prob_update(uint16_t *p, int bit)
{
    *p = (uint16_t)fota_delta_prob_next(*p, bit);
}

/* A diff byte's models (indices in fota_delta_model, or with v5 in
 * fota_delta_model5), whether it is zero and its bits' tree (field: what
 * fota_delta_field_begin said, before fota_delta_field_made moves on; npos:
 * its new position; hist: bit 0 the diff byte before was non-zero, bit 1 the
 * one before that). v4: by the kind of field it belongs to (0: none; x86
 * rel32 fields: the last), its byte in that field, and whether the diff
 * byte before was non-zero. v5 also by the one before that and, outside a
 * field, by npos's parity (a Thumb-2 halfword's low and high bytes differ). */
static inline void fota_delta_diff_models(int v5, const fota_delta_rel *m, const fota_delta_params *p, int field,
                                          uint64_t npos, unsigned hist, unsigned *zero, unsigned *tree)
{
    unsigned kind = !field ? 0 : (p->flags & FOTA_DELTA_F_REL32) ? FOTA_DELTA_CTX_KINDS - 1 : m->kind;
    unsigned idx = field ? m->n : 0;
    if (v5) {
        if (!field) idx = (unsigned)(npos & 1);
        *zero = FOTA_DELTA_AT(fota_delta_model5, zero) + (kind * 4 + idx) * 4 + (hist & 3);
        *tree = FOTA_DELTA_AT(fota_delta_model5, val) + (field ? idx : 4 + idx) * 256;
    } else {
        *zero = FOTA_DELTA_AT(fota_delta_model, zero) + (kind * 4 + idx) * 2 + (hist & 1);
        *tree = FOTA_DELTA_AT(fota_delta_model, val) + idx * 256;
    }
}

/* v5: the tree of a block's command count. */
#define FOTA_DELTA_M5_NCMD FOTA_DELTA_AT(fota_delta_model5, ncmd)

/* v5: control value i's models (0 seek, 1 diff length, 2 extra length):
 * the tree of its bit count, and the model of its bit j when it has nb
 * bits (above: its bits above j, the top one included): the two below the
 * top one by the tree top[nb], the others by their position. */
static inline unsigned fota_delta_num_nbits(unsigned i)
{
    return FOTA_DELTA_AT(fota_delta_model5, num) + i * (unsigned)(sizeof(fota_delta_num_model) / sizeof(uint16_t)) +
           FOTA_DELTA_AT(fota_delta_num_model, nbits);
}

static inline unsigned fota_delta_num_prob(unsigned i, unsigned nb, unsigned j, uint64_t above)
{
    unsigned base = FOTA_DELTA_AT(fota_delta_model5, num) + i * (unsigned)(sizeof(fota_delta_num_model) / sizeof(uint16_t));
    unsigned done = nb - 2 - j;   /* bits below the top one before this one */
    return done < 2 ? base + FOTA_DELTA_AT(fota_delta_num_model, top) + nb * 4 +
                          ((unsigned)(above & ((1u << done) - 1)) | 1u << done)
                    : base + FOTA_DELTA_AT(fota_delta_num_model, low) + j;
}

/* v5: the tree of a literal byte at new position npos after the new byte
 * `before`. */
static inline unsigned fota_delta_lit_probs(uint64_t npos, uint8_t before)
{
    return FOTA_DELTA_AT(fota_delta_model5, lit) + ((unsigned)(npos & 1) * 8 + (before >> 5)) * 256;
}

#endif
