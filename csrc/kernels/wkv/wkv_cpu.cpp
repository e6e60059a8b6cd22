// WKV forward and backward on the CPU: one task per (sequence, tile of kTile channels), each a
// scan over t whose inner loops run over the channels of the tile. Those loops vectorize: the
// step math (wkv_step.h) is inlined and branch-free, with a libm-free exp; this file is compiled
// with -fno-trapping-math so that the selects of the max trick can be if-converted. On x86-64
// with GCC each tile function is also cloned for x86-64-v3 (AVX2, FMA), chosen at load time by
// CPU features (ifunc).
// Parameter gradients are summed over the batch from per-sequence partials in a fixed order, so
// results do not depend on the thread count.
#include <algorithm>
#include <vector>

#include "core/clones.h"
#include "core/thread_pool.h"
#include "kernels/wkv/wkv.h"
#include "kernels/wkv/wkv_step.h"


namespace rrwkv::wkv::detail {
namespace {

constexpr int64_t kTile = 32;              // channels per task
// Threads only for big calls, each with at least this many channel-steps (~1 ms): starting a
// thread costs ~0.1 ms on an idle machine and far more on a busy one (torch's own pool spins).
// (The training kernels are called from torch without an engine, so each big call makes a pool.)
constexpr int64_t kWorkPerThread = 1 << 19;

// fn(task) for task in [0, n) on a pool sized to the work; fn must not throw.
template <class F>
void parallel_for(int64_t n, int n_threads, int64_t work, const F& fn) {
  int64_t nt = n_threads > 0 ? n_threads : ThreadPool::available_cpus();
  nt = std::max<int64_t>(1, std::min({nt, n, work / kWorkPerThread}));
  if (nt == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  ThreadPool pool(static_cast<int>(nt));
  pool.run(n, [&](int64_t task, int) { fn(task); });
}

// The states of a tile of channels, one array per field (so the loops over channels vectorize).
template <class M>
struct Tile {
  M aa[kTile], bb[kTile], pp[kTile], ma[kTile], mb[kTile], mp[kTile];

  StepState<M> get(int64_t i) const { return {aa[i], bb[i], pp[i], ma[i], mb[i], mp[i]}; }
  void set(int64_t i, const StepState<M>& s) {
    aa[i] = s.aa, bb[i] = s.bb, pp[i] = s.pp, ma[i] = s.ma, mb[i] = s.mb, mp[i] = s.mp;
  }
  static M initial(int field) { return field == 2 || field == 5 ? M(kMinusInfinity) : M(0); }  // pp, mp
  // (6, B, C) state or checkpoint at channel offset o = b * C + c0; null src: the initial state
  void load(const M* src, int64_t BC, int64_t o, int64_t nc) {
    M* f[6] = {aa, bb, pp, ma, mb, mp};
    for (int q = 0; q < kStateFields; ++q)
      for (int64_t i = 0; i < nc; ++i) f[q][i] = src ? src[q * BC + o + i] : initial(q);
  }
  void store(M* dst, int64_t BC, int64_t o, int64_t nc) const {
    const M* f[6] = {aa, bb, pp, ma, mb, mp};
    for (int q = 0; q < kStateFields; ++q)
      for (int64_t i = 0; i < nc; ++i) dst[q * BC + o + i] = f[q][i];
  }
  // six separate field rows (the runtime's state) at channel c0; a null row (the medium fields
  // of RWKV-4) reads as the initial value and is not written back
  void load(M* const* src, int64_t c0, int64_t nc) {
    M* f[6] = {aa, bb, pp, ma, mb, mp};
    for (int q = 0; q < kStateFields; ++q)
      for (int64_t i = 0; i < nc; ++i) f[q][i] = src[q] ? src[q][c0 + i] : initial(q);
  }
  void store(M* const* dst, int64_t c0, int64_t nc) const {
    const M* f[6] = {aa, bb, pp, ma, mb, mp};
    for (int q = 0; q < kStateFields; ++q)
      if (dst[q])
        for (int64_t i = 0; i < nc; ++i) dst[q][c0 + i] = f[q][i];
  }
};

// Reverse-pass accumulators of a tile: adjoints of the scaled sums and parameter gradients.
template <class M>
struct GradTile {
  M aa[kTile] = {}, bb[kTile] = {}, ma[kTile] = {}, mb[kTile] = {};
  M w[kTile] = {}, u[kTile] = {}, wm[kTile] = {}, bm[kTile] = {};

  StepGrad<M> get(int64_t i) const { return {aa[i], bb[i], ma[i], mb[i]}; }
  ParamGrad<M> params(int64_t i) const { return {w[i], u[i], wm[i], bm[i]}; }
  void set(int64_t i, const StepGrad<M>& g, const ParamGrad<M>& p) {
    aa[i] = g.aa, bb[i] = g.bb, ma[i] = g.ma, mb[i] = g.mb;
    w[i] = p.w, u[i] = p.u, wm[i] = p.wm, bm[i] = p.bm;
  }
};

template <class M>
struct Args {  // one task's view of the problem: channels [c0, c0 + nc) of sequence b
  int64_t B, T, C, J, s, first, b, c0, nc;
  const M *w, *u, *wm, *bm, *k, *v, *km, *vm;
  int64_t tok(int64_t t) const { return (b * T + t) * C + c0; }  // offset of token t
  int64_t med(int64_t j) const { return (b * J + j) * C + c0; }   // offset of medium j
  int64_t medium_at(int64_t t) const { return t >= first && (t - first) % s == 0 ? (t - first) / s : -1; }
};

template <class M>
Args<M> task_args(const Problem& p, const Inputs& in, int64_t b, int64_t c0) {
  const auto c = [&](const void* q, int64_t off) { return q ? static_cast<const M*>(q) + off : nullptr; };
  return {p.B, p.T, p.C, p.J, p.s, first_segment_end(p.pos, p.s), b, c0, std::min(kTile, p.C - c0),
          c(in.w, c0), c(in.u, c0), c(in.wm, c0), c(in.bm, c0), c(in.k, 0), c(in.v, 0), c(in.km, 0), c(in.vm, 0)};
}

// The forward loop bodies over the channels of a tile, shared by forward() and scan_rows_f32():
// one token's outputs and token update, and one medium fold.
template <class M, bool kMedium>
RRWKV_HD void token_tile(int64_t nc, const M* u, const M* w, const M* __restrict k, const M* __restrict v,
                         Tile<M>& st, M* __restrict y) {
  for (int64_t i = 0; i < nc; ++i) {
    StepState<M> s = st.get(i);
    y[i] = step_output(s, u[i], k[i], v[i], kMedium);
    step_token_update(s, w[i], k[i], v[i]);
    st.set(i, s);
  }
}

template <class M>
RRWKV_HD void fold_tile(int64_t nc, const M* wm, const M* bm, const M* __restrict km, const M* __restrict vm,
                        Tile<M>& st) {
  for (int64_t i = 0; i < nc; ++i) {
    StepState<M> s = st.get(i);
    step_medium_fold(s, wm[i], bm[i], km[i], vm[i]);
    st.set(i, s);
  }
}

template <class M>
RRWKV_HD void fold_tile(const Args<M>& a, Tile<M>& st, int64_t j) {
  fold_tile(a.nc, a.wm, a.bm, a.km + a.med(j), a.vm + a.med(j), st);
}

template <class M, bool kMedium>
RRWKV_HD void forward_task(const Args<M>& a, const M* state_in, M* __restrict y_all, M* state_out, M* ckpt) {
  const int64_t BC = a.B * a.C, o = a.b * a.C + a.c0;
  Tile<M> st;
  st.load(state_in, BC, o, a.nc);
  for (int64_t t = 0, next_end = kMedium ? a.first : -1, j = 0; t < a.T; ++t) {
    if (ckpt && t % kCheckpointInterval == 0) st.store(ckpt + t / kCheckpointInterval * kStateFields * BC, BC, o, a.nc);
    token_tile<M, kMedium>(a.nc, a.u, a.w, a.k + a.tok(t), a.v + a.tok(t), st, y_all + a.tok(t));
    if (kMedium && t == next_end) {
      fold_tile<M>(a, st, j++);
      next_end += a.s;
    }
  }
  if (state_out) st.store(state_out, BC, o, a.nc);
}

// Reverse pass of one task; writes its parameter gradients to part (4, C) of its sequence.
template <class M, bool kMedium>
RRWKV_HD void backward_task(const Args<M>& a, const M* ckpt, const M* gy_all, M* gk_all, M* gv_all, M* gkm_all,
                            M* gvm_all, M* part, Tile<M>* hist) {
  const int64_t BC = a.B * a.C, o = a.b * a.C + a.c0, K = kCheckpointInterval;
  GradTile<M> g;
  Tile<M> st;
  for (int64_t n = checkpoint_count(a.T) - 1; n >= 0; --n) {
    const int64_t t0 = n * K, len = std::min(K, a.T - t0);
    st.load(ckpt + n * kStateFields * BC, BC, o, a.nc);
    for (int64_t tt = 0; tt < len; ++tt) {  // recompute the states before each token of the block
      const int64_t t = t0 + tt;
      const M *__restrict k = a.k + a.tok(t), *__restrict v = a.v + a.tok(t);
      hist[tt] = st;
      for (int64_t i = 0; i < a.nc; ++i) {
        StepState<M> s = st.get(i);
        step_token_update(s, a.w[i], k[i], v[i]);
        st.set(i, s);
      }
      const int64_t jm = kMedium ? a.medium_at(t) : -1;
      if (jm >= 0 && tt + 1 < len) fold_tile<M>(a, st, jm);
    }
    for (int64_t tt = len - 1; tt >= 0; --tt) {  // and walk back through them
      const int64_t t = t0 + tt, jm = kMedium ? a.medium_at(t) : -1;
      const M *__restrict k = a.k + a.tok(t), *__restrict v = a.v + a.tok(t), *__restrict gy = gy_all + a.tok(t);
      M *__restrict gk = gk_all + a.tok(t), *__restrict gv = gv_all + a.tok(t);
      const Tile<M> h = hist[tt];  // a local copy: GCC 12 does not vectorize loads through the pointer
      if (jm >= 0) {
        const M *__restrict km = a.km + a.med(jm), *__restrict vm = a.vm + a.med(jm);
        M *__restrict gkm = gkm_all + a.med(jm), *__restrict gvm = gvm_all + a.med(jm);
        for (int64_t i = 0; i < a.nc; ++i) {
          StepGrad<M> sg = g.get(i);
          ParamGrad<M> pg = g.params(i);
          step_medium_fold_backward(h.get(i), sg, pg, a.wm[i], a.bm[i], km[i], vm[i], gkm[i], gvm[i]);
          g.set(i, sg, pg);
        }
      }
      // two loops: GCC 12 vectorizes each but not the two pieces in one
      for (int64_t i = 0; i < a.nc; ++i) {
        StepGrad<M> sg = g.get(i);
        ParamGrad<M> pg = g.params(i);
        M dk = M(0), dv = M(0);
        step_token_update_backward(h.get(i), sg, pg, a.w[i], k[i], v[i], dk, dv);
        g.set(i, sg, pg);
        gk[i] = dk;
        gv[i] = dv;
      }
      for (int64_t i = 0; i < a.nc; ++i) {
        StepGrad<M> sg = g.get(i);
        ParamGrad<M> pg = g.params(i);
        M dk = gk[i], dv = gv[i];
        step_output_backward(h.get(i), sg, pg, a.u[i], k[i], v[i], gy[i], kMedium, dk, dv);
        g.set(i, sg, pg);
        gk[i] = dk;
        gv[i] = dv;
      }
    }
  }
  for (int64_t i = 0; i < a.nc; ++i) {
    part[0 * a.C + a.c0 + i] = g.w[i];
    part[1 * a.C + a.c0 + i] = g.u[i];
    part[2 * a.C + a.c0 + i] = g.wm[i];
    part[3 * a.C + a.c0 + i] = g.bm[i];
  }
}

// scan_rows_f32 on channels [c0, c0 + nc), nc <= kTile: the loop of forward_task on row strides.
template <bool kMedium>
RRWKV_HD void scan_rows_task(const RowScan& r, int64_t c0, int64_t nc) {
  Tile<float> st;
  st.load(r.state, c0, nc);
  for (int64_t t = 0, j = 0; t < r.T; ++t) {
    token_tile<float, kMedium>(nc, r.u + c0, r.w + c0, r.k + t * r.ld + c0, r.v + t * r.ld + c0, st,
                               r.out + t * r.ldo + c0);
    if (kMedium && j < r.n_fold && r.fold_at[j] == t) {
      fold_tile<float>(nc, r.wm + c0, r.bm + c0, r.km + j * r.ld + c0, r.vm + j * r.ld + c0, st);
      ++j;
    }
  }
  st.store(r.state, c0, nc);
}

RRWKV_CLONES void scan_rows_rwkv4(const RowScan& r, int64_t c0, int64_t nc) { scan_rows_task<false>(r, c0, nc); }
RRWKV_CLONES void scan_rows_rrwkv(const RowScan& r, int64_t c0, int64_t nc) { scan_rows_task<true>(r, c0, nc); }

// Non-template entry points, one per (type, arch): the units the ISA clones are made of.
#define RRWKV_WKV_TASKS(M, NAME, MEDIUM)                                                                  \
  RRWKV_CLONES void forward_##NAME(const Args<M>& a, const M* si, M* y, M* so, M* ck) {                   \
    forward_task<M, MEDIUM>(a, si, y, so, ck);                                                           \
  }                                                                                                       \
  RRWKV_CLONES void backward_##NAME(const Args<M>& a, const M* ck, const M* gy, M* gk, M* gv, M* gkm,    \
                                    M* gvm, M* part, Tile<M>* hist) {                                    \
    backward_task<M, MEDIUM>(a, ck, gy, gk, gv, gkm, gvm, part, hist);                                   \
  }
RRWKV_WKV_TASKS(float, f32_rwkv4, false)
RRWKV_WKV_TASKS(float, f32_rrwkv, true)
RRWKV_WKV_TASKS(double, f64_rwkv4, false)
RRWKV_WKV_TASKS(double, f64_rrwkv, true)
#undef RRWKV_WKV_TASKS

void forward_tile(const Args<float>& a, bool m, const float* si, float* y, float* so, float* ck) {
  m ? forward_f32_rrwkv(a, si, y, so, ck) : forward_f32_rwkv4(a, si, y, so, ck);
}
void forward_tile(const Args<double>& a, bool m, const double* si, double* y, double* so, double* ck) {
  m ? forward_f64_rrwkv(a, si, y, so, ck) : forward_f64_rwkv4(a, si, y, so, ck);
}
template <class M>
void backward_tile(const Args<M>& a, bool m, const M* ck, const M* gy, M* gk, M* gv, M* gkm, M* gvm, M* part,
                   Tile<M>* hist) {
  if constexpr (std::is_same_v<M, float>) {
    m ? backward_f32_rrwkv(a, ck, gy, gk, gv, gkm, gvm, part, hist)
      : backward_f32_rwkv4(a, ck, gy, gk, gv, gkm, gvm, part, hist);
  } else {
    m ? backward_f64_rrwkv(a, ck, gy, gk, gv, gkm, gvm, part, hist)
      : backward_f64_rwkv4(a, ck, gy, gk, gv, gkm, gvm, part, hist);
  }
}

template <class M>
void forward_typed(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  const int64_t tiles = (p.C + kTile - 1) / kTile;
  parallel_for(p.B * tiles, p.n_threads, p.B * p.T * p.C, [&](int64_t task) {
    const Args<M> a = task_args<M>(p, in, task / tiles, task % tiles * kTile);
    forward_tile(a, p.medium, static_cast<const M*>(in.state_in), static_cast<M*>(out.y),
                 static_cast<M*>(out.state_out), static_cast<M*>(out.ckpt));
  });
}

template <class M>
void backward_typed(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  const int64_t tiles = (p.C + kTile - 1) / kTile, C = p.C;
  std::vector<M> part(static_cast<size_t>(std::max<int64_t>(p.B, 1) * 4 * C), M(0));  // (B, 4, C)
  parallel_for(p.B * tiles, p.n_threads, 3 * p.B * p.T * p.C, [&](int64_t task) {
    thread_local std::vector<Tile<M>> hist;
    hist.resize(kCheckpointInterval);
    const Args<M> a = task_args<M>(p, in, task / tiles, task % tiles * kTile);
    backward_tile(a, p.medium, static_cast<const M*>(g.ckpt), static_cast<const M*>(g.gy), static_cast<M*>(g.gk),
                  static_cast<M*>(g.gv), static_cast<M*>(g.gkm), static_cast<M*>(g.gvm), part.data() + a.b * 4 * C,
                  hist.data());
  });
  M* outs[4] = {static_cast<M*>(g.gw), static_cast<M*>(g.gu), static_cast<M*>(g.gwm), static_cast<M*>(g.gbm)};
  for (int f = 0; f < (p.medium ? 4 : 2); ++f) {
    for (int64_t c = 0; c < C; ++c) {
      M sum = M(0);
      for (int64_t b = 0; b < p.B; ++b) sum += part[(b * 4 + f) * C + c];
      outs[f][c] = sum;
    }
  }
}

}  // namespace

void forward_cpu(const Problem& p, const Inputs& in, const ForwardOutputs& out) {
  if (p.dtype == DType::F64) forward_typed<double>(p, in, out);
  else forward_typed<float>(p, in, out);
}

void backward_cpu(const Problem& p, const Inputs& in, const BackwardArgs& g) {
  if (p.dtype == DType::F64) backward_typed<double>(p, in, g);
  else backward_typed<float>(p, in, g);
}

}  // namespace rrwkv::wkv::detail

namespace rrwkv::wkv {

void scan_rows_f32(const RowScan& r, int64_t c0, int64_t c1) {
  const bool medium = r.wm != nullptr;
  for (int64_t c = c0; c < c1; c += detail::kTile) {
    const int64_t nc = std::min(detail::kTile, c1 - c);
    medium ? detail::scan_rows_rrwkv(r, c, nc) : detail::scan_rows_rwkv4(r, c, nc);
  }
}

}  // namespace rrwkv::wkv
