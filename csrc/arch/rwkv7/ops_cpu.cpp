#include <algorithm>
#include <cmath>

#include "arch/rwkv7/ops.h"
#include "ops/math.h"
#include "ops/parallel.h"

namespace rrwkv::rwkv7::detail {
namespace {

const float kDecayScale = std::exp(-0.5f);  // e^{-1/2} (the package's CPU code rounds it to 0.606531)
constexpr float kNormEps = 1e-12f;         // F.normalize's

}  // namespace

void prepare_cpu(ExecContext& ctx, const Prepare& p) {
  const int64_t C = p.C, S = p.head_size;
  ops::detail::for_rows(ctx, p.n, C, [&](int64_t i) {
    const int64_t o = i * C;
    for (int64_t c = 0; c < C; ++c) {
      p.w[o + c] = std::exp(-kDecayScale * ops::sigmoid(p.w0[c] + p.mw[o + c]));
      p.a[o + c] = ops::sigmoid(p.a0[c] + p.ma[o + c]);
    }
    for (int64_t h = 0; h < C; h += S) {
      float sq = 0.0f;
      for (int64_t c = h; c < h + S; ++c) {
        const float kk = p.k[o + c] * p.k_k[c];
        p.kappa[o + c] = kk;
        sq += kk * kk;
      }
      const float inv = 1.0f / std::max(std::sqrt(sq), kNormEps);
      for (int64_t c = h; c < h + S; ++c) p.kappa[o + c] *= inv;
    }
    for (int64_t c = 0; c < C; ++c) p.k[o + c] *= 1.0f + (p.a[o + c] - 1.0f) * p.k_a[c];
    if (!p.mv) {
      std::copy(p.v + o, p.v + o + C, p.v_first + o);
    } else {
      for (int64_t c = 0; c < C; ++c)
        p.v[o + c] += (p.v_first[o + c] - p.v[o + c]) * ops::sigmoid(p.v0[c] + p.mv[o + c]);
    }
  });
}

void add_bonus_cpu(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k,
                   int64_t n, int64_t C, int64_t head_size) {
  ops::detail::for_rows(ctx, n, C, [&](int64_t i) {
    const int64_t o = i * C;
    for (int64_t h = 0; h < C; h += head_size) {
      float s = 0.0f;
      for (int64_t c = h; c < h + head_size; ++c) s += r[o + c] * k[o + c] * r_k[c];
      for (int64_t c = h; c < h + head_size; ++c) y[o + c] += s * v[o + c];
    }
  });
}

}  // namespace rrwkv::rwkv7::detail
