// gpu::Graph (gpu/graph.h): a decode step (its inputs copied in from staging, the RWKV-7 and the
// RWKV-5 recurrence over rows in their own state slots, a mix of the outputs) captured once and
// replayed step after step equals the same step launched directly, bit for bit; nothing runs while
// it is captured; and the capture's rules (no default stream, no synchronizing inside, an
// exception abandons it, stream-ordered scratch belongs to the graph).
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "core/errors.h"
#include "cpp/recurrence_data.h"
#include "gpu/gpu_test.h"
#include "gpu/graph.h"
#include "gpu/mix.h"
#include "gpu/recurrence.h"
#include "gpu/runtime.h"
#include "gpu/vendor_kernels.h"

namespace {

using rrwkv::gpu::DeviceBuffer;
using rrwkv::gpu::Graph;
using rrwkv::gpu::to_device;
using rrwkv::gpu::to_host;
using rrwkv::test::MatrixProblem;
using rrwkv::test::Recurrence;

// The buffers of a decode step of n rows: every input is copied from its staging buffer first (as
// an engine uploads a step's inputs), so changing the staging between replays feeds a new token.
struct DecodeStep {
  MatrixProblem p7, p5;  // token inputs of one step; their states are the rows' initial states
  int64_t n = 0, C = 0;
  DeviceBuffer start, store_rows, slots7, slots5;
  DeviceBuffer staging, inputs;  // the step's inputs, packed: r, w, k, v, kappa, a (RWKV-7), r, k, v, w, u (RWKV-5)
  DeviceBuffer y7, y5, mixed, mu;
  std::vector<float> packed;     // host copy of one step's inputs
  int64_t off[11] = {};

  DecodeStep(int64_t rows, int64_t S, int64_t H) {
    p7 = rrwkv::test::make_matrix_problem(Recurrence::Rwkv7, S, H, std::vector<int64_t>(rows, 1), 31);
    p5 = rrwkv::test::make_matrix_problem(Recurrence::Rwkv6, S, H, std::vector<int64_t>(rows, 1), 32);
    n = rows, C = S * H;
    start = to_device(p7.start);
    std::vector<int64_t> row(n);  // batch row i in store row n - 1 - i
    for (int64_t i = 0; i < n; ++i) row[i] = n - 1 - i;
    store_rows = to_device(row);
    auto slots = [&](const MatrixProblem& p, DeviceBuffer& buf) {
      std::vector<float> all(n * p.state_floats());
      for (int64_t i = 0; i < n; ++i)
        std::copy(p.states[i].begin(), p.states[i].end(), all.begin() + row[i] * p.state_floats());
      buf = to_device(all);
    };
    slots(p7, slots7);
    slots(p5, slots5);
    const std::vector<float>* parts[11] = {&p7.r, &p7.w, &p7.k, &p7.v, &p7.kappa, &p7.a,
                                           &p5.r, &p5.k, &p5.v, &p5.w, &p5.u};
    for (int q = 0; q < 11; ++q) {
      off[q] = static_cast<int64_t>(packed.size());
      packed.insert(packed.end(), parts[q]->begin(), parts[q]->end());
    }
    staging = to_device(packed);
    inputs = DeviceBuffer(packed.size() * sizeof(float));
    y7 = DeviceBuffer(n * C * sizeof(float)), y5 = DeviceBuffer(n * C * sizeof(float));
    mixed = DeviceBuffer(n * C * sizeof(float));
    std::vector<float> m(C);
    for (int64_t c = 0; c < C; ++c) m[c] = 0.25f + 0.5f * static_cast<float>(c) / static_cast<float>(C);
    mu = to_device(m);
  }

  // The step's inputs for token `t`: the first token's r, k and v scaled (new values, same
  // buffers); the decays, κ, a and u keep their ranges.
  void stage(int t) {
    std::vector<float> next = packed;
    for (int q : {0, 2, 3, 6, 7, 8})
      for (int64_t i = off[q]; i < off[q + 1]; ++i) next[i] *= 1.0f + 0.1f * static_cast<float>(t);
    staging.upload(next.data(), next.size() * sizeof(float));
  }

