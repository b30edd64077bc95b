/* HTTP/1.1 client as a non-blocking state machine over port_net.h.
 *
 * fota_http_step() does bounded work (waits at most budget_ms, hands at
 * most FOTA_HTTP_STEP_BYTES of body to the sink; an upload may overshoot by
 * one 16 KiB send) so a Lua scheduler can interleave it
 * with other tasks. The body goes to a sink callback; the client itself only
 * has fixed buffers (request head, header block, receive buffer).
 *
 * One request per connection ("Connection: close"); redirects open a new
 * connection. Results use LuatOS http.request's negative codes unchanged;
 * -10 and -11 are luat-fota additions for requests rejected before any
 * network activity. */
#ifndef FOTA_HTTP_H
#define FOTA_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "port/port_net.h"

enum fota_http_rc {
    FOTA_HTTP_AGAIN = 1,            /* fota_http_step: call again */
    FOTA_HTTP_OK = 0,
    FOTA_HTTP_ERR_STATE = -1,       /* misuse, or out of memory */
    FOTA_HTTP_ERR_HEADER = -2,      /* bad status line/headers, header block too
                                       large, too many redirects, bad Content-Range */
    FOTA_HTTP_ERR_BODY = -3,        /* bad chunked encoding, body longer than
                                       Content-Length */
    FOTA_HTTP_ERR_CONNECT = -4,     /* DNS, refused, TLS handshake/verification,
                                       bad TLS certificate/key options */
    FOTA_HTTP_ERR_CLOSE = -5,       /* server closed before the full headers/body */
    FOTA_HTTP_ERR_RX = -6,          /* socket/TLS error while sending or receiving */
    FOTA_HTTP_ERR_DOWNLOAD = -7,    /* the sink refused the data (write failed) */
    FOTA_HTTP_ERR_TIMEOUT = -8,     /* connect, overall or idle timeout, or too slow */
    FOTA_HTTP_ERR_FOTA = -9,        /* reserved: FOTA package invalid (not produced here) */
    FOTA_HTTP_ERR_URL = -10,        /* malformed or unsupported URL (also a bad Location) */
    FOTA_HTTP_ERR_REQUEST = -11     /* bad method, extra headers (injection) or If-Range */
};

/* Limits of the fixed buffers. */
#define FOTA_HTTP_MAX_URL 2048u
#define FOTA_HTTP_MAX_EXTRA_HEADERS 4096u   /* bytes of extra request headers */
#define FOTA_HTTP_MAX_HEADER_BLOCK 16384u   /* response status line + headers */
#define FOTA_HTTP_MAX_HEADERS 64u
#define FOTA_HTTP_RX_BUF 16384u
#define FOTA_HTTP_STEP_BYTES 65536u         /* body bytes handled per step */
#define FOTA_HTTP_DEFAULT_REDIRECTS 5
#define FOTA_HTTP_DEFAULT_CONNECT_MS 10000u
#define FOTA_HTTP_DEFAULT_IDLE_MS 30000u
#define FOTA_HTTP_DEFAULT_MIN_RATE 64u      /* bytes per second */
#define FOTA_HTTP_NO_REDIRECT (-1)
#define FOTA_HTTP_UNKNOWN UINT64_MAX        /* e.g. Content-Range total "*" */

/* A URL split as the client reads it (the one parser: a setting can be
 * checked with it before any request). */
typedef struct fota_http_url_parts {
    int https;
    int host_is_v6;              /* host was "[...]" (brackets not kept) */
    char host[FOTA_NET_MAX_HOST + 1];
    uint16_t port;               /* the scheme's default when none is given */
    size_t path_off;             /* path starts at url + path_off ('/', '?' or end) */
    size_t path_len;             /* up to '#' */
} fota_http_url_parts;

/* http[s]://host[:port][/path][?query][#frag]: 0, or FOTA_HTTP_ERR_URL for
 * an empty or over-long URL, raw space/control/non-ASCII bytes, another
 * scheme, a missing or malformed host (no userinfo), a port outside 1..65535. */
int fota_http_url_parse(const char *url, fota_http_url_parts *out);

