/* The MCU's application layer against protocol/vectors/app_transcripts.txt (bytes from Python's protobuf, written
 * from SPEC.md 10 and 10.1 by protocol/tools/make_app_vectors.py): every `soc` message goes to the real dispatcher
 * (gb_dispatch: codec, transfer sink, device checks) at the record's time and with the record's SoC link session;
 * what it sends must be the following `mcu` records, in order and on their channel, and nothing more. Compared
 * byte for byte after emptying Result.message (informational text; an error Result must still carry some), or,
 * for `compare=body` (Status: the device's state), by channel, request_id and body (`compare=ignored`: and
 * Status.ignored_messages). Each conversation starts from
 * a freshly booted application on a board with the record's capabilities. The HAL is faked here (no devices are
 * driven by these conversations); the link engine is the real one, idle, for the counters Status reports. */
#include <stdio.h>
#include <string.h>

#include "app.h"
#include "app_internal.h"
#include "app_transcripts.h"
#include "capture.h"
#include "check.h"
#include "hal_clock.h"
#include "hal_display.h"
#include "hal_gpio.h"
#include "hal_mic.h"
#include "hal_speaker.h"
#include "hal_uart.h"
#include "mic.h"

/* ---- what app.c would provide (it is not linked: it owns the main loop and the UART) ---------------------- */

gb_app_state gb_app;
static uint32_t peer_session;

uint32_t gb_app_peer_session(void) { return peer_session; }

#define SENT_MAX 4
static gb_Message sent[SENT_MAX];
static uint8_t sent_ch[SENT_MAX];
static int nsent, overflow;

bool gb_app_send(uint8_t channel, const gb_Message *m) {
  if (nsent == SENT_MAX) {
    overflow++;
    return false;
  }
  sent_ch[nsent] = channel;
  sent[nsent++] = *m;
  return true;
}

gb_status gb_app_queue(uint8_t channel, const gb_Message *m) { /* the microphone's frames (never reached here) */
  return gb_app_send(channel, m) ? GB_OK : GB_ERR_QUEUE_FULL;
}

/* ---- the HAL, faked: nothing here is reached by the conversations but must link --------------------------- */

static uint32_t clock_ms;
uint32_t hal_millis(void) { return clock_ms; }
uint32_t hal_uart_rx_overruns(void) { return 0; }
void hal_mic_enable(int on) { (void)on; }
void hal_mic_read(int16_t *dst, size_t n) { memset(dst, 0, n * sizeof *dst); }
void hal_speaker_play(const int16_t *pcm, size_t n) {
  (void)pcm;
  (void)n;
}
void hal_gpio_set_camera_rail(bool on) { (void)on; }
void hal_gpio_set_capture_led(bool on) { (void)on; }
bool hal_gpio_button_pressed(unsigned i) {
  (void)i;
  return false;
}
void hal_display_flush(const uint8_t *pixels, uint16_t width, uint16_t height) {
  (void)pixels;
  (void)width;
  (void)height;
}

/* ---- the replay ---------------------------------------------------------------------------------------------- */

static uint64_t arena[GB_APP_LINK_ARENA / 8u];
static gb_link *link;
static gb_board_info board = {"test-board", 0, 921600, 0, 0};

static void boot(uint32_t capabilities) {
  memset(&gb_app, 0, sizeof gb_app);
  board.capabilities = capabilities;
  gb_app.board = &board;
  gb_app.capabilities = capabilities; /* as gb_app_init: the board's (no wake-word model here) */
  gb_app.link = link;
  gb_capture_init();
  gb_mic_init(&gb_app.mic);
  gb_transfer_init(&gb_app.transfer);
}

