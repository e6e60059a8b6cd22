// Random operands of the matrix-state recurrences (ops/wkv5.h for RWKV-5.2 and RWKV-6, ops/wkv7.h
// for RWKV-7) over a ragged batch, with states that already carry a history (rows "at different
// positions"), and the CPU op run on them. Shared by the host test of the per-step headers
// (tests/cpp) and the GPU decode kernels' tests (tests/gpu).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "ops/backend.h"
#include "ops/wkv5.h"
#include "ops/wkv7.h"

namespace rrwkv::test {

enum class Recurrence { Rwkv5, Rwkv6, Rwkv7 };

inline const char* recurrence_name(Recurrence k) {
  return k == Recurrence::Rwkv5 ? "rwkv5" : k == Recurrence::Rwkv6 ? "rwkv6" : "rwkv7";
}

struct MatrixProblem {
  Recurrence kind = Recurrence::Rwkv5;
  int64_t S = 0, H = 0, C = 0;
  int64_t field = 0;                // where the heads' states start in a row state
  std::vector<int64_t> start;       // n_rows + 1 token offsets
  std::vector<float> r, k, v, w, u;  // token rows of C; w: one row (RWKV-5) or one per token; u: (C)
  std::vector<float> kappa, a;      // RWKV-7: unit removal key per head, rate in (0, 1)
  std::vector<std::vector<float>> states;  // per row: field floats of padding, then H heads of S x S

  int64_t n_rows() const { return static_cast<int64_t>(start.size()) - 1; }
  int64_t n_tokens() const { return start.back(); }
  int64_t ldw() const { return kind == Recurrence::Rwkv5 ? 0 : C; }
  int64_t state_floats() const { return field + H * S * S; }
};

inline MatrixProblem make_matrix_problem(Recurrence kind, int64_t S, int64_t H, const std::vector<int64_t>& lens,
                                         uint32_t seed, int64_t field = 3) {
  MatrixProblem p;
  p.kind = kind, p.S = S, p.H = H, p.C = S * H, p.field = field;
  p.start.assign(1, 0);
  for (int64_t n : lens) p.start.push_back(p.start.back() + n);
  const int64_t N = p.n_tokens(), C = p.C;
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  auto fill = [&](std::vector<float>& x, size_t n, float scale) {
    x.resize(n);
    for (float& e : x) e = scale * g(rng);
  };
  auto sigmoid = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  fill(p.r, N * C, 0.5f);
  fill(p.k, N * C, 0.5f);
  fill(p.v, N * C, 0.5f);
  p.w.resize(kind == Recurrence::Rwkv5 ? C : N * C);
  if (kind == Recurrence::Rwkv7) {
    for (float& e : p.w) e = std::exp(-0.606531f * sigmoid(g(rng)));  // RWKV-7's decay, in (0.545, 1)
    p.kappa.resize(N * C);
    for (int64_t t = 0; t < N; ++t)
      for (int64_t h = 0; h < p.H; ++h) {
        float* x = &p.kappa[t * C + h * S];
        double norm = 0;
        for (int64_t j = 0; j < S; ++j) x[j] = g(rng), norm += double(x[j]) * x[j];
        for (int64_t j = 0; j < S; ++j) x[j] = static_cast<float>(x[j] / std::sqrt(norm));
      }
    p.a.resize(N * C);
    for (float& e : p.a) e = sigmoid(g(rng));
  } else {
    for (float& e : p.w) e = std::exp(-std::exp(-1.0f + 0.5f * g(rng)));  // in (0, 1)
    fill(p.u, C, 0.5f);
  }
  p.states.resize(lens.size());
  for (auto& st : p.states) fill(st, p.state_floats(), 0.3f);
  return p;
}

// The CPU op on the problem's rows and states (in place), one thread, rows computed as alone;
// returns y (token rows of C).
inline std::vector<float> run_cpu_op(MatrixProblem& p) {
  CpuBackend backend(1, 0);
  ExecContext ctx(backend);
  ctx.batch_invariant = true;
  // the rows' states in a store, batch row i in store row n - 1 - i
  const int64_t n = p.n_rows(), F = p.state_floats();
  std::vector<float> store(std::max<int64_t>(1, n * F));
  std::vector<int64_t> store_row(std::max<int64_t>(1, n));
  for (int64_t i = 0; i < n; ++i) {
    store_row[i] = n - 1 - i;
    std::copy(p.states[i].begin(), p.states[i].end(), store.begin() + store_row[i] * F);
  }
  std::vector<float> y(p.n_tokens() * p.C, 0.0f);
  ops::RaggedRows rows{n, p.start.data(), store_row.data(), store.data(), F};
  if (p.kind == Recurrence::Rwkv7) {
    ops::Wkv7Batch b;
    b.rows = rows, b.C = p.C, b.head_size = p.S, b.field = p.field;
    b.r = p.r.data(), b.w = p.w.data(), b.k = p.k.data(), b.v = p.v.data(), b.kappa = p.kappa.data(), b.a = p.a.data();
    b.y = y.data();
    ops::wkv7(ctx, b);
  } else {
    ops::Wkv5Batch b;
    b.rows = rows, b.C = p.C, b.head_size = p.S, b.field = p.field;
    b.r = p.r.data(), b.k = p.k.data(), b.v = p.v.data(), b.w = p.w.data(), b.ldw = p.ldw(), b.u = p.u.data();
    b.y = y.data();
    ops::wkv5(ctx, b);
  }
  for (int64_t i = 0; i < n; ++i)
    std::copy(store.begin() + store_row[i] * F, store.begin() + (store_row[i] + 1) * F, p.states[i].begin());
  return y;
}

}  // namespace rrwkv::test
