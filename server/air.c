/* LuatOS-Air's query (update.request), answered by the same checks and
 * codes as LuatOS's. Two libraries, two forms (docs/server.md):
 *   the 2G library's (Luat_2G_RDA_8955 script_LuaTask/lib/update.lua):
 *     ?project_key=K&imei=I&device_key=SN&firmware_name=PROJECT_Luat_V<core>_<bsp>
 *      &version=<script x.y.z>[&need_oss_url=1]
 *   the Air724 library's (Luat_Lua_Air724U lib/update.lua): the core out of
 *   the name, as a number, and Range always (bytes=0- first):
 *     ?project_key=K&imei=I&firmware_name=PROJECT_Luat_<bsp>&core_version=<core>
 *      &dfota=1&version=<script x.y.z>[&need_oss_url=1]
 * Both name the release PROJECT_LuatOS-SoC_<bsp>; the bsp is everything
 * after the core (or after _Luat_), the core firmware's variant included
 * (RDA8910_TTS_FLOAT): a module gets only its own variant's releases. The
 * device's version is that core with the full three-part script version.
 * With need_oss_url=1 and `serve --package-url URL` the package is a 302 to
 * URL/<sha256>.fota (the package host holds `fota-server export` or a copy
 * of DATA/cache), else the package itself. LuatOS devices get that 302
 * whenever the server has --package-url. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/fresh.h"
#include <unistd.h>

#include <microhttpd.h>

#include "core/version.h"
#include "air.h"
#include "validate.h"

#define AIR_MARK "_Luat_"

static const char *const air_param[SRV_AIR_P__N] = { "core_version", "dfota", "device_key", "need_oss_url" };

static enum MHD_Result air_collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                   const char *value, size_t value_size)
{
    (void)kind;
    srv_air_args *a = cls;
    for (int i = 0; i < SRV_AIR_P__N; i++) {
        if (key_size != strlen(air_param[i]) || memcmp(key, air_param[i], key_size) != 0) continue;
        /* repeated, or a "%00" the C string would hide: that parameter is bad */
        if (a->v[i] || (value && strlen(value) != value_size)) a->bad[i] = 1;
        a->v[i] = value ? value : "";
        a->n[i] = value ? value_size : 0;
    }
    return MHD_YES;
}

void srv_air_collect(struct MHD_Connection *c, srv_air_args *args)
{
    memset(args, 0, sizeof *args);
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, air_collect, args);
}

/* n (1..SRV_AIR_CORE_DIGITS_MAX) digits at s: 1 with *core, else 0. */
static int air_core(const char *s, size_t n, uint32_t *core)
{
    if (n < 1 || n > SRV_AIR_CORE_DIGITS_MAX) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *core = v;
    return 1;
}

static int refuse(int *code, int c, char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    *code = c;
    return -1;
}

int srv_air_parse(const char *fw, const char *ver, const srv_air_args *args, srv_air *out, int *code, char *why,
                  size_t why_size)
{
    memset(out, 0, sizeof *out);
    const char *cv = args->v[SRV_AIR_P_CORE], *df = args->v[SRV_AIR_P_DFOTA];
    const char *key = args->v[SRV_AIR_P_DKEY], *oss = args->v[SRV_AIR_P_OSS];
    const char *mark = NULL;
    /* The last "_Luat_": a project name may hold one too, a bsp does not. */
    for (const char *p = strstr(fw, AIR_MARK); p; p = strstr(p + 1, AIR_MARK)) mark = p;
    const char *rest = mark ? mark + strlen(AIR_MARK) : "", *bsp = NULL;
    uint32_t core = 0;
    int core_in_name = 0;
    if (mark && mark != fw) {
        if (rest[0] == 'V' && rest[1] >= '0' && rest[1] <= '9') {
            const char *e = rest + 1;
            while (*e >= '0' && *e <= '9') e++;
            if (*e == '_' && e[1] && air_core(rest + 1, (size_t)(e - rest - 1), &core)) {
                core_in_name = 1;
                bsp = e + 1;
            } else if (!cv) {
                return 0;   /* no Air name: LuatOS's checks answer it */
            } else {
                return refuse(code, SRV_INVALID_FIRMWARE, why, why_size,
                              "bad firmware_name: PROJECT_Luat_<bsp> with core_version, or "
                              "PROJECT_Luat_V<core>_<bsp>, core 1..%d digits", SRV_AIR_CORE_DIGITS_MAX);
            }
        } else if (rest[0]) {
            bsp = rest;
        }
    }
    if (!core_in_name && !cv) {
        /* dfota comes with core_version only (the Air724 library) */
        if (df) return refuse(code, SRV_INVALID_FIRMWARE, why, why_size, "dfota without core_version");
        return 0;
    }
    if (!bsp)
        return refuse(code, SRV_INVALID_FIRMWARE, why, why_size,
                      "core_version needs firmware_name PROJECT_Luat_<bsp>");
    if (cv) {
        uint32_t given = 0;
        if (args->bad[SRV_AIR_P_CORE] || !air_core(cv, args->n[SRV_AIR_P_CORE], &given))
            return refuse(code, SRV_INVALID_FIRMWARE, why, why_size, "bad core_version: once, 1..%d digits",
                          SRV_AIR_CORE_DIGITS_MAX);
        if (core_in_name && given != core)
            return refuse(code, SRV_INVALID_FIRMWARE, why, why_size,
                          "core_version %lu contradicts V%lu in firmware_name", (unsigned long)given,
                          (unsigned long)core);
        out->core_param = !core_in_name;
        core = given;
    }
    /* dfota=1: the module applies delta packages, which the server may send */
    if (df && (args->bad[SRV_AIR_P_DFOTA] || args->n[SRV_AIR_P_DFOTA] != 1 || df[0] != '1'))
        return refuse(code, SRV_INVALID_FIRMWARE, why, why_size, "bad dfota: once, 1 (packages may be deltas)");
    /* device_key is the module's serial number: empty when it has none */
    if (key && (args->bad[SRV_AIR_P_DKEY] || (*key && !srv_is_key(key, args->n[SRV_AIR_P_DKEY]))))
        return refuse(code, SRV_INVALID_DEVICE, why, why_size, "bad device_key: once, empty or 1..%d of [A-Za-z0-9_-]",
                      SRV_KEY_MAX);
    if (oss && (args->bad[SRV_AIR_P_OSS] || args->n[SRV_AIR_P_OSS] != 1 || (oss[0] != '0' && oss[0] != '1')))
        return refuse(code, SRV_INVALID_DEVICE, why, why_size, "bad need_oss_url: once, 0 or 1");
    /* PROJECT_LuatOS-SoC_<bsp>, the variant suffixes in the bsp */
    int m = snprintf(out->fw, sizeof out->fw, "%.*sLuatOS-SoC_%s", (int)(mark - fw + 1), fw, bsp);
    if (m < 0 || (size_t)m > SRV_NAME_MAX)
        return refuse(code, SRV_INVALID_FIRMWARE, why, why_size,
                      "firmware_name too long: its release PROJECT_LuatOS-SoC_<bsp> is over %d", SRV_NAME_MAX);
    size_t vn = strlen(ver);
    if (vn >= sizeof out->script) return refuse(code, SRV_VERSION_NOT_ALLOWED, why, why_size, "bad version");
    memcpy(out->script, ver, vn + 1);
    out->core = core;
    out->oss = oss && oss[0] == '1';
    return 1;
}

