// RWKV-7 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv7.py): per layer
// the token-shift mixes, the r/k/v projections with the four low-rank maps (decay, rate, value
// residual, gate), the delta-rule recurrence per (row, head), GroupNorm per head plus the
// current-token bonus, the gate and the output; then the receptance-free channel mix. Layer 0's
// values (v_first) feed every later layer's value residual. Only ops: the same code everywhere.
#include <algorithm>

#include "arch/matrix/runner.h"
#include "arch/rwkv7/deep_embed.h"
#include "arch/rwkv7/ops.h"
#include "arch/rwkv7/weights.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/wkv7.h"

namespace rrwkv::rwkv7 {
namespace {

using ops::Epilogue;

class Rwkv7Runner final : public matrix::Runner {
 public:
  Rwkv7Runner(const Weights& w, int64_t max_tokens, int64_t max_rows) : matrix::Runner(w, max_tokens, max_rows), w_(w) {
    const int64_t N = max_tokens, NC = N * w.C;
    const int64_t ND = N * std::max({w.lora_decay, w.lora_a, w.lora_v, w.lora_gate});  // low-rank inner rows
    carve({{&xp_, NC}, {&zr_, NC}, {&zw_, NC}, {&zk_, NC}, {&zv_, NC}, {&za_, NC}, {&zg_, NC}, {&r_, NC},
           {&k_, NC}, {&v_, NC}, {&mw_, NC}, {&ma_, NC}, {&mv_, NC}, {&g_, NC}, {&wd_, NC}, {&a_, NC},
           {&kappa_, NC}, {&v_first_, NC}, {&tw_, ND}, {&ta_, ND}, {&tv_, ND}, {&tg_, ND}});
    if (w.deep_embed) deep_embed_ = std::make_unique<DeepEmbed>(w.deep_embed, w.F, max_tokens, w.placement->device());
  }

 private:
  void time_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_;
    const int64_t Dw = w_.lora_decay, Da = w_.lora_a, Dv = w_.lora_v, Dg = w_.lora_gate;
    const bool residual = l > 0;  // the value residual (layer 0 sets v_first instead)
    shift(ctx, b, l, matrix::kAttX);
    const std::pair<float*, const float*> mixes[] = {{zr_, lw.x_r}, {zw_, lw.x_w}, {zk_, lw.x_k},
                                                      {zv_, lw.x_v}, {za_, lw.x_a}, {zg_, lw.x_g}};
    for (const auto& [z, mu] : mixes) ops::shift_mix(ctx, z, xa_, xp_, mu, nullptr, 0, N, C, C);
    ops::Projection first[7] = {{&lw.receptance, zr_, C, N, r_, C},
                                {&lw.key, zk_, C, N, k_, C},
                                {&lw.value, zv_, C, N, v_, C},
                                {&lw.w1, zw_, C, N, tw_, Dw, Epilogue::Tanh},
                                {&lw.a1, za_, C, N, ta_, Da},
                                {&lw.g1, zg_, C, N, tg_, Dg, Epilogue::Sigmoid},
                                {&lw.v1, zv_, C, N, tv_, Dv}};
    ops::linear(ctx, first, residual ? 7 : 6);
    ops::Projection second[4] = {{&lw.w2, tw_, Dw, N, mw_, C},
                                 {&lw.a2, ta_, Da, N, ma_, C},
                                 {&lw.g2, tg_, Dg, N, g_, C},
                                 {&lw.v2, tv_, Dv, N, mv_, C}};
    ops::linear(ctx, second, residual ? 4 : 3);
    Prepare p;
    p.n = N, p.C = C, p.head_size = head_size_;
    p.mw = mw_, p.ma = ma_, p.mv = residual ? mv_ : nullptr;
    p.w0 = lw.w0, p.a0 = lw.a0, p.v0 = lw.v0, p.k_k = lw.k_k, p.k_a = lw.k_a;
    p.w = wd_, p.a = a_, p.kappa = kappa_, p.k = k_, p.v = v_, p.v_first = v_first_;
    rwkv7::prepare(ctx, p);
    ops::Wkv7Batch s;
    s.rows = b.rows, s.C = C, s.head_size = head_size_, s.field = wkv_field(l);
    s.r = r_, s.w = wd_, s.k = k_, s.v = v_, s.kappa = kappa_, s.a = a_, s.y = xa_;
    ops::wkv7(ctx, s);
    head_norm(ctx, N, lw);
    add_bonus(ctx, xa_, r_, k_, v_, lw.r_k, N, C, head_size_);
    gated_output(ctx, N, lw, g_);
  }

  void channel_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_;
    shift(ctx, b, l, matrix::kFfnX);
    ops::shift_mix(ctx, zk_, xa_, xp_, lw.ffn_x_k, nullptr, 0, N, C, C);
    if (!deep_embed_) return channel_output(ctx, N, lw.ffn_key, nullptr, lw.ffn_value, zk_, nullptr, nullptr, xp_);
    // DeepEmbed scales the hidden rows per token between the key and the value projections
    ops::linear(ctx, {{&lw.ffn_key, zk_, C, N, kk_, w_.F, Epilogue::ReluSquare}});
    deep_embed_->apply(ctx, lw.deep_embed, b.tokens, N, xa_, C, kk_);
    ops::linear(ctx, {{&lw.ffn_value, kk_, w_.F, N, xp_, C}});
    ops::add(ctx, x_, xp_, N, C, C);
  }

  const Weights& w_;
  float *zr_, *zw_, *zk_, *zv_, *za_, *zg_, *r_, *k_, *v_, *mw_, *ma_, *mv_, *g_;
  float *wd_, *a_, *kappa_, *v_first_, *tw_, *ta_, *tv_, *tg_;
  std::unique_ptr<DeepEmbed> deep_embed_;  // DeepEmbed models only
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv7Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv7
