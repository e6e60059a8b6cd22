// The model configuration a .rrwkv header stores, and the header fields it is read from.
// Every architecture reads the common fields plus the ones it declares (arch/architecture.h);
// fields an architecture does not use keep their defaults, so two equal models compare equal.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrwkv {

struct ModelConfig {
  std::string arch;  // the header's `arch`: a name the architecture registry knows
  uint64_t n_layer = 0, n_embd = 0, ffn_dim = 0, vocab_size = 0;
  double layer_norm_eps = 1e-5;
  // RRWKV (docs/RRWKV.md §7); an RWKV-4 file stores 1 and "replace"
  uint64_t medium_interval = 1;
  std::string cm_mode = "replace";
  // RWKV-5/6/7: head size, the GroupNorm (ln_x) eps and the low-rank sizes (0: not used)
  uint64_t head_size = 0;
  double group_norm_eps = 0.0;
  uint64_t lora_mix = 0, lora_decay = 0, lora_a = 0, lora_v = 0, lora_gate = 0;
  // RWKV-7 DeepEmbed ("v7a"): the rank R of the per-token R x R channel-mix modulation (0: none)
  uint64_t deep_embed = 0;

  bool operator==(const ModelConfig& o) const;
};

// One header field of the config: its key, its type and the member it fills.
struct ConfigField {
  enum class Kind { U64, F64, Str };
  const char* key;
  Kind kind;
  uint64_t ModelConfig::*u64 = nullptr;
  double ModelConfig::*f64 = nullptr;
  std::string ModelConfig::*str = nullptr;
  uint64_t lo = 0, hi = 0;  // valid range of a U64 field
  // An optional field may be absent (the member keeps its default, 0) and is written only when
  // it is not 0, so that files without the feature are unchanged by its existence.
  bool optional = false;
};

// Every field of ModelConfig but `arch`, each with its type and limits: the one place they are
// defined (Python's ModelConfig reads them through the bindings: config_fields, CONFIG_DEFAULTS).
const std::vector<ConfigField>& config_field_table();
// The fields named, from the table (InvalidArgument for a key it does not have).
std::vector<ConfigField> config_fields_named(const std::vector<const char*>& keys);
// n_layer, n_embd, ffn_dim, vocab_size, layer_norm_eps: every architecture has them.
const std::vector<ConfigField>& common_config_fields();

}  // namespace rrwkv
