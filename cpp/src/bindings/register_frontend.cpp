// Python binding of the wake word's audio frontend (nn/include/gbnn/frontend.h), in glassbridge.nn._nn: type
// conversion and checks only. PCM arrives as bytes-like little-endian PCM16 (bytes, bytearray, memoryview) or as a
// contiguous int16 numpy array; nothing else is converted silently. The C state lives inside the Python object.
// The GIL is released around the C calls; a per-object mutex serialises them.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "gbnn/frontend.h"

namespace py = pybind11;

namespace {

constexpr size_t kStep = GBNN_FRONTEND_STEP_SAMPLES;
constexpr size_t kChannels = GBNN_FRONTEND_CHANNELS;

// PCM16 as a contiguous buffer: its samples (unaligned bytes are copied out with memcpy by the caller).
struct Pcm {
  py::buffer_info info;
  const uint8_t* data = nullptr;
  size_t samples = 0;
};

Pcm pcm_of(const py::buffer& b) {
  Pcm p;
  p.info = b.request();
  const std::string& f = p.info.format;
  const bool bytes = p.info.itemsize == 1 && (f == "B" || f == "b" || f == "c");
  const bool int16 = p.info.itemsize == 2 && (f == "h" || f == "<h" || f == "=h");
  if (!bytes && !int16) {
    throw py::type_error("pcm must be bytes-like PCM16 (bytes, bytearray, memoryview) or an int16 array, got format " +
                         f);
  }
  if (p.info.ndim != 1 || (p.info.shape[0] > 1 && p.info.strides[0] != p.info.itemsize)) {
    throw py::value_error("pcm must be one-dimensional and contiguous");
  }
  const size_t nbytes = static_cast<size_t>(p.info.size) * static_cast<size_t>(p.info.itemsize);
  if (nbytes % 2 != 0) {
    throw py::value_error("pcm must hold whole 16-bit samples, got " + std::to_string(nbytes) + " bytes");
  }
  p.data = static_cast<const uint8_t*>(p.info.ptr);
  p.samples = nbytes / 2;
  return p;
}

// The C state, owned by the Python object. The mutex keeps two threads from stepping one stream at once (the GIL
// is released while the C code runs).
struct Frontend {
  gbnn_frontend fe;
  std::mutex mu;
  Frontend() { gbnn_frontend_init(&fe); }
};

// One step: exactly 160 samples. Returns the uint16 frame or None while the first window fills.
py::object process_raw(Frontend& self, const py::buffer& pcm) {
  Pcm p = pcm_of(pcm);
  if (p.samples != kStep) {
    throw py::value_error("process takes exactly " + std::to_string(kStep) + " samples (10 ms, " +
                          std::to_string(2 * kStep) + " bytes), got " + std::to_string(p.samples));
  }
  int16_t samples[kStep];
  std::memcpy(samples, p.data, sizeof samples);
  uint16_t frame[kChannels];
  int made;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(self.mu);
    made = gbnn_frontend_process(&self.fe, samples, frame);
  }
  if (!made) return py::none();
  py::array_t<uint16_t> out(static_cast<py::ssize_t>(kChannels));
  std::memcpy(out.mutable_data(), frame, sizeof frame);
  return std::move(out);
}

// Many steps at once: a multiple of 160 samples; returns (frames, 40) uint16, one row per step that made a frame.
py::array_t<uint16_t> process_stream(Frontend& self, const py::buffer& pcm) {
  Pcm p = pcm_of(pcm);
  if (p.samples % kStep != 0) {
    throw py::value_error("process_stream takes a multiple of " + std::to_string(kStep) + " samples, got " +
                          std::to_string(p.samples));
  }
  const size_t steps = p.samples / kStep;
  py::array_t<uint16_t> out({static_cast<py::ssize_t>(steps), static_cast<py::ssize_t>(kChannels)});
  uint16_t* rows = out.mutable_data();
  size_t frames = 0;
  {
    py::gil_scoped_release release;
    std::lock_guard<std::mutex> lock(self.mu);
    int16_t samples[kStep];
    for (size_t k = 0; k < steps; ++k) {
      std::memcpy(samples, p.data + k * 2 * kStep, sizeof samples);
      if (gbnn_frontend_process(&self.fe, samples, rows + frames * kChannels)) ++frames;
    }
  }
  out.resize({static_cast<py::ssize_t>(frames), static_cast<py::ssize_t>(kChannels)}, false);
  return out;
}

