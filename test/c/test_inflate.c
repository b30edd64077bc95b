/* The core's inflater (core/inflate.h) against zlib's deflate, and the
 * core's CRC-32 (core/bytes.h) against zlib's crc32:
 *   - round trips at levels 0..9, window bits 8..15 and zlib's strategies,
 *     on text, random and repetitive data, fed in 1-byte and random chunks
 *     into small output buffers; flushes and parameter changes mid-stream;
 *   - the window: exactly the stream's is enough, smaller is refused;
 *   - hand-made streams for every corruption class, each refused with its
 *     code; truncated streams ask for more and never end; bytes after the
 *     stream are not taken; errors stick; random bit flips never crash. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/bytes.h"
#include "core/fota_err.h"
#include "core/inflate.h"
#include "ctest_util.h"

static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

/* ---- the inflater driven in chunks ---- */

enum { FEED_WHOLE, FEED_BYTE, FEED_RANDOM };

typedef struct {
    int rc;          /* the last result: END, MORE (input used up), or an error */
    size_t in_used;  /* input taken in all */
    size_t out_len;
} run_result;

/* Inflates in[0..n) into out (cap bytes) with a window of win_len bytes. */
static run_result inflate_feed(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t win_len, int feed)
{
    run_result res = {FOTA_ERR_ARG, 0, 0};
    uint8_t *win = malloc(win_len);   /* exactly its size: ASan sees any overrun */
    fota_inflate *z = malloc(sizeof *z);
    if (!win || !z || fota_inflate_init(z, win, win_len) != 0) {
        free(win);
        free(z);
        return res;
    }
    for (;;) {
        size_t in_left = n - res.in_used, out_left = cap - res.out_len;
        size_t ic = in_left, oc = out_left;
        if (feed == FEED_BYTE) {
            ic = ic < 1 ? ic : 1;
            oc = oc < 1 ? oc : 1;
        } else if (feed == FEED_RANDOM) {
            size_t a = 1 + rnd() % 700, b = 1 + rnd() % 300;
            ic = ic < a ? ic : a;
            oc = oc < b ? oc : b;
        }
        size_t used = 0, made = 0;
        res.rc = fota_inflate_run(z, in + res.in_used, ic, &used, out + res.out_len, oc, &made);
        if (used > ic || made > oc) {
            res.rc = -9999;   /* took or made more than it was given room for */
            break;
        }
        res.in_used += used;
        res.out_len += made;
        if (res.rc != FOTA_INFLATE_MORE) break;
        if (used == 0 && made == 0 && (res.in_used == n || res.out_len == cap)) break;
    }
    free(win);
    free(z);
    return res;
}

/* ---- zlib's side ---- */

static uint8_t *zcompress(const uint8_t *p, size_t n, int level, int wbits, int mem_level,
                          int strategy, size_t *out_n)
{
    z_stream s;
    memset(&s, 0, sizeof s);
    if (deflateInit2(&s, level, Z_DEFLATED, wbits, mem_level, strategy) != Z_OK) return NULL;
    size_t cap = deflateBound(&s, (uLong)n) + 64;
    uint8_t *out = malloc(cap);
    s.next_in = (Bytef *)p;
    s.avail_in = (uInt)n;
    s.next_out = out;
    s.avail_out = (uInt)cap;
    int rc = deflate(&s, Z_FINISH);
    *out_n = cap - s.avail_out;
    deflateEnd(&s);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

#define DATA_LEN 70000   /* more than twice the largest window */

static void make_text(uint8_t *p, size_t n)
{
    static const char *words[] = {"the", "firmware", "package", "is", "verified", "before", "it",
                                  "is", "applied", "and", "a", "power", "cut", "leaves", "the",
                                  "old", "image", "in", "place", "module", "delta", "script",
                                  "\n", ", ", "local ", "function ", "end\n", "return "};
    size_t i = 0;
    while (i < n) {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        for (size_t k = 0; w[k] && i < n; k++) p[i++] = (uint8_t)w[k];
        if (i < n) p[i++] = ' ';
    }
}

static void make_repetitive(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t block = i / 4096;
        p[i] = block % 3 == 0 ? 0 : block % 3 == 1 ? (uint8_t)"abc"[i % 3] : (uint8_t)(i / 100);
    }
}

