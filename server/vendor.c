/* Vendor packages: see vendor.h and docs/server.md. */
#include "vendor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at.h"
#include "validate.h"
#include "core/files.h"
#include "core/fota_err.h"
#include "core/version.h"
#include "port/port.h"

const char *const srv_vendor_schema =
    "CREATE TABLE IF NOT EXISTS vendor_package("
    " id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES project(id),"
    " firmware_id INTEGER NOT NULL REFERENCES firmware(id), file_name TEXT NOT NULL,"
    " path TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, bases TEXT NOT NULL,"
    " created INTEGER NOT NULL);"
    /* one package per (target release, base core); base 0 = any */
    "CREATE TABLE IF NOT EXISTS vendor_base(firmware_id INTEGER NOT NULL, base INTEGER NOT NULL,"
    " package_id INTEGER NOT NULL REFERENCES vendor_package(id), PRIMARY KEY(firmware_id, base)) WITHOUT ROWID;";

#define LUATOS_MARK "_LuatOS-SoC_"
#define AT_FILE_PREFIX "dfota_final_"

static int all_digits(const char *s, size_t n)
{
    if (n == 0 || n > SRV_VER_PART_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* "V<digits>" (n bytes)? */
static int is_core_token(const char *s, size_t n)
{
    return n >= 2 && (s[0] == 'V' || s[0] == 'v') && all_digits(s + 1, n - 1);
}

static int ends_with(const char *s, size_t n, const char *tail)
{
    size_t t = strlen(tail);
    return n >= t && memcmp(s + n - t, tail, t) == 0;
}

static const char *find_last(const char *s, size_t n, const char *what)
{
    size_t w = strlen(what);
    for (size_t i = n >= w ? n - w + 1 : 0; i-- > 0;)
        if (memcmp(s + i, what, w) == 0) return s + i;
    return NULL;
}

/* Luatools: PROJECT_CORE.x.z_LuatOS-SoC_BSP.bin|.soc */
static int guess_luatools(const char *s, size_t n, srv_vendor_guess *g)
{
    if (!ends_with(s, n, ".bin") && !ends_with(s, n, ".soc")) return 0;
    n -= 4;
    const char *mark = find_last(s, n, LUATOS_MARK);
    if (!mark) return 0;
    const char *bsp = mark + strlen(LUATOS_MARK);
    size_t bsp_n = (size_t)(s + n - bsp);
    const char *us = find_last(s, (size_t)(mark - s), "_");
    if (!us || us == s || !bsp_n || !srv_is_name(bsp, bsp_n)) return 0;
    const char *ver = us + 1;
    size_t ver_n = (size_t)(mark - ver);
    /* three parts of digits */
    const char *d1 = memchr(ver, '.', ver_n);
    const char *d2 = d1 ? memchr(d1 + 1, '.', (size_t)(ver + ver_n - d1 - 1)) : NULL;
    if (!d2 || !all_digits(ver, (size_t)(d1 - ver)) || !all_digits(d1 + 1, (size_t)(d2 - d1 - 1)) ||
        !all_digits(d2 + 1, (size_t)(ver + ver_n - d2 - 1)) || ver_n >= sizeof g->to)
        return 0;
    int k = snprintf(g->firmware, sizeof g->firmware, "%.*s" LUATOS_MARK "%.*s", (int)(us - s), s, (int)bsp_n, bsp);
    if (k < 0 || (size_t)k >= sizeof g->firmware || !srv_is_name(g->firmware, (size_t)k)) {
        g->firmware[0] = '\0';
        return 0;
    }
    memcpy(g->to, ver, ver_n);
    g->to[ver_n] = '\0';
    return 1;
}

/* The AT delta tool: dfota_final_..._V1016.bin, a V<n> token before the
 * target being the base. */
static int guess_at(const char *s, size_t n, srv_vendor_guess *g)
{
    size_t p = strlen(AT_FILE_PREFIX);
    if (n <= p + 4 || memcmp(s, AT_FILE_PREFIX, p) != 0 || !ends_with(s, n, ".bin")) return 0;
    n -= 4;
    const char *last = find_last(s, n, "_");
    if (!last || last < s + p - 1 || !is_core_token(last + 1, (size_t)(s + n - last - 1))) return 0;
    snprintf(g->to, sizeof g->to, "%.*s", (int)(s + n - last - 1), last + 1);
    /* tokens between the prefix and the target */
    const char *t = s + p;
    while (t < last) {
        const char *e = memchr(t, '_', (size_t)(last - t));
        if (!e) e = last;
        if (is_core_token(t, (size_t)(e - t)) && (size_t)(e - t) < sizeof g->from)
            snprintf(g->from, sizeof g->from, "%.*s", (int)(e - t), t);
        t = e + 1;
    }
    return 1;
}

int srv_vendor_guess_name(const char *file_name, srv_vendor_guess *out)
{
    memset(out, 0, sizeof *out);
    if (!file_name) return 0;
    const char *slash = strrchr(file_name, '/');
    const char *s = slash ? slash + 1 : file_name;
    size_t n = strlen(s);
    if (n > SRV_VENDOR_FILE_MAX) return 0;
    if (guess_luatools(s, n, out) || guess_at(s, n, out)) return 1;
    memset(out, 0, sizeof *out);
    return 0;
}

/* --to: CORE.x.z (LuatOS: y 0), CORE.X.Y.Z, or V<core> (AT: 0.0.0). */
static int parse_target(const char *to, uint32_t *core, char script[SRV_VER_MAX])
{
    const char *dot = strchr(to, '.');
    char head[16];
    if (!dot) {
        snprintf(script, SRV_VER_MAX, "%s", SRV_AT_SCRIPT_VERSION);
        return fota_version_parse_core(to, core) ? -1 : 0;
    }
    if ((size_t)(dot - to) >= sizeof head) return -1;
    memcpy(head, to, (size_t)(dot - to));
    head[dot - to] = '\0';
    if (fota_version_parse_core(head, core) || strlen(dot + 1) >= SRV_VER_MAX) return -1;
    int dots = 0;
    for (const char *p = dot + 1; *p; p++) dots += *p == '.';
    if (dots == 2) {
        snprintf(script, SRV_VER_MAX, "%s", dot + 1);
    } else if (dots == 1) {
        const char *d2 = strchr(dot + 1, '.');
        int k = snprintf(script, SRV_VER_MAX, "%.*s.0.%s", (int)(d2 - dot - 1), dot + 1, d2 + 1);
        if (k < 0 || k >= SRV_VER_MAX) return -1;
    } else {
        return -1;
    }
    return fota_version_valid(script) ? 0 : -1;
}

/* --from: "any", or V<core> (or digits), comma separated, no repeats. */
static int parse_bases(const char *from, uint32_t bases[SRV_VENDOR_BASES_MAX], size_t *n,
                       char text[SRV_VENDOR_BASES_TEXT])
{
    *n = 0;
    text[0] = '\0';
    if (strcmp(from, "any") == 0) {
        bases[(*n)++] = SRV_VENDOR_ANY;
        snprintf(text, SRV_VENDOR_BASES_TEXT, "any");
        return 0;
    }
    size_t o = 0;
    for (const char *p = from;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char tok[16];
        uint32_t v;
        if (len == 0 || len >= sizeof tok || *n == SRV_VENDOR_BASES_MAX) return -1;
        memcpy(tok, p, len);
        tok[len] = '\0';
        if (fota_version_parse_core(tok, &v)) return -1;
        for (size_t i = 0; i < *n; i++)
            if (bases[i] == v) return -1;
        bases[(*n)++] = v;
        o += (size_t)snprintf(text + o, SRV_VENDOR_BASES_TEXT - o, "%sV%lu", o ? "," : "", (unsigned long)v);
        if (!e) return 0;
        p = e + 1;
    }
}

static int db_err(srv_db *d, ops_err *e)
{
    return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(d->db), NULL);
}

/* The release (project, name, core, script): its id, 0 none, -1 error. */
static int64_t release_of(srv_db *d, int64_t pid, const char *name, uint32_t core, const char *script, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, "SELECT id FROM firmware WHERE project_id=?1 AND name=?2"
                                          " AND core_version=?3 AND script_version=?4");
    if (!st) return db_err(d, e), -1;
    store_bind_int64(st, 1, pid);
    store_bind_str(st, 2, name);
    store_bind_int64(st, 3, core);
    store_bind_str(st, 4, script);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    if (rc != STORE_ROW && rc != STORE_DONE) return db_err(d, e), -1;
    return id;
}

