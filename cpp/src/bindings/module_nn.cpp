// glassbridge.nn._nn: the int8 engine and the wake word's audio frontend (nn/, portable C) and nothing else.
// Type conversion only; the C code knows nothing of Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_engine(py::module_& m);    // register_engine.cpp: Interpreter over nn/include/gbnn/engine.h
void register_frontend(py::module_& m);  // register_frontend.cpp: the microWakeWord frontend (gbnn/frontend.h)

PYBIND11_MODULE(_nn, m) {
  m.doc() = "glassbridge's int8 engine (bit-exact with TFLite Micro) and audio frontend. See glassbridge.nn.";
  register_engine(m);
  register_frontend(m);
}
