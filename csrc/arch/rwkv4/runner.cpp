// RWKV-4 / RRWKV through a ragged batch (docs/RRWKV.md §5 and §6 at once): the tokens of every
// row go through each layer together: norms, mixes and projections over all token rows (the
// projections as matrix-matrix products), then the recurrence per row. A decode step of many
// sequences is a batch of rows with one token each; prefill is one row with many. The code
// below only calls ops, so it reads the same on every device.
#include <algorithm>

#include "arch/base/runner.h"
#include "arch/rwkv4/mediums.h"
#include "arch/rwkv4/mix_ops.h"
#include "arch/rwkv4/weights.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/wkv4.h"

namespace rrwkv::rwkv4 {
namespace {

using ops::Epilogue;

// The state fields a layer reads, in this order: the recurrence's six (ops::Wkv4Batch::field),
// then the mixes'.
enum Field { kWkv0, kAttX = kWkv0 + 6, kAttSeg, kFfnX, kFfnMed, kFfnSeg };

class Rwkv4Runner final : public LayerRunner {
 public:
  Rwkv4Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : LayerRunner(w, max_tokens, max_rows),
        w_(w),
        fields_(w.schema, {"aa", "bb", "pp", "ma", "mb", "mp", "att_x", "att_seg", "ffn_x", "ffn_med", "ffn_seg"}) {
    const int64_t N = max_tokens, C = w.C, KV = N + (w.variant.mediums ? N : 0);  // at most one medium per token
    carve({{&xk_, KV * C}, {&xv_, KV * C}, {&xr_, N * C}, {&k_, KV * C}, {&v_, KV * C}, {&r_, N * C}});
    schedule_.reserve(max_rows, max_tokens);
  }

 private:
  void plan(ExecContext& ctx, const RaggedBatch& b) override {
    schedule_.build(b, w_.variant.s);
    mediums_ = schedule_.staged(*ctx.backend, b.fixed_shape ? b.n_tokens() : 0);
    // a captured step projects a medium slot per token (at most one medium each), used or not:
    // which rows end a segment is data (the staged schedule), not the shape of the work
    medium_rows_ = !w_.variant.mediums ? 0 : b.fixed_shape ? b.n_tokens() : schedule_.count();
  }

  void time_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = w_.C, M = medium_rows_;

    TimeMixInputs in;
    in.C = C, in.rows = b.rows, in.mediums = mediums_;
    in.x = xa_;
    in.mu_k = lw.att_mix_k, in.mu_v = lw.att_mix_v, in.mu_r = lw.att_mix_r;
    in.att_x = fields_.at(l, kAttX), in.att_seg = fields_.at(l, kAttSeg);
    in.xk = xk_, in.xv = xv_, in.xr = xr_;
    time_mix_inputs(ctx, in);

    // the mediums completing here are projected with the tokens (rows N.. of xk, xv): no token shift
    ops::linear(ctx, {{&lw.att_key, xk_, C, N + M, k_, C},
                      {&lw.att_value, xv_, C, N + M, v_, C},
                      {&lw.att_receptance, xr_, C, N, r_, C, Epilogue::Sigmoid}});

    ops::Wkv4Batch s;
    s.C = C;
    s.w = lw.att_decay, s.u = lw.att_first, s.wm = lw.att_decay_m, s.bm = lw.att_first_m;
    s.rows = b.rows, s.mediums = mediums_;
    s.k = k_, s.v = v_;
    s.km = k_ + N * C, s.vm = v_ + N * C;
    for (int f = 0; f < 6; ++f) s.field[f] = fields_.at(l, kWkv0 + f);
    s.r = r_;
    s.out = xk_;  // the inputs are consumed: xk now holds r ⊙ wkv
    ops::wkv4(ctx, s);

    ops::linear(ctx, {{&lw.att_output, xk_, C, N, xv_, C}});
    ops::add(ctx, x_, xv_, N, C, C);
  }

  void channel_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = w_.C;

    using Mode = ChannelMixInputs::Mode;
    ChannelMixInputs in;
    in.C = C, in.rows = b.rows, in.mediums = mediums_;
    in.mode = !w_.variant.mediums ? Mode::Rwkv4 : w_.variant.add_mode ? Mode::Add : Mode::Replace;
    in.y = xa_;
    in.mu_k = lw.ffn_mix_k, in.mu_r = lw.ffn_mix_r;
    in.eta_k = lw.ffn_medium_mix_k, in.eta_r = lw.ffn_medium_mix_r;
    in.ffn_x = fields_.at(l, kFfnX), in.ffn_med = fields_.at(l, kFfnMed), in.ffn_seg = fields_.at(l, kFfnSeg);
    in.yk = xk_, in.yr = xv_;
    channel_mix_inputs(ctx, in);

    channel_output(ctx, N, lw.ffn_key, &lw.ffn_receptance, lw.ffn_value, xk_, xv_, r_, k_);
  }

  const Weights& w_;
  const FieldOffsets fields_;
  float *xk_, *xv_, *xr_, *k_, *v_, *r_;
  MediumSchedule schedule_;
  ops::MediumRows mediums_;  // this call's schedule, staged
  int64_t medium_rows_ = 0;  // the medium rows projected in this call (>= the schedule's count)
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv4Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv4
