/* Bounded-window deflate with near-optimal parsing (zdeflate.h). Each block
 * of BLOCK_IN input bytes is parsed ROUNDS times by a shortest-path search
 * over its literals and matches, each round costing symbols by the code
 * lengths the previous round's parse would get (the first: deflate's fixed
 * code), and is written as one dynamic-Huffman block (with splitting, as
 * the halves, quarters ... that are smaller, plan_node). Matches come from
 * hash chains limited to the window. The stream is inflated again before it
 * is returned, so a mistake here can cost a delta, never corrupt one. */
#include "host/zdeflate.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/fota_err.h"

#define MIN_MATCH 3
#define MAX_MATCH 258
#define HASH_BITS 16
#define MAX_CHAIN 128          /* chain steps per position */
#define BLOCK_IN 32768         /* input bytes per deflate block */
#define ROUNDS 3
#define SPLIT_MIN 4096         /* smallest block that splitting makes */
#define SPLIT_NODES 16         /* dyadic tree of one BLOCK_IN piece: 32 .. 4 KiB */
#define NLIT 286
#define NDIST 30
#define INF 0xffffffffu

static const uint16_t len_base[29] = {3,  4,  5,  6,  7,  8,  9,  10, 11,  13,  15,  17,  19,  23, 27,
                                      31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258};
static const uint8_t len_extra[29] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2,
                                      2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0};
static const uint16_t dist_base[NDIST] = {1,    2,    3,    4,    5,    7,     9,     13,    17,  25,
                                          33,   49,   65,   97,   129,  193,   257,   385,   513, 769,
                                          1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577};
static const uint8_t dist_extra[NDIST] = {0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
                                          6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13};
static const uint8_t clen_order[19] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15};

typedef struct {
    const uint8_t *in;
    size_t n;
    uint32_t window;
    uint32_t *moff;             /* n + 1: position i's matches are m[moff[i] .. moff[i + 1]) */
    uint32_t *m;                /* length << 16 | distance, lengths increasing */
    size_t mn, mcap;
    uint8_t lcode[MAX_MATCH + 1];
    uint8_t *dcode;             /* distance -> code, window + 1 entries */
    uint8_t *out;
    size_t olen, ocap;
    uint64_t bits;
    unsigned nbits;
    int err;
    int dry;                    /* count bits only (sizing a block) */
    uint8_t split[SPLIT_NODES]; /* block splitting's plan (plan_node) */
    uint64_t dry_bits;
} zd;

static void put_byte(zd *z, uint8_t b)
{
    if (z->err) return;
    if (z->olen == z->ocap) {
        size_t cap = z->ocap ? z->ocap * 2 : 65536;
        uint8_t *p = realloc(z->out, cap);
        if (!p) { z->err = FOTA_ERR_NOMEM; return; }
        z->out = p;
        z->ocap = cap;
    }
    z->out[z->olen++] = b;
}

/* Bits go out least significant first (RFC 1951 3.1.1). */
static void put_bits(zd *z, uint32_t v, unsigned n)
{
    if (z->dry) {
        z->dry_bits += n;
        return;
    }
    z->bits |= (uint64_t)v << z->nbits;
    z->nbits += n;
    while (z->nbits >= 8) {
        put_byte(z, (uint8_t)z->bits);
        z->bits >>= 8;
        z->nbits -= 8;
    }
}

static int push_match(zd *z, uint32_t v)
{
    if (z->mn == z->mcap) {
        size_t cap = z->mcap ? z->mcap * 2 : 1 << 16;
        uint32_t *p = cap > SIZE_MAX / sizeof *p ? NULL : realloc(z->m, cap * sizeof *p);
        if (!p) return FOTA_ERR_NOMEM;
        z->m = p;
        z->mcap = cap;
    }
    z->m[z->mn++] = v;
    return 0;
}

