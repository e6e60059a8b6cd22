// The WKV scan (wkv.h) on 16 channels per AVX-512 vector, the state held in registers across the
// tokens of a chunk, with a vectorised exp. Compiled with AVX-512 flags for this file only;
// internal linkage for everything but the entry point.
#include <immintrin.h>

#include "kernels/cpu/wkv.h"

namespace rrwkv::cpu {
namespace {

// exp(x) to ~1 ulp (Cephes expf polynomial on [-ln2/2, ln2/2]); exactly 1 at 0, 0 below -104.
inline __m512 exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-104.0f)), _mm512_set1_ps(88.7f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 y = _mm512_set1_ps(1.9875691500e-4f);
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.3981999507e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(8.3334519073e-3f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(4.1665795894e-2f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(1.6666665459e-1f));
  y = _mm512_fmadd_ps(y, r, _mm512_set1_ps(5.0000001201e-1f));
  y = _mm512_fmadd_ps(y, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(y, n);
}

template <bool kMediums>
void scan16(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
            const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out, int64_t ldo,
            int64_t c, __mmask16 m) {
  const __m512 w = _mm512_maskz_loadu_ps(m, p.w + c), u = _mm512_maskz_loadu_ps(m, p.u + c);
  __m512 aa = _mm512_maskz_loadu_ps(m, s.aa + c), bb = _mm512_maskz_loadu_ps(m, s.bb + c);
  __m512 pp = _mm512_maskz_loadu_ps(m, s.pp + c);
  __m512 wm = w, bm = w, ma = aa, mb = aa, mp = pp;
  if (kMediums) {
    wm = _mm512_maskz_loadu_ps(m, p.wm + c);
    bm = _mm512_maskz_loadu_ps(m, p.bm + c);
    ma = _mm512_maskz_loadu_ps(m, s.ma + c);
    mb = _mm512_maskz_loadu_ps(m, s.mb + c);
    mp = _mm512_maskz_loadu_ps(m, s.mp + c);
  }
  int64_t j = 0;
  for (int64_t t = 0; t < T; ++t) {
    const __m512 kt = _mm512_maskz_loadu_ps(m, k + t * ld + c), vt = _mm512_maskz_loadu_ps(m, v + t * ld + c);
    // token part with the bonus u for the current token
    __m512 ww = _mm512_add_ps(u, kt);
    __m512 q = _mm512_max_ps(pp, ww);
    __m512 e1 = exp16(_mm512_sub_ps(pp, q)), e2 = exp16(_mm512_sub_ps(ww, q));
    const __m512 a = _mm512_fmadd_ps(e1, aa, _mm512_mul_ps(e2, vt)), b = _mm512_fmadd_ps(e1, bb, e2);
    __m512 wkv;
    if (kMediums) {  // merge the medium sums
      const __m512 q2 = _mm512_max_ps(q, mp);
      const __m512 f1 = exp16(_mm512_sub_ps(q, q2)), f2 = exp16(_mm512_sub_ps(mp, q2));
      wkv = _mm512_div_ps(_mm512_fmadd_ps(f1, a, _mm512_mul_ps(f2, ma)), _mm512_fmadd_ps(f1, b, _mm512_mul_ps(f2, mb)));
    } else {
      wkv = _mm512_div_ps(a, b);
    }
    _mm512_mask_storeu_ps(out + t * ldo + c, m, wkv);
    // token sums: decay by one step, add the current token without the bonus
    ww = _mm512_sub_ps(pp, w);
    q = _mm512_max_ps(ww, kt);
    e1 = exp16(_mm512_sub_ps(ww, q));
    e2 = exp16(_mm512_sub_ps(kt, q));
    aa = _mm512_fmadd_ps(e1, aa, _mm512_mul_ps(e2, vt));
    bb = _mm512_fmadd_ps(e1, bb, e2);
    pp = q;
    if (kMediums && j < n_fold && fold_at[j] == t) {  // a segment completes: fold its medium in
      const __m512 ell = _mm512_add_ps(bm, _mm512_maskz_loadu_ps(m, km + j * ld + c));
      const __m512 mw = _mm512_sub_ps(mp, wm);
      const __m512 mq = _mm512_max_ps(mw, ell);
      const __m512 g1 = exp16(_mm512_sub_ps(mw, mq)), g2 = exp16(_mm512_sub_ps(ell, mq));
      ma = _mm512_fmadd_ps(g1, ma, _mm512_mul_ps(g2, _mm512_maskz_loadu_ps(m, vm + j * ld + c)));
      mb = _mm512_fmadd_ps(g1, mb, g2);
      mp = mq;
      ++j;
    }
  }
  _mm512_mask_storeu_ps(s.aa + c, m, aa);
  _mm512_mask_storeu_ps(s.bb + c, m, bb);
  _mm512_mask_storeu_ps(s.pp + c, m, pp);
  if (kMediums) {
    _mm512_mask_storeu_ps(s.ma + c, m, ma);
    _mm512_mask_storeu_ps(s.mb + c, m, mb);
    _mm512_mask_storeu_ps(s.mp + c, m, mp);
  }
}

}  // namespace

void wkv_scan_avx512(const WkvParams& p, const float* k, const float* v, int64_t ld, int64_t T, const float* km,
                     const float* vm, const int64_t* fold_at, int64_t n_fold, const WkvState& s, float* out,
                     int64_t ldo, int64_t c0, int64_t c1) {
  for (int64_t c = c0; c < c1; c += 16) {
    const int64_t n = c1 - c < 16 ? c1 - c : 16;
    const __mmask16 m = static_cast<__mmask16>((1u << n) - 1u);
    if (p.wm) scan16<true>(p, k, v, ld, T, km, vm, fold_at, n_fold, s, out, ldo, c, m);
    else scan16<false>(p, k, v, ld, T, km, vm, fold_at, n_fold, s, out, ldo, c, m);
  }
}

}  // namespace rrwkv::cpu
