/* Tests for the HTTP client and the POSIX network port, against loopback
 * servers run in threads of this process (127.0.0.1, port 0). Every server
 * loop is bounded in time and joined; TLS material is made with openssl. */
#include "core/http.h"
#include "ctest_util.h"
#include "port/port.h"
#include "port/port_net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

/* ---- loopback server ------------------------------------------------ */

#define MAX_CONN 8
#define REQ_MAX 16384

typedef struct server {
    int lfd;
    int port;
    pthread_t th;
    atomic_int stop;
    int nconn;                  /* connections to serve */
    const char *resp[MAX_CONN]; /* per connection; NULL = reuse the previous */
    size_t resp_len[MAX_CONN];  /* 0 = strlen */
    int delay_ms;               /* before answering */
    int drip;                   /* >0: write the response in pieces this big */
    int drip_ms;                /* pause between pieces (default 1 ms) */
    int hold_ms;                /* after the response, keep the connection open */
    int silent;                 /* accept, never answer (read until the client goes) */
    /* TLS */
    int tls;
    int want_client_cert;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt, ca;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    /* results */
    char req[MAX_CONN][REQ_MAX];
    size_t req_len[MAX_CONN];
    atomic_int served;
    atomic_int handshake_failed;
    int joined;
} server;

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

typedef struct sconn {
    int fd;
    mbedtls_ssl_context *ssl;
} sconn;

