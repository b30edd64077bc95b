/* Input checks: every string from the network or the command line goes
 * through one of these before it is used or stored. Lengths are explicit
 * (n) so an embedded NUL from a %00 in a query is caught. */
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "validate.h"

#include "core/version.h"

static int is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int srv_is_key(const char *s, size_t n)
{
    if (!s || n < 1 || n > SRV_KEY_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-') return 0;
    return 1;
}

/* The package format's alphabet, so names are safe in files, JSON and logs. */
int srv_is_name(const char *s, size_t n)
{
    if (!s || n < 1 || n > SRV_NAME_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.') return 0;
    return 1;
}

size_t srv_utf8_seq(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) return 0;
    if (u[0] < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {        /* 0xc0, 0xc1: overlong */
        len = 2;
        cp = u[0] & 0x1f;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        len = 3;
        cp = u[0] & 0x0f;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        len = 4;
        cp = u[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (u[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;   /* overlong, past U+10FFFF */
    if (cp >= 0xd800 && cp <= 0xdfff) return 0;                                                /* surrogates */
    return len;
}

/* 1 when the character at s (len bytes, a valid sequence) is a control:
 * C0, DEL or C1 (U+0080..U+009F, encoded 0xc2 0x80..0x9f). */
static int is_control(const char *s, size_t len)
{
    unsigned char c = (unsigned char)s[0];
    if (len == 1) return c < 0x20 || c == 0x7f;
    return len == 2 && c == 0xc2 && (unsigned char)s[1] <= 0x9f;
}

int srv_is_text(const char *s, size_t n, size_t max_chars)
{
    size_t chars = 0;
    if (!s || n < 1) return 0;
    for (size_t i = 0; i < n;) {
        size_t len = srv_utf8_seq(s + i, n - i);
        if (!len || is_control(s + i, len) || ++chars > max_chars) return 0;
        i += len;
    }
    return 1;
}

int srv_is_project_name(const char *s, size_t n)
{
    return n <= SRV_PROJECT_MAX && srv_is_text(s, n, SRV_PROJECT_CHARS);
}

int srv_is_fwname(const char *s, size_t n)
{
    return n <= SRV_NAME_MAX && srv_is_text(s, n, SRV_NAME_MAX);
}

void srv_utf8_trim(char *s)
{
    size_t n = strlen(s), i = n;
    /* back over continuation bytes to the last sequence's first byte */
    while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) i--;
    if (i > 0 && (unsigned char)s[i - 1] >= 0x80 && srv_utf8_seq(s + i - 1, n - i + 1) != n - i + 1) s[i - 1] = '\0';
}

int srv_is_owner(const char *s, size_t n)
{
    if (!s || n < 1 || n > SRV_OWNER_MAX) return 0;
    for (size_t i = 0; i < n; i++)
        if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.' && s[i] != '@') return 0;
    return 1;
}

int srv_is_imei(const char *s, size_t n)
{
    if (!s || n != SRV_IMEI_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    return 1;
}

int srv_imei_luhn(const char *imei)
{
    int sum = 0;
    for (int i = 0; i < SRV_IMEI_LEN; i++) {
        int d = imei[SRV_IMEI_LEN - 1 - i] - '0';
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

int srv_version_canon(const char *s, size_t n, char *out)
{
    if (!s || n < 5 || n >= SRV_VER_MAX) return 0;
    /* at most SRV_VER_PART_MAX digits a part as sent, leading zeros included */
    for (size_t i = 0, run = 0; i < n; i++) {
        run = s[i] == '.' ? 0 : run + 1;
        if (run > SRV_VER_PART_MAX) return 0;
    }
    return fota_version_canon(s, n, out, SRV_VER_MAX) == 0;
}

int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t srv_day_start(int64_t ts_ms)
{
    /* Not mktime: it looks at /etc/localtime again on every call (a path
     * lookup per device check); localtime_r does not. Back by the wall
     * clock's seconds since midnight, corrected by an offset change (DST)
     * between then and now. */
    time_t t = (time_t)(ts_ms / 1000);
    if (ts_ms < 0 && t * 1000 != ts_ms) t--;
    struct tm now, then;
    localtime_r(&t, &now);
    time_t t0 = t - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec);
    localtime_r(&t0, &then);
    long off = then.tm_hour * 3600L + then.tm_min * 60 + then.tm_sec;
    if (then.tm_mday == now.tm_mday) t0 -= off;                    /* clocks went back: midnight was earlier */
    else if (off) t0 += 86400L - off;                              /* went forward: it was later */
    return (int64_t)t0 * 1000;
}
