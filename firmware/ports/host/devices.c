/* The host port's simulated devices: buttons and head motion driven by scripts from the control socket and
 * fed to the real detectors through the HAL; battery from `battery PCT`; camera rail, LED, display and
 * speaker recorded for `status` and `display dump`; the microphone from a tone, silence or a WAV (once or
 * looped), switched from the control socket. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/battery.h"
#include "app/framebuffer.h"
#include "app/tone.h"
#include "hal_battery.h"
#include "hal_clock.h"
#include "hal_display.h"
#include "hal_gpio.h"
#include "hal_imu.h"
#include "hal_mic.h"
#include "hal_speaker.h"
#include "host.h"

/* ---- buttons: a script of level changes at absolute times ---- */

#define SCRIPT_MAX 8
typedef struct {
  uint32_t at[SCRIPT_MAX];
  bool level[SCRIPT_MAX];
  int n, next;
  bool level_now;
} button_script;

static button_script buttons[GB_BUTTON_COUNT];

bool hal_gpio_button_pressed(unsigned i) {
  if (i >= GB_BUTTON_COUNT) return false;
  button_script *s = &buttons[i];
  uint32_t now = hal_millis();
  while (s->next < s->n && (int32_t)(now - s->at[s->next]) >= 0) s->level_now = s->level[s->next++];
  return s->level_now;
}

/* Press/release timings (ms from now) of each action: comfortably inside buttons.h's windows. */
bool gb_host_button_script(unsigned i, const char *action, char *err, size_t errlen) {
  static const struct { const char *name; int n; uint32_t t[4]; } ACTIONS[] = {
      {"tap", 2, {0, 80}},
      {"double", 4, {0, 80, 200, 280}},
      {"long", 2, {0, 1000}},
  };
  button_script *s = &buttons[i];
  (void)hal_gpio_button_pressed(i); /* settle the old script */
  if (strcmp(action, "press") == 0 || strcmp(action, "release") == 0) {
    s->n = s->next = 0;
    s->level_now = action[0] == 'p';
    return true;
  }
  for (unsigned k = 0; k < sizeof ACTIONS / sizeof ACTIONS[0]; k++) {
    if (strcmp(action, ACTIONS[k].name) != 0) continue;
    uint32_t now = hal_millis();
    s->n = ACTIONS[k].n;
    s->next = 0;
    for (int j = 0; j < s->n; j++) {
      s->at[j] = now + ACTIONS[k].t[j];
      s->level[j] = (j % 2) == 0;
    }
    return true;
  }
  snprintf(err, errlen, "unknown button action '%s': use tap, double, long, press or release", action);
  return false;
}

/* ---- IMU: a held sample, or a gesture trace in progress ---- */

static gb_imu_sample imu_held = {{0, 0, 1000}, {0, 0, 0}}; /* at rest: gravity on z */
static int gesture_kind;  /* 0 none, 1 nod, 2 shake */
static uint32_t gesture_start;

#define GESTURE_PEAK_MDPS 150000 /* a deliberate nod: 150 deg/s */
#define GESTURE_LOBE_MS 200u

/* sin(pi * x) for x in [0, 1]: Bhaskara I's approximation (within 0.2 %), enough for a test motion. */
static double half_sine(double x) { return 16.0 * x * (1.0 - x) / (5.0 - 4.0 * x * (1.0 - x)); }

bool hal_imu_read(gb_imu_sample *out) {
  *out = imu_held;
  if (!gesture_kind) return true;
  uint32_t t = hal_millis() - gesture_start;
  /* nod: pitch down (-) then up (+); shake: yaw right, left, right (three lobes, as a head does). */
  static const int NOD[] = {-1, 1}, SHAKE[] = {1, -1, 1};
  const int *lobes = gesture_kind == 1 ? NOD : SHAKE;
  unsigned count = gesture_kind == 1 ? 2u : 3u;
  unsigned k = t / GESTURE_LOBE_MS;
  if (k >= count) {
    gesture_kind = 0;
    return true;
  }
  double x = (double)(t % GESTURE_LOBE_MS) / GESTURE_LOBE_MS;
  int32_t rate = (int32_t)(lobes[k] * GESTURE_PEAK_MDPS * half_sine(x));
  out->gyro_mdps[gesture_kind == 1 ? 0 : 1] = rate;
  return true;
}

