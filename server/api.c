/* The IoT-platform API: GET /api/site/firmware_upgrade?project_key=&
 * firmware_name=&version=CORE.x.z&imei= answers with the package (200, or
 * 206 for "Range: bytes=N-") or {"code":N,"msg":"..."} with a status >= 300.
 *
 * Concurrency: libmicrohttpd runs a pool of `threads` epoll threads; they
 * share one SQLite connection and the in-memory log queue under s->lock.
 * The work inside the lock is a handful of indexed lookups (microseconds),
 * and one lock makes "count today's requests, then ban on the 7th" atomic
 * per device. Log rows are queued and written in batches by the flusher
 * thread (one transaction every flush_ms), so a check costs no disk write
 * and the admin CLI still finds the write lock free most of the time.
 * Package bytes are sent from the file (sendfile) outside the lock. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/version.h"
#include "core/fota_err.h"
#include "air.h"
#include "api.h"
#include "at.h"
#include "console.h"
#include "delta_glue.h"
#include "head.h"
#include "rollout.h"
#include "schema.h"
#include "vendor.h"
#include "validate.h"

#define API_PATH "/api/site/firmware_upgrade"
#define MAX_ARGS 16
#define CONN_MEMORY (16 * 1024)   /* request line + headers per connection */

/* ---------------------------------------------------------------- */
/* responses                                                         */

