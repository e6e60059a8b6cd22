// The weights of an RWKV-4 / RRWKV model bound on a device, and the variant it is.
#pragma once

#include <cstdint>
#include <vector>

#include "arch/architecture.h"
#include "arch/outer.h"
#include "core/tensor.h"

namespace rrwkv::rwkv4 {

struct LayerWeights {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  // time-mix
  const float *att_mix_k, *att_mix_v, *att_mix_r;
  const float *att_decay, *att_first;      // w = exp(time_decay), u = time_first
  const float *att_decay_m, *att_first_m;  // wm, bm (RRWKV), else nullptr
  Matrix att_key, att_value, att_receptance, att_output;
  // channel-mix
  const float *ffn_mix_k, *ffn_mix_r;
  const float *ffn_medium_mix_k, *ffn_medium_mix_r;  // η (RRWKV `add` mode), else nullptr
  Matrix ffn_key, ffn_receptance, ffn_value;
};

// Which of the variants a model is (from its config).
struct Variant {
  bool mediums = false;   // RRWKV
  bool add_mode = false;  // RRWKV channel-mix `add`
  int64_t s = 0;          // medium interval (0 for RWKV-4)
  bool ffn_token_shift() const { return !mediums || add_mode; }
};

struct Weights final : BoundWeights {
  Variant variant;
  int64_t n_layer = 0, C = 0, F = 0, V = 0;
  double eps = 1e-5;
  OuterWeights outer;  // embedding, ln0, ln_out, head
  std::vector<LayerWeights> layers;
  StateSchema schema;
  uint64_t decode_bytes = 0;

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
  uint64_t decode_bytes_per_token() const override { return decode_bytes; }
};

}  // namespace rrwkv::rwkv4
