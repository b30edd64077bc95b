/* Port layer, part 3: a pseudo-terminal standing in for a module's UART. The
 * simulated module holds the master side; a host tool opens the slave path
 * and talks to the "UART" as to a serial port. Raw mode (no echo, no line
 * editing, no CR/LF changes), so any bytes pass unchanged. Reads and writes
 * never block. A device port maps this onto its real UART driver.
 * Return codes: FOTA_OK or a negative fota_err. */
#ifndef FOTA_PORT_PTY_H
#define FOTA_PORT_PTY_H

#include <stddef.h>

typedef struct fota_port_pty fota_port_pty;

/* Opens a pty; its slave path (NUL-terminated) goes to path[0..cap). */
int fota_port_pty_open(fota_port_pty **p, char *path, size_t cap);
/* Up to len bytes that arrived; *got 0 when none (never waits). */
int fota_port_pty_read(fota_port_pty *p, void *buf, size_t len, size_t *got);
/* Queues up to len bytes for the host side; *put is how many were taken. */
int fota_port_pty_write(fota_port_pty *p, const void *buf, size_t len, size_t *put);
void fota_port_pty_close(fota_port_pty *p);

#endif