static void test_round_trips(void)
{
    uint8_t *data[3];
    const char *names[3] = {"text", "random", "repetitive"};
    for (int d = 0; d < 3; d++) data[d] = malloc(DATA_LEN);
    make_text(data[0], DATA_LEN);
    ctest_fill(data[1], DATA_LEN, 7);
    make_repetitive(data[2], DATA_LEN);
    const int strategies[] = {Z_DEFAULT_STRATEGY, Z_FILTERED, Z_HUFFMAN_ONLY, Z_RLE, Z_FIXED};
    uint8_t *out = malloc(DATA_LEN + 16);
    unsigned runs = 0, bad = 0;
    for (int d = 0; d < 3; d++)
        for (int level = 0; level <= 9; level++)
            for (int wbits = 8; wbits <= 15; wbits++)
                for (unsigned st = 0; st < sizeof strategies / sizeof strategies[0]; st++) {
                    /* random data shrinks nowhere: fewer sizes for it */
                    size_t n = d == 1 ? 20000 : DATA_LEN;
                    size_t zn;
                    uint8_t *zs = zcompress(data[d], n, level, wbits, 1 + (runs % 9), strategies[st], &zn);
                    CHECK(zs != NULL);
                    if (!zs) continue;
                    /* the window the stream announces is enough */
                    size_t win = (size_t)1 << ((zs[0] >> 4) + 8);
                    int feed = (runs % 4 == 0) ? FEED_BYTE : (runs % 4 == 1) ? FEED_WHOLE : FEED_RANDOM;
                    run_result r = inflate_feed(zs, zn, out, DATA_LEN + 16, win, feed);
                    runs++;
                    if (r.rc != FOTA_INFLATE_END || r.in_used != zn || r.out_len != n ||
                        memcmp(out, data[d], n) != 0) {
                        if (bad++ < 5)
                            fprintf(stderr, "round trip %s level %d wbits %d strategy %d feed %d: rc %d "
                                    "in %zu/%zu out %zu/%zu\n", names[d], level, wbits, strategies[st],
                                    feed, r.rc, r.in_used, zn, r.out_len, n);
                    }
                    /* a window smaller than announced is refused (at once, from the header) */
                    if (win > FOTA_INFLATE_MIN_WINDOW && st == 0) {
                        r = inflate_feed(zs, zn, out, DATA_LEN + 16, win / 2, FEED_RANDOM);
                        CHECK_EQ(r.rc, FOTA_INFLATE_E_WINDOW);
                        CHECK_EQ(r.out_len, 0);
                    }
                    free(zs);
                }
    CHECK_EQ(bad, 0);
    printf("round trips: %u streams (3 data sets x levels 0..9 x window bits 8..15 x 5 strategies)\n", runs);
    /* the largest window lent for the smallest stream window */
    size_t zn;
    uint8_t *zs = zcompress(data[0], DATA_LEN, 9, 9, 8, Z_DEFAULT_STRATEGY, &zn);
    run_result r = inflate_feed(zs, zn, out, DATA_LEN + 16, FOTA_INFLATE_MAX_WINDOW, FEED_RANDOM);
    CHECK(r.rc == FOTA_INFLATE_END && r.out_len == DATA_LEN && memcmp(out, data[0], DATA_LEN) == 0);
    free(zs);
    /* empty input */
    zs = zcompress(data[0], 0, 6, 15, 8, Z_DEFAULT_STRATEGY, &zn);
    r = inflate_feed(zs, zn, out, 16, 32768, FEED_BYTE);
    CHECK(r.rc == FOTA_INFLATE_END && r.out_len == 0 && r.in_used == zn);
    free(zs);
    for (int d = 0; d < 3; d++) free(data[d]);
    free(out);
}

/* One stream deflated in pieces with flushes (empty stored blocks) and
 * level and strategy changes between them (every block type in one stream). */
