/* HTTP/1.1 client state machine (see http.h). Talks to the network only
 * through port_net.h and to the clock only through fota_port_now_ms(). All
 * buffers live in the one fota_http allocation; nothing from the network is
 * used before its length and syntax are checked. */
#include "core/http.h"
#include "core/fota_err.h"
#include "port/port.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEAD_MAX 8192u            /* request line + headers we send */
#define MAX_INTERIM 8             /* 1xx responses skipped before the final one */
#define MAX_CHUNK_LINE 4096u      /* chunk-size line incl. extensions */
#define MAX_TRAILER 16384u        /* all trailer bytes together */
#define MAX_ROUNDS 256            /* loop bound inside one step */
#define MAX_IF_RANGE 255u
#define SEND_CHUNK 16384u

enum state { S_START, S_CONNECT, S_SEND, S_HEAD, S_BODY, S_DONE, S_FAILED };
enum body_mode { B_NONE, B_LENGTH, B_CHUNKED, B_CLOSE };
enum chunk_state { CH_SIZE, CH_EXT, CH_SIZE_LF, CH_DATA, CH_DATA_CR, CH_DATA_LF, CH_TRAILER, CH_END };
/* What a state handler asks of the step loop. */
enum { R_PROGRESS, R_WAIT_RD, R_WAIT_WR, R_WAITED, R_DONE };

struct fota_http {
    /* request, copied at init */
    char method[16];
    char extra[FOTA_HTTP_MAX_EXTRA_HEADERS + 1];
    int has_user_agent;
    char if_range[MAX_IF_RANGE + 1];
    const uint8_t *body;
    size_t body_len;
    int send_body;            /* cleared when a redirect turns the request into GET */
    uint32_t connect_timeout_ms;
    uint32_t timeout_ms;
    uint32_t idle_ms;
    uint32_t min_rate;
    const fota_tls_opts *tls;
    fota_tls_opts no_tls_opts; /* used for https without options: fails closed */
    int max_redirects;        /* -1: do not follow */
    int use_range;
    uint64_t range_start;

    /* current URL, split */
    char url[FOTA_HTTP_MAX_URL + 1];
    char tmp_url[FOTA_HTTP_MAX_URL + 1];
    int https;
    int host_is_v6;
    char host[FOTA_NET_MAX_HOST + 1];
    uint16_t port;
    size_t path_off;          /* path starts at url + path_off ('/', '?' or end) */
    size_t path_len;          /* up to '#' */

    /* progress */
    int state;
    int rc;
    int started;
    uint64_t overall_deadline;
    uint64_t connect_deadline;
    uint64_t last_io;         /* connected: when a byte last moved */
    uint64_t window_start;    /* connected: the rate window and its bytes */
    uint64_t window_bytes;
    fota_port_conn *conn;
    int net_err;
    char errmsg[240];

    char head[HEAD_MAX];
    size_t head_len, head_pos;
    size_t body_pos;

    /* response */
    fota_http_response resp;
    int have_headers;
    int interim;
    char hdr[FOTA_HTTP_MAX_HEADER_BLOCK + 1];
    size_t hdr_len, hdr_scan;
    uint16_t hname[FOTA_HTTP_MAX_HEADERS], hval[FOTA_HTTP_MAX_HEADERS];
    int nhdr;
    int body_mode;
    uint64_t body_left;
    int ch_state;
    uint64_t ch_left;
    int ch_digits;
    size_t ch_line;
    size_t trailer_bytes;
    uint8_t rx[FOTA_HTTP_RX_BUF];
    size_t rx_len, rx_pos;
};

/* ---- small helpers -------------------------------------------------- */

