/* Delta engine: generator/applier round trips, chunking, and refusal of
 * truncated, corrupt, wrong-base and out-of-bounds deltas. Hostile deltas
 * are written by hand here (header + zlib of hand-made commands), following
 * docs/delta-format.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <zlib.h>

#include "core/delta.h"
#include "host/delta_file.h"
#include "host/zdeflate.h"
#include "ctest_util.h"
#include "core/fota_err.h"


/* ---- callbacks over memory, recording what the applier asked for ---- */

typedef struct {
    const uint8_t *old;
    size_t old_len;
    uint8_t *out;
    size_t out_len, out_cap;
    size_t max_call;       /* largest read/write length seen */
    int writes, bad_read;
} mem_io;

static int rd(void *ud, uint64_t off, void *buf, size_t len)
{
    mem_io *m = ud;
    if (len > m->max_call) m->max_call = len;
    if (off > m->old_len || len > m->old_len - off) { m->bad_read = 1; return FOTA_ERR_RANGE; }
    memcpy(buf, m->old + off, len);
    return 0;
}

static int wr(void *ud, const void *buf, size_t len)
{
    mem_io *m = ud;
    m->writes++;
    if (len > m->max_call) m->max_call = len;
    if (len > m->out_cap - m->out_len) return FOTA_ERR_RANGE;
    memcpy(m->out + m->out_len, buf, len);
    m->out_len += len;
    return 0;
}

/* Applies delta d to m->old feeding `feed` bytes at a time, the inflater in
 * zmem[0, zl) when zmem is not NULL; returns the first error (feed or
 * finish). */
static int apply_in(mem_io *m, const uint8_t *d, size_t dl, size_t feed, size_t max_chunk, void *zmem, size_t zl)
{
    static fota_delta_applier a;   /* ~57 KiB: keep it off the stack */
    fota_delta_io io = {rd, m, m->old_len, wr, m, max_chunk};
    m->out_len = 0;
    int rc = zmem ? fota_delta_apply_init_arena(&a, &io, zmem, zl) : fota_delta_apply_init(&a, &io);
    for (size_t off = 0; rc == 0 && off < dl; off += feed)
        rc = fota_delta_apply_feed(&a, d + off, dl - off < feed ? dl - off : feed);
    uint64_t n = 0;
    uint8_t h[32];
    if (rc == 0) rc = fota_delta_apply_finish(&a, &n, h);
    if (rc == 0) {
        CHECK_EQ(n, m->out_len);
        uint8_t want[32];
        ctest_sha256(m->out, m->out_len, want);
        CHECK(memcmp(h, want, 32) == 0);
    }
    fota_delta_apply_free(&a);
    return rc;
}

static int apply(mem_io *m, const uint8_t *d, size_t dl, size_t feed, size_t max_chunk)
{
    return apply_in(m, d, dl, feed, max_chunk, NULL, 0);
}

static int predicted;   /* round trips whose delta uses the predictor */
static int rel32;       /* round trips whose delta uses the rel32 predictor */
static int by_version[FOTA_DELTA_VERSION + 1];   /* round trips per delta version */

/* Round trip old -> new with generator options opt (NULL: the defaults),
 * fed in two ways; returns the delta size and, when hdr is not NULL, the
 * delta's first FOTA_DELTA_HEADER_V3_LEN bytes (zeros past its end). */
static size_t roundtrip_opt(const char *what, const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl,
                            const fota_delta_options *opt, uint8_t hdr[FOTA_DELTA_HEADER_V3_LEN])
{
    uint8_t *d = NULL;
    size_t dl = 0;
    int rc = fota_delta_create(old, ol, nw, nl, opt, &d, &dl);
    CHECK_EQ(rc, 0);
    if (rc) { fprintf(stderr, "  (%s)\n", what); return 0; }
    if (hdr) {
        memset(hdr, 0, FOTA_DELTA_HEADER_V3_LEN);
        memcpy(hdr, d, dl < FOTA_DELTA_HEADER_V3_LEN ? dl : FOTA_DELTA_HEADER_V3_LEN);
    }
    mem_io m = {old, ol, malloc(nl + 1), 0, nl + 1, 0, 0, 0};
    rc = apply(&m, d, dl, 4096, 0);
    CHECK_EQ(rc, 0);
    CHECK_EQ(m.out_len, nl);
    int same = m.out_len == nl && (nl == 0 || memcmp(m.out, nw, nl) == 0);
    CHECK(same);
    CHECK(m.max_call <= FOTA_DELTA_CHUNK);
    CHECK(!m.bad_read);
    m.max_call = 0;
    CHECK_EQ(apply(&m, d, dl, 977, 3), 0);   /* odd feeds, 3-byte callbacks */
    CHECK(m.out_len == nl && (nl == 0 || memcmp(m.out, nw, nl) == 0));
    CHECK(m.max_call <= 3);
    CHECK(!m.bad_read);
    if (dl > 5 && (d[5] & FOTA_DELTA_F_PREDICT)) predicted++;
    if (dl > 5 && (d[5] & FOTA_DELTA_F_REL32)) rel32++;
    if (dl > 4 && d[4] <= FOTA_DELTA_VERSION) by_version[d[4]]++;
    if (rc || !same) fprintf(stderr, "  (%s)\n", what);
    free(m.out);
    free(d);
    return dl;
}

/* The generic round trips (random, zeros, pointers, x86 code: 200-300 KB
 * each) test the applier and the command lists, not which candidate wins:
 * they rank candidates by the quick pass, which is also the path of every
 * image above 1 MiB, and takes a fraction of the time. The ARM round trips
 * below and the two builds keep the default, every candidate ranked by its
 * real size. */
static const fota_delta_options quick = {0, 0, 0, 1, 0};

static size_t roundtrip(const char *what, const uint8_t *old, size_t ol, const uint8_t *nw, size_t nl)
{
    return roundtrip_opt(what, old, ol, nw, nl, &quick, NULL);
}

/* x86-like code: functions calling each other (E8/E9 rel32, 0F 8x rel32)
 * and loading data RIP-relative (8B 05 disp32); the new build inserts code
 * before three functions, so every call across an insertion changes: the
 * rel32 predictor learns the change per target. */
static void emit_code(uint8_t *p, size_t *len, const uint32_t *start, unsigned nf, int grown)
{
    static const uint8_t ops[4][2] = {{0x90, 0xe8}, {0x90, 0xe9}, {0x0f, 0x84}, {0x8b, 0x05}};
    uint32_t seed = 99;
    size_t n = 0;
    for (unsigned f = 0; f < nf; f++) {
        if (grown && f % 1000 == 500)
            for (int i = 0; i < 100; i++) p[n++] = (uint8_t)(i * 37 + f);   /* inserted code */
        unsigned body = 20 + f % 61;
        for (unsigned i = 0; i < body; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            if (i + 6 < body && r % 9 == 0) {
                unsigned op = (r >> 4) & 3, to = (r >> 6) % nf;
                p[n++] = ops[op][0];
                p[n++] = ops[op][1];
                uint32_t rel = start[to] - (uint32_t)(n + 4);
                for (int q = 0; q < 4; q++) p[n++] = (uint8_t)(rel >> (8 * q));
                i += 5;
            } else {
                p[n++] = (uint8_t)(r >> 3);
            }
        }
    }
    *len = n;
}

