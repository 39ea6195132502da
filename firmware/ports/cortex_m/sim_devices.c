/* Devices QEMU's boards do not have, simulated the same way on both MCU ports: the IMU at rest, a battery at
 * 70 % (3950 mV), a tone as the microphone, a display and a speaker that only count what they are given.
 * A real board replaces this file with its drivers (I2C IMU, ADC, I2S, SPI display). */
#include "app/tone.h"
#include "hal_battery.h"
#include "hal_display.h"
#include "hal_imu.h"
#include "hal_mic.h"
#include "hal_speaker.h"

static gb_tone tone;
static int tone_ready;
static volatile uint32_t display_flushes, speaker_samples;

bool hal_imu_read(gb_imu_sample *out) {
  *out = (gb_imu_sample){{0, 0, 1000}, {0, 0, 0}};
  return true;
}

uint32_t hal_battery_millivolts(void) { return 3950; }
bool hal_battery_charging(void) { return false; }

void hal_display_flush(const uint8_t *pixels, uint16_t width, uint16_t height) {
  (void)pixels;
  (void)width;
  (void)height;
  display_flushes++;
}

void hal_mic_enable(int on) {
  if (on && !tone_ready) {
    gb_tone_init(&tone, 440, GB_MIC_RATE_HZ, 8192);
    tone_ready = 1;
  }
}

void hal_mic_read(int16_t *dst, size_t n) {
  if (!tone_ready) hal_mic_enable(1);
  gb_tone_fill(&tone, dst, n);
}

void hal_speaker_play(const int16_t *pcm, size_t n) {
  (void)pcm;
  speaker_samples += (uint32_t)n;
}
