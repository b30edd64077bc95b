/* The console's delta tool (console_delta.h): one background thread per
 * job (not the HTTP threads). */
#include "console_delta.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "at.h"
#include "build.h"
#include "console_upload.h"
#include "core/files.h"
#include "core/version.h"
#include "delta_glue.h"
#include "host/pkg_build.h"
#include "ops.h"

static void *delta_run(void *arg)
{
    delta_job *j = arg;
    int rc = srv_delta_make(j->old_path, j->new_path, j->out_path);
    struct stat sb;
    pthread_mutex_lock(&j->con->lock);
    j->state = rc == 0 && stat(j->out_path, &sb) == 0 ? 1 : 2;
    if (j->state == 1) j->delta_size = (uint64_t)sb.st_size;
    pthread_mutex_unlock(&j->con->lock);
    return NULL;
}

static json_t *job_json(const delta_job *j)
{
    double ratio = j->new_size ? (double)j->delta_size / (double)j->new_size : 0;
    return json_pack("{sssssIsIsIsf}", "id", j->id, "state", j->state == 0 ? "running" : j->state == 1 ? "done" : "failed",
                     "old_size", (json_int_t)j->old_size, "new_size", (json_int_t)j->new_size, "delta_size",
                     (json_int_t)j->delta_size, "ratio", ratio);
}

/* Lock held. A free slot (finished jobs are joined and reused). */
static delta_job *job_slot(struct srv_console *k)
{
    delta_job *oldest = NULL;
    for (int i = 0; i < DELTA_JOBS; i++) {
        delta_job *j = &k->jobs[i];
        if (!j->used) return j;
        if (j->state != 0 && !oldest) oldest = j;
    }
    if (oldest) {
        pthread_join(oldest->thread, NULL);
        unlink(oldest->out_path);
        oldest->used = 0;
    }
    return oldest;
}

static delta_job *job_find(struct srv_console *k, const char *user, const char *id)
{
    for (int i = 0; id && i < DELTA_JOBS; i++)
        if (k->jobs[i].used && !strcmp(k->jobs[i].id, id) && !strcmp(k->jobs[i].user, user)) return &k->jobs[i];
    return NULL;
}

enum MHD_Result console_delta_start(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *old = con_jstr(in, "old", 32, &bad), *neu = con_jstr(in, "new", 32, &bad);
    if (bad || !old || !neu) return con_send_err(c, 400, "delta_fields", NULL);
    if (!srv_delta_available()) return con_send_err(c, 501, "delta_unavailable", NULL);
    char dir[SRV_PATH_MAX], op[SRV_PATH_MAX], np[SRV_PATH_MAX];
    uint64_t os = 0, ns = 0;
    int of = 0, nf = 0;
    pthread_mutex_lock(&k->lock);
    int found = console_upload_get(k, s->user, old, dir, op, &of, &os) && console_upload_get(k, s->user, neu, dir, np, &nf, &ns);
    delta_job *j = found && of == 1 && nf == 1 ? job_slot(k) : NULL;
    if (j) {
        memset(j, 0, sizeof *j);
        j->used = 1;
        j->con = k;
        con_random_hex(j->id, 16);
        snprintf(j->user, sizeof j->user, "%s", s->user);
        memcpy(j->old_path, op, sizeof op);
        memcpy(j->new_path, np, sizeof np);
        snprintf(j->out_path, sizeof j->out_path, "%s/delta-%s.lfdl", k->up_dir, j->id);
        j->old_size = os;
        j->new_size = ns;
        j->seq = ++k->delta_seq;
        if (pthread_create(&j->thread, NULL, delta_run, j)) j->used = 0;
    }
    json_t *out = j && j->used ? job_json(j) : NULL;
    pthread_mutex_unlock(&k->lock);
    if (!found || of != 1 || nf != 1) return con_send_err(c, 404, "upload_unknown", NULL);
    if (!out) return con_send_err(c, 503, "delta_busy", NULL);
    return con_send_j(c, 202, out, NULL);
}

enum MHD_Result console_delta_get(struct srv_console *k, struct MHD_Connection *c, const session *s, int file)
{
    const char *id = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "id");
    pthread_mutex_lock(&k->lock);
    delta_job *j = job_find(k, s->user, id);
    json_t *out = j ? job_json(j) : NULL;
    int fd = j && file && j->state == 1 ? open(j->out_path, O_RDONLY | O_CLOEXEC) : -1;
    pthread_mutex_unlock(&k->lock);
    if (!j) return con_send_err(c, 404, "delta_unknown", NULL);
    if (!file) return con_send_j(c, 200, out, NULL);
    json_decref(out);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        if (fd >= 0) close(fd);
        return con_send_err(c, 409, "delta_not_ready", NULL);
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (r) MHD_add_response_header(r, "Content-Disposition", "attachment; filename=\"core.lfdl\"");
    else close(fd);
    return con_send_resp(c, 200, r, "application/octet-stream", NULL);
}

/* Lock held. The user's done job id, or (id NULL) the user's latest done one. */
static delta_job *done_job(struct srv_console *k, const char *user, const char *id)
{
    delta_job *best = NULL;
    for (int i = 0; i < DELTA_JOBS; i++) {
        delta_job *j = &k->jobs[i];
        if (!j->used || j->state != 1 || strcmp(j->user, user) || (id && strcmp(j->id, id))) continue;
        if (!best || j->seq > best->seq) best = j;
    }
    return best;
}

/* The delta in an LFPK package (the one an AT module takes): from the old
 * image's core version to the new one's, signed with the server's key. */