static void test_x86_calls(void)
{
    enum { NF = 4000 };
    static uint32_t so[NF], sn[NF];
    uint8_t *o = malloc(NF * 90), *n = malloc(NF * 90);
    size_t ol = 0, nl = 0;
    /* function starts, old and new */
    size_t at = 0;
    for (unsigned f = 0; f < NF; f++) {
        so[f] = (uint32_t)at;
        at += 20 + f % 61;
        sn[f] = so[f] + 100 * ((f + 500) / 1000);
    }
    emit_code(o, &ol, so, NF, 0);
    emit_code(n, &nl, sn, NF, 1);
    CHECK_EQ(ol, at);
    CHECK_EQ(nl, at + 400);
    int before = rel32;
    size_t dl = roundtrip("x86 calls", o, ol, n, nl);
    printf("test_delta: x86 calls %zu -> %zu bytes, delta %zu\n", ol, nl, dl);
    CHECK(dl < 2000);
    CHECK_EQ(rel32, before + 1);
    free(o);
    free(n);
}

static void test_roundtrips(void)
{
    enum { N = 300000 };
    uint8_t *a = malloc(N), *b = malloc(N + 5000);
    ctest_fill(a, N, 1);

    /* identical: the delta is tiny */
    CHECK(roundtrip("identical", a, N, a, N) < 200);
    /* random, unrelated */
    ctest_fill(b, N, 2);
    roundtrip("random", a, N, b, N);
    /* shifted: one byte dropped at the front */
    CHECK(roundtrip("shifted", a, N, a + 1, N - 1) < 300);
    /* insert 5000 random bytes in the middle, and a few byte edits */
    memcpy(b, a, N / 2);
    ctest_fill(b + N / 2, 5000, 3);
    memcpy(b + N / 2 + 5000, a + N / 2, N / 2);
    for (size_t i = 1000; i < N; i += 9973) b[i] ^= 0x21;
    int v3 = by_version[3];
    CHECK(roundtrip("inserted", a, N, b, N + 5000) < 7000);
    CHECK_EQ(by_version[3], v3 + 1);
    /* all zero, both sizes */
    uint8_t *z = calloc(1, N);
    CHECK(roundtrip("zeros", z, N, z, N / 2) < 200);
    roundtrip("zeros->random", z, N, a, N);
    roundtrip("random->zeros", a, N, z, N);
    /* empty on either side and both */
    roundtrip("empty old", NULL, 0, a, 1000);
    roundtrip("empty new", a, 1000, NULL, 0);
    roundtrip("both empty", NULL, 0, NULL, 0);
    roundtrip("one byte", a, 1, a + 1, 1);
    /* the edge cases in every version the generator writes; the insertion
     * (version 3 by default) in version 5 too */
    for (unsigned v = 3; v <= FOTA_DELTA_VERSION; v++) {
        fota_delta_options opt = quick;
        opt.version = v;
        int before = by_version[v];
        roundtrip_opt("empty old", NULL, 0, a, 1000, &opt, NULL);
        roundtrip_opt("empty new", a, 1000, NULL, 0, &opt, NULL);
        roundtrip_opt("both empty", NULL, 0, NULL, 0, &opt, NULL);
        roundtrip_opt("one byte", a, 1, a + 1, 1, &opt, NULL);
        if (v == 5) CHECK(roundtrip_opt("inserted", a, N, b, N + 5000, &opt, NULL) < 7000);
        CHECK_EQ(by_version[v], before + 4 + (v == 5));
    }
    /* code-like: a table of 4-byte little-endian pointers that all move */
    for (size_t i = 0; i + 4 <= N; i += 4) {
        uint32_t v = (uint32_t)(0x08010000u + (a[i] << 4));
        memcpy(z + i, &v, 4);
        v += 0x40;
        memcpy(b + i, &v, 4);
    }
    CHECK(roundtrip("pointers", z, N, b, N) < N / 4);
    /* firmware-like: code with scattered pointers; those above a line move
     * by 0x800 (code inserted there): the predictor learns it */
    ctest_fill(z, N, 5);
    memcpy(b, z, N);
    int before = predicted;
    for (size_t i = 0; i + 4 <= N; i += 6 + z[i] % 24) {
        uint32_t v = 0x08000000u + (uint32_t)(z[i + 1] << 12 | z[i + 2] << 4);
        memcpy(z + i, &v, 4);
        if (v >= 0x08080000u) v += 0x800;
        memcpy(b + i, &v, 4);
    }
    CHECK(roundtrip("moved pointers", z, N, b, N) < N / 100);
    CHECK_EQ(predicted, before + 1);
    free(z);
    test_x86_calls();
    free(a);
    free(b);
}

/* ---- ARM code ---- */

/* Thumb-2 BL (kind 0), B.W (1) or BLX (2) at image offset `from` to `to`,
 * encoded as the Architecture Reference Manual says. */
static void put_thumb_branch(uint8_t *p, uint32_t from, uint32_t to, unsigned kind)
{
    uint32_t pc = kind == 2 ? (from + 4) & ~3u : from + 4;
    uint32_t off = to - pc, s = off >> 24 & 1;
    uint32_t j1 = (~(off >> 23) & 1) ^ s, j2 = (~(off >> 22) & 1) ^ s;
    uint32_t h1 = 0xf000 | s << 10 | (off >> 12 & 0x3ff);
    uint32_t h2 = (kind == 0 ? 0xd000u : kind == 1 ? 0x9000u : 0xc000u) | j1 << 13 | j2 << 11 |
                  (off >> 1 & 0x7ff);
    p[0] = (uint8_t)h1;
    p[1] = (uint8_t)(h1 >> 8);
    p[2] = (uint8_t)h2;
    p[3] = (uint8_t)(h2 >> 8);
}

static uint32_t get_thumb_target(const uint8_t *p, uint32_t from)
{
    uint32_t h1 = p[0] | (uint32_t)p[1] << 8, h2 = p[2] | (uint32_t)p[3] << 8;
    uint32_t s = h1 >> 10 & 1, i1 = (~(h2 >> 13) & 1) ^ s, i2 = (~(h2 >> 11) & 1) ^ s;
    uint32_t off = s << 24 | i1 << 23 | i2 << 22 | (h1 & 0x3ff) << 12 | (h2 & 0x7ff) << 1;
    if (s) off |= 0xfe000000u;
    return ((h2 & 0x1000) ? from + 4 : (from + 4) & ~3u) + off;
}

static void put32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

#define FW_BASE 0x08000000u

/* A firmware image: a vector table (stack pointer, reset handler), then nf
 * functions at start[]: 16-bit instructions (Thumb) or 32-bit ones (A32),
 * calls to other functions, ending with a literal pool of pointers to
 * functions (Thumb bit set) and to a string table at the image's end.
 * The same seed makes the same program; `grown` inserts code before every
 * 300th function and at the image's start (start[] says where). */
