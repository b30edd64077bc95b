/* Editing and removing from the console (console_manage.h). What needs an
 * object is counted first and named in the refusal (409 with the counts),
 * so nothing a configuration or a running rollout uses goes; the rest goes
 * in one transaction. */
#include "console_manage.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "console_file.h"
#include "console_upload.h"
#include "ops.h"
#include "port/port.h"
#include "validate.h"

#define LIVE_ROLLOUT "state IN ('running','paused')"

/* The single number a query of one id (?1) answers, or -1. */
static int64_t count_of(srv_db *d, const char *sql, int64_t id)
{
    store_stmt *st = db_prep(d, sql);
    if (!st) return -1;
    store_bind_int64(st, 1, id);
    int64_t n = store_step(st) == STORE_ROW ? store_column_int64(st, 0) : -1;
    store_finalize(st);
    return n;
}

/* A statement of one id (?1) and an optional text (?2). 0 / -1. */
static int run_id(srv_db *d, const char *sql, int64_t id, const char *text)
{
    store_stmt *st = db_prep(d, sql);
    if (!st) return -1;
    store_bind_int64(st, 1, id);
    if (text) store_bind_str(st, 2, text);
    int rc = store_step(st);
    store_finalize(st);
    return rc == STORE_DONE ? 0 : rc == STORE_CONFLICT ? -2 : -1;
}

static int db_failed(struct srv_console *k, ops_err *e)
{
    return ops_failk(e, EXIT_IO_ERR, 500, "database", "detail", store_errmsg(k->db.db), NULL);
}

/* The statements sql (NULL-ended, each with ?1 = id) in one transaction:
 * 0, or the database's error in e with nothing changed. */
static int remove_in_one(struct srv_console *k, ops_err *e, int64_t id, const char *const *sql)
{
    int bad = db_exec(&k->db, "BEGIN");
    for (; !bad && *sql; sql++) bad = run_id(&k->db, *sql, id, NULL);
    if (!bad) bad = db_exec(&k->db, "COMMIT");
    if (!bad) return 0;
    int rc = db_failed(k, e);
    db_exec(&k->db, "ROLLBACK");
    return rc;
}

/* A positive JSON integer field, or 0. */
static int64_t json_id(json_t *in, const char *k)
{
    json_t *v = json_object_get(in, k);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
}

static enum MHD_Result answer(struct MHD_Connection *c, int rc, const ops_err *e, json_t *ok)
{
    if (rc) {
        json_decref(ok);
        return con_send_ops(c, e);
    }
    return ok ? con_send_j(c, 200, ok, NULL) : con_send_err(c, 500, "out_of_memory", NULL);
}

/* Lock held. The user's project named by the field "project", or 0 (e). */
static int64_t project_of(struct srv_console *k, const session *s, json_t *in, ops_err *e)
{
    const char *bad = NULL, *name = con_jstr(in, "project", SRV_PROJECT_MAX, &bad);
    if (bad || !name) {
        ops_failk(e, EXIT_USAGE_ERR, 400, bad ? "field_invalid" : "field_required", "field", "project", NULL);
        return 0;
    }
    return ops_project_find(&k->db, s->user, name, e);
}

enum MHD_Result console_project_edit(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL, *name = con_jstr(in, "name", SRV_PROJECT_MAX, &bad);
    ops_err e = { 0 };
    char max[24];
    int rc = 0;
    if (bad || !name || !srv_is_project_name(name, strlen(name)))
        return con_send_err(c, 400, "project_invalid", "max", ops_num(max, SRV_PROJECT_CHARS), NULL);
    pthread_mutex_lock(&k->lock);
    int64_t pid = project_of(k, s, in, &e);
    if (pid <= 0) rc = e.rc;
    else if ((rc = run_id(&k->db, "UPDATE project SET name=?2 WHERE id=?1", pid, name)) != 0)
        rc = rc == -2 ? ops_failk(&e, EXIT_USAGE_ERR, 409, "project_exists", "project", name, NULL) : db_failed(k, &e);
    pthread_mutex_unlock(&k->lock);
    return answer(c, rc, &e, rc ? NULL : json_pack("{ss}", "name", name));
}

/* A new ProductKey: devices with the old one get "project not found"
 * (the page warns before). */
enum MHD_Result console_project_key(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    char key[33];
    con_random_hex(key, 16);
    ops_err e = { 0 };
    int rc = 0;
    pthread_mutex_lock(&k->lock);
    int64_t pid = project_of(k, s, in, &e);
    if (pid <= 0) rc = e.rc;
    else if (run_id(&k->db, "UPDATE project SET product_key=?2 WHERE id=?1", pid, key)) rc = db_failed(k, &e);
    pthread_mutex_unlock(&k->lock);
    return answer(c, rc, &e, rc ? NULL : json_pack("{ss}", "key", key));
}

