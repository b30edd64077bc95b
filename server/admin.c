/* Admin commands: projects, firmware, upgrade configurations, devices, the
 * log. They open the same database as a running server (WAL): a change is
 * seen by the server's next request. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "admin.h"
#include "ops.h"
#include "core/archive.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"


/* ---------------------------------------------------------------- */
/* helpers                                                           */

int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "fota-server: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_USAGE_ERR;
}

store_stmt *prep(srv_db *d, const char *sql)
{
    store_stmt *st = NULL;
    if (!(st = store_prepare(d->db, sql))) {
        fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
        return NULL;
    }
    return st;
}

/* Runs a statement that returns no rows; binds text args ?1.. (NULL = SQL NULL). */
int exec_text(srv_db *d, const char *sql, int n, const char *const *v)
{
    store_stmt *st = prep(d, sql);
    if (!st) return -1;
    for (int i = 0; i < n; i++) {
        if (v[i]) store_bind_str(st, i + 1, v[i]);
        else store_bind_null(st, i + 1);
    }
    int rc = store_step(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        fprintf(stderr, "fota-server: database: %s\n", store_errmsg(d->db));
    store_finalize(st);
    return rc == STORE_DONE || rc == STORE_ROW ? 0 : -1;
}

int64_t project_id(srv_db *d, const char *name, char *owner, size_t cap)
{
    store_stmt *st = prep(d, "SELECT id, owner FROM project WHERE name=?1");
    if (!st) return -1;
    store_bind_str(st, 1, name);
    int64_t id = 0;
    if (store_step(st) == STORE_ROW) {
        id = store_column_int64(st, 0);
        const char *o = store_column_text(st, 1);
        if (owner) snprintf(owner, cap, "%s", o ? o : "");
    }
    store_finalize(st);
    if (id == 0) fprintf(stderr, "fota-server: no project named '%s'\n", name);
    return id;
}

int copy_file(const char *from, const char *to, uint64_t max)
{
    fota_port_file *in, *out;
    uint64_t size = 0, off = 0;
    if (fota_port_open(&in, from, FOTA_PORT_READ) != FOTA_OK) return -1;
    if (fota_port_size(in, &size) != FOTA_OK || size > max ||
        fota_port_open(&out, to, FOTA_PORT_WRITE | FOTA_PORT_TRUNC) != FOTA_OK) {
        fota_port_close(in);
        return -1;
    }
    uint8_t buf[16384];
    int rc = 0;
    while (rc == 0 && off < size) {
        size_t got = 0;
        rc = fota_port_pread(in, off, buf, sizeof buf, &got);
        if (rc == 0 && got == 0) rc = -1;
        if (rc == 0) rc = fota_port_pwrite(out, off, buf, got);
        off += got;
    }
    if (rc == 0) rc = fota_port_sync(out);
    fota_port_close(in);
    fota_port_close(out);
    if (rc) fota_port_remove(to);
    return rc ? -1 : 0;
}

/* A failed operation: its message, and its exit code. */
static int report(const ops_err *e)
{
    fprintf(stderr, "fota-server: %s\n", e->msg);
    return e->rc ? e->rc : EXIT_IO_ERR;
}

/* ---------------------------------------------------------------- */
/* project                                                           */

int cmd_project_add(srv_db *d, const char *name, const char *key, const char *owner)
{
    ops_err e = { 0 };
    if (ops_project_add(d, name, key, owner, NULL, &e)) return report(&e);
    printf("project %s added (key %s%s%s)\n", name, key, owner ? ", owner " : "", owner ? owner : "");
    return 0;
}

static int print_project(void *ctx, const ops_project *p)
{
    (void)ctx;
    printf("%s\t%s\t%s\n", p->name, p->key, p->owner);
    return 0;
}

int cmd_project_list(srv_db *d)
{
    ops_err e = { 0 };
    return ops_project_list(d, NULL, print_project, NULL, &e) ? report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* firmware                                                          */

int cmd_firmware_add(srv_db *d, const char *project, const char *bsp, const char *core_ver,
                     const char *core, const char *script, const char *version, const char *key)
{
    if (!project || !bsp || !core_ver || !core || !script || !version)
        return fail("%s", "firmware add needs --project --bsp --core-version --core --script --version");
    char name[SRV_NAME_MAX + 1];
    ops_err e = { 0 };
    if (ops_firmware_name(project, bsp, 0, name, sizeof name, &e)) return report(&e);
    return firmware_add_named(d, project, name, bsp, core_ver, core, script, version, key);
}

int firmware_add_named(srv_db *d, const char *project, const char *name, const char *bsp,
                       const char *core_ver, const char *core, const char *script, const char *version,
                       const char *key)
{
    ops_err e = { 0 };
    ops_firmware f;
    if (ops_firmware_add(d, NULL, project, name, bsp, core_ver, core, script, version, key, &f, &e))
        return report(&e);
    printf("firmware %s V%lu %s added (id %lld, core %llu bytes%s)\n", name, (unsigned long)f.core, version,
           (long long)f.id, (unsigned long long)f.core_size, key ? ", own signing key" : "");
    return 0;
}

static int print_firmware(void *ctx, const ops_firmware *f)
{
    (void)ctx;
    printf("%lld\t%s\t%s\tV%lu\t%s\t%llu bytes\n", (long long)f->id, f->project, f->name, (unsigned long)f->core,
           f->version, (unsigned long long)f->core_size);
    return 0;
}

int cmd_firmware_list(srv_db *d, const char *project)
{
    ops_err e = { 0 };
    return ops_firmware_list(d, NULL, project, print_firmware, NULL, &e) ? report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* config                                                            */

int cmd_config_set(srv_db *d, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall)
{
    ops_err e = { 0 };
    if (ops_config_set(d, NULL, project, fwname, version, core_ver, imeis, from, enabled, reinstall, &e))
        return report(&e);
    return cmd_config_show(d, project);
}

static int print_config(void *ctx, const ops_config *c)
{
    (void)ctx;
    printf("%s -> V%lu %s, %s, devices: %s, from: %s%s\n", c->firmware, (unsigned long)c->core, c->version,
           c->enabled ? "enabled" : "disabled", c->all_devices ? "all" : (c->imeis[0] ? c->imeis : "none"),
           c->any_from ? "any" : (c->from[0] ? c->from : "none"), c->reinstall ? ", reinstall" : "");
    return 0;
}

int cmd_config_show(srv_db *d, const char *project)
{
    ops_err e = { 0 };
    return ops_config_show(d, NULL, project ? project : "", print_config, NULL, &e) ? report(&e) : 0;
}

/* ---------------------------------------------------------------- */
/* devices                                                           */

int cmd_device(srv_db *d, const char *what, const char *imei, const char *project, const char *owner)
{
    ops_err e = { 0 };
    if (ops_device_act(d, NULL, what, imei, project, owner, &e)) return report(&e);
    if (strcmp(what, "add") == 0) {
        /* the owner it got: the given one, else the project's */
        char o[SRV_OWNER_MAX + 1] = "";
        store_stmt *st = prep(d, "SELECT IFNULL(owner, '') FROM device WHERE imei=?1");
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
    return ops_log_list(d, NULL, imei, date, 0, 0, print_log, NULL, &e) ? report(&e) : 0;
}
