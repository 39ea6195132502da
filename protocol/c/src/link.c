/* The glassbridge link engine: SPEC.md "Link layer", API in include/glassbridge/link.h. This file holds the
 * public entry points and the dispatch: configuration, the memory layout, init, the event queue, frames from the
 * wire to the parts that handle them (receive), the order in which poll_tx lets the parts send, poll_event and
 * the getters. The parts, their shared state (`struct gb_link`) and the memory layout are described in
 * link_internal.h: link_tx.c (transmit queue, fragment sizing, rewind), link_rx.c (receive window, reassembly,
 * SACK), link_timers.c (RTT, retransmission, link timeout, deadlines), link_hello.c (handshake, sessions).
 */
#include "glassbridge/link.h"

#include <string.h>

#include "glassbridge/frame.h"
#include "link_internal.h"

/* ---- configuration and memory ----------------------------------------------------------------------- */

const char *gb_status_str(gb_status s) {
  switch (s) {
    case GB_OK: return "ok";
    case GB_ERR_ARG: return "invalid argument or configuration value";
    case GB_ERR_NO_MEMORY: return "memory block smaller than gb_link_mem_size()";
    case GB_ERR_QUEUE_FULL: return "transmit queue full: retry once the peer has acknowledged more";
    case GB_ERR_TOO_LARGE: return "message larger than the negotiated max_message";
    case GB_ERR_BAD_CHANNEL: return "channel must be 1 (control), 2 (audio) or 3 (bulk)";
    case GB_ERR_INCOMPATIBLE: return "the peer speaks an incompatible protocol version";
  }
  return "unknown status";
}

static void dflt16(uint16_t *v, uint16_t d) {
  if (*v == 0) *v = d;
}

/* The range of each numeric field of gb_link_config, and the sentence that states it: written once, for
 * normalize (the struct) and gb_link_config_value_problem (a binding's wider integers) alike. `zero` marks the
 * fields where 0 selects the default. Fields whose C type already bounds them say so for the bindings' sake. */
typedef struct {
  const char *name;
  int64_t min, max;
  bool zero;
  const char *rule;
} field_rule;

static const field_rule FIELD_RULES[] = {
    {"profile", GB_PROFILE_UART, GB_PROFILE_PACKET, false, "profile must be 0 (uart) or 1 (packet)"},
    {"role", GB_ROLE_UNSPECIFIED, GB_ROLE_PHONE, false,
     "role must be 0..3 (unspecified, mcu, soc, phone: glassbridge.proto Role)"},
    {"session", 1, UINT32_MAX, false, "session must be 1..4294967295 (random, non-zero, new at every start)"},
    {"boot_counter", 0, UINT32_MAX, false, "boot_counter must be 0..4294967295"},
    {"capabilities", 0, UINT32_MAX, false, "capabilities must be 0..4294967295 (Capability bits)"},
    {"max_frame", GB_MIN_FRAME, GB_MAX_FRAME, true, "max_frame must be 128..4096 (0: the default, 1024)"},
    {"window", 1, GB_MAX_WINDOW, true, "window must be 1..32, the SACK bitmap's bits (0: the default, 16)"},
    {"max_message", 1, UINT16_MAX, true, "max_message must be 1..65535 (0: the default, 4096)"},
    {"tx_queue_bytes", 1, UINT32_MAX, true, "tx_queue_bytes must be 1..4294967295 (0: the default, 65536)"},
    {"hello_interval_ms", 1, UINT16_MAX, true, "hello_interval_ms must be 1..65535 (0: the default, 100)"},
    {"heartbeat_ms", 1, UINT16_MAX, true, "heartbeat_ms must be 1..65535 (0: the default, 250)"},
    {"link_timeout_ms", 1, UINT16_MAX, true, "link_timeout_ms must be 1..65535 (0: the default, 1000)"},
    {"ack_delay_ms", 1, UINT16_MAX, true, "ack_delay_ms must be 1..65535 (0: the default, 2)"},
    {"rto_initial_ms", 1, UINT16_MAX, true, "rto_initial_ms must be 1..65535 (0: the default, 200)"},
    {"rto_min_ms", 1, UINT16_MAX, true, "rto_min_ms must be 1..65535 (0: the default, 20)"},
    {"rto_max_ms", 1, UINT16_MAX, true, "rto_max_ms must be 1..65535 (0: the default, 1000)"},
    {"protocol_version", 1, UINT32_MAX, true, "protocol_version must be 1..4294967295 (0: this engine's, 1)"},
    {"min_protocol_version", 1, UINT32_MAX, true,
     "min_protocol_version must be 1..4294967295 (0: this engine's, 1)"},
};

