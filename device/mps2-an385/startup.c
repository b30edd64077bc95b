/* Reset and the vector table of the mps2-an385 image: copy .data, clear
 * .bss, paint the stack (bench/device reads its deepest use), run main. */
#include <stdint.h>
#include <string.h>

#include "port/mps2/port_mps2.h"
#include "port/mps2/semihost.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack, _stack_bottom;
extern void __libc_init_array(void);
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);
void Default_Handler(void);
void SysTick_Handler(void);

#define STACK_PAINT 0x5a5a5a5au

void Default_Handler(void)
{
    static const char m[] = "\nunexpected interrupt\n";
    fota_mps2_uart_write(m, sizeof m - 1);
    semi_exit(0);
}

void Fault_Handler(void)
{
    static const char m[] = "\nhard fault\n";
    fota_mps2_uart_write(m, sizeof m - 1);
    semi_exit(0);
}

__attribute__((section(".isr_vector"), used)) static void (*const vectors[32])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Default_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, Fault_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler,
    SysTick_Handler, [16 ... 31] = Default_Handler,
};

__attribute__((naked, noreturn)) void Reset_Handler(void)
{
    /* the stack pointer again: a software reset may enter with any */
    __asm__ volatile("ldr sp, =_estack\n"
                     "b reset_c\n");
}

__attribute__((used, noreturn)) void reset_c(void);
__attribute__((used, noreturn)) void reset_c(void)
{
    uint32_t *s = &_sidata, *d = &_sdata, *sp;
    while (d < &_edata)
        *d++ = *s++;
    for (d = &_sbss; d < &_ebss;)
        *d++ = 0;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (d = &_stack_bottom; d < sp - 16;)   /* below the live frame */
        *d++ = STACK_PAINT;
    __libc_init_array();
    semi_exit(main() == 0);
}
