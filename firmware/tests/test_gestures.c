/* Gesture detection on synthetic IMU traces at 100 Hz: half-sine lobes of angular rate, as a head makes them.
 * Positive cases (nod, shake, slow and fast), negative ones (one-way turn, small jitter, walking bounce,
 * diagonal motion, a nod that starts upward) and the refractory period. */
#include "check.h"
#include "gestures.h"

#define PI 3.14159265358979

/* sin(pi x), x in [0,1], by its Taylor series around 1/2 (cos): accurate to 1e-6, no libm needed. */
static double half_sine(double x) {
  double y = (x - 0.5) * PI, y2 = y * y;
  return 1 - y2 / 2 * (1 - y2 / 12 * (1 - y2 / 30 * (1 - y2 / 56)));
}

typedef struct {
  int axis;          /* 0 pitch (gyro x), 1 yaw (gyro y) */
  int sign;
  double peak_dps;
  uint32_t ms;
} lobe_t;

/* Plays the lobes one after the other (with `pause` ms of rest between), then 600 ms of rest; counts the
 * gestures detected and returns the last. cross adds a constant fraction of each lobe on the other axis. */
static int play(const lobe_t *lobes, int n, uint32_t pause, double cross, gb_gesture_result *last) {
  gb_gesture_detector d;
  gb_gesture_init(&d);
  uint32_t t = 0;
  int count = 0;
  for (int i = 0; i <= n; i++) {
    uint32_t len = i < n ? lobes[i].ms : 600u;
    for (uint32_t k = 0; k < len + (i < n ? pause : 0); k += 10, t += 10) {
      gb_imu_sample s = {{0, 0, 1000}, {0, 0, 0}};
      if (i < n && k < len) {
        double v = lobes[i].sign * lobes[i].peak_dps * 1000.0 * half_sine((double)k / len);
        s.gyro_mdps[lobes[i].axis] = (int32_t)v;
        s.gyro_mdps[1 - lobes[i].axis] = (int32_t)(v * cross);
      }
      gb_gesture_result r = gb_gesture_update(&d, &s, t);
      if (r.kind != GB_GEST_NONE) {
        count++;
        *last = r;
      }
    }
  }
  return count;
}

void gb_tests(void) {
  gb_gesture_result r = {GB_GEST_NONE, 0};
  const lobe_t nod[] = {{0, -1, 150, 200}, {0, 1, 150, 200}};
  CHECK_EQ(play(nod, 2, 0, 0, &r), 1);
  CHECK_EQ(r.kind, GB_GEST_NOD);
  CHECK_EQ(r.confidence_pct, 100);

  const lobe_t slow_nod[] = {{0, -1, 80, 350}, {0, 1, 80, 350}};
  CHECK_EQ(play(slow_nod, 2, 50, 0, &r), 1);
  CHECK_EQ(r.kind, GB_GEST_NOD);
  CHECK(r.confidence_pct >= 40 && r.confidence_pct < 100);

  const lobe_t shake[] = {{1, 1, 200, 180}, {1, -1, 200, 180}, {1, 1, 200, 180}};
  CHECK_EQ(play(shake, 3, 0, 0, &r), 1); /* the third swing falls in the refractory period */
  CHECK_EQ(r.kind, GB_GEST_SHAKE);
  const lobe_t shake_left[] = {{1, -1, 120, 200}, {1, 1, 120, 200}};
  CHECK_EQ(play(shake_left, 2, 0, 0, &r), 1);
  CHECK_EQ(r.kind, GB_GEST_SHAKE);

  /* A nod with a little yaw still counts (cross 30 % < half), with lower confidence. */
  CHECK_EQ(play(nod, 2, 0, 0.3, &r), 1);
  CHECK_EQ(r.kind, GB_GEST_NOD);
  CHECK(r.confidence_pct < 100);

  /* Negatives. */
  const lobe_t turn[] = {{1, 1, 150, 300}};
  CHECK_EQ(play(turn, 1, 0, 0, &r), 0);               /* looking to one side */
  const lobe_t jitter[] = {{0, -1, 40, 100}, {0, 1, 40, 100}, {1, 1, 50, 100}, {1, -1, 50, 100}};
  CHECK_EQ(play(jitter, 4, 0, 0, &r), 0);             /* below the onset threshold */
  const lobe_t up_down[] = {{0, 1, 150, 200}, {0, -1, 150, 200}};
  CHECK_EQ(play(up_down, 2, 0, 0, &r), 0);            /* looking up and back: not a nod */
  CHECK_EQ(play(nod, 2, 0, 0.8, &r), 0);              /* diagonal: no dominant axis */
  CHECK_EQ(play(nod, 2, 500, 0, &r), 0);              /* lobes 500 ms apart: two separate motions */
  const lobe_t flick[] = {{0, -1, 200, 20}, {0, 1, 200, 20}};
  CHECK_EQ(play(flick, 2, 0, 0, &r), 0);              /* 20 ms lobes: a knock, not a nod */

  /* Two nods with half a second of rest between: both counted (the refractory period is shorter). */
  const lobe_t nods[] = {{0, -1, 150, 200}, {0, 1, 150, 200}, {0, 1, 0, 500}, {0, -1, 150, 200}, {0, 1, 150, 200}};
  CHECK_EQ(play(nods, 5, 0, 0, &r), 2);
}
