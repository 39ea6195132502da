/* The camera's power rail and the capture LED, always together (ARCHITECTURE.md decision 9).
 *
 * The LED is lit exactly when the camera is powered or the microphone streams. This module is the only caller
 * of hal_gpio_set_camera_rail / hal_gpio_set_capture_led, and its API takes intents (camera wanted, microphone
 * streaming), never the LED itself: there is no call that lights one without the other or turns the LED off
 * while either is active. Ordering: the LED comes on before the rail, and goes off after it.
 */
#ifndef GB_APP_CAPTURE_H
#define GB_APP_CAPTURE_H

#include <stdbool.h>

void gb_capture_init(void);         /* both off */
void gb_capture_set_camera(bool on);
void gb_capture_set_mic(bool streaming);
bool gb_capture_camera_powered(void);
bool gb_capture_led_lit(void);

#endif
