/* The admin CLI's commands (cli.h): projects, firmware, upgrade
 * configurations, devices, the log, AT firmware, rollouts and console
 * accounts. Each calls an operation and prints what it did or why not;
 * no SQL of their own but a read-back for printing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "at.h"
#include "cli.h"
#include "console_auth.h"
#include "ops.h"
#include "rollout.h"
#include "validate.h"
#include "vendor.h"

/* ---------------------------------------------------------------- */
/* helpers                                                           */

int cli_fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "fota-server: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE_ERR;
}

int cli_report(const ops_err *e)
{
    fprintf(stderr, "fota-server: %s\n", e->msg);
    return e->rc ? e->rc : EXIT_IO_ERR;
}

/* ---------------------------------------------------------------- */
/* project                                                           */

int cmd_project_add(srv_db *d, const char *name, const char *key, const char *owner)
{
    ops_err e = { 0 };
    if (ops_project_add(d, name, key, owner, NULL, &e)) return cli_report(&e);
    printf("project %s added (key %s%s%s)\n", name, key, owner ? ", owner " : "", owner ? owner : "");
    return 0;
}

static int print_project(void *ctx, const ops_project *p)
{
    (void)ctx;
    printf("%s\t%s\t%s\n", p->name, p->key, p->owner);
    return 0;
}