static int s_write(sconn *c, const char *p, size_t n)
{
    while (n > 0) {
        int w;
        if (c->ssl) {
            w = mbedtls_ssl_write(c->ssl, (const unsigned char *)p, n);
            if (w == MBEDTLS_ERR_SSL_WANT_WRITE || w == MBEDTLS_ERR_SSL_WANT_READ)
                continue;
        } else {
            w = (int)send(c->fd, p, n, MSG_NOSIGNAL);
        }
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int s_read(sconn *c, char *p, size_t n)
{
    if (c->ssl) {
        int r = mbedtls_ssl_read(c->ssl, (unsigned char *)p, n);
        return r < 0 ? -1 : r;
    }
    return (int)recv(c->fd, p, n, 0);
}

/* Reads the request head (+ a Content-Length body) into s->req[i]. */
static void read_request(server *s, sconn *c, int i)
{
    char *buf = s->req[i];
    size_t len = 0;
    long need = -1;
    while (len < REQ_MAX - 1) {
        int r = s_read(c, buf + len, REQ_MAX - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
        buf[len] = 0;
        char *e = strstr(buf, "\r\n\r\n");
        if (e && need < 0) {
            char *cl = strstr(buf, "Content-Length: ");
            need = (long)(e + 4 - buf) + (cl && cl < e ? atol(cl + 16) : 0);
        }
        if (need >= 0 && (long)len >= need)
            break;
    }
    buf[len] = 0;
    s->req_len[i] = len;
}

static void serve_one(server *s, int fd, int i)
{
    struct timeval tv = { 3, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    mbedtls_ssl_context ssl;
    mbedtls_net_context net = { fd };
    sconn c = { fd, NULL };
    if (s->tls) {
        mbedtls_ssl_init(&ssl);
        if (mbedtls_ssl_setup(&ssl, &s->conf) != 0) {
            mbedtls_ssl_free(&ssl);
            return;
        }
        mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
        int r;
        do
            r = mbedtls_ssl_handshake(&ssl);
        while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
        if (r != 0) {
            atomic_fetch_add(&s->handshake_failed, 1);
            mbedtls_ssl_free(&ssl);
            return;
        }
        c.ssl = &ssl;
    }
    if (s->silent) {
        char b[256];
        for (int k = 0; k < 50 && !atomic_load(&s->stop); k++) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (poll(&p, 1, 100) > 0 && recv(fd, b, sizeof b, 0) <= 0)
                break;
        }
    } else {
        read_request(s, &c, i);
        int ri = i;
        while (ri > 0 && !s->resp[ri])
            ri--;
        const char *resp = s->resp[ri];
        size_t rl = s->resp_len[ri] ? s->resp_len[ri] : (resp ? strlen(resp) : 0);
        if (s->delay_ms)
            sleep_ms(s->delay_ms);
        if (s->drip > 0) {
            for (size_t off = 0; off < rl; off += (size_t)s->drip) {
                size_t n = rl - off < (size_t)s->drip ? rl - off : (size_t)s->drip;
                if (s_write(&c, resp + off, n) < 0)
                    break;
                sleep_ms(s->drip_ms ? s->drip_ms : 1);
            }
        } else if (rl) {
            s_write(&c, resp, rl);
        }
        if (s->hold_ms)
            sleep_ms(s->hold_ms);
    }
    if (c.ssl) {
        mbedtls_ssl_close_notify(c.ssl);
        mbedtls_ssl_free(c.ssl);
    }
}

static void *server_main(void *arg)
{
    server *s = arg;
    /* at most ~20 s in total, whatever the client does */
    for (int t = 0; t < 400 && atomic_load(&s->served) < s->nconn && !atomic_load(&s->stop); t++) {
        struct pollfd p = { s->lfd, POLLIN, 0 };
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        int i = atomic_load(&s->served);
        serve_one(s, fd, i < MAX_CONN ? i : MAX_CONN - 1);
        shutdown(fd, SHUT_RDWR);
        close(fd);
        atomic_fetch_add(&s->served, 1);
    }
    return NULL;
}

static int listen_any(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) < 0) {
        perror("listen");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static server *server_new(int nconn)
{
    server *s = calloc(1, sizeof *s);
    if (!s)
        exit(2);
    s->nconn = nconn;
    s->lfd = listen_any(&s->port);
    return s;
}

static void server_start(server *s)
{
    if (pthread_create(&s->th, NULL, server_main, s) != 0)
        exit(2);
}

/* Stops accepting and joins the thread (once). */
static void server_stop(server *s)
{
    if (s->joined)
        return;
    atomic_store(&s->stop, 1);
    pthread_join(s->th, NULL);
    s->joined = 1;
}

static void server_free(server *s)
{
    server_stop(s);
    close(s->lfd);
    if (s->tls) {
        mbedtls_ssl_config_free(&s->conf);
        mbedtls_x509_crt_free(&s->crt);
        mbedtls_x509_crt_free(&s->ca);
        mbedtls_pk_free(&s->key);
        mbedtls_ctr_drbg_free(&s->drbg);
        mbedtls_entropy_free(&s->entropy);
    }
    free(s);
}

static void server_tls(server *s, const char *dir, int want_client_cert)
{
    char crt[600], key[600], ca[600];
    snprintf(crt, sizeof crt, "%s/srv.crt", dir);
    snprintf(key, sizeof key, "%s/srv.key", dir);
    snprintf(ca, sizeof ca, "%s/ca.crt", dir);
    s->tls = 1;
    s->want_client_cert = want_client_cert;
    mbedtls_ssl_config_init(&s->conf);
    mbedtls_x509_crt_init(&s->crt);
    mbedtls_x509_crt_init(&s->ca);
    mbedtls_pk_init(&s->key);
    mbedtls_entropy_init(&s->entropy);
    mbedtls_ctr_drbg_init(&s->drbg);
    int bad = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy, NULL, 0) ||
              mbedtls_x509_crt_parse_file(&s->crt, crt) || mbedtls_x509_crt_parse_file(&s->ca, ca) ||
              mbedtls_pk_parse_keyfile(&s->key, key, NULL) ||
              mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (bad) {
        fprintf(stderr, "server TLS setup failed\n");
        exit(2);
    }
    mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
    mbedtls_ssl_conf_own_cert(&s->conf, &s->crt, &s->key);
    if (want_client_cert) {
        mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
}

/* ---- client helpers ------------------------------------------------- */

typedef struct membuf {
    char data[1 << 20];
    size_t len;
    size_t abort_at;     /* sink fails once this much has arrived (0 = never) */
    size_t max_per_call;
} membuf;

static int mem_sink(void *ud, const uint8_t *d, size_t n)
{
    membuf *m = ud;
    if (n > m->max_per_call)
        m->max_per_call = n;
    if (m->abort_at && m->len + n >= m->abort_at)
        return -1;
    if (n > sizeof m->data - 1 - m->len)
        return -1;
    memcpy(m->data + m->len, d, n);
    m->len += n;
    m->data[m->len] = 0;
    return 0;
}

static membuf *mb_new(void)
{
    membuf *m = calloc(1, sizeof *m);
    if (!m)
        exit(2);
    return m;
}

static char url_buf[256];
static const char *url_of(const char *scheme, const char *host, int port, const char *path)
{
    snprintf(url_buf, sizeof url_buf, "%s://%s:%d%s", scheme, host, port, path);
    return url_buf;
}

/* One GET/POST against a running server; returns the client's result. */
static int fetch(fota_http_request *req, membuf *m, fota_http **keep)
{
    fota_http *h = NULL;
    int r = fota_http_init(&h, req);
    if (r != 0)
        return r;
    r = fota_http_run(h, mem_sink, m);
    if (keep)
        *keep = h;
    else
        fota_http_free(h);
    return r;
}

/* Serves `resp` once and GETs `path`; the helper for single-shot cases. */
static int one_shot(const char *resp, size_t resp_len, int drip, membuf *m, server **out)
{
    server *s = server_new(1);
    s->resp[0] = resp;
    s->resp_len[0] = resp_len;
    s->drip = drip;
    server_start(s);
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/x");
    req.timeout_ms = 5000;
    int r = fetch(&req, m, NULL);
    if (out)
        *out = s;
    else
        server_free(s);
    return r;
}

/* ---- plain HTTP tests ----------------------------------------------- */

static void test_content_length(void)
{
    server *s = server_new(1);
    s->resp[0] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\nX-Thing:  spaced value \t\r\n"
                 "content-type: text/plain\r\n\r\nhello world";
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/fw/app.bin?v=1#frag");
    req.headers = "X-Test: 1\r\nUser-Agent: custom/2";
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), 0);
    const fota_http_response *ri = fota_http_response_info(h);
    CHECK_EQ(ri->status, 200);
    CHECK_EQ(ri->has_length, 1);
    CHECK_EQ(ri->content_length, 11);
    CHECK_EQ(ri->body_bytes, 11);
    CHECK(m->len == 11 && memcmp(m->data, "hello world", 11) == 0);
    CHECK(fota_http_have_headers(h));
    const char *v = fota_http_header(h, "CONTENT-TYPE");
    CHECK(v && strcmp(v, "text/plain") == 0);
    v = fota_http_header(h, "x-thing");
    CHECK(v && strcmp(v, "spaced value") == 0);
    CHECK(fota_http_header(h, "nope") == NULL);
    CHECK_EQ(fota_http_header_count(h), 3);
    const char *n = NULL;
    CHECK_EQ(fota_http_header_at(h, 2, &n, &v), 0);
    CHECK(n && strcmp(n, "content-type") == 0);
    CHECK(fota_http_header_at(h, 3, &n, &v) < 0);
    fota_http_free(h);
    {
        server_stop(s);
        const char *q = s->req[0];
        CHECK(strncmp(q, "GET /fw/app.bin?v=1 HTTP/1.1\r\n", 30) == 0);
        char host[64];
        snprintf(host, sizeof host, "\r\nHost: 127.0.0.1:%d\r\n", s->port);
        CHECK(strstr(q, host) != NULL);
        CHECK(strstr(q, "\r\nConnection: close\r\n") != NULL);
        CHECK(strstr(q, "\r\nX-Test: 1\r\n") != NULL);
        CHECK(strstr(q, "\r\nUser-Agent: custom/2\r\n") != NULL);
        CHECK(strstr(q, "luat-fota/0.1") == NULL);
        CHECK(strstr(q, "#frag") == NULL);
    }
    server_free(s);
    free(m);
}

static void test_post_and_default_ua(void)
{
    server *s = server_new(1);
    s->resp[0] = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    char url[128];
    snprintf(url, sizeof url, "HTTP://127.0.0.1:%d?a=b", s->port);
    req.url = url;
    req.method = "POST";
    req.body = (const uint8_t *)"k=v&x=1";
    req.body_len = 7;
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), 0);
    CHECK_EQ(fota_http_response_info(h)->status, 201);
    CHECK_EQ(m->len, 0);
    fota_http_free(h);
    server_stop(s);
    CHECK(strncmp(s->req[0], "POST /?a=b HTTP/1.1\r\n", 21) == 0);
    CHECK(strstr(s->req[0], "\r\nUser-Agent: luat-fota/0.1\r\n") != NULL);
    CHECK(strstr(s->req[0], "\r\nContent-Length: 7\r\n") != NULL);
    const char *e = strstr(s->req[0], "\r\n\r\n");
    CHECK(e && strcmp(e + 4, "k=v&x=1") == 0);
    server_free(s);
    free(m);
}

