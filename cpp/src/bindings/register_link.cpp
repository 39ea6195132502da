// Python bindings of the C link engine (protocol/c/include/glassbridge/link.h) and its frame primitives
// (frame.h): type conversion only. glassbridge.protocol.link wraps LinkEngine into the friendly `Link`
// (exceptions, dataclasses, a clock of any origin); the free functions serve the conformance tests, which
// check them against protocol/vectors/ and independent Python references.
//
// The GIL stays held: every call is short (one frame or one slice of input), and the engine is not
// thread-safe, so holding the GIL is what serialises Python threads sharing a LinkEngine.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

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

gb_profile profile_of(int p) {
  if (p != GB_PROFILE_UART && p != GB_PROFILE_PACKET) {
    throw py::value_error("profile must be 0 (uart) or 1 (packet), got " + std::to_string(p));
  }
  return static_cast<gb_profile>(p);
}

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

// Owns the engine's memory block (8-byte aligned) and the firmware version string it points to at init.
class LinkEngine {
 public:
  explicit LinkEngine(const py::dict& config) {
    auto get = [&](const char* key, uint64_t dflt) -> uint64_t {
      return config.contains(key) ? config[key].cast<uint64_t>() : dflt;
    };
    std::memset(&cfg_, 0, sizeof cfg_);
    cfg_.profile = profile_of(static_cast<int>(get("profile", 0)));
    cfg_.role = static_cast<gb_role>(get("role", GB_ROLE_SOC));
    cfg_.session = static_cast<uint32_t>(get("session", 0));
    cfg_.boot_counter = static_cast<uint32_t>(get("boot_counter", 0));
    cfg_.capabilities = static_cast<uint32_t>(get("capabilities", 0));
    if (config.contains("firmware_version")) firmware_ = config["firmware_version"].cast<std::string>();
    cfg_.firmware_version = firmware_.c_str();
    auto u16 = [&](const char* key, uint64_t dflt) -> uint16_t {
      uint64_t v = get(key, dflt);
      if (v > 0xFFFF) throw py::value_error(std::string(key) + " must be at most 65535, got " + std::to_string(v));
      return static_cast<uint16_t>(v);
    };
    cfg_.max_frame = u16("max_frame", 0);
    uint64_t window = get("window", 0);
    if (window > 255) throw py::value_error("window must be at most " + std::to_string(GB_MAX_WINDOW));
    cfg_.window = static_cast<uint8_t>(window);
    cfg_.max_message = u16("max_message", 0);
    cfg_.tx_queue_bytes = static_cast<uint32_t>(get("tx_queue_bytes", 0));
    cfg_.hello_interval_ms = u16("hello_interval_ms", 0);
    cfg_.heartbeat_ms = u16("heartbeat_ms", 0);
    cfg_.link_timeout_ms = u16("link_timeout_ms", 0);
    cfg_.ack_delay_ms = u16("ack_delay_ms", 0);
    cfg_.rto_initial_ms = u16("rto_initial_ms", 0);
    cfg_.rto_min_ms = u16("rto_min_ms", 0);
    cfg_.rto_max_ms = u16("rto_max_ms", 0);
    cfg_.protocol_version = static_cast<uint32_t>(get("protocol_version", 0));
    cfg_.min_protocol_version = static_cast<uint32_t>(get("min_protocol_version", 0));
    if (const char* problem = gb_link_config_problem(&cfg_)) {
      throw py::value_error(std::string("invalid link configuration: ") + problem);
    }
    gb_status st = gb_link_config_normalize(&cfg_);
    size_t need = gb_link_mem_size(&cfg_);
    mem_.reset(new uint64_t[(need + 7) / 8]);
    link_ = gb_link_init(&cfg_, mem_.get(), (need + 7) / 8 * 8, static_cast<uint32_t>(get("now_ms", 0)), &st);
    if (!link_) throw py::value_error(std::string("link init failed: ") + gb_status_str(st));
  }

  void receive(const py::buffer& data, uint32_t now) {
    Bytes b = bytes_of(data, "data");
    gb_link_receive(link_, b.data(), b.size(), now);
  }

  int send(int channel, const py::buffer& message, uint32_t now) {
    Bytes b = bytes_of(message, "message");
    if (channel < 0 || channel > 255) return GB_ERR_BAD_CHANNEL;
    return gb_link_send(link_, static_cast<uint8_t>(channel), b.data(), b.size(), now);
  }

