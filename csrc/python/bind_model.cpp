// Bindings of Model (the shared, immutable model) and the runtime's diagnostics.
#include <pybind11/stl.h>

#include "core/errors.h"
#include "engine/state_blob.h"
#include "kernels/cpu/bandwidth.h"
#include "kernels/cpu/blas.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/matvec.h"
#include "kernels/cpu/peak.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

py::dict model_info(const Model& m) {
  py::dict d = config_to_dict(m.config());
  d["architecture"] = m.arch().description();
  d["dtype"] = m.matrix_dtypes();
  d["path"] = path_to_python(m.file().path());
  d["file_size"] = m.file().file_size();
  d["format_version"] = m.file().version();
  d["header_crc32"] = m.file().header_crc32();
  d["decode_bytes_per_token"] = m.decode_bytes_per_token();
  d["state_bytes"] = state_blob_size(m);
  py::list fields;
  for (const StateField& f : m.state_schema().fields) fields.append(py::make_tuple(f.name, f.size));
  d["state_fields"] = fields;  // per layer: (name, floats)
  d["initial_state"] = m.baked_initial_state() != nullptr;  // the file bakes one in
  return d;
}

}  // namespace

void bind_model(py::module_& m) {
  py::dict blob;  // what runtime/state_file.py reads of a state blob's header (engine/state_blob.h)
  blob["header_bytes"] = kStateHeaderBytes;
  blob["floats_at"] = kStateFloatsAt;
  blob["header_crc_at"] = kStateHeaderCrcAt;
  m.attr("STATE_BLOB_LAYOUT") = blob;
  m.def("_configure_blas", &cpu::blas_configure_from_env, py::arg("fallback"),
        "Library for the matrix products: $RRWKV_BLAS if set, else `fallback` (loaded on first use; '' = none).");
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
  m.def("compute_peak", [](const std::string& instruction, std::optional<int> threads, double seconds) {
        const int n = threads_arg(threads);
        py::gil_scoped_release release;
        return cpu::measure_peak(instruction, n, seconds);
      }, py::arg("instruction"), py::arg("threads") = py::none(), py::arg("seconds") = 0.2,
      "Multiply-adds per second of one instruction on `threads` threads (0 if this CPU lacks it): 'fma512', "
      "'fma256', 'dpbf16ps512', 'vpdpbusd512' or 'vpdpbusd256'.");
  m.def("fast_kernels", [] {
        py::dict out;
        for (const char* family : {"bf16", "int8"}) {
          const cpu::FastKernels* k = cpu::fast_kernels(std::string(family) == "int8" ? cpu::FastFamily::Int8
                                                                                       : cpu::FastFamily::Bf16);
          out[family] = py::make_tuple(k ? k->name : "", cpu::fast_instruction(family));
        }
        return out;
      }, "The fast path's kernels in use: {'bf16': (implementation, instruction), 'int8': (...)}.");
  m.def("architectures", [] {
        py::list out;
        for (const Architecture* a : architectures()) out.append(py::make_tuple(a->name(), a->description()));
        return out;
      }, "(name, description) of every architecture this build runs.");

  py::class_<ModelHandle> model(m, "Model",
      "An immutable, memory-mapped .rrwkv model; share one between any number of sessions, batches and threads. "
      "`with rrwkv_rt.Model(path) as m:` (or close()) drops this object's reference at the end; sessions and "
      "batches made from it keep the model open as long as they live.");
  model.def(py::init([](const py::object& path, bool verify_checksums, bool read_into_memory) {
             return ModelHandle(open_model(path, verify_checksums, read_into_memory), "Model");
           }), py::arg("path"), py::arg("verify_checksums") = true, py::arg("read_into_memory") = false,
           "read_into_memory: read the file into private memory on 2 MiB pages instead of mapping it: costs its size "
           "in RAM and the read at open, and gives a faster CPU decode (a mapped model took 1.15-1.26x the decode time "
           "on the machine measured) and a model that later changes to the file on "
           "disk cannot affect or crash.")
      .def_property_readonly("info", [](const ModelHandle& h) { return model_info(*h.shared()); },
                             "The header (arch, n_layer, n_embd, vocab_size, ...), the matrix dtypes and the state size.")
      .def_property_readonly("path", [](const ModelHandle& h) { return path_to_python(h.shared()->file().path()); })
      .def_property_readonly("arch", [](const ModelHandle& h) { return h.shared()->config().arch; })
      .def_property_readonly("vocab_size", [](const ModelHandle& h) { return h.shared()->vocab_size(); })
      .def("__repr__", [](const ModelHandle& h) -> std::string {
        if (h.closed()) return "<rrwkv_rt.Model (closed)>";
        const ModelPtr mo = h.shared();
        const ModelConfig& c = mo->config();
        return "<rrwkv_rt.Model " + c.arch + " n_layer=" + std::to_string(c.n_layer) + " n_embd=" +
               std::to_string(c.n_embd) + " vocab=" + std::to_string(c.vocab_size) + " " + mo->matrix_dtypes() +
               " '" + mo->file().path() + "'>";
      });
  bind_handle_protocol<ModelHandle>(model);
}

}  // namespace rrwkv::python