static int lower(int c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static int ieq(const char *a, const char *b)
{
    while (*a && *b && lower((unsigned char)*a) == lower((unsigned char)*b))
        a++, b++;
    return *a == 0 && *b == 0;
}

static int ieq_prefix(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (lower((unsigned char)*s) != lower((unsigned char)*prefix))
            return 0;
    return 1;
}

static int is_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Header field value byte: visible ASCII, SP, HTAB or obs-text. */
static int is_vchar(int c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Decimal digits only, no sign/space, no overflow. */
static int parse_u64(const char *s, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (n == 0 || n > 20)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static void close_conn(fota_http *h)
{
    fota_port_conn_close(h->conn);
    h->conn = NULL;
}

static int fail(fota_http *h, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->errmsg, sizeof h->errmsg, fmt, ap);
    va_end(ap);
    close_conn(h);
    h->state = S_FAILED;
    h->rc = rc;
    return rc;
}

/* Port failure -> LuatOS code, keeping the port's detail. */
static int net_fail(fota_http *h, int r, const char *what)
{
    int rc;
    h->net_err = r;
    switch (r) {
    case FOTA_NET_ERR_DNS: case FOTA_NET_ERR_CONNECT: case FOTA_NET_ERR_TLS:
    case FOTA_NET_ERR_VERIFY: case FOTA_NET_ERR_CERT:
        rc = FOTA_HTTP_ERR_CONNECT; break;
    case FOTA_NET_ERR_CLOSED: rc = FOTA_HTTP_ERR_CLOSE; break;
    case FOTA_NET_ERR_IO: rc = FOTA_HTTP_ERR_RX; break;
    default: rc = FOTA_HTTP_ERR_STATE; break;
    }
    const char *m = fota_port_conn_errmsg(h->conn);
    return fail(h, rc, "%s: %s", what, m && *m ? m : fota_net_strerror(r));
}

/* ---- URL ------------------------------------------------------------ */

int fota_http_url_parse(const char *u, fota_http_url_parts *h)
{
    size_t n = strlen(u);
    const char *p;
    if (n == 0 || n > FOTA_HTTP_MAX_URL)
        return FOTA_HTTP_ERR_URL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)u[i] <= 0x20 || (unsigned char)u[i] >= 0x7f)
            return FOTA_HTTP_ERR_URL; /* raw space/CTL/non-ASCII: could inject */
    if (ieq_prefix(u, "http://")) {
        h->https = 0;
        p = u + 7;
    } else if (ieq_prefix(u, "https://")) {
        h->https = 1;
        p = u + 8;
    } else {
        return FOTA_HTTP_ERR_URL;
    }
    const char *auth = p;
    while (*p && *p != '/' && *p != '?' && *p != '#')
        p++;
    const char *auth_end = p;
    const char *hs = auth, *he;
    const char *port_s = NULL;
    h->host_is_v6 = 0;
    if (hs < auth_end && *hs == '[') {
        const char *q = hs + 1;
        while (q < auth_end && *q != ']') {
            if (hexval((unsigned char)*q) < 0 && *q != ':' && *q != '.')
                return FOTA_HTTP_ERR_URL;
            q++;
        }
        if (q >= auth_end || q == hs + 1)
            return FOTA_HTTP_ERR_URL;
        he = q + 1;
        hs++;
        h->host_is_v6 = 1;
        if (he < auth_end) {
            if (*he != ':')
                return FOTA_HTTP_ERR_URL;
            port_s = he + 1;
        }
        he = q;
    } else {
        he = hs;
        while (he < auth_end && *he != ':') {
            int c = (unsigned char)*he;
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '-' || c == '.' || c == '_'))
                return FOTA_HTTP_ERR_URL; /* includes '@': no userinfo */
            he++;
        }
        if (he < auth_end)
            port_s = he + 1;
    }
    size_t hl = (size_t)(he - hs);
    if (hl == 0 || hl > 253)
        return FOTA_HTTP_ERR_URL;
    memcpy(h->host, hs, hl);
    h->host[hl] = 0;
    h->port = h->https ? 443 : 80;
    if (port_s) {
        uint64_t v;
        if (parse_u64(port_s, (size_t)(auth_end - port_s), &v) < 0 || v == 0 || v > 65535)
            return FOTA_HTTP_ERR_URL;
        h->port = (uint16_t)v;
    }
    h->path_off = (size_t)(auth_end - u);
    const char *frag = strchr(auth_end, '#');
    h->path_len = frag ? (size_t)(frag - auth_end) : strlen(auth_end);
    return 0;
}

/* Splits h->url into scheme/host/port/path. 0 or FOTA_HTTP_ERR_URL. */
static int parse_url(fota_http *h)
{
    fota_http_url_parts parts;
    int rc = fota_http_url_parse(h->url, &parts);
    if (rc != 0)
        return rc;
    h->https = parts.https;
    h->host_is_v6 = parts.host_is_v6;
    memcpy(h->host, parts.host, sizeof h->host);
    h->port = parts.port;
    h->path_off = parts.path_off;
    h->path_len = parts.path_len;
    return 0;
}

/* Resolves a Location value against the current URL into h->url. */
static int follow_location(fota_http *h, const char *loc)
{
    char *out = h->tmp_url;
    size_t cap = sizeof h->tmp_url;
    int n;
    const char *path = h->url + h->path_off;
    if (*loc == 0)
        return FOTA_HTTP_ERR_URL;
    if (ieq_prefix(loc, "http://") || ieq_prefix(loc, "https://")) {
        n = snprintf(out, cap, "%s", loc);
    } else if (loc[0] == '/' && loc[1] == '/') {
        n = snprintf(out, cap, "%s:%s", h->https ? "https" : "http", loc);
    } else if (loc[0] == '/') {
        n = snprintf(out, cap, "%.*s%s", (int)h->path_off, h->url, loc);
    } else {
        /* A scheme we do not speak ("ftp:") before any '/'. */
        const char *colon = strchr(loc, ':'), *slash = strchr(loc, '/');
        if (colon && (!slash || colon < slash))
            return FOTA_HTTP_ERR_URL;
        size_t plen = strcspn(path, "?#");
        if (loc[0] == '?') {
            n = snprintf(out, cap, "%.*s%.*s%s", (int)h->path_off, h->url, (int)plen, path, loc);
        } else {
            /* Relative: replace the last segment of the path. */
            size_t dir = plen;
            while (dir > 0 && path[dir - 1] != '/')
                dir--;
            n = snprintf(out, cap, "%.*s%s%.*s%s", (int)h->path_off, h->url, dir ? "" : "/",
                         (int)dir, path, loc);
        }
    }
    if (n < 0 || (size_t)n >= cap)
        return FOTA_HTTP_ERR_URL;
    memcpy(h->url, out, (size_t)n + 1);
    return parse_url(h);
}

/* ---- request -------------------------------------------------------- */

