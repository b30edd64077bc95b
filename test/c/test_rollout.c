/* Staged rollouts (server/rollout.c) against real servers: two fota-server
 * instances in this process over one database (as two processes would be:
 * each has its own connections), devices over loopback. Wave membership by
 * the stable hash (and stable across advances), advance by command and on
 * a schedule, the automatic pause when a wave's failures pass the
 * threshold, resume, abort, and the commands' refusals. Every wait is
 * bounded; no timing is asserted. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "schema.h"
#include "validate.h"
#include "ctest_util.h"
#include "rollout.h"

#define FW "p_LuatOS-SoC_B"
#define OLD "1103.1.4"
#define NEW "1104.1.4"

static void nap_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One request to port; returns the HTTP status, *code the JSON code (0 for
 * a package) and msg (the JSON msg, or ""). */
static int ask(unsigned port, const char *imei, const char *version, const char *range, int *code, char *msg,
               size_t msgcap)
{
    char req[512], resp[16384];
    snprintf(req, sizeof req,
             "GET /api/site/firmware_upgrade?project_key=KEY1&firmware_name=" FW "&version=%s&imei=%s HTTP/1.1\r\n"
             "Host: x\r\n%s%s%sConnection: close\r\n\r\n",
             version, imei, range ? "Range: bytes=" : "", range ? range : "", range ? "\r\n" : "");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    size_t n = strlen(req), got = 0;
    if (write(fd, req, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    struct pollfd p = { fd, POLLIN, 0 };
    while (got < sizeof resp - 1 && poll(&p, 1, 5000) == 1) {
        ssize_t r = read(fd, resp + got, sizeof resp - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) return -1;
    const char *c = strstr(resp, "\"code\":");
    *code = c && status >= 300 ? atoi(c + 7) : 0;
    if (msg) {
        msg[0] = '\0';
        const char *m = status >= 300 ? strstr(resp, "\"msg\":\"") : NULL;
        if (m) {
            m += 7;
            size_t k = 0;
            while (m[k] && m[k] != '"' && k + 1 < msgcap) k++;
            memcpy(msg, m, k);
            msg[k] = '\0';
        }
    }
    return status;
}


static void test_units(void)
{
    uint32_t bp[SRV_ROLLOUT_WAVES_MAX];
    int n = 0;
    CHECK(srv_rollout_parse_waves("1,10,50,100", bp, &n) == 0 && n == 4);
    CHECK(bp[0] == 100 && bp[1] == 1000 && bp[2] == 5000 && bp[3] == 10000);
    CHECK(srv_rollout_parse_waves("0.5,2.25,100", bp, &n) == 0 && n == 3 && bp[0] == 50 && bp[1] == 225);
    const char *bad[] = { "", "0", "10,5", "10,10", "101", "100.01", "1,,2", "1,", "a", "1.234", "-1",
                          "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(srv_rollout_parse_waves(bad[i], bp, &n) == -1);
    CHECK(srv_rollout_parse_bp("100,1000,10000", bp, &n) == 0 && n == 3 && bp[2] == 10000);
    CHECK(srv_rollout_parse_bp("100,50", bp, &n) == -1);
    CHECK(srv_rollout_parse_bp("10001", bp, &n) == -1);
    uint32_t p;
    CHECK(srv_rollout_parse_percent("5", &p) == 0 && p == 500);
    CHECK(srv_rollout_parse_percent("0", &p) == 0 && p == 0);
    CHECK(srv_rollout_parse_percent("12.5", &p) == 0 && p == 1250);
    CHECK(srv_rollout_parse_percent("100.5", &p) == -1);
    int64_t ms;
    CHECK(srv_rollout_parse_duration("1h", &ms) == 0 && ms == 3600000);
    CHECK(srv_rollout_parse_duration("500ms", &ms) == 0 && ms == 500);
    CHECK(srv_rollout_parse_duration("2d", &ms) == 0 && ms == 2 * 86400000LL);
    CHECK(srv_rollout_parse_duration("0s", &ms) == -1);
    CHECK(srv_rollout_parse_duration("367d", &ms) == -1);
    CHECK(srv_rollout_parse_duration("1w", &ms) == -1);
    CHECK(srv_rollout_parse_duration("h", &ms) == -1);
    /* the bucket: the first 8 bytes of SHA-256("<id><imei>") mod 10000 */
    uint8_t h[32];
    ctest_sha256((const uint8_t *)"7490154203237518", 16, h);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | h[i];
    CHECK_EQ(srv_rollout_bucket(7, "490154203237518"), v % 10000);
    CHECK_EQ(srv_rollout_bucket(7, "490154203237518"), srv_rollout_bucket(7, "490154203237518"));
    /* spread: of 10000 IMEIs about 10 % are below 1000 */
    int below = 0;
    for (unsigned long i = 0; i < 10000; i++) {
        char imei[16];
        ctest_imei("86", i, imei);
        below += srv_rollout_bucket(3, imei) < 1000;
    }
    CHECK(below > 850 && below < 1150);
    uint32_t w[] = { 100, 1000, 10000 };
    CHECK(srv_rollout_wave_of(w, 3, 99) == 0 && srv_rollout_wave_of(w, 3, 100) == 1);
    CHECK(srv_rollout_wave_of(w, 3, 9999) == 2 && srv_rollout_wave_of(w, 2, 5000) == -1);
}

static void make_store(const char *dir, const char *db_path)
{
    char core[512], script[512];
    snprintf(core, sizeof core, "%s/core.bin", dir);
    snprintf(script, sizeof script, "%s/main.lua", dir);
    FILE *f = fopen(core, "wb");
    for (int i = 0; i < 4096; i++) fputc(i * 13, f);
    fclose(f);
    f = fopen(script, "w");
    fputs("VERSION = \"1.2.4\"\n", f);
    fclose(f);
    srv_db d;
    CHECK(db_open(&d, db_path, dir, 0) == 0);
    CHECK(cmd_project_add(&d, "p", "KEY1", NULL) == 0);
    CHECK(cmd_firmware_add(&d, NULL, "p", NULL, "B", "V1104", core, script, "1.2.4", NULL) == 0);
    CHECK(cmd_config_set(&d, NULL, "p", FW, NULL, NULL, NULL, NULL, NULL, NULL) == 0);
    db_close(&d);
}

static unsigned start_opts(srv_server *s, const char *dir, const char *db_path, const char *name, int cache_ms,
                           unsigned build_delay_ms)
{
    char port_file[512];
    snprintf(port_file, sizeof port_file, "%s/%s.port", dir, name);
    srv_serve_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db_path;
    o.listen = "127.0.0.1:0";
    o.port_file = port_file;
    o.threads = 2;
    o.flush_ms = 20;
    o.per_address = 1000;
    o.cache_ms = cache_ms;
    o.build_delay_ms = build_delay_ms;
    CHECK(srv_start(s, &o) == 0);
    unsigned port = 0;
    FILE *f = fopen(port_file, "r");
    CHECK(f && fscanf(f, "%u", &port) == 1);
    if (f) fclose(f);
    return port;
}

static unsigned start_with(srv_server *s, const char *dir, const char *db_path, const char *name, int cache_ms)
{
    return start_opts(s, dir, db_path, name, cache_ms, 0);
}

static unsigned start(srv_server *s, const char *dir, const char *db_path, const char *name)
{
    return start_with(s, dir, db_path, name, 0);
}

/* A rollout command on its own connection, as the CLI runs it. */
static int rollout(const char *db_path, const char *what, const char *waves, const char *every, const char *maxf,
                   const char *minout)
{
    srv_db d;
    if (db_open(&d, db_path, NULL, 0)) return -1;
    int rc = cmd_rollout(&d, NULL, what, "p", FW, waves, every, maxf, minout);
    db_close(&d);
    return rc;
}

static int64_t one_int(const char *db_path, const char *sql)
{
    char err[256];
    store *db = store_open(db_path, err, sizeof err);
    store_stmt *st = db ? store_prepare(db, sql) : NULL;
    int64_t v = -1;
    if (st && store_step(st) == STORE_ROW) v = store_column_int64(st, 0);
    store_finalize(st);
    store_close(db);
    return v;
}

/* The status JSON (read on its own connection). */
static void status(const char *db_path, char *out, size_t cap)
{
    char err[256];
    store *db = store_open(db_path, err, sizeof err);
    out[0] = '\0';
    if (db) CHECK(srv_rollout_status_json(db, "p", FW, srv_now_ms(), out, cap) == 0);
    store_close(db);
}

/* Waits (bounded) until the status holds text. */
static int wait_status(const char *db_path, const char *text, int limit_ms)
{
    char js[SRV_ROLLOUT_JSON_MAX];
    for (int waited = 0; waited <= limit_ms; waited += 50) {
        status(db_path, js, sizeof js);
        if (strstr(js, text)) return 1;
        nap_ms(50);
    }
    fprintf(stderr, "status without '%s': %s\n", text, js);
    return 0;
}

/* Waits until the log writer has written n rows in all (bounded). */
static void wait_rows(const char *db_path, int64_t n)
{
    for (int i = 0; i < 200 && one_int(db_path, "SELECT COUNT(*) FROM log WHERE code<>43") < n; i++) nap_ms(20);
}

#define DEVICES 300

/* db: a PostgreSQL database's URL, or NULL for a SQLite file in dir */
static void test_rollout(const char *dir, const char *db)
{
    char db_path[512], msg[SRV_MSG_MAX], imei[16];
    int code = -1, st;
    if (db) snprintf(db_path, sizeof db_path, "%s", db);
    else snprintf(db_path, sizeof db_path, "%s/rollout.db", dir);
    make_store(dir, db_path);

    /* refusals before any server runs */
    CHECK_EQ(rollout(db_path, "start", "10,5", NULL, NULL, NULL), EXIT_USAGE_ERR);
    CHECK_EQ(rollout(db_path, "start", "10,50", "1w", NULL, NULL), EXIT_USAGE_ERR);
    CHECK_EQ(rollout(db_path, "start", "10,50", NULL, "200", NULL), EXIT_USAGE_ERR);
    CHECK_EQ(rollout(db_path, "start", "10,50", NULL, NULL, "0"), EXIT_USAGE_ERR);
    CHECK_EQ(rollout(db_path, "pause", NULL, NULL, NULL, NULL), EXIT_USAGE_ERR);   /* none running */
    {
        srv_db d;
        CHECK(db_open(&d, db_path, NULL, 0) == 0);
        CHECK_EQ(cmd_rollout(&d, NULL, "status", "p", "nosuch_LuatOS-SoC_B", NULL, NULL, NULL, NULL), EXIT_USAGE_ERR);
        db_close(&d);
    }
    CHECK_EQ(rollout(db_path, "start", "10,50,100", NULL, "20", "6"), 0);
    CHECK_EQ(rollout(db_path, "start", "10,50,100", NULL, NULL, NULL), EXIT_USAGE_ERR);   /* one live */
    CHECK_EQ(rollout(db_path, "resume", NULL, NULL, NULL, NULL), EXIT_USAGE_ERR);         /* not paused */
    int64_t rid = one_int(db_path, "SELECT MAX(id) FROM rollout");
    CHECK(rid > 0);

    srv_server *s1 = calloc(1, sizeof *s1), *s2 = calloc(1, sizeof *s2);
    unsigned p1 = start(s1, dir, db_path, "s1"), p2 = start(s2, dir, db_path, "s2");

    /* the package for V1103 is built on first demand (43): wait for it,
     * with a device of wave 1 that is not one of the DEVICES below */
    unsigned long prime = 0;
    for (unsigned long i = 100000; i < 101000 && !prime; i++) {
        ctest_imei("86", i, imei);
        if (srv_rollout_bucket(rid, imei) < 1000) prime = i;
    }
    ctest_imei("86", prime, imei);
    for (int i = 0; i < 200 && (st = ask(p1, imei, OLD, NULL, &code, msg, sizeof msg)) != 200; i++) nap_ms(30);
    CHECK_EQ(st, 200);

    /* wave 1 (10 %): exactly the devices whose bucket is below 1000 get
     * the package, from either server; the others hear 27 */
    int in1[DEVICES], got = 0, want = 0, asked = 1;
    for (int i = 0; i < DEVICES; i++) {
        ctest_imei("86", (unsigned long)i + 1, imei);
        in1[i] = srv_rollout_bucket(rid, imei) < 1000;
        /* PostgreSQL: s2 takes the package from the database into its own
         * cache on first demand: 43 meanwhile, and the device comes back
         * (43 is not logged as an answer below: code<>43) */
        for (int k = 0; (st = ask(i % 2 ? p2 : p1, imei, OLD, NULL, &code, msg, sizeof msg)) == 503 && code == 43 &&
                        k < 200; k++)
            nap_ms(30);
        asked++;
        want += in1[i];
        if (in1[i]) {
            got += st == 200;
        } else {
            CHECK(st == 404 && code == 27);
            CHECK(strstr(msg, "not in the rollout") != NULL);
        }
    }
    CHECK_EQ(got, want);
    CHECK(want > 10 && want < 60);
    printf("wave 1 (10%%): %d of %d devices sent the package\n", want, DEVICES);
    wait_rows(db_path, asked);
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM rollout_device WHERE state=1"), want + 1);

    /* advance by command: 50 %. A wave-1 device stays in (a resume, which
     * is never an outcome); the newly open ones get it now */
    CHECK_EQ(rollout(db_path, "advance", NULL, NULL, NULL, NULL), 0);
    CHECK(wait_status(db_path, "\"wave\":2,\"share_percent\":50", 0));
    int in2 = 0, got2 = 0;
    for (int i = 0; i < DEVICES; i++) {
        ctest_imei("86", (unsigned long)i + 1, imei);
        uint32_t b = srv_rollout_bucket(rid, imei);
        if (in1[i]) {
            st = ask(i % 2 ? p1 : p2, imei, OLD, "10-", &code, msg, sizeof msg);
            CHECK_EQ(st, 206);
        } else {
            st = ask(i % 2 ? p1 : p2, imei, OLD, NULL, &code, msg, sizeof msg);
            if (b < 5000) {
                in2++;
                got2 += st == 200;
            } else {
                CHECK(st == 404 && code == 27);
            }
        }
        asked++;
    }
    CHECK_EQ(got2, in2);
    CHECK(in2 > 80 && in2 < 170);
    printf("wave 2 (50%%): %d more devices sent the package\n", in2);
    /* A device downloads and reboots before it comes back: its package's
     * row (queued by the other server) is written by then. */
    wait_rows(db_path, asked);

    /* outcomes: every wave-2 device comes back upgraded; in wave 1, one in
     * two comes back on its old version (rolled back): 50 % > 20 % */
    int up = 0, failed = 0, k1 = 0;
    for (int i = 0; i < DEVICES; i++) {
        ctest_imei("86", (unsigned long)i + 1, imei);
        uint32_t b = srv_rollout_bucket(rid, imei);
        if (!in1[i] && b >= 5000) continue;
        int fail_it = in1[i] && k1++ % 2 == 0;
        st = ask(i % 2 ? p2 : p1, imei, fail_it ? OLD : NEW, NULL, &code, msg, sizeof msg);
        asked++;
        if (fail_it) {
            failed++;
            /* still in the wave: offered again, unless the pause came first */
            CHECK(st == 200 || (st == 404 && code == 27));
        } else {
            up++;
            CHECK(st == 404 && code == 27);
        }
    }
    CHECK(failed >= 4);   /* above --min-outcomes 6 in wave 1, with the upgrades */
    CHECK(wait_status(db_path, "\"state\":\"paused\"", 5000));
    CHECK(wait_status(db_path, "failure rate over the threshold", 0));
    wait_rows(db_path, asked);
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM rollout_device WHERE state=3"), failed);
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM rollout_device WHERE state=2"), up);
    char js[SRV_ROLLOUT_JSON_MAX], frag[128];
    status(db_path, js, sizeof js);
    snprintf(frag, sizeof frag, "\"upgraded\":%d,\"failed\":%d}", up, failed);
    CHECK(strstr(js, frag) != NULL);
    printf("paused: %d upgraded, %d failed; %s\n", up, failed, js);

    /* paused: a device of an open wave that never had it hears 27; the
     * outcome of one sent before is still recorded */
    unsigned long fresh = 0;
    for (unsigned long i = 200000; i < 201000 && !fresh; i++) {
        ctest_imei("86", i, imei);
        if (srv_rollout_bucket(rid, imei) < 5000) fresh = i;
    }
    ctest_imei("86", fresh, imei);
    st = ask(p1, imei, OLD, NULL, &code, msg, sizeof msg);
    CHECK(st == 404 && code == 27 && strstr(msg, "paused") != NULL);
    asked++;

    /* resume: judged afresh from now, so it runs; the new device gets it */
    CHECK_EQ(rollout(db_path, "resume", NULL, NULL, NULL, NULL), 0);
    CHECK(wait_status(db_path, "\"state\":\"running\"", 0));
    st = ask(p2, imei, OLD, NULL, &code, msg, sizeof msg);
    CHECK_EQ(st, 200);
    asked++;
    nap_ms(1500);   /* more than a tick: the old failures do not pause it again */
    CHECK(wait_status(db_path, "\"state\":\"running\"", 0));

    /* abort: nobody gets it any more */
    CHECK_EQ(rollout(db_path, "abort", NULL, NULL, NULL, NULL), 0);
    CHECK(wait_status(db_path, "\"state\":\"aborted\"", 0));
    ctest_imei("86", prime, imei);
    st = ask(p1, imei, OLD, "10-", &code, msg, sizeof msg);
    CHECK(st == 404 && code == 27 && strstr(msg, "aborted") != NULL);
    asked++;
    CHECK_EQ(rollout(db_path, "advance", NULL, NULL, NULL, NULL), EXIT_USAGE_ERR);

    /* on a schedule: 1 %, then 100 % after 300 ms (the servers tick every
     * second); the last wave is everyone */
    CHECK_EQ(rollout(db_path, "start", "1,100", "300ms", "50", NULL), 0);
    int64_t rid2 = one_int(db_path, "SELECT MAX(id) FROM rollout");
    CHECK(rid2 > rid);
    CHECK(wait_status(db_path, "\"wave\":2,\"share_percent\":100", 5000));
    CHECK_EQ(rollout(db_path, "advance", NULL, NULL, NULL, NULL), EXIT_USAGE_ERR);   /* at the last wave */
    unsigned long out = 0;
    for (unsigned long i = 300000; i < 301000 && !out; i++) {
        ctest_imei("86", i, imei);
        if (srv_rollout_bucket(rid2, imei) >= 100) out = i;
    }
    ctest_imei("86", out, imei);
    CHECK_EQ(ask(p2, imei, OLD, NULL, &code, msg, sizeof msg), 200);
    asked++;

    srv_stop(s1);
    srv_stop(s2);
    free(s1);
    free(s2);
    /* every check logged once, by one of the two servers */
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM log WHERE code<>43"), asked);
}

/* A database made before rollouts existed: opening it adds the tables,
 * and its configuration answers as before. */
static void test_migration(const char *dir)
{
    char db_path[512];
    snprintf(db_path, sizeof db_path, "%s/old.db", dir);
    make_store(dir, db_path);
    sqlite3 *db;
    CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP INDEX rollout_live; DROP TABLE rollout_device; DROP TABLE rollout;", NULL, NULL,
                       NULL) == SQLITE_OK);
    sqlite3_close(db);
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'rollout%'"), 0);
    /* and without the configuration cache (--cache-ms 0): every check reads
     * the configuration, a rollout started meanwhile decides at once */
    srv_server *s = calloc(1, sizeof *s);
    unsigned port = start_with(s, dir, db_path, "old", -1);
    char imei[16], msg[SRV_MSG_MAX];
    int code = -1;
    ctest_imei("86", 42, imei);
    CHECK_EQ(ask(port, imei, NEW, NULL, &code, msg, sizeof msg), 404);
    CHECK_EQ(code, 27);
    CHECK_EQ(one_int(db_path, "SELECT COUNT(*) FROM sqlite_master WHERE name LIKE 'rollout%'"), 3);
    CHECK_EQ(rollout(db_path, "start", "50,100", NULL, NULL, NULL), 0);
    int64_t rid = one_int(db_path, "SELECT MAX(id) FROM rollout");
    unsigned long out = 0;
    for (unsigned long i = 400000; i < 401000 && !out; i++) {
        ctest_imei("86", i, imei);
        if (srv_rollout_bucket(rid, imei) >= 5000) out = i;
    }
    ctest_imei("86", out, imei);
    CHECK_EQ(ask(port, imei, OLD, NULL, &code, msg, sizeof msg), 404);
    CHECK(code == 27 && strstr(msg, "not in the rollout") != NULL);
    srv_stop(s);
    free(s);
}

/* A fresh database on the test's PostgreSQL cluster (FOTA_TEST_DB_FILE
 * holds its URL, ending in /postgres): 0, or -1. */
static int pg_database(const char *what, char *url, size_t cap)
{
    size_t n = 0;
    char *base = (char *)ctest_read_file(getenv("FOTA_TEST_DB_FILE"), &n);
    if (!base) return -1;
    while (n && (base[n - 1] == '\n' || base[n - 1] == ' ')) base[--n] = 0;
    char err[256], sql[128], name[64];
    snprintf(name, sizeof name, "fota_%s_%ld", what, (long)getpid());
    store *s = store_open(base, err, sizeof err);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s", name);
    int rc = s && store_exec(s, sql) == 0 ? 0 : -1;
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", name);
    if (rc == 0 && store_exec(s, sql) != 0) rc = -1;
    store_close(s);
    char *slash = strrchr(base, '/');
    if (rc == 0 && slash && (size_t)(slash - base) + strlen(name) + 2 <= cap)
        snprintf(url, cap, "%.*s/%s", (int)(slash - base), base, name);
    else rc = -1;
    free(base);
    return rc;
}

typedef struct racer {
    unsigned port;
    const char *imei;
    pthread_barrier_t *go;
    int status, code;
} racer;

static void *race(void *arg)
{
    racer *r = arg;
    pthread_barrier_wait(r->go);
    r->status = ask(r->port, r->imei, OLD, NULL, &r->code, NULL, 0);
    return NULL;
}

/* Two instances over one PostgreSQL: a package is built by one of them
 * (the claim), and the day's count is the database's: 16 racing requests
 * of one device across both give exactly 6 packages, then bans. */
static void test_instances(const char *dir, const char *url)
{
    char imei[16], msg[SRV_MSG_MAX];
    int code = -1, st = 0;
    make_store(dir, url);
    srv_server *s1 = calloc(1, sizeof *s1), *s2 = calloc(1, sizeof *s2);
    unsigned p1 = start_opts(s1, dir, url, "i1", 0, 800), p2 = start_opts(s2, dir, url, "i2", 0, 800);
    ctest_imei("86", 500001, imei);
    CHECK_EQ(ask(p1, imei, OLD, NULL, &code, msg, sizeof msg), 503);   /* s1 claims the build */
    CHECK_EQ(code, 43);
    ctest_imei("86", 500002, imei);
    CHECK_EQ(ask(p2, imei, OLD, NULL, &code, msg, sizeof msg), 503);   /* s2 waits for it */
    CHECK_EQ(code, 43);
    ctest_imei("86", 500001, imei);
    for (int i = 0; i < 200 && (st = ask(p1, imei, OLD, NULL, &code, msg, sizeof msg)) != 200; i++) nap_ms(30);
    CHECK_EQ(st, 200);
    ctest_imei("86", 500002, imei);
    for (int i = 0; i < 200 && (st = ask(p2, imei, OLD, NULL, &code, msg, sizeof msg)) != 200; i++) nap_ms(30);
    CHECK_EQ(st, 200);

    enum { RACERS = 16 };
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, RACERS);
    racer r[RACERS];
    pthread_t t[RACERS];
    ctest_imei("86", 500003, imei);
    for (int i = 0; i < RACERS; i++) {
        r[i] = (racer){ i % 2 ? p2 : p1, imei, &go, 0, -1 };
        CHECK(pthread_create(&t[i], NULL, race, &r[i]) == 0);
    }
    int packages = 0, bans = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        packages += r[i].status == 200;
        bans += r[i].status == 403 && r[i].code == 40;
    }
    pthread_barrier_destroy(&go);
    printf("16 racing requests over two instances: %d packages, %d loop bans\n", packages, bans);
    CHECK_EQ(packages, 6);
    CHECK_EQ(bans, RACERS - 6);
    srv_stop(s1);
    srv_stop(s2);
    /* built once: s1 built it, s2 took it from the database (each has a cache of its own) */
    CHECK_EQ(s1->builder.built, 1);
    CHECK_EQ(s2->builder.built, 0);
    CHECK_EQ(s2->builder.fetched, 1);
    free(s1);
    free(s2);
    char q[128];
    snprintf(q, sizeof q, "SELECT banned FROM device WHERE imei='%s'", imei);
    CHECK_EQ(one_int(url, q), 1);
    snprintf(q, sizeof q, "SELECT COUNT(*) FROM log WHERE imei='%s'", imei);
    CHECK_EQ(one_int(url, q), RACERS);
}

int main(void)
{
    test_units();
    const char *dir = ctest_tmpdir(getenv("FOTA_TEST_DB_FILE") ? "rollout_pg" : "rollout");   /* both may run at once */
    CHECK(dir != NULL);
    if (getenv("FOTA_TEST_DB_FILE")) {   /* the same rollout, two servers over one PostgreSQL */
        char url[512], url2[512], dir2[600];
        CHECK_EQ(pg_database("rollout", url, sizeof url), 0);
        if (dir) test_rollout(dir, url);
        CHECK_EQ(pg_database("instances", url2, sizeof url2), 0);
        snprintf(dir2, sizeof dir2, "%s/instances", dir ? dir : ".");
        CHECK(mkdir(dir2, 0700) == 0 || errno == EEXIST);
        if (dir) test_instances(dir2, url2);
        return ctest_finish("test_rollout (PostgreSQL)");
    }
    if (dir) test_rollout(dir, NULL);
    if (dir) test_migration(dir);
    return ctest_finish("test_rollout");
}
