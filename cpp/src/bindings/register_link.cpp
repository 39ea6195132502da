// Python bindings of the C link engine (protocol/c/include/glassbridge/link.h): type conversion only, in the
// extension glassbridge.protocol._link, which links the C engine and nothing else. glassbridge.protocol.link wraps
// LinkEngine into the friendly `Link` (exceptions, dataclasses, a clock of any origin).
//
// The engine's C enums become Python IntEnums here (py::native_enum), so Python never restates their numbers, and
// its configuration is the typed LinkConfig, checked by the C engine's own rules (gb_link_config_value_problem,
// gb_link_config_problem) when it is made: a ValueError carries the C sentence naming the field and its range.
//
// The frame primitives (CRC-32C, COBS, frames) are bound for the conformance tests only: they are compiled into
// glassbridge._testing_native (GLASSBRIDGE_TEST_BINDINGS), which tests hold against protocol/vectors/ and
// independent Python references.
//
// The GIL stays held: every call is short (one frame or one slice of input), and the engine is not
// thread-safe, so holding the GIL is what serialises Python threads sharing a LinkEngine.
#include <pybind11/native_enum.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "glassbridge/frame.h"
#include "glassbridge/link.h"

namespace py = pybind11;

namespace {

// A bytes-like argument (bytes, bytearray, memoryview of bytes) as pointer + length, without copying.
struct Bytes {
  py::buffer_info info;
  const uint8_t* data() const { return static_cast<const uint8_t*>(info.ptr); }
  size_t size() const { return static_cast<size_t>(info.size); }
};

Bytes bytes_of(const py::buffer& b, const char* what) {
  py::buffer_info info = b.request();
  if (info.itemsize != 1 || info.ndim != 1 || (info.ndim == 1 && info.strides[0] != 1)) {
    throw py::type_error(std::string(what) + " must be contiguous bytes (bytes, bytearray or memoryview of bytes)");
  }
  return Bytes{std::move(info)};
}

py::bytes to_bytes(const uint8_t* p, size_t n) { return py::bytes(reinterpret_cast<const char*>(p), n); }

py::dict peer_dict(const gb_peer_info& p) {
  py::dict d;
  d["protocol_version"] = p.protocol_version;
  d["min_protocol_version"] = p.min_protocol_version;
  d["session"] = p.session;
  d["boot_counter"] = p.boot_counter;
  d["max_frame"] = p.max_frame;
  d["window"] = p.window;
  d["max_message"] = p.max_message;
  d["capabilities"] = p.capabilities;
  d["role"] = static_cast<int>(p.role);
  d["firmware_version"] = std::string(p.firmware_version);
  return d;
}

// A gb_link_config whose every value the C engine has accepted: each Python int is checked against its field's
// range before it is narrowed into the struct (gb_link_config_value_problem), then the fields together
// (gb_link_config_problem); the defaults are filled in (gb_link_config_normalize). Immutable afterwards, so the
// check happens once, when the configuration is made.
class LinkConfig {
 public:
  LinkConfig(const py::int_& session, const py::int_& profile, const py::int_& role, const py::int_& boot_counter,
             const py::int_& capabilities, std::string firmware_version, const py::int_& max_frame,
             const py::int_& window, const py::int_& max_message, const py::int_& tx_queue_bytes,
             const py::int_& hello_interval_ms, const py::int_& heartbeat_ms, const py::int_& link_timeout_ms,
             const py::int_& ack_delay_ms, const py::int_& rto_initial_ms, const py::int_& rto_min_ms,
             const py::int_& rto_max_ms, const py::int_& protocol_version, const py::int_& min_protocol_version)
      : firmware_(std::move(firmware_version)) {
    std::memset(&cfg_, 0, sizeof cfg_);
    cfg_.profile = static_cast<gb_profile>(field("profile", profile));
    cfg_.role = static_cast<gb_role>(field("role", role));
    cfg_.session = static_cast<uint32_t>(field("session", session));
    cfg_.boot_counter = static_cast<uint32_t>(field("boot_counter", boot_counter));
    cfg_.capabilities = static_cast<uint32_t>(field("capabilities", capabilities));
    cfg_.max_frame = static_cast<uint16_t>(field("max_frame", max_frame));
    cfg_.window = static_cast<uint8_t>(field("window", window));
    cfg_.max_message = static_cast<uint16_t>(field("max_message", max_message));
    cfg_.tx_queue_bytes = static_cast<uint32_t>(field("tx_queue_bytes", tx_queue_bytes));
    cfg_.hello_interval_ms = static_cast<uint16_t>(field("hello_interval_ms", hello_interval_ms));
    cfg_.heartbeat_ms = static_cast<uint16_t>(field("heartbeat_ms", heartbeat_ms));
    cfg_.link_timeout_ms = static_cast<uint16_t>(field("link_timeout_ms", link_timeout_ms));
    cfg_.ack_delay_ms = static_cast<uint16_t>(field("ack_delay_ms", ack_delay_ms));
    cfg_.rto_initial_ms = static_cast<uint16_t>(field("rto_initial_ms", rto_initial_ms));
    cfg_.rto_min_ms = static_cast<uint16_t>(field("rto_min_ms", rto_min_ms));
    cfg_.rto_max_ms = static_cast<uint16_t>(field("rto_max_ms", rto_max_ms));
    cfg_.protocol_version = static_cast<uint32_t>(field("protocol_version", protocol_version));
    cfg_.min_protocol_version = static_cast<uint32_t>(field("min_protocol_version", min_protocol_version));
    const gb_link_config c = get();
    if (const char* problem = gb_link_config_problem(&c)) throw py::value_error(problem);
    gb_link_config_normalize(&cfg_);
  }

