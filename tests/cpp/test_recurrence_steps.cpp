// The per-step headers of the matrix-state recurrences (kernels/wkv/wkv5_step.h, wkv7_step.h),
// run on the host token by token, head by head, against the CPU ops (ops/wkv5, ops/wkv7) on
// ragged batches with carried states: outputs and states after the batch.
//
// The CPU ops run the headers' head_step (ops/wkv5_cpu.cpp, ops/wkv7_cpu.cpp, with a prefetch
// between rows), so this pins the ops' plumbing around it (rows, heads, tokens in order, the state
// field) bit for bit; the CPU ops' math is checked against the reference models and the official
// package (tests/runtime).
// The GPU splits a head a value channel at a time, which contracts differently on an FMA CPU:
// that comparison is tests/gpu/test_recurrence.cpp's (1e-5).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/clones.h"
#include "cpp/recurrence_data.h"
#include "kernels/wkv/wkv5_step.h"
#include "kernels/wkv/wkv7_step.h"

namespace {

using rrwkv::test::MatrixProblem;
using rrwkv::test::Recurrence;

// The headers compiled as the CPU ops are (core/clones.h): the same ISA is chosen at load time.
RRWKV_CLONES void wkv5_head(int64_t S, float* st, const float* r, const float* k, const float* v, const float* w,
                            const float* u, float* y) {
  rrwkv::wkv5::head_step(S, st, r, k, v, w, u, y);
}
RRWKV_CLONES void wkv7_head(int64_t S, float* st, const float* r, const float* w, const float* k, const float* v,
                            const float* kappa, const float* a, float* y) {
  rrwkv::wkv7::head_step(S, st, r, w, k, v, kappa, a, y);
}

// The headers on the problem (in place); returns y.
std::vector<float> run_headers(MatrixProblem& p) {
  const int64_t C = p.C, S = p.S;
  std::vector<float> y(p.n_tokens() * C, 0.0f);
  for (int64_t i = 0; i < p.n_rows(); ++i)
    for (int64_t t = p.start[i]; t < p.start[i + 1]; ++t)
      for (int64_t h = 0; h < p.H; ++h) {
        const int64_t o = t * C + h * S;
        float* st = p.states[i].data() + p.field + h * S * S;
        if (p.kind == Recurrence::Rwkv7)
          wkv7_head(S, st, &p.r[o], &p.w[o], &p.k[o], &p.v[o], &p.kappa[o], &p.a[o], &y[o]);
        else
          wkv5_head(S, st, &p.r[o], &p.k[o], &p.v[o], &p.w[t * p.ldw() + h * S], &p.u[h * S], &y[o]);
      }
  return y;
}

struct Case {
  Recurrence kind;
  int64_t S, H;
  std::vector<int64_t> lens;
};

class RecurrenceSteps : public ::testing::TestWithParam<Case> {};

TEST_P(RecurrenceSteps, HeadersMatchTheCpuOps) {
  const Case& c = GetParam();
  MatrixProblem want = rrwkv::test::make_matrix_problem(c.kind, c.S, c.H, c.lens, 7);
  MatrixProblem got = want;
  const std::vector<float> y_want = rrwkv::test::run_cpu_op(want);
  const std::vector<float> y_got = run_headers(got);
  EXPECT_EQ(y_got, y_want) << "outputs";
  for (int64_t i = 0; i < want.n_rows(); ++i) EXPECT_EQ(got.states[i], want.states[i]) << "state of row " << i;
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, RecurrenceSteps,
    ::testing::Values(Case{Recurrence::Rwkv5, 64, 2, {1, 3, 0, 2}}, Case{Recurrence::Rwkv5, 17, 3, {2}},
                      Case{Recurrence::Rwkv6, 64, 2, {1, 3, 0, 2}}, Case{Recurrence::Rwkv6, 40, 1, {5, 1}},
                      Case{Recurrence::Rwkv7, 64, 2, {1, 3, 0, 2}}, Case{Recurrence::Rwkv7, 40, 3, {4}},
                      Case{Recurrence::Rwkv7, 8, 2, {1, 1}}),
    [](const ::testing::TestParamInfo<Case>& i) {
      return std::string(rrwkv::test::recurrence_name(i.param.kind)) + "_S" + std::to_string(i.param.S) + "_H" +
             std::to_string(i.param.H) + "_rows" + std::to_string(i.param.lens.size());
    });

}  // namespace