/* A base of release fw already served by another package: its id, 0, -1. */
static int64_t base_taken(srv_db *d, int64_t fw, uint32_t base, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, "SELECT package_id FROM vendor_base WHERE firmware_id=?1 AND base=?2");
    if (!st) return db_err(d, e), -1;
    store_bind_int64(st, 1, fw);
    store_bind_int64(st, 2, base);
    int rc = store_step(st);
    int64_t id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    return rc == STORE_ROW || rc == STORE_DONE ? id : (db_err(d, e), -1);
}

/* The vendor_package row and its bases (in the caller's transaction). */
static int insert_package(srv_db *d, int64_t pid, ops_vendor *v, const char *path, const uint32_t *bases,
                          size_t nbases, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, "INSERT INTO vendor_package(project_id, firmware_id, file_name, path,"
                                          " sha256, size, bases, created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                                          " RETURNING id");
    int rc = STORE_DONE - 1;
    if (st) {
        store_bind_int64(st, 1, pid);
        store_bind_int64(st, 2, v->firmware_id);
        store_bind_str(st, 3, v->file_name);
        store_bind_str(st, 4, path);
        store_bind_str(st, 5, v->sha256);
        store_bind_int64(st, 6, (int64_t)v->size);
        store_bind_str(st, 7, v->bases);
        store_bind_int64(st, 8, v->created);
        rc = store_step(st);
        v->id = rc == STORE_ROW ? store_column_int64(st, 0) : 0;
        store_finalize(st);
    }
    for (size_t i = 0; v->id && i < nbases; i++) {
        st = store_prepare(d->db, "INSERT INTO vendor_base(firmware_id, base, package_id) VALUES(?1, ?2, ?3)");
        rc = STORE_DONE - 1;
        if (st) {
            store_bind_int64(st, 1, v->firmware_id);
            store_bind_int64(st, 2, bases[i]);
            store_bind_int64(st, 3, v->id);
            rc = store_step(st);
            store_finalize(st);
        }
        if (rc != STORE_DONE) v->id = 0;
    }
    return v->id ? 0 : db_err(d, e);
}

