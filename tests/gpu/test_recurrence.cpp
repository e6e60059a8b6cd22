// The GPU recurrences (gpu/recurrence.h) against the CPU ops (ops::wkv4, wkv5, wkv7): RWKV-4,
// RRWKV with mediums folding at each row's own segment ends, RWKV-5.2, RWKV-6 (a decay per token)
// and RWKV-7, on heads of 64 and odd sizes, one row and many, decode steps (a token per row) and
// ragged prefills (rows of several tokens and of none), states that carry a history, row states
// in slots that are not in row order. Outputs and states within 1e-5 of the CPU's; a row stepped
// in a batch equals the same row stepped alone, bit for bit.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "ops/backend.h"
#include "cpp/recurrence_data.h"
#include "gpu/gpu_test.h"
#include "gpu/recurrence.h"
#include "gpu/runtime.h"
#include "ops/wkv4.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;
using rrwkv::test::MatrixProblem;
using rrwkv::test::Recurrence;

// Row states on the device: a store of one row more than the batch, batch row i in store row
// perm[i] (reversed order when permuting); the spare row must stay as it was.
struct DeviceStates {
  DeviceBuffer slots, store_rows, start;
  int64_t floats = 0, spare = 0;
  std::vector<int64_t> perm;
  std::vector<float> spare_state;
  rrwkv::gpu::DeviceRows rows;

  DeviceStates(const std::vector<std::vector<float>>& states, const std::vector<int64_t>& starts, bool permute) {
    const int64_t n = static_cast<int64_t>(states.size());
    floats = n ? static_cast<int64_t>(states[0].size()) : 1;
    perm.resize(n);
    for (int64_t i = 0; i < n; ++i) perm[i] = permute ? n - i : i;
    spare = permute ? 0 : n;
    std::vector<float> all((n + 1) * floats, 0.0f);
    for (int64_t i = 0; i < n; ++i) std::copy(states[i].begin(), states[i].end(), all.begin() + perm[i] * floats);
    for (int64_t f = 0; f < floats; ++f) all[spare * floats + f] = 1000.0f + static_cast<float>(f);
    spare_state.assign(all.begin() + spare * floats, all.begin() + (spare + 1) * floats);
    slots = to_device(all);
    store_rows = to_device(n ? perm : std::vector<int64_t>(1));
    start = to_device(starts);
    rows.n_rows = n, rows.start = start.as<int64_t>(), rows.row = store_rows.as<int64_t>();
    rows.states = slots.as<float>(), rows.state_floats = floats;
  }
  std::vector<float> row(int64_t store_row) const {
    std::vector<float> all = to_host<float>(slots, (perm.size() + 1) * floats);
    return std::vector<float>(all.begin() + store_row * floats, all.begin() + (store_row + 1) * floats);
  }
  std::vector<float> batch_row(int64_t i) const { return row(perm[i]); }
  void expect_spare_untouched() const { EXPECT_EQ(row(spare), spare_state) << "a store row outside the batch changed"; }
};

// A device copy of x (one float if x is empty: a row of no tokens still passes buffers).
DeviceBuffer dev(const std::vector<float>& x) { return to_device(x.empty() ? std::vector<float>(1) : x); }

// |got - want| <= tol * (1 + |want|) everywhere; names the first mismatches.
void expect_near(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(double(got[i]) - want[i]) <= tol * (1.0 + std::fabs(want[i]))) && bad++ < 3)
      ADD_FAILURE() << what << " [" << i << "]: gpu " << got[i] << ", cpu " << want[i];
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " differ";
}

// ---- RWKV-5 / 6 / 7 --------------------------------------------------------------------------------

struct MatrixRun {
  std::vector<float> y;
  std::vector<std::vector<float>> states;
};

