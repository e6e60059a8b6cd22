// RWKV-5.2 through a ragged batch (the equations: python/rrwkv_rt/reference/rwkv5.py): per layer
// the static token-shift mixes, the r/k/v/gate projections of all token rows at once, the
// matrix recurrence per (row, head), GroupNorm per head, the gate and the output projection;
// then RWKV-4's channel mix. Only ops: the same code for every device.
#include <utility>

#include "arch/matrix/runner.h"
#include "arch/rwkv5/weights.h"
#include "ops/elementwise.h"
#include "ops/linear.h"
#include "ops/wkv5.h"

namespace rrwkv::rwkv5 {
namespace {

class Rwkv5Runner final : public matrix::Runner {
 public:
  Rwkv5Runner(const Weights& w, int64_t max_tokens, int64_t max_rows)
      : matrix::Runner(w, max_tokens, max_rows), w_(w) {
    const int64_t NC = max_tokens * w.C;
    carve({{&xp_, NC}, {&zk_, NC}, {&zv_, NC}, {&zr_, NC}, {&zg_, NC}, {&r_, NC}, {&k_, NC}, {&v_, NC}, {&g_, NC}});
  }

 private:
  void time_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_;
    shift(ctx, b, l, matrix::kAttX);
    const std::pair<float*, const float*> mixes[] = {
        {zk_, lw.mix_k}, {zv_, lw.mix_v}, {zr_, lw.mix_r}, {zg_, lw.mix_g}};
    for (const auto& [z, mu] : mixes) ops::lerp(ctx, z, xa_, xp_, mu, N, C, C);
    ops::linear(ctx, {{&lw.receptance, zr_, C, N, r_, C},
                      {&lw.key, zk_, C, N, k_, C},
                      {&lw.value, zv_, C, N, v_, C},
                      {&lw.gate, zg_, C, N, g_, C, ops::Epilogue::Silu}});
    ops::Wkv5Batch s;
    s.rows = b.rows, s.C = C, s.head_size = head_size_, s.field = wkv_field(l);
    s.r = r_, s.k = k_, s.v = v_, s.w = lw.decay, s.ldw = 0, s.u = lw.first, s.y = xa_;
    ops::wkv5(ctx, s);
    head_output(ctx, N, lw, g_);
  }

  void channel_mix(ExecContext& ctx, const RaggedBatch& b, int64_t l) override {
    const LayerWeights& lw = w_.layers[static_cast<size_t>(l)];
    const int64_t N = b.n_tokens(), C = C_;
    shift(ctx, b, l, matrix::kFfnX);
    ops::lerp(ctx, zk_, xa_, xp_, lw.ffn_mix_k, N, C, C);
    ops::lerp(ctx, zr_, xa_, xp_, lw.ffn_mix_r, N, C, C);
    channel_output(ctx, N, lw.ffn_key, &lw.ffn_receptance, lw.ffn_value, zk_, zr_, r_, v_);
  }

  const Weights& w_;
  float *zk_, *zv_, *zr_, *zg_, *r_, *k_, *v_, *g_;
};

}  // namespace

std::unique_ptr<Runner> Weights::make_runner(int64_t max_tokens, int64_t max_rows) const {
  return std::make_unique<Rwkv5Runner>(*this, max_tokens, max_rows);
}

}  // namespace rrwkv::rwkv5
