// The one header that knows which toolchain builds a GPU source file (the pattern of llama.cpp's
// ggml-cuda/vendors/hip.h). Every .cu file of rrwkv_rt includes this and nothing vendor-specific:
//   - nvcc (-DRRWKV_CUDA=ON): the CUDA runtime, kernels launched with <<<>>>;
//   - HIP-CPU (-DRRWKV_GPU_EMULATION=ON): the same sources compiled as C++ against AMD's HIP CPU
//     runtime, where a block's threads are fibers on one CPU thread, __syncthreads() is a real
//     barrier and shuffles exchange lanes; kernels launched with hipLaunchKernelGGL.
// Kernel code uses the CUDA language (__global__, __shared__, threadIdx, __syncthreads) and, for
// everything that differs, the names below. Host code outside .cu files never includes this: it
// sees the plain C++ interfaces of csrc/gpu/*.h.
//
// Rules the emulation enforces and a GPU relies on (docs/ARCHITECTURE.md, "The GPU layer"):
//   - a warp is 32 lanes, x fastest, everywhere: use the shuffles below (width 32 explicit on
//     nvcc; HIP-CPU's own warpSize is 64, so the emulation does the exchange itself);
//   - block sizes that use shuffles are multiples of 32;
//   - under HIP-CPU a shuffle is a barrier of the whole block, so every thread of a block must
//     reach the same shuffles and __syncthreads() (no shuffle inside `if (warp == 0)`);
//   - fibers have ~7 KiB of stack: no large arrays in a thread's locals.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/errors.h"

#if defined(RRWKV_GPU_EMULATION)
#include <hip/hip_runtime.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>
// HIP-CPU asks GCC for SIMD clones of every kernel and device function (`simd`), which it cannot
// make for struct arguments (a warning per kernel) and which fibers do not use: kept inlined only.
#if defined(__GNUC__) && !defined(__clang__)
#undef __global__
#define __global__ __attribute__((flatten))
#undef __device__
#define __device__
#endif
#elif defined(__CUDACC__)
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#else
#error "csrc/gpu/vendor.h is for GPU sources: compile them with nvcc (RRWKV_CUDA) or against HIP-CPU (RRWKV_GPU_EMULATION)"
#endif

// A device function, inlined into its kernel.
#if defined(RRWKV_GPU_EMULATION)
#define RRWKV_DEVICE inline __attribute__((always_inline))
#else
#define RRWKV_DEVICE __device__ __forceinline__
#endif

// `type* name` pointing at the block's dynamic shared memory (the launch's shared_bytes).
#if defined(RRWKV_GPU_EMULATION)
#define RRWKV_DYNAMIC_SHARED(type, name) HIP_DYNAMIC_SHARED(type, name)
#else
#define RRWKV_DYNAMIC_SHARED(type, name)                                 \
  extern __shared__ __align__(16) unsigned char rrwkv_dynamic_shared_[]; \
  type* name = reinterpret_cast<type*>(rrwkv_dynamic_shared_)
#endif

