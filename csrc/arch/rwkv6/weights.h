// The weights of an RWKV-6 model bound on a device. Low-rank matrices are stored (out, in) like
// every other matrix (the exporter transposes the checkpoint's x @ A @ B form).
#pragma once

#include <vector>

#include "arch/architecture.h"
#include "arch/outer.h"
#include "core/tensor.h"

namespace rrwkv::rwkv6 {

constexpr int kBranches = 5;  // the data-dependent mixes, in the checkpoint's order: w, k, v, r, g

struct LayerWeights {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  const float* maa_x;
  const float* maa[kBranches];  // att.time_maa_{w,k,v,r,g}
  Matrix maa_w1;                // (5 D, C): all five LoRA inputs at once
  Matrix maa_w2[kBranches];     // (C, D) each: views into att.time_maa_w2 (5 C, D)
  const float* decay;           // att.time_decay (C)
  Matrix decay_w1, decay_w2;    // (D2, C), (C, D2)
  const float* first;           // u = time_faaaa (C)
  Matrix receptance, key, value, gate, output;
  const float *ln_x_w, *ln_x_b;
  const float *ffn_maa_k, *ffn_maa_r;
  Matrix ffn_key, ffn_receptance, ffn_value;
};

struct Weights final : BoundWeights {
  int64_t n_layer = 0, C = 0, F = 0, V = 0, head_size = 0, lora_mix = 0, lora_decay = 0;
  double eps = 1e-5, gn_eps = 64e-5;
  OuterWeights outer;
  std::vector<LayerWeights> layers;
  StateSchema schema;
  uint64_t decode_bytes = 0;

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
  uint64_t decode_bytes_per_token() const override { return decode_bytes; }
};

}  // namespace rrwkv::rwkv6
