// The quantized weight types (q8_0, q4_1) in the CPU kernels of every ISA this machine runs,
// against a dequantization written here from the layout's definition (kernels/cpu/quant.h):
// rows_to_f32 must give exactly those values, and matvec their double-precision dot products.
// The rows include the cases that break careless kernels: all-zero blocks (scale 0), blocks with
// one value repeated (q4_1: d = 0, everything in the offset), outliers, negative offsets.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/half.h"
#include "kernels/cpu/matvec.h"
#include "cpp/isa_kernels.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;

// Any finite f16 of moderate magnitude, given as its bits (so no f32 -> f16 conversion is needed).
uint16_t random_half(std::mt19937& rng, bool allow_zero) {
  std::uniform_int_distribution<int> exp(9, 17), mant(0, 1023), sign(0, 1), zero(0, 9);
  if (allow_zero && zero(rng) == 0) return 0;
  return static_cast<uint16_t>((sign(rng) << 15) | (exp(rng) << 10) | mant(rng));
}

// A (rows, cols) matrix of random quantized bytes and the values they stand for.
struct QuantMatrix {
  std::vector<uint8_t> bytes;
  std::vector<double> values;
  Matrix m;
  QuantMatrix(DType dtype, int64_t rows, int64_t cols, uint32_t seed) : values(rows * cols) {
    std::mt19937 rng(seed);
    std::uniform_int_distribution<int> q8(-127, 127), q4(0, 15), kind(0, 5);
    const int64_t nb = cols / 32, rb = rrwkv::row_bytes(dtype, cols);
    bytes.assign(static_cast<size_t>(rows * rb), 0);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* row = bytes.data() + r * rb;
      for (int64_t b = 0; b < nb; ++b) {
        const int k = kind(rng);  // 0: a zero scale; 1: one repeated value; else random
        const uint16_t d = k == 0 ? 0 : random_half(rng, false);
        std::memcpy(row + 2 * b, &d, 2);
        const double df = rrwkv::cpu::f16_to_f32(d);
        if (dtype == DType::Q8_0) {
          auto* q = reinterpret_cast<int8_t*>(row + 2 * nb + 32 * b);
          const int same = q8(rng);
          for (int j = 0; j < 32; ++j) {
            q[j] = static_cast<int8_t>(k == 1 ? same : (j == 5 ? 127 : q8(rng)));  // 127: the outlier
            values[r * cols + 32 * b + j] = df * q[j];
          }
        } else {
          const uint16_t m = random_half(rng, true);
          std::memcpy(row + 2 * nb + 2 * b, &m, 2);
          const double mf = rrwkv::cpu::f16_to_f32(m);
          uint8_t* packed = row + 4 * nb + 16 * b;
          const int same = q4(rng);
          for (int j = 0; j < 32; ++j) {
            const int q = k == 1 ? same : (j == 31 ? 15 : q4(rng));
            packed[j & 15] |= static_cast<uint8_t>(j < 16 ? q : q << 4);
            // one rounding to f32, as a fused multiply-add gives (exact in double first)
            values[r * cols + 32 * b + j] = static_cast<float>(df * q + mf);
          }
        }
      }
    }
    m = Matrix::dense(bytes.data(), dtype, rows, cols);
  }
};

class QuantKernelsOnIsa : public ::testing::TestWithParam<std::string> {
 protected:
  const rrwkv::cpu::KernelTable* table() { return kernels_for_isa(GetParam()); }
};

TEST_P(QuantKernelsOnIsa, RowsToF32GivesTheDefinedValues) {
  const rrwkv::cpu::KernelTable* k = table();
  if (!k) GTEST_SKIP() << GetParam() << " is not supported on this CPU";
  for (DType dt : {DType::Q8_0, DType::Q4_1})
    for (int64_t cols : {32, 64, 96, 768}) {
      QuantMatrix w(dt, 6, cols, 5 + static_cast<uint32_t>(cols));
      std::vector<float> out(4 * cols);
      k->rows_to_f32(w.m, 1, 5, out.data());
      for (int64_t i = 0; i < 4 * cols; ++i)
        ASSERT_EQ(out[i], static_cast<float>(w.values[cols + i]))
            << GetParam() << " " << rrwkv::dtype_name(dt) << " cols=" << cols << " element " << i;
    }
}