static size_t emit_arm(uint8_t *p, const uint32_t *start, unsigned nf, int grown, int a32)
{
    uint32_t seed = 7;
    size_t n = 0;
    put32le(p, 0x20008000u);
    put32le(p + 4, FW_BASE + start[0] + (a32 ? 0 : 1));
    n = 8;
    uint32_t strings = start[nf];
    for (unsigned f = 0; f < nf; f++) {
        while (n < start[f]) { put32le(p + n, 0xbf00bf00u + (uint32_t)(n & 0xff)); n += 4; }  /* inserted */
        unsigned body = 12 + f % 17;   /* 32-bit units */
        for (unsigned i = 0; i < body; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16, to = (r >> 3) % nf;
            if (r % 5 == 0) {
                if (a32) put32le(p + n, 0xeb000000u | (((start[to] - ((uint32_t)n + 8)) >> 2) & 0xffffff));
                else put_thumb_branch(p + n, (uint32_t)n, start[to], (r >> 8) % 3);
            } else if (a32) {
                put32le(p + n, 0xe0800000u | (r & 0xfffff));
            } else {
                uint32_t h = 0x4600 + (r & 0x7ff);
                put32le(p + n, h | (h ^ 0x55) << 16);
            }
            n += 4;
        }
        seed = seed * 1103515245u + 12345u;
        put32le(p + n, FW_BASE + start[(seed >> 16) % nf] + (a32 ? 0 : 1));
        put32le(p + n + 4, FW_BASE + strings + (seed >> 20) % 256);
        n += 8;
    }
    (void)grown;
    for (unsigned i = 0; i < 1024; i++) p[n++] = (uint8_t)("LuatOS EC618 "[i % 13]);
    /* a call in the image's last four bytes, back to the first function */
    if (a32) put32le(p + n, 0xeb000000u | (((start[0] - ((uint32_t)n + 8)) >> 2) & 0xffffff));
    else put_thumb_branch(p + n, (uint32_t)n, start[0], 0);
    return n + 4;
}

static int thumb_deltas, a32_deltas;

/* Old and new builds of ARM code; the new one has code inserted before
 * the first function and before every 300th, so every call, branch and
 * pointer across an insertion changes: the ARM predictor learns each moved
 * region's displacement and the delta carries almost nothing of it. */
static void test_arm_code(int a32)
{
    enum { NF = 3000 };
    static uint32_t so[NF + 1], sn[NF + 1];
    uint8_t *o = malloc(NF * 128 + 4096), *n = malloc(NF * 128 + 8192);
    uint32_t at = 8, moved = 16;
    for (unsigned f = 0; f <= NF; f++) {
        if (f % 300 == 150) moved += 64;
        so[f] = at;
        sn[f] = at + moved;
        at += f < NF ? (12 + f % 17) * 4 + 8 : 0;
    }
    size_t ol = emit_arm(o, so, NF, 0, a32), nl = emit_arm(n, sn, NF, 1, a32);
    CHECK_EQ(nl, ol + moved);
    int before = a32 ? a32_deltas : thumb_deltas;
    uint8_t d[FOTA_DELTA_HEADER_V3_LEN];
    size_t rl = roundtrip_opt(a32 ? "A32 calls" : "Thumb-2 calls", o, ol, n, nl, NULL, d);
    CHECK(d[4] == 3 || d[4] == 5);   /* the versions the generator writes by default */
    if (d[5] & FOTA_DELTA_F_THUMB) thumb_deltas++;
    if (d[5] & FOTA_DELTA_F_A32) a32_deltas++;
    CHECK(d[5] & FOTA_DELTA_F_WORDS);
    CHECK_EQ(d[80] | d[81] << 8 | d[82] << 16 | (uint32_t)d[83] << 24, FW_BASE);   /* found */
    printf("test_delta: %s %zu -> %zu bytes, delta %zu\n", a32 ? "A32" : "Thumb-2", ol, nl, rl);
    CHECK(rl < 2500);
    CHECK_EQ(a32 ? a32_deltas : thumb_deltas, before + 1);
    free(o);
    free(n);
}

/* Thumb-2 functions of 16-bit ALU instructions with short branches inside
 * them (B<cond>, B, CBZ, B<cond>.W) and literal loads (LDR, LDR.W) from a
 * pool after each; `grown` inserts four NOPs in the middle of every 10th
 * function, so every branch and load across the insertion changes. Encoded
 * as the Architecture Reference Manual says (not with the engine's code). */
