// RWKV-7 DeepEmbed ("v7a", the rwkv package's RWKV_DE_VERSION=1): each layer's channel mix scales
// its hidden activations per token by a modulation read from a per-token R x R table. Kept apart
// from the plain RWKV-7 code: a model without it (deep_embed = 0) never touches this file.
//
//   t   = (s1 · x) E[token]         x: the ln2 output (C), s1: (R, C), E[token]: the token's row
//                                   of s_emb viewed as R x R (row-major), t: (R)
//   k  *= s2 · t + s0               k: relu(key · shifted x)² (F), s2: (F, R), s0: (F)
//
// The exporter folds the checkpoint's s_emb_x into s_emb (s_emb + ln0(emb) · s_emb_xᵀ, as the
// package does when it loads the model), so the file holds the table that is read.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "arch/base/layout.h"
#include "arch/base/weights.h"
#include "core/aligned.h"
#include "core/matrix.h"
#include "ops/context.h"

namespace rrwkv::rwkv7 {

struct DeepEmbedWeights {
  Matrix s_emb;            // (V, R*R): one row per token
  Matrix s1, s2;           // (R, C) and (F, R)
  const float* s0 = nullptr;  // (F)
};

// The tensors a DeepEmbed model adds to a layer's block (none when cfg.deep_embed is 0).
void add_deep_embed_layout(const ModelConfig& cfg, Layout::Block& block);
DeepEmbedWeights bind_deep_embed(const Binder::Block& p);

// One runner's scratch for the modulation of up to max_tokens tokens.
class DeepEmbed {
 public:
  DeepEmbed(int64_t rank, int64_t ffn_dim, int64_t max_tokens, const Device& device);
  // k (n x F, row stride F) *= s2 · ((s1 · x) E[tokens]) + s0, with x (n x C, row stride C).
  void apply(ExecContext& ctx, const DeepEmbedWeights& w, const int64_t* tokens, int64_t n, const float* x,
             int64_t C, float* k);

 private:
  int64_t R_, F_;
  AlignedFloats buf_;                 // on the CPU
  std::shared_ptr<float> device_buf_;  // on a GPU
  float *proj_, *rows_, *mixed_, *mod_;
};

// The elementwise steps, ops of this architecture: t[i] = proj[i] · E_i (R x R) per token, and
// k ⊙= (mod + s0).
void deep_embed_mix(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R, float* out);
void deep_embed_scale(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F);

namespace detail {
void deep_embed_mix_cpu(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R, float* out);
void deep_embed_scale_cpu(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F);
void deep_embed_mix_cuda(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R, float* out);
void deep_embed_scale_cuda(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F);
}  // namespace detail

}  // namespace rrwkv::rwkv7