bool gb_host_gesture_script(const char *g, char *err, size_t errlen) {
  if (strcmp(g, "nod") == 0) gesture_kind = 1;
  else if (strcmp(g, "shake") == 0) gesture_kind = 2;
  else {
    snprintf(err, errlen, "unknown gesture '%s': use nod or shake (or `imu` for raw samples)", g);
    return false;
  }
  gesture_start = hal_millis();
  return true;
}

void gb_host_imu_set(const gb_imu_sample *s) {
  imu_held = *s;
  gesture_kind = 0;
}

/* ---- battery ---- */

static uint32_t battery_mv = 3950; /* 70 % */
static bool battery_charging;

uint32_t hal_battery_millivolts(void) { return battery_mv; }
bool hal_battery_charging(void) { return battery_charging; }

void gb_host_battery_set(uint32_t percent, bool charging) {
  battery_mv = gb_battery_millivolts_for(percent);
  battery_charging = charging;
}

/* ---- camera rail, LED ---- */

static bool rail, led;
void hal_gpio_set_camera_rail(bool on) { rail = on; }
void hal_gpio_set_capture_led(bool on) { led = on; }

/* ---- display ---- */

static uint8_t shown[GB_FB_STRIDE * GB_FB_H];
static uint32_t flushes;
static uint32_t flushed_at; /* uptime (ms) of the last flush: when the wearer saw the card, for latency benches */

void hal_display_flush(const uint8_t *pixels, uint16_t width, uint16_t height) {
  if (width != GB_FB_W || height != GB_FB_H) return;
  memcpy(shown, pixels, sizeof shown);
  flushes++;
  flushed_at = hal_millis();
}

bool gb_host_display_dump(const char *path, char *err, size_t errlen) {
  FILE *f = fopen(path, "wb");
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return false;
  }
  /* PGM (P5): 8-bit gray, lit pixels white; Pillow and numpy read it directly. */
  fprintf(f, "P5\n%u %u\n255\n", GB_FB_W, GB_FB_H);
  for (unsigned y = 0; y < GB_FB_H; y++)
    for (unsigned x = 0; x < GB_FB_W; x++) fputc((shown[y * GB_FB_STRIDE + x / 8] >> (7 - x % 8)) & 1 ? 255 : 0, f);
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    return false;
  }
  return true;
}

/* ---- microphone: a tone, silence, or a WAV played once or in a loop ----
 *
 * The source is read only as the firmware reads the microphone (hal_mic_read, one call per stream frame), so a
 * WAV started with `mic play` while no stream runs waits for the next stream instead of being lost: a test or
 * the demo can say something into the glasses without racing the SoC's MicControl. A new source takes effect
 * at the next frame boundary. */

typedef enum { MIC_TONE, MIC_SILENCE, MIC_PLAY, MIC_LOOP } mic_source;
static const char *const MIC_SOURCE_NAMES[] = {"tone", "silence", "play", "loop"};

/* Longest WAV accepted: 10 minutes at 16 kHz (19 MB), far above any test utterance, so a corrupt header
 * claiming gigabytes is refused instead of exhausting memory. */
#define MIC_WAV_MAX_SAMPLES (GB_MIC_RATE_HZ * 600u)

static int16_t *wav;
static size_t wav_len, wav_pos;
static uint64_t mic_samples_read; /* every sample handed to the firmware since start, whatever the source */
static mic_source source = MIC_TONE;
static gb_tone tone;
static bool mic_on;

