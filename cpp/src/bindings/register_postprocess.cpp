// Python bindings of the postprocessing kernels (include/glassbridge/postprocess.h), in glassbridge.vision._kernels
// (weighted_nms alone, for tests, in glassbridge._testing_native): type conversion only.
// Arrays are taken as they come from LiteRT (float32 / int8 / uint8, C-contiguous) and never converted silently:
// a wrong dtype or layout is a TypeError / ValueError naming the argument, so no hidden copy sneaks into the
// hot path. The GIL is released while the decoder and NMS run.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "glassbridge/postprocess.h"

namespace py = pybind11;
namespace gb = glassbridge;

namespace {

std::string dtype_name(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

bool c_contiguous(const py::array& a) { return (a.flags() & py::array::c_style) != 0; }

// A C-contiguous float32 array (any shape), else a TypeError/ValueError that says what to pass.
const float* float32_data(const py::array& a, const char* what) {
  if (!a.dtype().is(py::dtype::of<float>())) {
    throw py::type_error(std::string(what) + " must be a float32 array, got " + dtype_name(a) +
                         " (dequantize int8/uint8 model outputs first)");
  }
  if (!c_contiguous(a)) throw py::value_error(std::string(what) + " must be C-contiguous");
  return static_cast<const float*>(a.data());
}

// Detections as rows [xmin, ymin, xmax, ymax, score, kp0x, kp0y, ...] and the anchor (or input row) of each.
py::tuple to_arrays(const std::vector<gb::FaceDetection>& dets, int num_keypoints) {
  const py::ssize_t cols = 5 + 2 * num_keypoints;
  py::array_t<float> rows({static_cast<py::ssize_t>(dets.size()), cols});
  py::array_t<int64_t> anchors(static_cast<py::ssize_t>(dets.size()));
  float* r = rows.mutable_data();
  int64_t* a = anchors.mutable_data();
  for (const auto& d : dets) {
    r[0] = d.xmin;
    r[1] = d.ymin;
    r[2] = d.xmax;
    r[3] = d.ymax;
    r[4] = d.score;
    std::memcpy(r + 5, d.keypoints, sizeof(float) * static_cast<size_t>(2 * num_keypoints));
    r += cols;
    *a++ = d.anchor;
  }
  return py::make_tuple(std::move(rows), std::move(anchors));
}

// Holds the decoder (not movable: it owns a mutex) behind the Python object; run() serialises itself, so one
// detector may be shared between Python threads.
struct PyDecoder {
  PyDecoder(std::vector<gb::Anchor> anchors, const gb::SsdDecodeOptions& d, const gb::NmsOptions& n)
      : decoder(std::move(anchors), d, n) {}
  gb::SsdFaceDecoder decoder;
};

std::vector<gb::Anchor> anchors_from_array(const py::array& anchors) {
  const float* p = float32_data(anchors, "anchors");
  if (anchors.ndim() != 2 || anchors.shape(1) != 4) {
    throw py::value_error("anchors must have shape (num_boxes, 4): x_center, y_center, width, height");
  }
  std::vector<gb::Anchor> out(static_cast<size_t>(anchors.shape(0)));
  for (size_t i = 0; i < out.size(); ++i) out[i] = {p[4 * i], p[4 * i + 1], p[4 * i + 2], p[4 * i + 3]};
  return out;
}

py::tuple run_decoder(PyDecoder& self, const py::array& regressors, const py::array& scores, bool suppress) {
  const float* boxes = float32_data(regressors, "regressors");
  const float* logits = float32_data(scores, "scores");
  const size_t nb = static_cast<size_t>(regressors.size()), ns = static_cast<size_t>(scores.size());
  std::vector<gb::FaceDetection> out;
  out.reserve(suppress ? 16 : self.decoder.num_boxes());
  {
    py::gil_scoped_release release;
    if (suppress) {
      self.decoder.run(boxes, nb, logits, ns, out);
    } else {
      self.decoder.decode_only(boxes, nb, logits, ns, out);
    }
  }
  return to_arrays(out, self.decoder.decode_options().num_keypoints);
}

}  // namespace

void register_postprocess(py::module_& m) {
  py::class_<PyDecoder>(m, "SsdFaceDecoder", R"doc(
BlazeFace (MediaPipe SSD) decoder with weighted non-maximum suppression, for one detector model.

anchors: float32 (num_boxes, 4) rows [x_center, y_center, width, height] normalised to the model input
(glassbridge.vision.anchors makes them). The scales are MediaPipe's: the model input size in pixels. Box
coordinates come back normalised to the model input; the caller maps them to the source image.
)doc")
      .def(py::init([](const py::array& anchors, float x_scale, float y_scale, float w_scale, float h_scale,
                       int num_coords, int num_keypoints, float score_clipping, float min_score,
                       float iou_threshold, size_t max_detections) {
             gb::SsdDecodeOptions d;
             d.x_scale = x_scale;
             d.y_scale = y_scale;
             d.w_scale = w_scale;
             d.h_scale = h_scale;
             d.num_coords = num_coords;
             d.num_keypoints = num_keypoints;
             d.score_clipping = score_clipping;
             d.min_score = min_score;
             gb::NmsOptions n;
             n.iou_threshold = iou_threshold;
             n.max_detections = max_detections;
             return new PyDecoder(anchors_from_array(anchors), d, n);
           }),
           py::arg("anchors"), py::kw_only(), py::arg("x_scale"), py::arg("y_scale"), py::arg("w_scale"),
           py::arg("h_scale"), py::arg("num_coords") = 16, py::arg("num_keypoints") = 6,
           py::arg("score_clipping") = 100.0f, py::arg("min_score") = 0.5f, py::arg("iou_threshold") = 0.3f,
           py::arg("max_detections") = 100)
      .def(
          "decode",
          [](PyDecoder& self, const py::array& regressors, const py::array& scores) -> py::object {
            // A named tuple first: indexing a temporary py::tuple would return an accessor into a dead object.
            py::tuple both = run_decoder(self, regressors, scores, true);
            return both[0];
          },
          py::arg("regressors"), py::arg("scores"),
          R"doc(Decode the model's two outputs and suppress overlaps (weighted NMS).

regressors: float32 with num_boxes * num_coords values (the model's (1, N, 16) output); scores: float32 with
num_boxes logits. Returns float32 (K, 5 + 2 * num_keypoints): [xmin, ymin, xmax, ymax, score, kp0x, kp0y, ...],
best first. The GIL is released while it runs.)doc")
      .def(
          "decode_boxes",
          [](PyDecoder& self, const py::array& regressors, const py::array& scores) {
            return run_decoder(self, regressors, scores, false);
          },
          py::arg("regressors"), py::arg("scores"),
          "Decoding only, before suppression: (rows as in decode(), anchor index of each row int64).")
      .def_property_readonly("num_boxes", [](const PyDecoder& s) { return s.decoder.num_boxes(); })
      .def_property_readonly("num_keypoints",
                             [](const PyDecoder& s) { return s.decoder.decode_options().num_keypoints; })
      .def_property_readonly("min_score", [](const PyDecoder& s) { return s.decoder.decode_options().min_score; })
      .def_property_readonly("iou_threshold",
                             [](const PyDecoder& s) { return s.decoder.nms_options().iou_threshold; });

  m.def(
      "softmax",
      [](const py::array& x) {
        const float* p = float32_data(x, "x");
        if (x.ndim() < 1 || x.shape(x.ndim() - 1) == 0) throw py::value_error("softmax needs a non-empty last axis");
        const size_t cols = static_cast<size_t>(x.shape(x.ndim() - 1));
        const size_t rows = static_cast<size_t>(x.size()) / cols;
        std::vector<py::ssize_t> shape(x.shape(), x.shape() + x.ndim());
        py::array_t<float> out(shape);
        gb::softmax(p, out.mutable_data(), rows, cols);
        return out;
      },
      py::arg("x"), "Softmax over the last axis of a float32 array (max subtracted first: no overflow).");

  m.def(
      "top_k",
      [](const py::array& x, size_t k) {
        const float* p = float32_data(x, "x");
        if (x.ndim() != 1) throw py::value_error("top_k takes a 1-D array");
        py::array_t<int64_t> idx(static_cast<py::ssize_t>(k));
        py::array_t<float> val(static_cast<py::ssize_t>(k));
        gb::top_k(p, static_cast<size_t>(x.size()), k, idx.mutable_data(), val.mutable_data());
        return py::make_tuple(std::move(idx), std::move(val));
      },
      py::arg("x"), py::arg("k"),
      "The k largest values, best first: (indices int64, values float32). Ties: lower index first; NaN last.");

  m.def(
      "dequantize",
      [](const py::array& q, float scale, int32_t zero_point) {
        if (!c_contiguous(q)) throw py::value_error("q must be C-contiguous");
        std::vector<py::ssize_t> shape(q.shape(), q.shape() + q.ndim());
        py::array_t<float> out(shape);
        const size_t n = static_cast<size_t>(q.size());
        float* o = out.mutable_data();
        if (q.dtype().is(py::dtype::of<int8_t>())) {
          const auto* src = static_cast<const int8_t*>(q.data());
          py::gil_scoped_release release;
          gb::dequantize(src, n, scale, zero_point, o);
        } else if (q.dtype().is(py::dtype::of<uint8_t>())) {
          const auto* src = static_cast<const uint8_t*>(q.data());
          py::gil_scoped_release release;
          gb::dequantize(src, n, scale, zero_point, o);
        } else {
          throw py::type_error("dequantize takes an int8 or uint8 array, got " + dtype_name(q));
        }
        return out;
      },
      py::arg("q"), py::arg("scale"), py::arg("zero_point"),
      "real = (q - zero_point) * scale for an int8 or uint8 array (a model's quantised tensor), as float32.");
}

#ifdef GLASSBRIDGE_TEST_BINDINGS
// Test-only (glassbridge._testing_native): the suppression alone, which the tests hold to the float64 reference
// (SsdFaceDecoder runs it inside decode()).
void register_postprocess_testing(py::module_& m) {
  m.def(
      "weighted_nms",
      [](const py::array& detections, float iou_threshold, size_t max_detections, int num_keypoints) {
        const float* p = float32_data(detections, "detections");
        const py::ssize_t cols = 5 + 2 * num_keypoints;
        if (num_keypoints < 0 || num_keypoints > gb::kMaxKeypoints) {
          throw py::value_error("num_keypoints must be in 0.." + std::to_string(gb::kMaxKeypoints));
        }
        if (detections.ndim() != 2 || detections.shape(1) != cols) {
          throw py::value_error("detections must have shape (K, " + std::to_string(cols) +
                                "): xmin, ymin, xmax, ymax, score and " + std::to_string(num_keypoints) +
                                " keypoint pairs");
        }
        std::vector<gb::FaceDetection> in(static_cast<size_t>(detections.shape(0)));
        for (size_t i = 0; i < in.size(); ++i) {
          const float* r = p + i * static_cast<size_t>(cols);
          gb::FaceDetection& d = in[i];
          d.xmin = r[0];
          d.ymin = r[1];
          d.xmax = r[2];
          d.ymax = r[3];
          d.score = r[4];
          d.anchor = static_cast<int>(i);
          std::memcpy(d.keypoints, r + 5, sizeof(float) * static_cast<size_t>(2 * num_keypoints));
        }
        gb::NmsOptions opt;
        opt.iou_threshold = iou_threshold;
        opt.max_detections = max_detections;
        std::vector<gb::FaceDetection> out;
        std::vector<uint32_t> order;
        {
          py::gil_scoped_release release;
          gb::weighted_nms(in, opt, num_keypoints, out, order);
        }
        return to_arrays(out, num_keypoints);
      },
      py::arg("detections"), py::kw_only(), py::arg("iou_threshold") = 0.3f, py::arg("max_detections") = 100,
      py::arg("num_keypoints") = 6,
      R"doc(MediaPipe's weighted NMS on rows [xmin, ymin, xmax, ymax, score, keypoints...] (float32).

Returns (blended rows best first, index of each cluster's leading input row).)doc");
}
#endif  // GLASSBRIDGE_TEST_BINDINGS