/* The bsp of a firmware name: after _LuatOS-SoC_ or _AT_. */
static int bsp_of(const char *fw, char bsp[SRV_NAME_MAX + 1])
{
    const char *m = find_last(fw, strlen(fw), LUATOS_MARK);
    const char *b = m ? m + strlen(LUATOS_MARK) : NULL;
    if (!b && srv_at_is_firmware(fw, strlen(fw))) b = find_last(fw, strlen(fw), "_AT_") + 4;
    if (!b || !*b || !srv_is_name(b, strlen(b))) return -1;
    snprintf(bsp, SRV_NAME_MAX + 1, "%s", b);
    return 0;
}

int ops_vendor_add(srv_db *d, const char *scope, const char *project, const char *firmware, const char *to,
                   const char *from, const char *file, const char *file_name, uint64_t max_size,
                   ops_vendor *out, ops_err *e)
{
    srv_vendor_guess g;
    uint32_t bases[SRV_VENDOR_BASES_MAX];
    size_t nbases = 0;
    char bsp[SRV_NAME_MAX + 1], script[SRV_VER_MAX], core_ver[16], path[SRV_PATH_MAX], num[24];
    uint8_t h[32];

    memset(out, 0, sizeof *out);
    if (!project || !file) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_fields_required", NULL);
    if (!file_name) file_name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    if (!*file_name || strlen(file_name) > SRV_VENDOR_FILE_MAX)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "file_name_invalid", "max", ops_num(num, SRV_VENDOR_FILE_MAX), NULL);
    for (const unsigned char *p = (const unsigned char *)file_name; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return ops_failk(e, EXIT_USAGE_ERR, 400, "file_name_invalid", "max", ops_num(num, SRV_VENDOR_FILE_MAX), NULL);
    srv_vendor_guess_name(file_name, &g);
    if (!firmware) firmware = g.firmware[0] ? g.firmware : NULL;
    if (!to) to = g.to[0] ? g.to : NULL;
    if (!from) from = g.from[0] ? g.from : NULL;
    if (!firmware)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_firmware_required", "file", file_name, NULL);
    if (!srv_is_fwname(firmware, strlen(firmware)) || bsp_of(firmware, bsp))   /* PROJECT as devices send it */
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_firmware_invalid", "firmware", firmware, NULL);
    if (!to) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_target_required", "file", file_name, NULL);
    if (parse_target(to, &out->core, script))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_target_invalid", "value", to, NULL);
    if (!from) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_bases_required", "file", file_name, NULL);
    if (parse_bases(from, bases, &nbases, out->bases))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_bases_invalid", "value", from, "max",
                         ops_num(num, SRV_VENDOR_BASES_MAX), NULL);
    for (size_t i = 0; i < nbases; i++)
        if (bases[i] == out->core)
        {
            char base[24];
            snprintf(base, sizeof base, "V%lu", (unsigned long)bases[i]);
            return ops_failk(e, EXIT_USAGE_ERR, 400, "package_base_is_target", "base", base, NULL);
        }
    if (!max_size) max_size = SRV_VENDOR_MAX_SIZE;
    if (max_size > FOTA_PKG_MAX_IMAGE) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_size_limit", NULL);
    int rc = fota_sha256_file(file, max_size, h, &out->size);
    if (rc == FOTA_ERR_RANGE)
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_too_large", "file", file_name, "max",
                         ops_num(num, (long long)max_size), NULL);
    if (rc || out->size == 0) return ops_failk(e, EXIT_USAGE_ERR, 400, "package_empty", "file", file_name, NULL);
    int64_t pid = ops_project_find(d, scope, project, e);
    if (pid <= 0) return e->rc;

    /* the release it brings devices to; made without files when new */
    if ((out->firmware_id = release_of(d, pid, firmware, out->core, script, e)) < 0) return e->rc;
    for (size_t i = 0; out->firmware_id && i < nbases; i++) {
        int64_t other = base_taken(d, out->firmware_id, bases[i], e);
        if (other < 0) return e->rc;
        if (other) {
            char base[24];
            if (bases[i] == SRV_VENDOR_ANY) snprintf(base, sizeof base, "any");
            else snprintf(base, sizeof base, "V%lu", (unsigned long)bases[i]);
            return ops_failk(e, EXIT_USAGE_ERR, 409, "package_duplicate", "id", ops_num(num, other), "base", base, NULL);
        }
    }
    /* the stored copy's size and hash: the file may have changed since */
    if (ops_store_file(d, file, "vendor", "bin", max_size, path, sizeof path, &out->size, out->sha256) ||
        out->size == 0)
        return ops_failk(e, EXIT_IO_ERR, 500, "store_failed", "name", file_name, NULL);
    snprintf(out->project, sizeof out->project, "%s", project);
    snprintf(out->firmware, sizeof out->firmware, "%s", firmware);
    snprintf(out->file_name, sizeof out->file_name, "%s", file_name);
    snprintf(out->version, sizeof out->version, "%s", script);
    out->created = srv_now_ms();
    /* the release (when new) and the package together, or neither */
    if (db_exec(d, "BEGIN")) return db_err(d, e);
    rc = 0;
    if (!out->firmware_id) {
        ops_firmware rel;
        snprintf(core_ver, sizeof core_ver, "V%lu", (unsigned long)out->core);
        rc = ops_firmware_add(d, scope, project, firmware, bsp, core_ver, NULL, NULL, script, NULL, &rel, e);
        out->firmware_id = rel.id;
        out->release_added = 1;
    }
    if (rc || (rc = insert_package(d, pid, out, path, bases, nbases, e)) != 0) {
        db_exec(d, "ROLLBACK");
        return rc;
    }
    return db_exec(d, "COMMIT") ? db_err(d, e) : 0;
}

