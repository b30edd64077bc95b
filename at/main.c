/* luat-at: a simulated Luat AT module on a pseudo-terminal (docs/at.md).
 * One process per module, one poll loop: the AT port (and with --log-pty
 * the progress log port) and the module's timers and transfer. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "at_module.h"
#include "core/version.h"
#include "core/fota_err.h"
#include "port/port.h"

#define DEFAULT_IOT_URL "http://iot.openluat.com/api/site/firmware_upgrade"
#define OUT_MAX 65536   /* bytes queued for a port; a reader that stops reading loses the rest */

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

typedef struct port {
    int master, slave;           /* the slave stays open: no hang-up when a client closes */
    char path[128];
    char out[OUT_MAX];
    size_t out_len;
    unsigned long dropped;
} port;

typedef struct ports {
    port at, log;
    int has_log;
} ports;

static int port_open(port *p)
{
    struct termios t;
    memset(p, 0, sizeof *p);
    if (openpty(&p->master, &p->slave, p->path, NULL, NULL) != 0)
        return -1;
    /* Raw both ways, like a UART: no echo or line editing by the tty. */
    if (tcgetattr(p->slave, &t) == 0) {
        cfmakeraw(&t);
        tcsetattr(p->slave, TCSANOW, &t);
    }
    fcntl(p->master, F_SETFL, fcntl(p->master, F_GETFL) | O_NONBLOCK);
    fcntl(p->master, F_SETFD, FD_CLOEXEC);
    fcntl(p->slave, F_SETFD, FD_CLOEXEC);
    return 0;
}

static void port_flush(port *p)
{
    while (p->out_len) {
        ssize_t n = write(p->master, p->out, p->out_len);
        if (n <= 0)
            return;   /* EAGAIN: the reader is behind; poll says when */
        memmove(p->out, p->out + n, p->out_len - (size_t)n);
        p->out_len -= (size_t)n;
    }
}

static void port_write(port *p, const char *data, size_t len)
{
    size_t room = OUT_MAX - p->out_len;
    if (len > room) {
        p->dropped += len - room;
        len = room;
    }
    memcpy(p->out + p->out_len, data, len);
    p->out_len += len;
    port_flush(p);
}

static void write_at(void *ud, const char *data, size_t len)
{
    port_write(&((ports *)ud)->at, data, len);
}

static void write_log(void *ud, const char *data, size_t len)
{
    ports *ps = ud;
    if (ps->has_log)
        port_write(&ps->log, data, len);
    fwrite(data, 1, len, stderr);
}

static const char usage[] =
    "usage: luat-at --device DIR [--link PATH] [--log-pty] [--iot-url URL] [--lifetime S]\n"
    "               [--firmware FILE --fw-version V1015] [--model Air780E] [--bsp BSP] [--imei DIGITS]\n"
    "--bsp defaults to the model's (Air780E: EC618, Air780EP: EC718P, Air724UG: RDA8910, ...).\n"
    "Prints the AT port's pty path (and with --log-pty the log port's on a second line).\n"
    "A new device is flashed with --firmware/--fw-version; see docs/at.md.\n";

/* The bsp a model's firmware reports (what the server's firmware name
 * MODEL_AT_BSP ends with), by the vendor's platform of each model; NULL
 * for a model not listed. See docs/at.md for the sources and doubts. */
static const char *model_bsp(const char *model)
{
    static const struct {
        const char *model, *bsp;
    } t[] = {
        { "Air780E", "EC618" },    { "Air780EX", "EC618" },   { "Air780EG", "EC618" },
        { "Air780EP", "EC718P" },  { "Air780EPS", "EC718P" }, { "Air780ER", "EC718P" },
        { "Air780EQ", "EC716E" },  { "Air700ECQ", "EC716E" }, { "Air700EMQ", "EC716E" }, { "Air700EAQ", "EC716E" },
        { "Air724UG", "RDA8910" }, { "Air795UG", "RDA8910" },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(model, t[i].model)) return t[i].bsp;
    return NULL;
}

