/* ARM semihosting calls: see semihost.h. */
#include "port/mps2/semihost.h"

#include <string.h>

static long call(int op, void *arg)
{
    register long r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

int semi_open(const char *name, int mode)
{
    long a[3] = { (long)name, mode, (long)strlen(name) };
    return (int)call(0x01, a);
}

int semi_close(int fd)
{
    long a[1] = { fd };
    return (int)call(0x02, a);
}

long semi_flen(int fd)
{
    long a[1] = { fd };
    return call(0x0c, a);
}

int semi_seek(int fd, long pos)
{
    long a[2] = { fd, pos };
    return call(0x0a, a) == 0 ? 0 : -1;
}

int semi_write(int fd, const void *buf, size_t n)
{
    long a[3] = { fd, (long)buf, (long)n };
    return call(0x05, a) == 0 ? 0 : -1;   /* the count NOT written */
}

int semi_read(int fd, void *buf, size_t n, size_t *got)
{
    long a[3] = { fd, (long)buf, (long)n };
    long left = call(0x06, a);
    if (left < 0 || (size_t)left > n)
        return -1;
    *got = n - (size_t)left;
    return 0;
}

int semi_cmdline(char *buf, size_t cap)
{
    long a[2] = { (long)buf, (long)cap };
    return call(0x15, a) == 0 ? 0 : -1;
}

void semi_exit(int ok)
{
    /* ADP_Stopped_ApplicationExit or ADP_Stopped_RunTimeErrorUnknown */
    call(0x18, (void *)(ok ? 0x20026L : 0x20023L));
    for (;;) {
    }
}
