/* Cortex-M startup without a vendor SDK: the vector table, .data copy, .bss clear, FPU enable, main().
 * Interrupt handlers are weak aliases of Default_Handler so that a test image links without a board's drivers;
 * the board's board.h lists its IRQ lines (BOARD_NIRQ, BOARD_VECTORS). */
#include <stdint.h>

#include "board.h"
#include "cortex_m.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);
void Reset_Handler(void);

/* A fault or an unexpected interrupt: stop here (a debugger or QEMU's -d int shows where). */
void Default_Handler(void) {
  for (;;) __asm__ volatile("bkpt 0");
}
#define WEAK_HANDLER(name) void name(void) __attribute__((weak, alias("Default_Handler")))
WEAK_HANDLER(NMI_Handler);
WEAK_HANDLER(HardFault_Handler);
WEAK_HANDLER(MemManage_Handler);
WEAK_HANDLER(BusFault_Handler);
WEAK_HANDLER(UsageFault_Handler);
WEAK_HANDLER(SVC_Handler);
WEAK_HANDLER(PendSV_Handler);
WEAK_HANDLER(SysTick_Handler);
WEAK_HANDLER(gb_uart_rx_isr);
WEAK_HANDLER(gb_uart_tx_isr);

/* What happens when main returns: test images exit QEMU through semihosting (harness_target.c). */
__attribute__((weak)) void gb_startup_exit(int code) {
  (void)code;
  for (;;) __asm__ volatile("wfi");
}

typedef void (*vector_t)(void);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
__attribute__((section(".isr_vector"), used)) const vector_t gb_vectors[16 + BOARD_NIRQ] = {
    [0] = (vector_t)&_estack,
    [1] = Reset_Handler,
    [2] = NMI_Handler,
    [3] = HardFault_Handler,
    [4] = MemManage_Handler,
    [5] = BusFault_Handler,
    [6] = UsageFault_Handler,
    [11] = SVC_Handler,
    [14] = PendSV_Handler,
    [15] = SysTick_Handler,
    [16 ... 16 + BOARD_NIRQ - 1] = Default_Handler,
    BOARD_VECTORS
};
#pragma GCC diagnostic pop

void Reset_Handler(void) {
  uint32_t *src = &_sidata, *dst = &_sdata;
  while (dst < &_edata) *dst++ = *src++;
  for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
  /* The FPU (CP10, CP11) must be on before any float instruction: the app is built with -mfloat-abi=hard. */
  SCB_CPACR |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
  gb_startup_exit(main());
}
