/* POSIX port: the UART stand-in on a pseudo-terminal (port_pty.h). */
#define _XOPEN_SOURCE 700   /* posix_openpt, grantpt, unlockpt, ptsname */

#include "core/fota_err.h"
#include "port/port_pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

struct fota_port_pty {
    int master;
    int slave;   /* held open so the pty lives (and buffers) while no tool has it open */
};

static int make_raw(int fd)
{
    struct termios t;
    if (tcgetattr(fd, &t) != 0)
        return -1;
    t.c_iflag &= ~(tcflag_t)(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
    t.c_oflag &= ~(tcflag_t)OPOST;
    t.c_lflag &= ~(tcflag_t)(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
    t.c_cflag &= ~(tcflag_t)(CSIZE | PARENB);
    t.c_cflag |= CS8;
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    return tcsetattr(fd, TCSANOW, &t);
}

int fota_port_pty_open(fota_port_pty **out, char *path, size_t cap)
{
    fota_port_pty *p;
    const char *name;
    *out = NULL;
    if (!path || cap == 0)
        return FOTA_ERR_ARG;
    p = malloc(sizeof *p);
    if (!p)
        return FOTA_ERR_NOMEM;
    p->slave = -1;
    p->master = posix_openpt(O_RDWR | O_NOCTTY);
    if (p->master < 0 || grantpt(p->master) != 0 || unlockpt(p->master) != 0 || !(name = ptsname(p->master))
        || strlen(name) >= cap) {
        if (p->master >= 0)
            close(p->master);
        free(p);
        return FOTA_ERR_IO;
    }
    memcpy(path, name, strlen(name) + 1);
    p->slave = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (p->slave < 0 || make_raw(p->slave) != 0 || fcntl(p->master, F_SETFL, O_NONBLOCK) != 0
        || fcntl(p->master, F_SETFD, FD_CLOEXEC) != 0) {
        fota_port_pty_close(p);
        return FOTA_ERR_IO;
    }
    *out = p;
    return FOTA_OK;
}

/* One non-blocking read or write on the master: the count, 0 when the pty
 * has nothing now (empty, full, or no tool on the other side: EIO). */
static int transfer(fota_port_pty *p, void *buf, size_t len, int writing, size_t *count)
{
    ssize_t n;
    *count = 0;
    if (len == 0)
        return FOTA_OK;
    do
        n = writing ? write(p->master, buf, len) : read(p->master, buf, len);
    while (n < 0 && errno == EINTR);
    if (n >= 0)
        *count = (size_t)n;
    else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EIO)
        return FOTA_ERR_IO;
    return FOTA_OK;
}

int fota_port_pty_read(fota_port_pty *p, void *buf, size_t len, size_t *got)
{
    return transfer(p, buf, len, 0, got);
}

int fota_port_pty_write(fota_port_pty *p, const void *buf, size_t len, size_t *put)
{
    return transfer(p, (void *)(uintptr_t)buf, len, 1, put);   /* write() only reads it */
}

void fota_port_pty_close(fota_port_pty *p)
{
    if (!p)
        return;
    if (p->slave >= 0)
        close(p->slave);
    if (p->master >= 0)
        close(p->master);
    free(p);
}