  // The struct as the engine takes it: firmware_version points into this object (valid while it lives).
  gb_link_config get() const {
    gb_link_config c = cfg_;
    c.firmware_version = firmware_.c_str();
    return c;
  }
  const gb_link_config& raw() const { return cfg_; }
  const std::string& firmware_version() const { return firmware_; }

 private:
  // A Python int of any size, clamped to int64 (the C check refuses what lies beyond), checked against the field.
  static int64_t field(const char* name, const py::int_& value) {
    int overflow = 0;
    long long v = PyLong_AsLongLongAndOverflow(value.ptr(), &overflow);
    if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
    const int64_t x = overflow > 0 ? INT64_MAX : overflow < 0 ? INT64_MIN : static_cast<int64_t>(v);
    if (const char* problem = gb_link_config_value_problem(name, x)) throw py::value_error(problem);
    return x;
  }

  gb_link_config cfg_{};
  std::string firmware_;
};

// Owns the engine's memory block (8-byte aligned) and the configuration the engine's firmware version points to.
class LinkEngine {
 public:
  LinkEngine(const LinkConfig& config, uint32_t now_ms) : config_(config) {
    const gb_link_config cfg = config_.get();
    size_t need = gb_link_mem_size(&cfg);
    mem_.reset(new uint64_t[(need + 7) / 8]);
    gb_status st = GB_OK;
    link_ = gb_link_init(&cfg, mem_.get(), (need + 7) / 8 * 8, now_ms, &st);
    if (!link_) throw py::value_error(std::string("link init failed: ") + gb_status_str(st));
  }

  void receive(const py::buffer& data, uint32_t now) {
    Bytes b = bytes_of(data, "data");
    gb_link_receive(link_, b.data(), b.size(), now);
  }

  gb_status send(int channel, const py::buffer& message, uint32_t now) {
    Bytes b = bytes_of(message, "message");
    if (channel < 0 || channel > 255) return GB_ERR_BAD_CHANNEL;
    return gb_link_send(link_, static_cast<uint8_t>(channel), b.data(), b.size(), now);
  }

  std::optional<py::bytes> poll_tx(uint32_t now) {
    const gb_link_config cfg = config_.get();
    if (out_.size() < gb_link_max_wire_size(&cfg)) out_.resize(gb_link_max_wire_size(&cfg));
    size_t n = gb_link_poll_tx(link_, out_.data(), out_.size(), now);
    if (n == 0) return std::nullopt;
    return to_bytes(out_.data(), n);
  }