/* Every position's matches of increasing length, each at the smallest
 * distance (within the window) that reaches it. Inside a match of the
 * greatest length nothing is searched: runs would make it quadratic. */
static int find_matches(zd *z)
{
    int32_t *head = malloc(sizeof *head << HASH_BITS);
    int32_t *prev = malloc((z->n ? z->n : 1) * sizeof *prev);
    int rc = head && prev ? 0 : FOTA_ERR_NOMEM;
    if (head) memset(head, 0xff, sizeof *head << HASH_BITS);
    const uint8_t *in = z->in;
    size_t skip_to = 0;
    for (size_t i = 0; rc == 0 && i < z->n; i++) {
        z->moff[i] = (uint32_t)z->mn;
        if (i + MIN_MATCH > z->n) continue;
        uint32_t h = ((uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2]) * 2654435761u >>
                     (32 - HASH_BITS);
        if (i >= skip_to) {
            size_t maxl = z->n - i < MAX_MATCH ? z->n - i : MAX_MATCH, best = MIN_MATCH - 1;
            int32_t c = head[h];
            for (unsigned depth = 0; c >= 0 && i - (size_t)c <= z->window && depth < MAX_CHAIN; depth++) {
                const uint8_t *p = in + c, *q = in + i;
                if (p[best] == q[best] && p[0] == q[0] && p[1] == q[1]) {
                    size_t l = 0;
                    while (l < maxl && p[l] == q[l]) l++;
                    if (l > best) {
                        best = l;
                        if ((rc = push_match(z, (uint32_t)l << 16 | (uint32_t)(i - (size_t)c))) != 0) break;
                        if (l == maxl) break;
                    }
                }
                c = prev[c];
            }
            if (best == MAX_MATCH) skip_to = i + best;
        }
        prev[i] = head[h];
        head[h] = (int32_t)i;
    }
    z->moff[z->n] = (uint32_t)z->mn;
    free(head);
    free(prev);
    return rc;
}

/* Code lengths for freq[0..n) of at most `limit` bits (Huffman; while too
 * deep, the counts are halved, which flattens the tree). */
static void huff_lengths(const uint32_t *freq, unsigned n, unsigned limit, uint8_t *len)
{
    uint32_t f[NLIT], w[2 * NLIT];
    uint16_t sym[NLIT], parent[2 * NLIT];
    unsigned used = 0;
    memset(len, 0, n);
    for (unsigned s = 0; s < n; s++) {
        f[s] = freq[s];
        if (f[s]) sym[used++] = (uint16_t)s;
    }
    if (used == 0) return;
    if (used == 1) { len[sym[0]] = 1; return; }
    for (;;) {
        /* leaves sorted by count (insertion sort: n <= 286) */
        for (unsigned a = 1; a < used; a++) {
            uint16_t s = sym[a];
            unsigned b = a;
            while (b > 0 && f[sym[b - 1]] > f[s]) { sym[b] = sym[b - 1]; b--; }
            sym[b] = s;
        }
        /* two queues: leaves 0..used-1, inner nodes used.. in order made */
        for (unsigned a = 0; a < used; a++) w[a] = f[sym[a]];
        unsigned li = 0, ni = used, nn = used;
        while (nn < 2 * used - 1) {
            unsigned pick[2];
            for (int k = 0; k < 2; k++) {
                if (li < used && (ni >= nn || w[li] <= w[ni])) pick[k] = li++;
                else pick[k] = ni++;
            }
            w[nn] = w[pick[0]] + w[pick[1]];
            parent[pick[0]] = parent[pick[1]] = (uint16_t)nn;
            nn++;
        }
        unsigned depth[2 * NLIT], maxd = 0;
        depth[nn - 1] = 0;
        for (unsigned a = nn - 1; a-- > 0;) {
            depth[a] = depth[parent[a]] + 1;
            if (a < used && depth[a] > maxd) maxd = depth[a];
        }
        if (maxd <= limit) {
            for (unsigned a = 0; a < used; a++) len[sym[a]] = (uint8_t)depth[a];
            return;
        }
        for (unsigned a = 0; a < used; a++) f[sym[a]] = (f[sym[a]] >> 1) + 1;
    }
}

