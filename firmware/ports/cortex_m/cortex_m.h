/* Cortex-M4 core registers used by the ports (ARMv7-M Architecture Reference Manual, B3.2 and B3.3). */
#ifndef GB_CORTEX_M_H
#define GB_CORTEX_M_H

#include <stdint.h>

#define GB_REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR GB_REG32(0xE000E010u)  /* SysTick control and status */
#define SYST_RVR GB_REG32(0xE000E014u)  /* reload value */
#define SYST_CVR GB_REG32(0xE000E018u)  /* current value */
#define NVIC_ISER(n) GB_REG32(0xE000E100u + 4u * (n))
#define SCB_AIRCR GB_REG32(0xE000ED0Cu)
#define SCB_CPACR GB_REG32(0xE000ED88u)

static inline void gb_irq_disable(void) { __asm__ volatile("cpsid i" ::: "memory"); }
static inline void gb_irq_enable(void) { __asm__ volatile("cpsie i" ::: "memory"); }
static inline void gb_nvic_enable(unsigned irq) { NVIC_ISER(irq / 32u) = 1u << (irq % 32u); }

/* SysTick at 1 kHz from the core clock (systick.c). */
void gb_systick_start(uint32_t core_hz);

#endif
