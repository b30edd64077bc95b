/* The flash driver a device port's file layer (port_mps2.c) stands on: a
 * memory-mapped NOR flash array, read as memory, changed only by erasing a
 * 4 KiB block to 0xFF or by programming bytes (a program can only clear
 * bits: the cell becomes old AND new). A real module implements these three
 * with its flash controller; on QEMU's mps2-an385 flash_qemu.c keeps the
 * array in RAM and mirrors each change into a host file (semihosting), so
 * the flash outlives a reset and a killed QEMU. All return FOTA_OK or a
 * negative fota_err. */
#ifndef FOTA_NOR_FLASH_H
#define FOTA_NOR_FLASH_H

#include <stddef.h>
#include <stdint.h>

#define FOTA_FLASH_BLOCK 4096u

/* The mapped array and its size (a multiple of FOTA_FLASH_BLOCK); NULL
 * until fota_flash_open succeeded. */
const uint8_t *fota_flash_base(size_t *size);
int fota_flash_open(void);
int fota_flash_erase(uint32_t block);
int fota_flash_program(uint32_t off, const void *data, size_t len);

#endif
