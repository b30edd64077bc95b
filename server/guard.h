/* The connection guard (guard.c): a deadline for each request head, so a
 * client trickling its headers cannot hold a connection. */
#ifndef FOTA_SRV_GUARD_H
#define FOTA_SRV_GUARD_H

#include <pthread.h>
#include <stdint.h>

#define SRV_MAX_CONNECTIONS 1000      /* the daemon's limit, all addresses */
#define SRV_PER_ADDRESS 64            /* default connections from one address (NATs share one) */
#define SRV_HEADER_TIMEOUT_MS 5000    /* default: request line + headers within this */
#define SRV_FRESH_TTL 3600            /* default: a signed answer is fresh for an hour */

typedef struct srv_guard_conn {
    int used, fd;
    int in_request;               /* head complete, being answered: no deadline */
    int cut;                      /* shut down already */
    int64_t since_ms;             /* monotonic: opened, or previous request ended */
} srv_guard_conn;

typedef struct srv_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    unsigned header_ms;
    srv_guard_conn *conns;        /* SRV_MAX_CONNECTIONS slots */
    uint64_t cut_total;           /* connections shut for a late head */
} srv_guard;

int guard_init(srv_guard *g, unsigned header_ms);   /* 0 = SRV_HEADER_TIMEOUT_MS */
int guard_start(srv_guard *g);
void guard_stop(srv_guard *g);                      /* also frees */
/* A connection opened (its slot, or NULL when none is free: not watched). */
srv_guard_conn *guard_opened(srv_guard *g, int fd);
/* Its head is complete (1), or its request ended (0: the next head's clock starts). */
void guard_request(srv_guard *g, srv_guard_conn *slot, int in_request);
void guard_closed(srv_guard *g, srv_guard_conn *slot);
uint64_t guard_cut_total(srv_guard *g);

#endif
