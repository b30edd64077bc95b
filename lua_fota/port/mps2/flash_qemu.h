/* The QEMU flash's test hooks (flash_qemu.c): a power cut at a chosen
 * flash operation, and the count of operations so far. */
#ifndef FOTA_FLASH_QEMU_H
#define FOTA_FLASH_QEMU_H

#include <stdint.h>

/* The power goes at flash operation number `at` (1 = the next one) of this
 * boot: QEMU stops at once (semihosting exit), the host file holding every
 * operation before it and, when torn, the first half of that one (a
 * program's first half of bytes, or an erase's first half block). */
void fota_flash_qemu_cut(uint32_t at, int torn);
uint32_t fota_flash_qemu_ops(void);   /* erases and programs this boot */

#endif