static void test_flushes(void)
{
    uint8_t *data = malloc(DATA_LEN), *out = malloc(DATA_LEN);
    make_text(data, DATA_LEN);
    z_stream s;
    memset(&s, 0, sizeof s);
    CHECK_EQ(deflateInit2(&s, 6, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&s, DATA_LEN) + 4096;
    uint8_t *zs = malloc(cap);
    s.next_out = zs;
    s.avail_out = (uInt)cap;
    const int flushes[] = {Z_NO_FLUSH, Z_SYNC_FLUSH, Z_FULL_FLUSH, Z_BLOCK, Z_PARTIAL_FLUSH};
    size_t off = 0;
    for (unsigned i = 0; off < DATA_LEN; i++) {
        size_t n = 1 + rnd() % 9000;
        if (n > DATA_LEN - off) n = DATA_LEN - off;
        s.next_in = data + off;
        s.avail_in = (uInt)n;
        off += n;
        CHECK(deflate(&s, flushes[i % 5]) == Z_OK);
        CHECK_EQ(s.avail_in, 0);
        const int levels[] = {0, 1, 9, 6};
        const int strats[] = {Z_FIXED, Z_DEFAULT_STRATEGY, Z_HUFFMAN_ONLY, Z_RLE};
        CHECK(deflateParams(&s, levels[i % 4], strats[(i / 2) % 4]) == Z_OK);
    }
    CHECK_EQ(deflate(&s, Z_FINISH), Z_STREAM_END);
    size_t zn = cap - s.avail_out;
    deflateEnd(&s);
    for (int feed = FEED_WHOLE; feed <= FEED_RANDOM; feed++) {
        run_result r = inflate_feed(zs, zn, out, DATA_LEN, 32768, feed);
        CHECK(r.rc == FOTA_INFLATE_END && r.in_used == zn && r.out_len == DATA_LEN &&
              memcmp(out, data, DATA_LEN) == 0);
    }
    free(zs);
    free(data);
    free(out);
}

/* ---- hand-made streams ---- */

typedef struct {
    uint8_t b[4096];
    size_t n;
    uint64_t acc;
    unsigned nb;
} bitw;

static void put_bits(bitw *w, uint32_t v, unsigned n)
{
    w->acc |= (uint64_t)v << w->nb;
    w->nb += n;
    while (w->nb >= 8) {
        w->b[w->n++] = (uint8_t)w->acc;
        w->acc >>= 8;
        w->nb -= 8;
    }
}

/* A Huffman code: its first bit is the code's most significant. */
static void put_code(bitw *w, uint32_t code, unsigned len)
{
    while (len--) put_bits(w, code >> len & 1, 1);
}

static void put_align(bitw *w)
{
    if (w->nb & 7) put_bits(w, 0, 8 - (w->nb & 7));
}

/* The zlib header: window 2^(cinfo+8), FDICT, FCHECK right unless told. */
static void put_header(bitw *w, unsigned cm, unsigned cinfo, int fdict, int bad_check)
{
    unsigned cmf = cinfo << 4 | cm, flg = fdict ? 0x20 : 0;
    flg |= (31 - ((cmf << 8 | flg) % 31)) % 31;
    if (bad_check) flg ^= 1;
    put_bits(w, cmf, 8);
    put_bits(w, flg, 8);
}

static void put_adler(bitw *w, const uint8_t *p, size_t n)
{
    uint32_t a = (uint32_t)adler32(1, p, (uInt)n);
    put_align(w);
    for (int i = 3; i >= 0; i--) put_bits(w, a >> (8 * i) & 0xff, 8);
}

/* RFC 1951 3.2.2: the canonical codes of lengths len[0..n). */
static void canon(const uint8_t *len, unsigned n, uint32_t *code)
{
    unsigned count[16] = {0}, next[16] = {0};
    for (unsigned i = 0; i < n; i++) count[len[i]]++;
    count[0] = 0;
    for (unsigned l = 1, c = 0; l < 16; l++) {
        c = (c + count[l - 1]) << 1;
        next[l] = c;
    }
    for (unsigned i = 0; i < n; i++)
        if (len[i]) code[i] = next[len[i]]++;
}

/* Fixed codes (RFC 1951 3.2.6). */
static void put_fixed_lit(bitw *w, unsigned s)
{
    if (s < 144) put_code(w, 0x30 + s, 8);
    else if (s < 256) put_code(w, 0x190 + s - 144, 9);
    else if (s < 280) put_code(w, s - 256, 7);
    else put_code(w, 0xc0 + s - 280, 8);
}

static int inflate_once(bitw *w, size_t win, uint8_t *out, size_t cap, size_t *out_len)
{
    put_align(w);   /* the last bits written */
    run_result r = inflate_feed(w->b, w->n, out, cap, win, FEED_RANDOM);
    if (out_len) *out_len = r.out_len;
    /* the same verdict fed a byte at a time */
    run_result r1 = inflate_feed(w->b, w->n, out, cap, win, FEED_BYTE);
    if (r1.rc != r.rc || r1.out_len != r.out_len) return -8888;
    return r.rc;
}

/* A dynamic block (the one stream): HLIT/HDIST/HCLEN, code length code
 * lengths, then the sequence of code length symbols (sym, extra). */
typedef struct {
    unsigned hlit, hdist;     /* as written: nlen - 257, ndist - 1 */
    uint8_t clen[19];         /* by symbol */
    unsigned nseq;
    unsigned seq[400][2];
} dyn_header;

static void put_dyn_header(bitw *w, const dyn_header *h, int last)
{
    static const uint8_t order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};
    put_bits(w, last, 1);
    put_bits(w, 2, 2);
    put_bits(w, h->hlit, 5);
    put_bits(w, h->hdist, 5);
    put_bits(w, 15, 4);   /* all 19 code length code lengths */
    for (int i = 0; i < 19; i++) put_bits(w, h->clen[order[i]], 3);
    uint32_t code[19];
    canon(h->clen, 19, code);
    for (unsigned i = 0; i < h->nseq; i++) {
        unsigned s = h->seq[i][0];
        put_code(w, code[s], h->clen[s]);
        if (s == 16) put_bits(w, h->seq[i][1], 2);
        if (s == 17) put_bits(w, h->seq[i][1], 3);
        if (s == 18) put_bits(w, h->seq[i][1], 7);
    }
}

