/* POSIX sockets + mbedTLS 2.28 implementation of port_net.h.
 * Sockets are non-blocking from creation; mbedTLS talks to them through our
 * own BIO callbacks so that WANT_READ/WANT_WRITE map onto poll(). */
#include "core/fota_err.h"
#include "port/port.h"
#include "port/port_net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h> /* only for the MBEDTLS_ERR_NET_* codes */
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

enum conn_state { ST_RESOLVE, ST_CONNECTING, ST_HANDSHAKE, ST_READY, ST_FAILED };

/* Bounds the work a single step() does even if every poll returns at once. */
#define STEP_MAX_ROUNDS 64
#define EINTR_RETRIES 8

struct fota_port_conn {
    int fd;
    int state;
    int err;              /* sticky error once state == ST_FAILED */
    int use_tls;
    int tls_set;          /* ssl/conf were set up (close_notify makes sense) */
    int want_read;        /* direction TLS asked for in its last WANT_* */
    int want_write;
    int sys_errno;        /* errno seen by the BIO callbacks, for messages */
    uint16_t port;
    char host[FOTA_NET_MAX_HOST + 1];
    fota_tls_opts tls;    /* copy of the struct; the buffers are borrowed */
    struct addrinfo *ai_list;
    struct addrinfo *ai_next;
    int last_connect_errno;
    mbedtls_ssl_context ssl;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt cert;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    char errmsg[200];
};

static int conn_fail(fota_port_conn *c, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
    va_end(ap);
    c->state = ST_FAILED;
    c->err = rc;
    return rc;
}

static uint32_t remaining_ms(uint64_t start, uint32_t timeout_ms)
{
    uint64_t el = fota_port_now_ms() - start;
    return el >= timeout_ms ? 0 : (uint32_t)(timeout_ms - el);
}

/* poll() one fd, retrying EINTR with the time left. 1 ready, 0 timeout,
 * -1 error (errno set). */
static int poll_fd(int fd, short events, uint32_t timeout_ms, short *revents)
{
    uint64_t start = fota_port_now_ms();
    for (int i = 0; i < EINTR_RETRIES; i++) {
        struct pollfd p = { .fd = fd, .events = events, .revents = 0 };
        uint32_t left = remaining_ms(start, timeout_ms);
        int r = poll(&p, 1, left > 0x7fffffffu ? 0x7fffffff : (int)left);
        if (r >= 0) {
            if (revents)
                *revents = p.revents;
            return r > 0 ? 1 : 0;
        }
        if (errno != EINTR)
            return -1;
    }
    return 0;
}

int fota_port_conn_open(fota_port_conn **c, const char *host, uint16_t port,
                        const fota_tls_opts *tls)
{
    if (!c)
        return FOTA_ERR_ARG;
    *c = NULL;
    if (!host || port == 0)
        return FOTA_ERR_ARG;
    size_t hl = strlen(host);
    if (hl == 0 || hl > FOTA_NET_MAX_HOST)
        return FOTA_ERR_ARG;
    fota_port_conn *n = calloc(1, sizeof *n);
    if (!n)
        return FOTA_ERR_NOMEM;
    n->fd = -1;
    n->state = ST_RESOLVE;
    n->port = port;
    memcpy(n->host, host, hl + 1);
    if (tls) {
        n->use_tls = 1;
        n->tls = *tls;
    }
    /* Init everything now so close() can free unconditionally. */
    mbedtls_ssl_init(&n->ssl);
    mbedtls_ssl_config_init(&n->conf);
    mbedtls_x509_crt_init(&n->ca);
    mbedtls_x509_crt_init(&n->cert);
    mbedtls_pk_init(&n->key);
    mbedtls_entropy_init(&n->entropy);
    mbedtls_ctr_drbg_init(&n->drbg);
    *c = n;
    return FOTA_OK;
}

/* ---- connect -------------------------------------------------------- */

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int fdfl = fcntl(fd, F_GETFD);
    if (fdfl < 0 || fcntl(fd, F_SETFD, fdfl | FD_CLOEXEC) < 0)
        return -1;
    return 0;
}

