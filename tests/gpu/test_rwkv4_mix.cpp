// The RWKV-4 / RRWKV token-shift mixes on the GPU (gpu/rwkv4_mix.h) against their CPU ops
// (rwkv4::time_mix_inputs, channel_mix_inputs): RWKV-4, RRWKV's `replace` and `add` channel
// mixes, decode steps at mixed positions (rows at and off their segment ends) and ragged prefills,
// more channels than a block, states in store rows out of batch order. Outputs (the mediums' rows
// too) and states within 1e-6 of the CPU's. No row of no tokens: the CPU ops do not skip one (they
// would store the token before the row as its last x), and the engine never passes one.
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "arch/rwkv4/mix_ops.h"
#include "core/errors.h"
#include "ops/backend.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/rwkv4_mix.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;
using Mode = rrwkv::rwkv4::ChannelMixInputs::Mode;

std::vector<float> random_floats(size_t n, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

void expect_near(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= 1e-6 * (1.0 + std::fabs(want[i]))) && bad++ < 3)
      ADD_FAILURE() << what << " [" << i << "]: gpu " << got[i] << ", cpu " << want[i];
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " differ";
}

// A layer's mixes over rows at positions pos[i] with lens[i] tokens; state fields at
// att_x = 0, att_seg = C, ffn_x = 2C, ffn_med = 3C, ffn_seg = 4C.
struct Case {
  int64_t C, s;
  Mode mode;
  std::vector<int64_t> pos, lens;
};

class GpuRwkv4Mix : public ::testing::TestWithParam<Case> {};

