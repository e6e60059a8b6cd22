// Decode steps as captured graphs (engine/decode_graphs.h) on the CUDA device: an engine that
// replays a graph per batch-size bucket gives the same logits and states, bit for bit, as one that
// runs every step launch by launch, for every architecture (RWKV-4, RRWKV in both channel-mix modes
// with rows at and off segment ends, RWKV-5.2, RWKV-6, RWKV-7, RWKV-7 DeepEmbed), over steps whose
// rows join and leave and whose sizes move across buckets (padded and full ones, with and without
// logits) and across a growth of the call scratch that makes every graph stale. The graph counters
// prove that the replays ran. Device indices: cuda:0 named explicitly works; cuda:1 is refused
// by name before any weight is copied.
#include <algorithm>
#include <cstdlib>
#include <memory>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "core/errors.h"
#include "engine/decode_graphs.h"
#include "engine/engine.h"
#include "format/model_file.h"
#include "gpu/gpu_test.h"
#include "kernels/wkv/wkv.h"
#include "support/model_bytes.h"

namespace {

using rrwkv::Device;
using rrwkv::Engine;
using rrwkv::EngineOptions;
using rrwkv::ModelConfig;

struct Case {
  std::string name;
  ModelConfig cfg;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

ModelConfig config(const std::string& arch) {
  ModelConfig c;
  c.arch = arch;
  c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 40;
  if (arch == "rrwkv") c.medium_interval = 3;
  if (arch == "rwkv5" || arch == "rwkv6" || arch == "rwkv7") c.head_size = 16, c.group_norm_eps = 64e-5;
  if (arch == "rwkv6") c.lora_mix = 4, c.lora_decay = 4;
  if (arch == "rwkv7") c.lora_decay = 4, c.lora_a = 4, c.lora_v = 4, c.lora_gate = 8;
  return c;
}

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const char* arch : {"rwkv4", "rrwkv", "rwkv5", "rwkv6", "rwkv7"}) out.push_back({arch, config(arch)});
  out.push_back({"rrwkv_add_s2", config("rrwkv")});
  out.back().cfg.medium_interval = 2, out.back().cfg.cm_mode = "add";
  out.push_back({"rwkv7_deep_embed", config("rwkv7")});
  out.back().cfg.deep_embed = 8;
  return out;
}

std::shared_ptr<const rrwkv::Model> make_model(const ModelConfig& cfg) {
  static std::vector<std::string> files;  // the model reads the bytes in place: keep them alive
  files.push_back(rrwkv::testing::build_model(cfg));
  return std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(files.back().data(), files.back().size(), "<test>"));
}

std::unique_ptr<Engine> make_engine(const std::shared_ptr<const rrwkv::Model>& model, bool graphs) {
  EngineOptions o;
  o.capacity = 6, o.threads = 1, o.prefill_chunk = 16, o.device = Device::cuda(0), o.cuda_graphs = graphs;
  return std::make_unique<Engine>(model, o);
}

// Two engines, one with graphs and one without, driven alike; every result compared bit for bit.
class Pair {
 public:
  explicit Pair(const std::shared_ptr<const rrwkv::Model>& model)
      : V_(model->vocab_size()), on_(make_engine(model, true)), off_(make_engine(model, false)) {}

  Engine& on() { return *on_; }
  Engine& off() { return *off_; }

  int64_t add() {
    const int64_t r = on_->add();
    EXPECT_EQ(off_->add(), r);
    return r;
  }
  void remove(int64_t r) { on_->remove(r), off_->remove(r); }
  void forward(int64_t r, int64_t n, int64_t seed, bool all_logits = false) {
    const std::vector<int64_t> toks = tokens(n, seed);
    std::vector<float> a(static_cast<size_t>(n * V_)), b(a.size());
    on_->forward(r, toks.data(), n, a.data(), all_logits);
    off_->forward(r, toks.data(), n, b.data(), all_logits);
    EXPECT_EQ(a, b) << "forward of row " << r;
  }
  // One step of `rows`; records which rows were at a segment end of interval s (s > 0).
  void step(const std::vector<int64_t>& rows, int64_t seed, bool want_logits = true, int64_t s = 0) {
    const int64_t n = static_cast<int64_t>(rows.size());
    for (int64_t r : rows)
      if (s > 0) (rrwkv::wkv::first_segment_end(on_->pos(r), s) == 0 ? at_end_ : off_end_) += 1;
    const std::vector<int64_t> toks = tokens(n, seed);
    std::vector<float> a(static_cast<size_t>(n * V_), -1.0f), b(a.size(), -2.0f);
    on_->step(rows.data(), toks.data(), n, want_logits ? a.data() : nullptr);
    off_->step(rows.data(), toks.data(), n, want_logits ? b.data() : nullptr);
    if (want_logits) {
      EXPECT_EQ(a, b) << "a step of " << n << " rows";
      EXPECT_NE(a[0], a[1]);  // real logits, not a constant
    }
  }
  void expect_same_states() {
    const std::vector<int64_t> rows = on_->rows();
    ASSERT_EQ(rows, off_->rows());
    for (int64_t r : rows) {
      EXPECT_EQ(on_->pos(r), off_->pos(r)) << "row " << r;
      EXPECT_TRUE(on_->get_state(r) == off_->get_state(r)) << "the state of row " << r;
    }
  }
  int64_t at_end_ = 0, off_end_ = 0;  // rows stepped at / off a segment end

 private:
  std::vector<int64_t> tokens(int64_t n, int64_t seed) const {
    std::vector<int64_t> t(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) t[static_cast<size_t>(i)] = (seed * 7 + i * 13 + 3) % V_;
    return t;
  }
  int64_t V_;
  std::unique_ptr<Engine> on_, off_;
};