typedef struct opts {
    const char *device, *link, *iot_url, *firmware, *fw_version, *model, *bsp, *imei;
    int log_pty;
    long lifetime_s;
} opts;

static int parse(int argc, char **argv, opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = "Air780E";
    o->iot_url = getenv("LUAT_FOTA_IOT_URL");
    if (!o->iot_url || !o->iot_url[0])
        o->iot_url = DEFAULT_IOT_URL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **val = NULL;
        if (!strcmp(a, "--log-pty")) {
            o->log_pty = 1;
            continue;
        }
        if (!strcmp(a, "--device")) val = &o->device;
        else if (!strcmp(a, "--link")) val = &o->link;
        else if (!strcmp(a, "--iot-url")) val = &o->iot_url;
        else if (!strcmp(a, "--firmware")) val = &o->firmware;
        else if (!strcmp(a, "--fw-version")) val = &o->fw_version;
        else if (!strcmp(a, "--model")) val = &o->model;
        else if (!strcmp(a, "--bsp")) val = &o->bsp;
        else if (!strcmp(a, "--imei")) val = &o->imei;
        else if (!strcmp(a, "--lifetime")) {
            if (i + 1 == argc || (o->lifetime_s = strtol(argv[++i], NULL, 10)) <= 0)
                return -1;
            continue;
        }
        if (!val || i + 1 == argc)
            return -1;
        *val = argv[++i];
    }
    /* --bsp overrides; a model not listed keeps the first module's (EC618) */
    if (!o->bsp) o->bsp = model_bsp(o->model) ? model_bsp(o->model) : "EC618";
    return o->device ? 0 : -1;
}

/* A device never flashed gets its identity and firmware now, as in the factory. */
static int ensure_flashed(const opts *o)
{
    at_identity id;
    uint32_t version = 0;
    const char *base;
    int rc = at_identity_load(o->device, &id);
    if (rc != FOTA_ERR_NOENT)
        return rc == FOTA_OK ? 0 : (fprintf(stderr, "luat-at: %s/identity is unreadable\n", o->device), -1);
    if (!o->firmware || !o->fw_version || fota_version_parse_core(o->fw_version, &version) != 0) {
        fprintf(stderr, "luat-at: %s is a new device: give --firmware FILE --fw-version V1015\n", o->device);
        return -1;
    }
    memset(&id, 0, sizeof id);
    base = strrchr(o->device, '/');
    base = base && base[1] ? base + 1 : o->device;
    if (o->imei)
        snprintf(id.imei, sizeof id.imei, "%s", o->imei);
    else
        at_imei_from_name(base, id.imei);
    snprintf(id.model, sizeof id.model, "%s", o->model);
    snprintf(id.bsp, sizeof id.bsp, "%s", o->bsp);
    if (!at_imei_ok(id.imei) || !at_name_ok(id.model) || !at_name_ok(id.bsp) || strlen(o->model) > AT_NAME_MAX ||
        strlen(o->bsp) > AT_NAME_MAX) {
        fprintf(stderr, "luat-at: bad --imei (15 digits, Luhn), --model or --bsp ([A-Za-z0-9._-], <= 31)\n");
        return -1;
    }
    if (fota_port_mkdirs(o->device) != FOTA_OK ||
        (rc = at_module_flash(o->device, &id, o->firmware, version)) != FOTA_OK) {
        fprintf(stderr, "luat-at: cannot flash %s with %s: %s\n", o->device, o->firmware, fota_pkg_errname(rc));
        return -1;
    }
    fprintf(stderr, "luat-at: flashed %s: V%lu, imei %s\n", o->device, (unsigned long)version, id.imei);
    return 0;
}

static void drain(int fd, at_module *m)
{
    uint8_t buf[512];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0)
            return;
        if (m)
            at_module_input(m, buf, (size_t)n);
    }
}

/* LUAT_AT_RETRY_MS=MIN-MAX: the retry after an interrupted download (ms,
 * docs/at.md); tests set it small. Unset or malformed: the defaults. */
