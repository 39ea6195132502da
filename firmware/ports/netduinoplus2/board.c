/* Netduino Plus 2 board support (STM32F405, RM0090): clocks to 168 MHz from the 25 MHz crystal, USART1 on
 * PA9/PA10 driven by one interrupt for both directions through rings, GPIO outputs for the camera rail (PB0)
 * and the capture LED (PC1), the button input (PC4), SysTick from the core clock.
 *
 * QEMU 7.2 does not model RCC or GPIO on this machine (reads give 0, writes are ignored), so every wait on a
 * ready flag is bounded: on silicon they complete in microseconds, under QEMU the loops run out and the
 * configuration proceeds (QEMU's CPU and SysTick run at 168 MHz regardless). */
#include "board.h"

#include "cortex_m.h"
#include "hal_board.h"
#include "hal_gpio.h"
#include "hal_uart.h"
#include "ring.h"

#define RCC 0x40023800u
#define RCC_CR GB_REG32(RCC + 0x00u)
#define RCC_PLLCFGR GB_REG32(RCC + 0x04u)
#define RCC_CFGR GB_REG32(RCC + 0x08u)
#define RCC_AHB1ENR GB_REG32(RCC + 0x30u)
#define RCC_APB2ENR GB_REG32(RCC + 0x44u)
#define FLASH_ACR GB_REG32(0x40023C00u)

#define GPIOA 0x40020000u
#define GPIOB 0x40020400u
#define GPIOC 0x40020800u
#define GPIO_MODER(p) GB_REG32((p) + 0x00u)
#define GPIO_IDR(p) GB_REG32((p) + 0x10u)
#define GPIO_BSRR(p) GB_REG32((p) + 0x18u)
#define GPIO_AFRH(p) GB_REG32((p) + 0x24u)

#define USART1 0x40011000u
#define USART_SR GB_REG32(USART1 + 0x00u)
#define USART_DR GB_REG32(USART1 + 0x04u)
#define USART_BRR GB_REG32(USART1 + 0x08u)
#define USART_CR1 GB_REG32(USART1 + 0x0Cu)
#define SR_ORE (1u << 3)
#define SR_RXNE (1u << 5)
#define SR_TXE (1u << 7)
#define CR1_RE (1u << 2)
#define CR1_TE (1u << 3)
#define CR1_RXNEIE (1u << 5)
#define CR1_TXEIE (1u << 7)
#define CR1_UE (1u << 13)

#define BAUD 921600u
#define RING_SIZE 2048u
_Static_assert((RING_SIZE & (RING_SIZE - 1u)) == 0, "ring size must be a power of two");

static uint8_t rx_mem[RING_SIZE], tx_mem[RING_SIZE];
static gb_ring rx, tx;
static volatile uint32_t rx_overruns;

static const gb_board_info INFO = {
    .name = "netduinoplus2",
    .capabilities = 0xFFu,
    .uart_baud = BAUD,
    .display_width = 256,
    .display_height = 128,
};

static void wait_set(volatile uint32_t *reg, uint32_t mask) {
  for (uint32_t i = 0; i < 100000u && (*reg & mask) != mask; i++) {
  }
}

/* HSE 25 MHz -> PLL (M=25, N=336, P=2) = 168 MHz SYSCLK, Q=7 (48 MHz USB); AHB /1, APB1 /4, APB2 /2;
 * 5 flash wait states at 3.3 V (RM0090 table 10). */
static void clocks(void) {
  RCC_CR |= 1u << 16; /* HSEON */
  wait_set(&RCC_CR, 1u << 17);
  RCC_PLLCFGR = 25u | (336u << 6) | (0u << 16) | (1u << 22) /* PLLSRC = HSE */ | (7u << 24);
  RCC_CR |= 1u << 24; /* PLLON */
  wait_set(&RCC_CR, 1u << 25);
  FLASH_ACR = (1u << 8) | (1u << 9) | (1u << 10) | 5u; /* prefetch, I-cache, D-cache, 5 WS */
  RCC_CFGR = (RCC_CFGR & ~0xFCF3u) | (5u << 10) /* APB1 /4 */ | (4u << 13) /* APB2 /2 */ | 2u /* SW = PLL */;
}

static void gpio_mode(uint32_t port, unsigned pin, uint32_t mode) {
  GPIO_MODER(port) = (GPIO_MODER(port) & ~(3u << (2 * pin))) | (mode << (2 * pin));
}

