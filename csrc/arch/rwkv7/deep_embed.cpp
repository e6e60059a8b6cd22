#include "arch/rwkv7/deep_embed.h"

#include "core/errors.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/parallel.h"

namespace rrwkv::rwkv7 {

void add_deep_embed_layout(const ModelConfig& c, Layout::Block& block) {
  const uint64_t R = c.deep_embed, C = c.n_embd, F = c.ffn_dim, V = c.vocab_size;
  if (R == 0) return;
  block.table("ffn.s_emb", V, R * R).matrix("ffn.s1", R, C).matrix("ffn.s2", F, R).vector("ffn.s0", F);
}

DeepEmbedWeights bind_deep_embed(const Binder::Block& p) {
  return {p.mat("ffn.s_emb"), p.mat("ffn.s1"), p.mat("ffn.s2"), p.vec("ffn.s0")};
}

DeepEmbed::DeepEmbed(int64_t rank, int64_t ffn_dim, int64_t max_tokens, const Device& device) : R_(rank), F_(ffn_dim) {
  const std::vector<int64_t> sizes = {max_tokens * rank, max_tokens * rank * rank, max_tokens * rank,
                                      max_tokens * ffn_dim};
  float* at[4];
  if (device.is_cpu()) {
    buf_ = AlignedFloats(sizes);
    for (size_t i = 0; i < 4; ++i) at[i] = buf_[i];
  } else {  // in the device's memory, each piece 256-byte aligned
    int64_t total = 0;
    for (int64_t n : sizes) total += (n + 63) / 64 * 64;
    device_buf_ = device_floats(device, total);
    float* p = device_buf_.get();
    for (size_t i = 0; i < 4; ++i) at[i] = p, p += (sizes[i] + 63) / 64 * 64;
  }
  proj_ = at[0], rows_ = at[1], mixed_ = at[2], mod_ = at[3];
}

void DeepEmbed::apply(ExecContext& ctx, const DeepEmbedWeights& w, const int64_t* tokens, int64_t n, const float* x,
                      int64_t C, float* k) {
  ops::linear(ctx, {{&w.s1, x, C, n, proj_, R_}});
  ops::embedding(ctx, w.s_emb, tokens, n, rows_, R_ * R_);
  deep_embed_mix(ctx, proj_, rows_, n, R_, mixed_);
  ops::linear(ctx, {{&w.s2, mixed_, R_, n, mod_, F_}});
  deep_embed_scale(ctx, k, mod_, w.s0, n, F_);
}

void deep_embed_mix(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R, float* out) {
  if (n < 0 || R < 1 || (n > 0 && (!proj || !table_rows || !out)))
    throw InvalidArgument("rwkv7 deep_embed_mix: bad operands");
  RRWKV_DISPATCH("rwkv7 deep_embed_mix", ctx.device, detail::deep_embed_mix_cpu(ctx, proj, table_rows, n, R, out),
                 detail::deep_embed_mix_cuda(ctx, proj, table_rows, n, R, out));
}

void deep_embed_scale(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F) {
  if (n < 0 || F < 1 || (n > 0 && (!k || !mod || !s0))) throw InvalidArgument("rwkv7 deep_embed_scale: bad operands");
  RRWKV_DISPATCH("rwkv7 deep_embed_scale", ctx.device, detail::deep_embed_scale_cpu(ctx, k, mod, s0, n, F),
                 detail::deep_embed_scale_cuda(ctx, k, mod, s0, n, F));
}

namespace detail {

void deep_embed_mix_cpu(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R,
                        float* out) {
  ops::detail::for_rows(ctx, n, R * R, [&](int64_t t) {
    const float* p = proj + t * R;
    const float* e = table_rows + t * R * R;
    float* o = out + t * R;
    for (int64_t j = 0; j < R; ++j) o[j] = 0.0f;
    for (int64_t i = 0; i < R; ++i)  // o = p · E (E row-major R x R)
      for (int64_t j = 0; j < R; ++j) o[j] += p[i] * e[i * R + j];
  });
}

void deep_embed_scale_cpu(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F) {
  ops::detail::for_rows(ctx, n, F, [&](int64_t t) {
    for (int64_t f = 0; f < F; ++f) k[t * F + f] *= mod[t * F + f] + s0[f];
  });
}

}  // namespace detail
}  // namespace rrwkv::rwkv7
