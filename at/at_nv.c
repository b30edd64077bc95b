#include "at_nv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/files.h"
#include "core/http.h"
#include "core/fota_err.h"
#include "port/port.h"

#define NV_FILE_MAX 1024   /* both files are far smaller */
#define NV_PATH_MAX 600

static int charset_ok(const char *s, size_t max, const char *extra)
{
    size_t n = strlen(s);
    if (n > max)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr(extra, c)))
            return 0;
    }
    return 1;
}

int at_key_ok(const char *s)
{
    return charset_ok(s, AT_KEY_MAX, "_-");
}

int at_name_ok(const char *s)
{
    return s[0] && charset_ok(s, AT_NAME_MAX, "._-");
}

/* A host of digits and dots only would be taken for a name by the resolver
 * but is meant as an IPv4 literal: it must be one (999.1.1.1 is not). A
 * bracketed host must be an IPv6 literal. */
static int host_ok(const fota_http_url_parts *parts)
{
    unsigned char addr[16];
    if (parts->host_is_v6)
        return inet_pton(AF_INET6, parts->host, addr) == 1;
    if (strspn(parts->host, "0123456789.") == strlen(parts->host))
        return inet_pton(AF_INET, parts->host, addr) == 1;
    return 1;
}

int at_url_ok(const char *s)
{
    fota_http_url_parts parts;
    size_t n = strlen(s);
    if (n == 0)
        return 1;
    if (n > AT_URL_MAX)
        return 0;
    /* "###" marks a url used as is (no query appended), as libfota2 */
    const char *u = strncmp(s, "###", 3) == 0 ? s + 3 : s;
    /* the HTTP client's own parser: scheme, host, port 1..65535, no raw
     * space or control byte; '"' and '\\' could not be shown back quoted */
    if (fota_http_url_parse(u, &parts) != 0 || !host_ok(&parts) || strpbrk(s, "\"\\"))
        return 0;
    return 1;
}

const uint32_t at_ipr_rates[] = { 9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600 };
const size_t at_ipr_rate_count = sizeof at_ipr_rates / sizeof at_ipr_rates[0];

int at_ipr_ok(unsigned long rate)
{
    for (size_t i = 0; i < at_ipr_rate_count; i++)
        if (at_ipr_rates[i] == rate)
            return 1;
    return 0;
}

static int luhn_digit(const char *d14)
{
    int sum = 0;
    for (int i = 0; i < 14; i++) {
        int v = d14[i] - '0';
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return (10 - sum % 10) % 10;
}

int at_imei_ok(const char *s)
{
    if (strlen(s) != AT_IMEI_LEN || strspn(s, "0123456789") != AT_IMEI_LEN)
        return 0;
    return s[14] - '0' == luhn_digit(s);
}

void at_imei_from_name(const char *name, char out[AT_IMEI_LEN + 1])
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    /* "86" as Luat's modules' IMEIs start; 12 digits from the hash */
    snprintf(out, AT_IMEI_LEN + 1, "86%012llu0", (unsigned long long)(h % 1000000000000ull));
    out[14] = (char)('0' + luhn_digit(out));
}

void at_settings_default(at_settings *st)
{
    memset(st, 0, sizeof *st);
    st->period = AT_PERIOD_DEFAULT;
}

static int nv_path(const char *dir, const char *name, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n > 0 && (size_t)n < cap ? FOTA_OK : FOTA_ERR_RANGE;
}

/* Reads DIR/name whole (bounded) as a NUL-terminated string: FOTA_OK,
 * FOTA_ERR_NOENT, or FOTA_ERR_FORMAT for anything unreadable. */
static int read_small(const char *dir, const char *name, char *buf, size_t cap)
{
    char path[NV_PATH_MAX];
    fota_port_file *f;
    uint64_t size = 0;
    size_t got = 0;
    int rc = nv_path(dir, name, path, sizeof path);
    if (rc == FOTA_OK)
        rc = fota_port_open(&f, path, FOTA_PORT_READ);
    if (rc != FOTA_OK)
        return rc == FOTA_ERR_NOENT ? rc : FOTA_ERR_FORMAT;
    rc = fota_port_size(f, &size);
    if (rc == FOTA_OK && size >= cap)
        rc = FOTA_ERR_FORMAT;
    if (rc == FOTA_OK)
        rc = fota_port_pread(f, 0, buf, (size_t)size, &got);
    fota_port_close(f);
    if (rc != FOTA_OK)
        return FOTA_ERR_FORMAT;
    buf[got] = '\0';
    return strlen(buf) == got ? FOTA_OK : FOTA_ERR_FORMAT;   /* no NUL inside */
}