static int header_managed(const char *name, size_t n)
{
    static const char *const managed[] = { "host", "connection", "content-length",
                                           "transfer-encoding", "range", "if-range" };
    for (size_t i = 0; i < sizeof managed / sizeof managed[0]; i++)
        if (strlen(managed[i]) == n && ieq_prefix(name, managed[i]))
            return 1;
    return 0;
}

/* Validates raw "Name: value\r\n" lines and copies them normalized. */
static int copy_extra_headers(fota_http *h, const char *s)
{
    size_t out = 0;
    while (*s) {
        const char *name = s;
        while (is_tchar((unsigned char)*s))
            s++;
        size_t nl = (size_t)(s - name);
        if (nl == 0 || *s != ':')
            return FOTA_HTTP_ERR_REQUEST;
        if (header_managed(name, nl))
            return FOTA_HTTP_ERR_REQUEST;
        if (nl == 10 && ieq_prefix(name, "user-agent"))
            h->has_user_agent = 1;
        s++;
        const char *val = s;
        while (*s && *s != '\r' && *s != '\n') {
            if (!is_vchar((unsigned char)*s))
                return FOTA_HTTP_ERR_REQUEST;
            s++;
        }
        size_t vl = (size_t)(s - val);
        if (*s == '\r') {
            if (s[1] != '\n')
                return FOTA_HTTP_ERR_REQUEST; /* bare CR */
            s += 2;
        } else if (*s == '\n') {
            return FOTA_HTTP_ERR_REQUEST;     /* bare LF */
        }
        /* name ':' value CRLF */
        if (out + nl + 1 + vl + 2 > FOTA_HTTP_MAX_EXTRA_HEADERS)
            return FOTA_HTTP_ERR_REQUEST;
        memcpy(h->extra + out, name, nl + 1);
        out += nl + 1;
        memcpy(h->extra + out, val, vl);
        out += vl;
        memcpy(h->extra + out, "\r\n", 2);
        out += 2;
    }
    h->extra[out] = 0;
    return 0;
}

static int head_append(fota_http *h, const char *fmt, ...)
{
    va_list ap;
    size_t cap = sizeof h->head - h->head_len;
    va_start(ap, fmt);
    int n = vsnprintf(h->head + h->head_len, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap)
        return -1;
    h->head_len += (size_t)n;
    return 0;
}

static int build_request(fota_http *h)
{
    const char *path = h->url + h->path_off;
    int default_port = h->port == (h->https ? 443 : 80);
    int with_len = h->send_body && (h->body_len > 0 || ieq(h->method, "POST") ||
                                    ieq(h->method, "PUT") || ieq(h->method, "PATCH"));
    h->head_len = h->head_pos = 0;
    h->body_pos = 0;
    int bad = head_append(h, "%s %s%.*s HTTP/1.1\r\nHost: %s%s%s", h->method,
                          (h->path_len == 0 || path[0] != '/') ? "/" : "", (int)h->path_len,
                          path, h->host_is_v6 ? "[" : "", h->host, h->host_is_v6 ? "]" : "");
    if (!bad && !default_port)
        bad = head_append(h, ":%u", (unsigned)h->port);
    if (!bad)
        bad = head_append(h, "\r\n%sConnection: close\r\n",
                          h->has_user_agent ? "" : "User-Agent: luat-fota/0.1\r\n");
    if (!bad && h->use_range)
        bad = head_append(h, "Range: bytes=%" PRIu64 "-\r\n", h->range_start);
    if (!bad && h->if_range[0])
        bad = head_append(h, "If-Range: %s\r\n", h->if_range);
    if (!bad && with_len)
        bad = head_append(h, "Content-Length: %zu\r\n", h->body_len);
    if (!bad)
        bad = head_append(h, "%s\r\n", h->extra);
    if (bad)
        return fail(h, FOTA_HTTP_ERR_REQUEST, "request head larger than %u bytes", HEAD_MAX);
    return 0;
}

int fota_http_init(fota_http **hp, const fota_http_request *req)
{
    if (!hp)
        return FOTA_HTTP_ERR_STATE;
    *hp = NULL;
    if (!req || !req->url || (req->body_len && !req->body))
        return FOTA_HTTP_ERR_REQUEST;
    if (strlen(req->url) > FOTA_HTTP_MAX_URL)
        return FOTA_HTTP_ERR_URL;
    fota_http *h = calloc(1, sizeof *h);
    if (!h)
        return FOTA_HTTP_ERR_STATE;
    int r = 0;
    const char *m = req->method ? req->method : "GET";
    size_t ml = strlen(m);
    if (ml == 0 || ml >= sizeof h->method)
        r = FOTA_HTTP_ERR_REQUEST;
    for (size_t i = 0; !r && i < ml; i++)
        if (!is_tchar((unsigned char)m[i]))
            r = FOTA_HTTP_ERR_REQUEST;
    if (!r)
        memcpy(h->method, m, ml + 1);
    if (!r) {
        memcpy(h->url, req->url, strlen(req->url) + 1);
        r = parse_url(h);
    }
    if (!r && req->headers)
        r = copy_extra_headers(h, req->headers);
    if (!r && req->if_range) {
        size_t l = strlen(req->if_range);
        if (!req->use_range || l == 0 || l > MAX_IF_RANGE)
            r = FOTA_HTTP_ERR_REQUEST;
        for (size_t i = 0; !r && i < l; i++)
            if ((unsigned char)req->if_range[i] < 0x20 || (unsigned char)req->if_range[i] >= 0x7f)
                r = FOTA_HTTP_ERR_REQUEST;
        if (!r)
            memcpy(h->if_range, req->if_range, l + 1);
    }
    if (r) {
        free(h);
        return r;
    }
    h->body = req->body;
    h->body_len = req->body_len;
    h->send_body = 1;
    h->connect_timeout_ms = req->connect_timeout_ms ? req->connect_timeout_ms
                                                    : FOTA_HTTP_DEFAULT_CONNECT_MS;
    h->timeout_ms = req->timeout_ms;
    h->idle_ms = req->idle_timeout_ms ? req->idle_timeout_ms : FOTA_HTTP_DEFAULT_IDLE_MS;
    h->min_rate = req->min_rate ? req->min_rate : FOTA_HTTP_DEFAULT_MIN_RATE;
    h->tls = req->tls;
    h->max_redirects = req->max_redirects == 0 ? FOTA_HTTP_DEFAULT_REDIRECTS
                       : req->max_redirects < 0 ? -1 : req->max_redirects;
    h->use_range = req->use_range != 0;
    h->range_start = req->range_start;
    h->state = S_START;
    *hp = h;
    return 0;
}

