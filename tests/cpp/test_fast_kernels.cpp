// The fast (exact=false) kernels, kernels/cpu/fast_kernels.h: every implementation this CPU runs
// (scalar, AVX2, AVX-VNNI, AVX-512 FMA emulation, AVX512_BF16, AVX-512 VNNI) gives bit for bit
// the scalar implementation's numbers; a row's result does not depend on the other rows of the
// call or the task's row range; and the scalar implementation computes what fast_reference.h
// defines: checked here against a double-precision dot product of the rounded operands, and the
// rounding itself against its definition (nearest even, denormals, NaN, int8 blocks).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "kernels/cpu/fast_kernels.h"
#include "kernels/cpu/fast_layout.h"
#include "kernels/cpu/fast_reference.h"
#include "kernels/cpu/half.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;
using rrwkv::cpu::FastFamily;
using rrwkv::cpu::FastKernels;
namespace ref = rrwkv::cpu::fast_ref;

uint16_t f16_bits(float f) {  // nearest even, normal range only (test data)
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u;
  const int32_t exp = static_cast<int32_t>((b >> 23) & 0xff) - 127 + 15;
  const uint32_t mant = b & 0x7fffffu;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(h);
}

// Weights of any dtype: random values at `scale`, some exactly zero; quantized rows with zero
// blocks, constant blocks and outliers (their scales finite f16 values).
struct Weights {
  std::vector<uint8_t> bytes;
  Matrix m;
  Weights(DType dt, int64_t rows, int64_t cols, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::uniform_int_distribution<int> byte(0, 255), kind(0, 7);
    const int64_t rb = rrwkv::row_bytes(dt, cols);
    bytes.assign(static_cast<size_t>(rows * rb + 64), 0);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* row = bytes.data() + r * rb;
      if (dt == DType::Q8_0 || dt == DType::Q4_1) {
        const int64_t nb = cols / 32, scales = dt == DType::Q8_0 ? nb : 2 * nb;
        for (int64_t i = 0; i < rb; ++i) row[i] = static_cast<uint8_t>(byte(rng));
        for (int64_t i = 0; i < scales; ++i) {
          const uint16_t h = kind(rng) == 0 ? 0 : f16_bits(nd(rng) * 0.05f);
          std::memcpy(row + 2 * i, &h, 2);
        }
        for (int64_t b = 0; b < nb; ++b) {
          const int k = kind(rng);
          uint8_t* q = row + (dt == DType::Q8_0 ? 2 * nb + 32 * b : 4 * nb + 16 * b);
          const int len = dt == DType::Q8_0 ? 32 : 16;
          if (k == 1) std::memset(q, q[0], static_cast<size_t>(len));             // one value repeated
          if (k == 2 && dt == DType::Q8_0) q[3] = 0x80, q[9] = 0x7f;             // -128 and 127
          if (k == 3) std::memset(q, dt == DType::Q8_0 ? 0 : 0xff, static_cast<size_t>(len));
        }
        continue;
      }
      for (int64_t c = 0; c < cols; ++c) {
        const float v = kind(rng) == 0 ? 0.0f : nd(rng);
        if (dt == DType::F32) {
          std::memcpy(row + 4 * c, &v, 4);
        } else {
          const uint16_t h = dt == DType::F16 ? f16_bits(v) : ref::bf16_bits(v);
          std::memcpy(row + 2 * c, &h, 2);
        }
      }
    }
    m = Matrix::dense(bytes.data(), dt, rows, cols);
  }
};

std::vector<float> activations(int64_t n, int64_t cols, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, scale);
  std::uniform_int_distribution<int> kind(0, 15);
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (float& v : x) {
    const int k = kind(rng);
    v = k == 0 ? 0.0f : k == 1 ? nd(rng) * 40.0f : nd(rng);  // zeros and outliers
  }
  for (int64_t c = 0; c < cols && n > 1; ++c) x[static_cast<size_t>(cols + c)] = 0.0f;  // an all-zero row
  return x;
}

