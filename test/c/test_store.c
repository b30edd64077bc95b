/* server/store.c on SQLite and, when FOTA_TEST_DB_FILE names the state file
 * of test/pg/cluster.sh, on that PostgreSQL too (ctest registers both). */
#define _POSIX_C_SOURCE 200809L   /* nanosleep */
#include "ctest_util.h"
#include "store.h"
#include "at.h"
#include "console_auth.h"
#include "db.h"
#include "rollout.h"
#include "schema.h"
#include "store_files.h"
#include "core/bytes.h"
#include "vendor.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

static const char *SCHEMA =
    "PRAGMA journal_mode=WAL;\n"
    "CREATE TABLE IF NOT EXISTS dev (id INTEGER PRIMARY KEY AUTOINCREMENT, imei TEXT NOT NULL UNIQUE, note TEXT);\n"
    "CREATE TABLE IF NOT EXISTS loops (imei TEXT NOT NULL, day TEXT NOT NULL, n INTEGER NOT NULL,\n"
    "  PRIMARY KEY (imei, day)) WITHOUT ROWID;\n"
    "-- a comment; with a semicolon\n"
    "INSERT OR IGNORE INTO dev (imei, note) VALUES ('000000000000000', 'it''s ?1 literal');\n";

static void dialect(void)
{
    int np = -1;
    char *q = store_dialect(STORE_PG, "SELECT ?2, ?, 'a?b' FROM t WHERE x = ?1", &np);
    CHECK(q && strcmp(q, "SELECT $2, $1, 'a?b' FROM t WHERE x = $1") == 0);
    CHECK_EQ(np, 2);
    free(q);
    q = store_dialect(STORE_PG, "INSERT OR IGNORE INTO t VALUES (?1); PRAGMA foo=1; CREATE TABLE u (a INTEGER)", NULL);
    CHECK(q && strcmp(q, "INSERT INTO t VALUES ($1) ON CONFLICT DO NOTHING; CREATE TABLE u (a BIGINT)") == 0);
    free(q);
    q = store_dialect(STORE_SQLITE, "SELECT ?1, integer_x FROM t", NULL);
    CHECK(q && strcmp(q, "SELECT ?1, integer_x FROM t") == 0);
    free(q);
    /* malformed and out of range are refused */
    q = store_dialect(STORE_PG, "SELECT max(a), max(?1, IFNULL(b, 0)), min(x,(1)), t.user FROM t", NULL);
    CHECK(q && strcmp(q, "SELECT max(a), GREATEST($1, COALESCE(b, 0)), LEAST(x,(1)), t.\"user\" FROM t") == 0);
    free(q);
    q = store_dialect(STORE_PG, "SELECT group_concat(imei, ',') FROM t", NULL);
    CHECK(q && strcmp(q, "SELECT string_agg(imei, ',') FROM t") == 0);
    free(q);
    CHECK(store_dialect(STORE_PG, "SELECT 'open", NULL) == NULL);
    CHECK(store_dialect(STORE_PG, "SELECT ?65", NULL) == NULL);
    CHECK(store_dialect(STORE_PG, "SELECT ?0", NULL) == NULL);
}

/* The daily loop count as one atomic statement: n racing requests from
 * two connections each get a distinct count. */
struct racer {
    const char *loc;
    int got[8];
    int ok;
};

static const char *BUMP =
    "INSERT INTO loops (imei, day, n) VALUES (?1, ?2, 1) "
    "ON CONFLICT (imei, day) DO UPDATE SET n = loops.n + 1 RETURNING n";

static void *race(void *arg)
{
    struct racer *r = arg;
    char err[256];
    store *s = store_open(r->loc, err, sizeof err);
    if (!s)
        return NULL;
    store_stmt *st = store_prepare(s, BUMP);
    if (st) {
        r->ok = 1;
        for (int i = 0; i < 8; i++) {
            store_bind_text(st, 1, "861234567890123", 15);
            store_bind_text(st, 2, "2026-12-02", 10);
            int rc = store_step(st);
            r->got[i] = rc == STORE_ROW ? (int)store_column_int64(st, 0) : -1;
            store_reset(st);
        }
        store_finalize(st);
    }
    store_close(s);
    return NULL;
}

