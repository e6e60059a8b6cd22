// ops::linear's CUDA body (ops/linear_cuda.cu) through the front, with a CUDA backend's context,
// against the CPU op: f32 and f16 weights, 1 to 40 rows (the matvec kernels in groups of 16, and
// the GEMM wrapper for f32 from 32 rows on), padded row strides, every epilogue, and with
// batch_invariant each row of a call bit for bit that row alone. f16 and bf16 weights from
// gpu::split_gemm_min_rows rows (the split GEMM, gpu/split16.h) against a float64 product: within
// the f32 accumulation's error plus the split's (f16: 2^-23 of a row's largest |x|), for rows
// from 1e-30 to 1e30 and around f16's overflow, where rounding the activations to f16 or bf16
// instead would not be; several such projections in one call (one scratch piece for all).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/split16.h"
#include "kernels/cpu/half.h"
#include "ops/backend_cuda.h"
#include "ops/linear.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;
using rrwkv::gpu::DeviceBuffer;
using rrwkv::ops::Epilogue;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

// f32 weights or the same values as f16 (exact in f16: multiples of 2^-8 in [-4, 4)).
std::vector<uint8_t> weight_bytes(DType type, int64_t rows, int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q(-1024, 1023);
  std::vector<uint8_t> out(static_cast<size_t>(rows * rrwkv::row_bytes(type, cols)));
  for (int64_t i = 0; i < rows * cols; ++i) {
    const float v = static_cast<float>(q(rng)) / 256.0f;
    if (type == DType::F32) {
      std::memcpy(out.data() + 4 * i, &v, 4);
    } else {  // f16 of a value with <= 11 significant bits
      uint32_t b;
      std::memcpy(&b, &v, 4);
      uint16_t h = 0;
      if (v != 0.0f)
        h = static_cast<uint16_t>(((b >> 16) & 0x8000u) | ((((b >> 23) & 0xffu) - 127 + 15) << 10) |
                                  ((b & 0x7fffffu) >> 13));
      std::memcpy(out.data() + 2 * i, &h, 2);
    }
  }
  return out;
}

struct Contexts {
  rrwkv::CpuBackend cpu_backend{1, 1 << 16};
  rrwkv::ExecContext cpu{cpu_backend};
  std::unique_ptr<rrwkv::GpuBackend> gpu_backend = rrwkv::make_cuda_backend(rrwkv::Device::cuda(0), 256);
  rrwkv::ExecContext gpu{*gpu_backend};
};

std::vector<float> run(rrwkv::ExecContext& ctx, const Matrix& w, const std::vector<float>& x, int64_t ldx, int64_t n,
                       int64_t ldy, Epilogue ep, bool on_gpu) {
  std::vector<float> y(static_cast<size_t>(n * ldy), 0.0f);
  if (!on_gpu) {
    rrwkv::ops::linear(ctx, {{&w, x.data(), ldx, n, y.data(), ldy, ep}});
    return y;
  }
  DeviceBuffer dx = rrwkv::gpu::to_device(x), dy = rrwkv::gpu::to_device(y);
  rrwkv::ops::linear(ctx, {{&w, dx.as<float>(), ldx, n, dy.as<float>(), ldy, ep}});
  rrwkv::gpu::synchronize(ctx.stream());
  return rrwkv::gpu::to_host<float>(dy, y.size());
}