/* ---- response head -------------------------------------------------- */

/* Finds the empty line ending the head; returns its length or 0. */
static size_t find_head_end(fota_http *h)
{
    size_t i = h->hdr_scan;
    for (; i < h->hdr_len; i++) {
        if (h->hdr[i] != '\n')
            continue;
        if (i >= 1 && h->hdr[i - 1] == '\n')
            return i + 1;
        if (i >= 2 && h->hdr[i - 1] == '\r' && h->hdr[i - 2] == '\n')
            return i + 1;
    }
    h->hdr_scan = i;
    return 0;
}

static int bad_head(fota_http *h, const char *why)
{
    return fail(h, FOTA_HTTP_ERR_HEADER, "bad response head: %s", why);
}

/* Parses hdr[0..len) in place: NUL-terminates names and values. */
static int parse_head(fota_http *h, size_t len)
{
    char *p = h->hdr, *end = h->hdr + len;
    int line_no = 0;
    h->nhdr = 0;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return bad_head(h, "unterminated line");
        char *le = nl;
        if (le > p && le[-1] == '\r')
            le--;
        *le = 0;
        if (memchr(p, '\r', (size_t)(le - p)) || memchr(p, 0, (size_t)(le - p)))
            return bad_head(h, "stray CR or NUL");
        if (line_no++ == 0) {
            /* HTTP/1.x SP 3DIGIT [SP reason] */
            if (le - p < 12 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
                p[8] != ' ' || (le - p > 12 && p[12] != ' '))
                return bad_head(h, "status line");
            uint64_t st;
            if (parse_u64(p + 9, 3, &st) < 0 || st < 100 || st > 599)
                return bad_head(h, "status code");
            for (char *q = p + 12; q < le; q++)
                if (!is_vchar((unsigned char)*q))
                    return bad_head(h, "status reason");
            h->resp.status = (int)st;
            h->resp.http_minor = p[7] - '0';
        } else if (le == p) {
            break; /* the empty line */
        } else {
            char *name = p, *q = p;
            while (q < le && is_tchar((unsigned char)*q))
                q++;
            if (q == name || q >= le || *q != ':')
                return bad_head(h, "header name (or obsolete folding)");
            *q++ = 0;
            while (q < le && (*q == ' ' || *q == '\t'))
                q++;
            char *ve = le;
            while (ve > q && (ve[-1] == ' ' || ve[-1] == '\t'))
                ve--;
            for (char *v = q; v < ve; v++)
                if (!is_vchar((unsigned char)*v))
                    return bad_head(h, "control character in header value");
            *ve = 0;
            if (h->nhdr >= (int)FOTA_HTTP_MAX_HEADERS)
                return bad_head(h, "too many headers");
            h->hname[h->nhdr] = (uint16_t)(name - h->hdr);
            h->hval[h->nhdr] = (uint16_t)(q - h->hdr);
            h->nhdr++;
        }
        p = nl + 1;
    }
    return 0;
}

/* "bytes START-END/TOTAL", TOTAL may be "*". */
static int parse_content_range(fota_http *h, const char *v)
{
    uint64_t a, b, t = FOTA_HTTP_UNKNOWN;
    if (!ieq_prefix(v, "bytes "))
        return -1;
    v += 6;
    const char *dash = strchr(v, '-');
    const char *slash = dash ? strchr(dash, '/') : NULL;
    if (!slash || parse_u64(v, (size_t)(dash - v), &a) < 0 ||
        parse_u64(dash + 1, (size_t)(slash - dash - 1), &b) < 0 || a > b)
        return -1;
    if (strcmp(slash + 1, "*") != 0 &&
        (parse_u64(slash + 1, strlen(slash + 1), &t) < 0 || b >= t))
        return -1;
    h->resp.has_range = 1;
    h->resp.range_start = a;
    h->resp.range_end = b;
    h->resp.range_total = t;
    return 0;
}

