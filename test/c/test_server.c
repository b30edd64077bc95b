/* fota-server in process: input validation, and many concurrent requests
 * (the loop-upgrade count of deliveries stays exact under races; every request is
 * logged once, including those still queued at shutdown); hostile clients
 * (slowloris, idle floods, hundreds of parameters, a GET with a body,
 * Range-only loops, modules behind one NAT address among them) and a
 * database held by another writer. Every wait is
 * bounded; the clients use other loopback addresses (127.0.0.x) to look
 * like other hosts. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "head.h"
#include "ops.h"
#include "schema.h"
#include "validate.h"
#include "ctest_util.h"

static void test_validation(void)
{
    char v[SRV_VER_MAX];
    CHECK(srv_version_canon("1103.1.3", 8, v) && strcmp(v, "1103.1.3") == 0);
    CHECK(srv_version_canon("01103.001.03", 12, v) && strcmp(v, "1103.1.3") == 0);
    CHECK(srv_version_canon("0.0.0", 5, v) && strcmp(v, "0.0.0") == 0);
    CHECK(!srv_version_canon("1.0", 3, v));
    CHECK(!srv_version_canon("1.0.2a", 6, v));
    CHECK(!srv_version_canon("1..2", 4, v));
    CHECK(!srv_version_canon("1.0.2.", 6, v));
    CHECK(!srv_version_canon("1234567890.1.1", 14, v));   /* part over 9 digits */
    CHECK(!srv_version_canon("1.2\0.3", 6, v));           /* embedded NUL */
    CHECK(srv_is_imei("490154203237518", 15) && srv_imei_luhn("490154203237518"));
    CHECK(!srv_imei_luhn("490154203237519"));
    CHECK(!srv_is_imei("49015420323751", 14));
    CHECK(!srv_is_imei("49015420323751x", 15));
    CHECK(srv_is_key("Ab_9-", 5) && !srv_is_key("a b", 3) && !srv_is_key("", 0));
    char long_key[SRV_KEY_MAX + 2];
    memset(long_key, 'k', sizeof long_key);
    CHECK(srv_is_key(long_key, SRV_KEY_MAX) && !srv_is_key(long_key, SRV_KEY_MAX + 1));
    CHECK(srv_is_name("demo_LuatOS-SoC_EC618", 21) && !srv_is_name("a/b", 3) && !srv_is_name("a'b", 3));

    /* project names: UTF-8 characters, not bytes; no controls, no broken sequences */
#define PN(s) srv_is_project_name(s, sizeof s - 1)
    CHECK(PN("Air7XXE标准模块") && PN("a/b 'c' \"d\"") && PN("\xf0\x9f\x98\x80") && PN("\xc2\xa0"));
    CHECK(!PN("") && !PN("a\tb") && !PN("a\x7f") && !PN("\xc2\x85") && !PN("a\0b"));   /* empty, C0, DEL, C1, NUL */
    CHECK(!PN("\xc0\xaf") && !PN("\xe0\x80\xaf") && !PN("\xf0\x80\x80\xaf"));          /* overlong '/' */
    CHECK(!PN("\xed\xa0\x80") && !PN("\xf4\x90\x80\x80") && !PN("\xe6\xa0") && !PN("\x80") && !PN("\xff"));
#undef PN
    char cjk[65 * 3 + 1];
    for (int i = 0; i < 65; i++) memcpy(cjk + 3 * i, "\xe6\xa8\xa1", 3);   /* 模 */
    CHECK(srv_is_project_name(cjk, 64 * 3) && !srv_is_project_name(cjk, 65 * 3) && !srv_is_project_name(cjk, 64 * 3 - 1));
    CHECK(srv_is_fwname("\xe6\xb5\x8b_LuatOS-SoC_EC618", 20) && !srv_is_fwname("a\nb", 3));
    char cut[] = "ab\xe6\xa8\xa1\xe6\xa8";   /* a message cut inside its last character */
    srv_utf8_trim(cut);
    CHECK(strcmp(cut, "ab\xe6\xa8\xa1") == 0);
    srv_utf8_trim(cut);
    CHECK(strcmp(cut, "ab\xe6\xa8\xa1") == 0);
}

static unsigned g_port;   /* set once before the client threads start */

