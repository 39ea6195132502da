/* The main loop: UART receive ring -> link engine -> events and messages; devices; link engine -> UART
 * transmit ring (only when the ring can take a whole frame); then sleep until the next deadline or an
 * interrupt. See app.h. */
#include "app.h"

#include <stdio.h>
#include <string.h>

#include "app_internal.h"
#include "capture.h"
#include "diagnose.h"
#include "hal_bootcount.h"
#include "hal_clock.h"
#include "hal_mic.h"
#include "hal_uart.h"
#if GB_WAKE_WORD
#include "wake_model.h"
#endif

gb_app_state gb_app;
uint32_t gb_app_failsafe_ms = GB_APP_FAILSAFE_MS;

static uint64_t link_arena[GB_APP_LINK_ARENA / 8u];
static uint8_t wire[GB_COBS_MAX_ENCODED(GB_APP_MAX_FRAME) + 16u];
static uint8_t msgbuf[GB_APP_MAX_MESSAGE];
static gb_link_config link_cfg;
static char wake_why[160] = "this board's firmware is built without the wake word (GB_WAKE_WORD=OFF)";

static uint32_t mix32(uint32_t x) { /* a bijective integer hash (the "lowbias32" finaliser) */
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

bool gb_app_init(void) {
  uint32_t now = hal_millis();
  memset(&gb_app, 0, sizeof gb_app);
  gb_app.board = hal_board_info();
  gb_app.boot_counter = hal_bootcount_increment();
  gb_app.stream_counter = gb_app.boot_counter << 16; /* stream ids never repeat across reboots */
  gb_app.capabilities = gb_app.board->capabilities;
#if GB_WAKE_WORD
  /* A model the engine refuses leaves the capability clear: the SoC listens itself (and the host port says why). */
  if ((gb_app.capabilities & GB_CAPABILITY_MICROPHONE) && gb_wake_init(&gb_app.wake, wake_why, sizeof wake_why))
    gb_app.capabilities |= GB_CAPABILITY_WAKE_WORD;
#endif

  uint32_t session = mix32(hal_board_entropy() ^ mix32(gb_app.boot_counter));
  gb_app_link_config(&link_cfg, session ? session : 1u, gb_app.boot_counter, gb_app.capabilities);
  gb_status st = gb_link_config_normalize(&link_cfg);
  if (st != GB_OK) return false;
  if (gb_link_max_wire_size(&link_cfg) > sizeof wire) return false;
  gb_app.link = gb_link_init(&link_cfg, link_arena, sizeof link_arena, now, &st);
  if (!gb_app.link) return false;

  gb_capture_init();
  gb_mic_init(&gb_app.mic);
  gb_transfer_init(&gb_app.transfer);
  gb_display_init();
  gb_devices_init(now);
  gb_app.link_lost = true; /* no SoC yet: the fail-safe's clock runs (nothing is on to switch off) */
  gb_app.link_lost_at = now;
  return true;
}

gb_status gb_app_queue(uint8_t channel, const gb_Message *m) {
  size_t len = 0;
  gb_pb_status err = GB_PB_OK;
  if (!gb_Message_encode(m, msgbuf, sizeof msgbuf, &len, &err)) return GB_ERR_TOO_LARGE;
  return gb_link_send(gb_app.link, channel, msgbuf, len, hal_millis());
}

bool gb_app_send(uint8_t channel, const gb_Message *m) {
  if (gb_app_queue(channel, m) != GB_OK) {
    gb_app.events_dropped++;
    return false;
  }
  return true;
}

static void handle_event(const gb_event *ev, uint32_t now) {
  switch (ev->type) {
    case GB_EV_MESSAGE: gb_dispatch(ev->channel, ev->data, ev->len, now); break;
    case GB_EV_PEER_RESET:
#if GB_WAKE_WORD
      /* A new SoC session (glassbridge restarted) asks again if it wants the MCU to listen. */
      gb_app_wake_stop();
#endif
      /* fall through */
    case GB_EV_LINK_DOWN:
      /* Queued audio may be lost: the next microphone frame carries the gap mark. */
      gb_mic_mark_gap(&gb_app.mic);
      break;
    case GB_EV_VERSION_MISMATCH: {
      /* The SoC raises VersionMismatchError on its side; the wearer (or the developer at the bench) sees it on
       * the display, since nothing else can reach them. Card id 1, in the incompatible SoC's session: a card of
       * the next (compatible) SoC session replaces it. */
      gb_DisplayCard c;
      memset(&c, 0, sizeof c);
      c.card_id = 1;
      c.kind = GB_CARD_KIND_TEXT;
      c.icon = GB_ICON_WARNING;
      snprintf(c.title, sizeof c.title, "Link version mismatch");
      gb_version_mismatch_text(c.text, sizeof c.text, &ev->peer, link_cfg.min_protocol_version,
                               link_cfg.protocol_version);
      gb_display_show(&c, now);
      break;
    }
    default: break;
  }
}

/* The capture fail-safe (app.h). The link's state decides, polled every step: no event can be missed, and a
 * peer restart's short handshake counts only for as long as it takes. */
static void failsafe_poll(uint32_t now) {
  static gb_Message m; /* large: not on a small MCU stack */
  if (gb_link_get_state(gb_app.link) != GB_LINK_UP) {
    if (!gb_app.link_lost) {
      gb_app.link_lost = true;
      gb_app.link_lost_at = now;
    }
    bool camera = gb_capture_camera_powered(), mic = gb_app.mic.streaming;
    uint32_t lost = now - gb_app.link_lost_at;
    if ((camera || mic) && gb_app_failsafe_ms != 0 && lost >= gb_app_failsafe_ms) {
      gb_FailsafeEvent *e = &gb_app.failsafe;
      memset(e, 0, sizeof *e);
      e->link_lost_ms = lost;
      e->camera_was_on = camera;
      e->mic_was_streaming = mic;
      e->at_ms = now;
      gb_capture_set_camera(false);
      if (mic) gb_app_mic_stop();
      gb_app.failsafe_pending = true;
      gb_app.failsafe_trips++;
    }
    return;
  }
  if (gb_app.link_lost) {
    gb_app.link_lost = false;
    if (gb_app.failsafe_pending) gb_app.failsafe.down_ms = now - gb_app.link_lost_at;
  }
  if (gb_app.failsafe_pending) {
    memset(&m, 0, sizeof m);
    m.which_body = GB_MESSAGE_FAILSAFE_TAG;
    m.body.failsafe = gb_app.failsafe;
    if (gb_app_send(1, &m)) gb_app.failsafe_pending = false; /* else again at the next step */
  }
}

static void pump_rx(uint32_t now) {
  static uint8_t rx[256];
  size_t n;
  /* Bounded: a flood of input must not starve the devices and the transmitter. */
  for (int i = 0; i < 16 && (n = hal_uart_read(rx, sizeof rx)) > 0; i++) {
    gb_link_receive(gb_app.link, rx, n, now);
    gb_event ev;
    while (gb_link_poll_event(gb_app.link, &ev)) handle_event(&ev, now);
  }
}

static void pump_tx(uint32_t now) {
  size_t wire_max = gb_link_max_wire_size(&link_cfg);
  /* Only when the ring can take the largest frame: the engine keeps what it could not send. */
  while (hal_uart_tx_free() >= wire_max) {
    size_t n = gb_link_poll_tx(gb_app.link, wire, sizeof wire, now);
    if (n == 0) break;
    hal_uart_write(wire, n);
  }
  gb_event ev;
  while (gb_link_poll_event(gb_app.link, &ev)) handle_event(&ev, now);
}

void gb_app_step(void) {
  uint32_t now = hal_millis();
  pump_rx(now);
  failsafe_poll(now);
  gb_devices_poll(now);
  gb_display_poll(now);
  gb_app_mic_poll(now);
  pump_tx(now);
}

static uint32_t earlier(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0 ? a : b; }

uint32_t gb_app_next_deadline(void) {
  uint32_t now = hal_millis();
  uint32_t d = gb_link_next_deadline(gb_app.link, now);
  /* While the engine has frames to send and the ring has no room, the TX interrupt's room wakes the loop. */
  d = earlier(d, gb_devices_deadline(now));
  d = earlier(d, gb_display_deadline(now));
  d = earlier(d, gb_app_mic_deadline(now));
  if (gb_app.link_lost && gb_app_failsafe_ms != 0 && (gb_capture_camera_powered() || gb_app.mic.streaming))
    d = earlier(d, gb_app.link_lost_at + gb_app_failsafe_ms);
  if (gb_app.failsafe_pending && !gb_app.link_lost) d = earlier(d, now + 10u); /* waits for room in the link queue */
  /* Frames waiting for room in the transmit ring: the TX interrupt (or the tick) wakes us, don't spin. */
  if ((int32_t)(d - now) <= 0 && hal_uart_tx_free() < gb_link_max_wire_size(&link_cfg)) d = now + 1u;
  return d;
}

void gb_app_run(void) {
  if (!gb_app_init()) {
    /* A configuration the engine refuses is a build error of this firmware: stop loudly, never limp. */
    for (;;) hal_sleep_until(hal_millis() + 1000u);
  }
  for (;;) {
    gb_app_step();
    hal_sleep_until(gb_app_next_deadline());
  }
}

uint32_t gb_app_peer_session(void) {
  gb_peer_info soc;
  return gb_link_get_peer(gb_app.link, &soc) ? soc.session : 0u;
}

gb_link_state gb_app_link_state(void) { return gb_link_get_state(gb_app.link); }
uint32_t gb_app_failsafe_trips(void) { return gb_app.failsafe_trips; }
void gb_app_link_stats(gb_link_stats *out) { gb_link_get_stats(gb_app.link, out); }

const char *gb_app_wake_word(const char **why) {
  *why = wake_why;
#if GB_WAKE_WORD
  if (gb_app.capabilities & GB_CAPABILITY_WAKE_WORD) return gb_wake_model_id;
#endif
  return NULL;
}
