/* LuatOS-Air's query (server/air.c): the firmware name and the Air core
 * version (in the name, or as core_version=), the full script version,
 * device_key, dfota and need_oss_url. */
#ifndef SRV_AIR_H
#define SRV_AIR_H

#include <microhttpd.h>

#include "build.h"
#include "srv.h"

#define SRV_AIR_CORE_DIGITS_MAX 9   /* core_version / V<core>: fits a uint32_t */

/* Air's own parameters, as the request carried them. */
enum { SRV_AIR_P_CORE, SRV_AIR_P_DFOTA, SRV_AIR_P_DKEY, SRV_AIR_P_OSS, SRV_AIR_P__N };
typedef struct srv_air_args {
    const char *v[SRV_AIR_P__N];  /* NULL: absent */
    size_t n[SRV_AIR_P__N];
    int bad[SRV_AIR_P__N];        /* repeated, or a NUL inside */
} srv_air_args;

typedef struct srv_air {
    char fw[SRV_NAME_MAX + 1];    /* the release's firmware name: PROJECT_LuatOS-SoC_<bsp> */
    uint32_t core;                /* the device's core: V<core> in the name, or core_version */
    char script[SRV_VER_MAX];     /* the device's script version x.y.z (validated) */
    int oss;                      /* need_oss_url=1 */
    int core_param;               /* the core came as core_version= (the Air724 library's form) */
} srv_air;

/* Air's parameters of the request c into args. */
void srv_air_collect(struct MHD_Connection *c, srv_air_args *args);
/* fw (validated firmware_name), ver (canonical x.y.z), args: 1 when the
 * query is LuatOS-Air's (out filled), 0 when it is not (a LuatOS query),
 * -1 when it is Air's but malformed or contradictory: *code and why (a
 * message for the device) say what. */
int srv_air_parse(const char *fw, const char *ver, const srv_air_args *args, srv_air *out, int *code, char *why,
                  size_t why_size);
/* The log row's request notes a core sent as core_version (the name lacks it). */
void srv_air_note(const srv_air *a, char *request, size_t size);
/* Is (target_core, target_script) newer than the device's? 0 ok, -1 bad version. */
int srv_air_newer(uint32_t target_core, const char *target_script, const srv_air *a, int *newer);
/* The Air724 library (lib/update.lua) prints an answer's msg only from a
 * body of at most SRV_AIR724_BODY_MAX bytes received whole, and decodes it
 * as the platform writes it: every character a \uXXXX escape, the "\u"s
 * dropped, the hex read back as UCS-2 big endian. */
#define SRV_AIR724_BODY_MAX 200
/* Does the query come from the Air724 library (it always sends core_version)? */
int srv_air_is_724(const srv_air_args *args);
/* {"code":code,"msg":"\uXXXX..."} into out (size > SRV_AIR724_BODY_MAX):
 * msg (UTF-8) whole if the body fits SRV_AIR724_BODY_MAX, else its gist
 * (what comes before the first ": "), else cut to fit (at a space). A character past
 * U+FFFF (UCS-2 has none) is U+FFFD; a control or a broken sequence '?'.
 * Returns the body's length. */
size_t srv_air724_json(char *out, size_t size, int code, const char *msg);
/* serve --package-url: http(s)://..., printable, at most SRV_AIR_URL_MAX. */
int srv_air_package_url_ok(const char *url);
/* 302 to base/<sha256>.fota (with the package's ETag and the answer's
 * signed statement, when there is one). */
enum MHD_Result srv_package_redirect(struct MHD_Connection *c, const char *base, const srv_pkg *pkg,
                                     const char *fresh, int *status);

#endif