static int status_of(int code, int malformed)
{
    if (malformed) return MHD_HTTP_BAD_REQUEST;
    switch (code) {
    case SRV_INVALID_DEVICE:
    case SRV_NO_PERMISSION:
    case SRV_VERSION_NOT_ALLOWED:
    case SRV_LOOP: return MHD_HTTP_FORBIDDEN;
    case SRV_INVALID_PROJECT:
    case SRV_INVALID_FIRMWARE:
    case SRV_LATEST: return MHD_HTTP_NOT_FOUND;
    case SRV_WAIT: return MHD_HTTP_SERVICE_UNAVAILABLE;
    case SRV_BASE_MISSING: return MHD_HTTP_CONFLICT;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* {"code":N,"msg":"..."} into body (cap bytes, room for the escapes of
 * SRV_MSG_MAX bytes); its length. */
static size_t json_body(char *body, size_t cap, int code, const char *msg)
{
    size_t o = (size_t)snprintf(body, cap, "{\"code\":%d,\"msg\":\"", code);
    /* Messages are ours or built from validated input; escape anyway.
     * UTF-8 (a name) as is, a control or a broken sequence '?'. */
    for (size_t left = strlen(msg), len; left && o + 8 < cap; msg += len, left -= len) {
        unsigned char ch = (unsigned char)*msg;
        len = srv_utf8_seq(msg, left);
        if (ch == '"' || ch == '\\') {
            body[o++] = '\\';
            body[o++] = (char)ch;
        } else if (!len || ch < 0x20 || ch == 0x7f || (len == 2 && ch == 0xc2 && (unsigned char)msg[1] < 0xa0)) {
            body[o++] = '?';
        } else {
            memcpy(body + o, msg, len);
            o += len;
        }
        if (!len) len = 1;
    }
    return o + (size_t)snprintf(body + o, cap - o, "\"}");
}

/* air724: the query is the Air724 library's, which reads msg only in the
 * platform's form (srv_air724_json). */
static enum MHD_Result send_json_fresh(struct MHD_Connection *c, int status, int code, const char *msg,
                                        const char *fresh, int air724)
{
    char body[64 + 2 * SRV_MSG_MAX];
    _Static_assert(sizeof body > SRV_AIR724_BODY_MAX, "an Air724 answer fits the body");
    size_t o = air724 ? srv_air724_json(body, sizeof body, code, msg) : json_body(body, sizeof body, code, msg);
    struct MHD_Response *r = MHD_create_response_from_buffer(o, body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (code == SRV_WAIT) MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "30");
    if (fresh) MHD_add_response_header(r, FOTA_FRESH_HEADER, fresh);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, int status, int code, const char *msg)
{
    return send_json_fresh(c, status, code, msg, NULL, 0);
}


/* ---------------------------------------------------------------- */
/* parameters                                                        */

enum { P_KEY, P_FW, P_VER, P_IMEI, P__N };
static const char *const param_names[P__N] = { "project_key", "firmware_name", "version", "imei" };

typedef struct args {
    const char *v[P__N];
    size_t n[P__N];
    int bad[P__N];
    int count;
    size_t at_model;              /* keyless AT module: its model's length (the firmware name's start) */
    int at_rc;                    /* and srv_at_default_key's answer */
} args;

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                               const char *value, size_t value_size)
{
    (void)kind;
    args *a = cls;
    if (++a->count > MAX_ARGS) return MHD_NO;
    for (int i = 0; i < P__N; i++) {
        if (key_size == strlen(param_names[i]) && memcmp(key, param_names[i], key_size) == 0) {
            /* A repeated parameter, or a "%00" decoding to a NUL the C
             * string would hide, makes that parameter invalid. */
            if (a->v[i] || (value && strlen(value) != value_size)) a->bad[i] = 1;
            a->v[i] = value ? value : "";
            a->n[i] = value ? value_size : 0;
        }
    }
    return MHD_YES;
}

/* ---------------------------------------------------------------- */
/* the decision                                                      */

typedef struct answer {
    int code, status;
    char msg[SRV_MSG_MAX];
    srv_pkg pkg;
    int fd;                       /* the package, open, when code == 0 */
    int64_t deliveries;           /* the device's deliveries today before this check (check_device) */
} answer;

/* Fills the answer; returns 1 (decided) so that a step of decide() can end
 * with `return set(...)`. */
static int set(answer *a, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int set(answer *a, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    a->code = code;
    a->status = status_of(code, 0);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    srv_utf8_trim(a->msg);   /* a name cut by the bound stays UTF-8 (PostgreSQL stores only that) */
    return 1;
}

static int step_row(store_stmt *st)
{
    int rc = store_step(st);
    return rc == STORE_ROW ? 1 : rc == STORE_DONE ? 0 : -1;
}

/* Whether (cfg_id, text) is in a configuration's list (ST_CONFIG_IMEI or
 * ST_CONFIG_FROM): 1, 0, or -1 on a database error. */
static int in_list(srv_db *d, enum srv_stmt which, int64_t cfg_id, const char *text)
{
    store_stmt *st = d->st[which];
    store_bind_int64(st, 1, cfg_id);
    store_bind_str(st, 2, text);
    int r = step_row(st);
    store_reset(st);
    return r;
}

/* The steps of decide(): each returns 1 when it decided the answer, 0 to go on. */

/* The device (banned, owner, the day's deliveries): the check's one store
 * round trip, first, so that the database's change counter the cache
 * compares is as of now. Then project, firmware name, configuration and
 * rollout (cfg): from the cache in the common case. */
static int check_device(srv_server *s, const char *key, const char *fwname, const char *imei, answer *a,
                        srv_log_row *row, int64_t day, const srv_dev *pre, int pre_rc, srv_cfg *cfg)
{
    srv_db *d = &s->db;
    srv_dev dev;
    int dev_rc = pre ? pre_rc : db_check_device(d, imei, day, &dev);
    if (pre) dev = *pre;
    int cfg_rc = db_check_config(d, key, fwname, cfg);
    if (dev_rc == STORE_DOWN || cfg_rc == STORE_DOWN) {
        /* PostgreSQL is down or restarting: the row waits in the queue, the
         * device comes back (Retry-After), a reconnect is tried now and then. */
        db_retry(d);
        return set(a, SRV_WAIT, "database unreachable, retry later");
    }
    if (cfg_rc) return set(a, SRV_INTERNAL, "database error");
    if (!cfg->project_found) return set(a, SRV_INVALID_PROJECT, "invalid project: unknown project_key");

    if (!srv_imei_luhn(imei)) return set(a, SRV_INVALID_DEVICE, "invalid device: IMEI check digit wrong");

    if (dev_rc) return set(a, SRV_INTERNAL, "database error");
    /* First contact registers the device to this project's owner, a ban
     * stores it banned: both batched with the log row. */
    row->new_device = !dev.known;
    row->project_id = cfg->project_id;
    memcpy(row->owner, cfg->owner, sizeof row->owner);
    if (dev.banned) return set(a, SRV_LOOP, "loop upgrade: device banned until its owner unbans it");
    if (dev.owner[0] && cfg->owner[0] && strcmp(dev.owner, cfg->owner) != 0)
        return set(a, SRV_NO_PERMISSION, "no permission: device belongs to another owner");

    /* Past the limit: the 7th delivery of the day was refused and the device
     * banned (count_delivery), its ban not written yet. */
    if (dev.count > SRV_LOOP_LIMIT) {
        row->ban = 1;
        return set(a, SRV_LOOP, "loop upgrade: device banned until its owner unbans it");
    }
    a->deliveries = dev.count;
    return 0;
}

/* The firmware name and its upgrade configuration: enabled, and for this device. */
static int check_config(srv_db *d, const srv_cfg *cfg, const char *imei, answer *a)
{
    if (!cfg->fw_found)
        return set(a, SRV_INVALID_FIRMWARE, "invalid firmware: unknown firmware_name for this project");
    if (!cfg->cfg_found) return set(a, SRV_LATEST, "already latest: no upgrade configured");
    if (!cfg->enabled) return set(a, SRV_LATEST, "already latest: upgrade disabled");
    if (!cfg->all_devices) {
        int r = in_list(d, ST_CONFIG_IMEI, cfg->cfg_id, imei);
        if (r < 0) return set(a, SRV_INTERNAL, "database error");
        if (r == 0) return set(a, SRV_LATEST, "already latest: device not in the upgrade list");
    }
    return 0;
}

/* Newer? The platform compares CORE.x.z (y is not sent): target gets the
 * target as CORE.x.z, *cmp the comparison (0: the same release). A live
 * rollout's outcome fields go into the row; the version must be allowed. */
static int check_version(srv_db *d, const srv_cfg *cfg, const char *ver, int resume, const srv_air *air,
                         answer *a, srv_log_row *row, char target[3 * SRV_VER_MAX], int *cmp)
{
    const char *target_script = cfg->target_script;
    uint32_t target_core = cfg->target_core;
    const char *dot1 = strchr(target_script, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2) return set(a, SRV_INTERNAL, "bad stored script version");
    snprintf(target, 3 * SRV_VER_MAX, "%lu.%.*s.%s", (unsigned long)target_core,
             (int)(dot1 - target_script), target_script, dot2 + 1);

    /* Under a live rollout every check is an outcome to record (the writer
     * compares the version with the target, in the database), whatever
     * the answer: a device on the target answers 27 below. */
    int live = cfg->rollout_id && (cfg->rollout_state == RL_RUNNING || cfg->rollout_state == RL_PAUSED);
    if (live) {
        row->rollout_id = cfg->rollout_id;
        row->rl_outcome = !resume;   /* a resume is the same download */
        if (air) {
            snprintf(row->rl_version, sizeof row->rl_version, "%lu:%s", (unsigned long)air->core, air->script);
            snprintf(row->rl_target, sizeof row->rl_target, "%lu:%s", (unsigned long)target_core, target_script);
        } else {
            snprintf(row->rl_version, sizeof row->rl_version, "%s", ver);
            snprintf(row->rl_target, sizeof row->rl_target, "%s", target);
        }
    }

    *cmp = 0;
    if (air) {   /* LuatOS-Air: the core, then the whole script version */
        if (srv_air_newer(target_core, target_script, air, cmp) != 0) return set(a, SRV_INTERNAL, "bad version");
        if (!*cmp) return set(a, SRV_LATEST, "already latest: V%lu %s is not newer than V%lu %s",
                              (unsigned long)target_core, target_script, (unsigned long)air->core, ver);
    } else {
        if (fota_version_compare(target, ver, cmp) != 0) return set(a, SRV_INTERNAL, "bad version");
        /* The same release again only when the configuration asks for it. */
        if (*cmp < 0 || (*cmp == 0 && !cfg->reinstall))
            return set(a, SRV_LATEST, "already latest: %s is not newer than %s", target, ver);
    }
    if (!cfg->any_from) {
        int r = in_list(d, ST_CONFIG_FROM, cfg->cfg_id, ver);
        if (r < 0) return set(a, SRV_INTERNAL, "database error");
        if (r == 0) return set(a, SRV_VERSION_NOT_ALLOWED, "upgrade from %s not allowed", ver);
    }
    return 0;
}

/* A rollout: devices outside its open waves hear what a device outside the
 * IMEI list hears (27); paused or aborted, nobody gets it. */
static int check_rollout(const srv_cfg *cfg, const char *imei, answer *a, srv_log_row *row)
{
    if (!cfg->rollout_id) return 0;
    if (cfg->rollout_state == RL_ABORTED) return set(a, SRV_LATEST, "already latest: rollout aborted");
    if (cfg->rollout_state != RL_RUNNING) return set(a, SRV_LATEST, "already latest: rollout paused");
    uint32_t bucket = srv_rollout_bucket(cfg->rollout_id, imei);
    if (bucket >= cfg->share_bp) return set(a, SRV_LATEST, "already latest: device not in the rollout's waves yet");
    row->rl_wave = srv_rollout_wave_of(cfg->waves, cfg->nwaves, bucket);
    if (row->rl_wave < 0) row->rl_wave = 0;
    return 0;
}

/* The package file, open: the answer is the package (0), else 43 (a built
 * one went missing: build it again) or 500 (an uploaded one did). */
static int open_package(answer *a)
{
    struct stat sb;
    a->fd = open(a->pkg.path, O_RDONLY | O_CLOEXEC);
    if (a->fd >= 0 && fstat(a->fd, &sb) == 0 && (uint64_t)sb.st_size == a->pkg.size) return 0;
    if (a->fd >= 0) close(a->fd);
    a->fd = -1;
    return -1;
}

/* The package for the device's base core: a vendor package for it (served
 * as uploaded), else ours, open and ready (0), or being built, its base
 * missing, or failed. */
static void answer_package(srv_server *s, const srv_cfg *cfg, const char *ver, const srv_air *air, int cmp,
                           const char *target, answer *a, srv_log_row *row)
{
    srv_db *d = &s->db;
    uint32_t base = air ? air->core
                        : cmp == 0 ? SRV_BASE_REINSTALL : (uint32_t)strtoul(ver, NULL, 10);   /* <= 9 digits */
    srv_firmware fw;
    char base_image[SRV_PATH_MAX] = "";
    int vendor = base == SRV_BASE_REINSTALL ? 0 : srv_vendor_find(d, cfg->fw_id, base, &a->pkg);
    if (vendor < 0 || (!vendor && (db_firmware_get(d, cfg->fw_id, &fw) ||
                                   (base != SRV_BASE_REINSTALL &&
                                    db_base_image(d, fw.project_id, fw.bsp, base, base_image, sizeof base_image))))) {
        set(a, SRV_INTERNAL, "database error");
        return;
    }
    if (vendor) {
        /* PostgreSQL: from this instance's cache, filled from the database */
        char local[SRV_PATH_MAX];
        if (db_local_file(d, a->pkg.path, local, sizeof local) == 0) memcpy(a->pkg.path, local, sizeof local);
        if (open_package(a)) {
            set(a, SRV_INTERNAL, "vendor package file missing: upload it again");
            return;
        }
    } else {
        switch (builder_get(&s->builder, &fw, base, base_image, &a->pkg)) {
        case PKG_READY:
            if (!open_package(a)) break;
            /* Removed or replaced behind our back: build it again. */
            builder_forget(&s->builder, fw.id, base);
            set(a, SRV_WAIT, "please wait: package being generated");
            return;
        case PKG_BUILDING:
            if (cmp == 0) set(a, SRV_WAIT, "please wait: reinstall package being generated");
            else set(a, SRV_WAIT, "please wait: package for V%lu being generated", (unsigned long)base);
            return;
        case PKG_BASE_MISSING: set(a, SRV_BASE_MISSING, "%s", a->pkg.why); return;
        default: set(a, SRV_INTERNAL, "%s", a->pkg.why); return;
        }
    }
    a->code = SRV_OK;
    a->status = MHD_HTTP_OK;
    row->rl_sent = row->rollout_id != 0;
    if (cmp == 0)
        snprintf(a->msg, sizeof a->msg, "package %s again (reinstall), %" PRIu64 " bytes", target, a->pkg.size);
    else
        snprintf(a->msg, sizeof a->msg, "%spackage %s from V%lu, %" PRIu64 " bytes", vendor ? "vendor " : "",
                 target, (unsigned long)base, a->pkg.size);
}

/* Everything under s->lock, reading only: writes (first contact, a ban,
 * a rollout's sent package and outcomes) go into the log row. in:
 * validated parameters. day: the start of the day the check counts in.
 * pre: the device side when it was read before the lock (PostgreSQL's
 * pool: pre_rc its result), else NULL and it is read here. The answers
 * keep their order: device, configuration, version, rollout, package. */
static void decide(srv_server *s, const char *key, const char *fwname, const char *ver,
                   const char *imei, int resume, answer *a, srv_log_row *row, const srv_air *air,
                   int64_t day, const srv_dev *pre, int pre_rc)
{
    srv_cfg cfg;
    char target[3 * SRV_VER_MAX];
    int cmp = 0;
    if (check_device(s, key, fwname, imei, a, row, day, pre, pre_rc, &cfg) ||
        check_config(&s->db, &cfg, imei, a) || check_version(&s->db, &cfg, ver, resume, air, a, row, target, &cmp) ||
        check_rollout(&cfg, imei, a, row))
        return;
    answer_package(s, &cfg, ver, air, cmp, target, a, row);
}

/* "bytes=N-" or "bytes=N-M"; anything else is ignored as RFC 7233 allows. */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h || strncmp(h, "bytes=", 6) != 0) return 0;
    const char *p = h + 6;
    uint64_t a = 0, b = 0;
    int da = 0, db = 0;
    while (*p >= '0' && *p <= '9' && da < 19) a = a * 10 + (uint64_t)(*p++ - '0'), da++;
    if (!da || *p++ != '-') return 0;
    while (*p >= '0' && *p <= '9' && db < 19) b = b * 10 + (uint64_t)(*p++ - '0'), db++;
    if (*p) return 0;
    if (!db || b >= size) b = size - 1;
    if (db && b < a) return 0;
    *from = a;
    *to = b;
    return 1;
}

