/* The message dispatcher (SPEC.md 10.1): decodes each Message from the SoC, acts on it and answers on the channel
 * it came on with its request_id (Status, CameraState, TransferStatus, or Result). Every failed request is answered
 * with a Result naming what was wrong. Not answered: speaker audio (a stream), accepted TransferChunks other than
 * every ack_every-th and the last, the bodies the MCU itself sends (answers and events: answering them could make
 * two ends answer each other for ever), and a body the MCU does not know that carries no request_id. */
#include <stdio.h>
#include <string.h>

#include "app_internal.h"
#include "capture.h"
#include "diagnose.h"
#include "hal_clock.h"
#include "hal_gpio.h"
#include "hal_mic.h"
#include "hal_speaker.h"
#include "hal_uart.h"
#include "mic.h"

/* transfer.h mirrors the proto enums so it can be tested without the codec: keep them in step. */
_Static_assert((int)GB_XFER_RECEIVING == (int)GB_TRANSFER_STATE_RECEIVING, "TransferState");
_Static_assert((int)GB_XFER_VERIFIED == (int)GB_TRANSFER_STATE_VERIFIED, "TransferState");
_Static_assert((int)GB_XFER_FAILED == (int)GB_TRANSFER_STATE_FAILED, "TransferState");
_Static_assert((int)GB_XFER_UNKNOWN == (int)GB_TRANSFER_STATE_UNKNOWN, "TransferState");
_Static_assert((int)GB_XERR_OFFSET_MISMATCH == (int)GB_ERROR_CODE_OFFSET_MISMATCH, "ErrorCode");
_Static_assert((int)GB_XERR_HASH_MISMATCH == (int)GB_ERROR_CODE_HASH_MISMATCH, "ErrorCode");
_Static_assert((int)GB_XERR_NO_SUCH_TRANSFER == (int)GB_ERROR_CODE_NO_SUCH_TRANSFER, "ErrorCode");
_Static_assert((int)GB_XERR_TOO_LARGE == (int)GB_ERROR_CODE_TOO_LARGE, "ErrorCode");
_Static_assert((int)GB_XERR_BAD_REQUEST == (int)GB_ERROR_CODE_BAD_REQUEST, "ErrorCode");
_Static_assert((int)GB_XERR_BUSY == (int)GB_ERROR_CODE_BUSY, "ErrorCode");
_Static_assert((int)GB_XKIND_FIRMWARE == (int)GB_TRANSFER_KIND_FIRMWARE, "TransferKind");
_Static_assert((int)GB_XKIND_ASSET == (int)GB_TRANSFER_KIND_ASSET, "TransferKind");
_Static_assert((int)GB_BTN_LONG_PRESS == (int)GB_BUTTON_ACTION_LONG_PRESS, "ButtonAction");
_Static_assert((int)GB_GEST_SHAKE == (int)GB_GESTURE_SHAKE, "Gesture");
_Static_assert((int)GB_BAT_CRITICAL == (int)GB_BATTERY_LEVEL_CRITICAL, "BatteryLevel");

/* Both are large (an AudioFrame, a TransferChunk): static, not on a small MCU stack. */
static gb_Message in, out;

static void reply(uint8_t channel, uint32_t request_id) {
  out.request_id = request_id;
  gb_app_send(channel, &out);
}

static void result(uint8_t channel, uint32_t request_id, gb_ErrorCode code, const char *text) {
  memset(&out, 0, sizeof out);
  out.which_body = GB_MESSAGE_RESULT_TAG;
  out.body.result.code = code;
  strncpy(out.body.result.message, text, GB_RESULT_MESSAGE_LIMIT);
  reply(channel, request_id);
}

