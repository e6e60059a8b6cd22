// The per-ISA CPU kernels: matrix-vector products over f32 / f16 / bf16 row-major weights with
// f32 accumulation, and row conversion to f32. One implementation per ISA (AVX-512, AVX2+FMA,
// portable scalar), chosen once at run time from the CPU's features. Only plain types reach
// them: the ops check a matrix's dtype before calling.
//
// Determinism: a (row, vector) result depends only on the row, the vector and the ISA, never on
// the row range a call covers, the other vectors of the call or the thread that runs it. So
// sessions agree bit for bit whatever their thread count, and a batched decode step equals the
// steps of each sequence alone.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace rrwkv::cpu {

constexpr int kMaxVecs = 8;  // the most vectors any table's matvec takes at once

struct KernelTable {
  const char* name;
  int max_vecs;  // vectors one matvec call multiplies at once (the weights read once), <= kMaxVecs
  // y[n][r] = sum_c W[r, c] * x[n][c] for r in [r0, r1) and n in [0, nvec), 1 <= nvec <= max_vecs.
  void (*matvec)(const Matrix& w, const float* const* x, int nvec, float* const* y, int64_t r0, int64_t r1);
  // out[(r - r0) * cols + c] = float(W[r, c]) for r in [r0, r1).
  void (*rows_to_f32)(const Matrix& w, int64_t r0, int64_t r1, float* out);
  // Sum of n floats (reads memory as fast as the ISA allows; used to measure read bandwidth).
  float (*sum)(const float* p, int64_t n);
};

// The kernels in use (the best the CPU supports unless set_isa chose others).
const KernelTable& kernels();

// "auto", "avx512", "avx2" or "scalar"; throws InvalidArgument if unknown or unsupported here.
// Meant for tests and benchmarks; not safe while other threads run kernels.
void set_isa(const std::string& name);
std::string isa_name();
bool isa_supported(const std::string& name);

// Per-ISA tables (nullptr where not compiled for this architecture).
const KernelTable* kernels_avx512();
const KernelTable* kernels_avx2();
const KernelTable* kernels_scalar();

}  // namespace rrwkv::cpu
