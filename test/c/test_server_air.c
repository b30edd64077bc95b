/* server/air.c: which queries are LuatOS-Air's (the 2G library's form with
 * the core in the firmware name, the Air724 library's with core_version),
 * what they map to, their refusals, the Air version comparison and the
 * --package-url check. */
#include <string.h>

#include "air.h"
#include "ctest_util.h"

/* Air's parameters from "k=v&k=v" (no escapes; a repeated key is bad, as
 * srv_air_collect marks it), then srv_air_parse. */
static int parse(const char *fw, const char *ver, const char *query, srv_air *a, int *code, char *why,
                 size_t why_size)
{
    static const char *const names[SRV_AIR_P__N] = { "core_version", "dfota", "device_key", "need_oss_url" };
    static char buf[512];
    srv_air_args args;
    memset(&args, 0, sizeof args);
    snprintf(buf, sizeof buf, "%s", query ? query : "");
    for (char *save = NULL, *kv = strtok_r(buf, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq) *eq = '\0';
        for (int i = 0; i < SRV_AIR_P__N; i++) {
            if (strcmp(kv, names[i]) != 0) continue;
            if (args.v[i]) args.bad[i] = 1;
            args.v[i] = v;
            args.n[i] = strlen(v);
        }
    }
    *code = 0;
    why[0] = '\0';
    return srv_air_parse(fw, ver, &args, a, code, why, why_size);
}

/* A refusal: -1, the code, a message holding part. */
static int refused(const char *fw, const char *query, int want_code, const char *part)
{
    srv_air a;
    int code;
    char why[SRV_MSG_MAX];
    int r = parse(fw, "1.0.1", query, &a, &code, why, sizeof why);
    if (r != -1 || code != want_code || !strstr(why, part)) {
        fprintf(stderr, "  %s ? %s: %d, code %d, '%s'\n", fw, query, r, code, why);
        return 0;
    }
    return 1;
}

