// The GEMM wrapper (gpu/gemm.h) against a float64 product on the host, with cuBLAS's conventions:
// every combination of transposes, f32 / f16 / bf16 inputs, odd shapes, padded leading
// dimensions, k = 0, alpha and beta, and beta = 0 over a C full of NaN (C must not be read).
// Blas::gemm is cuBLAS on a GPU and the reference kernel under emulation; gemm_reference runs in
// both builds. Bad arguments are refused with cuBLAS's rules in both.
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "core/errors.h"
#include "gpu/gemm.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "kernels/cpu/half.h"

namespace {

using rrwkv::DType;
using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::GemmArgs;
using rrwkv::gpu::Op;
namespace t = rrwkv::gpu::test;

uint16_t to_f16(float f) {  // round to nearest even, normal range (test data is)
  uint32_t b;
  std::memcpy(&b, &f, 4);
  const uint32_t sign = (b >> 16) & 0x8000u, mant = b & 0x7fffffu;
  const int32_t exp = static_cast<int32_t>((b >> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return static_cast<uint16_t>(sign);
  uint32_t h = sign | (static_cast<uint32_t>(exp) << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(h);
}

// A column-major matrix of `rows` x `cols` with leading dimension ld, stored as `type`; `values`
// holds the stored elements exactly (as the GPU reads them), padding included.
struct Mat {
  std::vector<double> values;
  std::vector<unsigned char> bytes;
  Mat(int64_t rows, int64_t cols, int64_t ld, DType type, std::mt19937& rng) : values(ld * std::max<int64_t>(cols, 1)) {
    std::normal_distribution<float> n(0.0f, 1.0f);
    const size_t es = type == DType::F32 ? 4 : 2;
    bytes.resize(values.size() * es);
    for (size_t i = 0; i < values.size(); ++i) {
      const float v = static_cast<int64_t>(i % ld) < rows ? n(rng) : 1e30f;  // padding must never be read
      if (type == DType::F32) {
        std::memcpy(&bytes[i * 4], &v, 4);
        values[i] = v;
      } else {
        const uint16_t h = type == DType::F16 ? to_f16(v) : t::to_bf16(v);
        std::memcpy(&bytes[i * 2], &h, 2);
        values[i] = type == DType::F16 ? rrwkv::cpu::f16_to_f32(h) : rrwkv::cpu::bf16_to_f32(h);
      }
    }
  }
};

struct Case {
  Op ta, tb;
  int64_t m, n, k, pad;
  DType type;
  float alpha, beta;
  std::string name() const {
    return std::string("op(") + (ta == Op::N ? "N" : "T") + "," + (tb == Op::N ? "N" : "T") + ") m=" +
           std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) + " pad=" + std::to_string(pad) +
           " " + rrwkv::dtype_name(type) + " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta);
  }
};

enum class Impl { Wrapper, Reference };

// Runs one case and compares with the float64 product: |got - want| <= tol * sum_p |a_ip b_pj| + tol.
void check(const Case& c, Impl impl, std::mt19937& rng, double tol = 1e-5) {
  const int64_t a_rows = c.ta == Op::N ? c.m : c.k, a_cols = c.ta == Op::N ? c.k : c.m;
  const int64_t b_rows = c.tb == Op::N ? c.k : c.n, b_cols = c.tb == Op::N ? c.n : c.k;
  const int64_t lda = std::max<int64_t>(1, a_rows) + c.pad, ldb = std::max<int64_t>(1, b_rows) + c.pad,
                ldc = std::max<int64_t>(1, c.m) + c.pad;
  const Mat a(a_rows, a_cols, lda, c.type, rng), b(b_rows, b_cols, ldb, c.type, rng);
  std::vector<float> c0(ldc * std::max<int64_t>(c.n, 1));
  std::normal_distribution<float> n01(0.0f, 1.0f);
  for (float& x : c0) x = c.beta == 0.0f ? std::numeric_limits<float>::quiet_NaN() : n01(rng);
  DeviceBuffer da = rrwkv::gpu::to_device(a.bytes), db = rrwkv::gpu::to_device(b.bytes),
               dc = rrwkv::gpu::to_device(c0);
  GemmArgs g;
  g.op_a = c.ta, g.op_b = c.tb, g.m = c.m, g.n = c.n, g.k = c.k, g.alpha = c.alpha, g.beta = c.beta;
  g.a = da.data(), g.a_type = c.type, g.lda = lda, g.b = db.data(), g.b_type = c.type, g.ldb = ldb;
  g.c = dc.as<float>(), g.ldc = ldc;
  if (impl == Impl::Wrapper) {
    rrwkv::gpu::Blas blas;
    blas.gemm(g);
    rrwkv::gpu::synchronize(nullptr);
  } else {
    rrwkv::gpu::gemm_reference(g, nullptr);
    rrwkv::gpu::synchronize(nullptr);
  }
  const std::vector<float> got = rrwkv::gpu::to_host<float>(dc, c0.size());
  int bad = 0;
  for (int64_t j = 0; j < c.n; ++j)
    for (int64_t i = 0; i < ldc; ++i) {
      const float out = got[i + j * ldc];
      if (i >= c.m) {  // rows past m belong to the caller: untouched
        ASSERT_TRUE(std::isnan(out) == std::isnan(c0[i + j * ldc]) && (std::isnan(out) || out == c0[i + j * ldc]))
            << c.name() << ": C(" << i << ", " << j << ") past m was written";
        continue;
      }
      double want = 0, mag = 0;
      for (int64_t p = 0; p < c.k; ++p) {
        const double x = a.values[c.ta == Op::N ? i + p * lda : p + i * lda];
        const double y = b.values[c.tb == Op::N ? p + j * ldb : j + p * ldb];
        want += x * y;
        mag += std::fabs(x * y);
      }
      want *= c.alpha;
      mag *= std::fabs(c.alpha);
      if (c.beta != 0.0f) {
        want += static_cast<double>(c.beta) * c0[i + j * ldc];
        mag += std::fabs(static_cast<double>(c.beta) * c0[i + j * ldc]);
      }
      if (!(std::fabs(out - want) <= tol * mag + 1e-6)) {
        if (bad < 3) ADD_FAILURE() << c.name() << ": C(" << i << ", " << j << ") = " << out << ", want " << want;
        ++bad;
      }
    }
  EXPECT_EQ(bad, 0) << c.name();
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (Op ta : {Op::N, Op::T})
    for (Op tb : {Op::N, Op::T})
      for (DType type : {DType::F32, DType::F16, DType::BF16}) {
        out.push_back({ta, tb, 1, 1, 1, 0, type, 1.0f, 0.0f});
        out.push_back({ta, tb, 17, 33, 5, 3, type, -1.5f, 0.0f});
        out.push_back({ta, tb, 64, 1, 31, 0, type, 1.0f, 0.5f});
        out.push_back({ta, tb, 3, 40, 129, 1, type, 0.25f, -2.0f});
        out.push_back({ta, tb, 33, 17, 16, 7, type, 1.0f, 1.0f});
      }
  out.push_back({Op::N, Op::N, 5, 6, 0, 2, DType::F32, 1.0f, 0.0f});  // k = 0: C = beta C = 0
  out.push_back({Op::T, Op::N, 5, 6, 0, 0, DType::F16, 1.0f, 3.0f});  // k = 0: C = 3 C
  return out;
}

TEST(GpuGemm, WrapperMatchesFloat64OnEveryConvention) {
  RRWKV_NEED_GPU();
  std::mt19937 rng(5);
  for (const Case& c : cases()) {
    check(c, Impl::Wrapper, rng);
    if (HasFailure()) return;
  }
}

TEST(GpuGemm, ReferenceKernelMatchesFloat64OnEveryConvention) {
  RRWKV_NEED_GPU();
  std::mt19937 rng(6);
  for (const Case& c : cases()) {
    check(c, Impl::Reference, rng);
    if (HasFailure()) return;
  }
}

TEST(GpuGemm, FastTf32StaysCloseOnAGpu) {
  RRWKV_NEED_GPU();
  if (rrwkv::gpu_emulated()) GTEST_SKIP() << "TF32 is a tensor-core mode of cuBLAS; the emulation computes f32";
  std::mt19937 rng(7);
  const Case c{Op::T, Op::N, 70, 33, 256, 0, DType::F32, 1.0f, 0.0f};
  check(c, Impl::Wrapper, rng, 2e-3);
}

TEST(GpuGemm, RefusesWhatCublasRefuses) {
  RRWKV_NEED_GPU();
  DeviceBuffer buf(4096);
  GemmArgs g;
  g.m = 4, g.n = 3, g.k = 5, g.a = g.b = buf.data(), g.c = buf.as<float>();
  g.lda = 4, g.ldb = 5, g.ldc = 4;
  rrwkv::gpu::Blas blas;
  auto refuses = [&](GemmArgs bad, const char* words) {
    try {
      blas.gemm(bad);
      ADD_FAILURE() << "accepted; expected an error saying '" << words << "'";
    } catch (const rrwkv::InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
    }
  };
  GemmArgs bad = g;
  bad.lda = 3;  // op N: A is m x k, lda >= m
  refuses(bad, "lda=3 is less than the rows of A as stored (m=4");
  bad = g, bad.op_a = Op::T, bad.lda = 4;  // op T: A is k x m, lda >= k
  refuses(bad, "lda=4 is less than the rows of A as stored (k=5");
  bad = g, bad.ldb = 4;
  refuses(bad, "ldb=4");
  bad = g, bad.ldc = 3;
  refuses(bad, "ldc=3 is less than m=4");
  bad = g, bad.b_type = DType::F16;
  refuses(bad, "must both be f32, both f16 or both bf16, got f32 and f16");
  bad = g, bad.a_type = bad.b_type = DType::Q8_0;
  refuses(bad, "got q8_0 and q8_0");
  bad = g, bad.k = -1;
  refuses(bad, "sizes must be >= 0");
  bad = g, bad.m = int64_t(1) << 31, bad.lda = bad.ldc = int64_t(1) << 31;
  refuses(bad, "below 2^31");
}

}  // namespace
