/* The NOR flash of the QEMU board (nor_flash.h): the array is the board's
 * PSRAM at FLASH_BASE, loaded at boot from the host file FLASH_FILE
 * (semihosting; created all erased when missing), and every erase or
 * program is written through to the file before it returns, so the file is
 * the flash as it stands at any instant: killing QEMU is a power cut.
 *
 * Why semihosting and not -device loader/-drive: the loader only fills
 * memory at start and nothing writes it back, and the board has no
 * emulated flash controller (pflash) to back with a -drive. Semihosting
 * gives both directions, one call per flash operation. */
#include "core/fota_err.h"
#include "port/mps2/flash_qemu.h"
#include "port/mps2/nor_flash.h"
#include "port/mps2/semihost.h"

#include "port/mps2/port_mps2.h"

#include <string.h>

#define FLASH_BASE ((uint8_t *)0x21000000)   /* PSRAM, 16 MiB */
#define FLASH_SIZE (2u * 1024u * 1024u)
#define FLASH_FILE "flash.img"

static int fd = -1;
static uint32_t ops, cut_at;   /* cut_at 0: no cut */
static int cut_torn;

void fota_flash_qemu_cut(uint32_t at, int torn)
{
    cut_at = at ? ops + at : 0;
    cut_torn = torn;
}

uint32_t fota_flash_qemu_ops(void)
{
    return ops;
}

static const char cut_msg[] = "\n[power cut]\n";

/* Counts an operation of len bytes at off; at the cut, keeps the first
 * half (torn) and powers off. */
static void maybe_cut(uint32_t off, size_t len);

const uint8_t *fota_flash_base(size_t *size)
{
    *size = FLASH_SIZE;
    return fd >= 0 ? FLASH_BASE : NULL;
}

int fota_flash_open(void)
{
    long len;
    size_t got;
    if (fd >= 0)
        return FOTA_OK;
    int h = semi_open(FLASH_FILE, SEMI_RW_B);
    if (h < 0) {   /* a factory-new part: all erased */
        if ((h = semi_open(FLASH_FILE, SEMI_W_B)) < 0)
            return FOTA_ERR_IO;
        memset(FLASH_BASE, 0xff, FLASH_SIZE);
        if (semi_write(h, FLASH_BASE, FLASH_SIZE) != 0) {
            semi_close(h);
            return FOTA_ERR_IO;
        }
        semi_close(h);
        if ((h = semi_open(FLASH_FILE, SEMI_RW_B)) < 0)
            return FOTA_ERR_IO;
    }
    len = semi_flen(h);
    if (len != (long)FLASH_SIZE || semi_read(h, FLASH_BASE, FLASH_SIZE, &got) != 0 || got != FLASH_SIZE) {
        semi_close(h);
        return FOTA_ERR_IO;
    }
    fd = h;
    return FOTA_OK;
}

static int through(uint32_t off, size_t len)
{
    maybe_cut(off, len);
    return semi_seek(fd, (long)off) == 0 && semi_write(fd, FLASH_BASE + off, len) == 0 ? FOTA_OK : FOTA_ERR_IO;
}

int fota_flash_erase(uint32_t block)
{
    if (fd < 0 || block >= FLASH_SIZE / FOTA_FLASH_BLOCK)
        return FOTA_ERR_RANGE;
    memset(FLASH_BASE + (size_t)block * FOTA_FLASH_BLOCK, 0xff, FOTA_FLASH_BLOCK);
    return through(block * FOTA_FLASH_BLOCK, FOTA_FLASH_BLOCK);
}

int fota_flash_program(uint32_t off, const void *data, size_t len)
{
    const uint8_t *s = data;
    if (fd < 0 || off > FLASH_SIZE || len > FLASH_SIZE - off)
        return FOTA_ERR_RANGE;
    for (size_t i = 0; i < len; i++)   /* NOR: a program only clears bits */
        FLASH_BASE[off + i] &= s[i];
    return len ? through(off, len) : FOTA_OK;
}

static void maybe_cut(uint32_t off, size_t len)
{
    if (++ops != cut_at)
        return;
    if (cut_torn && len / 2 && semi_seek(fd, (long)off) == 0)
        (void)semi_write(fd, FLASH_BASE + off, len / 2);
    fota_mps2_uart_write(cut_msg, sizeof cut_msg - 1);
    semi_exit(1);
}
