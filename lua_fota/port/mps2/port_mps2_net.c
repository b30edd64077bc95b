/* The network of the mps2 port: this board image brings no IP stack (its
 * LAN9118 is not driven), so a connection fails at its first step with
 * FOTA_NET_ERR_CONNECT and says why; packages come over the UART or a host
 * file instead. A module's port puts its modem's sockets here
 * (port_net.h: non-blocking open/step/send/recv/wait). */
#include "core/fota_err.h"
#include "port/port_net.h"

#include <stdlib.h>

struct fota_port_conn {
    int unused;
};

int fota_port_conn_open(fota_port_conn **c, const char *host, uint16_t port, const fota_tls_opts *tls)
{
    (void)port;
    (void)tls;
    if (!host || !*host)
        return FOTA_ERR_ARG;
    if (!(*c = calloc(1, sizeof **c)))
        return FOTA_ERR_NOMEM;
    return FOTA_OK;
}

int fota_port_conn_step(fota_port_conn *c, uint32_t timeout_ms)
{
    (void)c;
    (void)timeout_ms;
    return FOTA_NET_ERR_CONNECT;
}

int fota_port_conn_send(fota_port_conn *c, const void *buf, size_t len, size_t *sent)
{
    (void)c;
    (void)buf;
    (void)len;
    *sent = 0;
    return FOTA_NET_ERR_CONNECT;
}

int fota_port_conn_recv(fota_port_conn *c, void *buf, size_t len, size_t *got)
{
    (void)c;
    (void)buf;
    (void)len;
    *got = 0;
    return FOTA_NET_ERR_CONNECT;
}

int fota_port_conn_wait(fota_port_conn *c, int want_read, int want_write, uint32_t timeout_ms)
{
    (void)c;
    (void)want_read;
    (void)want_write;
    (void)timeout_ms;
    return FOTA_NET_ERR_CONNECT;
}

const char *fota_port_conn_errmsg(const fota_port_conn *c)
{
    (void)c;
    return "no network on this board (mps2 port)";
}

void fota_port_conn_close(fota_port_conn *c)
{
    free(c);
}

const char *fota_net_strerror(int rc)
{
    switch (rc) {
    case FOTA_OK: return "ok";
    case FOTA_NET_AGAIN: return "in progress";
    case FOTA_NET_ERR_CONNECT: return "connect failed";
    default: return rc <= -200 ? "network error" : fota_strerror(rc);
    }
}
