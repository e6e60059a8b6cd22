#include "arch/rwkv4/mix_ops.h"

#include "core/errors.h"

namespace rrwkv::rwkv4 {
namespace {

bool rows_ok(int64_t C, const ops::RaggedRows& r, const ops::MediumRows& m) {
  return C > 0 && r.valid() && m.s >= 0 && (m.s == 0 || (m.med_start && m.fold_at));
}

}  // namespace

void time_mix_inputs(ExecContext& ctx, const TimeMixInputs& a) {
  const bool ok = rows_ok(a.C, a.rows, a.mediums) && a.x && a.mu_k && a.mu_v && a.mu_r && a.att_x >= 0 && a.xk &&
                  a.xv && a.xr && (a.mediums.s == 0 || a.att_seg >= 0);
  if (!ok) throw InvalidArgument("rwkv4 time_mix_inputs: incomplete operands");
  RRWKV_DISPATCH("rwkv4 time_mix_inputs", ctx.device, detail::time_mix_inputs_cpu(ctx, a),
                 detail::time_mix_inputs_cuda(ctx, a));
}

void channel_mix_inputs(ExecContext& ctx, const ChannelMixInputs& a) {
  using Mode = ChannelMixInputs::Mode;
  const bool shift = a.mode != Mode::Replace, medium = a.mode != Mode::Rwkv4;
  const bool ok = rows_ok(a.C, a.rows, a.mediums) && a.y && a.mu_k && a.mu_r && a.yk && a.yr &&
                  (!shift || a.ffn_x >= 0) && (!medium || (a.mediums.s > 0 && a.ffn_med >= 0 && a.ffn_seg >= 0)) &&
                  (a.mode != Mode::Add || (a.eta_k && a.eta_r));
  if (!ok) throw InvalidArgument("rwkv4 channel_mix_inputs: incomplete operands");
  RRWKV_DISPATCH("rwkv4 channel_mix_inputs", ctx.device, detail::channel_mix_inputs_cpu(ctx, a),
                 detail::channel_mix_inputs_cuda(ctx, a));
}

}  // namespace rrwkv::rwkv4
