/* newlib's system calls for the image: the heap is the linker's .heap
 * (bounded; its high-water mark is kept), stdout/stderr go to the UART.
 * No file system: the rest fail as libnosys's do. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "port/mps2/port_mps2.h"
#include "device_mps2.h"

extern char _heap_start, _heap_end;
static char *brk = &_heap_start;

void *_sbrk(ptrdiff_t incr);
void *_sbrk(ptrdiff_t incr)
{
    char *old = brk;
    if (incr < 0 ? (size_t)-incr > (size_t)(brk - &_heap_start) : (size_t)incr > (size_t)(&_heap_end - brk)) {
        errno = ENOMEM;
        return (void *)-1;
    }
    brk += incr;
    return old;
}

size_t device_heap_top(void)
{
    return (size_t)(brk - &_heap_start);
}

int _write(int fd, const char *buf, int n);
int _write(int fd, const char *buf, int n)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    fota_mps2_uart_write(buf, (size_t)n);
    return n;
}

int _isatty(int fd);
int _isatty(int fd)
{
    return fd <= 2;
}

int _fstat(int fd, struct stat *st);
int _fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;   /* unbuffered-ish: line buffered like a tty */
    return 0;
}