/* The sequence for code lengths lens[0..n): runs of zeros as 17/18, the rest literally. */
static void seq_of(dyn_header *h, const uint8_t *lens, unsigned n)
{
    h->nseq = 0;
    for (unsigned i = 0; i < n;) {
        unsigned run = 0;
        while (i + run < n && lens[i + run] == 0 && run < 138) run++;
        if (run >= 11) { h->seq[h->nseq][0] = 18; h->seq[h->nseq++][1] = run - 11; i += run; }
        else if (run >= 3) { h->seq[h->nseq][0] = 17; h->seq[h->nseq++][1] = run - 3; i += run; }
        else { h->seq[h->nseq][0] = lens[i]; h->seq[h->nseq++][1] = 0; i++; }
    }
}

/* The base block: literals a, b (97, 98), end (256), length 3 (257), all
 * two bits; one distance code (0: distance 1) of one bit; "ab" then a
 * match of 3 at distance 1: "abbbb". */
typedef struct {
    uint8_t lit[288], dist[32];
    unsigned nlen, ndist;
} dyn_lens;

static void base_lens(dyn_lens *d)
{
    memset(d, 0, sizeof *d);
    d->nlen = 258;
    d->ndist = 1;
    d->lit[97] = d->lit[98] = d->lit[256] = d->lit[257] = 2;
    d->dist[0] = 1;
}

