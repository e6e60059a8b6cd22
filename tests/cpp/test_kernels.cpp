// The CPU kernels and ops against plain double-precision references, on every ISA this machine
// runs (scalar, AVX2, AVX-512): matrix-vector products of every plain dtype (with column tails),
// the property that a (row, vector) result does not depend on the other vectors of the call,
// projections with epilogues, layer norm and the WKV recurrence over a ragged batch.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "core/thread_pool.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matvec.h"
#include "cpp/isa_kernels.h"
#include "ops/linear.h"
#include "ops/math.h"
#include "ops/norm.h"
#include "ops/wkv4.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;

uint16_t f32_to_f16(float f) {  // round to nearest even, for test data only (normal range)
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  int32_t exp = static_cast<int32_t>((b >> 23) & 0xff) - 127 + 15;
  uint32_t mant = b & 0x7fffffu;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(h);
}

uint16_t f32_to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return static_cast<uint16_t>((b + 0x7fffu + ((b >> 16) & 1u)) >> 16);
}

// A random (rows, cols) matrix stored as `dtype`, and its exact f32 values.
struct TestMatrix {
  std::vector<uint8_t> bytes;
  std::vector<float> values;
  Matrix m;
  TestMatrix(DType dtype, int64_t rows, int64_t cols, uint32_t seed) : values(rows * cols) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> n(0.0f, 1.0f);
    const int64_t es = dtype == DType::F32 ? 4 : 2;
    bytes.resize(static_cast<size_t>(rows * cols * es));
    for (int64_t i = 0; i < rows * cols; ++i) {
      const float v = n(rng);
      if (dtype == DType::F32) {
        std::memcpy(&bytes[i * 4], &v, 4);
        values[i] = v;
      } else {
        const uint16_t h = dtype == DType::F16 ? f32_to_f16(v) : f32_to_bf16(v);
        std::memcpy(&bytes[i * 2], &h, 2);
        values[i] = dtype == DType::F16 ? rrwkv::cpu::f16_to_f32(h) : rrwkv::cpu::bf16_to_f32(h);
      }
    }
    m = Matrix::dense(bytes.data(), dtype, rows, cols);
  }
};

std::vector<float> random_vector(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

class KernelsOnIsa : public ::testing::TestWithParam<std::string> {
 protected:
  const rrwkv::cpu::KernelTable* table() { return kernels_for_isa(GetParam()); }
};

TEST_P(KernelsOnIsa, MatvecMatchesDoubleReferenceForEveryDtypeAndTail) {
  const rrwkv::cpu::KernelTable* k = table();
  if (!k) GTEST_SKIP() << GetParam() << " is not supported on this CPU";
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    for (int64_t cols : {1, 7, 16, 77, 768}) {
      const int64_t rows = 19;
      TestMatrix w(dt, rows, cols, 7 + static_cast<uint32_t>(cols));
      std::vector<std::vector<float>> x, y;
      for (int v = 0; v < k->max_vecs; ++v) {
        x.push_back(random_vector(cols, 100 + v));
        y.emplace_back(rows, 0.0f);
      }
      std::vector<const float*> xs;
      std::vector<float*> ys;
      for (int v = 0; v < k->max_vecs; ++v) xs.push_back(x[v].data()), ys.push_back(y[v].data());
      k->matvec(w.m, xs.data(), k->max_vecs, ys.data(), 0, rows);
      for (int v = 0; v < k->max_vecs; ++v)
        for (int64_t r = 0; r < rows; ++r) {
          double ref = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            ref += double(w.values[r * cols + c]) * x[v][c];
            mag += std::fabs(double(w.values[r * cols + c]) * x[v][c]);
          }
          EXPECT_NEAR(y[v][r], ref, 1e-6 * mag + 1e-7)
              << GetParam() << " " << rrwkv::dtype_name(dt) << " cols=" << cols << " row " << r << " vector " << v;
        }
    }
  }
}

