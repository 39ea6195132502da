// glassbridge._native: creates the module and hands it to each area's register function (boost-histogram style).
// Type conversion only lives in src/bindings; the kernels in src/kernels know nothing of Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_preprocess(py::module_& m);   // register_preprocess.cpp: preprocess + ISA dispatch
void register_postprocess(py::module_& m);  // register_postprocess.cpp: BlazeFace decoding, NMS, softmax, top-k
void register_link(py::module_& m);         // register_link.cpp: the C link engine, CRC-32C, COBS, frames
void register_messages(py::module_& m);     // register_messages.cpp: the C message codec, for conformance tests

PYBIND11_MODULE(_native, m) {
  m.doc() = "glassbridge native kernels (C++): fused preprocessing, postprocessing. See glassbridge.vision.";
  register_preprocess(m);
  register_postprocess(m);
  register_messages(m);
  register_link(m);
}