/* Canonical codes (RFC 1951 3.2.2), bit-reversed for put_bits. */
static void huff_codes(const uint8_t *len, unsigned n, uint16_t *code)
{
    uint16_t count[16] = {0}, next[16];
    for (unsigned s = 0; s < n; s++) count[len[s]]++;
    count[0] = 0;
    unsigned c = 0;
    for (unsigned b = 1; b < 16; b++) {
        c = (c + count[b - 1]) << 1;
        next[b] = (uint16_t)c;
    }
    for (unsigned s = 0; s < n; s++) {
        if (!len[s]) { code[s] = 0; continue; }
        unsigned v = next[len[s]]++, r = 0;
        for (unsigned b = 0; b < len[s]; b++) r |= ((v >> b) & 1) << (len[s] - 1 - b);
        code[s] = (uint16_t)r;
    }
}

/* One parse step: a literal (dist 0) or a match. */
typedef struct { uint16_t len, dist; } zsym;

typedef struct {
    uint32_t cost[BLOCK_IN + 1];
    zsym how[BLOCK_IN + 1];     /* the step that reaches each position most cheaply */
    zsym seq[BLOCK_IN];
    uint32_t lit_bits[NLIT], dist_bits[NDIST], lfreq[NLIT], dfreq[NDIST];
} zblock;

/* The cheapest parse of in[b0, b0 + L) under the current bit costs, in
 * b->seq (returns its length), with its symbol counts. */
static size_t parse(const zd *z, zblock *b, size_t b0, size_t L)
{
    uint32_t lenbits[MAX_MATCH + 1];
    for (unsigned l = MIN_MATCH; l <= MAX_MATCH; l++)
        lenbits[l] = b->lit_bits[257 + z->lcode[l]] + len_extra[z->lcode[l]];
    for (size_t j = 1; j <= L; j++) b->cost[j] = INF;
    b->cost[0] = 0;
    for (size_t j = 0; j < L; j++) {
        size_t i = b0 + j;
        uint32_t c0 = b->cost[j], c = c0 + b->lit_bits[z->in[i]];
        if (c < b->cost[j + 1]) { b->cost[j + 1] = c; b->how[j + 1] = (zsym){1, 0}; }
        size_t prevl = MIN_MATCH - 1;
        for (uint32_t k = z->moff[i]; k < z->moff[i + 1]; k++) {
            size_t l = z->m[k] >> 16, d = z->m[k] & 0xffff, lmax = l < L - j ? l : L - j;
            unsigned dc = z->dcode[d];
            uint32_t dcost = c0 + b->dist_bits[dc] + dist_extra[dc];
            for (size_t q = prevl + 1; q <= lmax; q++) {
                c = dcost + lenbits[q];
                if (c < b->cost[j + q]) { b->cost[j + q] = c; b->how[j + q] = (zsym){(uint16_t)q, (uint16_t)d}; }
            }
            if (lmax < l) break;
            prevl = l;
        }
    }
    size_t ns = 0;
    for (size_t j = L; j > 0; j -= b->how[j].len) b->seq[ns++] = b->how[j];
    for (size_t a = 0; a < ns / 2; a++) {   /* reverse into input order */
        zsym t = b->seq[a];
        b->seq[a] = b->seq[ns - 1 - a];
        b->seq[ns - 1 - a] = t;
    }
    memset(b->lfreq, 0, sizeof b->lfreq);
    memset(b->dfreq, 0, sizeof b->dfreq);
    size_t at = b0;
    for (size_t a = 0; a < ns; a++) {
        if (b->seq[a].dist == 0) {
            b->lfreq[z->in[at]]++;
        } else {
            b->lfreq[257 + z->lcode[b->seq[a].len]]++;
            b->dfreq[z->dcode[b->seq[a].dist]]++;
        }
        at += b->seq[a].len;
    }
    b->lfreq[256] = 1;
    return ns;
}

