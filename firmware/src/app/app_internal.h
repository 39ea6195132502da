/* State shared by the application's parts (app.c, dispatch.c, devices.c). Not for ports. */
#ifndef GB_APP_INTERNAL_H
#define GB_APP_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "battery.h"
#include "buttons.h"
#include "framebuffer.h"
#include "gestures.h"
#include "glassbridge/link.h"
#include "glassbridge/messages.h"
#include "hal_board.h"
#include "hal_gpio.h"
#include "hal_imu.h"
#include "mic.h"
#include "transfer.h"

/* The wake word on the MCU (wake.h, audio_in.h): on boards with the RAM for its 2 s history and the model's arena
 * (the build defines GB_WAKE_WORD=1: host, mps2_an386; not netduinoplus2's 128 KB). */
#ifndef GB_WAKE_WORD
#define GB_WAKE_WORD 0
#endif
#if GB_WAKE_WORD
#include "audio_in.h"
#include "wake.h"
#endif

typedef struct {
  const gb_board_info *board;
  uint32_t capabilities;  /* the board's, plus WAKE_WORD when the built-in model opened */
  gb_link *link;
  uint32_t boot_counter;
  uint32_t stream_counter;
  /* devices */
  gb_button buttons[GB_BUTTON_COUNT];
  uint32_t buttons_down;
  uint32_t next_button_sample;
  gb_gesture_detector gestures;
  gb_imu_sample imu;
  uint32_t next_imu_sample;
  gb_battery_monitor battery;
  uint32_t next_battery_sample;
  gb_mic_stream mic;
  bool mic_from_ring;     /* the stream reads the wake word's history (audio_in) instead of the microphone */
  int64_t mic_base;       /* with mic_from_ring: the history's sample index of the stream's sample 0 */
  bool mic_waiting;       /* pump_mic stopped early: samples not captured yet, or the link's queue full */
#if GB_WAKE_WORD
  gb_audio_in audio;
  gb_wake wake;
  bool wake_listening;
  bool wake_event_pending; /* a detection's WakeWordEvent waits for room in the link queue */
  gb_WakeWordEvent wake_event;
  uint32_t wake_dropped;   /* detections while the link was down: no stream started */
#endif
  gb_transfer transfer;
  /* display */
  gb_framebuffer fb;
  uint32_t card_id;
  uint32_t card_session;  /* the SoC link session whose card is shown: card ids are ordered within a session */
  uint32_t card_expires;  /* valid when card_ttl */
  bool card_ttl;
  /* speaker */
  uint32_t speaker_frames;
  uint64_t speaker_next_sample;
  uint32_t speaker_gaps;
  /* capture fail-safe (app.c) */
  bool link_lost;            /* the link is not up, since link_lost_at */
  uint32_t link_lost_at;
  bool failsafe_pending;     /* the fail-safe acted: tell the SoC (failsafe) once the link is back */
  gb_FailsafeEvent failsafe;
  uint32_t failsafe_trips;
  /* counters */
  uint32_t events_dropped;   /* events the link queue could not take */
  uint32_t decode_errors;
  uint32_t ignored;          /* messages not answered by rule (SPEC.md 10.1): answers, events, unknown without id */
} gb_app_state;

extern gb_app_state gb_app;

/* Encodes and queues one message; false (and counted) when the link cannot take it now. */
bool gb_app_send(uint8_t channel, const gb_Message *m);
/* The same without counting (a stream's frames: the stream marks its own gaps): gb_link_send's status
 * (GB_ERR_QUEUE_FULL: retry after acks), GB_ERR_TOO_LARGE when the message does not encode. */
gb_status gb_app_queue(uint8_t channel, const gb_Message *m);
/* The microphone's users (microphone.c): the wake word's steps and the stream's due frames; their deadline. */
void gb_app_mic_poll(uint32_t now);
uint32_t gb_app_mic_deadline(uint32_t now);

/* The SoC's link session as the engine saw it in the peer's Hello (0 before the first): what orders display cards
 * and owns a running transfer (app.c). */
uint32_t gb_app_peer_session(void);

/* One received message on `channel`: answers it (dispatch.c). */
void gb_dispatch(uint8_t channel, const uint8_t *data, size_t len, uint32_t now);
/* Stops the microphone stream (its part of the capture LED goes off with it). */
void gb_app_mic_stop(void);
/* Starts the microphone stream a MicControl asks for; false for a frame_ms out of range. */
bool gb_app_mic_start(uint32_t frame_ms, uint32_t now);
#if GB_WAKE_WORD
/* Starts (again, with new settings) or stops listening for the wake word. */
void gb_app_wake_listen(const gb_wake_settings *s, uint32_t now);
void gb_app_wake_stop(void);
#endif

/* Devices (devices.c): sampling at their rates and their events; next time they need the loop. */
void gb_devices_init(uint32_t now);
void gb_devices_poll(uint32_t now);
uint32_t gb_devices_deadline(uint32_t now);

/* Display (display.c). */
void gb_display_init(void);
void gb_display_show(const gb_DisplayCard *card, uint32_t now);
void gb_display_clear(void);
void gb_display_poll(uint32_t now);
uint32_t gb_display_deadline(uint32_t now);

#endif
