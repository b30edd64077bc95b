/* fota-fleet: a simulated fleet against fota-server (bench/fleet runs it).
 * N devices, each with its own Luhn-valid IMEI and its own schedule, as
 * sys.timerLoopStart(libfota.request, period, ...) would make them (a phase
 * in [0, period), then every period), time compressed: `--checks` checks per
 * device within `--seconds`. A device that gets the package (200) installs
 * it and asks on the new version next time, except the `--fail-percent`
 * share, which roll back and ask on the old version again. Plain sockets,
 * one keep-alive connection per thread (the threads alternate between the
 * given ports); every wait is bounded and the run ends by itself. Prints
 * key=value lines (checks, answers by status, errors, p50/p99). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_THREADS 64
#define MAX_PORTS 4
#define MAX_DEVICES 2000000
#define MAX_CHECKS 50
#define HEAD_MAX 16384
#define BODY_MAX (4u << 20)
#define IO_TIMEOUT_MS 10000

typedef struct opts {
    unsigned ports[MAX_PORTS];
    int nports;
    const char *key, *fw, *old_ver, *new_ver;
    long devices, checks, seconds, fail_percent, threads, seed;
} opts;

typedef struct device {
    char imei[16];
    uint32_t phase_ms;
    uint8_t upgraded, fails;
} device;

typedef struct worker {
    const opts *o;
    device *dev;          /* this thread's devices, by phase */
    long ndev;
    unsigned port;
    int64_t start_ms;
    uint32_t *lat_us;     /* one per check */
    long nlat;
    long status[6];       /* 2xx 3xx 4xx 5xx(503) 5xx(other) */
    long packages, waits, errors, reconnects, behind_ms_max;
} worker;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static uint32_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return (uint32_t)x;
}

