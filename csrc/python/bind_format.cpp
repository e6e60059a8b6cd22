// Bindings of the .rrwkv reader, the runtime layout and the checksum.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "core/crc32.h"
#include "core/dtype.h"
#include "core/device.h"
#include "core/errors.h"
#include "arch/architecture.h"
#include "arch/base/model_check.h"
#include "core/text.h"
#include "format/model_file.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

// A config dict (ModelConfig.to_dict() in Python) -> ModelConfig, checked as the reader checks a
// header: the arch's fields must be there, of their types and within the format's limits.
ModelConfig config_from_dict(const py::dict& d) {
  ModelConfig c;
  if (!d.contains("arch")) throw InvalidArgument("config has no 'arch'");
  c.arch = d["arch"].cast<std::string>();
  const Architecture* a = find_architecture(c.arch);
  if (!a) throw InvalidArgument("unknown arch " + quoted(c.arch) + "; expected one of " + architecture_names());
  for (const ConfigField& f : config_fields_of(*a)) {
    if (!d.contains(f.key)) {
      if (f.optional) continue;  // absent: the default
      throw InvalidArgument(std::string("config has no '") + f.key + "'");
    }
    const py::object v = d[f.key];
    try {
      switch (f.kind) {
        case ConfigField::Kind::U64: {
          const uint64_t x = v.cast<uint64_t>();
          if (x < f.lo || x > f.hi)
            throw InvalidArgument(std::string("header field '") + f.key + "' is " + std::to_string(x) +
                                  ", expected " + std::to_string(f.lo) + ".." + std::to_string(f.hi));
          c.*f.u64 = x;
          break;
        }
        case ConfigField::Kind::F64: c.*f.f64 = v.cast<double>(); break;
        case ConfigField::Kind::Str: c.*f.str = v.cast<std::string>(); break;
      }
    } catch (const py::cast_error&) {
      throw InvalidArgument(std::string(f.key) + " is " + std::string(py::repr(v)) + ", expected " +
                            (f.kind == ConfigField::Kind::U64 ? "an integer in 0..2^64-1"
                             : f.kind == ConfigField::Kind::F64 ? "a float" : "a str"));
    }
  }
  const std::string problem = config_problem(*a, c);
  if (!problem.empty()) throw InvalidArgument(problem);
  return c;
}

py::object field_to_python(const FieldValue& v) {
  if (auto* s = std::get_if<ByteSpan>(&v)) return py::bytes(reinterpret_cast<const char*>(s->data), s->size);
  return std::visit([](const auto& x) -> py::object {
    using T = std::decay_t<decltype(x)>;
    if constexpr (std::is_same_v<T, ByteSpan>) return py::none();
    else return py::cast(x);
  }, v);
}