// Prepared activation rows for kernels k.
struct Prepared {
  std::vector<uint8_t> buf;
  int64_t stride;
  Prepared(const FastKernels& k, DType dt, const std::vector<float>& x, int64_t n, int64_t cols)
      : stride(k.act_row_bytes(dt, cols)) {
    buf.assign(static_cast<size_t>(n * stride + 64), 0xcd);
    for (int64_t i = 0; i < n; ++i) k.prepare(dt, x.data() + i * cols, cols, data() + i * stride);
  }
  uint8_t* data() {  // 64-byte aligned
    const auto a = reinterpret_cast<uintptr_t>(buf.data());
    return buf.data() + (64 - a % 64) % 64;
  }
};

// y (n x rows) of kernels k, computed in tasks of `task` rows.
std::vector<float> run(const FastKernels& k, const Matrix& w, const std::vector<float>& x, int64_t n, int64_t task) {
  Prepared p(k, w.dtype, x, n, w.cols);
  std::vector<float> y(static_cast<size_t>(n * w.rows), std::numeric_limits<float>::quiet_NaN());
  for (int64_t r0 = 0; r0 < w.rows; r0 += task) {
    const int64_t r1 = std::min(w.rows, r0 + task);
    std::vector<uint8_t> tile(static_cast<size_t>(k.tile_bytes(w.dtype, w.cols, r1 - r0) + 64));
    auto* t = tile.data() + (64 - reinterpret_cast<uintptr_t>(tile.data()) % 64) % 64;
    k.gemm(w, r0, r1, p.data(), p.stride, n, y.data(), w.rows, t);
  }
  return y;
}

bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

std::vector<std::pair<FastFamily, std::string>> implementations() {
  std::vector<std::pair<FastFamily, std::string>> out;
  for (FastFamily f : {FastFamily::Bf16, FastFamily::Int8})
    for (const std::string& name : rrwkv::cpu::fast_kernel_names(f)) out.emplace_back(f, name);
  return out;
}

std::vector<DType> dtypes(FastFamily f) {
  return f == FastFamily::Bf16 ? std::vector<DType>{DType::F32, DType::F16, DType::BF16}
                               : std::vector<DType>{DType::Q8_0, DType::Q4_1};
}

class FastKernelsOn : public ::testing::TestWithParam<std::pair<FastFamily, std::string>> {
 protected:
  const FastKernels* kernels() { return rrwkv::cpu::fast_kernels_named(GetParam().first, GetParam().second); }
  const FastKernels& scalar() { return *rrwkv::cpu::fast_kernels_named(GetParam().first, "scalar"); }
};

TEST_P(FastKernelsOn, EqualTheScalarImplementationBitForBit) {
  const FastKernels* k = kernels();
  if (!k) GTEST_SKIP() << GetParam().second << " is not supported on this CPU";
  const bool bf = GetParam().first == FastFamily::Bf16;
  const std::vector<int64_t> widths = bf ? std::vector<int64_t>{1, 7, 31, 32, 33, 64, 100, 768}
                                         : std::vector<int64_t>{32, 64, 96, 160, 768, 3072};
  for (DType dt : dtypes(GetParam().first))
    for (int64_t cols : widths)
      for (int64_t rows : {1, 5, 16, 17, 37}) {
        Weights w(dt, rows, cols, static_cast<uint32_t>(cols * 31 + rows));
        const int64_t n = 13;
        const std::vector<float> x = activations(n, cols, static_cast<uint32_t>(cols + rows));
        const std::vector<float> want = run(scalar(), w.m, x, n, rows);
        for (int64_t task : {rows, int64_t{3}, int64_t{16}}) {
          const std::vector<float> got = run(*k, w.m, x, n, task);
          for (int64_t i = 0; i < n * rows; ++i)
            ASSERT_TRUE(same_bits(got[i], want[i]))
                << k->name << " " << rrwkv::dtype_name(dt) << " cols=" << cols << " rows=" << rows << " task=" << task
                << " activation row " << i / rows << " weight row " << i % rows << ": " << got[i] << " vs scalar "
                << want[i];
        }
      }
}

TEST_P(FastKernelsOn, ARowGivesTheSameNumbersAloneAsInAnyBatch) {
  const FastKernels* k = kernels();
  if (!k) GTEST_SKIP() << GetParam().second << " is not supported on this CPU";
  for (DType dt : dtypes(GetParam().first)) {
    const int64_t rows = 21, cols = 192, n = 11;
    Weights w(dt, rows, cols, 5);
    const std::vector<float> x = activations(n, cols, 6);
    const std::vector<float> all = run(*k, w.m, x, n, rows);
    for (int64_t i = 0; i < n; ++i) {
      const std::vector<float> one(x.begin() + i * cols, x.begin() + (i + 1) * cols);
      const std::vector<float> alone = run(*k, w.m, one, 1, 7);
      for (int64_t r = 0; r < rows; ++r)
        ASSERT_TRUE(same_bits(alone[r], all[i * rows + r])) << k->name << " row " << i << " weight row " << r;
    }
  }
}