static void put16le(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

enum { SH_SLOTS = 48, SH_POOL = 6 };

static size_t emit_short(uint8_t *p, unsigned nf, int grown)
{
    uint32_t seed = 11;
    size_t n = 8;
    put32le(p, 0x20008000u);
    put32le(p + 4, FW_BASE + 9);
    for (unsigned f = 0; f < nf; f++) {
        int ins = grown && f % 10 == 3;
        uint32_t pos[SH_SLOTS + 1];
        for (unsigned i = 0; i <= SH_SLOTS; i++) pos[i] = (uint32_t)n + 2 * i + (ins && i >= SH_SLOTS / 2 ? 8 : 0);
        uint32_t pool = (pos[SH_SLOTS] + 3) & ~3u;
        if (ins)
            for (unsigned q = 0; q < 4; q++) put16le(p + pos[SH_SLOTS / 2] - 8 + 2 * q, 0xbf00);
        for (unsigned i = 0; i < SH_SLOTS; i++) {
            seed = seed * 1103515245u + 12345u;
            uint32_t r = seed >> 16, at = pos[i], pc = at + 4, al = pc & ~3u;
            unsigned kind = r % 8, wide = kind == 4 || kind == 5;
            if (wide && i + 1 == SH_SLOTS) kind = 6, wide = 0;
            if (kind == 0) {                                   /* B<cond> forward */
                unsigned to = i + 1 + (r >> 3) % 30;
                if (to > SH_SLOTS) to = SH_SLOTS;
                put16le(p + at, 0xd000 | ((r >> 8) % 14) << 8 | (((pos[to] - pc) >> 1) & 0xff));
            } else if (kind == 1) {                            /* B back */
                unsigned to = (r >> 3) % (i + 1);
                put16le(p + at, 0xe000 | (((pos[to] - pc) >> 1) & 0x7ff));
            } else if (kind == 2) {                            /* LDR Rt, [PC, #imm8 x 4] */
                put16le(p + at, 0x4800 | ((r >> 3) % 8) << 8 | ((pool + 4 * ((r >> 6) % SH_POOL) - al) >> 2));
            } else if (kind == 3) {                            /* CBZ / CBNZ forward */
                unsigned to = i + 1 + (r >> 3) % 20;
                if (to > SH_SLOTS) to = SH_SLOTS;
                uint32_t off = pos[to] - pc;
                put16le(p + at, 0xb100 | ((r >> 9) & 1) << 11 | (off >> 6 & 1) << 9 | (off >> 1 & 0x1f) << 3 |
                                    (r >> 10) % 8);
            } else if (kind == 4) {                            /* B<cond>.W anywhere in the function */
                unsigned to = (r >> 3) % (SH_SLOTS + 1);
                uint32_t off = pos[to] - pc, cond = (r >> 9) % 14;
                put16le(p + at, 0xf000 | (off >> 20 & 1) << 10 | cond << 6 | (off >> 12 & 0x3f));
                put16le(p + at + 2, 0x8000 | (off >> 18 & 1) << 13 | (off >> 19 & 1) << 11 | (off >> 1 & 0x7ff));
            } else if (kind == 5) {                            /* LDR.W Rt, [PC, #+imm12] */
                put16le(p + at, 0xf8df);
                put16le(p + at + 2, ((r >> 3) % 8) << 12 | (pool + 4 * ((r >> 6) % SH_POOL) - al));
            } else {                                           /* ADDS Rd, Rn, Rm */
                put16le(p + at, 0x1800 | (r & 0x1ff));
            }
            if (wide) i++;
        }
        if (pool > pos[SH_SLOTS]) put16le(p + pos[SH_SLOTS], 0xbf00);
        for (unsigned q = 0; q < SH_POOL; q++) put32le(p + pool + 4 * q, 0x20000000u + f * 64 + q);
        n = pool + 4 * SH_POOL;
    }
    put16le(p + n, 0xe7fe);   /* B . in the image's last two bytes */
    return n + 2;
}

/* Round trip of emit_short(); the delta uses the short-branch predictor
 * (flag bit 7) and carries little of the changed branches and loads. */
static void test_thumb_short(void)
{
    enum { NF = 1000 };
    uint8_t *o = malloc(NF * (SH_SLOTS * 2 + 8 + 4 * SH_POOL + 4) + 16);
    uint8_t *n = malloc(NF * (SH_SLOTS * 2 + 16 + 4 * SH_POOL + 4) + 16);
    size_t ol = emit_short(o, NF, 0), nl = emit_short(n, NF, 1);
    CHECK_EQ(nl, ol + NF / 10 * 8);
    uint8_t d[FOTA_DELTA_HEADER_V3_LEN];
    size_t rl = roundtrip_opt("Thumb-2 short branches", o, ol, n, nl, NULL, d);
    CHECK(d[5] & FOTA_DELTA_F_SHORT);
    printf("test_delta: Thumb-2 short branches %zu -> %zu bytes, delta %zu\n", ol, nl, rl);
    CHECK(rl < 1500);
    free(o);
    free(n);
}

/* New code that repeats short pieces of old (strings, instruction
 * sequences: 12 bytes, below what a high scan threshold takes) between new
 * bytes: the generator makes them copies from old (take_old_matches, or the
 * scan at a low threshold), so the delta is much smaller than when those
 * pieces are new bytes too. take_old_matches' list wins here (5,976 bytes;
 * 5,996 without it), so its commands are applied too. */
static void test_short_old_matches(void)
{
    enum { OL = 32 * 1024, INS = 8 * 1024, PIECE = 12, GAP = 20 };
    uint8_t *o = malloc(OL), *with = malloc(OL + INS), *without = malloc(OL + INS);
    uint32_t x = 12345;
    for (size_t i = 0; i < OL; i++) o[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
    memcpy(with, o, OL / 2);
    for (size_t i = 0; i < INS; i += PIECE + GAP) {
        for (size_t j = 0; j < GAP && i + j < INS; j++)
            with[OL / 2 + i + j] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
        size_t from = (x = x * 1103515245u + 12345u) >> 16 & (OL - 64);
        for (size_t j = 0; j < PIECE && i + GAP + j < INS; j++) with[OL / 2 + i + GAP + j] = o[from + j];
    }
    memcpy(with + OL / 2 + INS, o + OL / 2, OL / 2);
    memcpy(without, with, OL + INS);
    for (size_t i = 0; i < INS; i += PIECE + GAP)
        for (size_t j = 0; j < PIECE && i + GAP + j < INS; j++)
            without[OL / 2 + i + GAP + j] = (uint8_t)((x = x * 1103515245u + 12345u) >> 24);
    size_t dw = roundtrip_opt("short old matches", o, OL, with, OL + INS, NULL, NULL);
    size_t dn = roundtrip_opt("no old matches", o, OL, without, OL + INS, NULL, NULL);
    printf("test_delta: 12-byte pieces of old among new bytes: delta %zu, as new bytes %zu\n", dw, dn);
    CHECK(dw + INS / (PIECE + GAP) * PIECE / 2 < dn);   /* at least half of each piece saved */
    free(o);
    free(with);
    free(without);
}

/* Two real builds (ctest passes two executables sharing the core library). */
static void test_real_builds(void)
{
    size_t ol = 0, nl = 0;
    uint8_t *o = ctest_read_file(getenv("DELTA_SAMPLE_OLD"), &ol);
    uint8_t *n = ctest_read_file(getenv("DELTA_SAMPLE_NEW"), &nl);
    if (o && n) {
        size_t dl = roundtrip_opt("two builds", o, ol, n, nl, NULL, NULL);
        printf("test_delta: two builds %zu -> %zu bytes, delta %zu\n", ol, nl, dl);
    } else {
        printf("test_delta: DELTA_SAMPLE_OLD/NEW not set, two-builds case skipped\n");
    }
    free(o);
    free(n);
}

/* The same delta fed one byte at a time, with 1-byte callbacks. */
static void test_chunking(void)
{
    enum { N = 20000 };
    uint8_t *a = malloc(N), *b = malloc(N + 100), *d = NULL;
    size_t dl = 0;
    ctest_fill(a, N, 7);
    memcpy(b, a, 5000);
    ctest_fill(b + 5000, 100, 8);
    memcpy(b + 5100, a + 5000, N - 5000);
    b[12000] ^= 1;
    CHECK_EQ(fota_delta_create(a, N, b, N + 100, NULL, &d, &dl), 0);
    mem_io m = {a, N, malloc(N + 100), 0, N + 100, 0, 0, 0};
    CHECK_EQ(apply(&m, d, dl, 1, 1), 0);
    CHECK(m.out_len == N + 100 && memcmp(m.out, b, N + 100) == 0);
    CHECK_EQ(m.max_call, 1);
    m.max_call = 0;
    CHECK_EQ(apply(&m, d, dl, 7, 3), 0);
    CHECK(m.out_len == N + 100 && memcmp(m.out, b, N + 100) == 0);
    CHECK_EQ(m.max_call, 3);
    CHECK_EQ(apply(&m, d, dl, dl, 0), 0);   /* all at once */
    CHECK(memcmp(m.out, b, N + 100) == 0);

    /* truncated at every length: never accepted, and never a bad read */
    for (size_t cut = 0; cut < dl; cut += (cut < 100 ? 1 : 37)) {
        int rc = apply(&m, d, cut, 64, 0);
        CHECK(rc != 0);
        CHECK(!m.bad_read);
    }
    CHECK_EQ(apply(&m, d, dl - 1, 64, 0), FOTA_DELTA_E_TRUNCATED);
    CHECK_EQ(apply(&m, d, FOTA_DELTA_HEADER_LEN, 64, 0), FOTA_DELTA_E_TRUNCATED);

    /* every single-byte corruption of the body is refused, or still gives
     * the right image (a zlib stream can tolerate nothing, so expect none) */
    int accepted = 0;
    for (size_t i = FOTA_DELTA_HEADER_LEN; i < dl; i++) {
        d[i] ^= 0x5a;
        int rc = apply(&m, d, dl, 500, 0);
        if (rc == 0) accepted++;
        CHECK(!m.bad_read);
        d[i] ^= 0x5a;
    }
    CHECK_EQ(accepted, 0);
    /* trailing byte after the end */
    uint8_t *t = malloc(dl + 1);
    memcpy(t, d, dl);
    t[dl] = 0;
    CHECK_EQ(apply(&m, t, dl + 1, 4096, 0), FOTA_DELTA_E_FORMAT);
    CHECK_EQ(apply(&m, t, dl + 1, 1, 0), FOTA_DELTA_E_FORMAT);
    free(t);

    /* wrong base: refused before anything is written */
    a[100] ^= 1;
    m.writes = 0;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_WRONG_BASE);
    CHECK_EQ(m.writes, 0);
    a[100] ^= 1;
    m.old_len = N - 1;                   /* base of another size */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_WRONG_BASE);
    CHECK_EQ(m.writes, 0);
    m.old_len = N;
    /* header corruption */
    d[0] ^= 1;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[0] ^= 1;
    uint8_t version = d[4];
    d[4] = FOTA_DELTA_VERSION + 1;       /* future version */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[4] = 1;                            /* v1 (interleaved commands): no longer read */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[4] = version == 5 ? 3 : 5;         /* v5 has no window (v3, v4 must have one) */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[4] = version;
    uint8_t f5 = d[5];                   /* every flag bit has a meaning: rel32 with an ARM one */
    d[5] = FOTA_DELTA_F_REL32 | FOTA_DELTA_F_SHORT;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[5] = f5;
    d[50] ^= 1;                          /* result hash: detected at the end */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_HASH);
    d[50] ^= 1;
    /* a write error stops it and sticks */
    m.out_cap = 10;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_ERR_RANGE);
    free(m.out);
    free(d);
    free(a);
    free(b);
}