/* A resume asks for the package from past its first byte ("bytes=N-", N > 0):
 * one download however often it is cut. "bytes=0-" starts a download. */
static int is_resume(const char *range)
{
    uint64_t from = 0, to = 0;
    return range && parse_range(range, UINT64_MAX, &from, &to) && from > 0;
}

static enum MHD_Result send_package(struct MHD_Connection *c, answer *a, const char *fresh, int *status_out)
{
    uint64_t size = a->pkg.size, from = 0, to = size - 1;
    const char *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
    int partial = range && (!if_range || strcmp(if_range, a->pkg.etag) == 0) &&
                  parse_range(range, size, &from, &to);
    struct MHD_Response *r;
    unsigned status;
    char cr[96];
    if (partial && from >= size) {
        close(a->fd);
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r) return MHD_NO;
        snprintf(cr, sizeof cr, "bytes */%" PRIu64, size);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
    } else {
        /* MHD owns and closes the fd from here. */
        r = MHD_create_response_from_fd_at_offset64(to - from + 1, a->fd, from);
        if (!r) {
            close(a->fd);
            return MHD_NO;
        }
        status = partial ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK;
        if (partial) {
            snprintf(cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to, size);
            MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/octet-stream");
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, a->pkg.etag);
    if (fresh) MHD_add_response_header(r, FOTA_FRESH_HEADER, fresh);
    MHD_add_response_header(r, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    a->fd = -1;
    *status_out = (int)status;
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* The signed statement for this answer to this device's request, or NULL
 * (no key, statements off, or signing failed: the answer goes unsigned). */
static const char *fresh_statement(srv_server *s, const char *imei, const char *ver, const answer *a,
                                   char out[FOTA_FRESH_VALUE_MAX])
{
    char what[80];
    if (!s->fresh_on) return NULL;
    if (a->code == SRV_OK) snprintf(what, sizeof what, "sha256=%s", a->pkg.sha256);
    else snprintf(what, sizeof what, "code=%d", a->code);
    int64_t now = srv_now_ms() / 1000;
    pthread_mutex_lock(&s->fresh_lock);
    int rc = fota_fresh_sign(&s->fresh_key, now, now + s->fresh_ttl, imei, ver, what, out);
    pthread_mutex_unlock(&s->fresh_lock);
    return rc == 0 ? out : NULL;
}

/* The request as logged: only validated parts, so the log stays clean. */
static void describe_request(srv_log_row *row, const args *ar, const int ok[P__N], const char *range)
{
    size_t o = 0;
    for (int i = 0; i < P__N; i++) {
        int n = snprintf(row->request + o, sizeof row->request - o, "%s%s=%.*s", i ? "&" : "",
                         param_names[i], ok[i] ? (int)ar->n[i] : 1, ok[i] ? ar->v[i] : "?");
        if (n < 0 || (size_t)n >= sizeof row->request - o) return;
        o += (size_t)n;
    }
    if (range) {
        char safe[32];
        size_t k = 0;
        for (const char *p = range; *p && k < sizeof safe - 1; p++)
            safe[k++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
        safe[k] = '\0';
        snprintf(row->request + o, sizeof row->request - o, " range=%s", safe);
    }
}

static srv_guard_conn *guard_slot(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Called with the request line, before libmicrohttpd parses the query into
 * its per-connection memory, which hundreds of parameters exhaust (the
 * client then gets no answer and nothing is logged). Too many: the query is
 * cut here (the line is in the library's own writable buffer, parsed after
 * this call) and the request is marked, so handle() refuses it with 400 and
 * logs it. The mark is the server itself, so nothing is allocated. The raw
 * target is noted in the connection's guard slot for srv_head_check. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *c)
{
    srv_guard_conn *slot = guard_slot(c);
    if (slot) srv_head_uri_seen(&slot->uri, uri);   /* for the strict head check (head.h) */
    char *q = strchr(uri, '?');
    if (!q) return NULL;
    unsigned n = 1;
    for (const char *p = q + 1; *p && n <= MAX_ARGS; p++) n += *p == '&';
    if (n <= MAX_ARGS) return NULL;
    q[1] = '\0';
    return cls;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    srv_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        const union MHD_ConnectionInfo *from = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        *socket_context = ci ? guard_opened(&s->guard, ci->connect_fd, from ? from->client_addr : NULL) : NULL;
    } else {
        guard_closed(&s->guard, *socket_context);
        *socket_context = NULL;
    }
}

static void log_refused(srv_server *s, srv_log_row *row, int status, int code, const char *msg);

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    srv_server *s = cls;
    srv_guard_conn *slot = guard_slot(c);
    const union MHD_ConnectionInfo *st = MHD_get_connection_info(c, MHD_CONNECTION_INFO_HTTP_STATUS);
    if (slot && !slot->in_request && st) {
        /* libmicrohttpd answered this head itself (too large, no colon, no
         * Host...) after its request line: handle() never saw it */
        srv_log_row row;
        memset(&row, 0, sizeof row);
        row.ts_ms = srv_now_ms();
        snprintf(row.request, sizeof row.request, "malformed head");
        log_refused(s, &row, (int)st->http_status, (int)st->http_status, "refused by libmicrohttpd");
    }
    if (slot) slot->uri.uri = NULL;
    /* api.c's own marks (uri_seen's s, handle's &s->threads) are not a
     * console request: only what console_handle left there is its to free */
    if (*con_cls != s && *con_cls != (void *)&s->threads) console_done(s, con_cls);
    guard_request(&s->guard, guard_slot(c), 0);
}

/* Asks the log writer for a batch now rather than at its next interval. */
static void flush_now(srv_server *s)
{
    pthread_mutex_lock(&s->flush_lock);
    s->flush_pending = 1;
    pthread_cond_signal(&s->flush_wake);
    pthread_mutex_unlock(&s->flush_lock);
}

/* Queues the row of a request refused before any lookup. */
static void log_refused(srv_server *s, srv_log_row *row, int status, int code, const char *msg)
{
    row->status = status;
    row->code = code;
    snprintf(row->msg, sizeof row->msg, "%s", msg);
    pthread_mutex_lock(&s->lock);
    int rc = db_log_queue(&s->db, row);
    pthread_mutex_unlock(&s->lock);
    if (rc) fprintf(stderr, "fota-server: log queue full, row for '%s' dropped\n", row->imei);
}

/* What handle() refuses on the request's first call, before any lookup:
 * 1 with *ret the answer, or 0 (a check, on its second call). */
static int refuse_early(srv_server *s, struct MHD_Connection *c, const char *url, const char *method,
                        size_t *upload_data_size, void **con_cls, srv_log_row *row, enum MHD_Result *ret)
{
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        *ret = send_json(c, MHD_HTTP_METHOD_NOT_ALLOWED, 405, "only GET");
        return 1;
    }
    /* A GET with a body: refused on its headers, before any body byte is read. */
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (*upload_data_size || MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING) ||
        (cl && strcmp(cl, "0") != 0)) {
        snprintf(row->request, sizeof row->request, "%s with a body", method);
        log_refused(s, row, MHD_HTTP_BAD_REQUEST, 400, "unexpected request body");
        *ret = send_json(c, MHD_HTTP_BAD_REQUEST, 400, "unexpected request body");
        return 1;
    }
    if (strcmp(url, API_PATH) != 0) {
        *ret = send_json(c, MHD_HTTP_NOT_FOUND, 404, "not found");
        return 1;
    }
    /* A check is answered on the second call, once libmicrohttpd has the
     * whole (bodiless) request: a response queued on the first call makes
     * it close the connection after it, and every check would cost a new
     * TCP connection. Refusals above stay on the first call (a body is
     * never read). The mark is a field's address: nothing is allocated. */
    if (*con_cls == NULL) {
        *con_cls = &s->threads;
        *ret = MHD_YES;
        return 1;
    }
    if (*con_cls == s) {   /* marked by uri_seen */
        char msg[64];
        snprintf(msg, sizeof msg, "bad request: more than %d parameters", MAX_ARGS);
        snprintf(row->request, sizeof row->request, "more than %d parameters", MAX_ARGS);
        log_refused(s, row, MHD_HTTP_BAD_REQUEST, SRV_INVALID_PROJECT, msg);
        *ret = send_json(c, MHD_HTTP_BAD_REQUEST, SRV_INVALID_PROJECT, msg);
        return 1;
    }
    return 0;
}