namespace rrwkv::gpu {

// ---- runtime names -------------------------------------------------------------------------------
#if defined(RRWKV_GPU_EMULATION)
using Stream = hipStream_t;
using Error = hipError_t;
constexpr Error kSuccess = hipSuccess;
inline const char* error_string(Error e) { return hipGetErrorString(e); }
inline Error last_error() { return hipGetLastError(); }
#else
using Stream = cudaStream_t;
using Error = cudaError_t;
constexpr Error kSuccess = cudaSuccess;
inline const char* error_string(Error e) { return cudaGetErrorString(e); }
inline Error last_error() { return cudaGetLastError(); }
#endif

inline Stream to_stream(void* s) { return static_cast<Stream>(s); }

// Turns a runtime status into the project's exception: DeviceError "WHAT: <runtime's message>".
inline void check(Error e, const char* what) {
  if (e != kSuccess) {
    last_error();  // clear a sticky error so the next call starts clean
    throw DeviceError(std::string(what) + ": " + error_string(e));
  }
}

#if defined(RRWKV_GPU_EMULATION)
// ---- the default stream under HIP-CPU ------------------------------------------------------------
// HIP-CPU can run two tasks of its null stream out of order: Runtime::wait_all_streams_ drains the
// null stream's queue in a std::async task while its parallel loop over every stream, the null one
// among them, takes the queue's next tasks. A kernel then ran beside the hipFreeAsync of its own
// scratch (seen: wrong wkv gradients and heap corruption, about 1 run in 60). Each other stream is
// drained by one thread at a time, in order; so work for the default stream (a null Stream) goes
// to one stream of our own. Synchronous calls (hipMemcpy, hipFree, hipDeviceSynchronize) wait for
// every stream, as the legacy default stream's implicit synchronization does.
inline hipStream_t ordered(hipStream_t s) {
  if (s) return s;
  static const hipStream_t own = [] {
    hipStream_t x{};
    check(hipStreamCreate(&x), "hipStreamCreate");
    return x;
  }();
  return own;
}

// ---- stream capture under HIP-CPU ------------------------------------------------------------------
// HIP-CPU has no graphs. While a stream is captured (capture_begin .. capture_end), the work queued
// on it is recorded instead of run, as under CUDA: each launch, asynchronous copy and fill becomes
// a step that makes the same call (same kernel, grid, arguments, pointers) on the stream the graph
// is launched on, so a replay runs what a CUDA graph launch runs. Stream-ordered scratch allocated
// during the capture belongs to the graph (one address for every replay, as CUDA's graph
// allocations) and is freed with it; synchronizing the captured stream is an error, as under CUDA.
struct EmulatedGraph {
  std::vector<std::function<void(hipStream_t)>> steps;
  std::vector<void*> owned;  // scratch allocated during the capture
  ~EmulatedGraph() {
    if (!owned.empty()) hipDeviceSynchronize();  // a replay still queued may use the scratch
    for (void* p : owned) hipFree(p);
  }
};

class EmulatedCaptures {
 public:
  static EmulatedCaptures& get() {
    static EmulatedCaptures c;
    return c;
  }
  // The graph `s` is being captured into, or null.
  EmulatedGraph* find(hipStream_t s) {
    if (active_.load(std::memory_order_acquire) == 0) return nullptr;
    std::lock_guard<std::mutex> lock(m_);
    auto it = graphs_.find(s);
    return it == graphs_.end() ? nullptr : it->second.get();
  }
  bool begin(hipStream_t s) {
    std::lock_guard<std::mutex> lock(m_);
    const bool fresh = graphs_.emplace(s, std::make_unique<EmulatedGraph>()).second;
    if (fresh) active_.fetch_add(1, std::memory_order_release);
    return fresh;
  }
  std::unique_ptr<EmulatedGraph> end(hipStream_t s) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = graphs_.find(s);
    if (it == graphs_.end()) return nullptr;
    std::unique_ptr<EmulatedGraph> g = std::move(it->second);
    graphs_.erase(it);
    active_.fetch_sub(1, std::memory_order_release);
    return g;
  }

 private:
  std::mutex m_;
  std::atomic<int> active_{0};
  std::unordered_map<hipStream_t, std::unique_ptr<EmulatedGraph>> graphs_;
};

inline EmulatedGraph* capturing(hipStream_t s) { return EmulatedCaptures::get().find(s); }
#endif