  // (type, channel, data, dropped, peer) or None; data is copied (the engine's view ends at the next call).
  std::optional<py::tuple> poll_event() {
    gb_event ev;
    if (!gb_link_poll_event(link_, &ev)) return std::nullopt;
    py::object data = ev.type == GB_EV_MESSAGE ? py::object(to_bytes(ev.data, ev.len)) : py::object(py::none());
    py::object peer = ev.type == GB_EV_MESSAGE ? py::object(py::none()) : py::object(peer_dict(ev.peer));
    return py::make_tuple(ev.type, ev.channel, data, ev.dropped, peer);
  }

  uint32_t next_deadline(uint32_t now) const { return gb_link_next_deadline(link_, now); }
  gb_link_state state() const { return gb_link_get_state(link_); }
  size_t tx_free() const { return gb_link_tx_free(link_); }
  size_t tx_pending() const { return gb_link_tx_pending(link_); }
  size_t max_message() const { return gb_link_max_message(link_); }
  size_t max_wire_size() const {
    const gb_link_config cfg = config_.get();
    return gb_link_max_wire_size(&cfg);
  }
  const LinkConfig& config() const { return config_; }

  std::optional<py::dict> peer() const {
    gb_peer_info p;
    if (!gb_link_get_peer(link_, &p)) return std::nullopt;
    return peer_dict(p);
  }

  // Every counter of gb_link_stats, by its C name.
  py::dict stats() const {
    gb_link_stats s;
    gb_link_get_stats(link_, &s);
    py::dict d;
    d["frames_tx"] = s.frames_tx;
    d["frames_rx"] = s.frames_rx;
    d["data_frames_tx"] = s.data_frames_tx;
    d["retransmits"] = s.retransmits;
    d["acks_tx"] = s.acks_tx;
    d["crc_errors"] = s.crc_errors;
    d["framing_errors"] = s.framing_errors;
    d["duplicates"] = s.duplicates;
    d["out_of_order"] = s.out_of_order;
    d["messages_tx"] = s.messages_tx;
    d["messages_rx"] = s.messages_rx;
    d["link_downs"] = s.link_downs;
    d["peer_resets"] = s.peer_resets;
    d["bytes_tx"] = s.bytes_tx;
    d["bytes_rx"] = s.bytes_rx;
    d["srtt_ms"] = s.srtt_ms;
    d["rto_ms"] = s.rto_ms;
    d["out_of_window"] = s.out_of_window;
    d["rx_oversize"] = s.rx_oversize;
    d["events_dropped"] = s.events_dropped;
    d["rewinds"] = s.rewinds;
    d["frag_size"] = s.frag_size;
    return d;
  }

 private:
  LinkConfig config_;
  std::unique_ptr<uint64_t[]> mem_;
  gb_link* link_ = nullptr;
  std::vector<uint8_t> out_;
};

}  // namespace

