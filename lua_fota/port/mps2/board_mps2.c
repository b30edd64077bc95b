/* The mps2-an385 board's clock and serial lines: a 1 ms SysTick (the core's
 * 25 MHz clock) behind fota_port_now_ms/sleep_ms, CMSDK UART0 for the log,
 * Lua's print and newlib's stdout/stderr, and UART1 for bytes the host
 * sends (a package, as a module receives one over a serial line). */
#include "port/port.h"
#include "port/mps2/port_mps2.h"

#include <stdint.h>

#define SYSCLK_HZ 25000000u
#define SYST_CSR (*(volatile uint32_t *)0xE000E010)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018)
#define UART0 0x40004000u
#define UART_DATA (*(volatile uint32_t *)(UART0 + 0x00))
#define UART_STATE (*(volatile uint32_t *)(UART0 + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(UART0 + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(UART0 + 0x10))
#define UART1 0x40005000u
#define UART1_DATA (*(volatile uint32_t *)(UART1 + 0x00))
#define UART1_STATE (*(volatile uint32_t *)(UART1 + 0x04))
#define UART1_CTRL (*(volatile uint32_t *)(UART1 + 0x08))
#define UART1_BAUDDIV (*(volatile uint32_t *)(UART1 + 0x10))

static volatile uint64_t ticks_ms;

void SysTick_Handler(void);
void SysTick_Handler(void)
{
    ticks_ms++;
}

static void clock_start(void)
{
    if (SYST_CSR & 1u)
        return;
    SYST_RVR = SYSCLK_HZ / 1000u - 1u;
    SYST_CVR = 0;
    SYST_CSR = 7u;   /* processor clock, interrupt, enabled */
}

uint64_t fota_port_now_ms(void)
{
    uint64_t t;
    clock_start();
    do   /* a 64-bit read that a tick may split on a 32-bit core */
        t = ticks_ms;
    while (t != ticks_ms);
    return t;
}

void fota_port_sleep_ms(uint32_t ms)
{
    uint64_t end = fota_port_now_ms() + ms;
    while (fota_port_now_ms() < end)
        __asm__ volatile("wfi");
}

void fota_mps2_uart_write(const char *s, size_t n)
{
    if (!(UART_CTRL & 1u)) {
        UART_BAUDDIV = 16;   /* the least the UART takes; QEMU ignores the rate */
        UART_CTRL = 1u;      /* TX enable */
    }
    while (n--) {
        while (UART_STATE & 1u)   /* TX buffer full */
            ;
        UART_DATA = (uint8_t)*s++;
    }
}

size_t fota_mps2_uart1_read(uint8_t *p, size_t n, uint32_t timeout_ms)
{
    size_t got = 0;
    if (!(UART1_CTRL & 2u)) {
        UART1_BAUDDIV = 16;
        UART1_CTRL = 2u;     /* RX enable */
    }
    uint64_t end = fota_port_now_ms() + timeout_ms;
    while (got < n) {
        if (UART1_STATE & 2u) {   /* RX buffer full: a byte */
            p[got++] = (uint8_t)UART1_DATA;
            end = fota_port_now_ms() + timeout_ms;
        } else if (fota_port_now_ms() >= end) {
            break;
        }
    }
    return got;
}