static uint32_t le32(const uint8_t *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Reads a PCM16 mono 16 kHz WAV into a new buffer (*out, *out_len: the caller frees it). `who` names the
 * requester in messages ("--mic-wav", "mic play"). On failure *out stays NULL and err says why. */
static bool load_wav(const char *who, const char *path, int16_t **out, size_t *out_len, char *err, size_t errlen) {
  *out = NULL;
  *out_len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "cannot open %s %s: %s", who, path, strerror(errno));
    return false;
  }
  uint8_t h[12];
  bool ok = fread(h, 1, 12, f) == 12 && memcmp(h, "RIFF", 4) == 0 && memcmp(h + 8, "WAVE", 4) == 0;
  bool fmt_ok = false;
  const char *why = "is not a RIFF/WAVE file with a fmt and a non-empty data chunk";
  while (ok) {
    uint8_t c[8];
    if (fread(c, 1, 8, f) != 8) { ok = false; break; }
    uint32_t size = le32(c + 4);
    if (memcmp(c, "fmt ", 4) == 0) {
      uint8_t fmt[16];
      if (size < 16 || fread(fmt, 1, 16, f) != 16) { ok = false; break; }
      fmt_ok = le16(fmt) == 1 && le16(fmt + 2) == 1 && le32(fmt + 4) == GB_MIC_RATE_HZ && le16(fmt + 14) == 16;
      if (!fmt_ok) {
        snprintf(err, errlen, "%s %s: need PCM 16-bit mono 16000 Hz, got format %u, %u channel(s), %lu Hz, "
                 "%u bits (convert it, e.g. sox in.wav -r 16000 -c 1 -b 16 out.wav)", who, path, le16(fmt),
                 le16(fmt + 2), (unsigned long)le32(fmt + 4), le16(fmt + 14));
        fclose(f);
        return false;
      }
      if (fseek(f, (long)(size - 16 + (size & 1)), SEEK_CUR) != 0) { ok = false; break; }
    } else if (memcmp(c, "data", 4) == 0) {
      if (!fmt_ok || size < 2) { ok = false; break; }
      size_t n = size / 2;
      if (n > MIC_WAV_MAX_SAMPLES) {
        why = "is longer than 10 minutes (or its data chunk size is corrupt): cut it";
        ok = false;
        break;
      }
      int16_t *pcm = malloc(n * sizeof *pcm);
      if (!pcm) {
        why = "does not fit in memory";
        ok = false;
        break;
      }
      uint8_t *raw = (uint8_t *)pcm;
      if (fread(raw, 1, n * 2, f) != n * 2) {
        free(pcm);
        why = "ends before its data chunk does (truncated file)";
        ok = false;
        break;
      }
      for (size_t i = 0; i < n; i++) pcm[i] = (int16_t)le16(raw + 2 * i); /* in place, front to back */
      fclose(f);
      *out = pcm;
      *out_len = n;
      return true;
    } else {
      if (fseek(f, (long)(size + (size & 1)), SEEK_CUR) != 0) { ok = false; break; }
    }
  }
  fclose(f);
  snprintf(err, errlen, "%s %s %s", who, path, why);
  return false;
}

void hal_mic_enable(int on) { mic_on = on != 0; }

void hal_mic_read(int16_t *dst, size_t n) {
  mic_samples_read += n;
  switch (source) {
    case MIC_TONE:
      gb_tone_fill(&tone, dst, n);
      return;
    case MIC_SILENCE:
      memset(dst, 0, n * sizeof *dst);
      return;
    case MIC_PLAY:
    case MIC_LOOP:
      break;
  }
  for (size_t i = 0; i < n; i++) {
    if (wav_pos == wav_len) { /* only in play: a loop wraps at once, so status never shows the end */
      memset(dst + i, 0, (n - i) * sizeof *dst); /* played once: the rest of this frame and all later ones */
      return;
    }
    dst[i] = wav[wav_pos++];
    if (source == MIC_LOOP && wav_pos == wav_len) wav_pos = 0;
  }
}

