/* Input checks: every string from the network or the command line goes
 * through one of these before it is used or stored. Lengths are explicit
 * (n) so an embedded NUL from a %00 in a query is caught. */
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "srv.h"

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
    size_t o = 0, i = 0;
    if (!s || n < 5 || n >= SRV_VER_MAX) return 0;
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        size_t len = i - start;
        if (len < 1 || len > SRV_VER_PART_MAX) return 0;
        while (len > 1 && s[start] == '0') { /* "01" == "1", as the device compares */
            start++;
            len--;
        }
        memcpy(out + o, s + start, len);
        o += len;
        if (part < 2) {
            if (i >= n || s[i] != '.') return 0;
            out[o++] = '.';
            i++;
        }
    }
    if (i != n) return 0;
    out[o] = '\0';
    return 1;
}

int64_t srv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t srv_day_start(int64_t ts_ms)
{
    time_t t = (time_t)(ts_ms / 1000);
    struct tm tm;
    localtime_r(&t, &tm);
    tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
    tm.tm_isdst = -1;
    return (int64_t)mktime(&tm) * 1000;
}
