// The sequence form (docs/RRWKV.md §6): a chunk of tokens through every layer, the projections
// of all tokens as matrix-matrix products (gemm.h), then the WKV recurrence as one scan per
// channel carrying the token and medium triples. Chunks carry every state field and use the
// absolute position, so segment boundaries may fall anywhere in a chunk.
#include <algorithm>

#include "kernels/cpu/matvec.h"
#include "kernels/cpu/ops.h"
#include "kernels/wkv/wkv.h"
#include "runtime/scratch.h"
#include "runtime/session.h"

namespace rrwkv {
namespace {

constexpr int64_t kChannelBlock = 16;  // channels per task of the per-channel walks and scans

int64_t n_blocks(int64_t n, int64_t per) { return (n + per - 1) / per; }

}  // namespace

void Session::run_prefill_chunk(const int64_t* tokens, int64_t n, float* logits, int64_t ld_logits, bool all_logits) {
  const Model& m = *model_;
  PrefillScratch& p = *pre_;
  const int64_t C = m.n_embd();
  const double eps = m.config().layer_norm_eps;
  pool_.run(n, [&](int64_t t, int) {
    float* row = p.x + t * C;
    cpu::kernels().rows_to_f32(m.emb, tokens[t], tokens[t] + 1, row);
    cpu::layer_norm(row, m.ln0_w, m.ln0_b, C, eps, row);
  });
  for (int64_t l = 0; l < m.n_layer(); ++l) {
    chunk_time_mix(l, n);
    chunk_channel_mix(l, n);
  }
  if (all_logits) {
    pool_.run(n, [&](int64_t t, int) {
      cpu::layer_norm(p.x + t * C, m.ln_out_w, m.ln_out_b, C, eps, p.xa + t * C);
    });
    cpu::gemm_xwt(pool_, *gemm_ws_, m.head, p.xa, C, n, logits, ld_logits);
  } else if (logits) {
    cpu::layer_norm(p.x + (n - 1) * C, m.ln_out_w, m.ln_out_b, C, eps, p.xa);
    const int64_t V = m.vocab_size(), per = 64;
    pool_.run(n_blocks(V, per), [&](int64_t task, int) {
      cpu::gemm_xwt_rows_matvec(m.head, p.xa, C, 1, logits, V, task * per, std::min(V, (task + 1) * per));
    });
  }
  state_.pos += n;
}

void Session::chunk_time_mix(int64_t l, int64_t n) {
  const Model& m = *model_;
  const LayerWeights& w = m.layers[l];
  PrefillScratch& p = *pre_;
  const int64_t C = m.n_embd(), s = m.medium_interval(), pos = state_.pos;
  const double eps = m.config().layer_norm_eps;
  pool_.run(n, [&](int64_t t, int) { cpu::layer_norm(p.x + t * C, w.ln1_w, w.ln1_b, C, eps, p.xa + t * C); });

  // Mediums completing in this chunk: medium j closes after local token fold_at[j].
  int64_t n_fold = 0;
  if (m.is_rrwkv())
    for (int64_t t = (s - 1 - pos % s) % s; t < n; t += s) p.fold_at[n_fold++] = t;

  // Per channel, in token order: the token-shift mixes and the segment sums (so the mediums are
  // summed exactly as the step does). Medium j goes to row n + j of the key and value inputs.
  float* att_x = state_.field(kAttX, l);
  float* att_seg = state_.field(kAttSeg, l);
  pool_.run(n_blocks(C, kChannelBlock), [&](int64_t task, int) {
    const int64_t c0 = task * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock), nc = c1 - c0;
    for (int64_t t = 0; t < n; ++t) {
      const float* xa = p.xa + t * C + c0;
      const float* xp = t == 0 ? att_x + c0 : xa - C;
      cpu::mix(xa, xp, w.att_mix_k + c0, nc, p.xk + t * C + c0);
      cpu::mix(xa, xp, w.att_mix_v + c0, nc, p.xv + t * C + c0);
      cpu::mix(xa, xp, w.att_mix_r + c0, nc, p.xr + t * C + c0);
    }
    if (m.is_rrwkv()) {
      const float fs = static_cast<float>(s);
      int64_t j = 0;
      for (int64_t t = 0; t < n; ++t) {
        const float* xa = p.xa + t * C;
        for (int64_t c = c0; c < c1; ++c) att_seg[c] += xa[c];
        if (j < n_fold && p.fold_at[j] == t) {
          float* mk = p.xk + (n + j) * C;
          float* mv = p.xv + (n + j) * C;
          for (int64_t c = c0; c < c1; ++c) {
            mk[c] = mv[c] = att_seg[c] / fs;
            att_seg[c] = 0.0f;
          }
          ++j;
        }
      }
    }
    std::copy(p.xa + (n - 1) * C + c0, p.xa + (n - 1) * C + c1, att_x + c0);
  });

