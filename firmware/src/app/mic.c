/* Microphone stream timing and gap marking: see mic.h. */
#include "mic.h"

#include <string.h>

#include "hal_mic.h"

void gb_mic_init(gb_mic_stream *m) { memset(m, 0, sizeof *m); }

bool gb_mic_start(gb_mic_stream *m, uint32_t frame_ms, uint32_t stream_id, uint32_t now) {
  if (frame_ms == 0) frame_ms = GB_MIC_DEFAULT_FRAME_MS;
  if (frame_ms < GB_MIC_MIN_FRAME_MS || frame_ms > GB_MIC_MAX_FRAME_MS) return false;
  memset(m, 0, sizeof *m);
  m->streaming = true;
  m->stream_id = stream_id;
  m->frame_ms = frame_ms;
  m->frame_samples = frame_ms * (GB_MIC_RATE_HZ / 1000u);
  m->started_at = now;
  m->max_backlog = GB_MIC_MAX_BACKLOG;
  return true;
}

void gb_mic_set_backlog(gb_mic_stream *m, uint32_t frames) { m->max_backlog = frames; }

void gb_mic_stop(gb_mic_stream *m) { m->streaming = false; }

static uint32_t frame_end(const gb_mic_stream *m, uint64_t k) {
  return m->started_at + (uint32_t)((k + 1u) * m->frame_ms); /* a frame is complete at its end */
}

bool gb_mic_due(gb_mic_stream *m, uint32_t now, gb_mic_frame *f) {
  if (!m->streaming) return false;
  if ((int32_t)(now - frame_end(m, m->next_frame)) < 0) return false;
  /* Frames complete by now: more than the backlog means the loop stalled; skip the oldest. */
  uint64_t complete = (uint64_t)(uint32_t)(now - m->started_at) / m->frame_ms;
  if (complete > m->next_frame + m->max_backlog) {
    m->frames_dropped += (uint32_t)(complete - m->max_backlog - m->next_frame);
    m->next_frame = complete - m->max_backlog;
    m->gap = true;
  }
  f->first_sample = m->next_frame * m->frame_samples;
  f->samples = m->frame_samples;
  f->gap_before = m->gap;
  return true;
}

void gb_mic_sent(gb_mic_stream *m, bool ok) {
  m->next_frame++;
  if (ok) {
    m->frames_sent++;
    m->gap = false;
  } else {
    m->frames_dropped++;
    m->gap = true;
  }
}

void gb_mic_mark_gap(gb_mic_stream *m) {
  if (m->streaming) m->gap = true;
}

uint32_t gb_mic_deadline(const gb_mic_stream *m, uint32_t now) {
  if (!m->streaming) return now + 60000u;
  return frame_end(m, m->next_frame);
}
