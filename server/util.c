/* The operations' error (util.h). */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>

int ops_fail(ops_err *e, int rc, int http, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    e->rc = rc;
    e->http = http;
    return rc;
}
