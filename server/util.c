/* The operations' error and number parsing (util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "validate.h"

/* Every error code the console answers with, and its English text; the
 * same table is in docs/server.md ("Console error codes"), which the page
 * translates from. */
static const struct {
    const char *code, *text;
} error_codes[] = {
    { "failed", "{detail}" },
    { "bad_request", "bad request: {detail}" },
    { "not_found", "not found" },
    { "console_off", "the console is off" },
    { "no_endpoint", "no such endpoint" },
    { "json_object", "a JSON object" },
    { "body_too_large", "request body over 256 KiB" },
    { "not_logged_in", "not logged in" },
    { "csrf", "missing or wrong X-CSRF-Token" },
    { "must_change_password", "change the initial password first" },
    { "busy", "busy: try again in a second" },
    { "out_of_memory", "out of memory" },
    { "database", "database: {detail}" },
    { "field_invalid", "{field}: wrong type or too long" },
    { "field_required", "{field} is required" },
    { "login_bad", "wrong user or password" },
    { "login_disabled", "this account is disabled" },
    { "login_throttled", "too many failed logins; wait {seconds} seconds" },
    { "session_failed", "cannot start a session" },
    { "password_length", "password: {min}..{max} characters" },
    { "password_digits", "password: not digits only" },
    { "password_same", "the new password must differ from the old one" },
    { "password_old_wrong", "the old password is wrong" },
    { "password_failed", "cannot store the password" },
    { "admin_only", "only the admin may do this" },
    { "user_invalid", "user {user}: 1..64 of [A-Za-z0-9._@-]" },
    { "user_exists", "user {user} exists already" },
    { "user_unknown", "no user {user}" },
    { "user_self", "the admin cannot disable their own account" },
    { "project_invalid", "project: 1..{max} characters of UTF-8, no control characters" },
    { "project_unknown", "no project named '{project}'" },
    { "project_ambiguous", "project name '{project}' is used by more than one owner: give --owner" },
    { "project_exists", "project '{project}' not added (the owner has a project of that name, or the key is used)" },
    { "project_in_use", "project '{project}' is in use: {releases} releases, {packages} vendor packages, {configs} configurations, {rollouts} running rollouts" },
    { "key_invalid", "key {key}: 1..64 of [A-Za-z0-9_-]" },
    { "owner_invalid", "owner {owner}: 1..64 of [A-Za-z0-9._@-]" },
    { "family_invalid", "family: 1..{max} of [A-Za-z0-9._-]" },
    { "firmware_kind", "kind: luatos, at or package" },
    { "name_invalid", "{field} and bsp are required, [A-Za-z0-9._-]" },
    { "name_too_long", "firmware name for {name} too long" },
    { "bsp_invalid", "bsp {bsp}: [A-Za-z0-9._-]" },
    { "core_version_invalid", "core version {value}: like V1104" },
    { "version_invalid", "version {value}: X.Y.Z, digits" },
    { "signing_key_invalid", "key {key}: not a readable P-256 private key (PEM)" },
    { "upload_one_file", "{field}: an upload of one file" },
    { "upload_scripts", "script: an upload of the script files" },
    { "core_unstorable", "cannot store the core image (missing, empty, or over 16 MiB)" },
    { "scripts_invalid", "scripts: {detail}" },
    { "store_failed", "cannot store {name}" },
    { "firmware_exists", "firmware {firmware} not added (this core and version already exist?)" },
    { "firmware_unknown", "no firmware '{firmware}' matching in this project" },
    { "release_unknown", "no release {id}" },
    { "release_in_use", "release {firmware} is in use: {configs} configurations, {packages} vendor packages, {rollouts} running rollouts" },
    { "file_mismatch", "{file} is not what {field} needs: {expected} expected, the file is {found}" },
    { "at_package_invalid", "not an AT delta package for this model and bsp: {detail}" },
    { "config_imeis_required", "imeis: at least one, or all" },
    { "config_from_required", "from: at least one, or any_from" },
    { "config_unknown", "no configuration {id} in this project" },
    { "config_exists", "the project has a configuration for {firmware} already" },
    { "list_item_invalid", "bad list item (empty or too long)" },
    { "list_too_long", "more than {max} items" },
    { "imei_invalid", "imei {imei}: 15 digits with a valid check digit" },
    { "from_invalid", "from: '{value}' is not CORE.x.z (e.g. 1103.1.1)" },
    { "bool_invalid", "{field} {value}: 0 or 1" },
    { "imei_required", "imei is required" },
    { "device_unknown", "no device {imei}" },
    { "device_other_account", "device {imei} belongs to another account" },
    { "device_action", "device: add, ban or unban" },
    { "imei_search_invalid", "imei search: up to 15 digits" },
    { "date_invalid", "date {date}: YYYY-MM-DD" },
    { "package_unknown", "no package {id}" },
    { "package_in_use", "package {id} is in use: {configs} configurations, {rollouts} running rollouts" },
    { "package_fields_required", "package add needs a project and a file" },
    { "file_name_invalid", "file name: 1..{max} bytes, no control characters" },
    { "package_firmware_invalid", "firmware name {firmware}: PROJECT_LuatOS-SoC_BSP or MODEL_AT_BSP" },
    { "package_firmware_required", "{file}: give the firmware name (its name is not PROJECT_CORE.x.z_LuatOS-SoC_BSP.bin)" },
    { "package_target_required", "{file}: give the version it brings devices to" },
    { "package_target_invalid", "target {value}: CORE.x.z (LuatOS), CORE.X.Y.Z or V<core> (AT)" },
    { "package_bases_required", "{file}: give the base versions it applies to (V1101,V1102 or any)" },
    { "package_bases_invalid", "bases {value}: V<core>,... (at most {max}, no repeats) or any" },
    { "package_base_is_target", "base {base} is the target's own core" },
    { "package_size_limit", "size limit: at most 16 MiB" },
    { "package_too_large", "{file}: larger than {max} bytes (what a module accepts)" },
    { "package_empty", "{file}: missing, unreadable or empty" },
    { "package_duplicate", "package {id} already serves base {base}: remove it first" },
    { "upload_name_invalid", "name: 1..64 of [A-Za-z0-9._-], not starting with a dot" },
    { "upload_empty", "empty upload" },
    { "upload_too_large", "upload over 16 MiB" },
    { "upload_unknown", "no such upload" },
    { "upload_too_many_files", "more than {max} files in one upload" },
    { "upload_file_exists", "file already in this upload" },
    { "upload_incomplete", "upload incomplete" },
    { "upload_failed", "cannot store the upload" },
    { "delta_fields", "old and new: upload ids" },
    { "delta_unavailable", "this server cannot make deltas" },
    { "delta_busy", "delta tool busy, retry later" },
    { "delta_unknown", "no such delta" },
    { "delta_not_ready", "the delta is not ready" },
    { "delta_failed", "the delta could not be made" },
    { "rollout_fields", "rollout: project, firmware, action (start, pause, resume, abort, advance), waves, every, max_failure, min_outcomes: short strings" },
    { "rollout_action", "rollout: start, status, pause, resume, abort or advance" },
    { "rollout_waves_invalid", "waves: rising percents, at most 2 decimals, each 0 < p <= 100, at most 16: '{value}'" },
    { "rollout_every_invalid", "every: a duration such as 30s, 10m, 1h or 2d, at most 366 days: '{value}'" },
    { "rollout_max_failure_invalid", "max-failure: a percent 0..100 (at most 2 decimals): '{value}'" },
    { "rollout_min_outcomes_invalid", "min-outcomes: 1..1000000: '{value}'" },
    { "rollout_running", "a rollout of this configuration is running or paused: abort it first" },
    { "rollout_none", "{action}: no running or paused rollout of this configuration" },
    { "rollout_last_wave", "advance: the rollout is at its last wave" },
    { "rollout_changed", "advance: the rollout changed meanwhile; look at its status" },
    { "rollout_state", "{action}: the rollout is {state}" },
    { "rollout_config_unknown", "no configuration for firmware '{firmware}' in project '{project}'" },
    { "rollout_missing", "the rollout went missing" },
    { "delta_save_fields", "delta/save: project, as (release or package) and the release's fields" },
};

