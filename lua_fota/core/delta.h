/* The delta applier (the device side of docs/delta-format.md): a streaming
 * patcher with a fixed, small RAM footprint. The model it shares with the
 * generator (host/delta_gen.h) is delta_model.h.
 *
 * No Lua, no printing, no global state, no malloc: RAM is
 * sizeof(fota_delta_applier) whatever the image size. Versions 2..4 carry
 * the diff in a zlib stream, whose inflater draws from an arena inside the
 * context, sized at build time by FOTA_DELTA_APPLY_WBITS (the largest
 * deflate window accepted). Built with FOTA_DELTA_V5_ONLY (a module that is
 * only ever sent version 5 deltas) there is no inflater and no zlib: a
 * version 2..4 delta is then FOTA_DELTA_E_TOO_LARGE, its window being above
 * the applier's none. Every control value read from a delta is
 * bounds-checked before use.
 *
 * Functions return 0 or a negative code: FOTA_DELTA_E_* for verdicts on the
 * delta, fota_err values (fota_err.h) for caller mistakes and resources, or
 * whatever negative value a callback returned (passed through unchanged). */
#ifndef FOTA_DELTA_H
#define FOTA_DELTA_H

#include <stddef.h>
#include <stdint.h>
#include <mbedtls/sha256.h>

#include "core/delta_model.h"

/* The largest read_old / write_new call, and the applier's output buffer.
 * A version-5-only (device) applier keeps 256 bytes: 768 B less state for
 * four times the callbacks; the bytes made are the same. */
#ifdef FOTA_DELTA_V5_ONLY
#define FOTA_DELTA_CHUNK 256
#else
#define FOTA_DELTA_CHUNK 1024
#endif
#ifndef FOTA_DELTA_V5_ONLY
#include <zlib.h>

#ifndef FOTA_DELTA_APPLY_WBITS
#define FOTA_DELTA_APPLY_WBITS 10         /* the applier's window: the device default (bench/delta) */
#endif
#define FOTA_DELTA_INFLATE_OUT 512        /* inflated bytes handled per inflate() call */

/* Inflater arena for a window of 2^w bytes: zlib's state (about 7 KiB) plus
 * the window, with slack for other zlib builds. The applier's own arena is
 * sized for FOTA_DELTA_APPLY_WBITS; a host may lend it a larger one
 * (fota_delta_apply_init_arena). */
#define FOTA_DELTA_ZMEM_FOR(w) ((1u << (w)) + 7424u)
#define FOTA_DELTA_ZMEM FOTA_DELTA_ZMEM_FOR(FOTA_DELTA_APPLY_WBITS)
#endif   /* FOTA_DELTA_V5_ONLY */

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

/* Version 5's models (delta_model.h: FOTA_DELTA_M5_PROBS probabilities of
 * 12 bits). A version-5-only applier packs two in 3 bytes (10,002 B rather
 * than 13,336 B); the values, and so the bytes made, are the same. */
#ifdef FOTA_DELTA_V5_ONLY
typedef struct { uint8_t b[FOTA_DELTA_M5_PROBS / 2 * 3]; } fota_delta_probs5;
#else
typedef struct { uint16_t p[FOTA_DELTA_M5_PROBS]; } fota_delta_probs5;
#endif

