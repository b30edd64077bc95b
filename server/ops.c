/* Operations on projects, firmware, configurations, devices and the log,
 * for the admin CLI and the console (see ops.h).
 * SQL only with bound parameters; a scoped caller sees only rows under its
 * own projects. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "ops.h"
#include "validate.h"
#include "host/archive_pack.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

static int db_fail(srv_db *d, ops_err *e)
{
    return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
}

static store_stmt *oprep(srv_db *d, const char *sql, ops_err *e)
{
    store_stmt *st = NULL;
    if (!(st = store_prepare(d->db, sql))) {
        db_fail(d, e);
        return NULL;
    }
    return st;
}

/* ---------------------------------------------------------------- */
/* projects                                                          */

int64_t ops_project_find(srv_db *d, const char *scope, const char *name, ops_err *e)
{
    if (!name || !srv_is_project_name(name, strlen(name))) {
        char max[24];
        ops_failk(e, EXIT_USAGE_ERR, 400, "project_invalid", "max", ops_num(max, SRV_PROJECT_CHARS), NULL);
        return 0;
    }
    return ops_project_named(d, scope, name, e);
}

int64_t ops_project_named(srv_db *d, const char *scope, const char *name, ops_err *e)
{
    /* Names are unique per owner: without a scope (the CLI) a name two
     * owners use names no project until the owner is given. */
    store_stmt *st = oprep(d, "SELECT id FROM project WHERE name=?1 AND (CAST(?2 AS TEXT) IS NULL OR owner=?2)"
                              " ORDER BY id LIMIT 2", e);
    if (!st) return 0;
    store_bind_str(st, 1, name);
    if (scope) store_bind_str(st, 2, scope);
    int64_t id = store_step(st) == STORE_ROW ? store_column_int64(st, 0) : 0;
    int more = id && store_step(st) == STORE_ROW;
    store_finalize(st);
    if (more) {
        ops_failk(e, EXIT_USAGE_ERR, 409, "project_ambiguous", "project", name, NULL);
        return 0;
    }
    if (!id) ops_failk(e, EXIT_USAGE_ERR, 404, "project_unknown", "project", name, NULL);
    return id;
}

