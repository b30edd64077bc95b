/* The operations' error and number parsing (util.h). */
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "validate.h"

int ops_fail(ops_err *e, int rc, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    srv_utf8_trim(e->msg);   /* a name cut by the bound stays UTF-8 (JSON, the console) */
    e->rc = rc;
    e->http = http;
    return rc;
}

int srv_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    if (!s || *s < '0' || *s > '9') return -1;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > max) return -1;
    *out = v;
    return 0;
}