/* The MCU's message `got` (channel `ch`) against the vector's bytes. */
static bool same(const gb_Message *got, uint8_t ch, size_t k) {
  static gb_Message want, norm;
  static uint8_t buf[GB_MESSAGE_MAX_SIZE + 16];
  gb_pb_status err = GB_PB_OK;
  if (ch != TRANSCRIPT[k].ch) return false;
  if (TRANSCRIPT[k].compare_body) {
    if (!gb_Message_decode(TRANSCRIPT[k].data, TRANSCRIPT[k].len, &want, &err)) return false;
    if (got->request_id != want.request_id || got->which_body != want.which_body) return false;
    /* compare=ignored: a Status whose count of messages left unanswered by rule must match. */
    return TRANSCRIPT[k].compare_body != 2 ||
           (got->which_body == GB_MESSAGE_STATUS_TAG &&
            got->body.status.ignored_messages == want.body.status.ignored_messages);
  }
  norm = *got;
  if (norm.which_body == GB_MESSAGE_RESULT_TAG) {
    /* The text is informational (README.md), but an error says what went wrong. */
    if (norm.body.result.code != GB_ERROR_CODE_OK && norm.body.result.message[0] == 0) return false;
    memset(norm.body.result.message, 0, sizeof norm.body.result.message);
  }
  size_t len = 0;
  if (!gb_Message_encode(&norm, buf, sizeof buf, &len, &err)) return false;
  return len == TRANSCRIPT[k].len && memcmp(buf, TRANSCRIPT[k].data, len) == 0;
}

void gb_tests(void) {
  static gb_link_config cfg;
  gb_app_link_config(&cfg, 0x5eed0001u, 1, 0);
  gb_status st = gb_link_config_normalize(&cfg);
  CHECK_EQ(st, GB_OK);
  link = gb_link_init(&cfg, arena, sizeof arena, 0, &st);
  CHECK(link != NULL);
  if (!link) return;

  size_t n = sizeof TRANSCRIPT / sizeof TRANSCRIPT[0];
  const char *conv = "?";
  int conversations = 0, socs = 0, answers = 0;
  for (size_t i = 0; i < n;) {
    if (TRANSCRIPT[i].kind == TR_CONV) {
      conv = TRANSCRIPT[i].name;
      boot(TRANSCRIPT[i].capabilities);
      conversations++;
      i++;
      continue;
    }
    CHECK_EQ(TRANSCRIPT[i].kind, TR_SOC);
    if (TRANSCRIPT[i].kind != TR_SOC) { i++; continue; }
    size_t s = i++;
    nsent = overflow = 0;
    clock_ms = TRANSCRIPT[s].t;
    peer_session = TRANSCRIPT[s].session;
    gb_dispatch(TRANSCRIPT[s].ch, TRANSCRIPT[s].data, TRANSCRIPT[s].len, TRANSCRIPT[s].t);
    socs++;
    int expected = 0;
    bool quiet = false;
    for (; i < n && (TRANSCRIPT[i].kind == TR_MCU || TRANSCRIPT[i].kind == TR_QUIET); i++) {
      if (TRANSCRIPT[i].kind == TR_QUIET) {
        quiet = true;
        continue;
      }
      bool ok = expected < nsent && same(&sent[expected], sent_ch[expected], i);
      CHECK(ok);
      if (!ok) gb_check_log("  %s: record %u (answer %d of %d sent)\n", conv, (unsigned)i, expected + 1, nsent);
      expected++;
      answers++;
    }
    CHECK(quiet == (expected == 0)); /* every soc record is followed by its answers or by `quiet` */
    CHECK_EQ(nsent, expected);
    CHECK_EQ(overflow, 0);
    if (nsent != expected) gb_check_log("  %s: record %u: %d sent, %d expected\n", conv, (unsigned)s, nsent, expected);
  }
  /* The vector file has 13 conversations: none silently lost. */
  CHECK_EQ(conversations, 13);
  CHECK(socs >= 80);
  CHECK(answers >= 60);
  gb_check_log("app transcripts: %d conversations, %d SoC messages, %d answers\n", conversations, socs, answers);
}
