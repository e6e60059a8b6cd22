#include "format/config.h"

#include <algorithm>
#include <cstring>

#include "core/errors.h"

namespace rrwkv {

bool ModelConfig::operator==(const ModelConfig& o) const {
  return arch == o.arch && n_layer == o.n_layer && n_embd == o.n_embd && ffn_dim == o.ffn_dim &&
         vocab_size == o.vocab_size && layer_norm_eps == o.layer_norm_eps && medium_interval == o.medium_interval &&
         cm_mode == o.cm_mode && head_size == o.head_size && group_norm_eps == o.group_norm_eps &&
         lora_mix == o.lora_mix && lora_decay == o.lora_decay && lora_a == o.lora_a && lora_v == o.lora_v &&
         lora_gate == o.lora_gate && deep_embed == o.deep_embed;
}

const std::vector<ConfigField>& config_field_table() {
  static const std::vector<ConfigField> table = [] {
    auto u64 = [](const char* key, uint64_t ModelConfig::*m, uint64_t lo, uint64_t hi) {
      ConfigField f{key, ConfigField::Kind::U64};
      f.u64 = m;
      f.lo = lo;
      f.hi = hi;
      return f;
    };
    auto f64 = [](const char* key, double ModelConfig::*m) {
      ConfigField f{key, ConfigField::Kind::F64};
      f.f64 = m;
      return f;
    };
    ConfigField cm_mode{"cm_mode", ConfigField::Kind::Str};
    cm_mode.str = &ModelConfig::cm_mode;
    constexpr uint64_t kLora = uint64_t{1} << 16;
    ConfigField deep_embed = u64("deep_embed", &ModelConfig::deep_embed, 0, 1024);  // RWKV-7 DeepEmbed's rank
    deep_embed.optional = true;
    return std::vector<ConfigField>{
        u64("n_layer", &ModelConfig::n_layer, 1, uint64_t{1} << 16),
        u64("n_embd", &ModelConfig::n_embd, 1, uint64_t{1} << 20),
        u64("vocab_size", &ModelConfig::vocab_size, 1, uint64_t{1} << 26),
        u64("ffn_dim", &ModelConfig::ffn_dim, 1, uint64_t{1} << 22),
        u64("medium_interval", &ModelConfig::medium_interval, 1, uint64_t{1} << 30),
        cm_mode,
        f64("layer_norm_eps", &ModelConfig::layer_norm_eps),
        u64("head_size", &ModelConfig::head_size, 1, 4096),
        f64("group_norm_eps", &ModelConfig::group_norm_eps),
        u64("lora_mix", &ModelConfig::lora_mix, 1, kLora),
        u64("lora_decay", &ModelConfig::lora_decay, 1, kLora),
        u64("lora_a", &ModelConfig::lora_a, 1, kLora),
        u64("lora_v", &ModelConfig::lora_v, 1, kLora),
        u64("lora_gate", &ModelConfig::lora_gate, 1, kLora),
        deep_embed,
    };
  }();
  return table;
}

std::vector<ConfigField> config_fields_named(const std::vector<const char*>& keys) {
  std::vector<ConfigField> out;
  for (const char* key : keys) {
    const auto& t = config_field_table();
    auto it = std::find_if(t.begin(), t.end(), [&](const ConfigField& f) { return std::strcmp(f.key, key) == 0; });
    if (it == t.end()) throw InvalidArgument(std::string("no config field '") + key + "'");
    out.push_back(*it);
  }
  return out;
}

const std::vector<ConfigField>& common_config_fields() {
  static const std::vector<ConfigField> fields =
      config_fields_named({"n_layer", "n_embd", "ffn_dim", "vocab_size", "layer_norm_eps"});
  return fields;
}

}  // namespace rrwkv
