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