/* Writes the parse as one dynamic-Huffman block. */
static void emit_block(zd *z, const zblock *b, size_t b0, size_t ns, int final)
{
    uint8_t ll[NLIT], dl[NDIST], cl[19], lens[NLIT + NDIST];
    uint16_t lc[NLIT], dc[NDIST], cc[19];
    huff_lengths(b->lfreq, NLIT, 15, ll);
    huff_lengths(b->dfreq, NDIST, 15, dl);
    /* a distance code of at least two used lengths: some inflaters refuse less */
    unsigned nd = 0;
    for (unsigned s = 0; s < NDIST; s++) nd += dl[s] != 0;
    if (nd < 2) {
        if (!dl[0]) dl[0] = 1;
        else dl[1] = 1;
        if (nd == 0) dl[1] = 1;
    }
    unsigned hlit = NLIT, hdist = NDIST;
    while (hlit > 257 && !ll[hlit - 1]) hlit--;
    while (hdist > 1 && !dl[hdist - 1]) hdist--;
    memcpy(lens, ll, hlit);
    memcpy(lens + hlit, dl, hdist);
    /* run-length code the lengths: 16 repeats the last 3..6 times, 17 and
     * 18 give 3..10 and 11..138 zeros */
    uint16_t rle[NLIT + NDIST];
    uint8_t rx[NLIT + NDIST];
    unsigned nr = 0, total = hlit + hdist;
    uint32_t cf[19] = {0};
    for (unsigned i = 0; i < total;) {
        unsigned v = lens[i], run = 1;
        while (i + run < total && lens[i + run] == v) run++;
        i += run;
        if (v == 0) {
            while (run >= 11) { unsigned r = run > 138 ? 138 : run; rle[nr] = 18; rx[nr++] = (uint8_t)(r - 11); run -= r; }
            if (run >= 3) { rle[nr] = 17; rx[nr++] = (uint8_t)(run - 3); run = 0; }
        } else {
            rle[nr] = (uint16_t)v;
            rx[nr++] = 0;
            run--;
            while (run >= 3) { unsigned r = run > 6 ? 6 : run; rle[nr] = 16; rx[nr++] = (uint8_t)(r - 3); run -= r; }
        }
        while (run--) { rle[nr] = (uint16_t)v; rx[nr++] = 0; }
    }
    for (unsigned i = 0; i < nr; i++) cf[rle[i]]++;
    huff_lengths(cf, 19, 7, cl);
    unsigned nc = 0;
    for (unsigned s = 0; s < 19; s++) nc += cl[s] != 0;
    if (nc == 1) cl[cl[0] ? 1 : 0] = 1;   /* the code-length code must be complete */
    unsigned hclen = 19;
    while (hclen > 4 && !cl[clen_order[hclen - 1]]) hclen--;
    huff_codes(ll, NLIT, lc);
    huff_codes(dl, NDIST, dc);
    huff_codes(cl, 19, cc);
    put_bits(z, final ? 1 : 0, 1);
    put_bits(z, 2, 2);
    put_bits(z, hlit - 257, 5);
    put_bits(z, hdist - 1, 5);
    put_bits(z, hclen - 4, 4);
    for (unsigned i = 0; i < hclen; i++) put_bits(z, cl[clen_order[i]], 3);
    for (unsigned i = 0; i < nr; i++) {
        put_bits(z, cc[rle[i]], cl[rle[i]]);
        if (rle[i] == 16) put_bits(z, rx[i], 2);
        else if (rle[i] == 17) put_bits(z, rx[i], 3);
        else if (rle[i] == 18) put_bits(z, rx[i], 7);
    }
    size_t at = b0;
    for (size_t a = 0; a < ns; a++) {
        zsym s = b->seq[a];
        if (s.dist == 0) {
            put_bits(z, lc[z->in[at]], ll[z->in[at]]);
        } else {
            unsigned c = z->lcode[s.len], d = z->dcode[s.dist];
            put_bits(z, lc[257 + c], ll[257 + c]);
            put_bits(z, s.len - len_base[c], len_extra[c]);
            put_bits(z, dc[d], dl[d]);
            put_bits(z, s.dist - dist_base[d], dist_extra[d]);
        }
        at += s.len;
    }
    put_bits(z, lc[256], ll[256]);
}

