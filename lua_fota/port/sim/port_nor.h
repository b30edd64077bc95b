/* A raw NOR flash partition model behind the port's file API (port.h), the
 * second storage layout of a device: with LUAT_FOTA_NOR=DIR the files of
 * DIR (the slots and the boot record) are fixed regions of one image file
 * "DIR.nor", with NOR's rules: erase in 4 KiB blocks to 0xFF, a write can
 * only clear bits (it lands as old AND new), nothing is cached.
 *
 * A region is a header block and its data blocks. The header holds a log
 * of 8-byte size entries (size, ~size), each written into erased bytes:
 * the last valid one is the file's size; none means no file. Opening with
 * FOTA_PORT_TRUNC erases the header, then the data blocks in use; removing
 * erases the header. Power cuts (port_fault.h) tear a write (half of it is
 * programmed) or an erase (the block in progress is half erased); "lost"
 * loses nothing more, as nothing is cached. Renames are not supported. */
#ifndef FOTA_PORT_NOR_H
#define FOTA_PORT_NOR_H

#include <stddef.h>
#include <stdint.h>

#define FOTA_NOR_BLOCK 4096u

/* The region of path, or -1 when path is not in the NOR directory. A path in
 * the directory with no region of that name is -2. */
int fota_nor_region(const char *path);
int fota_nor_is_dir(const char *path);   /* path is the NOR directory itself */

/* All return FOTA_OK or a negative fota_err. torn: the power goes in the
 * middle (write: half lands; erase: the current block half erased). */
int fota_nor_open(int region, int trunc, int torn);
int fota_nor_exists(int region);
int fota_nor_size(int region, uint64_t *size);
int fota_nor_read(int region, uint64_t off, void *buf, size_t len, size_t *got);
int fota_nor_write(int region, uint64_t off, const void *buf, size_t len, int torn);
int fota_nor_truncate(int region, uint64_t len);   /* shrink only */
int fota_nor_remove(int region);
int fota_nor_mkdir(void);                          /* the image, all erased */
int fota_nor_present(void);                        /* 1 when the image exists */
/* Calls fn(ud, name) for each region holding a file. */
int fota_nor_listdir(int (*fn)(void *ud, const char *name), void *ud);

#endif