int ops_project_add(srv_db *d, const char *name, const char *key, const char *owner, const char *family,
                    ops_err *e)
{
    char max[24];
    if (!name || !srv_is_project_name(name, strlen(name)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "project_invalid", "max", ops_num(max, SRV_PROJECT_CHARS), NULL);
    if (!key || !srv_is_key(key, strlen(key)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "key_invalid", "key", key ? key : "missing", NULL);
    if (owner && !srv_is_owner(owner, strlen(owner)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "owner_invalid", "owner", owner, NULL);
    if (family && (strlen(family) > OPS_FAMILY_MAX || !srv_is_name(family, strlen(family))))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "family_invalid", "max", ops_num(max, OPS_FAMILY_MAX), NULL);
    if (store_begin_write(d->db)) return db_fail(d, e);
    store_stmt *st = oprep(d, "INSERT INTO project(name, product_key, owner, created) VALUES(?1, ?2, ?3, ?4)"
                              " RETURNING id", e);
    if (!st) {
        db_exec(d, "ROLLBACK");
        return e->rc;
    }
    store_bind_str(st, 1, name);
    store_bind_str(st, 2, key);
    if (owner) store_bind_str(st, 3, owner);
    store_bind_int64(st, 4, srv_now_ms());
    int rc = store_step(st);
    int64_t pid = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    if (rc != STORE_ROW) {
        db_exec(d, "ROLLBACK");
        return ops_failk(e, EXIT_USAGE_ERR, 409, "project_exists", "project", name, NULL);
    }
    if (family) {
        st = oprep(d, "INSERT INTO project_family(project_id, family) VALUES(?1, ?2)", e);
        if (!st) {
            db_exec(d, "ROLLBACK");
            return e->rc;
        }
        store_bind_int64(st, 1, pid);
        store_bind_str(st, 2, family);
        rc = store_step(st);
        store_finalize(st);
        if (rc != STORE_DONE) {
            db_fail(d, e);
            db_exec(d, "ROLLBACK");
            return e->rc;
        }
    }
    return db_exec(d, "COMMIT") ? db_fail(d, e) : 0;
}

int ops_project_list(srv_db *d, const char *scope, ops_project_cb cb, void *ctx, ops_err *e)
{
    store_stmt *st = oprep(d, "SELECT p.id, p.name, p.product_key, IFNULL(p.owner, ''), IFNULL(f.family, ''),"
                                " p.created FROM project p LEFT JOIN project_family f ON f.project_id=p.id"
                                " WHERE CAST(?1 AS TEXT) IS NULL OR p.owner=?1 ORDER BY p.name", e);
    if (!st) return e->rc;
    if (scope) store_bind_str(st, 1, scope);
    int rc = 0;
    while (rc == 0 && store_step(st) == STORE_ROW) {
        ops_project p;
        memset(&p, 0, sizeof p);
        p.id = store_column_int64(st, 0);
        store_column_copy(st, 1, p.name, sizeof p.name);
        store_column_copy(st, 2, p.key, sizeof p.key);
        store_column_copy(st, 3, p.owner, sizeof p.owner);
        store_column_copy(st, 4, p.family, sizeof p.family);
        p.created = store_column_int64(st, 5);
        rc = cb(ctx, &p);
    }
    store_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- */
/* firmware                                                          */

int ops_firmware_name(const char *base, const char *bsp, int at, char *out, size_t cap, ops_err *e)
{
    if (!base || !srv_is_name(base, strlen(base)) || !bsp || !srv_is_name(bsp, strlen(bsp)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "name_invalid", "field", at ? "model" : "project", NULL);
    int n = snprintf(out, cap, "%s%s%s", base, at ? "_AT_" : "_LuatOS-SoC_", bsp);
    if (n < 0 || (size_t)n >= cap || (size_t)n > SRV_NAME_MAX)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "name_too_long", "name", base, NULL);
    return 0;
}

/* Stores a file content-addressed under DATA/sub (same bytes, one copy). */
int ops_store_file(srv_db *d, const char *src, const char *sub, const char *ext, uint64_t max,
                      char *out, size_t cap, uint64_t *size_out, char sha_hex[65])
{
    uint8_t h[32];
    char dir[SRV_PATH_MAX], tmp[SRV_PATH_MAX + 32];
    if (fota_sha256_file(src, max, h, size_out) != 0) return -1;
    fota_hex(h, 32, sha_hex);
    int n = snprintf(dir, sizeof dir, "%s/%s", d->data_dir, sub);
    if (n < 0 || (size_t)n >= sizeof dir || fota_port_mkdirs(dir) != FOTA_OK) return -1;
    n = snprintf(out, cap, "%s/%s.%s", dir, sha_hex, ext);
    if (n < 0 || (size_t)n >= cap) return -1;
    if (fota_port_exists(out)) return 0;
    /* the thread id too: console requests run on several threads of one process */
    snprintf(tmp, sizeof tmp, "%s.tmp%ld.%lx", out, (long)getpid(), (unsigned long)pthread_self());
    if (fota_file_copy(src, tmp, max) || fota_port_rename(tmp, out)) {
        fota_port_remove(tmp);
        return -1;
    }
    return 0;
}

int ops_firmware_add(srv_db *d, const char *scope, const char *project, const char *name, const char *bsp,
                     const char *core_ver, const char *core, const char *script, const char *version,
                     const char *key, ops_firmware *out, ops_err *e)
{
    uint32_t cv = 0;
    if (!project || !name || !bsp || !core_ver || !version)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "field_required", "field",
                         !project ? "project" : !bsp ? "bsp" : !core_ver ? "core_version" : !version ? "version" : "name", NULL);
    if (!srv_is_name(bsp, strlen(bsp))) return ops_failk(e, EXIT_USAGE_ERR, 400, "bsp_invalid", "bsp", bsp, NULL);
    if (fota_version_parse_core(core_ver, &cv))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "core_version_invalid", "value", core_ver, NULL);
    if (!fota_version_valid(version) || strlen(version) >= SRV_VER_MAX)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "version_invalid", "value", version, NULL);
    char key_abs[PATH_MAX] = "";
    if (key) {
        char *pem = NULL;
        if (srv_read_key(key, &pem))
            return ops_fail(e, EXIT_USAGE_ERR, 400, "key %s: not a readable P-256 private key (PEM)", key);
        memset(pem, 0, strlen(pem));
        free(pem);
        if (!realpath(key, key_abs) || strlen(key_abs) >= SRV_PATH_MAX)
            return ops_fail(e, EXIT_USAGE_ERR, 400, "key %s: bad path", key);
    }
    int64_t pid = ops_project_find(d, scope, project, e);
    if (pid <= 0) return e->rc;

    char core_path[SRV_PATH_MAX] = "", arc_tmp[SRV_PATH_MAX + 48], script_path[SRV_PATH_MAX] = "", sha[65] = "",
         arc_sha[65];
    uint64_t core_size = 0;
    if (core && (ops_store_file(d, core, "images", "bin", FOTA_PKG_MAX_IMAGE, core_path, sizeof core_path,
                            &core_size, sha) || core_size == 0))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "core_unstorable", NULL);
    if (script) {
        char why[SRV_PATH_MAX + 80] = "";
        snprintf(arc_tmp, sizeof arc_tmp, "%s/scripts.tmp%ld.%lx.lfsa", d->data_dir, (long)getpid(),
                 (unsigned long)pthread_self());
        int rc = 0;
        if (fota_arc_pack_path(script, arc_tmp, why, sizeof why) != 0)
            rc = ops_failk(e, EXIT_USAGE_ERR, 400, "scripts_invalid", "detail", why[0] ? why : "cannot archive them", NULL);
        else if (ops_store_file(d, arc_tmp, "scripts", "lfsa", FOTA_PKG_MAX_IMAGE, script_path, sizeof script_path,
                            NULL, arc_sha))
            rc = ops_failk(e, EXIT_IO_ERR, 500, "store_failed", "name", "scripts", NULL);
        fota_port_remove(arc_tmp);
        if (rc) return rc;
    }
    store_stmt *st = oprep(d, "INSERT INTO firmware(project_id, name, bsp, core_version, script_version,"
                                " core_path, core_sha256, core_size, script_path, key_path, created)"
                                " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING id", e);
    if (!st) return e->rc;
    int64_t now = srv_now_ms();
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, name);
    store_bind_str(st, 3, bsp);
    store_bind_int64(st, 4, cv);
    store_bind_str(st, 5, version);
    store_bind_str(st, 6, core_path);
    store_bind_str(st, 7, sha);
    store_bind_int64(st, 8, (int64_t)core_size);
    store_bind_str(st, 9, script_path);
    store_bind_str(st, 10, key_abs);
    store_bind_int64(st, 11, now);
    int rc = store_step(st);
    int64_t fw_id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    if (rc != STORE_ROW)
        return ops_failk(e, EXIT_USAGE_ERR, 409, "firmware_exists", "firmware", name, NULL);
    if (out) {
        memset(out, 0, sizeof *out);
        out->id = fw_id;
        out->created = now;
        snprintf(out->project, sizeof out->project, "%s", project);
        snprintf(out->name, sizeof out->name, "%s", name);
        snprintf(out->bsp, sizeof out->bsp, "%s", bsp);
        out->core = cv;
        snprintf(out->version, sizeof out->version, "%s", version);
        out->core_size = core_size;
        out->has_core = core != NULL;
        out->has_script = script != NULL;
    }
    return 0;
}

