// Placeholder until the preprocess bindings land.
#include <pybind11/pybind11.h>
namespace py = pybind11;
void register_preprocess(py::module_& m) { (void)m; }
