/* The glassbridge link engine: one portable C implementation of SPEC.md's link layer, compiled into the MCU
 * firmware and into the Python extension, so both ends of the UART run the same code.
 *
 * Sans-IO (h11 style): bytes and the current time go in; frames to write, delivered messages, events and the
 * next timer deadline come out. The engine never blocks, never reads a clock, never allocates after
 * gb_link_init: all its memory is one caller-provided block (gb_link_mem_size tells how much).
 *
 * Driving it (firmware main loop or Python transport):
 *
 *     gb_link_receive(link, bytes, n, now);            // whatever arrived on the wire, any split
 *     while ((n = gb_link_poll_tx(link, out, sizeof out, now)) > 0)
 *         write_to_wire(out, n);                       // UART profile: one COBS frame with its 0x00
 *     while (gb_link_poll_event(link, &ev))
 *         handle(&ev);                                 // messages in order, link up/down, peer reset...
 *     sleep until gb_link_next_deadline(link, now) or more input;
 *
 * gb_link_poll_tx also runs the timers (retransmission, heartbeat, hello, delayed acknowledgement), so it must
 * be called once the deadline has passed even when nothing arrived. A writer with limited room (a UART ring)
 * calls gb_link_poll_tx only when it can take gb_link_max_wire_size() bytes: the engine keeps what it could not
 * send and the peer's acknowledgements pace the rest.
 *
 * Time is a uint32_t millisecond counter that may wrap (every 49.7 days); the engine compares times by
 * signed difference, so any monotonic counter works.
 *
 * Thread-safety: none. One engine per link, driven from one thread or one interrupt-free loop.
 */
#ifndef GLASSBRIDGE_LINK_H
#define GLASSBRIDGE_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The link protocol version this engine speaks (Hello.protocol_version) and the oldest it accepts. */
#define GB_LINK_PROTOCOL_VERSION 1u
#define GB_LINK_MIN_PROTOCOL_VERSION 1u

/* Frame format limits (SPEC.md "Frame format"). */
#define GB_FRAME_VERSION 1u              /* first byte of every UART-profile frame */
#define GB_UART_HEADER_SIZE 13u          /* version, flags, channel, seq, ack, sack, length */
#define GB_PACKET_HEADER_SIZE 10u        /* flags, channel, seq, ack, sack */
#define GB_CRC_SIZE 4u                   /* CRC-32C, UART profile only */
#define GB_MIN_FRAME 128u                /* every engine accepts frames this large: a Hello (<= 86 B) fits */
#define GB_MAX_FRAME 4096u
#define GB_MAX_WINDOW 32u                /* the SACK bitmap has 32 bits */
#define GB_CHANNELS 4u                   /* 0 = link control (engine only), 1 = control, 2 = audio, 3 = bulk */

/* The channels by name (GB_CHANNELS of them): applications send on CONTROL, AUDIO and BULK; LINK is the
 * engine's own (hellos, acknowledgements, pings). */
typedef enum { GB_CHANNEL_LINK = 0, GB_CHANNEL_CONTROL = 1, GB_CHANNEL_AUDIO = 2, GB_CHANNEL_BULK = 3 } gb_channel;

/* Frame flags (SPEC.md). */
#define GB_FLAG_DATA 0x01u   /* carries `seq` and a fragment of a message on `channel` */
#define GB_FLAG_MORE 0x02u   /* more fragments of the same message follow (in the next sequence numbers) */
#define GB_FLAG_HELLO 0x04u  /* handshake: payload is a protobuf Hello, channel/seq/ack/sack are 0 */
#define GB_FLAG_PING 0x08u   /* asks for an immediate answer: an acknowledgement, or with HELLO a Hello */
#define GB_FLAG_REWIND 0x10u /* UART, on an acknowledgement: may I cut my frames from `seq` on again? (SPEC.md 6.5) */
#define GB_FLAG_REWOUND 0x20u /* UART, on an acknowledgement: the answer to the REWIND of `seq` */

/* Worst-case COBS-encoded size of a frame of n bytes, with its 0x00 delimiter. */
#define GB_COBS_MAX_ENCODED(n) ((n) + ((n) / 254u) + 2u)

typedef enum {
  GB_OK = 0,
  GB_ERR_ARG,           /* a NULL pointer or an out-of-range configuration value: see gb_link_config */
  GB_ERR_NO_MEMORY,     /* the memory block given to gb_link_init is smaller than gb_link_mem_size() */
  GB_ERR_QUEUE_FULL,    /* backpressure: not enough room in the transmit queue now; retry after acks */
  GB_ERR_TOO_LARGE,     /* the message exceeds the smaller of our and the peer's max_message */
  GB_ERR_BAD_CHANNEL,   /* applications use channels 1..GB_CHANNELS-1 */
  GB_ERR_INCOMPATIBLE,  /* the peer speaks a protocol version we cannot: see the VERSION_MISMATCH event */
} gb_status;