// Packing once (what the engines do with a model's weights, core/pack_cache.h): the whole
// matrix packed in tasks of any multiple of row_group is byte for byte each task's own tile, and
// gemm_packed on a slice of it gives gemm's numbers bit for bit.
TEST_P(FastKernelsOn, AMatrixPackedOnceIsEveryTasksTileAndGivesTheSameNumbers) {
  const FastKernels* k = kernels();
  if (!k) GTEST_SKIP() << GetParam().second << " is not supported on this CPU";
  const bool bf = GetParam().first == FastFamily::Bf16;
  for (DType dt : dtypes(GetParam().first))
    for (int64_t cols : bf ? std::vector<int64_t>{7, 64, 100} : std::vector<int64_t>{32, 160})
      for (int64_t rows : {1, 16, 37, 50}) {
        Weights w(dt, rows, cols, static_cast<uint32_t>(cols * 7 + rows));
        const int64_t n = 9, g = k->row_group;
        const std::vector<float> x = activations(n, cols, static_cast<uint32_t>(cols + 3 * rows));
        const std::vector<float> want = run(*k, w.m, x, n, rows);
        const int64_t bytes = k->pack_bytes(dt, cols, rows);
        std::vector<uint8_t> whole_buf(static_cast<size_t>(bytes + 64));
        uint8_t* whole = whole_buf.data() + (64 - reinterpret_cast<uintptr_t>(whole_buf.data()) % 64) % 64;
        for (int64_t task : {g, 2 * g, (rows + g - 1) / g * g}) {
          for (int64_t r0 = 0; r0 < rows; r0 += task) k->pack(w.m, r0, std::min(rows, r0 + task), whole + k->pack_bytes(dt, cols, r0));
          Prepared p(*k, dt, x, n, cols);
          std::vector<float> got(static_cast<size_t>(n * rows), std::numeric_limits<float>::quiet_NaN());
          for (int64_t r0 = 0; r0 < rows; r0 += task) {
            const int64_t r1 = std::min(rows, r0 + task), off = k->pack_bytes(dt, cols, r0);
            const int64_t slice = k->pack_bytes(dt, cols, r1) - off;
            std::vector<uint8_t> tile_buf(static_cast<size_t>(slice + 64));
            uint8_t* tile = tile_buf.data() + (64 - reinterpret_cast<uintptr_t>(tile_buf.data()) % 64) % 64;
            k->pack(w.m, r0, r1, tile);  // the slice packed alone, as a task converts it
            ASSERT_EQ(std::memcmp(tile, whole + off, static_cast<size_t>(slice)), 0)
                << k->name << " " << rrwkv::dtype_name(dt) << " rows " << r0 << ".." << r1;
            std::vector<uint8_t> scratch_buf(static_cast<size_t>(k->scratch_bytes(dt, cols, r1 - r0) + 64));
            uint8_t* scratch = scratch_buf.data() + (64 - reinterpret_cast<uintptr_t>(scratch_buf.data()) % 64) % 64;
            k->gemm_packed(w.m, whole + off, r0, r1, p.data(), p.stride, n, got.data(), rows, scratch);
          }
          for (int64_t i = 0; i < n * rows; ++i)
            ASSERT_TRUE(same_bits(got[i], want[i])) << k->name << " " << rrwkv::dtype_name(dt) << " cols=" << cols
                                                    << " rows=" << rows << " task=" << task << " at " << i;
        }
      }
}