TEST_P(QuantKernelsOnIsa, MatvecMatchesDoubleReferenceAndIsIndependentOfTheOtherVectors) {
  const rrwkv::cpu::KernelTable* k = table();
  if (!k) GTEST_SKIP() << GetParam() << " is not supported on this CPU";
  std::mt19937 rng(17);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (DType dt : {DType::Q8_0, DType::Q4_1})
    // block counts 1, 2, 5, 7, 9, 17, 24, 33 and 2049: odd tails of the two accumulator chains,
    // q4_1's groups of 4 blocks with 0-3 blocks after the last, and the vectorised q4_1 offsets
    // (8 or 16 blocks at a time) with and without a remainder; 2049 blocks is past the block
    // kernels' limit, so the per-element path runs too
    for (int64_t cols : {32, 64, 160, 224, 288, 544, 768, 1056, 65568}) {
      const int64_t rows = cols > 4096 ? 3 : 21;
      QuantMatrix w(dt, rows, cols, 9 + static_cast<uint32_t>(cols));
      std::vector<std::vector<float>> x(k->max_vecs, std::vector<float>(cols)), y(k->max_vecs, std::vector<float>(rows));
      for (auto& v : x)
        for (float& e : v) e = nd(rng);
      std::vector<const float*> xs;
      std::vector<float*> ys;
      for (int v = 0; v < k->max_vecs; ++v) xs.push_back(x[v].data()), ys.push_back(y[v].data());
      for (int64_t r0 = 0; r0 < rows; r0 += 4) k->matvec(w.m, xs.data(), k->max_vecs, ys.data(), r0, std::min<int64_t>(rows, r0 + 4));
      for (int nv = 2; nv < k->max_vecs; ++nv) {  // every other vector count gives the same rows
        std::vector<std::vector<float>> yn(nv, std::vector<float>(rows));
        std::vector<float*> yp;
        for (auto& v : yn) yp.push_back(v.data());
        k->matvec(w.m, xs.data(), nv, yp.data(), 0, rows);
        for (int v = 0; v < nv; ++v)
          for (int64_t r = 0; r < rows; ++r) ASSERT_EQ(yn[v][r], y[v][r]) << "nvec " << nv << " vector " << v;
      }
      for (int v = 0; v < k->max_vecs; ++v) {
        std::vector<float> alone(rows);
        const float* x1[1] = {x[v].data()};
        float* y1[1] = {alone.data()};
        k->matvec(w.m, x1, 1, y1, 0, rows);
        for (int64_t r = 0; r < rows; ++r) {
          double ref = 0, mag = 0;
          for (int64_t c = 0; c < cols; ++c) {
            ref += w.values[r * cols + c] * x[v][c];
            mag += std::fabs(w.values[r * cols + c] * x[v][c]);
          }
          EXPECT_NEAR(y[v][r], ref, 1e-6 * mag + 1e-30) << GetParam() << " " << rrwkv::dtype_name(dt) << " row " << r;
          ASSERT_EQ(y[v][r], alone[r]) << "a row's result depends on the other vectors of the call";
        }
      }
    }
}

TEST(QuantLayout, RowBytesAndScaleChecks) {
  uint64_t rb = 0;
  EXPECT_FALSE(rrwkv::row_bytes(DType::Q8_0, 48, &rb)) << "a row must be whole blocks";
  ASSERT_TRUE(rrwkv::row_bytes(DType::Q8_0, 64, &rb));
  EXPECT_EQ(rb, 2u * 34u);
  ASSERT_TRUE(rrwkv::row_bytes(DType::Q4_1, 64, &rb));
  EXPECT_EQ(rb, 2u * 20u);
  for (DType dt : {DType::Q8_0, DType::Q4_1}) {
    QuantMatrix w(dt, 3, 64, 1);
    uint64_t bad = 99;
    EXPECT_TRUE(rrwkv::scales_finite(dt, w.bytes.data(), 3, 64, &bad));
    const uint16_t inf = 0x7c00;
    // the last scale-like field of row 2 (q4_1: an offset)
    std::memcpy(w.bytes.data() + 2 * w.m.ld + (dt == DType::Q4_1 ? 6 : 2), &inf, 2);
    EXPECT_FALSE(rrwkv::scales_finite(dt, w.bytes.data(), 3, 64, &bad));
    EXPECT_EQ(bad, 2u);
  }
}

INSTANTIATE_TEST_SUITE_P(Isa, QuantKernelsOnIsa, ::testing::Values("scalar", "avx2", "avx512"),
                         [](const auto& info) { return info.param; });

}  // namespace