// The GPU recurrence on p (p itself unchanged).
MatrixRun run_gpu(const MatrixProblem& p, bool permute = true) {
  DeviceStates st(p.states, p.start, permute);
  const int64_t N = p.n_tokens(), C = p.C;
  DeviceBuffer r = dev(p.r), k = dev(p.k), v = dev(p.v), w = dev(p.w);
  DeviceBuffer y(std::max<int64_t>(1, N * C) * sizeof(float));
  if (p.kind == Recurrence::Rwkv7) {
    DeviceBuffer kappa = dev(p.kappa), a = dev(p.a);
    rrwkv::gpu::Wkv7Batch b;
    b.rows = st.rows, b.C = C, b.head_size = p.S, b.field = p.field;
    b.r = r.as<float>(), b.w = w.as<float>(), b.k = k.as<float>(), b.v = v.as<float>();
    b.kappa = kappa.as<float>(), b.a = a.as<float>(), b.y = y.as<float>();
    rrwkv::gpu::wkv7(b, nullptr);
    rrwkv::gpu::synchronize(nullptr);
  } else {
    DeviceBuffer u = to_device(p.u);
    rrwkv::gpu::Wkv5Batch b;
    b.rows = st.rows, b.C = C, b.head_size = p.S, b.field = p.field;
    b.r = r.as<float>(), b.k = k.as<float>(), b.v = v.as<float>(), b.w = w.as<float>(), b.ldw = p.ldw();
    b.u = u.as<float>(), b.y = y.as<float>();
    rrwkv::gpu::wkv5(b, nullptr);
    rrwkv::gpu::synchronize(nullptr);
  }
  MatrixRun out{to_host<float>(y, N * C), {}};
  for (int64_t i = 0; i < p.n_rows(); ++i) out.states.push_back(st.batch_row(i));
  st.expect_spare_untouched();
  return out;
}

// Row i of p alone: its tokens and its state, as a problem of one row.
MatrixProblem row_alone(const MatrixProblem& p, int64_t i) {
  MatrixProblem q = p;
  const int64_t t0 = p.start[i], t1 = p.start[i + 1], C = p.C;
  auto cut = [&](std::vector<float>& x) { x = std::vector<float>(x.begin() + t0 * C, x.begin() + t1 * C); };
  cut(q.r), cut(q.k), cut(q.v);
  if (p.kind != Recurrence::Rwkv5) cut(q.w);
  if (p.kind == Recurrence::Rwkv7) cut(q.kappa), cut(q.a);
  q.start = {0, t1 - t0};
  q.states = {p.states[i]};
  return q;
}

struct MatrixCase {
  Recurrence kind;
  int64_t S, H;
  std::vector<int64_t> lens;
};

class GpuRecurrenceMatrix : public ::testing::TestWithParam<MatrixCase> {};

TEST_P(GpuRecurrenceMatrix, MatchesTheCpuOp) {
  RRWKV_NEED_GPU();
  const MatrixCase& c = GetParam();
  const MatrixProblem p = rrwkv::test::make_matrix_problem(c.kind, c.S, c.H, c.lens, 11);
  MatrixProblem cpu = p;
  const std::vector<float> y_cpu = rrwkv::test::run_cpu_op(cpu);
  const MatrixRun gpu = run_gpu(p);
  expect_near(gpu.y, y_cpu, 1e-5, "y");
  for (int64_t i = 0; i < p.n_rows(); ++i)
    expect_near(gpu.states[i], cpu.states[i], 1e-5, "state of row " + std::to_string(i));
}

TEST_P(GpuRecurrenceMatrix, ARowInABatchIsTheRowAlone) {
  RRWKV_NEED_GPU();
  const MatrixCase& c = GetParam();
  const MatrixProblem p = rrwkv::test::make_matrix_problem(c.kind, c.S, c.H, c.lens, 12);
  const MatrixRun batch = run_gpu(p);
  for (int64_t i = 0; i < p.n_rows(); ++i) {
    const MatrixRun alone = run_gpu(row_alone(p, i), false);
    const int64_t t0 = p.start[i], t1 = p.start[i + 1];
    EXPECT_EQ(alone.y, std::vector<float>(batch.y.begin() + t0 * p.C, batch.y.begin() + t1 * p.C)) << "row " << i;
    EXPECT_EQ(alone.states[0], batch.states[i]) << "row " << i;
  }
}

std::vector<int64_t> ones(int n) { return std::vector<int64_t>(n, 1); }