static void test_parse(void)
{
    srv_air a;
    int code;
    char why[SRV_MSG_MAX];
    /* the 2G library's form: the core in the name */
    CHECK(parse("demo_Luat_V1103_RDA8910", "1.0.1", "device_key=", &a, &code, why, sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910") == 0 && a.core == 1103 && strcmp(a.script, "1.0.1") == 0);
    CHECK(a.oss == 0 && a.core_param == 0);
    CHECK(parse("demo_Luat_V0020_8955_SSL", "1.2.3", "device_key=SN_1-a&need_oss_url=1", &a, &code, why,
                sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_8955_SSL") == 0 && a.core == 20 && a.oss == 1);
    /* Air's build options stay in the bsp; the last _Luat_ counts */
    CHECK(parse("my_Luat_Vx_Luat_V0035_RDA8910_FLOAT", "2.3.4", NULL, &a, &code, why, sizeof why) == 1);
    CHECK(strcmp(a.fw, "my_Luat_Vx_LuatOS-SoC_RDA8910_FLOAT") == 0 && a.core == 35);

    /* the Air724 library's form: the name without V<core>, core_version a
     * number (Lua's tonumber of "0026": 26), dfota=1 */
    CHECK(parse("demo_Luat_RDA8910", "1.0.1", "core_version=1103&dfota=1", &a, &code, why, sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910") == 0 && a.core == 1103 && a.core_param == 1);
    CHECK(parse("demo_Luat_RDA8910_TTS_FLOAT", "1.0.1", "core_version=26&dfota=1&need_oss_url=1", &a, &code, why,
                sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910_TTS_FLOAT") == 0 && a.core == 26 && a.oss == 1);
    CHECK(parse("demo_Luat_RDA8910_TTS_NOVOLTE_FLOAT", "1.0.1", "core_version=3032&dfota=1", &a, &code, why,
                sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910_TTS_NOVOLTE_FLOAT") == 0 && a.core == 3032);
    CHECK(parse("my_Luat_app_Luat_RDA8910_BT", "1.0.1", "core_version=0026", &a, &code, why, sizeof why) == 1);
    CHECK(strcmp(a.fw, "my_Luat_app_LuatOS-SoC_RDA8910_BT") == 0 && a.core == 26);
    /* both: the real-style name with its core and the same core_version */
    CHECK(parse("demo_Luat_V0026_RDA8910_TTS_FLOAT", "1.0.1", "core_version=26&dfota=1", &a, &code, why,
                sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910_TTS_FLOAT") == 0 && a.core == 26 && a.core_param == 0);
    CHECK(parse("demo_Luat_V0026_RDA8910_TTS_FLOAT", "1.0.1", NULL, &a, &code, why, sizeof why) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910_TTS_FLOAT") == 0 && a.core == 26);

    /* LuatOS's names, and Air-like names without a core, are not Air's */
    CHECK(parse("demo_LuatOS-SoC_EC618", "1103.1.1", "device_key=", &a, &code, why, sizeof why) == 0);
    CHECK(parse("demo_Luat_RDA8910", "1.0.1", "need_oss_url=7&device_key=a%20b", &a, &code, why, sizeof why) == 0);
    CHECK(parse("_Luat_V1103_RDA8910", "1.0.1", NULL, &a, &code, why, sizeof why) == 0);       /* no project */
    CHECK(parse("demo_Luat_V_RDA8910", "1.0.1", NULL, &a, &code, why, sizeof why) == 0);       /* no core digits */
    CHECK(parse("demo_Luat_V1103", "1.0.1", NULL, &a, &code, why, sizeof why) == 0);           /* no bsp */
    CHECK(parse("demo_Luat_V1103_", "1.0.1", NULL, &a, &code, why, sizeof why) == 0);
    CHECK(parse("demo_Luat_V1234567890_X", "1.0.1", NULL, &a, &code, why, sizeof why) == 0);   /* over 9 digits */

    /* refusals: the core contradicted, malformed, or with no name to go with */
    CHECK(refused("demo_Luat_V1103_RDA8910", "core_version=1104&dfota=1", SRV_INVALID_FIRMWARE,
                  "core_version 1104 contradicts V1103"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=", SRV_INVALID_FIRMWARE, "bad core_version"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=12a", SRV_INVALID_FIRMWARE, "bad core_version"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=-1", SRV_INVALID_FIRMWARE, "bad core_version"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=1234567890", SRV_INVALID_FIRMWARE, "bad core_version"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&core_version=26", SRV_INVALID_FIRMWARE,
                  "bad core_version: once"));
    CHECK(refused("demo_LuatOS-SoC_EC618", "core_version=26", SRV_INVALID_FIRMWARE, "needs firmware_name"));
    CHECK(refused("demo_Luat_", "core_version=26", SRV_INVALID_FIRMWARE, "needs firmware_name"));
    CHECK(refused("_Luat_RDA8910", "core_version=26", SRV_INVALID_FIRMWARE, "needs firmware_name"));
    CHECK(refused("demo_Luat_V1234567890_X", "core_version=26", SRV_INVALID_FIRMWARE, "bad firmware_name"));
    CHECK(refused("demo_Luat_V12", "core_version=12", SRV_INVALID_FIRMWARE, "bad firmware_name"));
    CHECK(refused("demo_Luat_RDA8910", "dfota=1", SRV_INVALID_FIRMWARE, "dfota without core_version"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&dfota=0", SRV_INVALID_FIRMWARE, "bad dfota"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&dfota=11", SRV_INVALID_FIRMWARE, "bad dfota"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&dfota=1&dfota=1", SRV_INVALID_FIRMWARE, "bad dfota"));
    CHECK(refused("demo_Luat_V1103_RDA8910", "device_key=a%20b", SRV_INVALID_DEVICE, "bad device_key"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&device_key=x&device_key=y", SRV_INVALID_DEVICE,
                  "bad device_key"));
    char longkey[SRV_KEY_MAX + 32];
    memset(longkey, 0, sizeof longkey);
    memcpy(longkey, "device_key=", 11);
    memset(longkey + 11, 'k', SRV_KEY_MAX + 1);
    CHECK(refused("demo_Luat_V1103_RDA8910", longkey, SRV_INVALID_DEVICE, "bad device_key"));
    longkey[11 + SRV_KEY_MAX] = '\0';
    CHECK(parse("demo_Luat_V1103_RDA8910", "1.0.1", longkey, &a, &code, why, sizeof why) == 1);
    CHECK(refused("demo_Luat_V1103_RDA8910", "need_oss_url=2", SRV_INVALID_DEVICE, "bad need_oss_url"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&need_oss_url=", SRV_INVALID_DEVICE, "bad need_oss_url"));
    CHECK(refused("demo_Luat_RDA8910", "core_version=26&need_oss_url=1&need_oss_url=1", SRV_INVALID_DEVICE,
                  "bad need_oss_url"));
    /* a NUL inside a value (srv_air_collect marks it bad) */
    srv_air_args args;
    memset(&args, 0, sizeof args);
    args.v[SRV_AIR_P_CORE] = "26";
    args.n[SRV_AIR_P_CORE] = 3;
    args.bad[SRV_AIR_P_CORE] = 1;
    CHECK(srv_air_parse("demo_Luat_RDA8910", "1.0.1", &args, &a, &code, why, sizeof why) == -1);

    /* the mapped name must still fit a firmware name */
    char longname[SRV_NAME_MAX + 1];
    memset(longname, 'p', sizeof longname);
    memcpy(longname + SRV_NAME_MAX - 20, "_Luat_V1_RDA8910ABCD", 20);
    longname[SRV_NAME_MAX] = '\0';
    CHECK(refused(longname, NULL, SRV_INVALID_FIRMWARE, "too long"));
    memcpy(longname + SRV_NAME_MAX - 20, "pp_Luat_RDA8910ABCD", 19);
    CHECK(refused(longname, "core_version=1", SRV_INVALID_FIRMWARE, "too long"));
    /* its longest that fits: PROJECT_LuatOS-SoC_<bsp> is 6 longer than PROJECT_Luat_<bsp> */
    CHECK(parse(longname + 6, "1.0.1", "core_version=1", &a, &code, why, sizeof why) == 1);
    CHECK(strlen(a.fw) == SRV_NAME_MAX);

    /* the log row's request notes a core sent apart */
    char req[64] = "firmware_name=demo_Luat_RDA8910";
    CHECK(parse("demo_Luat_RDA8910", "1.0.1", "core_version=26", &a, &code, why, sizeof why) == 1);
    srv_air_note(&a, req, sizeof req);
    CHECK(strcmp(req, "firmware_name=demo_Luat_RDA8910 core_version=26") == 0);
    CHECK(parse("demo_Luat_V26_RDA8910", "1.0.1", "core_version=26", &a, &code, why, sizeof why) == 1);
    char req2[8] = "x";
    srv_air_note(&a, req2, sizeof req2);
    CHECK(strcmp(req2, "x") == 0);
}

static void test_newer(void)
{
    srv_air a;
    int newer = -1;
    int code;
    char why[SRV_MSG_MAX];
    CHECK(parse("demo_Luat_V1103_RDA8910", "1.0.1", NULL, &a, &code, why, sizeof why) == 1);
    CHECK(srv_air_newer(1104, "1.0.0", &a, &newer) == 0 && newer == 1);   /* a newer core */
    CHECK(srv_air_newer(1102, "9.9.9", &a, &newer) == 0 && newer == 0);   /* an older core */
    CHECK(srv_air_newer(1103, "1.0.2", &a, &newer) == 0 && newer == 1);
    CHECK(srv_air_newer(1103, "1.0.1", &a, &newer) == 0 && newer == 0);
    CHECK(srv_air_newer(1103, "1.1.0", &a, &newer) == 0 && newer == 1);   /* y counts */
    CHECK(srv_air_newer(1103, "0.9.9", &a, &newer) == 0 && newer == 0);
    CHECK(srv_air_newer(1103, "bad", &a, &newer) == -1);
}

static void test_package_url(void)
{
    CHECK(srv_air_package_url_ok("http://cdn.example.com/fota"));
    CHECK(srv_air_package_url_ok("https://cdn.example.com/fota/"));
    CHECK(!srv_air_package_url_ok(NULL));
    CHECK(!srv_air_package_url_ok("ftp://cdn/x"));
    CHECK(!srv_air_package_url_ok("http://cdn/a b"));
    CHECK(!srv_air_package_url_ok("http://cdn/\"x"));
    CHECK(!srv_air_package_url_ok("http://cdn/\r\nX: y"));
    char url[SRV_AIR_URL_MAX + 2];
    memset(url, 'a', sizeof url);
    memcpy(url, "http://", 7);
    url[SRV_AIR_URL_MAX] = '\0';
    CHECK(srv_air_package_url_ok(url));
    url[SRV_AIR_URL_MAX] = 'a';
    url[SRV_AIR_URL_MAX + 1] = '\0';
    CHECK(!srv_air_package_url_ok(url));
}

/* The Air724 library's reading of an answer: msg out of a body of at most
 * 200 bytes, "\u" dropped, the hex as UCS-2 big endian; back to UTF-8 here. */
static void air724_read(const char *body, size_t n, char *msg, size_t size)
{
    const char *p = strstr(body, "\"msg\":\""), *e = p ? strchr(p + 7, '"') : NULL;
    size_t o = 0;
    msg[0] = '\0';
    if (n > SRV_AIR724_BODY_MAX || !e) return;
    for (p += 7; p + 6 <= e && o + 4 < size; p += 6) {
        unsigned cp = 0;
        if (p[0] != '\\' || p[1] != 'u' || sscanf(p + 2, "%4x", &cp) != 1) return;
        if (cp < 0x80) {
            msg[o++] = (char)cp;
        } else if (cp < 0x800) {
            msg[o++] = (char)(0xc0 | cp >> 6);
            msg[o++] = (char)(0x80 | (cp & 0x3f));
        } else {
            msg[o++] = (char)(0xe0 | cp >> 12);
            msg[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
            msg[o++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    msg[o] = '\0';
}

static void test_air724_json(void)
{
    char body[512], msg[256];
    size_t n = srv_air724_json(body, sizeof body, 43, "please wait");
    CHECK(n == strlen(body) && n <= SRV_AIR724_BODY_MAX);
    CHECK(strncmp(body, "{\"code\":43,\"msg\":\"\\u0070\\u006c", 26) == 0);
    air724_read(body, n, msg, sizeof msg);
    CHECK(strcmp(msg, "please wait") == 0);
    /* too long whole: the gist before ": " */
    n = srv_air724_json(body, sizeof body, 27, "already latest: V1103 1.0.1 is not newer than V1103 1.0.1");
    air724_read(body, n, msg, sizeof msg);
    CHECK(n <= SRV_AIR724_BODY_MAX && strcmp(msg, "already latest") == 0);
    CHECK(strstr(body, "\"code\":27") != NULL);
    /* no gist that fits: cut to the body's bound */
    n = srv_air724_json(body, sizeof body, 3, "core_version 1104 contradicts V1103 in firmware_name");
    air724_read(body, n, msg, sizeof msg);
    CHECK(n <= SRV_AIR724_BODY_MAX && strcmp(msg, "core_version 1104 contradicts") == 0);
    /* no space to cut at: the bound */
    n = srv_air724_json(body, sizeof body, 3, "abcdefghijklmnopqrstuvwxyz0123456789");
    air724_read(body, n, msg, sizeof msg);
    CHECK(n <= SRV_AIR724_BODY_MAX && n > SRV_AIR724_BODY_MAX - 6 && strcmp(msg, "abcdefghijklmnopqrstuvwxyz0123") == 0);
    /* Chinese as UCS-2; past U+FFFF U+FFFD; a control and a broken byte '?' */
    n = srv_air724_json(body, sizeof body, 26, "\xe5\x8d\x87\xe7\xba\xa7 \xf0\x9f\x98\x80\x01\xff");
    air724_read(body, n, msg, sizeof msg);
    CHECK(strcmp(msg, "\xe5\x8d\x87\xe7\xba\xa7 \xef\xbf\xbd??") == 0);
    CHECK(strstr(body, "\\u5347\\u7ea7\\u0020\\ufffd") != NULL);
    n = srv_air724_json(body, sizeof body, 0, "");
    CHECK(n == strlen(body) && strcmp(body, "{\"code\":0,\"msg\":\"\"}") == 0);
    /* a buffer too small for the bound: nothing written */
    CHECK(srv_air724_json(body, SRV_AIR724_BODY_MAX, 0, "x") == 0);
}

int main(void)
{
    test_parse();
    test_newer();
    test_package_url();
    test_air724_json();
    return ctest_finish("test_server_air");
}
