// The token-shift mixes of RWKV-4 and RRWKV on device buffers, asynchronous on `stream`: the GPU
// twins of rwkv4::time_mix_inputs and rwkv4::channel_mix_inputs (csrc/arch/rwkv4/mix_ops.h), the
// same operands over a ragged batch whose bookkeeping is in device memory, with the state they
// carry (the previous token's input; RRWKV: the segment sums and the latest channel-mix medium).
// Throws InvalidArgument on bad operands.
#pragma once

#include <cstdint>

#include "gpu/recurrence.h"  // DeviceRows

namespace rrwkv::gpu {

// RRWKV's mediums (device arrays): row i's are [med_start[i], med_start[i+1]); medium j completes
// after the row's local token fold_at[j]. s == 0: none (RWKV-4).
struct DeviceMediums {
  int64_t s = 0;
  const int64_t* med_start = nullptr;
  const int64_t* fold_at = nullptr;
};

// xk, xv, xr = x ⊙ μ + x_prev ⊙ (1 - μ); att_x <- the row's last x. RRWKV: att_seg accumulates x;
// at a segment end its mean goes to medium row n_tokens + j of xk and xv, and att_seg restarts.
struct Rwkv4TimeMix {
  int64_t C = 0;
  DeviceRows rows;
  DeviceMediums mediums;
  const float* x = nullptr;
  const float *mu_k = nullptr, *mu_v = nullptr, *mu_r = nullptr;
  int64_t att_x = -1, att_seg = -1;  // field offsets in a row state
  float *xk = nullptr, *xv = nullptr, *xr = nullptr;
};
void rwkv4_time_mix(const Rwkv4TimeMix& a, void* stream);

// yk, yr = mix(y, c), c the previous token's y (Rwkv4), the latest visible medium (Replace), or
// both (Add: + η ⊙ (medium - y)); the state fields update as the recurrent step does.
struct Rwkv4ChannelMix {
  enum class Mode { Rwkv4, Replace, Add };
  int64_t C = 0;
  DeviceRows rows;
  DeviceMediums mediums;
  Mode mode = Mode::Rwkv4;
  const float* y = nullptr;
  const float *mu_k = nullptr, *mu_r = nullptr, *eta_k = nullptr, *eta_r = nullptr;
  int64_t ffn_x = -1, ffn_med = -1, ffn_seg = -1;  // field offsets (-1 where the mode has none)
  float *yk = nullptr, *yr = nullptr;
};
void rwkv4_channel_mix(const Rwkv4ChannelMix& a, void* stream);

}  // namespace rrwkv::gpu