static void base_header(dyn_header *h, const dyn_lens *d)
{
    memset(h, 0, sizeof *h);
    h->hlit = d->nlen - 257;
    h->hdist = d->ndist - 1;
    /* code length code: 0, 1, 2 of two bits; 17, 18 of three */
    h->clen[0] = h->clen[1] = h->clen[2] = 2;
    h->clen[17] = h->clen[18] = 3;
    uint8_t all[320];
    memcpy(all, d->lit, d->nlen);
    memcpy(all + d->nlen, d->dist, d->ndist);
    seq_of(h, all, d->nlen + d->ndist);
}

/* "abbbb" in the block coded by d; with_match 0: "ab" only. */
static void put_dyn_data(bitw *w, const dyn_lens *d, int with_match)
{
    uint32_t lc[288], dc[32];
    canon(d->lit, d->nlen, lc);
    canon(d->dist, d->ndist, dc);
    put_code(w, lc[97], d->lit[97]);
    put_code(w, lc[98], d->lit[98]);
    if (with_match) {
        put_code(w, lc[257], d->lit[257]);
        put_code(w, dc[0], d->dist[0]);
    }
    put_code(w, lc[256], d->lit[256]);
}

static int dyn_stream(const dyn_header *h, const dyn_lens *d, int with_match, uint8_t *out, size_t *out_len)
{
    bitw w;
    memset(&w, 0, sizeof w);
    put_header(&w, 8, 7, 0, 0);
    put_dyn_header(&w, h, 1);
    put_dyn_data(&w, d, with_match);
    put_adler(&w, (const uint8_t *)"abbbb", with_match ? 5 : 2);
    return inflate_once(&w, 32768, out, 64, out_len);
}

static void test_dynamic(void)
{
    dyn_lens d;
    dyn_header h;
    uint8_t out[64];
    size_t n;

    base_lens(&d);
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, &n), FOTA_INFLATE_END);
    CHECK(n == 5 && memcmp(out, "abbbb", 5) == 0);

    /* too many length codes (287, 288) or distance codes (31, 32) */
    for (unsigned extra = 30; extra <= 31; extra++) {
        base_lens(&d);
        base_header(&h, &d);
        h.hlit = extra;
        CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
        base_header(&h, &d);
        h.hdist = extra;
        CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    }
    /* the code length code over-subscribed, incomplete, empty */
    base_lens(&d);
    base_header(&h, &d);
    h.clen[17] = 2;
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    base_header(&h, &d);
    h.clen[18] = 4;
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    base_header(&h, &d);
    memset(h.clen, 0, sizeof h.clen);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    /* a repeat of the previous length with none before it */
    base_header(&h, &d);
    h.clen[16] = 4;
    h.clen[18] = 4;   /* 0,1,2: 2 bits, 17: 3, 16 and 18: 4: complete */
    memmove(h.seq[1], h.seq[0], sizeof h.seq[0] * h.nseq);
    h.seq[0][0] = 16;
    h.seq[0][1] = 0;
    h.nseq++;
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    /* a repeat running past the last length (in place of the last one) */
    base_header(&h, &d);
    h.nseq--;
    h.seq[h.nseq][0] = 18;
    h.seq[h.nseq++][1] = 127;
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    /* no end-of-block code: a block that can never end */
    base_lens(&d);
    d.lit[256] = 0;
    d.lit[99] = 2;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    /* literal/length code over-subscribed, incomplete */
    base_lens(&d);
    d.lit[99] = 2;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    base_lens(&d);
    d.lit[257] = 0;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 0, out, NULL), FOTA_INFLATE_E_CODES);
    /* distance code incomplete beyond a single code, over-subscribed */
    base_lens(&d);
    d.ndist = 2;
    d.dist[1] = 2;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    d.dist[1] = 1;
    d.ndist = 3;
    d.dist[2] = 1;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_CODES);
    /* a complete two-code distance set is fine */
    base_lens(&d);
    d.ndist = 2;
    d.dist[1] = 1;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, &n), FOTA_INFLATE_END);
    CHECK(n == 5 && memcmp(out, "abbbb", 5) == 0);
    /* no distance code: literals only are fine, a match is refused */
    base_lens(&d);
    d.dist[0] = 0;
    base_header(&h, &d);
    CHECK_EQ(dyn_stream(&h, &d, 0, out, &n), FOTA_INFLATE_END);
    CHECK(n == 2 && memcmp(out, "ab", 2) == 0);
    CHECK_EQ(dyn_stream(&h, &d, 1, out, NULL), FOTA_INFLATE_E_SYMBOL);
    /* a single literal/length code of one bit (end of block): an empty block */
    {
        bitw w;
        memset(&w, 0, sizeof w);
        memset(&d, 0, sizeof d);
        d.nlen = 257;
        d.ndist = 1;
        d.lit[256] = 1;
        base_header(&h, &d);
        put_header(&w, 8, 7, 0, 0);
        put_dyn_header(&w, &h, 1);
        put_code(&w, 0, 1);
        put_adler(&w, NULL, 0);
        CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_END);
        CHECK_EQ(n, 0);
    }
}

