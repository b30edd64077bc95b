/* The module's non-volatile memory in its device directory: the identity
 * written at the factory (IMEI, model, bsp; file "identity") and the
 * AT+UPGRADE settings (KEY, URL, PERIOD; file "nv"), the user profile of
 * AT&W (echo, CMEE, IPR; file "profile"), the last check's result ("last"),
 * an outcome still owed to the host ("report") and the installed package's
 * validator ("installed"). Each is a small "name=value" file replaced whole
 * (temporary file, sync, rename through the port), so a power cut keeps the old or the new settings, never a mix. */
#ifndef AT_NV_H
#define AT_NV_H

#include <stddef.h>
#include <stdint.h>

#define AT_KEY_MAX 64            /* product key: [A-Za-z0-9_-], as the platform's */
#define AT_URL_MAX 255
#define AT_NAME_MAX 31           /* model, bsp: [A-Za-z0-9._-] */
#define AT_IMEI_LEN 15
#define AT_PERIOD_DEFAULT 86400u /* seconds: the module asks by itself within a day */
#define AT_PERIOD_MAX 2592000u   /* 30 days; 0 = no automatic check */

typedef struct at_settings {
    char key[AT_KEY_MAX + 1];    /* "" = the default project the IMEI is placed in */
    char url[AT_URL_MAX + 1];    /* "" = the IoT platform */
    uint32_t period;             /* seconds between automatic checks */
} at_settings;

/* The V.25ter user profile: what AT&W stores, ATZ and every boot restore. */
typedef struct at_profile {
    int echo;                    /* ATE: 0/1 */
    int cmee;                    /* AT+CMEE: 0..2 */
    uint32_t ipr;                /* AT+IPR: one of at_ipr_rates */
} at_profile;

/* The last check's result (AT+UPGRADE?): kept across reboots, the one into
 * new firmware included, which tells END 0. */
typedef struct at_last {
    int end;                     /* the END code */
    uint64_t time;               /* when: seconds since 1970 (UTC) */
    uint32_t version;            /* the firmware then running, 1016 for V1016 */
} at_last;

/* What the server called the package the running firmware came from (file
 * "installed"): its ETag, else its Last-Modified. A check of a URL asks
 * If-None-Match (If-Modified-Since) with it, so a server that still offers
 * that package answers 304 instead of sending it. */
#define AT_VALIDATOR_MAX 199     /* core/stage's validator bound */
typedef struct at_installed {
    char validator[AT_VALIDATOR_MAX + 1];  /* "..." or W/"..." (an ETag), or an HTTP date */
    uint32_t version;            /* the firmware it installed */
} at_installed;

typedef struct at_identity {
    char imei[AT_IMEI_LEN + 1];
    char model[AT_NAME_MAX + 1]; /* e.g. Air780E */
    char bsp[AT_NAME_MAX + 1];   /* e.g. EC618 */
} at_identity;

int at_key_ok(const char *s);    /* 0..AT_KEY_MAX of [A-Za-z0-9_-] */
int at_url_ok(const char *s);    /* "", or http(s)://... up to AT_URL_MAX printable, no space or quote */
int at_name_ok(const char *s);
int at_ipr_ok(unsigned long rate);   /* one of the rates AT+IPR=? lists */
extern const uint32_t at_ipr_rates[];
extern const size_t at_ipr_rate_count;
int at_imei_ok(const char *s);   /* 15 digits, Luhn check digit */
/* A Luhn-valid IMEI derived from a name (the device directory's). */
void at_imei_from_name(const char *name, char out[AT_IMEI_LEN + 1]);

void at_settings_default(at_settings *st);
/* FOTA_OK, FOTA_ERR_NOENT (never saved: defaults) or FOTA_ERR_FORMAT (a value
 * out of range or unreadable: defaults, the file is left for inspection). */
int at_settings_load(const char *dir, at_settings *st);
int at_settings_save(const char *dir, const at_settings *st);
void at_profile_default(at_profile *p);   /* the factory's: echo on, CMEE 0, 115200 */
/* As at_settings_load: FOTA_OK, FOTA_ERR_NOENT or FOTA_ERR_FORMAT (defaults). */
int at_profile_load(const char *dir, at_profile *p);
int at_profile_save(const char *dir, const at_profile *p);
/* FOTA_OK, FOTA_ERR_NOENT (no check ended yet) or FOTA_ERR_FORMAT. */
int at_last_load(const char *dir, at_last *l);
int at_last_save(const char *dir, const at_last *l);
/* The report still owed for a firmware on trial (file "report"): the
 * version that booted on trial, whose UPDATED/ROLLBACK the host has not been
 * told. Written before the boot decides, removed right after the URCs are
 * written (docs/at.md: "Told once"). *version 0 when there is none
 * (FOTA_ERR_NOENT) or the file is unreadable (FOTA_ERR_FORMAT). */
int at_report_load(const char *dir, uint32_t *version);
int at_report_save(const char *dir, uint32_t version);   /* version 1..999999999 */
int at_report_clear(const char *dir);                     /* one removal */
int at_etag_ok(const char *s);   /* an entity tag fit for If-None-Match: "..." or W/"...", printable */
/* An ETag, or a date fit for If-Modified-Since (printable, spaces inside). */
int at_validator_ok(const char *s);
/* FOTA_OK, FOTA_ERR_NOENT or FOTA_ERR_FORMAT (both: none known). */
int at_installed_load(const char *dir, at_installed *in);
int at_installed_save(const char *dir, const at_installed *in);
/* FOTA_OK, FOTA_ERR_NOENT (not made yet) or FOTA_ERR_FORMAT. */
int at_identity_load(const char *dir, at_identity *id);
int at_identity_save(const char *dir, const at_identity *id);

#endif