TEST_P(KernelsOnIsa, RowResultDoesNotDependOnTheOtherVectorsOrTheRowRange) {
  const rrwkv::cpu::KernelTable* k = table();
  if (!k) GTEST_SKIP() << GetParam() << " is not supported on this CPU";
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    const int64_t rows = 23, cols = 301;
    TestMatrix w(dt, rows, cols, 3);
    std::vector<std::vector<float>> x;
    for (int v = 0; v < k->max_vecs; ++v) x.push_back(random_vector(cols, 50 + v));
    // each vector alone over all rows
    std::vector<std::vector<float>> alone(k->max_vecs, std::vector<float>(rows));
    for (int v = 0; v < k->max_vecs; ++v) {
      const float* xs[1] = {x[v].data()};
      float* ys[1] = {alone[v].data()};
      k->matvec(w.m, xs, 1, ys, 0, rows);
    }
    // every group size, over uneven row ranges
    for (int nv = 2; nv <= k->max_vecs; ++nv) {
      std::vector<std::vector<float>> y(nv, std::vector<float>(rows));
      std::vector<const float*> xs;
      std::vector<float*> ys;
      for (int v = 0; v < nv; ++v) xs.push_back(x[k->max_vecs - 1 - v].data()), ys.push_back(y[v].data());
      for (int64_t r0 = 0; r0 < rows; r0 += 5) k->matvec(w.m, xs.data(), nv, ys.data(), r0, std::min<int64_t>(rows, r0 + 5));
      for (int v = 0; v < nv; ++v)
        for (int64_t r = 0; r < rows; ++r)
          ASSERT_EQ(y[v][r], alone[k->max_vecs - 1 - v][r]) << GetParam() << " nvec=" << nv << " row " << r;
    }
  }
}

