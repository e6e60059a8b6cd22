// The CUDA backend of the device seam (ops/backend_cuda.h): a decode step of the RWKV-7 recurrence
// through it (the batch's offsets and store rows staged by the backend, the states in its device
// state store, its stream) equals the same step through the CPU backend and ops::wkv7; the state
// store's init / get / set / copy; scratch pieces that do not overlap, also past the first
// buffer's size.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/errors.h"
#include "cpp/recurrence_data.h"
#include "gpu/gpu_test.h"
#include "gpu/recurrence.h"
#include "gpu/runtime.h"
#include "ops/backend_cuda.h"

namespace {

using rrwkv::Device;
using rrwkv::test::MatrixProblem;
using rrwkv::test::Recurrence;

TEST(GpuBackend, ADecodeStepThroughTheBackendIsTheCpuStep) {
  RRWKV_NEED_GPU();
  MatrixProblem p = rrwkv::test::make_matrix_problem(Recurrence::Rwkv7, 64, 2, {1, 1, 1}, 51);
  const int64_t n = p.n_rows(), F = p.state_floats(), C = p.C;
  auto backend = rrwkv::make_cuda_backend(Device::cuda(0), 256);
  auto store = backend->make_state_store(n + 2, std::vector<float>(F, 0.5f));
  const std::vector<int64_t> store_row = {3, 0, 4};  // rows 1 and 2 of the store stay at `initial`
  for (int64_t r = 0; r < n + 2; ++r) store->init(r);
  for (int64_t i = 0; i < n; ++i) store->set(store_row[i], p.states[i].data());
  backend->begin_call();
  rrwkv::gpu::Wkv7Batch b;
  b.rows = {n, backend->stage(p.start.data(), n + 1), backend->stage(store_row.data(), n), store->data(), F};
  rrwkv::gpu::DeviceBuffer r = rrwkv::gpu::to_device(p.r), w = rrwkv::gpu::to_device(p.w), k = rrwkv::gpu::to_device(p.k);
  rrwkv::gpu::DeviceBuffer v = rrwkv::gpu::to_device(p.v), kappa = rrwkv::gpu::to_device(p.kappa);
  rrwkv::gpu::DeviceBuffer a = rrwkv::gpu::to_device(p.a), y(n * C * sizeof(float));
  b.C = C, b.head_size = p.S, b.field = p.field, b.r = r.as<float>(), b.w = w.as<float>(), b.k = k.as<float>();
  b.v = v.as<float>(), b.kappa = kappa.as<float>(), b.a = a.as<float>(), b.y = y.as<float>();
  rrwkv::gpu::wkv7(b, backend->stream());
  rrwkv::gpu::synchronize(backend->stream());
  const std::vector<float> y_cpu = rrwkv::test::run_cpu_op(p);  // p.states become the CPU's
  const std::vector<float> y_gpu = rrwkv::gpu::to_host<float>(y, n * C);
  for (size_t i = 0; i < y_cpu.size(); ++i) ASSERT_NEAR(y_gpu[i], y_cpu[i], 1e-5 * (1 + std::fabs(y_cpu[i]))) << i;
  std::vector<float> got(F);
  for (int64_t i = 0; i < n; ++i) {
    store->get(store_row[i], got.data());
    for (int64_t f = 0; f < F; ++f) ASSERT_NEAR(got[f], p.states[i][f], 1e-5 * (1 + std::fabs(p.states[i][f]))) << i;
  }
  for (int64_t untouched : {1, 2}) {
    store->get(untouched, got.data());
    EXPECT_EQ(got, std::vector<float>(F, 0.5f)) << "store row " << untouched;
  }
}

TEST(GpuBackend, TheStateStoreSetsGetsAndCopiesRows) {
  RRWKV_NEED_GPU();
  auto backend = rrwkv::make_cuda_backend(Device::cuda(0), 64);
  auto store = backend->make_state_store(3, {1.0f, 2.0f, 3.0f});
  for (int64_t r = 0; r < 3; ++r) store->init(r);
  const float x[3] = {7.0f, 8.0f, 9.0f};
  store->set(2, x);
  store->copy(2, 0);
  std::vector<float> got(3);
  for (auto [row, want] : {std::pair<int64_t, std::vector<float>>{0, {7, 8, 9}}, {1, {1, 2, 3}}, {2, {7, 8, 9}}}) {
    store->get(row, got.data());
    EXPECT_EQ(got, want) << "row " << row;
  }
  EXPECT_THROW(store->get(3, got.data()), rrwkv::InvalidArgument);
}

TEST(GpuBackend, ScratchPiecesDoNotOverlap) {
  RRWKV_NEED_GPU();
  auto backend = rrwkv::make_cuda_backend(Device::cuda(0), 64);
  for (int call = 0; call < 2; ++call) {  // the first call spills, the second has one buffer
    backend->begin_call();
    std::vector<void*> pieces;
    for (size_t bytes : {100, 3000, 40}) pieces.push_back(backend->scratch(bytes * sizeof(float)));
    std::vector<std::vector<float>> fill;  // alive until the copies ran
    for (size_t i = 0; i < pieces.size(); ++i) {  // fill each piece with its index, then read all back
      fill.emplace_back(100, static_cast<float>(i + 10 * call));
      rrwkv::gpu::queue_copy(pieces[i], fill.back().data(), 40 * sizeof(float), backend->stream());
    }
    rrwkv::gpu::synchronize(backend->stream());
    for (size_t i = 0; i < pieces.size(); ++i) {
      std::vector<float> got(40);
      rrwkv::gpu::queue_copy(got.data(), pieces[i], got.size() * sizeof(float), backend->stream());
      rrwkv::gpu::synchronize(backend->stream());
      EXPECT_EQ(got, std::vector<float>(40, static_cast<float>(i + 10 * call))) << "call " << call << " piece " << i;
    }
  }
}

}  // namespace