typedef struct fota_delta_applier {
    fota_delta_io io;
    int state, err;
    size_t hdr_len;                   /* bytes of the header in hdr so far */
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
    fota_delta_map map;               /* checked old start, diff and extra length of each command */
    uint32_t extra_len, buf_len;      /* the block's extra bytes; bytes read into buf so far */
    uint32_t xoff;                    /* next extra byte in buf */
    uint32_t diff_left, old_left, extra_left;
    int in_cmd, in_gap;               /* executing a command; diff run: next is a gap */
    /* v4, v5: the range decoder and the byte being decoded */
    uint32_t rc_range, rc_code, rc_left;   /* rc_left: v4's section's bytes not read yet (v5: no bound) */
    unsigned rc_init;                 /* bytes of the coder's 5-byte start read */
    unsigned node;                    /* a tree's node (0: not started) */
    unsigned nbits, bits_left;        /* v5: a control value's bit count (0: not known yet) and bits to go */
    unsigned zero_i, tree_i;          /* a diff byte's models (indices): whether it is 0; its bits */
    unsigned nz_hist;                 /* bit 0: the diff byte before was non-zero; bit 1: the one before */
    int nonzero;                      /* the byte's zero flag said non-zero: its bits next */
    int cls;                          /* 0: not classified yet; 1: classified, not a field; 2: a field */
    uint8_t look[3];                  /* old bytes at old_pos .. old_pos + 2 (0 past the end) */
    uint8_t prev[2];                  /* the two new bytes before wbuf (0 before the image) */
    uint64_t run_end;                 /* old position where the current diff run ends */
    fota_delta_pred pred;
    fota_delta_rel rel;
    size_t cur, wlen;                 /* wbuf: [0,cur) final, [cur,wlen) old bytes to patch */
#ifndef FOTA_DELTA_V5_ONLY
    z_stream z;
    int z_active;
#endif
    unsigned max_wbits;               /* the largest window accepted (V5_ONLY: 0, none) */
#ifndef FOTA_DELTA_V5_ONLY
    unsigned char *zarena;            /* the inflater's arena: zmem.b, or one lent at init */
    size_t zarena_len, zmem_used;
#endif
#ifndef FOTA_DELTA_V5_ONLY
    uint16_t *probs;                  /* the version's models: u.m5.p, or v4's u.z3.model */
#endif
    union {
        struct {   /* versions 2..4 */
            uint16_t model[sizeof(fota_delta_model) / sizeof(uint16_t)];   /* v4 */
#ifndef FOTA_DELTA_V5_ONLY
            union { uint64_t align; unsigned char b[FOTA_DELTA_ZMEM]; } zmem;
            uint8_t out[FOTA_DELTA_INFLATE_OUT];   /* inflated bytes */
#endif
            uint8_t buf[FOTA_DELTA_BLOCK_BUF];     /* the block's extra bytes */
        } z3;
        fota_delta_probs5 m5;         /* version 5: no inflater, extra bytes decoded in place */
    } u;
    union {   /* the header until it is parsed; then new bytes on their way out */
        uint8_t hdr[FOTA_DELTA_HEADER_V3_LEN];
        uint8_t wbuf[FOTA_DELTA_CHUNK];
    };
    mbedtls_sha256_context sha;
} fota_delta_applier;

/* No allocation at all: everything lives in *a. Windows up to
 * FOTA_DELTA_APPLY_WBITS (V5_ONLY: none). */
int fota_delta_apply_init(fota_delta_applier *a, const fota_delta_io *io);
#ifndef FOTA_DELTA_V5_ONLY
/* The same with the inflater in zmem[0, zmem_len) (the caller's, untouched
 * after fota_delta_apply_free, at any alignment) when that is larger than the
 * applier's own arena: windows up to the largest w <= FOTA_DELTA_MAX_WBITS
 * whose FOTA_DELTA_ZMEM_FOR(w) fits (once aligned to 16 bytes), so a host
 * built with the device's small applier still applies every delta.
 * zmem NULL or no larger: as fota_delta_apply_init. */
int fota_delta_apply_init_arena(fota_delta_applier *a, const fota_delta_io *io, void *zmem, size_t zmem_len);
#endif
/* Feeds n more delta bytes. Bytes after the end of the delta are an error. */
int fota_delta_apply_feed(fota_delta_applier *a, const uint8_t *delta, size_t n);
/* 0 when the delta was complete and the result matches the header's size and
 * SHA-256; then *new_size and sha256 (both may be NULL) describe it.
 * A delta cut short is FOTA_DELTA_E_TRUNCATED. */
int fota_delta_apply_finish(fota_delta_applier *a, uint64_t *new_size, uint8_t sha256[32]);
void fota_delta_apply_free(fota_delta_applier *a);

#endif
