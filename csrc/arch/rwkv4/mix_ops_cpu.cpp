// The mixes on the CPU: one task per (batch row, block of channels), walking the row's tokens in
// order so that segment sums are formed exactly as the recurrent step forms them.
#include <algorithm>

#include "arch/rwkv4/mix_ops.h"
#include "ops/parallel.h"

namespace rrwkv::rwkv4::detail {
namespace {

constexpr int64_t kChannelBlock = 16;

// Token-shift mix in the official operand order: out = x * mu + xp * (1 - mu).
inline void mix(const float* x, const float* xp, const float* mu, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = x[i] * mu[i] + xp[i] * (1.0f - mu[i]);
}

// RRWKV `add` mode: out = x * mu + xp * (1 - mu) + eta * (c - x).
inline void mix_add(const float* x, const float* xp, const float* mu, const float* c, const float* eta, int64_t n,
                    float* out) {
  for (int64_t i = 0; i < n; ++i) out[i] = (x[i] * mu[i] + xp[i] * (1.0f - mu[i])) + eta[i] * (c[i] - x[i]);
}

template <class F>
void for_blocks(ExecContext& ctx, int64_t C, const ops::RaggedRows& r, F&& fn) {
  ops::detail::for_row_blocks(ctx, r.n_rows, C, r.n_tokens() * C, kChannelBlock, fn);
}

}  // namespace

void time_mix_inputs_cpu(ExecContext& ctx, const TimeMixInputs& a) {
  const ops::RaggedRows& rows = a.rows;
  const ops::MediumRows& med = a.mediums;
  const int64_t C = a.C, N = rows.n_tokens();
  for_blocks(ctx, C, rows, [&](int64_t i, int64_t c0, int64_t c1) {
    const int64_t t0 = rows.start[i], T = rows.start[i + 1] - t0, nc = c1 - c0;
    float* att_x = rows.state(i) + a.att_x;
    for (int64_t t = t0; t < t0 + T; ++t) {
      const float* x = a.x + t * C + c0;
      const float* xp = t == t0 ? att_x + c0 : x - C;
      mix(x, xp, a.mu_k + c0, nc, a.xk + t * C + c0);
      mix(x, xp, a.mu_v + c0, nc, a.xv + t * C + c0);
      mix(x, xp, a.mu_r + c0, nc, a.xr + t * C + c0);
    }
    if (med.s > 0) {
      float* seg = rows.state(i) + a.att_seg;
      const float fs = static_cast<float>(med.s);
      for (int64_t t = 0, j = med.med_start[i]; t < T; ++t) {
        const float* x = a.x + (t0 + t) * C;
        for (int64_t c = c0; c < c1; ++c) seg[c] += x[c];
        if (j < med.med_start[i + 1] && med.fold_at[j] == t) {
          float* mk = a.xk + (N + j) * C;
          float* mv = a.xv + (N + j) * C;
          for (int64_t c = c0; c < c1; ++c) {
            mk[c] = mv[c] = seg[c] / fs;
            seg[c] = 0.0f;
          }
          ++j;
        }
      }
    }
    const float* last = a.x + (t0 + T - 1) * C;
    std::copy(last + c0, last + c1, att_x + c0);
  });
}

void channel_mix_inputs_cpu(ExecContext& ctx, const ChannelMixInputs& a) {
  using Mode = ChannelMixInputs::Mode;
  const ops::RaggedRows& rows = a.rows;
  const ops::MediumRows& mediums = a.mediums;
  const int64_t C = a.C;
  for_blocks(ctx, C, rows, [&](int64_t i, int64_t c0, int64_t c1) {
    const int64_t t0 = rows.start[i], T = rows.start[i + 1] - t0, nc = c1 - c0;
    float* st = rows.state(i);
    float* ffn_x = a.ffn_x >= 0 ? st + a.ffn_x : nullptr;
    float* med = a.ffn_med >= 0 ? st + a.ffn_med : nullptr;
    float* seg = a.ffn_seg >= 0 ? st + a.ffn_seg : nullptr;
    const float fs = static_cast<float>(std::max<int64_t>(1, mediums.s));
    for (int64_t t = 0, j = mediums.s > 0 ? mediums.med_start[i] : 0; t < T; ++t) {
      const float* y = a.y + (t0 + t) * C + c0;
      const float* yp = t == 0 ? (ffn_x ? ffn_x + c0 : nullptr) : y - C;
      float* yk = a.yk + (t0 + t) * C + c0;
      float* yr = a.yr + (t0 + t) * C + c0;
      switch (a.mode) {
        case Mode::Rwkv4:
          mix(y, yp, a.mu_k + c0, nc, yk);
          mix(y, yp, a.mu_r + c0, nc, yr);
          continue;
        case Mode::Replace:  // the latest visible medium takes the previous token's place
          mix(y, med + c0, a.mu_k + c0, nc, yk);
          mix(y, med + c0, a.mu_r + c0, nc, yr);
          break;
        case Mode::Add:
          mix_add(y, yp, a.mu_k + c0, med + c0, a.eta_k + c0, nc, yk);
          mix_add(y, yp, a.mu_r + c0, med + c0, a.eta_r + c0, nc, yr);
          break;
      }
      for (int64_t c = 0; c < nc; ++c) seg[c0 + c] += y[c];
      if (j < mediums.med_start[i + 1] && mediums.fold_at[j] == t) {  // segment end: its medium is seen from t + 1
        for (int64_t c = c0; c < c1; ++c) {
          med[c] = seg[c] / fs;
          seg[c] = 0.0f;
        }
        ++j;
      }
    }
    if (ffn_x) {
      const float* last = a.y + (t0 + T - 1) * C;
      std::copy(last + c0, last + c1, ffn_x + c0);
    }
  });
}

}  // namespace rrwkv::rwkv4::detail