static int wrap_delta(struct srv_console *k, const delta_job *j, const char *model, const char *fwname, const char *bsp,
                      uint32_t from, uint32_t to, const char *out, ops_err *e)
{
    uint8_t base[32], image[32];
    uint64_t old_len = 0, new_len = 0;
    if (fota_sha256_file(j->old_path, FOTA_PKG_MAX_IMAGE, base, &old_len) ||
        fota_sha256_file(j->new_path, FOTA_PKG_MAX_IMAGE, image, &new_len))
        return ops_failk(e, EXIT_USAGE_ERR, 404, "upload_unknown", NULL);   /* the uploads expired */
    char *pem = NULL;
    if (k->key_path[0] && srv_read_key(k->key_path, &pem))
        return ops_failk(e, EXIT_IO_ERR, 500, "signing_key_invalid", "key", "--key", NULL);
    fota_pkg_build_opts o;
    memset(&o, 0, sizeof o);
    o.project = model;
    o.firmware = fwname;
    o.bsp = bsp;
    o.core_type = FOTA_PKG_SEC_CORE_DELTA;
    o.core_path = j->out_path;
    o.from_core_version = from;
    o.base_sha256 = base;
    o.core_image_len = (uint32_t)new_len;
    o.core_image_sha256 = image;
    o.release_core_version = to;
    o.release_script_version = SRV_AT_SCRIPT_VERSION;
    o.sign_key_pem = pem;
    o.max_size = FOTA_PKG_MAX_IMAGE;
    int rc = fota_pkg_build(&o, out, NULL);
    if (pem) {
        memset(pem, 0, strlen(pem));
        free(pem);
    }
    return rc ? ops_failk(e, EXIT_USAGE_ERR, 400, "at_package_invalid", "detail", fota_pkg_errname(rc), NULL) : 0;
}

enum MHD_Result console_delta_save(struct srv_console *k, struct MHD_Connection *c, const session *s, json_t *in)
{
    const char *bad = NULL;
    const char *id = con_jstr(in, "id", 32, &bad), *project = con_jstr(in, "project", SRV_PROJECT_MAX, &bad),
               *as = con_jstr(in, "as", 16, &bad), *kind = con_jstr(in, "kind", 16, &bad),
               *model = con_jstr(in, "model", SRV_NAME_MAX, &bad), *bsp = con_jstr(in, "bsp", SRV_NAME_MAX, &bad),
               *core_ver = con_jstr(in, "core_version", 16, &bad), *from_ver = con_jstr(in, "from", 16, &bad),
               *version = con_jstr(in, "version", SRV_VER_MAX, &bad), *script_id = con_jstr(in, "script", 32, &bad),
               *lua_project = con_jstr(in, "lua_project", SRV_NAME_MAX, &bad);
    if (bad) return con_send_err(c, 400, "field_invalid", "field", bad, NULL);
    int package = as && !strcmp(as, "package"), at = package || (kind && !strcmp(kind, "at"));
    if (!project || !as || (!package && strcmp(as, "release")) || (!package && !at && (!kind || strcmp(kind, "luatos"))))
        return con_send_err(c, 400, "delta_save_fields", NULL);
    uint32_t from = 0, to = 0;
    if (!core_ver || fota_version_parse_core(core_ver, &to))
        return con_send_err(c, 400, "core_version_invalid", "value", core_ver ? core_ver : "", NULL);
    if (package && (!from_ver || fota_version_parse_core(from_ver, &from) || from >= to))
        return con_send_err(c, 400, "core_version_invalid", "value", from_ver ? from_ver : "", NULL);
    ops_err e = { 0 };
    char name[SRV_NAME_MAX + 1], sdir[SRV_PATH_MAX] = "", sfile[SRV_PATH_MAX], tmp[SRV_PATH_MAX + 64];
    delta_job job;
    pthread_mutex_lock(&k->lock);
    delta_job *j = done_job(k, s->user, id);
    if (j) job = *j;   /* a copy: the slot may be reused once the lock is let go */
    int rc = j ? 0 : ops_failk(&e, EXIT_USAGE_ERR, 404, "delta_unknown", NULL);
    if (rc == 0)
        rc = ops_firmware_name(at ? model : lua_project && *lua_project ? lua_project : project, bsp, at, name, sizeof name, &e);
    if (rc == 0 && ops_project_find(&k->db, s->user, project, &e) <= 0) rc = e.rc;
    if (rc == 0 && !at && (!script_id || !console_upload_get(k, s->user, script_id, sdir, sfile, NULL, NULL)))
        rc = ops_failk(&e, EXIT_USAGE_ERR, script_id ? 404 : 400, "upload_scripts", NULL);
    ops_firmware f;
    srv_at_delta stored;
    memset(&f, 0, sizeof f);
    memset(&stored, 0, sizeof stored);
    if (rc == 0 && package) {
        snprintf(tmp, sizeof tmp, "%s/delta-%s.lfpk", k->up_dir, job.id);
        rc = wrap_delta(k, &job, model, name, bsp, from, to, tmp, &e);
        if (rc == 0) rc = ops_at_delta(&k->db, s->user, project, model, bsp, tmp, &stored, &e);
        unlink(tmp);
    } else if (rc == 0) {
        rc = ops_firmware_add(&k->db, s->user, project, name, bsp, core_ver, job.new_path, at ? NULL : sdir,
                              at ? SRV_AT_SCRIPT_VERSION : version, NULL, &f, &e);
    }
    pthread_mutex_unlock(&k->lock);
    if (rc) return con_send_ops(c, &e);
    return con_send_j(c, 201, json_pack("{sssssb}", "as", as, "name", name, "release_added", package ? stored.release_added : 1),
                      NULL);
}

void console_delta_stop(struct srv_console *k)
{
    for (int i = 0; i < DELTA_JOBS; i++)
        if (k->jobs[i].used) pthread_join(k->jobs[i].thread, NULL);
}