int ops_firmware_list(srv_db *d, const char *scope, const char *project, ops_firmware_cb cb, void *ctx,
                      ops_err *e)
{
    int64_t pid = 0;
    if (project && (pid = ops_project_find(d, scope, project, e)) <= 0) return e->rc;
    store_stmt *st = oprep(d, "SELECT f.id, p.name, f.name, f.bsp, f.core_version, f.script_version, f.core_size,"
                                " f.core_path != '', f.script_path != '', f.created"
                                " FROM firmware f JOIN project p ON p.id=f.project_id"
                                " WHERE (CAST(?1 AS BIGINT)=0 OR p.id=CAST(?1 AS BIGINT))"
                                " AND (CAST(?2 AS TEXT) IS NULL OR p.owner=?2) ORDER BY f.id", e);
    if (!st) return e->rc;
    store_bind_int64(st, 1, pid);
    if (scope) store_bind_str(st, 2, scope);
    int rc = 0;
    while (rc == 0 && store_step(st) == STORE_ROW) {
        ops_firmware f;
        memset(&f, 0, sizeof f);
        f.id = store_column_int64(st, 0);
        store_column_copy(st, 1, f.project, sizeof f.project);
        store_column_copy(st, 2, f.name, sizeof f.name);
        store_column_copy(st, 3, f.bsp, sizeof f.bsp);
        f.core = (uint32_t)store_column_int64(st, 4);
        store_column_copy(st, 5, f.version, sizeof f.version);
        f.core_size = (uint64_t)store_column_int64(st, 6);
        f.has_core = (int)store_column_int64(st, 7);
        f.has_script = (int)store_column_int64(st, 8);
        f.created = store_column_int64(st, 9);
        rc = cb(ctx, &f);
    }
    store_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- */
/* config                                                            */

/* Splits a comma list, checks each item, inserts it. */
static int insert_list(srv_db *d, int64_t cfg, const char *list, int imeis, ops_err *e)
{
    const char *sql = imeis ? "INSERT OR IGNORE INTO config_imei(config_id, imei) VALUES(?1, ?2)"
                            : "INSERT OR IGNORE INTO config_from(config_id, version) VALUES(?1, ?2)";
    store_stmt *st = oprep(d, sql, e);
    if (!st) return e->rc;
    int rc = 0, count = 0;
    for (const char *p = list; *p && rc == 0;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[SRV_VER_MAX + SRV_IMEI_LEN], canon[SRV_VER_MAX];
        if (n == 0 || n >= sizeof item) {
            rc = ops_failk(e, EXIT_USAGE_ERR, 400, "list_item_invalid", NULL);
            break;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        char max[24];
        if (++count > SRV_MAX_LIST) rc = ops_failk(e, EXIT_USAGE_ERR, 400, "list_too_long", "max", ops_num(max, SRV_MAX_LIST), NULL);
        else if (imeis && !(srv_is_imei(item, n) && srv_imei_luhn(item)))
            rc = ops_failk(e, EXIT_USAGE_ERR, 400, "imei_invalid", "imei", item, NULL);
        else if (!imeis && !srv_version_canon(item, n, canon))
            rc = ops_failk(e, EXIT_USAGE_ERR, 400, "from_invalid", "value", item, NULL);
        if (rc) break;
        store_bind_int64(st, 1, cfg);
        store_bind_str(st, 2, imeis ? item : canon);
        if (store_step(st) != STORE_DONE) rc = db_fail(d, e);
        store_reset(st);
        p = end ? end + 1 : p + n;
    }
    store_finalize(st);
    return rc;
}

/* One statement, int64 ?1 and an optional text ?2. */
static int exec_id(srv_db *d, const char *sql, int64_t id, const char *text, ops_err *e)
{
    store_stmt *st = oprep(d, sql, e);
    if (!st) return e->rc;
    store_bind_int64(st, 1, id);
    if (text) store_bind_str(st, 2, text);
    int rc = store_step(st) == STORE_DONE ? 0 : db_fail(d, e);
    store_finalize(st);
    return rc;
}

static int bool_opt(const char *v)
{
    return !v || strcmp(v, "0") == 0 || strcmp(v, "1") == 0;
}

int ops_config_set(srv_db *d, const char *scope, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall, ops_err *e)
{
    if (!project || !fwname)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "field_required", "field", project ? "firmware" : "project", NULL);
    if (!bool_opt(enabled)) return ops_failk(e, EXIT_USAGE_ERR, 400, "bool_invalid", "field", "enabled", "value", enabled, NULL);
    if (!bool_opt(reinstall))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "bool_invalid", "field", "reinstall", "value", reinstall, NULL);
    uint32_t cv = 0;
    if (core_ver && fota_version_parse_core(core_ver, &cv))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "core_version_invalid", "value", core_ver, NULL);
    int64_t pid = ops_project_find(d, scope, project, e);
    if (pid <= 0) return e->rc;

    /* Target: the given release, else the newest (core, then script version). */
    store_stmt *st = oprep(d, "SELECT id, core_version, script_version FROM firmware"
                                " WHERE project_id=?1 AND name=?2", e);
    if (!st) return e->rc;
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, fwname);
    int64_t best = 0;
    uint32_t best_core = 0;
    char best_ver[SRV_VER_MAX] = "";
    while (store_step(st) == STORE_ROW) {
        uint32_t c = (uint32_t)store_column_int64(st, 1);
        const char *v = store_column_text(st, 2);
        int cmp = 0;
        if (!v || strlen(v) >= SRV_VER_MAX) continue;
        if ((version && strcmp(v, version) != 0) || (core_ver && c != cv)) continue;
        if (best && fota_version_compare(v, best_ver, &cmp) != 0) continue;
        if (!best || c > best_core || (c == best_core && cmp > 0)) {
            best = store_column_int64(st, 0);
            best_core = c;
            snprintf(best_ver, sizeof best_ver, "%s", v);
        }
    }
    store_finalize(st);
    if (!best) return ops_failk(e, EXIT_USAGE_ERR, 404, "firmware_unknown", "firmware", fwname, NULL);

    if (store_begin_write(d->db)) return db_fail(d, e);
    int rc = 0;
    st = oprep(d, "INSERT INTO config(project_id, firmware_name, firmware_id, all_devices, any_from, enabled,"
                  " updated) VALUES(?1, ?2, ?3, 1, 1, 1, ?4) ON CONFLICT(project_id, firmware_name)"
                  " DO UPDATE SET firmware_id=?3, updated=?4", e);
    if (!st) rc = e->rc;
    else {
        store_bind_int64(st, 1, pid);
        store_bind_str(st, 2, fwname);
        store_bind_int64(st, 3, best);
        store_bind_int64(st, 4, srv_now_ms());
        if (store_step(st) != STORE_DONE) rc = db_fail(d, e);
        store_finalize(st);
    }
    int64_t cfg = 0;
    if (rc == 0 && (st = oprep(d, "SELECT id FROM config WHERE project_id=?1 AND firmware_name=?2", e))) {
        store_bind_int64(st, 1, pid);
        store_bind_str(st, 2, fwname);
        if (store_step(st) == STORE_ROW) cfg = store_column_int64(st, 0);
        store_finalize(st);
    }
    if (rc == 0 && !cfg) rc = db_fail(d, e);
    if (rc == 0 && imeis) {
        int all = imeis[0] == '\0' || strcmp(imeis, "all") == 0;
        rc = exec_id(d, "DELETE FROM config_imei WHERE config_id=?1", cfg, NULL, e) ||
             exec_id(d, "UPDATE config SET all_devices=?2 WHERE id=?1", cfg, all ? "1" : "0", e) ? e->rc : 0;
        if (rc == 0 && !all) rc = insert_list(d, cfg, imeis, 1, e);
    }
    if (rc == 0 && from) {
        int any = from[0] == '\0' || strcmp(from, "any") == 0;
        rc = exec_id(d, "DELETE FROM config_from WHERE config_id=?1", cfg, NULL, e) ||
             exec_id(d, "UPDATE config SET any_from=?2 WHERE id=?1", cfg, any ? "1" : "0", e) ? e->rc : 0;
        if (rc == 0 && !any) rc = insert_list(d, cfg, from, 0, e);
    }
    if (rc == 0 && enabled) rc = exec_id(d, "UPDATE config SET enabled=?2 WHERE id=?1", cfg, enabled, e);
    if (rc == 0 && reinstall) rc = exec_id(d, "UPDATE config SET reinstall=?2 WHERE id=?1", cfg, reinstall, e);
    if (rc) {
        db_exec(d, "ROLLBACK");
        return rc;
    }
    return db_exec(d, "COMMIT") ? db_fail(d, e) : 0;
}

