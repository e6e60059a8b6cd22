// An optional BLAS for the matrix-matrix products of prefill, loaded at run time (dlopen) so the
// extension has no link-time dependency: the Python package points it at the OpenBLAS of the
// `scipy-openblas32` wheel; without one, ops/linear_cpu.cpp uses the matvec kernels for every size.
#pragma once

#include <string>

namespace rrwkv::cpu {

// Remembers the library to load on first use (a path to a shared library exporting
// [scipy_]cblas_sgemm). An empty path disables BLAS. Loading happens at most once per process.
void blas_configure(const std::string& path);

// C (m, n; row stride ldc) = A (m, k; lda) · B (n, k; ldb)ᵀ, single-threaded (the caller's pool
// parallelises). Only valid when blas_available().
using SgemmNT = void (*)(int m, int n, int k, const float* a, int lda, const float* b, int ldb, float* c, int ldc);

// The one policy for choosing the library: the environment variable RRWKV_BLAS if set (a path,
// or "0" / "none" / "off" / "" for none), else `fallback` (the Python package passes the
// OpenBLAS of the scipy-openblas32 wheel; the C API passes "").
void blas_configure_from_env(const std::string& fallback);

bool blas_available();   // loads the configured library on the first call
SgemmNT blas_sgemm_nt();  // nullptr if unavailable
std::string blas_status();  // e.g. "OpenBLAS 0.3.34 (.../libscipy_openblas.so)" or why none is used

}  // namespace rrwkv::cpu
