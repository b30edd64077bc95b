/* The console's JSON API (console_api.h): on the operations of ops.c (the
 * admin CLI's), every object looked up within the user's own projects
 * (ops.h scope), so another user's id answers 404. */
#include "console_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at.h"
#include "console_auth.h"
#include "console_delta.h"
#include "console_manage.h"
#include "console_upload.h"
#include "ops.h"
#include "rollout.h"
#include "vendor.h"

static int add_project(void *ctx, const ops_project *p)
{
    return json_array_append_new(ctx, json_pack("{sssssssI}", "name", p->name, "key", p->key, "family", p->family,
                                                "created", (json_int_t)p->created));
}

static int add_firmware(void *ctx, const ops_firmware *f)
{
    return json_array_append_new(ctx, json_pack("{sIsssssssIsssIsbsbsI}", "id", (json_int_t)f->id, "project",
                                                f->project, "name", f->name, "bsp", f->bsp, "core",
                                                (json_int_t)f->core, "version", f->version, "size",
                                                (json_int_t)f->core_size, "has_core", f->has_core, "has_script",
                                                f->has_script, "created", (json_int_t)f->created));
}

static int add_config(void *ctx, const ops_config *x)
{
    return json_array_append_new(ctx, json_pack("{sIsssIsIsssbsbsosbsosb}", "id", (json_int_t)x->id, "firmware",
                                                x->firmware, "firmware_id",
                                                (json_int_t)x->firmware_id, "core", (json_int_t)x->core, "version",
                                                x->version, "enabled", x->enabled, "all", x->all_devices, "imeis",
                                                con_split_list(x->imeis), "any_from", x->any_from, "from",
                                                con_split_list(x->from), "reinstall", x->reinstall));
}

static int add_device(void *ctx, const ops_device *d)
{
    return json_array_append_new(ctx, json_pack("{sssssbsssIsIsi}", "imei", d->imei, "project", d->project,
                                                "banned", d->banned, "version", d->version, "last",
                                                (json_int_t)d->last_ms, "created", (json_int_t)d->created,
                                                "last_code", d->last_code));
}

static int add_log(void *ctx, const ops_log *l)
{
    return json_array_append_new(ctx, json_pack("{sI sI ss si si ss ss ss}", "id", (json_int_t)l->id, "ts",
                                                (json_int_t)l->ts, "imei", l->imei, "status", l->status, "code",
                                                l->code, "request", l->request, "msg", l->msg, "meaning",
                                                ops_code_meaning(l->code)));
}

static int add_package(void *ctx, const ops_vendor *v)
{
    return json_array_append_new(ctx, json_pack("{sI ss ss sI ss so sI ss ss sI}", "id", (json_int_t)v->id, "project",
                                                v->project, "firmware", v->firmware, "core", (json_int_t)v->core,
                                                "version", v->version, "bases", con_split_list(v->bases), "size",
                                                (json_int_t)v->size, "sha256", v->sha256, "file_name", v->file_name,
                                                "created", (json_int_t)v->created));
}

static enum MHD_Result project_add(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *name = con_jstr(in, "name", SRV_PROJECT_MAX, &bad), *family = con_jstr(in, "family", OPS_FAMILY_MAX, &bad),
               *key = con_jstr(in, "key", SRV_KEY_MAX, &bad);
    if (bad) return con_send_err(c, 400, "field_invalid", "field", bad, NULL);
    char gen[33];
    if (!key) {   /* the platform makes the ProductKey */
        con_random_hex(gen, 16);
        key = gen;
    }
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_project_add(&k->db, name, key, s->user, family, &e);
    pthread_mutex_unlock(&k->lock);
    if (rc) return con_send_ops(c, &e);
    return con_send_j(c, 201, json_pack("{ssssss}", "name", name, "key", key, "family", family ? family : ""), NULL);
}

