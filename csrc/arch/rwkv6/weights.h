// The weights of an RWKV-6 model bound on a device. Low-rank matrices are stored (out, in) like
// every other matrix (the exporter transposes the checkpoint's x @ A @ B form).
#pragma once

#include <memory>

#include "arch/matrix/common.h"

namespace rrwkv::rwkv6 {

constexpr int kBranches = 5;  // the data-dependent mixes, in the checkpoint's order: w, k, v, r, g

struct LayerWeights : matrix::BlockCore {
  const float* maa_x;
  const float* maa[kBranches];  // att.time_maa_{w,k,v,r,g}
  Matrix maa_w1;                // (5 D, C): all five LoRA inputs at once
  Matrix maa_w2[kBranches];     // (C, D) each: views into att.time_maa_w2 (5 C, D)
  const float* decay;           // att.time_decay (C)
  Matrix decay_w1, decay_w2;    // (D2, C), (C, D2)
  const float* first;           // u = time_faaaa (C)
  const float *ffn_maa_k, *ffn_maa_r;
};

struct Weights final : matrix::Weights<LayerWeights> {
  int64_t lora_mix = 0, lora_decay = 0;

  void read_sizes(const ModelConfig& c) {
    matrix::Weights<LayerWeights>::read_sizes(c);
    lora_mix = static_cast<int64_t>(c.lora_mix);
    lora_decay = static_cast<int64_t>(c.lora_decay);
  }

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
};

}  // namespace rrwkv::rwkv6