static void close_fd(fota_port_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/* Connected: go on with TLS or be ready. */
static int after_connect(fota_port_conn *c)
{
    freeaddrinfo(c->ai_list); /* no fallback needed any more */
    c->ai_list = c->ai_next = NULL;
    c->state = c->use_tls ? ST_HANDSHAKE : ST_READY;
    return FOTA_OK;
}

/* Starts a connect to the next address; falls through refused addresses
 * (e.g. localhost on ::1 when the server only listens on 127.0.0.1). */
static int start_next_addr(fota_port_conn *c)
{
    while (c->ai_next) {
        struct addrinfo *a = c->ai_next;
        c->ai_next = a->ai_next;
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            c->last_connect_errno = errno;
            continue;
        }
        if (set_nonblock(fd) < 0) {
            c->last_connect_errno = errno;
            close(fd);
            continue;
        }
        c->fd = fd;
        /* EINTR is not retried: the connect goes on asynchronously. */
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r == 0)
            return after_connect(c);
        if (errno == EINPROGRESS || errno == EINTR) {
            c->state = ST_CONNECTING;
            return FOTA_OK;
        }
        c->last_connect_errno = errno;
        close_fd(c);
    }
    return conn_fail(c, FOTA_NET_ERR_CONNECT, "connect to %s:%u failed: %s", c->host,
                     (unsigned)c->port,
                     c->last_connect_errno ? strerror(c->last_connect_errno) : "no address");
}

static int resolve(fota_port_conn *c)
{
    struct addrinfo hints;
    char portstr[8];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(portstr, sizeof portstr, "%u", (unsigned)c->port);
    int r = getaddrinfo(c->host, portstr, &hints, &c->ai_list);
    if (r != 0 || !c->ai_list) {
        c->ai_list = NULL;
        return conn_fail(c, FOTA_NET_ERR_DNS, "cannot resolve %s: %s", c->host,
                         r ? gai_strerror(r) : "no address");
    }
    c->ai_next = c->ai_list;
    return start_next_addr(c);
}

/* ---- TLS ------------------------------------------------------------ */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    fota_port_conn *c = ctx;
    if (len > 0x7fffffff)
        len = 0x7fffffff; /* the return value is an int */
    for (int i = 0; i < EINTR_RETRIES; i++) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        c->sys_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_WRITE;
        if (errno == EPIPE || errno == ECONNRESET)
            return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_SEND_FAILED;
    }
    return MBEDTLS_ERR_SSL_WANT_WRITE;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    fota_port_conn *c = ctx;
    if (len > 0x7fffffff)
        len = 0x7fffffff;
    for (int i = 0; i < EINTR_RETRIES; i++) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0)
            return (int)n;
        if (errno == EINTR)
            continue;
        c->sys_errno = errno;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return MBEDTLS_ERR_SSL_WANT_READ;
        if (errno == ECONNRESET)
            return MBEDTLS_ERR_NET_CONN_RESET;
        return MBEDTLS_ERR_NET_RECV_FAILED;
    }
    return MBEDTLS_ERR_SSL_WANT_READ;
}

static int contains_pem(const char *buf, size_t len)
{
    static const char tag[] = "-----BEGIN";
    size_t tl = sizeof tag - 1;
    for (size_t i = 0; i + tl <= len; i++)
        if (memcmp(buf + i, tag, tl) == 0)
            return 1;
    return 0;
}

/* mbedTLS wants PEM NUL-terminated with the NUL counted in the length; our
 * API takes plain (buffer, length), so parse from a bounded copy. */
static unsigned char *pem_copy(const char *buf, size_t len, size_t *out_len)
{
    unsigned char *p = malloc(len + 1);
    if (!p)
        return NULL;
    memcpy(p, buf, len);
    p[len] = 0;
    *out_len = contains_pem(buf, len) ? len + 1 : len;
    return p;
}

static int parse_crt(fota_port_conn *c, mbedtls_x509_crt *crt, const char *buf, size_t len,
                     const char *what)
{
    if (len == 0 || len > FOTA_NET_MAX_PEM)
        return conn_fail(c, FOTA_NET_ERR_CERT, "%s: empty or larger than %u bytes", what,
                         FOTA_NET_MAX_PEM);
    size_t l;
    unsigned char *p = pem_copy(buf, len, &l);
    if (!p)
        return conn_fail(c, FOTA_ERR_NOMEM, "%s: out of memory", what);
    int r = mbedtls_x509_crt_parse(crt, p, l);
    free(p);
    if (r != 0) {
        char e[100];
        if (r > 0)
            snprintf(e, sizeof e, "%d certificate(s) did not parse", r);
        else
            mbedtls_strerror(r, e, sizeof e);
        return conn_fail(c, FOTA_NET_ERR_CERT, "%s: bad certificate: %s", what, e);
    }
    return FOTA_OK;
}