#if defined(RRWKV_GPU_EMULATION)
inline Error try_device_count(int* n) { return hipGetDeviceCount(n); }
inline int current_device() { int d = 0; check(hipGetDevice(&d), "hipGetDevice"); return d; }
inline void set_device(int d) { check(hipSetDevice(d), "hipSetDevice"); }
inline void restore_device(int d) noexcept { hipSetDevice(d); }
inline std::string device_name(int d) {
  hipDeviceProp_t p{};
  return hipGetDeviceProperties(&p, d) == hipSuccess ? std::string(p.name) : std::string("?");
}
inline void* malloc_bytes(size_t n) {
  void* p = nullptr;
  check(hipMalloc(&p, n), "hipMalloc");
  if (!p && n) throw DeviceError("hipMalloc: out of memory for " + std::to_string(n) + " bytes");
  return p;
}
inline void free_bytes(void* p) { hipFree(p); }
inline void* malloc_host_pinned(size_t n) {
  void* p = nullptr;
  check(hipHostMalloc(&p, n), "hipHostMalloc");
  return p;
}
inline void free_host_pinned(void* p) { hipHostFree(p); }
// Stream-ordered scratch. HIP-CPU's hipMallocAsync sets the pointer only when the stream reaches
// it, so the emulation allocates at once and frees in stream order.
inline void* malloc_async(size_t n, Stream s) {
  void* p = malloc_bytes(n);
  if (EmulatedGraph* g = capturing(s)) g->owned.push_back(p);
  return p;
}
inline void free_async(void* p, Stream s) {
  if (EmulatedGraph* g = capturing(s)) {
    if (std::find(g->owned.begin(), g->owned.end(), p) != g->owned.end()) return;  // freed with the graph
    throw DeviceError("hipFreeAsync: freeing memory that the capture did not allocate is not emulated");
  }
  check(hipFreeAsync(p, ordered(s)), "hipFreeAsync");
}
inline void copy(void* dst, const void* src, size_t n) { check(hipMemcpy(dst, src, n, hipMemcpyDefault), "hipMemcpy"); }
inline void copy_async(void* dst, const void* src, size_t n, Stream s) {
  if (EmulatedGraph* g = capturing(s)) {
    g->steps.emplace_back([=](Stream to) { check(hipMemcpyAsync(dst, src, n, hipMemcpyDefault, ordered(to)), "hipMemcpyAsync"); });
    return;
  }
  check(hipMemcpyAsync(dst, src, n, hipMemcpyDefault, ordered(s)), "hipMemcpyAsync");
}
inline void fill_async(void* dst, int byte, size_t n, Stream s) {
  if (EmulatedGraph* g = capturing(s)) {
    g->steps.emplace_back([=](Stream to) { check(hipMemsetAsync(dst, byte, n, ordered(to)), "hipMemsetAsync"); });
    return;
  }
  check(hipMemsetAsync(dst, byte, n, ordered(s)), "hipMemsetAsync");
}
inline void stream_synchronize(Stream s) {
  if (capturing(s)) throw DeviceError("hipStreamSynchronize: the stream is being captured (operation not permitted)");
  check(hipStreamSynchronize(ordered(s)), "hipStreamSynchronize");
}
inline Stream stream_create() { Stream s{}; check(hipStreamCreate(&s), "hipStreamCreate"); return s; }
inline void stream_destroy(Stream s) { hipStreamDestroy(s); }
// Whether `p` is memory of device `d`. Emulated device memory is host memory: always true.
inline bool is_device_memory(const void*, int) { return true; }
#else
inline Error try_device_count(int* n) { return cudaGetDeviceCount(n); }
inline int current_device() { int d = 0; check(cudaGetDevice(&d), "cudaGetDevice"); return d; }
inline void set_device(int d) { check(cudaSetDevice(d), "cudaSetDevice"); }
inline void restore_device(int d) noexcept { cudaSetDevice(d); }
inline std::string device_name(int d) {
  cudaDeviceProp p{};
  return cudaGetDeviceProperties(&p, d) == cudaSuccess ? std::string(p.name) : std::string("?");
}
inline void* malloc_bytes(size_t n) {
  void* p = nullptr;
  check(cudaMalloc(&p, n), "cudaMalloc");
  return p;
}
inline void free_bytes(void* p) { cudaFree(p); }
inline void* malloc_host_pinned(size_t n) {
  void* p = nullptr;
  check(cudaMallocHost(&p, n), "cudaMallocHost");
  return p;
}
inline void free_host_pinned(void* p) { cudaFreeHost(p); }
inline void* malloc_async(size_t n, Stream s) {
  void* p = nullptr;
  check(cudaMallocAsync(&p, n, s), "cudaMallocAsync");
  return p;
}
inline void free_async(void* p, Stream s) { check(cudaFreeAsync(p, s), "cudaFreeAsync"); }
inline void copy(void* dst, const void* src, size_t n) { check(cudaMemcpy(dst, src, n, cudaMemcpyDefault), "cudaMemcpy"); }
inline void copy_async(void* dst, const void* src, size_t n, Stream s) {
  check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDefault, s), "cudaMemcpyAsync");
}
inline void fill_async(void* dst, int byte, size_t n, Stream s) { check(cudaMemsetAsync(dst, byte, n, s), "cudaMemsetAsync"); }
inline void stream_synchronize(Stream s) { check(cudaStreamSynchronize(s), "cudaStreamSynchronize"); }
inline Stream stream_create() { Stream s{}; check(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), "cudaStreamCreate"); return s; }
inline void stream_destroy(Stream s) { cudaStreamDestroy(s); }
inline bool is_device_memory(const void* p, int d) {
  cudaPointerAttributes a{};
  if (cudaPointerGetAttributes(&a, p) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return (a.type == cudaMemoryTypeDevice || a.type == cudaMemoryTypeManaged) && a.device == d;
}
#endif

// Makes `device` current for a scope and restores the caller's device after (launchers run on
// the device that owns their buffers, whatever the calling thread had selected).
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) : prev_(current_device()), changed_(prev_ != device) {
    if (changed_) set_device(device);
  }
  ~DeviceGuard() {
    if (changed_) restore_device(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_;
  bool changed_;
};

// ---- stream capture and graphs --------------------------------------------------------------------
// capture_begin(s) .. capture_end(s): the work queued on s in between is recorded, not run, and
// becomes a graph that graph_launch queues again as a whole. CUDA: stream capture (this thread's
// calls only) and an instantiated CUDA graph. HIP-CPU: the recording above, replayed step by step.
#if defined(RRWKV_GPU_EMULATION)
using GraphExec = EmulatedGraph*;
inline void capture_begin(Stream s) {
  if (!EmulatedCaptures::get().begin(s)) throw DeviceError("stream capture: the stream is already being captured");
}
inline GraphExec capture_end(Stream s) {
  std::unique_ptr<EmulatedGraph> g = EmulatedCaptures::get().end(s);
  if (!g) throw DeviceError("stream capture: the stream is not being captured");
  return g.release();
}
inline void capture_abandon(Stream s) noexcept { EmulatedCaptures::get().end(s); }
inline void graph_launch(GraphExec g, Stream s) {
  if (capturing(s)) throw DeviceError("graph launch: launching a graph into a captured stream is not emulated");
  for (const auto& step : g->steps) step(s);
}
inline void graph_destroy(GraphExec g) noexcept { delete g; }
#else
using GraphExec = cudaGraphExec_t;
inline void capture_begin(Stream s) {
  check(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
}
inline GraphExec capture_end(Stream s) {
  cudaGraph_t g = nullptr;
  check(cudaStreamEndCapture(s, &g), "cudaStreamEndCapture");
  cudaGraphExec_t e = nullptr;
  const Error err = cudaGraphInstantiate(&e, g, 0);
  cudaGraphDestroy(g);
  check(err, "cudaGraphInstantiate");
  return e;
}
inline void capture_abandon(Stream s) noexcept {
  cudaGraph_t g = nullptr;
  if (cudaStreamEndCapture(s, &g) == cudaSuccess && g) cudaGraphDestroy(g);
  cudaGetLastError();  // an invalidated capture leaves its error behind
}
inline void graph_launch(GraphExec e, Stream s) { check(cudaGraphLaunch(e, s), "cudaGraphLaunch"); }
inline void graph_destroy(GraphExec e) noexcept { cudaGraphExecDestroy(e); }
#endif

// ---- the one kernel launcher -----------------------------------------------------------------------
// launch("what", kernel, grid, block, shared_bytes, stream, args...): arguments are converted to
// the kernel's parameter types first; an empty grid is no work, not an error; a refused launch
// throws DeviceError naming `what`. On a captured stream the launch is recorded (CUDA does that
// itself; the emulation keeps the kernel and its converted arguments for the replay).
template <class... Params, class... Args>
void launch(const char* what, void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, Stream stream,
            Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
  if (grid.x == 0 || grid.y == 0 || grid.z == 0) return;
#if defined(RRWKV_GPU_EMULATION)
  if (EmulatedGraph* g = capturing(stream)) {
    g->steps.emplace_back([kernel, grid, block, shared_bytes, params = std::tuple<Params...>(static_cast<Params>(args)...)](
                              Stream to) {
      std::apply([&](const auto&... p) {
        hipLaunchKernelGGL(kernel, grid, block, static_cast<std::uint32_t>(shared_bytes), ordered(to), p...);
      }, params);
      check(last_error(), "graph replay: a recorded launch");
    });
    return;
  }
  hipLaunchKernelGGL(kernel, grid, block, static_cast<std::uint32_t>(shared_bytes), ordered(stream),
                     static_cast<Params>(args)...);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(static_cast<Params>(args)...);
#endif
  check(last_error(), what);
}

// ---- inside kernels: warps of 32 lanes ------------------------------------------------------------
constexpr int kWarp = 32;

// The thread's index in its block, x fastest (how both runtimes form warps).
RRWKV_DEVICE unsigned thread_rank() { return threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z); }
RRWKV_DEVICE unsigned lane() { return thread_rank() % kWarp; }
RRWKV_DEVICE unsigned warp() { return thread_rank() / kWarp; }

#if defined(RRWKV_GPU_EMULATION)
// A warp exchange under HIP-CPU: every thread posts its value, the block meets at a barrier, each
// reads the slot of lane `src` of its own 32-lane warp, and meets again before the slots are
// reused. HIP-CPU's own shuffles do the same two barriers, but group 64 fibers numbered z-fastest:
// that matches CUDA's 32-lane, x-fastest warps only in one-dimensional blocks, and their width-32
// __shfl / __shfl_down return the lane's own value in lanes 32..63. Blocks hold <= 1024 threads.
template <class T>
RRWKV_DEVICE T warp_exchange(T v, unsigned src) {
  thread_local T slots[1024];
  const unsigned r = thread_rank();
  slots[r] = v;
  __syncthreads();
  const T out = slots[r / kWarp * kWarp + src];
  __syncthreads();
  return out;
}
#endif

// Lane (lane ^ mask)'s value (mask < 32).
template <class T>
RRWKV_DEVICE T shfl_xor(T v, int mask) {
#if defined(RRWKV_GPU_EMULATION)
  return warp_exchange(v, lane() ^ static_cast<unsigned>(mask));
#else
  return __shfl_xor_sync(0xffffffffu, v, mask, kWarp);
#endif
}

// Lane (lane + delta)'s value, or the lane's own where that is past lane 31.
template <class T>
RRWKV_DEVICE T shfl_down(T v, unsigned delta) {
#if defined(RRWKV_GPU_EMULATION)
  return warp_exchange(v, lane() + delta < kWarp ? lane() + delta : lane());
#else
  return __shfl_down_sync(0xffffffffu, v, delta, kWarp);
#endif
}

// Lane `src`'s value (0 <= src < 32), the same in every lane.
template <class T>
RRWKV_DEVICE T shfl(T v, int src) {
#if defined(RRWKV_GPU_EMULATION)
  return warp_exchange(v, static_cast<unsigned>(src));
#else
  return __shfl_sync(0xffffffffu, v, src, kWarp);
#endif
}

// ---- atomics ---------------------------------------------------------------------------------------
template <class T>
RRWKV_DEVICE T atomic_add(T* p, T v) {
  return atomicAdd(p, v);
}

// ---- f16 / bf16 --------------------------------------------------------------------------------------
// Buffers of f16 and bf16 are read as their 16-bit patterns (torch's and the model file's layout).
struct bf16 {
  std::uint16_t bits;
};

#if defined(RRWKV_GPU_EMULATION)
RRWKV_DEVICE float bits_as_float(std::uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}
RRWKV_DEVICE std::uint32_t float_as_bits(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}
// Exact: f16 values are sign * m * 2^(e - 25) with an 11-bit m (10 bits below the normal range).
RRWKV_DEVICE float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = static_cast<std::uint32_t>(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0x1fu) return bits_as_float(sign | 0x7f800000u | (m << 13));  // inf, nan
  const float mag = e == 0 ? static_cast<float>(m) * 0x1p-24f
                           : static_cast<float>(m | 0x400u) * bits_as_float((e + 127u - 25u) << 23);
  return sign ? -mag : mag;
}
#else
RRWKV_DEVICE float bits_as_float(std::uint32_t b) { return __uint_as_float(b); }
RRWKV_DEVICE std::uint32_t float_as_bits(float f) { return __float_as_uint(f); }
RRWKV_DEVICE float half_to_float(std::uint16_t h) { return __half2float(__ushort_as_half(h)); }
#endif