TEST(GpuLinearOp, MatchesTheCpuOpForEveryRowCountAndEpilogue) {
  RRWKV_NEED_GPU();
  Contexts c;
  uint32_t seed = 3;
  for (DType type : {DType::F32, DType::F16}) {
    const int64_t rows = 37, cols = 70, ldx = cols + 3, ldy = rows + 2;
    const std::vector<uint8_t> bytes = weight_bytes(type, rows, cols, ++seed);
    const DeviceBuffer dev = rrwkv::gpu::to_device(bytes);
    const Matrix host = Matrix::dense(bytes.data(), type, rows, cols), gpu = Matrix::dense(dev.data(), type, rows, cols);
    for (int64_t n : {1, 7, 16, 17, 40}) {
      for (Epilogue ep : {Epilogue::None, Epilogue::Sigmoid, Epilogue::ReluSquare, Epilogue::Tanh, Epilogue::Silu}) {
        for (bool invariant : {false, true}) {
          c.cpu.batch_invariant = c.gpu.batch_invariant = invariant;
          const std::vector<float> x = random_floats(static_cast<size_t>(n * ldx), ++seed);
          const std::vector<float> want = run(c.cpu, host, x, ldx, n, ldy, ep, false);
          const std::vector<float> got = run(c.gpu, gpu, x, ldx, n, ldy, ep, true);
          for (size_t i = 0; i < got.size(); ++i)
            ASSERT_NEAR(got[i], want[i], 2e-5 * (40.0 + std::fabs(want[i])))
                << rrwkv::dtype_name(type) << " n=" << n << " epilogue " << int(ep) << " invariant " << invariant
                << " at " << i;
        }
      }
    }
  }
}

TEST(GpuLinearOp, WithBatchInvarianceEachRowIsItselfAlone) {
  RRWKV_NEED_GPU();
  Contexts c;
  c.gpu.batch_invariant = true;
  const int64_t rows = 29, cols = 64, n = 40;
  const std::vector<uint8_t> bytes = weight_bytes(DType::F32, rows, cols, 9);
  const DeviceBuffer dev = rrwkv::gpu::to_device(bytes);
  const Matrix w = Matrix::dense(dev.data(), DType::F32, rows, cols);
  const std::vector<float> x = random_floats(static_cast<size_t>(n * cols), 10);
  const std::vector<float> all = run(c.gpu, w, x, cols, n, rows, Epilogue::None, true);
  for (int64_t r : {0, 15, 16, 39}) {
    const std::vector<float> one(x.begin() + r * cols, x.begin() + (r + 1) * cols);
    const std::vector<float> alone = run(c.gpu, w, one, cols, 1, rows, Epilogue::None, true);
    for (int64_t j = 0; j < rows; ++j) ASSERT_EQ(alone[j], all[r * rows + j]) << "row " << r << " output " << j;
  }
}

// v rounded to the nearest f16 or bf16, ties to even (f16: overflow to inf, subnormals kept).
uint16_t bits16(DType type, float v) {
  if (type == DType::BF16) return rrwkv::gpu::test::to_bf16(v);
  uint32_t f;
  std::memcpy(&f, &v, 4);
  const auto sign = static_cast<uint16_t>((f >> 16) & 0x8000u);
  const float a = std::fabs(v);
  if (a >= 65520.0f) return sign | 0x7c00u;
  if (a < 0x1p-14f) return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(a * 0x1p24f)));
  const uint32_t m = f & 0x7fffffu, rest = m & 0x1fffu;
  uint32_t h = ((((f >> 23) & 0xffu) - 127 + 15) << 10) | (m >> 13);
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

double value16(DType type, uint16_t b) {
  return type == DType::F16 ? rrwkv::cpu::f16_to_f32(b) : rrwkv::cpu::bf16_to_f32(b);
}

// Weights of a 16-bit type: multiples of 2^-8 in [-4, 4) (exact in f16; bf16 rounds them), and
// with `large` a few of +-60000 (products with f16's largest activations stay far inside f32).
std::vector<uint16_t> weights16(DType type, int64_t rows, int64_t cols, uint32_t seed, bool large) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> q(-1024, 1023);
  std::vector<uint16_t> w(static_cast<size_t>(rows * cols));
  for (size_t i = 0; i < w.size(); ++i)
    w[i] = bits16(type, large && i % 97 == 5 ? (i % 2 ? 6e4f : -6e4f) : static_cast<float>(q(rng)) / 256.0f);
  return w;
}