const char *ops_code_text(const char *code)
{
    for (size_t i = 0; i < sizeof error_codes / sizeof error_codes[0]; i++)
        if (!strcmp(error_codes[i].code, code)) return error_codes[i].text;
    return NULL;
}

const char *ops_num(char buf[24], long long v)
{
    snprintf(buf, 24, "%lld", v);
    return buf;
}

/* text with each {name} replaced by its value in e->args, into e->msg (cut
 * at its bound). */
static void fill_text(ops_err *e, const char *text)
{
    size_t o = 0;
    for (const char *p = text; *p && o + 1 < sizeof e->msg;) {
        const char *end = *p == '{' ? strchr(p, '}') : NULL;
        const char *value = NULL;
        for (int i = 0; end && i < e->nargs; i++)
            if (strlen(e->args[i].name) == (size_t)(end - p - 1) && !strncmp(e->args[i].name, p + 1, (size_t)(end - p - 1)))
                value = e->args[i].value;
        if (value) {
            size_t n = strlen(value);
            if (n > sizeof e->msg - 1 - o) n = sizeof e->msg - 1 - o;
            memcpy(e->msg + o, value, n);
            o += n;
            p = end + 1;
        } else {
            e->msg[o++] = *p++;
        }
    }
    e->msg[o] = '\0';
    srv_utf8_trim(e->msg);
}

int ops_failk(ops_err *e, int rc, int http, const char *code, ...)
{
    va_list ap;
    va_start(ap, code);
    ops_vfailk(e, rc, http, code, ap);
    va_end(ap);
    return rc;
}

int ops_vfailk(ops_err *e, int rc, int http, const char *code, va_list ap)
{
    e->nargs = 0;
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;) {
        const char *value = va_arg(ap, const char *);
        if (e->nargs == OPS_ARGS_MAX) continue;
        snprintf(e->args[e->nargs].name, sizeof e->args[0].name, "%s", name);
        snprintf(e->args[e->nargs].value, sizeof e->args[0].value, "%s", value ? value : "");
        srv_utf8_trim(e->args[e->nargs].value);   /* a name cut by the bound stays UTF-8 */
        e->nargs++;
    }
    const char *text = ops_code_text(code);
    snprintf(e->code, sizeof e->code, "%s", text ? code : "failed");
    if (text) fill_text(e, text);
    else snprintf(e->msg, sizeof e->msg, "unknown error code %s", code);
    e->rc = rc;
    e->http = http;
    return rc;
}

int ops_fail(ops_err *e, int rc, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    srv_utf8_trim(e->msg);   /* a name cut by the bound stays UTF-8 (JSON, the console) */
    e->code[0] = '\0';
    e->nargs = 0;
    e->rc = rc;
    e->http = http;
    return rc;
}

int srv_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > max) return -1;
    *out = v;
    return 0;
}