/* The query's parameters, each checked (ok), the version canonical (ver);
 * an AT module asking without a KEY gets its project's (at.c); the row's
 * IMEI and request as logged. */
static void read_args(srv_server *s, struct MHD_Connection *c, args *ar, int ok[P__N], char ver[SRV_VER_MAX],
                      char at_key[SRV_KEY_MAX + 1], srv_log_row *row, const char **range)
{
    memset(ar, 0, sizeof *ar);
    MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect, ar);
    ok[P_KEY] = !ar->bad[P_KEY] && srv_is_key(ar->v[P_KEY], ar->n[P_KEY]);
    ok[P_FW] = !ar->bad[P_FW] && srv_is_fwname(ar->v[P_FW], ar->n[P_FW]);
    ok[P_VER] = !ar->bad[P_VER] && srv_version_canon(ar->v[P_VER], ar->n[P_VER], ver);
    ok[P_IMEI] = !ar->bad[P_IMEI] && srv_is_imei(ar->v[P_IMEI], ar->n[P_IMEI]);
    if (!ar->v[P_KEY] && ok[P_FW] && ok[P_IMEI] && (ar->at_model = srv_at_model_len(ar->v[P_FW], ar->n[P_FW]))) {
        pthread_mutex_lock(&s->lock);
        ar->at_rc = srv_at_default_key(&s->db, ar->v[P_FW], ar->n[P_FW], ar->v[P_IMEI], ar->n[P_IMEI], at_key);
        pthread_mutex_unlock(&s->lock);
    }
    if (ar->at_rc == 1) {
        ar->v[P_KEY] = at_key;
        ar->n[P_KEY] = strlen(at_key);
        ok[P_KEY] = 1;
    }
    *range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    if (ok[P_IMEI]) memcpy(row->imei, ar->v[P_IMEI], SRV_IMEI_LEN);
    describe_request(row, ar, ok, *range);
}

