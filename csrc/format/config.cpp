#include "format/config.h"

namespace rrwkv {

bool ModelConfig::operator==(const ModelConfig& o) const {
  return arch == o.arch && n_layer == o.n_layer && n_embd == o.n_embd && ffn_dim == o.ffn_dim &&
         vocab_size == o.vocab_size && layer_norm_eps == o.layer_norm_eps && medium_interval == o.medium_interval &&
         cm_mode == o.cm_mode && head_size == o.head_size && group_norm_eps == o.group_norm_eps &&
         lora_mix == o.lora_mix && lora_decay == o.lora_decay && lora_a == o.lora_a && lora_v == o.lora_v &&
         lora_gate == o.lora_gate && deep_embed == o.deep_embed;
}

const std::vector<ConfigField>& common_config_fields() {
  static const std::vector<ConfigField> fields = [] {
    auto u64 = [](const char* key, uint64_t ModelConfig::*m, uint64_t lo, uint64_t hi) {
      ConfigField f{key, ConfigField::Kind::U64};
      f.u64 = m;
      f.lo = lo;
      f.hi = hi;
      return f;
    };
    ConfigField eps{"layer_norm_eps", ConfigField::Kind::F64};
    eps.f64 = &ModelConfig::layer_norm_eps;
    return std::vector<ConfigField>{
        u64("n_layer", &ModelConfig::n_layer, 1, uint64_t{1} << 16),
        u64("n_embd", &ModelConfig::n_embd, 1, uint64_t{1} << 20),
        u64("ffn_dim", &ModelConfig::ffn_dim, 1, uint64_t{1} << 22),
        u64("vocab_size", &ModelConfig::vocab_size, 1, uint64_t{1} << 26),
        eps,
    };
  }();
  return fields;
}

}  // namespace rrwkv
