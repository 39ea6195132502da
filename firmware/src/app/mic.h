/* The microphone stream's clock and bookkeeping: when the next frame is due, which samples it holds, and
 * whether samples were lost before it.
 *
 * The stream runs on the MCU's clock: frame k covers samples [k*n, (k+1)*n) of the stream whether or not it
 * could be sent. A frame the link could not take (queue full, link down) is dropped and the next sent frame
 * says gap_before, so the SoC sees exactly where audio is missing (AudioFrame.first_sample). If the main loop
 * fell behind by more than GB_MIC_MAX_BACKLOG frames, the missed frames are skipped the same way.
 */
#ifndef GB_APP_MIC_H
#define GB_APP_MIC_H

#include <stdbool.h>
#include <stdint.h>

#define GB_MIC_DEFAULT_FRAME_MS 20u
#define GB_MIC_MIN_FRAME_MS 10u
#define GB_MIC_MAX_FRAME_MS 40u   /* AudioFrame.pcm limit: 1280 bytes = 40 ms at 16 kHz */
#define GB_MIC_MAX_BACKLOG 4u

typedef struct {
  bool streaming;
  uint32_t stream_id;
  uint32_t frame_ms;
  uint32_t frame_samples;
  uint32_t started_at;      /* ms */
  uint64_t next_frame;      /* index of the next frame to produce */
  bool gap;                 /* samples were lost before the next frame */
  uint32_t max_backlog;     /* frames the stream may fall behind its clock before the oldest are skipped */
  uint32_t frames_sent, frames_dropped;
} gb_mic_stream;

typedef struct {
  uint64_t first_sample;
  uint32_t samples;
  bool gap_before;
} gb_mic_frame;

void gb_mic_init(gb_mic_stream *m);
/* frame_ms 0 = default; false if out of range (GB_MIC_MIN_FRAME_MS..GB_MIC_MAX_FRAME_MS, whole samples). The
 * backlog limit is GB_MIC_MAX_BACKLOG frames; a stream that starts in the past (the wake word's lookback, read
 * from a history) raises it with gb_mic_set_backlog. */
bool gb_mic_start(gb_mic_stream *m, uint32_t frame_ms, uint32_t stream_id, uint32_t now);
void gb_mic_set_backlog(gb_mic_stream *m, uint32_t frames);
void gb_mic_stop(gb_mic_stream *m);
/* If a frame is due at `now`, describes it and returns true; then call gb_mic_sent with the outcome. */
bool gb_mic_due(gb_mic_stream *m, uint32_t now, gb_mic_frame *f);
void gb_mic_sent(gb_mic_stream *m, bool ok);
/* Marks a gap before the next frame (the link went down or the peer reset: what was queued is lost). */
void gb_mic_mark_gap(gb_mic_stream *m);
/* When the next frame is due. */
uint32_t gb_mic_deadline(const gb_mic_stream *m, uint32_t now);

#endif
