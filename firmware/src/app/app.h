/* The firmware application, board-independent: the link engine driven from the UART rings, the message
 * dispatcher, and the devices (buttons, IMU gestures, battery, camera + LED, display, microphone, speaker,
 * bulk transfers). Every port's main() is `hal_board_init(); gb_app_run();`.
 */
#ifndef GB_APP_APP_H
#define GB_APP_APP_H

#include <stdbool.h>
#include <stdint.h>

#include "glassbridge/link.h"
#include "glassbridge/messages.h"

#ifndef GB_FIRMWARE_VERSION
#define GB_FIRMWARE_VERSION "0.0.0-dev"
#endif

/* The link as the MCU configures it (SPEC.md limits): frames of 1 KB (UART efficiency 0.974 at 921600 8N1),
 * messages up to 1536 bytes (the largest Message, an AudioFrame of 40 ms, is GB_MESSAGE_MAX_SIZE = 1317),
 * 8 KB of transmit queue (a quarter second of microphone audio). */
#define GB_APP_MAX_FRAME 1024u
#define GB_APP_WINDOW 16u
#define GB_APP_MAX_MESSAGE 1536u
#define GB_APP_TX_QUEUE 8192u
/* The engine's memory, a static block; tests/test_app_config.c checks gb_link_mem_size fits in it. */
#define GB_APP_LINK_ARENA (40u * 1024u)

/* Capture fail-safe: when the link to the SoC has been lost (not up) for this long while the camera is powered
 * or the microphone streams, the MCU switches the camera and its LED off and stops the stream, and tells the SoC
 * (FailsafeEvent) once the link is back. Nobody is left recording whom no SoC can stop. */
#define GB_APP_FAILSAFE_MS 10000u
/* The fail-safe time in use (0 = never): GB_APP_FAILSAFE_MS unless a port sets it before gb_app_init (the host
 * port's --failsafe-ms). */
extern uint32_t gb_app_failsafe_ms;

/* The link configuration the firmware runs with (app_config.c). */
void gb_app_link_config(gb_link_config *cfg, uint32_t session, uint32_t boot_counter, uint32_t capabilities);

/* Boots the application (boot counter +1, link engine, devices) and runs the main loop forever. */
void gb_app_run(void) __attribute__((noreturn));

/* The pieces of gb_app_run, for ports that need their own loop (none today) and for tests. */
bool gb_app_init(void);
void gb_app_step(void);
uint32_t gb_app_next_deadline(void);

/* Snapshot of the device state as Status reports it (also the host port's `status` command). */
void gb_app_status(gb_Status *out);
/* The link state and statistics (host port `status`). */
gb_link_state gb_app_link_state(void);
void gb_app_link_stats(gb_link_stats *out);
/* Times the capture fail-safe acted since boot. */
uint32_t gb_app_failsafe_trips(void);
/* The wake word this firmware listens for ("okay_nabu"), NULL without one; *why says why not (a model the engine
 * refused, a board built without it). */
const char *gb_app_wake_word(const char **why);

#endif