enum MHD_Result console_project_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    ops_err e = { 0 };
    int rc = 0;
    pthread_mutex_lock(&k->lock);
    int64_t pid = project_of(k, s, in, &e);
    if (pid <= 0) rc = e.rc;
    int64_t rel = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM firmware WHERE project_id=?1", pid),
            pkg = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM vendor_package WHERE project_id=?1", pid),
            cfg = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM config WHERE project_id=?1", pid),
            live = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM rollout r JOIN config c ON c.id=r.config_id"
                                             " WHERE c.project_id=?1 AND r." LIVE_ROLLOUT, pid);
    if (rc == 0 && (rel < 0 || pkg < 0 || cfg < 0 || live < 0)) rc = db_failed(k, &e);
    if (rc == 0 && (rel || pkg || cfg || live)) {
        char a[24], b[24], d[24], f[24];
        rc = ops_failk(&e, EXIT_USAGE_ERR, 409, "project_in_use", "project", json_string_value(json_object_get(in, "project")),
                       "releases", ops_num(a, rel), "packages", ops_num(b, pkg), "configs", ops_num(d, cfg), "rollouts",
                       ops_num(f, live), NULL);
    }
    if (rc == 0) {   /* its devices stay (with their owner and log), in no project */
        static const char *const sql[] = { "DELETE FROM project_family WHERE project_id=?1",
                                           "DELETE FROM at_family WHERE project_id=?1",
                                           "UPDATE device SET project_id=NULL WHERE project_id=?1",
                                           "DELETE FROM project WHERE id=?1", NULL };
        rc = remove_in_one(k, &e, pid, sql);
    }
    pthread_mutex_unlock(&k->lock);
    return answer(c, rc, &e, rc ? NULL : json_pack("{sb}", "ok", 1));
}

/* A stored file no release names any more goes (files are content-addressed
 * and shared between releases): an absolute path is SQLite's file, a
 * relative one PostgreSQL's (its rows, and this instance's cached copy). */
static void drop_unused(struct srv_console *k, const char *path)
{
    if (!path[0]) return;
    store_stmt *st = db_prep(&k->db, "SELECT 1 FROM firmware WHERE core_path=?1 OR script_path=?1");
    if (!st) return;
    store_bind_str(st, 1, path);
    if (store_step(st) == STORE_DONE) {
        if (path[0] == '/') fota_port_remove(path);
        else db_forget_file(&k->db, path);
    }
    store_finalize(st);
}

/* The packages built for release id (build.c's DATA/cache/fw<id>-*, and on
 * PostgreSQL their rows): a later release may get the same id (SQLite
 * reuses the highest). */
static void drop_built(struct srv_console *k, int64_t id)
{
    char like[40], name[SRV_PATH_MAX], stored[72];
    snprintf(like, sizeof like, "fw%lld-%%", (long long)id);
    for (int more = 1; more;) {   /* one row at a time: each row's bytes go unless shared */
        more = 0;
        store_stmt *q = db_prep(&k->db, "SELECT name, sha256 FROM built_package WHERE name LIKE ?1 LIMIT 1");
        if (!q) break;
        store_bind_str(q, 1, like);
        if (store_step(q) == STORE_ROW && store_column_text(q, 0) && store_column_text(q, 1)) {
            snprintf(name, sizeof name, "%s", store_column_text(q, 0));
            snprintf(stored, sizeof stored, "cache/%.64s", store_column_text(q, 1));
            more = 1;
        }
        store_finalize(q);
        const char *v[] = { name };
        if (more && (more = db_exec_text(&k->db, "DELETE FROM built_package WHERE name=?1", 1, v) == 0))
            db_forget_file(&k->db, stored);
    }
    char dir[SRV_PATH_MAX], prefix[40], path[SRV_PATH_MAX + 300];
    int n = snprintf(dir, sizeof dir, "%s/cache", k->db.data_dir);
    if (n < 0 || (size_t)n >= sizeof dir) return;
    snprintf(prefix, sizeof prefix, "fw%lld-", (long long)id);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d)) != NULL;) {
        if (strncmp(de->d_name, prefix, strlen(prefix)) != 0) continue;
        n = snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (n > 0 && (size_t)n < sizeof path) unlink(path);
    }
    closedir(d);
}