/* The value of "name=" in a file read by read_small, copied into out. */
static int field(const char *text, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = text; *p; ) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > n && p[n] == '=' && memcmp(p, name, n) == 0) {
            if (len - n - 1 >= cap)
                return FOTA_ERR_FORMAT;
            memcpy(out, p + n + 1, len - n - 1);
            out[len - n - 1] = '\0';
            return FOTA_OK;
        }
        p += len + (end ? 1 : 0);
    }
    return FOTA_ERR_FORMAT;
}

/* Replaces DIR/name whole (core/files: temporary, sync, rename). */
static int write_small(const char *dir, const char *name, const char *text)
{
    char path[NV_PATH_MAX];
    int rc = nv_path(dir, name, path, sizeof path);
    return rc != FOTA_OK ? rc : fota_file_write_atomic(path, text, strlen(text));
}

int at_settings_load(const char *dir, at_settings *st)
{
    char text[NV_FILE_MAX], period[16], *end;
    at_settings got;
    int rc;

    at_settings_default(st);
    if ((rc = read_small(dir, "nv", text, sizeof text)) != FOTA_OK)
        return rc;
    at_settings_default(&got);
    if (field(text, "key", got.key, sizeof got.key) != FOTA_OK || !at_key_ok(got.key) ||
        field(text, "url", got.url, sizeof got.url) != FOTA_OK || !at_url_ok(got.url) ||
        field(text, "period", period, sizeof period) != FOTA_OK || !period[0] ||
        strspn(period, "0123456789") != strlen(period) || strtoul(period, &end, 10) > AT_PERIOD_MAX)
        return FOTA_ERR_FORMAT;
    got.period = (uint32_t)strtoul(period, NULL, 10);
    *st = got;
    return FOTA_OK;
}

int at_settings_save(const char *dir, const at_settings *st)
{
    char text[NV_FILE_MAX];
    if (!at_key_ok(st->key) || !at_url_ok(st->url) || st->period > AT_PERIOD_MAX)
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "key=%s\nurl=%s\nperiod=%lu\n", st->key, st->url, (unsigned long)st->period);
    return write_small(dir, "nv", text);
}

void at_profile_default(at_profile *p)
{
    p->echo = 1;
    p->cmee = 0;
    p->ipr = 115200;
}

int at_profile_load(const char *dir, at_profile *p)
{
    char text[NV_FILE_MAX], echo[4], cmee[4], ipr[12];
    int rc;

    at_profile_default(p);
    if ((rc = read_small(dir, "profile", text, sizeof text)) != FOTA_OK)
        return rc;
    if (field(text, "echo", echo, sizeof echo) != FOTA_OK || (strcmp(echo, "0") && strcmp(echo, "1")) ||
        field(text, "cmee", cmee, sizeof cmee) != FOTA_OK || strlen(cmee) != 1 || cmee[0] < '0' || cmee[0] > '2' ||
        field(text, "ipr", ipr, sizeof ipr) != FOTA_OK || !ipr[0] || strspn(ipr, "0123456789") != strlen(ipr) ||
        !at_ipr_ok(strtoul(ipr, NULL, 10)))
        return FOTA_ERR_FORMAT;
    p->echo = echo[0] - '0';
    p->cmee = cmee[0] - '0';
    p->ipr = (uint32_t)strtoul(ipr, NULL, 10);
    return FOTA_OK;
}

int at_profile_save(const char *dir, const at_profile *p)
{
    char text[NV_FILE_MAX];
    if ((p->echo != 0 && p->echo != 1) || p->cmee < 0 || p->cmee > 2 || !at_ipr_ok(p->ipr))
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "echo=%d\ncmee=%d\nipr=%lu\n", p->echo, p->cmee, (unsigned long)p->ipr);
    return write_small(dir, "profile", text);
}

static int digits_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    return n > 0 && n <= max && strspn(s, "0123456789") == n;
}

int at_last_load(const char *dir, at_last *l)
{
    char text[NV_FILE_MAX], end[8], when[24], version[12];
    int rc;
    memset(l, 0, sizeof *l);
    if ((rc = read_small(dir, "last", text, sizeof text)) != FOTA_OK)
        return rc;
    if (field(text, "end", end, sizeof end) != FOTA_OK || !digits_ok(end, 3) ||
        field(text, "time", when, sizeof when) != FOTA_OK || !digits_ok(when, 19) ||
        field(text, "version", version, sizeof version) != FOTA_OK || !digits_ok(version, 9))
        return FOTA_ERR_FORMAT;
    l->end = (int)strtoul(end, NULL, 10);
    l->time = strtoull(when, NULL, 10);
    l->version = (uint32_t)strtoul(version, NULL, 10);
    return FOTA_OK;
}

