// gpu::StagingBuffer (gpu/staging.h): staged host arrays drive a kernel as device copies would; a
// call that stages the same sizes in the same order gets the same addresses; a graph captured
// over staged arrays replays with the values staged before each replay; past the capacity it
// refuses.
#include <numeric>
#include <vector>

#include "core/errors.h"
#include "gpu/elementwise.h"
#include "gpu/gpu_test.h"
#include "gpu/graph.h"
#include "gpu/runtime.h"
#include "gpu/staging.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::StagingBuffer;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;

constexpr int64_t kRows = 6, kDim = 5;

// src row r holds 100 r + c
DeviceBuffer source() {
  std::vector<float> src(kRows * kDim);
  for (int64_t r = 0; r < kRows; ++r)
    for (int64_t c = 0; c < kDim; ++c) src[r * kDim + c] = static_cast<float>(100 * r + c);
  return to_device(src);
}

std::vector<float> gathered(const std::vector<int64_t>& rows) {
  std::vector<float> out;
  for (int64_t r : rows)
    for (int64_t c = 0; c < kDim; ++c) out.push_back(static_cast<float>(100 * r + c));
  return out;
}

TEST(GpuStaging, StagedArraysDriveKernelsAndKeepTheirAddresses) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  DeviceBuffer src = source(), dst(4 * kDim * sizeof(float));
  StagingBuffer staging(100);
  const int64_t* first[2] = {};
  const std::vector<std::vector<int64_t>> calls = {{5, 0, 3, 3}, {1, 2, 4, 0}};
  for (size_t call = 0; call < calls.size(); ++call) {
    staging.begin(stream.get());
    const int64_t pad[3] = {7, 8, 9};
    const int64_t* p = staging.stage(pad, 3);  // another array before, as a call stages several
    const int64_t* rows = staging.stage(calls[call].data(), 4);
    if (call == 0) first[0] = p, first[1] = rows;
    EXPECT_EQ(p, first[0]);
    EXPECT_EQ(rows, first[1]) << "the same sizes in the same order moved";
    rrwkv::gpu::gather(src.as<float>(), kDim, rows, 4, kDim, dst.as<float>(), kDim, stream.get());
    rrwkv::gpu::synchronize(stream.get());
    EXPECT_EQ(to_host<float>(dst, 4 * kDim), gathered(calls[call])) << "call " << call;
  }
}

TEST(GpuStaging, AGraphReplaysWithTheNextCallsValues) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  DeviceBuffer src = source(), dst(3 * kDim * sizeof(float));
  StagingBuffer staging(64);
  const std::vector<int64_t> first = {0, 1, 2};
  staging.begin(stream.get());
  const int64_t* staged = staging.stage(first.data(), 3);  // uploaded before the capture, outside it
  rrwkv::gpu::Graph g = rrwkv::gpu::Graph::capture(stream.get(), [&] {
    rrwkv::gpu::gather(src.as<float>(), kDim, staged, 3, kDim, dst.as<float>(), kDim, stream.get());
  });
  for (const std::vector<int64_t>& rows : {std::vector<int64_t>{4, 4, 1}, std::vector<int64_t>{5, 3, 0}}) {
    staging.begin(stream.get());
    EXPECT_EQ(staging.stage(rows.data(), 3), staged);
    g.replay(stream.get());
    rrwkv::gpu::synchronize(stream.get());
    EXPECT_EQ(to_host<float>(dst, 3 * kDim), gathered(rows));
  }
}

TEST(GpuStaging, RefusesPastItsCapacity) {
  RRWKV_NEED_GPU();
  StagingBuffer staging(64);
  staging.begin(nullptr);
  std::vector<int64_t> v(40, 1);
  EXPECT_NE(staging.stage(v.data(), 0), nullptr);
  staging.stage(v.data(), 32);   // 32 of 64 used
  EXPECT_THROW(staging.stage(v.data(), 33), rrwkv::InvalidArgument);
  staging.stage(v.data(), 32);   // exactly the rest
  staging.begin(nullptr);        // a new call has all of it again
  staging.stage(v.data(), 40);
  EXPECT_THROW(StagingBuffer(0), rrwkv::InvalidArgument);
}

}  // namespace
