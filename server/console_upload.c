/* Uploads to the console (console_upload.h). */
#include "console_upload.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "validate.h"
#include "core/fota_err.h"
#include "port/port.h"

#define UPLOAD_TTL_MS (3600 * 1000)   /* unused uploads are removed after this */

/* The upload of this user: its directory and last file (the single file of
 * an image upload). 1 found, 0 not (404). Caller holds the lock. */
int console_upload_get(struct srv_console *k, const char *user, const char *id, char dir[SRV_PATH_MAX],
                      char file[SRV_PATH_MAX], int *files, uint64_t *size)
{
    if (!con_is_hex(id, 32)) return 0;
    store_stmt *st = db_prep(&k->db, "SELECT dir, name, files, size FROM console_upload WHERE id=?1 AND user=?2");
    if (!st) return 0;
    store_bind_str(st, 1, id);
    store_bind_str(st, 2, user);
    int found = 0;
    if (store_step(st) == STORE_ROW) {
        const char *dd = store_column_text(st, 0), *nm = store_column_text(st, 1);
        if (dd && nm && strlen(dd) + strlen(nm) + 2 < SRV_PATH_MAX) {
            snprintf(dir, SRV_PATH_MAX, "%s", dd);
            snprintf(file, SRV_PATH_MAX, "%s/%s", dd, nm);
            if (files) *files = (int)store_column_int64(st, 2);
            if (size) *size = (uint64_t)store_column_int64(st, 3);
            found = 1;
        }
    }
    store_finalize(st);
    return found;
}

static int unlink_in(void *ud, const char *name)
{
    char p[SRV_PATH_MAX + 80];
    int n = snprintf(p, sizeof p, "%s/%s", (const char *)ud, name);
    if (n > 0 && (size_t)n < sizeof p) unlink(p);
    return 0;
}

/* An upload directory holds files only (names checked on upload). */
static void remove_dir(const char *dir)
{
    fota_port_listdir(dir, unlink_in, (void *)dir);
    rmdir(dir);
}

/* Drops uploads older than UPLOAD_TTL_MS (their files too). Lock held. */
static void uploads_expire(struct srv_console *k)
{
    store_stmt *st = db_prep(&k->db, "SELECT id, dir FROM console_upload WHERE created<?1 LIMIT 100");
    if (!st) return;
    store_bind_int64(st, 1, srv_now_ms() - UPLOAD_TTL_MS);
    char ids[100][33];
    int n = 0;
    while (n < 100 && store_step(st) == STORE_ROW) {
        const char *id = store_column_text(st, 0), *dir = store_column_text(st, 1);
        if (!id || strlen(id) != 32 || !dir) continue;
        remove_dir(dir);
        memcpy(ids[n++], id, 33);
    }
    store_finalize(st);
    for (int i = 0; i < n; i++) {
        const char *v[] = { ids[i] };
        db_exec_text(&k->db, "DELETE FROM console_upload WHERE id=?1", 1, v);
    }
}

static int is_file_name(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n <= 64 && s[0] != '.' && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                          "0123456789._-") == n;
}

/* First call of POST /console/api/upload: checks everything before a body
 * byte is read; opens the file. NULL = answered (status in *status). */
enum MHD_Result console_upload_begin(struct srv_console *k, struct MHD_Connection *c, const session *s, creq *r)
{
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "name");
    const char *into = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "into");
    if (!is_file_name(name)) return con_send_err(c, 400, "upload_name_invalid", NULL);
    if (r->expect == 0) return con_send_err(c, 400, "upload_empty", NULL);
    if (r->expect > CONSOLE_UPLOAD_MAX) return con_send_err(c, 413, "upload_too_large", NULL);
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->user, sizeof r->user, "%s", s->user);
    pthread_mutex_lock(&k->lock);
    int ok = 1;
    if (into) {
        char file[SRV_PATH_MAX];
        ok = console_upload_get(k, s->user, into, r->dir, file, &r->files, NULL);
        if (ok) snprintf(r->id, sizeof r->id, "%s", into);
    } else {
        uploads_expire(k);
        con_random_hex(r->id, 16);
        snprintf(r->dir, sizeof r->dir, "%s/%s", k->up_dir, r->id);
        r->new_dir = 1;
    }
    pthread_mutex_unlock(&k->lock);
    if (!ok) return con_send_err(c, 404, "upload_unknown", NULL);
    if (r->files >= CONSOLE_UPLOAD_FILES) {
        char max[24];
        return con_send_err(c, 413, "upload_too_many_files", "max", ops_num(max, CONSOLE_UPLOAD_FILES), NULL);
    }
    if (fota_port_mkdirs(r->dir) != FOTA_OK) return con_send_err(c, 500, "upload_failed", NULL);
    int n = snprintf(r->path, sizeof r->path, "%s/%s", r->dir, r->name);
    if (n < 0 || (size_t)n >= sizeof r->path) return con_send_err(c, 500, "upload_failed", NULL);
    r->fd = open(r->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (r->fd < 0)
        return con_send_err(c, errno == EEXIST ? 409 : 500, errno == EEXIST ? "upload_file_exists" : "upload_failed", NULL);
    r->upload = 1;
    return MHD_YES;
}

enum MHD_Result console_upload_end(struct srv_console *k, struct MHD_Connection *c, creq *r)
{
    int ok = r->got == r->expect && fsync(r->fd) == 0;
    close(r->fd);
    r->fd = -1;
    if (!ok) {
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
        return con_send_err(c, 400, "upload_incomplete", NULL);
    }
    r->done = 1;
    pthread_mutex_lock(&k->lock);
    store_stmt *st = db_prep(&k->db, "INSERT INTO console_upload(id, user, dir, name, files, size, created)"
                                    " VALUES(?1, ?2, ?3, ?4, 1, ?5, ?6) ON CONFLICT(id) DO UPDATE SET"
                                    " name=?4, files=console_upload.files+1, size=console_upload.size+?5");
    int rc = -1;
    if (st) {
        store_bind_str(st, 1, r->id);
        store_bind_str(st, 2, r->user);
        store_bind_str(st, 3, r->dir);
        store_bind_str(st, 4, r->name);
        store_bind_int64(st, 5, (int64_t)r->got);
        store_bind_int64(st, 6, srv_now_ms());
        rc = store_step(st) == STORE_DONE ? 0 : -1;
        store_finalize(st);
    }
    pthread_mutex_unlock(&k->lock);
    if (rc) {
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
        return con_send_err(c, 500, "upload_failed", NULL);
    }
    return con_send_j(c, 200, json_pack("{sssssIsi}", "id", r->id, "name", r->name, "size", (json_int_t)r->got,
                                    "files", r->files + 1), NULL);
}