static void make_imei(uint64_t n, char out[16])
{
    snprintf(out, 16, "86%012llu", (unsigned long long)(n % 1000000000000ULL));
    int sum = 0;
    for (int i = 0; i < 14; i++) {
        int d = out[13 - i] - '0';
        if (i % 2 == 0) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    out[14] = (char)('0' + (10 - sum % 10) % 10);
    out[15] = '\0';
}

static int dial(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int wait_in(int fd)
{
    struct pollfd p = { fd, POLLIN, 0 };
    return poll(&p, 1, IO_TIMEOUT_MS) == 1 ? 0 : -1;
}

/* One request on *fd (dialled when -1); returns the HTTP status, or -1
 * (the connection is closed then). *close_after: the server closes it. */
static int exchange(int *fd, unsigned port, const char *req, size_t reqlen, int *close_after)
{
    static __thread char head[HEAD_MAX + 1];
    static __thread char body[16384];
    if (*fd < 0 && (*fd = dial(port)) < 0) return -1;
    size_t off = 0;
    while (off < reqlen) {
        ssize_t w = send(*fd, req + off, reqlen - off, MSG_NOSIGNAL);
        if (w <= 0) goto broken;
        off += (size_t)w;
    }
    size_t got = 0;
    char *end = NULL;
    while (!end) {
        if (got >= HEAD_MAX || wait_in(*fd)) goto broken;
        ssize_t r = recv(*fd, head + got, HEAD_MAX - got, 0);
        if (r <= 0) goto broken;
        got += (size_t)r;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    int status = 0;
    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) goto broken;
    unsigned long len = 0;
    for (char *p = head; p < end; p++) {
        if ((p == head || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0) len = strtoul(p + 15, NULL, 10);
        if ((p == head || p[-1] == '\n') && strncasecmp(p, "connection: close", 17) == 0) *close_after = 1;
    }
    if (len > BODY_MAX) goto broken;
    size_t have = got - (size_t)(end + 4 - head);
    while (have < len) {
        if (wait_in(*fd)) goto broken;
        ssize_t r = recv(*fd, body, sizeof body < len - have ? sizeof body : len - have, 0);
        if (r <= 0) goto broken;
        have += (size_t)r;
    }
    if (*close_after) {
        close(*fd);
        *fd = -1;
    }
    return status;
broken:
    close(*fd);
    *fd = -1;
    return -1;
}

static int by_phase(const void *a, const void *b)
{
    const device *x = a, *y = b;
    return x->phase_ms < y->phase_ms ? -1 : x->phase_ms > y->phase_ms;
}

static void *run(void *arg)
{
    worker *w = arg;
    const opts *o = w->o;
    int64_t period = o->seconds * 1000 / o->checks;
    int fd = -1;
    char req[512];
    for (long k = 0; k < o->checks; k++) {
        for (long i = 0; i < w->ndev; i++) {
            device *d = &w->dev[i];
            int64_t due = w->start_ms + k * period + d->phase_ms, t = now_ms();
            if (due > t) {
                struct timespec ts = { (time_t)((due - t) / 1000), (long)((due - t) % 1000) * 1000000L };
                nanosleep(&ts, NULL);
            } else if (t - due > w->behind_ms_max) {
                w->behind_ms_max = (long)(t - due);
            }
            int n = snprintf(req, sizeof req,
                             "GET /api/site/firmware_upgrade?project_key=%s&firmware_name=%s&version=%s&imei=%s "
                             "HTTP/1.1\r\nHost: fota\r\n\r\n",
                             o->key, o->fw, d->upgraded ? o->new_ver : o->old_ver, d->imei);
            int close_after = 0;
            int64_t t0 = now_us();
            int st = n > 0 && (size_t)n < sizeof req ? exchange(&fd, w->port, req, (size_t)n, &close_after) : -1;
            w->lat_us[w->nlat++] = (uint32_t)(now_us() - t0);
            if (st < 0) {
                w->errors++;
                w->reconnects++;
                continue;
            }
            if (st >= 200 && st < 300) {
                w->status[0]++;
                w->packages++;
                /* installed: the failing share rolls back to the old version */
                if (!d->fails) d->upgraded = 1;
            } else if (st < 400) {
                w->status[1]++;
            } else if (st < 500) {
                w->status[2]++;
            } else if (st == 503) {
                w->status[3]++;
                w->waits++;
            } else {
                w->status[4]++;
            }
        }
    }
    if (fd >= 0) close(fd);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static long num(const char *s, long lo, long hi, const char *name)
{
    char *e;
    long v = strtol(s, &e, 10);
    if (*e || v < lo || v > hi) {
        fprintf(stderr, "fota-fleet: %s: %ld..%ld\n", name, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    opts o = { .key = NULL, .fw = NULL, .old_ver = NULL, .new_ver = NULL, .devices = 100000, .checks = 3,
               .seconds = 60, .fail_percent = 10, .threads = 8, .seed = 1 };
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--ports")) {
            const char *p = v;
            while (*p && o.nports < MAX_PORTS) {
                char *e;
                long port = strtol(p, &e, 10);
                if (e == p || port < 1 || port > 65535 || (*e && *e != ',')) {
                    fprintf(stderr, "fota-fleet: --ports: P[,P2]\n");
                    return 2;
                }
                o.ports[o.nports++] = (unsigned)port;
                p = *e ? e + 1 : e;
            }
        } else if (!strcmp(k, "--key")) o.key = v;
        else if (!strcmp(k, "--fw")) o.fw = v;
        else if (!strcmp(k, "--old")) o.old_ver = v;
        else if (!strcmp(k, "--new")) o.new_ver = v;
        else if (!strcmp(k, "--devices")) o.devices = num(v, 1, MAX_DEVICES, k);
        else if (!strcmp(k, "--checks")) o.checks = num(v, 1, MAX_CHECKS, k);
        else if (!strcmp(k, "--seconds")) o.seconds = num(v, 1, 3600, k);
        else if (!strcmp(k, "--fail-percent")) o.fail_percent = num(v, 0, 100, k);
        else if (!strcmp(k, "--threads")) o.threads = num(v, 1, MAX_THREADS, k);
        else if (!strcmp(k, "--seed")) o.seed = num(v, 0, 999999, k);
        else {
            fprintf(stderr, "fota-fleet: unknown option %s\n", k);
            return 2;
        }
    }
    if (!o.nports || !o.key || !o.fw || !o.old_ver || !o.new_ver) {
        fprintf(stderr, "usage: fota-fleet --ports P[,P2] --key K --fw NAME --old 1103.1.4 --new 1104.1.4\n"
                        "       [--devices 100000] [--checks 3] [--seconds 60] [--fail-percent 10]\n"
                        "       [--threads 8] [--seed 1]\n");
        return 2;
    }
    device *all = calloc((size_t)o.devices, sizeof *all);
    worker *w = calloc((size_t)o.threads, sizeof *w);
    if (!all || !w) return 3;
    int64_t period = o.seconds * 1000 / o.checks;
    for (long i = 0; i < o.devices; i++) {
        make_imei((uint64_t)o.seed * 10000000ULL + (uint64_t)i, all[i].imei);
        all[i].phase_ms = mix((uint64_t)i * 2 + 1) % (uint32_t)(period > 0 ? period : 1);
        all[i].fails = (long)(mix((uint64_t)i * 2 + 2) % 100) < o.fail_percent;
    }
    /* device i goes to thread i % threads; each thread's slice by phase */
    long per = (o.devices + o.threads - 1) / o.threads;
    device *slices = calloc((size_t)(per * o.threads), sizeof *slices);
    if (!slices) return 3;
    for (long t = 0; t < o.threads; t++) {
        w[t].o = &o;
        w[t].dev = slices + t * per;
        for (long i = t; i < o.devices; i += o.threads) w[t].dev[w[t].ndev++] = all[i];
        qsort(w[t].dev, (size_t)w[t].ndev, sizeof *w[t].dev, by_phase);
        w[t].port = o.ports[t % o.nports];
        w[t].lat_us = calloc((size_t)(w[t].ndev * o.checks + 1), sizeof *w[t].lat_us);
        if (!w[t].lat_us) return 3;
    }
    pthread_t th[MAX_THREADS];
    int64_t start = now_ms() + 100;
    for (long t = 0; t < o.threads; t++) {
        w[t].start_ms = start;
        if (pthread_create(&th[t], NULL, run, &w[t])) return 3;
    }
    for (long t = 0; t < o.threads; t++) pthread_join(th[t], NULL);
    int64_t took = now_ms() - start;

    long checks = 0, st[6] = { 0 }, packages = 0, waits = 0, errors = 0, behind = 0, upgraded = 0, failing = 0;
    uint32_t *lat = calloc((size_t)(o.devices * o.checks + 1), sizeof *lat);
    if (!lat) return 3;
    for (long t = 0; t < o.threads; t++) {
        memcpy(lat + checks, w[t].lat_us, (size_t)w[t].nlat * sizeof *lat);
        checks += w[t].nlat;
        for (int k = 0; k < 5; k++) st[k] += w[t].status[k];
        packages += w[t].packages;
        waits += w[t].waits;
        errors += w[t].errors;
        if (w[t].behind_ms_max > behind) behind = w[t].behind_ms_max;
        for (long i = 0; i < w[t].ndev; i++) {
            upgraded += w[t].dev[i].upgraded;
            failing += w[t].dev[i].fails;
        }
    }
    qsort(lat, (size_t)checks, sizeof *lat, cmp_u32);
    printf("devices=%ld\nchecks_sent=%ld\nseconds=%.1f\nchecks_per_s=%.0f\n", o.devices, checks, took / 1000.0,
           took ? checks * 1000.0 / (double)took : 0.0);
    printf("answered_2xx=%ld\nanswered_3xx=%ld\nanswered_4xx=%ld\nanswered_503=%ld\nanswered_5xx_other=%ld\n", st[0],
           st[1], st[2], st[3], st[4]);
    printf("packages=%ld\nwaits_43=%ld\nerrors=%ld\n", packages, waits, errors);
    printf("p50_ms=%.2f\np99_ms=%.2f\nmax_behind_schedule_ms=%ld\n", checks ? lat[checks / 2] / 1000.0 : 0.0,
           checks ? lat[(size_t)((double)checks * 0.99)] / 1000.0 : 0.0, behind);
    printf("devices_upgraded=%ld\ndevices_failing=%ld\n", upgraded, failing);
    for (long t = 0; t < o.threads; t++) free(w[t].lat_us);
    free(lat);
    free(slices);
    free(all);
    free(w);
    return 0;
}