void gb_app_status(gb_Status *s) {
  memset(s, 0, sizeof *s);
  strncpy(s->firmware_version, GB_FIRMWARE_VERSION, GB_STATUS_FIRMWARE_VERSION_LIMIT);
  strncpy(s->board, gb_app.board->name, GB_STATUS_BOARD_LIMIT);
  s->boot_counter = gb_app.boot_counter;
  s->uptime_ms = hal_millis();
  s->battery.percent = gb_app.battery.now.percent;
  s->battery.millivolts = gb_app.battery.now.millivolts;
  s->battery.charging = gb_app.battery.now.charging;
  s->battery.level = (gb_BatteryLevel)gb_app.battery.now.level;
  s->buttons_down = gb_app.buttons_down;
  s->imu.accel_x_mg = gb_app.imu.accel_mg[0];
  s->imu.accel_y_mg = gb_app.imu.accel_mg[1];
  s->imu.accel_z_mg = gb_app.imu.accel_mg[2];
  s->imu.gyro_x_mdps = gb_app.imu.gyro_mdps[0];
  s->imu.gyro_y_mdps = gb_app.imu.gyro_mdps[1];
  s->imu.gyro_z_mdps = gb_app.imu.gyro_mdps[2];
  s->camera_powered = gb_capture_camera_powered();
  s->capture_led = gb_capture_led_lit();
  s->mic_streaming = gb_app.mic.streaming;
  s->card_id = gb_app.card_id;
  s->capabilities = gb_app.capabilities;
  s->uart_rx_overruns = hal_uart_rx_overruns();
  gb_link_stats ls;
  gb_link_get_stats(gb_app.link, &ls);
  s->link.frames_rx = ls.frames_rx;
  s->link.frames_tx = ls.frames_tx;
  s->link.retransmits = ls.retransmits;
  s->link.crc_errors = ls.crc_errors;
  s->link.framing_errors = ls.framing_errors;
  s->link.out_of_window = ls.out_of_window;
  s->link.rx_oversize = ls.rx_oversize;
  s->link.duplicates = ls.duplicates;
  s->link.link_downs = ls.link_downs;
  s->link.peer_resets = ls.peer_resets;
  s->link.rewinds = ls.rewinds;
  s->link.frag_size = ls.frag_size;
  s->failsafe_trips = gb_app.failsafe_trips;
  s->ignored_messages = gb_app.ignored;
#if GB_WAKE_WORD
  s->wake_listening = gb_app.wake_listening;
  s->wake_detections = gb_app.wake.detections;
  s->wake_invokes = gb_app.wake.invokes;
  s->wake_late_steps = gb_app.audio.late_steps;
#endif
}

static void transfer_reply(uint8_t channel, uint32_t request_id, const gb_transfer_status *t) {
  memset(&out, 0, sizeof out);
  out.which_body = GB_MESSAGE_TRANSFER_STATUS_TAG;
  out.body.transfer_status.transfer_id = t->transfer_id;
  out.body.transfer_status.state = (gb_TransferState)t->state;
  out.body.transfer_status.offset = t->offset;
  out.body.transfer_status.error = (gb_ErrorCode)t->error;
  out.body.transfer_status.ack_every = t->ack_every;
  reply(channel, request_id);
}

/* The Message field number of the body in `data` (the last top-level field other than request_id), for the text
 * of UNKNOWN_MESSAGE: the codec skips fields it does not know, so the decoded Message says only "no body". */
static uint32_t body_field(const uint8_t *data, size_t len) {
  gb_pb_reader r;
  gb_pb_field_t f;
  uint32_t field = 0;
  gb_pb_reader_init(&r, data, len);
  while (gb_pb_next(&r, &f))
    if (f.field != 1) field = f.field;
  return field;
}

static bool has(uint32_t capability) { return (gb_app.capabilities & capability) != 0; }

static void speaker(const gb_AudioFrame *a) {
  static int16_t pcm[GB_AUDIO_FRAME_PCM_LIMIT / 2];
  size_t n = a->pcm.size / 2u;
  for (size_t i = 0; i < n; i++)
    pcm[i] = (int16_t)(uint16_t)(a->pcm.bytes[2 * i] | (uint16_t)a->pcm.bytes[2 * i + 1] << 8);
  if (gb_app.speaker_frames > 0 && a->first_sample != gb_app.speaker_next_sample) gb_app.speaker_gaps++;
  gb_app.speaker_frames++;
  gb_app.speaker_next_sample = a->first_sample + n;
  hal_speaker_play(pcm, n);
}

