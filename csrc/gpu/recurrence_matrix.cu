// The matrix-state recurrences on the device (recurrence.h): one block per (row, head), walking
// the row's tokens in order; the token's per-head vectors are staged in shared memory, the state
// stays in device memory (each element is read and written once a token, coalesced). Tokens
// alternate between two staging buffers, so one barrier a token suffices: a thread writes token
// t + 1's vectors while others may still read token t's, and token t + 2 reuses token t's buffer
// only after every thread passed token t + 1's barrier. (Under HIP-CPU a warp sum is a barrier of
// the block, which would hide a missing end-of-token barrier in the RWKV-7 kernel; with one
// barrier there is none to miss.)
// - RWKV-5/6: a thread per value channel j owns column j of the head's state (kernels/wkv/
//   wkv5_step.h: the CPU's order on every element, so the results are the CPU op's up to FMA
//   contraction); each thread sums the bonus rᵀ diag(u) k itself, in the CPU's order.
// - RWKV-7: a warp per value channel i at a time owns row i (kernels/wkv/wkv7_step.h), its lanes
//   over the key channels; the two sums of a row (S κ and S r) are warp sums, so they are ordered
//   differently from the CPU's 16 partial sums (float rounding apart).
#include <algorithm>
#include <string>

#include "gpu/recurrence.h"
#include "gpu/reduce.h"
#include "gpu/vendor.h"
#include "kernels/wkv/wkv5_step.h"
#include "kernels/wkv/wkv7_step.h"

namespace rrwkv::gpu {
namespace {

constexpr int64_t kMaxHeadSize = 1024;
constexpr int kWkv7Warps = 4;

__global__ void wkv5_kernel(Wkv5Batch b) {
  RRWKV_DYNAMIC_SHARED(float, sh);  // u, then r, k, w of the head twice: S floats each
  const int64_t S = b.head_size, H = b.C / S, C = b.C;
  const int64_t i = blockIdx.x / H, o = blockIdx.x % H * S, j = threadIdx.x;
  const int64_t t0 = b.rows.start[i], t1 = b.rows.start[i + 1];
  float* u = sh;
  float* state = b.rows.states + b.rows.row[i] * b.rows.state_floats + b.field + o * S;  // head h's state: h * S * S = o * S
  if (j < S) u[j] = b.u[o + j];
  for (int64_t t = t0; t < t1; ++t) {
    float* r = sh + S + (t & 1) * 3 * S;
    float *k = r + S, *w = r + 2 * S;
    if (j < S) r[j] = b.r[t * C + o + j], k[j] = b.k[t * C + o + j], w[j] = b.w[t * b.ldw + o + j];
    __syncthreads();  // the token's vectors staged (and, before, every thread done with token t - 1)
    if (j < S)
      b.y[t * C + o + j] = wkv5::column_step(S, state, j, r, k, w, b.v[t * C + o + j], wkv5::bonus(S, r, u, k));
  }
}

__global__ void wkv7_kernel(Wkv7Batch b) {
  RRWKV_DYNAMIC_SHARED(float, sh);  // r, w, k, v, κ, a of the head twice: S floats each
  const int64_t S = b.head_size, H = b.C / S, C = b.C;
  const int64_t i = blockIdx.x / H, o = blockIdx.x % H * S;
  const int64_t t0 = b.rows.start[i], t1 = b.rows.start[i + 1];
  float* state = b.rows.states + b.rows.row[i] * b.rows.state_floats + b.field + o * S;
  const int64_t ln = lane(), wp = warp();
  for (int64_t t = t0; t < t1; ++t) {
    float* r = sh + (t & 1) * 6 * S;
    float *w = r + S, *k = r + 2 * S, *v = r + 3 * S, *kappa = r + 4 * S, *a = r + 5 * S;
    for (int64_t j = threadIdx.x; j < S; j += blockDim.x) {
      const int64_t x = t * C + o + j;
      r[j] = b.r[x], w[j] = b.w[x], k[j] = b.k[x], v[j] = b.v[x], kappa[j] = b.kappa[x], a[j] = b.a[x];
    }
    __syncthreads();  // the token's vectors staged (and, before, every warp done with token t - 1)
    // Every warp runs the same number of rounds (a warp sum is a block barrier under HIP-CPU);
    // a warp past the last value channel adds zeros.
    for (int64_t i0 = 0; i0 < S; i0 += kWkv7Warps) {
      const int64_t vi = i0 + wp;
      const bool active = vi < S;
      float* row = state + (active ? vi : 0) * S;
      float part = 0.0f;
      if (active)
        for (int64_t j = ln; j < S; j += kWarp) part += row[j] * kappa[j];
      const float sk = warp_sum(part);
      part = 0.0f;
      if (active)
        for (int64_t j = ln; j < S; j += kWarp) {
          const float s = wkv7::element(row[j], w[j], sk, kappa[j], a[j], v[vi], k[j]);
          row[j] = s;
          part += s * r[j];
        }
      const float y = warp_sum(part);
      if (active && ln == 0) b.y[t * C + o + vi] = y;
    }
  }
}

// The checks both matrix recurrences share; returns the number of heads.
int64_t check_heads(const char* op, const DeviceRows& rows, int64_t C, int64_t S, int64_t field, bool operands) {
  const bool ok = rows.valid() && C > 0 && S > 0 && C % S == 0 && S <= kMaxHeadSize && field >= 0 && operands;
  if (!ok)
    throw InvalidArgument(std::string(op) + ": need C > 0 in heads of 1 to " + std::to_string(kMaxHeadSize) +
                          " channels, a field >= 0, rows and every operand; got C=" + std::to_string(C) +
                          ", head_size=" + std::to_string(S) + ", field=" + std::to_string(field) +
                          ", n_rows=" + std::to_string(rows.n_rows));
  const int64_t blocks = rows.n_rows * (C / S);
  if (blocks > 0x7fffffff)
    throw InvalidArgument(std::string(op) + ": " + std::to_string(rows.n_rows) + " rows of " + std::to_string(C / S) +
                          " heads need more than 2^31 - 1 blocks; split the call");
  return C / S;
}

}  // namespace

void wkv5(const Wkv5Batch& b, void* stream) {
  const int64_t H = check_heads("gpu wkv5", b.rows, b.C, b.head_size, b.field,
                                b.r && b.k && b.v && b.w && b.u && b.y && (b.ldw == 0 || b.ldw >= b.C));
  const int64_t threads = (b.head_size + kWarp - 1) / kWarp * kWarp;
  launch("gpu wkv5", wkv5_kernel, dim3(static_cast<unsigned>(b.rows.n_rows * H)), dim3(static_cast<unsigned>(threads)),
         7 * b.head_size * sizeof(float), to_stream(stream), b);
}

void wkv7(const Wkv7Batch& b, void* stream) {
  const int64_t H = check_heads("gpu wkv7", b.rows, b.C, b.head_size, b.field,
                                b.r && b.w && b.k && b.v && b.kappa && b.a && b.y);
  launch("gpu wkv7", wkv7_kernel, dim3(static_cast<unsigned>(b.rows.n_rows * H)), dim3(kWkv7Warps * kWarp),
         12 * b.head_size * sizeof(float), to_stream(stream), b);
}

}  // namespace rrwkv::gpu
