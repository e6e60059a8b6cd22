// The matrix architectures' time-mix steps (time_mix.h). The decay is elementwise over a capped
// grid; prepare and add_bonus take one block per (token row, head), a thread per channel, since
// each needs a sum over the head (a block sum: ordered differently from the CPU's running sum).
#include <algorithm>
#include <cmath>
#include <string>

#include "gpu/activation.h"
#include "gpu/reduce.h"
#include "gpu/time_mix.h"
#include "gpu/vendor.h"

namespace rrwkv::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = 65535;
constexpr int64_t kMaxHeadSize = 1024;
constexpr float kNormEps = 1e-12f;  // F.normalize's, as arch/rwkv7/ops_cpu.cpp

__global__ void rwkv6_decay_kernel(float* w, const float* time_decay, const float* m, int64_t n, int64_t dim) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n * dim;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    w[i] = expf(-expf(time_decay[i % dim] + m[i]));
}

// Block (row, head) of blockIdx.x; thread j: channel c = head * S + j of the row.
__global__ void rwkv7_prepare_kernel(Rwkv7Prepare p, float decay_scale) {
  __shared__ float slots[kWarp];
  const int64_t S = p.head_size, H = p.C / S;
  const int64_t j = threadIdx.x, c = blockIdx.x % H * S + j, x = blockIdx.x / H * p.C + c;
  const bool on = j < S;
  float kk = 0.0f;
  if (on) {
    p.w[x] = expf(-decay_scale * sigmoid(p.w0[c] + p.mw[x]));
    p.a[x] = sigmoid(p.a0[c] + p.ma[x]);
    kk = p.k[x] * p.k_k[c];
  }
  const float inv = 1.0f / fmaxf(sqrtf(block_sum(kk * kk, slots)), kNormEps);
  if (on) {
    p.kappa[x] = kk * inv;
    p.k[x] *= 1.0f + (p.a[x] - 1.0f) * p.k_a[c];
    if (!p.mv)
      p.v_first[x] = p.v[x];
    else
      p.v[x] += (p.v_first[x] - p.v[x]) * sigmoid(p.v0[c] + p.mv[x]);
  }
}

__global__ void rwkv7_add_bonus_kernel(float* y, const float* r, const float* k, const float* v, const float* r_k,
                                       int64_t C, int64_t S) {
  __shared__ float slots[kWarp];
  const int64_t H = C / S, j = threadIdx.x, c = blockIdx.x % H * S + j, x = blockIdx.x / H * C + c;
  const bool on = j < S;
  const float s = block_sum(on ? r[x] * k[x] * r_k[c] : 0.0f, slots);
  if (on) y[x] += s * v[x];
}

void check_heads(const char* op, int64_t n, int64_t C, int64_t S, bool operands) {
  if (n < 0 || C < 1 || S < 1 || C % S != 0 || S > kMaxHeadSize || (n > 0 && !operands))
    throw InvalidArgument(std::string(op) + ": need n >= 0, C > 0 in heads of 1 to " + std::to_string(kMaxHeadSize) +
                          " channels and every operand; got n=" + std::to_string(n) + ", C=" + std::to_string(C) +
                          ", head_size=" + std::to_string(S));
  if (n * (C / S) > 0x7fffffff)
    throw InvalidArgument(std::string(op) + ": " + std::to_string(n) + " rows of " + std::to_string(C / S) +
                          " heads need more than 2^31 - 1 blocks; split the call");
}

dim3 head_grid(int64_t n, int64_t C, int64_t S) { return dim3(static_cast<unsigned>(n * (C / S))); }
dim3 head_block(int64_t S) { return dim3(static_cast<unsigned>((S + kWarp - 1) / kWarp * kWarp)); }

}  // namespace

void rwkv6_decay(float* w, const float* time_decay, const float* m, int64_t n, int64_t dim, void* stream) {
  if (n < 0 || dim < 0 || (n > 0 && dim > 0 && (!w || !time_decay || !m)))
    throw InvalidArgument("gpu rwkv6_decay: need n >= 0, dim >= 0 and every operand; got n=" + std::to_string(n) +
                          ", dim=" + std::to_string(dim));
  launch("gpu rwkv6_decay", rwkv6_decay_kernel,
         dim3(static_cast<unsigned>(std::min<int64_t>(kMaxBlocks, (n * dim + kThreads - 1) / kThreads))),
         dim3(kThreads), 0, to_stream(stream), w, time_decay, m, n, dim);
}

void rwkv7_prepare(const Rwkv7Prepare& p, void* stream) {
  check_heads("gpu rwkv7_prepare", p.n, p.C, p.head_size,
              p.mw && p.ma && p.w0 && p.a0 && p.k_k && p.k_a && p.w && p.a && p.kappa && p.k && p.v && p.v_first &&
                  (!p.mv || p.v0));
  launch("gpu rwkv7_prepare", rwkv7_prepare_kernel, head_grid(p.n, p.C, p.head_size), head_block(p.head_size), 0,
         to_stream(stream), p, std::exp(-0.5f));
}

void rwkv7_add_bonus(float* y, const float* r, const float* k, const float* v, const float* r_k, int64_t n, int64_t C,
                     int64_t head_size, void* stream) {
  check_heads("gpu rwkv7_add_bonus", n, C, head_size, y && r && k && v && r_k);
  launch("gpu rwkv7_add_bonus", rwkv7_add_bonus_kernel, head_grid(n, C, head_size), head_block(head_size), 0,
         to_stream(stream), y, r, k, v, r_k, C, head_size);
}

}  // namespace rrwkv::gpu