void register_link(py::module_& m) {
  // The C enums, as IntEnums: values and names come from link.h, never restated in Python.
  py::native_enum<gb_status>(m, "Status", "enum.IntEnum", "gb_status: what an engine call returned.")
      .value("OK", GB_OK)
      .value("ERR_ARG", GB_ERR_ARG)
      .value("ERR_NO_MEMORY", GB_ERR_NO_MEMORY)
      .value("ERR_QUEUE_FULL", GB_ERR_QUEUE_FULL)
      .value("ERR_TOO_LARGE", GB_ERR_TOO_LARGE)
      .value("ERR_BAD_CHANNEL", GB_ERR_BAD_CHANNEL)
      .value("ERR_INCOMPATIBLE", GB_ERR_INCOMPATIBLE)
      .finalize();
  py::native_enum<gb_profile>(m, "Profile", "enum.IntEnum",
                              "gb_profile: UART (COBS frames with CRC-32C on a byte stream) or PACKET (one frame "
                              "per datagram: BLE).")
      .value("UART", GB_PROFILE_UART)
      .value("PACKET", GB_PROFILE_PACKET)
      .finalize();
  py::native_enum<gb_role>(m, "Role", "enum.IntEnum",
                           "Who an end is (gb_role, glassbridge.proto Role): informs the peer, changes no behaviour.")
      .value("UNSPECIFIED", GB_ROLE_UNSPECIFIED)
      .value("MCU", GB_ROLE_MCU)
      .value("SOC", GB_ROLE_SOC)
      .value("PHONE", GB_ROLE_PHONE)
      .finalize();
  py::native_enum<gb_channel>(m, "Channel", "enum.IntEnum",
                              "gb_channel: applications send on CONTROL (requests, answers, events), AUDIO "
                              "(microphone and speaker frames) and BULK (transfers); LINK is the engine's own "
                              "(hellos, acknowledgements, pings).")
      .value("LINK", GB_CHANNEL_LINK)
      .value("CONTROL", GB_CHANNEL_CONTROL)
      .value("AUDIO", GB_CHANNEL_AUDIO)
      .value("BULK", GB_CHANNEL_BULK)
      .finalize();
  py::native_enum<gb_link_state>(m, "LinkState", "enum.IntEnum",
                                 "gb_link_state: HANDSHAKE (no peer yet, or a restarted peer not yet confirmed), "
                                 "UP, DOWN (nothing heard for link_timeout_ms: queues kept, hellos resume), "
                                 "INCOMPATIBLE (the peer speaks a protocol version we cannot, or it cannot ours).")
      .value("HANDSHAKE", GB_LINK_HANDSHAKE)
      .value("UP", GB_LINK_UP)
      .value("DOWN", GB_LINK_DOWN)
      .value("INCOMPATIBLE", GB_LINK_INCOMPATIBLE)
      .finalize();
  py::native_enum<gb_event_type>(m, "EventType", "enum.IntEnum", "gb_event_type: what LinkEngine.poll_event returned.")
      .value("NONE", GB_EV_NONE)
      .value("MESSAGE", GB_EV_MESSAGE)
      .value("LINK_UP", GB_EV_LINK_UP)
      .value("LINK_DOWN", GB_EV_LINK_DOWN)
      .value("PEER_RESET", GB_EV_PEER_RESET)
      .value("VERSION_MISMATCH", GB_EV_VERSION_MISMATCH)
      .finalize();

  py::class_<LinkConfig>(m, "LinkConfig", R"doc(
The link engine's configuration (gb_link_config), checked by the C engine's rules when it is made: a value out of
its field's range, or fields that do not fit together, raise ValueError with the C engine's sentence naming the
field and its allowed range. 0 selects the default where link.h gives one (the attributes show the defaults
filled in). Immutable: a valid LinkConfig stays valid.

session: random, non-zero, new at every engine start. max_frame 128..4096, window 1..32, max_message 1..65535,
tx_queue_bytes at least max_message + 4; timers in milliseconds 1..65535 with rto_min_ms <= rto_initial_ms <=
rto_max_ms; firmware_version at most 31 bytes of UTF-8; protocol_version, min_protocol_version for tests only.)doc")
      .def(py::init<const py::int_&, const py::int_&, const py::int_&, const py::int_&, const py::int_&, std::string,
                    const py::int_&, const py::int_&, const py::int_&, const py::int_&, const py::int_&,
                    const py::int_&, const py::int_&, const py::int_&, const py::int_&, const py::int_&,
                    const py::int_&, const py::int_&, const py::int_&>(),
           py::kw_only(), py::arg("session"), py::arg_v("profile", GB_PROFILE_UART, "Profile.UART"),
           py::arg_v("role", GB_ROLE_SOC, "Role.SOC"), py::arg("boot_counter") = 0, py::arg("capabilities") = 0,
           py::arg("firmware_version") = "", py::arg("max_frame") = 0, py::arg("window") = 0,
           py::arg("max_message") = 0, py::arg("tx_queue_bytes") = 0, py::arg("hello_interval_ms") = 0,
           py::arg("heartbeat_ms") = 0, py::arg("link_timeout_ms") = 0, py::arg("ack_delay_ms") = 0,
           py::arg("rto_initial_ms") = 0, py::arg("rto_min_ms") = 0, py::arg("rto_max_ms") = 0,
           py::arg("protocol_version") = 0, py::arg("min_protocol_version") = 0)
      .def_property_readonly("profile", [](const LinkConfig& c) { return c.raw().profile; })
      .def_property_readonly("role", [](const LinkConfig& c) { return c.raw().role; })
      .def_property_readonly("session", [](const LinkConfig& c) { return c.raw().session; })
      .def_property_readonly("boot_counter", [](const LinkConfig& c) { return c.raw().boot_counter; })
      .def_property_readonly("capabilities", [](const LinkConfig& c) { return c.raw().capabilities; })
      .def_property_readonly("firmware_version", &LinkConfig::firmware_version)
      .def_property_readonly("max_frame", [](const LinkConfig& c) { return c.raw().max_frame; })
      .def_property_readonly("window", [](const LinkConfig& c) { return c.raw().window; })
      .def_property_readonly("max_message", [](const LinkConfig& c) { return c.raw().max_message; })
      .def_property_readonly("tx_queue_bytes", [](const LinkConfig& c) { return c.raw().tx_queue_bytes; })
      .def_property_readonly("hello_interval_ms", [](const LinkConfig& c) { return c.raw().hello_interval_ms; })
      .def_property_readonly("heartbeat_ms", [](const LinkConfig& c) { return c.raw().heartbeat_ms; })
      .def_property_readonly("link_timeout_ms", [](const LinkConfig& c) { return c.raw().link_timeout_ms; })
      .def_property_readonly("ack_delay_ms", [](const LinkConfig& c) { return c.raw().ack_delay_ms; })
      .def_property_readonly("rto_initial_ms", [](const LinkConfig& c) { return c.raw().rto_initial_ms; })
      .def_property_readonly("rto_min_ms", [](const LinkConfig& c) { return c.raw().rto_min_ms; })
      .def_property_readonly("rto_max_ms", [](const LinkConfig& c) { return c.raw().rto_max_ms; })
      .def_property_readonly("protocol_version", [](const LinkConfig& c) { return c.raw().protocol_version; })
      .def_property_readonly("min_protocol_version",
                             [](const LinkConfig& c) { return c.raw().min_protocol_version; });

  py::class_<LinkEngine>(m, "LinkEngine", R"doc(
The C link engine (protocol/c/link.h), sans-IO. Use glassbridge.protocol.link.Link, which wraps it.

config: a LinkConfig (already checked); now_ms: the engine clock at creation. Times are uint32 milliseconds that
may wrap.)doc")
      .def(py::init<const LinkConfig&, uint32_t>(), py::arg("config"), py::arg("now_ms") = 0)
      .def("receive", &LinkEngine::receive, py::arg("data"), py::arg("now"),
           "Bytes from the wire (uart: any slice of the stream; packet: exactly one datagram).")
      .def("send", &LinkEngine::send, py::arg("channel"), py::arg("message"), py::arg("now"),
           "Queues a message; returns the Status (OK, or why it was refused).")
      .def("poll_tx", &LinkEngine::poll_tx, py::arg("now"), "The next frame to write, or None.")
      .def("poll_event", &LinkEngine::poll_event,
           "The next event as (EventType, channel, data, dropped, peer), or None.")
      .def("next_deadline", &LinkEngine::next_deadline, py::arg("now"),
           "When poll_tx must next run even without input (absolute, same clock as now).")
      .def_property_readonly("state", &LinkEngine::state)
      .def_property_readonly("tx_free", &LinkEngine::tx_free)
      .def_property_readonly("tx_pending", &LinkEngine::tx_pending)
      .def_property_readonly("max_message", &LinkEngine::max_message)
      .def_property_readonly("max_wire_size", &LinkEngine::max_wire_size)
      .def_property_readonly("config", &LinkEngine::config, "The LinkConfig the engine was made with.")
      .def("peer", &LinkEngine::peer, "The peer's Hello fields as a dict, or None before the first Hello.")
      .def("stats", &LinkEngine::stats, "Every counter of gb_link_stats as a dict, by its C name.");

  m.def("status_str", [](gb_status s) { return std::string(gb_status_str(s)); }, py::arg("status"),
        "The text of a Status.");
}

