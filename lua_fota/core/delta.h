/* Core delta engine: a diff generator (host side: fotapack, the server) and
 * a streaming patcher with a fixed, small RAM footprint (the device).
 * Format in docs/delta-format.md.
 *
 * No Lua, no printing, no global state. The applier never calls malloc: its
 * inflater draws from an arena inside the context, so RAM is
 * sizeof(fota_delta_applier) whatever the image size (sized at build time by
 * FOTA_DELTA_APPLY_WBITS, the largest deflate window it accepts). Every
 * control value read from a delta is bounds-checked before use.
 *
 * Functions return 0 or a negative code: FOTA_DELTA_E_* for verdicts on the
 * delta, fota_err values (fota_err.h) for caller mistakes and resources, or
 * whatever negative value a callback returned (passed through unchanged). */
#ifndef FOTA_DELTA_H
#define FOTA_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include <zlib.h>
#include <mbedtls/sha256.h>

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
#ifndef FOTA_DELTA_APPLY_WBITS
#define FOTA_DELTA_APPLY_WBITS 10         /* the applier's window: the device default (bench/delta) */
#endif
#ifndef FOTA_DELTA_GEN_WBITS
#define FOTA_DELTA_GEN_WBITS FOTA_DELTA_APPLY_WBITS   /* the generator's default window */
#endif
#define FOTA_DELTA_CHUNK 1024             /* largest read_old / write_new call */
#define FOTA_DELTA_INFLATE_OUT 512        /* inflated bytes handled per inflate() call */
#define FOTA_DELTA_BLOCK_CMDS 128         /* most commands in one block */
#define FOTA_DELTA_BLOCK_BUF 4096         /* most extra bytes in one block */
#define FOTA_DELTA_PRED_SIZE 256          /* predictor entries */
#define FOTA_DELTA_REL_SIZE 256           /* field predictor entries */
#define FOTA_DELTA_REL_SHIFT 12           /* rel32 predictor: targets grouped by 4 KiB */
#define FOTA_DELTA_MIN_SHIFT 8            /* ARM predictor: regions of 2^shift bytes */
#define FOTA_DELTA_MAX_SHIFT 16
#define FOTA_DELTA_DEFAULT_SHIFT 12

/* The field predictors' state (docs/delta-format.md): x86 rel32 fields, or
 * ARM branches and pointer words; shared by the generator and the applier. */
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

/* v4: the adaptive binary models of the diff bytes (docs/delta-format.md),
 * 12-bit probabilities of a 0 bit; they live for the whole delta. */
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

/* Inflater arena for a window of 2^w bytes: zlib's state (about 7 KiB) plus
 * the window, with slack for other zlib builds. The applier's own arena is
 * sized for FOTA_DELTA_APPLY_WBITS; a host may lend it a larger one
 * (fota_delta_apply_init_arena). */
#define FOTA_DELTA_ZMEM_FOR(w) ((1u << (w)) + 7424u)
#define FOTA_DELTA_ZMEM FOTA_DELTA_ZMEM_FOR(FOTA_DELTA_APPLY_WBITS)

/* Verdicts on a delta. */
enum fota_delta_err {
    FOTA_DELTA_E_FORMAT = -300,      /* bad magic/version/header, malformed or corrupt stream */
    FOTA_DELTA_E_WRONG_BASE = -301,  /* old image size or SHA-256 is not the delta's base */
    FOTA_DELTA_E_TRUNCATED = -302,   /* finish() before the delta was complete */
    FOTA_DELTA_E_RANGE = -303,       /* a control value points outside old or new */
    FOTA_DELTA_E_HASH = -304,        /* the result's SHA-256 differs from the header's */
    FOTA_DELTA_E_TOO_LARGE = -305    /* header size above FOTA_DELTA_MAX_IMAGE, or a window
                                        above the applier's (FOTA_DELTA_APPLY_WBITS, or
                                        what a lent arena holds) */
};

/* "format", "wrong_base", ... for FOTA_DELTA_E_*; NULL for anything else. */
const char *fota_delta_errname(int code);

/* The header's first 80 bytes, readable on their own (e.g. to check a
 * package). Versions 2 and 3 are read; any other is FOTA_DELTA_E_FORMAT. */
typedef struct fota_delta_header {
    uint32_t flags;                   /* FOTA_DELTA_F_* */
    uint32_t old_size, new_size;
    uint8_t old_sha256[32], new_sha256[32];
    unsigned version, window_bits, region_shift;
    unsigned header_len;              /* FOTA_DELTA_HEADER_LEN, or _V3_LEN with FOTA_DELTA_F_WORDS */
} fota_delta_header;

