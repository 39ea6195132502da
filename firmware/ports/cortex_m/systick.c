/* hal_clock on Cortex-M: a 1 kHz SysTick counter, and sleep with WFI. */
#include "cortex_m.h"
#include "hal_clock.h"
#include "hal_uart.h"

static volatile uint32_t ticks;

void SysTick_Handler(void) { ticks++; }

void gb_systick_start(uint32_t core_hz) {
  SYST_RVR = core_hz / 1000u - 1u;
  SYST_CVR = 0;
  SYST_CSR = 7u; /* enable, interrupt, processor clock */
}

uint32_t hal_millis(void) { return ticks; }

void hal_sleep_until(uint32_t deadline) {
  /* Masked so an interrupt between the check and the WFI cannot be missed: a pending interrupt still ends the
   * WFI with PRIMASK set, and runs as soon as interrupts are enabled again. The tick wakes us every ms. */
  gb_irq_disable();
  if (!hal_uart_rx_pending() && (int32_t)(deadline - ticks) > 0) __asm__ volatile("wfi");
  gb_irq_enable();
}