/* Inflates the stream again: 0 when it gives exactly in[0..n). */
static int check(const uint8_t *s, size_t sl, unsigned wbits, const uint8_t *in, size_t n)
{
    z_stream st;
    memset(&st, 0, sizeof st);
    if (inflateInit2(&st, (int)wbits) != Z_OK) return FOTA_ERR_NOMEM;
    uint8_t buf[4096];
    size_t at = 0;
    int rc = 0, zr = Z_OK;
    st.next_in = (Bytef *)(uintptr_t)s;
    st.avail_in = (uInt)sl;
    while (rc == 0 && zr != Z_STREAM_END) {
        st.next_out = buf;
        st.avail_out = sizeof buf;
        zr = inflate(&st, Z_NO_FLUSH);
        size_t got = sizeof buf - st.avail_out;
        if ((zr != Z_OK && zr != Z_STREAM_END) || got > n - at || memcmp(buf, in + at, got) != 0)
            rc = FOTA_ERR_STATE;
        at += got;
    }
    if (rc == 0 && (at != n || st.avail_in != 0)) rc = FOTA_ERR_STATE;
    inflateEnd(&st);
    return rc;
}

/* ROUNDS parses of in[b0, b0 + L), each costing symbols by the code
 * lengths the previous one's would get (the first: deflate's fixed code);
 * returns the last one's length (in b->seq). */
