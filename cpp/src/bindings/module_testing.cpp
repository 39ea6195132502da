// glassbridge._testing_native: what only the tests call, built only with GLASSBRIDGE_TEST_BINDINGS (the editable
// dev install; never a wheel). Each area's test bindings sit beside its others, under #ifdef
// GLASSBRIDGE_TEST_BINDINGS, and this module is compiled from those files with the macro defined.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_preprocess_testing(py::module_& m);   // register_preprocess.cpp: preprocess_ref
void register_postprocess_testing(py::module_& m);  // register_postprocess.cpp: weighted_nms
void register_link_testing(py::module_& m);         // register_link.cpp: CRC-32C, COBS, frames
void register_messages(py::module_& m);             // register_messages.cpp: the C message codec's round trip

PYBIND11_MODULE(_testing_native, m) {
  m.doc() = "Test-only bindings of the kernels' reference paths, the frame primitives and the C message codec.";
  register_preprocess_testing(m);
  register_postprocess_testing(m);
  register_link_testing(m);
  register_messages(m);
}
