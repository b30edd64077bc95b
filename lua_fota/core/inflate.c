/* Streaming zlib/deflate decoder, from RFC 1950 and RFC 1951.
 *
 * A state machine over the stream's fields. Each step (a header, a code
 * length, a literal, a length with its extra bits, a distance with its
 * extra bits, ...) either completes or takes nothing but the input bytes
 * it pulled into the bit buffer, so a call may stop anywhere and the next
 * one picks up at the same step. Bytes are pulled only when a step lacks
 * bits, so fewer than 8 bits are left over between steps: when the stream
 * ends nothing after it has been taken from the caller's input.
 *
 * Huffman codes are decoded bit by bit from the counts of codes of each
 * length (RFC 1951 3.2.2: codes of one length are consecutive, shorter
 * codes before longer): small tables, no lookup table to fill, at the cost
 * of speed, which a package's script section does not need. */
#include "core/inflate.h"

#include <string.h>

#include "core/fota_err.h"

enum {
    S_HEADER,     /* CMF, FLG */
    S_BLOCK,      /* BFINAL, BTYPE */
    S_STORED_LEN, /* LEN, NLEN */
    S_STORED,     /* the stored bytes */
    S_TABLE,      /* HLIT, HDIST, HCLEN */
    S_CLEN,       /* the code length code's lengths */
    S_LENS,       /* the literal/length and distance code lengths */
    S_CODES,      /* a literal, end of block, or a length */
    S_DIST,       /* the distance of a match */
    S_COPY,       /* the match */
    S_ADLER,      /* ADLER32 */
    S_END,
    S_ERR
};

/* RFC 1951 3.2.5: lengths of symbols 257..285, distances of codes 0..29. */
static const uint16_t len_base[29] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
                                      35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
                                      3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[30] = {1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
                                       257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
                                       8193, 12289, 16385, 24577};
static const uint8_t dist_extra[30] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
                                       7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
/* RFC 1951 3.2.7: the order the code length code's lengths come in. */
static const uint8_t clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

const char *fota_inflate_errname(int code)
{
    switch (code) {
    case FOTA_INFLATE_E_HEADER: return "header";
    case FOTA_INFLATE_E_DICT: return "dict";
    case FOTA_INFLATE_E_WINDOW: return "window";
    case FOTA_INFLATE_E_BLOCK: return "block";
    case FOTA_INFLATE_E_STORED: return "stored";
    case FOTA_INFLATE_E_CODES: return "codes";
    case FOTA_INFLATE_E_SYMBOL: return "symbol";
    case FOTA_INFLATE_E_DISTANCE: return "distance";
    case FOTA_INFLATE_E_ADLER: return "adler";
    default: return NULL;
    }
}

/* RFC 1950 2.2: sums modulo 65521, reduced every 5552 bytes, the most for
 * which the second sum cannot pass 2^32 from below 65521. */
static uint32_t adler_update(uint32_t adler, const uint8_t *p, size_t n)
{
    uint32_t a = adler & 0xffffu, b = adler >> 16;
    while (n) {
        size_t k = n < 5552 ? n : 5552;
        n -= k;
        while (k--) {
            a += *p++;
            b += a;
        }
        a %= 65521u;
        b %= 65521u;
    }
    return (b << 16) | a;
}

/* The canonical code of n symbols with lengths len[] (0 = unused): count[l]
 * codes of length l, sym[] the symbols in code order, count[0] the number
 * of codes. Returns -1 when the lengths over-subscribe the code space, 1
 * when they leave some of it unused (incomplete), 0 when they fill it. */
static int build(uint16_t count[16], uint16_t *sym, const uint8_t *len, unsigned n)
{
    uint16_t next[16];
    memset(count, 0, 16 * sizeof count[0]);
    for (unsigned i = 0; i < n; i++) count[len[i]]++;
    int32_t left = 1;                 /* codes of the current length still free */
    for (unsigned l = 1; l < 16; l++) {
        left = 2 * left - count[l];
        if (left < 0) return -1;
    }
    next[1] = 0;
    for (unsigned l = 1; l < 15; l++) next[l + 1] = (uint16_t)(next[l] + count[l]);
    for (unsigned i = 0; i < n; i++)
        if (len[i]) sym[next[len[i]]++] = (uint16_t)i;
    count[0] = (uint16_t)(n - count[0]);
    return left > 0;
}