void gb_dispatch(uint8_t ch, const uint8_t *data, size_t len, uint32_t now) {
  gb_pb_status err = GB_PB_OK;
  if (!gb_Message_decode(data, len, &in, &err)) {
    char text[GB_RESULT_MESSAGE_LIMIT + 1];
    snprintf(text, sizeof text, "cannot decode Message (%u bytes): %s", (unsigned)len, gb_pb_status_str(err));
    gb_app.decode_errors++;
    /* Answered with the request's id whenever that field decodes, so the SoC fails the request at once. */
    result(ch, gb_peek_request_id(data, len), GB_ERROR_CODE_DECODE_FAILED, text);
    return;
  }
  uint32_t rid = in.request_id;
  switch (in.which_body) {
    case GB_MESSAGE_STATUS_REQUEST_TAG:
      memset(&out, 0, sizeof out);
      out.which_body = GB_MESSAGE_STATUS_TAG;
      gb_app_status(&out.body.status);
      reply(ch, rid);
      return;

    case GB_MESSAGE_CAMERA_POWER_TAG:
      if (!has(GB_CAPABILITY_CAMERA_POWER)) break;
      if (in.body.camera_power.on && gb_app.battery.now.level == GB_BAT_CRITICAL && !gb_app.battery.now.charging) {
        result(ch, rid, GB_ERROR_CODE_BUSY, "battery critical: camera stays off until charging");
        return;
      }
      gb_capture_set_camera(in.body.camera_power.on);
      memset(&out, 0, sizeof out);
      out.which_body = GB_MESSAGE_CAMERA_STATE_TAG;
      out.body.camera_state.powered = gb_capture_camera_powered();
      out.body.camera_state.capture_led = gb_capture_led_lit();
      reply(ch, rid);
      return;

    case GB_MESSAGE_MIC_CONTROL_TAG:
      if (!has(GB_CAPABILITY_MICROPHONE)) break;
      if (in.body.mic_control.stream) {
        if (!gb_app_mic_start(in.body.mic_control.frame_ms, now)) {
          result(ch, rid, GB_ERROR_CODE_BAD_REQUEST, "frame_ms must be 0 (20) or 10..40");
          return;
        }
      } else {
        gb_app_mic_stop();
      }
      result(ch, rid, GB_ERROR_CODE_OK, "");
      return;

    case GB_MESSAGE_WAKE_WORD_CONTROL_TAG: {
      if (!has(GB_CAPABILITY_WAKE_WORD)) break;
#if GB_WAKE_WORD
      const gb_WakeWordControl *w = &in.body.wake_word_control;
      if (!w->listen) {
        gb_app_wake_stop();
        result(ch, rid, GB_ERROR_CODE_OK, "");
        return;
      }
      char text[GB_RESULT_MESSAGE_LIMIT + 1];
      gb_wake_settings ws;
      uint32_t frame_ms = w->frame_ms ? w->frame_ms : GB_MIC_DEFAULT_FRAME_MS;
      if (frame_ms < GB_MIC_MIN_FRAME_MS || frame_ms > GB_MIC_MAX_FRAME_MS) {
        result(ch, rid, GB_ERROR_CODE_BAD_REQUEST, "frame_ms must be 0 (20) or 10..40");
        return;
      }
      if (!gb_wake_settings_from(&ws, w->cutoff_permille, w->window, w->refractory_ms, w->lookback_ms, frame_ms,
                                 GB_AUDIO_HISTORY_MS, text, sizeof text)) {
        result(ch, rid, GB_ERROR_CODE_BAD_REQUEST, text);
        return;
      }
      gb_app_wake_listen(&ws, now);
      result(ch, rid, GB_ERROR_CODE_OK, "");
#endif
      return;
    }

    case GB_MESSAGE_SPEAKER_AUDIO_TAG:
      if (!has(GB_CAPABILITY_SPEAKER)) { /* a stream, never answered: a Result per frame would flood the link */
        gb_app.ignored++;
        return;
      }
      speaker(&in.body.speaker_audio);
      return;

    case GB_MESSAGE_CARD_TAG: {
      if (!has(GB_CAPABILITY_DISPLAY)) break;
      const gb_DisplayCard *c = &in.body.card;
      if (c->card_id == 0) {
        result(ch, rid, GB_ERROR_CODE_BAD_REQUEST, "card_id must be non-zero");
        return;
      }
      /* Ids order the cards of one SoC link session (a late answer must not replace a newer card); a new session
       * (glassbridge restarted, numbering from 1 again) shows its cards whatever the id on the display. */
      uint32_t session = gb_app_peer_session();
      if (gb_app.card_id != 0 && gb_app.card_session == session && c->card_id < gb_app.card_id) {
        char text[GB_RESULT_MESSAGE_LIMIT + 1];
        snprintf(text, sizeof text, "card %lu is older than the shown card %lu", (unsigned long)c->card_id,
                 (unsigned long)gb_app.card_id);
        result(ch, rid, GB_ERROR_CODE_BAD_REQUEST, text);
        return;
      }
      gb_display_show(c, now);
      result(ch, rid, GB_ERROR_CODE_OK, "");
      return;
    }

    case GB_MESSAGE_DISPLAY_CLEAR_TAG:
      if (!has(GB_CAPABILITY_DISPLAY)) break;
      gb_display_clear();
      result(ch, rid, GB_ERROR_CODE_OK, "");
      return;

    case GB_MESSAGE_TRANSFER_BEGIN_TAG: {
      if (!has(GB_CAPABILITY_BULK_TRANSFER)) break;
      const gb_TransferBegin *b = &in.body.transfer_begin;
      gb_transfer_status st;
      gb_transfer_begin(&gb_app.transfer, b->transfer_id, (uint32_t)b->kind, b->size, b->sha256.bytes,
                        b->sha256.size, gb_app_peer_session(), now, &st);
      transfer_reply(ch, rid, &st);
      return;
    }

    case GB_MESSAGE_TRANSFER_CHUNK_TAG: {
      if (!has(GB_CAPABILITY_BULK_TRANSFER)) break;
      const gb_TransferChunk *c = &in.body.transfer_chunk;
      gb_transfer_status st;
      if (gb_transfer_chunk(&gb_app.transfer, c->transfer_id, c->offset, c->data.bytes, c->data.size, now, &st))
        transfer_reply(ch, rid, &st);
      return;
    }

    case GB_MESSAGE_TRANSFER_QUERY_TAG: {
      if (!has(GB_CAPABILITY_BULK_TRANSFER)) break;
      gb_transfer_status st;
      gb_transfer_query(&gb_app.transfer, in.body.transfer_query.transfer_id, &st);
      transfer_reply(ch, rid, &st);
      return;
    }

    /* What the MCU sends itself: answers and events, never requests to it. Ignored (counted). */
    case GB_MESSAGE_RESULT_TAG:
    case GB_MESSAGE_STATUS_TAG:
    case GB_MESSAGE_BUTTON_TAG:
    case GB_MESSAGE_GESTURE_TAG:
    case GB_MESSAGE_BATTERY_TAG:
    case GB_MESSAGE_CAMERA_STATE_TAG:
    case GB_MESSAGE_MIC_AUDIO_TAG:
    case GB_MESSAGE_TRANSFER_STATUS_TAG:
    case GB_MESSAGE_FAILSAFE_TAG:
    case GB_MESSAGE_WAKE_WORD_EVENT_TAG:
      gb_app.ignored++;
      return;

    default: {
      /* A body this firmware does not know (a newer SoC's, the phone link's fields 64-127, none at all): the codec
       * skipped it. Answered when it is a request (a request_id); a message without one is not, so ignored. */
      if (rid == 0) {
        gb_app.ignored++;
        return;
      }
      char text[GB_RESULT_MESSAGE_LIMIT + 1];
      snprintf(text, sizeof text, "the MCU does not handle Message body %lu", (unsigned long)body_field(data, len));
      result(ch, rid, GB_ERROR_CODE_UNKNOWN_MESSAGE, text);
      return;
    }
  }
  /* A known request for a device this board lacks. */
  char text[GB_RESULT_MESSAGE_LIMIT + 1];
  snprintf(text, sizeof text, "board %s lacks the device for body %lu", gb_app.board->name,
           (unsigned long)in.which_body);
  result(ch, rid, GB_ERROR_CODE_NOT_SUPPORTED, text);
}
