// The token-shift mixes of RWKV-4 and RRWKV over a ragged batch (docs/RRWKV.md §1, §2, §4), with
// the state they carry: the previous token's input and, for RRWKV, the segment sums and the
// latest channel-mix medium. Ops of this architecture: a front that checks and dispatches
// (mix_ops.cpp), a CPU body (mix_ops_cpu.cpp).
#pragma once

#include <cstdint>

#include "ops/context.h"
#include "ops/ragged.h"

namespace rrwkv::rwkv4 {

// Time-mix inputs: xk, xv, xr = mix(x, previous token's x) with μk, μv, μr; att_x <- the row's
// last x. RRWKV: att_seg accumulates x; at each segment end its mean goes to medium row
// n_tokens + j of xk and xv (mediums take no token shift) and att_seg restarts.
struct TimeMixInputs {
  int64_t C = 0;
  ops::RaggedRows rows;
  ops::MediumRows mediums;
  const float* x = nullptr;  // token rows (after ln1)
  const float *mu_k = nullptr, *mu_v = nullptr, *mu_r = nullptr;
  int64_t att_x = -1, att_seg = -1;  // field offsets of this layer in a row state
  float *xk = nullptr, *xv = nullptr, *xr = nullptr;
};

// Channel-mix inputs: yk, yr = mix(y, c) where c is the previous token's y (RWKV-4), the latest
// visible medium (RRWKV `replace`), or both (`add`, with η); the state fields update as the
// recurrent step does.
struct ChannelMixInputs {
  enum class Mode { Rwkv4, Replace, Add };
  int64_t C = 0;
  ops::RaggedRows rows;
  ops::MediumRows mediums;
  Mode mode = Mode::Rwkv4;
  const float* y = nullptr;  // token rows (after ln2)
  const float *mu_k = nullptr, *mu_r = nullptr, *eta_k = nullptr, *eta_r = nullptr;
  int64_t ffn_x = -1, ffn_med = -1, ffn_seg = -1;  // field offsets (-1 where the mode has none)
  float *yk = nullptr, *yr = nullptr;
};

void time_mix_inputs(ExecContext& ctx, const TimeMixInputs& a);
void channel_mix_inputs(ExecContext& ctx, const ChannelMixInputs& a);

namespace detail {
void time_mix_inputs_cpu(ExecContext& ctx, const TimeMixInputs& a);
void channel_mix_inputs_cpu(ExecContext& ctx, const ChannelMixInputs& a);
void time_mix_inputs_cuda(ExecContext& ctx, const TimeMixInputs& a);
void channel_mix_inputs_cuda(ExecContext& ctx, const ChannelMixInputs& a);
}  // namespace detail

}  // namespace rrwkv::rwkv4
