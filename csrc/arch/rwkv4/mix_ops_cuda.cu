// The RWKV-4 / RRWKV token-shift mixes on the GPU (gpu/rwkv4_mix.h): the same operands.
#include "arch/rwkv4/mix_ops.h"
#include "gpu/rwkv4_mix.h"

namespace rrwkv::rwkv4::detail {
namespace {

gpu::DeviceRows device_rows(const ops::RaggedRows& r) { return {r.n_rows, r.start, r.row, r.states, r.state_floats}; }
gpu::DeviceMediums device_mediums(const ops::MediumRows& m) { return {m.s, m.med_start, m.fold_at}; }

}  // namespace

void time_mix_inputs_cuda(ExecContext& ctx, const TimeMixInputs& a) {
  if (a.rows.n_rows == 0) return;
  gpu::Rwkv4TimeMix g;
  g.C = a.C, g.rows = device_rows(a.rows), g.mediums = device_mediums(a.mediums);
  g.x = a.x, g.mu_k = a.mu_k, g.mu_v = a.mu_v, g.mu_r = a.mu_r;
  g.att_x = a.att_x, g.att_seg = a.att_seg;
  g.xk = a.xk, g.xv = a.xv, g.xr = a.xr;
  gpu::rwkv4_time_mix(g, ctx.stream());
}

void channel_mix_inputs_cuda(ExecContext& ctx, const ChannelMixInputs& a) {
  if (a.rows.n_rows == 0) return;
  using Mode = gpu::Rwkv4ChannelMix::Mode;
  gpu::Rwkv4ChannelMix g;
  g.C = a.C, g.rows = device_rows(a.rows), g.mediums = device_mediums(a.mediums);
  g.mode = a.mode == ChannelMixInputs::Mode::Rwkv4 ? Mode::Rwkv4
           : a.mode == ChannelMixInputs::Mode::Add ? Mode::Add
                                                    : Mode::Replace;
  g.y = a.y, g.mu_k = a.mu_k, g.mu_r = a.mu_r, g.eta_k = a.eta_k, g.eta_r = a.eta_r;
  g.ffn_x = a.ffn_x, g.ffn_med = a.ffn_med, g.ffn_seg = a.ffn_seg;
  g.yk = a.yk, g.yr = a.yr;
  gpu::rwkv4_channel_mix(g, ctx.stream());
}

}  // namespace rrwkv::rwkv4::detail
