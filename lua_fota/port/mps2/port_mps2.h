/* The mps2 device port: what its boot and tests need beyond port.h. */
#ifndef FOTA_PORT_MPS2_H
#define FOTA_PORT_MPS2_H

#include <stddef.h>
#include <stdint.h>

/* The device directory: every file of the port lies below it. */
#define FOTA_MPS2_ROOT "/flash"

/* Bytes of flash the region layout takes (the flash must hold them). */
uint32_t fota_mps2_flash_needed(void);

/* The file at path as the memory it lies in (a NOR flash is read in
 * place: a module executes its core slot from there): FOTA_OK, or
 * FOTA_ERR_NOENT when no such file. */
int fota_mps2_map(const char *path, const uint8_t **data, uint32_t *size);

/* The UART (CMSDK UART0 of the board): the log, Lua's print, the test's
 * transcript. Blocking writes. */
void fota_mps2_uart_write(const char *s, size_t n);

/* UART1: up to n bytes the host sent, waiting at most timeout_ms for each
 * (QEMU hands a byte on only once the one before was read, so nothing is
 * lost). Returns how many came. */
size_t fota_mps2_uart1_read(uint8_t *p, size_t n, uint32_t timeout_ms);

#endif