static void test_chunked(void)
{
    static const char resp[] =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n"
        "5;ext=1;name=\"q\"\r\nhello\r\n1 ; x\r\n \r\n000006\r\nworld!\r\n"
        "A\r\n0123456789\r\n0\r\nX-Trailer: yes\r\nX-More: 2\r\n\r\n";
    for (int drip = 0; drip <= 3; drip += 3) {
        membuf *m = mb_new();
        server *s = NULL;
        CHECK_EQ(one_shot(resp, 0, drip, m, &s), 0);
        CHECK_EQ(m->len, 22);
        CHECK(strcmp(m->data, "hello world!0123456789") == 0);
        server_free(s);
        free(m);
    }
    /* Transfer-Encoding wins over a (bogus) Content-Length */
    membuf *m2 = mb_new();
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n", 0, 0, m2, NULL), 0);
    CHECK(strcmp(m2->data, "abc") == 0);
    free(m2);
    /* trailer-less end */
    membuf *m = mb_new();
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                      0, 0, m, NULL), 0);
    CHECK(strcmp(m->data, "abc") == 0);
    free(m);
}

static void test_close_delimited(void)
{
    membuf *m = mb_new();
    CHECK_EQ(one_shot("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil the end", 0, 0, m, NULL), 0);
    CHECK(strcmp(m->data, "until the end") == 0);
    free(m);
    /* 204 and Content-Length: 0 have no body */
    m = mb_new();
    CHECK_EQ(one_shot("HTTP/1.1 204 No Content\r\n\r\n", 0, 0, m, NULL), 0);
    CHECK_EQ(m->len, 0);
    free(m);
    /* 100 Continue before the real answer is skipped */
    m = mb_new();
    CHECK_EQ(one_shot("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
                      0, 0, m, NULL), 0);
    CHECK(strcmp(m->data, "ok") == 0);
    free(m);
}