// n rows of cols activations (stride ldx), row r scaled by one of 1, 1e-30, 1e30, 65504, 1e5,
// 3e-5, 0; the padding is NaN (never read).
std::vector<float> scaled_rows(int64_t n, int64_t cols, int64_t ldx, uint32_t seed) {
  const float scales[] = {1.0f, 1e-30f, 1e30f, 65504.0f, 1e5f, 3e-5f, 0.0f};
  std::vector<float> x = random_floats(static_cast<size_t>(n * ldx), seed);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t c = 0; c < ldx; ++c) x[r * ldx + c] = c < cols ? x[r * ldx + c] * scales[r % 7] : NAN;
  return x;
}

// y = W·x in float64 on the host, and what each output may be off by: the f32 sum's worst case
// ((cols + 2) x 2^-24 of sum |w x|) plus the split's (f16: 2^-23 of the row's largest |x| times sum |w|).
// `rounded`: of x rounded to `type` instead (what a GEMM of plainly rounded activations sees).
struct Reference {
  std::vector<double> y, bound;
};

Reference reference(DType type, const std::vector<uint16_t>& w, int64_t rows, int64_t cols, const std::vector<float>& x,
                    int64_t ldx, int64_t n, bool rounded) {
  Reference ref{std::vector<double>(static_cast<size_t>(n * rows)), std::vector<double>(static_cast<size_t>(n * rows))};
  for (int64_t r = 0; r < n; ++r) {
    double largest = 0.0;
    for (int64_t c = 0; c < cols; ++c) largest = std::max(largest, std::fabs(double(x[r * ldx + c])));
    for (int64_t j = 0; j < rows; ++j) {
      double sum = 0.0, sum_abs = 0.0, w_abs = 0.0;
      for (int64_t c = 0; c < cols; ++c) {
        const double wv = value16(type, w[j * cols + c]), xv = x[r * ldx + c];
        sum += wv * (rounded ? value16(type, bits16(type, x[r * ldx + c])) : xv);
        sum_abs += std::fabs(wv * xv), w_abs += std::fabs(wv);
      }
      ref.y[r * rows + j] = sum;
      ref.bound[r * rows + j] = static_cast<double>(cols + 2) * 0x1p-24 * sum_abs + (type == DType::F16 ? 0x1p-23 : 0.0) * w_abs * largest;
    }
  }
  return ref;
}

// One projection's y (n x rows, stride ldy) on the GPU, read back.
struct Proj16 {
  DType type;
  int64_t rows, cols, ldx, ldy, n;
  std::vector<uint16_t> w;
  std::vector<float> x;
  DeviceBuffer dw, dx, dy;
  Matrix m;
  Proj16(DType t, int64_t rows_, int64_t cols_, int64_t n_, uint32_t seed, bool large = true)
      : type(t), rows(rows_), cols(cols_), ldx(cols_ + 3), ldy(rows_ + 2), n(n_),
        w(weights16(t, rows_, cols_, seed, large)), x(scaled_rows(n_, cols_, cols_ + 3, seed + 1)),
        dw(rrwkv::gpu::to_device(w)), dx(rrwkv::gpu::to_device(x)),
        dy(rrwkv::gpu::to_device(std::vector<float>(static_cast<size_t>(n_ * (rows_ + 2)), NAN))),
        m(Matrix::dense(dw.data(), t, rows_, cols_)) {}
  rrwkv::ops::Projection projection(Epilogue ep = Epilogue::None) {
    return {&m, dx.as<float>(), ldx, n, dy.as<float>(), ldy, ep};
  }
  std::vector<float> y() { return rrwkv::gpu::to_host<float>(dy, static_cast<size_t>(n * ldy)); }
};

// Checks got (stride ldy) against ref; returns the largest error over bound seen.
double check_against(const Proj16& p, const std::vector<float>& got, const Reference& ref) {
  double worst = 0.0;
  for (int64_t r = 0; r < p.n; ++r)
    for (int64_t j = 0; j < p.rows; ++j) {
      const double want = ref.y[r * p.rows + j], bound = ref.bound[r * p.rows + j];
      const double g = got[r * p.ldy + j];
      EXPECT_LE(std::fabs(g - want), bound) << rrwkv::dtype_name(p.type) << " n=" << p.n << " row " << r << " output "
                                            << j << ": " << g << " for " << want;
      if (bound > 0) worst = std::max(worst, std::fabs(g - want) / bound);
    }
  return worst;
}

