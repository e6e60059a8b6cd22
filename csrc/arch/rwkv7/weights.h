// The weights of an RWKV-7 model bound on a device. Low-rank matrices are stored (out, in) like
// every other matrix (the exporter transposes the checkpoint's x @ A @ B form).
#pragma once

#include <vector>

#include "arch/architecture.h"
#include "arch/outer.h"
#include "arch/rwkv7/deep_embed.h"
#include "core/tensor.h"

namespace rrwkv::rwkv7 {

struct LayerWeights {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
  const float *x_r, *x_w, *x_k, *x_v, *x_a, *x_g;  // token-shift mixes
  const float *w0, *a0, *v0;                       // v0: layers >= 1 only
  Matrix w1, w2, a1, a2, v1, v2, g1, g2;           // low-rank pairs (v1/v2: layers >= 1 only)
  const float *k_k, *k_a, *r_k;
  Matrix receptance, key, value, output;
  const float *ln_x_w, *ln_x_b;
  const float* ffn_x_k;
  Matrix ffn_key, ffn_value;
  DeepEmbedWeights deep_embed;  // DeepEmbed models only (Weights::deep_embed > 0)
};

struct Weights final : BoundWeights {
  int64_t n_layer = 0, C = 0, F = 0, V = 0, head_size = 0;
  int64_t lora_decay = 0, lora_a = 0, lora_v = 0, lora_gate = 0;
  int64_t deep_embed = 0;  // DeepEmbed's rank R, 0: a plain RWKV-7
  double eps = 1e-5, gn_eps = 64e-5;
  OuterWeights outer;
  std::vector<LayerWeights> layers;
  StateSchema schema;
  uint64_t decode_bytes = 0;

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
  uint64_t decode_bytes_per_token() const override { return decode_bytes; }
};

}  // namespace rrwkv::rwkv7