/* The answer to a malformed request (1), or 0. */
static int malformed(const args *ar, const int ok[P__N], answer *a)
{
    if (ar->count > MAX_ARGS) set(a, SRV_INVALID_PROJECT, "bad request: more than %d parameters", MAX_ARGS);
    else if (!ok[P_KEY] && ar->at_model) {
        /* A keyless AT module (a valid request) whose IMEI is in no project
         * and whose model has no default one: the key it did not send is
         * not what is wrong. The model is part of the validated name. */
        if (ar->at_rc < 0) set(a, SRV_INTERNAL, "database error");
        else set(a, SRV_INVALID_PROJECT, "no default project for model %.*s; set a KEY", (int)ar->at_model,
                 ar->v[P_FW]);
        return 1;
    } else if (!ok[P_KEY]) set(a, SRV_INVALID_PROJECT, "bad project_key: once, 1..%d of [A-Za-z0-9_-]", SRV_KEY_MAX);
    else if (!ok[P_FW]) set(a, SRV_INVALID_FIRMWARE, "bad firmware_name: once, 1..%d bytes of UTF-8, no control characters",
                                SRV_NAME_MAX);
    else if (!ok[P_VER]) set(a, SRV_VERSION_NOT_ALLOWED, "bad version: once, CORE.x.z, digits, at most %d each",
                             SRV_VER_PART_MAX);
    else if (!ok[P_IMEI]) set(a, SRV_INVALID_DEVICE, "bad imei: once, %d digits", SRV_IMEI_LEN);
    else return 0;
    a->status = status_of(a->code, 1);
    return 1;
}