INSTANTIATE_TEST_SUITE_P(
    Shapes, GpuRecurrenceMatrix,
    ::testing::Values(
        // decode steps: one row, many rows
        MatrixCase{Recurrence::Rwkv5, 64, 2, ones(1)}, MatrixCase{Recurrence::Rwkv5, 64, 3, ones(9)},
        MatrixCase{Recurrence::Rwkv6, 64, 2, ones(9)}, MatrixCase{Recurrence::Rwkv7, 64, 2, ones(1)},
        MatrixCase{Recurrence::Rwkv7, 64, 3, ones(9)},
        // heads that are not a multiple of 32 (partial warps, idle threads) or smaller than a warp
        MatrixCase{Recurrence::Rwkv5, 40, 2, ones(5)}, MatrixCase{Recurrence::Rwkv6, 17, 3, ones(4)},
        MatrixCase{Recurrence::Rwkv7, 40, 2, ones(5)}, MatrixCase{Recurrence::Rwkv7, 8, 3, ones(4)},
        MatrixCase{Recurrence::Rwkv7, 6, 1, ones(2)}, MatrixCase{Recurrence::Rwkv6, 96, 1, ones(2)},
        MatrixCase{Recurrence::Rwkv7, 96, 1, ones(2)},
        // ragged prefills: rows of several tokens and of none
        MatrixCase{Recurrence::Rwkv5, 64, 2, {3, 1, 0, 5}}, MatrixCase{Recurrence::Rwkv6, 40, 2, {2, 0, 4}},
        MatrixCase{Recurrence::Rwkv7, 64, 2, {3, 1, 0, 5}}, MatrixCase{Recurrence::Rwkv7, 17, 2, {6, 2}}),
    [](const ::testing::TestParamInfo<MatrixCase>& i) {
      const auto& c = i.param;
      int64_t most = 0;
      for (int64_t n : c.lens) most = std::max(most, n);
      return std::string(rrwkv::test::recurrence_name(c.kind)) + "_S" + std::to_string(c.S) + "_H" +
             std::to_string(c.H) + "_rows" + std::to_string(c.lens.size()) + (most > 1 ? "_prefill" : "_decode") +
             "_" + std::to_string(i.index);
    });

TEST(GpuRecurrence, MatrixArgumentsAreChecked) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::Wkv5Batch b;  // no operands at all
  b.C = 64, b.head_size = 64, b.field = 0;
  EXPECT_THROW(rrwkv::gpu::wkv5(b, nullptr), rrwkv::InvalidArgument);
  rrwkv::gpu::Wkv7Batch c;
  float x = 0;
  c.C = 96, c.head_size = 64, c.field = 0;  // 96 channels are not heads of 64
  c.r = c.w = c.k = c.v = c.kappa = c.a = &x, c.y = &x;
  try {
    rrwkv::gpu::wkv7(c, nullptr);
    ADD_FAILURE() << "C % head_size != 0 was accepted";
  } catch (const rrwkv::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("head_size=64"), std::string::npos) << e.what();
  }
  c.C = c.head_size = 2048;  // more than a block's threads
  EXPECT_THROW(rrwkv::gpu::wkv7(c, nullptr), rrwkv::InvalidArgument);
}

// ---- RWKV-4 and RRWKV ------------------------------------------------------------------------------

struct Wkv4Problem {
  int64_t C = 0, s = 0;  // s: medium interval (0: RWKV-4)
  std::vector<int64_t> start, pos, med_start, fold_at;
  std::vector<float> w, u, wm, bm, k, v, r, km, vm;
  std::vector<std::vector<float>> states;  // aa, bb, pp, ma, mb, mp at f * C + 2 (two floats before)
  int64_t n_rows() const { return static_cast<int64_t>(pos.size()); }
  int64_t n_tokens() const { return start.back(); }
  int64_t field(int f) const { return 2 + f * C; }
};

// Rows at positions pos[i] with lens[i] tokens; row 0 starts fresh (the initial state), the others
// carry a history.
Wkv4Problem make_wkv4(int64_t C, int64_t s, const std::vector<int64_t>& pos, const std::vector<int64_t>& lens,
                      uint32_t seed) {
  Wkv4Problem p;
  p.C = C, p.s = s, p.pos = pos;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  p.start = {0}, p.med_start = {0};
  for (size_t i = 0; i < lens.size(); ++i) {
    p.start.push_back(p.start.back() + lens[i]);
    if (s > 0)
      for (int64_t t = (s - 1 - pos[i] % s) % s; t < lens[i]; t += s) p.fold_at.push_back(t);
    p.med_start.push_back(static_cast<int64_t>(p.fold_at.size()));
  }
  auto fill = [&](std::vector<float>& x, size_t n) {
    x.resize(n);
    for (float& e : x) e = uni(rng);
  };
  fill(p.u, C), fill(p.bm, C), fill(p.k, p.n_tokens() * C), fill(p.v, p.n_tokens() * C);
  fill(p.r, p.n_tokens() * C), fill(p.km, p.med_start.back() * C), fill(p.vm, p.med_start.back() * C);
  p.w.resize(C), p.wm.resize(C);
  for (int64_t c = 0; c < C; ++c) p.w[c] = std::exp(uni(rng)), p.wm[c] = std::exp(uni(rng));
  for (size_t i = 0; i < lens.size(); ++i) {
    std::vector<float> st(2 + 6 * C);
    for (float& e : st) e = uni(rng);
    for (int64_t c = 0; c < C; ++c) {
      st[p.field(1) + c] = 1.5f + st[p.field(1) + c];  // denominators > 0
      st[p.field(4) + c] = 1.5f + st[p.field(4) + c];
      if (i == 0) {  // fresh: empty sums at -1e38
        for (int f : {0, 1, 3, 4}) st[p.field(f) + c] = 0.0f;
        st[p.field(2) + c] = st[p.field(5) + c] = -1e38f;
      }
    }
    p.states.push_back(st);
  }
  return p;
}

