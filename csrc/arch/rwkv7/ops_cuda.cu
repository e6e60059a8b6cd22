// RWKV-7's steps around its recurrence on the GPU (gpu/time_mix.h, gpu/deep_embed.h).
#include "arch/rwkv7/deep_embed.h"
#include "arch/rwkv7/ops.h"
#include "gpu/deep_embed.h"
#include "gpu/time_mix.h"

namespace rrwkv::rwkv7::detail {

void prepare_cuda(ExecContext& ctx, const Prepare& p) {
  if (p.n == 0) return;
  gpu::Rwkv7Prepare g;
  g.n = p.n, g.C = p.C, g.head_size = p.head_size;
  g.mw = p.mw, g.ma = p.ma, g.mv = p.mv;
  g.w0 = p.w0, g.a0 = p.a0, g.v0 = p.v0, g.k_k = p.k_k, g.k_a = p.k_a;
  g.w = p.w, g.a = p.a, g.kappa = p.kappa, g.k = p.k, g.v = p.v, g.v_first = p.v_first;
  gpu::rwkv7_prepare(g, ctx.stream());
}

void add_bonus_cuda(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k,
                    int64_t n, int64_t C, int64_t head_size) {
  if (n > 0) gpu::rwkv7_add_bonus(y, r, k, v, r_k, n, C, head_size, ctx.stream());
}

void deep_embed_mix_cuda(ExecContext& ctx, const float* proj, const float* table_rows, int64_t n, int64_t R,
                         float* out) {
  if (n > 0) gpu::deep_embed_mix(proj, table_rows, n, R, out, ctx.stream());
}

void deep_embed_scale_cuda(ExecContext& ctx, float* k, const float* mod, const float* s0, int64_t n, int64_t F) {
  if (n > 0) gpu::deep_embed_scale(k, mod, s0, n, F, ctx.stream());
}

}  // namespace rrwkv::rwkv7::detail
