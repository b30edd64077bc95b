/* What every operation of the server shares (util.c): the exit codes of
 * fota-server and the error an operation returns instead of printing, so
 * that the CLI (cli.c) prints it and the console (console_*.c) answers it. */
#ifndef FOTA_SRV_UTIL_H
#define FOTA_SRV_UTIL_H

/* fota-server's exit codes: 0 ok, 2 usage or refused input, 3 I/O or database. */
enum { EXIT_OK_ = 0, EXIT_FAIL = 1, EXIT_USAGE_ERR = 2, EXIT_IO_ERR = 3 };

#include <stdarg.h>

#define OPS_MSG_MAX 256
#define OPS_CODE_MAX 32
#define OPS_ARGS_MAX 5
#define OPS_ARG_NAME_MAX 16
#define OPS_ARG_VALUE_MAX 160

/* An error: its English text (msg, what the CLI prints), and for the
 * console its code and the values of the text's {name} places (args), so
 * that the page says it in the user's language (docs/server.md "Console
 * error codes"). code "" = made by ops_fail: the console answers "failed". */
typedef struct ops_err {
    int rc;                       /* EXIT_USAGE_ERR (refused input) or EXIT_IO_ERR */
    int http;                     /* 400, 404, 409 or 500: what the console answers */
    char msg[OPS_MSG_MAX];
    char code[OPS_CODE_MAX];
    int nargs;
    struct {
        char name[OPS_ARG_NAME_MAX], value[OPS_ARG_VALUE_MAX];
    } args[OPS_ARGS_MAX];
} ops_err;

/* Fills e and returns e->rc. */
int ops_fail(ops_err *e, int rc, int http, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Fills e with a code of the table (util.c) and its args, given as name,
 * value string pairs ended by NULL; msg is the code's English text with the
 * values put in. Returns e->rc. An unknown code is a programming error:
 * msg names it. */
int ops_failk(ops_err *e, int rc, int http, const char *code, ...) __attribute__((sentinel));
int ops_vfailk(ops_err *e, int rc, int http, const char *code, va_list ap);
/* The English text of a code, with {name} places (NULL: unknown code). */
const char *ops_code_text(const char *code);
/* v as decimal into buf (24 bytes), for an argument. */
const char *ops_num(char buf[24], long long v);

/* A decimal number of at most max (digits only, no sign): 0, else -1. */
int srv_parse_uint(const char *s, unsigned long max, unsigned long *out);

#endif