static enum MHD_Result firmware_add(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *kind = con_jstr(in, "kind", 16, &bad), *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad),
               *bsp = con_jstr(in, "bsp", SRV_NAME_MAX, &bad), *core_ver = con_jstr(in, "core_version", 16, &bad),
               *version = con_jstr(in, "version", SRV_VER_MAX, &bad), *model = con_jstr(in, "model", SRV_NAME_MAX, &bad),
               *core_id = con_jstr(in, "core", 32, &bad), *script_id = con_jstr(in, "script", 32, &bad),
               *pkg_id = con_jstr(in, "package", 32, &bad), *lua_project = con_jstr(in, "lua_project", SRV_NAME_MAX, &bad);
    if (bad) return con_send_err(c, 400, "field_invalid", "field", bad, NULL);
    int at = kind && !strcmp(kind, "at"), pkg = kind && !strcmp(kind, "package");
    if (!kind || (!at && !pkg && strcmp(kind, "luatos"))) return con_send_err(c, 400, "firmware_kind", NULL);
    char name[SRV_NAME_MAX + 1], dir[SRV_PATH_MAX], core[SRV_PATH_MAX], sdir[SRV_PATH_MAX], sfile[SRV_PATH_MAX];
    int files = 0;
    ops_err e = { 0 };
    ops_firmware f;
    memset(&f, 0, sizeof f);
    pthread_mutex_lock(&k->lock);
    /* a LuatOS release's name holds the devices' PROJECT: the project's name unless given */
    int rc = ops_firmware_name(at || pkg ? model : lua_project && *lua_project ? lua_project : project, bsp, at || pkg,
                               name, sizeof name, &e);
    if (rc == 0 && ops_project_find(&k->db, s->user, project, &e) <= 0) rc = e.rc;
    const char *need = pkg ? pkg_id : core_id;
    if (rc == 0 && (!need || !console_upload_get(k, s->user, need, dir, core, &files, NULL) || files != 1))
        rc = ops_failk(&e, EXIT_USAGE_ERR, need ? 404 : 400, "upload_one_file", "field", pkg ? "package" : "core", NULL);
    if (rc == 0 && !at && !pkg &&
        (!script_id || !console_upload_get(k, s->user, script_id, sdir, sfile, NULL, NULL)))
        rc = ops_failk(&e, EXIT_USAGE_ERR, script_id ? 404 : 400, "upload_scripts", NULL);
    /* what the files are, before anything is stored: a .soc or an archive
     * is no core image, a text file no scripts */
    if (rc == 0) rc = console_upload_is(k, s->user, need, pkg ? "package" : "core", pkg ? "package" : "core", &e);
    if (rc == 0 && !at && !pkg) rc = console_upload_is(k, s->user, script_id, "script", "script", &e);
    if (rc == 0 && pkg) {
        /* the operation behind the CLI's at delta (at.c): it checks the package
         * whole and says why it refuses one (at_package_invalid) */
        srv_at_delta stored;
        rc = ops_at_delta(&k->db, s->user, project, model, bsp, core, &stored, &e);
    } else if (rc == 0) {
        rc = ops_firmware_add(&k->db, s->user, project, name, bsp, core_ver, core, at ? NULL : sdir,
                              at ? SRV_AT_SCRIPT_VERSION : version, NULL, &f, &e);
    }
    pthread_mutex_unlock(&k->lock);
    if (rc) return con_send_ops(c, &e);
    if (pkg) return con_send_j(c, 201, json_pack("{ss}", "name", name), NULL);
    json_t *a = json_array();
    add_firmware(a, &f);
    json_t *one = json_incref(json_array_get(a, 0));
    json_decref(a);
    return con_send_j(c, 201, one, NULL);
}

static enum MHD_Result config_set(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad), *fw = con_jstr(in, "firmware", SRV_NAME_MAX, &bad),
               *version = con_jstr(in, "version", SRV_VER_MAX, &bad), *core_ver = con_jstr(in, "core_version", 16, &bad);
    json_t *id = json_object_get(in, "id");
    if (id && !json_is_null(id) && (!json_is_integer(id) || json_integer_value(id) <= 0)) bad = "id";
    char picked[SRV_NAME_MAX + 1];
    int all = con_jbool(in, "all", &bad), any = con_jbool(in, "any_from", &bad), en = con_jbool(in, "enabled", &bad),
        re = con_jbool(in, "reinstall", &bad);
    char *imeis = con_jlist(in, "imeis", SRV_IMEI_LEN, &bad), *from = con_jlist(in, "from", SRV_VER_MAX, &bad);
    ops_err e = { 0 };
    int rc = 0;
    if (bad) rc = ops_failk(&e, EXIT_USAGE_ERR, 400, "field_invalid", "field", bad, NULL);
    else if (all == 0 && (!imeis || !*imeis)) rc = ops_failk(&e, EXIT_USAGE_ERR, 400, "config_imeis_required", NULL);
    else if (any == 0 && (!from || !*from)) rc = ops_failk(&e, EXIT_USAGE_ERR, 400, "config_from_required", NULL);
    if (rc == 0) {
        pthread_mutex_lock(&k->lock);
        /* with an id: that configuration of this project (renamed when
         * firmware names another); without: the firmware's own (added) */
        if (json_is_integer(id))
            rc = console_config_pick(k, s->user, project, (int64_t)json_integer_value(id), fw, picked, &e);
        if (rc == 0 && json_is_integer(id)) fw = picked;
        if (rc == 0)
            rc = ops_config_set(&k->db, s->user, project, fw, version, core_ver,
                                all == 1 ? "all" : all == 0 ? imeis : NULL, any == 1 ? "any" : any == 0 ? from : NULL,
                                en < 0 ? NULL : en ? "1" : "0", re < 0 ? NULL : re ? "1" : "0", &e);
        pthread_mutex_unlock(&k->lock);
    }
    free(imeis);
    free(from);
    if (rc) return con_send_ops(c, &e);
    return con_send_j(c, 200, json_pack("{sb}", "ok", 1), NULL);
}

static enum MHD_Result listing(struct srv_console *k, struct MHD_Connection *c, const session *s, const char *what)
{
    json_t *a = json_array();
    ops_err e = { 0 };
    int rc;
    pthread_mutex_lock(&k->lock);
    if (!strcmp(what, "projects")) rc = ops_project_list(&k->db, s->user, add_project, a, &e);
    else if (!strcmp(what, "firmware")) rc = ops_firmware_list(&k->db, s->user, con_arg(c, "project"), add_firmware, a, &e);
    else if (!strcmp(what, "packages")) rc = ops_vendor_list(&k->db, s->user, con_arg(c, "project"), add_package, a, &e);
    else if (!strcmp(what, "config")) rc = ops_config_show(&k->db, s->user, con_arg(c, "project"), add_config, a, &e);
    else if (!strcmp(what, "devices"))
        rc = ops_device_list(&k->db, s->user, con_arg(c, "project"), con_arg(c, "imei"), add_device, a, &e);
    else rc = ops_log_list(&k->db, s->user, con_arg(c, "imei"), con_arg(c, "date"), 1, 1000, add_log, a, &e);
    pthread_mutex_unlock(&k->lock);
    if (rc) {
        json_decref(a);
        return e.rc ? con_send_ops(c, &e) : con_send_err(c, 500, "out_of_memory", NULL);
    }
    return con_send_j(c, 200, json_pack("{so}", "items", a), NULL);
}

static enum MHD_Result device_act(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in,
                                  const char *what)
{
    const char *bad = NULL;
    const char *imei = con_jstr(in, "imei", SRV_IMEI_LEN, &bad), *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad);
    if (bad) return con_send_err(c, 400, "field_invalid", "field", bad, NULL);
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_device_act(&k->db, s->user, what, imei, project, NULL, &e);
    pthread_mutex_unlock(&k->lock);
    return rc ? con_send_ops(c, &e) : con_send_j(c, 200, json_pack("{sb}", "ok", 1), NULL);
}

/* What a vendor file's name says (srv_vendor_guess_name), for the page to
 * fill its form with before the user confirms or corrects it. */
static enum MHD_Result package_guess(struct MHD_Connection *c)
{
    const char *name = con_arg(c, "name");
    if (!name) return con_send_err(c, 400, "field_required", "field", "name", NULL);
    srv_vendor_guess g;
    int known = srv_vendor_guess_name(name, &g);
    return con_send_j(c, 200, json_pack("{sbssssss}", "known", known, "firmware", g.firmware, "to", g.to, "from", g.from),
                      NULL);
}

/* A vendor package from an upload of one file (ops_vendor_add, as `package
 * add`): firmware, to, from absent or "" = from the uploaded file's name. */
