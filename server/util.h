/* What every operation of the server shares (util.c): the exit codes of
 * fota-server and the error an operation returns instead of printing, so
 * that the CLI (cli.c) prints it and the console (console_*.c) answers it. */
#ifndef FOTA_SRV_UTIL_H
#define FOTA_SRV_UTIL_H

/* fota-server's exit codes: 0 ok, 2 usage or refused input, 3 I/O or database. */
enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_USAGE_ERR = 2, EXIT_IO_ERR = 3 };

#define OPS_MSG_MAX 256

typedef struct ops_err {
    int rc;                       /* EXIT_USAGE_ERR (refused input) or EXIT_IO_ERR */
    int http;                     /* 400, 404, 409 or 500: what the console answers */
    char msg[OPS_MSG_MAX];
} ops_err;

/* Fills e and returns e->rc. */
int ops_fail(ops_err *e, int rc, int http, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A decimal number of at most max (digits only, no sign): 0, else -1. */
int srv_parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif
