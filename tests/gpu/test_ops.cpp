// The GPU building blocks (gpu/matvec, embedding, norm, mix, elementwise) against their CPU ops on
// odd shapes: sizes that are not multiples of 32, one row and many, padded row strides, matrices
// that start at an offset into their buffer, every weight type, 1 to 16 vectors, every epilogue.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/errors.h"
#include "core/thread_pool.h"
#include "gpu/elementwise.h"
#include "gpu/embedding.h"
#include "gpu/gpu_test.h"
#include "gpu/matvec.h"
#include "gpu/mix.h"
#include "gpu/norm.h"
#include "gpu/runtime.h"
#include "kernels/cpu/matvec.h"
#include "ops/elementwise.h"
#include "ops/embedding.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/token_shift.h"

namespace {

using rrwkv::DType;
using rrwkv::Matrix;
using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;

// The CPU side: the ops on one thread pool, each row computed as it would be alone.
struct Cpu {
  rrwkv::CpuBackend backend{2, 0};
  rrwkv::ExecContext ctx{backend};
  Cpu() { ctx.batch_invariant = true; }
};

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

uint16_t to_f16(float f) {  // round to nearest even, normal range
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

// A rows x cols weight matrix of `type` with random contents (quantized types: random codes and
// finite f16 scales, so every code value occurs), rows `pad` bytes apart beyond their size, the
// first row `offset` bytes into the buffer; the same bytes on the host and on the device.
struct Weights {
  std::vector<uint8_t> bytes;
  DeviceBuffer dev;
  Matrix host, gpu;
  Weights(DType type, int64_t rows, int64_t cols, int64_t pad, int64_t offset, uint32_t seed) {
    const int64_t rb = rrwkv::row_bytes(type, cols), ld = rb + pad;
    bytes.assign(offset + rows * ld, 0xAB);
    std::mt19937 rng(seed);
    std::normal_distribution<float> n01(0.0f, 1.0f);
    std::uniform_real_distribution<float> scale(0.005f, 0.05f);
    for (int64_t r = 0; r < rows; ++r) {
      uint8_t* row = &bytes[offset + r * ld];
      const int64_t nb = cols / 32;
      auto put16 = [&](int64_t i, uint16_t h) { std::memcpy(row + 2 * i, &h, 2); };
      if (type == DType::F32) {
        for (int64_t c = 0; c < cols; ++c) {
          const float v = n01(rng);
          std::memcpy(row + 4 * c, &v, 4);
        }
      } else if (type == DType::F16 || type == DType::BF16) {
        for (int64_t c = 0; c < cols; ++c) put16(c, type == DType::F16 ? to_f16(n01(rng)) : rrwkv::gpu::test::to_bf16(n01(rng)));
      } else if (type == DType::Q8_0) {
        for (int64_t b = 0; b < nb; ++b) put16(b, to_f16(scale(rng)));
        for (int64_t c = 0; c < cols; ++c) row[2 * nb + c] = static_cast<uint8_t>(rng());
      } else {  // Q4_1
        for (int64_t b = 0; b < nb; ++b) put16(b, to_f16(scale(rng))), put16(nb + b, to_f16(-8 * scale(rng)));
        for (int64_t i = 0; i < 16 * nb; ++i) row[4 * nb + i] = static_cast<uint8_t>(rng());
      }
    }
    dev = to_device(bytes);
    host = {bytes.data() + offset, type, rows, cols, ld};
    gpu = {static_cast<uint8_t*>(dev.data()) + offset, type, rows, cols, ld};
  }
  // Row r as f32 (the CPU's dequantization).
  std::vector<float> row(int64_t r) const {
    std::vector<float> out(host.cols);
    rrwkv::cpu::kernels_scalar()->rows_to_f32(host, r, r + 1, out.data());
    return out;
  }
};

// |got - want| <= tol * (scale + |want|) everywhere; names the first mismatches.
void expect_near(const std::vector<float>& got, const std::vector<float>& want, double tol, const std::string& what,
                 double scale = 0.0) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const bool ok = std::isnan(want[i]) ? std::isnan(got[i])
                                        : std::fabs(double(got[i]) - want[i]) <= tol * (scale + std::fabs(want[i]));
    if (!ok && bad++ < 3) ADD_FAILURE() << what << " [" << i << "]: gpu " << got[i] << ", cpu " << want[i];
  }
  EXPECT_EQ(bad, 0) << what << ": " << bad << " of " << got.size() << " differ";
}