  cpu::gemm_xwt(pool_, *gemm_ws_, w.att_key, p.xk, C, n + n_fold, p.k, C);
  cpu::gemm_xwt(pool_, *gemm_ws_, w.att_value, p.xv, C, n + n_fold, p.v, C);
  cpu::gemm_xwt(pool_, *gemm_ws_, w.att_receptance, p.xr, C, n, p.r, C, cpu::Epilogue::Sigmoid);

  float* rw = p.xk;  // the inputs are consumed: reuse as r ⊙ wkv
  const wkv::RowScan scan{w.att_decay, w.att_first, w.att_decay_m, w.att_first_m, p.k, p.v, p.k + n * C,
                          p.v + n * C, p.fold_at.data(), n_fold, C, n,
                          {state_.field(kAA, l), state_.field(kBB, l), state_.field(kPP, l), state_.field(kMA, l),
                           state_.field(kMB, l), state_.field(kMP, l)},
                          rw, C};
  pool_.run(n_blocks(C, kChannelBlock), [&](int64_t task, int) {
    const int64_t c0 = task * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock);
    wkv::scan_rows_f32(scan, c0, c1);
    for (int64_t t = 0; t < n; ++t)
      for (int64_t c = c0; c < c1; ++c) rw[t * C + c] = p.r[t * C + c] * rw[t * C + c];
  });

  float* out = p.xv;
  cpu::gemm_xwt(pool_, *gemm_ws_, w.att_output, rw, C, n, out, C);
  pool_.run(n, [&](int64_t t, int) {
    for (int64_t c = 0; c < C; ++c) p.x[t * C + c] += out[t * C + c];
  });
}

void Session::chunk_channel_mix(int64_t l, int64_t n) {
  const Model& m = *model_;
  const LayerWeights& w = m.layers[l];
  PrefillScratch& p = *pre_;
  const int64_t C = m.n_embd(), s = m.medium_interval(), pos = state_.pos;
  const double eps = m.config().layer_norm_eps;
  float* y = p.xa;
  pool_.run(n, [&](int64_t t, int) { cpu::layer_norm(p.x + t * C, w.ln2_w, w.ln2_b, C, eps, y + t * C); });

  // Per channel, in token order: c_t (the latest medium visible at t), the mixes, and the new
  // mediums, exactly as the step computes them.
  float* ffn_x = state_.field(kFfnX, l);
  float* ffn_med = state_.field(kFfnMed, l);
  float* ffn_seg = state_.field(kFfnSeg, l);
  float *yk = p.xk, *yr = p.xv;
  pool_.run(n_blocks(C, kChannelBlock), [&](int64_t task, int) {
    const int64_t c0 = task * kChannelBlock, c1 = std::min(C, c0 + kChannelBlock), nc = c1 - c0;
    const float fs = static_cast<float>(s);
    for (int64_t t = 0; t < n; ++t) {
      const float* yt = y + t * C + c0;
      const float* yp = t == 0 ? ffn_x + c0 : yt - C;
      float* ykt = yk + t * C + c0;
      float* yrt = yr + t * C + c0;
      if (!m.is_rrwkv()) {
        cpu::mix(yt, yp, w.ffn_mix_k + c0, nc, ykt);
        cpu::mix(yt, yp, w.ffn_mix_r + c0, nc, yrt);
        continue;
      }
      if (!m.add_mode()) {
        cpu::mix(yt, ffn_med + c0, w.ffn_mix_k + c0, nc, ykt);
        cpu::mix(yt, ffn_med + c0, w.ffn_mix_r + c0, nc, yrt);
      } else {
        cpu::mix_add(yt, yp, w.ffn_mix_k + c0, ffn_med + c0, w.ffn_medium_mix_k + c0, nc, ykt);
        cpu::mix_add(yt, yp, w.ffn_mix_r + c0, ffn_med + c0, w.ffn_medium_mix_r + c0, nc, yrt);
      }
      for (int64_t c = c0; c < c1; ++c) ffn_seg[c] += y[t * C + c];
      if ((pos + t + 1) % s == 0) {
        for (int64_t c = c0; c < c1; ++c) {
          ffn_med[c] = ffn_seg[c] / fs;
          ffn_seg[c] = 0.0f;
        }
      }
    }
    if (m.ffn_token_shift()) std::copy(y + (n - 1) * C + c0, y + (n - 1) * C + c1, ffn_x + c0);
  });

  cpu::gemm_xwt(pool_, *gemm_ws_, w.ffn_key, yk, C, n, p.kk, m.ffn_dim(), cpu::Epilogue::ReluSquare);
  cpu::gemm_xwt(pool_, *gemm_ws_, w.ffn_receptance, yr, C, n, p.r, C, cpu::Epilogue::Sigmoid);
  float* vv = p.k;
  cpu::gemm_xwt(pool_, *gemm_ws_, w.ffn_value, p.kk, m.ffn_dim(), n, vv, C);
  pool_.run(n, [&](int64_t t, int) {
    for (int64_t c = 0; c < C; ++c) p.x[t * C + c] += p.r[t * C + c] * vv[t * C + c];
  });
}

}  // namespace rrwkv
