// Runs the emulated CUDA kernels (wkv_cuda.cu + mock_cuda.h) and the CPU kernels on the same inputs
// over shapes that cover every path (B > 8 rows, partial blocks and sub-blocks, T = 0, B = 0, s > T,
// pos != 0, a carried state) in f64, f32 and bf16, and prints the mismatches; exit status 1 on any.
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>
#include <tuple>
#include "mock_cuda.h"
#include "kernels/wkv/wkv.h"
using namespace rrwkv::wkv;
namespace rrwkv::wkv::detail {
void emu_forward_any(const Problem&, const Inputs&, const ForwardOutputs&);
void emu_backward_any(const Problem&, const Inputs&, const BackwardArgs&);
}
using namespace rrwkv::wkv::detail;

struct Buf {  // a tensor held as double, materialised in an element type on demand
  std::vector<double> d;
  std::vector<float> f; std::vector<double> g; std::vector<__nv_bfloat16> h;
  explicit Buf(size_t n = 0) : d(n, 0.0) {}
  void* as(DType t) {
    if (t == DType::F64) { g = d; return g.data(); }
    if (t == DType::F32) { f.assign(d.begin(), d.end()); return f.data(); }
    h.resize(d.size()); for (size_t i = 0; i < d.size(); ++i) h[i] = __float2bfloat16_rn(float(d[i])); return h.data();
  }
  void* out(DType t) { if (t == DType::F64) { g.assign(d.size(), 0); return g.data(); } if (t == DType::F32) { f.assign(d.size(), 0); return f.data(); } h.assign(d.size(), {0}); return h.data(); }
  std::vector<double> get(DType t) const {
    std::vector<double> r(d.size());
    for (size_t i = 0; i < d.size(); ++i) r[i] = t == DType::F64 ? g[i] : t == DType::F32 ? f[i] : __bfloat162float(h[i]);
    return r;
  }
};

int failures = 0;
void cmp(const char* what, const std::vector<double>& a, const std::vector<double>& b, double rtol, const char* cfg) {
  double scale = 1; for (double x : b) scale = std::max(scale, std::fabs(x));
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!(std::fabs(a[i] - b[i]) <= rtol * (scale + std::fabs(b[i])) + 1e-300)) {
      if (bad < 3) printf("  %s %s [%zu]: emu %.10g cpu %.10g\n", cfg, what, i, a[i], b[i]);
      ++bad;
    }
  }
  if (bad) { ++failures; printf("FAIL %s %s: %d of %zu\n", cfg, what, bad, a.size()); }
}

