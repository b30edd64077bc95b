/* A simulated Luat AT module: its boot (A/B firmware slots, a staged
 * package applied, the new firmware confirmed), the AT command set of
 * docs/at.md (3GPP 27.007 style results, +CME ERROR), the automatic upgrade
 * check (PERIOD with jitter) and AT+UPGRADE. Bytes in, bytes out through
 * callbacks: the serial port (pty) and the poll loop live in main.c. */
#ifndef AT_MODULE_H
#define AT_MODULE_H

#include <stddef.h>
#include <stdint.h>

#include "at_line.h"
#include "at_nv.h"
#include "at_upgrade.h"
#include "core/slots.h"

typedef void (*at_write_fn)(void *ud, const char *data, size_t len);

typedef struct at_module_cfg {
    const char *device_dir;
    const char *iot_url;         /* the platform's upgrade API */
    at_write_fn out;             /* the AT port */
    at_write_fn log;             /* the progress log port */
    void *ud;
    /* After a boot that found an interrupted download: the retry comes this
     * many ms after RDY, uniformly in [min, max] (0, 0: 5..15 s). */
    uint32_t retry_min_ms, retry_max_ms;
} at_module_cfg;

#define AT_RETRY_MIN_MS 5000u
#define AT_RETRY_MAX_MS 15000u

typedef struct at_module {
    at_module_cfg cfg;
    at_identity id;
    at_settings nv;
    fota_boot_record rec;        /* of this boot */
    at_line line;
    int echo;                    /* ATE1 */
    int cmee;                    /* AT+CMEE: 0 ERROR, 1 numeric, 2 verbose */
    uint32_t ipr;                /* AT+IPR: the rate the host set (a pty has no baud rate) */
    at_upgrade up;
    at_upgrade_cfg up_cfg;
    int upgrading;
    int check_now;               /* AT+UPGRADE or the first check after an update */
    int reboot;                  /* AT+RESET, AT+CFUN=1,1 or a committed upgrade */
    uint64_t next_check_ms;      /* the periodic check, 0 = off */
    uint64_t rng;                /* jitter */
    uint64_t started_ms;
    int has_last;                /* a check ended since the device was made */
    at_last last;                /* its END code, time, firmware */
    at_installed installed;      /* the ETag (or date) of the package the firmware came from */
} at_module;

/* Factory flash of a new device: the firmware image as slot A and the
 * identity. FOTA_OK or a fota_err / FOTA_PKG_E_* code. */
int at_module_flash(const char *device_dir, const at_identity *id, const char *image, uint32_t version);

/* Boots the module (also what a reboot does): prints RDY, then what the
 * host is still owed: UPDATED or ROLLBACK and END for an upgrade on trial
 * (once: docs/at.md), INTERRUPTED for a download cut before it completed
 * (then a retry within seconds when a KEY or URL is set). FOTA_OK, or
 * FOTA_ERR_NOENT (never flashed), FOTA_ERR_FORMAT (no bootable firmware). */
int at_module_boot(at_module *m, const at_module_cfg *cfg, uint64_t now_ms);
/* Bytes from the AT port. */
void at_module_input(at_module *m, const uint8_t *data, size_t len);
/* Runs what is due (a reboot, the upgrade, the timer). Returns the ms the
 * caller may wait for input before calling again, or a negative fota_err
 * when a reboot found no bootable firmware. */
long at_module_poll(at_module *m, uint64_t now_ms);
void at_module_free(at_module *m);

#endif
