// The weights of an RWKV-7 model bound on a device. Low-rank matrices are stored (out, in) like
// every other matrix (the exporter transposes the checkpoint's x @ A @ B form).
#pragma once

#include <memory>

#include "arch/matrix/common.h"
#include "arch/rwkv7/deep_embed.h"

namespace rrwkv::rwkv7 {

struct LayerWeights : matrix::BlockCore {  // no gate and no ffn.receptance matrix
  const float *x_r, *x_w, *x_k, *x_v, *x_a, *x_g;  // token-shift mixes
  const float *w0, *a0, *v0;                       // v0: layers >= 1 only
  Matrix w1, w2, a1, a2, v1, v2, g1, g2;           // low-rank pairs (v1/v2: layers >= 1 only)
  const float *k_k, *k_a, *r_k;
  const float* ffn_x_k;
  DeepEmbedWeights deep_embed;  // DeepEmbed models only (Weights::deep_embed > 0)
};

struct Weights final : matrix::Weights<LayerWeights> {
  int64_t lora_decay = 0, lora_a = 0, lora_v = 0, lora_gate = 0;
  int64_t deep_embed = 0;  // DeepEmbed's rank R, 0: a plain RWKV-7

  void read_sizes(const ModelConfig& c) {
    matrix::Weights<LayerWeights>::read_sizes(c);
    lora_decay = static_cast<int64_t>(c.lora_decay), lora_a = static_cast<int64_t>(c.lora_a);
    lora_v = static_cast<int64_t>(c.lora_v), lora_gate = static_cast<int64_t>(c.lora_gate);
    deep_embed = static_cast<int64_t>(c.deep_embed);
  }

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
};

}  // namespace rrwkv::rwkv7
