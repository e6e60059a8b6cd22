// Conversions shared by the bindings (bindings.h).
#include <pybind11/stl.h>

#include "core/errors.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {

ModelPtr open_model(const py::object& path, bool verify_checksums) {
  const std::string p = path_arg(path);
  OpenOptions opts;
  opts.verify_checksums = verify_checksums;
  py::gil_scoped_release release;
  return std::const_pointer_cast<Model>(Model::open(p, opts));
}

ModelPtr model_arg(const py::object& src) {
  return py::isinstance<ModelHandle>(src) ? src.cast<const ModelHandle&>().shared() : open_model(src, true);
}

int threads_arg(const std::optional<int>& threads) {
  if (!threads) return 0;
  if (*threads < 1)
    throw InvalidArgument("threads must be >= 1 (or None for every available CPU), got " + std::to_string(*threads));
  return *threads;
}

Device device_arg(const std::string& name, bool exact) {
  const DeviceChoice c = resolve_device(name, exact ? "" : "exact=False (the fast path) runs on the CPU only");
  if (!c.notice.empty() && claim_device_notice())
    py::module_::import("logging").attr("getLogger")("rrwkv_rt").attr("warning")(c.notice);
  return c.device;
}

int64_t token_id(const py::object& tok, int64_t vocab) {
  py::object id = py::reinterpret_steal<py::object>(PyNumber_Index(tok.ptr()));  // TypeError for non-integers
  if (!id) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(id.ptr(), &overflow);
  if (overflow)
    throw OutOfRange("token " + std::string(py::str(id)) + " is outside the vocabulary: expected 0 <= token < " +
                     std::to_string(vocab) + " for this model; no state was changed");
  return static_cast<int64_t>(v);
}

py::array_t<int64_t> token_array(const py::object& tokens, const char* what) {
  py::array a = py::module_::import("numpy").attr("asarray")(tokens);
  if (a.ndim() != 1)
    throw InvalidArgument(std::string(what) + " must be a 1-D sequence of token ids, got an array with " +
                          std::to_string(a.ndim()) + " dimensions");
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw InvalidArgument(std::string(what) + " must be integers, got dtype " + std::string(py::str(a.dtype())));
  if (kind == 'u' && a.itemsize() == 8 && a.size() > 0) {
    // uint64 ids beyond int64 would wrap in the cast below
    py::object mx = a.attr("max")();
    if (mx.cast<unsigned long long>() > static_cast<unsigned long long>(INT64_MAX))
      throw OutOfRange(std::string(what) + " holds id " + std::string(py::str(mx)) +
                       ", outside the vocabulary; no state was changed");
  }
  return py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

std::string blob_arg(const py::object& blob) {
  if (py::isinstance<py::bytes>(blob)) return blob.cast<std::string>();
  // any buffer, read through a contiguous byte view (a strided view is copied, never read raw)
  py::object view = py::module_::import("builtins").attr("memoryview")(blob);
  py::bytes b = view.attr("tobytes")();
  return b.cast<std::string>();
}

InitialState initial_state_arg(const ModelPtr& model, const py::object& spec) {
  if (spec.is_none()) return nullptr;
  // the file formats (state-tuning .pth / .safetensors) are read in Python (runtime/initial_state.py)
  py::array_t<float, py::array::c_style | py::array::forcecast> a =
      py::module_::import("rrwkv_rt.runtime.initial_state").attr("state_floats")(ModelHandle(model, "Model"), spec);
  std::vector<float> floats(a.data(), a.data() + a.size());
  return make_initial_state(model->state_schema(), std::move(floats));
}

py::object initial_state_to_python(const InitialState& initial) {
  if (!initial) return py::none();
  return py::array_t<float>(static_cast<py::ssize_t>(initial->size()), initial->data());
}

// `out` if given (checked), else a new array of `shape`.
py::array_t<float> float_output(const py::object& out, std::vector<py::ssize_t> shape) {
  if (out.is_none()) return py::array_t<float>(shape);
  if (!py::isinstance<py::array>(out)) throw InvalidArgument("out must be a numpy array");
  py::array a = out.cast<py::array>();
  bool ok = a.dtype().is(py::dtype::of<float>()) && a.ndim() == static_cast<py::ssize_t>(shape.size()) &&
            a.writeable() && (a.flags() & py::array::c_style);
  for (size_t i = 0; ok && i < shape.size(); ++i) ok = a.shape(static_cast<py::ssize_t>(i)) == shape[i];
  if (!ok) {
    std::string s;
    for (py::ssize_t d : shape) s += std::to_string(d) + ",";
    throw InvalidArgument("out must be a writable, contiguous float32 array of shape (" + s + ")");
  }
  return a.cast<py::array_t<float>>();
}

}  // namespace rrwkv::python