static void retry_delay(at_module_cfg *cfg)
{
    const char *v = getenv("LUAT_AT_RETRY_MS");
    unsigned long lo, hi;
    char *end;
    cfg->retry_min_ms = cfg->retry_max_ms = 0;
    if (!v || strspn(v, "0123456789") == 0 || strspn(v, "0123456789") > 7)
        return;
    lo = strtoul(v, &end, 10);
    if (*end++ != '-' || strspn(end, "0123456789") == 0 || strspn(end, "0123456789") > 7)
        return;
    hi = strtoul(end, &end, 10);
    if (*end || hi < lo) {
        fprintf(stderr, "luat-at: LUAT_AT_RETRY_MS=%s ignored (MIN-MAX in ms)\n", v);
        return;
    }
    cfg->retry_min_ms = (uint32_t)lo;
    cfg->retry_max_ms = (uint32_t)hi;
}

int main(int argc, char **argv)
{
    static ports ps;   /* 128 KiB of port buffers: not on the stack */
    static at_module m;
    at_module_cfg cfg;
    opts o;
    uint64_t end_ms;
    int rc;

    if (parse(argc, argv, &o) != 0) {
        fputs(usage, stderr);
        return 2;
    }
    if (!at_url_ok(o.iot_url) || !o.iot_url[0]) {
        fprintf(stderr, "luat-at: --iot-url %s: http(s)://..., at most %d characters\n", o.iot_url, AT_URL_MAX);
        return 2;
    }
    if (ensure_flashed(&o) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    if (port_open(&ps.at) != 0 || (o.log_pty && port_open(&ps.log) != 0)) {
        fprintf(stderr, "luat-at: openpty: %s\n", strerror(errno));
        return 1;
    }
    ps.has_log = o.log_pty;
    if (o.link) {
        unlink(o.link);
        if (symlink(ps.at.path, o.link) != 0) {
            fprintf(stderr, "luat-at: --link %s: %s\n", o.link, strerror(errno));
            return 1;
        }
    }
    printf("%s\n", ps.at.path);
    if (o.log_pty)
        printf("%s\n", ps.log.path);
    fflush(stdout);

    cfg.device_dir = o.device;
    cfg.iot_url = o.iot_url;
    cfg.out = write_at;
    cfg.log = write_log;
    cfg.ud = &ps;
    retry_delay(&cfg);
    if ((rc = at_module_boot(&m, &cfg, fota_port_now_ms())) != FOTA_OK) {
        fprintf(stderr, "luat-at: %s does not boot: %s\n", o.device,
                rc == FOTA_ERR_FORMAT ? "no valid firmware (bricked)" : fota_strerror(rc));
        return 1;
    }
    end_ms = o.lifetime_s ? fota_port_now_ms() + (uint64_t)o.lifetime_s * 1000u : 0;
    while (!stop_requested && (!end_ms || fota_port_now_ms() < end_ms)) {
        struct pollfd fds[2] = { { ps.at.master, POLLIN, 0 }, { ps.log.master, POLLIN, 0 } };
        long wait = at_module_poll(&m, fota_port_now_ms());
        if (wait < 0) {
            fprintf(stderr, "luat-at: reboot failed: %s\n",
                    wait == FOTA_ERR_FORMAT ? "no valid firmware (bricked)" : fota_strerror((int)wait));
            return 1;
        }
        if (ps.at.out_len)
            fds[0].events |= POLLOUT;
        if (ps.has_log && ps.log.out_len)
            fds[1].events |= POLLOUT;
        if (poll(fds, ps.has_log ? 2 : 1, (int)(wait > 1000 ? 1000 : wait)) < 0 && errno != EINTR)
            break;
        if (fds[0].revents & POLLIN)
            drain(ps.at.master, &m);
        if (ps.has_log && (fds[1].revents & POLLIN))
            drain(ps.log.master, NULL);   /* the log port only talks */
        port_flush(&ps.at);
        if (ps.has_log)
            port_flush(&ps.log);
    }
    at_module_free(&m);
    if (o.link)
        unlink(o.link);
    return 0;
}