static void reset_response(fota_http *h)
{
    memset(&h->resp, 0, sizeof h->resp);
    h->have_headers = 0;
    h->interim = 0;
    h->hdr_len = h->hdr_scan = 0;
    h->nhdr = 0;
    h->rx_len = h->rx_pos = 0;
}

/* Framing and redirects once the final head is parsed. */
static int analyze_head(fota_http *h)
{
    int te = 0;
    for (int i = 0; i < h->nhdr; i++) {
        const char *n = h->hdr + h->hname[i], *v = h->hdr + h->hval[i];
        if (ieq(n, "content-length")) {
            uint64_t l;
            if (parse_u64(v, strlen(v), &l) < 0)
                return bad_head(h, "Content-Length");
            if (h->resp.has_length && h->resp.content_length != l)
                return bad_head(h, "conflicting Content-Length");
            h->resp.has_length = 1;
            h->resp.content_length = l;
        } else if (ieq(n, "transfer-encoding")) {
            /* Only plain chunked: anything else would hand coded bytes to the sink. */
            if (te++ || !ieq(v, "chunked"))
                return bad_head(h, "unsupported Transfer-Encoding");
            h->resp.chunked = 1;
        }
    }
    if (h->resp.chunked) {
        /* Transfer-Encoding wins over Content-Length (RFC 9112 6.3). */
        h->resp.has_length = 0;
        h->resp.content_length = 0;
    }
    int st = h->resp.status;
    if (st == 206) {
        const char *cr = fota_http_header(h, "content-range");
        if (!cr || parse_content_range(h, cr) < 0)
            return bad_head(h, "206 without a valid single Content-Range");
        if (h->use_range && h->resp.range_start != h->range_start)
            return bad_head(h, "Content-Range does not start where asked");
    }
    if ((st == 301 || st == 302 || st == 303 || st == 307 || st == 308) && h->max_redirects >= 0) {
        const char *loc = fota_http_header(h, "location");
        if (loc) {
            if (h->resp.redirects >= h->max_redirects)
                return fail(h, FOTA_HTTP_ERR_HEADER, "too many redirects (%d)", h->resp.redirects);
            int redirects = h->resp.redirects + 1;
            /* the Location string lives in hdr, which follow_location does not touch */
            if (follow_location(h, loc) < 0)
                return fail(h, FOTA_HTTP_ERR_URL, "bad redirect Location");
            if (st == 303 || ((st == 301 || st == 302) && ieq(h->method, "POST"))) {
                memcpy(h->method, "GET", 4);
                h->send_body = 0;
            }
            close_conn(h);
            reset_response(h);
            h->resp.redirects = redirects;
            h->state = S_START;
            return R_PROGRESS;
        }
    }
    if (ieq(h->method, "HEAD") || st == 204 || st == 304)
        h->body_mode = B_NONE;
    else if (h->resp.chunked)
        h->body_mode = B_CHUNKED;
    else if (h->resp.has_length)
        h->body_mode = h->resp.content_length ? B_LENGTH : B_NONE;
    else
        h->body_mode = B_CLOSE;
    h->body_left = h->resp.content_length;
    h->ch_state = CH_SIZE;
    h->ch_left = 0;
    h->ch_digits = 0;
    h->ch_line = 0;
    h->trailer_bytes = 0;
    h->have_headers = 1;
    if (h->body_mode == B_NONE) {
        if (h->rx_pos < h->rx_len && h->resp.has_length)
            return fail(h, FOTA_HTTP_ERR_BODY, "body longer than Content-Length");
        return R_DONE;
    }
    h->state = S_BODY;
    return R_PROGRESS;
}

/* Bytes went over the connection: the idle timer restarts, the rate counts them. */
static void moved(fota_http *h, size_t n)
{
    h->last_io = fota_port_now_ms();
    h->window_bytes += n;
}

static int do_head(fota_http *h)
{
    size_t end = find_head_end(h);
    if (!end) {
        if (h->hdr_len >= FOTA_HTTP_MAX_HEADER_BLOCK)
            return fail(h, FOTA_HTTP_ERR_HEADER, "response head larger than %u bytes",
                        FOTA_HTTP_MAX_HEADER_BLOCK);
        size_t got;
        int r = fota_port_conn_recv(h->conn, h->hdr + h->hdr_len,
                                    FOTA_HTTP_MAX_HEADER_BLOCK - h->hdr_len, &got);
        if (r == FOTA_NET_AGAIN)
            return R_WAIT_RD;
        if (r < 0)
            return net_fail(h, r, "receiving response head");
        if (got == 0)
            return fail(h, FOTA_HTTP_ERR_CLOSE, h->hdr_len ? "closed in the response head"
                                                            : "closed without a response");
        moved(h, got);
        h->hdr_len += got;
        return R_PROGRESS;
    }
    /* Bytes after the head are body: move them to rx before parsing. */
    size_t extra = h->hdr_len - end;
    memcpy(h->rx, h->hdr + end, extra); /* extra <= MAX_HEADER_BLOCK == RX_BUF */
    h->rx_len = extra;
    h->rx_pos = 0;
    int r = parse_head(h, end);
    if (r < 0)
        return r;
    if (h->resp.status < 200) {
        /* 100 Continue and friends: skip; 101 would switch protocols. */
        if (h->resp.status == 101 || ++h->interim > MAX_INTERIM)
            return bad_head(h, "unexpected 1xx response");
        memcpy(h->hdr, h->rx, extra);
        h->hdr_len = extra;
        h->hdr_scan = 0;
        h->rx_len = 0;
        h->resp.status = 0;
        return R_PROGRESS;
    }
    return analyze_head(h);
}

