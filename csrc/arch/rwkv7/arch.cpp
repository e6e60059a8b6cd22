// RWKV-7 as an Architecture: header fields, tensor layout (docs/FORMAT.md), state, binding.
#include "arch/matrix/common.h"
#include "arch/rwkv7/deep_embed.h"
#include "arch/rwkv7/rwkv7.h"
#include "arch/rwkv7/weights.h"

namespace rrwkv {
namespace {

class Rwkv7 final : public Architecture {
 public:
  const char* name() const override { return "rwkv7"; }
  const char* description() const override { return "RWKV-7 (Goose)"; }
  std::vector<ConfigField> config_fields() const override {
    std::vector<ConfigField> out = matrix::config_fields({{"lora_decay", &ModelConfig::lora_decay},
                                                         {"lora_a", &ModelConfig::lora_a},
                                                         {"lora_v", &ModelConfig::lora_v},
                                                         {"lora_gate", &ModelConfig::lora_gate}});
    ConfigField de{"deep_embed", ConfigField::Kind::U64};  // DeepEmbed's rank (deep_embed.h); absent: none
    de.u64 = &ModelConfig::deep_embed;
    de.hi = 1024;
    de.optional = true;
    out.push_back(de);
    return out;
  }
  std::string check_config(const ModelConfig& c) const override { return matrix::check_config(c); }

  std::vector<TensorSpec> layout(const ModelConfig& c) const override {
    const uint64_t C = c.n_embd, F = c.ffn_dim;
    std::vector<TensorSpec> out;
    matrix::add_outer_layout(c, out);
    for (uint64_t i = 0; i < c.n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      for (const char* v : {"ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.x_r", "att.x_w", "att.x_k",
                            "att.x_v", "att.x_a", "att.x_g", "att.w0", "att.a0", "att.k_k", "att.k_a", "att.r_k",
                            "att.ln_x.weight", "att.ln_x.bias", "ffn.x_k"})
        out.push_back({p + v, {C}, false});
      // the value residual starts at layer 1: block 0 of a checkpoint has v0/v1/v2, unused
      const std::vector<std::pair<const char*, uint64_t>> loras = {
          {"w", c.lora_decay}, {"a", c.lora_a}, {"v", c.lora_v}, {"g", c.lora_gate}};
      for (const auto& [x, D] : loras) {
        if (x[0] == 'v' && i == 0) continue;
        out.push_back({p + "att." + x + "1", {D, C}, true});
        out.push_back({p + "att." + x + "2", {C, D}, true});
      }
      if (i > 0) out.push_back({p + "att.v0", {C}, false});
      for (const char* m : {"att.receptance.weight", "att.key.weight", "att.value.weight", "att.output.weight"})
        out.push_back({p + m, {C, C}, true});
      out.push_back({p + "ffn.key.weight", {F, C}, true});
      out.push_back({p + "ffn.value.weight", {C, F}, true});
      rwkv7::add_deep_embed_layout(c, i, out);
    }
    return out;
  }

  StateSchema state_schema(const ModelConfig& c) const override { return matrix::state_schema(c); }

  std::unique_ptr<const BoundWeights> bind(const ModelFile& f, const Device& device) const override {
    if (!device.is_cpu()) throw_backend_unavailable("the rwkv7 architecture", device);
    const ModelConfig& c = f.config();
    const matrix::Binder b{f};
    auto w = std::make_unique<rwkv7::Weights>();
    w->n_layer = static_cast<int64_t>(c.n_layer);
    w->C = static_cast<int64_t>(c.n_embd);
    w->F = static_cast<int64_t>(c.ffn_dim);
    w->V = static_cast<int64_t>(c.vocab_size);
    w->head_size = static_cast<int64_t>(c.head_size);
    w->lora_decay = static_cast<int64_t>(c.lora_decay);
    w->lora_a = static_cast<int64_t>(c.lora_a);
    w->lora_v = static_cast<int64_t>(c.lora_v);
    w->lora_gate = static_cast<int64_t>(c.lora_gate);
    w->eps = c.layer_norm_eps;
    w->gn_eps = c.group_norm_eps;
    w->schema = state_schema(c);
    w->outer = b.outer(c);
    for (int64_t i = 0; i < w->n_layer; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      rwkv7::LayerWeights l{};
      l.ln1_w = b.vec(p + "ln1.weight"), l.ln1_b = b.vec(p + "ln1.bias");
      l.ln2_w = b.vec(p + "ln2.weight"), l.ln2_b = b.vec(p + "ln2.bias");
      l.x_r = b.vec(p + "att.x_r"), l.x_w = b.vec(p + "att.x_w"), l.x_k = b.vec(p + "att.x_k");
      l.x_v = b.vec(p + "att.x_v"), l.x_a = b.vec(p + "att.x_a"), l.x_g = b.vec(p + "att.x_g");
      l.w0 = b.vec(p + "att.w0"), l.a0 = b.vec(p + "att.a0");
      l.w1 = b.mat(p + "att.w1"), l.w2 = b.mat(p + "att.w2");
      l.a1 = b.mat(p + "att.a1"), l.a2 = b.mat(p + "att.a2");
      l.g1 = b.mat(p + "att.g1"), l.g2 = b.mat(p + "att.g2");
      if (i > 0) l.v0 = b.vec(p + "att.v0"), l.v1 = b.mat(p + "att.v1"), l.v2 = b.mat(p + "att.v2");
      l.k_k = b.vec(p + "att.k_k"), l.k_a = b.vec(p + "att.k_a"), l.r_k = b.vec(p + "att.r_k");
      l.receptance = b.mat(p + "att.receptance.weight"), l.key = b.mat(p + "att.key.weight");
      l.value = b.mat(p + "att.value.weight"), l.output = b.mat(p + "att.output.weight");
      l.ln_x_w = b.vec(p + "att.ln_x.weight"), l.ln_x_b = b.vec(p + "att.ln_x.bias");
      l.ffn_x_k = b.vec(p + "ffn.x_k");
      l.ffn_key = b.mat(p + "ffn.key.weight"), l.ffn_value = b.mat(p + "ffn.value.weight");
      if (c.deep_embed) l.deep_embed = rwkv7::bind_deep_embed(f, static_cast<uint64_t>(i));
      w->layers.push_back(l);
    }
    w->deep_embed = static_cast<int64_t>(c.deep_embed);
    w->decode_bytes = matrix::decode_bytes(f, layout(c));
    return w;
  }
};

}  // namespace

const Architecture& rwkv7_architecture() {
  static const Rwkv7 a;
  return a;
}

}  // namespace rrwkv
