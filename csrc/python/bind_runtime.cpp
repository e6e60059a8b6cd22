// Bindings of the CPU runtime: Model, Session and a few diagnostics. Types are converted here and
// the GIL is released while computing; conveniences live in python/rrwkv_rt.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include <optional>

#include "core/errors.h"
#include "kernels/cpu/bandwidth.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/matvec.h"
#include "python/bindings.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

using ModelPtr = std::shared_ptr<Model>;

ModelPtr open_model(const py::object& path, bool verify_checksums) {
  const std::string p = path_arg(path);
  OpenOptions opts;
  opts.verify_checksums = verify_checksums;
  py::gil_scoped_release release;
  return std::const_pointer_cast<Model>(Model::open(p, opts));
}

py::dict model_info(const Model& m) {
  py::dict d = config_to_dict(m.config());
  d["dtype"] = dtype_name(m.matrix_dtype());
  d["path"] = path_to_python(m.file().path());
  d["file_size"] = m.file().file_size();
  d["format_version"] = m.file().version();
  d["header_crc32"] = m.file().header_crc32();
  d["decode_bytes_per_token"] = m.decode_bytes_per_token();
  return d;
}

int threads_arg(const std::optional<int>& threads) {
  if (!threads) return 0;
  if (*threads < 1) throw InvalidArgument("threads must be >= 1 (or None for every available CPU), got " +
                                          std::to_string(*threads));
  return *threads;
}

// One token id: any integer (Python or numpy); ids beyond int64 are out of range, not overflow.
int64_t token_id(const py::object& tok, int64_t vocab) {
  py::object id = py::reinterpret_steal<py::object>(PyNumber_Index(tok.ptr()));  // TypeError for non-integers
  if (!id) throw py::error_already_set();
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(id.ptr(), &overflow);
  if (overflow)
    throw OutOfRange("token " + std::string(py::str(id)) + " is outside the vocabulary: expected 0 <= token < " +
                     std::to_string(vocab) + " for this model; the session state is unchanged");
  return static_cast<int64_t>(v);
}

// tokens: any 1-D sequence of integers -> contiguous int64.
py::array_t<int64_t> token_array(const py::object& tokens) {
  py::array a = py::module_::import("numpy").attr("asarray")(tokens);
  if (a.ndim() != 1)
    throw InvalidArgument("tokens must be a 1-D sequence of token ids, got an array of shape with " +
                          std::to_string(a.ndim()) + " dimensions");
  const char kind = a.dtype().kind();
  if (a.size() > 0 && kind != 'i' && kind != 'u')
    throw InvalidArgument(std::string("tokens must be integers, got dtype ") + std::string(py::str(a.dtype())));
  return py::array_t<int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
}

}  // namespace

