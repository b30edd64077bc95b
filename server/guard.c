/* The connection guard: a whole-request deadline. libmicrohttpd's own
 * timeout is an idle timer that every byte resets, so a client sending one
 * byte every few seconds holds a connection for ever; here each connection's
 * request head (TLS handshake, request line, headers) must be complete
 * within header_ms of the connection opening or of its previous request
 * ending, whatever the rate. A late connection is shut down (shutdown(2),
 * not close: libmicrohttpd owns the descriptor and closes it when it sees
 * the end of the stream).
 *
 * Admission (guard_opened): libmicrohttpd's per-IP limit refuses at accept,
 * whatever the connections from that address are doing, so modules behind
 * one carrier NAT were refused while slow clients from the same address held
 * its share. Here only connections waiting for a head (new, or idle between
 * keep-alive requests) count per address, and a connection being answered
 * is never closed for a waiting one. When an address has per_address
 * waiting, or the table holds max_live (SRV_MAX_CONNECTIONS) live ones, the oldest waiting one (of that
 * address, or of any) is shut to make room, an idle keep-alive one before
 * one still sending its head: a client cannot keep a newcomer out, only
 * race it, and a newcomer that sends its head at once is never the oldest.
 *
 * Slow readers: a client that sends its head at once and then reads the
 * answer slowly holds a connection being answered, which the head deadline
 * no longer covers (libmicrohttpd's 30 s idle timer does only when nothing
 * moves at all). Such a connection is closed only when the table is full of
 * answers and a newcomer from another address arrives: then the address
 * holding the most answers, if it holds at least per_address, loses its
 * oldest one (a slow reader's answer is the oldest: a module on a 2G link
 * takes minutes for a package, a slow reader holds it for hours; the module
 * resumes with a Range request). No rate is guessed, nothing is closed while
 * there is room, and an address with fewer than per_address answers (a NAT
 * with a few modules downloading) is never touched. Only a table full of
 * answers from addresses each below per_address, or from the newcomer's own
 * address, refuses the newcomer. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "port/port.h"
#include "guard.h"

int guard_init(srv_guard *g, unsigned header_ms, unsigned per_address, unsigned max_live)
{
    memset(g, 0, sizeof *g);
    g->header_ms = header_ms ? header_ms : SRV_HEADER_TIMEOUT_MS;
    g->per_address = per_address ? per_address : SRV_PER_ADDRESS;
    g->max_live = max_live && max_live < SRV_MAX_CONNECTIONS ? max_live : SRV_MAX_CONNECTIONS;
    g->conns = calloc(SRV_GUARD_SLOTS, sizeof *g->conns);
    g->answers = calloc(SRV_GUARD_SLOTS, sizeof *g->answers);
    if (!g->conns || !g->answers) {
        free(g->conns);
        free(g->answers);
        g->conns = NULL;
        g->answers = NULL;
        return -1;
    }
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, NULL);
    return 0;
}

/* Under the lock. */
static void cut(srv_guard *g, srv_guard_conn *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->cut = 1;
    g->counts.live--;
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
        for (size_t i = 0; i < SRV_GUARD_SLOTS; i++) {
            srv_guard_conn *c = &g->conns[i];
            if (!c->used || c->in_request || c->cut || now - c->since_ms < (int64_t)g->header_ms) continue;
            cut(g, c);
            g->counts.cut++;
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
    free(g->answers);
    g->conns = NULL;
    g->answers = NULL;
}

/* The peer's address bytes (IPv4 or IPv6), 0 for anything else. */
static unsigned char address_of(const struct sockaddr *from, unsigned char out[16])
{
    if (from && from->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)from)->sin_addr, 4);
        return 4;
    }
    if (from && from->sa_family == AF_INET6) {
        memcpy(out, &((const struct sockaddr_in6 *)from)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/* Of the waiting connections (of `addr`, or of all when addr_len is 0): the
 * oldest idle keep-alive one, else the oldest still sending its head, else
 * NULL. *waiting gets how many there are. */
static srv_guard_conn *oldest_waiting(srv_guard *g, const unsigned char *addr, unsigned char addr_len,
                                      unsigned *waiting)
{
    srv_guard_conn *idle = NULL, *head = NULL;
    *waiting = 0;
    for (size_t i = 0; i < SRV_GUARD_SLOTS; i++) {
        srv_guard_conn *c = &g->conns[i];
        if (!c->used || c->cut || c->in_request) continue;
        if (addr_len && (c->addr_len != addr_len || memcmp(c->addr, addr, addr_len))) continue;
        ++*waiting;
        srv_guard_conn **best = c->served ? &idle : &head;
        if (!*best || c->since_ms < (*best)->since_ms) *best = c;
    }
    return idle ? idle : head;
}

/* Answers ordered by address, then oldest first. */
static int by_address_then_age(const void *a, const void *b)
{
    const srv_guard_conn *x = ((const srv_guard_answer *)a)->conn, *y = ((const srv_guard_answer *)b)->conn;
    if (x->addr_len != y->addr_len) return x->addr_len < y->addr_len ? -1 : 1;
    int c = memcmp(x->addr, y->addr, x->addr_len);
    if (c) return c;
    return x->since_ms < y->since_ms ? -1 : x->since_ms > y->since_ms;
}

/* Under the lock, the table full of answers: the oldest answer of the
 * address holding the most (at least per_address, and not `addr`), or NULL.
 * Sorting costs O(n log n) over the table, and only when it is full. */
static srv_guard_conn *busiest_oldest_answer(srv_guard *g, const unsigned char *addr, unsigned char addr_len)
{
    size_t n = 0;
    for (size_t i = 0; i < SRV_GUARD_SLOTS; i++) {
        srv_guard_conn *c = &g->conns[i];
        if (c->used && !c->cut && c->in_request && c->addr_len) g->answers[n++].conn = c;
    }
    qsort(g->answers, n, sizeof *g->answers, by_address_then_age);
    srv_guard_conn *best = NULL;
    size_t best_n = 0;
    for (size_t i = 0, j; i < n; i = j) {
        const srv_guard_conn *first = g->answers[i].conn;
        for (j = i + 1; j < n && g->answers[j].conn->addr_len == first->addr_len &&
                        !memcmp(g->answers[j].conn->addr, first->addr, first->addr_len); j++) {}
        if (first->addr_len == addr_len && !memcmp(first->addr, addr, addr_len)) continue;
        if (j - i >= g->per_address && j - i > best_n) {
            best_n = j - i;
            best = g->answers[i].conn;
        }
    }
    return best;
}

srv_guard_conn *guard_opened(srv_guard *g, int fd, const struct sockaddr *from)
{
    srv_guard_conn *slot = NULL;
    unsigned char addr[16];
    unsigned char addr_len = address_of(from, addr);
    unsigned waiting;
    pthread_mutex_lock(&g->lock);
    /* As many slots as libmicrohttpd allows connections: one is always free. */
    for (size_t i = 0; i < SRV_GUARD_SLOTS && !slot; i++)
        if (!g->conns[i].used) slot = &g->conns[i];
    if (slot) {
        srv_guard_conn *old = addr_len ? oldest_waiting(g, addr, addr_len, &waiting) : NULL;
        if (old && waiting >= g->per_address) {
            cut(g, old);
            g->counts.evicted++;
        }
        int admit = 1;
        if (g->counts.live >= g->max_live) {
            old = oldest_waiting(g, NULL, 0, &waiting);
            if (old) {
                cut(g, old);
                g->counts.evicted++;
            } else if (addr_len && (old = busiest_oldest_answer(g, addr, addr_len)) != NULL) {
                cut(g, old);
                g->counts.yielded++;
            } else {
                admit = 0;
            }
        }
        memset(slot, 0, sizeof *slot);
        slot->used = 1;
        slot->fd = fd;
        slot->since_ms = (int64_t)fota_port_now_ms();
        memcpy(slot->addr, addr, addr_len);
        slot->addr_len = addr_len;
        g->counts.live++;
        if (!admit) {
            cut(g, slot);
            g->counts.refused++;
        }
    }
    pthread_mutex_unlock(&g->lock);
    return slot;
}

void guard_request(srv_guard *g, srv_guard_conn *slot, int in_request)
{
    if (!slot) return;
    pthread_mutex_lock(&g->lock);
    slot->in_request = in_request;
    if (!in_request) slot->served = 1;
    slot->since_ms = (int64_t)fota_port_now_ms();   /* the next head's deadline starts when this request ends */
    pthread_mutex_unlock(&g->lock);
}

void guard_closed(srv_guard *g, srv_guard_conn *slot)
{
    if (!slot) return;
    pthread_mutex_lock(&g->lock);
    if (slot->used && !slot->cut) g->counts.live--;
    slot->used = 0;   /* before libmicrohttpd closes the descriptor: never shut a reused one */
    pthread_mutex_unlock(&g->lock);
}

srv_guard_counts guard_counts(srv_guard *g)
{
    pthread_mutex_lock(&g->lock);
    srv_guard_counts n = g->counts;
    pthread_mutex_unlock(&g->lock);
    return n;
}