/* The loop limit (SRV_LOOP_LIMIT), on a decided package answer: it counts
 * when it hands the package out from byte 0 (200, or the 302 to the static
 * host); a resume of it, a HEAD (no bytes) and every other answer do not.
 * The platform's rule stops a module that downloads again and again after
 * failed upgrades: upgrades handed out, not questions asked, so polling is
 * never banned. The 7th delivery of the day is answered 40 and bans the
 * device. Under s->lock; on PostgreSQL the claim is atomic across
 * instances (one round trip, deliveries only). */
static void count_delivery(srv_server *s, int head, int resume, const char *if_range, int64_t day, answer *a,
                           srv_log_row *row)
{
    if (a->code != SRV_OK || head) return;
    /* A Range past byte 0 whose If-Range names another package gets the
     * whole new one (send_package): a delivery, not a resume. */
    if (resume && (!if_range || strcmp(if_range, a->pkg.etag) == 0)) return;
    int64_t before = a->deliveries;
    int rc = db_claim_delivery(&s->db, row->imei, day, &before);
    /* The answer is no longer the package: send_answer closes its fd. */
    if (rc == STORE_DOWN) {
        set(a, SRV_WAIT, "database unreachable, retry later");
    } else if (rc) {
        set(a, SRV_INTERNAL, "database error");
    } else {
        row->counted = 1;   /* refused or not: the count past the limit is the ban until it is written */
        if (before < SRV_LOOP_LIMIT) return;
        row->ban = 1;
        set(a, SRV_LOOP, "loop upgrade: %d upgrades handed out today, device banned", SRV_LOOP_LIMIT);
    }
    row->rl_sent = 0;
}

/* The check of a valid request: decided under the lock and its log row
 * queued. 0, or -1 when the log queue stays full (answer 503: an answer
 * that could not be logged is not given). */