static enum MHD_Result package_add(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad), *up = con_jstr(in, "upload", 32, &bad),
               *fw = con_jstr(in, "firmware", SRV_NAME_MAX, &bad), *to = con_jstr(in, "to", SRV_VER_MAX, &bad),
               *from = con_jstr(in, "from", SRV_VENDOR_BASES_TEXT, &bad);
    json_t *max = json_object_get(in, "max_size");
    if (bad) return con_send_err(c, 400, "field_invalid", "field", bad, NULL);
    if (max && !json_is_null(max) &&
        (!json_is_integer(max) || json_integer_value(max) <= 0 || json_integer_value(max) > FOTA_PKG_MAX_IMAGE))
        return con_send_err(c, 400, "field_invalid", "field", "max_size", NULL);
    if (!project || !up) return con_send_err(c, 400, "field_required", "field", project ? "upload" : "project", NULL);
    uint64_t max_size = json_is_integer(max) ? (uint64_t)json_integer_value(max) : 0;
    char dir[SRV_PATH_MAX], file[SRV_PATH_MAX];
    int files = 0;
    ops_vendor v;
    ops_err e = { 0 };
    int rc;
    pthread_mutex_lock(&k->lock);
    if (!console_upload_get(k, s->user, up, dir, file, &files, NULL) || files != 1)
        rc = ops_failk(&e, EXIT_USAGE_ERR, 404, "upload_one_file", "field", "upload", NULL);
    else if ((rc = console_upload_is(k, s->user, up, "upload", "vendor,core,soc,archive", &e)) != 0)
        ;   /* our own package, a delta or a text file is no vendor package */
    else   /* the upload keeps the file's own name: what the guess reads */
        rc = ops_vendor_add(&k->db, s->user, project, fw && *fw ? fw : NULL, to && *to ? to : NULL,
                            from && *from ? from : NULL, file, strrchr(file, '/') + 1, max_size, &v, &e);
    pthread_mutex_unlock(&k->lock);
    if (rc) return con_send_ops(c, &e);
    json_t *a = json_array();
    add_package(a, &v);
    json_t *one = json_incref(json_array_get(a, 0));
    json_decref(a);
    if (one) json_object_set_new(one, "release_added", json_boolean(v.release_added));
    return one ? con_send_j(c, 201, one, NULL) : con_send_err(c, 500, "out_of_memory", NULL);
}

static enum MHD_Result package_remove(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    json_t *id = json_object_get(in, "id");
    if (!json_is_integer(id) || json_integer_value(id) <= 0) return con_send_err(c, 400, "field_invalid", "field", "id", NULL);
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = console_package_removable(k, s->user, (int64_t)json_integer_value(id), &e);
    if (rc == 0) rc = ops_vendor_remove(&k->db, s->user, (int64_t)json_integer_value(id), &e);
    pthread_mutex_unlock(&k->lock);
    return rc ? con_send_ops(c, &e) : con_send_j(c, 200, json_pack("{sb}", "ok", 1), NULL);
}

/* A configuration's staged rollout: GET its status, POST an action (start
 * with its waves and thresholds, pause, resume, abort, advance). The same
 * operation and status JSON as `fota-server rollout`. */
static enum MHD_Result rollout(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL, *project, *fw, *action = "status", *waves = NULL, *every = NULL, *maxf = NULL,
               *minout = NULL;
    if (in) {
        project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad);
        fw = con_jstr(in, "firmware", SRV_NAME_MAX, &bad);
        action = con_jstr(in, "action", 16, &bad);
        waves = con_jstr(in, "waves", 128, &bad);
        every = con_jstr(in, "every", 32, &bad);
        maxf = con_jstr(in, "max_failure", 16, &bad);
        minout = con_jstr(in, "min_outcomes", 16, &bad);
        if (!bad && action && !strcmp(action, "status")) bad = "action";   /* a GET */
    } else {
        project = con_arg(c, "project");
        fw = con_arg(c, "firmware");
    }
    if (bad) return con_send_err(c, 400, "rollout_fields", NULL);
    char *text = malloc(SRV_ROLLOUT_JSON_MAX);
    if (!text) return con_send_err(c, 500, "out_of_memory", NULL);
    ops_err e = { 0 };
    pthread_mutex_lock(&k->lock);
    int rc = ops_rollout(&k->db, s->user, action, project, fw, waves, every, maxf, minout, text, SRV_ROLLOUT_JSON_MAX,
                         &e);
    pthread_mutex_unlock(&k->lock);
    json_t *j = rc ? NULL : json_loads(text, 0, NULL);
    free(text);
    if (rc) return con_send_ops(c, &e);
    return j ? con_send_j(c, 200, j, NULL) : con_send_err(c, 500, "rollout_missing", NULL);
}

