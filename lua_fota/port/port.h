/* Port layer, part 1: storage and clock. The only code that touches files
 * and clocks. Each port is a folder of lua_fota/port/ that implements it:
 * posix/ (a host's files), sim/ (the same with simulated power cuts and NOR
 * flash), a device's own beside them. Network and TLS are in port_net.h.
 * All functions return FOTA_OK or a negative fota_err. */
#ifndef FOTA_PORT_H
#define FOTA_PORT_H

#include <stddef.h>
#include <stdint.h>

typedef struct fota_port_file fota_port_file;

enum fota_port_mode {
    FOTA_PORT_READ = 1,    /* existing file, read only */
    FOTA_PORT_WRITE = 2,   /* read/write, created if missing, kept if present */
    FOTA_PORT_TRUNC = 4    /* with WRITE: start empty */
};

int fota_port_open(fota_port_file **f, const char *path, int mode);
/* Reads up to len bytes at off; *got is set to the count (short at EOF). */
int fota_port_pread(fota_port_file *f, uint64_t off, void *buf, size_t len, size_t *got);
/* Writes all len bytes at off or fails. */
int fota_port_pwrite(fota_port_file *f, uint64_t off, const void *buf, size_t len);
int fota_port_truncate(fota_port_file *f, uint64_t len);
int fota_port_size(fota_port_file *f, uint64_t *size);
int fota_port_sync(fota_port_file *f);
void fota_port_close(fota_port_file *f);

/* Both are durable when they return: the directory is synced too. */
int fota_port_remove(const char *path);          /* missing file is not an error */
int fota_port_rename(const char *from, const char *to); /* atomic replace */
int fota_port_mkdirs(const char *path);          /* mkdir -p */
int fota_port_exists(const char *path);          /* 1 yes, 0 no */
int fota_port_rmdir(const char *path);           /* an empty directory; FOTA_ERR_NOENT when missing */

enum fota_port_kind { FOTA_PORT_MISSING = 0, FOTA_PORT_REGULAR = 1, FOTA_PORT_DIRECTORY = 2,
                      FOTA_PORT_OTHER = 3 };
int fota_port_kind(const char *path);            /* enum fota_port_kind */
/* Calls fn(ud, name) for every entry of dir but "." and ".."; a non-zero
 * return stops the listing and is returned. */
int fota_port_listdir(const char *dir, int (*fn)(void *ud, const char *name), void *ud);

uint64_t fota_port_now_ms(void);                 /* monotonic clock */
void fota_port_sleep_ms(uint32_t ms);

#endif