static int check(srv_server *s, const char *key, const char *fw, const char *ver, int head, int resume,
                 const char *if_range, const srv_air *air, srv_log_row *row, answer *a)
{
    /* PostgreSQL: the device side's round trip (its day count read, not
     * claimed) on a pool connection, before the lock, so concurrent checks
     * overlap theirs. */
    srv_dev dev;
    int dev_rc = 0;
    int64_t day = srv_day_start(srv_now_ms());
    if (s->db.pool) dev_rc = db_check_device(&s->db, row->imei, day, &dev);

    pthread_mutex_lock(&s->lock);
    if (db_log_full(&s->db)) {
        /* The writer is behind: a burst waits a little for it (which also
         * gives it the CPU), a held database soon gets 503. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += SRV_LOG_FULL_WAIT_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        flush_now(s);
        while (db_log_full(&s->db) && pthread_cond_timedwait(&s->room, &s->lock, &until) == 0) {
        }
    }
    if (db_log_full(&s->db)) {
        pthread_mutex_unlock(&s->lock);
        fprintf(stderr, "fota-server: log queue full, answering 503\n");
        return -1;
    }
    decide(s, key, air ? air->fw : fw, ver, row->imei, resume, a, row, air, day, s->db.pool ? &dev : NULL, dev_rc);
    count_delivery(s, head, resume, if_range, day, a, row);
    row->code = a->code;
    row->status = a->status;
    snprintf(row->msg, sizeof row->msg, "%s", a->msg);
    db_log_queue(&s->db, row);   /* cannot fail: checked full above, same lock */
    /* A quarter full: the writer need not wait for its next interval (a burst
     * would otherwise fill the queue and get 503s). */
    int wake = s->db.queue.n == SRV_LOG_QUEUE / 4;
    pthread_mutex_unlock(&s->lock);
    if (wake) flush_now(s);
    return 0;
}

/* The decided answer: {"code":...}, the package, or a 302 to it. */
static enum MHD_Result send_answer(srv_server *s, struct MHD_Connection *c, answer *a, const char *imei,
                                   const char *ver, const srv_air *air, int air724)
{
    char fresh_buf[FOTA_FRESH_VALUE_MAX];
    const char *fresh = fresh_statement(s, imei, ver, a, fresh_buf);
    if (a->code != SRV_OK) {
        if (a->fd >= 0) close(a->fd);
        return send_json_fresh(c, a->status, a->code, a->msg, fresh, air724);
    }
    int status = 0;
    /* --package-url: the package from the static host (content-addressed,
     * verified by the device as from us). LuatOS-Air asks for it with
     * need_oss_url=1 and gets the body otherwise, as on the platform. */
    if (s->package_url[0] && (!air || air->oss)) {
        close(a->fd);
        return srv_package_redirect(c, s->package_url, &a->pkg, fresh, &status);
    }
    return send_package(c, a, fresh, &status);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload_data, size_t *upload_data_size,
                              void **con_cls)
{
    (void)upload_data;
    srv_server *s = cls;
    srv_log_row row;
    memset(&row, 0, sizeof row);
    row.ts_ms = srv_now_ms();
    srv_guard_conn *slot = guard_slot(c);
    guard_request(&s->guard, slot, 1);
    /* every request's head, console's too, on its first call (head.h) */
    if (*con_cls == NULL || *con_cls == s) {
        const char *bad = slot ? srv_head_check_connection(c, method, version, &slot->uri) : "no connection slot";
        if (bad) {
            snprintf(row.request, sizeof row.request, "malformed head");
            log_refused(s, &row, MHD_HTTP_BAD_REQUEST, 400, bad);
            return send_json(c, MHD_HTTP_BAD_REQUEST, 400, bad);
        }
    }
    if (!strncmp(url, CONSOLE_PREFIX, strlen(CONSOLE_PREFIX)) && (!url[8] || url[8] == '/'))
        return console_handle(s, c, url, method, upload_data, upload_data_size, con_cls);
    enum MHD_Result ret;
    if (refuse_early(s, c, url, method, upload_data_size, con_cls, &row, &ret)) return ret;

    args ar;
    int ok[P__N];
    char ver[SRV_VER_MAX], at_key[SRV_KEY_MAX + 1];
    const char *range = NULL;
    read_args(s, c, &ar, ok, ver, at_key, &row, &range);
    int resume = is_resume(range);
    answer a;
    memset(&a, 0, sizeof a);
    a.fd = -1;
    /* LuatOS-Air's own parameters: the Air724 library's answers are in its form */
    srv_air_args air_args;
    srv_air_collect(c, &air_args);
    int air724 = srv_air_is_724(&air_args);
    if (malformed(&ar, ok, &a)) {
        log_refused(s, &row, a.status, a.code, a.msg);
        return send_json_fresh(c, a.status, a.code, a.msg, NULL, air724);
    }

    char key[SRV_KEY_MAX + 1], fw[SRV_NAME_MAX + 1];
    memcpy(key, ar.v[P_KEY], ar.n[P_KEY]);
    key[ar.n[P_KEY]] = '\0';
    memcpy(fw, ar.v[P_FW], ar.n[P_FW]);
    fw[ar.n[P_FW]] = '\0';

    /* LuatOS-Air's forms (air.c): its own parameters, checked with the name */
    srv_air air;
    char why[SRV_MSG_MAX];
    int why_code = 0;
    int is_air = srv_air_parse(fw, ver, &air_args, &air, &why_code, why, sizeof why);
    if (is_air < 0) {
        log_refused(s, &row, MHD_HTTP_BAD_REQUEST, why_code, why);
        return send_json_fresh(c, MHD_HTTP_BAD_REQUEST, why_code, why, NULL, air724);
    }
    if (is_air) srv_air_note(&air, row.request, sizeof row.request);
    const char *if_range = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
    int head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    if (check(s, key, fw, ver, head, resume, if_range, is_air ? &air : NULL, &row, &a))
        return send_json_fresh(c, MHD_HTTP_SERVICE_UNAVAILABLE, SRV_WAIT, "server busy, retry later", NULL, air724);
    return send_answer(s, c, &a, row.imei, ver, is_air ? &air : NULL, air724);
}

/* ---------------------------------------------------------------- */
/* life cycle                                                        */

/* One batch of log rows to the database; device checks wait only for the
 * take and the commit, never for the database's write lock. */
static int write_log(srv_server *s, unsigned wait_ms)
{
    pthread_mutex_lock(&s->lock);
    size_t n = db_log_take(&s->db);
    if (n) pthread_cond_broadcast(&s->room);   /* the queue is empty again, unless a batch was kept */
    pthread_mutex_unlock(&s->lock);
    if (n == 0) return 0;
    if (db_log_write(&s->db, wait_ms)) return -1;
    pthread_mutex_lock(&s->lock);
    int rc = db_log_commit(&s->db);
    pthread_mutex_unlock(&s->lock);
    return rc;
}

static void *flusher(void *arg)
{
    srv_server *s = arg;
    pthread_mutex_lock(&s->flush_lock);
    while (!s->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += s->flush_ms / 1000;
        until.tv_nsec += (long)(s->flush_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        /* A wake-up asked for while the last batch was being written is
         * not lost: the next batch goes at once. */
        if (!s->flush_pending) pthread_cond_timedwait(&s->flush_wake, &s->flush_lock, &until);
        s->flush_pending = 0;
        if (s->stopping) break;
        pthread_mutex_unlock(&s->flush_lock);
        write_log(s, SRV_DB_WRITE_WAIT_MS);
        /* Rollouts are judged and advanced on the writer's connection
         * (in the database: any number of servers may do it). */
        int64_t mono = (int64_t)fota_port_now_ms();
        if (mono - s->rollout_tick_ms >= SRV_ROLLOUT_TICK_MS) {
            s->rollout_tick_ms = mono;
            db_rollout_tick(&s->db, srv_now_ms());
            /* the WAL would grow without end: its pages into the database,
             * here, outside the lock, once a second */
            db_checkpoint(&s->db);
        }
        pthread_mutex_lock(&s->flush_lock);
    }
    pthread_mutex_unlock(&s->flush_lock);
    return NULL;
}

static int parse_listen(const char *listen, struct sockaddr_in *sa)
{
    char host[64];
    const char *colon = strrchr(listen, ':');
    if (!colon || (size_t)(colon - listen) >= sizeof host) return -1;
    memcpy(host, listen, (size_t)(colon - listen));
    host[colon - listen] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || port > 65535) return -1;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (strcmp(host, "localhost") == 0) strcpy(host, "127.0.0.1");
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int write_port_file(const char *path, unsigned port)
{
    char tmp[SRV_PATH_MAX + 8];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    FILE *f = fopen(tmp, "w");
    if (!f) return -1;
    fprintf(f, "%u\n", port);
    if (fclose(f) != 0) return -1;
    return rename(tmp, path);
}

/* A whole PEM file (bounded), NUL-terminated, for libmicrohttpd's TLS. */
static char *read_pem(const char *path)
{
    fota_port_file *f;
    uint64_t size = 0;
    size_t got = 0;
    char *buf = NULL;
    if (fota_port_open(&f, path, FOTA_PORT_READ) != FOTA_OK) return NULL;
    if (fota_port_size(f, &size) == FOTA_OK && size > 0 && size < 64 * 1024 &&
        (buf = malloc((size_t)size + 1)) != NULL &&
        (fota_port_pread(f, 0, buf, (size_t)size, &got) != FOTA_OK || got != size)) {
        free(buf);
        buf = NULL;
    }
    fota_port_close(f);
    if (buf) buf[got] = '\0';
    return buf;
}

static void free_tls(srv_server *s)
{
    if (s->tls_key) memset(s->tls_key, 0, strlen(s->tls_key));
    free(s->tls_key);
    free(s->tls_cert);
    s->tls_key = s->tls_cert = NULL;
}

int srv_start(srv_server *s, const srv_serve_opts *o)
{
    memset(s, 0, sizeof *s);
    if (o->tls_cert_path && (!(s->tls_cert = read_pem(o->tls_cert_path)) ||
                             !(s->tls_key = read_pem(o->tls_key_path)))) {
        fprintf(stderr, "fota-server: cannot read the TLS certificate %s or key %s\n", o->tls_cert_path,
                o->tls_key_path);
        free_tls(s);
        return -1;
    }
    struct sockaddr_in sa;
    if (parse_listen(o->listen, &sa)) {
        fprintf(stderr, "fota-server: --listen wants IPV4:PORT, got '%s'\n", o->listen);
        free_tls(s);
        return -1;
    }
    if (o->package_url) {
        if (!srv_air_package_url_ok(o->package_url)) {
            fprintf(stderr, "fota-server: --package-url wants http(s)://..., printable, at most %d bytes\n",
                    SRV_AIR_URL_MAX);
            free_tls(s);
            return -1;
        }
        memcpy(s->package_url, o->package_url, strlen(o->package_url) + 1);
    }
    s->flush_ms = o->flush_ms ? o->flush_ms : 100;
    s->threads = o->threads ? o->threads : 2;
    if (db_open(&s->db, o->db_path, o->data_dir, s->threads)) {
        free_tls(s);
        return -1;
    }
    if (db_cache_init(&s->db, o->cache_ms < 0 ? 0 : o->cache_ms ? (unsigned)o->cache_ms : SRV_CACHE_MS)) {
        db_close(&s->db);
        free_tls(s);
        return -1;
    }
    if (builder_init(&s->builder, s->db.data_dir, o->key_path, o->max_size, o->build_delay_ms, o->db_path)) {
        db_close(&s->db);
        free_tls(s);
        return -1;
    }
    if (o->cache_size) s->db.cache_max = s->builder.cache_max = o->cache_size;
    fota_sig_key_init(&s->fresh_key);
    pthread_mutex_init(&s->fresh_lock, NULL);
    s->fresh_ttl = o->fresh_ttl > 0 ? (unsigned)o->fresh_ttl : SRV_FRESH_TTL;
    s->fresh_on = o->fresh_ttl >= 0 && s->builder.key_pem &&
                  fota_sig_key_load_private(&s->fresh_key, s->builder.key_pem) == 0;
    if (console_start(s, o) || guard_init(&s->guard, o->header_timeout_ms, o->per_address, o->max_connections)) {
        console_stop(s);
        fota_sig_key_free(&s->fresh_key);
        builder_stop(&s->builder);
        db_close(&s->db);
        free_tls(s);
        return -1;
    }
    pthread_mutex_init(&s->lock, NULL);
    pthread_mutex_init(&s->flush_lock, NULL);
    pthread_cond_init(&s->flush_wake, NULL);
    pthread_cond_init(&s->room, NULL);
    if (builder_start(&s->builder) || guard_start(&s->guard) ||
        pthread_create(&s->flusher, NULL, flusher, s)) {
        fprintf(stderr, "fota-server: cannot start threads\n");
        s->stopping = 1;
        builder_stop(&s->builder);
        guard_stop(&s->guard);
        console_stop(s);
        fota_sig_key_free(&s->fresh_key);
        db_close(&s->db);
        free_tls(s);
        return -1;
    }
    /* https: key and certificate as an option array (empty for http). */
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert },
        { MHD_OPTION_END, 0, NULL },
    };
    s->mhd = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_ITC |
            (s->tls_cert ? MHD_USE_TLS : 0), 0, NULL, NULL,
        handle, s,
        MHD_OPTION_ARRAY, s->tls_cert ? tls : tls + 2,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)s->threads,
        /* no per-IP limit here: it refuses at accept; guard.c admits */
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SRV_GUARD_SLOTS,
        MHD_OPTION_URI_LOG_CALLBACK, uri_seen, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)1024,
        MHD_OPTION_END);
    if (!s->mhd) {
        fprintf(stderr, "fota-server: cannot listen on %s\n", o->listen);
        srv_stop(s);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = info ? info->port : ntohs(sa.sin_port);
    char host[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &sa.sin_addr, host, sizeof host);
    printf("fota-server: listening on %s://%s:%u%s (data %s, deltas: %s, signed answers: %s)\n",
           s->tls_cert ? "https" : "http", host, port, API_PATH, s->db.data_dir,
           srv_delta_available() ? "yes" : "no", s->fresh_on ? "yes" : "no");
    fflush(stdout);
    if (o->port_file && write_port_file(o->port_file, port)) {
        fprintf(stderr, "fota-server: cannot write %s\n", o->port_file);
        srv_stop(s);
        return -1;
    }
    return 0;
}