/* ---- body ----------------------------------------------------------- */

static int deliver(fota_http *h, fota_http_sink sink, void *ud, const uint8_t *p, size_t n,
                   size_t *work)
{
    if (n == 0)
        return 0;
    if (sink && sink(ud, p, n) != 0)
        return fail(h, FOTA_HTTP_ERR_DOWNLOAD, "sink refused %zu bytes at offset %" PRIu64, n,
                    h->resp.body_bytes);
    h->resp.body_bytes += n;
    *work += n;
    return 0;
}

static int bad_chunk(fota_http *h, const char *why)
{
    return fail(h, FOTA_HTTP_ERR_BODY, "bad chunked body: %s", why);
}

/* Runs the chunked decoder over rx[rx_pos..rx_len). */
static int chunked(fota_http *h, fota_http_sink sink, void *ud, size_t *work)
{
    while (h->rx_pos < h->rx_len) {
        int c = h->rx[h->rx_pos];
        switch (h->ch_state) {
        case CH_SIZE: {
            int v = hexval(c);
            if (v >= 0) {
                if (h->ch_left > (UINT64_MAX >> 4))
                    return bad_chunk(h, "chunk size overflows");
                h->ch_left = (h->ch_left << 4) | (uint64_t)v;
                h->ch_digits++;
                h->rx_pos++;
                break;
            }
            if (h->ch_digits == 0)
                return bad_chunk(h, "chunk size is not hex");
            if (c == ';' || c == ' ' || c == '\t')
                h->ch_state = CH_EXT; /* extensions (and BWS) are ignored */
            else if (c == '\r')
                h->ch_state = CH_SIZE_LF;
            else if (c != '\n')
                return bad_chunk(h, "junk after chunk size");
            else
                h->ch_state = h->ch_left ? CH_DATA : CH_TRAILER;
            h->ch_line = 0;
            h->rx_pos++;
            break;
        }
        case CH_EXT:
            if (++h->ch_line > MAX_CHUNK_LINE)
                return bad_chunk(h, "chunk extension too long");
            if (c == '\r')
                h->ch_state = CH_SIZE_LF;
            else if (c == '\n')
                h->ch_state = h->ch_left ? CH_DATA : CH_TRAILER;
            else if (!is_vchar(c))
                return bad_chunk(h, "control character in chunk extension");
            h->rx_pos++;
            break;
        case CH_SIZE_LF:
            if (c != '\n')
                return bad_chunk(h, "CR without LF after chunk size");
            h->ch_state = h->ch_left ? CH_DATA : CH_TRAILER;
            h->ch_line = 0;
            h->rx_pos++;
            break;
        case CH_DATA: {
            size_t avail = h->rx_len - h->rx_pos;
            size_t take = avail < h->ch_left ? avail : (size_t)h->ch_left;
            if (take > FOTA_HTTP_STEP_BYTES - *work)
                take = FOTA_HTTP_STEP_BYTES - *work;
            if (take == 0)
                return R_PROGRESS; /* step budget used up; the loop yields */
            if (deliver(h, sink, ud, h->rx + h->rx_pos, take, work) < 0)
                return h->rc;
            h->rx_pos += take;
            h->ch_left -= take;
            if (h->ch_left == 0)
                h->ch_state = CH_DATA_CR;
            break;
        }
        case CH_DATA_CR:
            if (c == '\r')
                h->ch_state = CH_DATA_LF;
            else if (c == '\n')
                h->ch_state = CH_SIZE, h->ch_digits = 0;
            else
                return bad_chunk(h, "chunk data longer than its size");
            h->rx_pos++;
            break;
        case CH_DATA_LF:
            if (c != '\n')
                return bad_chunk(h, "CR without LF after chunk data");
            h->ch_state = CH_SIZE;
            h->ch_digits = 0;
            h->rx_pos++;
            break;
        case CH_TRAILER:
            /* Trailer fields are read and dropped; an empty line ends them. */
            if (++h->trailer_bytes > MAX_TRAILER)
                return bad_chunk(h, "trailer too large");
            if (c == '\n') {
                if (h->ch_line == 0) {
                    h->ch_state = CH_END;
                    h->rx_pos++;
                    break;
                }
                h->ch_line = 0;
            } else if (c != '\r') {
                if (!is_vchar(c))
                    return bad_chunk(h, "control character in trailer");
                h->ch_line++;
            }
            h->rx_pos++;
            break;
        case CH_END:
        default:
            return bad_chunk(h, "data after the last chunk");
        }
    }
    return h->ch_state == CH_END ? R_DONE : R_PROGRESS;
}