static void test_range(void)
{
    server *s = server_new(2);
    s->resp[0] = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100-109/1000\r\n"
                 "Content-Length: 10\r\n\r\n0123456789";
    s->resp[1] = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 0-9/*\r\n"
                 "Content-Length: 10\r\n\r\n0123456789";
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/fw.bin");
    req.use_range = 1;
    req.range_start = 100;
    req.if_range = "\"etag-1\"";
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), 0);
    const fota_http_response *ri = fota_http_response_info(h);
    CHECK_EQ(ri->status, 206);
    CHECK_EQ(ri->has_range, 1);
    CHECK_EQ(ri->range_start, 100);
    CHECK_EQ(ri->range_end, 109);
    CHECK_EQ(ri->range_total, 1000);
    CHECK(strcmp(m->data, "0123456789") == 0);
    fota_http_free(h);
    /* the server answers a different range than asked: refused */
    m->len = 0;
    CHECK_EQ(fetch(&req, m, NULL), FOTA_HTTP_ERR_HEADER);
    server_stop(s);
    CHECK(strstr(s->req[0], "\r\nRange: bytes=100-\r\n") != NULL);
    CHECK(strstr(s->req[0], "\r\nIf-Range: \"etag-1\"\r\n") != NULL);
    server_free(s);
    /* 206 with a bad or missing Content-Range */
    CHECK_EQ(one_shot("HTTP/1.1 206 P\r\nContent-Range: bytes 9-3/10\r\nContent-Length: 0\r\n\r\n",
                      0, 0, m, NULL), FOTA_HTTP_ERR_HEADER);
    CHECK_EQ(one_shot("HTTP/1.1 206 P\r\nContent-Range: bytes 0-10/10\r\nContent-Length: 0\r\n\r\n",
                      0, 0, m, NULL), FOTA_HTTP_ERR_HEADER);
    CHECK_EQ(one_shot("HTTP/1.1 206 P\r\nContent-Length: 1\r\n\r\nx", 0, 0, m, NULL),
             FOTA_HTTP_ERR_HEADER);
    /* If-Range without Range is a caller bug */
    fota_http_request bad = { 0 };
    bad.url = "http://127.0.0.1:1/";
    bad.if_range = "x";
    fota_http *hb = NULL;
    CHECK_EQ(fota_http_init(&hb, &bad), FOTA_HTTP_ERR_REQUEST);
    CHECK(hb == NULL);
    free(m);
}

static void test_redirects(void)
{
    server *s = server_new(3);
    char abs_loc[160];
    s->resp[0] = "HTTP/1.1 302 Found\r\nLocation: next?step=2\r\nContent-Length: 5\r\n\r\nmoved";
    snprintf(abs_loc, sizeof abs_loc,
             "HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:%d/final\r\n\r\n", s->port);
    s->resp[1] = abs_loc;
    s->resp[2] = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone";
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/dir/start");
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), 0);
    CHECK(strcmp(m->data, "done") == 0); /* redirect bodies are not delivered */
    CHECK_EQ(fota_http_response_info(h)->redirects, 2);
    CHECK_EQ(fota_http_response_info(h)->status, 200);
    CHECK(strstr(fota_http_url(h), "/final") != NULL);
    fota_http_free(h);
    server_stop(s);
    CHECK(strncmp(s->req[1], "GET /dir/next?step=2 HTTP/1.1\r\n", 31) == 0);
    CHECK(strncmp(s->req[2], "GET /final HTTP/1.1\r\n", 21) == 0);
    server_free(s);

    /* loop: 1 + 5 redirects, the 6th 302 is too many */
    s = server_new(6);
    s->resp[0] = "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 0\r\n\r\n";
    server_start(s);
    m->len = 0;
    req.url = url_of("http", "127.0.0.1", s->port, "/loop");
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_HEADER);
    CHECK(strstr(fota_http_errmsg(h), "redirect") != NULL);
    fota_http_free(h);
    server_free(s);

    /* redirects off: the 3xx itself is the answer */
    s = server_new(1);
    s->resp[0] = "HTTP/1.1 302 Found\r\nLocation: /loop\r\nContent-Length: 3\r\n\r\nabc";
    server_start(s);
    m->len = 0;
    req.url = url_of("http", "127.0.0.1", s->port, "/a");
    req.max_redirects = FOTA_HTTP_NO_REDIRECT;
    CHECK_EQ(fetch(&req, m, &h), 0);
    CHECK_EQ(fota_http_response_info(h)->status, 302);
    CHECK(strcmp(fota_http_header(h, "location"), "/loop") == 0);
    CHECK(strcmp(m->data, "abc") == 0);
    fota_http_free(h);
    server_free(s);

    /* a Location with a foreign scheme is a URL error */
    s = server_new(1);
    s->resp[0] = "HTTP/1.1 302 Found\r\nLocation: ftp://x/y\r\n\r\n";
    server_start(s);
    req.url = url_of("http", "127.0.0.1", s->port, "/a");
    req.max_redirects = 0;
    CHECK_EQ(fetch(&req, m, NULL), FOTA_HTTP_ERR_URL);
    server_free(s);
    free(m);
}

static void test_early_close_and_refused(void)
{
    membuf *m = mb_new();
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part", 0, 0, m, NULL),
             FOTA_HTTP_ERR_CLOSE);
    CHECK(strcmp(m->data, "only part") == 0);
    m->len = 0;
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0, 0, m,
                      NULL), FOTA_HTTP_ERR_CLOSE);
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nContent-Le", 0, 0, m, NULL), FOTA_HTTP_ERR_CLOSE);
    CHECK_EQ(one_shot("", 0, 0, m, NULL), FOTA_HTTP_ERR_CLOSE);

    /* refused: a port that was just closed */
    int port;
    int fd = listen_any(&port);
    close(fd);
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", port, "/");
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_CONNECT);
    CHECK(strlen(fota_http_errmsg(h)) > 0);
    /* results are sticky */
    CHECK_EQ(fota_http_step(h, 10, mem_sink, m), FOTA_HTTP_ERR_CONNECT);
    fota_http_free(h);
    free(m);
}

