// WKV forward and backward on CUDA: one thread per (sequence, channel), coalesced over channels;
// f32 / bf16 buffers with f32 math, or f64 throughout. The math is kernels/wkv/wkv_step.h, the
// same code the CPU kernels run, so the CPU tests cover it.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "core/errors.h"
#include "kernels/wkv/wkv.h"
#include "kernels/wkv/wkv_step.h"

namespace rrwkv::wkv::detail {
namespace {

constexpr int kForwardThreads = 128;
constexpr int kWarp = 32;      // backward: a block is kWarp channels x up to kBatchRows sequences
constexpr int kBatchRows = 8;
constexpr int kSub = 8;        // backward: states recomputed into registers kSub tokens at a time
constexpr int kSubs = kCheckpointInterval / kSub;
static_assert(kCheckpointInterval % kSub == 0, "the sub-block must divide the checkpoint interval");

__device__ __forceinline__ float to_math(float x) { return x; }
__device__ __forceinline__ double to_math(double x) { return x; }
__device__ __forceinline__ float to_math(__nv_bfloat16 x) { return __bfloat162float(x); }
__device__ __forceinline__ void from_math(float x, float* p) { *p = x; }
__device__ __forceinline__ void from_math(double x, double* p) { *p = x; }
__device__ __forceinline__ void from_math(float x, __nv_bfloat16* p) { *p = __float2bfloat16_rn(x); }

struct Dims {
  int64_t B, T, C, J;
  int s, first;  // medium interval; chunk-local index of the first segment end
};

template <class M>
__device__ __forceinline__ StepState<M> load_state(const M* __restrict__ S, int64_t BC, int64_t o) {
  if (!S) return {M(0), M(0), M(-1e38), M(0), M(0), M(-1e38)};  // reference.wkv.PP_INIT
  return {S[o], S[BC + o], S[2 * BC + o], S[3 * BC + o], S[4 * BC + o], S[5 * BC + o]};
}

template <class M>
__device__ __forceinline__ void store_state(M* __restrict__ S, int64_t BC, int64_t o, const StepState<M>& st) {
  S[o] = st.aa;
  S[BC + o] = st.bb;
  S[2 * BC + o] = st.pp;
  S[3 * BC + o] = st.ma;
  S[4 * BC + o] = st.mb;
  S[5 * BC + o] = st.mp;
}

// Index of the medium folded after chunk-local token t, or -1.
template <bool kMedium>
__device__ __forceinline__ int medium_at(const Dims& d, int t) {
  return kMedium && t >= d.first && (t - d.first) % d.s == 0 ? (t - d.first) / d.s : -1;
}

template <class IO, class M, bool kMedium>
__global__ void wkv_forward_kernel(Dims d, const M* __restrict__ w, const M* __restrict__ u,
                                   const M* __restrict__ wm, const M* __restrict__ bm, const IO* __restrict__ k,
                                   const IO* __restrict__ v, const IO* __restrict__ km, const IO* __restrict__ vm,
                                   const M* __restrict__ state_in, IO* __restrict__ y, M* __restrict__ state_out,
                                   M* __restrict__ ckpt) {
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  const int64_t BC = d.B * d.C;
  if (idx >= BC) return;
  const int64_t b = idx / d.C, c = idx % d.C;
  const M ww = w[c], uu = u[c], wwm = kMedium ? wm[c] : M(0), bbm = kMedium ? bm[c] : M(0);
  StepState<M> st = load_state(state_in, BC, idx);
  int64_t next_end = kMedium ? d.first : -1, j = 0;
  const int T = static_cast<int>(d.T);
  for (int t = 0; t < T; ++t) {
    if (ckpt && t % kCheckpointInterval == 0) store_state(ckpt + t / kCheckpointInterval * kStateFields * BC, BC, idx, st);
    const int64_t o = (b * d.T + t) * d.C + c;
    const M kk = to_math(k[o]), vv = to_math(v[o]);
    from_math(step_output(st, uu, kk, vv, kMedium), y + o);
    step_token_update(st, ww, kk, vv);
    if (kMedium && t == next_end) {
      const int64_t om = (b * d.J + j) * d.C + c;
      step_medium_fold(st, wwm, bbm, to_math(km[om]), to_math(vm[om]));
      ++j;
      next_end += d.s;
    }
  }
  if (state_out) store_state(state_out, BC, idx, st);
}

// The state after token t from the state before it (no output).
template <class IO, class M, bool kMedium>
__device__ __forceinline__ void advance(const Dims& d, StepState<M>& st, int64_t b, int64_t c, int t, M w, M wm,
                                        M bm, const IO* __restrict__ k, const IO* __restrict__ v,
                                        const IO* __restrict__ km, const IO* __restrict__ vm) {
  const int64_t o = (b * d.T + t) * d.C + c;
  step_token_update(st, w, to_math(k[o]), to_math(v[o]));
  const int jm = medium_at<kMedium>(d, t);
  if (jm >= 0) {
    const int64_t om = (b * d.J + jm) * d.C + c;
    step_medium_fold(st, wm, bm, to_math(km[om]), to_math(vm[om]));
  }
}

// Block (kWarp, rows): channel c = blockIdx.x * kWarp + threadIdx.x, sequences b = threadIdx.y,
// threadIdx.y + rows, ...; parameter gradients are summed over b in shared memory in a fixed order.
template <class IO, class M, bool kMedium>
__global__ void wkv_backward_kernel(Dims d, const M* __restrict__ w, const M* __restrict__ u,
                                    const M* __restrict__ wm, const M* __restrict__ bm, const IO* __restrict__ k,
                                    const IO* __restrict__ v, const IO* __restrict__ km, const IO* __restrict__ vm,
                                    const M* __restrict__ ckpt, const IO* __restrict__ gy, IO* __restrict__ gk,
                                    IO* __restrict__ gv, M* __restrict__ gw, M* __restrict__ gu,
                                    M* __restrict__ gwm, M* __restrict__ gbm, IO* __restrict__ gkm,
                                    IO* __restrict__ gvm) {
  __shared__ M red[4][kBatchRows][kWarp];
  const int64_t c = blockIdx.x * static_cast<int64_t>(kWarp) + threadIdx.x;
  const int64_t BC = d.B * d.C;
  const int T = static_cast<int>(d.T);
  ParamGrad<M> pg = {M(0), M(0), M(0), M(0)};
  if (c < d.C) {
    const M ww = w[c], uu = u[c], wwm = kMedium ? wm[c] : M(0), bbm = kMedium ? bm[c] : M(0);
    for (int64_t b = threadIdx.y; b < d.B; b += blockDim.y) {
      StepGrad<M> sg = {M(0), M(0), M(0), M(0)};
      StepState<M> sub[kSubs];  // state before every kSub-th token of the block (local memory)
      const int last = T > 0 ? (T - 1) / kCheckpointInterval * kCheckpointInterval : -1;
      for (int t0 = last; t0 >= 0; t0 -= kCheckpointInterval) {
        const int len = min(static_cast<int>(kCheckpointInterval), T - t0), nsub = (len + kSub - 1) / kSub;
        StepState<M> st = load_state(ckpt + t0 / kCheckpointInterval * kStateFields * BC, BC, b * d.C + c);
        for (int q = 0; q < nsub; ++q) {
          sub[q] = st;
          if (q + 1 < nsub) {
#pragma unroll
            for (int r = 0; r < kSub; ++r) advance<IO, M, kMedium>(d, st, b, c, t0 + q * kSub + r, ww, wwm, bbm, k, v, km, vm);
          }
        }
        for (int q = nsub - 1; q >= 0; --q) {
          const int tq = t0 + q * kSub, lq = min(kSub, t0 + len - tq);
          StepState<M> h[kSub];  // registers: every index below is a compile-time constant
          st = sub[q];
#pragma unroll
          for (int r = 0; r < kSub; ++r) {
            if (r < lq) {
              h[r] = st;
              if (r + 1 < lq) advance<IO, M, kMedium>(d, st, b, c, tq + r, ww, wwm, bbm, k, v, km, vm);
            }
          }
#pragma unroll
          for (int r = kSub - 1; r >= 0; --r) {
            if (r < lq) {
              const int t = tq + r;
              const int64_t o = (b * d.T + t) * d.C + c;
              const M kk = to_math(k[o]), vv = to_math(v[o]);
              const int jm = medium_at<kMedium>(d, t);
              if (jm >= 0) {
                const int64_t om = (b * d.J + jm) * d.C + c;
                M dkm, dvm;
                step_medium_fold_backward(h[r], sg, pg, wwm, bbm, to_math(km[om]), to_math(vm[om]), dkm, dvm);
                from_math(dkm, gkm + om);
                from_math(dvm, gvm + om);
              }
              M dk = M(0), dv = M(0);
              step_token_update_backward(h[r], sg, pg, ww, kk, vv, dk, dv);
              step_output_backward(h[r], sg, pg, uu, kk, vv, to_math(gy[o]), kMedium, dk, dv);
              from_math(dk, gk + o);
              from_math(dv, gv + o);
            }
          }
        }
      }
    }
  }
  red[0][threadIdx.y][threadIdx.x] = pg.w;
  red[1][threadIdx.y][threadIdx.x] = pg.u;
  red[2][threadIdx.y][threadIdx.x] = pg.wm;
  red[3][threadIdx.y][threadIdx.x] = pg.bm;
  __syncthreads();
  if (threadIdx.y == 0 && c < d.C) {
    M s[4] = {M(0), M(0), M(0), M(0)};
    for (int f = 0; f < 4; ++f)
      for (unsigned r = 0; r < blockDim.y; ++r) s[f] += red[f][r][threadIdx.x];
    gw[c] = s[0];
    gu[c] = s[1];
    if (kMedium) {
      gwm[c] = s[2];
      gbm[c] = s[3];
    }
  }
}

// ---- launchers ------------------------------------------------------------------------------------

[[noreturn]] void cuda_fail(const char* what, cudaError_t err) {
  throw std::runtime_error(std::string("wkv: ") + what + ": " + cudaGetErrorString(err));
}

// Makes p.device current for the scope of a launch and restores the caller's device after.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    cudaError_t err = cudaGetDevice(&prev_);
    if (err != cudaSuccess) cuda_fail("no usable CUDA device", err);
    if (prev_ != device && (err = cudaSetDevice(device)) != cudaSuccess) cuda_fail("cannot select the device", err);
  }
  ~DeviceGuard() { cudaSetDevice(prev_); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
};

// Rejects host or foreign-device pointers up front instead of an illegal-address fault later.
void check_pointer(const void* ptr, const char* name, int device) {
  if (!ptr) return;
  cudaPointerAttributes a{};
  const cudaError_t err = cudaPointerGetAttributes(&a, ptr);
  if (err != cudaSuccess) {
    cudaGetLastError();
    throw InvalidArgument(std::string("wkv: ") + name + " is not CUDA memory (" + cudaGetErrorString(err) +
                          "); pass tensors on cuda:" + std::to_string(device));
  }
  const bool ok = (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) && a.device == device;
  if (!ok)
    throw InvalidArgument(std::string("wkv: ") + name + " is not device memory of cuda:" + std::to_string(device) +
                          "; move every tensor of the call to that device");
}

void check_launch() {
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) cuda_fail("kernel launch failed", err);
}

