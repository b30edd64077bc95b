/* One upgrade check of an AT module, on the shared core: the query (the IoT
 * platform's, or a self-built server's URL), the download into the staging
 * area (core/download, which resumes a cut one as libfota does), and for a
 * package the commit into the inactive firmware slot (core/slots, which
 * verifies it completely first).
 * Stepped from the module's poll loop; what happens is told through the
 * callback as the +UPGRADE lines of docs/at.md. */
#ifndef AT_UPGRADE_H
#define AT_UPGRADE_H

#include <stddef.h>
#include <stdint.h>

#include "at_nv.h"
#include "core/download.h"
#include "core/pkg.h"
#include "core/stage.h"

#define AT_UPGRADE_TIMEOUT_MS 180000u   /* whole transfer, as libfota's default */
#define AT_UPGRADE_BODY_MAX 1024        /* a JSON answer; more is cut */
#define AT_UPGRADE_URC_MAX 200
#define AT_TRUSTED_KEY_MAX 16384

enum at_upgrade_result {
    AT_UPGRADE_RUNNING = 1,
    AT_UPGRADE_COMMITTED = 0,   /* the new firmware is in the inactive slot: reboot */
    AT_UPGRADE_NONE = -1,       /* the server answered a code (27, 43, ...) */
    AT_UPGRADE_FAILED = -2      /* network, package refused, storage: old firmware kept */
};

typedef void (*at_urc_fn)(void *ud, const char *line);

typedef struct at_upgrade_cfg {
    const char *device_dir;
    const at_identity *id;
    const at_settings *nv;
    const char *iot_url;        /* the platform's upgrade API (full URL) */
    uint32_t fw_version;        /* the running firmware, 1015 for V1015 */
    at_urc_fn urc;
    void *ud;
} at_upgrade_cfg;

typedef struct at_upgrade {
    at_upgrade_cfg cfg;
    fota_download dl;
    int running;                /* dl is under way */
    fota_stage stage;
    char stage_path[FOTA_STAGE_PATH_MAX];
    char body[AT_UPGRADE_BODY_MAX + 1];
    size_t body_len;
    int last_percent;           /* the last "DOWNLOAD" percentage told */
    int code;                   /* the server's code after AT_UPGRADE_NONE */
    uint32_t retry_after_s;     /* its Retry-After (1..300), 0 = none */
} at_upgrade;

/* The verification policy of this module (its bsp, its trusted key read
 * into key) for a commit now or of a staged package at boot. */
void at_upgrade_policy(const char *device_dir, const at_identity *id, fota_pkg_policy *pol, char *key,
                       size_t cap);
/* The query URL for these settings; FOTA_OK or FOTA_ERR_RANGE. */
int at_upgrade_url(const at_upgrade_cfg *cfg, char *out, size_t cap);
/* Starts a check ("START"); AT_UPGRADE_RUNNING, or AT_UPGRADE_FAILED
 * (told). The cfg's pointers must stay valid until the upgrade ends. */
int at_upgrade_start(at_upgrade *u, const at_upgrade_cfg *cfg);
/* At most budget_ms of work; the result once it is not RUNNING. */
int at_upgrade_step(at_upgrade *u, uint32_t budget_ms);
int at_upgrade_percent(const at_upgrade *u);
/* Stops a running check (a reset): as after a power cut, the durable part
 * of a download the server named (ETag) stays for the next check. */
void at_upgrade_abort(at_upgrade *u);

#endif
