// Bindings of the .rrwkv reader, the runtime layout and the checksum.
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "core/crc32.h"
#include "core/device.h"
#include "core/errors.h"
#include "arch/architecture.h"
#include "format/model_file.h"
#include "python/bindings.h"

namespace py = pybind11;

namespace rrwkv::python {
namespace {

// A config dict (ModelConfig.to_dict() in Python) -> ModelConfig; the arch's fields must be there.
ModelConfig config_from_dict(const py::dict& d) {
  ModelConfig c;
  c.arch = d["arch"].cast<std::string>();
  const Architecture* a = find_architecture(c.arch);
  if (!a) throw InvalidArgument("unknown arch '" + c.arch + "'; expected one of " + architecture_names());
  std::vector<ConfigField> keys = common_config_fields();
  for (const ConfigField& f : a->config_fields()) keys.push_back(f);
  for (const ConfigField& f : keys) {
    if (!d.contains(f.key)) throw InvalidArgument(std::string("config has no '") + f.key + "'");
    py::handle v = d[f.key];
    switch (f.kind) {
      case ConfigField::Kind::U64: c.*f.u64 = v.cast<uint64_t>(); break;
      case ConfigField::Kind::F64: c.*f.f64 = v.cast<double>(); break;
      case ConfigField::Kind::Str: c.*f.str = v.cast<std::string>(); break;
    }
  }
  const std::string problem = a->check_config(c);
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
// dtype, so it is returned as its raw uint16 bits.
py::array tensor_view(const std::shared_ptr<const ModelFile>& file, const TensorInfo& t) {
  py::dtype dt = t.dtype == DType::F32 ? py::dtype::of<float>()
                 : t.dtype == DType::F16 ? py::dtype("float16") : py::dtype::of<uint16_t>();
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  auto owner = py::cast(file);
  py::array a(dt, shape, {}, t.data, owner);
  py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return a;
}

}  // namespace

py::dict config_to_dict(const ModelConfig& c) {
  py::dict d;
  d["arch"] = c.arch;
  std::vector<ConfigField> keys = common_config_fields();
  if (const Architecture* a = find_architecture(c.arch))
    for (const ConfigField& f : a->config_fields()) keys.push_back(f);
  for (const ConfigField& f : keys) {
    switch (f.kind) {
      case ConfigField::Kind::U64: d[f.key] = c.*f.u64; break;
      case ConfigField::Kind::F64: d[f.key] = c.*f.f64; break;
      case ConfigField::Kind::Str: d[f.key] = c.*f.str; break;
    }
  }
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

  m.def("cuda_compiled", &cuda_compiled, "Whether this build contains the CUDA kernels.");
  m.def("cuda_device_count", &cuda_device_count, "Usable CUDA devices (0 without a GPU or driver).");
  m.def("cuda_status", &cuda_status, "One line describing CUDA support, for diagnostics.");

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
  m.def("config_fields", [](const std::string& arch) {
        const Architecture* a = find_architecture(arch);
        if (!a) throw InvalidArgument("unknown arch '" + arch + "'; expected one of " + architecture_names());
        py::list out;
        std::vector<ConfigField> keys = common_config_fields();
        for (const ConfigField& f : a->config_fields()) keys.push_back(f);
        for (const ConfigField& f : keys)
          out.append(py::make_tuple(f.key, f.kind == ConfigField::Kind::U64 ? "u64"
                                           : f.kind == ConfigField::Kind::F64 ? "f64" : "str"));
        return out;
      }, py::arg("arch"), "(key, type) of every header field a file of this architecture stores ('arch' aside).");

  py::class_<ModelFile, std::shared_ptr<ModelFile>>(m, "ModelFile",
      "A validated, memory-mapped .rrwkv file (read-only, safe to share between threads).")
      .def(py::init([](const std::string& path, bool verify_checksums) {
             OpenOptions opts;
             opts.verify_checksums = verify_checksums;
             py::gil_scoped_release release;
             return std::const_pointer_cast<ModelFile>(ModelFile::open(path, opts));
           }), py::arg("path"), py::arg("verify_checksums") = true)
      .def_property_readonly("path", &ModelFile::path)
      .def_property_readonly("version", &ModelFile::version)
      .def_property_readonly("file_size", &ModelFile::file_size)
      .def_property_readonly("header_crc32", &ModelFile::header_crc32)
      .def_property_readonly("config", [](const ModelFile& f) { return config_to_dict(f.config()); })
      .def_property_readonly("fields", [](const ModelFile& f) {
        py::dict d;
        for (const auto& [k, v] : f.fields()) d[py::str(k)] = field_to_python(v);
        return d;
      })
      .def_property_readonly("tensors", [](const ModelFile& f) {
        py::list out;
        for (const TensorInfo& t : f.tensors()) {
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
      .def("tensor", [](const std::shared_ptr<ModelFile>& f, const std::string& name) {
        return tensor_view(f, f->tensor(name));
      }, py::arg("name"), "Zero-copy read-only numpy view (bf16 as raw uint16 bits).");
}

}  // namespace rrwkv::python