/* Another connection's commit moves the clock; nothing else does. */
static void clock_test(const char *loc)
{
    char err[256];
    store *a = store_open(loc, err, sizeof err), *b = store_open(loc, err, sizeof err);
    CHECK(a && b);
    if (!a || !b) {
        store_close(a);
        store_close(b);
        return;
    }
    const char *const tables[] = { "dev" };
    const char *const bad[] = { "dev; DROP TABLE dev" };
    CHECK(store_watch(a, bad, 1) != 0 || store_kind_of(a) == STORE_SQLITE);
    CHECK_EQ(store_watch(a, tables, 1), 0);
    int64_t c0 = 0, c1 = 0;
    /* a read so SQLite's data_version is current, as the device check does */
    CHECK_EQ(store_exec(a, "SELECT COUNT(*) FROM dev"), 0);
    CHECK_EQ(store_clock(a, &c0), 0);
    CHECK_EQ(store_exec(a, "SELECT COUNT(*) FROM dev"), 0);
    CHECK_EQ(store_clock(a, &c1), 0);
    CHECK_EQ(c1, c0);
    CHECK_EQ(store_exec(b, "UPDATE dev SET note = 'moved' WHERE imei = '000000000000000'"), 0);
    /* notifications arrive asynchronously: wait for at most 2 s */
    for (int i = 0; i < 200 && c1 == c0; i++) {
        CHECK_EQ(store_exec(a, "SELECT COUNT(*) FROM dev"), 0);
        CHECK_EQ(store_clock(a, &c1), 0);
        if (c1 == c0)
            nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
    }
    CHECK(c1 != c0);
    store_close(a);
    store_close(b);
}

/* One session holds a claim; the other is refused until it is given
 * back or its holder's connection ends. */
static void lock_test(const char *loc)
{
    char err[256];
    store *a = store_open(loc, err, sizeof err), *b = store_open(loc, err, sizeof err);
    CHECK(a && b);
    if (!a || !b) {
        store_close(a);
        store_close(b);
        return;
    }
    int pg = store_kind_of(a) == STORE_PG;
    CHECK_EQ(store_try_lock(a, 17), 1);
    CHECK_EQ(store_try_lock(b, 17), pg ? 0 : 1);
    CHECK_EQ(store_try_lock(b, 18), 1);         /* another package: free */
    CHECK_EQ(store_unlock(a, 17), 0);
    CHECK_EQ(store_try_lock(b, 17), 1);
    if (pg) {
        CHECK_EQ(store_try_lock(a, 17), 0);
        store_close(b);                         /* the holder goes away */
        b = NULL;
        /* its backend ends a moment after the socket closes: wait <= 2 s */
        int got = 0;
        for (int i = 0; i < 200 && got != 1; i++) {
            got = store_try_lock(a, 17);
            if (got != 1)
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        CHECK_EQ(got, 1);
        CHECK_EQ(store_unlock(a, 17), 0);
    }
    store_close(a);
    store_close(b);
}

/* n bytes of a pattern seeded by seed into path; its SHA-256 (hex) into sha. */
static unsigned char *pattern_file(const char *path, size_t n, unsigned seed, char sha[65])
{
    unsigned char *b = malloc(n);
    uint8_t h[32];
    if (!b) return NULL;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((i * 2654435761u + seed) >> 13);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b, 1, n, f) == n);
    if (f) fclose(f);
    fota_sha256(b, n, h);
    fota_hex(h, 32, sha);
    return b;
}

static int same_file(const char *path, const unsigned char *b, size_t n)
{
    size_t got = 0;
    unsigned char *f = ctest_read_file(path, &got);
    int same = f && got == n && memcmp(f, b, n) == 0;
    free(f);
    return same;
}

/* store_files.h: files in chunks, fetched with their hash checked, the
 * cache bounded. Any store (the tables exist on both). */
