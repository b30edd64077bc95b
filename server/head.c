/* Strict request heads over libmicrohttpd's parsed buffer (see head.h).
 *
 * What libmicrohttpd 0.9.75 leaves of a strict head, from the method on:
 *   METHOD 0 URI 0 HTTP/1.x 0 0            (the SP before URI and version, CR LF)
 *   NAME 0 [SP|HT]* VALUE 0 0              (the colon, CR LF), once per field
 *   0 0                                    (the blank line's CR LF)
 * and the head's length ends right after the last two zeros. A bare LF
 * leaves one zero where two belong, a NUL in a value ends its string before
 * the zeros, a bare CR stays as a byte in a value, an obs-fold line starts
 * with SP or HT where the next name belongs (the library moves the folded
 * name elsewhere), so every such head fails one of the position checks.
 * Positions are compared as integers: the library's pointers may point
 * into other blocks, and nothing is read outside [head, head + len). */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "head.h"

/* RFC 9110 5.6.2 token characters */
static int is_tchar(unsigned char ch)
{
    if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')) return 1;
    return ch && strchr("!#$%&'*+-.^_`|~", ch) != NULL;
}

/* RFC 9110 5.5 field-value bytes: VCHAR, obs-text, SP, HT (no CTL, no DEL) */
static int is_value_byte(unsigned char ch)
{
    return ch == ' ' || ch == '\t' || (ch >= 0x21 && ch != 0x7f);
}

/* Offset of p in [head, head + len], or SIZE_MAX when outside. */
static size_t offset_in(const char *head, size_t len, const char *p)
{
    uintptr_t h = (uintptr_t)head, q = (uintptr_t)p;
    return q >= h && q - h <= len ? (size_t)(q - h) : SIZE_MAX;
}

static int all_digits(const char *s, size_t n)
{
    if (!n) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

/* The fields' names and values, and the ones that may appear once. */
static const char *check_fields(const srv_head_field *f, size_t n)
{
    unsigned lengths = 0, hosts = 0, codings = 0;
    for (size_t i = 0; i < n; i++) {
        if (!f[i].key_len) return "empty header name";
        for (size_t k = 0; k < f[i].key_len; k++)
            if (!is_tchar((unsigned char)f[i].key[k])) return "bad byte in a header name";
        for (size_t k = 0; k < f[i].value_len; k++)
            if (!is_value_byte((unsigned char)f[i].value[k])) return "control byte in a header value";
        if (f[i].key_len == 14 && !strncasecmp(f[i].key, "Content-Length", 14)) {
            if (++lengths > 1) return "more than one Content-Length";
            if (!all_digits(f[i].value, f[i].value_len)) return "Content-Length not a number";
        }
        if (f[i].key_len == 4 && !strncasecmp(f[i].key, "Host", 4) && ++hosts > 1) return "more than one Host";
        if (f[i].key_len == 17 && !strncasecmp(f[i].key, "Transfer-Encoding", 17)) codings++;
    }
    if (lengths && codings) return "Content-Length with Transfer-Encoding";
    return NULL;
}

void srv_head_uri_seen(srv_head_uri *u, const char *uri)
{
    u->uri = uri;
    u->len = strlen(uri);
    u->bad = 0;
    /* VCHAR, and raw UTF-8: modules send a project's name in the query unencoded */
    for (size_t i = 0; i < u->len; i++) u->bad |= (unsigned char)uri[i] < 0x21 || (unsigned char)uri[i] == 0x7f;
}

/* Why a field is not where the previous line ended: the library moves a
 * folded field's name elsewhere, leaving its continuation line (a CRLF's
 * two zeros, then SP or HT) in the head. */
static const char *folded(const char *head, size_t head_len, size_t from)
{
    for (size_t i = from; i + 2 < head_len; i++)
        if (!head[i] && !head[i + 1] && (head[i + 2] == ' ' || head[i + 2] == '\t'))
            return "obs-fold (a header line starting with SP or HT)";
    return "bad header line";
}

const char *srv_head_check(const char *head, size_t head_len, const srv_head_uri *uri, const char *version,
                           const srv_head_field *fields, size_t n_fields)
{
    if (head_len > SRV_HEAD_MAX) return "request head too long";
    if (!head || !uri || !uri->uri || !version) return "no request line";
    if (n_fields > SRV_HEAD_FIELDS_MAX) return "too many header fields";
    if (uri->bad) return "control byte, DEL or SP in the request target";

    /* request line: METHOD 0 URI 0 HTTP/1.x 0 0, one SP each, nothing else */
    size_t method_len = strnlen(head, head_len);
    if (!method_len || method_len == head_len) return "bad request line";
    for (size_t i = 0; i < method_len; i++)
        if (!is_tchar((unsigned char)head[i])) return "bad byte in the method";
    if (offset_in(head, head_len, uri->uri) != method_len + 1) return "bad request line";
    size_t version_at = method_len + 1 + uri->len + 1;   /* a NUL in the URI made uri->len short */
    if (offset_in(head, head_len, version) != version_at || version_at + 10 > head_len)
        return "bad request line";
    if (memcmp(version, "HTTP/1.", 7) || version[7] < '0' || version[7] > '9') return "bad request line";
    if (version[8] || version[9]) return "request line not ended by CRLF";
    size_t at = version_at + 10;

    /* each field where the previous line's CRLF ended */
    for (size_t i = 0; i < n_fields; i++) {
        if (at >= head_len) return "bad header line";
        if (head[at] == ' ' || head[at] == '\t') return "obs-fold (a header line starting with SP or HT)";
        const srv_head_field *f = &fields[i];
        if (offset_in(head, head_len, f->key) != at) return folded(head, head_len, at);
        size_t colon = at + f->key_len;
        if (colon >= head_len || head[colon]) return "bad header line";
        size_t v = colon + 1;
        while (v < head_len && (head[v] == ' ' || head[v] == '\t')) v++;
        if (offset_in(head, head_len, f->value) != v) return "bad header line";
        size_t end = v + f->value_len;   /* where CR LF were */
        if (end + 2 > head_len || head[end] || head[end + 1]) return "header line with a bare LF or a NUL";
        at = end + 2;
    }
    /* the blank line, and nothing after it in the head */
    if (at + 2 != head_len || head[at] || head[at + 1]) {
        if (at < head_len && (head[at] == ' ' || head[at] == '\t'))
            return "obs-fold (a header line starting with SP or HT)";
        return "head not ended by CRLF CRLF";
    }
    return check_fields(fields, n_fields);
}

typedef struct collected {
    srv_head_field f[SRV_HEAD_FIELDS_MAX];
    size_t n, seen;
} collected;

static enum MHD_Result collect_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                     const char *value, size_t value_size)
{
    (void)kind;
    collected *c = cls;
    if (c->seen++ >= SRV_HEAD_FIELDS_MAX) return MHD_NO;
    c->f[c->n++] = (srv_head_field){ key, value ? value : "", key_size, value ? value_size : 0 };
    return MHD_YES;
}

const char *srv_head_check_connection(struct MHD_Connection *c, const char *method, const char *version,
                                      const srv_head_uri *uri)
{
    const union MHD_ConnectionInfo *size = MHD_get_connection_info(c, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (!size) return "no request head";
    collected got;
    got.n = got.seen = 0;
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, collect_field, &got);
    if (got.seen > SRV_HEAD_FIELDS_MAX) return "too many header fields";
    return srv_head_check(method, size->header_size, uri, version, got.f, got.n);
}