#ifdef GLASSBRIDGE_TEST_BINDINGS
namespace {

gb_profile profile_of(int p) {
  if (p != GB_PROFILE_UART && p != GB_PROFILE_PACKET) {
    throw py::value_error("profile must be 0 (uart) or 1 (packet), got " + std::to_string(p));
  }
  return static_cast<gb_profile>(p);
}

}  // namespace

// Test-only (glassbridge._testing_native): the frame primitives, for the conformance tests.
void register_link_testing(py::module_& m) {
  m.def(
      "crc32c",
      [](const py::buffer& data, uint32_t crc) {
        Bytes b = bytes_of(data, "data");
        return gb_crc32c(crc, b.data(), b.size());
      },
      py::arg("data"), py::arg("crc") = 0, "CRC-32C (Castagnoli) of data, chained from crc (0 to start).");
  m.def(
      "cobs_encode",
      [](const py::buffer& data) {
        Bytes b = bytes_of(data, "data");
        std::vector<uint8_t> out(GB_COBS_ENCODE_BOUND(b.size()));
        gb_cobs_result r = gb_cobs_encode(b.data(), b.size(), out.data(), out.size());
        if (r.status != GB_COBS_OK) throw py::value_error(gb_cobs_status_str(r.status));
        return to_bytes(out.data(), r.len);
      },
      py::arg("data"), "COBS encoding of data (no 0x00 delimiter).");
  m.def(
      "cobs_decode",
      [](const py::buffer& data) {
        Bytes b = bytes_of(data, "data");
        std::vector<uint8_t> out(b.size() + 1);
        gb_cobs_result r = gb_cobs_decode(b.data(), b.size(), out.data(), out.size());
        if (r.status != GB_COBS_OK) {
          throw py::value_error(std::string("COBS decode failed: ") + gb_cobs_status_str(r.status));
        }
        return to_bytes(out.data(), r.len);
      },
      py::arg("data"), "Decodes one COBS frame (without its delimiter); ValueError says why it is invalid.");
  m.def(
      "frame_encode",
      [](int profile, int flags, int channel, int seq, int ack, uint32_t sack, const py::buffer& payload) {
        Bytes b = bytes_of(payload, "payload");
        gb_frame f = {static_cast<uint8_t>(flags), static_cast<uint8_t>(channel), static_cast<uint16_t>(seq),
                      static_cast<uint16_t>(ack), sack, b.data(), b.size()};
        gb_profile p = profile_of(profile);
        std::vector<uint8_t> out(gb_frame_overhead(p) + b.size());
        size_t n = gb_frame_encode(p, &f, out.data(), out.size());
        if (n == 0) throw py::value_error("payload longer than 65535 bytes");
        return to_bytes(out.data(), n);
      },
      py::arg("profile"), py::arg("flags"), py::arg("channel"), py::arg("seq"), py::arg("ack"), py::arg("sack"),
      py::arg("payload"), "A frame before COBS (uart) or the datagram (packet).");
  m.def(
      "frame_parse",
      [](int profile, const py::buffer& raw) {
        Bytes b = bytes_of(raw, "raw");
        gb_frame f;
        gb_frame_status st = gb_frame_parse(profile_of(profile), b.data(), b.size(), &f);
        if (st != GB_FRAME_OK) throw py::value_error(std::string("invalid frame: ") + gb_frame_status_str(st));
        return py::make_tuple(f.flags, f.channel, f.seq, f.ack, f.sack, to_bytes(f.payload, f.payload_len));
      },
      py::arg("profile"), py::arg("raw"),
      "Parses a frame (uart: COBS-decoded, without delimiter): (flags, channel, seq, ack, sack, payload).");
}
#endif  // GLASSBRIDGE_TEST_BINDINGS