#define VENDOR_COLUMNS                                                                                       \
    "SELECT v.id, v.firmware_id, v.created, p.name, f.name, v.file_name, f.core_version, f.script_version," \
    " v.bases, v.sha256, v.size, v.path FROM vendor_package v JOIN project p ON p.id=v.project_id"                 \
    " JOIN firmware f ON f.id=v.firmware_id"

static void read_row(store_stmt *st, ops_vendor *v)
{
    memset(v, 0, sizeof *v);
    v->id = store_column_int64(st, 0);
    v->firmware_id = store_column_int64(st, 1);
    v->created = store_column_int64(st, 2);
    store_column_copy(st, 3, v->project, sizeof v->project);
    store_column_copy(st, 4, v->firmware, sizeof v->firmware);
    store_column_copy(st, 5, v->file_name, sizeof v->file_name);
    v->core = (uint32_t)store_column_int64(st, 6);
    store_column_copy(st, 7, v->version, sizeof v->version);
    store_column_copy(st, 8, v->bases, sizeof v->bases);
    store_column_copy(st, 9, v->sha256, sizeof v->sha256);
    v->size = (uint64_t)store_column_int64(st, 10);
}

int ops_vendor_list(srv_db *d, const char *scope, const char *project, ops_vendor_cb cb, void *ctx, ops_err *e)
{
    int64_t pid = 0;
    if (project && (pid = ops_project_find(d, scope, project, e)) <= 0) return e->rc;
    store_stmt *st = store_prepare(d->db, VENDOR_COLUMNS " WHERE (CAST(?1 AS BIGINT)=0 OR p.id=CAST(?1 AS BIGINT))"
                                                         " AND (CAST(?2 AS TEXT) IS NULL OR p.owner=?2) ORDER BY v.id");
    if (!st) return db_err(d, e);
    store_bind_int64(st, 1, pid);
    if (scope) store_bind_str(st, 2, scope);
    int rc, stop = 0;
    ops_vendor v;
    while (!stop && (rc = store_step(st)) == STORE_ROW) {
        read_row(st, &v);
        stop = cb(ctx, &v);
    }
    store_finalize(st);
    if (stop) return stop;
    return rc == STORE_DONE ? 0 : db_err(d, e);
}