static void files_test(store *s)
{
    const char *dir = ctest_tmpdir("files");
    char src[512], dest[512], sha[65], sha2[65], stored[128], local[600], cache[512];
    const size_t n = 2 * FILES_CHUNK + 1000;   /* three chunks, the last short */
    CHECK_EQ(store_exec(s, srv_files_schema), 0);
    CHECK_EQ(store_exec(s, "DELETE FROM file_chunk; DELETE FROM file_blob; DELETE FROM built_package"), 0);
    snprintf(src, sizeof src, "%s/one.bin", dir);
    unsigned char *one = pattern_file(src, n, 1, sha);
    CHECK_EQ(files_put(s, src, sha, n), 0);
    CHECK_EQ(files_put(s, src, sha, n), 0);      /* the same bytes again: nothing new */
    snprintf(dest, sizeof dest, "%s/back.bin", dir);
    CHECK_EQ(files_fetch(s, sha, dest), 0);
    CHECK(same_file(dest, one, n));
    CHECK_EQ(files_fetch(s, "0000000000000000000000000000000000000000000000000000000000000000", dest), 1);
    CHECK(files_fetch(s, "../etc", dest) < 0);

    /* the cache: by relative stored path, filled once, trimmed oldest first */
    snprintf(cache, sizeof cache, "%s/cache", dir);
    CHECK_EQ(files_stored_name("images", sha, "bin", stored, sizeof stored), 0);
    CHECK_EQ(files_local(s, cache, 10 * FILES_CHUNK, stored, local, sizeof local), 0);
    CHECK(same_file(local, one, n));
    CHECK(files_local(s, cache, 10 * FILES_CHUNK, "images/../x.bin", local, sizeof local) < 0);
    CHECK(files_local(s, cache, 10 * FILES_CHUNK, "other/x.bin", local, sizeof local) < 0);
    CHECK_EQ(files_local(s, cache, 0, "/abs/path.bin", local, sizeof local), 0);
    CHECK(strcmp(local, "/abs/path.bin") == 0);
    char first[600];
    files_local(s, cache, 10 * FILES_CHUNK, stored, first, sizeof first);
    struct utimbuf old = { 1000000, 1000000 };    /* filled long ago */
    CHECK_EQ(utime(first, &old), 0);
    /* older still, but not in the database: the only copy, never trimmed */
    char mine[700];
    snprintf(mine, sizeof mine, "%s/images/%064d.bin", cache, 0);
    unsigned char *own = pattern_file(mine, 1000, 3, sha2);
    struct utimbuf older = { 500000, 500000 };
    CHECK_EQ(utime(mine, &older), 0);
    snprintf(src, sizeof src, "%s/two.bin", dir);
    unsigned char *two = pattern_file(src, n, 2, sha2);
    CHECK_EQ(files_put(s, src, sha2, n), 0);
    CHECK_EQ(files_stored_name("vendor", sha2, "bin", stored, sizeof stored), 0);
    /* room for one: the older goes, the one just filled stays */
    CHECK_EQ(files_local(s, cache, n + 10, stored, local, sizeof local), 0);
    CHECK(same_file(local, two, n));
    CHECK(access(first, F_OK) != 0);
    CHECK(same_file(mine, own, 1000));
    free(own);

    /* built packages by name */
    char found[65];
    CHECK_EQ(files_built_find(s, "fw1-from1103-k.fota", found), 0);
    CHECK_EQ(files_built_put(s, "fw1-from1103-k.fota", src), 0);
    CHECK_EQ(files_built_find(s, "fw1-from1103-k.fota", found), 1);
    CHECK(strcmp(found, sha2) == 0);

    /* a chunk changed in the database: not used, nothing left at dest */
    store_stmt *bad = store_prepare(s, "UPDATE file_chunk SET data=?1 WHERE sha256=?2 AND n=1");
    CHECK(bad);
    if (bad) {
        unsigned char *chunk = malloc(FILES_CHUNK);
        CHECK(chunk != NULL);
        if (chunk) {
            memcpy(chunk, one + FILES_CHUNK, FILES_CHUNK);
            chunk[7] ^= 1;
            store_bind_blob(bad, 1, chunk, FILES_CHUNK);
            store_bind_str(bad, 2, sha);
            CHECK_EQ(store_step(bad), STORE_DONE);
            free(chunk);
        }
        store_finalize(bad);
    }
    snprintf(dest, sizeof dest, "%s/bad.bin", dir);
    CHECK(files_fetch(s, sha, dest) < 0);
    CHECK(access(dest, F_OK) != 0);
    free(one);
    free(two);
}

