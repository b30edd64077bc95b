#include "at_upgrade.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/pkg.h"
#include "core/slots.h"
#include "core/fota_err.h"
#include "port/port.h"

static void tell(at_upgrade *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tell(at_upgrade *u, const char *fmt, ...)
{
    char line[AT_UPGRADE_URC_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    u->cfg.urc(u->cfg.ud, line);
}

/* "FAIL" with its reason, and the check's END code (docs/at.md's table). */
static int fail(at_upgrade *u, const char *reason, int end)
{
    tell(u, "+UPGRADE: \"FAIL\",\"%s\"", reason);
    u->end = end;
    return AT_UPGRADE_FAILED;
}

/* The END code of a verifier's or the staging area's verdict (the reason
 * word is fota_pkg_errname's). */
static int verdict_end(int rc)
{
    switch (rc) {
    case FOTA_PKG_E_BAD_MAGIC: return 130;
    case FOTA_PKG_E_BAD_VERSION: return 131;
    case FOTA_PKG_E_TRUNCATED: return AT_END_TRUNCATED;
    case FOTA_PKG_E_TOO_LARGE: return AT_END_TOO_LARGE;
    case FOTA_PKG_E_BAD_SECTION: return 132;
    case FOTA_PKG_E_HASH_MISMATCH: return 133;
    case FOTA_PKG_E_BAD_SIGNATURE: return 134;
    case FOTA_PKG_E_NO_SIGNATURE: return 135;
    case FOTA_PKG_E_WRONG_BASE: return 136;
    case FOTA_PKG_E_ROLLBACK: return 137;
    case FOTA_PKG_E_BAD_META: return 138;
    case FOTA_PKG_E_IO: case FOTA_ERR_IO: return 139;
    case FOTA_PKG_E_SAME_RELEASE: return 141;
    case FOTA_PKG_E_WRONG_PAIR: return 142;
    case FOTA_PKG_E_KEY_MISSING: return 143;
    case FOTA_PKG_E_KEY_CHANGED: return 144;
    default: return 140;   /* another verifier reason */
    }
}

static int fail_verdict(at_upgrade *u, int rc)
{
    return fail(u, fota_pkg_errname(rc), verdict_end(rc));
}

int at_upgrade_policy(const char *device_dir, const at_identity *id, fota_pkg_policy *pol, char *key, size_t cap)
{
    int rc;
    fota_pkg_policy_init(pol);
    pol->bsp = id->bsp;
    if ((rc = fota_slots_trusted_key(device_dir, key, cap)) < 0)
        return rc;   /* unreadable is not "no key": nothing is verified without it */
    if (rc == 1)
        pol->pubkey_pem = key;
    return FOTA_OK;
}

int at_upgrade_url(const at_upgrade_cfg *cfg, char *out, size_t cap)
{
    const char *base = cfg->nv->url[0] ? cfg->nv->url : cfg->iot_url;
    const char *key = cfg->nv->key;
    int n;
    if (strncmp(base, "###", 3) == 0)   /* used as is */
        n = snprintf(out, cap, "%s", base + 3);
    else
        n = snprintf(out, cap, "%s%c%s%s%sfirmware_name=%s_AT_%s&version=%lu.0.0&imei=%s", base,
                     strchr(base, '?') ? '&' : '?', key[0] ? "project_key=" : "", key, key[0] ? "&" : "",
                     cfg->id->model, cfg->id->bsp, (unsigned long)cfg->fw_version, cfg->id->imei);
    return n > 0 && (size_t)n < cap ? FOTA_OK : FOTA_ERR_RANGE;
}

/* LuatOS http.request's codes: the "FAIL" word and the END code. */
static int fail_http(at_upgrade *u, int rc)
{
    switch (rc) {
    case FOTA_HTTP_ERR_HEADER: return fail(u, "bad_header", AT_END_BAD_HEADER);
    case FOTA_HTTP_ERR_BODY: return fail(u, "bad_body", AT_END_BAD_BODY);
    case FOTA_HTTP_ERR_CONNECT: return fail(u, "connect", AT_END_CONNECT);
    case FOTA_HTTP_ERR_CLOSE: return fail(u, "closed", AT_END_CLOSED);
    case FOTA_HTTP_ERR_RX: return fail(u, "receive", AT_END_RECEIVE);
    case FOTA_HTTP_ERR_DOWNLOAD: return fail(u, "write", AT_END_NETWORK);
    case FOTA_HTTP_ERR_TIMEOUT: return fail(u, "timeout", AT_END_TIMEOUT);
    case FOTA_HTTP_ERR_URL: return fail(u, "url", AT_END_URL);
    case FOTA_HTTP_ERR_REQUEST: return fail(u, "request", AT_END_NETWORK);
    default: return fail(u, "state", AT_END_NETWORK);
    }
}

static void tell_progress(at_upgrade *u)
{
    uint64_t done, total;
    int pct;
    fota_download_progress(&u->dl, &done, &total);
    if (!total || total == FOTA_HTTP_UNKNOWN)
        return;
    pct = (int)(done * 100 / total);
    if (pct > 100)
        pct = 100;
    pct -= pct % 10;
    if (pct > u->last_percent) {
        u->last_percent = pct;
        tell(u, "+UPGRADE: \"DOWNLOAD\",%d", pct);
    }
}

/* An answer that is not a package is kept (cut at AT_UPGRADE_BODY_MAX) to
 * read the platform's {"code":N,"msg":...}. */
static int take_body(void *ud, const uint8_t *data, size_t len)
{
    at_upgrade *u = ud;
    if (len > AT_UPGRADE_BODY_MAX - u->body_len)
        len = AT_UPGRADE_BODY_MAX - u->body_len;
    memcpy(u->body + u->body_len, data, len);
    u->body_len += len;
    return 0;
}

/* The download session is over: its partial package stays only when a
 * later check can go on from it. */
static void end_download(at_upgrade *u, int keep)
{
    keep = keep && fota_download_resumable(&u->dl);
    fota_download_free(&u->dl);
    u->running = 0;
    fota_stage_free(&u->stage);
    if (!keep)
        fota_stage_discard(u->stage_path);
}

/* One request of the check (its first, or the next after a 43 wait). */
static int begin(at_upgrade *u)
{
    static const fota_tls_opts no_ca = { .insecure = 1 };   /* LuatOS's default without server_cert */
    char url[FOTA_HTTP_MAX_URL];
    fota_download_opts o;
    int rc;

    u->body_len = 0;
    u->last_percent = 0;
    u->code = 0;
    u->retry_after_s = 0;
    fota_stage_setup(&u->stage);
    if (at_upgrade_url(&u->cfg, url, sizeof url) != FOTA_OK)
        return fail(u, "url", AT_END_URL);
    memset(&o, 0, sizeof o);
    o.req.url = url;
    o.req.timeout_ms = AT_UPGRADE_TIMEOUT_MS;
    o.req.tls = &no_ca;
    o.stage = &u->stage;
    o.stage_path = u->stage_path;
    o.capacity = FOTA_STAGE_DEFAULT_CAPACITY;
    o.resume = 1;
    o.body = take_body;
    o.body_ud = u;
    /* A self-built server's URL may name a fixed file: asked whether it is
     * still the package the running firmware came from (a 304 sends nothing). */
    if (u->cfg.installed && u->cfg.nv->url[0]) {
        snprintf(u->cond, sizeof u->cond, "%s: %s\r\n",
                 at_etag_ok(u->cfg.installed) ? "If-None-Match" : "If-Modified-Since", u->cfg.installed);
        o.req.headers = u->cond;
    }
    if ((rc = fota_download_init(&u->dl, &o)) != 0) {
        end_download(u, 0);
        return fail_http(u, rc);
    }
    u->running = 1;
    return AT_UPGRADE_RUNNING;
}

int at_upgrade_interrupted(const at_upgrade_cfg *cfg, int *percent)
{
    char url[FOTA_HTTP_MAX_URL], path[FOTA_STAGE_PATH_MAX];
    fota_stage st;
    int found;

    *percent = 0;
    if (at_upgrade_url(cfg, url, sizeof url) != FOTA_OK ||
        snprintf(path, sizeof path, "%s/fota/stage.bin", cfg->device_dir) >= (int)sizeof path)
        return 0;
    fota_stage_setup(&st);
    found = fota_stage_resume_origin(&st, path, FOTA_STAGE_DEFAULT_CAPACITY, url) == FOTA_OK &&
            fota_stage_done(&st) >= 0;
    if (found && fota_stage_total(&st))
        *percent = (int)((uint64_t)fota_stage_written(&st) * 100u / fota_stage_total(&st));
    fota_stage_free(&st);
    return found;
}

int at_upgrade_start(at_upgrade *u, const at_upgrade_cfg *cfg)
{
    memset(u, 0, sizeof *u);
    u->cfg = *cfg;
    fota_stage_setup(&u->stage);
    tell(u, "+UPGRADE: \"START\"");
    snprintf(u->stage_path, sizeof u->stage_path, "%s/fota/stage.bin", cfg->device_dir);
    return begin(u);
}

/* The platform's answer: {"code":N,"msg":"..."}; the message made safe for
 * a quoted URC field. */
static int answer_code(at_upgrade *u, int status)
{
    json_error_t err;
    json_t *root = json_loadb(u->body, u->body_len, 0, &err);
    json_t *code = root ? json_object_get(root, "code") : NULL;
    const char *msg = root ? json_string_value(json_object_get(root, "msg")) : NULL;
    char safe[96];
    size_t k = 0;

    if (!json_is_integer(code)) {
        char reason[32];
        json_decref(root);
        snprintf(reason, sizeof reason, "http_%d", status);
        return fail(u, reason, AT_END_HTTP_STATUS);
    }
    for (const char *p = msg ? msg : ""; *p && k < sizeof safe - 1; p++)
        safe[k++] = (*p >= ' ' && *p <= '~' && *p != '"' && *p != '\\') ? *p : '?';
    safe[k] = '\0';
    u->code = (int)json_integer_value(code);
    json_decref(root);
    tell(u, "+UPGRADE: \"CODE\",%d,\"%s\"", u->code, safe);
    /* the platform's codes are its END codes; a code outside them is an
     * answer the module does not understand */
    u->end = u->code >= 1 && u->code <= AT_END_PLATFORM_MAX ? u->code : AT_END_HTTP_STATUS;
    return AT_UPGRADE_NONE;
}

/* A complete package: synced, marked ready, then committed (verify, write
 * the inactive slot, check it, flip the boot record). */
static int commit(at_upgrade *u)
{
    char key[AT_TRUSTED_KEY_MAX];
    fota_pkg_policy pol;
    fota_slots slots;
    const char *validator;
    int rc;

    if ((rc = at_upgrade_policy(u->cfg.device_dir, u->cfg.id, &pol, key, sizeof key)) != FOTA_OK)
        return fail_verdict(u, rc);
    /* The server's name for this package (finish drops the resume record
     * that holds it): remembered once the firmware it makes runs. */
    validator = fota_stage_validator(&u->stage);
    if (validator && at_validator_ok(validator))
        memcpy(u->validator, validator, strlen(validator) + 1);
    if ((rc = fota_stage_finish(&u->stage, 1)) == FOTA_OK &&
        (rc = fota_slots_init(&slots, u->cfg.device_dir)) == FOTA_OK)
        rc = fota_slots_commit(&slots, u->stage_path, &pol, FOTA_SLOTS_DEFAULT_TRIES);
    if (rc != FOTA_OK)
        return fail_verdict(u, rc);
    tell(u, "+UPGRADE: \"VERIFIED\"");
    u->end = AT_END_UPGRADED;   /* told at boot, once the new firmware runs */
    return AT_UPGRADE_COMMITTED;
}

/* A download failed: what the staging area refused (not a package by its
 * prefix, more than the area holds or the package announces, a storage
 * error), a package cut short, or the network. */
static int fail_download(at_upgrade *u, int rc)
{
    int cause = fota_download_cause(&u->dl);
    if (cause == FOTA_ERR_FORMAT)
        return fail(u, "not_a_package", AT_END_NOT_A_PACKAGE);
    if (cause == FOTA_ERR_RANGE)
        return fail(u, "too_large", AT_END_TOO_LARGE);
    if (cause)
        return fail_verdict(u, cause);
    return rc == FOTA_HTTP_ERR_FOTA ? fail(u, "truncated", AT_END_TRUNCATED) : fail_http(u, rc);
}

int at_upgrade_step(at_upgrade *u, uint32_t budget_ms)
{
    int rc, result, keep = 1;

    if (u->wait_until) {
        if (fota_port_now_ms() < u->wait_until)
            return AT_UPGRADE_RUNNING;
        u->wait_until = 0;
        if ((rc = begin(u)) != AT_UPGRADE_RUNNING)
            return rc;
    }
    if (!u->running)
        return AT_UPGRADE_FAILED;
    rc = fota_download_step(&u->dl, budget_ms);
    if (fota_download_staged(&u->dl))
        tell_progress(u);
    if (rc > 0)
        return AT_UPGRADE_RUNNING;
    if (rc < 0) {
        result = fail_download(u, rc);
    } else if (fota_download_status(&u->dl) == 304 && u->cond[0]) {
        /* The file at the URL is the one the running firmware came from. */
        tell(u, "+UPGRADE: \"CODE\",%d,\"not modified\"", AT_END_LATEST);
        u->end = AT_END_LATEST;
        result = AT_UPGRADE_NONE;
    } else if (!fota_download_staged(&u->dl)) {
        const fota_http *h = fota_download_http(&u->dl);
        const char *ra = h ? fota_http_header(h, "Retry-After") : NULL;
        unsigned long secs = ra && strspn(ra, "0123456789") == strlen(ra) && strlen(ra) <= 4 ? strtoul(ra, NULL, 10) : 0;
        u->retry_after_s = secs > AT_UPGRADE_WAIT_MAX_S ? AT_UPGRADE_WAIT_MAX_S : (uint32_t)secs;
        result = answer_code(u, fota_download_status(&u->dl));
        /* 43: the package is being built. Not a result: the check waits
         * as told (Retry-After 1..300 s, else 30 s) and asks again, a
         * bounded number of times. */
        if (result == AT_UPGRADE_NONE && u->code == 43 && ++u->waits < AT_UPGRADE_WAITS_MAX) {
            uint32_t secs_wait = u->retry_after_s ? u->retry_after_s : AT_UPGRADE_WAIT_DEFAULT_S;
            end_download(u, 1);
            u->wait_until = fota_port_now_ms() + (uint64_t)secs_wait * 1000u;
            return AT_UPGRADE_RUNNING;
        }
    } else {
        result = commit(u);
        keep = 0;   /* committed or refused: done with it */
    }
    end_download(u, keep);
    return result;
}

uint64_t at_upgrade_wait_ms(const at_upgrade *u)
{
    uint64_t now = fota_port_now_ms();
    if (!u->wait_until)
        return 0;
    return u->wait_until > now ? u->wait_until - now : 1;
}

int at_upgrade_ask_now(at_upgrade *u)
{
    if (!u->wait_until)
        return 0;
    u->wait_until = fota_port_now_ms();
    return 1;
}

int at_upgrade_percent(const at_upgrade *u)
{
    return u->last_percent;
}

int at_upgrade_phase(const at_upgrade *u, int *percent)
{
    uint64_t done = 0, total = 0;
    *percent = 0;
    if (u->wait_until)
        return AT_PHASE_WAIT;
    if (!u->running || !fota_download_staged(&u->dl))
        return AT_PHASE_QUERY;
    fota_download_progress(&u->dl, &done, &total);
    if (total && total != FOTA_HTTP_UNKNOWN)
        *percent = (int)(done >= total ? 100 : done * 100 / total);
    return AT_PHASE_DOWNLOAD;
}

void at_upgrade_abort(at_upgrade *u)
{
    if (u->running)
        end_download(u, 1);
    u->wait_until = 0;
}
