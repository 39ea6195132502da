/* MPS2 AN386 board support: CMSDK APB UART0 driven by interrupts through rings, FPGA I/O for the camera rail,
 * the capture LED and the buttons, SysTick from the 25 MHz core clock.
 * Register maps: ARM DDI0479C (Cortex-M System Design Kit TRM, "APB UART"); ARM AN386 application note
 * ("FPGA I/O": LED at 0x40028000, BUTTON at +0x08). */
#include "board.h"

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_gpio.h"
#include "hal_uart.h"
#include "ring.h"

#define UART0 0x40004000u
#define UART_DATA GB_REG32(UART0 + 0x00u)
#define UART_STATE GB_REG32(UART0 + 0x04u)
#define UART_CTRL GB_REG32(UART0 + 0x08u)
#define UART_INT GB_REG32(UART0 + 0x0Cu)  /* read: INTSTATUS, write 1 to clear: INTCLEAR */
#define UART_BAUDDIV GB_REG32(UART0 + 0x10u)
#define STATE_TXFULL 1u
#define STATE_RXFULL 2u
#define STATE_RXOVERRUN 8u
#define CTRL_TXEN 1u
#define CTRL_RXEN 2u
#define CTRL_TXINTEN 4u
#define CTRL_RXINTEN 8u
#define INT_TX 1u
#define INT_RX 2u

#define FPGAIO_LED GB_REG32(0x40028000u)
#define FPGAIO_BUTTON GB_REG32(0x40028008u)
#define LED_CAMERA_RAIL 1u  /* LED0 stands in for the camera's load switch */
#define LED_CAPTURE 2u      /* LED1 is the capture LED */

#define BAUD 921600u
#define RING_SIZE 2048u
_Static_assert((RING_SIZE & (RING_SIZE - 1u)) == 0, "ring size must be a power of two");

static uint8_t rx_mem[RING_SIZE], tx_mem[RING_SIZE];
static gb_ring rx, tx;
static volatile uint32_t rx_overruns;
static volatile int tx_busy; /* a byte is in the transmitter: its TX interrupt will fetch the next */

static const gb_board_info INFO = {
    .name = "mps2-an386",
    .capabilities = 0xFFu, /* buttons (FPGA I/O), simulated IMU/battery/mic/speaker/display, camera rail */
    .uart_baud = BAUD,
    .display_width = 256,
    .display_height = 128,
};

void hal_board_init(void) {
  gb_ring_init(&rx, rx_mem, RING_SIZE);
  gb_ring_init(&tx, tx_mem, RING_SIZE);
  FPGAIO_LED = 0;
  /* BAUDDIV = PCLK / baud; the CMSDK UART needs at least 16 (QEMU refuses to run it otherwise). */
  UART_BAUDDIV = BOARD_CORE_HZ / BAUD < 16u ? 16u : BOARD_CORE_HZ / BAUD;
  UART_CTRL = CTRL_TXEN | CTRL_RXEN | CTRL_TXINTEN | CTRL_RXINTEN;
  gb_nvic_enable(BOARD_UART_RX_IRQ);
  gb_nvic_enable(BOARD_UART_TX_IRQ);
  gb_systick_start(BOARD_CORE_HZ);
}

const gb_board_info *hal_board_info(void) { return &INFO; }

uint32_t gb_bootcount_seed(void);
uint32_t hal_board_entropy(void) {
  /* No RNG on this board: the SysTick phase at this moment (jitter of the boot) and the RAM-kept seed. */
  return SYST_CVR * 2654435761u ^ gb_bootcount_seed();
}

void gb_uart_rx_isr(void) {
  UART_INT = INT_RX; /* clear first: a byte arriving while we drain raises it again */
  if (UART_STATE & STATE_RXOVERRUN) {
    rx_overruns++;
    UART_STATE = STATE_RXOVERRUN;
  }
  while (UART_STATE & STATE_RXFULL) {
    uint8_t b = (uint8_t)UART_DATA;
    if (!gb_ring_put(&rx, b)) rx_overruns++;
  }
}

void gb_uart_tx_isr(void) {
  UART_INT = INT_TX;
  /* Feed the transmitter while it has room (QEMU empties it at once; silicon after one byte time). */
  while (!(UART_STATE & STATE_TXFULL)) {
    uint8_t b;
    if (!gb_ring_get(&tx, &b)) {
      tx_busy = 0;
      return;
    }
    UART_DATA = b;
  }
}

size_t hal_uart_read(uint8_t *dst, size_t cap) { return gb_ring_read(&rx, dst, cap); }
int hal_uart_rx_pending(void) { return gb_ring_used(&rx) > 0; }
size_t hal_uart_tx_free(void) { return gb_ring_free(&tx); }
uint32_t hal_uart_rx_overruns(void) { return rx_overruns; }

size_t hal_uart_write(const uint8_t *src, size_t n) {
  size_t w = gb_ring_write(&tx, src, n);
  /* Start the transmitter if idle; from then on its interrupt drains the ring. */
  gb_irq_disable();
  if (!tx_busy) {
    uint8_t b;
    if (gb_ring_get(&tx, &b)) {
      tx_busy = 1;
      UART_DATA = b;
    }
  }
  gb_irq_enable();
  return w;
}

bool hal_gpio_button_pressed(unsigned i) { return i < 2u && (FPGAIO_BUTTON >> i) & 1u; }

void hal_gpio_set_camera_rail(bool on) {
  FPGAIO_LED = on ? (FPGAIO_LED | LED_CAMERA_RAIL) : (FPGAIO_LED & ~LED_CAMERA_RAIL);
}

void hal_gpio_set_capture_led(bool on) {
  FPGAIO_LED = on ? (FPGAIO_LED | LED_CAPTURE) : (FPGAIO_LED & ~LED_CAPTURE);
}
