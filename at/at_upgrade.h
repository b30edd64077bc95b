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
#define AT_UPGRADE_WAITS_MAX 10         /* 43 answers one check waits through before it ends (END 43) */
#define AT_UPGRADE_WAIT_DEFAULT_S 30u   /* a 43 without Retry-After, as Luat's clients wait */
#define AT_UPGRADE_WAIT_MAX_S 300u      /* a longer Retry-After is cut to this */

/* The END codes (docs/at.md): 0 upgraded, the platform's own code (1..99)
 * when it answered no package, and these for what happens on the module. */
enum at_end {
    AT_END_UPGRADED = 0,
    AT_END_LATEST = 27,         /* the platform's "already latest", also a static URL's 304 */
    AT_END_PLATFORM_MAX = 99,   /* 3, 17, 21, 25, 26, 27, 40, 43 (waited enough), 44 ... */
    AT_END_ROLLBACK = 100,      /* the new firmware did not run: the old one runs again */
    AT_END_RESET = 101,         /* cut by AT+RESET / AT+CFUN=1,1 */
    AT_END_CONNECT = 110,
    AT_END_TIMEOUT = 111,
    AT_END_CLOSED = 112,
    AT_END_RECEIVE = 113,
    AT_END_BAD_HEADER = 114,
    AT_END_BAD_BODY = 115,
    AT_END_URL = 116,
    AT_END_HTTP_STATUS = 117,   /* an answer neither a package nor the platform's JSON */
    AT_END_NETWORK = 118,       /* another transfer error (request, write, state) */
    AT_END_NOT_A_PACKAGE = 120,
    AT_END_TOO_LARGE = 121,
    AT_END_TRUNCATED = 122,
    AT_END_VERIFY = 130         /* 130..144: the verifier's reasons, see at_upgrade.c */
};

/* Where a running check is (AT+UPGRADE?). */
enum at_phase { AT_PHASE_QUERY, AT_PHASE_DOWNLOAD, AT_PHASE_WAIT };

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
    const char *installed;      /* the validator of the package it came from (at_nv's "installed"), or NULL */
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
    int end;                    /* the END code once the check is over */
    int waits;                  /* 43 answers so far in this check */
    uint64_t wait_until;        /* waiting after a 43: ask again then; 0 = not waiting */
    char cond[AT_VALIDATOR_MAX + 32];   /* "If-None-Match: <etag>\r\n" (If-Modified-Since), or "" */
    char validator[AT_VALIDATOR_MAX + 1];   /* after COMMITTED: the package's ETag or date, or "" */
} at_upgrade;

/* The verification policy of this module (its bsp, its trusted key read
 * into key) for a commit now or of a staged package at boot: FOTA_OK, or
 * the error that kept the key file from being read. */
int at_upgrade_policy(const char *device_dir, const at_identity *id, fota_pkg_policy *pol, char *key, size_t cap);
/* The query URL for these settings; FOTA_OK or FOTA_ERR_RANGE. */
int at_upgrade_url(const at_upgrade_cfg *cfg, char *out, size_t cap);
/* A download of this query cut before it was committed (a resume record
 * in fota/stage.bin names it; the stage is cut back to its durable bytes):
 * 1 and *percent (0..100) of the package already here, else 0. */
int at_upgrade_interrupted(const at_upgrade_cfg *cfg, int *percent);
/* Starts a check ("START"); AT_UPGRADE_RUNNING, or AT_UPGRADE_FAILED
 * (told). The cfg's pointers must stay valid until the upgrade ends. */
int at_upgrade_start(at_upgrade *u, const at_upgrade_cfg *cfg);
/* At most budget_ms of work; the result once it is not RUNNING (then
 * u->end holds the END code). A 43 is waited through inside the check (the
 * server's Retry-After, 1..300 s, default 30 s) up to AT_UPGRADE_WAITS_MAX
 * times; each is still told ("CODE",43,...). */
int at_upgrade_step(at_upgrade *u, uint32_t budget_ms);
/* While waiting after a 43: how long still (ms, at least 1), else 0. */
uint64_t at_upgrade_wait_ms(const at_upgrade *u);
/* Ends a 43 wait now (the host asked); 1 if the check was waiting. */
int at_upgrade_ask_now(at_upgrade *u);
int at_upgrade_percent(const at_upgrade *u);   /* the last "DOWNLOAD" told */
/* The phase and the exact percentage (0 until the size is known). */
int at_upgrade_phase(const at_upgrade *u, int *percent);
/* Stops a running check (a reset): as after a power cut, the durable part
 * of a download the server named (ETag) stays for the next check. */
void at_upgrade_abort(at_upgrade *u);

#endif
