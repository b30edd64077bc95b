/* A bounded streaming inflater: zlib streams (RFC 1950) around deflate data
 * (RFC 1951: stored, fixed and dynamic Huffman blocks), written from the
 * RFCs so the core needs no zlib on a module. Input and output come in
 * chunks of any size; a call takes what it can and says where it stopped.
 *
 * RAM: sizeof(fota_inflate) (1,168 bytes on a 64-bit host: the bit buffer,
 * the three code sets, the code lengths) plus the window the caller lends,
 * as large as the largest window it accepts (32 KiB for any zlib stream):
 * 33,936 bytes in all for 32 KiB. zlib 1.2.13's inflater, fed in chunks,
 * takes 7,160 bytes of state, its 32 KiB window and a 112-byte z_stream:
 * 40,040 bytes (the "about 44 KiB" quoted before). Nothing is allocated
 * here: no malloc, no globals, no recursion.
 *
 * Every length, distance and code set read from the stream is checked: a
 * corrupt stream is a negative FOTA_INFLATE_E_* code, never a read or
 * write outside the buffers. A stream that stops early simply asks for more
 * input (FOTA_INFLATE_MORE with all input taken): the caller, who knows
 * where its input ends, calls that truncation. */
#ifndef FOTA_INFLATE_H
#define FOTA_INFLATE_H

#include <stddef.h>
#include <stdint.h>

#define FOTA_INFLATE_MIN_WINDOW 256u      /* RFC 1950: CINFO 0 */
#define FOTA_INFLATE_MAX_WINDOW 32768u    /* RFC 1950: CINFO 7, deflate's largest */

enum fota_inflate_result {
    FOTA_INFLATE_MORE = 0,            /* all input taken, or the output is full: call again */
    FOTA_INFLATE_END = 1,             /* the stream ended and its Adler-32 matched */
    FOTA_INFLATE_E_HEADER = -320,     /* not a zlib header for deflate (method, CINFO, FCHECK) */
    FOTA_INFLATE_E_DICT = -321,       /* the stream wants a preset dictionary (FDICT) */
    FOTA_INFLATE_E_WINDOW = -322,     /* its window is larger than the one lent */
    FOTA_INFLATE_E_BLOCK = -323,      /* block type 3 */
    FOTA_INFLATE_E_STORED = -324,     /* a stored block's LEN and NLEN disagree */
    FOTA_INFLATE_E_CODES = -325,      /* a bad code set: too many codes, over-subscribed or
                                         incomplete, a repeat with nothing before it or past
                                         the end, no end-of-block code */
    FOTA_INFLATE_E_SYMBOL = -326,     /* a code outside the set, or length 286/287, distance 30/31 */
    FOTA_INFLATE_E_DISTANCE = -327,   /* a distance before the first byte or beyond the window */
    FOTA_INFLATE_E_ADLER = -328       /* the Adler-32 of the output is not the stream's */
};

/* The state; its fields are the inflater's own. */
typedef struct fota_inflate {
    uint8_t *win;                     /* the window lent at init */
    uint32_t win_cap;                 /* its size */
    uint32_t wmask;                   /* the stream's window size - 1 */
    uint32_t wpos;                    /* next byte written in win */
    uint32_t have;                    /* bytes of history in win (up to the window) */
    uint64_t bits;                    /* input bits not yet used, first in the low bits */
    unsigned nbits;
    int state, last, err;
    uint32_t len, dist;               /* a match or stored block under way */
    uint32_t adler;
    unsigned nlen, ndist, ncode, idx; /* a dynamic block's header under way */
    uint8_t lens[286 + 30];           /* code lengths as they are read */
    uint16_t lit_count[16], lit_sym[288];
    uint16_t dist_count[16], dist_sym[32];
    uint16_t clen_count[16], clen_sym[19];
} fota_inflate;

/* Starts a stream with window (win_len bytes, a power of two from
 * FOTA_INFLATE_MIN_WINDOW to FOTA_INFLATE_MAX_WINDOW) as its history: a
 * stream announcing a larger window is FOTA_INFLATE_E_WINDOW. The window
 * must outlive the stream. 0 or FOTA_ERR_ARG. */
int fota_inflate_init(fota_inflate *z, uint8_t *window, size_t win_len);

/* Inflates from in[0..in_len) into out[0..out_cap): *in_used and *out_len
 * say how much was taken and made (a caller keeps the rest of its input
 * for the next call). Returns FOTA_INFLATE_MORE when the input is used up
 * or the output full, FOTA_INFLATE_END once the stream has ended (then
 * again on every later call, taking nothing: the bytes after the stream
 * are the caller's), or a FOTA_INFLATE_E_* code, then on every later call;
 * FOTA_ERR_ARG for bad arguments. */
int fota_inflate_run(fota_inflate *z, const uint8_t *in, size_t in_len, size_t *in_used,
                     uint8_t *out, size_t out_cap, size_t *out_len);

/* "header", "dict", "window", "block", "stored", "codes", "symbol",
 * "distance", "adler" for FOTA_INFLATE_E_*; NULL for anything else. */
const char *fota_inflate_errname(int code);

#endif
