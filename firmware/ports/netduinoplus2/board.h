/* Netduino Plus 2 (STM32F405RG, Cortex-M4F) as QEMU models it (hw/arm/netduinoplus2.c): 168 MHz system
 * clock, USART1 (IRQ 37) on QEMU's first serial port. */
#ifndef GB_BOARD_NETDUINOPLUS2_H
#define GB_BOARD_NETDUINOPLUS2_H

#define BOARD_CORE_HZ 168000000u
#define BOARD_APB2_HZ 84000000u  /* USART1's bus: HCLK / 2 */
#define BOARD_NIRQ 82
#define BOARD_USART1_IRQ 37
#define BOARD_VECTORS [16 + BOARD_USART1_IRQ] = gb_uart_rx_isr,

void gb_uart_rx_isr(void);

#endif