/* Parses and bounds-checks a header's first FOTA_DELTA_HEADER_LEN bytes. 0,
 * FOTA_DELTA_E_FORMAT or _TOO_LARGE (a size, not the window). */
int fota_delta_parse_header(const uint8_t p[FOTA_DELTA_HEADER_LEN], fota_delta_header *h);

/* ---- applier (push interface) ----
 * The caller feeds the delta in chunks of any size as it reads them;
 * the applier reads the old image by offset and writes the new image
 * strictly sequentially through the callbacks:
 *   read_old(ud, off, buf, len): fill buf with old[off, off+len), always
 *     within old_size; return 0 or a negative error;
 *   write_new(ud, buf, len): append len bytes; 0 or a negative error.
 * Once the header (80 bytes; 84 with pointer words) has arrived the whole old image is hashed and
 * compared with the header (FOTA_DELTA_E_WRONG_BASE), so write_new is never
 * called for a wrong base. The first error sticks: later calls return it. */
typedef struct fota_delta_io {
    int (*read_old)(void *ud, uint64_t off, void *buf, size_t len);
    void *old_ud;
    uint64_t old_size;
    int (*write_new)(void *ud, const void *buf, size_t len);   /* may be NULL: hash only */
    void *new_ud;
    size_t max_chunk;   /* largest callback length; 0 or above FOTA_DELTA_CHUNK = FOTA_DELTA_CHUNK */
} fota_delta_io;

typedef struct fota_delta_applier {
    fota_delta_io io;
    int state, err;
    uint8_t hdr[FOTA_DELTA_HEADER_V3_LEN];
    size_t hdr_len;
    fota_delta_header h;
    fota_delta_params par;            /* the field predictors' view of the header */
    uint64_t old_pos;                 /* next old byte to load */
    uint64_t cmd_end;                 /* new bytes covered by the commands read so far */
    uint64_t sim_old;                 /* old position after the commands read so far */
    uint64_t new_pos;                 /* new bytes written (hashed) */
    uint64_t var;                     /* varint being read */
    unsigned var_shift, var_bytes, ctrl_i;
    uint64_t ctrl[3];                 /* seek (zigzag), diff length, extra length */
    /* the current block */
    unsigned ncmd, cmd_i;             /* commands in the block; read / executing */
    fota_delta_map map;               /* checked old start, diff length, new start of each command */
    uint32_t cmd_extra[FOTA_DELTA_BLOCK_CMDS];
    uint32_t extra_len, buf_len;      /* the block's extra bytes; bytes read into buf so far */
    uint32_t xoff;                    /* next extra byte in buf */
    uint32_t diff_left, old_left, extra_left;
    int in_cmd, in_gap;               /* executing a command; diff run: next is a gap */
    /* v4, v5: the range decoder and the byte being decoded */
    uint32_t rc_range, rc_code, rc_left;   /* rc_left: v4's section's bytes not read yet (v5: no bound) */
    unsigned rc_init;                 /* bytes of the coder's 5-byte start read */
    unsigned node;                    /* a tree's node (0: not started) */
    unsigned nbits, bits_left;        /* v5: a control value's bit count (0: not known yet) and bits to go */
    uint16_t *zero_p, *tree_p;        /* a diff byte's models: whether it is 0; its bits */
    unsigned nz_hist;                 /* bit 0: the diff byte before was non-zero; bit 1: the one before */
    int nonzero;                      /* the byte's zero flag said non-zero: its bits next */
    int cls;                          /* 0: not classified yet; 1: classified, not a field; 2: a field */
    uint8_t look[3];                  /* old bytes at old_pos .. old_pos + 2 (0 past the end) */
    uint8_t prev[2];                  /* the two new bytes before wbuf (0 before the image) */
    uint64_t run_end;                 /* old position where the current diff run ends */
    struct { uint16_t tag; uint8_t val, st; } pred[FOTA_DELTA_PRED_SIZE];
    fota_delta_rel rel;
    size_t cur, wlen;                 /* wbuf: [0,cur) final, [cur,wlen) old bytes to patch */
    z_stream z;
    int z_active;
    unsigned max_wbits;               /* the largest window accepted */
    unsigned char *zarena;            /* the inflater's arena: zmem.b, or one lent at init */
    size_t zarena_len, zmem_used;
    union {
        struct {   /* versions 2..4 */
            fota_delta_model model;   /* v4 */
            union { uint64_t align; unsigned char b[FOTA_DELTA_ZMEM]; } zmem;
            uint8_t out[FOTA_DELTA_INFLATE_OUT];   /* inflated bytes */
            uint8_t buf[FOTA_DELTA_BLOCK_BUF];     /* the block's extra bytes */
        } z3;
        fota_delta_model5 m5;         /* version 5: no inflater, extra bytes decoded in place */
    } u;
    uint8_t wbuf[FOTA_DELTA_CHUNK];   /* new bytes on their way out */
    mbedtls_sha256_context sha;
} fota_delta_applier;

