#include "at_module.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/fota_err.h"
#include "port/port.h"

#define AT_MAX_ARGS 4
#define UPGRADE_STEP_MS 5    /* per poll while a transfer runs: the port stays responsive */

/* 27.007 +CME ERROR codes used here; 0 is OK, PLAIN_ERROR an unknown command. */
enum {
    PLAIN_ERROR = -1,
    CME_NOT_ALLOWED = 3,
    CME_NOT_SUPPORTED = 4,
    CME_TOO_LONG = 24,
    CME_BAD_PARAM = 50,
    CME_UNKNOWN = 100
};

static const char *cme_text(int code)
{
    switch (code) {
    case CME_NOT_ALLOWED: return "operation not allowed";
    case CME_NOT_SUPPORTED: return "operation not supported";
    case CME_TOO_LONG: return "text string too long";
    case CME_BAD_PARAM: return "incorrect parameters";
    default: return "unknown";
    }
}

/* ---- output ---- */

static void put(at_module *m, const char *s)
{
    m->cfg.out(m->cfg.ud, s, strlen(s));
}

static void logf_(at_module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(at_module *m, const char *fmt, ...)
{
    char line[400];
    va_list ap;
    int n = snprintf(line, sizeof line, "[%8llu] ", (unsigned long long)(fota_port_now_ms() - m->started_ms));
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 2, fmt, ap);
    va_end(ap);
    strcat(line, "\r\n");
    m->cfg.log(m->cfg.ud, line, strlen(line));
}

/* An information line or a URC: "\r\n<text>\r\n" (V.250 verbose). */
static void line_out(at_module *m, const char *text)
{
    put(m, "\r\n");
    put(m, text);
    put(m, "\r\n");
}

static void urc(void *ud, const char *text)
{
    at_module *m = ud;
    line_out(m, text);
    logf_(m, "%s", text);
}

static void result(at_module *m, int rc)
{
    char text[64];
    if (rc == 0)
        line_out(m, "OK");
    else if (rc == PLAIN_ERROR || m->cmee == 0)
        line_out(m, "ERROR");
    else {
        if (m->cmee == 1)
            snprintf(text, sizeof text, "+CME ERROR: %d", rc);
        else
            snprintf(text, sizeof text, "+CME ERROR: %s", cme_text(rc));
        line_out(m, text);
    }
}