/* A code set a dynamic block may use: complete, or (as deflate writes for
 * a block using one distance, or no match at all) a single code of one bit,
 * or none where allow_empty. */
static int code_ok(int built, const uint16_t count[16], int allow_empty)
{
    if (built == 0) return 1;
    if (built < 0) return 0;
    if (count[0] == 0) return allow_empty;
    return count[0] == 1 && count[1] == 1;
}

/* One symbol from the bits held: 1 with *s and *used, 0 when the bits held
 * end inside a code, -1 when they match no code of the set (known as soon
 * as the bits pass the last code, in an incomplete set). */
static int decode(const fota_inflate *z, const uint16_t count[16], const uint16_t *sym,
                  unsigned *s, unsigned *used)
{
    if (count[0] == 0) return -1;
    int32_t code = 0, first = 0, index = 0;   /* first: the first code of length l */
    for (unsigned l = 1; l < 16; l++) {
        if (l > z->nbits) return 0;
        code |= (int32_t)((z->bits >> (l - 1)) & 1);
        if (code - first < count[l]) {
            *s = sym[index + code - first];
            *used = l;
            return 1;
        }
        index += count[l];
        if (index == count[0]) return -1;   /* past the last code: an unused one */
        first = (first + count[l]) << 1;
        code <<= 1;
    }
    return -1;
}

static void drop(fota_inflate *z, unsigned n)
{
    z->bits >>= n;
    z->nbits -= n;
}

/* An output byte, kept in the window for later matches. */
static void put(fota_inflate *z, uint8_t *op, uint8_t b)
{
    *op = b;
    z->win[z->wpos] = b;
    z->wpos = (z->wpos + 1) & z->wmask;
    if (z->have <= z->wmask) z->have++;
}

int fota_inflate_init(fota_inflate *z, uint8_t *window, size_t win_len)
{
    if (!z || !window || win_len < FOTA_INFLATE_MIN_WINDOW || win_len > FOTA_INFLATE_MAX_WINDOW ||
        (win_len & (win_len - 1)))
        return FOTA_ERR_ARG;
    memset(z, 0, sizeof *z);
    z->win = window;
    z->win_cap = (uint32_t)win_len;
    z->adler = 1;
    z->state = S_HEADER;
    return 0;
}

/* Pulls input bytes until n bits are held, or pauses for more input. */
#define NEED(n)                                        \
    do {                                               \
        while (z->nbits < (n)) {                       \
            if (ip == iend) goto pause;                \
            z->bits |= (uint64_t)*ip++ << z->nbits;    \
            z->nbits += 8;                             \
        }                                              \
    } while (0)
/* Decodes a symbol of the set (cnt, sy) into s, its length in bits into
 * u, pulling input as needed; a code outside the set fails. */
#define DECODE(cnt, sy, s, u)                                  \
    do {                                                       \
        int r_;                                                \
        while ((r_ = decode(z, (cnt), (sy), &(s), &(u))) == 0) { \
            if (ip == iend) goto pause;                        \
            z->bits |= (uint64_t)*ip++ << z->nbits;            \
            z->nbits += 8;                                     \
        }                                                      \
        if (r_ < 0) FAIL(FOTA_INFLATE_E_SYMBOL);               \
    } while (0)
#define FAIL(code) do { rc = (code); goto fail; } while (0)