static void test_headers_and_blocks(void)
{
    uint8_t out[1024];
    size_t n;
    bitw w;
#define FRESH() memset(&w, 0, sizeof w)
    /* header: method 7, CINFO 8, FCHECK wrong, FDICT, a window above the one lent */
    FRESH(); put_header(&w, 7, 7, 0, 0); put_bits(&w, 3, 3);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_HEADER);
    FRESH(); put_header(&w, 8, 8, 0, 0); put_bits(&w, 3, 3);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_HEADER);
    FRESH(); put_header(&w, 8, 7, 0, 1); put_bits(&w, 3, 3);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_HEADER);
    FRESH(); put_header(&w, 8, 7, 1, 0); put_bits(&w, 0x12345678, 32);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_DICT);
    FRESH(); put_header(&w, 8, 3, 0, 0); put_bits(&w, 3, 3);
    CHECK_EQ(inflate_once(&w, 1024, out, sizeof out, NULL), FOTA_INFLATE_E_WINDOW);
    CHECK_EQ(inflate_once(&w, 2048, out, sizeof out, NULL), FOTA_INFLATE_MORE);   /* then it ends early */
    /* block type 3 */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 3, 2); put_bits(&w, 0, 16);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_BLOCK);
    /* stored: LEN and NLEN disagree; then right, empty and not, not last */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 0, 2); put_align(&w);
    put_bits(&w, 5, 16); put_bits(&w, 0xfffb, 16); put_bits(&w, 0x6161, 16);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, NULL), FOTA_INFLATE_E_STORED);
    FRESH(); put_header(&w, 8, 7, 0, 0);
    put_bits(&w, 0, 1); put_bits(&w, 0, 2); put_align(&w); put_bits(&w, 0, 16); put_bits(&w, 0xffff, 16);
    put_bits(&w, 0, 1); put_bits(&w, 0, 2); put_align(&w); put_bits(&w, 3, 16); put_bits(&w, 0xfffc, 16);
    put_bits(&w, 'x', 8); put_bits(&w, 'y', 8); put_bits(&w, 'z', 8);
    put_bits(&w, 1, 1); put_bits(&w, 1, 2); put_fixed_lit(&w, 'w'); put_fixed_lit(&w, 256);
    put_adler(&w, (const uint8_t *)"xyzw", 4);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_END);
    CHECK(n == 4 && memcmp(out, "xyzw", 4) == 0);
    /* fixed: literal/length 286 and 287, distance codes 30 and 31 */
    for (unsigned s = 286; s <= 287; s++) {
        FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
        put_fixed_lit(&w, 'a'); put_fixed_lit(&w, s); put_bits(&w, 0, 16);
        CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_E_SYMBOL);
    }
    for (unsigned dc = 30; dc <= 31; dc++) {
        FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
        put_fixed_lit(&w, 'a'); put_fixed_lit(&w, 257); put_code(&w, dc, 5); put_bits(&w, 0, 16);
        CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_E_SYMBOL);
    }
    /* a distance before the first byte: "a" then 3 from 2 back */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
    put_fixed_lit(&w, 'a'); put_fixed_lit(&w, 257); put_code(&w, 1, 5); put_bits(&w, 0, 16);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_E_DISTANCE);
    CHECK_EQ(n, 1);
    /* at distance 1 it is fine; the longest match, 258 (symbol 285) */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
    put_fixed_lit(&w, 'a'); put_fixed_lit(&w, 285); put_code(&w, 0, 5); put_fixed_lit(&w, 256);
    {
        uint8_t want[259];
        memset(want, 'a', sizeof want);
        put_adler(&w, want, sizeof want);
        CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_END);
        CHECK(n == 259 && memcmp(out, want, n) == 0);
    }
    /* beyond the stream's window (256 bytes) though 517 bytes were made:
     * distance 257 is code 16, 7 extra bits 0 */
    FRESH(); put_header(&w, 8, 0, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
    put_fixed_lit(&w, 'a'); put_fixed_lit(&w, 285); put_code(&w, 0, 5);
    put_fixed_lit(&w, 285); put_code(&w, 0, 5);
    put_fixed_lit(&w, 257); put_code(&w, 16, 5); put_bits(&w, 0, 7); put_bits(&w, 0, 16);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_E_DISTANCE);
    CHECK_EQ(n, 517);
    /* a block that never ends: literals, no end code, the input runs out */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
    for (int i = 0; i < 300; i++) put_fixed_lit(&w, 'a' + i % 26);
    put_align(&w);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_MORE);
    CHECK_EQ(n, 300);
    /* the Adler-32 wrong */
    FRESH(); put_header(&w, 8, 7, 0, 0); put_bits(&w, 1, 1); put_bits(&w, 1, 2);
    put_fixed_lit(&w, 'q'); put_fixed_lit(&w, 256); put_adler(&w, (const uint8_t *)"r", 1);
    CHECK_EQ(inflate_once(&w, 32768, out, sizeof out, &n), FOTA_INFLATE_E_ADLER);
