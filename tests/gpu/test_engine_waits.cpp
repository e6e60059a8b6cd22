// The host waits for a GPU engine only where it reads results or hands over values: a prompt fed
// in chunks without logits, a step without logits and a copy between rows queue their work and
// return (no wait); a call with logits waits once; get_state / set_state wait once each. And the
// results are those of an engine that reads its logits after every call (bit for bit). The values
// moved to the device by kernel arguments (gpu/staging.h) may change on the host at once.
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "format/model_file.h"
#include "gpu/gpu_test.h"
#include "gpu/runtime.h"
#include "gpu/staging.h"
#include "gpu/elementwise.h"
#include "support/model_bytes.h"

namespace {

using rrwkv::Device;
using rrwkv::Engine;
using rrwkv::EngineOptions;

std::shared_ptr<const rrwkv::Model> rrwkv_model() {
  static const std::string bytes = [] {
    rrwkv::ModelConfig c;
    c.arch = "rrwkv", c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 40, c.medium_interval = 3;
    return rrwkv::testing::build_model(c);
  }();
  return std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
}

std::unique_ptr<Engine> engine(const std::shared_ptr<const rrwkv::Model>& model) {
  EngineOptions o;
  o.capacity = 3, o.threads = 1, o.prefill_chunk = 4, o.device = Device::cuda(0);
  return std::make_unique<Engine>(model, o);
}

TEST(EngineWaits, OnlyWhereTheHostReadsResults) {
  RRWKV_NEED_GPU();
  auto model = rrwkv_model();
  const int64_t V = model->vocab_size();
  auto lazy = engine(model), eager = engine(model);  // eager: logits after every call
  const int64_t a = lazy->add(), b = lazy->add();
  eager->add(), eager->add();
  std::vector<int64_t> prompt(19);
  for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int64_t>(i * 7 + 2) % V;
  std::vector<float> got(static_cast<size_t>(V)), want(got.size()), all(prompt.size() * V);

  int64_t before = lazy->device_waits();
  lazy->forward(a, prompt.data(), 19, nullptr, false);  // 5 calls of at most 4 tokens
  EXPECT_EQ(lazy->device_waits(), before) << "a prompt without logits waited";
  eager->forward(a, prompt.data(), 19, all.data(), true);

  const int64_t rows[2] = {a, b}, toks[2] = {5, 9};
  std::vector<float> two(2 * V), two_eager(2 * V);
  before = lazy->device_waits();
  for (int i = 0; i < 3; ++i) lazy->step(rows, toks, 2, nullptr);  // uncaptured, captured, replayed
  EXPECT_EQ(lazy->device_waits(), before) << "steps without logits waited";
  for (int i = 0; i < 3; ++i) eager->step(rows, toks, 2, two_eager.data());
  lazy->copy_row(a, *lazy, b);
  eager->copy_row(a, *eager, b);
  EXPECT_EQ(lazy->device_waits(), before) << "a copy between rows waited";

  lazy->step(rows, toks, 2, two.data());
  EXPECT_EQ(lazy->device_waits(), before + 1);
  eager->step(rows, toks, 2, two_eager.data());
  EXPECT_EQ(two, two_eager);
  const int64_t one = 11;
  lazy->forward(b, &one, 1, got.data(), false);
  eager->forward(b, &one, 1, want.data(), false);
  EXPECT_EQ(got, want);
  before = lazy->device_waits();
  const std::string state = lazy->get_state(a);
  EXPECT_EQ(state, eager->get_state(a));
  lazy->set_state(b, state.data(), state.size());
  EXPECT_EQ(lazy->device_waits(), before + 2);
}

TEST(EngineWaits, StagedValuesMayChangeOnTheHostAtOnce) {
  RRWKV_NEED_GPU();
  rrwkv::gpu::OwnedStream stream;
  std::vector<float> src(10 * 3);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  rrwkv::gpu::DeviceBuffer s = rrwkv::gpu::to_device(src), d(2 * 500 * 3 * sizeof(float));
  rrwkv::gpu::StagingBuffer staging(2048);
  staging.begin(stream.get());
  std::vector<int64_t> rows(1000);  // three launches' worth (480 values each)
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = static_cast<int64_t>(i * 3 % 10);
  const std::vector<int64_t> kept = rows;
  const int64_t* staged = staging.stage(rows.data(), 1000);
  std::fill(rows.begin(), rows.end(), 0);  // before the device has run anything
  rrwkv::gpu::gather(s.as<float>(), 3, staged, 1000, 3, d.as<float>(), 3, stream.get());
  rrwkv::gpu::synchronize(stream.get());
  const std::vector<float> out = rrwkv::gpu::to_host<float>(d, 1000 * 3);
  for (size_t i = 0; i < kept.size(); ++i)
    for (size_t c = 0; c < 3; ++c) ASSERT_EQ(out[i * 3 + c], src[static_cast<size_t>(kept[i]) * 3 + c]) << i;
}

}  // namespace
