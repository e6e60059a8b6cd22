// RWKV-4 / RRWKV through a ragged batch (docs/RRWKV.md §5 and §6 at once): the tokens of every
// row go through each layer together: norms, mixes and projections over all token rows (the
// projections as matrix-matrix products), then the recurrence per row. A decode step of many
// sequences is a batch of rows with one token each; prefill is one row with many. The code
// below only calls ops, so it reads the same on every device.
#include <algorithm>

#include "arch/rwkv4/mediums.h"
#include "arch/rwkv4/mix_ops.h"
#include "arch/rwkv4/weights.h"
#include "core/aligned.h"
#include "core/errors.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/wkv4.h"

namespace rrwkv::rwkv4 {
namespace {

using ops::Epilogue;

class Rwkv4Runner final : public Runner {
 public:
  Rwkv4Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : w_(w), max_tokens_(max_tokens), max_rows_(max_rows) {
    const int64_t N = max_tokens, C = w.C, KV = N + (w.variant.mediums ? N : 0);  // at most one medium per token
    buf_ = AlignedFloats({N * C, N * C, KV * C, KV * C, N * C, KV * C, KV * C, N * C, N * w.F});
    x_ = buf_[0], xa_ = buf_[1], xk_ = buf_[2], xv_ = buf_[3], xr_ = buf_[4];
    k_ = buf_[5], v_ = buf_[6], r_ = buf_[7], kk_ = buf_[8];
    schedule_.reserve(max_rows, max_tokens);
    last_.reserve(static_cast<size_t>(max_rows));
    offsets_.resize(static_cast<size_t>(w.n_layer));
    for (int64_t l = 0; l < w.n_layer; ++l) {
      Offsets& o = offsets_[static_cast<size_t>(l)];
      for (int f = 0; f < 6; ++f) o.wkv[f] = w.schema.offset(kWkvFields[f], l);
      o.att_x = w.schema.offset("att_x", l);
      o.att_seg = w.schema.offset("att_seg", l);
      o.ffn_x = w.schema.offset("ffn_x", l);
      o.ffn_med = w.schema.offset("ffn_med", l);
      o.ffn_seg = w.schema.offset("ffn_seg", l);
    }
  }

  void run(ExecContext& ctx, const RaggedBatch& b) override {
    const int64_t N = b.n_tokens(), C = w_.C;
    if (N > max_tokens_ || b.n_rows > max_rows_)
      throw InvalidArgument("rwkv4 runner: a call of " + std::to_string(N) + " tokens in " + std::to_string(b.n_rows) +
                            " rows exceeds its scratch (" + std::to_string(max_tokens_) + " tokens, " +
                            std::to_string(max_rows_) + " rows)");
    schedule_.build(b, w_.variant.s);
    RowsView rows{C, b.n_rows, b.start, b.state, w_.variant.s, schedule_.med_start(), schedule_.fold_at()};
    embed(ctx, w_.outer, b, x_);
    for (int64_t l = 0; l < w_.n_layer; ++l) {
      time_mix(ctx, b, rows, l);
      channel_mix(ctx, rows, l);
    }
    logits(ctx, w_.outer, b, x_, xr_, xa_, last_);
  }

 private:
  static constexpr const char* kWkvFields[6] = {"aa", "bb", "pp", "ma", "mb", "mp"};
  struct Offsets {
    int64_t wkv[6];
    int64_t att_x, att_seg, ffn_x, ffn_med, ffn_seg;
  };

  void time_mix(ExecContext& ctx, const RaggedBatch& b, const RowsView& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const Offsets& o = offsets_[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = w_.C, M = schedule_.count();
    ops::layer_norm(ctx, x_, C, N, C, lw.ln1_w, lw.ln1_b, w_.eps, xa_, C);

    TimeMixInputs in;
    in.rows = rows;
    in.x = xa_;
    in.mu_k = lw.att_mix_k, in.mu_v = lw.att_mix_v, in.mu_r = lw.att_mix_r;
    in.att_x = o.att_x, in.att_seg = o.att_seg;
    in.xk = xk_, in.xv = xv_, in.xr = xr_;
    time_mix_inputs(ctx, in);

    // the mediums completing here are projected with the tokens (rows N.. of xk, xv): no token shift
    ops::linear(ctx, {{&lw.att_key, xk_, C, N + M, k_, C},
                      {&lw.att_value, xv_, C, N + M, v_, C},
                      {&lw.att_receptance, xr_, C, N, r_, C, Epilogue::Sigmoid}});

    ops::Wkv4Batch s;
    s.C = C;
    s.w = lw.att_decay, s.u = lw.att_first, s.wm = lw.att_decay_m, s.bm = lw.att_first_m;
    s.n_rows = b.n_rows, s.start = b.start;
    s.k = k_, s.v = v_;
    s.med_start = rows.med_start, s.fold_at = rows.fold_at;
    s.km = k_ + N * C, s.vm = v_ + N * C;
    s.state = b.state;
    std::copy(o.wkv, o.wkv + 6, s.field);
    s.r = r_;
    s.out = xk_;  // the inputs are consumed: xk now holds r ⊙ wkv
    ops::wkv4(ctx, s);

    ops::linear(ctx, {{&lw.att_output, xk_, C, N, xv_, C}});
    ops::add(ctx, x_, xv_, N, C, C);
  }

  void channel_mix(ExecContext& ctx, const RowsView& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const Offsets& o = offsets_[static_cast<size_t>(l)];
    const int64_t N = rows.start[rows.n_rows], C = w_.C, F = w_.F;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln2_w, lw.ln2_b, w_.eps, xa_, C);

    using Mode = ChannelMixInputs::Mode;
    ChannelMixInputs in;
    in.rows = rows;
    in.mode = !w_.variant.mediums ? Mode::Rwkv4 : w_.variant.add_mode ? Mode::Add : Mode::Replace;
    in.y = xa_;
    in.mu_k = lw.ffn_mix_k, in.mu_r = lw.ffn_mix_r;
    in.eta_k = lw.ffn_medium_mix_k, in.eta_r = lw.ffn_medium_mix_r;
    in.ffn_x = o.ffn_x, in.ffn_med = o.ffn_med, in.ffn_seg = o.ffn_seg;
    in.yk = xk_, in.yr = xv_;
    channel_mix_inputs(ctx, in);

    ops::linear(ctx, {{&lw.ffn_key, xk_, C, N, kk_, F, Epilogue::ReluSquare},
                      {&lw.ffn_receptance, xv_, C, N, r_, C, Epilogue::Sigmoid}});
    ops::linear(ctx, {{&lw.ffn_value, kk_, F, N, k_, C}});
    ops::add_product(ctx, x_, r_, k_, N, C, C);
  }

  const Weights& w_;
  const int64_t max_tokens_, max_rows_;
  AlignedFloats buf_;
  float *x_, *xa_, *xk_, *xv_, *xr_, *k_, *v_, *r_, *kk_;
  MediumSchedule schedule_;
  std::vector<int64_t> last_;
  std::vector<Offsets> offsets_;
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv4Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv4