const char *gb_link_config_value_problem(const char *field, int64_t value) {
  if (!field) return "no field named";
  for (size_t i = 0; i < sizeof FIELD_RULES / sizeof FIELD_RULES[0]; i++) {
    const field_rule *r = &FIELD_RULES[i];
    if (strcmp(r->name, field) != 0) continue;
    if ((value >= r->min && value <= r->max) || (r->zero && value == 0)) return NULL;
    return r->rule;
  }
  return "no such field in gb_link_config (see glassbridge/link.h)";
}

/* Fills the defaults, then returns the first rule the configuration breaks (NULL: none). */
static const char *normalize(gb_link_config *cfg) {
  const char *problem;
  if (!cfg) return "no configuration given";
  if ((problem = gb_link_config_value_problem("profile", (int64_t)cfg->profile)) ||
      (problem = gb_link_config_value_problem("role", (int64_t)cfg->role)) ||
      (problem = gb_link_config_value_problem("session", cfg->session)) ||
      (problem = gb_link_config_value_problem("max_frame", cfg->max_frame)) ||
      (problem = gb_link_config_value_problem("window", cfg->window)))
    return problem;
  dflt16(&cfg->max_frame, 1024);
  if (cfg->window == 0) cfg->window = 16;
  dflt16(&cfg->max_message, 4096);
  if (cfg->tx_queue_bytes == 0) cfg->tx_queue_bytes = 65536;
  dflt16(&cfg->hello_interval_ms, 100);
  dflt16(&cfg->heartbeat_ms, 250);
  dflt16(&cfg->link_timeout_ms, 1000);
  dflt16(&cfg->ack_delay_ms, 2);
  dflt16(&cfg->rto_initial_ms, 200);
  dflt16(&cfg->rto_min_ms, 20);
  dflt16(&cfg->rto_max_ms, 1000);
  if (cfg->protocol_version == 0) cfg->protocol_version = GB_LINK_PROTOCOL_VERSION;
  if (cfg->min_protocol_version == 0) cfg->min_protocol_version = GB_LINK_MIN_PROTOCOL_VERSION;
  if (cfg->tx_queue_bytes < (uint32_t)cfg->max_message + RECORD_HEADER)
    return "tx_queue_bytes must be at least max_message + 4 (room for one largest message)";
  if (cfg->rto_min_ms > cfg->rto_initial_ms || cfg->rto_initial_ms > cfg->rto_max_ms)
    return "the timers need rto_min_ms <= rto_initial_ms <= rto_max_ms";
  if (cfg->min_protocol_version > cfg->protocol_version)
    return "min_protocol_version must be at most protocol_version";
  if (cfg->firmware_version) {
    size_t n = 0;
    while (cfg->firmware_version[n] && n < 32) n++;
    if (n > 31) return "firmware_version must be at most 31 bytes of UTF-8 (what a Hello holds)";
  }
  return NULL;
}

gb_status gb_link_config_normalize(gb_link_config *cfg) { return normalize(cfg) ? GB_ERR_ARG : GB_OK; }

const char *gb_link_config_problem(const gb_link_config *cfg) {
  if (!cfg) return "no configuration given";
  gb_link_config c = *cfg;
  return normalize(&c);
}

static size_t align8(size_t n) { return (n + 7u) & ~(size_t)7u; }

typedef struct {
  size_t link, txq, rx, reasm, stream, scratch, total;
} layout;

static layout plan(const gb_link_config *c) {
  layout l;
  size_t payload = c->max_frame - gb_frame_overhead(c->profile);
  l.link = 0;
  l.txq = align8(sizeof(struct gb_link));
  l.rx = l.txq + align8(c->tx_queue_bytes);
  l.reasm = l.rx + align8((size_t)c->window * payload);
  l.stream = l.reasm + align8(c->max_message);
  l.scratch = l.stream + align8(GB_COBS_ENCODE_BOUND((size_t)c->max_frame));
  l.total = l.scratch + align8(c->max_frame);
  return l;
}

size_t gb_link_mem_size(const gb_link_config *cfg) {
  if (!cfg) return 0;
  gb_link_config c = *cfg;
  if (gb_link_config_normalize(&c) != GB_OK) return 0;
  return plan(&c).total;
}

