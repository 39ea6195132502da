/* The microphone's users: the stream the SoC asks for (MicControl) and the wake word listening on the MCU
 * (WakeWordControl), and how they share the one microphone.
 *
 * Without the wake word, a stream reads the microphone directly, one frame at a time on its clock (mic.h): a
 * frame the link cannot take is dropped and the next says gap_before. While the wake word listens, the history
 * (audio_in.h) is the microphone's only reader: every 10 ms step goes to the detector, and a stream copies its
 * frames out of the history; a frame the link's queue cannot take yet waits there (until the history overwrites
 * it), which is what lets a detection's stream begin lookback_ms in the past and catch up at the UART's pace.
 *
 * Listening sends nothing and leaves the capture LED off: the audio stays on the MCU. A detection sends a
 * WakeWordEvent and starts a stream (the LED lights with it) unless one runs already; the SoC stops it with
 * MicControl{stream: false} when the question has ended, and the capture fail-safe stops it if the SoC is gone.
 */
#include <string.h>

#include "app_internal.h"
#include "capture.h"
#include "hal_mic.h"

static void mic_power(void) {
  bool on = gb_app.mic.streaming;
#if GB_WAKE_WORD
  on = on || gb_app.wake_listening;
#endif
  hal_mic_enable(on ? 1 : 0);
}

bool gb_app_mic_start(uint32_t frame_ms, uint32_t now) {
  if (!gb_mic_start(&gb_app.mic, frame_ms, ++gb_app.stream_counter, now)) return false;
  gb_app.mic_from_ring = false;
#if GB_WAKE_WORD
  if (gb_app.wake_listening) { /* the history is the microphone's reader: the stream starts at its newest sample */
    gb_app.mic_from_ring = true;
    gb_app.mic_base = (int64_t)gb_app.audio.captured;
  }
#endif
  mic_power();
  gb_capture_set_mic(true);
  return true;
}

void gb_app_mic_stop(void) {
  gb_mic_stop(&gb_app.mic);
  gb_app.mic_from_ring = false;
  mic_power();
  gb_capture_set_mic(false);
}

#if GB_WAKE_WORD
void gb_app_wake_listen(const gb_wake_settings *s, uint32_t now) {
  if (gb_app.mic.streaming && !gb_app.mic_from_ring) {
    /* A running stream moves onto the history: its next frame starts at the history's first sample. */
    gb_app.mic_from_ring = true;
    gb_app.mic_base = -(int64_t)(gb_app.mic.next_frame * gb_app.mic.frame_samples);
    gb_mic_mark_gap(&gb_app.mic);
  }
  gb_audio_in_start(&gb_app.audio, now);
  gb_wake_start(&gb_app.wake, s);
  gb_app.wake_listening = true;
  mic_power();
}

void gb_app_wake_stop(void) {
  if (!gb_app.wake_listening) return;
  gb_app.wake_listening = false;
  gb_audio_in_stop(&gb_app.audio);
  if (gb_app.mic.streaming && gb_app.mic_from_ring) { /* the stream reads the microphone again */
    gb_app.mic_from_ring = false;
    gb_mic_mark_gap(&gb_app.mic);
  }
  mic_power();
}

static void wake_detected(const gb_wake_detection *d, uint32_t now) {
  gb_WakeWordEvent *e = &gb_app.wake_event;
  if (gb_link_get_state(gb_app.link) != GB_LINK_UP || gb_app.wake_event_pending) {
    gb_app.wake_dropped++; /* nobody to tell, or still telling the last one */
    return;
  }
  memset(e, 0, sizeof *e);
  uint64_t lookback = (uint64_t)gb_app.wake.settings.lookback_ms * 16u;
  uint64_t first = d->sample > lookback ? d->sample - lookback : 0u;
  if (first < gb_audio_in_oldest(&gb_app.audio)) first = gb_audio_in_oldest(&gb_app.audio);
  if (!gb_app.mic.streaming) {
    /* A stream whose clock started when its first sample was heard: the lookback's frames are due at once. */
    uint32_t behind_ms = (uint32_t)((d->sample - first) / 16u);
    if (!gb_mic_start(&gb_app.mic, gb_app.wake.settings.frame_ms, ++gb_app.stream_counter, now - behind_ms)) {
      gb_app.wake_dropped++;
      return;
    }
    gb_mic_set_backlog(&gb_app.mic, GB_AUDIO_HISTORY_MS / gb_app.mic.frame_ms);
    gb_app.mic_from_ring = true;
    gb_app.mic_base = (int64_t)first;
    gb_capture_set_mic(true);
  }
  /* In the stream's numbering (AudioFrame.first_sample). */
  int64_t lookback_sample = (int64_t)first - gb_app.mic_base, detected = (int64_t)d->sample - gb_app.mic_base;
  e->stream_id = gb_app.mic.stream_id;
  e->lookback_sample = lookback_sample > 0 ? (uint64_t)lookback_sample : 0u;
  e->detected_sample = detected > 0 ? (uint64_t)detected : 0u;
  e->probability_permille = (uint32_t)(d->mean * 1000.0);
  e->at_ms = now;
  e->heard_sample = d->sample;
  gb_app.wake_event_pending = true;
}

