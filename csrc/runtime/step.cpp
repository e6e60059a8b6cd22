// The recurrent step (docs/RRWKV.md §5): one token through every layer, matrix-vector products
// split over the session's pool. Per layer four parallel regions: k/v/r projections fused with
// the WKV of the same channels, the output projection, the channel-mix key/receptance, and the
// channel-mix value. Small O(C) work between them runs on the calling thread.
#include <algorithm>

#include "kernels/cpu/matvec.h"
#include "kernels/cpu/ops.h"
#include "kernels/wkv/wkv.h"
#include "runtime/scratch.h"
#include "runtime/session.h"

namespace rrwkv {
namespace {

// Rows per task: about 128 KiB of weights (the pool hands out several tasks at once at first;
// 16 KiB tasks measured 30% slower, 64-512 KiB alike).
int64_t rows_per_task(const cpu::MatRef& w) {
  return std::max<int64_t>(1, int64_t{131072} / std::max<int64_t>(1, w.row_bytes()));
}

int64_t n_tasks(int64_t rows, int64_t per) { return (rows + per - 1) / per; }

bool is_segment_end(int64_t pos, int64_t s) { return (pos + 1) % s == 0; }

}  // namespace

void Session::step_locked(int64_t token, float* logits) {
  const Model& m = *model_;
  DecodeScratch& d = *dec_;
  const int64_t C = m.n_embd();
  const double eps = m.config().layer_norm_eps;
  cpu::kernels().rows_to_f32(m.emb, token, token + 1, d.x);
  cpu::layer_norm(d.x, m.ln0_w, m.ln0_b, C, eps, d.x);
  for (int64_t l = 0; l < m.n_layer(); ++l) {
    step_time_mix(l);
    step_channel_mix(l);
  }
  cpu::layer_norm(d.x, m.ln_out_w, m.ln_out_b, C, eps, d.xa);
  const int64_t per = rows_per_task(m.head), V = m.vocab_size();
  pool_.run(n_tasks(V, per), [&](int64_t task, int) {
    const float* xs[1] = {d.xa};
    float* ys[1] = {logits};
    cpu::kernels().matvec(m.head, xs, 1, ys, task * per, std::min(V, (task + 1) * per));
  });
  state_.pos += 1;
}

void Session::step_time_mix(int64_t l) {
  const Model& m = *model_;
  const LayerWeights& w = m.layers[l];
  DecodeScratch& d = *dec_;
  const int64_t C = m.n_embd(), s = m.medium_interval();
  float* att_x = state_.field(kAttX, l);
  cpu::layer_norm(d.x, w.ln1_w, w.ln1_b, C, m.config().layer_norm_eps, d.xa);
  cpu::mix(d.xa, att_x, w.att_mix_k, C, d.xk);
  cpu::mix(d.xa, att_x, w.att_mix_v, C, d.xv);
  cpu::mix(d.xa, att_x, w.att_mix_r, C, d.xr);

  // A completing segment's medium is projected together with this token (weights read once) and
  // folded in after this token's output, so the next token is the first to see it.
  bool fold = false;
  if (m.is_rrwkv()) {
    float* seg = state_.field(kAttSeg, l);
    for (int64_t c = 0; c < C; ++c) seg[c] += d.xa[c];
    if (is_segment_end(state_.pos, s)) {
      fold = true;
      const float fs = static_cast<float>(s);
      for (int64_t c = 0; c < C; ++c) {
        d.med[c] = seg[c] / fs;
        seg[c] = 0.0f;
      }
    }
  }
  const int64_t fold_at[1] = {0};  // the medium, if any, folds in after this token
  const wkv::RowScan scan{w.att_decay, w.att_first, w.att_decay_m, w.att_first_m, d.k, d.v, d.km, d.vm, fold_at,
                          fold ? 1 : 0, C, 1,
                          {state_.field(kAA, l), state_.field(kBB, l), state_.field(kPP, l), state_.field(kMA, l),
                           state_.field(kMB, l), state_.field(kMP, l)},
                          d.rw, C};
  const int nk = fold ? 2 : 1;
  const float* xk[2] = {d.xk, d.med};
  const float* xv[2] = {d.xv, d.med};
  const float* xr[1] = {d.xr};
  float* yk[2] = {d.k, d.km};
  float* yv[2] = {d.v, d.vm};
  float* yr[1] = {d.r};
  const int64_t per = rows_per_task(w.att_key);  // rows of each of the three matrices
  pool_.run(n_tasks(C, per), [&](int64_t task, int) {
    const int64_t c0 = task * per, c1 = std::min(C, c0 + per);
    const cpu::KernelTable& k = cpu::kernels();
    k.matvec(w.att_key, xk, nk, yk, c0, c1);
    k.matvec(w.att_value, xv, nk, yv, c0, c1);
    k.matvec(w.att_receptance, xr, 1, yr, c0, c1);
    wkv::scan_rows_f32(scan, c0, c1);
    for (int64_t c = c0; c < c1; ++c) d.rw[c] = cpu::sigmoid(d.r[c]) * d.rw[c];
  });
  std::copy(d.xa, d.xa + C, att_x);

  const int64_t per_o = rows_per_task(w.att_output);
  pool_.run(n_tasks(C, per_o), [&](int64_t task, int) {
    const int64_t c0 = task * per_o, c1 = std::min(C, c0 + per_o);
    const float* xs[1] = {d.rw};
    float* ys[1] = {d.out};
    cpu::kernels().matvec(w.att_output, xs, 1, ys, c0, c1);
    for (int64_t c = c0; c < c1; ++c) d.x[c] += d.out[c];
  });
}

void Session::step_channel_mix(int64_t l) {
  const Model& m = *model_;
  const LayerWeights& w = m.layers[l];
  DecodeScratch& d = *dec_;
  const int64_t C = m.n_embd(), F = m.ffn_dim(), s = m.medium_interval();
  float* ffn_x = state_.field(kFfnX, l);
  float* ffn_med = state_.field(kFfnMed, l);
  cpu::layer_norm(d.x, w.ln2_w, w.ln2_b, C, m.config().layer_norm_eps, d.y);
  if (!m.is_rrwkv()) {
    cpu::mix(d.y, ffn_x, w.ffn_mix_k, C, d.yk);
    cpu::mix(d.y, ffn_x, w.ffn_mix_r, C, d.yr);
  } else if (!m.add_mode()) {  // replace: the latest visible medium takes the previous token's place
    cpu::mix(d.y, ffn_med, w.ffn_mix_k, C, d.yk);
    cpu::mix(d.y, ffn_med, w.ffn_mix_r, C, d.yr);
  } else {
    cpu::mix_add(d.y, ffn_x, w.ffn_mix_k, ffn_med, w.ffn_medium_mix_k, C, d.yk);
    cpu::mix_add(d.y, ffn_x, w.ffn_mix_r, ffn_med, w.ffn_medium_mix_r, C, d.yr);
  }

  // key (F rows, relu²) and receptance (C rows, sigmoid) in one region
  const int64_t per_k = rows_per_task(w.ffn_key), per_r = rows_per_task(w.ffn_receptance);
  const int64_t tk = n_tasks(F, per_k), tr = n_tasks(C, per_r);
  pool_.run(tk + tr, [&](int64_t task, int) {
    const cpu::KernelTable& k = cpu::kernels();
    if (task < tk) {
      const int64_t r0 = task * per_k, r1 = std::min(F, r0 + per_k);
      const float* xs[1] = {d.yk};
      float* ys[1] = {d.kk};
      k.matvec(w.ffn_key, xs, 1, ys, r0, r1);
      for (int64_t i = r0; i < r1; ++i) d.kk[i] = cpu::relu_square(d.kk[i]);
    } else {
      const int64_t r0 = (task - tk) * per_r, r1 = std::min(C, r0 + per_r);
      const float* xs[1] = {d.yr};
      float* ys[1] = {d.rr};
      k.matvec(w.ffn_receptance, xs, 1, ys, r0, r1);
      for (int64_t i = r0; i < r1; ++i) d.rr[i] = cpu::sigmoid(d.rr[i]);
    }
  });
  const int64_t per_v = rows_per_task(w.ffn_value);
  pool_.run(n_tasks(C, per_v), [&](int64_t task, int) {
    const int64_t c0 = task * per_v, c1 = std::min(C, c0 + per_v);
    const float* xs[1] = {d.kk};
    float* ys[1] = {d.vv};
    cpu::kernels().matvec(w.ffn_value, xs, 1, ys, c0, c1);
    for (int64_t c = c0; c < c1; ++c) d.x[c] += d.rr[c] * d.vv[c];
  });

  if (m.ffn_token_shift()) std::copy(d.y, d.y + C, ffn_x);
  if (m.is_rrwkv()) {
    float* seg = state_.field(kFfnSeg, l);
    for (int64_t c = 0; c < C; ++c) seg[c] += d.y[c];
    if (is_segment_end(state_.pos, s)) {
      const float fs = static_cast<float>(s);
      for (int64_t c = 0; c < C; ++c) {
        ffn_med[c] = seg[c] / fs;
        seg[c] = 0.0f;
      }
    }
  }
}

}  // namespace rrwkv