size_t gb_link_max_wire_size(const gb_link_config *cfg) {
  if (!cfg) return 0;
  size_t f = cfg->max_frame ? cfg->max_frame : 1024u;
  return cfg->profile == GB_PROFILE_UART ? GB_COBS_MAX_ENCODED(f) : f;
}

/* ---- events ------------------------------------------------------------------------------------------ */

void gbl_push_event(gb_link *l, gb_event_type type, uint32_t dropped) {
  /* The last entry stays free for a message, so a link event flood never blocks delivery. */
  bool is_msg = type == GB_EV_MESSAGE;
  if (l->ev_count >= (is_msg ? EVENT_QUEUE : EVENT_QUEUE - 1u)) {
    l->stats.events_dropped++;
    return;
  }
  ev_entry *e = &l->ev[(l->ev_head + l->ev_count) % EVENT_QUEUE];
  l->ev_count++;
  memset(e, 0, sizeof *e);
  e->type = type;
  e->dropped = dropped;
  if (!is_msg) e->peer = l->peer;
}

/* ---- init ------------------------------------------------------------------------------------------------ */

gb_link *gb_link_init(const gb_link_config *cfg, void *mem, size_t mem_size, uint32_t now, gb_status *status) {
  gb_status dummy;
  if (!status) status = &dummy;
  if (!cfg || !mem || ((uintptr_t)mem & 7u)) {
    *status = GB_ERR_ARG;
    return NULL;
  }
  gb_link_config c = *cfg;
  if ((*status = gb_link_config_normalize(&c)) != GB_OK) return NULL;
  layout lay = plan(&c);
  if (mem_size < lay.total) {
    *status = GB_ERR_NO_MEMORY;
    return NULL;
  }
  uint8_t *base = (uint8_t *)mem;
  memset(base, 0, lay.total);
  gb_link *l = (gb_link *)mem;
  l->cfg = c;
  if (c.firmware_version) {
    size_t n = 0;
    while (c.firmware_version[n] && n < sizeof l->fw - 1) n++;
    memcpy(l->fw, c.firmware_version, n);
  }
  l->cfg.firmware_version = l->fw;
  l->overhead = gb_frame_overhead(c.profile);
  l->payload_own = c.max_frame - l->overhead;
  l->txq = base + lay.txq;
  l->txq_cap = c.tx_queue_bytes;
  l->rx_data = base + lay.rx;
  l->reasm = base + lay.reasm;
  l->scratch = base + lay.scratch;
  gb_cobs_stream_init(&l->stream, base + lay.stream, GB_COBS_ENCODE_BOUND((size_t)c.max_frame));
  l->state = GB_LINK_HANDSHAKE;
  l->hello_interval = c.hello_interval_ms;
  l->hello_at = now; /* first Hello at the first poll_tx */
  l->last_rx = l->last_tx = l->peer_ack_at = now;
  gbl_reset_rtt(l);
  l->stats.rto_ms = l->rto;
  *status = GB_OK;
  return l;
}

/* ---- frame dispatch ---------------------------------------------------------------------------------------- */

static void receive_frame(gb_link *l, const uint8_t *buf, size_t n, uint32_t now) {
  if (n > l->cfg.max_frame) {
    l->stats.framing_errors++;
    return;
  }
  gb_frame f;
  gb_frame_status st = gb_frame_parse(l->cfg.profile, buf, n, &f);
  if (st != GB_FRAME_OK) {
    if (st == GB_FRAME_ERR_CRC) l->stats.crc_errors++;
    else l->stats.framing_errors++;
    return;
  }
  bool hello = f.flags & GB_FLAG_HELLO, data = f.flags & GB_FLAG_DATA;
  /* UART: a REWIND or REWOUND acknowledgement carries its 2-byte number (SPEC.md 6.5). */
  bool rewind = l->cfg.profile == GB_PROFILE_UART && (f.flags & (GB_FLAG_REWIND | GB_FLAG_REWOUND));
  bool valid = hello   ? (!data && f.channel == 0)
               : data ? (f.channel >= 1 && f.channel < GB_CHANNELS)
                      : (f.channel == 0 && f.payload_len == (rewind ? 2u : 0u));
  if (!valid) {
    l->stats.framing_errors++;
    return;
  }
  if (hello) {
    gbl_receive_hello(l, &f, now);
    return;
  }
  l->stats.frames_rx++;
  if (l->state != GB_LINK_UP) return; /* not before the handshake: the sequence state is not agreed yet */
  l->last_rx = now;
  l->peer_ack_at = now;
  gbl_receive_ack(l, &f, now);
  if (data) {
    gbl_receive_data(l, &f, now);
    return;
  }
  if (f.flags & GB_FLAG_PING) gbl_schedule_ack(l, now, true);
  if (l->cfg.profile == GB_PROFILE_UART) { /* the packet profile keeps bits 4-7 reserved (SPEC.md 2.1) */
    uint16_t nonce = (uint16_t)(rewind ? (f.payload[0] | (f.payload[1] << 8)) : 0);
    if (f.flags & GB_FLAG_REWIND) gbl_receive_rewind(l, f.seq, nonce);
    if (f.flags & GB_FLAG_REWOUND) gbl_receive_rewound(l, f.seq, nonce, now);
  }
}

