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
#include "core/archive.h"
#include "core/bytes.h"
#include "core/files.h"
#include "core/version.h"
#include "port/fota_err.h"
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

sqlite3_stmt *prep(srv_db *d, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(d->db, sql, -1, &st, NULL) != SQLITE_OK) {
        fprintf(stderr, "fota-server: database: %s\n", sqlite3_errmsg(d->db));
        return NULL;
    }
    return st;
}

/* Runs a statement that returns no rows; binds text args ?1.. (NULL = SQL NULL). */
int exec_text(srv_db *d, const char *sql, int n, const char *const *v)
{
    sqlite3_stmt *st = prep(d, sql);
    if (!st) return -1;
    for (int i = 0; i < n; i++) {
        if (v[i]) sqlite3_bind_text(st, i + 1, v[i], -1, SQLITE_STATIC);
        else sqlite3_bind_null(st, i + 1);
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        fprintf(stderr, "fota-server: database: %s\n", sqlite3_errmsg(d->db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

int64_t project_id(srv_db *d, const char *name, char *owner, size_t cap)
{
    sqlite3_stmt *st = prep(d, "SELECT id, owner FROM project WHERE name=?1");
    if (!st) return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int64_t id = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        id = sqlite3_column_int64(st, 0);
        const char *o = (const char *)sqlite3_column_text(st, 1);
        if (owner) snprintf(owner, cap, "%s", o ? o : "");
    }
    sqlite3_finalize(st);
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

/* Stores a file content-addressed under DATA/sub (same bytes, one copy). */
static int store_file(srv_db *d, const char *src, const char *sub, const char *ext, uint64_t max,
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
    snprintf(tmp, sizeof tmp, "%s.tmp%ld", out, (long)getpid());
    if (copy_file(src, tmp, max) || fota_port_rename(tmp, out)) {
        fota_port_remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- script directory -> LFSA archive ---- */
static int pack_script(const char *src, const char *out)
{
    char why[SRV_PATH_MAX + 80];
    if (fota_arc_pack_path(src, out, why, sizeof why) != 0)
        return fail("scripts: %s", why[0] ? why : "cannot archive them");
    return 0;
}

/* ---------------------------------------------------------------- */
/* project                                                           */

int cmd_project_add(srv_db *d, const char *name, const char *key, const char *owner)
{
    if (!name || !srv_is_name(name, strlen(name)))
        return fail("--name %s: 1..127 of [A-Za-z0-9._-] (the LuatOS PROJECT)", name ? name : "missing");
    if (!key || !srv_is_key(key, strlen(key)))
        return fail("--key %s: 1..64 of [A-Za-z0-9_-]", key ? key : "missing");
    if (owner && !srv_is_owner(owner, strlen(owner)))
        return fail("--owner %s: 1..64 of [A-Za-z0-9._@-]", owner);
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)srv_now_ms());
    const char *v[] = { name, key, owner, now };
    if (exec_text(d, "INSERT INTO project(name, product_key, owner, created) VALUES(?1, ?2, ?3, ?4)", 4, v))
        return fail("project '%s' not added (name or key already used?)", name);
    printf("project %s added (key %s%s%s)\n", name, key, owner ? ", owner " : "", owner ? owner : "");
    return 0;
}

int cmd_project_list(srv_db *d)
{
    sqlite3_stmt *st = prep(d, "SELECT name, product_key, IFNULL(owner, '') FROM project ORDER BY name");
    if (!st) return EXIT_IO_ERR;
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("%s\t%s\t%s\n", sqlite3_column_text(st, 0), sqlite3_column_text(st, 1),
               sqlite3_column_text(st, 2));
    sqlite3_finalize(st);
    return 0;
}

/* ---------------------------------------------------------------- */
/* firmware                                                          */

int cmd_firmware_add(srv_db *d, const char *project, const char *bsp, const char *core_ver,
                     const char *core, const char *script, const char *version, const char *key)
{
    if (!project || !bsp || !core_ver || !core || !script || !version)
        return fail("%s", "firmware add needs --project --bsp --core-version --core --script --version");
    char name[SRV_NAME_MAX + 2];
    int n = snprintf(name, sizeof name, "%s_LuatOS-SoC_%s", project, bsp);
    if (n < 0 || (size_t)n > SRV_NAME_MAX) return fail("firmware name for %s too long", project);
    return firmware_add_named(d, project, name, bsp, core_ver, core, script, version, key);
}

int firmware_add_named(srv_db *d, const char *project, const char *name, const char *bsp,
                       const char *core_ver, const char *core, const char *script, const char *version,
                       const char *key)
{
    uint32_t cv = 0;
    if (!srv_is_name(bsp, strlen(bsp))) return fail("--bsp %s: [A-Za-z0-9._-]", bsp);
    if (fota_version_parse_core(core_ver, &cv)) return fail("--core-version %s: like V1104", core_ver);
    if (!fota_version_valid(version) || strlen(version) >= SRV_VER_MAX)
        return fail("--version %s: X.Y.Z, digits", version);
    char key_abs[PATH_MAX] = "";
    if (key) {
        char *pem = NULL;
        int rc = srv_read_key(key, &pem);
        if (rc) return fail("--key %s: not a readable P-256 private key (PEM)", key);
        memset(pem, 0, strlen(pem));
        free(pem);
        if (!realpath(key, key_abs) || strlen(key_abs) >= SRV_PATH_MAX) return fail("--key %s: bad path", key);
    }
    int64_t pid = project_id(d, project, NULL, 0);
    if (pid <= 0) return EXIT_USAGE_ERR;

    /* core NULL: no image (its packages are uploaded prebuilt); script NULL: none */
    char core_path[SRV_PATH_MAX] = "", arc_tmp[SRV_PATH_MAX + 32], script_path[SRV_PATH_MAX] = "", sha[65] = "",
         arc_sha[65];
    uint64_t core_size = 0;
    if (core && (store_file(d, core, "images", "bin", FOTA_PKG_MAX_IMAGE, core_path, sizeof core_path,
                            &core_size, sha) || core_size == 0))
        return fail("cannot store core image %s (missing, empty, or over 16 MiB)", core);
    int rc = 0;
    if (script) {
        snprintf(arc_tmp, sizeof arc_tmp, "%s/scripts.tmp%ld.lfsa", d->data_dir, (long)getpid());
        rc = pack_script(script, arc_tmp);
        if (rc == 0 && store_file(d, arc_tmp, "scripts", "lfsa", FOTA_PKG_MAX_IMAGE, script_path,
                                  sizeof script_path, NULL, arc_sha))
            rc = fail("cannot store the script archive of %s", script);
        fota_port_remove(arc_tmp);
    }
    if (rc) return rc;

    sqlite3_stmt *st = prep(d, "INSERT INTO firmware(project_id, name, bsp, core_version, script_version,"
                               " core_path, core_sha256, core_size, script_path, key_path, created)"
                               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
    if (!st) return EXIT_IO_ERR;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, bsp, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, cv);
    sqlite3_bind_text(st, 5, version, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, core_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 7, sha, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)core_size);
    sqlite3_bind_text(st, 9, script_path, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, key_abs, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 11, srv_now_ms());
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return fail("firmware %s not added (this core and version already exist?)", name);
    printf("firmware %s V%lu %s added (id %lld, core %llu bytes%s)\n", name, (unsigned long)cv, version,
           (long long)sqlite3_last_insert_rowid(d->db), (unsigned long long)core_size,
           key ? ", own signing key" : "");
    return 0;
}

int cmd_firmware_list(srv_db *d, const char *project)
{
    sqlite3_stmt *st = prep(d, "SELECT f.id, p.name, f.name, f.core_version, f.script_version, f.core_size"
                               " FROM firmware f JOIN project p ON p.id=f.project_id"
                               " WHERE ?1 IS NULL OR p.name=?1 ORDER BY f.id");
    if (!st) return EXIT_IO_ERR;
    if (project) sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        printf("%lld\t%s\t%s\tV%lld\t%s\t%lld bytes\n", (long long)sqlite3_column_int64(st, 0),
               sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
               (long long)sqlite3_column_int64(st, 3), sqlite3_column_text(st, 4),
               (long long)sqlite3_column_int64(st, 5));
    sqlite3_finalize(st);
    return 0;
}

/* ---------------------------------------------------------------- */
/* config                                                            */

/* Splits a comma list, checks each item, inserts it. */
static int insert_list(srv_db *d, int64_t cfg, const char *list, int imeis)
{
    const char *sql = imeis ? "INSERT OR IGNORE INTO config_imei(config_id, imei) VALUES(?1, ?2)"
                            : "INSERT OR IGNORE INTO config_from(config_id, version) VALUES(?1, ?2)";
    sqlite3_stmt *st = prep(d, sql);
    if (!st) return EXIT_IO_ERR;
    int rc = 0, count = 0;
    for (const char *p = list; *p && rc == 0;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char item[SRV_VER_MAX + SRV_IMEI_LEN], canon[SRV_VER_MAX];
        if (n == 0 || n >= sizeof item) {
            rc = fail("bad list item in '%s'", list);
            break;
        }
        memcpy(item, p, n);
        item[n] = '\0';
        if (++count > SRV_MAX_LIST) rc = fail("more than %s items", "10000");
        else if (imeis && !(srv_is_imei(item, n) && srv_imei_luhn(item)))
            rc = fail("--imeis: '%s' is not a 15-digit IMEI with a valid check digit", item);
        else if (!imeis && !srv_version_canon(item, n, canon))
            rc = fail("--from: '%s' is not CORE.x.z (e.g. 1103.1.1)", item);
        if (rc) break;
        sqlite3_bind_int64(st, 1, cfg);
        sqlite3_bind_text(st, 2, imeis ? item : canon, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) != SQLITE_DONE) rc = EXIT_IO_ERR;
        sqlite3_reset(st);
        p = end ? end + 1 : p + n;
    }
    sqlite3_finalize(st);
    return rc;
}

int cmd_config_set(srv_db *d, const char *project, const char *fwname, const char *version,
                   const char *core_ver, const char *imeis, const char *from, const char *enabled,
                   const char *reinstall)
{
    if (!project || !fwname) return fail("%s", "config set needs --project and --firmware");
    if (enabled && strcmp(enabled, "0") != 0 && strcmp(enabled, "1") != 0)
        return fail("--enabled %s: 0 or 1", enabled);
    if (reinstall && strcmp(reinstall, "0") != 0 && strcmp(reinstall, "1") != 0)
        return fail("--reinstall %s: 0 or 1", reinstall);
    uint32_t cv = 0;
    if (core_ver && fota_version_parse_core(core_ver, &cv)) return fail("--core-version %s: like V1104", core_ver);
    int64_t pid = project_id(d, project, NULL, 0);
    if (pid <= 0) return EXIT_USAGE_ERR;

    /* Target: the given release, else the newest (core, then script version). */
    sqlite3_stmt *st = prep(d, "SELECT id, core_version, script_version FROM firmware"
                               " WHERE project_id=?1 AND name=?2");
    if (!st) return EXIT_IO_ERR;
    sqlite3_bind_int64(st, 1, pid);
    sqlite3_bind_text(st, 2, fwname, -1, SQLITE_STATIC);
    int64_t best = 0;
    uint32_t best_core = 0;
    char best_ver[SRV_VER_MAX] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        uint32_t c = (uint32_t)sqlite3_column_int64(st, 1);
        const char *v = (const char *)sqlite3_column_text(st, 2);
        int cmp = 0;
        if (!v || strlen(v) >= SRV_VER_MAX) continue;
        if ((version && strcmp(v, version) != 0) || (core_ver && c != cv)) continue;
        if (best && fota_version_compare(v, best_ver, &cmp) != 0) continue;
        if (!best || c > best_core || (c == best_core && cmp > 0)) {
            best = sqlite3_column_int64(st, 0);
            best_core = c;
            snprintf(best_ver, sizeof best_ver, "%s", v);
        }
    }
    sqlite3_finalize(st);
    if (!best) return fail("no firmware '%s' matching in this project (see 'firmware list')", fwname);

    if (db_exec(d, "BEGIN IMMEDIATE")) return EXIT_IO_ERR;
    int rc = 0;
    st = prep(d, "INSERT INTO config(project_id, firmware_name, firmware_id, all_devices, any_from, enabled,"
                 " updated) VALUES(?1, ?2, ?3, 1, 1, 1, ?4) ON CONFLICT(project_id, firmware_name)"
                 " DO UPDATE SET firmware_id=?3, updated=?4");
    if (!st) rc = EXIT_IO_ERR;
    else {
        sqlite3_bind_int64(st, 1, pid);
        sqlite3_bind_text(st, 2, fwname, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, best);
        sqlite3_bind_int64(st, 4, srv_now_ms());
        if (sqlite3_step(st) != SQLITE_DONE) rc = EXIT_IO_ERR;
        sqlite3_finalize(st);
    }
    int64_t cfg = 0;
    if (rc == 0 && (st = prep(d, "SELECT id FROM config WHERE project_id=?1 AND firmware_name=?2"))) {
        sqlite3_bind_int64(st, 1, pid);
        sqlite3_bind_text(st, 2, fwname, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) cfg = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    if (!cfg) rc = EXIT_IO_ERR;
    char cfgs[24];
    snprintf(cfgs, sizeof cfgs, "%lld", (long long)cfg);
    const char *v1[] = { cfgs };
    if (rc == 0 && imeis) {
        int all = imeis[0] == '\0' || strcmp(imeis, "all") == 0;
        const char *v2[] = { cfgs, all ? "1" : "0" };
        rc = exec_text(d, "DELETE FROM config_imei WHERE config_id=?1", 1, v1) ||
             exec_text(d, "UPDATE config SET all_devices=?2 WHERE id=?1", 2, v2) ? EXIT_IO_ERR : 0;
        if (rc == 0 && !all) rc = insert_list(d, cfg, imeis, 1);
    }
    if (rc == 0 && from) {
        int any = from[0] == '\0' || strcmp(from, "any") == 0;
        const char *v2[] = { cfgs, any ? "1" : "0" };
        rc = exec_text(d, "DELETE FROM config_from WHERE config_id=?1", 1, v1) ||
             exec_text(d, "UPDATE config SET any_from=?2 WHERE id=?1", 2, v2) ? EXIT_IO_ERR : 0;
        if (rc == 0 && !any) rc = insert_list(d, cfg, from, 0);
    }
    if (rc == 0 && enabled) {
        const char *v2[] = { cfgs, enabled };
        rc = exec_text(d, "UPDATE config SET enabled=?2 WHERE id=?1", 2, v2) ? EXIT_IO_ERR : 0;
    }
    if (rc == 0 && reinstall) {
        const char *v2[] = { cfgs, reinstall };
        rc = exec_text(d, "UPDATE config SET reinstall=?2 WHERE id=?1", 2, v2) ? EXIT_IO_ERR : 0;
    }
    if (rc) {
        db_exec(d, "ROLLBACK");
        return rc;
    }
    if (db_exec(d, "COMMIT")) return EXIT_IO_ERR;
    return cmd_config_show(d, project);
}

int cmd_config_show(srv_db *d, const char *project)
{
    sqlite3_stmt *st = prep(d, "SELECT c.firmware_name, f.core_version, f.script_version, c.enabled,"
                               " c.all_devices, c.any_from,"
                               " (SELECT group_concat(imei, ',') FROM config_imei WHERE config_id=c.id),"
                               " (SELECT group_concat(version, ',') FROM config_from WHERE config_id=c.id),"
                               " c.reinstall FROM config c JOIN firmware f ON f.id=c.firmware_id"
                               " JOIN project p ON p.id=c.project_id WHERE p.name=?1 ORDER BY 1");
    if (!st) return EXIT_IO_ERR;
    sqlite3_bind_text(st, 1, project ? project : "", -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *im = (const char *)sqlite3_column_text(st, 6);
        const char *fr = (const char *)sqlite3_column_text(st, 7);
        printf("%s -> V%lld %s, %s, devices: %s, from: %s%s\n", sqlite3_column_text(st, 0),
               (long long)sqlite3_column_int64(st, 1), sqlite3_column_text(st, 2),
               sqlite3_column_int(st, 3) ? "enabled" : "disabled",
               sqlite3_column_int(st, 4) ? "all" : (im ? im : "none"),
               sqlite3_column_int(st, 5) ? "any" : (fr ? fr : "none"),
               sqlite3_column_int(st, 8) ? ", reinstall" : "");
    }
    sqlite3_finalize(st);
    return 0;
}

/* ---------------------------------------------------------------- */
/* devices                                                           */

static int check_imei(const char *imei)
{
    if (!imei) return fail("%s", "--imei is required");
    if (!srv_is_imei(imei, strlen(imei)) || !srv_imei_luhn(imei))
        return fail("--imei %s: 15 digits with a valid check digit", imei);
    return 0;
}

int cmd_device(srv_db *d, const char *what, const char *imei, const char *project, const char *owner)
{
    int rc = check_imei(imei);
    if (rc) return rc;
    char now[24];
    snprintf(now, sizeof now, "%lld", (long long)srv_now_ms());
    if (strcmp(what, "add") == 0) {
        char powner[SRV_OWNER_MAX + 1] = "", pids[24] = "";
        if (owner && !srv_is_owner(owner, strlen(owner))) return fail("--owner %s: [A-Za-z0-9._@-]", owner);
        if (project) {
            int64_t pid = project_id(d, project, powner, sizeof powner);
            if (pid <= 0) return EXIT_USAGE_ERR;
            snprintf(pids, sizeof pids, "%lld", (long long)pid);
        }
        const char *o = owner ? owner : (powner[0] ? powner : NULL);
        const char *v[] = { imei, pids[0] ? pids : NULL, o, now };
        if (exec_text(d, "INSERT INTO device(imei, project_id, owner, created) VALUES(?1, ?2, ?3, ?4)"
                         " ON CONFLICT(imei) DO UPDATE SET project_id=IFNULL(?2, project_id), owner=?3",
                      4, v))
            return EXIT_IO_ERR;
        printf("device %s added%s%s\n", imei, o ? ", owner " : "", o ? o : "");
        return 0;
    }
    if (strcmp(what, "ban") == 0) {
        const char *v[] = { imei, now };
        if (exec_text(d, "INSERT INTO device(imei, banned, created) VALUES(?1, 1, ?2)"
                         " ON CONFLICT(imei) DO UPDATE SET banned=1", 2, v))
            return EXIT_IO_ERR;
        printf("device %s banned\n", imei);
        return 0;
    }
    /* unban: also restart the day's count, or the next request bans again */
    const char *v[] = { imei, now };
    sqlite3_stmt *st = prep(d, "UPDATE device SET banned=0, count_since=?2 WHERE imei=?1");
    if (!st) return EXIT_IO_ERR;
    sqlite3_bind_text(st, 1, v[0], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, srv_now_ms());
    rc = sqlite3_step(st);
    int changed = sqlite3_changes(d->db);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return EXIT_IO_ERR;
    if (!changed) return fail("no device %s", imei);
    printf("device %s unbanned\n", imei);
    return 0;
}

/* ---------------------------------------------------------------- */
/* log                                                               */

int cmd_log(srv_db *d, const char *imei, const char *date)
{
    int rc = check_imei(imei);
    if (rc) return rc;
    int64_t from = 0, to = INT64_MAX;
    if (date) {
        int y, m, dd;
        char extra;
        if (strlen(date) != 10 || sscanf(date, "%4d-%2d-%2d%c", &y, &m, &dd, &extra) != 3 || m < 1 ||
            m > 12 || dd < 1 || dd > 31)
            return fail("--date %s: YYYY-MM-DD", date);
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
    sqlite3_stmt *st = prep(d, "SELECT ts, status, code, request, msg FROM log"
                               " WHERE imei=?1 AND ts>=?2 AND ts<?3 ORDER BY ts, id");
    if (!st) return EXIT_IO_ERR;
    sqlite3_bind_text(st, 1, imei, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t ts = sqlite3_column_int64(st, 0);
        time_t t = (time_t)(ts / 1000);
        struct tm tm;
        char when[32];
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
        printf("%s.%03d\t%s\t%d\t%d\t%s\t%s\n", when, (int)(ts % 1000), imei, sqlite3_column_int(st, 1),
               sqlite3_column_int(st, 2), sqlite3_column_text(st, 3), sqlite3_column_text(st, 4));
    }
    sqlite3_finalize(st);
    return 0;
}