/* The answer to a complete request (r: its body, or its finished upload). */
enum MHD_Result console_api(struct srv_console *k, struct MHD_Connection *c, const char *path, int post, creq *r)
{
    /* A PostgreSQL connection lost (a restart): a new one for this request
     * (no round trip while it works). */
    pthread_mutex_lock(&k->lock);
    store_reconnect(k->db.db);
    pthread_mutex_unlock(&k->lock);
    if (!strcmp(path, "login") && post) {
        json_t *in = r->body ? json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(in)) {
            json_decref(in);
            return con_send_err(c, 400, "json_object", NULL);
        }
        enum MHD_Result rc = console_login(k, c, in);
        json_decref(in);
        return rc;
    }
    session s;
    memset(&s, 0, sizeof s);
    pthread_mutex_lock(&k->lock);
    int have = console_session_get(k, c, &s);
    pthread_mutex_unlock(&k->lock);
    if (have < 0) return con_send_busy(c);
    /* the page asks on load whether it has a session: no error for "no" */
    if (!have && !strcmp(path, "me") && !post) return con_send_j(c, 200, json_pack("{sn}", "user"), NULL);
    if (!have) return con_send_err(c, 401, "not_logged_in", NULL);
    if (post && !console_csrf_ok(c, &s)) return con_send_err(c, 403, "csrf", NULL);
    if (!strcmp(path, "me") && !post) return con_send_j(c, 200, console_me_json(&s), NULL);
    if (!strcmp(path, "logout") && post) return console_logout(k, c, &s);
    json_t *in = NULL;
    if (post && !r->upload) {
        in = r->body ? json_loadb(r->body, r->n, JSON_REJECT_DUPLICATES, NULL) : NULL;
        if (!json_is_object(in)) {
            json_decref(in);
            return con_send_err(c, 400, "json_object", NULL);
        }
    }
    enum MHD_Result rc;
    if (!strcmp(path, "password") && post) rc = console_change_password(k, c, &s, in);
    else if (s.must_change) rc = con_send_err(c, 403, "must_change_password", NULL);
    else if (!strcmp(path, "upload") && post && r->upload) rc = console_upload_end(k, c, r);
    else if (!post && (!strcmp(path, "projects") || !strcmp(path, "firmware") || !strcmp(path, "config") ||
                       !strcmp(path, "devices") || !strcmp(path, "log") || !strcmp(path, "packages")))
        rc = listing(k, c, &s, path);
    else if (post && !strcmp(path, "projects")) rc = project_add(k, c, &s, in);
    else if (post && !strcmp(path, "firmware")) rc = firmware_add(k, c, &s, in);
    else if (post && !strcmp(path, "config")) rc = config_set(k, c, &s, in);
    else if (post && !strcmp(path, "packages")) rc = package_add(k, c, &s, in);
    else if (post && !strcmp(path, "packages/remove")) rc = package_remove(k, c, &s, in);
    else if (post && !strcmp(path, "projects/edit")) rc = console_project_edit(k, c, &s, in);
    else if (post && !strcmp(path, "projects/key")) rc = console_project_key(k, c, &s, in);
    else if (post && !strcmp(path, "projects/remove")) rc = console_project_remove(k, c, &s, in);
    else if (post && !strcmp(path, "firmware/remove")) rc = console_firmware_remove(k, c, &s, in);
    else if (post && !strcmp(path, "config/remove")) rc = console_config_remove(k, c, &s, in);
    else if (!post && !strcmp(path, "upload/info")) rc = console_upload_info(k, c, &s);
    else if (!strcmp(path, "users") || (post && (!strcmp(path, "users/reset") || !strcmp(path, "users/disable"))))
        rc = console_users(k, c, &s, path, post, in);
    else if (!post && !strcmp(path, "packages/guess")) rc = package_guess(c);
    else if (post && !strcmp(path, "devices/unban")) rc = device_act(k, c, &s, in, "unban");
    else if (post && !strcmp(path, "devices/ban")) rc = device_act(k, c, &s, in, "ban");
    else if (post && !strcmp(path, "devices/add")) rc = device_act(k, c, &s, in, "add");
    else if (!strcmp(path, "rollout")) rc = rollout(k, c, &s, post ? in : NULL);
    else if (post && !strcmp(path, "delta")) rc = console_delta_start(k, c, &s, in);
    else if (!post && !strcmp(path, "delta")) rc = console_delta_get(k, c, &s, 0);
    else if (!post && !strcmp(path, "delta/file")) rc = console_delta_get(k, c, &s, 1);
    else if (post && !strcmp(path, "delta/save")) rc = console_delta_save(k, c, &s, in);
    else rc = con_send_err(c, 404, "no_endpoint", NULL);
    json_decref(in);
    return rc;
}