TEST(GpuLinearOp, SixteenBitWeightsThroughTheSplitGemmKeepF32Activations) {
  RRWKV_NEED_GPU();
  Contexts c;
  uint32_t seed = 40;
  for (DType type : {DType::F16, DType::BF16}) {
    const int64_t min = rrwkv::gpu::split_gemm_min_rows(type);
    for (int64_t n : {min - 1, min, min + 1, 2 * min + 5}) {  // below: the matvec kernels
      Proj16 p(type, 37, 70, n, ++seed);
      rrwkv::ops::linear(c.gpu, {p.projection()});
      rrwkv::gpu::synchronize(c.gpu.stream());
      const Reference ref = reference(type, p.w, p.rows, p.cols, p.x, p.ldx, p.n, false);
      const double worst = check_against(p, p.y(), ref);
      std::printf("[ split gemm ] %s n=%lld: largest error / bound %.3g\n", rrwkv::dtype_name(type),
                  static_cast<long long>(n), worst);
      // the bound is tight enough to tell: activations rounded to 16 bits would break it
      const Reference rounded = reference(type, p.w, p.rows, p.cols, p.x, p.ldx, p.n, true);
      size_t broken = 0;
      for (size_t i = 0; i < ref.y.size(); ++i)
        if (!(std::fabs(rounded.y[i] - ref.y[i]) <= ref.bound[i])) ++broken;
      EXPECT_GT(broken, ref.y.size() / 2) << rrwkv::dtype_name(type) << " n=" << n;
    }
  }
}

TEST(GpuLinearOp, SixteenBitWeightsMatchTheCpuOpWithEveryEpilogueAndSeveralProjections) {
  RRWKV_NEED_GPU();
  Contexts c;
  uint32_t seed = 60;
  for (DType type : {DType::F16, DType::BF16}) {
    const int64_t n = rrwkv::gpu::split_gemm_min_rows(type) + 2;
    for (Epilogue ep : {Epilogue::None, Epilogue::Sigmoid, Epilogue::ReluSquare, Epilogue::Tanh, Epilogue::Silu}) {
      // three projections in one call: two through the split GEMM (different shapes, one scratch
      // piece) around one on the matvec kernels
      // moderate values (the tolerance is the CPU op's, in f32)
      Proj16 a(type, 37, 70, n, ++seed, false), b(type, 20, 129, n + 9, ++seed, false),
          small(type, 11, 33, 5, ++seed, false);
      for (Proj16* p : {&a, &b, &small})
        for (float& v : p->x) v = std::isfinite(v) ? std::clamp(v, -3.0f, 3.0f) : v;
      for (Proj16* p : {&a, &b, &small}) p->dx = rrwkv::gpu::to_device(p->x);
      rrwkv::ops::linear(c.gpu, {a.projection(ep), small.projection(ep), b.projection(ep)});
      rrwkv::gpu::synchronize(c.gpu.stream());
      for (Proj16* p : {&a, &b, &small}) {
        const Matrix host = Matrix::dense(p->w.data(), type, p->rows, p->cols);
        std::vector<float> want(static_cast<size_t>(p->n * p->ldy), 0.0f);
        rrwkv::ops::linear(c.cpu, {{&host, p->x.data(), p->ldx, p->n, want.data(), p->ldy, ep}});
        const std::vector<float> got = p->y();
        for (int64_t r = 0; r < p->n; ++r)
          for (int64_t j = 0; j < p->rows; ++j)
            ASSERT_NEAR(got[r * p->ldy + j], want[r * p->ldy + j], 2e-5 * (40.0 + std::fabs(want[r * p->ldy + j])))
                << rrwkv::dtype_name(type) << " rows=" << p->rows << " n=" << p->n << " epilogue " << int(ep)
                << " at " << r << "," << j;
      }
    }
  }
}

}  // namespace
