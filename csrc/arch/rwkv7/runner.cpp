// RWKV-7 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv7.py): per layer
// the token-shift mixes, the r/k/v projections with the four low-rank maps (decay, rate, value
// residual, gate), the delta-rule recurrence per (row, head), GroupNorm per head plus the
// current-token bonus, the gate and the output; then the receptance-free channel mix. Layer 0's
// values (v_first) feed every later layer's value residual. Only ops: the same code everywhere.
#include <algorithm>

#include "arch/rwkv7/deep_embed.h"
#include "arch/rwkv7/ops.h"
#include "arch/rwkv7/weights.h"
#include "core/aligned.h"
#include "core/errors.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/token_shift.h"
#include "ops/wkv7.h"

namespace rrwkv::rwkv7 {
namespace {

using ops::Epilogue;

class Rwkv7Runner final : public Runner {
 public:
  Rwkv7Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : w_(w), max_tokens_(max_tokens), max_rows_(max_rows) {
    const int64_t N = max_tokens, NC = N * w.C;
    const int64_t D = std::max({w.lora_decay, w.lora_a, w.lora_v, w.lora_gate});
    std::vector<int64_t> sizes(19, NC);      // x, xa, xp, 6 mixes, r k v, mw ma mv g, w a kappa
    sizes.push_back(NC);                     // v_first
    for (int i = 0; i < 4; ++i) sizes.push_back(N * D);  // the low-rank inner activations
    sizes.push_back(N * w.F);
    buf_ = AlignedFloats(sizes);
    int i = 0;
    for (float** p : {&x_, &xa_, &xp_, &zr_, &zw_, &zk_, &zv_, &za_, &zg_, &r_, &k_, &v_, &mw_, &ma_, &mv_, &g_,
                      &wd_, &a_, &kappa_, &v_first_, &tw_, &ta_, &tv_, &tg_, &kk_})
      *p = buf_[i++];
    last_.reserve(static_cast<size_t>(max_rows));
    for (int64_t l = 0; l < w.n_layer; ++l)
      offsets_.push_back({w.schema.offset("att_x", l), w.schema.offset("wkv", l), w.schema.offset("ffn_x", l)});
    if (w.deep_embed) deep_embed_ = std::make_unique<DeepEmbed>(w.deep_embed, w.F, max_tokens);
  }

  void run(ExecContext& ctx, const RaggedBatch& b) override {
    const int64_t N = b.n_tokens();
    if (N > max_tokens_ || b.n_rows > max_rows_)
      throw InvalidArgument("rwkv7 runner: a call of " + std::to_string(N) + " tokens exceeds its scratch");
    const ops::RaggedRows rows{b.n_rows, b.start, b.state};
    tokens_ = b.tokens;
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
    const int64_t Dw = w_.lora_decay, Da = w_.lora_a, Dv = w_.lora_v, Dg = w_.lora_gate;
    const bool residual = l > 0;  // the value residual (layer 0 sets v_first instead)
    ops::layer_norm(ctx, x_, C, N, C, lw.ln1_w, lw.ln1_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].att_x, xp_);
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
    p.n = N, p.C = C, p.head_size = w_.head_size;
    p.mw = mw_, p.ma = ma_, p.mv = residual ? mv_ : nullptr;
    p.w0 = lw.w0, p.a0 = lw.a0, p.v0 = lw.v0, p.k_k = lw.k_k, p.k_a = lw.k_a;
    p.w = wd_, p.a = a_, p.kappa = kappa_, p.k = k_, p.v = v_, p.v_first = v_first_;
    prepare(ctx, p);
    ops::Wkv7Batch s;
    s.rows = rows, s.C = C, s.head_size = w_.head_size, s.field = offsets_[l].wkv;
    s.r = r_, s.w = wd_, s.k = k_, s.v = v_, s.kappa = kappa_, s.a = a_, s.y = xa_;
    ops::wkv7(ctx, s);
    ops::group_norm(ctx, xa_, C, N, C, C / w_.head_size, lw.ln_x_w, lw.ln_x_b, w_.gn_eps, xa_, C);
    add_bonus(ctx, xa_, r_, k_, v_, lw.r_k, N, C, w_.head_size);
    ops::multiply(ctx, xa_, xa_, g_, N, C, C);
    ops::linear(ctx, {{&lw.output, xa_, C, N, xp_, C}});
    ops::add(ctx, x_, xp_, N, C, C);
  }

  void channel_mix(ExecContext& ctx, const ops::RaggedRows& rows, int64_t l) {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = rows.n_tokens(), C = w_.C, F = w_.F;
    ops::layer_norm(ctx, x_, C, N, C, lw.ln2_w, lw.ln2_b, w_.eps, xa_, C);
    ops::token_shift(ctx, rows, xa_, C, offsets_[l].ffn_x, xp_);
    ops::shift_mix(ctx, zk_, xa_, xp_, lw.ffn_x_k, nullptr, 0, N, C, C);
    ops::linear(ctx, {{&lw.ffn_key, zk_, C, N, kk_, F, Epilogue::ReluSquare}});
    if (deep_embed_) deep_embed_->apply(ctx, lw.deep_embed, tokens_, N, xa_, C, kk_);
    ops::linear(ctx, {{&lw.ffn_value, kk_, F, N, xp_, C}});
    ops::add(ctx, x_, xp_, N, C, C);
  }

  const Weights& w_;
  const int64_t max_tokens_, max_rows_;
  AlignedFloats buf_;
  float *x_, *xa_, *xp_, *zr_, *zw_, *zk_, *zv_, *za_, *zg_, *r_, *k_, *v_, *mw_, *ma_, *mv_, *g_;
  float *wd_, *a_, *kappa_, *v_first_, *tw_, *ta_, *tv_, *tg_, *kk_;
  std::vector<int64_t> last_;
  std::vector<Offsets> offsets_;
  const int64_t* tokens_ = nullptr;        // this call's tokens (DeepEmbed reads its table by token)
  std::unique_ptr<DeepEmbed> deep_embed_;  // DeepEmbed models only
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv7Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv7
