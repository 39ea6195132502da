// glassbridge.vision._kernels: creates the module and hands it to each area's register function (boost-histogram
// style). Type conversion only lives in src/bindings; the kernels in src/kernels know nothing of Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_preprocess(py::module_& m);   // register_preprocess.cpp: preprocess + ISA dispatch
void register_postprocess(py::module_& m);  // register_postprocess.cpp: BlazeFace decoding, softmax, top-k
void register_redact(py::module_& m);       // register_redact.cpp: pixelating boxes (faces in the phone's photo)

PYBIND11_MODULE(_kernels, m) {
  m.doc() = "glassbridge native kernels (C++): fused preprocessing, postprocessing, redaction. See glassbridge.vision.";
  register_preprocess(m);
  register_postprocess(m);
  register_redact(m);
}