/* One statement of one id (?1) that returns no rows. 0 / -1. */
static int exec_id(srv_db *d, const char *sql, int64_t id)
{
    store_stmt *st = store_prepare(d->db, sql);
    if (!st) return -1;
    store_bind_int64(st, 1, id);
    int rc = store_step(st);
    store_finalize(st);
    return rc == STORE_DONE ? 0 : -1;
}

int ops_vendor_remove(srv_db *d, const char *scope, int64_t id, ops_err *e)
{
    store_stmt *st = store_prepare(d->db, VENDOR_COLUMNS " WHERE v.id=?1 AND (CAST(?2 AS TEXT) IS NULL OR p.owner=?2)");
    if (!st) return db_err(d, e);
    store_bind_int64(st, 1, id);
    if (scope) store_bind_str(st, 2, scope);
    ops_vendor v;
    char path[SRV_PATH_MAX] = "";
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        read_row(st, &v);
        store_column_copy(st, 11, path, sizeof path);
    }
    store_finalize(st);
    char num[24];
    if (rc == STORE_DONE) return ops_failk(e, EXIT_USAGE_ERR, 404, "package_unknown", "id", ops_num(num, id), NULL);
    if (rc != STORE_ROW) return db_err(d, e);
    if (db_exec(d, "BEGIN")) return db_err(d, e);
    if (exec_id(d, "DELETE FROM vendor_base WHERE package_id=?1", id) ||
        exec_id(d, "DELETE FROM vendor_package WHERE id=?1", id) ||
        /* its release, when only this package made it and nothing names it */
        exec_id(d, "DELETE FROM firmware WHERE id=?1 AND core_path='' AND script_path=''"
                   " AND NOT EXISTS (SELECT 1 FROM vendor_package WHERE firmware_id=?1)"
                   " AND NOT EXISTS (SELECT 1 FROM config WHERE firmware_id=?1)"
                   " AND NOT EXISTS (SELECT 1 FROM rollout WHERE firmware_id=?1)", v.firmware_id)) {
        db_err(d, e);
        db_exec(d, "ROLLBACK");
        return e->rc;
    }
    if (db_exec(d, "COMMIT")) return db_err(d, e);
    /* the file, unless another package has the same bytes */
    st = store_prepare(d->db, "SELECT 1 FROM vendor_package WHERE path=?1");
    if (st) {
        store_bind_str(st, 1, path);
        if (store_step(st) == STORE_DONE && path[0]) fota_port_remove(path);
        store_finalize(st);
    }
    return 0;
}

int srv_vendor_find(srv_db *d, int64_t fw_id, uint32_t base, srv_pkg *pkg)
{
    store_stmt *st = d->st[ST_VENDOR_FIND];
    store_bind_int64(st, 1, fw_id);
    store_bind_int64(st, 2, base);
    int rc = store_step(st);
    if (rc == STORE_ROW) {
        memset(pkg, 0, sizeof *pkg);
        store_column_copy(st, 0, pkg->path, sizeof pkg->path);
        store_column_copy(st, 1, pkg->sha256, sizeof pkg->sha256);
        pkg->size = (uint64_t)store_column_int64(st, 2);
        snprintf(pkg->etag, sizeof pkg->etag, "\"%.32s\"", pkg->sha256);
    }
    store_reset(st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : -1;
}