void srv_stop(srv_server *s)
{
    if (s->mhd) {
        /* Stop accepting, then let the running requests finish: each has
         * queued its log row before its response. */
        MHD_quiesce_daemon(s->mhd);
        MHD_stop_daemon(s->mhd);
        s->mhd = NULL;
    }
    pthread_mutex_lock(&s->flush_lock);
    s->stopping = 1;
    pthread_cond_broadcast(&s->flush_wake);
    pthread_mutex_unlock(&s->flush_lock);
    pthread_join(s->flusher, NULL);
    builder_stop(&s->builder);
    if (store_is_pg(s->db.location))
        fprintf(stderr, "fota-server: packages built here: %lu, taken from the database: %lu\n", s->builder.built,
                s->builder.fetched);
    guard_stop(&s->guard);
    console_stop(s);
    /* The batch being written, then the queue behind it. */
    int rc = write_log(s, SRV_DB_STOP_WAIT_MS);
    if (rc == 0) rc = write_log(s, SRV_DB_STOP_WAIT_MS);
    if (rc) fprintf(stderr, "fota-server: %zu log rows could not be written\n",
                    s->db.queue.n + s->db.writing.n);
    db_close(&s->db);
    pthread_cond_destroy(&s->flush_wake);
    pthread_cond_destroy(&s->room);
    pthread_mutex_destroy(&s->flush_lock);
    pthread_mutex_destroy(&s->lock);
    fota_sig_key_free(&s->fresh_key);
    pthread_mutex_destroy(&s->fresh_lock);
    free_tls(s);
}
