/* Port layer, part 2: network. The only code that touches sockets and TLS;
 * a device port replaces posix/port_posix_net.c. Everything is non-blocking so
 * the caller (the HTTP state machine, hence the Lua scheduler) decides how
 * long it may wait: only fota_port_conn_step() and fota_port_conn_wait()
 * ever sleep, and never longer than the timeout they are given. (DNS lookup
 * inside the first step may block; a device port should make it async.)
 *
 * Return codes: FOTA_OK (0), FOTA_NET_AGAIN (positive: not ready yet, wait
 * and retry) or a negative FOTA_NET_ERR_* / fota_err code. */
#ifndef FOTA_PORT_NET_H
#define FOTA_PORT_NET_H

#include <stddef.h>
#include <stdint.h>

typedef struct fota_port_conn fota_port_conn;

enum fota_net_rc {
    FOTA_NET_AGAIN = 1,            /* would block / still in progress */
    FOTA_NET_ERR_DNS = -200,       /* host name did not resolve */
    FOTA_NET_ERR_CONNECT = -201,   /* refused / unreachable on every address */
    FOTA_NET_ERR_TLS = -202,       /* TLS handshake failed (alert, protocol) */
    FOTA_NET_ERR_VERIFY = -203,    /* server certificate or host name rejected */
    FOTA_NET_ERR_CERT = -204,      /* bad PEM / key / password in fota_tls_opts */
    FOTA_NET_ERR_CLOSED = -205,    /* reset or broken pipe during send/recv */
    FOTA_NET_ERR_IO = -206         /* any other socket or TLS record error */
};

/* TLS options. All buffers are borrowed: they must stay valid until the
 * connection is closed. Lengths exclude any terminating NUL (a PEM string
 * need not be NUL-terminated). Each buffer may be PEM or DER. */
typedef struct fota_tls_opts {
    /* Trusted CA(s) for the server. When given, verification is REQUIRED
     * (chain and host name: DNS names in the certificate's SAN/CN). */
    const char *ca_pem;
    size_t ca_pem_len;
    /* Must be set to 1 to allow TLS with no ca_pem: the server is then NOT
     * authenticated (LuatOS http.request's default when no server_cert is
     * given). With ca_pem == NULL and insecure == 0 the connection fails
     * with FOTA_NET_ERR_CERT, so "no verification" is always a choice. */
    int insecure;
    /* Optional client certificate and its private key (both or neither). */
    const char *client_cert_pem;
    size_t client_cert_len;
    const char *client_key_pem;
    size_t client_key_len;
    /* Optional password for an encrypted client key. */
    const char *client_key_pass;
    size_t client_key_pass_len;
} fota_tls_opts;

/* Bounds on the options: longer input is rejected with FOTA_NET_ERR_CERT. */
#define FOTA_NET_MAX_PEM (64u * 1024u)
#define FOTA_NET_MAX_HOST 255u

/* Creates a connection to host:port (plain TCP when tls is NULL). Only
 * copies the host; DNS, certificate parsing and the connect itself happen in
 * fota_port_conn_step(), so every network failure is reported there (and its
 * text is in fota_port_conn_errmsg()). Fails only with FOTA_ERR_ARG or
 * FOTA_ERR_NOMEM; on success *c must be released with fota_port_conn_close. */
int fota_port_conn_open(fota_port_conn **c, const char *host, uint16_t port,
                        const fota_tls_opts *tls);

/* Drives DNS, TCP connect and the TLS handshake, waiting at most timeout_ms
 * in total. FOTA_OK when ready to send/recv, FOTA_NET_AGAIN when still in
 * progress, negative on failure (sticky: later calls return it again). */
int fota_port_conn_step(fota_port_conn *c, uint32_t timeout_ms);

/* Non-blocking send: FOTA_OK with *sent > 0, FOTA_NET_AGAIN (nothing sent),
 * or negative. After AGAIN the next call must pass the same data again
 * (a TLS record may be half written). */
int fota_port_conn_send(fota_port_conn *c, const void *buf, size_t len, size_t *sent);

/* Non-blocking receive: FOTA_OK with *got > 0, FOTA_OK with *got == 0 on an
 * orderly close by the peer, FOTA_NET_AGAIN, or negative. */
int fota_port_conn_recv(fota_port_conn *c, void *buf, size_t len, size_t *got);

/* Waits until a send or recv would make progress, at most timeout_ms.
 * FOTA_OK ready (or an error is pending: the next send/recv reports it),
 * FOTA_NET_AGAIN on timeout, negative on failure. TLS may need the other
 * direction than the one asked for; the port takes care of that. */
int fota_port_conn_wait(fota_port_conn *c, int want_read, int want_write, uint32_t timeout_ms);

/* Human-readable detail of the last failure ("" when none). */
const char *fota_port_conn_errmsg(const fota_port_conn *c);

/* Closes the socket (TLS close_notify is attempted, never waited for) and
 * frees everything. NULL is allowed. */
void fota_port_conn_close(fota_port_conn *c);

const char *fota_net_strerror(int rc);

#endif