int ops_config_show(srv_db *d, const char *scope, const char *project, ops_config_cb cb, void *ctx,
                    ops_err *e)
{
    int64_t pid = ops_project_find(d, scope, project, e);
    if (pid <= 0) return e->rc;
    store_stmt *st = oprep(d, "SELECT c.firmware_name, f.core_version, f.script_version, c.enabled,"
                                " c.all_devices, c.any_from,"
                                " (SELECT group_concat(imei, ',') FROM config_imei WHERE config_id=c.id),"
                                " (SELECT group_concat(version, ',') FROM config_from WHERE config_id=c.id),"
                                " c.reinstall, f.id, c.id FROM config c JOIN firmware f ON f.id=c.firmware_id"
                                " WHERE c.project_id=?1 ORDER BY 1", e);
    if (!st) return e->rc;
    store_bind_int64(st, 1, pid);
    int rc = 0;
    while (rc == 0 && store_step(st) == STORE_ROW) {
        ops_config c;
        memset(&c, 0, sizeof c);
        store_column_copy(st, 0, c.firmware, sizeof c.firmware);
        c.core = (uint32_t)store_column_int64(st, 1);
        store_column_copy(st, 2, c.version, sizeof c.version);
        c.enabled = (int)store_column_int64(st, 3);
        c.all_devices = (int)store_column_int64(st, 4);
        c.any_from = (int)store_column_int64(st, 5);
        c.imeis = store_column_text(st, 6) ? store_column_text(st, 6) : "";
        c.from = store_column_text(st, 7) ? store_column_text(st, 7) : "";
        c.reinstall = (int)store_column_int64(st, 8);
        c.firmware_id = store_column_int64(st, 9);
        c.id = store_column_int64(st, 10);
        rc = cb(ctx, &c);
    }
    store_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- */
/* devices                                                           */

static int check_imei(const char *imei, ops_err *e)
{
    if (!imei) return ops_failk(e, EXIT_USAGE_ERR, 400, "imei_required", NULL);
    if (!srv_is_imei(imei, strlen(imei)) || !srv_imei_luhn(imei))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "imei_invalid", "imei", imei, NULL);
    return 0;
}

