/* libFuzzer target for the HTTP client's response parser (core/http.c),
 * the network replaced by the input: this file is the whole port_net.h.
 *   cmake -DFOTA_FUZZ=ON -DCMAKE_C_COMPILER=clang ... && ./fuzz_http -max_total_time=15 [corpus]
 * Input: flags u8 | server bytes. Flags bits 0..5 pick the receive chunk
 * (1..64 bytes), bit 6 asks for a Range, bit 7 makes it a HEAD. The bytes
 * are the server's side of every connection in turn (a redirect opens the
 * next one on what is left); the end of the input closes the connection.
 * The sink aborts when the client hands over more body than the response
 * declared, or body after an error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/http.h"
#include "port/port.h"
#include "port/port_net.h"

struct fota_port_conn {
    int open;
};

static struct {
    const uint8_t *data;
    size_t len, pos, chunk;
    uint64_t clock;
    struct fota_port_conn conn;
} in;

uint64_t fota_port_now_ms(void) { return in.clock += 3; }   /* time passes, timeouts fire */

int fota_port_conn_open(fota_port_conn **c, const char *host, uint16_t port, const fota_tls_opts *tls)
{
    (void)port;
    (void)tls;
    if (!host || !*host || in.conn.open)
        abort();   /* one connection at a time */
    in.conn.open = 1;
    *c = &in.conn;
    return 0;
}

int fota_port_conn_step(fota_port_conn *c, uint32_t timeout_ms)
{
    (void)c;
    (void)timeout_ms;
    return 0;
}

int fota_port_conn_send(fota_port_conn *c, const void *buf, size_t len, size_t *sent)
{
    (void)c;
    (void)buf;
    *sent = len;
    return 0;
}

int fota_port_conn_recv(fota_port_conn *c, void *buf, size_t len, size_t *got)
{
    size_t n = in.len - in.pos;
    (void)c;
    if (n > in.chunk)
        n = in.chunk;
    if (n > len)
        n = len;
    memcpy(buf, in.data + in.pos, n);
    in.pos += n;
    *got = n;   /* 0 at the end: the server closed */
    return 0;
}

int fota_port_conn_wait(fota_port_conn *c, int want_read, int want_write, uint32_t timeout_ms)
{
    (void)c;
    (void)want_read;
    (void)want_write;
    (void)timeout_ms;
    return 0;
}

const char *fota_port_conn_errmsg(const fota_port_conn *c)
{
    (void)c;
    return "";
}

void fota_port_conn_close(fota_port_conn *c)
{
    if (c)
        c->open = 0;
}

const char *fota_net_strerror(int rc)
{
    (void)rc;
    return "fuzz";
}

typedef struct {
    fota_http *h;
    uint64_t body;
} sink_ctx;

static int sink(void *ud, const uint8_t *data, size_t len)
{
    sink_ctx *s = ud;
    const fota_http_response *r = fota_http_response_info(s->h);
    if (!data || len == 0 || len > FOTA_HTTP_STEP_BYTES || !fota_http_have_headers(s->h))
        abort();
    s->body += len;
    if (r->has_length && !r->chunked && s->body > r->content_length)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fota_http_request req;
    fota_http *h = NULL;
    sink_ctx s = { NULL, 0 };
    int rc;

    if (size < 1)
        return 0;
    memset(&in, 0, sizeof in);
    in.data = data + 1;
    in.len = size - 1;
    in.chunk = (size_t)(data[0] & 63) + 1;
    memset(&req, 0, sizeof req);
    req.url = "http://fuzz.example/pkg";
    req.method = (data[0] & 128) ? "HEAD" : NULL;
    req.use_range = (data[0] & 64) != 0;
    req.range_start = 1000;
    req.if_range = req.use_range ? "\"v1\"" : NULL;
    if (fota_http_init(&h, &req) != 0)
        abort();
    s.h = h;
    do
        rc = fota_http_step(h, 50, sink, &s);
    while (rc == FOTA_HTTP_AGAIN);
    if (rc > 0)
        abort();
    if (rc == FOTA_HTTP_OK && !fota_http_have_headers(h))
        abort();
    if (fota_http_have_headers(h) && fota_http_response_info(h)->body_bytes != s.body)
        abort();
    fota_http_free(h);
    if (in.conn.open)
        abort();   /* every connection is closed */
    return 0;
}
