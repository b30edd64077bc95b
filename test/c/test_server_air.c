/* server/air.c: which firmware names are LuatOS-Air's, what they map to,
 * the Air version comparison and the --package-url check. */
#include <string.h>

#include "air.h"
#include "ctest_util.h"

static void test_parse(void)
{
    srv_air a;
    CHECK(srv_air_parse("demo_Luat_V1103_RDA8910", "1.0.1", &a) == 1);
    CHECK(strcmp(a.fw, "demo_LuatOS-SoC_RDA8910") == 0 && a.core == 1103 && strcmp(a.script, "1.0.1") == 0);
    CHECK(a.oss == 0);
    /* Air's build options stay in the bsp; the last _Luat_V counts */
    CHECK(srv_air_parse("my_Luat_Vx_Luat_V0035_RDA8910_FLOAT", "2.3.4", &a) == 1);
    CHECK(strcmp(a.fw, "my_Luat_Vx_LuatOS-SoC_RDA8910_FLOAT") == 0 && a.core == 35);
    /* LuatOS's names and malformed ones are not Air's */
    CHECK(srv_air_parse("demo_LuatOS-SoC_EC618", "1103.1.1", &a) == 0);
    CHECK(srv_air_parse("_Luat_V1103_RDA8910", "1.0.1", &a) == 0);       /* no project */
    CHECK(srv_air_parse("demo_Luat_V_RDA8910", "1.0.1", &a) == 0);       /* no core digits */
    CHECK(srv_air_parse("demo_Luat_V1103", "1.0.1", &a) == 0);           /* no bsp */
    CHECK(srv_air_parse("demo_Luat_V1103_", "1.0.1", &a) == 0);
    CHECK(srv_air_parse("demo_Luat_V1234567890_X", "1.0.1", &a) == 0);   /* core over 9 digits */
    /* the mapped name must still fit a firmware name */
    char longname[SRV_NAME_MAX + 1];
    memset(longname, 'p', sizeof longname);
    memcpy(longname + SRV_NAME_MAX - 20, "_Luat_V1_RDA8910ABCD", 20);
    longname[SRV_NAME_MAX] = '\0';
    CHECK(srv_air_parse(longname, "1.0.1", &a) == 0);
}

static void test_newer(void)
{
    srv_air a;
    int newer = -1;
    CHECK(srv_air_parse("demo_Luat_V1103_RDA8910", "1.0.1", &a) == 1);
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

int main(void)
{
    test_parse();
    test_newer();
    test_package_url();
    return ctest_finish("test_server_air");
}
