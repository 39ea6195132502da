/* Microphone stream timing: frames at the right times with contiguous sample indices, a dropped frame marks
 * a gap on the next, a stalled loop skips to the backlog limit with a gap; and the tone generator against the
 * sine computed here by its own series. */
#include "check.h"
#include "mic.h"
#include "tone.h"

/* sin(2 pi x) by a 15-term Taylor series after range reduction to [-pi, pi]: independent of tone.c. */
static double ref_sin_turn(double x) {
  x -= (double)(long)x;
  if (x > 0.5) x -= 1.0;
  double y = x * 6.283185307179586, term = y, sum = y;
  for (int k = 1; k < 15; k++) {
    term *= -y * y / ((2 * k) * (2 * k + 1));
    sum += term;
  }
  return sum;
}

void gb_tests(void) {
  gb_mic_stream m;
  gb_mic_frame f;
  gb_mic_init(&m);
  CHECK(!gb_mic_due(&m, 100, &f));
  CHECK(!gb_mic_start(&m, 5, 1, 0));   /* too short */
  CHECK(!gb_mic_start(&m, 41, 1, 0));  /* over the 1280-byte pcm limit */
  CHECK(gb_mic_start(&m, 0, 7, 1000)); /* default 20 ms */
  CHECK_EQ(m.frame_samples, 320);
  CHECK(!gb_mic_due(&m, 1019, &f));
  CHECK_EQ(gb_mic_deadline(&m, 1000), 1020);
  CHECK(gb_mic_due(&m, 1020, &f));
  CHECK_EQ(f.first_sample, 0);
  CHECK(!f.gap_before);
  gb_mic_sent(&m, true);
  CHECK(gb_mic_due(&m, 1040, &f));
  CHECK_EQ(f.first_sample, 320);
  gb_mic_sent(&m, false);                /* the link could not take it */
  CHECK(gb_mic_due(&m, 1060, &f));
  CHECK_EQ(f.first_sample, 640);
  CHECK(f.gap_before);
  gb_mic_sent(&m, true);
  CHECK(!gb_mic_due(&m, 1079, &f));
  /* Stall: the loop comes back at 2000 (frames up to 49 complete): keep the last 4, mark the gap. */
  CHECK(gb_mic_due(&m, 2000, &f));
  CHECK_EQ(f.first_sample, (50u - 4u) * 320u);
  CHECK(f.gap_before);
  gb_mic_sent(&m, true);
  CHECK_EQ(m.frames_dropped, 1u + (50u - 4u - 3u));
  gb_mic_mark_gap(&m);
  CHECK(gb_mic_due(&m, 2000, &f));
  CHECK(f.gap_before);
  gb_mic_stop(&m);
  CHECK(!gb_mic_due(&m, 5000, &f));

  /* 440 Hz at 16 kHz, amplitude 8192: every sample within 1 LSB of the reference, over 2 s (phase drift). */
  gb_tone t;
  gb_tone_init(&t, 440, 16000, 8192);
  static int16_t pcm[320];
  int worst = 0;
  for (int frame = 0; frame < 100; frame++) {
    gb_tone_fill(&t, pcm, 320);
    for (int i = 0; i < 320; i++) {
      long n = frame * 320L + i;
      double ref = 8192.0 * ref_sin_turn((double)n * 440.0 / 16000.0);
      long r = (long)(ref < 0 ? ref - 0.5 : ref + 0.5);
      int d = (int)(pcm[i] - r);
      if (d < 0) d = -d;
      if (d > worst) worst = d;
    }
  }
  CHECK(worst <= 1);
}