static int parse_key(fota_port_conn *c)
{
    const fota_tls_opts *o = &c->tls;
    if (o->client_key_len == 0 || o->client_key_len > FOTA_NET_MAX_PEM)
        return conn_fail(c, FOTA_NET_ERR_CERT, "client key: empty or too large");
    size_t l;
    unsigned char *p = pem_copy(o->client_key_pem, o->client_key_len, &l);
    if (!p)
        return conn_fail(c, FOTA_ERR_NOMEM, "client key: out of memory");
    int r = mbedtls_pk_parse_key(&c->key, p, l, (const unsigned char *)o->client_key_pass,
                                 o->client_key_pass ? o->client_key_pass_len : 0);
    mbedtls_platform_zeroize(p, o->client_key_len + 1); /* secret material */
    free(p);
    if (r == MBEDTLS_ERR_PK_PASSWORD_REQUIRED)
        return conn_fail(c, FOTA_NET_ERR_CERT, "client key is encrypted: password required");
    if (r == MBEDTLS_ERR_PK_PASSWORD_MISMATCH)
        return conn_fail(c, FOTA_NET_ERR_CERT, "client key: wrong password");
    if (r != 0) {
        char e[100];
        mbedtls_strerror(r, e, sizeof e);
        return conn_fail(c, FOTA_NET_ERR_CERT, "client key: %s", e);
    }
    if (mbedtls_pk_check_pair(&c->cert.pk, &c->key) != 0)
        return conn_fail(c, FOTA_NET_ERR_CERT, "client key does not match client certificate");
    return FOTA_OK;
}

static int tls_err(fota_port_conn *c, int rc, const char *what, int mret)
{
    char e[100];
    mbedtls_strerror(mret, e, sizeof e);
    return conn_fail(c, rc, "%s: %s (-0x%04x)", what, e, (unsigned)-mret);
}

static int tls_setup(fota_port_conn *c)
{
    const fota_tls_opts *o = &c->tls;
    int r;
    if (o->ca_pem) {
        if ((r = parse_crt(c, &c->ca, o->ca_pem, o->ca_pem_len, "CA")) < 0)
            return r;
    } else if (!o->insecure) {
        return conn_fail(c, FOTA_NET_ERR_CERT,
                         "no CA given and insecure not set: refusing unverified TLS");
    }
    if (!o->client_cert_pem != !o->client_key_pem)
        return conn_fail(c, FOTA_NET_ERR_CERT, "client certificate and key must come together");
    if (o->client_cert_pem) {
        if ((r = parse_crt(c, &c->cert, o->client_cert_pem, o->client_cert_len,
                           "client certificate")) < 0)
            return r;
        if ((r = parse_key(c)) < 0)
            return r;
    }
    static const char pers[] = "luat-fota";
    r = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
                              (const unsigned char *)pers, sizeof pers - 1);
    if (r != 0)
        return tls_err(c, FOTA_NET_ERR_TLS, "rng seed", r);
    r = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0)
        return tls_err(c, FOTA_NET_ERR_TLS, "tls config", r);
    mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
                                 MBEDTLS_SSL_MINOR_VERSION_3); /* TLS 1.2+ */
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    if (o->ca_pem) {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    } else {
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    }
    if (o->client_cert_pem) {
        r = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key);
        if (r != 0)
            return tls_err(c, FOTA_NET_ERR_CERT, "client certificate", r);
    }
    r = mbedtls_ssl_setup(&c->ssl, &c->conf);
    if (r != 0)
        return tls_err(c, FOTA_NET_ERR_TLS, "tls setup", r);
    /* SNI, and the name checked against the certificate when verifying. */
    r = mbedtls_ssl_set_hostname(&c->ssl, c->host);
    if (r != 0)
        return tls_err(c, FOTA_NET_ERR_TLS, "tls hostname", r);
    mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    c->tls_set = 1;
    return FOTA_OK;
}

