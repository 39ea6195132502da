// Python bindings of gbnn, the int8 engine (nn/include/gbnn/engine.h): type conversion only. glassbridge.nn.engine
// wraps Interpreter into Int8Model (LiteRT-like details, from_file / from_bytes).
//
// The Interpreter owns a 16-byte aligned copy of the model (gbnn uses constants in place) and the arena. With no
// arena size given it starts from a guess and opens again with the size gbnn reports (GBNN_ARENA_TOO_SMALL carries
// it) until the model fits, so arena_used is what the model needs. A gbnn error becomes glassbridge.nn._nn.EngineError
// with .status (the status's name, e.g. "GBNN_UNSUPPORTED"), .node and .subgraph (-1 when not about a node) and the
// engine's message. Inputs are copied in; outputs and tensors are copied out as numpy arrays of the tensor's dtype
// and shape (a copy: the arena's bytes are reused by the next invoke). invoke() releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "gbnn/engine.h"
#include "gbnn/isa.h"

namespace py = pybind11;

namespace {

PyObject* g_engine_error = nullptr;  // a new reference kept for the module's life (no static py::object)

const char* status_name(gbnn_status s) {
  switch (s) {
    case GBNN_OK: return "GBNN_OK";
    case GBNN_BAD_MODEL: return "GBNN_BAD_MODEL";
    case GBNN_UNSUPPORTED: return "GBNN_UNSUPPORTED";
    case GBNN_ARENA_TOO_SMALL: return "GBNN_ARENA_TOO_SMALL";
    case GBNN_BAD_ARGUMENT: return "GBNN_BAD_ARGUMENT";
    case GBNN_RUNTIME: return "GBNN_RUNTIME";
  }
  return "GBNN_UNKNOWN";
}

[[noreturn]] void raise_error(const gbnn_error& e) {
  py::object cls = py::reinterpret_borrow<py::object>(g_engine_error);
  py::object exc = cls(std::string(status_name(e.status)) + ": " + e.message);
  exc.attr("status") = status_name(e.status);
  exc.attr("message") = std::string(e.message);
  exc.attr("node") = e.node;
  exc.attr("subgraph") = e.subgraph;
  exc.attr("arena_needed") = e.arena_needed;
  PyErr_SetObject(g_engine_error, exc.ptr());
  throw py::error_already_set();
}

py::dtype dtype_of(uint8_t type) {
  switch (type) {
    case GBNN_FLOAT32: return py::dtype::of<float>();
    case GBNN_INT32: return py::dtype::of<int32_t>();
    case GBNN_UINT8: return py::dtype::of<uint8_t>();
    case GBNN_INT64: return py::dtype::of<int64_t>();
    case GBNN_BOOL: return py::dtype("bool");
    case GBNN_INT16: return py::dtype::of<int16_t>();
    case GBNN_INT8: return py::dtype::of<int8_t>();
    default: throw py::value_error("a resource tensor holds no data");
  }
}

const char* type_name(uint8_t type) {
  switch (type) {
    case GBNN_FLOAT32: return "float32";
    case GBNN_INT32: return "int32";
    case GBNN_UINT8: return "uint8";
    case GBNN_INT64: return "int64";
    case GBNN_BOOL: return "bool";
    case GBNN_INT16: return "int16";
    case GBNN_INT8: return "int8";
    case GBNN_RESOURCE: return "resource";
  }
  return "unknown";
}

std::vector<py::ssize_t> shape_of(const gbnn_tensor& t) { return std::vector<py::ssize_t>(t.dims, t.dims + t.rank); }

// 16-byte aligned bytes (the model's copy, the arena).
class Aligned {
 public:
  explicit Aligned(size_t n) : storage_(n + 16) {
    auto p = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + ((16 - (p % 16)) % 16);
    size_ = n;
  }
  uint8_t* data() { return data_; }
  size_t size() const { return size_; }