  // Queues the step on `stream`.
  void queue(void* stream) {
    rrwkv::gpu::queue_copy(inputs.data(), staging.data(), packed.size() * sizeof(float), stream);
    const float* in = inputs.as<float>();
    rrwkv::gpu::Wkv7Batch b7;
    b7.rows = {n, start.as<int64_t>(), store_rows.as<int64_t>(), slots7.as<float>(), p7.state_floats()};
    b7.C = C, b7.head_size = p7.S, b7.field = p7.field;
    b7.r = in + off[0], b7.w = in + off[1], b7.k = in + off[2], b7.v = in + off[3], b7.kappa = in + off[4];
    b7.a = in + off[5], b7.y = y7.as<float>();
    rrwkv::gpu::wkv7(b7, stream);
    rrwkv::gpu::Wkv5Batch b5;
    b5.rows = {n, start.as<int64_t>(), store_rows.as<int64_t>(), slots5.as<float>(), p5.state_floats()};
    b5.C = C, b5.head_size = p5.S, b5.field = p5.field;
    b5.r = in + off[6], b5.k = in + off[7], b5.v = in + off[8], b5.w = in + off[9], b5.ldw = C, b5.u = in + off[10];
    b5.y = y5.as<float>();
    rrwkv::gpu::wkv5(b5, stream);
    rrwkv::gpu::lerp(mixed.as<float>(), y7.as<float>(), y5.as<float>(), mu.as<float>(), n, C, C, stream);
  }

  // Everything the step writes.
  std::vector<float> results() const {
    std::vector<float> out = to_host<float>(mixed, n * C);
    const std::vector<float> a = to_host<float>(y7, n * C), b = to_host<float>(y5, n * C);
    const std::vector<float> s7 = to_host<float>(slots7, n * p7.state_floats());
    const std::vector<float> s5 = to_host<float>(slots5, n * p5.state_floats());
    for (const auto* v : {&a, &b, &s7, &s5}) out.insert(out.end(), v->begin(), v->end());
    return out;
  }
};

TEST(GpuGraph, AReplayedStepIsTheDirectStep) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  DecodeStep direct(5, 64, 2), graphed(5, 64, 2);
  const std::vector<float> before = graphed.results();
  Graph g = Graph::capture(stream.get(), [&] { graphed.queue(stream.get()); });
  ASSERT_FALSE(g.empty());
  rrwkv::gpu::synchronize(stream.get());
  EXPECT_EQ(graphed.results(), before) << "the captured work ran during the capture";
  for (int t = 0; t < 3; ++t) {
    direct.stage(t), graphed.stage(t);
    direct.queue(stream.get());
    g.replay(stream.get());
    rrwkv::gpu::synchronize(stream.get());
    const std::vector<float> want = direct.results();
    EXPECT_NE(want, before) << "step " << t << " changed nothing";
    EXPECT_EQ(graphed.results(), want) << "step " << t;
  }
}

TEST(GpuGraph, TheDefaultStreamCannotBeCaptured) {
  RRWKV_NEED_GPU();
  bool ran = false;
  EXPECT_THROW(Graph::capture(nullptr, [&] { ran = true; }), rrwkv::InvalidArgument);
  EXPECT_FALSE(ran);
  EXPECT_THROW(Graph().replay(nullptr), rrwkv::InvalidArgument);
}

TEST(GpuGraph, AThrowingRecordAbandonsTheCapture) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  DecodeStep step(2, 16, 1);
  EXPECT_THROW(Graph::capture(stream.get(),
                              [&] {
                                step.queue(stream.get());
                                throw std::runtime_error("record failed");
                              }),
               std::runtime_error);
  // the stream is not captured any more: work runs at once, and a new capture works
  const std::vector<float> before = step.results();
  step.queue(stream.get());
  rrwkv::gpu::synchronize(stream.get());
  EXPECT_NE(step.results(), before);
  Graph g = Graph::capture(stream.get(), [&] { step.queue(stream.get()); });
  EXPECT_FALSE(g.empty());
}

TEST(GpuGraph, SynchronizingTheCapturedStreamFails) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  EXPECT_THROW(Graph::capture(stream.get(), [&] { rrwkv::gpu::synchronize(stream.get()); }), rrwkv::DeviceError);
  rrwkv::gpu::synchronize(stream.get());  // usable again
}

// Stream-ordered scratch inside the captured work (the WKV training kernels' backward allocates
// its partial sums so): the vendor kernel fills a scratch buffer and copies it out.
TEST(GpuGraph, ScratchAllocatedInTheCaptureBelongsToTheGraph) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  std::vector<float> x(64);
  std::iota(x.begin(), x.end(), 1.0f);
  DeviceBuffer dx = to_device(x), dy(64 * sizeof(float));
  Graph g = Graph::capture(stream.get(), [&] { rrwkv::gpu::test::reverse_via_scratch(dx.as<float>(), dy.as<float>(), 64, stream.get()); });
  for (int t = 0; t < 2; ++t) {
    std::vector<float> in(64);
    for (int i = 0; i < 64; ++i) in[i] = static_cast<float>(100 * t + i);
    dx.upload(in.data(), in.size() * sizeof(float));
    g.replay(stream.get());
    rrwkv::gpu::synchronize(stream.get());
    const std::vector<float> y = to_host<float>(dy, 64);
    for (int i = 0; i < 64; ++i) ASSERT_EQ(y[i], in[63 - i]) << "replay " << t << ", element " << i;
  }
}

}  // namespace