static size_t parse_rounds(const zd *z, zblock *b, size_t b0, size_t L)
{
    size_t ns = 0;
    for (unsigned s = 0; s < NLIT; s++) b->lit_bits[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8;
    for (unsigned s = 0; s < NDIST; s++) b->dist_bits[s] = 5;
    for (int r = 0; r < ROUNDS; r++) {
        if (r) {
            /* counts + 1: a symbol unused so far still gets a (long) code */
            uint32_t lf[NLIT], df[NDIST];
            uint8_t ll[NLIT], dl[NDIST];
            for (unsigned s = 0; s < NLIT; s++) lf[s] = 2 * b->lfreq[s] + 1;
            for (unsigned s = 0; s < NDIST; s++) df[s] = 2 * b->dfreq[s] + 1;
            huff_lengths(lf, NLIT, 15, ll);
            huff_lengths(df, NDIST, 15, dl);
            for (unsigned s = 0; s < NLIT; s++) b->lit_bits[s] = ll[s];
            for (unsigned s = 0; s < NDIST; s++) b->dist_bits[s] = dl[s];
        }
        ns = parse(z, b, b0, L);
    }
    return ns;
}

/* Block splitting: where the statistics change (the delta's sections:
 * controls, literal code, sparse diff runs) one Huffman code per BLOCK_IN
 * bytes serves badly. Each piece is sized (exact bits as written, header
 * included) as one block and as its two halves, recursively down to
 * SPLIT_MIN bytes; split[] marks the nodes whose halves are smaller (node
 * 0: the piece; node i's halves: 2i+1, 2i+2). */
static uint64_t plan_node(zd *z, zblock *b, size_t b0, size_t L, unsigned node)
{
    size_t ns = parse_rounds(z, b, b0, L);
    z->dry = 1;
    z->dry_bits = 0;
    emit_block(z, b, b0, ns, 0);
    z->dry = 0;
    uint64_t whole = z->dry_bits;
    z->split[node] = 0;
    if (2 * node + 2 >= SPLIT_NODES || L < 2 * SPLIT_MIN) return whole;
    size_t h = L / 2;
    uint64_t halves = plan_node(z, b, b0, h, 2 * node + 1) + plan_node(z, b, b0 + h, L - h, 2 * node + 2);
    z->split[node] = halves < whole;
    return halves < whole ? halves : whole;
}

static void emit_split(zd *z, zblock *b, size_t b0, size_t L, unsigned node, int final)
{
    if (z->split[node]) {
        size_t h = L / 2;
        emit_split(z, b, b0, h, 2 * node + 1, 0);
        emit_split(z, b, b0 + h, L - h, 2 * node + 2, final);
        return;
    }
    emit_block(z, b, b0, parse_rounds(z, b, b0, L), final);
}

int fota_zdeflate(const uint8_t *in, size_t n, unsigned wbits, uint8_t **out, size_t *out_len)
{
    return fota_zdeflate_split(in, n, wbits, 0, out, out_len);
}

int fota_zdeflate_split(const uint8_t *in, size_t n, unsigned wbits, int split, uint8_t **out,
                        size_t *out_len)
{
    if (!out || !out_len || (!in && n) || wbits < 9 || wbits > 15 || n > UINT32_MAX) return FOTA_ERR_ARG;
    static const uint8_t empty[1] = {0};
    if (!in) in = empty;
    *out = NULL;
    *out_len = 0;
    zd z;
    memset(&z, 0, sizeof z);
    z.in = in;
    z.n = n;
    z.window = 1u << wbits;
    for (unsigned c = 0; c < 29; c++)
        for (unsigned l = len_base[c]; l < len_base[c] + (1u << len_extra[c]) && l <= MAX_MATCH; l++)
            z.lcode[l] = (uint8_t)c;
    z.lcode[MAX_MATCH] = 28;   /* 258 has its own code, not 227 + 31 */
    z.dcode = malloc(z.window + 1);
    z.moff = malloc((n + 1) * sizeof *z.moff);
    zblock *b = malloc(sizeof *b);
    int rc = z.dcode && z.moff && b ? 0 : FOTA_ERR_NOMEM;
    if (rc == 0) {
        for (unsigned c = 0; c < NDIST; c++)
            for (uint32_t d = dist_base[c]; d < dist_base[c] + (1u << dist_extra[c]) && d <= z.window; d++)
                z.dcode[d] = (uint8_t)c;
        rc = find_matches(&z);
    }
    if (rc == 0) {
        /* zlib header: deflate, the window; FCHECK makes it a multiple of 31 */
        unsigned cmf = 8 | (wbits - 8) << 4, flg = 3u << 6;
        flg += 31 - (cmf * 256 + flg) % 31;
        put_byte(&z, (uint8_t)cmf);
        put_byte(&z, (uint8_t)flg);
    }
    for (size_t b0 = 0; rc == 0 && (b0 < n || b0 == 0); b0 += BLOCK_IN) {
        size_t L = n - b0 < BLOCK_IN ? n - b0 : BLOCK_IN;
        if (split) plan_node(&z, b, b0, L, 0);
        emit_split(&z, b, b0, L, 0, b0 + L >= n);
        if (n == 0) break;
    }
    if (rc == 0) {
        if (z.nbits) put_bits(&z, 0, 8 - z.nbits);
        uint32_t ad = (uint32_t)adler32(adler32(0L, Z_NULL, 0), in, (uInt)n);
        for (int s = 24; s >= 0; s -= 8) put_byte(&z, (uint8_t)(ad >> s));
        rc = z.err;
    }
    if (rc == 0) rc = check(z.out, z.olen, wbits, in, n);
    free(z.dcode);
    free(z.moff);
    free(z.m);
    free(b);
    if (rc) {
        free(z.out);
        return rc;
    }
    *out = z.out;
    *out_len = z.olen;
    return 0;
}
