/* The UART to the SoC: interrupt-driven in both directions through byte rings (src/ring.h).
 *
 * Receive: the RX interrupt moves bytes into a ring; the main loop reads them out. A byte that finds the ring
 * full is dropped and counted (Status.uart_rx_overruns): the link's retransmission repairs it.
 * Transmit: the main loop writes into a ring and the TX interrupt drains it at the line rate, so the main loop
 * never waits for the wire; hal_uart_tx_free() is the backpressure the link engine is paced by.
 */
#ifndef GB_HAL_UART_H
#define GB_HAL_UART_H

#include <stddef.h>
#include <stdint.h>

/* Bytes received since the last call, up to cap. */
size_t hal_uart_read(uint8_t *dst, size_t cap);

/* True when received bytes wait in the ring (checked with interrupts masked before sleeping). */
int hal_uart_rx_pending(void);

/* Room in the transmit ring now. */
size_t hal_uart_tx_free(void);

/* Queues n bytes for transmission (n <= hal_uart_tx_free(), else the excess is refused); returns bytes taken. */
size_t hal_uart_write(const uint8_t *src, size_t n);

/* Received bytes dropped because the ring was full, since boot. */
uint32_t hal_uart_rx_overruns(void);

#endif