const DType kWeightTypes[] = {DType::F32, DType::F16, DType::BF16, DType::Q8_0, DType::Q4_1};

// ---- matvec ------------------------------------------------------------------------------------

rrwkv::ops::Epilogue epilogue(rrwkv::gpu::Activation a) {
  using rrwkv::gpu::Activation;
  using rrwkv::ops::Epilogue;
  switch (a) {
    case Activation::Sigmoid: return Epilogue::Sigmoid;
    case Activation::ReluSquare: return Epilogue::ReluSquare;
    case Activation::Tanh: return Epilogue::Tanh;
    case Activation::Silu: return Epilogue::Silu;
    case Activation::None: break;
  }
  return Epilogue::None;
}

// gpu::matvec of nvec vectors against ops::linear on the CPU (its matvec path), for one matrix.
void check_matvec(Cpu& cpu, const Weights& w, int nvec, rrwkv::gpu::Activation act, uint32_t seed) {
  const int64_t ldx = w.host.cols + 3, ldy = w.host.rows + 5;
  const std::vector<float> x = random_floats(nvec * ldx, seed);
  std::vector<float> want(nvec * ldy, 0.0f);
  rrwkv::ops::linear(cpu.ctx, {{&w.host, x.data(), ldx, nvec, want.data(), ldy, epilogue(act)}});
  DeviceBuffer dx = to_device(x), dy = to_device(std::vector<float>(nvec * ldy, 0.0f));
  rrwkv::gpu::matvec(w.gpu, dx.as<float>(), ldx, nvec, dy.as<float>(), ldy, act, nullptr);
  const std::vector<float> got = to_host<float>(dy, nvec * ldy);
  double mag = 0;  // the size of the largest sum of |w x|: the scale of f32 rounding
  for (int64_t r = 0; r < w.host.rows; ++r) {
    const std::vector<float> row = w.row(r);
    for (int v = 0; v < nvec; ++v) {
      double m = 0;
      for (int64_t c = 0; c < w.host.cols; ++c) m += std::fabs(double(row[c]) * x[v * ldx + c]);
      mag = std::max(mag, m);
    }
  }
  expect_near(got, want, 1e-5, std::string("matvec ") + rrwkv::dtype_name(w.host.dtype) + " " +
                                   std::to_string(w.host.rows) + "x" + std::to_string(w.host.cols) +
                                   " nvec=" + std::to_string(nvec) + " act=" + std::to_string(int(act)),
              act == rrwkv::gpu::Activation::None ? mag : 1.0);
}

TEST(GpuOps, MatvecMatchesTheCpuForEveryWeightTypeAndVectorCount) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  uint32_t seed = 1;
  for (DType type : kWeightTypes) {
    const bool quant = rrwkv::traits(type).quantized;
    std::vector<std::pair<int64_t, int64_t>> shapes = {{1, 32}, {7, 96}, {33, 288}, {130, 64}, {3, 1024}};
    if (!quant) shapes.insert(shapes.end(), {{5, 45}, {9, 300}, {1, 1}});
    for (auto [rows, cols] : shapes) {
      const Weights w(type, rows, cols, 4 * (seed % 3), 64, seed);
      for (int nvec = 1; nvec <= rrwkv::gpu::kMaxMatvecVectors; ++nvec) {
        if (rows * cols > 4096 && nvec % 5 != 1 && nvec != 16) continue;  // every count on the small shapes
        check_matvec(cpu, w, nvec, rrwkv::gpu::Activation::None, ++seed);
        if (HasFailure()) return;
      }
    }
  }
}

TEST(GpuOps, MatvecAppliesEveryEpilogue) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  using rrwkv::gpu::Activation;
  const Weights w(DType::F16, 37, 70, 2, 16, 3);
  for (Activation act : {Activation::Sigmoid, Activation::ReluSquare, Activation::Tanh, Activation::Silu})
    for (int nvec : {1, 6}) check_matvec(cpu, w, nvec, act, 7);
}

