/* ARM MPS2+ AN386 (Cortex-M4F FPGA image), as QEMU models it (hw/arm/mps2.c): 25 MHz, CMSDK UART0 with
 * separate RX (IRQ 0) and TX (IRQ 1) lines, FPGA I/O block with LEDs and buttons. */
#ifndef GB_BOARD_MPS2_AN386_H
#define GB_BOARD_MPS2_AN386_H

#define BOARD_CORE_HZ 25000000u
#define BOARD_NIRQ 32
#define BOARD_UART_RX_IRQ 0
#define BOARD_UART_TX_IRQ 1
#define BOARD_VECTORS [16 + BOARD_UART_RX_IRQ] = gb_uart_rx_isr, [16 + BOARD_UART_TX_IRQ] = gb_uart_tx_isr,

void gb_uart_rx_isr(void);
void gb_uart_tx_isr(void);

#endif
