// Python binding of the pixelation kernel (include/glassbridge/redact.h), in glassbridge.vision._kernels: type
// conversion and checks of the numpy arrays only. The image is changed in place, so it must be a writable uint8
// array whose pixels are packed within a row (rows may be padded); nothing is copied or converted silently. The
// kernel's std::invalid_argument becomes ValueError. The GIL is released while it runs.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "glassbridge/redact.h"

namespace py = pybind11;
namespace gb = glassbridge;

void register_redact(py::module_& m) {
  m.def(
      "pixelate",
      [](py::array& image, const py::array& boxes, int max_blocks, int min_block) {
        if (!image.dtype().is(py::dtype::of<uint8_t>())) {
          throw py::type_error("image must be a uint8 array, got " + py::str(image.dtype()).cast<std::string>());
        }
        if (image.ndim() != 2 && image.ndim() != 3) {
          throw py::value_error("image must have shape (height, width) or (height, width, channels), got ndim " +
                                std::to_string(image.ndim()));
        }
        if (!image.writeable()) throw py::value_error("image must be writable (it is pixelated in place)");
        const py::ssize_t channels = image.ndim() == 3 ? image.shape(2) : 1;
        if (image.ndim() == 3 && image.strides(2) != 1) {
          throw py::value_error("image channels must be contiguous (strides[2] == 1)");
        }
        if (image.strides(1) != channels || image.strides(0) < image.shape(1) * channels) {
          throw py::value_error("image pixels must be packed within a row (rows may be padded, not reversed)");
        }
        if (!boxes.dtype().is(py::dtype::of<int32_t>())) {
          throw py::type_error("boxes must be an int32 array, got " + py::str(boxes.dtype()).cast<std::string>());
        }
        if (boxes.ndim() != 2 || boxes.shape(1) != 4) {
          throw py::value_error("boxes must have shape (N, 4): x0, y0, x1, y1 (half-open, pixels)");
        }
        if ((boxes.flags() & py::array::c_style) == 0) throw py::value_error("boxes must be C-contiguous");
        if (image.shape(0) > INT32_MAX || image.shape(1) > INT32_MAX || channels > 4) {
          throw py::value_error("image must be at most 2^31-1 pixels each way with 1..4 channels");
        }
        gb::PixelateOptions opt;
        opt.max_blocks = max_blocks;
        opt.min_block = min_block;
        gb::validate(opt);
        auto* data = static_cast<uint8_t*>(image.mutable_data());
        const auto* b = static_cast<const gb::RedactBox*>(boxes.data());
        static_assert(sizeof(gb::RedactBox) == 4 * sizeof(int32_t), "RedactBox is four packed int32");
        const int w = static_cast<int>(image.shape(1)), h = static_cast<int>(image.shape(0));
        const size_t n = static_cast<size_t>(boxes.shape(0)), stride = static_cast<size_t>(image.strides(0));
        py::gil_scoped_release release;
        return gb::pixelate_boxes(data, w, h, static_cast<int>(channels), stride, b, n, opt);
      },
      py::arg("image"), py::arg("boxes"), py::kw_only(), py::arg("max_blocks") = 6, py::arg("min_block") = 4,
      R"doc(Pixelate boxes of an 8-bit image in place; returns how many boxes were non-empty inside the image.

image: uint8 (H, W) or (H, W, C), C = 1..4, pixels packed within a row (rows may be padded). boxes: int32 (N, 4)
rows [x0, y0, x1, y1], half-open, in pixels; clamped to the image, empty ones skipped. Each box is cut into
square blocks of max(min_block, ceil(max(w, h) / max_blocks)) pixels from its top-left corner (the last ones cut
by the box's edge); every pixel of a block becomes the block's per-channel mean, rounded half up. Boxes apply in
order (a later one averages what an earlier one wrote). Cost: the boxes' area. The GIL is released meanwhile.)doc");
}