enum MHD_Result console_firmware_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    int64_t id = json_id(in, "id");
    if (!id) return con_send_err(c, 400, "field_invalid", "field", "id", NULL);
    ops_err e = { 0 };
    int rc = 0;
    char name[SRV_NAME_MAX + 1] = "", core[SRV_PATH_MAX] = "", script[SRV_PATH_MAX] = "", num[24];
    pthread_mutex_lock(&k->lock);
    int64_t pid = project_of(k, s, in, &e);
    if (pid <= 0) rc = e.rc;
    store_stmt *st = rc ? NULL : db_prep(&k->db, "SELECT name, core_path, script_path FROM firmware"
                                                " WHERE id=?1 AND project_id=?2");
    if (st) {
        store_bind_int64(st, 1, id);
        store_bind_int64(st, 2, pid);
        if (store_step(st) == STORE_ROW) {
            store_column_copy(st, 0, name, sizeof name);
            store_column_copy(st, 1, core, sizeof core);
            store_column_copy(st, 2, script, sizeof script);
        }
        store_finalize(st);
    }
    if (rc == 0 && !name[0]) rc = ops_failk(&e, EXIT_USAGE_ERR, 404, "release_unknown", "id", ops_num(num, id), NULL);
    int64_t cfg = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM config WHERE firmware_id=?1", id),
            pkg = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM vendor_package WHERE firmware_id=?1", id),
            live = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM rollout WHERE firmware_id=?1 AND " LIVE_ROLLOUT, id);
    if (rc == 0 && (cfg < 0 || pkg < 0 || live < 0)) rc = db_failed(k, &e);
    if (rc == 0 && (cfg || pkg || live)) {
        char a[24], b[24], d[24];
        rc = ops_failk(&e, EXIT_USAGE_ERR, 409, "release_in_use", "firmware", name, "configs", ops_num(a, cfg), "packages",
                       ops_num(b, pkg), "rollouts", ops_num(d, live), NULL);
    }
    if (rc == 0) {   /* ended rollouts of it go with it (their rows name it) */
        static const char *const sql[] = {
            "DELETE FROM rollout_device WHERE rollout_id IN (SELECT id FROM rollout WHERE firmware_id=?1)",
            "DELETE FROM rollout WHERE firmware_id=?1", "DELETE FROM firmware WHERE id=?1", NULL };
        if ((rc = remove_in_one(k, &e, id, sql)) == 0) {
            drop_unused(k, core);
            drop_unused(k, script);
            drop_built(k, id);
        }
    }
    pthread_mutex_unlock(&k->lock);
    return answer(c, rc, &e, rc ? NULL : json_pack("{sb}", "ok", 1));
}

enum MHD_Result console_config_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    int64_t id = json_id(in, "id");
    if (!id) return con_send_err(c, 400, "field_invalid", "field", "id", NULL);
    ops_err e = { 0 };
    int rc = 0;
    char fw[SRV_NAME_MAX + 1];
    pthread_mutex_lock(&k->lock);
    const char *bad = NULL, *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad);
    rc = console_config_pick(k, s->user, bad ? NULL : project, id, NULL, fw, &e);
    int64_t live = rc ? 0 : count_of(&k->db, "SELECT COUNT(*) FROM rollout WHERE config_id=?1 AND " LIVE_ROLLOUT, id);
    if (rc == 0 && live < 0) rc = db_failed(k, &e);
    if (rc == 0 && live) rc = ops_failk(&e, EXIT_USAGE_ERR, 409, "rollout_running", NULL);
    if (rc == 0) {
        static const char *const sql[] = {
            "DELETE FROM rollout_device WHERE rollout_id IN (SELECT id FROM rollout WHERE config_id=?1)",
            "DELETE FROM rollout WHERE config_id=?1", "DELETE FROM config_imei WHERE config_id=?1",
            "DELETE FROM config_from WHERE config_id=?1", "DELETE FROM config WHERE id=?1", NULL };
        rc = remove_in_one(k, &e, id, sql);
    }
    pthread_mutex_unlock(&k->lock);
    return answer(c, rc, &e, rc ? NULL : json_pack("{sb}", "ok", 1));
}

int console_package_removable(struct srv_console *k, const char *user, int64_t id, ops_err *e)
{
    char num[24];
    store_stmt *st = db_prep(&k->db, "SELECT v.firmware_id FROM vendor_package v JOIN project p ON p.id=v.project_id"
                                     " WHERE v.id=?1 AND p.owner=?2");
    if (!st) return db_failed(k, e);
    store_bind_int64(st, 1, id);
    store_bind_str(st, 2, user);
    int64_t fw = store_step(st) == STORE_ROW ? store_column_int64(st, 0) : 0;
    store_finalize(st);
    if (!fw) return ops_failk(e, EXIT_USAGE_ERR, 404, "package_unknown", "id", ops_num(num, id), NULL);
    int64_t cfg = count_of(&k->db, "SELECT COUNT(*) FROM config WHERE firmware_id=?1", fw),
            live = count_of(&k->db, "SELECT COUNT(*) FROM rollout WHERE firmware_id=?1 AND " LIVE_ROLLOUT, fw);
    if (cfg < 0 || live < 0) return db_failed(k, e);
    if (cfg || live) {
        char a[24], b[24];
        return ops_failk(e, EXIT_USAGE_ERR, 409, "package_in_use", "id", ops_num(num, id), "configs", ops_num(a, cfg),
                         "rollouts", ops_num(b, live), NULL);
    }
    return 0;
}

