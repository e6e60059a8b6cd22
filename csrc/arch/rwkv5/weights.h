// The weights of an RWKV-5.2 model bound on a device.
#pragma once

#include <vector>

#include "arch/architecture.h"
#include "arch/outer.h"
#include "core/tensor.h"

namespace rrwkv::rwkv5 {

struct LayerWeights {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  const float *mix_k, *mix_v, *mix_r, *mix_g;  // att.time_mix_*
  const float *decay, *first;                  // w = exp(-exp(time_decay)), u = time_faaaa (C each)
  Matrix receptance, key, value, gate, output;
  const float *ln_x_w, *ln_x_b;
  const float *ffn_mix_k, *ffn_mix_r;
  Matrix ffn_key, ffn_receptance, ffn_value;
};

struct Weights final : BoundWeights {
  int64_t n_layer = 0, C = 0, F = 0, V = 0, head_size = 0;
  double eps = 1e-5, gn_eps = 64e-5;
  OuterWeights outer;  // embedding, ln0, ln_out, head
  std::vector<LayerWeights> layers;
  StateSchema schema;
  uint64_t decode_bytes = 0;

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
  uint64_t decode_bytes_per_token() const override { return decode_bytes; }
};

}  // namespace rrwkv::rwkv5