int cmd_project_list(srv_db *d, const char *owner)
{
    ops_err e = { 0 };
    return ops_project_list(d, owner, print_project, NULL, &e) ? cli_report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* firmware                                                          */

static int firmware_add_named(srv_db *d, const char *scope, const char *project, const char *name,
                              const char *bsp, const char *core_ver, const char *core, const char *script,
                              const char *version, const char *key);

int cmd_firmware_add(srv_db *d, const char *scope, const char *project, const char *lua_project, const char *bsp,
                     const char *core_ver, const char *core, const char *script, const char *version,
                     const char *key)
{
    if (!project || !bsp || !core_ver || !core || !script || !version)
        return cli_fail("%s", "firmware add needs --project --bsp --core-version --core --script --version");
    char name[SRV_NAME_MAX + 1];
    ops_err e = { 0 };
    /* The firmware name holds the devices' PROJECT: the project's name
     * unless it is given apart (a name outside the package alphabet). */
    if (ops_firmware_name(lua_project ? lua_project : project, bsp, 0, name, sizeof name, &e)) {
        if (!lua_project && srv_is_name(bsp, strlen(bsp)))
            return cli_fail("firmware name PROJECT_LuatOS-SoC_BSP: project '%s' is not [A-Za-z0-9._-]; give the"
                            " devices' PROJECT with --lua-project", project);
        return cli_report(&e);
    }
    return firmware_add_named(d, scope, project, name, bsp, core_ver, core, script, version, key);
}

/* A release added: its line (also the AT delta's target release). */
static void print_release(const ops_firmware *f, const char *key)
{
    printf("firmware %s V%lu %s added (id %lld, core %llu bytes%s)\n", f->name, (unsigned long)f->core, f->version,
           (long long)f->id, (unsigned long long)f->core_size, key ? ", own signing key" : "");
}

static int firmware_add_named(srv_db *d, const char *scope, const char *project, const char *name,
                              const char *bsp, const char *core_ver, const char *core, const char *script,
                              const char *version, const char *key)
{
    ops_err e = { 0 };
    ops_firmware f;
    if (ops_firmware_add(d, scope, project, name, bsp, core_ver, core, script, version, key, &f, &e))
        return cli_report(&e);
    print_release(&f, key);
    return 0;
}

static int print_firmware(void *ctx, const ops_firmware *f)
{
    (void)ctx;
    printf("%lld\t%s\t%s\tV%lu\t%s\t%llu bytes\n", (long long)f->id, f->project, f->name, (unsigned long)f->core,
           f->version, (unsigned long long)f->core_size);
    return 0;
}

int cmd_firmware_list(srv_db *d, const char *scope, const char *project)
{
    ops_err e = { 0 };
    return ops_firmware_list(d, scope, project, print_firmware, NULL, &e) ? cli_report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* config                                                            */

int cmd_config_set(srv_db *d, const char *scope, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall)
{
    ops_err e = { 0 };
    if (ops_config_set(d, scope, project, fwname, version, core_ver, imeis, from, enabled, reinstall, &e))
        return cli_report(&e);
    return cmd_config_show(d, scope, project);
}

static int print_config(void *ctx, const ops_config *c)
{
    (void)ctx;
    printf("%s -> V%lu %s, %s, devices: %s, from: %s%s\n", c->firmware, (unsigned long)c->core, c->version,
           c->enabled ? "enabled" : "disabled", c->all_devices ? "all" : (c->imeis[0] ? c->imeis : "none"),
           c->any_from ? "any" : (c->from[0] ? c->from : "none"), c->reinstall ? ", reinstall" : "");
    return 0;
}

int cmd_config_show(srv_db *d, const char *scope, const char *project)
{
    ops_err e = { 0 };
    return ops_config_show(d, scope, project ? project : "", print_config, NULL, &e) ? cli_report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* devices                                                           */

int cmd_device(srv_db *d, const char *what, const char *imei, const char *project, const char *owner)
{
    ops_err e = { 0 };
    if (ops_device_act(d, NULL, what, imei, project, owner, &e)) return cli_report(&e);
    if (strcmp(what, "add") == 0) {
        /* the owner it got: the given one, else the project's */
        char o[SRV_OWNER_MAX + 1] = "";
        store_stmt *st = db_prep(d, "SELECT IFNULL(owner, '') FROM device WHERE imei=?1");
        if (st) {
            store_bind_str(st, 1, imei);
            if (store_step(st) == STORE_ROW) snprintf(o, sizeof o, "%s", store_column_text(st, 0));
            store_finalize(st);
        }
        printf("device %s added%s%s\n", imei, o[0] ? ", owner " : "", o);
    } else {
        printf("device %s %s\n", imei, strcmp(what, "ban") == 0 ? "banned" : "unbanned");
    }
    return 0;
}

/* ---------------------------------------------------------------- */
/* log                                                               */

static int print_log(void *ctx, const ops_log *l)
{
    (void)ctx;
    time_t t = (time_t)(l->ts / 1000);
    struct tm tm;
    char when[32];
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    printf("%s.%03d\t%s\t%d\t%d\t%s\t%s\n", when, (int)(l->ts % 1000), l->imei, l->status, l->code, l->request,
           l->msg);
    return 0;
}

int cmd_log(srv_db *d, const char *imei, const char *date)
{
    ops_err e = { 0 };
    return ops_log_list(d, NULL, imei, date, 0, 0, print_log, NULL, &e) ? cli_report(&e) : 0;
}

int cmd_device_assign(srv_db *d, const char *owner, const char *imei, const char *project)
{
    if (!project)
        return cli_fail("%s", "device assign needs --imei IMEI --project NAME");
    return cmd_device(d, "add", imei, project, owner);
}

/* ---------------------------------------------------------------- */
/* AT firmware                                                       */

int cmd_at_add(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp, const char *version,
               const char *image, const char *key)
{
    char name[SRV_NAME_MAX + 1];
    ops_err e = { 0 };
    if (!project || !version || !image)
        return cli_fail("%s", "at add needs --project --model --bsp --version V1016 --image FILE");
    if (srv_at_firmware_name(model, bsp, name, sizeof name, &e)) return cli_report(&e);
    return firmware_add_named(d, scope, project, name, bsp, version, image, NULL, SRV_AT_SCRIPT_VERSION, key);
}

int cmd_at_delta(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp, const char *package)
{
    srv_at_delta out;
    ops_err e = { 0 };
    if (!project || !package) return cli_fail("%s", "at delta needs --project --model --bsp --package FILE");
    int rc = ops_at_delta(d, scope, project, model, bsp, package, &out, &e);
    if (out.release_added) print_release(&out.release, NULL);
    if (rc) return cli_report(&e);
    printf("delta %s V%lu -> V%lu stored (firmware id %lld, %lu bytes%s)\n", out.name, (unsigned long)out.from,
           (unsigned long)out.to, (long long)out.fw_id, (unsigned long)out.size,
           out.is_signed ? ", signed" : ", unsigned");
    return 0;
}

int cmd_at_family(srv_db *d, const char *scope, const char *model, const char *project)
{
    ops_err e = { 0 };
    if (!model || !project || !srv_is_name(model, strlen(model)))
        return cli_fail("%s", "at family needs --model MODEL ([A-Za-z0-9._-]) --project NAME");
    if (ops_at_family(d, scope, model, project, &e)) return cli_report(&e);
    printf("modules %s without a KEY belong to project %s\n", model, project);
    return 0;
}

static int print_default(void *ctx, const srv_at_default_row *r)
{
    (void)ctx;
    printf("%s\t%s\t%s\t%s\n", r->project, r->key, r->added ? "added" : "kept", r->models[0] ? r->models : "-");
    if (r->elsewhere[0]) printf("  models with another default project (at family changes it): %s\n", r->elsewhere);
    return 0;
}

int cmd_at_defaults(srv_db *d, const char *owner)
{
    ops_err e = { 0 };
    return ops_at_defaults(d, owner, print_default, NULL, &e) ? cli_report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* vendor packages                                                   */

int cmd_package_add(srv_db *d, const char *scope, const char *project, const char *firmware, const char *to,
                    const char *from, const char *max_size, const char *file)
{
    ops_vendor v;
    ops_err e = { 0 };
    unsigned long max = 0;
    if (!project || !file) return cli_fail("%s", "package add needs --project NAME and a FILE");
    if (max_size && (srv_parse_uint(max_size, FOTA_PKG_MAX_IMAGE, &max) || max == 0))
        return cli_fail("--max-size %s: bytes, at most 16 MiB", max_size);
    if (ops_vendor_add(d, scope, project, firmware, to, from, file, NULL, max, &v, &e)) return cli_report(&e);
    if (v.release_added) printf("release %s V%lu %s added for it\n", v.firmware, (unsigned long)v.core, v.version);
    printf("package %lld: %s, %s -> V%lu %s from %s, %llu bytes, sha256 %s\n", (long long)v.id, v.file_name,
           v.firmware, (unsigned long)v.core, v.version, v.bases, (unsigned long long)v.size, v.sha256);
    return 0;
}

static int print_package(void *ctx, const ops_vendor *v)
{
    (void)ctx;
    printf("%lld\t%s\t%s\tV%lu\t%s\tfrom %s\t%llu bytes\t%s\t%s\n", (long long)v->id, v->project, v->firmware,
           (unsigned long)v->core, v->version, v->bases, (unsigned long long)v->size, v->sha256, v->file_name);
    return 0;
}

int cmd_package_list(srv_db *d, const char *scope, const char *project)
{
    ops_err e = { 0 };
    return ops_vendor_list(d, scope, project, print_package, NULL, &e) ? cli_report(&e) : 0;
}

int cmd_package_remove(srv_db *d, const char *id)
{
    ops_err e = { 0 };
    unsigned long n = 0;
    if (!id || srv_parse_uint(id, INT32_MAX, &n) || n == 0) return cli_fail("%s", "package remove needs --id N");
    if (ops_vendor_remove(d, NULL, (int64_t)n, &e)) return cli_report(&e);
    printf("package %lu removed\n", n);
    return 0;
}

/* ---------------------------------------------------------------- */
/* rollouts                                                          */

int cmd_rollout(srv_db *d, const char *scope, const char *what, const char *project, const char *fwname, const char *waves,
                const char *every, const char *max_failure, const char *min_outcomes)
{
    ops_err e = { 0 };
    char *json = malloc(SRV_ROLLOUT_JSON_MAX);
    if (!json) return EXIT_IO_ERR;
    int rc = ops_rollout(d, scope, what, project, fwname, waves, every, max_failure, min_outcomes, json,
                         SRV_ROLLOUT_JSON_MAX, &e);
    if (rc) fprintf(stderr, "fota-server: %s\n", e.msg);
    else if (strcmp(json, SRV_ROLLOUT_NONE) == 0) rc = cli_fail("%s", "no rollout of this configuration yet");
    else printf("%s\n", json);
    free(json);
    return rc;
}

/* ---------------------------------------------------------------- */
/* console accounts                                                  */

int cmd_user_set(srv_db *d, const char *name, const char *password, int create)
{
    ops_err e = { 0 };
    if (console_user_set(d, name, password, create, &e)) return cli_report(&e);
    printf("user %s %s; the first login asks for a new password\n", name, create ? "added" : "reset");
    return 0;
}

static int print_user(void *ctx, const char *name, int must_change, int64_t projects)
{
    (void)ctx;
    printf("%s\t%s\t%d projects\n", name, must_change ? "must change password" : "active", (int)projects);
    return 0;
}

int cmd_user_list(srv_db *d)
{
    ops_err e = { 0 };
    return console_user_list(d, print_user, NULL, &e) ? cli_report(&e) : 0;
}
