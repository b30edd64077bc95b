/* fota-server in process: input validation, and many concurrent requests
 * (the loop-upgrade count stays exact under races; every request is
 * logged once, including those still queued at shutdown). */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "admin.h"
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
}

static unsigned g_port;   /* set once before the client threads start */

/* One GET; returns the HTTP status and the JSON "code" (or 0 for a package). */
static int get(const char *imei, const char *version, int *code)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)g_port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /api/site/firmware_upgrade?project_key=KEY1&firmware_name=p_LuatOS-SoC_B"
                     "&version=%s&imei=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     version, imei);
    if (write(fd, req, (size_t)n) != n) {
        close(fd);
        return -1;
    }
    static __thread char resp[8192];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0) got += (size_t)r;
    close(fd);
    resp[got] = '\0';
    int status = 0;
    if (sscanf(resp, "HTTP/1.1 %d", &status) != 1) return -1;
    const char *c = strstr(resp, "\"code\":");
    *code = c ? atoi(c + 7) : 0;
    return status;
}

static void make_imei(unsigned long n, char out[16])
{
    snprintf(out, 16, "35%012lu", n);   /* 14 digits, then the Luhn digit */
    int sum = 0;
    for (int i = 0; i < 14; i++) {
        int d = out[13 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    out[14] = (char)('0' + (10 - sum % 10) % 10);
    out[15] = '\0';
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
        make_imei((unsigned long)(t * 1000 + i + 1), imei);
        int status = get(imei, "1104.1.4", &code);   /* already latest */
        g_results[t][i] = status == 404 ? code : -status;
    }
    return NULL;
}

static void *same_device(void *arg)
{
    long t = (long)arg;
    char imei[16];
    make_imei(999999, imei);
    for (int i = 0; i < 2; i++) {
        int code = -1;
        int status = get(imei, "1104.1.4", &code);
        g_results[t][i] = status > 0 ? code : -1;
    }
    return NULL;
}

static void test_concurrent(const char *dir)
{
    char db_path[512], core[512], script[512], port_file[512];
    snprintf(db_path, sizeof db_path, "%s/fota.db", dir);
    snprintf(core, sizeof core, "%s/core.bin", dir);
    snprintf(script, sizeof script, "%s/main.lua", dir);
    snprintf(port_file, sizeof port_file, "%s/port", dir);
    FILE *f = fopen(core, "wb");
    for (int i = 0; i < 4096; i++) fputc(i * 7, f);
    fclose(f);
    f = fopen(script, "w");
    fputs("VERSION = \"1.2.4\"\n", f);
    fclose(f);

    srv_db d;
    CHECK(db_open(&d, db_path, NULL, 0) == 0);
    CHECK(cmd_project_add(&d, "p", "KEY1", NULL) == 0);
    CHECK(cmd_firmware_add(&d, "p", "B", "V1104", core, script, "1.2.4", NULL) == 0);
    CHECK(cmd_config_set(&d, "p", "p_LuatOS-SoC_B", NULL, NULL, NULL, NULL, NULL) == 0);
    db_close(&d);

    srv_server *s = calloc(1, sizeof *s);
    srv_serve_opts o;
    memset(&o, 0, sizeof o);
    o.db_path = db_path;
    o.listen = "127.0.0.1:0";
    o.port_file = port_file;
    o.threads = 4;
    o.flush_ms = 3600000;    /* only the shutdown writes the rows */
    CHECK(srv_start(s, &o) == 0);
    f = fopen(port_file, "r");
    CHECK(f && fscanf(f, "%u", &g_port) == 1);
    if (f) fclose(f);

    pthread_t th[THREADS];
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, distinct_devices, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    int bad = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) bad += g_results[t][i] != 27;
    CHECK(bad == 0);

    /* 16 racing requests from one device: exactly 6 answered, 10 banned */
    for (long t = 0; t < THREADS; t++) pthread_create(&th[t], NULL, same_device, (void *)t);
    for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
    int answered = 0, banned = 0;
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < 2; i++) {
            answered += g_results[t][i] == 27;
            banned += g_results[t][i] == 40;
        }
    CHECK(answered == 6);
    CHECK(banned == 10);

    srv_stop(s);
    free(s);

    CHECK(db_open(&d, db_path, NULL, 0) == 0);
    sqlite3_stmt *st;
    CHECK(sqlite3_prepare_v2(d.db, "SELECT COUNT(*), SUM(code=40) FROM log", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == THREADS * PER_THREAD + 16);
    CHECK(sqlite3_column_int(st, 1) == 10);
    sqlite3_finalize(st);
    CHECK(sqlite3_prepare_v2(d.db, "SELECT COUNT(*) FROM device", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK(sqlite3_column_int(st, 0) == THREADS * PER_THREAD + 1);   /* registered on first contact */
    sqlite3_finalize(st);
    db_close(&d);
}

int main(void)
{
    test_validation();
    const char *dir = ctest_tmpdir("server");
    CHECK(dir != NULL);
    if (dir) test_concurrent(dir);
    return ctest_finish("test_server");
}
