// WKV forward and backward on the GPU (built by nvcc, or against HIP-CPU in the emulated build):
// f32 / bf16 buffers with f32 math, or f64 throughout. The math is kernels/wkv/wkv_step.h, the
// same per-step code the CPU kernels run.
//
// - forward: one thread per (sequence, channel group), coalesced over channels; it walks the T
//   tokens, loading token t+1 while it computes token t.
// - backward: grid (channel groups / 32, sequences / kRows), one thread per (sequence, channel
//   group) as in the forward. Each walks the checkpoint blocks from last to first, recomputes the
//   states of a block's sub-blocks from its checkpoint, then per sub-block loads its tokens' k, v
//   and gy at once, recomputes the states into registers and runs the reverse step through them.
//   Segment ends are tracked by counting, never by dividing per token. Parameter gradients are
//   summed over the block's sequences in shared memory, then over row blocks by a second kernel,
//   in a fixed order: deterministic, no atomics.
// - bf16 buffers with an even C are read and written two channels per 32-bit access (kVec = 2).
#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "core/device.h"
#include "gpu/vendor.h"
#include "kernels/wkv/wkv.h"
#include "kernels/wkv/wkv_step.h"

namespace rrwkv::wkv::detail {
namespace {

using gpu::bf16;

constexpr int kForwardThreads = 128;
constexpr int kRows = 4;           // backward block: gpu::kWarp channel groups x kRows sequences
constexpr int kSubChannelTokens = 8;  // backward: a sub-block holds 8 / kVec tokens of kVec channels

struct Dims {
  int64_t B, T, C, J;
  int s, first;  // medium interval; chunk-local index of the first segment end
};

// The next segment end: after chunk-local token `next` the medium `j` is folded.
struct Segment {
  int64_t next;
  int j;
};

// The first segment end at or after token t (one division; callers then count).
RRWKV_DEVICE int imin(int a, int b) { return a < b ? a : b; }

// p + o, or null for a buffer the call does not have.
template <class T>
RRWKV_DEVICE T* at(T* p, int64_t o) {
  return p ? p + o : p;
}

RRWKV_DEVICE Segment segment_at(const Dims& d, int t) {
  if (t <= d.first) return {d.first, 0};
  const int j = (t - d.first + d.s - 1) / d.s;
  return {d.first + static_cast<int64_t>(j) * d.s, j};
}

// ---- element access: kVec consecutive channels -------------------------------------------------
RRWKV_DEVICE float to_math(float x) { return x; }
RRWKV_DEVICE double to_math(double x) { return x; }
RRWKV_DEVICE float to_math(bf16 x) { return gpu::bf16_to_float(x.bits); }

template <int kVec, class IO, class M>
RRWKV_DEVICE void load(const IO* p, M (&out)[kVec]) {
  if constexpr (kVec == 2 && std::is_same_v<IO, bf16>) {
    const uint32_t w = gpu::load_u32(p);  // 4-byte aligned: checked by the launcher
    out[0] = gpu::bf16_to_float(static_cast<uint16_t>(w & 0xffffu));
    out[1] = gpu::bf16_to_float(static_cast<uint16_t>(w >> 16));
  } else {
    static_assert(kVec == 1, "only bf16 pairs are vectorised");
    out[0] = to_math(p[0]);
  }
}

template <int kVec, class IO, class M>
RRWKV_DEVICE void store(IO* p, const M (&x)[kVec]) {
  if constexpr (kVec == 2 && std::is_same_v<IO, bf16>) {
    gpu::store_u32(p, gpu::float_to_bf16(x[0]) | static_cast<uint32_t>(gpu::float_to_bf16(x[1])) << 16);
  } else if constexpr (std::is_same_v<IO, bf16>) {
    p[0].bits = gpu::float_to_bf16(x[0]);
  } else {
    p[0] = x[0];
  }
}

// State fields are (6, B, C) planes; S may be state_out of the same call (in place): no restrict.
template <class M>
RRWKV_DEVICE StepState<M> load_state(const M* S, int64_t BC, int64_t o) {
  if (!S) return {M(0), M(0), M(kMinusInfinity), M(0), M(0), M(kMinusInfinity)};
  return {S[o], S[BC + o], S[2 * BC + o], S[3 * BC + o], S[4 * BC + o], S[5 * BC + o]};
}

template <class M>
RRWKV_DEVICE void store_state(M* S, int64_t BC, int64_t o, const StepState<M>& st) {
  S[o] = st.aa;
  S[BC + o] = st.bb;
  S[2 * BC + o] = st.pp;
  S[3 * BC + o] = st.ma;
  S[4 * BC + o] = st.mb;
  S[5 * BC + o] = st.mp;
}

// Per-channel parameters of a thread's kVec channels.
template <class M, int kVec>
struct Params {
  M w[kVec], u[kVec], wm[kVec], bm[kVec];
};

template <class M, bool kMedium, int kVec>
RRWKV_DEVICE Params<M, kVec> load_params(const M* w, const M* u, const M* wm, const M* bm, int64_t c) {
  Params<M, kVec> q;
  for (int i = 0; i < kVec; ++i) {
    q.w[i] = w[c + i];
    q.u[i] = u[c + i];
    q.wm[i] = kMedium ? wm[c + i] : M(0);
    q.bm[i] = kMedium ? bm[c + i] : M(0);
  }
  return q;
}

// ---- forward ---------------------------------------------------------------------------------------
template <class IO, class M, bool kMedium, int kVec>
__global__ void wkv_forward_kernel(Dims d, const M* __restrict__ w, const M* __restrict__ u,
                                   const M* __restrict__ wm, const M* __restrict__ bm, const IO* __restrict__ k,
                                   const IO* __restrict__ v, const IO* __restrict__ km, const IO* __restrict__ vm,
                                   const M* state_in, IO* __restrict__ y, M* state_out, M* __restrict__ ckpt) {
  const int64_t groups = d.C / kVec, BC = d.B * d.C;
  const int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (idx >= d.B * groups) return;
  const int64_t b = idx / groups, c = idx % groups * kVec, sc = b * d.C + c;
  const Params<M, kVec> q = load_params<M, kMedium, kVec>(w, u, wm, bm, c);
  StepState<M> st[kVec];
  for (int i = 0; i < kVec; ++i) st[i] = load_state(state_in, BC, sc + i);
  const int T = static_cast<int>(d.T);
  const int64_t seq = b * d.T * d.C + c;  // token 0 of this thread's channels
  M kn[kVec], vn[kVec];
  if (T > 0) {
    load<kVec>(k + seq, kn);
    load<kVec>(v + seq, vn);
  }
  Segment seg = {d.first, 0};
  for (int t = 0; t < T; ++t) {
    const int64_t o = seq + t * d.C;
    M kk[kVec], vv[kVec], out[kVec];
    for (int i = 0; i < kVec; ++i) kk[i] = kn[i], vv[i] = vn[i];
    if (t + 1 < T) {  // token t+1's loads are in flight while token t is computed
      load<kVec>(k + o + d.C, kn);
      load<kVec>(v + o + d.C, vn);
    }
    if (ckpt && t % kCheckpointInterval == 0)
      for (int i = 0; i < kVec; ++i) store_state(ckpt + t / kCheckpointInterval * kStateFields * BC, BC, sc + i, st[i]);
    for (int i = 0; i < kVec; ++i) {
      out[i] = step_output(st[i], q.u[i], kk[i], vv[i], kMedium);
      step_token_update(st[i], q.w[i], kk[i], vv[i]);
    }
    store<kVec>(y + o, out);
    if (kMedium && t == seg.next) {
      const int64_t om = (b * d.J + seg.j) * d.C + c;
      M kmm[kVec], vmm[kVec];
      load<kVec>(km + om, kmm);
      load<kVec>(vm + om, vmm);
      for (int i = 0; i < kVec; ++i) step_medium_fold(st[i], q.wm[i], q.bm[i], kmm[i], vmm[i]);
      seg.next += d.s;
      ++seg.j;
    }
  }
  if (state_out)
    for (int i = 0; i < kVec; ++i) store_state(state_out, BC, sc + i, st[i]);
}

// ---- backward --------------------------------------------------------------------------------------
// Where a thread's buffers start: token 0 of its sequence and channels, medium 0 likewise.
template <class IO>
struct Walk {
  const IO *k, *v, *km, *vm, *gy;
  IO *gk, *gv, *gkm, *gvm;
  int64_t C;  // stride of one token (or medium)
};

// The state after token t from the state before it, and the segment counter past t.
template <class IO, class M, bool kMedium, int kVec>
RRWKV_DEVICE void advance(const Walk<IO>& a, const Params<M, kVec>& q, StepState<M> (&st)[kVec], Segment& seg,
                          int t, const M (&kk)[kVec], const M (&vv)[kVec], int s) {
  for (int i = 0; i < kVec; ++i) step_token_update(st[i], q.w[i], kk[i], vv[i]);
  if (kMedium && t == seg.next) {
    M kmm[kVec], vmm[kVec];
    load<kVec>(a.km + seg.j * a.C, kmm);
    load<kVec>(a.vm + seg.j * a.C, vmm);
    for (int i = 0; i < kVec; ++i) step_medium_fold(st[i], q.wm[i], q.bm[i], kmm[i], vmm[i]);
    seg.next += s;
    ++seg.j;
  }
}

// Thread (b, g)'s reverse walk over all T tokens; accumulates its parameter gradients into pg.
template <class IO, class M, bool kMedium, int kVec>
RRWKV_DEVICE void backward_walk(const Dims& d, const Walk<IO>& a, const Params<M, kVec>& q, const M* ckpt, int64_t sc,
                                ParamGrad<M> (&pg)[kVec]) {
  constexpr int kLen = kSubChannelTokens / kVec;  // tokens per sub-block
  constexpr int kSubs = kCheckpointInterval / kLen;
  static_assert(kCheckpointInterval % kLen == 0, "a sub-block must divide the checkpoint interval");
  const int64_t BC = d.B * d.C;
  const int T = static_cast<int>(d.T);
  StepGrad<M> sg[kVec];
  for (int i = 0; i < kVec; ++i) sg[i] = {M(0), M(0), M(0), M(0)};
  StepState<M> sub[kSubs][kVec];  // the state before each sub-block of the current block (local memory)
  Segment subseg[kSubs];
  const int last = T > 0 ? (T - 1) / kCheckpointInterval * kCheckpointInterval : -1;
  for (int t0 = last; t0 >= 0; t0 -= kCheckpointInterval) {
    const int len = imin(static_cast<int>(kCheckpointInterval), T - t0), nsub = (len + kLen - 1) / kLen;
    StepState<M> st[kVec];
    for (int i = 0; i < kVec; ++i) st[i] = load_state(ckpt + t0 / kCheckpointInterval * kStateFields * BC, BC, sc + i);
    Segment seg = kMedium ? segment_at(d, t0) : Segment{-1, 0};
    for (int sb = 0; sb < nsub; ++sb) {
      for (int i = 0; i < kVec; ++i) sub[sb][i] = st[i];
      subseg[sb] = seg;
      if (sb + 1 < nsub) {
        M kk[kLen][kVec], vv[kLen][kVec];
#pragma unroll
        for (int r = 0; r < kLen; ++r) {  // the sub-block's loads first, then its math
          load<kVec>(a.k + (t0 + sb * kLen + r) * a.C, kk[r]);
          load<kVec>(a.v + (t0 + sb * kLen + r) * a.C, vv[r]);
        }
#pragma unroll
        for (int r = 0; r < kLen; ++r) advance<IO, M, kMedium, kVec>(a, q, st, seg, t0 + sb * kLen + r, kk[r], vv[r], d.s);
      }
    }
    for (int sb = nsub - 1; sb >= 0; --sb) {
      const int ts = t0 + sb * kLen, ls = imin(kLen, t0 + len - ts);
      M kk[kLen][kVec], vv[kLen][kVec], gg[kLen][kVec];
#pragma unroll
      for (int r = 0; r < kLen; ++r) {
        if (r < ls) {
          load<kVec>(a.k + (ts + r) * a.C, kk[r]);
          load<kVec>(a.v + (ts + r) * a.C, vv[r]);
          load<kVec>(a.gy + (ts + r) * a.C, gg[r]);
        }
      }
      StepState<M> h[kLen][kVec];  // registers: every index below is a compile-time constant
      int fold[kLen];              // the medium folded after token ts + r, or -1
      for (int i = 0; i < kVec; ++i) st[i] = sub[sb][i];
      seg = subseg[sb];
#pragma unroll
      for (int r = 0; r < kLen; ++r) {
        if (r < ls) {
          for (int i = 0; i < kVec; ++i) h[r][i] = st[i];
          fold[r] = kMedium && ts + r == seg.next ? seg.j : -1;
          if (r + 1 < ls) advance<IO, M, kMedium, kVec>(a, q, st, seg, ts + r, kk[r], vv[r], d.s);
        }
      }
#pragma unroll
      for (int r = kLen - 1; r >= 0; --r) {
        if (r < ls) {
          if (kMedium && fold[r] >= 0) {
            M kmm[kVec], vmm[kVec], dkm[kVec], dvm[kVec];
            load<kVec>(a.km + fold[r] * a.C, kmm);
            load<kVec>(a.vm + fold[r] * a.C, vmm);
            for (int i = 0; i < kVec; ++i)
              step_medium_fold_backward(h[r][i], sg[i], pg[i], q.wm[i], q.bm[i], kmm[i], vmm[i], dkm[i], dvm[i]);
            store<kVec>(a.gkm + fold[r] * a.C, dkm);
            store<kVec>(a.gvm + fold[r] * a.C, dvm);
          }
          M dk[kVec], dv[kVec];
          for (int i = 0; i < kVec; ++i) {
            dk[i] = M(0);
            dv[i] = M(0);
            step_token_update_backward(h[r][i], sg[i], pg[i], q.w[i], kk[r][i], vv[r][i], dk[i], dv[i]);
            step_output_backward(h[r][i], sg[i], pg[i], q.u[i], kk[r][i], vv[r][i], gg[r][i], kMedium, dk[i], dv[i]);
          }
          store<kVec>(a.gk + (ts + r) * a.C, dk);
          store<kVec>(a.gv + (ts + r) * a.C, dv);
        }
      }
    }
  }
}

// Block (32 channel groups, up to kRows sequences). The parameter gradients of the block's rows
// are summed in shared memory and written to pw[c] etc. at row_block * stride: the outputs
// themselves when there is one row block (stride 0), else the partial sums sum_row_blocks adds.
template <class IO, class M, bool kMedium, int kVec>
__global__ void wkv_backward_kernel(Dims d, const M* __restrict__ w, const M* __restrict__ u,
                                    const M* __restrict__ wm, const M* __restrict__ bm, const IO* __restrict__ k,
                                    const IO* __restrict__ v, const IO* __restrict__ km, const IO* __restrict__ vm,
                                    const M* __restrict__ ckpt, const IO* __restrict__ gy, IO* __restrict__ gk,
                                    IO* __restrict__ gv, IO* __restrict__ gkm, IO* __restrict__ gvm, M* pw, M* pu,
                                    M* pwm, M* pbm, int64_t stride) {
  __shared__ M red[4][kRows][gpu::kWarp * kVec];
  const int64_t groups = d.C / kVec;
  const int64_t g = blockIdx.x * static_cast<int64_t>(gpu::kWarp) + threadIdx.x;
  const int64_t b = blockIdx.y * static_cast<int64_t>(blockDim.y) + threadIdx.y;
  ParamGrad<M> pg[kVec];
  for (int i = 0; i < kVec; ++i) pg[i] = {M(0), M(0), M(0), M(0)};
  if (g < groups && b < d.B) {
    const int64_t c = g * kVec, seq = b * d.T * d.C + c, med = b * d.J * d.C + c;
    const Walk<IO> a = {at(k, seq),  at(v, seq),  at(km, med),  at(vm, med),  at(gy, seq),
                        at(gk, seq), at(gv, seq), at(gkm, med), at(gvm, med), d.C};
    backward_walk<IO, M, kMedium, kVec>(d, a, load_params<M, kMedium, kVec>(w, u, wm, bm, c), ckpt, b * d.C + c, pg);
  }
  for (int i = 0; i < kVec; ++i) {
    const unsigned x = threadIdx.x * kVec + i;
    red[0][threadIdx.y][x] = pg[i].w;
    red[1][threadIdx.y][x] = pg[i].u;
    red[2][threadIdx.y][x] = pg[i].wm;
    red[3][threadIdx.y][x] = pg[i].bm;
  }
  __syncthreads();
  if (threadIdx.y == 0 && g < groups) {
    const int64_t o = blockIdx.y * stride + g * kVec;
    for (int i = 0; i < kVec; ++i) {
      const unsigned x = threadIdx.x * kVec + i;
      M s[4] = {M(0), M(0), M(0), M(0)};
      for (int f = 0; f < 4; ++f)
        for (unsigned r = 0; r < blockDim.y; ++r) s[f] += red[f][r][x];
      pw[o + i] = s[0];
      pu[o + i] = s[1];
      if (kMedium) {
        pwm[o + i] = s[2];
        pbm[o + i] = s[3];
      }
    }
  }
}

// gw[c] = sum over row blocks r of part[r][0][c] (in order), likewise gu, gwm, gbm.
template <class M>
__global__ void sum_row_blocks_kernel(int64_t C, int64_t row_blocks, int fields, const M* __restrict__ part,
                                      M* __restrict__ gw, M* __restrict__ gu, M* __restrict__ gwm,
                                      M* __restrict__ gbm) {
  const int64_t c = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (c >= C) return;
  M* out[4] = {gw, gu, gwm, gbm};
  for (int f = 0; f < fields; ++f) {
    M s = M(0);
    for (int64_t r = 0; r < row_blocks; ++r) s += part[(r * 4 + f) * C + c];
    out[f][c] = s;
  }
}

// ---- launchers ------------------------------------------------------------------------------------

Dims dims(const Problem& p) {
  return {p.B, p.T, p.C, p.J, static_cast<int>(p.s), static_cast<int>(first_segment_end(p.pos, p.s))};
}

// Device checks once per call: the device exists, and the first buffer is its memory (a host
// pointer becomes an error, not an illegal-address fault; the Python front keeps every tensor of
// a call on one device).
void check_device(const Problem& p, const void* ptr, const char* name) {
  const int n = cuda_device_count();
  if (p.device.index >= n)
    throw InvalidArgument("wkv: device " + std::to_string(p.device.index) + " does not exist; this machine has " +
                          std::to_string(n) + " CUDA device(s)");
  if (ptr && !gpu::is_device_memory(ptr, p.device.index))
    throw InvalidArgument(std::string("wkv: ") + name + " is not device memory of " + p.device.str() +
                          "; move every tensor of the call to that device");
}

// bf16 pairs need an even C and 4-byte aligned buffers.
bool pairable(const Problem& p, std::initializer_list<const void*> ptrs) {
  if (p.C % 2) return false;
  for (const void* q : ptrs)
    if (reinterpret_cast<uintptr_t>(q) % 4) return false;
  return true;
}

template <class IO, class M, int kVec>
void forward_launch(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  const int64_t threads = p.B * (p.C / kVec);
  auto kernel = p.medium ? wkv_forward_kernel<IO, M, true, kVec> : wkv_forward_kernel<IO, M, false, kVec>;
  gpu::launch("wkv forward", kernel, dim3(static_cast<unsigned>((threads + kForwardThreads - 1) / kForwardThreads)),
              dim3(kForwardThreads), 0, gpu::to_stream(p.stream), dims(p), in.w, in.u, in.wm, in.bm, in.k, in.v, in.km,
              in.vm, in.state_in, out.y, out.state_out, out.ckpt);
}

template <class IO, class M, int kVec>
void backward_launch(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  const int64_t groups = p.C / kVec;
  const int64_t rows = std::max<int64_t>(1, std::min<int64_t>(p.B, kRows));
  const int64_t row_blocks = std::max<int64_t>(1, (p.B + rows - 1) / rows);
  if (row_blocks > 65535)
    throw InvalidArgument("wkv: B=" + std::to_string(p.B) + " sequences is more than one backward call takes (" +
                          std::to_string(65535 * kRows) + "); split the batch");
  const gpu::Stream stream = gpu::to_stream(p.stream);
  auto kernel = p.medium ? wkv_backward_kernel<IO, M, true, kVec> : wkv_backward_kernel<IO, M, false, kVec>;
  const dim3 grid(static_cast<unsigned>((groups + gpu::kWarp - 1) / gpu::kWarp), static_cast<unsigned>(row_blocks));
  const dim3 block(gpu::kWarp, static_cast<unsigned>(rows));
  auto run = [&](M* pw, M* pu, M* pwm, M* pbm, int64_t stride) {
    gpu::launch("wkv backward", kernel, grid, block, 0, stream, dims(p), in.w, in.u, in.wm, in.bm, in.k, in.v, in.km,
                in.vm, g.ckpt, g.gy, g.gk, g.gv, g.gkm, g.gvm, pw, pu, pwm, pbm, stride);
  };
  if (row_blocks == 1) {
    run(static_cast<M*>(g.gw), static_cast<M*>(g.gu), static_cast<M*>(g.gwm), static_cast<M*>(g.gbm), 0);
    return;
  }
  const int64_t C = p.C;
  M* part = static_cast<M*>(gpu::malloc_async(static_cast<size_t>(row_blocks * 4 * C) * sizeof(M), stream));
  try {
    run(part, part + C, part + 2 * C, part + 3 * C, 4 * C);
    gpu::launch("wkv backward sum", sum_row_blocks_kernel<M>, dim3(static_cast<unsigned>((C + 255) / 256)), dim3(256),
                0, stream, C, row_blocks, p.medium ? 4 : 2, part, g.gw, g.gu, g.gwm, g.gbm);
  } catch (...) {
    gpu::free_async(part, stream);
    throw;
  }
  gpu::free_async(part, stream);
}

template <class IO, class M>
void forward_typed(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  if constexpr (std::is_same_v<IO, bf16>) {
    if (pairable(p, {in.k, in.v, in.km, in.vm, out.y})) return forward_launch<IO, M, 2>(p, in, out);
  }
  forward_launch<IO, M, 1>(p, in, out);
}

template <class IO, class M>
void backward_typed(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  if constexpr (std::is_same_v<IO, bf16>) {
    if (pairable(p, {in.k, in.v, in.km, in.vm, g.gy, g.gk, g.gv, g.gkm, g.gvm}))
      return backward_launch<IO, M, 2>(p, in, g);
  }
  backward_launch<IO, M, 1>(p, in, g);
}

}  // namespace

void forward_cuda(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  check_device(p, in.k ? in.k : in.w, in.k ? "k" : "w");
  gpu::DeviceGuard guard(p.device.index);
  if (p.dtype == DType::F64) forward_typed<double, double>(p, in, out);
  else if (p.dtype == DType::BF16) forward_typed<bf16, float>(p, in, out);
  else forward_typed<float, float>(p, in, out);
}

void backward_cuda(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  check_device(p, in.k ? in.k : in.w, in.k ? "k" : "w");
  gpu::DeviceGuard guard(p.device.index);
  if (p.dtype == DType::F64) backward_typed<double, double>(p, in, g);
  else if (p.dtype == DType::BF16) backward_typed<bf16, float>(p, in, g);
  else backward_typed<float, float>(p, in, g);
}

}  // namespace rrwkv::wkv::detail
