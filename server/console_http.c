/* The console's HTTP and JSON plumbing (console_http.h): every answer
 * carries the security headers; JSON input is checked field by field. */
#include "console_http.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

static void security_headers(struct MHD_Response *r)
{
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy",
                            "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'");
}

enum MHD_Result con_send_resp(struct MHD_Connection *c, unsigned status, struct MHD_Response *r,
                              const char *type, const char *cookie)
{
    if (!r) return MHD_NO;
    security_headers(r);
    if (type) MHD_add_response_header(r, "Content-Type", type);
    if (cookie) MHD_add_response_header(r, "Set-Cookie", cookie);
    enum MHD_Result rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* Sends j (taken) as the answer. */
enum MHD_Result con_send_j(struct MHD_Connection *c, unsigned status, json_t *j, const char *cookie)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!s) return MHD_NO;
    return con_send_resp(c, status, MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE),
                     "application/json; charset=utf-8", cookie);
}

enum MHD_Result con_send_err(struct MHD_Connection *c, unsigned status, const char *code, ...)
{
    ops_err e;
    va_list ap;
    va_start(ap, code);
    ops_vfailk(&e, EXIT_USAGE_ERR, (int)status, code, ap);
    va_end(ap);
    return con_send_ops(c, &e);
}

enum MHD_Result con_send_busy(struct MHD_Connection *c)
{
    static const char busy[] = "{\"error\":\"busy: try again in a second\",\"code\":\"busy\"}";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof busy - 1, (void *)busy, MHD_RESPMEM_PERSISTENT);
    if (r) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
    return con_send_resp(c, MHD_HTTP_SERVICE_UNAVAILABLE, r, "application/json; charset=utf-8", NULL);
}

enum MHD_Result con_send_ops(struct MHD_Connection *c, const ops_err *e)
{
    json_t *j = json_pack("{ssss}", "error", e->msg[0] ? e->msg : "failed", "code", e->code[0] ? e->code : "failed");
    if (!e->code[0]) {   /* ops_fail's text: the detail of "failed" */
        json_object_set_new(j, "args", json_pack("{ss}", "detail", e->msg[0] ? e->msg : "failed"));
    } else if (e->nargs) {
        json_t *a = json_object();
        for (int i = 0; i < e->nargs; i++) json_object_set_new(a, e->args[i].name, json_string(e->args[i].value));
        json_object_set_new(j, "args", a);
    }
    return con_send_j(c, e->http ? (unsigned)e->http : 500, j, NULL);
}

void con_random_hex(char *out, size_t bytes)
{
    uint8_t b[32];
    randombytes_buf(b, bytes);
    sodium_bin2hex(out, bytes * 2 + 1, b, bytes);
}

int con_is_hex(const char *s, size_t n)
{
    return s && strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

/* A string field: NULL when absent; *bad set when present and not a string
 * or longer than max. */
const char *con_jstr(json_t *o, const char *k, size_t max, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v) || json_string_length(v) > max || strlen(json_string_value(v)) != json_string_length(v)) {
        if (!*bad) *bad = k;
        return NULL;
    }
    return json_string_value(v);
}

/* A boolean field: -1 absent, 0/1, *bad when another type. */
int con_jbool(json_t *o, const char *k, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return -1;
    if (!json_is_boolean(v)) {
        if (!*bad) *bad = k;
        return -1;
    }
    return json_is_true(v);
}

/* An array of strings joined with commas into a new buffer (NULL absent). */
char *con_jlist(json_t *o, const char *k, size_t item_max, const char **bad)
{
    json_t *v = json_object_get(o, k);
    if (!v || json_is_null(v)) return NULL;
    size_t n = json_is_array(v) ? json_array_size(v) : 0;
    if (!json_is_array(v) || n > SRV_MAX_LIST) {
        if (!*bad) *bad = k;
        return NULL;
    }
    char *out = malloc(n * (item_max + 1) + 1);
    if (!out) {
        if (!*bad) *bad = k;
        return NULL;
    }
    size_t o_ = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *it = json_array_get(v, i);
        size_t l = json_is_string(it) ? json_string_length(it) : 0;
        if (!json_is_string(it) || l == 0 || l > item_max || strchr(json_string_value(it), ',') ||
            strlen(json_string_value(it)) != l) {
            free(out);
            if (!*bad) *bad = k;
            return NULL;
        }
        if (o_) out[o_++] = ',';
        memcpy(out + o_, json_string_value(it), l);
        o_ += l;
    }
    out[o_] = '\0';
    return out;
}

json_t *con_split_list(const char *s)
{
    json_t *a = json_array();
    for (const char *p = s; a && p && *p;) {
        size_t n = strcspn(p, ",");
        json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

const char *con_arg(struct MHD_Connection *c, const char *k)
{
    const char *v = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
    return v && *v ? v : NULL;
}