 private:
  std::vector<uint8_t> storage_;
  uint8_t* data_;
  size_t size_;
};

// The kernel set (gbnn/isa.h) named "ref", "sse41", "avx2", "neon" or "dsp" for one gbnn_open; none: the default.
gbnn_isa isa_of(const std::string& name) {
  for (int i = 0; i < GBNN_ISA_COUNT; i++) {
    if (name == gbnn_isa_name(static_cast<gbnn_isa>(i))) return static_cast<gbnn_isa>(i);
  }
  throw py::value_error("unknown kernel set '" + name + "' (ref, sse41, avx2, neon, dsp)");
}

class IsaScope {
 public:
  explicit IsaScope(const std::optional<std::string>& name) {
    if (!name.has_value()) return;
    const gbnn_isa isa = isa_of(*name);
    if (!gbnn_set_isa(isa)) throw py::value_error("kernel set '" + *name + "' is not available on this machine");
    active_ = true;
  }
  ~IsaScope() {
    if (active_) gbnn_set_isa(GBNN_ISA_AUTO);
  }
  IsaScope(const IsaScope&) = delete;
  IsaScope& operator=(const IsaScope&) = delete;

 private:
  bool active_ = false;
};

class Interpreter {
 public:
  Interpreter(const py::buffer& model, bool preserve_all_tensors, std::optional<size_t> arena_size,
              const std::optional<std::string>& isa) {
    py::buffer_info info = model.request();
    if (info.itemsize != 1 || info.ndim != 1 || info.strides[0] != 1) {
      throw py::type_error("model must be contiguous bytes");
    }
    model_ = std::make_unique<Aligned>(static_cast<size_t>(info.size));
    std::memcpy(model_->data(), info.ptr, model_->size());
    const uint32_t flags = preserve_all_tensors ? GBNN_PRESERVE_ALL_TENSORS : 0u;
    size_t size = arena_size.value_or(64 * 1024);
    gbnn_error err{};
    // The kernel set is read by gbnn_open; the GIL is held throughout, so no other thread opens meanwhile.
    IsaScope scope(isa);
    for (int attempt = 0; attempt < 16; attempt++) {
      arena_ = std::make_unique<Aligned>(size);
      it_ = gbnn_open(model_->data(), model_->size(), arena_->data(), arena_->size(), flags, &err);
      if (it_ != nullptr) return;
      if (err.status != GBNN_ARENA_TOO_SMALL || arena_size.has_value() || err.arena_needed <= size) break;
      size = err.arena_needed;
    }
    raise_error(err);
  }

  // The GIL is released while the model runs (the C engine touches no Python object); the mutex keeps a second
  // thread off this interpreter's arena meanwhile.
  void invoke() {
    gbnn_error err{};
    gbnn_status st;
    {
      py::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mutex_);
      st = gbnn_invoke(it_, &err);
    }
    if (st != GBNN_OK) raise_error(err);
  }

  void reset() {
    std::lock_guard<std::mutex> lock(mutex_);
    gbnn_reset(it_);
  }

  size_t input_count() const { return gbnn_input_count(it_); }
  size_t output_count() const { return gbnn_output_count(it_); }
  size_t tensor_count() const { return gbnn_tensor_count(it_); }
  size_t arena_used() const { return gbnn_arena_used(it_); }
  size_t arena_size() const { return arena_->size(); }

  // The model's index of input / output i (subgraph 0), for details.
  long input_index(size_t i) { return index_of(input_ptr(i)); }
  long output_index(size_t i) { return index_of(output_ptr(i)); }

  void set_input(size_t i, const py::array& value) {
    gbnn_tensor* t = input_ptr(i);
    py::array a = py::array::ensure(value, py::array::c_style);
    if (!a || !a.dtype().is(dtype_of(t->type))) {
      throw py::value_error(std::string("input ") + std::to_string(i) + " takes " + type_name(t->type));
    }
    if (static_cast<size_t>(a.nbytes()) != t->bytes) {
      throw py::value_error(std::string("input ") + std::to_string(i) + " takes " + std::to_string(t->bytes) +
                            " bytes, not " + std::to_string(a.nbytes()));
    }
    std::lock_guard<std::mutex> lock(mutex_);
    if (t->bytes > 0) std::memcpy(t->data, a.data(), t->bytes);
  }

  py::array input(size_t i) { return copy(*input_ptr(i)); }
  py::array output(size_t i) { return copy(*output_ptr(i)); }
  py::array tensor(size_t i) { return copy(*tensor_ptr(i)); }

  py::dict details(size_t i) { return details_of(*tensor_ptr(i), static_cast<long>(i)); }
  py::dict input_details(size_t i) { return details_of(*input_ptr(i), input_index(i)); }
  py::dict output_details(size_t i) { return details_of(*output_ptr(i), output_index(i)); }