TEST_P(GpuRwkv4Mix, MatchesTheCpuOps) {
  RRWKV_NEED_GPU();
  const Case& c = GetParam();
  const int64_t C = c.C, n = static_cast<int64_t>(c.lens.size()), F = 5 * C;
  std::vector<int64_t> start = {0}, med_start = {0}, fold_at;
  for (int64_t i = 0; i < n; ++i) {
    start.push_back(start.back() + c.lens[i]);
    if (c.s > 0)
      for (int64_t t = (c.s - 1 - c.pos[i] % c.s) % c.s; t < c.lens[i]; t += c.s) fold_at.push_back(t);
    med_start.push_back(static_cast<int64_t>(fold_at.size()));
  }
  const int64_t N = start.back(), M = med_start.back();
  if (c.s > 0) ASSERT_GT(M, 0) << "the case should complete a medium";
  std::mt19937 rng(static_cast<uint32_t>(C * 7 + c.s));
  const std::vector<float> x = random_floats(N * C, rng), y = random_floats(N * C, rng);
  const std::vector<float> mu = random_floats(5 * C, rng), eta = random_floats(2 * C, rng);
  std::vector<std::vector<float>> states(n);
  for (auto& st : states) st = random_floats(F, rng);
  // the CPU: batch row i in store row i
  std::vector<float> cpu_store(n * F);
  std::vector<int64_t> cpu_row(n);
  for (int64_t i = 0; i < n; ++i)
    cpu_row[i] = i, std::copy(states[i].begin(), states[i].end(), cpu_store.begin() + i * F);
  rrwkv::CpuBackend backend(1, 0);
  rrwkv::ExecContext ctx(backend);
  const rrwkv::ops::RaggedRows rows{n, start.data(), cpu_row.data(), cpu_store.data(), F};
  const rrwkv::ops::MediumRows meds{c.s, med_start.data(), fold_at.empty() ? nullptr : fold_at.data()};
  std::vector<float> xk((N + M) * C), xv((N + M) * C), xr(N * C), yk(N * C), yr(N * C);
  rrwkv::rwkv4::TimeMixInputs tm;
  tm.C = C, tm.rows = rows, tm.mediums = meds, tm.x = x.data();
  tm.mu_k = &mu[0], tm.mu_v = &mu[C], tm.mu_r = &mu[2 * C];
  tm.att_x = 0, tm.att_seg = c.s > 0 ? C : -1, tm.xk = xk.data(), tm.xv = xv.data(), tm.xr = xr.data();
  rrwkv::rwkv4::time_mix_inputs(ctx, tm);
  rrwkv::rwkv4::ChannelMixInputs cm;
  cm.C = C, cm.rows = rows, cm.mediums = meds, cm.mode = c.mode, cm.y = y.data();
  cm.mu_k = &mu[3 * C], cm.mu_r = &mu[4 * C];
  cm.eta_k = &eta[0], cm.eta_r = &eta[C], cm.ffn_x = c.mode == Mode::Replace ? -1 : 2 * C;
  cm.ffn_med = c.mode == Mode::Rwkv4 ? -1 : 3 * C, cm.ffn_seg = c.mode == Mode::Rwkv4 ? -1 : 4 * C;
  cm.yk = yk.data(), cm.yr = yr.data();
  rrwkv::rwkv4::channel_mix_inputs(ctx, cm);
  // the GPU: batch row i in store row n - 1 - i
  std::vector<float> store(n * F);
  std::vector<int64_t> store_row(n);
  for (int64_t i = 0; i < n; ++i) {
    store_row[i] = n - 1 - i;
    std::copy(states[i].begin(), states[i].end(), store.begin() + store_row[i] * F);
  }
  DeviceBuffer dstore = to_device(store), drow = to_device(store_row), dstart = to_device(start);
  DeviceBuffer dmed = to_device(med_start), dfold = to_device(fold_at.empty() ? std::vector<int64_t>(1) : fold_at);
  DeviceBuffer dx = to_device(x), dy = to_device(y), dmu = to_device(mu), deta = to_device(eta);
  DeviceBuffer dxk((N + M) * C * 4), dxv((N + M) * C * 4), dxr(N * C * 4), dyk(N * C * 4), dyr(N * C * 4);
  const rrwkv::gpu::DeviceRows drows{n, dstart.as<int64_t>(), drow.as<int64_t>(), dstore.as<float>(), F};
  const rrwkv::gpu::DeviceMediums dmeds{c.s, dmed.as<int64_t>(), dfold.as<int64_t>()};
  const float* m = dmu.as<float>();
  rrwkv::gpu::Rwkv4TimeMix gt;
  gt.C = C, gt.rows = drows, gt.mediums = dmeds, gt.x = dx.as<float>(), gt.mu_k = m, gt.mu_v = m + C, gt.mu_r = m + 2 * C;
  gt.att_x = tm.att_x, gt.att_seg = tm.att_seg, gt.xk = dxk.as<float>(), gt.xv = dxv.as<float>(), gt.xr = dxr.as<float>();
  rrwkv::gpu::rwkv4_time_mix(gt, nullptr);
  rrwkv::gpu::Rwkv4ChannelMix gc;
  gc.C = C, gc.rows = drows, gc.mediums = dmeds, gc.mode = static_cast<rrwkv::gpu::Rwkv4ChannelMix::Mode>(c.mode);
  gc.y = dy.as<float>(), gc.mu_k = m + 3 * C, gc.mu_r = m + 4 * C, gc.eta_k = deta.as<float>();
  gc.eta_r = deta.as<float>() + C, gc.ffn_x = cm.ffn_x, gc.ffn_med = cm.ffn_med, gc.ffn_seg = cm.ffn_seg;
  gc.yk = dyk.as<float>(), gc.yr = dyr.as<float>();
  rrwkv::gpu::rwkv4_channel_mix(gc, nullptr);
  rrwkv::gpu::synchronize(nullptr);
  // the mediums' rows (N..N+M) of xk and xv too
  expect_near(to_host<float>(dxk, (N + M) * C), xk, "xk");
  expect_near(to_host<float>(dxv, (N + M) * C), xv, "xv");
  expect_near(to_host<float>(dxr, N * C), xr, "xr");
  expect_near(to_host<float>(dyk, N * C), yk, "yk");
  expect_near(to_host<float>(dyr, N * C), yr, "yr");
  const std::vector<float> got = to_host<float>(dstore, n * F);
  for (int64_t i = 0; i < n; ++i)
    expect_near(std::vector<float>(got.begin() + store_row[i] * F, got.begin() + (store_row[i] + 1) * F),
                std::vector<float>(cpu_store.begin() + i * F, cpu_store.begin() + (i + 1) * F),
                "state of row " + std::to_string(i));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GpuRwkv4Mix,
    ::testing::Values(Case{37, 0, Mode::Rwkv4, {0}, {1}}, Case{300, 0, Mode::Rwkv4, {0, 4, 9}, {1, 1, 1}},
                      Case{37, 0, Mode::Rwkv4, {0, 2, 7}, {3, 1, 5}},
                      Case{37, 4, Mode::Replace, {3, 0, 7, 5, 11}, {1, 1, 1, 1, 1}},
                      Case{37, 4, Mode::Add, {3, 0, 7, 5, 11}, {1, 1, 1, 1, 1}},
                      Case{130, 3, Mode::Replace, {0, 2, 5, 1}, {1, 7, 4, 2}},
                      Case{130, 3, Mode::Add, {0, 2, 5, 1}, {1, 7, 4, 2}}, Case{20, 1, Mode::Add, {0, 6}, {2, 1}}),
    [](const ::testing::TestParamInfo<Case>& i) {
      const char* mode = i.param.mode == Mode::Rwkv4 ? "rwkv4" : i.param.mode == Mode::Replace ? "replace" : "add";
      return std::string(mode) + "_C" + std::to_string(i.param.C) + "_s" + std::to_string(i.param.s) + "_rows" +
             std::to_string(i.param.lens.size()) + "_" + std::to_string(i.index);
    });

TEST(GpuRwkv4MixChecks, IncompleteOperandsAreRefused) {
  RRWKV_NEED_GPU();
  float f = 0;
  int64_t z = 0;
  rrwkv::gpu::Rwkv4ChannelMix a;  // `add` without η and without the medium fields
  a.C = 4, a.rows = {1, &z, &z, &f, 4}, a.mediums = {2, &z, &z}, a.mode = rrwkv::gpu::Rwkv4ChannelMix::Mode::Add;
  a.y = a.mu_k = a.mu_r = &f, a.yk = a.yr = &f, a.ffn_x = 0;
  EXPECT_THROW(rrwkv::gpu::rwkv4_channel_mix(a, nullptr), rrwkv::InvalidArgument);
  rrwkv::gpu::Rwkv4TimeMix t;  // mediums without the att_seg field
  t.C = 4, t.rows = a.rows, t.mediums = a.mediums, t.x = t.mu_k = t.mu_v = t.mu_r = &f, t.att_x = 0;
  t.xk = t.xv = t.xr = &f;
  EXPECT_THROW(rrwkv::gpu::rwkv4_time_mix(t, nullptr), rrwkv::InvalidArgument);
}

}  // namespace