class EngineGraphs : public ::testing::TestWithParam<Case> {};

TEST_P(EngineGraphs, ReplayedStepsEqualUncapturedOnesBitForBit) {
  RRWKV_NEED_GPU();
  const ModelConfig& cfg = GetParam().cfg;
  const int64_t s = cfg.arch == "rrwkv" ? static_cast<int64_t>(cfg.medium_interval) : 0;
  Pair p(make_model(cfg));
  ASSERT_TRUE(p.on().uses_graphs());
  ASSERT_FALSE(p.off().uses_graphs());
  const int64_t a = p.add(), b = p.add(), c = p.add();
  p.forward(a, 1, 1), p.forward(b, 4, 2), p.forward(c, 6, 3);  // rows at different positions
  // (a's one-token forward is a decode step: bucket 1's first)
  int64_t seed = 10;
  for (int i = 0; i < 3; ++i) p.step({a}, seed++, true, s);  // bucket 1: captured, then replayed
  for (int i = 0; i < 3; ++i) p.step({c, a, b}, seed++, true, s);  // bucket 4 with a padding row
  const int64_t d = p.add(), e = p.add();
  p.forward(d, 2, 4);
  for (int i = 0; i < 3; ++i) p.step({a, b, c, d, e}, seed++, true, s);  // bucket 6 (the capacity), one padding row
  p.remove(b);  // a row leaves; the others go on in another bucket
  for (int i = 0; i < 2; ++i) p.step({e, a, c, d}, seed++, true, s);  // bucket 4 again, full
  for (int i = 0; i < 2; ++i) p.step({c, d}, seed++, false, s);  // bucket 2, no logits: its own graph
  p.expect_same_states();
  const rrwkv::GraphStats before = p.on().graph_stats();
  EXPECT_EQ(before.uncaptured, 4);  // (1), (4), (6), (2, no logits): each bucket's first step
  EXPECT_EQ(before.captures, 4);
  EXPECT_EQ(before.replays, 3 + 2 + 2 + 2 + 1);  // every step after a bucket's first
  // every token's logits for 16 tokens outgrow the call scratch: it moves, every graph is stale
  p.forward(c, 16, 5, true);
  const int64_t f = p.add();  // joins in b's place
  EXPECT_EQ(f, b);
  p.forward(f, 3, 6);
  for (int i = 0; i < 3; ++i) p.step({a, c, d, e, f}, seed++, true, s);  // bucket 6: captured again
  for (int i = 0; i < 6; ++i) p.step({f}, seed++, true, s);
  p.expect_same_states();
  const rrwkv::GraphStats after = p.on().graph_stats();
  EXPECT_EQ(after.uncaptured, before.uncaptured);  // no bucket is new
  EXPECT_EQ(after.captures, before.captures + 2);  // (6) and (1), made again at the new addresses
  EXPECT_EQ(after.replays, before.replays + 9);
  EXPECT_EQ(p.off().graph_stats().replays, 0);
  if (s > 0) {  // RRWKV: steps at a segment end (a medium folds in) and off one, in the same buckets
    EXPECT_GT(p.at_end_, 5);
    EXPECT_GT(p.off_end_, 5);
  }
}

INSTANTIATE_TEST_SUITE_P(Architectures, EngineGraphs, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(EngineGraphsBuckets, AreSmallPowersOfTwoThenMultiplesOf16CappedAtTheCapacity) {
  using rrwkv::DecodeGraphs;
  const std::vector<std::pair<int64_t, int64_t>> want = {{1, 1}, {2, 2}, {3, 4}, {5, 8}, {9, 16}, {16, 16},
                                                         {17, 32}, {33, 48}, {250, 256}};
  for (auto [n, bucket] : want) EXPECT_EQ(DecodeGraphs::bucket(n, 4096), bucket) << n;
  EXPECT_EQ(DecodeGraphs::bucket(5, 6), 6);
  EXPECT_EQ(DecodeGraphs::bucket(40, 40), 40);
  EXPECT_EQ(DecodeGraphs::bucket(1, 1), 1);
}

TEST(EngineGraphsEnvironment, RrwkvCudaGraphs0TurnsThemOff) {
  RRWKV_NEED_GPU();
  auto model = make_model(config("rwkv4"));
  ::setenv("RRWKV_CUDA_GRAPHS", "0", 1);
  auto off = make_engine(model, true);
  ::unsetenv("RRWKV_CUDA_GRAPHS");
  EXPECT_FALSE(off->uses_graphs());
  EXPECT_TRUE(make_engine(model, true)->uses_graphs());
}

TEST(EngineDevices, CudaZeroByNameWorksAndCudaOneIsRefusedBeforeAnythingIsCopied) {
  RRWKV_NEED_GPU();
  auto model = make_model(config("rwkv7"));
  EngineOptions o;
  o.capacity = 2, o.threads = 1, o.device = Device::cuda(0);
  Engine e(model, o);
  EXPECT_EQ(e.device(), Device::cuda(0));
  const int64_t r = e.add(), tok = 5;
  std::vector<float> logits(static_cast<size_t>(model->vocab_size()));
  e.step(&r, &tok, 1, logits.data());
  EXPECT_NE(logits[0], logits[1]);
  if (rrwkv::cuda_device_count() != 1) GTEST_SKIP() << "the refusal below is for a machine with one device";
  o.device = Device::cuda(1);
  try {
    Engine bad(model, o);
    FAIL() << "an engine on cuda:1 with one device";
  } catch (const rrwkv::InvalidArgument& err) {  // before the weights: placing them there fails otherwise
    EXPECT_NE(std::string(err.what()).find("no such device: cuda:1; found 1 CUDA device (cuda:0)"), std::string::npos)
        << err.what();
  }
}

}  // namespace