/* ---- hand-made deltas: header + zlib(blocks) ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    do {
        uint8_t c = v & 0x7f;
        v >>= 7;
        p[n++] = (uint8_t)(c | (v ? 0x80 : 0));
    } while (v);
    return n;
}

/* A v3 header (flags, window bits, region shift, base) or, version 2, a
 * v2 one (window 15, no parameters), then the zlib stream of s[0..sl). */
static size_t handmade_hdr(uint8_t *out, unsigned version, unsigned flags, unsigned wbits,
                           uint32_t base, const uint8_t *old, uint32_t ol, uint32_t nl,
                           const uint8_t new_sha[32], const uint8_t *s, size_t sl)
{
    size_t hl = version >= 3 && (flags & FOTA_DELTA_F_WORDS) ? FOTA_DELTA_HEADER_V3_LEN : FOTA_DELTA_HEADER_LEN;
    memset(out, 0, hl);
    memcpy(out, "LFDL", 4);
    out[4] = (uint8_t)version;
    out[5] = (uint8_t)flags;
    if (version >= 3) {
        out[6] = (uint8_t)wbits;
        out[7] = FOTA_DELTA_DEFAULT_SHIFT;
    }
    for (int i = 0; i < 4; i++) {
        out[8 + i] = (uint8_t)(ol >> (8 * i));
        out[12 + i] = (uint8_t)(nl >> (8 * i));
        if (hl > FOTA_DELTA_HEADER_LEN) out[80 + i] = (uint8_t)(base >> (8 * i));
    }
    ctest_sha256(old, ol, out + 16);
    memcpy(out + 48, new_sha, 32);
    z_stream z;
    memset(&z, 0, sizeof z);
    CHECK_EQ(deflateInit2(&z, 9, Z_DEFLATED, version == 2 ? 15 : (int)wbits, 9, Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)s;
    z.avail_in = (uInt)sl;
    z.next_out = out + hl;
    z.avail_out = 8192;
    CHECK_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
    size_t zl = z.total_out;
    deflateEnd(&z);
    return hl + zl;
}

/* cmds: the stream after the block's command count, which is ncmd (0:
 * none, the stream is cmds as given). */
static size_t handmade_n(uint8_t *out, const uint8_t *old, uint32_t ol, uint32_t nl,
                         const uint8_t new_sha[32], unsigned ncmd, const uint8_t *cmds, size_t cl)
{
    static uint8_t s[8192];
    size_t sl = ncmd ? put_varint(s, ncmd) : 0;
    memcpy(s + sl, cmds, cl);
    sl += cl;
    return handmade_hdr(out, 3, 0, FOTA_DELTA_APPLY_WBITS, 0, old, ol, nl, new_sha, s, sl);
}

/* One block of one command: controls, extra bytes, diff run. */
static size_t handmade(uint8_t *out, const uint8_t *old, uint32_t ol, uint32_t nl,
                       const uint8_t new_sha[32], const uint8_t *cmds, size_t cl)
{
    return handmade_n(out, old, ol, nl, new_sha, 1, cmds, cl);
}

static void test_hostile(void)
{
    uint8_t old[1000], nw[1000], h[32], cmd[5000], d[16384];
    ctest_fill(old, sizeof old, 11);
    memcpy(nw, old, sizeof nw);
    ctest_sha256(nw, sizeof nw, h);
    mem_io m = {old, sizeof old, malloc(4096), 0, 4096, 0, 0, 0};
    size_t k, dl;

    /* well-formed by hand: seek 0, diff 1000 with one gap of 1000 */
    printf("test_delta: %d round trips used the predictor, %d the rel32 predictor\n", predicted, rel32);
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 1000);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 1000);
    dl = handmade(d, old, 1000, 1000, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), 0);
    CHECK(m.out_len == 1000 && memcmp(m.out, nw, 1000) == 0);

    /* the rel32 predictor by hand (docs/delta-format.md): three CALLs, each
     * +0x100 in new; the first two teach the entry for targets 0..4095
     * (miss, then unconfirmed hit), the third is predicted whole */
    {
        uint8_t ro[24] = {0xe8, 1, 0, 0, 0, 0xe8, 1, 0, 0, 0, 0xe8, 1, 0, 0, 0}, rn[24], rh[32];
        memcpy(rn, ro, sizeof rn);
        rn[2] = rn[7] = rn[12] = 1;
        ctest_sha256(rn, sizeof rn, rh);
        static const uint32_t prog[] = {0, 24, 0, 2, 4, 16};   /* controls, then gaps */
        k = 0;
        for (int i = 0; i < 6; i++) {
            k += put_varint(cmd + k, prog[i]);
            if (i == 3 || i == 4) cmd[k++] = 1;   /* value after the first two gaps */
        }
        dl = handmade(d, ro, sizeof ro, sizeof rn, rh, cmd, k);
        d[5] = FOTA_DELTA_F_REL32;
        mem_io rm = {ro, sizeof ro, malloc(64), 0, 64, 0, 0, 0};
        CHECK_EQ(apply(&rm, d, dl, 4096, 0), 0);
        CHECK(rm.out_len == sizeof rn && memcmp(rm.out, rn, sizeof rn) == 0);
        CHECK_EQ(apply(&rm, d, dl, 1, 1), 0);
        CHECK(rm.out_len == sizeof rn && memcmp(rm.out, rn, sizeof rn) == 0);
        d[5] = 0;                            /* without it the third CALL stays */
        CHECK_EQ(apply(&rm, d, dl, 4096, 0), FOTA_DELTA_E_HASH);
        free(rm.out);
    }

    /* seek before old's start */
    k = put_varint(cmd, 1);              /* zigzag 1 = -1 */
    k += put_varint(cmd + k, 10);
    k += put_varint(cmd + k, 0);
    dl = handmade(d, old, 1000, 10, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_RANGE);
    CHECK(!m.bad_read);
    /* diff running past old's end */
    k = put_varint(cmd, 2 * 995);        /* seek to 995 */
    k += put_varint(cmd + k, 10);
    k += put_varint(cmd + k, 0);
    dl = handmade(d, old, 1000, 10, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_RANGE);
    CHECK(!m.bad_read);
    /* seek far past old's end */
    k = put_varint(cmd, 2 * 4000000000u);
    k += put_varint(cmd + k, 1);
    k += put_varint(cmd + k, 0);
    dl = handmade(d, old, 1000, 1, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_RANGE);
    /* more output than the header's new size */
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 11);
    memset(cmd + k, 7, 11);
    dl = handmade(d, old, 1000, 10, h, cmd, k + 11);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_RANGE);
    CHECK_EQ(m.out_len, 0);
    /* a gap longer than its diff run */
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 10);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 11);
    dl = handmade(d, old, 1000, 10, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_RANGE);
    /* no-op command, overlong varint, bytes after the last command */
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 0);
    dl = handmade(d, old, 1000, 10, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    memset(cmd, 0x80, 6);
    cmd[6] = 0;
    dl = handmade(d, old, 1000, 10, h, cmd, 7);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 1);
    cmd[k++] = old[0];
    cmd[k++] = 0;                        /* one byte too many */
    ctest_sha256(old, 1, h);
    dl = handmade(d, old, 1000, 1, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    CHECK_EQ(apply(&m, d, dl, 4096, 0) != 0, 1);
    /* commands ending before the new size: stream ends early */
    dl = handmade(d, old, 1000, 2, h, cmd, k - 1);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);

    /* block counts: none, over the bound, fewer commands than announced */
    dl = handmade_n(d, old, 1000, 1, h, 0, (const uint8_t *)"\0", 1);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    k = put_varint(cmd, FOTA_DELTA_BLOCK_CMDS + 1);
    dl = handmade_n(d, old, 1000, 1, h, 0, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 1);
    cmd[k++] = old[0];
    dl = handmade_n(d, old, 1000, 1, h, 2, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    /* a block's extra bytes above its buffer, in one command or two */
    memset(nw, 3, sizeof nw);
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, FOTA_DELTA_BLOCK_BUF + 1);
    memset(cmd + k, 3, FOTA_DELTA_BLOCK_BUF + 1);
    dl = handmade(d, old, 1000, FOTA_DELTA_BLOCK_BUF + 1, h, cmd, k + FOTA_DELTA_BLOCK_BUF + 1);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    CHECK_EQ(m.out_len, 0);
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, FOTA_DELTA_BLOCK_BUF);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 1);
    dl = handmade_n(d, old, 1000, FOTA_DELTA_BLOCK_BUF + 1, h, 2, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    /* a diff run cut short by the stream's end */
    k = put_varint(cmd, 0);
    k += put_varint(cmd + k, 10);
    k += put_varint(cmd + k, 0);
    k += put_varint(cmd + k, 3);
    dl = handmade(d, old, 1000, 10, h, cmd, k);
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);

    /* new size above the bound is refused from the header alone */
    dl = handmade(d, old, 1000, 1, h, cmd, k - 1);
    uint32_t big = FOTA_DELTA_MAX_IMAGE + 1;
    for (int i = 0; i < 4; i++) d[12 + i] = (uint8_t)(big >> (8 * i));
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_TOO_LARGE);
    fota_delta_header hd;
    CHECK_EQ(fota_delta_parse_header(d, &hd), FOTA_DELTA_E_TOO_LARGE);

    /* API misuse */
    fota_delta_applier *a = malloc(sizeof *a);
    fota_delta_io io = {NULL, NULL, 0, NULL, NULL, 0};
    CHECK_EQ(fota_delta_apply_init(a, &io), FOTA_ERR_ARG);
    CHECK_EQ(fota_delta_apply_init(NULL, &io), FOTA_ERR_ARG);
    io.read_old = rd;
    io.old_ud = &m;
    io.old_size = (uint64_t)FOTA_DELTA_MAX_IMAGE + 1;
    CHECK_EQ(fota_delta_apply_init(a, &io), 0);
    CHECK_EQ(fota_delta_apply_feed(a, d, 10), FOTA_DELTA_E_WRONG_BASE);
    fota_delta_apply_free(a);
    free(a);
    uint8_t *o = NULL;
    size_t ol = 0;
    CHECK_EQ(fota_delta_create(NULL, 5, old, 5, NULL, &o, &ol), FOTA_ERR_ARG);
    CHECK_EQ(fota_delta_create(old, (size_t)FOTA_DELTA_MAX_IMAGE + 1, old, 5, NULL, &o, &ol), FOTA_ERR_RANGE);
    CHECK(fota_delta_errname(FOTA_DELTA_E_WRONG_BASE) != NULL);
    CHECK(fota_delta_errname(0) == NULL);
    free(m.out);
}

