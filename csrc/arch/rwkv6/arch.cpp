// RWKV-6 as an Architecture: header fields, tensor layout (docs/FORMAT.md), state, binding.
#include "arch/matrix/common.h"
#include "arch/rwkv6/rwkv6.h"
#include "arch/rwkv6/weights.h"

namespace rrwkv {
namespace {

constexpr const char* kBranchNames[rwkv6::kBranches] = {"w", "k", "v", "r", "g"};

class Rwkv6 final : public Architecture {
 public:
  const char* name() const override { return "rwkv6"; }
  const char* description() const override { return "RWKV-6 (Finch)"; }
  std::vector<ConfigField> config_fields() const override {
    return matrix::config_fields({{"lora_mix", &ModelConfig::lora_mix}, {"lora_decay", &ModelConfig::lora_decay}});
  }
  std::string check_config(const ModelConfig& c) const override { return matrix::check_config(c); }

  std::vector<TensorSpec> layout(const ModelConfig& c) const override {
    const uint64_t C = c.n_embd, F = c.ffn_dim, D = c.lora_mix, D2 = c.lora_decay;
    std::vector<TensorSpec> out;
    matrix::add_outer_layout(c, out);
    for (uint64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      for (const char* v : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.time_maa_x", "att.time_decay",
                            "att.time_faaaa", "att.ln_x.weight", "att.ln_x.bias", "ffn.time_maa_k", "ffn.time_maa_r"})
        out.push_back({p + v, {C}, false});
      for (const char* b : kBranchNames) out.push_back({p + "att.time_maa_" + b, {C}, false});
      out.push_back({p + "att.time_maa_w1", {rwkv6::kBranches * D, C}, true});
      out.push_back({p + "att.time_maa_w2", {rwkv6::kBranches * C, D}, true});
      out.push_back({p + "att.time_decay_w1", {D2, C}, true});
      out.push_back({p + "att.time_decay_w2", {C, D2}, true});
      for (const char* m : {"att.receptance.weight", "att.key.weight", "att.value.weight", "att.gate.weight",
                            "att.output.weight", "ffn.receptance.weight"})
        out.push_back({p + m, {C, C}, true});
      out.push_back({p + "ffn.key.weight", {F, C}, true});
      out.push_back({p + "ffn.value.weight", {C, F}, true});
    }
    return out;
  }

  StateSchema state_schema(const ModelConfig& c) const override { return matrix::state_schema(c); }

  std::unique_ptr<const BoundWeights> bind(const ModelFile& f, const Device& device) const override {
    if (!device.is_cpu()) throw_backend_unavailable("the rwkv6 architecture", device);
    const ModelConfig& c = f.config();
    const matrix::Binder b{f};
    auto w = std::make_unique<rwkv6::Weights>();
    w->n_layer = static_cast<int64_t>(c.n_layer);
    w->C = static_cast<int64_t>(c.n_embd);
    w->F = static_cast<int64_t>(c.ffn_dim);
    w->V = static_cast<int64_t>(c.vocab_size);
    w->head_size = static_cast<int64_t>(c.head_size);
    w->lora_mix = static_cast<int64_t>(c.lora_mix);
    w->lora_decay = static_cast<int64_t>(c.lora_decay);
    w->eps = c.layer_norm_eps;
    w->gn_eps = c.group_norm_eps;
    w->schema = state_schema(c);
    w->outer = b.outer(c);
    for (int64_t i = 0; i < w->n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      rwkv6::LayerWeights l{};
      l.ln1_w = b.vec(p + "ln1.weight"), l.ln1_b = b.vec(p + "ln1.bias");
      l.ln2_w = b.vec(p + "ln2.weight"), l.ln2_b = b.vec(p + "ln2.bias");
      l.maa_x = b.vec(p + "att.time_maa_x");
      l.maa_w1 = b.mat(p + "att.time_maa_w1");
      const Matrix w2 = b.mat(p + "att.time_maa_w2");  // (5 C, D): branch j is rows j C .. (j + 1) C
      for (int j = 0; j < rwkv6::kBranches; ++j) {
        l.maa[j] = b.vec(p + "att.time_maa_" + kBranchNames[j]);
        l.maa_w2[j] = w2;
        l.maa_w2[j].data = w2.row(j * w->C);
        l.maa_w2[j].rows = w->C;
      }
      l.decay = b.vec(p + "att.time_decay");
      l.decay_w1 = b.mat(p + "att.time_decay_w1"), l.decay_w2 = b.mat(p + "att.time_decay_w2");
      l.first = b.vec(p + "att.time_faaaa");
      l.receptance = b.mat(p + "att.receptance.weight"), l.key = b.mat(p + "att.key.weight");
      l.value = b.mat(p + "att.value.weight"), l.gate = b.mat(p + "att.gate.weight");
      l.output = b.mat(p + "att.output.weight");
      l.ln_x_w = b.vec(p + "att.ln_x.weight"), l.ln_x_b = b.vec(p + "att.ln_x.bias");
      l.ffn_maa_k = b.vec(p + "ffn.time_maa_k"), l.ffn_maa_r = b.vec(p + "ffn.time_maa_r");
      l.ffn_key = b.mat(p + "ffn.key.weight"), l.ffn_receptance = b.mat(p + "ffn.receptance.weight");
      l.ffn_value = b.mat(p + "ffn.value.weight");
      w->layers.push_back(l);
    }
    w->decode_bytes = matrix::decode_bytes(f, layout(c));
    return w;
  }
};

}  // namespace

const Architecture& rwkv6_architecture() {
  static const Rwkv6 a;
  return a;
}

}  // namespace rrwkv