struct Quantizer {
  gbnn_frontend_quantizer q;
  float scale;
  int32_t zero_point;
};

}  // namespace

void register_frontend(py::module_& m) {
  m.attr("FRONTEND_STEP_SAMPLES") = kStep;
  m.attr("FRONTEND_WINDOW_SAMPLES") = GBNN_FRONTEND_WINDOW_SAMPLES;
  m.attr("FRONTEND_CHANNELS") = kChannels;
  m.attr("FRONTEND_FEATURE_SCALE") = static_cast<double>(GBNN_FRONTEND_FEATURE_SCALE);
  m.attr("FRONTEND_STATE_BYTES") = sizeof(gbnn_frontend);

  py::class_<Frontend>(m, "Frontend", R"doc(The wake word's audio frontend in fixed-point C (gbnn/frontend.h):
pymicro-features' MicroFrontend, bit for bit. 16 kHz PCM16, 10 ms (160 samples) per step, 40 uint16 values per
frame from the third step on.)doc")
      .def(py::init<>())
      .def("process_raw", &process_raw, py::arg("pcm"),
           "One 10 ms step (exactly 160 samples: 320 bytes of little-endian PCM16 or an int16 array): the frame's "
           "40 uint16 values, or None while the first 30 ms window fills.")
      .def("process_stream", &process_stream, py::arg("pcm"),
           "Steps over a multiple of 160 samples: a (frames, 40) uint16 array, one row per step that made a frame. "
           "The GIL is released meanwhile.")
      .def("reset",
           [](Frontend& self) {
             py::gil_scoped_release release;
             std::lock_guard<std::mutex> lock(self.mu);
             gbnn_frontend_reset(&self.fe);
           },
           "Forget the stream: empty window, zero noise estimates.");

  py::class_<Quantizer>(m, "FrontendQuantizer", R"doc(uint16 frontend values -> the wake-word model's int8 input,
exactly as clip(rint(float32(value * 5/128) / scale + zero_point), -128, 127) in float32, with integers only.)doc")
      .def(py::init([](float scale, int32_t zero_point) {
             Quantizer self{};
             if (!gbnn_frontend_quantizer_init(&self.q, scale, zero_point)) {
               throw py::value_error("scale must be finite and > 0 and zero_point in -128..127, got " +
                                     std::to_string(scale) + ", " + std::to_string(zero_point));
             }
             self.scale = scale;
             self.zero_point = zero_point;
             return self;
           }),
           py::arg("scale"), py::arg("zero_point"))
      .def_property_readonly("scale", [](const Quantizer& self) { return self.scale; })
      .def_property_readonly("zero_point", [](const Quantizer& self) { return self.zero_point; })
      .def_property_readonly(
          "thresholds",
          [](const Quantizer& self) {
            py::array_t<uint32_t> out(255);
            std::memcpy(out.mutable_data(), self.q.thresholds, sizeof self.q.thresholds);
            return out;
          },
          "thresholds[j]: the smallest value mapping to at least -127 + j (65536: none does).")
      .def(
          "quantize",
          [](const Quantizer& self, const py::array_t<uint16_t, py::array::c_style>& values) {
            py::array_t<int8_t> out(values.request().shape);
            const size_t n = static_cast<size_t>(values.size());
            gbnn_frontend_quantize_frame(&self.q, values.data(), out.mutable_data(), n);
            return out;
          },
          py::arg("values"),
          "int8 of each value of a uint16 array (any shape; a dtype numpy cannot cast to uint16 safely is refused).");
}
