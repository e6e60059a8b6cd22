#include "arch/matrix/common.h"

namespace rrwkv::matrix {

std::vector<ConfigField> config_fields(const std::vector<std::pair<const char*, uint64_t ModelConfig::*>>& loras) {
  ConfigField head{"head_size", ConfigField::Kind::U64};
  head.u64 = &ModelConfig::head_size;
  head.lo = 1;
  head.hi = 4096;
  ConfigField eps{"group_norm_eps", ConfigField::Kind::F64};
  eps.f64 = &ModelConfig::group_norm_eps;
  std::vector<ConfigField> out = {head, eps};
  for (const auto& [key, member] : loras) {
    ConfigField f{key, ConfigField::Kind::U64};
    f.u64 = member;
    f.lo = 1;
    f.hi = uint64_t{1} << 16;
    out.push_back(f);
  }
  return out;
}

std::string check_config(const ModelConfig& c) {
  if (c.n_embd % c.head_size != 0)
    return "head_size " + std::to_string(c.head_size) + " does not divide n_embd " + std::to_string(c.n_embd);
  if (!(c.group_norm_eps > 0 && c.group_norm_eps < 1))
    return "header field 'group_norm_eps' is " + std::to_string(c.group_norm_eps) + ", expected a value in (0, 1)";
  return "";
}

StateSchema state_schema(const ModelConfig& c) {
  const auto C = static_cast<int64_t>(c.n_embd), S = static_cast<int64_t>(c.head_size);
  StateSchema s;
  s.n_layer = static_cast<int64_t>(c.n_layer);
  s.fields = {{"att_x", C, 0.0f}, {"wkv", C * S, 0.0f}, {"ffn_x", C, 0.0f}};  // C / S heads of S x S
  return s;
}

uint64_t decode_bytes(const ModelFile& f, const std::vector<TensorSpec>& layout) {
  uint64_t bytes = 0;
  for (const TensorSpec& spec : layout) {
    const TensorInfo& t = f.tensor(spec.name);
    // per-token tables (the embedding, RWKV-7 DeepEmbed's s_emb): one row of each
    const bool per_token = spec.name == "emb.weight" ||
                           (spec.name.size() > 6 && spec.name.compare(spec.name.size() - 6, 6, ".s_emb") == 0);
    bytes += per_token ? t.nbytes / t.shape[0] : t.nbytes;
  }
  return bytes;
}

void add_outer_layout(const ModelConfig& c, std::vector<TensorSpec>& out) {
  const uint64_t C = c.n_embd, V = c.vocab_size;
  out.push_back({"emb.weight", {V, C}, true});
  out.push_back({"blocks.0.ln0.weight", {C}, false});
  out.push_back({"blocks.0.ln0.bias", {C}, false});
  out.push_back({"ln_out.weight", {C}, false});
  out.push_back({"ln_out.bias", {C}, false});
  out.push_back({"head.weight", {V, C}, true});
}

}  // namespace rrwkv::matrix
