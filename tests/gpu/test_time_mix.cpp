// The matrix architectures' own steps on the GPU (gpu/time_mix.h, gpu/deep_embed.h) against their
// CPU ops (rwkv6::decay, rwkv7::prepare, rwkv7::add_bonus, rwkv7::deep_embed_mix / _scale): heads
// of 64 and of odd sizes (partial warps, heads smaller than a warp), one token row and many,
// layer 0 (v_first written) and later layers (v mixed with it). Within 1e-5 of the CPU (the
// per-head sums are block sums on the GPU).
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "arch/rwkv6/decay_op.h"
#include "arch/rwkv7/deep_embed.h"
#include "arch/rwkv7/ops.h"
#include "core/errors.h"
#include "ops/backend.h"
#include "gpu/deep_embed.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/time_mix.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;

struct Cpu {
  rrwkv::CpuBackend backend{1, 0};
  rrwkv::ExecContext ctx{backend};
};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= tol * (1.0 + std::fabs(want[i]))) && bad++ < 3)
      ADD_FAILURE() << what << " [" << i << "]: gpu " << got[i] << ", cpu " << want[i];
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " differ";
}

TEST(GpuTimeMix, Rwkv6DecayMatchesTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (auto [n, dim] : std::vector<std::pair<int64_t, int64_t>>{{1, 64}, {7, 130}, {3, 5}}) {
    const std::vector<float> td = random_floats(dim, 1, 0.5f), m = random_floats(n * dim, 2, 0.5f);
    std::vector<float> want(n * dim);
    rrwkv::rwkv6::decay(cpu.ctx, want.data(), td.data(), m.data(), n, dim);
    DeviceBuffer dtd = to_device(td), dm = to_device(m), dw(n * dim * sizeof(float));
    rrwkv::gpu::rwkv6_decay(dw.as<float>(), dtd.as<float>(), dm.as<float>(), n, dim, nullptr);
    rrwkv::gpu::synchronize(nullptr);
    expect_near(to_host<float>(dw, n * dim), want, 1e-6, "decay n=" + std::to_string(n) + " dim=" + std::to_string(dim));
  }
}

TEST(GpuTimeMix, Rwkv7PrepareAndBonusMatchTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  uint32_t seed = 10;
  for (auto [n, S, H] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 64, 2}, {5, 64, 3}, {3, 40, 2}, {4, 8, 3}, {2, 96, 1}})
    for (bool layer0 : {true, false}) {
      const int64_t C = S * H;
      const std::string what = "n=" + std::to_string(n) + " S=" + std::to_string(S) + (layer0 ? " layer 0" : "");
      // inputs: the low-rank outputs and parameters; k, v, v_first are updated in place
      std::vector<float> mw = random_floats(n * C, ++seed), ma = random_floats(n * C, ++seed);
      std::vector<float> mv = random_floats(n * C, ++seed), w0 = random_floats(C, ++seed), a0 = random_floats(C, ++seed);
      std::vector<float> v0 = random_floats(C, ++seed), k_k = random_floats(C, ++seed, 0.5f);
      std::vector<float> k_a = random_floats(C, ++seed, 0.5f), r_k = random_floats(C, ++seed, 0.5f);
      const std::vector<float> k = random_floats(n * C, ++seed), v = random_floats(n * C, ++seed);
      const std::vector<float> v_first = random_floats(n * C, ++seed), r = random_floats(n * C, ++seed);
      const std::vector<float> y = random_floats(n * C, ++seed);
      // the CPU
      std::vector<float> w(n * C), a(n * C), kappa(n * C), ck = k, cv = v, cvf = v_first, cy = y;
      rrwkv::rwkv7::Prepare p;
      p.n = n, p.C = C, p.head_size = S, p.mw = mw.data(), p.ma = ma.data(), p.mv = layer0 ? nullptr : mv.data();
      p.w0 = w0.data(), p.a0 = a0.data(), p.v0 = v0.data(), p.k_k = k_k.data(), p.k_a = k_a.data();
      p.w = w.data(), p.a = a.data(), p.kappa = kappa.data(), p.k = ck.data(), p.v = cv.data(), p.v_first = cvf.data();
      rrwkv::rwkv7::prepare(cpu.ctx, p);
      rrwkv::rwkv7::add_bonus(cpu.ctx, cy.data(), r.data(), ck.data(), cv.data(), r_k.data(), n, C, S);
      // the GPU
      DeviceBuffer dmw = to_device(mw), dma = to_device(ma), dmv = to_device(mv), dw0 = to_device(w0);
      DeviceBuffer da0 = to_device(a0), dv0 = to_device(v0), dkk = to_device(k_k), dka = to_device(k_a);
      DeviceBuffer drk = to_device(r_k), dk = to_device(k), dv = to_device(v), dvf = to_device(v_first);
      DeviceBuffer dr = to_device(r), dy = to_device(y), dw(n * C * 4), da(n * C * 4), dkappa(n * C * 4);
      rrwkv::gpu::Rwkv7Prepare g;
      g.n = n, g.C = C, g.head_size = S, g.mw = dmw.as<float>(), g.ma = dma.as<float>();
      g.mv = layer0 ? nullptr : dmv.as<float>(), g.w0 = dw0.as<float>(), g.a0 = da0.as<float>();
      g.v0 = dv0.as<float>(), g.k_k = dkk.as<float>(), g.k_a = dka.as<float>(), g.w = dw.as<float>();
      g.a = da.as<float>(), g.kappa = dkappa.as<float>(), g.k = dk.as<float>(), g.v = dv.as<float>();
      g.v_first = dvf.as<float>();
      rrwkv::gpu::rwkv7_prepare(g, nullptr);
      rrwkv::gpu::rwkv7_add_bonus(dy.as<float>(), dr.as<float>(), dk.as<float>(), dv.as<float>(), drk.as<float>(), n, C,
                                  S, nullptr);
      rrwkv::gpu::synchronize(nullptr);
      expect_near(to_host<float>(dw, n * C), w, 1e-6, "w " + what);
      expect_near(to_host<float>(da, n * C), a, 1e-6, "a " + what);
      expect_near(to_host<float>(dkappa, n * C), kappa, 1e-5, "kappa " + what);
      expect_near(to_host<float>(dk, n * C), ck, 1e-6, "k " + what);
      expect_near(to_host<float>(dv, n * C), cv, 1e-6, "v " + what);
      expect_near(to_host<float>(dvf, n * C), cvf, 1e-6, "v_first " + what);
      expect_near(to_host<float>(dy, n * C), cy, 1e-5, "y " + what);
    }
}