TEST_P(KernelsOnIsa, RowsToF32IsExact) {
  const rrwkv::cpu::KernelTable* k = table();
  if (!k) GTEST_SKIP() << GetParam() << " is not supported on this CPU";
  for (DType dt : {DType::F32, DType::F16, DType::BF16}) {
    TestMatrix w(dt, 5, 37, 11);
    std::vector<float> out(3 * 37);
    k->rows_to_f32(w.m, 1, 4, out.data());
    for (int64_t i = 0; i < 3 * 37; ++i) ASSERT_EQ(out[i], w.values[37 + i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, KernelsOnIsa, ::testing::Values("scalar", "avx2", "avx512"),
                         [](const auto& info) { return info.param; });

// ---- ops ---------------------------------------------------------------------------------------

struct Ctx {
  rrwkv::CpuBackend backend{2, 0};
  rrwkv::ExecContext ctx{backend};
};

TEST(Ops, LinearRunsSeveralProjectionsWithEpilogues) {
  Ctx c;
  const int64_t n = 5, in = 40;
  TestMatrix a(DType::F32, 33, in, 1), b(DType::F16, 17, in, 2);
  const std::vector<float> x = random_vector(n * in, 9);
  std::vector<float> ya(n * 33), yb(n * 17);
  for (bool invariant : {false, true}) {
    c.ctx.batch_invariant = invariant;
    rrwkv::ops::linear(c.ctx, {{&a.m, x.data(), in, n, ya.data(), 33, rrwkv::ops::Epilogue::Sigmoid},
                               {&b.m, x.data(), in, n, yb.data(), 17, rrwkv::ops::Epilogue::ReluSquare}});
    for (int64_t i = 0; i < n; ++i) {
      for (int64_t r = 0; r < 33; ++r) {
        double s = 0;
        for (int64_t k = 0; k < in; ++k) s += double(a.values[r * in + k]) * x[i * in + k];
        EXPECT_NEAR(ya[i * 33 + r], 1.0 / (1.0 + std::exp(-s)), 1e-6);
      }
      for (int64_t r = 0; r < 17; ++r) {
        double s = 0;
        for (int64_t k = 0; k < in; ++k) s += double(b.values[r * in + k]) * x[i * in + k];
        EXPECT_NEAR(yb[i * 17 + r], s > 0 ? s * s : 0.0, 1e-4 * (1 + s * s));
      }
    }
  }
  EXPECT_THROW(rrwkv::ops::linear(c.ctx, {{&a.m, x.data(), in - 1, n, ya.data(), 33}}), rrwkv::InvalidArgument);
}

TEST(Ops, LayerNormMatchesDoubleReference) {
  Ctx c;
  const int64_t n = 3, dim = 50;
  const std::vector<float> x = random_vector(n * dim, 4), w = random_vector(dim, 5), b = random_vector(dim, 6);
  std::vector<float> y(n * dim);
  rrwkv::ops::layer_norm(c.ctx, x.data(), dim, n, dim, w.data(), b.data(), 1e-5, y.data(), dim);
  for (int64_t i = 0; i < n; ++i) {
    double mean = 0, var = 0;
    for (int64_t j = 0; j < dim; ++j) mean += x[i * dim + j];
    mean /= dim;
    for (int64_t j = 0; j < dim; ++j) var += (x[i * dim + j] - mean) * (x[i * dim + j] - mean);
    var /= dim;
    for (int64_t j = 0; j < dim; ++j)
      EXPECT_NEAR(y[i * dim + j], (x[i * dim + j] - mean) / std::sqrt(var + 1e-5) * w[j] + b[j], 1e-5);
  }
}

// WKV over three rows at different positions, with mediums, against the definition (§3): a
// softmax-weighted mean over every token entry and every completed medium entry, in double.
TEST(Ops, Wkv4RaggedBatchWithMediumsMatchesTheDefinition) {
  Ctx c;
  const int64_t C = 5, s = 3;
  const int64_t lens[3] = {1, 7, 4}, pos0[3] = {0, 2, 5};
  std::vector<int64_t> start = {0, 1, 8, 12};
  const int64_t N = 12;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> w(C), u(C), wm(C), bm(C), k(N * C), v(N * C), r(N * C);
  for (int64_t i = 0; i < C; ++i) w[i] = std::exp(uni(rng)), u[i] = uni(rng), wm[i] = std::exp(uni(rng)), bm[i] = uni(rng);
  for (float& e : k) e = uni(rng);
  for (float& e : v) e = uni(rng);
  for (float& e : r) e = 0.5f + 0.5f * uni(rng);
  // mediums: keys/values made up (the op takes them as given), one per segment end in each row
  std::vector<int64_t> med_start = {0}, fold_at;
  for (int i = 0; i < 3; ++i) {
    for (int64_t t = (s - 1 - pos0[i] % s) % s; t < lens[i]; t += s) fold_at.push_back(t);
    med_start.push_back(static_cast<int64_t>(fold_at.size()));
  }
  const int64_t M = med_start.back();
  std::vector<float> km(M * C), vm(M * C);
  for (float& e : km) e = uni(rng);
  for (float& e : vm) e = uni(rng);
  // states start empty (as at position 0 for every row: the definition below starts there too)
  std::vector<float> states(3 * 6 * C, 0.0f);  // a store of 3 rows, batch row i in store row 2 - i
  for (int row = 0; row < 3; ++row)
    for (int64_t i = 0; i < C; ++i) states[row * 6 * C + 2 * C + i] = states[row * 6 * C + 5 * C + i] = -1e38f;
  const std::vector<int64_t> store_rows = {2, 1, 0};
  std::vector<float> out(N * C);
  rrwkv::ops::Wkv4Batch b;
  b.C = C, b.w = w.data(), b.u = u.data(), b.wm = wm.data(), b.bm = bm.data();
  b.rows = {3, start.data(), store_rows.data(), states.data(), 6 * C}, b.k = k.data(), b.v = v.data();
  b.mediums = {s, med_start.data(), fold_at.data()}, b.km = km.data(), b.vm = vm.data();
  for (int f = 0; f < 6; ++f) b.field[f] = f * C;
  b.r = r.data(), b.out = out.data();
  rrwkv::ops::wkv4(c.ctx, b);
  for (int i = 0; i < 3; ++i)
    for (int64_t t = 0; t < lens[i]; ++t)
      for (int64_t ch = 0; ch < C; ++ch) {
        // entries: earlier tokens (decayed), this token (bonus u), mediums completed before t
        double num = 0, den = 0;
        auto add = [&](double logit, double val) { num += std::exp(logit) * val, den += std::exp(logit); };
        const int64_t row = start[i];
        for (int64_t j = 0; j < t; ++j) add(-(t - 1 - j) * double(w[ch]) + k[(row + j) * C + ch], v[(row + j) * C + ch]);
        add(double(u[ch]) + k[(row + t) * C + ch], v[(row + t) * C + ch]);
        std::vector<int64_t> seen;
        for (int64_t m = med_start[i]; m < med_start[i + 1]; ++m)
          if (fold_at[m] < t) seen.push_back(m);
        const int64_t G = static_cast<int64_t>(seen.size());
        for (int64_t g = 0; g < G; ++g)
          add(double(bm[ch]) - (G - 1 - g) * double(wm[ch]) + km[seen[g] * C + ch], vm[seen[g] * C + ch]);
        EXPECT_NEAR(out[(row + t) * C + ch], r[(row + t) * C + ch] * num / den, 2e-5)
            << "row " << i << " token " << t << " channel " << ch;
      }
}

}  // namespace

// relu_square is max(x, 0)² as `x > 0 ? x : 0` defines it, written branch-free with a bit mask:
// the cases where a mask and a comparison could part (NaN, -0, infinities, denormals).
TEST(Epilogue, ReluSquareKeepsTheComparisonsDefinition) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  const float denorm = std::numeric_limits<float>::denorm_min();
  for (float x : {3.0f, -3.0f, 0.0f, -0.0f, inf, -inf, nan, -nan, denorm, -denorm, 1e30f, -1e-30f}) {
    const float r = x > 0.0f ? x : 0.0f, want = r * r, got = rrwkv::ops::relu_square(x);
    uint32_t a, b;
    std::memcpy(&a, &want, 4);
    std::memcpy(&b, &got, 4);
    EXPECT_EQ(a, b) << "x = " << x;
  }
}