Dims dims(const Problem& p) {
  return {p.B, p.T, p.C, p.J, static_cast<int>(p.s), static_cast<int>(first_segment_end(p.pos, p.s))};
}

template <class IO, class M>
void forward_typed(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  const Dims d = dims(p);
  const int64_t blocks = (p.B * p.C + kForwardThreads - 1) / kForwardThreads;
  auto kernel = p.medium ? wkv_forward_kernel<IO, M, true> : wkv_forward_kernel<IO, M, false>;
  kernel<<<static_cast<unsigned>(blocks), kForwardThreads, 0, static_cast<cudaStream_t>(p.stream)>>>(
      d, static_cast<const M*>(in.w), static_cast<const M*>(in.u), static_cast<const M*>(in.wm),
      static_cast<const M*>(in.bm), static_cast<const IO*>(in.k), static_cast<const IO*>(in.v),
      static_cast<const IO*>(in.km), static_cast<const IO*>(in.vm), static_cast<const M*>(in.state_in),
      static_cast<IO*>(out.y), static_cast<M*>(out.state_out), static_cast<M*>(out.ckpt));
  check_launch();
}

template <class IO, class M>
void backward_typed(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  const Dims d = dims(p);
  const dim3 block(kWarp, static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>(p.B, kBatchRows))));
  const int64_t blocks = (p.C + kWarp - 1) / kWarp;
  auto kernel = p.medium ? wkv_backward_kernel<IO, M, true> : wkv_backward_kernel<IO, M, false>;
  kernel<<<static_cast<unsigned>(blocks), block, 0, static_cast<cudaStream_t>(p.stream)>>>(
      d, static_cast<const M*>(in.w), static_cast<const M*>(in.u), static_cast<const M*>(in.wm),
      static_cast<const M*>(in.bm), static_cast<const IO*>(in.k), static_cast<const IO*>(in.v),
      static_cast<const IO*>(in.km), static_cast<const IO*>(in.vm), static_cast<const M*>(g.ckpt),
      static_cast<const IO*>(g.gy), static_cast<IO*>(g.gk), static_cast<IO*>(g.gv), static_cast<M*>(g.gw),
      static_cast<M*>(g.gu), static_cast<M*>(g.gwm), static_cast<M*>(g.gbm), static_cast<IO*>(g.gkm),
      static_cast<IO*>(g.gvm));
  check_launch();
}

}  // namespace