int console_config_pick(struct srv_console *k, const char *user, const char *project, int64_t id, const char *want,
                        char *fw, ops_err *e)
{
    char num[24];
    int64_t pid = ops_project_find(&k->db, user, project, e);
    if (pid <= 0) return e->rc;
    store_stmt *st = db_prep(&k->db, "SELECT firmware_name FROM config WHERE id=?1 AND project_id=?2");
    if (!st) return db_failed(k, e);
    store_bind_int64(st, 1, id);
    store_bind_int64(st, 2, pid);
    fw[0] = '\0';
    if (store_step(st) == STORE_ROW) store_column_copy(st, 0, fw, SRV_NAME_MAX + 1);
    store_finalize(st);
    if (!fw[0]) return ops_failk(e, EXIT_USAGE_ERR, 404, "config_unknown", "id", ops_num(num, id), NULL);
    if (!want || !strcmp(want, fw)) return 0;
    if (!srv_is_fwname(want, strlen(want)))
        return ops_failk(e, EXIT_USAGE_ERR, 400, "package_firmware_invalid", "firmware", want, NULL);
    int rc = run_id(&k->db, "UPDATE config SET firmware_name=?2 WHERE id=?1", id, want);
    if (rc == -2) return ops_failk(e, EXIT_USAGE_ERR, 409, "config_exists", "firmware", want, NULL);
    if (rc) return db_failed(k, e);
    snprintf(fw, SRV_NAME_MAX + 1, "%s", want);
    return 0;
}

/* kind is one of the comma list kinds. */
static int kind_in(const char *kind, const char *kinds)
{
    size_t n = strlen(kind);
    for (const char *p = kinds; *p;) {
        size_t m = strcspn(p, ",");
        if (m == n && !strncmp(p, kind, n)) return 1;
        p += m + (p[m] == ',');
    }
    return 0;
}

int console_upload_is(struct srv_console *k, const char *user, const char *id, const char *field, const char *kinds,
                      ops_err *e)
{
    char dir[SRV_PATH_MAX], file[SRV_PATH_MAX];
    int files = 0;
    if (!id || !console_upload_get(k, user, id, dir, file, &files, NULL))
        return ops_failk(e, EXIT_USAGE_ERR, id ? 404 : 400, "upload_one_file", "field", field, NULL);
    console_file_info fi;
    console_file_read(dir, file, files, &fi);
    if (kind_in(fi.kind, kinds)) return 0;
    const char *name = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    char expected[32];
    snprintf(expected, sizeof expected, "%.*s", (int)strcspn(kinds, ","), kinds);
    return ops_failk(e, EXIT_USAGE_ERR, 400, "file_mismatch", "field", field, "file", name, "expected", expected, "found",
                     fi.kind, NULL);
}

enum MHD_Result console_upload_info(struct srv_console *k, struct MHD_Connection *c, const session *s)
{
    const char *id = con_arg(c, "id");
    char dir[SRV_PATH_MAX], file[SRV_PATH_MAX];
    int files = 0;
    pthread_mutex_lock(&k->lock);
    int found = id && console_upload_get(k, s->user, id, dir, file, &files, NULL);
    pthread_mutex_unlock(&k->lock);
    if (!found) return con_send_err(c, id ? 404 : 400, "upload_unknown", NULL);
    console_file_info fi;
    console_file_read(dir, file, files, &fi);   /* outside the lock: it reads the file */
    json_t *j = json_pack("{ss}", "kind", fi.kind);
    const char *keys[] = { "core", "bsp", "version", "model", "from", "to" };
    const char *vals[] = { fi.core, fi.bsp, fi.version, fi.model, fi.from, fi.to };
    for (size_t i = 0; j && i < sizeof keys / sizeof keys[0]; i++)
        if (vals[i][0]) json_object_set_new(j, keys[i], json_string(vals[i]));
    return j ? con_send_j(c, 200, j, NULL) : con_send_err(c, 500, "out_of_memory", NULL);
}
