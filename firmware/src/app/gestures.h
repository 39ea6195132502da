/* Head gestures from the gyroscope: a nod (pitch down then up) and a shake (yaw one way then the other).
 *
 * A "lobe" is a stretch where the angular rate on one axis exceeds GB_GESTURE_ONSET_MDPS; it ends when the
 * rate falls below half of that (hysteresis, so noise around the threshold does not split it). A gesture is
 * two lobes of opposite sign on the same axis, the second starting within GB_GESTURE_LINK_MS of the end of the
 * first, each lasting GB_GESTURE_MIN_LOBE_MS..GB_GESTURE_MAX_LOBE_MS, on an axis that dominates the other
 * (its peak at least twice the other axis's peak over the gesture). Nod: pitch (gyro x), first lobe negative
 * (head down). Shake: yaw (gyro y), either direction first. After a gesture the detector ignores motion for
 * GB_GESTURE_REFRACTORY_MS (the head swinging back). Confidence grows with the peak rate, up to 100 at
 * 2.5x the onset threshold, and loses the share of cross-axis motion.
 * Why the gyroscope alone: a nod or shake is a rotation; the accelerometer mostly sees gravity and walking.
 */
#ifndef GB_APP_GESTURES_H
#define GB_APP_GESTURES_H

#include <stdint.h>

#include "hal_imu.h"

#define GB_GESTURE_ONSET_MDPS 60000    /* 60 deg/s: a deliberate nod peaks at 100-200 deg/s */
#define GB_GESTURE_MIN_LOBE_MS 40u
#define GB_GESTURE_MAX_LOBE_MS 600u
#define GB_GESTURE_LINK_MS 300u
#define GB_GESTURE_REFRACTORY_MS 400u

typedef enum { GB_GEST_NONE = 0, GB_GEST_NOD = 1, GB_GEST_SHAKE = 2 } gb_gesture_kind; /* = Gesture */

typedef struct {
  int8_t sign;          /* of the lobe, 0 = none */
  int32_t peak;         /* largest |rate| in it, mdps */
  uint32_t start, end;  /* ms */
} gb_lobe;

typedef struct {
  gb_lobe open;      /* lobe in progress (sign 0 = none) */
  gb_lobe last;      /* the previous complete lobe (sign 0 = none) */
  int32_t cross_peak; /* largest |rate| on the other axis since `last` began */
} gb_axis_track;

typedef struct {
  gb_axis_track pitch, yaw;
  uint32_t quiet_until; /* refractory period end */
  int quiet;
} gb_gesture_detector;

typedef struct {
  gb_gesture_kind kind;
  uint32_t confidence_pct;
} gb_gesture_result;

void gb_gesture_init(gb_gesture_detector *d);

/* Feeds one sample taken at `now`; returns the gesture it completes, if any (kind NONE otherwise). */
gb_gesture_result gb_gesture_update(gb_gesture_detector *d, const gb_imu_sample *s, uint32_t now);

#endif