int at_last_save(const char *dir, const at_last *l)
{
    char text[NV_FILE_MAX];
    if (l->end < 0 || l->end > 999 || l->version > 999999999u)
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "end=%d\ntime=%llu\nversion=%lu\n", l->end, (unsigned long long)l->time,
             (unsigned long)l->version);
    return write_small(dir, "last", text);
}

int at_report_load(const char *dir, uint32_t *version)
{
    char text[NV_FILE_MAX], v[12];
    int rc;
    *version = 0;
    if ((rc = read_small(dir, "report", text, sizeof text)) != FOTA_OK)
        return rc;
    if (field(text, "pending", v, sizeof v) != FOTA_OK || !digits_ok(v, 9))
        return FOTA_ERR_FORMAT;
    *version = (uint32_t)strtoul(v, NULL, 10);
    return FOTA_OK;
}

int at_report_save(const char *dir, uint32_t version)
{
    char text[32];
    if (version == 0 || version > 999999999u)
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "pending=%lu\n", (unsigned long)version);
    return write_small(dir, "report", text);
}

int at_report_clear(const char *dir)
{
    char path[NV_PATH_MAX];
    int rc = nv_path(dir, "report", path, sizeof path);
    return rc != FOTA_OK ? rc : fota_port_remove(path);
}

int at_etag_ok(const char *s)
{
    size_t n = strlen(s);
    const char *q = strncmp(s, "W/", 2) == 0 ? s + 2 : s;
    size_t qn = strlen(q);
    if (n > AT_VALIDATOR_MAX || qn < 2 || q[0] != '"' || q[qn - 1] != '"')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '!' || s[i] > '~')   /* RFC 9110 etagc, and nothing that breaks a header line */
            return 0;
    return 1;
}

int at_validator_ok(const char *s)
{
    size_t n = strlen(s);
    if (at_etag_ok(s))
        return 1;
    if (n == 0 || n > AT_VALIDATOR_MAX || s[0] == ' ' || s[n - 1] == ' ')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < ' ' || s[i] > '~' || s[i] == '"')   /* "Mon, 07 Dec 2026 17:00:00 GMT" */
            return 0;
    return 1;
}

int at_installed_load(const char *dir, at_installed *in)
{
    char text[NV_FILE_MAX], v[12];
    int rc;
    memset(in, 0, sizeof *in);
    if ((rc = read_small(dir, "installed", text, sizeof text)) != FOTA_OK)
        return rc;
    if (field(text, "validator", in->validator, sizeof in->validator) != FOTA_OK ||
        !at_validator_ok(in->validator) ||
        field(text, "version", v, sizeof v) != FOTA_OK || !digits_ok(v, 9)) {
        memset(in, 0, sizeof *in);
        return FOTA_ERR_FORMAT;
    }
    in->version = (uint32_t)strtoul(v, NULL, 10);
    return FOTA_OK;
}

int at_installed_save(const char *dir, const at_installed *in)
{
    char text[NV_FILE_MAX];
    if (!at_validator_ok(in->validator) || in->version > 999999999u)
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "validator=%s\nversion=%lu\n", in->validator, (unsigned long)in->version);
    return write_small(dir, "installed", text);
}

int at_identity_load(const char *dir, at_identity *id)
{
    char text[NV_FILE_MAX];
    int rc;
    memset(id, 0, sizeof *id);
    if ((rc = read_small(dir, "identity", text, sizeof text)) != FOTA_OK)
        return rc;
    if (field(text, "imei", id->imei, sizeof id->imei) != FOTA_OK || !at_imei_ok(id->imei) ||
        field(text, "model", id->model, sizeof id->model) != FOTA_OK || !at_name_ok(id->model) ||
        field(text, "bsp", id->bsp, sizeof id->bsp) != FOTA_OK || !at_name_ok(id->bsp))
        return FOTA_ERR_FORMAT;
    return FOTA_OK;
}

int at_identity_save(const char *dir, const at_identity *id)
{
    char text[NV_FILE_MAX];
    if (!at_imei_ok(id->imei) || !at_name_ok(id->model) || !at_name_ok(id->bsp))
        return FOTA_ERR_ARG;
    snprintf(text, sizeof text, "imei=%s\nmodel=%s\nbsp=%s\n", id->imei, id->model, id->bsp);
    return write_small(dir, "identity", text);
}