void hal_board_init(void) {
  clocks();
  RCC_AHB1ENR |= 7u;      /* GPIOA, GPIOB, GPIOC */
  RCC_APB2ENR |= 1u << 4; /* USART1 */
  gpio_mode(GPIOA, 9, 2);  /* PA9 = USART1_TX, alternate function 7 */
  gpio_mode(GPIOA, 10, 2); /* PA10 = USART1_RX */
  GPIO_AFRH(GPIOA) = (GPIO_AFRH(GPIOA) & ~0xFF0u) | (7u << 4) | (7u << 8);
  gpio_mode(GPIOB, 0, 1);  /* camera rail: output */
  gpio_mode(GPIOC, 1, 1);  /* capture LED: output */
  gpio_mode(GPIOC, 4, 0);  /* button: input */

  gb_ring_init(&rx, rx_mem, RING_SIZE);
  gb_ring_init(&tx, tx_mem, RING_SIZE);
  /* 16x oversampling: BRR = f_APB2 / baud as 12.4 fixed point (RM0090 30.3.4). */
  USART_BRR = (BOARD_APB2_HZ + BAUD / 2u) / BAUD;
  USART_CR1 = CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE;
  gb_nvic_enable(BOARD_USART1_IRQ);
  gb_systick_start(BOARD_CORE_HZ);
}

const gb_board_info *hal_board_info(void) { return &INFO; }

uint32_t gb_bootcount_seed(void);
uint32_t hal_board_entropy(void) {
  /* The SysTick phase and the RAM-kept seed. Not the 96-bit unique ID at 0x1FFF7A10 (RM0090 39.1): QEMU 7.2
   * does not map that system-memory page, and reading it faults. */
  return SYST_CVR * 2654435761u ^ gb_bootcount_seed();
}

/* One interrupt for both directions. TXE interrupts are enabled only while the ring holds bytes. */
void gb_uart_rx_isr(void) {
  uint32_t sr = USART_SR;
  if (sr & (SR_RXNE | SR_ORE)) {
    uint8_t b = (uint8_t)USART_DR; /* reading SR then DR also clears ORE */
    if (sr & SR_ORE) rx_overruns++;
    if (!gb_ring_put(&rx, b)) rx_overruns++;
  }
  if ((USART_CR1 & CR1_TXEIE) && (sr & SR_TXE)) {
    uint8_t b;
    if (gb_ring_get(&tx, &b)) USART_DR = b;
    else USART_CR1 &= ~CR1_TXEIE;
  }
}

/* Tops up an idle transmitter from the main loop and arms the TXE interrupt for the rest. On silicon this writes
 * a byte or two and the interrupt drains the ring at the line rate. QEMU 7.2's USART model never raises the TXE
 * interrupt (only RXNE) and reports TXE at all times, so there this loop moves the whole ring: the main loop,
 * woken every millisecond by SysTick, is then the transmitter. */
static void tx_service(void) {
  gb_irq_disable(); /* CR1 is also written by the interrupt: read-modify-write with it masked */
  uint8_t b;
  while ((USART_SR & SR_TXE) && gb_ring_get(&tx, &b)) USART_DR = b;
  if (gb_ring_used(&tx) > 0) USART_CR1 |= CR1_TXEIE;
  gb_irq_enable();
}

size_t hal_uart_read(uint8_t *dst, size_t cap) { return gb_ring_read(&rx, dst, cap); }
int hal_uart_rx_pending(void) { return gb_ring_used(&rx) > 0; }
uint32_t hal_uart_rx_overruns(void) { return rx_overruns; }

size_t hal_uart_tx_free(void) {
  tx_service();
  return gb_ring_free(&tx);
}

size_t hal_uart_write(const uint8_t *src, size_t n) {
  size_t w = gb_ring_write(&tx, src, n);
  tx_service();
  return w;
}

bool hal_gpio_button_pressed(unsigned i) { return i == 0u && (GPIO_IDR(GPIOC) >> 4) & 1u; }

void hal_gpio_set_camera_rail(bool on) { GPIO_BSRR(GPIOB) = on ? 1u << 0 : 1u << 16; }
void hal_gpio_set_capture_led(bool on) { GPIO_BSRR(GPIOC) = on ? 1u << 1 : 1u << (1 + 16); }
