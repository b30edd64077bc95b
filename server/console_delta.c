/* The console's delta tool (console_delta.h): one background thread per
 * job (not the HTTP threads). */
#include "console_delta.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console_upload.h"
#include "delta_glue.h"

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

void console_delta_stop(struct srv_console *k)
{
    for (int i = 0; i < DELTA_JOBS; i++)
        if (k->jobs[i].used) pthread_join(k->jobs[i].thread, NULL);
}