struct Wkv4Run {
  std::vector<float> out;
  std::vector<std::vector<float>> states;
};

Wkv4Run run_cpu(Wkv4Problem p) {
  rrwkv::CpuBackend backend(1, 0);
  rrwkv::ExecContext ctx(backend);
  ctx.batch_invariant = true;
  const int64_t n = p.n_rows(), F = static_cast<int64_t>(p.states[0].size());
  std::vector<float> store(n * F);  // batch row i in store row i
  std::vector<int64_t> store_row(n);
  for (int64_t i = 0; i < n; ++i)
    store_row[i] = i, std::copy(p.states[i].begin(), p.states[i].end(), store.begin() + i * F);
  Wkv4Run run{std::vector<float>(p.n_tokens() * p.C), {}};
  rrwkv::ops::Wkv4Batch b;
  b.C = p.C, b.w = p.w.data(), b.u = p.u.data();
  if (p.s > 0) {
    b.wm = p.wm.data(), b.bm = p.bm.data(), b.mediums = {p.s, p.med_start.data(), p.fold_at.data()};
    b.km = p.km.data(), b.vm = p.vm.data();
  }
  b.rows = {n, p.start.data(), store_row.data(), store.data(), F}, b.k = p.k.data(), b.v = p.v.data();
  for (int f = 0; f < 6; ++f) b.field[f] = f < 3 || p.s > 0 ? p.field(f) : -1;
  b.r = p.r.data(), b.out = run.out.data();
  rrwkv::ops::wkv4(ctx, b);
  for (int64_t i = 0; i < n; ++i) run.states.emplace_back(store.begin() + i * F, store.begin() + (i + 1) * F);
  return run;
}

Wkv4Run run_gpu(const Wkv4Problem& p, bool permute = true) {
  DeviceStates st(p.states, p.start, permute);
  DeviceBuffer w = dev(p.w), u = dev(p.u), wm = dev(p.wm), bm = dev(p.bm), k = dev(p.k), v = dev(p.v), r = dev(p.r);
  DeviceBuffer km = dev(p.km), vm = dev(p.vm), med_start = to_device(p.med_start);
  DeviceBuffer fold_at = to_device(p.fold_at.empty() ? std::vector<int64_t>(1) : p.fold_at);
  DeviceBuffer out(std::max<int64_t>(1, p.n_tokens() * p.C) * sizeof(float));
  rrwkv::gpu::Wkv4Batch b;
  b.rows = st.rows, b.C = p.C, b.w = w.as<float>(), b.u = u.as<float>();
  if (p.s > 0) {
    b.wm = wm.as<float>(), b.bm = bm.as<float>(), b.med_start = med_start.as<int64_t>();
    b.fold_at = fold_at.as<int64_t>(), b.km = km.as<float>(), b.vm = vm.as<float>();
  }
  b.k = k.as<float>(), b.v = v.as<float>(), b.r = r.as<float>(), b.out = out.as<float>();
  for (int f = 0; f < 6; ++f) b.field[f] = f < 3 || p.s > 0 ? p.field(f) : -1;
  rrwkv::gpu::wkv4(b, nullptr);
  rrwkv::gpu::synchronize(nullptr);
  Wkv4Run run{to_host<float>(out, p.n_tokens() * p.C), {}};
  for (int64_t i = 0; i < p.n_rows(); ++i) run.states.push_back(st.batch_row(i));
  st.expect_spare_untouched();
  return run;
}

