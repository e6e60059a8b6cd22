// RWKV-5.2 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv5.py): per layer
// the static token-shift mixes, the r/k/v/gate projections of all token rows at once, the
// matrix recurrence per (row, head), GroupNorm per head, the gate and the output projection;
// then RWKV-4's channel mix. Only ops: the same code for every device.
#include "arch/rwkv5/weights.h"
#include "core/aligned.h"
#include "core/errors.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/token_shift.h"
#include "ops/wkv5.h"

namespace rrwkv::rwkv5 {
namespace {

using ops::Epilogue;

class Rwkv5Runner final : public Runner {
 public:
  Rwkv5Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : w_(w), max_tokens_(max_tokens), max_rows_(max_rows) {
    const int64_t NC = max_tokens * w.C;
    buf_ = AlignedFloats({NC, NC, NC, NC, NC, NC, NC, NC, NC, NC, NC, max_tokens * w.F});
    x_ = buf_[0], xa_ = buf_[1], xp_ = buf_[2], zk_ = buf_[3], zv_ = buf_[4], zr_ = buf_[5], zg_ = buf_[6];
    r_ = buf_[7], k_ = buf_[8], v_ = buf_[9], g_ = buf_[10], kk_ = buf_[11];
    last_.reserve(static_cast<size_t>(max_rows));
    for (int64_t l = 0; l < w.n_layer; ++l)
      offsets_.push_back({w.schema.offset("att_x", l), w.schema.offset("wkv", l), w.schema.offset("ffn_x", l)});
  }

  void run(ExecContext& ctx, const RaggedBatch& b) override {
    const int64_t N = b.n_tokens();
    if (N > max_tokens_ || b.n_rows > max_rows_)
      throw InvalidArgument("rwkv5 runner: a call of " + std::to_string(N) + " tokens exceeds its scratch");
    const ops::RaggedRows rows{b.n_rows, b.start, b.state};
    embed(ctx, w_.outer, b, x_);
    for (int64_t l = 0; l < w_.n_layer; ++l) {
      time_mix(ctx, rows, l);
      channel_mix(ctx, rows, l);
    }
    logits(ctx, w_.outer, b, x_, xa_, xp_, last_);
  }

 private:
  struct Offsets {
    int64_t att_x, wkv, ffn_x;
  };

  void time_mix(ExecContext& ctx, const ops::RaggedRows& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = rows.n_tokens(), C = w_.C;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln1_w, lw.ln1_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].att_x, xp_);
    ops::lerp(ctx, zk_, xa_, xp_, lw.mix_k, N, C, C);
    ops::lerp(ctx, zv_, xa_, xp_, lw.mix_v, N, C, C);
    ops::lerp(ctx, zr_, xa_, xp_, lw.mix_r, N, C, C);
    ops::lerp(ctx, zg_, xa_, xp_, lw.mix_g, N, C, C);
    ops::linear(ctx, {{&lw.receptance, zr_, C, N, r_, C},
                      {&lw.key, zk_, C, N, k_, C},
                      {&lw.value, zv_, C, N, v_, C},
                      {&lw.gate, zg_, C, N, g_, C, Epilogue::Silu}});
    ops::Wkv5Batch s;
    s.rows = rows, s.C = C, s.head_size = w_.head_size, s.field = offsets_[l].wkv;
    s.r = r_, s.k = k_, s.v = v_, s.w = lw.decay, s.ldw = 0, s.u = lw.first, s.y = xa_;
    ops::wkv5(ctx, s);
    ops::group_norm(ctx, xa_, C, N, C, C / w_.head_size, lw.ln_x_w, lw.ln_x_b, w_.gn_eps, xa_, C);
    ops::multiply(ctx, xa_, xa_, g_, N, C, C);
    ops::linear(ctx, {{&lw.output, xa_, C, N, xp_, C}});
    ops::add(ctx, x_, xp_, N, C, C);
  }

  void channel_mix(ExecContext& ctx, const ops::RaggedRows& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = rows.n_tokens(), C = w_.C, F = w_.F;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln2_w, lw.ln2_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].ffn_x, xp_);
    ops::lerp(ctx, zk_, xa_, xp_, lw.ffn_mix_k, N, C, C);
    ops::lerp(ctx, zr_, xa_, xp_, lw.ffn_mix_r, N, C, C);
    ops::linear(ctx, {{&lw.ffn_key, zk_, C, N, kk_, F, Epilogue::ReluSquare},
                      {&lw.ffn_receptance, zr_, C, N, r_, C, Epilogue::Sigmoid}});
    ops::linear(ctx, {{&lw.ffn_value, kk_, F, N, v_, C}});
    ops::add_product(ctx, x_, r_, v_, N, C, C);
  }

  const Weights& w_;
  const int64_t max_tokens_, max_rows_;
  AlignedFloats buf_;
  float *x_, *xa_, *xp_, *zk_, *zv_, *zr_, *zg_, *r_, *k_, *v_, *g_, *kk_;
  std::vector<int64_t> last_;
  std::vector<Offsets> offsets_;
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv5Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv5
