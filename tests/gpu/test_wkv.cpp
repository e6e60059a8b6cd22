// The GPU WKV kernels (kernels/wkv/wkv_cuda.cu) against the CPU kernels, forward and backward, in
// f64, f32 and bf16 (the CPU runs f32 on the same bf16-rounded values), over shapes that reach
// every path: several row blocks (B > 4) and one, partial warps (C % 32 != 0), bf16 channel pairs
// (even C) and single channels (odd C, misaligned buffers), partial checkpoint blocks and
// sub-blocks, T = 0, B = 0, s > T, s = 1, pos != 0, a carried state, the state updated in place.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/errors.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "kernels/wkv/wkv.h"

namespace {

using rrwkv::DType;
using rrwkv::gpu::DeviceBuffer;
namespace wkv = rrwkv::wkv;
namespace t = rrwkv::gpu::test;

size_t elem_size(DType d) { return d == DType::F64 ? 8 : d == DType::F32 ? 4 : 2; }

// A tensor held as doubles, materialised in an element type on the host or on the device.
struct Tensor {
  std::vector<double> d;
  explicit Tensor(size_t n = 0) : d(n, 0.0) {}

  std::vector<unsigned char> bytes(DType type) const {
    std::vector<unsigned char> out(d.size() * elem_size(type));
    for (size_t i = 0; i < d.size(); ++i) {
      if (type == DType::F64) std::memcpy(&out[i * 8], &d[i], 8);
      if (type == DType::F32) {
        const float f = static_cast<float>(d[i]);
        std::memcpy(&out[i * 4], &f, 4);
      }
      if (type == DType::BF16) {
        const uint16_t h = t::to_bf16(static_cast<float>(d[i]));
        std::memcpy(&out[i * 2], &h, 2);
      }
    }
    return out;
  }
  static std::vector<double> values(const std::vector<unsigned char>& b, DType type) {
    std::vector<double> v(b.size() / elem_size(type));
    for (size_t i = 0; i < v.size(); ++i) {
      if (type == DType::F64) std::memcpy(&v[i], &b[i * 8], 8);
      if (type == DType::F32) {
        float f;
        std::memcpy(&f, &b[i * 4], 4);
        v[i] = f;
      }
      if (type == DType::BF16) {
        uint16_t h;
        std::memcpy(&h, &b[i * 2], 2);
        v[i] = t::from_bf16(h);
      }
    }
    return v;
  }
};

// Buffers of one run, on the host (device -1) or on the device; `skew` shifts every bf16 device
// buffer by one element from its allocation (pairs are then misaligned: the single-channel path).
struct Run {
  int device;
  int skew;
  std::vector<std::vector<unsigned char>> host;
  std::vector<DeviceBuffer> dev;

  void* put(const Tensor& x, DType type) { return place(x.bytes(type), type); }
  void* zeros(size_t n, DType type) { return place(std::vector<unsigned char>(n * elem_size(type), 0), type); }
  void* place(std::vector<unsigned char> b, DType type) {
    if (device < 0) {
      host.push_back(std::move(b));
      return host.back().data();
    }
    const size_t off = type == DType::BF16 ? skew * 2 : 0;
    dev.emplace_back(b.size() + off + 8);
    dev.back().upload(b.data(), b.size(), off);
    return static_cast<char*>(dev.back().data()) + off;
  }
  std::vector<double> get(const void* p, size_t n, DType type) {
    std::vector<unsigned char> b(n * elem_size(type));
    if (device < 0) {
      if (n) std::memcpy(b.data(), p, b.size());
    } else {
      for (const DeviceBuffer& d : dev)
        if (p >= d.data() && p < static_cast<const char*>(d.data()) + d.bytes())
          d.download(b.data(), b.size(), static_cast<const char*>(p) - static_cast<const char*>(d.data()));
    }
    return Tensor::values(b, type);
  }
};

struct Config {
  int64_t B, T, C, s, pos;
  bool medium;
  DType dtype;
  bool with_state;
  int skew = 0;
  bool in_place = false;
  std::string name() const {
    char buf[200];
    std::snprintf(buf, sizeof buf, "B=%ld T=%ld C=%ld s=%ld pos=%ld medium=%d %s state=%d skew=%d in_place=%d",
                  static_cast<long>(B), static_cast<long>(T), static_cast<long>(C), static_cast<long>(s),
                  static_cast<long>(pos), medium, rrwkv::dtype_name(dtype), with_state, skew, in_place);
    return buf;
  }
};

// |got - want| <= rtol * (scale + |want|), scale = max(1, max |want|); names the first mismatches.
void expect_close(const char* what, const std::vector<double>& got, const std::vector<double>& want, double rtol,
                  const Config& cfg) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double scale = 1;
  for (double x : want) scale = std::max(scale, std::fabs(x));
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= rtol * (scale + std::fabs(want[i])))) {
      if (bad < 3) ADD_FAILURE() << cfg.name() << ": " << what << "[" << i << "] gpu " << got[i] << " cpu " << want[i];
      ++bad;
    }
  EXPECT_EQ(bad, 0) << cfg.name() << ": " << what << " differs in " << bad << " of " << got.size() << " values";
}

struct Outputs {
  std::vector<double> y, state, gk, gv, gw, gu, gwm, gbm, gkm, gvm;
};

// Forward (with checkpoints) then backward, on the CPU (device -1) or the GPU.
Outputs run(const Config& c, int device, std::mt19937_64& rng_in) {
  std::mt19937_64 rng = rng_in;  // the same inputs for both runs
  std::normal_distribution<double> N;
  const int64_t B = c.B, T = c.T, C = c.C, J = c.medium ? wkv::medium_count(c.pos, T, c.s) : 0;
  Tensor w(C), u(C), wm(C), bm(C), k(B * T * C), v(B * T * C), km(B * J * C), vm(B * J * C), st(6 * B * C), gy(B * T * C);
  for (int64_t i = 0; i < C; ++i) {
    w.d[i] = std::exp(-5 + 8.0 * i / std::max<int64_t>(C - 1, 1) + 0.1 * N(rng));
    u.d[i] = -1 + 0.5 * N(rng);
    wm.d[i] = std::exp(N(rng));
    bm.d[i] = -1 + 0.3 * N(rng);
  }
  for (Tensor* x : {&k, &km})
    for (double& e : x->d) e = 2 * N(rng);
  for (Tensor* x : {&v, &vm, &gy})
    for (double& e : x->d) e = N(rng);
  for (int64_t i = 0; i < B * C; ++i) {  // a plausible state: positive sums, finite maxima
    st.d[i] = N(rng), st.d[B * C + i] = 1 + std::fabs(N(rng)), st.d[2 * B * C + i] = 2 * N(rng);
    st.d[3 * B * C + i] = N(rng), st.d[4 * B * C + i] = 1 + std::fabs(N(rng)), st.d[5 * B * C + i] = 2 * N(rng);
  }
  if (c.dtype == DType::BF16)  // both sides see the same bf16-rounded inputs
    for (Tensor* x : {&k, &v, &km, &vm, &gy})
      for (double& e : x->d) e = t::from_bf16(t::to_bf16(static_cast<float>(e)));
  // the CPU has no bf16 kernels: it runs f32 on the rounded values
  const DType io = device < 0 && c.dtype == DType::BF16 ? DType::F32 : c.dtype;
  const DType m = c.dtype == DType::F64 ? DType::F64 : DType::F32;

  Run r{device, device < 0 ? 0 : c.skew, {}, {}};
  wkv::Problem p;
  p.B = B, p.T = T, p.C = C, p.J = J, p.pos = c.pos, p.s = c.s, p.medium = c.medium, p.dtype = io;
  p.device = device < 0 ? rrwkv::Device::cpu() : rrwkv::Device::cuda(device), p.n_threads = 1;
  wkv::Inputs in;
  in.w = r.put(w, m), in.u = r.put(u, m);
  if (c.medium) in.wm = r.put(wm, m), in.bm = r.put(bm, m);
  in.k = r.put(k, io), in.v = r.put(v, io);
  if (J) in.km = r.put(km, io), in.vm = r.put(vm, io);
  if (c.with_state) in.state_in = r.put(st, m);
  wkv::ForwardOutputs fo;
  fo.y = r.zeros(B * T * C, io);
  fo.state_out = c.in_place && c.with_state ? const_cast<void*>(in.state_in) : r.zeros(6 * B * C, m);
  fo.ckpt = r.zeros(wkv::checkpoint_count(T) * 6 * B * C, m);
  wkv::forward(p, in, fo);
  wkv::BackwardArgs g;
  g.ckpt = fo.ckpt, g.gy = r.put(gy, io);
  g.gk = r.zeros(B * T * C, io), g.gv = r.zeros(B * T * C, io), g.gw = r.zeros(C, m), g.gu = r.zeros(C, m);
  if (c.medium) g.gwm = r.zeros(C, m), g.gbm = r.zeros(C, m);
  if (J) g.gkm = r.zeros(B * J * C, io), g.gvm = r.zeros(B * J * C, io);
  wkv::backward(p, in, g);

  Outputs o;
  o.y = r.get(fo.y, B * T * C, io);
  o.state = r.get(fo.state_out, 6 * B * C, m);
  o.gk = r.get(g.gk, B * T * C, io), o.gv = r.get(g.gv, B * T * C, io);
  o.gw = r.get(g.gw, C, m), o.gu = r.get(g.gu, C, m);
  if (c.medium) o.gwm = r.get(g.gwm, C, m), o.gbm = r.get(g.gbm, C, m);
  if (J) o.gkm = r.get(g.gkm, B * J * C, io), o.gvm = r.get(g.gvm, B * J * C, io);
  return o;
}

