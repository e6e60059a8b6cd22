// RWKV-5.2 as an Architecture: header fields, tensor layout (docs/FORMAT.md), state, binding.
#include "arch/base/layout.h"
#include "arch/rwkv5/rwkv5.h"
#include "arch/rwkv5/weights.h"

namespace rrwkv {
namespace {

class Rwkv5 final : public matrix::MatrixArchitecture<rwkv5::Weights> {
 public:
  Rwkv5() : MatrixArchitecture("rwkv5", "RWKV-5.2 (Eagle)", {}) {}

  std::vector<TensorSpec> layout(const ModelConfig& c) const override {
    Layout out(c);
    out.embedding().head();
    for (uint64_t i = 0; i < c.n_layer; ++i)
      out.block(i)
          .norms()
          .vectors({"att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.time_mix_g", "att.decay",
                    "att.time_faaaa", "att.ln_x.weight", "att.ln_x.bias", "ffn.time_mix_k", "ffn.time_mix_r"})
          .square({"att.receptance.weight", "att.key.weight", "att.value.weight", "att.gate.weight",
                   "att.output.weight", "ffn.receptance.weight"})
          .ffn();
    return std::move(out).specs();
  }

 protected:
  void bind_layer(const Binder::Block& p, int64_t, const rwkv5::Weights&, rwkv5::LayerWeights& l) const override {
    matrix::bind_core(p, l, /*gate=*/true);
    l.mix_k = p.vec("att.time_mix_k"), l.mix_v = p.vec("att.time_mix_v");
    l.mix_r = p.vec("att.time_mix_r"), l.mix_g = p.vec("att.time_mix_g");
    l.decay = p.vec("att.decay"), l.first = p.vec("att.time_faaaa");
    l.ffn_mix_k = p.vec("ffn.time_mix_k"), l.ffn_mix_r = p.vec("ffn.time_mix_r");
  }
};

}  // namespace

const Architecture& rwkv5_architecture() { return instance<Rwkv5>(); }

}  // namespace rrwkv
