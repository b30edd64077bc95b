/* Freshness statements (fresh.h). The header value is parsed strictly:
 * fixed field order, bounded digits, lowercase hex of exactly the
 * signature's length, nothing after. */
#include "core/fresh.h"
#include "core/version.h"

#include <stdio.h>
#include <string.h>

#include "core/bytes.h"
#include "core/fota_err.h"

const char *fota_fresh_errname(int code)
{
    switch (code) {
    case 0: return "ok";
    case FOTA_FRESH_E_FORMAT: return "bad_format";
    case FOTA_FRESH_E_SIGNATURE: return "bad_signature";
    case FOTA_FRESH_E_EXPIRED: return "expired";
    case FOTA_FRESH_E_FUTURE: return "future";
    default: return NULL;
    }
}

static int field_ok(const char *s)
{
    size_t n = s ? strnlen(s, FOTA_FRESH_FIELD_MAX + 1) : 0;
    return n > 0 && n <= FOTA_FRESH_FIELD_MAX && !strpbrk(s, "\r\n");
}

/* SHA-256 of the signed message. */
static int digest(int64_t t, int64_t exp, const char *device, const char *version, const char *answer,
                  uint8_t h[32])
{
    char msg[64 + 3 * FOTA_FRESH_FIELD_MAX], canon[FOTA_FRESH_FIELD_MAX + 1];
    if (!field_ok(device) || !field_ok(version) || !field_ok(answer)) return FOTA_ERR_ARG;
    /* "1103.001.000" as the device sent it is the server's "1103.1.0" */
    if (fota_version_canon(version, strlen(version), canon, sizeof canon) == 0) version = canon;
    int n = snprintf(msg, sizeof msg, "LFFR1\n%lld\n%lld\n%s\n%s\n%s", (long long)t, (long long)exp, device,
                     version, answer);
    if (n < 0 || (size_t)n >= sizeof msg) return FOTA_ERR_ARG;
    return fota_sha256(msg, (size_t)n, h);
}

int fota_fresh_sign(fota_sig_key *key, int64_t t, int64_t exp, const char *device,
                    const char *version, const char *answer, char out[FOTA_FRESH_VALUE_MAX])
{
    uint8_t h[32], sig[FOTA_SIG_RAW_LEN];
    char hex[2 * FOTA_SIG_RAW_LEN + 1];
    if (!key || !out || t < 0 || exp < t || exp > FOTA_FRESH_TIME_MAX) return FOTA_ERR_ARG;
    int rc = digest(t, exp, device, version, answer, h);
    if (rc) return rc;
    if (fota_sig_sign(key, h, sig) != 0) return FOTA_ERR_IO;
    fota_hex(sig, sizeof sig, hex);
    snprintf(out, FOTA_FRESH_VALUE_MAX, "v=1;t=%lld;exp=%lld;sig=%s", (long long)t, (long long)exp, hex);
    return 0;
}

