// Portable WKV: the fallback and the reference for the SIMD versions.
#include "kernels/cpu/wkv.h"

#include <algorithm>
#include <cmath>

namespace rrwkv::cpu {
namespace {

void wkv_step(const WkvParams& p, const float* k, const float* v, const WkvState& s, float* out, int64_t c0,
              int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    const float kc = k[c], vc = v[c], pp = s.pp[c], aa = s.aa[c], bb = s.bb[c];
    // token part with the bonus u for the current token
    float ww = p.u[c] + kc;
    float q = std::max(pp, ww);
    float e1 = std::exp(pp - q), e2 = std::exp(ww - q);
    const float a = e1 * aa + e2 * vc, b = e1 * bb + e2;
    if (p.wm) {  // merge the medium sums (log-sum-exp of two scaled sums)
      const float mp = s.mp[c];
      const float q2 = std::max(q, mp);
      const float f1 = std::exp(q - q2), f2 = std::exp(mp - q2);
      out[c] = (f1 * a + f2 * s.ma[c]) / (f1 * b + f2 * s.mb[c]);
    } else {
      out[c] = a / b;
    }
    // token sums: decay by one step, add the current token without the bonus
    ww = pp - p.w[c];
    q = std::max(ww, kc);
    e1 = std::exp(ww - q);
    e2 = std::exp(kc - q);
    s.aa[c] = e1 * aa + e2 * vc;
    s.bb[c] = e1 * bb + e2;
    s.pp[c] = q;
  }
}

void wkv_fold_medium(const WkvParams& p, const float* km, const float* vm, const WkvState& s, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; ++c) {
    const float ell = p.bm[c] + km[c];
    const float ww = s.mp[c] - p.wm[c];
    const float q = std::max(ww, ell);
    const float e1 = std::exp(ww - q), e2 = std::exp(ell - q);
    s.ma[c] = e1 * s.ma[c] + e2 * vm[c];
    s.mb[c] = e1 * s.mb[c] + e2;
    s.mp[c] = q;
  }
}

}  // namespace

void wkv_scan_scalar(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                     const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                     int64_t ldo, int64_t c0, int64_t c1) {
  int64_t j = 0;
  for (int64_t t = 0; t < T; ++t) {
    wkv_step(p, k + t * ld, v + t * ld, s, out + t * ldo, c0, c1);
    if (j < n_fold && fold_at[j] == t) {
      wkv_fold_medium(p, km + j * ld, vm + j * ld, s, c0, c1);
      ++j;
    }
  }
}

}  // namespace rrwkv::cpu