void run(int64_t B, int64_t T, int64_t C, int64_t s, int64_t pos, bool medium, DType dt, bool with_state, std::mt19937_64& rng) {
  std::normal_distribution<double> N;
  char cfg[200];
  snprintf(cfg, sizeof cfg, "B=%ld T=%ld C=%ld s=%ld pos=%ld medium=%d dt=%s state=%d", B, T, C, s, pos, medium, dtype_name(dt), with_state);
  const int64_t J = medium ? medium_count(pos, T, s) : 0, NK = checkpoint_count(T);
  Buf w(C), u(C), wm(C), bm(C), k(B*T*C), v(B*T*C), km(B*J*C), vm(B*J*C), st(6*B*C), gy(B*T*C);
  for (int64_t c = 0; c < C; ++c) { w.d[c] = std::exp(-5 + 8.0 * c / std::max<int64_t>(C - 1, 1) + 0.1 * N(rng)); u.d[c] = -1 + 0.5 * N(rng); wm.d[c] = std::exp(N(rng)); bm.d[c] = -1 + 0.3 * N(rng); }
  for (auto& x : k.d) x = 2 * N(rng);
  for (auto& x : v.d) x = N(rng);
  for (auto& x : km.d) x = 2 * N(rng);
  for (auto& x : vm.d) x = N(rng);
  for (auto& x : gy.d) x = N(rng);
  // a plausible state: positive sums, finite maxima
  for (int64_t i = 0; i < B * C; ++i) { st.d[i] = N(rng); st.d[B*C+i] = 1 + std::fabs(N(rng)); st.d[2*B*C+i] = 2 * N(rng); st.d[3*B*C+i] = N(rng); st.d[4*B*C+i] = 1 + std::fabs(N(rng)); st.d[5*B*C+i] = 2 * N(rng); }
  // the CPU reference runs in f32 on the bf16-rounded values when dt is bf16
  const DType ct = dt == DType::BF16 ? DType::F32 : dt;
  const DType mt = dt == DType::F64 ? DType::F64 : DType::F32;
  if (dt == DType::BF16) for (Buf* b : {&k, &v, &km, &vm, &gy}) for (auto& x : b->d) x = __bfloat162float(__float2bfloat16_rn(float(x)));
  struct Out { Buf y, so, ck, gk, gv, gw, gu, gwm, gbm, gkm, gvm; };
  auto make = [&] { return Out{Buf(B*T*C), Buf(6*B*C), Buf(NK*6*B*C), Buf(B*T*C), Buf(B*T*C), Buf(C), Buf(C), Buf(C), Buf(C), Buf(B*J*C), Buf(B*J*C)}; };
  Out o[2] = {make(), make()};
  for (int e = 0; e < 2; ++e) {
    const DType io = e ? dt : ct;
    Problem p; p.B = B; p.T = T; p.C = C; p.J = J; p.pos = pos; p.s = s; p.medium = medium; p.dtype = io; p.n_threads = 1;
    Inputs in; in.w = w.as(mt); in.u = u.as(mt); in.wm = medium ? wm.as(mt) : nullptr; in.bm = medium ? bm.as(mt) : nullptr;
    in.k = k.as(io); in.v = v.as(io); in.km = J ? km.as(io) : nullptr; in.vm = J ? vm.as(io) : nullptr; in.state_in = with_state ? st.as(mt) : nullptr;
    ForwardOutputs fo; fo.y = o[e].y.out(io); fo.state_out = o[e].so.out(mt); fo.ckpt = o[e].ck.out(mt);
    BackwardArgs g; g.ckpt = fo.ckpt; g.gy = gy.as(io); g.gk = o[e].gk.out(io); g.gv = o[e].gv.out(io); g.gw = o[e].gw.out(mt); g.gu = o[e].gu.out(mt);
    g.gwm = o[e].gwm.out(mt); g.gbm = o[e].gbm.out(mt); g.gkm = o[e].gkm.out(io); g.gvm = o[e].gvm.out(io);
    if (e) { emu_forward_any(p, in, fo); emu_backward_any(p, in, g); }
    else { forward_cpu(p, in, fo); backward_cpu(p, in, g); }
  }
  const double rt = dt == DType::F64 ? 1e-12 : dt == DType::F32 ? 2e-5 : 1e-2;
  auto C2 = [&](const char* n, Buf Out::*m, DType t0, DType t1) { cmp(n, (o[1].*m).get(t1), (o[0].*m).get(t0), rt, cfg); };
  C2("y", &Out::y, ct, dt); C2("state", &Out::so, mt, mt); C2("ckpt", &Out::ck, mt, mt);
  C2("gk", &Out::gk, ct, dt); C2("gv", &Out::gv, ct, dt); C2("gw", &Out::gw, mt, mt); C2("gu", &Out::gu, mt, mt);
  if (medium) { C2("gwm", &Out::gwm, mt, mt); C2("gbm", &Out::gbm, mt, mt); C2("gkm", &Out::gkm, ct, dt); C2("gvm", &Out::gvm, ct, dt); }
}

int main() {
  std::mt19937_64 rng(7);
  int n = 0;
  for (DType dt : {DType::F64, DType::F32, DType::BF16})
    for (auto [B, T, C] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 1, 1}, {11, 203, 45}, {3, 64, 33}, {2, 129, 32}, {9, 70, 7}, {2, 0, 5}, {0, 5, 3}})
      for (auto [medium, s, pos] : std::vector<std::tuple<bool, int64_t, int64_t>>{{false, 1, 0}, {true, 1, 0}, {true, 5, 3}, {true, 16, 7}, {true, 300, 0}, {true, 8, 0}})
        for (bool st : {false, true}) { run(B, T, C, s, pos, medium, dt, st, rng); ++n; }
  printf("%d configurations, %d failures\n", n, failures);
  return failures != 0;
}