int fota_inflate_run(fota_inflate *z, const uint8_t *in, size_t in_len, size_t *in_used,
                     uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (!z || !z->win || !in_used || !out_len || (!in && in_len) || (!out && out_cap))
        return FOTA_ERR_ARG;
    *in_used = 0;
    *out_len = 0;
    if (z->state == S_ERR) return z->err;
    if (z->state == S_END) return FOTA_INFLATE_END;
    const uint8_t *ip = in, *iend = in_len ? in + in_len : in;
    uint8_t *op = out, *ostart = out, *oend = out_cap ? out + out_cap : out;
    int rc = FOTA_INFLATE_MORE;
    unsigned s, u;

    for (;;) {
        switch (z->state) {
        case S_HEADER: {
            NEED(16);
            unsigned cmf = (unsigned)(z->bits & 0xff), flg = (unsigned)(z->bits >> 8 & 0xff);
            if ((cmf & 15) != 8 || (cmf >> 4) > 7 || ((cmf << 8) | flg) % 31 != 0)
                FAIL(FOTA_INFLATE_E_HEADER);
            if (flg & 0x20) FAIL(FOTA_INFLATE_E_DICT);
            uint32_t w = 1u << ((cmf >> 4) + 8);
            if (w > z->win_cap) FAIL(FOTA_INFLATE_E_WINDOW);
            z->wmask = w - 1;
            drop(z, 16);
            z->state = S_BLOCK;
            break;
        }
        case S_BLOCK: {
            NEED(3);
            unsigned type = (unsigned)(z->bits >> 1 & 3);
            z->last = (int)(z->bits & 1);
            drop(z, 3);
            if (type == 0) {
                z->state = S_STORED_LEN;
            } else if (type == 1) {
                /* RFC 1951 3.2.6; distance codes 30 and 31 stay outside the set */
                memset(z->lens, 8, 144);
                memset(z->lens + 144, 9, 112);
                memset(z->lens + 256, 7, 24);
                memset(z->lens + 280, 8, 8);
                build(z->lit_count, z->lit_sym, z->lens, 288);
                memset(z->lens, 5, 30);
                build(z->dist_count, z->dist_sym, z->lens, 30);
                z->state = S_CODES;
            } else if (type == 2) {
                z->state = S_TABLE;
            } else {
                FAIL(FOTA_INFLATE_E_BLOCK);
            }
            break;
        }
        case S_STORED_LEN: {
            drop(z, z->nbits & 7);    /* stored data starts on a byte */
            NEED(32);
            uint32_t v = (uint32_t)z->bits;
            if ((v & 0xffff) != (~v >> 16 & 0xffff)) FAIL(FOTA_INFLATE_E_STORED);
            z->len = v & 0xffff;
            drop(z, 32);
            z->state = S_STORED;
            break;
        }
        case S_STORED:
            while (z->len) {
                if (op == oend) goto pause;
                uint8_t b;
                if (z->nbits >= 8) {
                    b = (uint8_t)z->bits;
                    drop(z, 8);
                } else if (ip < iend) {
                    b = *ip++;
                } else {
                    goto pause;
                }
                put(z, op++, b);
                z->len--;
            }
            z->state = z->last ? S_ADLER : S_BLOCK;
            break;
        case S_TABLE:
            NEED(14);
            z->nlen = 257 + (unsigned)(z->bits & 31);
            z->ndist = 1 + (unsigned)(z->bits >> 5 & 31);
            z->ncode = 4 + (unsigned)(z->bits >> 10 & 15);
            drop(z, 14);
            if (z->nlen > 286 || z->ndist > 30) FAIL(FOTA_INFLATE_E_CODES);
            memset(z->lens, 0, 19);
            z->idx = 0;
            z->state = S_CLEN;
            break;
        case S_CLEN:
            while (z->idx < z->ncode) {
                NEED(3);
                z->lens[clen_order[z->idx++]] = (uint8_t)(z->bits & 7);
                drop(z, 3);
            }
            /* a code length code must be complete */
            if (build(z->clen_count, z->clen_sym, z->lens, 19) != 0) FAIL(FOTA_INFLATE_E_CODES);
            z->idx = 0;
            z->state = S_LENS;
            break;
        case S_LENS: {
            unsigned total = z->nlen + z->ndist;
            while (z->idx < total) {
                DECODE(z->clen_count, z->clen_sym, s, u);
                if (s < 16) {
                    drop(z, u);
                    z->lens[z->idx++] = (uint8_t)s;
                    continue;
                }
                /* 16: the previous length 3..6 times; 17: zero 3..10 times; 18: zero 11..138 */
                unsigned e = s == 16 ? 2 : s == 17 ? 3 : 7;
                NEED(u + e);
                unsigned rep = (s == 18 ? 11 : 3) + (unsigned)(z->bits >> u & ((1u << e) - 1));
                if ((s == 16 && z->idx == 0) || rep > total - z->idx) FAIL(FOTA_INFLATE_E_CODES);
                uint8_t v = s == 16 ? z->lens[z->idx - 1] : 0;
                drop(z, u + e);
                while (rep--) z->lens[z->idx++] = v;
            }
            if (z->lens[256] == 0) FAIL(FOTA_INFLATE_E_CODES);   /* a block that cannot end */
            if (!code_ok(build(z->lit_count, z->lit_sym, z->lens, z->nlen), z->lit_count, 0) ||
                !code_ok(build(z->dist_count, z->dist_sym, z->lens + z->nlen, z->ndist), z->dist_count, 1))
                FAIL(FOTA_INFLATE_E_CODES);
            z->state = S_CODES;
            break;
        }
        case S_CODES:
            DECODE(z->lit_count, z->lit_sym, s, u);
            if (s < 256) {
                if (op == oend) goto pause;
                drop(z, u);
                put(z, op++, (uint8_t)s);
                break;
            }
            if (s == 256) {
                drop(z, u);
                z->state = z->last ? S_ADLER : S_BLOCK;
                break;
            }
            s -= 257;
            if (s >= 29) FAIL(FOTA_INFLATE_E_SYMBOL);
            NEED(u + len_extra[s]);
            z->len = len_base[s] + (uint32_t)(z->bits >> u & ((1u << len_extra[s]) - 1));
            drop(z, u + len_extra[s]);
            z->state = S_DIST;
            break;
        case S_DIST: {
            DECODE(z->dist_count, z->dist_sym, s, u);
            if (s >= 30) FAIL(FOTA_INFLATE_E_SYMBOL);
            NEED(u + dist_extra[s]);
            uint32_t d = dist_base[s] + (uint32_t)(z->bits >> u & ((1u << dist_extra[s]) - 1));
            /* have is at most the window: this refuses both too far back and
             * before the first byte */
            if (d > z->have) FAIL(FOTA_INFLATE_E_DISTANCE);
            drop(z, u + dist_extra[s]);
            z->dist = d;
            z->state = S_COPY;
            break;
        }
        case S_COPY:
            while (z->len) {
                if (op == oend) goto pause;
                put(z, op++, z->win[(z->wpos - z->dist) & z->wmask]);
                z->len--;
            }
            z->state = S_CODES;
            break;
        case S_ADLER: {
            drop(z, z->nbits & 7);
            NEED(32);
            uint32_t v = (uint32_t)z->bits;   /* most significant byte first */
            v = (v >> 24) | (v >> 8 & 0xff00u) | (v << 8 & 0xff0000u) | (v << 24);
            drop(z, 32);
            z->adler = adler_update(z->adler, ostart, (size_t)(op - ostart));
            ostart = op;
            if (v != z->adler) FAIL(FOTA_INFLATE_E_ADLER);
            z->state = S_END;
            break;
        }
        case S_END:
            rc = FOTA_INFLATE_END;
            goto pause;
        default:
            FAIL(FOTA_ERR_STATE);
        }
    }

fail:
    z->state = S_ERR;
    z->err = rc;
pause:
    z->adler = adler_update(z->adler, ostart, (size_t)(op - ostart));
    *in_used = (size_t)(ip - in);
    *out_len = (size_t)(op - out);
    return rc;
}
