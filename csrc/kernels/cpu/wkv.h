// The WKV recurrence of docs/RRWKV.md §5 on a range of channels [c0, c1), over a chunk of tokens
// (prefill, §6) or one token (decode), folding in the mediums that complete. All in f32, in the
// order of the spec; with wm == nullptr (RWKV-4) the medium merge is skipped entirely.
#pragma once

#include <cstdint>

namespace rrwkv::cpu {

struct WkvParams {
  const float* w;   // token decay rate exp(time_decay) > 0
  const float* u;   // time_first
  const float* wm;  // medium decay rate exp(time_decay_m), or nullptr for RWKV-4
  const float* bm;  // time_first_m, or nullptr
};

struct WkvState {  // per-layer rows of the session state, C floats each
  float *aa, *bb, *pp, *ma, *mb, *mp;
};

// The scan: T tokens, k and v rows with stride ld, out rows with stride ldo. Medium j (rows
// km + j*ld, vm + j*ld) is folded in right after local token fold_at[j] (increasing). Decode is
// the case T = 1. Called through kernels().wkv_scan (matvec.h), which picks the ISA.
using WkvScanFn = void (*)(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T,
                           const float* km, const float* vm, const int64_t* fold_at, int64_t n_fold,
                           const WkvState& s, float* out, int64_t ldo, int64_t c0, int64_t c1);

// Portable implementations (wkv.cpp); the SIMD ones are in wkv_avx512.cpp / wkv_avx2.cpp.
void wkv_scan_scalar(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                     const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                     int64_t ldo, int64_t c0, int64_t c1);
void wkv_scan_avx512(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                     const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                     int64_t ldo, int64_t c0, int64_t c1);
void wkv_scan_avx2(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                   const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                   int64_t ldo, int64_t c0, int64_t c1);

}  // namespace rrwkv::cpu
