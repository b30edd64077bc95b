/* LuatOS-Air's query (update.request on Air724UG and friends), answered by
 * the same checks and codes as LuatOS's:
 *   ?project_key=K&imei=I&device_key=SN&firmware_name=PROJECT_Luat_V<core>_<bsp>
 *    &version=<script x.y.z>[&need_oss_url=1]
 * The firmware name carries the Air core version (rtos.get_version()); it
 * names the release PROJECT_LuatOS-SoC_<bsp>, and the device's version is
 * that core with the full three-part script version. With need_oss_url=1
 * and `serve --package-url URL` the package is a 302 to URL/<sha256>.fota
 * (the package host holds `fota-server export` or a copy of DATA/cache),
 * else the package itself. LuatOS devices get that 302 whenever the server
 * has --package-url. */
#include <stdio.h>
#include <string.h>

#include "core/fresh.h"
#include <unistd.h>

#include <microhttpd.h>

#include "core/version.h"
#include "air.h"
#include "validate.h"

#define AIR_MARK "_Luat_V"
#define AIR_CORE_DIGITS_MAX 9

int srv_air_parse(const char *fw, const char *ver, srv_air *out)
{
    memset(out, 0, sizeof *out);
    size_t n = strlen(fw);
    const char *mark = NULL;
    /* The last "_Luat_V": a project name may hold one too. */
    for (const char *p = strstr(fw, AIR_MARK); p; p = strstr(p + 1, AIR_MARK)) mark = p;
    if (!mark || mark == fw || n > SRV_NAME_MAX) return 0;
    const char *d = mark + strlen(AIR_MARK), *e = d;
    uint32_t core = 0;
    while (*e >= '0' && *e <= '9' && e - d < AIR_CORE_DIGITS_MAX) core = core * 10 + (uint32_t)(*e++ - '0');
    if (e == d || *e != '_' || e[1] == '\0') return 0;
    /* PROJECT_LuatOS-SoC_<bsp>: the bsp is the rest (Air's may have _FLOAT etc.: kept) */
    int m = snprintf(out->fw, sizeof out->fw, "%.*sLuatOS-SoC_%s", (int)(mark - fw + 1), fw, e + 1);
    if (m < 0 || (size_t)m >= sizeof out->fw || (size_t)m > SRV_NAME_MAX) return 0;
    if (strlen(ver) >= sizeof out->script) return 0;
    memcpy(out->script, ver, strlen(ver) + 1);
    out->core = core;
    return 1;
}

int srv_air_extra(struct MHD_Connection *c, srv_air *a)
{
    const char *key = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "device_key");
    const char *oss = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "need_oss_url");
    /* device_key is the module's serial number: empty when it has none */
    if (key && *key && !srv_is_key(key, strlen(key))) return -1;
    if (oss && strcmp(oss, "0") != 0 && strcmp(oss, "1") != 0) return -1;
    a->oss = oss && strcmp(oss, "1") == 0;
    return 0;
}

int srv_air_newer(uint32_t target_core, const char *target_script, const srv_air *a, int *newer)
{
    int cmp = 0;
    if (target_core != a->core) {
        *newer = target_core > a->core;
        return 0;
    }
    if (fota_version_compare(target_script, a->script, &cmp) != 0) return -1;
    *newer = cmp > 0;
    return 0;
}

int srv_air_package_url_ok(const char *url)
{
    size_t n = url ? strlen(url) : 0;
    if (n < 8 || n > SRV_AIR_URL_MAX) return 0;
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '"') return 0;
    return 1;
}

enum MHD_Result srv_package_redirect(struct MHD_Connection *c, const char *base, const srv_pkg *pkg,
                                     const char *fresh, int *status)
{
    char name[80];
    if (srv_package_name(pkg, name, sizeof name)) return MHD_NO;
    char location[SRV_AIR_URL_MAX + sizeof name + 2];
    size_t bl = strlen(base);
    int n = snprintf(location, sizeof location, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", name);
    if (n < 0 || (size_t)n >= sizeof location) return MHD_NO;
    static const char body[] = "{\"code\":0,\"msg\":\"package at Location\"}";
    struct MHD_Response *r = MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, pkg->etag);
    if (fresh) MHD_add_response_header(r, FOTA_FRESH_HEADER, fresh);
    *status = MHD_HTTP_FOUND;
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_FOUND, r);
    MHD_destroy_response(r);
    return ret;
}