 private:
  gbnn_tensor* input_ptr(size_t i) {
    gbnn_tensor* t = gbnn_input(it_, i);
    if (t == nullptr) throw py::index_error("no input " + std::to_string(i));
    return t;
  }
  gbnn_tensor* output_ptr(size_t i) {
    gbnn_tensor* t = gbnn_output(it_, i);
    if (t == nullptr) throw py::index_error("no output " + std::to_string(i));
    return t;
  }
  gbnn_tensor* tensor_ptr(size_t i) {
    gbnn_tensor* t = gbnn_tensor_at(it_, i);
    if (t == nullptr) throw py::index_error("no tensor " + std::to_string(i));
    return t;
  }
  long index_of(const gbnn_tensor* t) {
    return static_cast<long>(t - gbnn_tensor_at(it_, 0));
  }

  py::array copy(const gbnn_tensor& t) {
    py::dtype dt = dtype_of(t.type);
    if (t.data == nullptr && t.bytes > 0) throw py::value_error("the tensor holds no data (no node uses it)");
    py::array out(dt, shape_of(t));
    std::lock_guard<std::mutex> lock(mutex_);
    if (t.bytes > 0) std::memcpy(out.mutable_data(), t.data, t.bytes);
    return out;
  }

  static py::dict details_of(const gbnn_tensor& t, long index) {
    py::dict d;
    d["index"] = index;
    d["shape"] = shape_of(t);
    d["dtype"] = type_name(t.type);
    d["is_constant"] = static_cast<bool>(t.is_constant);
    d["is_variable"] = static_cast<bool>(t.is_variable);
    std::vector<float> scales(t.scales, t.scales + t.n_scales);
    std::vector<int32_t> zero_points(static_cast<size_t>(t.n_scales), t.zero_point);
    d["scales"] = scales;
    d["zero_points"] = zero_points;
    d["quantized_dimension"] = t.quantized_dimension;
    d["scale"] = t.n_scales > 0 ? t.scale : 0.0f;
    d["zero_point"] = t.n_scales > 0 ? t.zero_point : 0;
    return d;
  }

  std::unique_ptr<Aligned> model_;
  std::unique_ptr<Aligned> arena_;
  gbnn_interpreter* it_ = nullptr;
  std::mutex mutex_;
};

}  // namespace

void register_engine(py::module_& m) {
  g_engine_error = PyErr_NewExceptionWithDoc(
      "glassbridge.nn._nn.EngineError",
      "gbnn refused or failed: .status (e.g. 'GBNN_UNSUPPORTED'), .message, .node, .subgraph, .arena_needed",
      PyExc_RuntimeError, nullptr);
  if (g_engine_error == nullptr) throw py::error_already_set();
  m.attr("EngineError") = py::reinterpret_borrow<py::object>(g_engine_error);
  m.def("builtin_name", &gbnn_builtin_name, py::arg("code"),
        "The .tflite schema's BuiltinOperator name for a code, 'UNKNOWN' past the table.");
  m.def(
      "isa_available",
      [](const std::string& name) { return gbnn_isa_available(isa_of(name)) != 0; }, py::arg("name"),
      "Whether this build and CPU have gbnn's kernel set `name` (ref, sse41, avx2, neon, dsp).");
  m.def(
      "default_isa", []() { return std::string(gbnn_isa_name(gbnn_get_isa())); },
      "The kernel set gbnn_open uses when none is asked for: the fastest available.");
  py::class_<Interpreter>(m, "Interpreter")
      .def(py::init<const py::buffer&, bool, std::optional<size_t>, const std::optional<std::string>&>(),
           py::arg("model"), py::arg("preserve_all_tensors") = false, py::arg("arena_size") = py::none(),
           py::arg("isa") = py::none())
      .def("invoke", &Interpreter::invoke)
      .def("reset", &Interpreter::reset)
      .def_property_readonly("input_count", &Interpreter::input_count)
      .def_property_readonly("output_count", &Interpreter::output_count)
      .def_property_readonly("tensor_count", &Interpreter::tensor_count)
      .def_property_readonly("arena_used", &Interpreter::arena_used)
      .def_property_readonly("arena_size", &Interpreter::arena_size)
      .def("set_input", &Interpreter::set_input, py::arg("index"), py::arg("value"))
      .def("input", &Interpreter::input, py::arg("index"))
      .def("output", &Interpreter::output, py::arg("index"))
      .def("tensor", &Interpreter::tensor, py::arg("index"))
      .def("details", &Interpreter::details, py::arg("index"))
      .def("input_details", &Interpreter::input_details, py::arg("index"))
      .def("output_details", &Interpreter::output_details, py::arg("index"));
}