static void run(const char *loc, const char *state)
{
    char err[256];
    store *s = store_open(loc, err, sizeof err);
    CHECK(s);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    int pg = store_kind_of(s) == STORE_PG;
    CHECK_EQ(store_kind_of(s), store_is_pg(loc) ? STORE_PG : STORE_SQLITE);
    CHECK_EQ(store_exec(s, "DROP TABLE IF EXISTS dev; DROP TABLE IF EXISTS loops"), 0);
    CHECK_EQ(store_exec(s, SCHEMA), 0);
    CHECK_EQ(store_exec(s, SCHEMA), 0);     /* migrations run again are no-ops */

    /* insert with RETURNING id; NULL and text round trip */
    store_stmt *ins = store_prepare(s, "INSERT INTO dev (imei, note) VALUES (?1, ?2) RETURNING id");
    CHECK(ins);
    CHECK_EQ(store_bind_text(ins, 1, "861234567890123", 15), 0);
    CHECK_EQ(store_bind_null(ins, 2), 0);
    CHECK_EQ(store_step(ins), STORE_ROW);
    int64_t id = store_column_int64(ins, 0);
    CHECK(id >= 2);
    CHECK_EQ(store_step(ins), STORE_DONE);
    store_reset(ins);
    /* a duplicate is a conflict (told apart from a failing store), not a
     * crash; the statement stays usable */
    CHECK_EQ(store_step(ins), STORE_CONFLICT);
    CHECK(strlen(store_errmsg(s)) > 0);
    store_reset(ins);
    CHECK_EQ(store_bind_text(ins, 1, "a\0b", 3), STORE_ERR);
    if (pg)
        CHECK_EQ(store_bind_int64(ins, 3, 1), STORE_ERR);
    store_finalize(ins);
    if (pg) /* a failed statement aborted nothing: we are in autocommit */
        CHECK_EQ(store_exec(s, "SELECT 1"), 0);

    store_stmt *sel = store_prepare(s, "SELECT id, imei, note FROM dev WHERE imei = ?1");
    CHECK(sel);
    store_bind_text(sel, 1, "861234567890123", 15);
    CHECK_EQ(store_step(sel), STORE_ROW);
    CHECK_EQ(store_column_count(sel), 3);
    CHECK_EQ(store_column_int64(sel, 0), id);
    CHECK(store_column_text(sel, 1) && strcmp(store_column_text(sel, 1), "861234567890123") == 0);
    CHECK(store_column_is_null(sel, 2));
    CHECK(store_column_text(sel, 2) == NULL);
    {   /* bounded copies: NULL is "", a value that does not fit is "" (never cut) */
        char buf[16] = "x", small[15] = "x";
        CHECK_EQ(store_column_copy(sel, 2, buf, sizeof buf), 0);
        CHECK_EQ(buf[0], 0);
        CHECK_EQ(store_column_copy(sel, 1, buf, sizeof buf), 0);
        CHECK(strcmp(buf, "861234567890123") == 0);
        CHECK_EQ(store_column_copy(sel, 1, small, sizeof small), -1);
        CHECK_EQ(small[0], 0);
    }
    CHECK_EQ(store_step(sel), STORE_DONE);
    store_reset(sel);
    store_bind_text(sel, 1, "000000000000000", 15);
    CHECK_EQ(store_step(sel), STORE_ROW);
    CHECK(store_column_text(sel, 2) && strcmp(store_column_text(sel, 2), "it's ?1 literal") == 0);
    store_reset(sel);

    /* transactions: a rollback leaves nothing */
    CHECK_EQ(store_begin(s), 0);
    store_stmt *up = store_prepare(s, "UPDATE dev SET note = ?1 WHERE id = ?2");
    CHECK(up);
    store_bind_text(up, 1, "x", 1);
    store_bind_int64(up, 2, id);
    CHECK_EQ(store_step(up), STORE_DONE);
    CHECK_EQ(store_changes(up), 1);
    store_reset(up);
    CHECK_EQ(store_rollback(s), 0);
    store_clear_bindings(sel);
    store_bind_text(sel, 1, "861234567890123", 15);
    CHECK_EQ(store_step(sel), STORE_ROW);
    CHECK(store_column_is_null(sel, 2));
    store_reset(sel);
    store_finalize(up);

    CHECK(store_prepare(s, "SELECT nope FROM nowhere") == NULL);
    CHECK(strlen(store_errmsg(s)) > 0);

    /* 16 racing bumps over two connections: exactly the counts 1..16 */
    struct racer r[2] = { { .loc = loc }, { .loc = loc } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    int seen[17] = { 0 }, bad = 0;
    for (int i = 0; i < 2; i++) {
        CHECK(r[i].ok);
        for (int j = 0; j < 8; j++) {
            if (r[i].got[j] >= 1 && r[i].got[j] <= 16)
                seen[r[i].got[j]]++;
            else
                bad++;
        }
    }
    CHECK_EQ(bad, 0);
    for (int k = 1; k <= 16; k++)
        CHECK_EQ(seen[k], 1);

    clock_test(loc);
    lock_test(loc);
    int64_t clock_before = 0, clock_after = 0;
    if (pg) {
        const char *const tables[] = { "dev" };
        CHECK_EQ(store_watch(s, tables, 1), 0);
        CHECK_EQ(store_clock(s, &clock_before), 0);
    }

    /* PostgreSQL goes away and comes back: DOWN while it is away, then the
     * same statement works again after store_reconnect. */
    if (pg && state) {
        char cmd[1024];
        const char *script = getenv("FOTA_PG_CLUSTER");
        CHECK(script != NULL);
        if (script) {
            snprintf(cmd, sizeof cmd, "bash '%s' down '%s'", script, state);
            CHECK_EQ(system(cmd), 0);
            CHECK_EQ(store_step(sel), STORE_DOWN);
            store_reset(sel);
            CHECK_EQ(store_reconnect(s), 0);
            snprintf(cmd, sizeof cmd, "bash '%s' up '%s'", script, state);
            CHECK_EQ(system(cmd), 0);
            CHECK_EQ(store_reconnect(s), 1);
            CHECK_EQ(store_step(sel), STORE_ROW);
            CHECK_EQ(store_column_int64(sel, 0), id);
            store_reset(sel);
            /* notifications may have been missed meanwhile: the clock moved */
            CHECK_EQ(store_clock(s, &clock_after), 0);
            CHECK(clock_after != clock_before);
        }
    }
    store_finalize(sel);

    /* a pipeline: 300 inserts (past its periodic syncs) in one transaction */
    store_stmt *pins = store_prepare(s, "INSERT INTO dev (imei, note) VALUES (?1, 'piped')");
    store_stmt *pcount = store_prepare(s, "SELECT COUNT(*) FROM dev WHERE note='piped'");
    CHECK(pins && pcount);
    CHECK_EQ(store_begin_write(s), 0);
    CHECK_EQ(store_pipeline_begin(s), 0);
    int failed = 0;
    for (int i = 0; pins && i < 300; i++) {
        char imei[16];
        snprintf(imei, sizeof imei, "99%013d", i);
        store_bind_text(pins, 1, imei, 15);
        failed += store_step(pins) != STORE_DONE;
        store_reset(pins);
    }
    CHECK_EQ(failed, 0);
    CHECK_EQ(store_pipeline_end(s), 0);
    CHECK_EQ(store_commit(s), 0);
    CHECK_EQ(store_step(pcount), STORE_ROW);
    CHECK_EQ(store_column_int64(pcount, 0), 300);
    store_reset(pcount);
    /* a conflict inside one: told at its step (SQLite) or at the end (PostgreSQL); rolled back whole,
     * and the store goes on working */
    CHECK_EQ(store_begin_write(s), 0);
    CHECK_EQ(store_pipeline_begin(s), 0);
    store_bind_text(pins, 1, "990000000000999", 15);   /* new */
    int r1 = store_step(pins);
    store_reset(pins);
    store_bind_text(pins, 1, "990000000000007", 15);   /* taken */
    int r2 = store_step(pins);
    store_reset(pins);
    int r3 = store_pipeline_end(s);
    CHECK_EQ(r1, STORE_DONE);
    CHECK(pg ? (r2 == STORE_DONE && r3 == STORE_CONFLICT) : (r2 == STORE_CONFLICT && r3 == 0));
    store_rollback(s);
    CHECK_EQ(store_step(pcount), STORE_ROW);
    CHECK_EQ(store_column_int64(pcount, 0), 300);
    store_reset(pcount);
    store_bind_text(pins, 1, "990000000000998", 15);
    CHECK_EQ(store_step(pins), STORE_DONE);   /* prepared again on the renewed session */
    store_finalize(pins);
    store_finalize(pcount);

    /* the server's own schema (db.c, at.c, rollout.c, console.c) and its
     * hot-path and writer statements prepare on this store too, twice */
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(store_exec(s, "PRAGMA foreign_keys=ON"), 0);
        CHECK_EQ(store_exec(s, srv_db_schema), 0);
        CHECK_EQ(store_exec(s, srv_at_schema), 0);
        CHECK_EQ(store_exec(s, srv_rollout_schema), 0);
        CHECK_EQ(store_exec(s, srv_console_schema), 0);
        CHECK_EQ(store_exec(s, srv_vendor_schema), 0);
    }
    for (int i = 0; i < ST__COUNT; i++) {
        store_stmt *h = store_prepare(s, srv_hot_sql[i]);
        CHECK(h != NULL);
        if (!h)
            fprintf(stderr, "hot %d: %s\n", i, store_errmsg(s));
        store_finalize(h);
    }
    const char *const *w[2] = { srv_writer_sql, srv_rollout_writer_sql };
    int wn[2] = { WS__COUNT, RW__COUNT };
    for (int j = 0; j < 2; j++)
        for (int i = 0; i < wn[j]; i++) {
            store_stmt *h = store_prepare(s, w[j][i]);
            CHECK(h != NULL);
            if (!h)
                fprintf(stderr, "writer %d/%d: %s\n", j, i, store_errmsg(s));
            store_finalize(h);
        }
    /* the device check (registration, ban, the day's count) runs */
    store_stmt *dc = store_prepare(s, srv_hot_sql[ST_DEVICE_CHECK]);
    CHECK(dc != NULL);
    if (dc) {
        store_bind_text(dc, 1, "861234567890123", 15);
        store_bind_int64(dc, 2, 0);
        CHECK_EQ(store_step(dc), STORE_ROW);
        CHECK_EQ(store_column_int64(dc, 0), 0);     /* not registered */
        CHECK_EQ(store_column_int64(dc, 4), 0);
        store_finalize(dc);
    }
    /* PostgreSQL's day count of deliveries: read by every check, claimed
     * atomically (the count before returned) by deliveries only */
    if (store_kind_of(s) == STORE_PG) {
        store_stmt *rd = store_prepare(s, srv_pg_count_sql[PG_DEVICE_READ]);
        store_stmt *claim = store_prepare(s, srv_pg_count_sql[PG_DEVICE_CLAIM]);
        CHECK(rd && claim);
        for (int i = 0; rd && claim && i < 4; i++) {
            store_bind_text(rd, 1, "861234567890123", 15);
            store_bind_int64(rd, 2, 86400000);
            CHECK_EQ(store_step(rd), STORE_ROW);
            CHECK_EQ(store_column_int64(rd, 0), 0);   /* not registered */
            CHECK_EQ(store_column_int64(rd, 4), i);   /* a read counts nothing */
            store_reset(rd);
            if (i == 3) break;
            store_bind_text(claim, 1, "861234567890123", 15);
            store_bind_int64(claim, 2, 86400000);
            CHECK_EQ(store_step(claim), STORE_ROW);
            CHECK_EQ(store_column_int64(claim, 0), i);
            store_reset(claim);
        }
        /* another day's count is its own */
        if (claim) {
            store_bind_text(claim, 1, "861234567890123", 15);
            store_bind_int64(claim, 2, 2 * 86400000);
            CHECK_EQ(store_step(claim), STORE_ROW);
            CHECK_EQ(store_column_int64(claim, 0), 0);
        }
        store_finalize(rd);
        store_finalize(claim);
    }
    files_test(s);
    store_close(s);
}