// 32-bit accesses to memory that holds narrower elements (a bf16 pair, four int8), 4-byte aligned.
#if defined(RRWKV_GPU_EMULATION)
RRWKV_DEVICE std::uint32_t load_u32(const void* p) {
  std::uint32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
RRWKV_DEVICE void store_u32(void* p, std::uint32_t v) { std::memcpy(p, &v, sizeof v); }
#else
RRWKV_DEVICE std::uint32_t load_u32(const void* p) { return *static_cast<const std::uint32_t*>(p); }
RRWKV_DEVICE void store_u32(void* p, std::uint32_t v) { *static_cast<std::uint32_t*>(p) = v; }
#endif

RRWKV_DEVICE float bf16_to_float(std::uint16_t b) { return bits_as_float(static_cast<std::uint32_t>(b) << 16); }

// Round to nearest even; NaN stays a (quiet) NaN.
RRWKV_DEVICE std::uint16_t float_to_bf16(float f) {
#if defined(RRWKV_GPU_EMULATION)
  const std::uint32_t b = float_as_bits(f);
  if ((b & 0x7fffffffu) > 0x7f800000u) return static_cast<std::uint16_t>((b >> 16) | 0x40u);
  return static_cast<std::uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
#else
  return __bfloat16_as_ushort(__float2bfloat16_rn(f));
#endif
}

}  // namespace rrwkv::gpu