static int handshake_failed(fota_port_conn *c, int r)
{
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        char info[160];
        uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
        int n = mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
        if (n < 0)
            snprintf(info, sizeof info, "flags 0x%08x", (unsigned)flags);
        /* verify_info ends lines with '\n'; keep the message one line */
        for (char *p = info; *p; p++)
            if (*p == '\n')
                *p = (p[1] ? ';' : '\0');
        return conn_fail(c, FOTA_NET_ERR_VERIFY, "server certificate rejected: %s", info);
    }
    if (r == MBEDTLS_ERR_NET_CONN_RESET || r == MBEDTLS_ERR_SSL_CONN_EOF)
        return conn_fail(c, FOTA_NET_ERR_TLS, "tls handshake: connection closed by peer");
    return tls_err(c, FOTA_NET_ERR_TLS, "tls handshake", r);
}

int fota_port_conn_step(fota_port_conn *c, uint32_t timeout_ms)
{
    if (!c)
        return FOTA_ERR_ARG;
    uint64_t start = fota_port_now_ms();
    for (int round = 0; round < STEP_MAX_ROUNDS; round++) {
        int r;
        short rev = 0;
        switch (c->state) {
        case ST_FAILED:
            return c->err;
        case ST_READY:
            return FOTA_OK;
        case ST_RESOLVE:
            /* Bad TLS options fail here, before any network traffic. */
            if (c->use_tls && !c->tls_set && (r = tls_setup(c)) < 0)
                return r;
            if ((r = resolve(c)) < 0)
                return r;
            break;
        case ST_CONNECTING:
            r = poll_fd(c->fd, POLLOUT, remaining_ms(start, timeout_ms), &rev);
            if (r < 0)
                return conn_fail(c, FOTA_NET_ERR_CONNECT, "poll: %s", strerror(errno));
            if (r == 0)
                return FOTA_NET_AGAIN;
            {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                    soerr = errno;
                if (soerr != 0) {
                    c->last_connect_errno = soerr;
                    close_fd(c);
                    if ((r = start_next_addr(c)) < 0)
                        return r;
                    break;
                }
            }
            if ((r = after_connect(c)) < 0)
                return r;
            break;
        case ST_HANDSHAKE:
            r = mbedtls_ssl_handshake(&c->ssl);
            if (r == 0) {
                c->state = ST_READY;
                c->want_read = c->want_write = 0;
                return FOTA_OK;
            }
            if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE)
                return handshake_failed(c, r);
            {
                uint32_t left = remaining_ms(start, timeout_ms);
                if (left == 0)
                    return FOTA_NET_AGAIN;
                short ev = r == MBEDTLS_ERR_SSL_WANT_READ ? POLLIN : POLLOUT;
                r = poll_fd(c->fd, ev, left, &rev);
                if (r < 0)
                    return conn_fail(c, FOTA_NET_ERR_TLS, "poll: %s", strerror(errno));
                if (r == 0)
                    return FOTA_NET_AGAIN;
            }
            break;
        default:
            return conn_fail(c, FOTA_ERR_STATE, "bad connection state");
        }
    }
    return c->state == ST_READY ? FOTA_OK : FOTA_NET_AGAIN;
}

/* ---- data ----------------------------------------------------------- */

static int io_fail(fota_port_conn *c, int mret, int sys, const char *what)
{
    if (mret == MBEDTLS_ERR_NET_CONN_RESET || sys == EPIPE || sys == ECONNRESET)
        return conn_fail(c, FOTA_NET_ERR_CLOSED, "%s: connection reset by peer", what);
    if (mret)
        return tls_err(c, FOTA_NET_ERR_IO, what, mret);
    return conn_fail(c, FOTA_NET_ERR_IO, "%s: %s", what, strerror(sys));
}

int fota_port_conn_send(fota_port_conn *c, const void *buf, size_t len, size_t *sent)
{
    if (!c || !sent || (!buf && len))
        return FOTA_ERR_ARG;
    *sent = 0;
    if (c->state == ST_FAILED)
        return c->err;
    if (c->state != ST_READY)
        return FOTA_ERR_STATE;
    if (len == 0)
        return FOTA_OK;
    if (c->use_tls) {
        int r = mbedtls_ssl_write(&c->ssl, buf, len);
        c->want_read = r == MBEDTLS_ERR_SSL_WANT_READ;
        c->want_write = r == MBEDTLS_ERR_SSL_WANT_WRITE;
        if (r > 0) {
            *sent = (size_t)r;
            return FOTA_OK;
        }
        if (c->want_read || c->want_write || r == 0)
            return FOTA_NET_AGAIN;
        return io_fail(c, r, c->sys_errno, "tls send");
    }
    for (int i = 0; i < EINTR_RETRIES; i++) {
        ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            *sent = (size_t)n;
            return FOTA_OK;
        }
        if (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK)
            return FOTA_NET_AGAIN;
        if (errno != EINTR)
            return io_fail(c, 0, errno, "send");
    }
    return FOTA_NET_AGAIN;
}