void bind_runtime(py::module_& m) {
  m.def("_configure_blas", &cpu::blas_configure, py::arg("path"),
        "Library used for prefill matrix products (loaded on first use; '' disables BLAS).");
  m.def("blas_info", [] {
        cpu::blas_available();
        return cpu::blas_status();
      }, "Which BLAS prefill uses (loading it if not loaded yet), or why none is used.");
  m.def("cpu_isa", &cpu::isa_name, "The SIMD kernels in use: 'avx512', 'avx2' or 'scalar'.");
  m.def("_set_isa", &cpu::set_isa, py::arg("name"), "Force 'avx512', 'avx2', 'scalar' or 'auto' (tests only).");
  m.def("_isa_supported", &cpu::isa_supported, py::arg("name"));
  m.def("read_bandwidth", [](int64_t nbytes, std::optional<int> threads, int repeats) {
        const int n = threads_arg(threads);
        py::gil_scoped_release release;
        return cpu::measure_read_bandwidth(nbytes, n, repeats);
      }, py::arg("nbytes") = int64_t{512} << 20, py::arg("threads") = py::none(), py::arg("repeats") = 5,
      "Median memory read bandwidth in bytes/s, with the decode kernels on `threads` threads.");

  m.def("_time_matvec", [](const ModelPtr& model, const std::string& tensor, std::optional<int> threads, int repeats) {
        const TensorInfo& t = model->file().tensor(tensor);
        if (t.shape.size() != 2) throw InvalidArgument("'" + tensor + "' is not a matrix");
        const cpu::MatRef w{t.data, t.dtype, static_cast<int64_t>(t.shape[0]), static_cast<int64_t>(t.shape[1])};
        const int n = threads_arg(threads);
        py::gil_scoped_release release;
        return cpu::time_matvec(w, n, repeats);
      }, py::arg("model"), py::arg("tensor"), py::arg("threads") = py::none(), py::arg("repeats") = 5,
      "Fastest of `repeats` products of one weight matrix with a vector, in seconds (kernel tuning).");
  py::class_<Model, ModelPtr>(m, "Model",
      "An immutable, memory-mapped .rrwkv model; share one between any number of sessions and threads.")
      .def(py::init(&open_model), py::arg("path"), py::arg("verify_checksums") = true)
      .def_property_readonly("info", &model_info, "The header: arch, n_layer, n_embd, vocab_size, ...")
      .def_property_readonly("path", [](const Model& mo) { return path_to_python(mo.file().path()); })
      .def_property_readonly("vocab_size", &Model::vocab_size)
      .def("__repr__", [](const Model& mo) {
        const ModelConfig& c = mo.config();
        return "<rrwkv_rt.Model " + std::string(arch_name(c.arch)) + " n_layer=" + std::to_string(c.n_layer) +
               " n_embd=" + std::to_string(c.n_embd) + " vocab=" + std::to_string(c.vocab_size) + " " +
               dtype_name(mo.matrix_dtype()) + " '" + mo.file().path() + "'>";
      });

  py::class_<Session>(m, "Session",
      "One sequence's recurrent state and scratch on a shared Model. Calls on one session are serialised.")
      .def(py::init([](const py::object& src, std::optional<int> threads, int64_t prefill_chunk) {
             const int n = threads_arg(threads);
             ModelPtr model = py::isinstance<Model>(src) ? src.cast<ModelPtr>() : open_model(src, true);
             py::gil_scoped_release release;
             return std::make_unique<Session>(model, n, prefill_chunk);
           }), py::arg("model"), py::arg("threads") = py::none(),
           py::arg("prefill_chunk") = Session::kDefaultPrefillChunk,
           "model: a Model or the path of a .rrwkv file; threads: None for every available CPU; prefill_chunk: "
           "tokens per internal chunk of forward() (more is a little faster and uses more scratch memory).")
      .def_property_readonly("prefill_chunk", &Session::prefill_chunk)
      .def("step", [](Session& s, const py::object& tok, const py::object& out) {
             const int64_t V = s.model()->vocab_size();
             const int64_t token = token_id(tok, V);
             py::array logits;
             if (out.is_none()) {
               logits = py::array_t<float>(V);
             } else {
               if (!py::isinstance<py::array>(out)) throw InvalidArgument("out must be a numpy array");
               logits = out.cast<py::array>();
               if (!logits.dtype().is(py::dtype::of<float>()) || logits.ndim() != 1 || logits.shape(0) != V ||
                   !logits.writeable() || !(logits.flags() & py::array::c_style))
                 throw InvalidArgument("out must be a writable, contiguous float32 array of shape (" +
                                       std::to_string(V) + ",)");
             }
             float* dst = static_cast<float*>(logits.mutable_data());
             {
               py::gil_scoped_release release;
               s.step(token, dst);
             }
             return logits;
           }, py::arg("token"), py::arg("out") = py::none(),
           "Feed one token; returns its logits (float32, shape (vocab,)), written into `out` if given.")
      .def("forward", [](Session& s, const py::object& tokens, bool all_logits) {
             py::array_t<int64_t> toks = token_array(tokens);
             const int64_t n = toks.size(), V = s.model()->vocab_size();
             if (n == 0 && all_logits) return py::array_t<float>(std::vector<py::ssize_t>{0, V});
             py::array_t<float> logits = all_logits ? py::array_t<float>(std::vector<py::ssize_t>{n, V})
                                                    : py::array_t<float>(V);
             const int64_t* src = toks.data();
             float* dst = logits.mutable_data();
             {
               py::gil_scoped_release release;
               s.forward(src, n, dst, all_logits);
             }
             return logits;
           }, py::arg("tokens"), py::arg("all_logits") = false,
           "Ingest tokens in sequence mode; returns the last logits (vocab,) or, with all_logits, (T, vocab).")
      .def("reset", &Session::reset, py::call_guard<py::gil_scoped_release>(),
           "Back to the initial state (every field, pos = 0).")
      .def_property_readonly("pos", [](const Session& s) {
             py::gil_scoped_release release;  // waits for a call running on another thread
             return s.pos();
           }, "Tokens processed since the last reset.")
      .def_property_readonly("threads", &Session::threads)
      .def_property_readonly("model", [](const Session& s) { return std::const_pointer_cast<Model>(s.model()); })
      .def("__repr__", [](const Session& s) {
             const ModelConfig& c = s.model()->config();
             return "<rrwkv_rt.Session pos=" + std::to_string(s.pos()) + " threads=" + std::to_string(s.threads()) +
                    " model=" + arch_name(c.arch) + " '" + s.model()->file().path() + "'>";
           })
      .def("clone", [](const Session& s) {
             py::gil_scoped_release release;
             return s.clone();
           }, "An independent copy of the state that shares the model.")
      .def("get_state", [](const Session& s) {
             std::string blob;
             {
               py::gil_scoped_release release;
               blob = s.get_state();
             }
             return py::bytes(blob);
           }, "The state as a versioned blob tagged with the model's identity.")
      .def("set_state", [](Session& s, const py::buffer& blob) {
             py::buffer_info info = blob.request();
             if (info.ndim != 1 && info.ndim != 0)
               throw InvalidArgument("set_state expects the bytes returned by get_state()");
             const size_t size = static_cast<size_t>(info.size * info.itemsize);
             py::gil_scoped_release release;
             s.set_state(info.ptr, size);
           }, py::arg("state"), "Restore a blob from get_state(); ValueError (state unchanged) if it does not fit.");
}

}  // namespace rrwkv::python