TEST(GpuOps, MatvecRefusesWhatItCannotDo) {
  RRWKV_NEED_GPU();
  const Weights w(DType::F32, 4, 40, 0, 0, 1);
  DeviceBuffer buf(4096);
  EXPECT_THROW(rrwkv::gpu::matvec(w.gpu, buf.as<float>(), 40, 17, buf.as<float>(), 4, {}, nullptr),
               rrwkv::InvalidArgument);
  EXPECT_THROW(rrwkv::gpu::matvec(w.gpu, buf.as<float>(), 40, 0, buf.as<float>(), 4, {}, nullptr),
               rrwkv::InvalidArgument);
  Matrix q = w.gpu;
  q.dtype = DType::F64;
  EXPECT_THROW(rrwkv::gpu::matvec(q, buf.as<float>(), 40, 1, buf.as<float>(), 4, {}, nullptr), rrwkv::InvalidArgument);
}

// ---- embedding ---------------------------------------------------------------------------------

TEST(GpuOps, EmbeddingGathersRowsOfEveryWeightTypeExactly) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (DType type : kWeightTypes) {
    for (int64_t cols : {32, 288, 45, 300}) {
      if (rrwkv::traits(type).quantized && cols % 32) continue;
      const Weights emb(type, 50, cols, 4, 64, static_cast<uint32_t>(cols));
      for (std::vector<int64_t> ids : {std::vector<int64_t>{7}, std::vector<int64_t>{49, 0, 3, 3, 17, 0, 48, 1, 22}}) {
        const int64_t n = static_cast<int64_t>(ids.size()), ldo = cols + 2;
        std::vector<float> want(n * ldo, -1.0f);
        rrwkv::ops::embedding(cpu.ctx, emb.host, ids.data(), n, want.data(), ldo);
        DeviceBuffer dids = to_device(ids), dout = to_device(std::vector<float>(n * ldo, -1.0f));
        rrwkv::gpu::embedding(emb.gpu, dids.as<int64_t>(), n, dout.as<float>(), ldo, nullptr);
        EXPECT_EQ(to_host<float>(dout, n * ldo), want) << rrwkv::dtype_name(type) << " cols=" << cols << " n=" << n;
      }
    }
  }
}

// ---- norms ---------------------------------------------------------------------------------------

TEST(GpuOps, LayerNormMatchesTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (int64_t dim : {1, 31, 45, 1000, 4099})
    for (int64_t n : {1, 5, 70}) {
      if (n * dim > 100000) continue;
      const int64_t ldx = dim + 7, ldy = dim + 3;
      std::vector<float> x = random_floats(n * ldx, uint32_t(dim + n), 3.0f), w = random_floats(dim, 2),
                         b = random_floats(dim, 3);
      for (float& v : x) v += 2.0f;  // a mean far from 0
      std::vector<float> want(n * ldy, 0.0f);
      rrwkv::ops::layer_norm(cpu.ctx, x.data(), ldx, n, dim, w.data(), b.data(), 1e-5, want.data(), ldy);
      DeviceBuffer dx = to_device(x), dw = to_device(w), db = to_device(b), dy = to_device(std::vector<float>(n * ldy, 0.0f));
      rrwkv::gpu::layer_norm(dx.as<float>(), ldx, n, dim, dw.as<float>(), db.as<float>(), 1e-5, dy.as<float>(), ldy, nullptr);
      expect_near(to_host<float>(dy, n * ldy), want, 2e-6, "layer_norm dim=" + std::to_string(dim) + " n=" + std::to_string(n), 1.0);
      // in place: y is x
      std::vector<float> same = x;
      rrwkv::ops::layer_norm(cpu.ctx, same.data(), ldx, n, dim, w.data(), b.data(), 1e-5, same.data(), ldx);
      rrwkv::gpu::layer_norm(dx.as<float>(), ldx, n, dim, dw.as<float>(), db.as<float>(), 1e-5, dx.as<float>(), ldx, nullptr);
      expect_near(to_host<float>(dx, n * ldx), same, 2e-6, "layer_norm in place dim=" + std::to_string(dim), 1.0);
      if (HasFailure()) return;
    }
}

