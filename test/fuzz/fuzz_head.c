/* libFuzzer target for fota-server's request side: the input is what a
 * client sends on one connection, handed to a real libmicrohttpd daemon
 * (the system's 0.9.75, as fota-server runs it: same memory limit, the same
 * URI callback and head check, server/head.c) over a socketpair. The first
 * request the access handler sees is judged twice, by srv_head_check over
 * the library's parsed buffer and by an independent strict reading of the
 * raw input here; the target aborts when they differ (a head refused that
 * is strict, or a head passed that is not), or when the sanitizers object.
 *   cmake -DFOTA_FUZZ=ON -DCMAKE_C_COMPILER=clang ... && ./fuzz_head -max_total_time=10 -detect_leaks=0 [corpus]
 * The reference reads the raw bytes strictly, skipping empty lines before
 * the request line as the library does. The check's documented gap
 * (head.h): NUL bytes, and a line of just ":" after a field, become zeros
 * that stand in for a CR's, so an input holding one is held only to "a
 * strict head is never refused". */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "head.h"

#define CONN_MEMORY (16 * 1024)   /* as server/api.c */

static struct {
    pthread_mutex_t lock;
    struct MHD_Daemon *d;
    srv_head_uri uri;             /* one connection at a time */
    int judged;                   /* the handler saw the first request */
    const char *why;              /* its verdict: NULL = strict */
} g = { PTHREAD_MUTEX_INITIALIZER, NULL, { NULL, 0, 0 }, 0, NULL };

static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    pthread_mutex_lock(&g.lock);
    srv_head_uri_seen(&g.uri, uri);
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    (void)cls;
    (void)url;
    (void)upload_data;
    (void)upload_data_size;
    if (*con_cls) return MHD_NO;   /* a body follows: not this target's concern */
    *con_cls = c;
    pthread_mutex_lock(&g.lock);
    const char *why = srv_head_check_connection(c, method, version, &g.uri);
    if (!g.judged) {
        g.judged = 1;
        g.why = why;
    }
    pthread_mutex_unlock(&g.lock);
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    enum MHD_Result ret = MHD_queue_response(c, why ? MHD_HTTP_BAD_REQUEST : MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the reference: a strict reading of the raw bytes ---- */

static int tchar(unsigned char ch)
{
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The line at p: its length before its CRLF; -1 when it has none, or a bare LF first. */
static long line_at(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (p[i + 1] != '\n') continue;
        return p[i] == '\r' ? (long)i : -1;
    }
    return -1;
}

static int strict_value(const uint8_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(v[i] == ' ' || v[i] == '\t' || (v[i] >= 0x21 && v[i] != 0x7f))) return 0;
    return 1;
}

/* 1 when the first head (after the lines the library skips) is strict. */
static int reference_strict(const uint8_t *in, size_t n)
{
    size_t at = 0;
    /* skipped lines: empty, ended by LF or CRLF (the library's own line ends) */
    for (;;) {
        const uint8_t *lf = memchr(in + at, '\n', n - at);
        if (!lf) return 0;
        size_t len = (size_t)(lf - (in + at));
        int empty = len == 0 || (len == 1 && in[at] == '\r');
        if (!empty) break;
        at += len + 1;
    }
    size_t start = at;
    long len = line_at(in + at, n - at);
    if (len < 0) return 0;
    const uint8_t *l = in + at;
    size_t m = 0;
    while (m < (size_t)len && tchar(l[m])) m++;
    if (!m || m >= (size_t)len || l[m] != ' ') return 0;
    size_t t = m + 1, t0 = t;
    while (t < (size_t)len && l[t] >= 0x21 && l[t] != 0x7f) t++;   /* VCHAR and raw UTF-8 (obs-text) */
    if (t == t0 || t >= (size_t)len || l[t] != ' ') return 0;
    if ((size_t)len - (t + 1) != 8 || memcmp(l + t + 1, "HTTP/1.", 7) || l[t + 8] < '0' || l[t + 8] > '9') return 0;
    at += (size_t)len + 2;
    unsigned fields = 0, lengths = 0, hosts = 0, codings = 0;
    for (;;) {
        len = line_at(in + at, n - at);
        if (len < 0) return 0;
        l = in + at;
        at += (size_t)len + 2;
        if (len == 0) break;   /* the blank line */
        size_t k = 0;
        while (k < (size_t)len && tchar(l[k])) k++;
        if (!k || k >= (size_t)len || l[k] != ':') return 0;
        size_t v = k + 1;
        while (v < (size_t)len && (l[v] == ' ' || l[v] == '\t')) v++;
        if (!strict_value(l + v, (size_t)len - v)) return 0;
        if (++fields > SRV_HEAD_FIELDS_MAX) return 0;
        if (k == 14 && !strncasecmp((const char *)l, "Content-Length", 14)) {
            if (++lengths > 1 || v == (size_t)len) return 0;
            for (size_t i = v; i < (size_t)len; i++)
                if (l[i] < '0' || l[i] > '9') return 0;
        }
        if (k == 4 && !strncasecmp((const char *)l, "Host", 4) && ++hosts > 1) return 0;
        if (k == 17 && !strncasecmp((const char *)l, "Transfer-Encoding", 17)) codings++;
    }
    if (lengths && codings) return 0;
    return at - start <= SRV_HEAD_MAX;
}

/* Bytes the library turns into the zeros a CR leaves, so that the check
 * cannot tell them from one (its gap, head.h): a NUL, or a line of just ":"
 * (its colon zeroed, then taken for the end of the head). */
static int hidden_zero(const uint8_t *in, size_t n)
{
    if (memchr(in, 0, n)) return 1;
    for (size_t i = 0; i + 2 < n; i++)
        if (in[i] == '\n' && in[i + 1] == ':' && (in[i + 2] == '\n' || (in[i + 2] == '\r' && i + 3 < n && in[i + 3] == '\n')))
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g.d) {
        g.d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC, 0, NULL,
                               NULL, handle, NULL, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, NULL,
                               MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
                               MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)5, MHD_OPTION_END);
        if (!g.d) abort();
    }
    if (size > 3 * CONN_MEMORY) return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) abort();
    pthread_mutex_lock(&g.lock);
    g.judged = 0;
    g.why = NULL;
    g.uri.uri = NULL;
    pthread_mutex_unlock(&g.lock);
    struct sockaddr_in from;
    memset(&from, 0, sizeof from);
    from.sin_family = AF_INET;
    from.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (MHD_add_connection(g.d, sv[0], (struct sockaddr *)&from, sizeof from) != MHD_YES) abort();
    /* all of it, then the end: the daemon answers what it can and closes */
    for (size_t o = 0; o < size;) {
        ssize_t w = send(sv[1], data + o, size - o, MSG_NOSIGNAL);
        if (w <= 0) break;
        o += (size_t)w;
    }
    shutdown(sv[1], SHUT_WR);
    char sink[4096];
    struct pollfd p = { sv[1], POLLIN, 0 };
    while (poll(&p, 1, 5000) == 1 && read(sv[1], sink, sizeof sink) > 0) {}
    close(sv[1]);
    pthread_mutex_lock(&g.lock);
    int judged = g.judged;
    const char *why = g.why;
    pthread_mutex_unlock(&g.lock);
    /* an input with a hidden zero is only held to "strict is never refused" */
    int strict = reference_strict(data, size), hidden = hidden_zero(data, size);
    if (judged && ((why && strict) || (!why && !strict && !hidden))) {
        fprintf(stderr, "fuzz_head: the check says %s, the reference %s\n", why ? why : "strict",
                why ? "strict" : "not strict");
        abort();
    }
    return 0;
}
