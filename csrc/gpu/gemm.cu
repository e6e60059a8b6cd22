// The GEMM wrapper (gemm.h): argument checks by cuBLAS's rules, the reference kernel, and cuBLAS
// loaded at run time in the nvcc build.
#include "gpu/gemm.h"

#include <algorithm>
#include <climits>

#include "core/errors.h"
#include "gpu/vendor.h"

#if !defined(RRWKV_GPU_EMULATION)
#include <dlfcn.h>
#include <library_types.h>
#endif

namespace rrwkv::gpu {
namespace {

constexpr int kTile = 16;  // the reference kernel: a kTile x kTile block per tile of C

// Element i of A or B as f32 (kType: 0 f32, 1 f16, 2 bf16).
template <int kType>
RRWKV_DEVICE float element(const void* p, int64_t i) {
  if constexpr (kType == 0) return static_cast<const float*>(p)[i];
  else if constexpr (kType == 1) return half_to_float(static_cast<const std::uint16_t*>(p)[i]);
  else return bf16_to_float(static_cast<const std::uint16_t*>(p)[i]);
}

// C tile (blockIdx.x, blockIdx.y): thread (x, y) computes C(row0 + x, col0 + y), accumulating
// op(A)(i, p) * op(B)(p, j) in f32 for p = 0, 1, ... in order, through shared tiles of A and B.
template <int kType>
__global__ void gemm_reference_kernel(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                                      const void* a, int64_t lda, const void* b, int64_t ldb, float beta, float* c,
                                      int64_t ldc) {
  __shared__ float as[kTile][kTile + 1];  // as[p][x] = op(A)(row0 + x, p0 + p)
  __shared__ float bs[kTile][kTile + 1];  // bs[y][p] = op(B)(p0 + p, col0 + y)
  const int x = threadIdx.x, y = threadIdx.y;
  const int64_t i = blockIdx.x * static_cast<int64_t>(kTile) + x, j = blockIdx.y * static_cast<int64_t>(kTile) + y;
  float acc = 0.0f;
  for (int64_t p0 = 0; p0 < k; p0 += kTile) {
    const int64_t ap = p0 + y;  // this thread loads op(A)(i, p0 + y) and op(B)(p0 + x, j)
    as[y][x] = i < m && ap < k ? element<kType>(a, trans_a ? ap + i * lda : i + ap * lda) : 0.0f;
    const int64_t bp = p0 + x;
    bs[y][x] = bp < k && j < n ? element<kType>(b, trans_b ? j + bp * ldb : bp + j * ldb) : 0.0f;
    __syncthreads();
    for (int p = 0; p < kTile; ++p) acc += as[p][x] * bs[y][p];
    __syncthreads();
  }
  if (i < m && j < n) {
    float* out = c + i + j * ldc;
    *out = beta == 0.0f ? alpha * acc : alpha * acc + beta * *out;  // beta 0: C is not read
  }
}

[[noreturn]] void bad(const std::string& msg) { throw InvalidArgument("gemm: " + msg); }

const char* name(Op op) { return op == Op::N ? "N" : "T"; }

#if !defined(RRWKV_GPU_EMULATION)
// cuBLAS's ABI, declared here because the library is loaded at run time (values of cublas_api.h).
using CublasStatus = int;
constexpr int kOpN = 0, kOpT = 1;                          // cublasOperation_t
constexpr int kCompute32F = 68, kCompute32FFastTF32 = 77;  // cublasComputeType_t
constexpr int kGemmDefault = -1;                           // cublasGemmAlgo_t

struct Cublas {
  CublasStatus (*create)(void** handle) = nullptr;
  CublasStatus (*destroy)(void* handle) = nullptr;
  CublasStatus (*set_stream)(void* handle, cudaStream_t stream) = nullptr;
  CublasStatus (*gemm_ex)(void* handle, int ta, int tb, int m, int n, int k, const void* alpha, const void* a,
                          cudaDataType at, int lda, const void* b, cudaDataType bt, int ldb, const void* beta, void* c,
                          cudaDataType ct, int ldc, int compute, int algo) = nullptr;
  const char* (*status_string)(CublasStatus) = nullptr;  // cuBLAS >= 11.4
  std::string status;
  bool ok = false;
};

template <class F>
bool bind(void* lib, const char* symbol, F& fn) {
  fn = reinterpret_cast<F>(dlsym(lib, symbol));
  return fn != nullptr;
}

Cublas load_cublas() {
  Cublas cb;
  const std::string soname = "libcublas.so." + std::to_string(CUDART_VERSION / 1000);
  void* lib = nullptr;
  for (const std::string& path : {soname, std::string("libcublas.so")})
    if ((lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) {
    const char* err = dlerror();
    cb.status = "cuBLAS is not loadable (" + soname + ": " + (err ? err : "?") +
                "); install the CUDA toolkit's cuBLAS or put it on LD_LIBRARY_PATH";
    return cb;
  }
  if (!bind(lib, "cublasCreate_v2", cb.create) || !bind(lib, "cublasDestroy_v2", cb.destroy) ||
      !bind(lib, "cublasSetStream_v2", cb.set_stream) || !bind(lib, "cublasGemmEx", cb.gemm_ex)) {
    cb.status = "the loaded libcublas lacks cublasGemmEx or the handle functions";
    return cb;  // keep the library loaded: unloading one that may have started threads is unsafe
  }
  bind(lib, "cublasGetStatusString", cb.status_string);
  cb.ok = true;
  cb.status = "cuBLAS (" + soname + ")";
  return cb;
}

const Cublas& cublas() {
  static const Cublas cb = load_cublas();
  return cb;
}

void check_status(CublasStatus s, const char* what) {
  if (s == 0) return;
  const char* msg = cublas().status_string ? cublas().status_string(s) : nullptr;
  throw DeviceError(std::string(what) + " failed: " + (msg ? msg : "cuBLAS status " + std::to_string(s)));
}

cudaDataType data_type(DType t) { return t == DType::F32 ? CUDA_R_32F : t == DType::F16 ? CUDA_R_16F : CUDA_R_16BF; }
#endif

}  // namespace

void check_gemm(const GemmArgs& g) {
  if (g.m < 0 || g.n < 0 || g.k < 0)
    bad("sizes must be >= 0, got m=" + std::to_string(g.m) + ", n=" + std::to_string(g.n) + ", k=" + std::to_string(g.k));
  for (int64_t v : {g.m, g.n, g.k, g.lda, g.ldb, g.ldc})
    if (v > INT_MAX) bad("sizes and leading dimensions must be below 2^31 (cuBLAS takes int), got " + std::to_string(v));
  const int64_t a_rows = g.op_a == Op::N ? g.m : g.k, b_rows = g.op_b == Op::N ? g.k : g.n;
  if (g.lda < std::max<int64_t>(1, a_rows))
    bad("lda=" + std::to_string(g.lda) + " is less than the rows of A as stored (" + (g.op_a == Op::N ? "m=" : "k=") +
        std::to_string(a_rows) + " for op " + name(g.op_a) + "); column-major leading dimensions are >= max(1, rows)");
  if (g.ldb < std::max<int64_t>(1, b_rows))
    bad("ldb=" + std::to_string(g.ldb) + " is less than the rows of B as stored (" + (g.op_b == Op::N ? "k=" : "n=") +
        std::to_string(b_rows) + " for op " + name(g.op_b) + "); column-major leading dimensions are >= max(1, rows)");
  if (g.ldc < std::max<int64_t>(1, g.m))
    bad("ldc=" + std::to_string(g.ldc) + " is less than m=" + std::to_string(g.m) + " (and 1)");
  const bool plain = g.a_type == DType::F32 || g.a_type == DType::F16 || g.a_type == DType::BF16;
  if (!plain || g.b_type != g.a_type)
    bad(std::string("A and B must both be f32, both f16 or both bf16, got ") + dtype_name(g.a_type) + " and " +
        dtype_name(g.b_type));
  if (g.m > 0 && g.n > 0 && !g.c) bad("C is a null pointer");
  if (g.m > 0 && g.n > 0 && g.k > 0 && (!g.a || !g.b)) bad("A or B is a null pointer");
}

void gemm_reference(const GemmArgs& g, void* stream) {
  check_gemm(g);
  if (g.m == 0 || g.n == 0) return;
  if ((g.n + kTile - 1) / kTile > 65535) bad("the reference kernel takes n <= " + std::to_string(65535 * kTile));
  auto kernel = g.a_type == DType::F32 ? gemm_reference_kernel<0>
                : g.a_type == DType::F16 ? gemm_reference_kernel<1>
                                         : gemm_reference_kernel<2>;
  launch("gemm reference", kernel,
         dim3(static_cast<unsigned>((g.m + kTile - 1) / kTile), static_cast<unsigned>((g.n + kTile - 1) / kTile)),
         dim3(kTile, kTile), 0, to_stream(stream), g.op_a == Op::T, g.op_b == Op::T, g.m, g.n, g.k, g.alpha, g.a, g.lda,
         g.b, g.ldb, g.beta, g.c, g.ldc);
}

Blas::~Blas() {
#if !defined(RRWKV_GPU_EMULATION)
  if (handle_) cublas().destroy(handle_);
#endif
}

void Blas::gemm(const GemmArgs& g) {
#if defined(RRWKV_GPU_EMULATION)
  gemm_reference(g, stream_);
#else
  check_gemm(g);
  if (g.m == 0 || g.n == 0) return;
  const Cublas& cb = cublas();
  if (!cb.ok) throw DeviceError("gemm: " + cb.status);
  if (!handle_) check_status(cb.create(&handle_), "cublasCreate");
  check_status(cb.set_stream(handle_, to_stream(stream_)), "cublasSetStream");
  const int compute = g.compute == Compute::FastTF32 && g.a_type == DType::F32 ? kCompute32FFastTF32 : kCompute32F;
  check_status(cb.gemm_ex(handle_, g.op_a == Op::N ? kOpN : kOpT, g.op_b == Op::N ? kOpN : kOpT, static_cast<int>(g.m),
                          static_cast<int>(g.n), static_cast<int>(g.k), &g.alpha, g.a, data_type(g.a_type),
                          static_cast<int>(g.lda), g.b, data_type(g.b_type), static_cast<int>(g.ldb), &g.beta, g.c,
                          CUDA_R_32F, static_cast<int>(g.ldc), compute, kGemmDefault),
               "cublasGemmEx");
#endif
}

std::string blas_status() {
#if defined(RRWKV_GPU_EMULATION)
  return "reference GEMM kernel (GPU emulation)";
#else
  return cublas().status;
#endif
}

}  // namespace rrwkv::gpu
