/* AT firmware projects: see at.h and docs/at.md. */
#include "at.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "build.h"
#include "validate.h"
#include "core/files.h"
#include "core/pkg.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

const char *const srv_at_schema =
    "CREATE TABLE IF NOT EXISTS at_family("
    " model TEXT PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project(id));";

#define AT_MARK "_AT_"

size_t srv_at_model_len(const char *name, size_t n)
{
    /* MODEL_AT_BSP: a model before the mark and a bsp after it */
    for (size_t i = 1; i + 4 < n; i++)
        if (memcmp(name + i, AT_MARK, 4) == 0)
            return i;
    return 0;
}

int srv_at_is_firmware(const char *name, size_t n)
{
    return srv_at_model_len(name, n) > 0;
}

int srv_at_firmware_name(const char *model, const char *bsp, char *out, size_t cap, ops_err *e)
{
    int n;
    if (!model || !bsp || !srv_is_name(model, strlen(model)) || !srv_is_name(bsp, strlen(bsp)))
        return ops_fail(e, EXIT_USAGE_ERR, 400, "--model and --bsp are required, [A-Za-z0-9._-]");
    n = snprintf(out, cap, "%s" AT_MARK "%s", model, bsp);
    if (n < 0 || (size_t)n >= cap || (size_t)n > SRV_NAME_MAX)
        return ops_fail(e, EXIT_USAGE_ERR, 400, "firmware name for %s too long", model);
    return 0;
}

/* One row, one text column: the product key. 1 found, 0 none, -1 error. */
static int key_query(srv_db *d, const char *sql, const char *arg, size_t n, char key[SRV_KEY_MAX + 1])
{
    store_stmt *st = NULL;
    int found = 0;
    if (!(st = store_prepare(d->db, sql)))
        return -1;
    store_bind_text(st, 1, arg, n);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        const char *k = store_column_text(st, 0);
        if (k && strlen(k) <= SRV_KEY_MAX) {
            memcpy(key, k, strlen(k) + 1);
            found = 1;
        }
    }
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? found : -1;
}

int srv_at_default_key(srv_db *d, const char *fwname, size_t fwlen, const char *imei, size_t imeilen,
                       char key[SRV_KEY_MAX + 1])
{
    size_t model = srv_at_model_len(fwname, fwlen);
    int r;
    if (!model)
        return 0;
    r = key_query(d, "SELECT p.product_key FROM device d JOIN project p ON p.id=d.project_id"
                     " WHERE d.imei=?1", imei, imeilen, key);
    if (r == 0)
        r = key_query(d, "SELECT p.product_key FROM at_family f JOIN project p ON p.id=f.project_id"
                         " WHERE f.model=?1", fwname, model, key);
    return r;
}

/* The release of (project, name, core), or 0 when there is none; -1 error. */
static int64_t release_id(srv_db *d, int64_t pid, const char *name, uint32_t core, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, "SELECT id FROM firmware WHERE project_id=?1 AND name=?2"
                                          " AND core_version=?3 ORDER BY id DESC LIMIT 1");
    int64_t id = 0;
    if (!st) {
        ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
        return -1;
    }
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, name);
    store_bind_int64(st, 3, core);
    if (store_step(st) == STORE_ROW)
        id = store_column_int64(st, 0);
    store_finalize(st);
    return id;
}

int ops_at_delta(srv_db *d, const char *scope, const char *project, const char *model, const char *bsp,
                 const char *package, srv_at_delta *out, ops_err *e)
{
    char core[16], cache[SRV_PATH_MAX + 8], path[SRV_PATH_MAX], tmp[SRV_PATH_MAX + 32];
    fota_pkg_policy pol;
    fota_pkg_info in;
    int rc, delta = 0;
    int64_t pid, fw;

    memset(out, 0, sizeof *out);
    if ((rc = srv_at_firmware_name(model, bsp, out->name, sizeof out->name, e)) != 0)
        return rc;
    if ((pid = ops_project_named(d, scope, project, e)) <= 0)
        return e->rc;
    /* Checked whole before anything is stored. */
    fota_pkg_policy_init(&pol);
    pol.bsp = bsp;
    if ((rc = fota_pkg_verify_file(package, &pol, &in)) != 0)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "at_package_invalid", "detail", fota_pkg_errname(rc), NULL);
    for (unsigned i = 0; i < in.section_count; i++)
        delta |= in.sections[i].type == FOTA_PKG_SEC_CORE_DELTA;
    if (!delta || in.script_version[0] || in.to_core_version <= in.from_core_version)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "at_package_invalid", "detail",
                         "an AT delta package holds one core delta to a newer version, no script", NULL);
    /* The release it leads to; one without an image when only deltas are uploaded. */
    snprintf(core, sizeof core, "V%lu", (unsigned long)in.to_core_version);
    if ((fw = release_id(d, pid, out->name, in.to_core_version, e)) == 0) {
        if ((rc = ops_firmware_add(d, scope, project, out->name, bsp, core, NULL, NULL, SRV_AT_SCRIPT_VERSION, NULL,
                                   &out->release, e)) != 0)
            return rc;
        out->release_added = 1;
        fw = release_id(d, pid, out->name, in.to_core_version, e);
    }
    if (fw <= 0)
        return e->rc ? e->rc : ops_failk(e, EXIT_IO_ERR, 500, "store_failed", "name", package, NULL);
    snprintf(cache, sizeof cache, "%s/cache", d->data_dir);
    if (fota_port_mkdirs(cache) != FOTA_OK || srv_prebuilt_path(cache, fw, in.from_core_version, path, sizeof path))
        return ops_failk(e, EXIT_IO_ERR, 500, "store_failed", "name", package, NULL);
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", path, (long)getpid());
    if (fota_file_copy(package, tmp, FOTA_PKG_MAX_IMAGE) || fota_port_rename(tmp, path)) {
        fota_port_remove(tmp);
        return ops_failk(e, EXIT_IO_ERR, 500, "store_failed", "name", package, NULL);
    }
    out->from = in.from_core_version;
    out->to = in.to_core_version;
    out->fw_id = fw;
    out->size = in.total_len;
    out->is_signed = in.is_signed;
    return 0;
}

