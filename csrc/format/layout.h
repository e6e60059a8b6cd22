// The architecture config stored in a .rrwkv header, and the tensors each architecture needs in
// the runtime layout (docs/FORMAT.md). This list is the single source of truth: the Python
// exporter asks for it through the bindings instead of keeping its own copy.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rrwkv {

enum class Arch { RWKV4, RRWKV };
enum class CmMode { Replace, Add };

struct ModelConfig {
  Arch arch = Arch::RWKV4;
  uint64_t n_layer = 0, n_embd = 0, ffn_dim = 0, vocab_size = 0;
  uint64_t medium_interval = 1;
  CmMode cm_mode = CmMode::Replace;
  double layer_norm_eps = 1e-5;
};

const char* arch_name(Arch a);
const char* cm_mode_name(CmMode m);
Arch parse_arch(const std::string& s);        // throws FormatError naming the valid values
CmMode parse_cm_mode(const std::string& s);  // likewise

// The format's limits on a config (docs/FORMAT.md), checked by the reader and, before writing,
// by the writer: "" if `cfg` is within them, else what is wrong ("header field 'n_layer' is 0,
// expected 1..65536").
std::string config_problem(const ModelConfig& cfg);

// Vectors (per-channel parameters) are always f32; matrices may be f32, f16 or bf16.
struct TensorSpec {
  std::string name;
  std::vector<uint64_t> shape;
  bool is_matrix;
};

std::vector<TensorSpec> runtime_layout(const ModelConfig& cfg);
// runtime_layout(cfg).size(), without building it.
uint64_t runtime_layout_count(const ModelConfig& cfg);

}  // namespace rrwkv