static void test_bad_urls(void)
{
    static const char *const bad[] = {
        "", "ftp://host/", "http://", "http:///path", "http://host:0/", "http://host:65536/",
        "http://host:abc/", "http://user@host/", "http://ho st/", "http://host/pa th",
        "http://[::1/", "http://host:/", "http:/host/", "//host/", "http://host/\r\nX: y",
        "http://h\x80st/", "https://[]/", "http://host:99999999999999999999/",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fota_http_request req = { 0 };
        req.url = bad[i];
        fota_http *h = (fota_http *)&req; /* must be reset to NULL */
        int r = fota_http_init(&h, &req);
        if (r != FOTA_HTTP_ERR_URL)
            fprintf(stderr, "url #%zu accepted or wrong code %d\n", i, r);
        CHECK_EQ(r, FOTA_HTTP_ERR_URL);
        CHECK(h == NULL);
    }
    char longurl[FOTA_HTTP_MAX_URL + 20];
    memset(longurl, 'a', sizeof longurl - 1);
    longurl[sizeof longurl - 1] = 0;
    memcpy(longurl, "http://h/", 9);
    fota_http_request req = { 0 };
    req.url = longurl;
    fota_http *h = NULL;
    CHECK_EQ(fota_http_init(&h, &req), FOTA_HTTP_ERR_URL);
    static const char *const good[] = { "http://host", "HTTPS://Host.example:8443?x=1",
                                        "http://[::1]:8080/p", "http://a_b-c.d/x/y?z#f" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        req.url = good[i];
        CHECK_EQ(fota_http_init(&h, &req), 0);
        fota_http_free(h);
    }
    fota_http_free(NULL);
    CHECK(fota_http_init(NULL, &req) < 0);
}

static void test_header_injection(void)
{
    static const char *const bad[] = {
        "X-A: b\r\nX-B: c\rInjected: 1\r\n", "X-A: b\nHost: evil\r\n", "Host: x\r\n",
        "X-A: b\r\n\r\nGET / HTTP/1.1\r\n", "Bad Name: x\r\n", ": novalue\r\n",
        "X-A: a\x01b\r\n", "Content-Length: 5\r\n", "transfer-encoding: chunked",
        "X-A b\r\n", "Range: bytes=0-\r\n", "CONNECTION: keep-alive\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fota_http_request req = { 0 };
        req.url = "http://127.0.0.1:1/";
        req.headers = bad[i];
        fota_http *h = NULL;
        int r = fota_http_init(&h, &req);
        if (r != FOTA_HTTP_ERR_REQUEST)
            fprintf(stderr, "header #%zu accepted or wrong code %d\n", i, r);
        CHECK_EQ(r, FOTA_HTTP_ERR_REQUEST);
        CHECK(h == NULL);
    }
    fota_http_request req = { 0 };
    req.url = "http://127.0.0.1:1/";
    fota_http *h = NULL;
    req.method = "GE T";
    CHECK_EQ(fota_http_init(&h, &req), FOTA_HTTP_ERR_REQUEST);
    req.method = "GET\r\n";
    CHECK_EQ(fota_http_init(&h, &req), FOTA_HTTP_ERR_REQUEST);
    req.method = NULL;
    req.use_range = 1;
    req.if_range = "\"a\"\r\nX: y";
    CHECK_EQ(fota_http_init(&h, &req), FOTA_HTTP_ERR_REQUEST);
    char big[FOTA_HTTP_MAX_EXTRA_HEADERS + 100];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = 0;
    memcpy(big, "X-Big: ", 7);
    req.if_range = NULL;
    req.headers = big;
    CHECK_EQ(fota_http_init(&h, &req), FOTA_HTTP_ERR_REQUEST);
}

static void test_timeouts(void)
{
    /* slow server: answers after 1.5 s, overall timeout 300 ms */
    server *s = server_new(1);
    s->resp[0] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    s->delay_ms = 1500;
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/");
    req.timeout_ms = 300;
    fota_http *h = NULL;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_TIMEOUT);
    fota_http_free(h);
    server_free(s);

    /* TLS handshake never answered: connect timeout */
    s = server_new(1);
    s->silent = 1;
    server_start(s);
    fota_tls_opts tls = { 0 };
    tls.insecure = 1;
    req.url = url_of("https", "127.0.0.1", s->port, "/");
    req.timeout_ms = 0;
    req.connect_timeout_ms = 300;
    req.tls = &tls;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_TIMEOUT);
    CHECK(strstr(fota_http_errmsg(h), "connect") != NULL);
    fota_http_free(h);
    server_free(s);
    free(m);
}

/* GET from a server sending a body of body_len bytes one byte every 20 ms
 * (~50 B/s) under a minimum rate over 300 ms windows: the result, the body in m. */
static int fetch_dripping(size_t body_len, uint32_t min_rate, membuf *m)
{
    static char resp[512];
    fota_http_request req = { 0 };
    fota_http *h = NULL;
    server *s = server_new(1);
    int rc;

    snprintf(resp, sizeof resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%0*d", body_len,
             (int)body_len, 7);
    s->resp[0] = resp;
    s->drip = 1;
    s->drip_ms = 20;
    server_start(s);
    req.url = url_of("http", "127.0.0.1", s->port, "/");
    req.min_rate = min_rate;
    req.idle_timeout_ms = 300;
    m->len = 0;
    rc = fetch(&req, m, &h);
    if (rc == FOTA_HTTP_ERR_TIMEOUT)
        CHECK(strstr(fota_http_errmsg(h), "too slow") != NULL);
    fota_http_free(h);
    server_free(s);
    return rc;
}

