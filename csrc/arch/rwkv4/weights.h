// The weights of an RWKV-4 / RRWKV model bound on a device, and the variant it is.
#pragma once

#include <cstdint>
#include <memory>

#include "arch/base/weights.h"

namespace rrwkv::rwkv4 {

struct LayerWeights {
  // time-mix
  const float *att_mix_k, *att_mix_v, *att_mix_r;
  const float *att_decay, *att_first;      // w = exp(time_decay), u = time_first
  const float *att_decay_m, *att_first_m;  // wm, bm (RRWKV), else nullptr
  Matrix att_key, att_value, att_receptance, att_output;
  // channel-mix
  const float *ffn_mix_k, *ffn_mix_r;
  const float *ffn_medium_mix_k, *ffn_medium_mix_r;  // η (RRWKV `add` mode), else nullptr
  Matrix ffn_key, ffn_receptance, ffn_value;
};

// Which of the variants a model is (from its config).
struct Variant {
  bool mediums = false;   // RRWKV
  bool add_mode = false;  // RRWKV channel-mix `add`
  int64_t s = 0;          // medium interval (0 for RWKV-4)
  bool ffn_token_shift() const { return !mediums || add_mode; }
};

struct Weights final : LayeredWeights<LayerWeights> {
  Variant variant;

  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
};

}  // namespace rrwkv::rwkv4
