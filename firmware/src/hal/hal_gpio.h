/* Digital pins: the buttons, the camera's power rail and the capture LED.
 *
 * Privacy (ARCHITECTURE.md decision 9): only src/app/capture.c calls hal_gpio_set_camera_rail and
 * hal_gpio_set_capture_led, and it never lets the rail be on with the LED off. Nothing else in the firmware
 * may call them; the application's API (capture.h) has no way to light one without the other.
 */
#ifndef GB_HAL_GPIO_H
#define GB_HAL_GPIO_H

#include <stdbool.h>
#include <stdint.h>

#define GB_BUTTON_COUNT 2u /* index 0 = ButtonId MAIN (temple), 1 = CAPTURE */

/* Raw (undebounced) level of button i: true while pressed. */
bool hal_gpio_button_pressed(unsigned i);

void hal_gpio_set_camera_rail(bool on);
void hal_gpio_set_capture_led(bool on);

#endif
