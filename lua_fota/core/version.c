#include "core/version.h"

#include <stddef.h>
#include <string.h>

#include "core/fota_err.h"

int fota_version_valid(const char *s)
{
    if (!s) return 0;
    int parts = 0;
    for (;;) {
        size_t digits = 0;
        while (s[digits] >= '0' && s[digits] <= '9') digits++;
        if (digits == 0) return 0;
        s += digits;
        parts++;
        if (*s == '.' && parts < 3) { s++; continue; }
        return *s == '\0' && parts == 3;
    }
}

int fota_version_canon(const char *s, size_t n, char *out, size_t cap)
{
    size_t i = 0, o = 0;
    if (!s || !out) return FOTA_ERR_ARG;
    for (int part = 0; part < 3; part++) {
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') i++;
        if (i == start) return FOTA_ERR_ARG;
        while (i - start > 1 && s[start] == '0') start++;
        if (o + (i - start) + 1 > cap) return FOTA_ERR_ARG;   /* the part, then a dot or the NUL */
        memcpy(out + o, s + start, i - start);
        o += i - start;
        if (part < 2) {
            if (i >= n || s[i] != '.') return FOTA_ERR_ARG;
            out[o++] = '.';
            i++;
        }
    }
    if (i != n) return FOTA_ERR_ARG;
    out[o] = '\0';
    return 0;
}

/* Compares one digit run; advances both pointers past it and the dot. */
static int cmp_part(const char **pa, const char **pb)
{
    const char *a = *pa, *b = *pb;
    while (*a == '0' && a[1] >= '0' && a[1] <= '9') a++;
    while (*b == '0' && b[1] >= '0' && b[1] <= '9') b++;
    size_t la = 0, lb = 0;
    while (a[la] >= '0' && a[la] <= '9') la++;
    while (b[lb] >= '0' && b[lb] <= '9') lb++;
    int c = la < lb ? -1 : la > lb ? 1 : 0;
    if (c == 0) {
        int m = memcmp(a, b, la);
        c = m < 0 ? -1 : m > 0 ? 1 : 0;
    }
    *pa = a + la + (a[la] == '.');
    *pb = b + lb + (b[lb] == '.');
    return c;
}

int fota_version_compare(const char *a, const char *b, int *cmp)
{
    if (!cmp || !fota_version_valid(a) || !fota_version_valid(b)) return FOTA_ERR_ARG;
    int c = 0;
    for (int i = 0; i < 3; i++) {
        int r = cmp_part(&a, &b);
        if (c == 0) c = r;
    }
    *cmp = c;
    return 0;
}

int fota_version_parse_core(const char *s, uint32_t *out)
{
    if (!s || !out) return FOTA_ERR_ARG;
    if (*s == 'V' || *s == 'v') s++;
    uint32_t v = 0;
    size_t n = 0;
    for (; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 9) return FOTA_ERR_ARG;  /* 9 digits cannot overflow */
        v = v * 10 + (uint32_t)(s[n] - '0');
    }
    if (n == 0 || v == 0) return FOTA_ERR_ARG;
    *out = v;
    return 0;
}