/* "name=" then 1..12 digits, no leading zero (but "0"); advances *p. */
static int take_number(const char **p, const char *name, int64_t *out)
{
    size_t k = strlen(name);
    if (strncmp(*p, name, k) != 0) return -1;
    const char *q = *p + k;
    int64_t v = 0;
    int digits = 0;
    while (*q >= '0' && *q <= '9') {
        if (++digits > 12 || (digits == 2 && v == 0)) return -1;
        v = v * 10 + (*q++ - '0');
    }
    if (digits == 0) return -1;
    *out = v;
    *p = q;
    return 0;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int parse(const char *v, fota_fresh *f, uint8_t sig[FOTA_SIG_RAW_LEN])
{
    const char *p = v;
    if (strncmp(p, "v=1;", 4) != 0) return FOTA_FRESH_E_FORMAT;
    p += 4;
    if (take_number(&p, "t=", &f->time) || *p++ != ';' || take_number(&p, "exp=", &f->expires) ||
        strncmp(p, ";sig=", 5) != 0)
        return FOTA_FRESH_E_FORMAT;
    p += 5;
    for (size_t i = 0; i < FOTA_SIG_RAW_LEN; i++) {
        int hi = hexval(p[2 * i]), lo = hi < 0 ? -1 : hexval(p[2 * i + 1]);
        if (lo < 0) return FOTA_FRESH_E_FORMAT;
        sig[i] = (uint8_t)(hi << 4 | lo);
    }
    if (p[2 * FOTA_SIG_RAW_LEN] != '\0' || f->expires < f->time) return FOTA_FRESH_E_FORMAT;
    return 0;
}

int fota_fresh_check(fota_sig_key *key, const char *value, const char *device, const char *version,
                     const char *answer, int64_t now, int64_t skew, fota_fresh *out)
{
    fota_fresh f;
    uint8_t sig[FOTA_SIG_RAW_LEN], h[32];
    if (!key || !value || skew < 0) return FOTA_ERR_ARG;
    if (strnlen(value, FOTA_FRESH_VALUE_MAX) >= FOTA_FRESH_VALUE_MAX) return FOTA_FRESH_E_FORMAT;
    int rc = parse(value, &f, sig);
    if (rc) return rc;
    if ((rc = digest(f.time, f.expires, device, version, answer, h)) != 0) return rc;
    if (fota_sig_verify(key, h, sig) != 0) return FOTA_FRESH_E_SIGNATURE;
    /* Signed, so the times are the server's: now judges them. */
    if (now > f.expires) return FOTA_FRESH_E_EXPIRED;
    if (f.time > now + skew) return FOTA_FRESH_E_FUTURE;
    if (out) *out = f;
    return 0;
}

static void put64(uint8_t *p, int64_t v)
{
    fota_put32(p, (uint32_t)((uint64_t)v & 0xffffffffu));
    fota_put32(p + 4, (uint32_t)((uint64_t)v >> 32));
}

static int64_t get64(const uint8_t *p)
{
    return (int64_t)((uint64_t)fota_get32(p) | (uint64_t)fota_get32(p + 4) << 32);
}

int fota_fresh_save(const char *path, const fota_fresh *f)
{
    char tmp[1024];
    uint8_t rec[FOTA_FRESH_RECORD_LEN];
    fota_port_file *out = NULL;
    if (!path || !f || snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return FOTA_ERR_ARG;
    memcpy(rec, "LFFS", 4);
    put64(rec + 4, f->time);
    put64(rec + 12, f->expires);
    int rc = fota_port_open(&out, tmp, FOTA_PORT_WRITE | FOTA_PORT_TRUNC);
    if (rc) return rc;
    rc = fota_port_pwrite(out, 0, rec, sizeof rec);
    if (rc == 0) rc = fota_port_sync(out);
    fota_port_close(out);
    if (rc == 0) rc = fota_port_rename(tmp, path);
    if (rc) fota_port_remove(tmp);
    return rc;
}

int fota_fresh_load(const char *path, fota_fresh *f)
{
    uint8_t rec[FOTA_FRESH_RECORD_LEN + 1];
    fota_port_file *in = NULL;
    size_t got = 0;
    if (!path || !f) return FOTA_ERR_ARG;
    if (!fota_port_exists(path)) return FOTA_ERR_NOENT;
    int rc = fota_port_open(&in, path, FOTA_PORT_READ);
    if (rc) return rc;
    rc = fota_port_pread(in, 0, rec, sizeof rec, &got);
    fota_port_close(in);
    if (rc) return rc;
    if (got != FOTA_FRESH_RECORD_LEN || memcmp(rec, "LFFS", 4) != 0) return FOTA_ERR_FORMAT;
    f->time = get64(rec + 4);
    f->expires = get64(rec + 12);
    return f->time < 0 || f->expires < f->time ? FOTA_ERR_FORMAT : 0;
}