// The int8 implementations share one prepared layout (fast_layout.h): byte for byte the same.
TEST(FastKernels, Int8RowsArePreparedAlikeByEveryImplementation) {
  const FastKernels& scalar = *rrwkv::cpu::fast_kernels_named(FastFamily::Int8, "scalar");
  for (const std::string& name : rrwkv::cpu::fast_kernel_names(FastFamily::Int8)) {
    const FastKernels* k = rrwkv::cpu::fast_kernels_named(FastFamily::Int8, name);
    if (!k) continue;  // not on this CPU: EqualTheScalarImplementationBitForBit says so by skipping
    for (DType dt : dtypes(FastFamily::Int8)) {
      const int64_t cols = 320, n = 4;
      std::vector<float> x = activations(n, cols, 3);
      x[40] = std::numeric_limits<float>::infinity();  // block 1 of row 0: not finite -> q = 0
      Prepared a(*k, dt, x, n, cols), b(scalar, dt, x, n, cols);
      const rrwkv::cpu::fast_layout::Int8Row L(cols);
      for (int64_t i = 0; i < n; ++i)
        for (int64_t at = 0; at < L.aux + 4 * L.nb; ++at)
          if (at < cols || at >= L.dx)
            ASSERT_EQ(a.data()[i * a.stride + at], b.data()[i * b.stride + at]) << name << " row " << i << " byte " << at;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Impl, FastKernelsOn, ::testing::ValuesIn(implementations()), [](const auto& info) {
  return std::string(info.param.first == FastFamily::Bf16 ? "bf16_" : "int8_") + info.param.second;
});

// ---- the definitions (fast_reference.h) ---------------------------------------------------------

TEST(FastReference, Bf16RoundingIsNearestEvenWithDenormalsFlushed) {
  auto f = [](uint32_t b) {
    float v;
    std::memcpy(&v, &b, 4);
    return v;
  };
  EXPECT_EQ(ref::bf16_bits(f(0x3f808000u)), 0x3f80u);  // a tie, even below
  EXPECT_EQ(ref::bf16_bits(f(0x3f818000u)), 0x3f82u);  // a tie, even above
  EXPECT_EQ(ref::bf16_bits(f(0x3f808001u)), 0x3f81u);
  EXPECT_EQ(ref::bf16_bits(f(0x7f7fffffu)), 0x7f80u);  // rounds up to infinity
  EXPECT_EQ(ref::bf16_bits(f(0x00400000u)), 0x0000u);  // denormal -> +0
  EXPECT_EQ(ref::bf16_bits(f(0x80400000u)), 0x8000u);  // -> -0
  EXPECT_EQ(ref::bf16_bits(f(0xff800000u)), 0xff80u);  // -inf kept
  EXPECT_TRUE(std::isnan(rrwkv::cpu::bf16_to_f32(ref::bf16_bits(f(0x7f800001u)))));  // a NaN stays a NaN
  EXPECT_EQ(ref::bf16_input(0x0040u), 0.0f);  // a bf16 denormal reads as zero
}

TEST(FastReference, Bf16DotIsTheDotProductOfTheRoundedValues) {
  std::mt19937 rng(4);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  for (int64_t cols : {1, 31, 32, 77, 3072}) {
    std::vector<float> w(static_cast<size_t>(ref::padded(cols)), 0.0f), x = w, exact = w, xe = w;
    double dot = 0, mag = 0, true_dot = 0;
    for (int64_t c = 0; c < cols; ++c) {
      exact[c] = nd(rng), xe[c] = nd(rng);
      w[c] = ref::bf16_round(exact[c]), x[c] = ref::bf16_round(xe[c]);
      dot += double(w[c]) * x[c], mag += std::fabs(double(w[c]) * x[c]), true_dot += double(exact[c]) * xe[c];
    }
    const float y = ref::bf16_dot(w.data(), x.data(), cols);
    EXPECT_NEAR(y, dot, 1e-6 * mag + 1e-30) << cols;  // f32 accumulation of exact products
    EXPECT_NEAR(y, true_dot, 1e-2 * mag) << cols;     // bf16 operands: about 2^-8 relative each
  }
}

TEST(FastReference, Int8BlocksQuantizeToNearestWithTheirScale) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = 0.01f * static_cast<float>(j - 16);
  x[7] = -1.27f;  // the block's largest magnitude: -127
  ref::QuantBlock b = ref::quantize_block(x);
  EXPECT_FLOAT_EQ(b.d, 1.27f / 127.0f);
  EXPECT_EQ(b.q[7], -127);
  int32_t sum = 0;
  for (int j = 0; j < 32; ++j) {
    EXPECT_LE(std::fabs(b.q[j] * b.d - x[j]), 0.5f * b.d * 1.0001f) << j;
    sum += b.q[j];
  }
  EXPECT_EQ(b.sum, sum);
  for (float& v : x) v = 0.0f;
  b = ref::quantize_block(x);  // all zero: scale 0, values 0
  EXPECT_EQ(b.d, 0.0f);
  EXPECT_EQ(b.sum, 0);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  b = ref::quantize_block(x);  // not finite: values 0, the scale NaN (the output is NaN, not garbage)
  EXPECT_TRUE(std::isnan(b.d));
  for (int j = 0; j < 32; ++j) EXPECT_EQ(b.q[j], 0);
}

TEST(FastReference, Int8DotIsTheDotProductOfTheDequantizedValues) {
  for (DType dt : {DType::Q8_0, DType::Q4_1}) {
    const int64_t cols = 256;
    Weights w(dt, 1, cols, 9);
    const std::vector<float> x = activations(1, cols, 10);
    const rrwkv::cpu::FastKernels& s = *rrwkv::cpu::fast_kernels_named(FastFamily::Int8, "scalar");
    Prepared p(s, dt, x, 1, cols);
    const rrwkv::cpu::fast_layout::Int8Row L(cols);
    const auto* q = reinterpret_cast<const int8_t*>(p.data());
    const auto* dx = reinterpret_cast<const float*>(p.data() + L.dx);
    const uint8_t* row = w.m.row(0);
    double dot = 0, mag = 0;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t b = c / 32;
      const int j = static_cast<int>(c % 32);
      const double wv = dt == DType::Q8_0
                            ? double(ref::half_at(row, b)) * ref::q8_0_value(row, L.nb, b, j)
                            : double(ref::half_at(row, b)) * ref::q4_1_value(row, L.nb, b, j) + ref::half_at(row, L.nb + b);
      const double xv = double(dx[b]) * q[c];
      dot += wv * xv, mag += std::fabs(wv * xv);
    }
    const std::vector<float> y = run(s, w.m, x, 1, 1);
    EXPECT_NEAR(y[0], dot, 1e-6 * mag + 1e-30) << rrwkv::dtype_name(dt);
  }
}

