// The per-ISA CPU kernels: matrix-vector products over row-major weights of every type with
// kernels (f32, f16, bf16, q8_0, q4_1) with f32 accumulation, and row conversion to f32. One
// implementation per ISA (AVX-512, AVX2+FMA, portable scalar), chosen once at run time from the
// CPU's features; each ISA's table has a row per weight type (ggml's type_traits), and a type
// without a row has no kernel (the ops ask has_kernel before calling).
//
// Determinism: a (row, vector) result depends only on the row, the vector and the ISA, never on
// the row range a call covers, the other vectors of the call or the thread that runs it. So
// sessions agree bit for bit whatever their thread count, and a batched decode step equals the
// steps of each sequence alone.
#pragma once

#include <cstdint>
#include <string>

#include "core/matrix.h"

namespace rrwkv::cpu {

constexpr int kMaxVecs = 8;  // the most vectors any table's matvec takes at once

// y[n][r] = sum_c W[r, c] * x[n][c] for r in [r0, r1) and n in [0, nvec), 1 <= nvec <= max_vecs.
using MatvecFn = void (*)(const Matrix& w, const float* const* x, int nvec, float* const* y, int64_t r0, int64_t r1);
// out[(r - r0) * cols + c] = float(W[r, c]) for r in [r0, r1).
using RowsToF32Fn = void (*)(const Matrix& w, int64_t r0, int64_t r1, float* out);

// One weight type's kernels on one ISA.
struct TypeKernels {
  MatvecFn matvec = nullptr;
  RowsToF32Fn rows_to_f32 = nullptr;
};

constexpr int kTypeRows = 8;  // rows of a table: DType codes 0..7

struct KernelTable {
  const char* name;
  int max_vecs;  // vectors one matvec call multiplies at once (the weights read once), <= kMaxVecs
  TypeKernels types[kTypeRows];  // by DType code; empty where the type has no kernels
  // Sum of n floats (reads memory as fast as the ISA allows; used to measure read bandwidth).
  float (*sum)(const float* p, int64_t n);

  // The kernels of weight type t, or nullptr.
  const TypeKernels* of(DType t) const {
    const auto code = static_cast<size_t>(t);
    return code < kTypeRows && types[code].matvec ? &types[code] : nullptr;
  }
  // The kernels of w's type (which has them: callers check of() first).
  void matvec(const Matrix& w, const float* const* x, int nvec, float* const* y, int64_t r0, int64_t r1) const {
    types[static_cast<size_t>(w.dtype)].matvec(w, x, nvec, y, r0, r1);
  }
  void rows_to_f32(const Matrix& w, int64_t r0, int64_t r1, float* out) const {
    types[static_cast<size_t>(w.dtype)].rows_to_f32(w, r0, r1, out);
  }
};

// The kernels of one weight type as a type (the template argument of make_kernel_table).
template <MatvecFn M, RowsToF32Fn R>
struct TypeKernelsOf {
  static constexpr MatvecFn matvec = M;
  static constexpr RowsToF32Fn rows_to_f32 = R;
};

// An ISA's table from its kernel templates, K<D>::matvec and K<D>::rows_to_f32, one row for each
// weight type in Types.
template <template <DType> class K, DType... Types>
constexpr KernelTable make_kernel_table_for(const char* name, int max_vecs, float (*sum)(const float*, int64_t)) {
  KernelTable t{name, max_vecs, {}, sum};
  ((t.types[static_cast<size_t>(Types)] = TypeKernels{K<Types>::matvec, K<Types>::rows_to_f32}), ...);
  return t;
}

// The weight types the CPU has kernels for: every ISA has each of them (the list is here, once).
template <template <DType> class K>
constexpr KernelTable make_kernel_table(const char* name, int max_vecs, float (*sum)(const float*, int64_t)) {
  return make_kernel_table_for<K, DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_1>(name, max_vecs, sum);
}

// The kernels in use (the best the CPU supports unless set_isa chose others).
const KernelTable& kernels();

// "auto", "avx512", "avx2" or "scalar"; throws InvalidArgument if unknown or unsupported here.
// Meant for tests and benchmarks; not safe while other threads run kernels.
void set_isa(const std::string& name);
std::string isa_name();
bool isa_supported(const std::string& name);

// This thread's scratch of at least `floats` floats, 64-byte aligned, kept for the thread's next
// call (a kernel that lays x out once per call: matvec_avx512.cpp's q4_1). Here, in a file compiled
// for the baseline ISA, so that no library template is instantiated with an ISA's flags (the
// linker could pick that copy for every file).
float* thread_scratch(int64_t floats);

// Per-ISA tables (nullptr where not compiled for this architecture).
const KernelTable* kernels_avx512();
const KernelTable* kernels_avx2();
const KernelTable* kernels_scalar();

}  // namespace rrwkv::cpu
