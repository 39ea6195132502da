// Placeholder until the postprocess bindings land.
#include <pybind11/pybind11.h>
namespace py = pybind11;
void register_postprocess(py::module_& m) { (void)m; }