void compare(const Config& c, std::mt19937_64& rng) {
  const Outputs cpu = run(c, -1, rng), gpu = run(c, 0, rng);
  const double rtol = c.dtype == DType::F64 ? 1e-12 : c.dtype == DType::F32 ? 2e-5 : 1e-2;
  expect_close("y", gpu.y, cpu.y, rtol, c);
  expect_close("state", gpu.state, cpu.state, c.dtype == DType::BF16 ? 2e-5 : rtol, c);
  expect_close("gk", gpu.gk, cpu.gk, rtol, c);
  expect_close("gv", gpu.gv, cpu.gv, rtol, c);
  expect_close("gw", gpu.gw, cpu.gw, rtol, c);
  expect_close("gu", gpu.gu, cpu.gu, rtol, c);
  expect_close("gwm", gpu.gwm, cpu.gwm, rtol, c);
  expect_close("gbm", gpu.gbm, cpu.gbm, rtol, c);
  expect_close("gkm", gpu.gkm, cpu.gkm, rtol, c);
  expect_close("gvm", gpu.gvm, cpu.gvm, rtol, c);
}

class GpuWkv : public ::testing::TestWithParam<DType> {};

TEST_P(GpuWkv, MatchesTheCpuKernelsOnEveryPath) {
  RRWKV_NEED_GPU();
  std::mt19937_64 rng(7);
  const std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes = {
      {1, 1, 1}, {11, 203, 45}, {3, 64, 33}, {2, 129, 32}, {9, 70, 8}, {5, 77, 64}, {2, 0, 5}, {0, 5, 3}};
  const std::vector<std::tuple<bool, int64_t, int64_t>> recurrences = {
      {false, 1, 0}, {true, 1, 0}, {true, 5, 3}, {true, 16, 7}, {true, 300, 0}, {true, 8, 0}};
  for (auto [B, T, C] : shapes)
    for (auto [medium, s, pos] : recurrences)
      for (bool state : {false, true}) {
        compare({B, T, C, s, pos, medium, GetParam(), state}, rng);
        if (HasFailure()) return;  // the first failing configuration says enough
      }
}

TEST_P(GpuWkv, MisalignedBuffersAndInPlaceState) {
  RRWKV_NEED_GPU();
  std::mt19937_64 rng(11);
  for (auto [medium, s, pos] : std::vector<std::tuple<bool, int64_t, int64_t>>{{false, 1, 0}, {true, 5, 3}}) {
    Config c{6, 97, 40, s, pos, medium, GetParam(), true};
    c.skew = 1;  // every buffer one element off its allocation
    compare(c, rng);
    c.skew = 0, c.in_place = true;  // state_out is state_in
    compare(c, rng);
  }
}

INSTANTIATE_TEST_SUITE_P(Dtypes, GpuWkv, ::testing::Values(DType::F64, DType::F32, DType::BF16),
                         [](const auto& info) { return std::string(rrwkv::dtype_name(info.param)); });

TEST(GpuWkvRuns, BackwardIsDeterministic) {
  RRWKV_NEED_GPU();
  std::mt19937_64 rng(3);
  const Config c{11, 80, 37, 4, 0, true, DType::F32, false};
  const Outputs a = run(c, 0, rng), b = run(c, 0, rng);
  EXPECT_EQ(a.gw, b.gw);  // bit for bit: the batch sums have a fixed order
  EXPECT_EQ(a.gwm, b.gwm);
  EXPECT_EQ(a.gk, b.gk);
}

TEST(GpuWkvRuns, RejectsAMissingDevice) {
  RRWKV_NEED_GPU();
  wkv::Problem p;
  p.B = p.T = p.C = 1;
  p.device = rrwkv::Device::cuda(rrwkv::cuda_device_count());  // one past the last device
  DeviceBuffer buf(64);
  wkv::Inputs in;
  in.w = in.u = in.k = in.v = buf.data();
  wkv::ForwardOutputs out;
  out.y = buf.data();
  EXPECT_THROW(wkv::forward(p, in, out), rrwkv::InvalidArgument);
}

TEST(GpuWkvRuns, RejectsHostMemory) {
  RRWKV_NEED_GPU();
  if (rrwkv::gpu_emulated()) GTEST_SKIP() << "emulated device memory is host memory: nothing to tell apart";
  std::vector<float> host(4, 1.0f);
  wkv::Problem p;
  p.B = p.T = p.C = 1;
  p.device = rrwkv::Device::cuda(0);
  wkv::Inputs in;
  in.w = in.u = in.k = in.v = host.data();
  wkv::ForwardOutputs out;
  out.y = host.data();
  try {
    wkv::forward(p, in, out);
    FAIL() << "host pointers were accepted";
  } catch (const rrwkv::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("not device memory"), std::string::npos) << e.what();
  }
}

}  // namespace