static void send_wake_event(void) {
  static gb_Message m;
  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_WAKE_WORD_EVENT_TAG;
  m.body.wake_word_event = gb_app.wake_event;
  if (gb_app_send(1, &m)) gb_app.wake_event_pending = false; /* else again at the next step, before any audio */
}

static void pump_wake(uint32_t now) {
  const int16_t *step;
  uint64_t first;
  /* Bounded: after a stall, at most the history's steps, then the loop serves the link again. */
  for (uint32_t i = 0; i < 8u && (step = gb_audio_in_next(&gb_app.audio, now, &first)) != NULL; i++) {
    gb_wake_detection d;
    if (gb_wake_step(&gb_app.wake, step, &d)) wake_detected(&d, now);
  }
  if (gb_app.wake_event_pending) send_wake_event();
}
#endif

/* The stream's frames that are due: from the history or the microphone. */
static void pump_stream(uint32_t now) {
  static gb_Message m;
  static int16_t pcm[GB_MIC_MAX_FRAME_MS * (GB_MIC_RATE_HZ / 1000u)];
  gb_mic_frame f;
  gb_app.mic_waiting = false;
#if GB_WAKE_WORD
  if (gb_app.wake_event_pending) { /* the event goes first: the SoC learns the stream's meaning before its audio */
    gb_app.mic_waiting = gb_app.mic.streaming;
    return;
  }
#endif
  while (gb_mic_due(&gb_app.mic, now, &f)) {
    if (gb_app.mic_from_ring) {
#if GB_WAKE_WORD
      int64_t at = gb_app.mic_base + (int64_t)f.first_sample;
      if (at < 0 || !gb_audio_in_copy(&gb_app.audio, (uint64_t)at, f.samples, pcm)) {
        if (at >= 0 && (uint64_t)at + f.samples > gb_app.audio.captured) { /* not heard yet: within 10 ms */
          gb_app.mic_waiting = true;
          return;
        }
        gb_mic_sent(&gb_app.mic, false); /* overwritten (or before the history began): a marked gap */
        continue;
      }
#endif
    } else {
      hal_mic_read(pcm, f.samples);
    }
    bool ok = false;
    if (gb_link_get_state(gb_app.link) == GB_LINK_UP) {
      memset(&m, 0, sizeof m);
      m.which_body = GB_MESSAGE_MIC_AUDIO_TAG;
      gb_AudioFrame *a = &m.body.mic_audio;
      a->sample_rate = GB_MIC_RATE_HZ;
      a->first_sample = f.first_sample;
      a->gap_before = f.gap_before;
      a->stream_id = gb_app.mic.stream_id;
      a->pcm.size = (uint16_t)(f.samples * 2u);
      for (uint32_t i = 0; i < f.samples; i++) { /* PCM16 little-endian whatever the CPU's byte order */
        a->pcm.bytes[2 * i] = (uint8_t)((uint16_t)pcm[i] & 0xFFu);
        a->pcm.bytes[2 * i + 1] = (uint8_t)((uint16_t)pcm[i] >> 8);
      }
      gb_status st = gb_app_queue(2, &m);
      ok = st == GB_OK;
      if (st == GB_ERR_QUEUE_FULL && gb_app.mic_from_ring) { /* the frame waits in the history for room */
        gb_app.mic_waiting = true;
        return;
      }
    }
    gb_mic_sent(&gb_app.mic, ok);
  }
}

void gb_app_mic_poll(uint32_t now) {
#if GB_WAKE_WORD
  if (gb_app.wake_listening) pump_wake(now);
#endif
  pump_stream(now);
}

uint32_t gb_app_mic_deadline(uint32_t now) {
  uint32_t d = gb_mic_deadline(&gb_app.mic, now);
  if (gb_app.mic_waiting) d = now + 2u; /* waits for the capture or for room in the link queue */
#if GB_WAKE_WORD
  if (gb_app.wake_listening) {
    uint32_t a = gb_audio_in_deadline(&gb_app.audio, now);
    if ((int32_t)(a - d) < 0) d = a;
  }
#endif
  return d;
}