TEST(GpuOps, GroupNormMatchesTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (auto [dim, groups] : std::vector<std::pair<int64_t, int64_t>>{{40, 8}, {96, 3}, {384, 6}, {2048, 4}, {45, 1}})
    for (int64_t n : {1, 9}) {
      const int64_t ldx = dim + 5, ldy = dim + 1;
      const std::vector<float> x = random_floats(n * ldx, uint32_t(dim * groups + n), 2.0f), w = random_floats(dim, 4),
                               b = random_floats(dim, 5);
      std::vector<float> want(n * ldy, 0.0f);
      rrwkv::ops::group_norm(cpu.ctx, x.data(), ldx, n, dim, groups, w.data(), b.data(), 64e-5, want.data(), ldy);
      DeviceBuffer dx = to_device(x), dw = to_device(w), db = to_device(b), dy = to_device(std::vector<float>(n * ldy, 0.0f));
      rrwkv::gpu::group_norm(dx.as<float>(), ldx, n, dim, groups, dw.as<float>(), db.as<float>(), 64e-5, dy.as<float>(), ldy,
                             nullptr);
      expect_near(to_host<float>(dy, n * ldy), want, 2e-6,
                  "group_norm dim=" + std::to_string(dim) + " groups=" + std::to_string(groups) + " n=" + std::to_string(n), 1.0);
      if (HasFailure()) return;
    }
}

// ---- elementwise and mixes ----------------------------------------------------------------------

struct Rows {
  int64_t n, dim, ld;
};
const Rows kRowShapes[] = {{1, 1, 1}, {1, 45, 45}, {7, 300, 301}, {70, 33, 40}};

TEST(GpuOps, ElementwiseMatchTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (const Rows& s : kRowShapes) {
    const size_t size = s.n * s.ld;
    const std::vector<float> y0 = random_floats(size, 1), a = random_floats(size, 2), b = random_floats(size, 3);
    const std::string shape = " n=" + std::to_string(s.n) + " dim=" + std::to_string(s.dim);
    DeviceBuffer da = to_device(a), db = to_device(b);
    {
      std::vector<float> want = y0;
      rrwkv::ops::add(cpu.ctx, want.data(), a.data(), s.n, s.dim, s.ld);
      DeviceBuffer dy = to_device(y0);
      rrwkv::gpu::add(dy.as<float>(), da.as<float>(), s.n, s.dim, s.ld, nullptr);
      expect_near(to_host<float>(dy, size), want, 0, "add" + shape);
    }
    {
      std::vector<float> want = y0;
      rrwkv::ops::add_product(cpu.ctx, want.data(), a.data(), b.data(), s.n, s.dim, s.ld);
      DeviceBuffer dy = to_device(y0);
      rrwkv::gpu::add_product(dy.as<float>(), da.as<float>(), db.as<float>(), s.n, s.dim, s.ld, nullptr);
      expect_near(to_host<float>(dy, size), want, 1e-6, "add_product" + shape, 1.0);  // may be one fma
    }
    {
      std::vector<float> want = y0;
      rrwkv::ops::multiply(cpu.ctx, want.data(), a.data(), b.data(), s.n, s.dim, s.ld);
      DeviceBuffer dy = to_device(y0);
      rrwkv::gpu::multiply(dy.as<float>(), da.as<float>(), db.as<float>(), s.n, s.dim, s.ld, nullptr);
      expect_near(to_host<float>(dy, size), want, 0, "multiply" + shape);
    }
    {  // every activation, as linear applies it on the CPU (a projection through the identity)
      using rrwkv::gpu::Activation;
      for (Activation act : {Activation::Sigmoid, Activation::ReluSquare, Activation::Tanh, Activation::Silu}) {
        std::vector<float> eye(s.dim * s.dim, 0.0f), want = y0;
        for (int64_t c = 0; c < s.dim; ++c) eye[c * s.dim + c] = 1.0f;
        const Matrix id = Matrix::dense(eye.data(), DType::F32, s.dim, s.dim);
        rrwkv::ops::linear(cpu.ctx, {{&id, y0.data(), s.ld, s.n, want.data(), s.ld, epilogue(act)}});
        DeviceBuffer dy = to_device(y0);
        rrwkv::gpu::activate(act, dy.as<float>(), s.n, s.dim, s.ld, nullptr);
        expect_near(to_host<float>(dy, size), want, 1e-6, "activation " + std::to_string(int(act)) + shape, 1e-6);
      }
    }
    {
      const std::vector<int64_t> rows = {s.n - 1, 0, s.n / 2, s.n - 1};
      const int64_t ldd = s.dim + 2;
      std::vector<float> want(rows.size() * ldd, 9.0f);
      rrwkv::ops::gather(cpu.ctx, a.data(), s.ld, rows.data(), 4, s.dim, want.data(), ldd);
      DeviceBuffer drows = to_device(rows), dd = to_device(std::vector<float>(rows.size() * ldd, 9.0f));
      rrwkv::gpu::gather(da.as<float>(), s.ld, drows.as<int64_t>(), 4, s.dim, dd.as<float>(), ldd, nullptr);
      EXPECT_EQ(to_host<float>(dd, rows.size() * ldd), want) << "gather" << shape;
    }
    if (HasFailure()) return;
  }
}