#undef FRESH
}

/* Errors stick; bytes after the end are not taken; bad arguments. */
static void test_api(void)
{
    uint8_t win[512], out[64];
    fota_inflate z;
    size_t used, made;
    CHECK_EQ(fota_inflate_init(&z, win, 128), FOTA_ERR_ARG);
    CHECK_EQ(fota_inflate_init(&z, win, 300), FOTA_ERR_ARG);
    CHECK_EQ(fota_inflate_init(&z, win, 65536), FOTA_ERR_ARG);
    CHECK_EQ(fota_inflate_init(&z, NULL, 256), FOTA_ERR_ARG);
    CHECK_EQ(fota_inflate_init(NULL, win, 256), FOTA_ERR_ARG);

    size_t zn;
    const uint8_t msg[] = "hello, hello, hello";
    uint8_t *zs = zcompress(msg, sizeof msg, 9, 9, 8, Z_DEFAULT_STRATEGY, &zn);
    uint8_t buf[128];
    memcpy(buf, zs, zn);
    memcpy(buf + zn, "TRAILING", 8);
    CHECK_EQ(fota_inflate_init(&z, win, sizeof win), 0);
    CHECK_EQ(fota_inflate_run(&z, buf, zn + 8, &used, out, sizeof out, &made), FOTA_INFLATE_END);
    CHECK_EQ(used, zn);
    CHECK(made == sizeof msg && memcmp(out, msg, made) == 0);
    CHECK_EQ(fota_inflate_run(&z, buf + used, 8, &used, out, sizeof out, &made), FOTA_INFLATE_END);
    CHECK(used == 0 && made == 0);
    CHECK_EQ(fota_inflate_run(&z, buf, 1, NULL, out, sizeof out, &made), FOTA_ERR_ARG);
    CHECK_EQ(fota_inflate_run(&z, NULL, 1, &used, out, sizeof out, &made), FOTA_ERR_ARG);

    /* every prefix asks for more, takes all it is given and never ends */
    for (size_t cut = 0; cut < zn; cut++) {
        run_result r = inflate_feed(zs, cut, out, sizeof out, 512, FEED_RANDOM);
        CHECK(r.rc == FOTA_INFLATE_MORE && r.in_used == cut && r.out_len <= sizeof msg &&
              memcmp(out, msg, r.out_len) == 0);
    }
    /* an error sticks */
    buf[0] = 0x77;
    CHECK_EQ(fota_inflate_init(&z, win, sizeof win), 0);
    CHECK_EQ(fota_inflate_run(&z, buf, zn, &used, out, sizeof out, &made), FOTA_INFLATE_E_HEADER);
    CHECK_EQ(fota_inflate_run(&z, zs, zn, &used, out, sizeof out, &made), FOTA_INFLATE_E_HEADER);
    CHECK(used == 0 && made == 0);
    CHECK(strcmp(fota_inflate_errname(FOTA_INFLATE_E_DISTANCE), "distance") == 0);
    CHECK(fota_inflate_errname(0) == NULL);
    free(zs);
}