bool gb_host_mic_set(const char *name, const char *path, size_t *samples, char *err, size_t errlen) {
  mic_source next;
  if (strcmp(name, "tone") == 0) next = MIC_TONE;
  else if (strcmp(name, "silence") == 0) next = MIC_SILENCE;
  else if (strcmp(name, "play") == 0) next = MIC_PLAY;
  else if (strcmp(name, "loop") == 0) next = MIC_LOOP;
  else {
    snprintf(err, errlen, "unknown microphone source '%s': use play PATH, loop PATH, tone or silence", name);
    return false;
  }
  bool needs_wav = next == MIC_PLAY || next == MIC_LOOP;
  if (needs_wav && !path) {
    snprintf(err, errlen, "mic %s needs the path of a PCM16 mono 16 kHz WAV: mic %s PATH", name, name);
    return false;
  }
  if (!needs_wav && path) {
    snprintf(err, errlen, "mic %s takes no argument (got '%s')", name, path);
    return false;
  }
  if (needs_wav) {
    int16_t *pcm;
    size_t n;
    char who[16];
    snprintf(who, sizeof who, "mic %s", name);
    if (!load_wav(who, path, &pcm, &n, err, errlen)) return false; /* the current source keeps playing */
    free(wav);
    wav = pcm;
    wav_len = n;
  }
  if (next == MIC_TONE) gb_tone_init(&tone, 440, GB_MIC_RATE_HZ, 8192); /* from phase 0, as at start */
  wav_pos = 0;
  source = next;
  *samples = needs_wav ? wav_len : 0;
  return true;
}

/* ---- speaker ---- */

static uint64_t speaker_samples;
static uint32_t speaker_sum; /* additive checksum of the samples as uint16 (what a test can recompute) */

void hal_speaker_play(const int16_t *pcm, size_t n) {
  for (size_t i = 0; i < n; i++) speaker_sum += (uint16_t)pcm[i];
  speaker_samples += n;
}

bool gb_host_devices_init(const char *mic_wav, char *err, size_t errlen) {
  gb_tone_init(&tone, 440, GB_MIC_RATE_HZ, 8192);
  if (!mic_wav) return true;
  if (!load_wav("--mic-wav", mic_wav, &wav, &wav_len, err, errlen)) return false;
  source = MIC_LOOP; /* the command line's WAV loops, as it always has */
  return true;
}

void gb_host_devices_close(void) {
  free(wav);
  wav = NULL;
  wav_len = wav_pos = 0;
}

void gb_host_devices_reset(void) {
  rail = led = mic_on = false;
  memset(shown, 0, sizeof shown);
  gesture_kind = 0;
  for (unsigned i = 0; i < GB_BUTTON_COUNT; i++) buttons[i].n = buttons[i].next = 0, buttons[i].level_now = false;
}

void gb_host_devices_status(char *buf, size_t cap) {
  snprintf(buf, cap,
           "\"camera_rail\":%s,\"capture_led\":%s,\"mic_enabled\":%s,\"display_flushes\":%lu,"
           "\"display_flushed_at_ms\":%lu,"
           "\"speaker_samples\":%llu,\"speaker_sum\":%lu,\"battery_mv\":%lu,\"mic_source\":\"%s\","
           "\"mic_position\":%llu,\"mic_wav_samples\":%llu,\"mic_samples_read\":%llu",
           rail ? "true" : "false", led ? "true" : "false", mic_on ? "true" : "false", (unsigned long)flushes,
           (unsigned long)flushed_at, (unsigned long long)speaker_samples, (unsigned long)speaker_sum,
           (unsigned long)battery_mv,
           MIC_SOURCE_NAMES[source], (unsigned long long)(source == MIC_PLAY || source == MIC_LOOP ? wav_pos : 0),
           (unsigned long long)(source == MIC_PLAY || source == MIC_LOOP ? wav_len : 0),
           (unsigned long long)mic_samples_read);
}