/* A connection to the server from src (NULL = 127.0.0.1), or -1. */
static int connect_from(const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    if (fd >= 0 && src) {
        inet_pton(AF_INET, src, &sa.sin_addr);
        if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            close(fd);
            return -1;
        }
    }
    sa.sin_port = htons((uint16_t)g_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* Reads until the server closes, cap is full or timeout_ms pass; NUL-terminated. */
static size_t read_all(int fd, char *resp, size_t cap, int timeout_ms)
{
    size_t got = 0;
    struct pollfd p = { fd, POLLIN, 0 };
    while (got < cap - 1 && poll(&p, 1, timeout_ms) == 1) {
        ssize_t r = read(fd, resp + got, cap - 1 - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    return got;
}

/* Sends req from src, reads the answer into resp; returns the HTTP status
 * and the JSON "code" (0 for a package), or -1. */
static int exchange_n(const char *src, const char *req, size_t n, char *resp, size_t cap, int *code)
{
    int fd = connect_from(src);
    if (fd < 0) return -1;
    if (write(fd, req, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    read_all(fd, resp, cap, 5000);
    close(fd);
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) return -1;
    const char *c = strstr(resp, "\"code\":");
    *code = c ? atoi(c + 7) : 0;
    return status;
}

static int exchange(const char *src, const char *req, char *resp, size_t cap, int *code)
{
    return exchange_n(src, req, strlen(req), resp, cap, code);
}

#define QUERY "GET /api/site/firmware_upgrade?project_key=KEY1&firmware_name=p_LuatOS-SoC_B"

/* One GET; returns the HTTP status and the JSON "code" (or 0 for a package). */
static int get(const char *imei, const char *version, int *code)
{
    char req[512];
    static __thread char resp[8192];
    snprintf(req, sizeof req, QUERY "&version=%s&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             version, imei);
    return exchange(NULL, req, resp, sizeof resp, code);
}


#define THREADS 8
#define PER_THREAD 40

static int g_results[THREADS][PER_THREAD];

static void *distinct_devices(void *arg)
{
    long t = (long)arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char imei[16];
        int code = -1;
        ctest_imei("35", (unsigned long)(t * 1000 + i + 1), imei);
        int status = get(imei, "1104.1.4", &code);   /* already latest */
        g_results[t][i] = status == 404 ? code : -status;
    }
    return NULL;
}

/* Two downloads of the package (from V1103) by one device: 0 for a 200,
 * else the code. */
static void *same_device(void *arg)
{
    long t = (long)arg;
    char imei[16];
    ctest_imei("35", 999999, imei);
    for (int i = 0; i < 2; i++) {
        int code = -1;
        int status = get(imei, "1103.1.4", &code);
        g_results[t][i] = status == 200 ? 0 : status > 0 ? code : -1;
    }
    return NULL;
}

/* GETs from imei until the package is built (200, bounded): "please wait"
 * answers before it. Returns the last status. */
static int get_built(const char *imei, const char *version)
{
    int code = -1, status = 0;
    for (int i = 0; i < 100 && (status = get(imei, version, &code)) != 200; i++) {
        struct timespec nap = { 0, 50 * 1000000L };
        nanosleep(&nap, NULL);
    }
    return status;
}

/* A project p (key KEY1) with release V1104 (the image core) + 1.2.4 for
 * every device, in the store at db_path. */
static void store_release(const char *dir, const char *core, const char *db_path)
{
    char script[512];
    snprintf(script, sizeof script, "%s/main.lua", dir);
    FILE *f = fopen(script, "w");
    fputs("VERSION = \"1.2.4\"\n", f);
    fclose(f);
    srv_db d;
    CHECK(db_open(&d, db_path, NULL, 0) == 0);
    CHECK(cmd_project_add(&d, "p", "KEY1", NULL) == 0);
    CHECK(cmd_firmware_add(&d, NULL, "p", NULL, "B", "V1104", core, script, "1.2.4", NULL) == 0);
    CHECK(cmd_config_set(&d, NULL, "p", "p_LuatOS-SoC_B", NULL, NULL, NULL, NULL, NULL, NULL) == 0);
    db_close(&d);
}

/* The same with a 4 KiB image. */
static void make_store(const char *dir, const char *db_path)
{
    char core[512];
    snprintf(core, sizeof core, "%s/core.bin", dir);
    FILE *f = fopen(core, "wb");
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    store_release(dir, core, db_path);
}

/* Starts s on 127.0.0.1 (port into g_port) with o's knobs. */
static void start(srv_server *s, srv_serve_opts *o, const char *dir, const char *db_path)
{
    char port_file[512];
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    o->db_path = db_path;
    o->listen = "127.0.0.1:0";
    o->port_file = port_file;
    CHECK(srv_start(s, o) == 0);
    FILE *f = fopen(port_file, "r");
    CHECK(f && fscanf(f, "%u", &g_port) == 1);
    if (f) fclose(f);
}

/* A new store DIR/name (make_store) served with o, whose threads and
 * limits the caller sets (where it listens is start's); db_path gets the
 * store's path. */
static srv_server *serve_new_store(const char *dir, const char *name, srv_serve_opts *o, char db_path[512])
{
    snprintf(db_path, 512, "%s/%s", dir, name);
    make_store(dir, db_path);
    srv_server *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    if (s) start(s, o, dir, db_path);
    return s;
}

static void test_concurrent(const char *dir)
{
    char db_path[512];
    srv_db d;
    srv_serve_opts o = { .threads = 4, .flush_ms = 3600000 };   /* only the shutdown writes the rows */
    srv_server *s = serve_new_store(dir, "fota.db", &o, db_path);

    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, distinct_devices, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    int bad = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) bad += g_results[t][i] != 27;
    CHECK(bad == 0);

    /* 16 racing downloads by one device: exactly 6 packages, 10 banned (once
     * the package is built, by another device) */
    char imei[16];
    int code = -1;
    ctest_imei("35", 999998, imei);
    CHECK_EQ(get_built(imei, "1103.1.4"), 200);
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, same_device, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    int answered = 0, banned = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < 2; i++) {
            answered += g_results[t][i] == 0;
            banned += g_results[t][i] == 40;
        }
    CHECK(answered == 6);
    CHECK(banned == 10);
    ctest_imei("35", 999999, imei);
    CHECK_EQ(get(imei, "1104.1.4", &code), 403);   /* banned, whatever it asks */
    CHECK_EQ(code, 40);

    srv_stop(s);
    free(s);

    CHECK(db_open(&d, db_path, NULL, 0) == 0);
    store_stmt *st;
    /* the device's log: 6 deliveries and the refused 7th counted (past the
     * limit: the ban), the rest answered from the count */
    CHECK((st = store_prepare(d.db, "SELECT COUNT(*), SUM(code=40), SUM(counted), SUM(code=0) FROM log"
                                    " WHERE imei=?1")) != NULL);
    store_bind_str(st, 1, imei);
    CHECK(store_step(st) == STORE_ROW);
    CHECK_EQ(store_column_int64(st, 0), 17);
    CHECK_EQ(store_column_int64(st, 1), 11);
    CHECK_EQ(store_column_int64(st, 2), 7);
    CHECK_EQ(store_column_int64(st, 3), 6);
    store_finalize(st);
    CHECK((st = store_prepare(d.db, "SELECT COUNT(*), SUM(counted) FROM log WHERE code=27")) != NULL);
    CHECK(store_step(st) == STORE_ROW);
    CHECK(store_column_int64(st, 0) == THREADS * PER_THREAD);
    CHECK_EQ(store_column_int64(st, 1), 0);   /* "already latest" never counts */
    store_finalize(st);
    CHECK((st = store_prepare(d.db, "SELECT banned FROM device WHERE imei=?1")) != NULL);
    store_bind_str(st, 1, imei);
    CHECK(store_step(st) == STORE_ROW);
    CHECK_EQ(store_column_int64(st, 0), 1);
    store_finalize(st);
    CHECK((st = store_prepare(d.db, "SELECT COUNT(*) FROM device")) != NULL);
    CHECK(store_step(st) == STORE_ROW);
    CHECK(store_column_int64(st, 0) == THREADS * PER_THREAD + 2);   /* registered on first contact */
    store_finalize(st);
    db_close(&d);
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* 1 when the server has closed fd (end of stream or reset), without waiting. */
static int is_closed(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    char b[64];
    if (poll(&p, 1, 0) != 1) return 0;
    ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
    return r == 0 || (r < 0 && errno != EAGAIN);
}

/* Waits (at most limit_ms) until every fd is closed by the server; returns
 * how many were, and the time the last took in *last_ms. Trickles one byte
 * every 100 ms into each open one when trickle is set (slowloris). */
static int wait_closed(int *fds, int n, int limit_ms, int trickle, int64_t *last_ms)
{
    int64_t t0 = mono_ms();
    int closed = 0;
    char *done = calloc((size_t)n, 1);
    *last_ms = 0;
    while (closed < n && mono_ms() - t0 < limit_ms) {
        for (int i = 0; i < n; i++) {
            if (done[i]) continue;
            if (trickle) (void)send(fds[i], "G", 1, MSG_NOSIGNAL);
            if (fds[i] < 0 || is_closed(fds[i])) {
                done[i] = 1;
                closed++;
                *last_ms = mono_ms() - t0;
            }
        }
        struct timespec nap = { 0, (trickle ? 100 : 20) * 1000000L };
        nanosleep(&nap, NULL);
    }
    free(done);
    return closed;
}

static int row_count(const char *db_path, const char *where)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    char sql[256];
    int n = -1;
    snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", where);
    if (sqlite3_open(db_path, &db) == SQLITE_OK && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return n;
}

/* Slowloris and idle floods: bounded per address and in time, while a
 * device from another address is still answered. */
static void test_floods(srv_server *s)
{
    char imei[16];
    int code = -1;
    int64_t last = 0;
    enum { IDLE = 200, SLOW_ADDRS = 10, SLOW_PER = 4 };
    int idle[IDLE], open_now = 0;
    for (int i = 0; i < IDLE; i++) idle[i] = connect_from("127.0.0.2");
    ctest_imei("35", 5001, imei);
    CHECK_EQ(get(imei, "1104.1.4", &code), 404);
    CHECK_EQ(code, 27);
    struct timespec nap = { 0, 200 * 1000000L };
    nanosleep(&nap, NULL);
    for (int i = 0; i < IDLE; i++) open_now += idle[i] >= 0 && !is_closed(idle[i]);
    CHECK(open_now <= 4);                                  /* --per-address 4 */
    CHECK_EQ(wait_closed(idle, IDLE, 3000, 0, &last), IDLE);   /* and those 4 by the deadline */
    printf("idle flood: %d connections from one address, %d held open, all closed after %lld ms\n",
           IDLE, open_now, (long long)last);
    for (int i = 0; i < IDLE; i++) if (idle[i] >= 0) close(idle[i]);

    /* a byte every 100 ms from 10 addresses, 4 each: all within the limit,
     * all cut at the head deadline (500 ms) although bytes keep coming */
    int slow[SLOW_ADDRS * SLOW_PER];
    uint64_t cut_before = guard_counts(&s->guard).cut;
    for (int i = 0; i < SLOW_ADDRS * SLOW_PER; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.0.%d", 10 + i / SLOW_PER);
        slow[i] = connect_from(src);
        CHECK(slow[i] >= 0);
    }
    ctest_imei("35", 5002, imei);
    CHECK_EQ(get(imei, "1104.1.4", &code), 404);
    int n = SLOW_ADDRS * SLOW_PER;
    CHECK_EQ(wait_closed(slow, n, 3000, 1, &last), n);
    CHECK(guard_counts(&s->guard).cut - cut_before >= (uint64_t)n);
    printf("slowloris: %d connections trickling a byte every 100 ms, all cut after %lld ms\n", n,
           (long long)last);
    for (int i = 0; i < n; i++) if (slow[i] >= 0) close(slow[i]);
}

/* Modules behind one carrier NAT: NAT_GOOD well-behaved clients from one
 * address (in NAT_THREADS threads, one request per connection), each
 * answered at the first try, while NAT_SLOW slowloris connections from that
 * same address and NAT_IDLE idle ones spread over 40 other addresses were
 * opened first (far more than the table's SRV_MAX_CONNECTIONS). */
#define NAT_ADDR "127.0.0.60"
#define NAT_THREADS 5
#define NAT_GOOD 500

static int g_nat_failed, g_nat_slowest_ms;
static pthread_mutex_t g_nat_lock = PTHREAD_MUTEX_INITIALIZER;

static void *nat_clients(void *arg)
{
    int t = (int)(intptr_t)arg;
    static __thread char resp[8192];
    for (int i = 0; i < NAT_GOOD / NAT_THREADS; i++) {
        char imei[16], req[512];
        int code = -1;
        ctest_imei("35", 6000 + t * 1000 + i, imei);
        snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 imei);
        int64_t t0 = mono_ms();
        int st = exchange(NAT_ADDR, req, resp, sizeof resp, &code);
        int took = (int)(mono_ms() - t0);
        pthread_mutex_lock(&g_nat_lock);
        if (st != 404 || code != 27) g_nat_failed++;
        if (took > g_nat_slowest_ms) g_nat_slowest_ms = took;
        pthread_mutex_unlock(&g_nat_lock);
    }
    return NULL;
}

static void test_nat(const char *dir)
{
    int idle_n = 2000, slow_n = 1100;
    /* this process holds both ends: raise the descriptor limit, or scale down */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)(idle_n + slow_n + SRV_GUARD_SLOTS + 200);
        rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < want) {
            long room = (long)rl.rlim_cur - SRV_GUARD_SLOTS - 200;
            if (room < 310) room = 310;
            idle_n = (int)(room * 2000 / 3100);
            slow_n = (int)(room * 1100 / 3100);
        }
    }
    char db_path[512];
    /* a head deadline longer than the test: only admission closes them */
    srv_serve_opts o = { .threads = 2, .flush_ms = 20, .header_timeout_ms = 20000 };
    srv_server *s = serve_new_store(dir, "nat.db", &o, db_path);
    int *idle = calloc((size_t)idle_n, sizeof *idle), *slow = calloc((size_t)slow_n, sizeof *slow);
    CHECK(idle && slow);
    if (!idle || !slow) {
        free(idle);
        free(slow);
        srv_stop(s);
        free(s);
        return;
    }
    int opened = 0;
    for (int i = 0; i < idle_n; i++) {
        char src[32];
        snprintf(src, sizeof src, "127.0.1.%d", 1 + i % 40);
        idle[i] = connect_from(src);
        opened += idle[i] >= 0;
    }
    for (int i = 0; i < slow_n; i++) {
        slow[i] = connect_from(NAT_ADDR);
        opened += slow[i] >= 0;
        if (slow[i] >= 0) (void)send(slow[i], "GET /api/site/firmware_upgrade?", 31, MSG_NOSIGNAL);
    }
    CHECK_EQ(opened, idle_n + slow_n);
    struct timespec nap = { 0, 300 * 1000000L };
    nanosleep(&nap, NULL);
    unsigned live = guard_counts(&s->guard).live;
    int slow_open = 0, idle_open = 0;
    for (int i = 0; i < slow_n; i++) slow_open += !is_closed(slow[i]);
    for (int i = 0; i < idle_n; i++) idle_open += !is_closed(idle[i]);
    CHECK(live <= SRV_MAX_CONNECTIONS);
    CHECK(slow_open <= SRV_PER_ADDRESS);

    int64_t t0 = mono_ms();
    pthread_t th[NAT_THREADS];
    for (int t = 0; t < NAT_THREADS; t++) CHECK(pthread_create(&th[t], NULL, nat_clients, (void *)(intptr_t)t) == 0);
    for (int t = 0; t < NAT_THREADS; t++) pthread_join(th[t], NULL);
    int64_t took = mono_ms() - t0;
    CHECK_EQ(g_nat_failed, 0);
    printf("NAT: %d idle connections from 40 addresses and %d slowloris from %s (%d and %d held open, "
           "%u live, %llu evicted): %d clients from %s, one try each, in %lld ms, "
           "slowest %d ms, %d not answered\n",
           idle_n, slow_n, NAT_ADDR, idle_open, slow_open, live,
           (unsigned long long)guard_counts(&s->guard).evicted, NAT_GOOD, NAT_ADDR, (long long)took,
           g_nat_slowest_ms, g_nat_failed);
    for (int i = 0; i < idle_n; i++) if (idle[i] >= 0) close(idle[i]);
    for (int i = 0; i < slow_n; i++) if (slow[i] >= 0) close(slow[i]);
    free(idle);
    free(slow);
    srv_stop(s);
    free(s);
}