/* Random bit flips and byte changes in real streams: any verdict, never a
 * crash or an overrun (ASan), never more output than room. */
static void test_corruption(void)
{
    uint8_t *data = malloc(DATA_LEN), *out = malloc(DATA_LEN + 4096);
    make_text(data, DATA_LEN);
    unsigned verdicts[4] = {0};   /* error, more, end (Adler caught none), end wrong */
    for (int i = 0; i < 400; i++) {
        size_t n = 1 + rnd() % 20000, zn;
        int level = (int)(rnd() % 10), wbits = 8 + (int)(rnd() % 8);
        uint8_t *zs = zcompress(data, n, level, wbits, 8, i % 3 ? Z_DEFAULT_STRATEGY : Z_FIXED, &zn);
        unsigned flips = 1 + rnd() % 4;
        for (unsigned k = 0; k < flips; k++) {
            size_t at = rnd() % zn;
            if (rnd() % 2) zs[at] ^= (uint8_t)(1u << (rnd() % 8));
            else zs[at] = (uint8_t)rnd();
        }
        run_result r = inflate_feed(zs, zn, out, DATA_LEN + 4096, 32768, i % 2 ? FEED_RANDOM : FEED_WHOLE);
        CHECK(r.rc != -9999 && r.rc != FOTA_ERR_ARG);
        if (r.rc < 0) verdicts[0]++;
        else if (r.rc == FOTA_INFLATE_MORE) verdicts[1]++;
        else if (r.out_len == n && memcmp(out, data, n) == 0) verdicts[2]++;
        else verdicts[3]++;
        free(zs);
    }
    /* a changed stream that still ends must have made the same bytes (or
     * fooled Adler-32, which these few hundred cannot) */
    CHECK_EQ(verdicts[3], 0);
    printf("corrupted streams: %u refused, %u cut short, %u unchanged in effect\n", verdicts[0],
           verdicts[1], verdicts[2]);
    free(data);
    free(out);
}

static void test_crc32(void)
{
    uint8_t buf[5000];
    ctest_fill(buf, sizeof buf, 99);
    CHECK_EQ(fota_crc32(0, NULL, 0), 0);
    CHECK_EQ(fota_crc32(0, "123456789", 9), 0xCBF43926u);   /* the CRC-32 check value */
    for (int i = 0; i < 200; i++) {
        size_t off = rnd() % sizeof buf, n = rnd() % (sizeof buf - off + 1);
        uint32_t seed = i % 2 ? rnd() : 0;
        CHECK_EQ(fota_crc32(seed, buf + off, n), (uint32_t)crc32(seed, buf + off, (uInt)n));
    }
    /* in pieces, as zlib chains it */
    uint32_t c = fota_crc32(0, buf, 1234);
    CHECK_EQ(fota_crc32(c, buf + 1234, sizeof buf - 1234), (uint32_t)crc32(0, buf, sizeof buf));
}

int main(void)
{
    printf("sizeof(fota_inflate) %zu bytes + the window (zlib's inflate state: about 7 KiB + the window)\n",
           sizeof(fota_inflate));
    test_api();
    test_headers_and_blocks();
    test_dynamic();
    test_round_trips();
    test_flushes();
    test_corruption();
    test_crc32();
    return ctest_finish("test_inflate");
}