Wkv4Problem wkv4_row_alone(const Wkv4Problem& p, int64_t i) {
  Wkv4Problem q = p;
  const int64_t t0 = p.start[i], t1 = p.start[i + 1], m0 = p.med_start[i], m1 = p.med_start[i + 1], C = p.C;
  auto cut = [&](std::vector<float>& x, int64_t a, int64_t b) {
    x = std::vector<float>(x.begin() + a * C, x.begin() + b * C);
  };
  cut(q.k, t0, t1), cut(q.v, t0, t1), cut(q.r, t0, t1), cut(q.km, m0, m1), cut(q.vm, m0, m1);
  q.start = {0, t1 - t0}, q.pos = {p.pos[i]}, q.med_start = {0, m1 - m0};
  q.fold_at = std::vector<int64_t>(p.fold_at.begin() + m0, p.fold_at.begin() + m1);
  q.states = {p.states[i]};
  return q;
}

struct Wkv4Case {
  int64_t C, s;
  std::vector<int64_t> pos, lens;
};

class GpuRecurrenceWkv4 : public ::testing::TestWithParam<Wkv4Case> {};

TEST_P(GpuRecurrenceWkv4, MatchesTheCpuOp) {
  RRWKV_NEED_GPU();
  const Wkv4Case& c = GetParam();
  const Wkv4Problem p = make_wkv4(c.C, c.s, c.pos, c.lens, 21);
  if (c.s > 0) ASSERT_GT(p.med_start.back(), 0) << "the case should fold mediums";
  const Wkv4Run cpu = run_cpu(p), gpu = run_gpu(p);
  expect_near(gpu.out, cpu.out, 1e-5, "out");
  for (int64_t i = 0; i < p.n_rows(); ++i)
    expect_near(gpu.states[i], cpu.states[i], 1e-5, "state of row " + std::to_string(i));
}

TEST_P(GpuRecurrenceWkv4, ARowInABatchIsTheRowAlone) {
  RRWKV_NEED_GPU();
  const Wkv4Case& c = GetParam();
  const Wkv4Problem p = make_wkv4(c.C, c.s, c.pos, c.lens, 22);
  const Wkv4Run batch = run_gpu(p);
  for (int64_t i = 0; i < p.n_rows(); ++i) {
    const Wkv4Run alone = run_gpu(wkv4_row_alone(p, i), false);
    const int64_t t0 = p.start[i], t1 = p.start[i + 1];
    EXPECT_EQ(alone.out, std::vector<float>(batch.out.begin() + t0 * p.C, batch.out.begin() + t1 * p.C)) << "row " << i;
    EXPECT_EQ(alone.states[0], batch.states[i]) << "row " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GpuRecurrenceWkv4,
    ::testing::Values(
        // RWKV-4: decode of one row and of many; more channels than a block; a ragged prefill
        Wkv4Case{37, 0, {0}, {1}}, Wkv4Case{37, 0, {0, 3, 9, 1, 4}, {1, 1, 1, 1, 1}},
        Wkv4Case{300, 0, {0, 5}, {1, 1}}, Wkv4Case{37, 0, {0, 2, 7}, {3, 0, 5}},
        // RRWKV: decode at mixed positions (rows at and off their segment ends), s = 1, a prefill
        Wkv4Case{37, 4, {3, 0, 7, 5, 11}, {1, 1, 1, 1, 1}}, Wkv4Case{130, 1, {0, 6}, {1, 1}},
        Wkv4Case{37, 3, {0, 2, 5, 1}, {1, 7, 4, 0}}),
    [](const ::testing::TestParamInfo<Wkv4Case>& i) {
      return std::string(i.param.s ? "rrwkv_s" + std::to_string(i.param.s) : "rwkv4") + "_C" +
             std::to_string(i.param.C) + "_rows" + std::to_string(i.param.lens.size()) + "_" +
             std::to_string(i.index);
    });

TEST(GpuRecurrence, Wkv4ArgumentsAreChecked) {
  RRWKV_NEED_GPU();
  float x = 0;
  rrwkv::gpu::Wkv4Batch b;
  b.C = 8, b.w = b.u = b.k = b.v = &x, b.out = &x;
  b.field[0] = 0, b.field[1] = 8, b.field[2] = 16;
  b.wm = &x;  // mediums without bm, med_start, ... and without the medium fields
  EXPECT_THROW(rrwkv::gpu::wkv4(b, nullptr), rrwkv::InvalidArgument);
  b.wm = nullptr, b.field[2] = -1;  // RWKV-4 without pp
  EXPECT_THROW(rrwkv::gpu::wkv4(b, nullptr), rrwkv::InvalidArgument);
}

}  // namespace
