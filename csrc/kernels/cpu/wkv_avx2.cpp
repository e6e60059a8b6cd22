// The WKV scan (wkv.h) on 8 channels per AVX2 vector, the state held in registers across the
// tokens of a chunk, with a vectorised exp; leftover channels go to the scalar code. Compiled
// with AVX2+FMA flags for this file only; internal linkage for everything but the entry point.
#include <immintrin.h>

#include "kernels/cpu/wkv.h"

namespace rrwkv::cpu {
namespace {

// exp(x) to ~1 ulp (Cephes expf polynomial on [-ln2/2, ln2/2]); exactly 1 at 0, 0 below -87.3
// (where the true value is subnormal).
inline __m256 exp8(__m256 x) {
  const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.33f), _CMP_LT_OQ);
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33f)), _mm256_set1_ps(88.37f));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  __m256 y = _mm256_set1_ps(1.9875691500e-4f);
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.3981999507e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(8.3334519073e-3f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(4.1665795894e-2f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(1.6666665459e-1f));
  y = _mm256_fmadd_ps(y, r, _mm256_set1_ps(5.0000001201e-1f));
  y = _mm256_fmadd_ps(y, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_andnot_ps(tiny, _mm256_mul_ps(y, _mm256_castsi256_ps(e)));
}

template <bool kMediums>
void scan8(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
            const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out, int64_t ldo,
           int64_t c) {
  const __m256 w = _mm256_loadu_ps(p.w + c), u = _mm256_loadu_ps(p.u + c);
  __m256 aa = _mm256_loadu_ps(s.aa + c), bb = _mm256_loadu_ps(s.bb + c);
  __m256 pp = _mm256_loadu_ps(s.pp + c);
  __m256 wm = w, bm = w, ma = aa, mb = aa, mp = pp;
  if (kMediums) {
    wm = _mm256_loadu_ps(p.wm + c);
    bm = _mm256_loadu_ps(p.bm + c);
    ma = _mm256_loadu_ps(s.ma + c);
    mb = _mm256_loadu_ps(s.mb + c);
    mp = _mm256_loadu_ps(s.mp + c);
  }
  int64_t j = 0;
  for (int64_t t = 0; t < T; ++t) {
    const __m256 kt = _mm256_loadu_ps(k + t * ld + c), vt = _mm256_loadu_ps(v + t * ld + c);
    // token part with the bonus u for the current token
    __m256 ww = _mm256_add_ps(u, kt);
    __m256 q = _mm256_max_ps(pp, ww);
    __m256 e1 = exp8(_mm256_sub_ps(pp, q)), e2 = exp8(_mm256_sub_ps(ww, q));
    const __m256 a = _mm256_fmadd_ps(e1, aa, _mm256_mul_ps(e2, vt)), b = _mm256_fmadd_ps(e1, bb, e2);
    __m256 wkv;
    if (kMediums) {  // merge the medium sums
      const __m256 q2 = _mm256_max_ps(q, mp);
      const __m256 f1 = exp8(_mm256_sub_ps(q, q2)), f2 = exp8(_mm256_sub_ps(mp, q2));
      wkv = _mm256_div_ps(_mm256_fmadd_ps(f1, a, _mm256_mul_ps(f2, ma)), _mm256_fmadd_ps(f1, b, _mm256_mul_ps(f2, mb)));
    } else {
      wkv = _mm256_div_ps(a, b);
    }
    _mm256_storeu_ps(out + t * ldo + c, wkv);
    // token sums: decay by one step, add the current token without the bonus
    ww = _mm256_sub_ps(pp, w);
    q = _mm256_max_ps(ww, kt);
    e1 = exp8(_mm256_sub_ps(ww, q));
    e2 = exp8(_mm256_sub_ps(kt, q));
    aa = _mm256_fmadd_ps(e1, aa, _mm256_mul_ps(e2, vt));
    bb = _mm256_fmadd_ps(e1, bb, e2);
    pp = q;
    if (kMediums && j < n_fold && fold_at[j] == t) {  // a segment completes: fold its medium in
      const __m256 ell = _mm256_add_ps(bm, _mm256_loadu_ps(km + j * ld + c));
      const __m256 mw = _mm256_sub_ps(mp, wm);
      const __m256 mq = _mm256_max_ps(mw, ell);
      const __m256 g1 = exp8(_mm256_sub_ps(mw, mq)), g2 = exp8(_mm256_sub_ps(ell, mq));
      ma = _mm256_fmadd_ps(g1, ma, _mm256_mul_ps(g2, _mm256_loadu_ps(vm + j * ld + c)));
      mb = _mm256_fmadd_ps(g1, mb, g2);
      mp = mq;
      ++j;
    }
  }
  _mm256_storeu_ps(s.aa + c, aa);
  _mm256_storeu_ps(s.bb + c, bb);
  _mm256_storeu_ps(s.pp + c, pp);
  if (kMediums) {
    _mm256_storeu_ps(s.ma + c, ma);
    _mm256_storeu_ps(s.mb + c, mb);
    _mm256_storeu_ps(s.mp + c, mp);
  }
}

}  // namespace

void wkv_scan_avx2(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                   const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                   int64_t ldo, int64_t c0, int64_t c1) {
  int64_t c = c0;
  for (; c + 8 <= c1; c += 8) {
    if (p.wm) scan8<true>(p, k, v, ld, T, km, vm, fold_at, n_fold, s, out, ldo, c);
    else scan8<false>(p, k, v, ld, T, km, vm, fold_at, n_fold, s, out, ldo, c);
  }
  if (c < c1) wkv_scan_scalar(p, k, v, ld, T, km, vm, fold_at, n_fold, s, out, ldo, c, c1);
}

}  // namespace rrwkv::cpu
