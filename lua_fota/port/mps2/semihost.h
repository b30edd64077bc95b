/* ARM semihosting (BKPT 0xAB), the debugger's channel QEMU answers with
 * -semihosting-config enable=on: host files for the flash image and the
 * test's inputs, the command line, and a stop. QEMU only: a real module has
 * no host. */
#ifndef FOTA_SEMIHOST_H
#define FOTA_SEMIHOST_H

#include <stddef.h>

enum { SEMI_R_B = 1, SEMI_RW_B = 3, SEMI_W_B = 5 };   /* fopen-like modes "rb", "r+b", "wb" */

int semi_open(const char *name, int mode);         /* a handle, or -1 */
int semi_close(int fd);
long semi_flen(int fd);                            /* -1 on error */
int semi_seek(int fd, long pos);                   /* 0 ok */
/* Both move all n bytes or fail (-1); 0 on success. */
int semi_write(int fd, const void *buf, size_t n);
int semi_read(int fd, void *buf, size_t n, size_t *got);
int semi_cmdline(char *buf, size_t cap);           /* 0 ok, NUL-terminated */
/* QEMU exits at once: status 0 when ok, else 1. Used for "power off". */
void semi_exit(int ok) __attribute__((noreturn));

#endif