static int process_rx(fota_http *h, fota_http_sink sink, void *ud, size_t *work)
{
    size_t avail = h->rx_len - h->rx_pos;
    if (avail > FOTA_HTTP_STEP_BYTES - *work)
        avail = FOTA_HTTP_STEP_BYTES - *work; /* the rest waits for the next step */
    switch (h->body_mode) {
    case B_LENGTH: {
        size_t take = avail < h->body_left ? avail : (size_t)h->body_left;
        if (deliver(h, sink, ud, h->rx + h->rx_pos, take, work) < 0)
            return h->rc;
        h->rx_pos += take;
        h->body_left -= take;
        if (h->body_left == 0) {
            if (h->rx_pos < h->rx_len)
                return fail(h, FOTA_HTTP_ERR_BODY, "body longer than Content-Length");
            return R_DONE;
        }
        return R_PROGRESS;
    }
    case B_CHUNKED:
        return chunked(h, sink, ud, work);
    default: /* B_CLOSE */
        if (deliver(h, sink, ud, h->rx + h->rx_pos, avail, work) < 0)
            return h->rc;
        h->rx_pos += avail;
        return R_PROGRESS;
    }
}

static int do_body(fota_http *h, fota_http_sink sink, void *ud, size_t *work)
{
    if (h->rx_pos < h->rx_len)
        return process_rx(h, sink, ud, work);
    size_t got;
    int r = fota_port_conn_recv(h->conn, h->rx, sizeof h->rx, &got);
    if (r == FOTA_NET_AGAIN)
        return R_WAIT_RD;
    if (r < 0)
        return net_fail(h, r, "receiving body");
    if (got == 0) {
        if (h->body_mode == B_CLOSE)
            return R_DONE;
        if (h->body_mode == B_LENGTH)
            return fail(h, FOTA_HTTP_ERR_CLOSE, "closed after %" PRIu64 " of %" PRIu64
                        " body bytes", h->resp.body_bytes, h->resp.content_length);
        return fail(h, FOTA_HTTP_ERR_CLOSE, "closed inside the chunked body");
    }
    moved(h, got);
    h->rx_len = got;
    h->rx_pos = 0;
    return process_rx(h, sink, ud, work);
}

/* ---- connect and send ----------------------------------------------- */

static int do_start(fota_http *h, uint64_t now)
{
    const fota_tls_opts *tls = NULL;
    if (h->https)
        tls = h->tls ? h->tls : &h->no_tls_opts;
    int r = fota_port_conn_open(&h->conn, h->host, h->port, tls);
    if (r < 0)
        return fail(h, FOTA_HTTP_ERR_STATE, "cannot create connection: %s", fota_net_strerror(r));
    h->connect_deadline = now + h->connect_timeout_ms;
    h->state = S_CONNECT;
    return R_PROGRESS;
}

static int do_connect(fota_http *h, uint32_t left)
{
    int r = fota_port_conn_step(h->conn, left);
    if (r == FOTA_NET_AGAIN)
        return R_WAITED;
    if (r < 0)
        return net_fail(h, r, "connect");
    if ((r = build_request(h)) < 0)
        return r;
    h->state = S_SEND;
    h->last_io = h->window_start = fota_port_now_ms();
    h->window_bytes = 0;
    return R_PROGRESS;
}

static int do_send(fota_http *h, size_t *work)
{
    const uint8_t *p;
    size_t n;
    if (h->head_pos < h->head_len) {
        p = (const uint8_t *)h->head + h->head_pos;
        n = h->head_len - h->head_pos;
    } else if (h->send_body && h->body_pos < h->body_len) {
        p = h->body + h->body_pos;
        n = h->body_len - h->body_pos;
        if (n > SEND_CHUNK)
            n = SEND_CHUNK; /* same size on a retry after AGAIN, as TLS needs */
    } else {
        h->state = S_HEAD;
        return R_PROGRESS;
    }
    size_t sent;
    int r = fota_port_conn_send(h->conn, p, n, &sent);
    if (r == FOTA_NET_AGAIN)
        return R_WAIT_WR;
    if (r < 0)
        return net_fail(h, r, "sending request");
    moved(h, sent);
    if (h->head_pos < h->head_len) {
        h->head_pos += sent;
    } else {
        h->body_pos += sent;
        *work += sent;
    }
    return R_PROGRESS;
}

/* ---- driver --------------------------------------------------------- */

static int connected(const fota_http *h)
{
    return h->state == S_SEND || h->state == S_HEAD || h->state == S_BODY;
}

static int check_deadlines(fota_http *h, uint64_t now)
{
    if (h->timeout_ms && now >= h->overall_deadline)
        return fail(h, FOTA_HTTP_ERR_TIMEOUT, "timed out after %u ms", (unsigned)h->timeout_ms);
    if (h->state == S_CONNECT && now >= h->connect_deadline)
        return fail(h, FOTA_HTTP_ERR_TIMEOUT, "connect timed out after %u ms",
                    (unsigned)h->connect_timeout_ms);
    if (!connected(h))
        return 0;
    if (now - h->last_io >= h->idle_ms)
        return fail(h, FOTA_HTTP_ERR_TIMEOUT, "idle: no data for %u ms", (unsigned)h->idle_ms);
    if (now - h->window_start >= h->idle_ms) {
        if (h->window_bytes * 1000u < (uint64_t)h->min_rate * h->idle_ms)
            return fail(h, FOTA_HTTP_ERR_TIMEOUT, "too slow: %" PRIu64 " bytes in %u ms (minimum %u B/s)",
                        h->window_bytes, (unsigned)h->idle_ms, (unsigned)h->min_rate);
        h->window_start = now;
        h->window_bytes = 0;
    }
    return 0;
}

