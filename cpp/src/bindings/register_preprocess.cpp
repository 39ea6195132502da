// Python bindings of the fused preprocessing kernel and the ISA dispatch (glassbridge.vision._kernels): type
// conversion and checks of the numpy arrays only. The kernel's own validate() checks geometry; its
// std::invalid_argument becomes ValueError. preprocess_ref is for tests only (glassbridge._testing_native).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "glassbridge/dispatch.h"
#include "glassbridge/preprocess.h"

namespace py = pybind11;
using namespace glassbridge;

namespace {

[[noreturn]] void value_error(const std::string& msg) { throw py::value_error(msg); }

int planes_of(PixelFormat f) {
  switch (f) {
    case PixelFormat::NV12: return 2;
    case PixelFormat::I420: return 3;
    default: return 1;
  }
}

// Rows and bytes per row plane i must have (the same geometry preprocess.h documents).
std::pair<py::ssize_t, py::ssize_t> plane_need(PixelFormat f, int w, int h, int i) {
  const py::ssize_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  switch (f) {
    case PixelFormat::NV12: return i == 0 ? std::make_pair<py::ssize_t, py::ssize_t>(h, w) : std::make_pair(ch, 2 * cw);
    case PixelFormat::I420: return i == 0 ? std::make_pair<py::ssize_t, py::ssize_t>(h, w) : std::make_pair(ch, cw);
    case PixelFormat::YUYV:
    case PixelFormat::RGB565: return {h, 2 * static_cast<py::ssize_t>(w)};
    case PixelFormat::RGB888:
    case PixelFormat::BGR888: return {h, 3 * static_cast<py::ssize_t>(w)};
    case PixelFormat::RGBA8888: return {h, 4 * static_cast<py::ssize_t>(w)};
    case PixelFormat::GRAY8: return {h, w};
  }
  return {h, w};
}

SourceImage make_source(const py::sequence& planes, int format, int width, int height, int range,
                        std::vector<py::array>& keep) {
  if (format < 0 || format > static_cast<int>(PixelFormat::GRAY8)) {
    value_error("pixel format " + std::to_string(format) + " is unknown (NV12=0 .. GRAY8=7)");
  }
  SourceImage src;
  src.format = static_cast<PixelFormat>(format);
  src.width = width;
  src.height = height;
  src.range = static_cast<YuvRange>(range);
  const std::string fmt = to_string(src.format);
  const int n = planes_of(src.format);
  if (static_cast<int>(py::len(planes)) != n) {
    value_error(fmt + " needs " + std::to_string(n) + " planes, got " + std::to_string(py::len(planes)));
  }
  if (width <= 0 || height <= 0) {
    value_error(fmt + " source size " + std::to_string(width) + "x" + std::to_string(height) + " must be positive");
  }
  for (int i = 0; i < n; ++i) {
    const std::string name = fmt + " plane " + std::to_string(i);
    py::object obj = planes[static_cast<size_t>(i)];
    if (!py::isinstance<py::array>(obj)) value_error(name + " must be a numpy uint8 array");
    py::array a = obj.cast<py::array>();
    if (!a.dtype().is(py::dtype::of<uint8_t>())) {
      value_error(name + " must have dtype uint8, got " + std::string(py::str(a.dtype())));
    }
    if (a.ndim() != 2) value_error(name + " must be a 2-D array (rows, bytes), got " + std::to_string(a.ndim()) + "-D");
    if (a.strides(1) != 1 || a.strides(0) <= 0) {
      value_error(name + ": bytes within a row must be contiguous and rows must advance (strides " +
                  std::to_string(a.strides(0)) + ", " + std::to_string(a.strides(1)) + ")");
    }
    const auto need = plane_need(src.format, width, height, i);
    if (a.shape(0) < need.first || a.shape(1) < need.second) {
      value_error(name + " is too small for " + std::to_string(width) + "x" + std::to_string(height) + ": need " +
                  std::to_string(need.first) + " rows of " + std::to_string(need.second) + " bytes, got shape (" +
                  std::to_string(a.shape(0)) + ", " + std::to_string(a.shape(1)) + ")");
    }
    src.plane[i] = static_cast<const uint8_t*>(a.data());
    src.stride[i] = a.strides(0);
    src.plane_size[i] = static_cast<size_t>((a.shape(0) - 1) * a.strides(0) + a.shape(1));
    keep.push_back(std::move(a));
  }
  return src;
}

OutputSpec make_output(const py::array& out, int channels, const std::array<float, 3>& mul,
                       const std::array<float, 3>& add, const std::array<int, 4>& dst,
                       const std::array<float, 3>& pad, int interpolation) {
  OutputSpec spec;
  if (interpolation != 0 && interpolation != 1) {
    value_error("interpolation " + std::to_string(interpolation) + " is unknown (0 bilinear, 1 area)");
  }
  spec.interpolation = static_cast<Interpolation>(interpolation);
  if (channels < 0 || channels > 2) value_error("channels " + std::to_string(channels) + " is unknown (RGB=0, BGR=1, Gray=2)");
  spec.channels = static_cast<Channels>(channels);
  const int nch = spec.channels == Channels::Gray ? 1 : 3;
  if (out.dtype().is(py::dtype::of<uint8_t>())) {
    spec.type = OutputType::UInt8;
  } else if (out.dtype().is(py::dtype::of<int8_t>())) {
    spec.type = OutputType::Int8;
  } else if (out.dtype().is(py::dtype::of<float>())) {
    spec.type = OutputType::Float32;
  } else {
    value_error("output dtype must be uint8, int8 or float32, got " + std::string(py::str(out.dtype())));
  }
  const py::ssize_t nd = out.ndim();
  if (nd != 3 && !(nd == 4 && out.shape(0) == 1)) {
    std::string shape;
    for (py::ssize_t i = 0; i < nd; ++i) shape += (i ? ", " : "") + std::to_string(out.shape(i));
    value_error("output must have shape (H, W, C) or (1, H, W, C), got (" + shape + ")");
  }
  if (out.shape(nd - 1) != nch) {
    value_error("output has " + std::to_string(out.shape(nd - 1)) + " channels, " +
                std::string(channels == 2 ? "gray" : "RGB/BGR") + " output needs " + std::to_string(nch));
  }
  if (!out.writeable()) value_error("output array is read-only: pass a writeable array (e.g. the input tensor view)");
  if (!(out.flags() & py::array::c_style)) value_error("output array must be C-contiguous");
  spec.height = static_cast<int>(out.shape(nd - 3));
  spec.width = static_cast<int>(out.shape(nd - 2));
  if (out.shape(nd - 3) != spec.height || out.shape(nd - 2) != spec.width) value_error("output is too large");
  spec.data = const_cast<void*>(out.data());  // writeable checked above
  spec.row_stride = out.strides(nd - 3);
  spec.size = static_cast<size_t>(out.nbytes());
  for (int c = 0; c < 3; ++c) {
    spec.mul[c] = mul[c];
    spec.add[c] = add[c];
    spec.pad[c] = pad[c];
  }
  spec.dst = Rect{dst[0], dst[1], dst[2], dst[3]};
  return spec;
}

using Kernel = void (*)(const SourceImage&, const Rect&, const OutputSpec&);

void call(Kernel kernel, const py::sequence& planes, int format, int width, int height, int range,
          const std::array<int, 4>& crop, py::array out, int channels, const std::array<float, 3>& mul,
          const std::array<float, 3>& add, const std::array<int, 4>& dst, const std::array<float, 3>& pad,
          int interpolation) {
  std::vector<py::array> keep;  // the planes stay referenced (and alive) while the GIL is released
  const SourceImage src = make_source(planes, format, width, height, range, keep);
  const OutputSpec spec = make_output(out, channels, mul, add, dst, pad, interpolation);
  const Rect r{crop[0], crop[1], crop[2], crop[3]};
  validate(src, r, spec);  // with the GIL held: errors raise as ValueError at once
  py::gil_scoped_release release;
  kernel(src, r, spec);
}

constexpr const char* kDoc = R"(Fused preprocessing: crop, resize (bilinear or area), convert, normalise, quantise.

planes: sequence of 2-D uint8 arrays (NV12: Y, UV; I420: Y, U, V; packed formats: one), rows contiguous, any row
stride. format: PixelFormat value; range: YuvRange value. crop: (x, y, w, h) in source pixels. out: writeable
C-contiguous (H, W, C) or (1, H, W, C) array of uint8, int8 or float32 (the output type). channels: 0 RGB, 1 BGR,
2 Gray. mul, add: per output channel, y = v * mul + add for the interpolated value v (0..255). dst: (x, y, w, h)
where the crop lands in the output, (0, 0, 0, 0) for all of it; pad: value (0..255 scale) outside dst.
interpolation: 0 bilinear (2x2 taps), 1 area (source footprint averaged, as OpenCV INTER_AREA; preprocess.h).
The GIL is released while the kernel runs: do not modify the planes or out from another thread meanwhile.)";

}  // namespace