const char *gb_status_str(gb_status s);

typedef enum {
  GB_PROFILE_UART = 0,   /* COBS framing with 0x00 delimiters, version, length and CRC-32C in every frame */
  GB_PROFILE_PACKET = 1, /* one frame per datagram (BLE ATT write/notification): no COBS, version, length, CRC */
} gb_profile;

typedef enum { GB_ROLE_UNSPECIFIED = 0, GB_ROLE_MCU = 1, GB_ROLE_SOC = 2, GB_ROLE_PHONE = 3 } gb_role;

typedef struct {
  gb_profile profile;
  gb_role role;
  uint32_t session;             /* random, non-zero, new at every engine start: the caller owns entropy (0 = GB_ERR_ARG) */
  uint32_t boot_counter;
  uint32_t capabilities;        /* Capability bits of glassbridge.proto */
  const char *firmware_version; /* up to 31 bytes; copied at init; may be NULL */
  uint16_t max_frame;           /* largest frame sent or accepted (header + payload + CRC): GB_MIN_FRAME..GB_MAX_FRAME,
                                 * default 1024 */
  uint8_t window;               /* frames in flight and held out of order: 1..GB_MAX_WINDOW, default 16 */
  uint16_t max_message;         /* largest message accepted (reassembly buffer); default 4096 */
  uint32_t tx_queue_bytes;      /* room for queued outgoing messages (each costs its length + 4 bytes); default
                                 * 65536, at least max_message + 4 */
  /* Timers in milliseconds; 0 selects the default given in SPEC.md "Timers". */
  uint16_t hello_interval_ms;   /* default 100, doubling to 1000 while unanswered */
  uint16_t heartbeat_ms;        /* default 250: a PING when nothing was sent for this long, or for a quarter of the
                                 * peer's link_timeout_ms if that is shorter (SPEC.md 4.5) */
  uint16_t link_timeout_ms;     /* default 1000: nothing received for this long = link down; declared in our Hello,
                                 * so that the peer pings at least every quarter of it */
  uint16_t ack_delay_ms;        /* default 2: an in-order frame is acknowledged within this (or with the 2nd) */
  uint16_t rto_initial_ms;      /* default 200 */
  uint16_t rto_min_ms;          /* default 20 */
  uint16_t rto_max_ms;          /* default 1000 */
  /* Tests only: the versions this engine claims in its Hello (0 = GB_LINK_PROTOCOL_VERSION and
   * GB_LINK_MIN_PROTOCOL_VERSION), so that a version mismatch can be provoked between two engines. */
  uint32_t protocol_version;
  uint32_t min_protocol_version;
} gb_link_config;

/* Fills the defaults of every zero field (profile stays as given). Returns GB_ERR_ARG on values out of range. */
gb_status gb_link_config_normalize(gb_link_config *cfg);
/* Why gb_link_config_normalize would refuse this configuration (a sentence naming the field and its allowed
 * range, or the rule between fields), or NULL if it is valid: for error messages. */
const char *gb_link_config_problem(const gb_link_config *cfg);
/* Whether `value` fits the numeric field `field` of gb_link_config ("max_frame", "rto_min_ms", ...): NULL if it
 * does, else the same sentence gb_link_config_problem gives for it (or that there is no such field). For bindings
 * whose integers are wider than the struct's fields (Python): each value is checked before it is narrowed into
 * the struct, then gb_link_config_problem checks the fields together. */
const char *gb_link_config_value_problem(const char *field, int64_t value);

/* Bytes of memory gb_link_init needs for this configuration (after normalisation). */
size_t gb_link_mem_size(const gb_link_config *cfg);

/* Largest output of one gb_link_poll_tx (the COBS-encoded max_frame with its delimiter, or max_frame). */
size_t gb_link_max_wire_size(const gb_link_config *cfg);

/* The peer as its last Hello described it. */
typedef struct {
  uint32_t protocol_version;
  uint32_t min_protocol_version;
  uint32_t session;
  uint32_t boot_counter;
  uint32_t max_frame;
  uint32_t window;
  uint32_t max_message;
  uint32_t capabilities;
  gb_role role;
  char firmware_version[32];
} gb_peer_info;