int main(void)
{
    dialect();
    char err[256];
    CHECK(store_open("", err, sizeof err) == NULL);
    CHECK(store_open("postgresql://nobody@127.0.0.1:1/none", err, sizeof err) == NULL);
    CHECK(strlen(err) > 0);
    CHECK(store_is_pg("postgres://x/y") && store_is_pg("postgresql://x/y") && !store_is_pg("fota.db"));

    /* an unreachable PostgreSQL fails the open and creates no file of its name */
    srv_db d;
    CHECK_EQ(db_open(&d, "postgresql://postgres@127.0.0.1:1/x", NULL, 0), -1);
    CHECK(access("postgresql:", F_OK) != 0);

    const char *state = getenv("FOTA_TEST_DB_FILE");
    if (state) {
        size_t n = 0;
        char *url = (char *)ctest_read_file(state, &n);
        CHECK(url != NULL);
        if (url) {
            while (n && (url[n - 1] == '\n' || url[n - 1] == ' '))
                url[--n] = 0;
            run(url, state);
            free(url);
        }
        return ctest_finish("test_store (PostgreSQL)");
    }
    char path[512];
    snprintf(path, sizeof path, "%s/store.db", ctest_tmpdir("test_store"));
    run(path, NULL);
    return ctest_finish("test_store (SQLite)");
}