typedef struct fota_http_request {
    const char *method;          /* NULL = "GET"; an HTTP token, copied */
    const char *url;             /* http[s]://host[:port][/path][?query], copied */
    /* Extra request headers as raw "Name: value\r\n" lines (last CRLF
     * optional), copied. Validated: token names, no CR/LF/control chars in
     * values. Host, Connection, Content-Length, Transfer-Encoding, Range and
     * If-Range are managed by the client and refused here; a User-Agent
     * given here replaces the default "luat-fota/0.1". */
    const char *headers;
    const uint8_t *body;         /* borrowed until fota_http_free */
    size_t body_len;
    uint32_t connect_timeout_ms; /* DNS+TCP+TLS per connection; 0 = 10 s */
    uint32_t timeout_ms;         /* whole transfer incl. redirects; 0 = none */
    /* Once connected: no byte sent or received for idle_timeout_ms fails
     * with FOTA_HTTP_ERR_TIMEOUT (0 = 30 s), and so does moving fewer than
     * min_rate bytes/s over any idle_timeout_ms window (0 = 64 B/s): a server
     * dripping a byte now and then cannot hold the device. */
    uint32_t idle_timeout_ms;
    uint32_t min_rate;
    const fota_tls_opts *tls;    /* for https; borrowed (with its buffers) until
                                    fota_http_free. NULL for https means
                                    fota_tls_opts{0}: fails unless the URL is
                                    http (set .insecure = 1 for LuatOS's default) */
    int max_redirects;           /* 0 = 5; FOTA_HTTP_NO_REDIRECT = return 3xx */
    int use_range;               /* 1: send "Range: bytes=<range_start>-" */
    uint64_t range_start;
    const char *if_range;        /* optional If-Range validator (ETag or date), copied */
} fota_http_request;

typedef struct fota_http_response {
    int status;                  /* 0 until the final headers are in */
    int http_minor;              /* 0 or 1 */
    int has_length;              /* Content-Length known */
    uint64_t content_length;
    int chunked;
    int has_range;               /* Content-Range parsed (206) */
    uint64_t range_start, range_end, range_total; /* total may be FOTA_HTTP_UNKNOWN */
    uint64_t body_bytes;         /* delivered to the sink so far */
    int redirects;               /* redirects followed */
} fota_http_response;

/* Body sink: return 0 to go on; non-zero aborts with FOTA_HTTP_ERR_DOWNLOAD.
 * Called only for the final response (not for redirect bodies). */
typedef int (*fota_http_sink)(void *ud, const uint8_t *data, size_t len);

typedef struct fota_http fota_http;

/* Validates and copies the request; no network activity yet. Returns 0,
 * FOTA_HTTP_ERR_URL, FOTA_HTTP_ERR_REQUEST or FOTA_HTTP_ERR_STATE (no memory);
 * *h is NULL on failure. */
int fota_http_init(fota_http **h, const fota_http_request *req);

/* Advances the transfer. Waits at most budget_ms (0 = only what is ready).
 * Returns FOTA_HTTP_AGAIN, FOTA_HTTP_OK (done) or a negative code; the
 * result is sticky once not AGAIN. The sink may be NULL (body discarded). */
int fota_http_step(fota_http *h, uint32_t budget_ms, fota_http_sink sink, void *ud);

/* Blocking convenience for tools and tests: steps until done or failed. */
int fota_http_run(fota_http *h, fota_http_sink sink, void *ud);

/* 1 once the final response's headers are parsed (status/headers valid). */
int fota_http_have_headers(const fota_http *h);
const fota_http_response *fota_http_response_info(const fota_http *h);

/* Response headers; strings valid until the next step or free. Lookup is
 * case-insensitive and returns the first match, or NULL. */
const char *fota_http_header(const fota_http *h, const char *name);
int fota_http_header_count(const fota_http *h);
int fota_http_header_at(const fota_http *h, int i, const char **name, const char **value);

/* URL of the current request (after redirects). */
const char *fota_http_url(const fota_http *h);
/* Detail of the failure (e.g. the TLS verification reason), "" if none. */
const char *fota_http_errmsg(const fota_http *h);
/* The port error behind a FOTA_HTTP_ERR_CONNECT/RX (FOTA_NET_ERR_*), or 0. */
int fota_http_net_error(const fota_http *h);

void fota_http_free(fota_http *h);

const char *fota_http_strerror(int rc);

#endif
