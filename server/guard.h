/* The connection guard (guard.c): a deadline for each request head, so a
 * client trickling its headers cannot hold a connection, and the admission
 * of new connections: per address only those waiting for a head count, and
 * a full table makes room by closing the oldest waiting one rather than
 * refusing the newcomer (many modules share one carrier NAT address); a
 * table full of answers makes room by closing the oldest answer of the
 * address holding the most, when that is at least per_address of them
 * (slow readers from one address). */
#ifndef FOTA_SRV_GUARD_H
#define FOTA_SRV_GUARD_H

#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>

#include "head.h"

#define SRV_MAX_CONNECTIONS 1000      /* live connections, all addresses */
#define SRV_CUT_SPARE 64              /* shut down, not yet closed by libmicrohttpd */
#define SRV_GUARD_SLOTS (SRV_MAX_CONNECTIONS + SRV_CUT_SPARE)   /* libmicrohttpd's own limit */
#define SRV_PER_ADDRESS 64            /* default connections waiting for a head from one address */
#define SRV_HEADER_TIMEOUT_MS 5000    /* default: request line + headers within this */
#define SRV_FRESH_TTL 3600            /* default: a signed answer is fresh for an hour */

typedef struct srv_guard_conn {
    int used, fd;
    int in_request;               /* head complete, being answered: no deadline, never evicted */
    int served;                   /* a request ended: idle keep-alive while !in_request */
    int cut;                      /* shut down already */
    int64_t since_ms;             /* monotonic: opened, or previous request ended */
    unsigned char addr[16];       /* the peer's address (4 bytes IPv4, 16 IPv6) */
    unsigned char addr_len;
    srv_head_uri uri;             /* this request's target as first seen (api.c, head.h) */
} srv_guard_conn;

typedef struct srv_guard_counts {
    unsigned live;                /* used and not cut */
    uint64_t cut;                 /* connections shut for a late head */
    uint64_t evicted;             /* waiting connections shut to make room */
    uint64_t refused;             /* new connections shut: the table was full of requests */
    uint64_t yielded;             /* answers shut to admit a newcomer (the busiest address's oldest) */
} srv_guard_counts;

/* An answer in the table, for finding the busiest address (guard.c). */
typedef struct srv_guard_answer {
    srv_guard_conn *conn;
} srv_guard_answer;

typedef struct srv_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    int running, stop;
    unsigned header_ms, per_address, max_live;
    srv_guard_conn *conns;        /* SRV_GUARD_SLOTS slots */
    srv_guard_answer *answers;    /* SRV_GUARD_SLOTS: scratch for the busiest address */
    srv_guard_counts counts;
} srv_guard;

/* 0 = SRV_HEADER_TIMEOUT_MS, SRV_PER_ADDRESS, SRV_MAX_CONNECTIONS (at most that) */
int guard_init(srv_guard *g, unsigned header_ms, unsigned per_address, unsigned max_live);
int guard_start(srv_guard *g);
void guard_stop(srv_guard *g);                      /* also frees */
/* A connection opened from `from` (NULL: an address of its own); its slot,
 * already shut when it could not be admitted, or NULL when none is free. */
srv_guard_conn *guard_opened(srv_guard *g, int fd, const struct sockaddr *from);
/* Its head is complete (1), or its request ended (0: the next head's clock starts). */
void guard_request(srv_guard *g, srv_guard_conn *slot, int in_request);
void guard_closed(srv_guard *g, srv_guard_conn *slot);
/* The counts as of now. */
srv_guard_counts guard_counts(srv_guard *g);

#endif