/* Whether a scoped caller may see the device: it is in one of its projects
 * or owned by it. 1 yes, 0 no (e: 404), -1 error. */
/* 1 when imei is scope's device; *created (may be NULL) is when it was
 * registered: what it asked before then is not that account's to read. */
static int device_in_scope(srv_db *d, const char *scope, const char *imei, int64_t *created, ops_err *e)
{
    if (!scope) return 1;
    store_stmt *st = oprep(d, "SELECT dv.created FROM device dv LEFT JOIN project p ON p.id=dv.project_id"
                                " WHERE dv.imei=?1 AND (p.owner=?2 OR dv.owner=?2)", e);
    if (!st) return -1;
    store_bind_str(st, 1, imei);
    store_bind_str(st, 2, scope);
    int found = store_step(st) == STORE_ROW;
    if (found && created) *created = store_column_int64(st, 0);
    store_finalize(st);
    if (!found) ops_failk(e, EXIT_USAGE_ERR, 404, "device_unknown", "imei", imei, NULL);
    return found;
}

int ops_device_act(srv_db *d, const char *scope, const char *what, const char *imei, const char *project,
               const char *owner, ops_err *e)
{
    int rc = check_imei(imei, e);
    if (rc) return rc;
    int64_t now = srv_now_ms();
    store_stmt *st;
    char powner[SRV_OWNER_MAX + 1] = "";   /* bound below, after the branch */
    if (strcmp(what, "add") == 0) {
        if (owner && !srv_is_owner(owner, strlen(owner)))
            return ops_failk(e, EXIT_USAGE_ERR, 400, "owner_invalid", "owner", owner, NULL);
        if (scope && !project) return ops_failk(e, EXIT_USAGE_ERR, 400, "field_required", "field", "project", NULL);
        int64_t pid = 0;
        if (project) {
            pid = ops_project_find(d, scope, project, e);
            /* the CLI: a name more than one owner uses is the given owner's */
            if (pid <= 0 && e->http == 409 && !scope && owner) pid = ops_project_find(d, owner, project, e);
            if (pid <= 0) return e->rc;
            if (!(st = oprep(d, "SELECT IFNULL(owner, '') FROM project WHERE id=?1", e))) return e->rc;
            store_bind_int64(st, 1, pid);
            if (store_step(st) == STORE_ROW) store_column_copy(st, 0, powner, sizeof powner);
            store_finalize(st);
        }
        /* a scoped caller cannot take over a device of someone else */
        if (scope && device_in_scope(d, scope, imei, NULL, e) == 0) {
            if (!(st = oprep(d, "SELECT 1 FROM device WHERE imei=?1", e))) return e->rc;
            store_bind_str(st, 1, imei);
            int exists = store_step(st) == STORE_ROW;
            store_finalize(st);
            if (exists) return ops_failk(e, EXIT_USAGE_ERR, 409, "device_other_account", "imei", imei, NULL);
        }
        const char *o = scope ? scope : owner ? owner : (powner[0] ? powner : NULL);
        if (!(st = oprep(d, "INSERT INTO device(imei, project_id, owner, created) VALUES(?1, ?2, ?3, ?4)"
                            " ON CONFLICT(imei) DO UPDATE SET project_id=IFNULL(?2, device.project_id), owner=?3", e)))
            return e->rc;
        store_bind_str(st, 1, imei);
        if (pid) store_bind_int64(st, 2, pid);
        if (o) store_bind_str(st, 3, o);
        store_bind_int64(st, 4, now);
    } else if (strcmp(what, "ban") == 0) {
        if (scope && device_in_scope(d, scope, imei, NULL, e) != 1) return e->rc ? e->rc : EXIT_IO_ERR;
        if (!(st = oprep(d, "INSERT INTO device(imei, banned, created) VALUES(?1, 1, ?2)"
                            " ON CONFLICT(imei) DO UPDATE SET banned=1", e)))
            return e->rc;
        store_bind_str(st, 1, imei);
        store_bind_int64(st, 2, now);
    } else if (strcmp(what, "unban") == 0) {
        if (scope && device_in_scope(d, scope, imei, NULL, e) != 1) return e->rc ? e->rc : EXIT_IO_ERR;
        /* also restart the day's count, or the next request bans again */
        if (!(st = oprep(d, "UPDATE device SET banned=0, count_since=?2 WHERE imei=?1", e))) return e->rc;
        store_bind_str(st, 1, imei);
        store_bind_int64(st, 2, now);
    } else {
        return ops_failk(e, EXIT_USAGE_ERR, 400, "device_action", NULL);
    }
    rc = store_step(st);
    int changed = rc == STORE_DONE && store_changes(st) > 0;
    store_finalize(st);
    if (rc != STORE_DONE) return db_fail(d, e);
    if (!changed) return ops_failk(e, EXIT_USAGE_ERR, 404, "device_unknown", "imei", imei, NULL);
    if (strcmp(what, "unban") == 0) {
        /* PostgreSQL's day counts (device_day) restart too */
        if (!(st = oprep(d, "DELETE FROM device_day WHERE imei=?1", e))) return e->rc;
        store_bind_str(st, 1, imei);
        rc = store_step(st);
        store_finalize(st);
        if (rc != STORE_DONE) return db_fail(d, e);
    }
    return 0;
}

