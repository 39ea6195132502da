// glassbridge.protocol._link: the C link engine (protocol/c) and nothing else, so the protocol package never loads
// the image kernels. Type conversion only; the engine knows nothing of Python.
#include <pybind11/pybind11.h>

namespace py = pybind11;

void register_link(py::module_& m);  // register_link.cpp: enums, LinkConfig, LinkEngine

PYBIND11_MODULE(_link, m) {
  m.doc() = "The C link engine (protocol/c/include/glassbridge/link.h). See glassbridge.protocol.link.";
  register_link(m);
}