/* No allocation at all: everything lives in *a. Windows up to
 * FOTA_DELTA_APPLY_WBITS. */
int fota_delta_apply_init(fota_delta_applier *a, const fota_delta_io *io);
/* The same with the inflater in zmem[0, zmem_len) (the caller's, untouched
 * after fota_delta_apply_free, at any alignment) when that is larger than the
 * applier's own arena: windows up to the largest w <= FOTA_DELTA_MAX_WBITS
 * whose FOTA_DELTA_ZMEM_FOR(w) fits (once aligned to 16 bytes), so a host
 * built with the device's small applier still applies every delta.
 * zmem NULL or no larger: as fota_delta_apply_init. */
int fota_delta_apply_init_arena(fota_delta_applier *a, const fota_delta_io *io, void *zmem, size_t zmem_len);
/* Feeds n more delta bytes. Bytes after the end of the delta are an error. */
int fota_delta_apply_feed(fota_delta_applier *a, const uint8_t *delta, size_t n);
/* 0 when the delta was complete and the result matches the header's size and
 * SHA-256; then *new_size and sha256 (both may be NULL) describe it.
 * A delta cut short is FOTA_DELTA_E_TRUNCATED. */
int fota_delta_apply_finish(fota_delta_applier *a, uint64_t *new_size, uint8_t sha256[32]);
void fota_delta_apply_free(fota_delta_applier *a);

/* ---- generator (host side; needs libdivsufsort) ----
 * Builds a delta turning old into new: suffix-array matching with
 * approximate extension (bsdiff-class), one zlib stream of blocks. *out is
 * malloc()ed, free() it. Sizes above FOTA_DELTA_MAX_IMAGE: FOTA_ERR_RANGE.
 * Memory: about 5 x old + new + the delta (and a bit per byte of each for
 * the scan's Thumb-2 branch masks). Built unless
 * FOTA_DELTA_NO_GENERATOR is defined (a device needs only the applier).
 * opt may be NULL (all defaults). */
typedef struct fota_delta_options {
    unsigned window_bits;             /* 0: FOTA_DELTA_GEN_WBITS; else 9..15 */
    int has_base;                     /* base_address given; else found from the image */
    uint32_t base_address;            /* the address old's byte 0 is loaded at */
    int quick_rank;                   /* rank the candidates by a quick compression and try two scan
                                         thresholds, as for a new image above 1 MiB, whatever its size
                                         (tests: much faster, a little larger); 0: the default, every
                                         candidate of an image up to 1 MiB ranked by its real size */
    unsigned version;                 /* 0: the smallest of versions 3..5; else that one (3, 4: for appliers
                                         built before version 5) */
} fota_delta_options;

int fota_delta_create(const uint8_t *old_img, size_t old_len, const uint8_t *new_img,
                      size_t new_len, const fota_delta_options *opt, uint8_t **out, size_t *out_len);
/* The same on files through port.h; out_path is removed again on failure. */
int fota_delta_create_file(const char *old_path, const char *new_path, const char *out_path,
                           const fota_delta_options *opt, uint64_t *out_len);
/* Applies a delta file to an old file, writing new_path through port.h
 * (removed again on failure). Deltas with windows above window_bits are
 * refused (FOTA_DELTA_E_TOO_LARGE); 0 is FOTA_DELTA_APPLY_WBITS, else
 * FOTA_DELTA_MIN_WBITS..FOTA_DELTA_MAX_WBITS (above FOTA_DELTA_APPLY_WBITS
 * an arena for it is malloc()ed: the host side, e.g. fotapack patch, takes
 * every window). sha256 may be NULL. */
int fota_delta_apply_file(const char *old_path, const char *delta_path, const char *new_path,
                          unsigned window_bits, uint64_t *new_size, uint8_t sha256[32]);

#endif
