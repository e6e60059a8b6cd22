// The RWKV-4 / RRWKV recurrence on the device (recurrence.h): one thread per (row, channel),
// walking the row's tokens in order with the state in registers and folding the row's mediums at
// its own segment ends; the per-step math is kernels/wkv/wkv_step.h, as on the CPU
// (ops/wkv4_cpu.cpp through kernels/wkv scan_rows_f32). Channels are consecutive threads, so every
// access to a token row or a state field is coalesced.
#include <string>

#include "gpu/recurrence.h"
#include "gpu/vendor.h"
#include "kernels/wkv/wkv_step.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 128;

template <bool kMedium>
__global__ void wkv4_kernel(Wkv4Batch b, int64_t channel_blocks) {
  const int64_t i = blockIdx.x / channel_blocks;
  const int64_t c = blockIdx.x % channel_blocks * kThreads + threadIdx.x, C = b.C;
  if (c >= C) return;
  const int64_t t0 = b.rows.start[i], t1 = b.rows.start[i + 1];
  if (t1 == t0) return;
  float* st = b.rows.states + b.rows.row[i] * b.rows.state_floats;
  wkv::StepState<float> s{st[b.field[0] + c], st[b.field[1] + c], st[b.field[2] + c], 0.0f, 0.0f, 0.0f};
  int64_t m = 0, m_end = 0;
  if (kMedium) {
    s.ma = st[b.field[3] + c], s.mb = st[b.field[4] + c], s.mp = st[b.field[5] + c];
    m = b.med_start[i], m_end = b.med_start[i + 1];
  }
  const float w = b.w[c], u = b.u[c];
  for (int64_t t = t0; t < t1; ++t) {
    const float k = b.k[t * C + c], v = b.v[t * C + c];
    const float y = wkv::step_output(s, u, k, v, kMedium);
    wkv::step_token_update(s, w, k, v);
    b.out[t * C + c] = b.r ? y * b.r[t * C + c] : y;
    if (kMedium && m < m_end && b.fold_at[m] == t - t0) {
      wkv::step_medium_fold(s, b.wm[c], b.bm[c], b.km[m * C + c], b.vm[m * C + c]);
      ++m;
    }
  }
  st[b.field[0] + c] = s.aa, st[b.field[1] + c] = s.bb, st[b.field[2] + c] = s.pp;
  if (kMedium) st[b.field[3] + c] = s.ma, st[b.field[4] + c] = s.mb, st[b.field[5] + c] = s.mp;
}

}  // namespace

void wkv4(const Wkv4Batch& b, void* stream) {
  const bool medium = b.wm != nullptr;
  bool ok = b.rows.valid() && b.C > 0 && b.w && b.u && b.k && b.v && b.out;
  for (int f = 0; f < (medium ? 6 : 3); ++f) ok = ok && b.field[f] >= 0;
  if (medium) ok = ok && b.bm && b.med_start && b.fold_at && b.km && b.vm;
  if (!ok)
    throw InvalidArgument("gpu wkv4: incomplete operands (need C > 0, rows, w, u, k, v, out and the fields aa, bb, pp; "
                          "with wm also bm, med_start, fold_at, km, vm and the fields ma, mb, mp), got C=" +
                          std::to_string(b.C) + ", n_rows=" + std::to_string(b.rows.n_rows));
  const int64_t channel_blocks = (b.C + kThreads - 1) / kThreads, blocks = b.rows.n_rows * channel_blocks;
  if (blocks > 0x7fffffff)
    throw InvalidArgument("gpu wkv4: " + std::to_string(b.rows.n_rows) + " rows of " + std::to_string(b.C) +
                          " channels need more than 2^31 - 1 blocks; split the call");
  const dim3 grid(static_cast<unsigned>(blocks));
  if (medium)
    launch("gpu wkv4 (rrwkv)", wkv4_kernel<true>, grid, dim3(kThreads), 0, to_stream(stream), b, channel_blocks);
  else
    launch("gpu wkv4", wkv4_kernel<false>, grid, dim3(kThreads), 0, to_stream(stream), b, channel_blocks);
}

}  // namespace rrwkv::gpu