#define GB_PREPROCESS_ARGS                                                                                        \
  py::arg("planes"), py::arg("format"), py::arg("width"), py::arg("height"), py::arg("range"), py::arg("crop"),   \
      py::arg("out"), py::arg("channels"), py::arg("mul"), py::arg("add"), py::arg("dst"), py::arg("pad"),        \
      py::arg("interpolation") = 0

void register_preprocess(py::module_& m) {
  m.def(
      "preprocess",
      [](const py::sequence& planes, int format, int width, int height, int range, const std::array<int, 4>& crop,
         py::array out, int channels, const std::array<float, 3>& mul, const std::array<float, 3>& add,
         const std::array<int, 4>& dst, const std::array<float, 3>& pad, int interpolation) {
        call(&preprocess, planes, format, width, height, range, crop, std::move(out), channels, mul, add, dst, pad,
             interpolation);
      },
      GB_PREPROCESS_ARGS, kDoc);
  m.def("isa", [] { return std::string(isa_name(active_isa())); }, "Name of the active SIMD path (ref, sse41, avx2, neon).");
  m.def(
      "available_isas",
      [] {
        std::vector<std::string> names;
        for (Isa i : glassbridge::available_isas()) names.emplace_back(isa_name(i));
        return names;
      },
      "SIMD paths compiled in and supported by this CPU, best last.");
  m.def(
      "set_isa", [](const std::string& name) { glassbridge::set_isa(isa_from_name(name)); }, py::arg("name"),
      "Force a SIMD path for this process (ValueError if unknown or unavailable).");
}

#ifdef GLASSBRIDGE_TEST_BINDINGS
// Test-only (glassbridge._testing_native): the scalar reference path, which the tests hold every SIMD path to.
void register_preprocess_testing(py::module_& m) {
  m.def(
      "preprocess_ref",
      [](const py::sequence& planes, int format, int width, int height, int range, const std::array<int, 4>& crop,
         py::array out, int channels, const std::array<float, 3>& mul, const std::array<float, 3>& add,
         const std::array<int, 4>& dst, const std::array<float, 3>& pad, int interpolation) {
        call(&preprocess_ref, planes, format, width, height, range, crop, std::move(out), channels, mul, add, dst,
             pad, interpolation);
      },
      GB_PREPROCESS_ARGS, "preprocess() forced onto the scalar reference path (same arguments).");
}
#endif  // GLASSBRIDGE_TEST_BINDINGS