int ops_at_family(srv_db *d, const char *scope, const char *model, const char *project, ops_err *e)
{
    int64_t pid = ops_project_find(d, scope, project, e);
    if (pid <= 0)
        return e->rc;
    store_stmt *st = store_prepare(d->db, "INSERT INTO at_family(model, project_id) VALUES(?1, ?2)"
                                          " ON CONFLICT(model) DO UPDATE SET project_id=?2");
    if (!st)
        return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
    store_bind_str(st, 1, model);
    store_bind_int64(st, 2, pid);
    int rc = store_step(st);
    if (rc != STORE_DONE && rc != STORE_ROW)
        ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
    store_finalize(st);
    return rc == STORE_DONE || rc == STORE_ROW ? 0 : e->rc;
}

static const char *const models_e[] = { "Air780E", "Air780EX", "Air780EG", NULL };
static const char *const models_f[] = { "Air780EP", "Air780EPS", "Air780EQ", "Air780ER",
                                        "Air700ECQ", "Air700EMQ", "Air700EAQ", NULL };
static const char *const models_ux[] = { "Air724UG", "Air795UG", NULL };

const srv_at_family_default srv_at_defaults[SRV_AT_DEFAULTS] = {
    { "Air7XXE标准模块", models_e },
    { "Air7XXF标准模块", models_f },
    { "Air72XUX标准模块", models_ux },
};

/* The owner's project of that name (owner NULL: the projects without
 * one): its id and key, 0 none, -1 error. */
static int64_t owned_project(srv_db *d, const char *name, const char *owner, char key[SRV_KEY_MAX + 1])
{
    store_stmt *st = store_prepare(d->db, "SELECT id, product_key FROM project"
                                          " WHERE name=?1 AND COALESCE(owner, '')=COALESCE(CAST(?2 AS TEXT), '')");
    if (!st) return -1;
    store_bind_str(st, 1, name);
    if (owner) store_bind_str(st, 2, owner);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    if (id && store_column_copy(st, 1, key, SRV_KEY_MAX + 1)) id = -1;
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? id : -1;
}

/* Appends "a b" style words to out (cap bytes); 0, or -1 when full. */
static int append_word(char *out, size_t cap, const char *w1, const char *w2)
{
    size_t n = strlen(out);
    int m = snprintf(out + n, cap - n, "%s%s%s%s", n ? " " : "", w1, w2 ? ":" : "", w2 ? w2 : "");
    return m < 0 || (size_t)m >= cap - n ? -1 : 0;
}

/* Makes pid the default of model unless it has one; fills r. 0 or -1. */
static int default_model(srv_db *d, int64_t pid, const char *model, srv_at_default_row *r)
{
    store_stmt *st = store_prepare(d->db, "INSERT INTO at_family(model, project_id) VALUES(?1, ?2)"
                                          " ON CONFLICT(model) DO NOTHING");
    if (!st) return -1;
    store_bind_str(st, 1, model);
    store_bind_int64(st, 2, pid);
    int rc = store_step(st);
    store_finalize(st);
    if (rc != STORE_DONE && rc != STORE_ROW) return -1;
    if (!(st = store_prepare(d->db, "SELECT f.project_id, p.name FROM at_family f JOIN project p ON p.id=f.project_id"
                                    " WHERE f.model=?1")))
        return -1;
    store_bind_str(st, 1, model);
    rc = store_step(st);
    int ok = rc == STORE_ROW;
    if (ok && store_column_int64(st, 0) == pid) ok = append_word(r->models, sizeof r->models, model, NULL) == 0;
    else if (ok) ok = append_word(r->elsewhere, sizeof r->elsewhere, model, store_column_text(st, 1)) == 0;
    store_finalize(st);
    return ok ? 0 : -1;
}

int ops_at_defaults(srv_db *d, const char *owner, srv_at_default_cb cb, void *ctx, ops_err *e)
{
    if (owner && !srv_is_owner(owner, strlen(owner)))
        return ops_fail(e, EXIT_USAGE_ERR, 400, "owner %s: 1..64 of [A-Za-z0-9._@-]", owner);
    if (sodium_init() < 0) return ops_fail(e, EXIT_IO_ERR, 500, "no random numbers for ProductKeys");
    for (int i = 0; i < SRV_AT_DEFAULTS; i++) {
        const srv_at_family_default *f = &srv_at_defaults[i];
        srv_at_default_row r;
        memset(&r, 0, sizeof r);
        r.project = f->project;
        int64_t pid = owned_project(d, f->project, owner, r.key);
        if (pid == 0) {
            uint8_t b[16];
            randombytes_buf(b, sizeof b);   /* the platform makes the ProductKey: 32 hex digits, as the console */
            sodium_bin2hex(r.key, sizeof r.key, b, sizeof b);
            if (ops_project_add(d, f->project, r.key, owner, NULL, e)) return e->rc;
            r.added = 1;
            pid = owned_project(d, f->project, owner, r.key);
        }
        if (pid <= 0) return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
        for (const char *const *m = f->models; *m; m++)
            if (default_model(d, pid, *m, &r))
                return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
        int rc = cb(ctx, &r);
        if (rc) return rc;
    }
    return 0;
}