/* A server that stops sending, or sends too slowly, is dropped with -8. */
static void test_idle_and_min_rate(void)
{
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    fota_http *h = NULL;

    /* 2 of 10 body bytes, then silence for 2 s before closing: without an
     * idle timeout this ends as -5 (closed early) */
    server *s = server_new(1);
    s->resp[0] = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab";
    s->hold_ms = 2000;
    server_start(s);
    req.url = url_of("http", "127.0.0.1", s->port, "/");
    req.idle_timeout_ms = 300;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_TIMEOUT);
    CHECK(strstr(fota_http_errmsg(h), "idle") != NULL);
    CHECK_EQ(fota_http_response_info(h)->body_bytes, 2);
    fota_http_free(h);
    server_free(s);

    /* never idle, but below 200 B/s; the same pace above 10 B/s completes */
    CHECK_EQ(fetch_dripping(400, 200, m), FOTA_HTTP_ERR_TIMEOUT);
    CHECK_EQ(fetch_dripping(30, 10, m), FOTA_HTTP_OK);
    CHECK_EQ(m->len, 30);
    free(m);
}

static void test_bad_heads(void)
{
    membuf *m = mb_new();
    /* oversize header block: a few huge lines */
    size_t n = FOTA_HTTP_MAX_HEADER_BLOCK + 4000;
    char *big = malloc(n + 100);
    strcpy(big, "HTTP/1.1 200 OK\r\n");
    size_t len = strlen(big);
    for (int k = 0; k < 3; k++) {
        len += (size_t)sprintf(big + len, "X-Pad%d: ", k);
        memset(big + len, 'p', 6000);
        len += 6000;
        len += (size_t)sprintf(big + len, "\r\n");
    }
    len += (size_t)sprintf(big + len, "Content-Length: 0\r\n\r\n");
    fota_http *h = NULL;
    server *s = server_new(1);
    s->resp[0] = big;
    server_start(s);
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/");
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_HEADER);
    CHECK(strstr(fota_http_errmsg(h), "larger") != NULL);
    fota_http_free(h);
    server_free(s);
    /* too many headers */
    strcpy(big, "HTTP/1.1 200 OK\r\n");
    len = strlen(big);
    for (int k = 0; k < 70; k++)
        len += (size_t)sprintf(big + len, "X-H%d: v\r\n", k);
    sprintf(big + len, "Content-Length: 0\r\n\r\n");
    CHECK_EQ(one_shot(big, 0, 0, m, NULL), FOTA_HTTP_ERR_HEADER);
    free(big);

    static const char *const bad[] = {
        "HTTP/2 200 OK\r\n\r\n",
        "FOO\r\n\r\n",
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: b\rc\r\n\r\n",
        "HTTP/1.1 101 Switching\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = one_shot(bad[i], 0, 0, m, NULL);
        if (r != FOTA_HTTP_ERR_HEADER)
            fprintf(stderr, "bad head #%zu: %d\n", i, r);
        CHECK_EQ(r, FOTA_HTTP_ERR_HEADER);
    }
    /* agreeing duplicates are fine */
    m->len = 0;
    CHECK_EQ(one_shot("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nok", 0, 0,
                      m, NULL), 0);
    CHECK(strcmp(m->data, "ok") == 0);
    free(m);
}

static void test_bad_bodies(void)
{
    membuf *m = mb_new();
    static const char *const bad[] = {
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\rab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2x\r\nab\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nextra",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nabc",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int r = one_shot(bad[i], 0, 0, m, NULL);
        if (r != FOTA_HTTP_ERR_BODY)
            fprintf(stderr, "bad body #%zu: %d\n", i, r);
        CHECK_EQ(r, FOTA_HTTP_ERR_BODY);
    }
    free(m);
}

static void test_sink_abort(void)
{
    membuf *m = mb_new();
    m->abort_at = 4;
    fota_http *h = NULL;
    server *s = server_new(1);
    s->resp[0] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world";
    server_start(s);
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/");
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_DOWNLOAD);
    CHECK_EQ(fota_http_step(h, 0, mem_sink, m), FOTA_HTTP_ERR_DOWNLOAD);
    fota_http_free(h);
    server_free(s);
    free(m);
}

/* A 600 KB body stepped with a zero budget: no step may block or hand over
 * more than FOTA_HTTP_STEP_BYTES. */