TEST(GpuTimeMix, Rwkv7DeepEmbedStepsMatchTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (auto [n, R, F] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{{1, 32, 96}, {5, 7, 300}}) {
    const std::string what = "n=" + std::to_string(n) + " R=" + std::to_string(R);
    const std::vector<float> proj = random_floats(n * R, 41), rows = random_floats(n * R * R, 42);
    const std::vector<float> mod = random_floats(n * F, 43), s0 = random_floats(F, 44), k = random_floats(n * F, 45);
    std::vector<float> mixed(n * R), ck = k;
    rrwkv::rwkv7::deep_embed_mix(cpu.ctx, proj.data(), rows.data(), n, R, mixed.data());
    rrwkv::rwkv7::deep_embed_scale(cpu.ctx, ck.data(), mod.data(), s0.data(), n, F);
    DeviceBuffer dproj = to_device(proj), drows = to_device(rows), dmod = to_device(mod), ds0 = to_device(s0);
    DeviceBuffer dk = to_device(k), dmixed(n * R * sizeof(float));
    rrwkv::gpu::deep_embed_mix(dproj.as<float>(), drows.as<float>(), n, R, dmixed.as<float>(), nullptr);
    rrwkv::gpu::deep_embed_scale(dk.as<float>(), dmod.as<float>(), ds0.as<float>(), n, F, nullptr);
    rrwkv::gpu::synchronize(nullptr);
    expect_near(to_host<float>(dmixed, n * R), mixed, 1e-5, "deep_embed_mix " + what);
    expect_near(to_host<float>(dk, n * F), ck, 1e-6, "deep_embed_scale " + what);
  }
}

TEST(GpuTimeMix, OperandsAreChecked) {
  RRWKV_NEED_GPU();
  float x = 0;
  EXPECT_THROW(rrwkv::gpu::rwkv7_add_bonus(&x, &x, &x, &x, &x, 1, 96, 64, nullptr), rrwkv::InvalidArgument);
  EXPECT_THROW(rrwkv::gpu::rwkv7_add_bonus(&x, &x, &x, &x, &x, 1, 2048, 2048, nullptr), rrwkv::InvalidArgument);
  rrwkv::gpu::Rwkv7Prepare p;  // no operands
  p.n = 1, p.C = 64, p.head_size = 64;
  EXPECT_THROW(rrwkv::gpu::rwkv7_prepare(p, nullptr), rrwkv::InvalidArgument);
  EXPECT_THROW(rrwkv::gpu::rwkv6_decay(nullptr, &x, &x, 1, 4, nullptr), rrwkv::InvalidArgument);
  EXPECT_THROW(rrwkv::gpu::deep_embed_mix(&x, &x, 1, 0, &x, nullptr), rrwkv::InvalidArgument);
  EXPECT_THROW(rrwkv::gpu::deep_embed_scale(&x, nullptr, &x, 1, 4, nullptr), rrwkv::InvalidArgument);
}

}  // namespace
