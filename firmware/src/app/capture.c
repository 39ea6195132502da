/* Camera power and capture LED, switched together: see capture.h. */
#include "capture.h"

#include "hal_gpio.h"

static bool camera_on, mic_on, led_on;

static void apply(void) {
  bool led = camera_on || mic_on;
  if (led && !led_on) hal_gpio_set_capture_led(true); /* LED first: the rail never runs unannounced */
  hal_gpio_set_camera_rail(camera_on);
  if (!led && led_on) hal_gpio_set_capture_led(false);
  led_on = led;
}

void gb_capture_init(void) {
  camera_on = false;
  mic_on = false;
  led_on = true; /* force both pins to a known "off" at boot */
  hal_gpio_set_camera_rail(false);
  apply();
}

void gb_capture_set_camera(bool on) {
  camera_on = on;
  apply();
}

void gb_capture_set_mic(bool streaming) {
  mic_on = streaming;
  apply();
}

bool gb_capture_camera_powered(void) { return camera_on; }
bool gb_capture_led_lit(void) { return led_on; }