void srv_air_note(const srv_air *a, char *request, size_t size)
{
    size_t o = strnlen(request, size);
    if (a->core_param && o < size) snprintf(request + o, size - o, " core_version=%lu", (unsigned long)a->core);
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

int srv_air_is_724(const srv_air_args *args)
{
    return args->v[SRV_AIR_P_CORE] != NULL;
}

/* The UCS-2 code units of the n bytes of UTF-8 at s, at most max stored in
 * u; returns how many there are in all. */
static size_t air_ucs2(const char *s, size_t n, uint16_t *u, size_t max)
{
    size_t count = 0;
    for (size_t i = 0, len; i < n; i += len, count++) {
        const unsigned char *b = (const unsigned char *)s + i;
        uint32_t cp;
        len = srv_utf8_seq(s + i, n - i);
        if (len == 0) {
            cp = '?';
            len = 1;
        } else if (len == 1) {
            cp = b[0] < 0x20 || b[0] == 0x7f ? '?' : b[0];
        } else if (len == 2) {
            cp = (uint32_t)(b[0] & 0x1f) << 6 | (b[1] & 0x3f);
            if (cp < 0xa0) cp = '?';   /* C1 controls */
        } else if (len == 3) {
            cp = (uint32_t)(b[0] & 0x0f) << 12 | (uint32_t)(b[1] & 0x3f) << 6 | (b[2] & 0x3f);
        } else {
            cp = 0xfffd;
        }
        if (count < max) u[count] = (uint16_t)cp;
    }
    return count;
}

size_t srv_air724_json(char *out, size_t size, int code, const char *msg)
{
    char head[32];
    int hn = snprintf(head, sizeof head, "{\"code\":%d,\"msg\":\"", code);
    static const char tail[] = "\"}";
    if (hn < 0 || size <= SRV_AIR724_BODY_MAX) return 0;
    /* each character is "\uXXXX": 6 bytes */
    size_t room = (SRV_AIR724_BODY_MAX - (size_t)hn - (sizeof tail - 1)) / 6;
    uint16_t u[SRV_AIR724_BODY_MAX / 6];
    size_t n = strlen(msg);
    if (air_ucs2(msg, n, u, room) > room) {
        const char *gist = strstr(msg, ": ");
        if (gist && air_ucs2(msg, (size_t)(gist - msg), u, room) <= room) n = (size_t)(gist - msg);
    }
    size_t count = air_ucs2(msg, n, u, room);
    if (count > room) {   /* cut: at the last space, when that keeps more than half */
        count = room;
        size_t sp = room;
        while (sp > room / 2 && u[sp - 1] != ' ') sp--;
        if (sp > room / 2) count = sp - 1;
    }
    size_t o = (size_t)hn;
    memcpy(out, head, o);
    for (size_t i = 0; i < count; i++) o += (size_t)snprintf(out + o, size - o, "\\u%04x", u[i]);
    memcpy(out + o, tail, sizeof tail);
    return o + sizeof tail - 1;
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
