#include "format/layout.h"

#include "core/errors.h"
#include "core/text.h"

namespace rrwkv {

const char* arch_name(Arch a) { return a == Arch::RWKV4 ? "rwkv4" : "rrwkv"; }
const char* cm_mode_name(CmMode m) { return m == CmMode::Replace ? "replace" : "add"; }

Arch parse_arch(const std::string& s) {
  if (s == "rwkv4") return Arch::RWKV4;
  if (s == "rrwkv") return Arch::RRWKV;
  throw FormatError("header field 'arch' is " + quoted(s) +
                    ", expected 'rwkv4' or 'rrwkv'; the file is corrupt or from a newer version of rrwkv_rt — "
                    "upgrade rrwkv_rt or re-export the model");
}

CmMode parse_cm_mode(const std::string& s) {
  if (s == "replace") return CmMode::Replace;
  if (s == "add") return CmMode::Add;
  throw FormatError("header field 'cm_mode' is " + quoted(s) +
                    ", expected 'replace' or 'add'; the file is corrupt or from a newer version of rrwkv_rt");
}

std::string config_problem(const ModelConfig& c) {
  struct Limit {
    const char* key;
    uint64_t value, lo, hi;
  };
  const Limit limits[] = {{"n_layer", c.n_layer, 1, 1u << 16},
                          {"n_embd", c.n_embd, 1, 1u << 20},
                          {"ffn_dim", c.ffn_dim, 1, 1u << 22},
                          {"vocab_size", c.vocab_size, 1, 1u << 26},
                          {"medium_interval", c.medium_interval, 1, 1u << 30}};
  for (const Limit& l : limits)
    if (l.value < l.lo || l.value > l.hi)
      return std::string("header field '") + l.key + "' is " + std::to_string(l.value) + ", expected " +
             std::to_string(l.lo) + ".." + std::to_string(l.hi);
  if (!(c.layer_norm_eps > 0 && c.layer_norm_eps < 1))
    return "header field 'layer_norm_eps' is " + std::to_string(c.layer_norm_eps) + ", expected a value in (0, 1)";
  if (c.arch == Arch::RWKV4 && c.medium_interval != 1)
    return "header field 'medium_interval' is " + std::to_string(c.medium_interval) +
           " for arch 'rwkv4', which has no mediums: expected 1";
  if (c.arch == Arch::RWKV4 && c.cm_mode != CmMode::Replace)
    return "header field 'cm_mode' is 'add' for arch 'rwkv4', which has no mediums: expected 'replace'";
  return "";
}

uint64_t runtime_layout_count(const ModelConfig& cfg) {
  uint64_t per_block = 18;
  if (cfg.arch == Arch::RRWKV) per_block += cfg.cm_mode == CmMode::Add ? 4 : 2;
  return 6 + cfg.n_layer * per_block;
}

std::vector<TensorSpec> runtime_layout(const ModelConfig& cfg) {
  const uint64_t C = cfg.n_embd, F = cfg.ffn_dim, V = cfg.vocab_size;
  std::vector<TensorSpec> out;
  auto vec = [&](const std::string& name) { out.push_back({name, {C}, false}); };
  auto mat = [&](const std::string& name, uint64_t rows, uint64_t cols) { out.push_back({name, {rows, cols}, true}); };

  mat("emb.weight", V, C);
  vec("blocks.0.ln0.weight");
  vec("blocks.0.ln0.bias");
  for (uint64_t i = 0; i < cfg.n_layer; ++i) {
    const std::string p = "blocks." + std::to_string(i) + ".";
    for (const char* ln : {"ln1", "ln2"}) {
      vec(p + ln + ".weight");
      vec(p + ln + ".bias");
    }
    for (const char* v : {"att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.time_first", "att.decay"})
      vec(p + v);
    for (const char* m : {"att.key.weight", "att.value.weight", "att.receptance.weight", "att.output.weight"})
      mat(p + m, C, C);
    vec(p + "ffn.time_mix_k");
    vec(p + "ffn.time_mix_r");
    mat(p + "ffn.key.weight", F, C);
    mat(p + "ffn.receptance.weight", C, C);
    mat(p + "ffn.value.weight", C, F);
    if (cfg.arch == Arch::RRWKV) {
      vec(p + "att.decay_m");
      vec(p + "att.time_first_m");
      if (cfg.cm_mode == CmMode::Add) {
        vec(p + "ffn.medium_mix_k");
        vec(p + "ffn.medium_mix_r");
      }
    }
  }
  vec("ln_out.weight");
  vec("ln_out.bias");
  mat("head.weight", V, C);
  return out;
}

}  // namespace rrwkv
