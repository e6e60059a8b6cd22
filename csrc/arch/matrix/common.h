// Pieces the matrix-state architectures (RWKV-5.2, 6, 7: arch/rwkv5, rwkv6, rwkv7) share: their
// common header fields and checks, the state schema, and the weights every block of them has.
// The runners' shared steps are in matrix/runner.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "arch/architecture.h"
#include "arch/base/runner.h"
#include "arch/base/weights.h"

namespace rrwkv::matrix {

// "" or the problem: head_size must divide n_embd, the GroupNorm eps must be in (0, 1).
std::string check_config(const ModelConfig& c);

// Per layer: att_x (C), the matrix state wkv (n_head x S x S), ffn_x (C).
StateSchema state_schema(const ModelConfig& c);
enum Field { kAttX, kWkv, kFfnX };  // in that order in FieldOffsets (state_fields)
FieldOffsets state_fields(const StateSchema& s);

// The projections and the head norm every matrix-state block has. RWKV-7 has no att.gate and no
// ffn.receptance matrix (they stay empty).
struct BlockCore {
  Matrix receptance, key, value, gate, output;
  const float *ln_x_w, *ln_x_b;  // GroupNorm per head after the recurrence
  Matrix ffn_key, ffn_receptance, ffn_value;
};
// Binds them from block p; `gate`: att.gate and ffn.receptance too (RWKV-5/6).
void bind_core(const Binder::Block& p, BlockCore& l, bool gate);

template <class Layer>
struct Weights : LayeredWeights<Layer> {
  int64_t head_size = 0;
  double gn_eps = 64e-5;  // of the GroupNorm (ln_x) after the recurrence

  void read_sizes(const ModelConfig& c) {
    ModelWeights::read_sizes(c);
    head_size = static_cast<int64_t>(c.head_size);
    gn_eps = c.group_norm_eps;
  }
};

// The header fields, checks and state every matrix-state architecture shares: head_size and
// group_norm_eps, then the low-rank sizes it names.
template <class W>
class MatrixArchitecture : public LayeredArchitecture<W> {
 public:
  MatrixArchitecture(const char* name, const char* description, std::vector<const char*> loras)
      : LayeredArchitecture<W>(name, description, with_head_fields(std::move(loras))) {}
  std::string check_config(const ModelConfig& c) const override { return matrix::check_config(c); }
  StateSchema state_schema(const ModelConfig& c) const override { return matrix::state_schema(c); }

 private:
  static std::vector<const char*> with_head_fields(std::vector<const char*> keys) {
    keys.insert(keys.begin(), {"head_size", "group_norm_eps"});
    return keys;
  }
};

}  // namespace rrwkv::matrix
