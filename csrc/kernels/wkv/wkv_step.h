// One WKV step per channel, forward and reverse mode: the math shared by the CPU and CUDA kernels.
//
// Forward (docs/RRWKV.md §5, operation for operation as reference/wkv.py:wkv_step): the output
// from the state before the token, the token update of (aa, bb, pp), and at a segment end the
// medium fold of (ma, mb, mp). Every exponent is <= 0 (the max trick); of each pair
// exp(x - max(x, y)), exp(y - max(x, y)) one is exactly 1, so only one exp is evaluated.
//
// Reverse mode. The max-trick maxima q (and the stored pp, mp, which are such maxima) are treated
// as constants. That is exact, not an approximation: the represented sums aa·e^pp etc. and so
// the outputs do not depend on which q is chosen, so d(output)/dq = 0 and differentiating with
// q frozen gives the true gradient. It is also what makes the reverse pass stable: the adjoints
// are taken with respect to the *scaled* sums (gaa = dL/d aa with aa the stored, scaled value),
// and every factor that carries them backwards is an e1 = exp(... - q) <= 1, while the scaled
// denominators are >= 1 once a token has been seen. Nothing overflows for any T, and no
// per-token quantity of the forward pass needs to be stored: the reverse pass only needs the
// state before each step, which the kernels recompute from checkpoints (see wkv.h).
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

// Everything here is inlined into the kernels' loops over channels (which the CPU build
// vectorizes, see wkv_cpu.cpp), so it must be branch-free and call nothing opaque.
#if defined(__CUDACC__)
#define RRWKV_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
#define RRWKV_HD inline __attribute__((always_inline))
#else
#define RRWKV_HD inline
#endif

