/* LuatOS-Air's query (server/air.c): the firmware name with the Air core
 * version, the full script version, device_key and need_oss_url. */
#ifndef SRV_AIR_H
#define SRV_AIR_H

#include <microhttpd.h>

#include "build.h"
#include "srv.h"

typedef struct srv_air {
    char fw[SRV_NAME_MAX + 1];    /* the release's firmware name: PROJECT_LuatOS-SoC_<bsp> */
    uint32_t core;                /* the device's core, from PROJECT_Luat_V<core>_<bsp> */
    char script[SRV_VER_MAX];     /* the device's script version x.y.z (validated) */
    int oss;                      /* need_oss_url=1 */
} srv_air;

/* 1 when fw (validated) is an Air firmware name; fills out. ver: canonical x.y.z. */
int srv_air_parse(const char *fw, const char *ver, srv_air *out);
/* device_key (empty or [A-Za-z0-9_-], <= 64) and need_oss_url (0|1): 0 ok, -1 bad. */
int srv_air_extra(struct MHD_Connection *c, srv_air *a);
/* Is (target_core, target_script) newer than the device's? 0 ok, -1 bad version. */
int srv_air_newer(uint32_t target_core, const char *target_script, const srv_air *a, int *newer);
/* serve --package-url: http(s)://..., printable, at most SRV_AIR_URL_MAX. */
int srv_air_package_url_ok(const char *url);
/* 302 to base/<sha256>.fota (with the package's ETag and the answer's
 * signed statement, when there is one). */
enum MHD_Result srv_package_redirect(struct MHD_Connection *c, const char *base, const srv_pkg *pkg,
                                     const char *fresh, int *status);

#endif