  std::optional<py::bytes> poll_tx(uint32_t now) {
    if (out_.size() < gb_link_max_wire_size(&cfg_)) out_.resize(gb_link_max_wire_size(&cfg_));
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
    return py::make_tuple(static_cast<int>(ev.type), ev.channel, data, ev.dropped, peer);
  }

  uint32_t next_deadline(uint32_t now) const { return gb_link_next_deadline(link_, now); }
  int state() const { return static_cast<int>(gb_link_get_state(link_)); }
  size_t tx_free() const { return gb_link_tx_free(link_); }
  size_t tx_pending() const { return gb_link_tx_pending(link_); }
  size_t max_message() const { return gb_link_max_message(link_); }
  size_t max_wire_size() const { return gb_link_max_wire_size(&cfg_); }

  std::optional<py::dict> peer() const {
    gb_peer_info p;
    if (!gb_link_get_peer(link_, &p)) return std::nullopt;
    return peer_dict(p);
  }

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
    return d;
  }

  py::dict config() const {
    py::dict d;
    d["profile"] = static_cast<int>(cfg_.profile);
    d["max_frame"] = cfg_.max_frame;
    d["window"] = cfg_.window;
    d["max_message"] = cfg_.max_message;
    d["tx_queue_bytes"] = cfg_.tx_queue_bytes;
    d["hello_interval_ms"] = cfg_.hello_interval_ms;
    d["heartbeat_ms"] = cfg_.heartbeat_ms;
    d["link_timeout_ms"] = cfg_.link_timeout_ms;
    d["ack_delay_ms"] = cfg_.ack_delay_ms;
    d["rto_initial_ms"] = cfg_.rto_initial_ms;
    d["rto_min_ms"] = cfg_.rto_min_ms;
    d["rto_max_ms"] = cfg_.rto_max_ms;
    d["protocol_version"] = cfg_.protocol_version;
    d["min_protocol_version"] = cfg_.min_protocol_version;
    return d;
  }

 private:
  gb_link_config cfg_{};
  std::string firmware_;
  std::unique_ptr<uint64_t[]> mem_;
  gb_link* link_ = nullptr;
  std::vector<uint8_t> out_;
};

}  // namespace

void register_link(py::module_& m) {
  py::class_<LinkEngine>(m, "LinkEngine", R"doc(
The C link engine (protocol/c/link.h), sans-IO. Use glassbridge.protocol.link.Link, which wraps it.

config: a dict with the gb_link_config fields (profile 0 uart / 1 packet, role, session, boot_counter,
capabilities, firmware_version, max_frame, window, max_message, tx_queue_bytes, the *_ms timers,
protocol_version, min_protocol_version) and now_ms (the engine clock at creation); absent or 0 = default.
Times are uint32 milliseconds that may wrap.)doc")
      .def(py::init<const py::dict&>(), py::arg("config"))
      .def("receive", &LinkEngine::receive, py::arg("data"), py::arg("now"),
           "Bytes from the wire (uart: any slice of the stream; packet: exactly one datagram).")
      .def("send", &LinkEngine::send, py::arg("channel"), py::arg("message"), py::arg("now"),
           "Queues a message; returns the gb_status code (0 = ok).")
      .def("poll_tx", &LinkEngine::poll_tx, py::arg("now"), "The next frame to write, or None.")
      .def("poll_event", &LinkEngine::poll_event,
           "The next event as (type, channel, data, dropped, peer), or None.")
      .def("next_deadline", &LinkEngine::next_deadline, py::arg("now"),
           "When poll_tx must next run even without input (absolute, same clock as now).")
      .def_property_readonly("state", &LinkEngine::state)
      .def_property_readonly("tx_free", &LinkEngine::tx_free)
      .def_property_readonly("tx_pending", &LinkEngine::tx_pending)
      .def_property_readonly("max_message", &LinkEngine::max_message)
      .def_property_readonly("max_wire_size", &LinkEngine::max_wire_size)
      .def("peer", &LinkEngine::peer, "The peer's Hello fields as a dict, or None before the first Hello.")
      .def("stats", &LinkEngine::stats, "Counters (gb_link_stats) as a dict.")
      .def("config", &LinkEngine::config, "The normalised configuration (defaults filled in).");

  m.def("link_status_str", [](int s) { return std::string(gb_status_str(static_cast<gb_status>(s))); },
        py::arg("status"), "The text of a gb_status code.");
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