/* Connections of src in the guard's table: live ones, and of those the ones being answered. */
static void guard_held(srv_guard *g, const char *src, int *live, int *answering)
{
    unsigned char addr[4];
    inet_pton(AF_INET, src, addr);
    *live = *answering = 0;
    pthread_mutex_lock(&g->lock);
    for (size_t i = 0; i < SRV_GUARD_SLOTS; i++) {
        const srv_guard_conn *c = &g->conns[i];
        if (!c->used || c->cut || c->addr_len != 4 || memcmp(c->addr, addr, 4)) continue;
        ++*live;
        *answering += c->in_request;
    }
    pthread_mutex_unlock(&g->lock);
}

/* Slow readers: a table (lowered to SLOW_TABLE) full of package answers
 * nobody reads, SLOW_TABLE - 3 from one address and 3 from another (fewer
 * than --per-address 4). A check from a third address is answered: the
 * busy address's oldest answer yields; the other's 3 are untouched. A
 * newcomer from the busy address itself is refused. */
#define SLOW_TABLE 16
#define SLOW_A "127.0.0.70"
#define SLOW_B "127.0.0.71"
static void test_slow_readers(const char *dir)
{
    int64_t t0 = mono_ms();
    char db_path[512], core[512];
    snprintf(db_path, sizeof db_path, "%s/slow.db", dir);
    snprintf(core, sizeof core, "%s/big-core.bin", dir);
    /* a package larger than a connection's kernel send buffer can grow
     * (tcp_wmem's maximum, 4 MiB on Debian), or the answer completes at once */
    long wmem_max = 4L << 20, lo, mid;
    FILE *f = fopen("/proc/sys/net/ipv4/tcp_wmem", "r");
    if (f) {
        if (fscanf(f, "%ld %ld %ld", &lo, &mid, &wmem_max) != 3 || wmem_max < 65536 || wmem_max > (32L << 20))
            wmem_max = 4L << 20;
        fclose(f);
    }
    long core_len = wmem_max + (1L << 20);
    f = fopen(core, "wb");
    CHECK(f != NULL);
    if (!f) return;
    uint32_t x = 1;
    for (long i = 0; i < core_len; i++) fputc((int)((x = x * 1103515245u + 12345u) >> 24), f);
    fclose(f);
    store_release(dir, core, db_path);
    srv_serve_opts o = { .threads = 2, .flush_ms = 20, .per_address = 4, .header_timeout_ms = 2000,
                         .max_connections = SLOW_TABLE, .max_size = (uint32_t)(2 * core_len) };
    srv_server *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    if (!s) return;
    start(s, &o, dir, db_path);
    char imei[16], req[512], resp[8192];
    int code = -1;
    ctest_imei("35", 7000, imei);
    CHECK_EQ(get_built(imei, "1103.1.4"), 200);

    int fds[SLOW_TABLE];
    for (int i = 0; i < SLOW_TABLE; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        int small = 4096;
        setsockopt(fds[i], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);   /* before connect: a small window */
        struct sockaddr_in sa = { .sin_family = AF_INET };
        inet_pton(AF_INET, i < SLOW_TABLE - 3 ? SLOW_A : SLOW_B, &sa.sin_addr);
        CHECK(bind(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0);
        sa.sin_port = htons((uint16_t)g_port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(connect(fds[i], (struct sockaddr *)&sa, sizeof sa) == 0);
        ctest_imei("35", (unsigned long)(7001 + i), imei);
        int n = snprintf(req, sizeof req, QUERY "&version=1103.1.4&imei=%s HTTP/1.1\r\nHost: x\r\n\r\n", imei);
        CHECK(send(fds[i], req, (size_t)n, MSG_NOSIGNAL) == n);
        struct timespec nap = { 0, 20 * 1000000L };   /* in order: the first is the oldest */
        nanosleep(&nap, NULL);
    }
    int a_live = 0, a_answering = 0, b_live = 0, b_answering = 0;
    for (int i = 0; i < 100 && a_answering + b_answering < SLOW_TABLE; i++) {
        struct timespec nap = { 0, 20 * 1000000L };
        nanosleep(&nap, NULL);
        guard_held(&s->guard, SLOW_A, &a_live, &a_answering);
        guard_held(&s->guard, SLOW_B, &b_live, &b_answering);
    }
    CHECK_EQ(a_answering, SLOW_TABLE - 3);
    CHECK_EQ(b_answering, 3);

    ctest_imei("35", 7100, imei);
    snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             imei);
    CHECK_EQ(exchange("127.0.0.72", req, resp, sizeof resp, &code), 404);   /* answered */
    CHECK_EQ(code, 27);
    guard_held(&s->guard, SLOW_A, &a_live, &a_answering);
    guard_held(&s->guard, SLOW_B, &b_live, &b_answering);
    CHECK_EQ(a_live, SLOW_TABLE - 4);
    CHECK_EQ(b_live, 3);
    srv_guard_counts n = guard_counts(&s->guard);
    CHECK_EQ(n.yielded, 1);
    /* the table is full again (the check's connection closed, a slot back):
     * fill it from the busy address, then that address gets no more */
    int extra = socket(AF_INET, SOCK_STREAM, 0);
    {
        struct sockaddr_in sa = { .sin_family = AF_INET };
        inet_pton(AF_INET, SLOW_A, &sa.sin_addr);
        CHECK(bind(extra, (struct sockaddr *)&sa, sizeof sa) == 0);
        sa.sin_port = htons((uint16_t)g_port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        CHECK(connect(extra, (struct sockaddr *)&sa, sizeof sa) == 0);
        int small = 4096;
        setsockopt(extra, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
        ctest_imei("35", 7200, imei);
        int len = snprintf(req, sizeof req, QUERY "&version=1103.1.4&imei=%s HTTP/1.1\r\nHost: x\r\n\r\n", imei);
        CHECK(send(extra, req, (size_t)len, MSG_NOSIGNAL) == len);
    }
    for (int i = 0; i < 100 && a_answering < SLOW_TABLE - 3; i++) {
        struct timespec nap = { 0, 20 * 1000000L };
        nanosleep(&nap, NULL);
        guard_held(&s->guard, SLOW_A, &a_live, &a_answering);
    }
    CHECK_EQ(a_answering, SLOW_TABLE - 3);
    ctest_imei("35", 7300, imei);
    snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             imei);
    CHECK_EQ(exchange(SLOW_A, req, resp, sizeof resp, &code), -1);   /* shut: its own address is the busiest */
    CHECK_EQ(guard_counts(&s->guard).refused, n.refused + 1);
    CHECK_EQ(guard_counts(&s->guard).yielded, 1);
    printf("slow readers: %d answers nobody reads fill the table; a check from another address answered "
           "(the busy address's oldest answer yielded, the %d of an address below --per-address kept); "
           "the busy address's own newcomer refused", SLOW_TABLE, 3);
    close(extra);
    for (int i = 0; i < SLOW_TABLE; i++) close(fds[i]);
    srv_stop(s);
    free(s);
    printf(" (%lld ms)\n", (long long)(mono_ms() - t0));
}

/* Hostile requests: too many parameters, a GET with a body, Range-only loops. */
static void test_bad_requests(void)
{
    char req[4096], resp[8192], imei[16];
    int code = -1;
    size_t o = (size_t)snprintf(req, sizeof req, "GET /api/site/firmware_upgrade?");
    for (int i = 0; i < 300; i++) o += (size_t)snprintf(req + o, sizeof req - o, "%sa%d=1", i ? "&" : "", i);
    snprintf(req + o, sizeof req - o, " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    CHECK_EQ(exchange("127.0.0.3", req, resp, sizeof resp, &code), 400);
    CHECK_EQ(code, 25);
    CHECK(strstr(resp, "more than 16 parameters") != NULL);

    ctest_imei("35", 6001, imei);
    const char *bodies[] = {"Content-Length: 5\r\n\r\nhello", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"};
    for (int i = 0; i < 2; i++) {
        snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n%s",
                 imei, bodies[i]);
        CHECK_EQ(exchange(NULL, req, resp, sizeof resp, &code), 400);
        CHECK(strstr(resp, "unexpected request body") != NULL);
    }

    /* "Range: bytes=0-" every time is a download each time: the 7th is banned
     * (once the package for V1103 is built: "please wait" answers never count) */
    ctest_imei("35", 6004, imei);
    int status = 0;
    CHECK_EQ(get_built(imei, "1103.1.4"), 200);
    ctest_imei("35", 6002, imei);
    for (int i = 0; i < 7; i++) {
        snprintf(req, sizeof req, QUERY "&version=1103.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nRange: bytes=0-\r\n"
                 "Connection: close\r\n\r\n", imei);
        status = exchange(NULL, req, resp, sizeof resp, &code);
        if (i < 6) CHECK_EQ(status, 206);
    }
    CHECK_EQ(status, 403);
    CHECK_EQ(code, 40);
    /* resumes (from past byte 0) of one download are never counted */
    ctest_imei("35", 6003, imei);
    int banned = 0;
    for (int i = 0; i < 10; i++) {
        snprintf(req, sizeof req, QUERY "&version=1103.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nRange: bytes=%d-\r\n"
                 "Connection: close\r\n\r\n", imei, 100 + i);
        banned += exchange(NULL, req, resp, sizeof resp, &code) == 403;
    }
    CHECK_EQ(banned, 0);
}

/* Heads a strict HTTP/1.1 server refuses (server/head.c): each answered 400
 * with its reason and logged as "malformed head"; a keep-alive follow-up
 * too, pipelined or sent after the first answer. Returns how many. */
#define STRICT_GOOD QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\n"
static int test_strict_heads(void)
{
    static const struct { const char *head; size_t len; const char *why; } bad[] = {
#define B(lit, why) { lit, sizeof lit - 1, why }
        B(" HTTP/1.1\nHost: x\r\nConnection: close\r\n\r\n", "request line not ended by CRLF"),
        B(" HTTP/1.1\r\nHost: x\nConnection: close\r\n\r\n", "header line with a bare LF or a NUL"),
        B(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\n", "head not ended by CRLF CRLF"),
        B(" HTTP/1.1\nHost: x\nConnection: close\n\n", "request line not ended by CRLF"),
        B(" HTTP/1.1\r\nHost: x\rX-A: b\r\nConnection: close\r\n\r\n", "control byte in a header value"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\nConnection: close\r\n\r\n", "header line with a bare LF or a NUL"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A: \0\r\nConnection: close\r\n\r\n", "bad header line"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A:\0 a\r\nConnection: close\r\n\r\n", "header line with a bare LF or a NUL"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A: a\001b\r\nConnection: close\r\n\r\n", "control byte in a header value"),
        B(" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
          "more than one Content-Length"),
        B(" HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
          "Content-Length with Transfer-Encoding"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\nConnection: close\r\n\r\n", "obs-fold"),
        B(" HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n", "obs-fold"),
        B("\0x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "bad request line"),
        B("\001 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "control byte, DEL or SP in the request target"),
        B("\177 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "control byte, DEL or SP in the request target"),
#undef B
    };
    int64_t t0 = mono_ms();
    char imei[16], req[4 * SRV_HEAD_MAX], resp[8192];
    int code = -1, refused = 0;
    ctest_imei("35", 6100, imei);
    int n = snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s", imei);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memcpy(req + n, bad[i].head, bad[i].len);
        int st = exchange_n(NULL, req, (size_t)n + bad[i].len, resp, sizeof resp, &code);
        CHECK_EQ(st, 400);
        CHECK(strstr(resp, bad[i].why) != NULL);
        if (st != 400 || !strstr(resp, bad[i].why)) printf("strict head case %zu: %d %s\n", i, st, resp);
        refused += st == 400;
    }
    /* a head over SRV_HEAD_MAX (within libmicrohttpd's own memory) */
    int o = n + snprintf(req + n, sizeof req - (size_t)n, " HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(req + o, 'a', SRV_HEAD_MAX);
    o += SRV_HEAD_MAX;
    o += snprintf(req + o, sizeof req - (size_t)o, "\r\nConnection: close\r\n\r\n");
    CHECK_EQ(exchange_n(NULL, req, (size_t)o, resp, sizeof resp, &code), 400);
    CHECK(strstr(resp, "request head too long") != NULL);
    refused++;
    /* over libmicrohttpd's own memory: its 431, logged by on_completed */
    o = n + snprintf(req + n, sizeof req - (size_t)n, " HTTP/1.1\r\nHost: x\r\nX-Pad: ");
    memset(req + o, 'a', 3 * SRV_HEAD_MAX);
    o += 3 * SRV_HEAD_MAX;
    o += snprintf(req + o, sizeof req - (size_t)o, "\r\nConnection: close\r\n\r\n");
    CHECK_EQ(exchange_n(NULL, req, (size_t)o, resp, sizeof resp, &code), 431);

    /* raw UTF-8 in the query is no framing error: a firmware name a module
     * sent unencoded reaches the checks (26: no such firmware) */
    o = snprintf(req, sizeof req, "GET /api/site/firmware_upgrade?project_key=KEY1&firmware_name=\xe4\xb8\xad_B"
                 "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", imei);
    CHECK_EQ(exchange_n(NULL, req, (size_t)o, resp, sizeof resp, &code), 404);
    CHECK_EQ(code, 26);

    /* keep-alive follow-ups: the first answered (404, already latest), the
     * bad second refused; pipelined, then after the first answer */
    for (int wait_first = 0; wait_first < 2; wait_first++) {
        int a = snprintf(req, sizeof req, STRICT_GOOD "\r\n", imei);
        int b = snprintf(req + a, sizeof req - (size_t)a, STRICT_GOOD "X-A: a\nConnection: close\r\n\r\n", imei);
        int fd = connect_from(NULL);
        CHECK(fd >= 0);
        if (fd < 0) continue;
        size_t got = 0;
        if (wait_first) {
            CHECK(write(fd, req, (size_t)a) == a);
            struct pollfd p = { fd, POLLIN, 0 };
            CHECK(poll(&p, 1, 5000) == 1);
            ssize_t r = read(fd, resp, sizeof resp - 1);
            got = r > 0 ? (size_t)r : 0;
            CHECK(write(fd, req + a, (size_t)b) == b);
        } else {
            CHECK(write(fd, req, (size_t)(a + b)) == a + b);
        }
        read_all(fd, resp + got, sizeof resp - got, 5000);
        close(fd);
        const char *second = strstr(resp, "HTTP/1.1 404");
        second = second ? strstr(second + 1, "HTTP/1.1 ") : NULL;
        CHECK(second && !strncmp(second, "HTTP/1.1 400", 12) && strstr(second, "header line with a bare LF or a NUL"));
        refused++;
    }
    printf("strict heads: %d lenient heads refused 400 with their reason, a keep-alive follow-up too (%lld ms)\n",
           refused, (long long)(mono_ms() - t0));
    return refused;
}

/* Another writer holds the database: checks are answered from memory, the
 * ban too; the log waits; a full queue answers 503 with Retry-After. */
static void test_held_database(const char *db_path, int *answered_out)
{
    sqlite3 *w;
    CHECK(sqlite3_open(db_path, &w) == SQLITE_OK);
    CHECK(sqlite3_exec(w, "BEGIN IMMEDIATE", NULL, NULL, NULL) == SQLITE_OK);
    char imei[16], req[512], resp[8192];
    int code = -1, answered = 0, ok = 0;
    int64_t t0 = mono_ms();
    for (int i = 0; i < 20; i++) {
        ctest_imei("35", 7000 + (unsigned long)i, imei);
        ok += get(imei, "1104.1.4", &code) == 404 && code == 27;
    }
    CHECK_EQ(ok, 20);
    answered += ok;
    /* the 7th download of the day (the package is built: test_bad_requests) */
    ctest_imei("35", 7100, imei);
    int status = 0;
    for (int i = 0; i < 7; i++) {
        status = get(imei, "1103.1.4", &code);
        if (i < 6) CHECK_EQ(status, 200);
    }
    answered += 7;
    CHECK(status == 403 && code == 40);
    printf("database held: 20 checks and 7 downloads answered in %lld ms (each waits at most %d ms on SQLite)\n",
           (long long)(mono_ms() - t0), SRV_DB_READ_WAIT_MS);
    /* fill the queue (and the batch the writer cannot write): then 503 */
    int refused = 0;
    for (int i = 0; i < 2 * SRV_LOG_QUEUE + 10 && !refused; i++) {
        ctest_imei("35", 10000 + (unsigned long)i, imei);
        snprintf(req, sizeof req, QUERY "&version=1104.1.4&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                 imei);
        status = exchange(NULL, req, resp, sizeof resp, &code);
        if (status == 503) refused = 1;
        else answered += status == 404;
    }
    CHECK(refused);
    CHECK(strstr(resp, "Retry-After:") != NULL && code == 43);
    CHECK(answered >= SRV_LOG_QUEUE);
    printf("database held: %d answers queued in memory, then 503 with Retry-After\n", answered);
    CHECK(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(w);
    *answered_out = answered;
}

/* A ban decided from memory and written after an admin's unban does not
 * ban the device again. */
static void test_late_ban(const char *dir)
{
    char db_path[512];
    snprintf(db_path, sizeof db_path, "%s/lateban.db", dir);
    make_store(dir, db_path);
    srv_db d;
    CHECK(db_open(&d, db_path, NULL, 1) == 0);
    CHECK(cmd_device(&d, "add", "490154203237518", "p", NULL) == 0);
    srv_log_row row;
    memset(&row, 0, sizeof row);
    row.ts_ms = srv_now_ms() - 1000;                   /* decided a second ago */
    memcpy(row.imei, "490154203237518", 16);
    row.status = 403;
    row.code = 40;
    row.counted = 1;
    row.ban = 1;
    row.project_id = 1;
    CHECK(db_log_queue(&d, &row) == 0);
    CHECK(cmd_device(&d, "unban", "490154203237518", NULL, NULL) == 0);
    CHECK(db_log_take(&d) == 1);
    CHECK(db_log_write(&d, 1000) == 0);
    CHECK(db_log_commit(&d) == 0);
    db_close(&d);
    CHECK_EQ(row_count(db_path, "device WHERE banned=1"), 0);
    CHECK_EQ(row_count(db_path, "log WHERE code=40"), 1);   /* the answer is still logged */
}

static void test_hostile(const char *dir)
{
    char db_path[512];
    srv_serve_opts o = { .threads = 2, .flush_ms = 20, .per_address = 4, .header_timeout_ms = 500 };
    srv_server *s = serve_new_store(dir, "hostile.db", &o, db_path);
    test_floods(s);
    test_bad_requests();
    int strict_refused = test_strict_heads();
    /* their rows written (and so every row before them) before another
     * writer takes the database: the flusher is idle then (bounded) */
    for (int i = 0; i < 300 && row_count(db_path, "log WHERE request = 'malformed head'") < strict_refused + 1; i++) {
        struct timespec wait = { 0, 10 * 1000000L };
        nanosleep(&wait, NULL);
    }
    struct timespec nap = { 0, 5 * 1000000L };   /* rows before this have older times */
    nanosleep(&nap, NULL);
    int64_t held_from = srv_now_ms();
    int answered = 0;
    test_held_database(db_path, &answered);
    srv_stop(s);
    free(s);
    char where[128];
    snprintf(where, sizeof where, "log WHERE ts >= %lld", (long long)held_from);
    CHECK_EQ(row_count(db_path, where), answered);   /* every answer logged once the lock is free */
    CHECK_EQ(row_count(db_path, "log WHERE request LIKE 'more than 16 parameters%' AND status=400"), 1);
    CHECK_EQ(row_count(db_path, "log WHERE request = 'GET with a body' AND status=400"), 2);
    CHECK_EQ(row_count(db_path, "device WHERE banned=1"), 2);   /* the Range-only loop, the held one */
    CHECK_EQ(row_count(db_path, "log WHERE request = 'malformed head' AND status=400"), strict_refused);
    CHECK_EQ(row_count(db_path, "log WHERE request = 'malformed head' AND status=431 AND msg = 'refused by libmicrohttpd'"), 1);
}

/* The day a loop count belongs to: local midnight, as mktime computes it,
 * also across DST changes (30 minutes on Lord Howe Island). */
static void test_day_start(void)
{
    const char *zones[] = { "UTC", "Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe" };
    const char *was = getenv("TZ");
    char saved[64] = "";
    if (was) snprintf(saved, sizeof saved, "%s", was);
    int differ = 0;
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        setenv("TZ", zones[z], 1);
        tzset();
        for (int64_t s = 1700000000; s < 1700000000 + 2LL * 365 * 86400; s += 3599) {
            time_t t = (time_t)s;
            struct tm tm;
            localtime_r(&t, &tm);
            tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
            tm.tm_isdst = -1;
            differ += srv_day_start(s * 1000 + 123) != (int64_t)mktime(&tm) * 1000;
        }
    }
    CHECK_EQ(differ, 0);
    if (was) setenv("TZ", saved, 1);
    else unsetenv("TZ");
    tzset();
}

/* A database made when project names were unique across owners: opened,
 * its names are unique per owner, its rows and references kept. */
static void test_names_migration(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/names-old.db", dir);
    unlink(path);
    sqlite3 *db;
    CHECK(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "CREATE TABLE project(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
                           " product_key TEXT NOT NULL UNIQUE, owner TEXT, created INTEGER NOT NULL);"
                           "INSERT INTO project VALUES(7, 'p', 'K1', 'alice', 0);", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    srv_db d;
    ops_err e = { 0 };
    CHECK(db_open(&d, path, NULL, 0) == 0);
    CHECK(ops_project_add(&d, "p", "K2", "bob", NULL, &e) == 0);
    CHECK(ops_project_add(&d, "p", "K3", "alice", NULL, &e) == EXIT_USAGE_ERR && e.http == 409);
    CHECK(ops_project_named(&d, "alice", "p", &e) == 7);
    CHECK(ops_project_named(&d, NULL, "p", &e) == 0 && e.http == 409);   /* two owners: say whose */
    /* the other tables still refer to it, foreign keys enforced */
    CHECK(db_exec(&d, "INSERT INTO at_family(model, project_id) VALUES('Air780E', 7)") == 0);
    CHECK(db_exec(&d, "INSERT INTO at_family(model, project_id) VALUES('Air780EX', 99)") != 0);
    db_close(&d);
    CHECK(db_open(&d, path, NULL, 0) == 0);   /* again: nothing more to change */
    CHECK(ops_project_add(&d, "p", "K4", "bob", NULL, &e) == EXIT_USAGE_ERR);
    db_close(&d);
}

int main(void)
{
    test_validation();
    test_day_start();
    const char *dir = ctest_tmpdir("server");
    CHECK(dir != NULL);
    if (dir) test_concurrent(dir);
    if (dir) test_hostile(dir);
    if (dir) test_nat(dir);
    if (dir) test_slow_readers(dir);
    if (dir) test_late_ban(dir);
    if (dir) test_names_migration(dir);
    return ctest_finish("test_server");
}
