/* Nod / shake detection from gyroscope lobes: see gestures.h for the rules and their reasons. */
#include "gestures.h"

#include <string.h>

static int32_t iabs(int32_t v) { return v < 0 ? -v : v; }

void gb_gesture_init(gb_gesture_detector *d) { memset(d, 0, sizeof *d); }

/* Tracks lobes on one axis. Returns 1 when a lobe just closed (then t->last holds it and `prev` the one
 * before it), 0 otherwise. */
static int track(gb_axis_track *t, int32_t rate, int32_t cross, uint32_t now, gb_lobe *prev) {
  int32_t a = iabs(rate);
  int8_t sign = rate < 0 ? -1 : 1;
  if (t->last.sign != 0 || t->open.sign != 0) {
    if (iabs(cross) > t->cross_peak) t->cross_peak = iabs(cross);
  }
  if (t->open.sign == 0) {
    if (a >= GB_GESTURE_ONSET_MDPS) {
      /* A previous lobe too long ago cannot pair with this one: forget it and its cross-axis motion. */
      if (t->last.sign != 0 && (int32_t)(now - t->last.end) > (int32_t)GB_GESTURE_LINK_MS) t->last.sign = 0;
      if (t->last.sign == 0) t->cross_peak = iabs(cross);
      t->open.sign = sign;
      t->open.peak = a;
      t->open.start = now;
      t->open.end = now;
    }
    return 0;
  }
  /* The lobe ends when the rate falls under half the onset or changes sign. */
  if (a < GB_GESTURE_ONSET_MDPS / 2 || sign != t->open.sign) {
    t->open.end = now;
    *prev = t->last;
    t->last = t->open;
    t->open.sign = 0;
    if (a >= GB_GESTURE_ONSET_MDPS) { /* a sign change straight into the next lobe */
      t->open.sign = sign;
      t->open.peak = a;
      t->open.start = now;
      t->open.end = now;
    }
    return 1;
  }
  if (a > t->open.peak) t->open.peak = a;
  return 0;
}

static int lobe_ok(const gb_lobe *l) {
  uint32_t len = l->end - l->start;
  return l->sign != 0 && len >= GB_GESTURE_MIN_LOBE_MS && len <= GB_GESTURE_MAX_LOBE_MS;
}

/* Two opposite lobes close enough together, on a dominant axis: the gesture's confidence, else 0. */
static uint32_t pair_confidence(const gb_lobe *first, const gb_lobe *second, int32_t cross_peak) {
  if (!lobe_ok(first) || !lobe_ok(second) || first->sign == second->sign) return 0;
  if ((int32_t)(second->start - first->end) > (int32_t)GB_GESTURE_LINK_MS) return 0;
  int32_t peak = first->peak < second->peak ? first->peak : second->peak;
  if (cross_peak * 2 > peak) return 0;
  /* 40 % at the threshold, 100 % at 2.5x it, minus the cross-axis share. */
  int64_t c = 40 + (int64_t)(peak - GB_GESTURE_ONSET_MDPS) * 60 / (GB_GESTURE_ONSET_MDPS * 3 / 2);
  if (c > 100) c = 100;
  c -= (int64_t)cross_peak * 100 / peak / 2;
  return c < 1 ? 1u : (uint32_t)c;
}

static void reset_tracks(gb_gesture_detector *d) {
  memset(&d->pitch, 0, sizeof d->pitch);
  memset(&d->yaw, 0, sizeof d->yaw);
}

gb_gesture_result gb_gesture_update(gb_gesture_detector *d, const gb_imu_sample *s, uint32_t now) {
  gb_gesture_result r = {GB_GEST_NONE, 0};
  if (d->quiet) {
    if ((int32_t)(now - d->quiet_until) < 0) return r;
    d->quiet = 0;
    reset_tracks(d);
  }
  int32_t pitch = s->gyro_mdps[0], yaw = s->gyro_mdps[1];
  gb_lobe prev;
  if (track(&d->pitch, pitch, yaw, now, &prev)) {
    /* Nod: head down first (negative pitch rate), then up. */
    if (prev.sign < 0) {
      uint32_t c = pair_confidence(&prev, &d->pitch.last, d->pitch.cross_peak);
      if (c) { r.kind = GB_GEST_NOD; r.confidence_pct = c; }
    }
  }
  if (r.kind == GB_GEST_NONE && track(&d->yaw, yaw, pitch, now, &prev)) {
    uint32_t c = pair_confidence(&prev, &d->yaw.last, d->yaw.cross_peak);
    if (c) { r.kind = GB_GEST_SHAKE; r.confidence_pct = c; }
  }
  if (r.kind != GB_GEST_NONE) {
    d->quiet = 1;
    d->quiet_until = now + GB_GESTURE_REFRACTORY_MS;
  }
  return r;
}