void gb_link_receive(gb_link *link, const uint8_t *data, size_t len, uint32_t now) {
  if (!link || (!data && len)) return;
  gb_link *l = link;
  gbl_release_delivered(l);
  l->stats.bytes_rx += len;
  if (l->cfg.profile == GB_PROFILE_PACKET) {
    receive_frame(l, data, len, now);
    return;
  }
  while (len > 0) {
    gb_cobs_stream_result r = gb_cobs_stream_feed(&l->stream, data, len);
    data += r.consumed;
    len -= r.consumed;
    if (r.kind == GB_COBS_STREAM_FRAME) receive_frame(l, r.frame, r.len, now);
    else if (r.kind == GB_COBS_STREAM_ERROR) l->stats.framing_errors++;
  }
}

/* ---- send, poll_tx, events, getters ----------------------------------------------------------------------- */

size_t gb_link_max_message(const gb_link *link) {
  if (!link) return 0;
  size_t own = link->cfg.max_message;
  return link->peer_known && link->peer.max_message < own ? link->peer.max_message : own;
}

size_t gb_link_poll_tx(gb_link *link, uint8_t *out, size_t cap, uint32_t now) {
  if (!link || !out) return 0;
  gb_link *l = link;
  gbl_release_delivered(l);
  if (cap < gb_link_max_wire_size(&l->cfg)) return 0;
  gbl_run_timers(l, now);
  if (l->state != GB_LINK_UP) return gbl_poll_handshake(l, out, cap, now);
  if (l->hello_reply) {
    l->hello_reply = false;
    return gbl_emit_hello(l, false, out, cap, now);
  }
  if (l->rewind_reply) {
    l->rewind_reply = false;
    return gbl_emit_rewind(l, GB_FLAG_REWOUND, l->rewind_reply_seq, l->rewind_reply_nonce, out, cap, now);
  }
  size_t n;
  if (gbl_poll_data(l, out, cap, now, &n)) return n; /* a REWIND, a retransmission or a new fragment */
  if (l->ack_now || (l->ack_pending && due(now, l->ack_due))) return gbl_emit_control(l, 0, l->snd_nxt, out, cap, now);
  if (tdiff(now, l->last_tx) >= (int32_t)gbl_heartbeat(l))
    return gbl_emit_control(l, GB_FLAG_PING, l->snd_nxt, out, cap, now);
  return 0;
}

bool gb_link_poll_event(gb_link *link, gb_event *ev) {
  if (!link || !ev) return false;
  gb_link *l = link;
  gbl_release_delivered(l);
  memset(ev, 0, sizeof *ev);
  if (l->ev_count == 0) return false;
  ev_entry *e = &l->ev[l->ev_head];
  l->ev_head = (uint8_t)((l->ev_head + 1u) % EVENT_QUEUE);
  l->ev_count--;
  ev->type = e->type;
  ev->dropped = e->dropped;
  ev->peer = e->peer;
  if (e->type == GB_EV_MESSAGE) {
    ev->channel = l->reasm_channel;
    ev->data = l->reasm;
    ev->len = l->reasm_len;
    l->reasm_delivered = true;
  }
  return true;
}

gb_link_state gb_link_get_state(const gb_link *link) { return link ? link->state : GB_LINK_HANDSHAKE; }

void gb_link_get_stats(const gb_link *link, gb_link_stats *out) {
  if (!link || !out) return;
  *out = link->stats;
  out->rto_ms = link->rto;
  out->frag_size = link->peer_known ? (uint32_t)frag_size(link) : 0u;
}

bool gb_link_get_peer(const gb_link *link, gb_peer_info *out) {
  if (!link || !out || !link->peer_known) return false;
  *out = link->peer;
  return true;
}