static uint32_t time_left(const fota_http *h, uint64_t now, uint64_t step_end)
{
    uint64_t t = step_end;
    if (h->timeout_ms && h->overall_deadline < t)
        t = h->overall_deadline;
    if (h->state == S_CONNECT && h->connect_deadline < t)
        t = h->connect_deadline;
    if (connected(h) && h->last_io + h->idle_ms < t)
        t = h->last_io + h->idle_ms;
    if (connected(h) && h->window_start + h->idle_ms < t)
        t = h->window_start + h->idle_ms;
    if (t <= now)
        return 0;
    return t - now > UINT32_MAX ? UINT32_MAX : (uint32_t)(t - now);
}

int fota_http_step(fota_http *h, uint32_t budget_ms, fota_http_sink sink, void *ud)
{
    if (!h)
        return FOTA_HTTP_ERR_STATE;
    if (h->state == S_DONE)
        return FOTA_HTTP_OK;
    if (h->state == S_FAILED)
        return h->rc;
    uint64_t now = fota_port_now_ms();
    if (!h->started) {
        h->started = 1;
        h->overall_deadline = now + h->timeout_ms;
    }
    uint64_t step_end = now + budget_ms;
    size_t work = 0;
    for (int round = 0; round < MAX_ROUNDS; round++) {
        int r;
        now = fota_port_now_ms();
        if ((r = check_deadlines(h, now)) < 0)
            return r;
        switch (h->state) {
        case S_START: r = do_start(h, now); break;
        case S_CONNECT: r = do_connect(h, time_left(h, now, step_end)); break;
        case S_SEND: r = do_send(h, &work); break;
        case S_HEAD: r = do_head(h); break;
        case S_BODY: r = do_body(h, sink, ud, &work); break;
        case S_DONE: return FOTA_HTTP_OK;
        default: return h->rc;
        }
        if (r < 0)
            return r;
        if (r == R_DONE) {
            close_conn(h);
            h->state = S_DONE;
            return FOTA_HTTP_OK;
        }
        if (work >= FOTA_HTTP_STEP_BYTES)
            return FOTA_HTTP_AGAIN;
        if (r == R_PROGRESS)
            continue;
        now = fota_port_now_ms();
        if ((r = check_deadlines(h, now)) < 0)
            return r;
        uint32_t left = time_left(h, now, step_end);
        if (left == 0)
            return FOTA_HTTP_AGAIN;
        if (r == R_WAITED)
            continue;
        r = fota_port_conn_wait(h->conn, r == R_WAIT_RD, r == R_WAIT_WR, left);
        if (r < 0)
            return net_fail(h, r, "waiting for the network");
    }
    return FOTA_HTTP_AGAIN;
}

int fota_http_run(fota_http *h, fota_http_sink sink, void *ud)
{
    int r;
    do
        r = fota_http_step(h, 1000, sink, ud);
    while (r == FOTA_HTTP_AGAIN);
    return r;
}

/* ---- accessors ------------------------------------------------------ */

int fota_http_have_headers(const fota_http *h) { return h && h->have_headers; }

const fota_http_response *fota_http_response_info(const fota_http *h)
{
    return h ? &h->resp : NULL;
}

const char *fota_http_header(const fota_http *h, const char *name)
{
    if (!h || !name)
        return NULL;
    for (int i = 0; i < h->nhdr; i++)
        if (ieq(h->hdr + h->hname[i], name))
            return h->hdr + h->hval[i];
    return NULL;
}

int fota_http_header_count(const fota_http *h) { return h ? h->nhdr : 0; }

int fota_http_header_at(const fota_http *h, int i, const char **name, const char **value)
{
    if (!h || i < 0 || i >= h->nhdr)
        return FOTA_HTTP_ERR_STATE;
    if (name)
        *name = h->hdr + h->hname[i];
    if (value)
        *value = h->hdr + h->hval[i];
    return 0;
}

const char *fota_http_url(const fota_http *h) { return h ? h->url : ""; }
const char *fota_http_errmsg(const fota_http *h) { return h ? h->errmsg : ""; }
int fota_http_net_error(const fota_http *h) { return h ? h->net_err : 0; }

void fota_http_free(fota_http *h)
{
    if (!h)
        return;
    close_conn(h);
    free(h);
}

const char *fota_http_strerror(int rc)
{
    switch (rc) {
    case FOTA_HTTP_AGAIN: return "in progress";
    case FOTA_HTTP_OK: return "ok";
    case FOTA_HTTP_ERR_STATE: return "bad state or out of memory";
    case FOTA_HTTP_ERR_HEADER: return "bad response header";
    case FOTA_HTTP_ERR_BODY: return "bad response body";
    case FOTA_HTTP_ERR_CONNECT: return "connect failed";
    case FOTA_HTTP_ERR_CLOSE: return "connection closed early";
    case FOTA_HTTP_ERR_RX: return "receive error";
    case FOTA_HTTP_ERR_DOWNLOAD: return "download write failed";
    case FOTA_HTTP_ERR_TIMEOUT: return "timeout";
    case FOTA_HTTP_ERR_FOTA: return "fota package invalid";
    case FOTA_HTTP_ERR_URL: return "bad URL";
    case FOTA_HTTP_ERR_REQUEST: return "bad request";
    default: return "unknown http error";
    }
}