/* The applier's RAM is its struct: fixed, whatever the image size. */
/* A small Thumb-2 pair's delta: every byte flipped, every truncation:
 * refused (or, where a flip cannot matter, the right image), and never a
 * read outside old. */
/* A corrupt or cut ARM delta, of versions 3..5 (every byte flipped, every
 * length), and for version 4 its inflated stream with every byte flipped
 * (packed again, so the range decoder and its section lengths see it):
 * refused, or (a flip that changes nothing) the right image; never a read
 * outside old. Version 5 is range-coded to its last byte, whose coder must
 * end at code 0: there every flip is refused. */
static size_t handmade_hdr(uint8_t *out, unsigned version, unsigned flags, unsigned wbits,
                           uint32_t base, const uint8_t *old, uint32_t ol, uint32_t nl,
                           const uint8_t new_sha[32], const uint8_t *s, size_t sl);

static void test_arm_corrupt(void)
{
    enum { NF = 60 };
    static uint32_t so[NF + 1], sn[NF + 1];
    static uint8_t raw[16384], hd[16384 + 128];
    uint8_t *o = malloc(NF * 128 + 4096), *n = malloc(NF * 128 + 8192);
    uint32_t at = 8;
    for (unsigned f = 0; f <= NF; f++) {
        so[f] = at;
        sn[f] = at + 16 + (f >= 20 ? 64 : 0);
        at += f < NF ? (12 + f % 17) * 4 + 8 : 0;
    }
    size_t ol = emit_arm(o, so, NF, 0, 0), nl = emit_arm(n, sn, NF, 1, 0);
    mem_io m = {o, ol, malloc(nl + 1), 0, nl + 1, 0, 0, 0};
    for (unsigned version = 3; version <= 5; version++) {
        uint8_t *d = NULL;
        size_t dl = 0;
        fota_delta_options opt = {0, 0, 0, 0, version};
        CHECK_EQ(fota_delta_create(o, ol, n, nl, &opt, &d, &dl), 0);
        CHECK(dl > FOTA_DELTA_HEADER_V3_LEN && (d[5] & FOTA_DELTA_F_ARM) && d[4] == version);
        CHECK_EQ(apply(&m, d, dl, 4096, 0), 0);
        int wrong = 0, accepted = 0;
        for (size_t i = 0; i < dl; i++) {
            d[i] ^= 0x5a;
            int rc = apply(&m, d, dl, 333, 0);
            if (rc == 0 && (m.out_len != nl || memcmp(m.out, n, nl) != 0)) wrong++;
            accepted += rc == 0;
            CHECK(!m.bad_read);
            d[i] ^= 0x5a;
        }
        CHECK_EQ(wrong, 0);
        if (version == 5) CHECK_EQ(accepted, 0);
        for (size_t cut = 0; cut < dl; cut++) {
            CHECK(apply(&m, d, cut, 64, 1) != 0);
            CHECK(!m.bad_read);
        }
        if (version == 4) {
            size_t hl = (d[5] & FOTA_DELTA_F_WORDS) ? FOTA_DELTA_HEADER_V3_LEN : FOTA_DELTA_HEADER_LEN;
            uLongf rl = sizeof raw;
            CHECK_EQ(uncompress(raw, &rl, d + hl, (uLong)(dl - hl)), Z_OK);
            uint32_t base = d[80] | d[81] << 8 | d[82] << 16 | (uint32_t)d[83] << 24;
            int refused = 0;
            for (size_t i = 0; i < rl; i++) {
                for (int flip = 0; flip < 2; flip++) {
                    raw[i] ^= flip ? 0x80 : 0x01;
                    size_t tl = handmade_hdr(hd, 4, d[5], d[6], base, o, (uint32_t)ol, (uint32_t)nl, d + 48, raw, rl);
                    hd[7] = d[7];
                    int rc = apply(&m, hd, tl, 333, 0);
                    if (rc == 0 && (m.out_len != nl || memcmp(m.out, n, nl) != 0)) wrong++;
                    refused += rc != 0;
                    CHECK(!m.bad_read);
                    raw[i] ^= flip ? 0x80 : 0x01;
                }
            }
            CHECK_EQ(wrong, 0);
            CHECK(refused > (int)rl);   /* most flips are caught (the hash, or the format) */
            printf("test_delta: v4 inflated stream, %lu bytes, 2 flips each: %d refused\n", (unsigned long)rl,
                   refused);
        }
        free(d);
    }
    free(m.out);
    free(o);
    free(n);
}