// A zero-copy numpy view of a tensor; the array keeps the mapping alive. bf16 has no numpy
// dtype, so it is returned as its raw uint16 bits; a quantized tensor as its raw rows, uint8
// (rows, bytes per row) (rrwkv_rt.io.dtypes.decode turns either into floats).
py::array tensor_view(const std::shared_ptr<const ModelFile>& file, const TensorInfo& t) {
  const bool quantized = traits(t.dtype).quantized;
  py::dtype dt = t.dtype == DType::F32 ? py::dtype::of<float>()
                 : t.dtype == DType::F16 ? py::dtype("float16")
                 : quantized ? py::dtype::of<uint8_t>() : py::dtype::of<uint16_t>();
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  if (quantized) {
    const int64_t cols = static_cast<int64_t>(t.shape.back());
    shape = {static_cast<py::ssize_t>(t.numel() / t.shape.back()), static_cast<py::ssize_t>(row_bytes(t.dtype, cols))};
  }
  // the array owns a reference to the file, so closing the ModelFile object leaves views valid
  auto* keep = new std::shared_ptr<const ModelFile>(file);
  py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<const ModelFile>*>(p); });
  py::array a(dt, shape, {}, t.data, owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace

FileHandle open_checked_file(std::function<std::shared_ptr<const ModelFile>()> open) {
  py::gil_scoped_release release;
  auto checked = std::make_shared<CheckedFile>();
  checked->file = open();
  checked->model = check_model(*checked->file);
  return FileHandle(std::move(checked), "ModelFile");
}

std::string path_arg(const py::handle& path) {
  const std::string p = py::bytes(py::module_::import("os").attr("fsencode")(path));
  if (p.find('\0') != std::string::npos)
    throw InvalidArgument("path " + quoted(p, 4096) + " contains a NUL byte; no file has such a name");
  return p;
}

py::object path_to_python(const std::string& path) {
  return py::module_::import("os").attr("fsdecode")(py::bytes(path));
}

namespace {

// `skip_zero_optional`: as the writer, which omits an optional field that is 0.
void put_fields(py::dict& d, const ModelConfig& c, const std::vector<ConfigField>& keys, bool skip_zero_optional) {
  for (const ConfigField& f : keys) {
    if (skip_zero_optional && f.optional && f.kind == ConfigField::Kind::U64 && c.*f.u64 == 0) continue;
    switch (f.kind) {
      case ConfigField::Kind::U64: d[f.key] = c.*f.u64; break;
      case ConfigField::Kind::F64: d[f.key] = c.*f.f64; break;
      case ConfigField::Kind::Str: d[f.key] = c.*f.str; break;
    }
  }
}

}  // namespace

py::dict config_to_dict(const ModelConfig& c) {
  py::dict d;
  d["arch"] = c.arch;
  const Architecture* a = find_architecture(c.arch);
  put_fields(d, c, a ? config_fields_of(*a) : common_config_fields(), true);
  return d;
}

void bind_format(py::module_& m) {
  m.attr("FORMAT_VERSION") = kFormatVersion;
  m.attr("MAGIC") = py::bytes(kMagic, 8);
  m.attr("PREAMBLE_SIZE") = kPreambleSize;
  m.attr("ALIGNMENT") = kAlignment;
  py::dict field_types;
  field_types["u64"] = static_cast<int>(FieldType::U64);
  field_types["i64"] = static_cast<int>(FieldType::I64);
  field_types["f64"] = static_cast<int>(FieldType::F64);
  field_types["str"] = static_cast<int>(FieldType::Str);
  field_types["bytes"] = static_cast<int>(FieldType::Bytes);
  m.attr("FIELD_TYPES") = field_types;
  py::dict dtypes;  // name -> (code, elements per block, bytes per block) of every storable type
  for (int code = 0; code < 256; ++code)
    if (const DTypeTraits* t = find_dtype(static_cast<uint8_t>(code)); t && t->storable)
      dtypes[t->name] = py::make_tuple(code, t->block_elems, t->block_bytes);
  m.attr("DTYPES") = dtypes;
  py::dict defaults;  // every config field's default (format/config.h): Python's ModelConfig uses them
  put_fields(defaults, ModelConfig{}, config_field_table(), false);
  m.attr("CONFIG_DEFAULTS") = defaults;
  py::dict aliases;  // alias -> name, e.g. "fp16" -> "f16" (io/dtypes.py keeps the storable ones)
  for (const DTypeAlias& a : dtype_aliases()) aliases[a.name] = dtype_name(a.type);
  m.attr("DTYPE_ALIASES") = aliases;

  m.def("cuda_compiled", &cuda_compiled, "Whether this build contains the CUDA kernels.");
  m.def("cuda_device_count", &cuda_device_count, "Usable CUDA devices (0 without a GPU or driver).");
  m.def("cuda_status", &cuda_status, "One line describing CUDA support, for diagnostics.");
  m.def("gpu_emulated", &gpu_emulated,
        "Whether the CUDA device of this build is HIP-CPU's emulation (a test build: the GPU kernels run on the CPU).");

  m.def("crc32", [](py::buffer b, uint32_t crc) {
        py::buffer_info info = b.request();
        const auto size = static_cast<size_t>(info.size * info.itemsize);
        py::gil_scoped_release release;
        return crc32(info.ptr, size, crc);
      }, py::arg("data"), py::arg("crc") = 0, "CRC-32 (zlib-compatible) of a contiguous buffer.");

  m.def("runtime_layout", [](const py::dict& cfg) {
        py::list out;
        const ModelConfig c = config_from_dict(cfg);
    for (const TensorSpec& s : find_architecture(c.arch)->layout(c))
          out.append(py::make_tuple(s.name, py::tuple(py::cast(s.shape)), s.is_matrix));
        return out;
      }, py::arg("config"), "(name, shape, is_matrix) of every tensor a .rrwkv file of this config must hold.");
  m.def("check_config", [](const py::dict& cfg) { config_from_dict(cfg); }, py::arg("config"),
        "ValueError naming the first value outside the format's limits (docs/FORMAT.md).");
  m.def("config_fields", [](const std::string& arch) {
        const Architecture* a = find_architecture(arch);
        if (!a) throw InvalidArgument("unknown arch '" + arch + "'; expected one of " + architecture_names());
        py::list out;
        for (const ConfigField& f : config_fields_of(*a))
          out.append(py::make_tuple(f.key, f.kind == ConfigField::Kind::U64 ? "u64"
                                           : f.kind == ConfigField::Kind::F64 ? "f64" : "str", f.optional));
        return out;
      }, py::arg("arch"), "(key, type, optional) of every header field a file of this architecture stores ('arch' "
                          "aside); an optional field is absent when 0.");

  py::class_<FileHandle> file(m, "ModelFile",
      "A validated, memory-mapped .rrwkv file (read-only, safe to share between threads). `with "
      "rrwkv_rt.ModelFile(path) as f:` (or close()) drops this object's reference at the end; tensor views keep "
      "the mapping alive as long as they live.");
  file.def(py::init([](const py::object& path, bool verify_checksums, bool read_into_memory) {
             OpenOptions opts;
             opts.verify_checksums = verify_checksums;
             opts.read_into_memory = read_into_memory;
             const std::string p = path_arg(path);
             return open_checked_file([&] { return ModelFile::open(p, opts); });
           }), py::arg("path"), py::arg("verify_checksums") = true, py::arg("read_into_memory") = false,
           "read_into_memory: copy the file into memory instead of mapping it, so that later changes to the "
           "file on disk cannot affect (or crash) this process.")
      .def_static("from_bytes", [](const py::bytes& data, bool verify_checksums) {
             OpenOptions opts;
             opts.verify_checksums = verify_checksums;
             auto bytes = std::make_unique<OwnedBytes>(std::string(data), "<memory>");
             return open_checked_file([&] { return ModelFile::from_source(std::move(bytes), opts); });
           }, py::arg("data"), py::arg("verify_checksums") = true,
           "Validate a whole .rrwkv file held in memory (copied); path is '<memory>'.")
      .def_property_readonly("path", [](const FileHandle& h) { return path_to_python(h.shared()->file->path()); })
      .def_property_readonly("version", [](const FileHandle& h) { return h.shared()->file->version(); })
      .def_property_readonly("file_size", [](const FileHandle& h) { return h.shared()->file->file_size(); })
      .def_property_readonly("header_crc32", [](const FileHandle& h) { return h.shared()->file->header_crc32(); })
      .def_property_readonly("config", [](const FileHandle& h) { return config_to_dict(h.shared()->model.config); })
      .def_property_readonly("fields", [](const FileHandle& h) {
        const std::shared_ptr<const ModelFile> f = h.shared()->file;
        py::dict d;
        for (const auto& [k, v] : f->fields()) d[py::str(k)] = field_to_python(v);
        return d;
      })
      .def_property_readonly("tensors", [](const FileHandle& h) {
        const std::shared_ptr<const ModelFile> f = h.shared()->file;
        py::list out;
        for (const TensorInfo& t : f->tensors()) {
          py::dict d;
          d["name"] = t.name;
          d["dtype"] = dtype_name(t.dtype);
          d["shape"] = py::tuple(py::cast(t.shape));
          d["offset"] = t.offset;
          d["nbytes"] = t.nbytes;
          d["crc32"] = t.crc32;
          out.append(d);
        }
        return out;
      })
      .def("tensor", [](const FileHandle& h, const std::string& name) {
        const std::shared_ptr<const ModelFile> f = h.shared()->file;
        return tensor_view(f, f->tensor(name));
      }, py::arg("name"), "Zero-copy read-only numpy view (bf16 as raw uint16 bits, q8_0/q4_1 as raw uint8 rows).")
      .def("__repr__", [](const FileHandle& h) -> std::string {
        if (h.closed()) return "<rrwkv_rt.ModelFile (closed)>";
        const std::shared_ptr<const CheckedFile> checked = h.shared();
        const ModelFile* f = checked->file.get();
        const ModelConfig& c = checked->model.config;
        return "<rrwkv_rt.ModelFile " + c.arch + " n_layer=" + std::to_string(c.n_layer) + " n_embd=" +
               std::to_string(c.n_embd) + " vocab=" + std::to_string(c.vocab_size) + " version=" +
               std::to_string(f->version()) + " " + std::to_string(f->tensors().size()) + " tensors " +
               std::to_string(f->file_size()) + " bytes '" + f->path() + "'>";
      });
  bind_handle_protocol<FileHandle>(file);
}

}  // namespace rrwkv::python