TEST(GpuOps, TokenShiftMixesMatchTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (const Rows& s : kRowShapes) {
    const size_t size = s.n * s.ld;
    const std::vector<float> x = random_floats(size, 4), prev = random_floats(size, 5), mu = random_floats(s.dim, 6),
                             m = random_floats(s.n * (s.dim + 1), 7), y0 = random_floats(size, 8);
    const std::string shape = " n=" + std::to_string(s.n) + " dim=" + std::to_string(s.dim);
    DeviceBuffer dx = to_device(x), dp = to_device(prev), dmu = to_device(mu), dm = to_device(m);
    std::vector<float> want = y0;
    rrwkv::ops::lerp(cpu.ctx, want.data(), x.data(), prev.data(), mu.data(), s.n, s.dim, s.ld);
    DeviceBuffer dy = to_device(y0);
    rrwkv::gpu::lerp(dy.as<float>(), dx.as<float>(), dp.as<float>(), dmu.as<float>(), s.n, s.dim, s.ld, nullptr);
    expect_near(to_host<float>(dy, size), want, 1e-6, "lerp" + shape, 1.0);
    for (bool with_m : {false, true}) {
      want = y0;
      rrwkv::ops::shift_mix(cpu.ctx, want.data(), x.data(), prev.data(), mu.data(), with_m ? m.data() : nullptr,
                            s.dim + 1, s.n, s.dim, s.ld);
      dy = to_device(y0);
      rrwkv::gpu::shift_mix(dy.as<float>(), dx.as<float>(), dp.as<float>(), dmu.as<float>(),
                            with_m ? dm.as<float>() : nullptr, s.dim + 1, s.n, s.dim, s.ld, nullptr);
      expect_near(to_host<float>(dy, size), want, 1e-6, "shift_mix" + shape + (with_m ? " with m" : ""), 1.0);
    }
    if (HasFailure()) return;
  }
}

TEST(GpuOps, TokenShiftOverARaggedBatchMatchesTheCpu) {
  RRWKV_NEED_GPU();
  Cpu cpu;
  for (int64_t dim : {1, 45, 300}) {
    // rows of 3, 0, 1 and 7 tokens; their states are rows 4, 0, 2, 1 of a store of 5 (stride 2 dim + 3,
    // the carried value at field dim + 1)
    const std::vector<int64_t> start = {0, 3, 3, 4, 11}, row_index = {4, 0, 2, 1};
    const int64_t n_rows = 4, tokens = 11, stride = 2 * dim + 3, field = dim + 1;
    const std::vector<float> x = random_floats(tokens * dim, uint32_t(dim));
    std::vector<float> states = random_floats(5 * stride, 9), prev(tokens * dim, -7.0f);
    DeviceBuffer dstart = to_device(start), didx = to_device(row_index), dstates = to_device(states), dx = to_device(x),
                 dprev = to_device(prev);
    rrwkv::ops::token_shift(cpu.ctx, {n_rows, start.data(), row_index.data(), states.data(), stride}, x.data(), dim,
                            field, prev.data());
    rrwkv::gpu::token_shift(dstart.as<int64_t>(), didx.as<int64_t>(), n_rows, dstates.as<float>(), stride, field,
                            dx.as<float>(), dim, dprev.as<float>(), nullptr);
    EXPECT_EQ(to_host<float>(dprev, prev.size()), prev) << "prev, dim=" << dim;
    EXPECT_EQ(to_host<float>(dstates, states.size()), states) << "carried values, dim=" << dim;
  }
}

}  // namespace
