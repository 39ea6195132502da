/* Privacy: whatever the sequence of camera and microphone requests, the camera rail is never on while the LED
 * is off, and the LED is lit exactly when the camera or the microphone is active. The GPIO HAL is faked here
 * and checks the invariant at every pin change, so a wrong order inside one call is caught too. */
#include "capture.h"
#include "check.h"
#include "hal_gpio.h"

static bool rail, led;
static int violations, changes;

void hal_gpio_set_camera_rail(bool on) {
  rail = on;
  changes++;
  if (rail && !led) violations++;
}
void hal_gpio_set_capture_led(bool on) {
  led = on;
  changes++;
  if (rail && !led) violations++;
}
bool hal_gpio_button_pressed(unsigned i) {
  (void)i;
  return false;
}

void gb_tests(void) {
  gb_capture_init();
  CHECK(!rail);
  CHECK(!led);
  /* Every sequence of 8 operations from {camera on, camera off, mic on, mic off}: 4^8 = 65536 cases. */
  for (uint32_t seq = 0; seq < 65536u; seq++) {
    gb_capture_init();
    bool cam = false, mic = false;
    for (int k = 0; k < 8; k++) {
      unsigned op = (seq >> (2 * k)) & 3u;
      if (op == 0) gb_capture_set_camera(cam = true);
      if (op == 1) gb_capture_set_camera(cam = false);
      if (op == 2) gb_capture_set_mic(mic = true);
      if (op == 3) gb_capture_set_mic(mic = false);
      if (rail != cam || led != (cam || mic) || gb_capture_led_lit() != led || gb_capture_camera_powered() != cam) {
        violations++;
      }
    }
  }
  CHECK_EQ(violations, 0);
  CHECK(changes > 0);
}