/* Hand-made ARM deltas: a Thumb-2 BL copied to a new position is
 * re-encoded to reach the same target; a BL that a diff run's end cuts is
 * copied unpredicted; hostile residuals, flags and parameters never make
 * the applier read outside old. */
static void test_arm_handmade(void)
{
    static uint8_t old[64], want[68], d[16384], s[256];
    for (size_t i = 0; i < sizeof old; i += 2) { old[i] = (uint8_t)(0x40 + i); old[i + 1] = 0x46; }
    put_thumb_branch(old + 8, 8, 40, 0);     /* BL, inside the second command's run */
    put_thumb_branch(old + 30, 30, 50, 1);   /* B.W cut by that run's end at 32 */
    put_thumb_branch(old + 36, 36, 4, 2);    /* BLX at the third run's start + 4 */
    memcpy(want, "ABCD", 4);
    memcpy(want + 4, old, sizeof old);
    put_thumb_branch(want + 12, 12, 40, 0);
    put_thumb_branch(want + 40, 40, 4, 2);
    CHECK(memcmp(want + 12, old + 8, 4) != 0);
    CHECK_EQ(get_thumb_target(want + 12, 12), 40);
    uint8_t h[32];
    ctest_sha256(want, sizeof want, h);
    /* block: 3 commands (0,0,4) (0,32,0) (0,32,0), extras ABCD, runs: gaps */
    size_t k = 0;
    k += put_varint(s + k, 3);
    static const uint8_t ctl[] = {0, 0, 4, 0, 32, 0, 0, 32, 0};
    memcpy(s + k, ctl, sizeof ctl);
    k += sizeof ctl;
    memcpy(s + k, "ABCD", 4);
    k += 4;
    s[k++] = 32;
    s[k++] = 32;
    size_t dl = handmade_hdr(d, 3, FOTA_DELTA_F_THUMB, 10, 0, old, sizeof old, sizeof want, h, s, k);
    mem_io m = {old, sizeof old, malloc(4096), 0, 4096, 0, 0, 0};
    CHECK_EQ(apply(&m, d, dl, 4096, 0), 0);
    CHECK(m.out_len == sizeof want && memcmp(m.out, want, sizeof want) == 0);
    CHECK_EQ(apply(&m, d, dl, 1, 1), 0);
    CHECK(m.out_len == sizeof want && memcmp(m.out, want, sizeof want) == 0);

    /* header rules */
    d[5] = FOTA_DELTA_F_THUMB | FOTA_DELTA_F_REL32;   /* two tables in one */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[5] = FOTA_DELTA_F_SHORT | FOTA_DELTA_F_REL32;   /* bit 7 is an ARM one */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    d[5] = FOTA_DELTA_F_THUMB;
    static const uint8_t bad_w[] = {0, 8, 16, 255}, bad_s[] = {0, 7, 17, 255};
    for (size_t i = 0; i < sizeof bad_w; i++) {
        d[6] = bad_w[i];
        CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    }
    if (FOTA_DELTA_APPLY_WBITS < FOTA_DELTA_MAX_WBITS) {
        d[6] = FOTA_DELTA_APPLY_WBITS + 1;             /* more window than this applier has */
        m.writes = 0;
        CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_TOO_LARGE);
        CHECK_EQ(m.writes, 0);
    }
    d[6] = 10;
    for (size_t i = 0; i < sizeof bad_s; i++) {
        d[7] = bad_s[i];
        CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);
    }
    d[7] = FOTA_DELTA_DEFAULT_SHIFT;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), 0);

    /* a v2 delta (window 15, 80-byte header) with the v2 flags, which find
     * nothing to predict here: the same commands copy old as it is; only an
     * applier built for 15-bit windows takes it */
    memcpy(want + 4, old, sizeof old);
    ctest_sha256(want, sizeof want, h);
    dl = handmade_hdr(d, 2, FOTA_DELTA_F_PREDICT | FOTA_DELTA_F_REL32, 15, 0, old, sizeof old,
                      sizeof want, h, s, k);
    m.writes = 0;
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_APPLY_WBITS < 15 ? FOTA_DELTA_E_TOO_LARGE : 0);
    CHECK_EQ(m.writes, FOTA_DELTA_APPLY_WBITS < 15 ? 0 : 1);
    if (FOTA_DELTA_APPLY_WBITS == 15) CHECK(m.out_len == sizeof want && memcmp(m.out, want, sizeof want) == 0);
    d[5] = FOTA_DELTA_F_THUMB;                         /* not a v2 flag */
    CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_FORMAT);

    /* hostile: every ARM flag, a base that wraps, residuals of every value
     * over old made of branches and in-range words: displacements are data,
     * never addresses; the result only fails its hash */
    for (size_t i = 0; i < sizeof old; i += 4) {
        if (i % 8) put_thumb_branch(old + i, (uint32_t)i, (uint32_t)(i * 7919) % 64, (unsigned)(i / 4) % 3);
        else put32le(old + i, 0xffffff00u + (uint32_t)i);
    }
    /* and flag bit 7's kinds, with targets at old's edges and beyond */
    put16le(old + 16, 0xd07f);                         /* B<cond> +254 */
    put16le(old + 18, 0xe400);                         /* B -2048 */
    put16le(old + 32, 0x48ff);                         /* LDR +1020 */
    put16le(old + 34, 0xbbff);                         /* CBNZ +126 */
    put32le(old + 48, 0xaffff43fu);                    /* B<cond>.W -2 */
    put32le(old + 56, 0x0ffff8dfu);                    /* LDR.W +4095 */
    k = 0;
    k += put_varint(s + k, 1);
    k += put_varint(s + k, 0);
    k += put_varint(s + k, 64);
    k += put_varint(s + k, 0);
    for (int i = 0; i < 64; i++) {
        s[k++] = 0;                                    /* gap 0, then a value */
        s[k++] = (uint8_t)(0x80 + i * 37);
    }
    for (uint32_t base = 0xffffff00u; base != 0x100; base += 0x80) {
        dl = handmade_hdr(d, 3, FOTA_DELTA_F_ARM | FOTA_DELTA_F_PREDICT, 9, base, old, sizeof old, 64, h,
                          s, k);
        CHECK_EQ(apply(&m, d, dl, 4096, 0), FOTA_DELTA_E_HASH);
        CHECK_EQ(apply(&m, d, dl, 3, 1), FOTA_DELTA_E_HASH);
        CHECK(!m.bad_read);
    }
    free(m.out);
}

