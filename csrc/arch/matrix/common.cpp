#include "arch/matrix/common.h"

namespace rrwkv::matrix {

std::string check_config(const ModelConfig& c) {
  if (c.n_embd % c.head_size != 0)
    return "head_size " + std::to_string(c.head_size) + " does not divide n_embd " + std::to_string(c.n_embd);
  if (!(c.group_norm_eps > 0 && c.group_norm_eps < 1))
    return "header field 'group_norm_eps' is " + std::to_string(c.group_norm_eps) + ", expected a value in (0, 1)";
  return "";
}

StateSchema state_schema(const ModelConfig& c) {
  const auto C = static_cast<int64_t>(c.n_embd), S = static_cast<int64_t>(c.head_size);
  StateSchema s;
  s.n_layer = static_cast<int64_t>(c.n_layer);
  s.fields = {{"att_x", C, 0.0f}, {"wkv", C * S, 0.0f}, {"ffn_x", C, 0.0f}};  // C / S heads of S x S
  return s;
}

FieldOffsets state_fields(const StateSchema& s) { return FieldOffsets(s, {"att_x", "wkv", "ffn_x"}); }

void bind_core(const Binder::Block& p, BlockCore& l, bool gate) {
  l.receptance = p.mat("att.receptance.weight"), l.key = p.mat("att.key.weight");
  l.value = p.mat("att.value.weight"), l.output = p.mat("att.output.weight");
  l.ln_x_w = p.vec("att.ln_x.weight"), l.ln_x_b = p.vec("att.ln_x.bias");
  l.ffn_key = p.mat("ffn.key.weight"), l.ffn_value = p.mat("ffn.value.weight");
  if (gate) l.gate = p.mat("att.gate.weight"), l.ffn_receptance = p.mat("ffn.receptance.weight");
}

}  // namespace rrwkv::matrix