static void info(at_module *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(at_module *m, const char *fmt, ...)
{
    char text[AT_URL_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    line_out(m, text);
}

/* ---- the periodic check ---- */

static uint64_t next_random(at_module *m)
{
    /* xorshift64*: jitter only, not security */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * 2685821657736338717ull;
}

/* The next automatic check: PERIOD minus up to a tenth, so a fleet started
 * together spreads out instead of asking in the same second. */
static void schedule(at_module *m, uint64_t now)
{
    uint64_t period_ms = (uint64_t)m->nv.period * 1000u;
    if (!period_ms) {
        m->next_check_ms = 0;
        return;
    }
    m->next_check_ms = now + period_ms - next_random(m) % (period_ms / 10 + 1);
}

/* The result kept for AT+UPGRADE?'s LAST. */
static void keep_last(at_module *m, int end)
{
    int rc;
    m->last.end = end;
    m->last.time = (uint64_t)time(NULL);   /* the module's clock (network time on a real one) */
    m->last.version = m->rec.active.core_version;
    m->has_last = 1;
    if ((rc = at_last_save(m->cfg.device_dir, &m->last)) != FOTA_OK)
        logf_(m, "nv: cannot save the last result: %s", fota_strerror(rc));
}

/* A check is over: the result kept, and its one final URC. */
static void finish(at_module *m, int end)
{
    char text[32];
    keep_last(m, end);
    snprintf(text, sizeof text, "+UPGRADE: \"END\",%d", end);
    urc(m, text);
}

/* ---- command arguments ---- */

typedef struct arg {
    int is_string;
    char s[AT_URL_MAX + 1];
    unsigned long n;
} arg;

/* "a","b",12: at most AT_MAX_ARGS strings (no quote inside) or numbers.
 * Returns the count, or -1. */
static int parse_args(const char *p, arg *a)
{
    int n = 0;
    for (;;) {
        arg *x = &a[n];
        if (n == AT_MAX_ARGS)
            return -1;
        memset(x, 0, sizeof *x);
        if (*p == '"') {
            const char *end = strchr(p + 1, '"');
            if (!end || (size_t)(end - p - 1) > AT_URL_MAX)
                return -1;
            x->is_string = 1;
            memcpy(x->s, p + 1, (size_t)(end - p - 1));
            p = end + 1;
        } else if (isdigit((unsigned char)*p)) {
            char *end;
            if (strspn(p, "0123456789") > 10)
                return -1;
            x->n = strtoul(p, &end, 10);
            p = end;
        } else {
            return -1;
        }
        n++;
        if (*p == '\0')
            return n;
        if (*p++ != ',')
            return -1;
    }
}

/* ---- commands ---- */

enum form { EXEC, READ, TEST, SET };

static int cmd_upgrade(at_module *m, enum form f, const char *params, uint64_t now)
{
    arg a[AT_MAX_ARGS];
    at_settings next = m->nv;
    int n, rc;

    switch (f) {
    case EXEC:
        if (m->upgrading && at_upgrade_ask_now(&m->up))
            return 0;   /* waiting after a 43: ask again now, in the same check */
        if (m->upgrading) {
            info(m, "+UPGRADE: \"BUSY\",%d", at_upgrade_percent(&m->up));
            return 0;
        }
        m->check_now = 1;   /* started from the poll loop, after the OK */
        return 0;
    case READ:
        info(m, "+UPGRADE: \"KEY\",\"%s\"", m->nv.key);
        info(m, "+UPGRADE: \"URL\",\"%s\"", m->nv.url);
        info(m, "+UPGRADE: \"PERIOD\",%lu", (unsigned long)m->nv.period);
        if (m->has_last)
            info(m, "+UPGRADE: \"LAST\",%d,%llu,\"V%lu\"", m->last.end, (unsigned long long)m->last.time,
                 (unsigned long)m->last.version);
        if (m->upgrading) {
            static const char *const phases[] = { "QUERY", "DOWNLOAD", "WAIT" };
            int pct, ph = at_upgrade_phase(&m->up, &pct);
            info(m, "+UPGRADE: \"STATE\",\"%s\",%d", phases[ph], pct);
        }
        return 0;
    case TEST:
        info(m, "+UPGRADE: (\"KEY\",\"URL\",\"PERIOD\"),(0-%lu)", (unsigned long)AT_PERIOD_MAX);
        return 0;
    default:
        break;
    }
    n = parse_args(params, a);
    if (n != 2 || !a[0].is_string)
        return CME_BAD_PARAM;
    if (strcasecmp(a[0].s, "KEY") == 0) {
        if (!a[1].is_string || !at_key_ok(a[1].s))
            return CME_BAD_PARAM;
        memcpy(next.key, a[1].s, strlen(a[1].s) + 1);   /* at_key_ok: fits */
    } else if (strcasecmp(a[0].s, "URL") == 0) {
        if (!a[1].is_string || !at_url_ok(a[1].s))
            return CME_BAD_PARAM;
        memcpy(next.url, a[1].s, strlen(a[1].s) + 1);   /* at_url_ok: fits */
    } else if (strcasecmp(a[0].s, "PERIOD") == 0) {
        if (a[1].is_string || a[1].n > AT_PERIOD_MAX)
            return CME_BAD_PARAM;
        next.period = (uint32_t)a[1].n;
    } else {
        return CME_BAD_PARAM;
    }
    if ((rc = at_settings_save(m->cfg.device_dir, &next)) != FOTA_OK) {
        logf_(m, "nv: cannot save the settings: %s", fota_strerror(rc));
        return CME_UNKNOWN;
    }
    if (next.period != m->nv.period) {
        m->nv = next;
        schedule(m, now);
    }
    m->nv = next;
    logf_(m, "nv: key \"%s\" url \"%s\" period %lu", m->nv.key, m->nv.url, (unsigned long)m->nv.period);
    return 0;
}

static void revision(at_module *m, char *out, size_t cap)
{
    snprintf(out, cap, "AirM2M_%s_V%lu_LTE_AT", m->id.model, (unsigned long)m->rec.active.core_version);
}

/* The commands with one form and no parameters; answer NULL: computed. */
static const struct {
    const char *name;
    enum form form;
    const char *answer;
} simple[] = {
    { "CGMR", EXEC, NULL },
    { "CGMI", EXEC, "AirM2M" },
    { "CGMM", EXEC, NULL },
    { "GMR", EXEC, NULL },
    { "CGSN", EXEC, NULL },
    { "RESET", EXEC, NULL },
    { "CPIN", READ, "+CPIN: READY" },
    { "CSQ", EXEC, "+CSQ: 28,99" },       /* a simulated network that is always up */
    { "CREG", READ, "+CREG: 0,1" },
    { "CGATT", READ, "+CGATT: 1" },
};

/* One extended command (after the '+'), the name uppercased. */
static int extended(at_module *m, const char *cmd, uint64_t now)
{
    char name[16], rev[AT_NAME_MAX + 32];
    size_t len = strcspn(cmd, "=?");
    const char *rest = cmd + len;
    enum form f;
    arg a[AT_MAX_ARGS];
    int n;

    if (len == 0 || len >= sizeof name)
        return PLAIN_ERROR;
    memcpy(name, cmd, len);
    name[len] = '\0';
    if (*rest == '\0')
        f = EXEC;
    else if (strcmp(rest, "?") == 0)
        f = READ;
    else if (strcmp(rest, "=?") == 0)
        f = TEST;
    else if (*rest == '=')
        f = SET, rest++;
    else
        return PLAIN_ERROR;

    if (strcmp(name, "UPGRADE") == 0)
        return cmd_upgrade(m, f, rest, now);
    if (strcmp(name, "CMEE") == 0) {
        if (f == READ)
            info(m, "+CMEE: %d", m->cmee);
        else if (f == TEST)
            info(m, "+CMEE: (0-2)");
        else if (f == SET && parse_args(rest, a) == 1 && !a[0].is_string && a[0].n <= 2)
            m->cmee = (int)a[0].n;
        else
            return CME_BAD_PARAM;
        return 0;
    }
    if (strcmp(name, "IPR") == 0) {
        if (f == READ) {
            info(m, "+IPR: %lu", (unsigned long)m->ipr);
        } else if (f == TEST) {
            char list[128];
            size_t k = 0;
            for (size_t i = 0; i < at_ipr_rate_count; i++)
                k += (size_t)snprintf(list + k, sizeof list - k, "%s%lu", i ? "," : "",
                                      (unsigned long)at_ipr_rates[i]);
            info(m, "+IPR: (),(%s)", list);
        } else if (f == SET && parse_args(rest, a) == 1 && !a[0].is_string && at_ipr_ok(a[0].n)) {
            m->ipr = (uint32_t)a[0].n;   /* the pty carries bytes at any rate: nothing to switch */
        } else {
            return CME_BAD_PARAM;
        }
        return 0;
    }
    if (strcmp(name, "CFUN") == 0) {
        if (f == READ) {
            info(m, "+CFUN: 1");
            return 0;
        }
        if (f == TEST) {
            info(m, "+CFUN: (1),(0-1)");
            return 0;
        }
        n = f == SET ? parse_args(rest, a) : -1;
        if (n < 1 || n > 2 || a[0].is_string || (n == 2 && (a[1].is_string || a[1].n > 1)))
            return CME_BAD_PARAM;
        if (a[0].n != 1)
            return CME_NOT_SUPPORTED;   /* the simulation only runs at full function */
        if (n == 2 && a[1].n == 1)
            m->reboot = 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        if (strcmp(name, simple[i].name) != 0)
            continue;
        if (f == TEST)
            return 0;   /* "=?": the command exists */
        if (f != simple[i].form)
            return CME_NOT_SUPPORTED;   /* a known command in a form it does not have */
        if (strcmp(name, "CGMR") == 0) {
            revision(m, rev, sizeof rev);
            info(m, "+CGMR: \"%s\"", rev);
        } else if (strcmp(name, "GMR") == 0) {
            revision(m, rev, sizeof rev);   /* V.25ter: the revision alone, as ATI shows it */
            info(m, "%s", rev);
        } else if (strcmp(name, "CGMM") == 0) {
            info(m, "%s", m->id.model);
        } else if (strcmp(name, "CGSN") == 0) {
            info(m, "%s", m->id.imei);
        } else if (strcmp(name, "RESET") == 0) {
            m->reboot = 1;
        } else {
            info(m, "%s", simple[i].answer);
        }
        return 0;
    }
    return PLAIN_ERROR;
}

/* The stored profile (AT&W) into the current settings; defaults when none. */
static void load_profile(at_module *m)
{
    at_profile p;
    if (at_profile_load(m->cfg.device_dir, &p) == FOTA_ERR_FORMAT)
        logf_(m, "nv: profile unreadable, factory profile in force");
    m->echo = p.echo;
    m->cmee = p.cmee;
    m->ipr = p.ipr;
}

/* &F (factory profile into the current settings) and &W (the current
 * settings into NV): the letter and an optional 0 at *pp; advances. */
static int ampersand(at_module *m, const char **pp)
{
    const char *p = *pp;
    char c = *p ? *p++ : '\0';
    at_profile prof;
    int rc;
    if (*p == '0')
        p++;
    *pp = p;
    switch (c) {
    case 'F':
        at_profile_default(&prof);
        m->echo = prof.echo;
        m->cmee = prof.cmee;
        m->ipr = prof.ipr;
        return 0;
    case 'W':
        prof.echo = m->echo;
        prof.cmee = m->cmee;
        prof.ipr = m->ipr;
        if ((rc = at_profile_save(m->cfg.device_dir, &prof)) != FOTA_OK) {
            logf_(m, "nv: cannot save the profile: %s", fota_strerror(rc));
            return CME_UNKNOWN;
        }
        return 0;
    default:
        return PLAIN_ERROR;
    }
}

/* A basic command (V.250: a letter and an optional number) at *pp; advances. */
static int basic(at_module *m, const char **pp)
{
    const char *p = *pp;
    char c = *p++;
    unsigned long v = 0;
    int has_v = isdigit((unsigned char)*p);
    char rev[AT_NAME_MAX + 32];
    if (has_v) {
        if (strspn(p, "0123456789") > 3)
            return PLAIN_ERROR;
        v = strtoul(p, (char **)&p, 10);
    }
    *pp = p;
    switch (c) {
    case 'E':
        if (v > 1)
            return PLAIN_ERROR;
        m->echo = (int)v;
        return 0;
    case 'I':
        if (v != 0)
            return PLAIN_ERROR;
        revision(m, rev, sizeof rev);
        info(m, "AirM2M\r\n%s\r\nRevision: %s", m->id.model, rev);
        return 0;
    case 'Z':
        if (v != 0)
            return PLAIN_ERROR;
        load_profile(m);
        return 0;
    case '&':
        return ampersand(m, pp);
    default:
        return PLAIN_ERROR;
    }
}

/* A command line after "AT": basic commands, then extended ones separated
 * by ';'. Upper case outside quotes; the first error ends the line. */
static void execute(at_module *m, char *line, uint64_t now)
{
    int quoted = 0, rc = 0;
    char *p = line;
    for (char *q = line; *q; q++) {
        if (*q == '"')
            quoted = !quoted;
        else if (!quoted)
            *q = (char)toupper((unsigned char)*q);
    }
    if (quoted) {
        result(m, CME_BAD_PARAM);
        return;
    }
    while (*p && rc == 0) {
        if (*p == '+') {
            char *end = p + 1;
            for (quoted = 0; *end && (quoted || *end != ';'); end++)
                if (*end == '"')
                    quoted = !quoted;
            char saved = *end;
            *end = '\0';
            rc = extended(m, p + 1, now);
            *end = saved;
            p = saved ? end + 1 : end;
            if (*p && *p != '+')
                rc = rc ? rc : PLAIN_ERROR;   /* after ';' only another extended command */
        } else if (*p == ' ') {
            p++;
        } else {
            const char *cp = p;
            rc = basic(m, &cp);
            p = (char *)cp;
        }
    }
    result(m, rc);
}

void at_module_input(at_module *m, const uint8_t *data, size_t len)
{
    uint64_t now = fota_port_now_ms();
    if (m->echo)
        m->cfg.out(m->cfg.ud, (const char *)data, len);
    for (size_t i = 0; i < len; i++) {
        switch (at_line_feed(&m->line, data[i])) {
        case AT_LINE_READY:
            if (m->line.bad_byte)
                result(m, CME_BAD_PARAM);   /* a control byte in a quoted value */
            else
                execute(m, m->line.buf, now);
            break;
        case AT_LINE_TOO_LONG:
            result(m, CME_TOO_LONG);
            break;
        default:
            break;
        }
    }
}

/* ---- boot, upgrade, poll ---- */

int at_module_flash(const char *device_dir, const at_identity *id, const char *image, uint32_t version)
{
    fota_slots slots;
    int rc = fota_slots_init(&slots, device_dir);
    if (rc == FOTA_OK)
        rc = fota_slots_flash(&slots, image, version, NULL, "");
    if (rc == FOTA_OK)
        rc = at_identity_save(device_dir, id);
    return rc;
}

static void fill_upgrade_cfg(at_module *m)
{
    m->up_cfg.device_dir = m->cfg.device_dir;
    m->up_cfg.id = &m->id;
    m->up_cfg.nv = &m->nv;
    m->up_cfg.iot_url = m->cfg.iot_url;
    m->up_cfg.fw_version = m->rec.active.core_version;
    m->up_cfg.installed = m->installed.validator[0] && m->installed.version == m->rec.active.core_version
                          ? m->installed.validator : NULL;
    m->up_cfg.urc = urc;
    m->up_cfg.ud = m;
}

/* The outcome of the firmware that booted on trial (pending: its version):
 * UPDATED when it runs, ROLLBACK when the old one runs again, then END.
 * The note goes only after the lines are out, with one removal: a cut at
 * any storage operation before it tells them again at the next boot, so
 * they are never lost; only a cut during that removal itself repeats them
 * (docs/at.md, "Told once"). LAST is saved first: it holds the outcome
 * whatever the host heard. */
static void tell_outcome(at_module *m, uint32_t pending)
{
    int updated = m->rec.active.core_version == pending;
    int end = updated ? AT_END_UPGRADED : AT_END_ROLLBACK;
    char text[48];
    int rc;

    keep_last(m, end);
    snprintf(text, sizeof text, "+UPGRADE: \"%s\",\"V%lu\"", updated ? "UPDATED" : "ROLLBACK",
             (unsigned long)m->rec.active.core_version);
    urc(m, text);
    snprintf(text, sizeof text, "+UPGRADE: \"END\",%d", end);
    urc(m, text);
    if ((rc = at_report_clear(m->cfg.device_dir)) != FOTA_OK)
        logf_(m, "nv: cannot clear the report: %s", fota_strerror(rc));   /* told again next boot */
    if (updated) {
        logf_(m, "boot: upgraded to V%lu, asking again", (unsigned long)m->rec.active.core_version);
        m->check_now = 1;   /* as the guide says: asks again after the upgrade */
    }
}

/* A download cut before its package was committed (a power cut, kill -9,
 * a reset): told, and with a KEY or URL (and automatic checks on) retried
 * within seconds rather than a PERIOD later; the retry resumes it. */
static void tell_interrupted(at_module *m, uint64_t now)
{
    uint32_t lo = m->cfg.retry_min_ms, hi = m->cfg.retry_max_ms;
    char text[48];
    int pct;

    fill_upgrade_cfg(m);
    if (!at_upgrade_interrupted(&m->up_cfg, &pct))
        return;
    snprintf(text, sizeof text, "+UPGRADE: \"INTERRUPTED\",%d", pct);
    urc(m, text);
    if (!(m->nv.key[0] || m->nv.url[0]) || !m->nv.period)
        return;
    if (!lo && !hi) {
        lo = AT_RETRY_MIN_MS;
        hi = AT_RETRY_MAX_MS;
    }
    if (hi < lo)
        hi = lo;
    m->next_check_ms = now + lo + next_random(m) % ((uint64_t)(hi - lo) + 1);
    logf_(m, "boot: interrupted download, retry in %llu ms", (unsigned long long)(m->next_check_ms - now));
}

int at_module_boot(at_module *m, const at_module_cfg *cfg, uint64_t now)
{
    char key[AT_TRUSTED_KEY_MAX], dir[FOTA_SLOTS_PATH_MAX + 8], stage[FOTA_STAGE_PATH_MAX];
    fota_boot_record before;
    fota_pkg_policy pol;
    fota_slots slots;
    uint32_t pending = 0;
    int rc;

    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->started_ms = now;
    at_line_init(&m->line);
    if ((rc = at_identity_load(cfg->device_dir, &m->id)) != FOTA_OK)
        return rc;
    load_profile(m);   /* echo and CMEE as AT&W left them, the OTA reboot included */
    rc = at_settings_load(cfg->device_dir, &m->nv);
    if (rc == FOTA_ERR_FORMAT)
        logf_(m, "nv: settings unreadable, defaults in force");
    m->rng = now ^ strtoull(m->id.imei, NULL, 10) ^ 0x9e3779b97f4a7c15ull;
    snprintf(dir, sizeof dir, "%s/fota", cfg->device_dir);
    snprintf(stage, sizeof stage, "%s/stage.bin", dir);
    if ((rc = fota_port_mkdirs(dir)) != FOTA_OK || (rc = fota_slots_init(&slots, cfg->device_dir)) != FOTA_OK)
        return rc;
    /* A package staged complete but never committed (the power failed
     * between the two) is committed now, as a module's bootloader does. */
    if ((rc = at_upgrade_policy(cfg->device_dir, &m->id, &pol, key, sizeof key)) != FOTA_OK)
        logf_(m, "boot: trusted key unreadable (%s): a staged package waits for the next boot", fota_strerror(rc));
    else if ((rc = fota_slots_apply_staged(&slots, stage, &pol)) != FOTA_SLOTS_NOTHING_STAGED)
        logf_(m, "boot: staged package %s", rc == FOTA_OK ? "applied" :
              rc == FOTA_SLOTS_ALREADY_APPLIED ? "already applied" : fota_pkg_errname(rc));
    /* A firmware on trial: its outcome is owed to the host. Noted before
     * the boot decides it (confirm or roll back), so that a cut after the
     * decision still tells it at the next boot. */
    if ((rc = fota_slots_read(&slots, &before)) != FOTA_OK)
        return rc;
    if (at_report_load(cfg->device_dir, &pending) == FOTA_ERR_FORMAT)
        logf_(m, "nv: report unreadable");   /* as none: the boot record still tells a trial */
    if (before.state == FOTA_BOOT_TRYING && pending != before.active.core_version) {
        pending = before.active.core_version;
        if ((rc = at_report_save(cfg->device_dir, pending)) != FOTA_OK)
            logf_(m, "nv: cannot note the upgrade on trial: %s", fota_strerror(rc));
    }
    if ((rc = fota_slots_boot(&slots, &m->rec)) != FOTA_OK)
        return rc;
    /* The AT firmware is up and answering: it keeps itself. */
    if (m->rec.state == FOTA_BOOT_TRYING &&
        ((rc = fota_slots_confirm(&slots)) != FOTA_OK || (rc = fota_slots_read(&slots, &m->rec)) != FOTA_OK))
        logf_(m, "boot: cannot confirm the new firmware: %s", fota_strerror(rc));
    line_out(m, "RDY");
    logf_(m, "boot: V%lu, imei %s, %s", (unsigned long)m->rec.active.core_version, m->id.imei,
          m->nv.url[0] ? m->nv.url : "IoT platform");
    rc = at_last_load(cfg->device_dir, &m->last);
    m->has_last = rc == FOTA_OK;
    if (rc == FOTA_ERR_FORMAT)
        logf_(m, "nv: last result unreadable");
    if (at_installed_load(cfg->device_dir, &m->installed) == FOTA_ERR_FORMAT)
        logf_(m, "nv: installed package's validator unreadable");
    schedule(m, now);
    if (pending)
        tell_outcome(m, pending);
    else
        tell_interrupted(m, now);
    return FOTA_OK;
}

static void start_check(at_module *m)
{
    char url[FOTA_HTTP_MAX_URL];
    fill_upgrade_cfg(m);
    if (at_upgrade_url(&m->up_cfg, url, sizeof url) == FOTA_OK)
        logf_(m, "upgrade: GET %s", url);
    m->upgrading = at_upgrade_start(&m->up, &m->up_cfg) == AT_UPGRADE_RUNNING;
    if (!m->upgrading)
        finish(m, m->up.end);
}

/* The committed package's ETag (else Last-Modified) with the firmware it
 * makes: once that runs, a URL is asked If-None-Match (If-Modified-Since)
 * with it. A lost write only costs one download of the same file again. */
static void remember_validator(at_module *m)
{
    fota_boot_record rec;
    fota_slots slots;
    at_installed in;
    int rc;

    if (!m->up.validator[0])
        return;
    memset(&in, 0, sizeof in);
    memcpy(in.validator, m->up.validator, strlen(m->up.validator) + 1);
    if ((rc = fota_slots_init(&slots, m->cfg.device_dir)) == FOTA_OK &&
        (rc = fota_slots_read(&slots, &rec)) == FOTA_OK) {
        in.version = rec.active.core_version;   /* the new firmware, on trial */
        rc = at_installed_save(m->cfg.device_dir, &in);
    }
    if (rc != FOTA_OK)
        logf_(m, "nv: cannot save the package's validator: %s", fota_strerror(rc));
}

long at_module_poll(at_module *m, uint64_t now)
{
    long wait = 1000;
    if (m->reboot) {
        at_module_cfg cfg = m->cfg;
        if (m->upgrading)
            finish(m, AT_END_RESET);   /* a reset cuts the check: it still ends, once */
        at_module_free(m);
        int rc = at_module_boot(m, &cfg, now);
        if (rc != FOTA_OK)
            return rc;
    }
    if (!m->upgrading && (m->check_now || (m->next_check_ms && now >= m->next_check_ms))) {
        m->check_now = 0;
        start_check(m);
        if (!m->upgrading)
            schedule(m, now);
    }
    if (m->upgrading) {
        int r = at_upgrade_step(&m->up, UPGRADE_STEP_MS);
        if (r == AT_UPGRADE_RUNNING) {
            uint64_t w = at_upgrade_wait_ms(&m->up);   /* 0: a transfer runs, come back at once */
            return w < (uint64_t)wait ? (long)w : wait;
        }
        m->upgrading = 0;
        if (r == AT_UPGRADE_COMMITTED) {
            remember_validator(m);
            urc(m, "+UPGRADE: \"REBOOT\"");   /* END 0 comes after the reboot, with UPDATED */
            m->reboot = 1;
            return 0;
        }
        finish(m, m->up.end);
        schedule(m, now);
    }
    if (m->next_check_ms) {
        uint64_t left = m->next_check_ms > now ? m->next_check_ms - now : 0;
        if (left < (uint64_t)wait)
            wait = (long)left;
    }
    return wait;
}

void at_module_free(at_module *m)
{
    if (m->upgrading)
        at_upgrade_abort(&m->up);
    m->upgrading = 0;
}
