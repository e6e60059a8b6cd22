#include "arch/rwkv7/ops.h"

#include "core/errors.h"

namespace rrwkv::rwkv7 {

void prepare(ExecContext& ctx, const Prepare& p) {
  const bool ok = p.n >= 0 && p.C > 0 && p.head_size > 0 && p.C % p.head_size == 0 && p.mw && p.ma && p.w0 &&
                  p.a0 && p.k_k && p.k_a && p.w && p.a && p.kappa && p.k && p.v && p.v_first && (!p.mv || p.v0);
  if (!ok) throw InvalidArgument("rwkv7 prepare: incomplete operands");
  RRWKV_DISPATCH("rwkv7 prepare", ctx.device, detail::prepare_cpu(ctx, p),
                 detail::prepare_cuda(ctx, p));
}

void add_bonus(ExecContext& ctx, float* y, const float* r, const float* k, const float* v, const float* r_k, int64_t n,
               int64_t C, int64_t head_size) {
  if (n < 0 || C < 1 || head_size < 1 || C % head_size != 0 || (n > 0 && (!y || !r || !k || !v || !r_k)))
    throw InvalidArgument("rwkv7 add_bonus: bad operands");
  RRWKV_DISPATCH("rwkv7 add_bonus", ctx.device, detail::add_bonus_cpu(ctx, y, r, k, v, r_k, n, C, head_size),
                 detail::add_bonus_cuda(ctx, y, r, k, v, r_k, n, C, head_size));
}

}  // namespace rrwkv::rwkv7