static void test_big_body_steps(void)
{
    size_t n = 600 * 1024;
    char *resp = malloc(n + 100);
    int hl = sprintf(resp, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    for (size_t i = 0; i < n; i++)
        resp[hl + (int)i] = (char)('a' + (i * 7) % 26);
    server *s = server_new(1);
    s->resp[0] = resp;
    s->resp_len[0] = (size_t)hl + n;
    server_start(s);
    membuf *m = mb_new();
    fota_http_request req = { 0 };
    req.url = url_of("http", "127.0.0.1", s->port, "/big");
    req.timeout_ms = 20000;
    fota_http *h = NULL;
    CHECK_EQ(fota_http_init(&h, &req), 0);
    int r = FOTA_HTTP_AGAIN;
    size_t max_step = 0;
    for (int i = 0; i < 200000 && r == FOTA_HTTP_AGAIN; i++) {
        size_t before = m->len;
        r = fota_http_step(h, 0, mem_sink, m);
        if (m->len - before > max_step)
            max_step = m->len - before;
        if (r == FOTA_HTTP_AGAIN && m->len == before)
            fota_port_sleep_ms(1);
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(m->len, n);
    CHECK(memcmp(m->data, resp + hl, n) == 0);
    CHECK(max_step <= FOTA_HTTP_STEP_BYTES);
    CHECK(max_step > 0);
    fota_http_free(h);
    server_free(s);
    free(resp);
    free(m);
}

static void test_port_direct(void)
{
    fota_port_conn *c = NULL;
    CHECK_EQ(fota_port_conn_open(&c, "", 80, NULL), -102);
    CHECK(c == NULL);
    CHECK_EQ(fota_port_conn_open(&c, "127.0.0.1", 0, NULL), -102);
    fota_port_conn_close(NULL);
    /* send/recv before the connection is ready is a state error */
    CHECK_EQ(fota_port_conn_open(&c, "127.0.0.1", 9, NULL), 0);
    size_t n;
    char b[4];
    CHECK(fota_port_conn_send(c, "x", 1, &n) < 0);
    CHECK(fota_port_conn_recv(c, b, sizeof b, &n) < 0);
    fota_port_conn_close(c);
    CHECK(strcmp(fota_http_strerror(FOTA_HTTP_ERR_TIMEOUT), "timeout") == 0);
    CHECK(strcmp(fota_net_strerror(FOTA_NET_ERR_VERIFY), "server certificate rejected") == 0);
}

/* ---- TLS ------------------------------------------------------------ */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return (char *)ctest_read_file(path, len);
}

static int make_certs(const char *dir)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
        "cd '%s' && ("
        "K='openssl ecparam -name prime256v1 -genkey -noout -out'; "
        "$K ca.key && openssl req -x509 -new -key ca.key -out ca.crt -days 2 -subj /CN=fota-test-ca "
        "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && "
        "$K other.key && openssl req -x509 -new -key other.key -out other.crt -days 2 -subj /CN=other-ca "
        "  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign && "
        "$K srv.key && openssl req -new -key srv.key -out srv.csr -subj /CN=localhost && "
        "printf 'subjectAltName=DNS:localhost\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > srv.ext && "
        "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out srv.crt -days 2 -extfile srv.ext && "
        "$K cli.key && openssl req -new -key cli.key -out cli.csr -subj /CN=fota-client && "
        "printf 'basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n' > cli.ext && "
        "openssl x509 -req -in cli.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out cli.crt -days 2 -extfile cli.ext && "
        "openssl ec -in cli.key -aes128 -passout pass:s3cret -out cli_enc.key "
        ") >openssl.log 2>&1", dir);
    return system(cmd);
}

