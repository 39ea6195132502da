/* Devices sampled by the main loop at their own rates, and the events they raise: buttons every 5 ms (well
 * under the 20 ms debounce), the IMU at 100 Hz, the battery gauge once a second. */
#include <string.h>

#include "app_internal.h"
#include "capture.h"
#include "hal_battery.h"
#include "hal_gpio.h"
#include "hal_imu.h"

#define BUTTON_PERIOD_MS 5u
#define IMU_PERIOD_MS (1000u / GB_IMU_RATE_HZ)

static bool due(uint32_t now, uint32_t t) { return (int32_t)(now - t) >= 0; }
static uint32_t earlier(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0 ? a : b; }

void gb_devices_init(uint32_t now) {
  for (unsigned i = 0; i < GB_BUTTON_COUNT; i++) gb_button_init(&gb_app.buttons[i], now);
  gb_gesture_init(&gb_app.gestures);
  gb_battery_init(&gb_app.battery);
  gb_app.next_button_sample = now;
  gb_app.next_imu_sample = now;
  gb_app.next_battery_sample = now;
}

static void send_button(unsigned i, gb_button_action a, uint32_t now) {
  gb_Message m;
  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_BUTTON_TAG;
  m.body.button.button = (gb_ButtonId)(i + 1u); /* index 0 = BUTTON_ID_MAIN */
  m.body.button.action = (gb_ButtonAction)a;
  m.body.button.at_ms = now;
  gb_app_send(1, &m);
}

static void send_battery(uint32_t now) {
  gb_Message m;
  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_BATTERY_TAG;
  m.body.battery.battery.percent = gb_app.battery.now.percent;
  m.body.battery.battery.millivolts = gb_app.battery.now.millivolts;
  m.body.battery.battery.charging = gb_app.battery.now.charging;
  m.body.battery.battery.level = (gb_BatteryLevel)gb_app.battery.now.level;
  m.body.battery.at_ms = now;
  gb_app_send(1, &m);
}

static void poll_buttons(uint32_t now) {
  uint32_t down = 0;
  for (unsigned i = 0; i < GB_BUTTON_COUNT; i++) {
    bool p = hal_gpio_button_pressed(i);
    gb_button_action out[GB_BUTTON_MAX_ACTIONS];
    unsigned n = gb_button_update(&gb_app.buttons[i], p, now, out);
    for (unsigned k = 0; k < n; k++) send_button(i, out[k], now);
    if (gb_app.buttons[i].level) down |= 1u << i;
  }
  gb_app.buttons_down = down;
}

static void poll_imu(uint32_t now) {
  gb_imu_sample s;
  if (!hal_imu_read(&s)) return;
  gb_app.imu = s;
  gb_gesture_result r = gb_gesture_update(&gb_app.gestures, &s, now);
  if (r.kind == GB_GEST_NONE) return;
  gb_Message m;
  memset(&m, 0, sizeof m);
  m.which_body = GB_MESSAGE_GESTURE_TAG;
  m.body.gesture.gesture = (gb_Gesture)r.kind;
  m.body.gesture.at_ms = now;
  m.body.gesture.confidence_pct = r.confidence_pct;
  gb_app_send(1, &m);
}

static void poll_battery(uint32_t now) {
  if (gb_battery_update(&gb_app.battery, hal_battery_millivolts(), hal_battery_charging())) {
    /* Critical: the camera is the largest load the MCU controls; cut it before the SoC browns out. */
    if (gb_app.battery.now.level == GB_BAT_CRITICAL && !gb_app.battery.now.charging) gb_capture_set_camera(false);
    send_battery(now);
  }
}

void gb_devices_poll(uint32_t now) {
  if (due(now, gb_app.next_button_sample)) {
    poll_buttons(now);
    gb_app.next_button_sample = now + BUTTON_PERIOD_MS;
  }
  if (due(now, gb_app.next_imu_sample)) {
    poll_imu(now);
    gb_app.next_imu_sample += IMU_PERIOD_MS;
    if (due(now, gb_app.next_imu_sample)) gb_app.next_imu_sample = now + IMU_PERIOD_MS; /* fell behind */
  }
  if (due(now, gb_app.next_battery_sample)) {
    poll_battery(now);
    gb_app.next_battery_sample = now + GB_BATTERY_PERIOD_MS;
  }
}

uint32_t gb_devices_deadline(uint32_t now) {
  (void)now;
  uint32_t d = earlier(gb_app.next_button_sample, gb_app.next_imu_sample);
  return earlier(d, gb_app.next_battery_sample);
}