typedef enum {
  GB_EV_NONE = 0,
  GB_EV_MESSAGE,           /* a complete message: channel, data, len (data valid until the next engine call) */
  GB_EV_LINK_UP,           /* handshake complete (first time, or again after a link loss): peer */
  GB_EV_LINK_DOWN,         /* nothing heard for link_timeout_ms: queued messages are kept, hellos resume */
  GB_EV_PEER_RESET,        /* the peer restarted (new session): peer; `dropped` unacknowledged messages lost */
  GB_EV_VERSION_MISMATCH,  /* the peer cannot talk to us or we to it: peer holds its versions */
} gb_event_type;

typedef struct {
  gb_event_type type;
  uint8_t channel;
  const uint8_t *data;
  size_t len;
  uint32_t dropped;
  gb_peer_info peer;
} gb_event;

typedef struct {
  uint32_t frames_tx, frames_rx;       /* valid frames */
  uint32_t data_frames_tx, retransmits;
  uint32_t acks_tx;                    /* frames sent without data (acknowledgements, pings) */
  uint32_t crc_errors, framing_errors; /* bad CRC; bad COBS, length, header or oversize (line noise) */
  uint32_t duplicates, out_of_order;   /* data frames received again / ahead of a gap */
  uint32_t messages_tx, messages_rx;
  uint32_t link_downs, peer_resets;
  uint64_t bytes_tx, bytes_rx;         /* on the wire */
  uint32_t srtt_ms, rto_ms;            /* smoothed round-trip time and current retransmission timeout */
  uint32_t out_of_window;              /* data frames beyond the receive window (dropped, not acknowledged) */
  uint32_t rx_oversize;                /* reassembled messages longer than our max_message (discarded) */
  uint32_t events_dropped;             /* link events lost because the application did not poll them */
  uint32_t rewinds;                    /* UART: frames in flight cut again into smaller fragments (SPEC.md 6.5) */
  uint32_t frag_size;                  /* the largest fragment sent now (UART: smaller on a lossy line, 6.1) */
} gb_link_stats;

typedef enum { GB_LINK_HANDSHAKE = 0, GB_LINK_UP = 1, GB_LINK_DOWN = 2, GB_LINK_INCOMPATIBLE = 3 } gb_link_state;

/* The engine's state lives in caller memory; its layout is private (src/link_internal.h). */
typedef struct gb_link gb_link;

/* Initialises an engine inside `mem` (aligned to 8, at least gb_link_mem_size(cfg) bytes) and returns it, or
 * NULL with *status set (GB_ERR_ARG, GB_ERR_NO_MEMORY). `now` starts the hello timer. */
gb_link *gb_link_init(const gb_link_config *cfg, void *mem, size_t mem_size, uint32_t now, gb_status *status);

/* Bytes from the wire. UART profile: any slice of the byte stream (frames are found by their 0x00 delimiter;
 * noise between frames is counted and skipped). Packet profile: exactly one frame. */
void gb_link_receive(gb_link *link, const uint8_t *data, size_t len, uint32_t now);

/* Queues one message for reliable, in-order delivery on `channel` (1..3). Copies it. */
gb_status gb_link_send(gb_link *link, uint8_t channel, const uint8_t *msg, size_t len, uint32_t now);

/* Bytes free in the transmit queue (a message of n bytes needs n + 4). */
size_t gb_link_tx_free(const gb_link *link);

/* Messages queued or in flight, not yet acknowledged by the peer. */
size_t gb_link_tx_pending(const gb_link *link);

/* The next frame to write, or 0 when there is nothing to send now (also when `cap` is smaller than
 * gb_link_max_wire_size(): then nothing is taken from the engine). */
size_t gb_link_poll_tx(gb_link *link, uint8_t *out, size_t cap, uint32_t now);

/* The next event, or false. A GB_EV_MESSAGE's data stays valid until the next call into the engine. */
bool gb_link_poll_event(gb_link *link, gb_event *ev);

/* When gb_link_poll_tx must next be called even if nothing arrives (absolute time, same clock as `now`). */
uint32_t gb_link_next_deadline(const gb_link *link, uint32_t now);

gb_link_state gb_link_get_state(const gb_link *link);
void gb_link_get_stats(const gb_link *link, gb_link_stats *out);
/* The peer's Hello; false before the first one. */
bool gb_link_get_peer(const gb_link *link, gb_peer_info *out);
/* The largest message that can be sent now: min(own, peer's max_message), or own before the handshake. */
size_t gb_link_max_message(const gb_link *link);

#ifdef __cplusplus
}
#endif
#endif