static void test_tls(void)
{
    const char *tmp = ctest_tmpdir("http_tls");
    char dir[512];
    snprintf(dir, sizeof dir, "%s", tmp);
    if (make_certs(dir) != 0) {
        fprintf(stderr, "openssl failed, see %s/openssl.log\n", dir);
        CHECK(0);
        return;
    }
    size_t ca_len, other_len, cc_len, ck_len, cke_len;
    char *ca = slurp(dir, "ca.crt", &ca_len), *other = slurp(dir, "other.crt", &other_len);
    char *cc = slurp(dir, "cli.crt", &cc_len), *ck = slurp(dir, "cli.key", &ck_len);
    char *cke = slurp(dir, "cli_enc.key", &cke_len);
    CHECK(ca && other && cc && ck && cke);
    if (!(ca && other && cc && ck && cke))
        return;
    membuf *m = mb_new();
    fota_http *h = NULL;
    fota_http_request req = { 0 };
    req.connect_timeout_ms = 5000;
    req.timeout_ms = 10000;

    /* server without client auth; 7 connections */
    server *s = server_new(7);
    s->resp[0] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret";
    server_tls(s, dir, 0);
    server_start(s);

    fota_tls_opts good = { 0 };
    good.ca_pem = ca;
    good.ca_pem_len = ca_len; /* no NUL counted: the port copes */
    req.tls = &good;
    req.url = url_of("https", "localhost", s->port, "/a");
    CHECK_EQ(fetch(&req, m, NULL), 0);
    CHECK(strcmp(m->data, "secret") == 0);

    fota_tls_opts wrong = { 0 };
    wrong.ca_pem = other;
    wrong.ca_pem_len = other_len;
    req.tls = &wrong;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_VERIFY);
    fota_http_free(h);

    /* right CA but the name is not in the certificate */
    req.tls = &good;
    req.url = url_of("https", "127.0.0.1", s->port, "/a");
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_VERIFY);
    CHECK(strstr(fota_http_errmsg(h), "CN") != NULL || strlen(fota_http_errmsg(h)) > 10);
    fota_http_free(h);

    /* explicit insecure mode works without a CA ... */
    fota_tls_opts insecure = { 0 };
    insecure.insecure = 1;
    req.tls = &insecure;
    m->len = 0;
    CHECK_EQ(fetch(&req, m, NULL), 0);
    CHECK(strcmp(m->data, "secret") == 0);
    /* ... but https without any options refuses to go unverified */
    req.tls = NULL;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_CERT);
    fota_http_free(h);
    /* garbage CA PEM */
    fota_tls_opts garbage = { 0 };
    garbage.ca_pem = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";
    garbage.ca_pem_len = strlen(garbage.ca_pem);
    req.tls = &garbage;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_CERT);
    CHECK(strstr(fota_http_errmsg(h), "CA") != NULL);
    fota_http_free(h);
    /* a big body over TLS, with the redirect code path: http -> https */
    server_stop(s);
    int served = atomic_load(&s->served);
    CHECK(served >= 4); /* the cert-option failures never connect */
    server_free(s);

    /* server requiring a client certificate */
    s = server_new(6);
    s->resp[0] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nmtls\r\n0\r\n\r\n";
    server_tls(s, dir, 1);
    server_start(s);
    req.url = url_of("https", "localhost", s->port, "/m");
    fota_tls_opts cli = good;
    req.tls = &cli;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT); /* no client cert */
    fota_http_free(h);
    cli.client_cert_pem = cc;
    cli.client_cert_len = cc_len;
    cli.client_key_pem = ck;
    cli.client_key_len = ck_len;
    m->len = 0;
    CHECK_EQ(fetch(&req, m, NULL), 0);
    CHECK(strcmp(m->data, "mtls") == 0);
    /* encrypted key with its password */
    cli.client_key_pem = cke;
    cli.client_key_len = cke_len;
    cli.client_key_pass = "s3cret";
    cli.client_key_pass_len = 6;
    m->len = 0;
    CHECK_EQ(fetch(&req, m, &h), 0);
    CHECK(strcmp(m->data, "mtls") == 0);
    fota_http_free(h);
    /* wrong or missing password: a clear option error before connecting */
    cli.client_key_pass = "nope";
    cli.client_key_pass_len = 4;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_CERT);
    CHECK(strstr(fota_http_errmsg(h), "password") != NULL);
    fota_http_free(h);
    cli.client_key_pass = NULL;
    cli.client_key_pass_len = 0;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK(strstr(fota_http_errmsg(h), "password") != NULL);
    fota_http_free(h);
    /* key of another pair */
    cli.client_key_pem = ca; /* not a key at all */
    cli.client_key_len = ca_len;
    CHECK_EQ(fetch(&req, m, &h), FOTA_HTTP_ERR_CONNECT);
    CHECK_EQ(fota_http_net_error(h), FOTA_NET_ERR_CERT);
    fota_http_free(h);
    server_stop(s);
    CHECK(atomic_load(&s->handshake_failed) >= 1);
    server_free(s);

    /* TLS: a POST body and a 300 KB answer, stepped with a zero budget so
     * decrypted-but-unread records must be noticed by the port's wait */
    s = server_new(1);
    size_t bn = 300 * 1024;
    char *big = malloc(bn + 100);
    int hl = sprintf(big, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", bn);
    for (size_t i = 0; i < bn; i++)
        big[hl + (int)i] = (char)('A' + (i * 13) % 26);
    s->resp[0] = big;
    s->resp_len[0] = (size_t)hl + bn;
    server_tls(s, dir, 0);
    server_start(s);
    static uint8_t post[3000];
    memset(post, 'p', sizeof post);
    req.url = url_of("https", "localhost", s->port, "/up");
    req.tls = &good;
    req.method = "PUT";
    req.body = post;
    req.body_len = sizeof post;
    CHECK_EQ(fota_http_init(&h, &req), 0);
    m->len = 0;
    int r = FOTA_HTTP_AGAIN;
    for (int i = 0; i < 200000 && r == FOTA_HTTP_AGAIN; i++) {
        size_t before = m->len;
        r = fota_http_step(h, 0, mem_sink, m);
        if (r == FOTA_HTTP_AGAIN && m->len == before)
            fota_port_sleep_ms(1);
    }
    CHECK_EQ(r, 0);
    CHECK_EQ(m->len, bn);
    CHECK(memcmp(m->data, big + hl, bn) == 0);
    fota_http_free(h);
    server_stop(s);
    CHECK(strncmp(s->req[0], "PUT /up HTTP/1.1\r\n", 18) == 0);
    CHECK(strstr(s->req[0], "\r\nContent-Length: 3000\r\n") != NULL);
    const char *e = strstr(s->req[0], "\r\n\r\n");
    CHECK(e && strlen(e + 4) == sizeof post);
    server_free(s);
    free(big);

    free(ca);
    free(other);
    free(cc);
    free(ck);
    free(cke);
    free(m);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* the test servers write to clients that gave up */
    test_port_direct();
    test_content_length();
    test_post_and_default_ua();
    test_chunked();
    test_close_delimited();
    test_range();
    test_redirects();
    test_early_close_and_refused();
    test_bad_urls();
    test_header_injection();
    test_timeouts();
    test_idle_and_min_rate();
    test_bad_heads();
    test_bad_bodies();
    test_sink_abort();
    test_big_body_steps();
    test_tls();
    return ctest_finish("test_http");
}
