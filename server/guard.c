/* The connection guard: a whole-request deadline. libmicrohttpd's own
 * timeout is an idle timer that every byte resets, so a client sending one
 * byte every few seconds holds a connection for ever; here each connection's
 * request head (TLS handshake, request line, headers) must be complete
 * within header_ms of the connection opening or of its previous request
 * ending, whatever the rate. A late connection is shut down (shutdown(2),
 * not close: libmicrohttpd owns the descriptor and closes it when it sees
 * the end of the stream). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "port/port.h"
#include "guard.h"

int guard_init(srv_guard *g, unsigned header_ms)
{
    memset(g, 0, sizeof *g);
    g->header_ms = header_ms ? header_ms : SRV_HEADER_TIMEOUT_MS;
    g->conns = calloc(SRV_MAX_CONNECTIONS, sizeof *g->conns);
    if (!g->conns) return -1;
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    return 0;
}

/* Wakes often enough that a deadline is kept to within a tenth of it. */
static void *watch(void *arg)
{
    srv_guard *g = arg;
    unsigned tick = g->header_ms / 10 ? g->header_ms / 10 : 1;
    pthread_mutex_lock(&g->lock);
    while (!g->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)tick * 1000000L;
        until.tv_sec += until.tv_nsec / 1000000000L;
        until.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&g->wake, &g->lock, &until);
        int64_t now = (int64_t)fota_port_now_ms();
        for (size_t i = 0; i < SRV_MAX_CONNECTIONS; i++) {
            srv_guard_conn *c = &g->conns[i];
            if (!c->used || c->in_request || c->cut || now - c->since_ms < (int64_t)g->header_ms) continue;
            shutdown(c->fd, SHUT_RDWR);
            c->cut = 1;
            g->cut_total++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

int guard_start(srv_guard *g)
{
    if (pthread_create(&g->thread, NULL, watch, g)) return -1;
    g->running = 1;
    return 0;
}

void guard_stop(srv_guard *g)
{
    if (g->running) {
        pthread_mutex_lock(&g->lock);
        g->stop = 1;
        pthread_cond_broadcast(&g->wake);
        pthread_mutex_unlock(&g->lock);
        pthread_join(g->thread, NULL);
        g->running = 0;
    }
    if (g->conns) {
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
    }
    free(g->conns);
    g->conns = NULL;
}

srv_guard_conn *guard_opened(srv_guard *g, int fd)
{
    srv_guard_conn *slot = NULL;
    pthread_mutex_lock(&g->lock);
    /* As many slots as the daemon allows connections: one is always free. */
    for (size_t i = 0; i < SRV_MAX_CONNECTIONS && !slot; i++)
        if (!g->conns[i].used) slot = &g->conns[i];
    if (slot) {
        memset(slot, 0, sizeof *slot);
        slot->used = 1;
        slot->fd = fd;
        slot->since_ms = (int64_t)fota_port_now_ms();
    }
    pthread_mutex_unlock(&g->lock);
    return slot;
}

void guard_request(srv_guard *g, srv_guard_conn *slot, int in_request)
{
    if (!slot) return;
    pthread_mutex_lock(&g->lock);
    slot->in_request = in_request;
    slot->since_ms = (int64_t)fota_port_now_ms();   /* the next head's deadline starts when this request ends */
    pthread_mutex_unlock(&g->lock);
}

void guard_closed(srv_guard *g, srv_guard_conn *slot)
{
    if (!slot) return;
    pthread_mutex_lock(&g->lock);
    slot->used = 0;   /* before libmicrohttpd closes the descriptor: never shut a reused one */
    pthread_mutex_unlock(&g->lock);
}

uint64_t guard_cut_total(srv_guard *g)
{
    pthread_mutex_lock(&g->lock);
    uint64_t n = g->cut_total;
    pthread_mutex_unlock(&g->lock);
    return n;
}