namespace rrwkv::wkv {

// The matrix-state heads' default hook between state rows (wkv5_step.h, wkv7_step.h head_step):
// nothing. The CPU ops pass one that asks for a later row (ops/state_prefetch.h).
struct NoRowHook {
  RRWKV_HD void operator()(int64_t) const {}
};

template <class M>
struct StepState {
  M aa, bb, pp, ma, mb, mp;
};

// Adjoints of the scaled sums (pp and mp have none: they are frozen maxima).
template <class M>
struct StepGrad {
  M aa, bb, ma, mb;
};

// Per-channel parameter gradients, accumulated over t (and later over the batch).
template <class M>
struct ParamGrad {
  M w, u, wm, bm;
};

// exp on the host without libm calls, so that loops of it vectorize: Cephes' expf / exp (range
// reduction by n·ln2 in two parts, then a polynomial / Padé form), 2^n built in the exponent bits.
// Max error ~1.5 ulp (float), ~3 ulp (double); exactly 1 at 0. Below `lo` the result is 0, and
// the discarded intermediate stays a normal number: subnormal arithmetic costs ~100x (and
// exp(-1e38), the initial state, is evaluated at every token until the first medium exists).
// exp(lo) is ~1e-37 (float) / ~1e-304 (double) of the largest term, so the flush changes nothing.
RRWKV_HD float host_exp(float x) {
  const float lo = -86.0f;
  float xc = x < lo ? lo : x;
  xc = xc > 88.0f ? 88.0f : xc;
  const float t = xc * 1.44269504088896341f + 12582912.0f;  // + 1.5 * 2^23 rounds to an integer n
  const float n = t - 12582912.0f;
  const float r = (xc - n * 0.693359375f) + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  uint32_t bits;
  memcpy(&bits, &t, sizeof bits);  // n sits in the low mantissa bits of t
  bits = (bits + 127u) << 23;
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return x < lo ? 0.0f : p * scale;
}

RRWKV_HD double host_exp(double x) {
  const double lo = -700.0;
  double xc = x < lo ? lo : x;
  xc = xc > 709.0 ? 709.0 : xc;
  const double t = xc * 1.4426950408889634073599 + 6755399441055744.0;  // + 1.5 * 2^52
  const double n = t - 6755399441055744.0;
  const double r = (xc - n * 6.93145751953125e-1) - n * 1.42860682030941723212e-6;
  const double rr = r * r;
  const double px = r * ((1.26177193074810590878e-4 * rr + 3.02994407707441961300e-2) * rr + 9.99999999999999999910e-1);
  const double qx =
      ((3.00198505138664455042e-6 * rr + 2.52448340349684104192e-3) * rr + 2.27265548208155028766e-1) * rr +
      2.00000000000000000009e0;
  const double e = 1.0 + 2.0 * (px / (qx - px));
  uint64_t bits;
  memcpy(&bits, &t, sizeof bits);
  bits = (bits + 1023u) << 52;
  double scale;
  memcpy(&scale, &bits, sizeof scale);
  return x < lo ? 0.0 : e * scale;
}

RRWKV_HD float wkv_exp(float x) {
#if defined(__CUDA_ARCH__)
  return expf(x);
#else
  return host_exp(x);
#endif
}

RRWKV_HD double wkv_exp(double x) {
#if defined(__CUDA_ARCH__)
  return exp(x);
#else
  return host_exp(x);
#endif
}

// e_x = exp(x - max(x, y)), e_y = exp(y - max(x, y)); returns the max. One exp (the other factor
// is exactly 1), and selects instead of branches.
template <class M>
RRWKV_HD M max_pair(M x, M y, M& e_x, M& e_y) {
  const bool x_max = x >= y;
  const M e = wkv_exp(x_max ? y - x : x - y);
  e_x = x_max ? M(1) : e;
  e_y = x_max ? e : M(1);
  return x_max ? x : y;
}

// The output at a token from the state before it; `medium` merges the medium sums (RRWKV).
template <class M>
RRWKV_HD M step_output(const StepState<M>& s, M u, M k, M v, bool medium) {
  M e1, e2;
  const M q = max_pair(s.pp, u + k, e1, e2);
  const M a = e1 * s.aa + e2 * v;
  const M b = e1 * s.bb + e2;
  if (!medium) return a / b;
  M f1, f2;
  max_pair(q, s.mp, f1, f2);
  return (f1 * a + f2 * s.ma) / (f1 * b + f2 * s.mb);
}

// Token update: decay the token sums by one step and add the token without bonus.
template <class M>
RRWKV_HD void step_token_update(StepState<M>& s, M w, M k, M v) {
  M e1, e2;
  const M q = max_pair(s.pp - w, k, e1, e2);
  s.aa = e1 * s.aa + e2 * v;
  s.bb = e1 * s.bb + e2;
  s.pp = q;
}

// Segment end: decay the medium sums by one segment and add the medium (bm + km, vm).
template <class M>
RRWKV_HD void step_medium_fold(StepState<M>& s, M wm, M bm, M km, M vm) {
  M e1, e2;
  const M q = max_pair(s.mp - wm, bm + km, e1, e2);
  s.ma = e1 * s.ma + e2 * vm;
  s.mb = e1 * s.mb + e2;
  s.mp = q;
}

// The three backward pieces, applied in reverse order of the forward ones. `s` is always the
// state before the token (the token update does not touch the medium fields, so it is also the
// medium state the fold starts from). `g` holds the adjoints of the state after the piece on
// entry and before it on exit.

template <class M>
RRWKV_HD void step_medium_fold_backward(const StepState<M>& s, StepGrad<M>& g, ParamGrad<M>& pg, M wm, M bm,
                                        M km, M vm, M& gkm, M& gvm) {
  M e1, e2;
  max_pair(s.mp - wm, bm + km, e1, e2);
  const M gl = e2 * (g.ma * vm + g.mb);   // d/d(bm + km)
  gkm = gl;
  gvm = e2 * g.ma;
  pg.bm += gl;
  pg.wm -= e1 * (g.ma * s.ma + g.mb * s.mb);
  g.ma *= e1;
  g.mb *= e1;
}

template <class M>
RRWKV_HD void step_token_update_backward(const StepState<M>& s, StepGrad<M>& g, ParamGrad<M>& pg, M w, M k,
                                         M v, M& gk, M& gv) {
  M e1, e2;
  max_pair(s.pp - w, k, e1, e2);
  gk += e2 * (g.aa * v + g.bb);
  gv += e2 * g.aa;
  pg.w -= e1 * (g.aa * s.aa + g.bb * s.bb);
  g.aa *= e1;
  g.bb *= e1;
}

template <class M>
RRWKV_HD void step_output_backward(const StepState<M>& s, StepGrad<M>& g, ParamGrad<M>& pg, M u, M k, M v,
                                   M gy, bool medium, M& gk, M& gv) {
  M e1, e2;
  const M q = max_pair(s.pp, u + k, e1, e2);
  const M a = e1 * s.aa + e2 * v;
  const M b = e1 * s.bb + e2;
  M ga, gb;  // adjoints of a and b
  if (medium) {
    M f1, f2;
    max_pair(q, s.mp, f1, f2);
    const M inv = M(1) / (f1 * b + f2 * s.mb);
    const M gn = gy * inv;                           // d/d numerator
    const M gd = -gn * ((f1 * a + f2 * s.ma) * inv);  // d/d denominator = -gy * y / den
    ga = f1 * gn;
    gb = f1 * gd;
    g.ma += f2 * gn;
    g.mb += f2 * gd;
  } else {
    const M inv = M(1) / b;
    ga = gy * inv;
    gb = -ga * (a * inv);
  }
  g.aa += e1 * ga;
  g.bb += e1 * gb;
  const M go = e2 * (ga * v + gb);  // d/d(u + k)
  gk += go;
  pg.u += go;
  gv += e2 * ga;
}

}  // namespace rrwkv::wkv
