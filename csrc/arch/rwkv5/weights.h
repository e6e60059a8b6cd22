// The weights of an RWKV-5.2 model bound on a device.
#pragma once

#include <memory>

#include "arch/matrix/common.h"

namespace rrwkv::rwkv5 {

struct LayerWeights : matrix::BlockCore {
  const float *mix_k, *mix_v, *mix_r, *mix_g;  // att.time_mix_*
  const float *decay, *first;                  // w = exp(-exp(time_decay)), u = time_faaaa (C each)
  const float *ffn_mix_k, *ffn_mix_r;
};

struct Weights final : matrix::Weights<LayerWeights> {
  std::unique_ptr<Runner> make_runner(int64_t max_tokens, int64_t max_rows) const override;
};

}  // namespace rrwkv::rwkv5