/* zdeflate: standard zlib streams within their window, for every window,
 * on text, runs, random bytes, empty and one-byte inputs. */
static void test_zdeflate(void)
{
    enum { N = 100000 };
    uint8_t *in = malloc(N), *back = malloc(N + 1);
    for (size_t i = 0; i < N; i++) in[i] = (uint8_t)("luat-fota delta "[i % 16] + (i / 5000) % 3);
    ctest_fill(in + 30000, 20000, 11);                     /* incompressible */
    memset(in + 60000, 0, 15000);                          /* a long run */
    static const size_t lens[] = {0, 1, 2, 3, 258, 5000, N};
    size_t whole = 0;
    for (unsigned sw = 0; sw < 14; sw++) {   /* windows 9..15, without and with block splitting */
        unsigned w = 9 + sw % 7;
        int split = sw >= 7;
        for (size_t t = 0; t < sizeof lens / sizeof lens[0]; t++) {
            uint8_t *z = NULL;
            size_t zl = 0;
            CHECK_EQ(fota_zdeflate_split(in, lens[t], w, split, &z, &zl), 0);
            if (!z) continue;
            if (lens[t] == N && w == 12 && !split) whole = zl;
            if (lens[t] == N && w == 12 && split) CHECK(zl <= whole);   /* kept only when smaller */
            CHECK_EQ(z[0], 8 | (w - 8) << 4);
            z_stream st;
            memset(&st, 0, sizeof st);
            CHECK_EQ(inflateInit2(&st, (int)w), Z_OK);
            st.next_in = z;
            st.avail_in = (uInt)zl;
            st.next_out = back;
            st.avail_out = N + 1;
            CHECK_EQ(inflate(&st, Z_FINISH), Z_STREAM_END);
            CHECK(st.total_out == lens[t] && memcmp(back, in, lens[t]) == 0);
            inflateEnd(&st);
            if (lens[t] == N) CHECK(zl < 30000);            /* the random third, and little else */
            free(z);
        }
    }
    uint8_t *z = NULL;
    size_t zl = 0;
    CHECK_EQ(fota_zdeflate(in, 10, 8, &z, &zl), FOTA_ERR_ARG);
    CHECK_EQ(fota_zdeflate(in, 10, 16, &z, &zl), FOTA_ERR_ARG);
    CHECK_EQ(fota_zdeflate(NULL, 10, 12, &z, &zl), FOTA_ERR_ARG);
    free(in);
    free(back);
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    int ok = fwrite(p, 1, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* Windows: a delta of every window 9..15 applies with an arena lent for 32
 * KiB (at an odd address); without one only those up to the applier's own;
 * a lent arena too small for a window refuses it before writing, and so does
 * fota_delta_apply_file above the window it is given (fotapack patch gives
 * 15 unless told). */
static void test_windows(void)
{
    enum { N = 60000 };
    uint8_t *a = malloc(N), *b = malloc(N + 3000), *d[7] = {NULL};
    size_t dl[7] = {0};
    ctest_fill(a, N, 21);
    for (size_t i = 0; i < N; i += 2) a[i] = (uint8_t)(i / 7);   /* some structure to find at a distance */
    memcpy(b, a, N / 3);
    ctest_fill(b + N / 3, 3000, 22);
    memcpy(b + N / 3 + 3000, a + N / 3, N - N / 3);
    for (size_t i = 500; i < N; i += 4001) b[i] ^= 0x11;
    static unsigned char big[FOTA_DELTA_ZMEM_FOR(15) + 16], small[FOTA_DELTA_ZMEM_FOR(12) + 16];
    mem_io m = {a, N, malloc(N + 3000), 0, N + 3000, 0, 0, 0};
    for (unsigned w = 9; w <= 15; w++) {
        fota_delta_options o = {w, 0, 0, 1, 0};
        CHECK_EQ(fota_delta_create(a, N, b, N + 3000, &o, &d[w - 9], &dl[w - 9]), 0);
        CHECK_EQ(d[w - 9][6], w);
        CHECK_EQ(apply_in(&m, d[w - 9], dl[w - 9], 1000, 0, big + 1, sizeof big - 1), 0);
        CHECK(m.out_len == N + 3000 && memcmp(m.out, b, N + 3000) == 0);
        CHECK_EQ(apply_in(&m, d[w - 9], dl[w - 9], 7, 3, big + 3, sizeof big - 3), 0);
        CHECK(m.out_len == N + 3000 && memcmp(m.out, b, N + 3000) == 0);
        m.writes = 0;
        int rc = apply(&m, d[w - 9], dl[w - 9], 4096, 0);
        CHECK_EQ(rc, w <= FOTA_DELTA_APPLY_WBITS ? 0 : FOTA_DELTA_E_TOO_LARGE);
        if (rc) CHECK_EQ(m.writes, 0);
        m.writes = 0;
        rc = apply_in(&m, d[w - 9], dl[w - 9], 4096, 0, small + 5, sizeof small - 5);
        CHECK_EQ(rc, w <= 12 || w <= FOTA_DELTA_APPLY_WBITS ? 0 : FOTA_DELTA_E_TOO_LARGE);
        if (rc) CHECK_EQ(m.writes, 0);
        CHECK(!m.bad_read);
    }
    /* through files, as fotapack patch applies */
    const char *dir = ctest_tmpdir("delta_windows");
    char po[512], pd[512], pn[512];
    snprintf(po, sizeof po, "%s/old", dir);
    snprintf(pd, sizeof pd, "%s/delta", dir);
    snprintf(pn, sizeof pn, "%s/new", dir);
    CHECK_EQ(write_file(po, a, N), 0);
    CHECK_EQ(write_file(pd, d[6], dl[6]), 0);
    uint64_t n = 0;
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 15, &n, NULL), 0);
    CHECK_EQ(n, N + 3000);
    CHECK(ctest_file_equals(pn, b, N + 3000));
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 0, &n, NULL), FOTA_DELTA_APPLY_WBITS < 15 ? FOTA_DELTA_E_TOO_LARGE : 0);
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 14, &n, NULL), FOTA_DELTA_E_TOO_LARGE);
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 16, &n, NULL), FOTA_ERR_ARG);
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 8, &n, NULL), FOTA_ERR_ARG);
    CHECK_EQ(write_file(pd, d[0], dl[0]), 0);
    CHECK_EQ(fota_delta_apply_file(po, pd, pn, 9, &n, NULL), 0);
    CHECK(ctest_file_equals(pn, b, N + 3000));
    for (int i = 0; i < 7; i++) free(d[i]);
    free(m.out);
    free(a);
    free(b);
}

static void test_ram(void)
{
    printf("test_delta: sizeof(fota_delta_applier) = %zu bytes\n", sizeof(fota_delta_applier));
    CHECK(sizeof(fota_delta_applier) <= (FOTA_DELTA_APPLY_WBITS <= 11 ? 24 : 64) * 1024);   /* the device default: 24 KiB at most */
}

int main(void)
{
    test_ram();
    test_roundtrips();
    test_real_builds();
    test_chunking();
    test_hostile();
    test_arm_code(0);
    test_arm_code(1);
    test_thumb_short();
    test_short_old_matches();
    test_arm_corrupt();
    test_arm_handmade();
    test_zdeflate();
    test_windows();
    return ctest_finish("test_delta");
}