// Products too small for a normal float, and denormal operands: both flush to zero in the bf16
// family, on every implementation alike (EqualTheScalarImplementation runs normal data).
TEST(FastReference, Bf16DenormalsFlushAlikeEverywhere) {
  const int64_t cols = 64, n = 2;
  std::vector<float> x(static_cast<size_t>(n * cols));
  for (int64_t c = 0; c < cols; ++c) x[c] = 1e-30f * static_cast<float>(c % 5 + 1), x[cols + c] = 3e-39f;
  Weights w(DType::F32, 3, cols, 1, 1e-12f);  // products ~1e-42: below the normal range
  const std::vector<float> want = run(*rrwkv::cpu::fast_kernels_named(FastFamily::Bf16, "scalar"), w.m, x, n, 3);
  for (float v : want) EXPECT_EQ(v, 0.0f);
  for (const std::string& name : rrwkv::cpu::fast_kernel_names(FastFamily::Bf16)) {
    const FastKernels* k = rrwkv::cpu::fast_kernels_named(FastFamily::Bf16, name);
    if (!k) continue;
    const std::vector<float> got = run(*k, w.m, x, n, 3);
    for (size_t i = 0; i < got.size(); ++i) EXPECT_TRUE(same_bits(got[i], want[i])) << name << " " << i;
  }
}

TEST(FastDispatch, TheChosenImplementationsAreSupportedOnes) {
  for (FastFamily f : {FastFamily::Bf16, FastFamily::Int8}) {
    const FastKernels* k = rrwkv::cpu::fast_kernels(f);
    ASSERT_NE(k, nullptr);
    EXPECT_EQ(rrwkv::cpu::fast_kernels_named(f, k->name), k);
  }
  EXPECT_EQ(rrwkv::cpu::fast_kernels_for(DType::F16)->family, FastFamily::Bf16);
  EXPECT_EQ(rrwkv::cpu::fast_kernels_for(DType::Q4_1)->family, FastFamily::Int8);
  EXPECT_EQ(rrwkv::cpu::fast_kernels_for(DType::F64), nullptr);
}

}  // namespace
