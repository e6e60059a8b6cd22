#include "arch/base/model_check.h"

#include <variant>

#include "core/errors.h"
#include "core/text.h"
#include "format/model_file.h"

namespace rrwkv {
namespace {

ModelConfig read_config(const ModelFile& file, const Architecture*& arch) {
  const std::string where = file.where();
  auto field = [&](const std::string& key) -> const FieldValue& {
    auto it = file.fields().find(key);
    if (it == file.fields().end())
      throw FormatError(where + ": the header has no '" + key + "' field; " + kReexportHint);
    return it->second;
  };
  auto wrong_type = [&](const std::string& key, const char* type_name) {
    return FormatError(where + ": header field '" + key + "' should be of type " + type_name + "; " + kReexportHint);
  };
  ModelConfig config;
  const FieldValue& name = field("arch");
  if (!std::holds_alternative<std::string>(name)) throw wrong_type("arch", "str");
  config.arch = std::get<std::string>(name);
  arch = find_architecture(config.arch);
  if (!arch)
    throw FormatError(where + ": header field 'arch' is " + quoted(config.arch) + ", expected one of " +
                      architecture_names() + "; the file is corrupt or from a newer version of rrwkv_rt — " +
                      "upgrade rrwkv_rt or re-export the model");
  for (const ConfigField& f : config_fields_of(*arch)) {
    if (f.optional && file.fields().find(f.key) == file.fields().end()) continue;  // absent: the default
    const FieldValue& v = field(f.key);
    switch (f.kind) {
      case ConfigField::Kind::U64: {
        if (!std::holds_alternative<uint64_t>(v)) throw wrong_type(f.key, "u64");
        const uint64_t x = std::get<uint64_t>(v);
        if (x < f.lo || x > f.hi)
          throw FormatError(where + ": header field '" + f.key + "' is " + std::to_string(x) + ", expected " +
                            std::to_string(f.lo) + ".." + std::to_string(f.hi) + "; " + kReexportHint);
        config.*f.u64 = x;
        break;
      }
      case ConfigField::Kind::F64:
        if (!std::holds_alternative<double>(v)) throw wrong_type(f.key, "f64");
        config.*f.f64 = std::get<double>(v);
        break;
      case ConfigField::Kind::Str:
        if (!std::holds_alternative<std::string>(v)) throw wrong_type(f.key, "str");
        config.*f.str = std::get<std::string>(v);
        break;
    }
  }
  const std::string problem = config_problem(*arch, config);
  if (!problem.empty()) throw FormatError(where + ": " + problem + "; " + kReexportHint);
  return config;
}

void check_layout(const ModelFile& file, const Architecture& arch, const ModelConfig& c) {
  // A small header may claim 65536 layers: say so before building a million-entry layout (every
  // layer of every architecture has tensors of its own).
  if (c.n_layer > file.tensors().size())
    throw FormatError(file.where() + " does not match its header (" + c.arch + ", n_layer=" +
                      std::to_string(c.n_layer) + "): that many layers need more tensors than the " +
                      std::to_string(file.tensors().size()) + " the file has; " + kReexportHint);
  std::string problems;
  int count = 0;
  for (const TensorSpec& spec : arch.layout(c)) {
    const TensorInfo* t = file.find(spec.name);
    std::string p;
    if (!t)
      p = "missing tensor " + quoted(spec.name) + " (expected shape " + shape_str(spec.shape) + ")";
    else if (t->shape != spec.shape)
      p = "tensor " + quoted(spec.name) + " has shape " + shape_str(t->shape) + ", expected " + shape_str(spec.shape);
    else if (!spec.is_matrix && t->dtype != DType::F32)
      p = "tensor " + quoted(spec.name) + " has dtype " + dtype_name(t->dtype) + ", expected f32 (vectors are always f32)";
    if (!p.empty()) {
      ++count;
      if (count <= 20) problems += "\n  " + p;
    }
  }
  if (count > 20) problems += "\n  ... and " + std::to_string(count - 20) + " more";
  if (count)
    throw FormatError(file.where() + " does not match its header (" + c.arch + ", n_layer=" +
                      std::to_string(c.n_layer) + ", n_embd=" + std::to_string(c.n_embd) + "): " +
                      std::to_string(count) + " problem(s):" + problems + "\n" + kReexportHint);
}

}  // namespace

CheckedModel check_model(const ModelFile& file) {
  CheckedModel m;
  m.config = read_config(file, m.arch);
  check_layout(file, *m.arch, m.config);
  return m;
}

std::vector<ConfigField> config_fields_of(const Architecture& arch) {
  std::vector<ConfigField> keys = common_config_fields();
  for (const ConfigField& f : arch.config_fields()) keys.push_back(f);
  return keys;
}

std::string config_problem(const Architecture& arch, const ModelConfig& c) {
  if (!(c.layer_norm_eps > 0 && c.layer_norm_eps < 1))
    return "header field 'layer_norm_eps' is " + std::to_string(c.layer_norm_eps) + ", expected a value in (0, 1)";
  return arch.check_config(c);
}

}  // namespace rrwkv
