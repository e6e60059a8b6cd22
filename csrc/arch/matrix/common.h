// Pieces the matrix-state architectures (RWKV-5.2, 6, 7: arch/rwkv5, rwkv6, rwkv7) share: their
// common header fields and checks, the state schema, and binding weights from a file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "arch/architecture.h"
#include "arch/outer.h"
#include "core/tensor.h"
#include "format/model_file.h"

namespace rrwkv::matrix {

// head_size and group_norm_eps (every matrix-state architecture), plus the low-rank sizes named.
std::vector<ConfigField> config_fields(const std::vector<std::pair<const char*, uint64_t ModelConfig::*>>& loras);
// "" or the problem: head_size must divide n_embd, the GroupNorm eps must be in (0, 1).
std::string check_config(const ModelConfig& c);

// Per layer: att_x (C), the matrix state wkv (n_head x S x S), ffn_x (C).
StateSchema state_schema(const ModelConfig& c);

// Tensors of the layout, resolved by name (shapes and dtypes were checked at open()).
struct Binder {
  const ModelFile& f;
  Matrix mat(const std::string& name) const {
    const TensorInfo& t = f.tensor(name);
    return Matrix::dense(t.data, t.dtype, static_cast<int64_t>(t.shape[0]), static_cast<int64_t>(t.shape[1]));
  }
  const float* vec(const std::string& name) const { return static_cast<const float*>(f.tensor(name).data); }
  OuterWeights outer(const ModelConfig& c) const {
    return {mat("emb.weight"), mat("head.weight"), vec("blocks.0.ln0.weight"), vec("blocks.0.ln0.bias"),
            vec("ln_out.weight"), vec("ln_out.bias"), c.layer_norm_eps};
  }
};

// Bytes one decode step reads: every tensor of the layout once, but one row of the embedding.
uint64_t decode_bytes(const ModelFile& f, const std::vector<TensorSpec>& layout);

// The tensors every RWKV generation has around its blocks.
void add_outer_layout(const ModelConfig& c, std::vector<TensorSpec>& out);

}  // namespace rrwkv::matrix