void forward_cuda(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  DeviceGuard guard(p.device);
  const std::pair<const void*, const char*> ptrs[] = {
      {in.w, "w"}, {in.u, "u"}, {in.wm, "wm"}, {in.bm, "bm"}, {in.k, "k"}, {in.v, "v"}, {in.km, "km"},
      {in.vm, "vm"}, {in.state_in, "state_in"}, {out.y, "y"}, {out.state_out, "state_out"}, {out.ckpt, "ckpt"}};
  for (const auto& [ptr, name] : ptrs) check_pointer(ptr, name, p.device);
  if (p.dtype == DType::F64) forward_typed<double, double>(p, in, out);
  else if (p.dtype == DType::BF16) forward_typed<__nv_bfloat16, float>(p, in, out);
  else forward_typed<float, float>(p, in, out);
}

void backward_cuda(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  DeviceGuard guard(p.device);
  const std::pair<const void*, const char*> ptrs[] = {
      {in.w, "w"}, {in.u, "u"}, {in.wm, "wm"}, {in.bm, "bm"}, {in.k, "k"}, {in.v, "v"}, {in.km, "km"},
      {in.vm, "vm"}, {g.ckpt, "ckpt"}, {g.gy, "gy"}, {g.gk, "gk"}, {g.gv, "gv"}, {g.gw, "gw"}, {g.gu, "gu"},
      {g.gwm, "gwm"}, {g.gbm, "gbm"}, {g.gkm, "gkm"}, {g.gvm, "gvm"}};
  for (const auto& [ptr, name] : ptrs) check_pointer(ptr, name, p.device);
  if (p.dtype == DType::F64) backward_typed<double, double>(p, in, g);
  else if (p.dtype == DType::BF16) backward_typed<__nv_bfloat16, float>(p, in, g);
  else backward_typed<float, float>(p, in, g);
}

}  // namespace rrwkv::wkv::detail