int fota_port_conn_recv(fota_port_conn *c, void *buf, size_t len, size_t *got)
{
    if (!c || !got || !buf || len == 0)
        return FOTA_ERR_ARG;
    *got = 0;
    if (c->state == ST_FAILED)
        return c->err;
    if (c->state != ST_READY)
        return FOTA_ERR_STATE;
    if (c->use_tls) {
        int r = mbedtls_ssl_read(&c->ssl, buf, len);
        c->want_read = r == MBEDTLS_ERR_SSL_WANT_READ;
        c->want_write = r == MBEDTLS_ERR_SSL_WANT_WRITE;
        if (r > 0) {
            *got = (size_t)r;
            return FOTA_OK;
        }
        /* A TCP close without close_notify is taken as an orderly close:
         * many servers skip it, and HTTP framing (Content-Length, chunked)
         * still catches truncation where the length is known. */
        if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF)
            return FOTA_OK;
        if (c->want_read || c->want_write)
            return FOTA_NET_AGAIN;
        return io_fail(c, r, c->sys_errno, "tls recv");
    }
    for (int i = 0; i < EINTR_RETRIES; i++) {
        ssize_t n = recv(c->fd, buf, len, 0);
        if (n >= 0) {
            *got = (size_t)n;
            return FOTA_OK;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return FOTA_NET_AGAIN;
        if (errno != EINTR)
            return io_fail(c, 0, errno, "recv");
    }
    return FOTA_NET_AGAIN;
}

int fota_port_conn_wait(fota_port_conn *c, int want_read, int want_write, uint32_t timeout_ms)
{
    if (!c)
        return FOTA_ERR_ARG;
    if (c->state == ST_FAILED)
        return c->err;
    if (c->state != ST_READY)
        return FOTA_ERR_STATE;
    /* Decrypted or already-buffered TLS data never shows up in poll(). */
    if (c->use_tls && want_read &&
        (mbedtls_ssl_get_bytes_avail(&c->ssl) > 0 || mbedtls_ssl_check_pending(&c->ssl)))
        return FOTA_OK;
    short ev = 0;
    if (want_read || c->want_read)
        ev |= POLLIN;
    if (want_write || c->want_write)
        ev |= POLLOUT;
    if (!ev)
        return FOTA_OK;
    short rev = 0;
    int r = poll_fd(c->fd, ev, timeout_ms, &rev);
    if (r < 0)
        return conn_fail(c, FOTA_NET_ERR_IO, "poll: %s", strerror(errno));
    return r > 0 ? FOTA_OK : FOTA_NET_AGAIN;
}

const char *fota_port_conn_errmsg(const fota_port_conn *c)
{
    return c ? c->errmsg : "";
}

void fota_port_conn_close(fota_port_conn *c)
{
    if (!c)
        return;
    if (c->tls_set && c->state == ST_READY && c->fd >= 0)
        (void)mbedtls_ssl_close_notify(&c->ssl); /* best effort, non-blocking */
    close_fd(c);
    if (c->ai_list)
        freeaddrinfo(c->ai_list);
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->cert);
    mbedtls_pk_free(&c->key);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    mbedtls_platform_zeroize(c, sizeof *c);
    free(c);
}

const char *fota_net_strerror(int rc)
{
    switch (rc) {
    case FOTA_OK: return "ok";
    case FOTA_NET_AGAIN: return "in progress";
    case FOTA_NET_ERR_DNS: return "host name did not resolve";
    case FOTA_NET_ERR_CONNECT: return "connect failed";
    case FOTA_NET_ERR_TLS: return "TLS handshake failed";
    case FOTA_NET_ERR_VERIFY: return "server certificate rejected";
    case FOTA_NET_ERR_CERT: return "bad TLS certificate, key or password";
    case FOTA_NET_ERR_CLOSED: return "connection reset";
    case FOTA_NET_ERR_IO: return "network I/O error";
    default: return fota_strerror(rc);
    }
}
