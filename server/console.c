/* The web console's entry points (console.h): the request's first call
 * (checks before any body byte), its body (to memory, or streamed to an
 * upload's file), the embedded pages, and the console's start and stop.
 * Its own database connection and lock, so a console request never holds
 * the device path's lock. */
#include "console.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "console_api.h"
#include "console_auth.h"
#include "console_delta.h"
#include "console_http.h"
#include "console_upload.h"
#include "console_www.h"
#include "schema.h"
#include "core/fota_err.h"
#include "port/port.h"

static enum MHD_Result page(struct MHD_Connection *c, const char *url)
{
    const char *name = url + strlen(CONSOLE_PREFIX);
    if (!*name) {
        struct MHD_Response *r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (r) MHD_add_response_header(r, "Location", CONSOLE_PREFIX "/");
        return con_send_resp(c, 302, r, NULL, NULL);
    }
    if (!strcmp(name, "/")) name = "/index.html";
    for (size_t i = 0; i < console_asset_count; i++) {
        const console_asset *a = &console_assets[i];
        if (strcmp(name + 1, a->name) != 0) continue;
        const char *ext = strrchr(a->name, '.');
        const char *type = !ext ? "application/octet-stream"
                           : !strcmp(ext, ".html") ? "text/html; charset=utf-8"
                           : !strcmp(ext, ".js") ? "text/javascript; charset=utf-8"
                           : !strcmp(ext, ".css") ? "text/css; charset=utf-8" : "application/octet-stream";
        return con_send_resp(c, 200, MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT),
                         type, NULL);
    }
    return con_send_err(c, 404, "not_found", NULL);
}

static int parse_length(struct MHD_Connection *c, uint64_t *out)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    *out = 0;
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING)) return -1;
    if (!cl) return 0;
    if (!*cl || strlen(cl) > 12 || strspn(cl, "0123456789") != strlen(cl)) return -1;
    *out = strtoull(cl, NULL, 10);
    return 0;
}

enum MHD_Result console_handle(srv_server *s, struct MHD_Connection *c, const char *url, const char *method,
                               const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    struct srv_console *k = s->console;
    creq *r = *con_cls;
    if (!k) return con_send_err(c, 404, "console_off", NULL);
    if (r == (void *)s) return con_send_err(c, 400, "bad_request", "detail", "too many parameters", NULL);   /* api.c's uri_seen mark */
    int post = !strcmp(method, MHD_HTTP_METHOD_POST);
    int api_url = !strncmp(url, CONSOLE_PREFIX "/api/", 13);
    if (!r) {
        /* first call: headers only; refuse what cannot be right before any body byte */
        if (!post && strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
            return con_send_err(c, 405, "bad_request", "detail", "GET or POST", NULL);
        if (post && !api_url) return con_send_err(c, 405, "bad_request", "detail", "GET", NULL);
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->magic = CREQ_MAGIC;
        r->fd = -1;
        *con_cls = r;
        if (parse_length(c, &r->expect)) return con_send_err(c, 411, "bad_request", "detail", "a Content-Length, no chunked body", NULL);
        if (!post && r->expect) return con_send_err(c, 400, "bad_request", "detail", "unexpected request body", NULL);
        const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
        int upload = post && !strcmp(url, CONSOLE_PREFIX "/api/upload");
        /* the type a form cannot send cross-site without a preflight, and the one the data is */
        const char *want = upload ? "application/octet-stream" : "application/json";
        if (post && (!ct || strncmp(ct, want, strlen(want)) || (ct[strlen(want)] && ct[strlen(want)] != ';')))
            return con_send_err(c, 415, "bad_request", "detail", upload ? "Content-Type: application/octet-stream" : "Content-Type: application/json", NULL);
        if (upload) {
            session ss;
            memset(&ss, 0, sizeof ss);
            pthread_mutex_lock(&k->lock);
            int have = console_session_get(k, c, &ss);
            pthread_mutex_unlock(&k->lock);
            if (have < 0) return con_send_busy(c);
            if (!have) return con_send_err(c, 401, "not_logged_in", NULL);
            if (!console_csrf_ok(c, &ss)) return con_send_err(c, 403, "csrf", NULL);
            if (ss.must_change) return con_send_err(c, 403, "must_change_password", NULL);
            return console_upload_begin(k, c, &ss, r);
        }
        if (post && r->expect > CONSOLE_JSON_MAX) return con_send_err(c, 413, "body_too_large", NULL);
        if (post && r->expect && !(r->body = malloc((size_t)r->expect + 1))) return MHD_NO;
        r->cap = (size_t)r->expect;
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->upload) {
            if (r->got + n > r->expect) return MHD_NO;
            for (size_t off = 0; off < n;) {
                ssize_t w = write(r->fd, upload_data + off, n - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) return MHD_NO;   /* disk full: the connection is cut, the file removed */
                off += (size_t)w;
            }
            r->got += n;
        } else {
            if (!r->body || r->n + n > r->cap) return MHD_NO;
            memcpy(r->body + r->n, upload_data, n);
            r->n += n;
        }
        return MHD_YES;
    }
    if (!api_url) return page(c, url);
    return console_api(k, c, url + 13, post, r);
}

void console_done(srv_server *s, void **con_cls)
{
    creq *r = *con_cls;
    if (!r || r == (void *)s || r->magic != CREQ_MAGIC) return;
    if (r->fd >= 0) {   /* cut mid-upload */
        close(r->fd);
        unlink(r->path);
        if (r->new_dir) rmdir(r->dir);
    }
    free(r->body);
    free(r);
    *con_cls = NULL;
}

int console_start(srv_server *s, const srv_serve_opts *o)
{
    s->console = NULL;
    if (o->console_off) return 0;
    if (sodium_init() < 0) {
        fprintf(stderr, "fota-server: libsodium cannot start\n");
        return -1;
    }
    struct srv_console *k = calloc(1, sizeof *k);
    if (!k) return -1;
    if (db_open(&k->db, o->db_path, o->data_dir, 0)) {
        free(k);
        return -1;
    }
    /* like the device path, a console request does not wait long on the CLI */
    store_busy_timeout(k->db.db, 2000);
    int n = snprintf(k->up_dir, sizeof k->up_dir, "%s/console-uploads", k->db.data_dir);
    if (n < 0 || (size_t)n >= sizeof k->up_dir || fota_port_mkdirs(k->up_dir) != FOTA_OK) {
        fprintf(stderr, "fota-server: cannot make %s\n", k->up_dir);
        db_close(&k->db);
        free(k);
        return -1;
    }
    k->secure = o->tls_cert_path != NULL;
    if (o->key_path && strlen(o->key_path) < sizeof k->key_path) snprintf(k->key_path, sizeof k->key_path, "%s", o->key_path);
    k->idle_s = o->console_idle_s ? o->console_idle_s : CONSOLE_IDLE_S;
    k->max_age_s = o->console_max_age_s ? o->console_max_age_s : CONSOLE_MAX_AGE_S;
    pthread_mutex_init(&k->lock, NULL);
    s->console = k;
    return 0;
}

void console_stop(srv_server *s)
{
    struct srv_console *k = s->console;
    if (!k) return;
    console_delta_stop(k);
    db_close(&k->db);
    pthread_mutex_destroy(&k->lock);
    free(k);
    s->console = NULL;
}