/* The version=... of a logged request, or "". */
static void request_version(const char *req, char out[SRV_VER_MAX])
{
    out[0] = '\0';
    const char *p = req ? strstr(req, "version=") : NULL;
    if (!p) return;
    p += 8;
    size_t n = strcspn(p, "& ");
    if (n == 0 || n >= SRV_VER_MAX || (n == 1 && *p == '?')) return;
    memcpy(out, p, n);
    out[n] = '\0';
}

int ops_device_list(srv_db *d, const char *scope, const char *project, const char *imei_part,
                    ops_device_cb cb, void *ctx, ops_err *e)
{
    if (imei_part && (strlen(imei_part) > SRV_IMEI_LEN || strspn(imei_part, "0123456789") != strlen(imei_part)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "imei_search_invalid", NULL);
    int64_t pid = 0;
    if (project && (pid = ops_project_find(d, scope, project, e)) <= 0) return e->rc;
    store_stmt *st = oprep(d, "SELECT dv.imei, IFNULL(p.name, ''), IFNULL(dv.owner, ''), dv.banned, dv.created,"
                                " l.ts, l.code, l.request FROM device dv LEFT JOIN project p ON p.id=dv.project_id"
                                " LEFT JOIN log l ON l.id=(SELECT id FROM log WHERE imei=dv.imei ORDER BY ts DESC,"
                                " id DESC LIMIT 1)"
                                " WHERE (CAST(?1 AS BIGINT)=0 OR p.id=CAST(?1 AS BIGINT))"
                                " AND (CAST(?2 AS TEXT) IS NULL OR p.owner=?2 OR dv.owner=?2)"
                                " AND (CAST(?3 AS TEXT) IS NULL OR dv.imei LIKE '%' || ?3 || '%') ORDER BY dv.imei LIMIT 10000", e);
    if (!st) return e->rc;
    store_bind_int64(st, 1, pid);
    if (scope) store_bind_str(st, 2, scope);
    if (imei_part && *imei_part) store_bind_str(st, 3, imei_part);
    int rc = 0;
    while (rc == 0 && store_step(st) == STORE_ROW) {
        ops_device dv;
        memset(&dv, 0, sizeof dv);
        store_column_copy(st, 0, dv.imei, sizeof dv.imei);
        store_column_copy(st, 1, dv.project, sizeof dv.project);
        store_column_copy(st, 2, dv.owner, sizeof dv.owner);
        dv.banned = (int)store_column_int64(st, 3);
        dv.created = store_column_int64(st, 4);
        dv.last_ms = store_column_int64(st, 5);
        dv.last_code = store_column_is_null(st, 6) ? -1 : (int)store_column_int64(st, 6);
        request_version(store_column_text(st, 7), dv.version);
        rc = cb(ctx, &dv);
    }
    store_finalize(st);
    return rc;
}

/* ---------------------------------------------------------------- */
/* log                                                               */

int ops_log_list(srv_db *d, const char *scope, const char *imei, const char *date, int newest_first,
                 unsigned limit, ops_log_cb cb, void *ctx, ops_err *e)
{
    int rc = check_imei(imei, e);
    if (rc) return rc;
    int64_t from = 0, to = INT64_MAX;
    if (date) {
        int y, m, dd;
        char extra;
        if (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &dd, &extra) != 3 || m < 1 || m > 12 ||
            dd < 1 || dd > 31)
            return ops_failk(e, EXIT_USAGE_ERR, 400, "date_invalid", "date", date, NULL);
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        tm.tm_year = y - 1900;
        tm.tm_mon = m - 1;
        tm.tm_mday = dd;
        tm.tm_isdst = -1;
        from = (int64_t)mktime(&tm) * 1000;
        tm.tm_mday++;
        tm.tm_isdst = -1;
        to = (int64_t)mktime(&tm) * 1000;
    }
    int64_t created = 0;
    if (scope && device_in_scope(d, scope, imei, &created, e) != 1) return e->rc ? e->rc : EXIT_IO_ERR;
    if (from < created) from = created;
    store_stmt *st = oprep(d, newest_first ? "SELECT id, ts, status, code, request, msg FROM log"
                                               " WHERE imei=?1 AND ts>=?2 AND ts<?3 ORDER BY ts DESC, id DESC LIMIT ?4"
                                             : "SELECT id, ts, status, code, request, msg FROM log"
                                               " WHERE imei=?1 AND ts>=?2 AND ts<?3 ORDER BY ts, id LIMIT ?4", e);
    if (!st) return e->rc;
    store_bind_str(st, 1, imei);
    store_bind_int64(st, 2, from);
    store_bind_int64(st, 3, to);
    store_bind_int64(st, 4, limit ? (int64_t)limit : INT64_MAX);   /* PostgreSQL refuses LIMIT -1 */
    int step;
    while (rc == 0 && (step = store_step(st)) == STORE_ROW) {
        ops_log l;
        memset(&l, 0, sizeof l);
        l.id = store_column_int64(st, 0);
        l.ts = store_column_int64(st, 1);
        memcpy(l.imei, imei, SRV_IMEI_LEN + 1);
        l.status = (int)store_column_int64(st, 2);
        l.code = (int)store_column_int64(st, 3);
        l.request = store_column_text(st, 4) ? store_column_text(st, 4) : "";
        l.msg = store_column_text(st, 5) ? store_column_text(st, 5) : "";
        rc = cb(ctx, &l);
    }
    if (rc == 0 && step != STORE_DONE) rc = db_fail(d, e);
    store_finalize(st);
    return rc;
}

const char *ops_code_meaning(int code)
{
    switch (code) {
    case SRV_OK: return "a package was sent: the device upgrades";
    case SRV_INVALID_DEVICE: return "invalid device: check the IMEI the device sends";
    case SRV_NO_PERMISSION: return "no permission: the device, firmware and project are not under one account";
    case SRV_VERSION_NOT_ALLOWED: return "not allowed: the device or its version is not in the upgrade configuration";
    case SRV_INVALID_PROJECT: return "invalid project: check the ProductKey (PRODUCT_KEY) in the scripts";
    case SRV_INVALID_FIRMWARE: return "invalid firmware: no firmware of this name; check PROJECT and the BSP";
    case SRV_LATEST: return "already the latest version: nothing to do";
    case SRV_LOOP: return "loop upgrade: banned at its 7th download of a day; raise VERSION in the new scripts, then unban";
    case SRV_WAIT: return "please wait: the package is being built; the device asks again later";
    case SRV_BASE_MISSING: return "base version missing: upload the firmware the device runs, so a delta can be made";
    case SRV_INTERNAL: return "server error: see the server's output";
    default: return "refused request (malformed)";
    }
}
