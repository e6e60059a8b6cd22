// Matrix products on the GPU through one wrapper with cuBLAS's conventions, so that every call
// site's arguments mean the same in both builds:
//   C (m x n) = alpha * op(A) (m x k) * op(B) (k x n) + beta * C
// column-major, op N or T, leading dimensions in elements (lda >= rows of A as stored, >= 1), A
// and B both f32, both f16 or both bf16, C f32, f32 accumulation; beta == 0 means C is not read
// (it may hold garbage or NaN). Row-major callers pass their matrices as the transposes.
//
// With nvcc the product is cuBLAS's cublasGemmEx, loaded at run time (libcublas.so.<CUDA major>,
// like the CPU's BLAS) so the library loads on machines without it; under emulation it is
// gemm_reference, a tiled kernel with exactly these conventions. gemm_reference exists in both
// builds (tests compare it with cuBLAS on a GPU). Asynchronous on the stream; throws
// InvalidArgument for arguments cuBLAS would refuse, DeviceError for runtime failures.
#pragma once

#include <cstdint>
#include <string>

#include "core/dtype.h"

namespace rrwkv::gpu {

enum class Op { N, T };

// How the products are accumulated: F32 always; FastTF32 lets cuBLAS use TF32 tensor cores for
// f32 inputs (about 10 bits of mantissa per product; the reference computes F32 either way).
enum class Compute { F32, FastTF32 };

struct GemmArgs {
  Op op_a = Op::N, op_b = Op::N;
  int64_t m = 0, n = 0, k = 0;
  float alpha = 1.0f;
  const void* a = nullptr;
  DType a_type = DType::F32;
  int64_t lda = 1;
  const void* b = nullptr;
  DType b_type = DType::F32;
  int64_t ldb = 1;
  float beta = 0.0f;
  float* c = nullptr;
  int64_t ldc = 1;
  Compute compute = Compute::F32;
};

// A BLAS context for one device and stream (a cuBLAS handle, created on first use on the device
// current then). Not thread-safe: one per thread or per stream.
class Blas {
 public:
  explicit Blas(void* stream = nullptr) : stream_(stream) {}
  ~Blas();
  Blas(const Blas&) = delete;
  Blas& operator=(const Blas&) = delete;

  void set_stream(void* stream) { stream_ = stream; }
  void* stream() const { return stream_; }
  void gemm(const GemmArgs& g);

 private:
  void* stream_ = nullptr;
  void* handle_ = nullptr;  // cublasHandle_t
};

// Checks g against cuBLAS's rules; throws InvalidArgument naming the argument and the rule.
void check_gemm(const GemmArgs& g);

// The reference product on the device (both builds), on `stream`.
void gemm_reference(const GemmArgs& g, void* stream);

// "cuBLAS 13.0 (libcublas.so.13)", "reference kernel (GPU emulation)", or why cuBLAS is unusable.
std::string blas_status();

}  // namespace rrwkv::gpu
