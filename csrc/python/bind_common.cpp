// Conversions shared by the bindings (bindings.h).
#include <pybind11/stl.h>

#include <algorithm>

#include "core/errors.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {

ModelPtr open_model(const py::object& path, bool verify_checksums, bool read_into_memory) {
  const std::string p = path_arg(path);
  OpenOptions opts;
  opts.verify_checksums = verify_checksums;
  opts.read_into_memory = read_into_memory;
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

namespace {

std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

float* cuda_array_data(const py::object& out, const std::vector<py::ssize_t>& shape, const Device& device) {
  if (device.is_cpu())
    throw InvalidArgument("out is a CUDA array (it has __cuda_array_interface__), but this engine runs on the CPU; "
                          "pass a NumPy array, or create the engine with device=\"cuda\"");
  const std::string want = "out must be a writable, C-contiguous float32 CUDA array of shape " + shape_str(shape) +
                           " on " + device.str();
  const py::dict cai = out.attr("__cuda_array_interface__");
  const std::string typestr = cai["typestr"].cast<std::string>();
  if (typestr != "<f4") throw InvalidArgument(want + "; got typestr '" + typestr + "'");
  const auto got = cai["shape"].cast<std::vector<py::ssize_t>>();
  if (got != shape) throw InvalidArgument(want + "; got shape " + shape_str(got));
  if (cai.contains("strides") && !cai["strides"].is_none()) {
    py::ssize_t step = sizeof(float);
    std::vector<py::ssize_t> contiguous(shape.size());
    for (size_t i = shape.size(); i-- > 0; step *= shape[i]) contiguous[i] = step;
    if (cai["strides"].cast<std::vector<py::ssize_t>>() != contiguous) throw InvalidArgument(want + "; got a strided view");
  }
  if (cai.contains("mask") && !cai["mask"].is_none()) throw InvalidArgument(want + "; got a masked array");
  const auto data = cai["data"].cast<std::pair<std::uintptr_t, bool>>();
  if (data.second) throw InvalidArgument(want + "; got a read-only array");
  auto* p = reinterpret_cast<float*>(data.first);
  const bool empty = std::find(shape.begin(), shape.end(), 0) != shape.end();
  if (!empty && !is_device_pointer(p, device)) throw InvalidArgument(want + "; its memory is not on " + device.str());
  if (cai.contains("stream") && !cai["stream"].is_none()) {
    const auto stream = cai["stream"].cast<std::uintptr_t>();
    if (stream == 0)  // the interface's version 3 reserves 0 (ambiguous between the default streams)
      throw InvalidArgument("out's __cuda_array_interface__ names stream 0, which the interface disallows");
    py::gil_scoped_release release;
    wait_for_stream(device, stream);
  }
  return p;
}

}  // namespace

LogitsOut logits_out(const py::object& out, std::vector<py::ssize_t> shape, const Device& device) {
  if (!out.is_none() && py::hasattr(out, "__cuda_array_interface__")) return {out, cuda_array_data(out, shape, device)};
  py::array_t<float> a = float_output(out, std::move(shape));
  float* p = a.mutable_data();
  return {std::move(a), p};
}

}  // namespace rrwkv::python
