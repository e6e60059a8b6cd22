// Concurrency: the thread pool's regions, one Model shared by sessions on many threads, one
// session called from several threads, and the fast path's engines. Run under ThreadSanitizer by tools/sanitize.sh tsan; in
// the plain build they check the results are the same as when run alone.
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

#include "core/pack_cache.h"
#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/model.h"
#include "engine/session.h"
#include "format/model_file.h"
#include "support/model_bytes.h"

namespace {

std::shared_ptr<const rrwkv::Model> small_model(std::string& bytes_out) {
  rrwkv::ModelConfig c;
  c.arch = "rrwkv", c.cm_mode = "add", c.medium_interval = 2;
  c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 50;
  bytes_out = rrwkv::testing::build_model(c);
  return std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes_out.data(), bytes_out.size(), "<test>"));
}

std::vector<float> run_tokens(rrwkv::Session& s, int n, int seed) {
  std::vector<float> logits(static_cast<size_t>(s.model()->vocab_size()));
  for (int i = 0; i < n; ++i) s.step((seed * 7 + i * 3) % s.model()->vocab_size(), logits.data());
  return logits;
}

TEST(Concurrency, ThreadPoolRunsEveryTaskOncePerRegion) {
  rrwkv::ThreadPool pool(4);
  std::vector<std::atomic<int>> hits(1000);
  for (int region = 0; region < 200; ++region) {
    const int64_t n = 1 + region * 5 % 1000;
    pool.run(n, [&](int64_t task, int) { hits[static_cast<size_t>(task)].fetch_add(1, std::memory_order_relaxed); });
  }
  int64_t total = 0;
  for (auto& h : hits) total += h.load();
  int64_t expected = 0;
  for (int region = 0; region < 200; ++region) expected += 1 + region * 5 % 1000;
  EXPECT_EQ(total, expected);
}

TEST(Concurrency, SessionsOnOneModelFromManyThreads) {
  std::string bytes;
  auto model = small_model(bytes);
  rrwkv::Session alone(model, 2);
  const std::vector<float> expected = run_tokens(alone, 20, 1);
  std::vector<std::vector<float>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      rrwkv::Session s(model, 2);
      got[static_cast<size_t>(t)] = run_tokens(s, 20, 1);
    });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

TEST(Concurrency, OneSessionCalledFromSeveralThreadsIsSerialised) {
  std::string bytes;
  auto model = small_model(bytes);
  rrwkv::Session s(model, 2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([&] { run_tokens(s, 10, 2); });
  for (auto& th : threads) th.join();
  EXPECT_EQ(s.pos(), 30);
}

// The fast path (exact=false) on engines of 2 threads, several engines at once on one model: its
// scratch, the prepared activations shared by a call's tasks and the per-thread weight tiles,
// under ThreadSanitizer. The model is wide enough for several tasks per projection and for the
// activations to be prepared in a parallel region; results equal one engine running alone.
TEST(Concurrency, FastPathEnginesOnManyThreadsEqualOneAlone) {
  rrwkv::ModelConfig c;
  c.arch = "rwkv4", c.n_layer = 2, c.n_embd = 256, c.ffn_dim = 512, c.vocab_size = 600;
  const std::string bytes = rrwkv::testing::build_model(c, rrwkv::DType::F16);
  auto model = std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
  auto run = [&] {
    rrwkv::EngineOptions o;
    o.capacity = 8, o.threads = 2, o.exact = false;
    rrwkv::Engine e(model, o);
    std::vector<int64_t> rows, prompt(64), toks(8);
    for (int i = 0; i < 8; ++i) rows.push_back(e.add());
    for (size_t i = 0; i < prompt.size(); ++i) prompt[i] = static_cast<int64_t>(i * 37 % 600);
    e.forward(rows[0], prompt.data(), 64, nullptr, false);  // a prefill: the parallel preparation
    std::vector<float> logits(8 * 600);
    for (int step = 0; step < 3; ++step) {
      for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int64_t>((step * 11 + i * 5) % 600);
      e.step(rows.data(), toks.data(), 8, logits.data());
    }
    return logits;
  };
  const std::vector<float> expected = run();
  std::vector<std::vector<float>> got(3);
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) threads.emplace_back([&, t] { got[static_cast<size_t>(t)] = run(); });
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, expected);
}

// Engines starting at once on a fresh model: the first fast step of each asks for the same
// packed weights (core/pack_cache.h) at the same time; one packs each matrix, the others wait for
// it, and every engine's numbers equal an engine's on a model of its own.
TEST(Concurrency, FastPathEnginesPackingAFreshModelAtOnceEqualOneAlone) {
  rrwkv::ModelConfig c;
  c.arch = "rwkv4", c.n_layer = 2, c.n_embd = 256, c.ffn_dim = 512, c.vocab_size = 600;
  for (rrwkv::DType dt : {rrwkv::DType::F16, rrwkv::DType::F32}) {
    const std::string bytes = rrwkv::testing::build_model(c, dt);
    auto fresh = [&] {
      return std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
    };
    auto run = [](const std::shared_ptr<rrwkv::Model>& model) {
      rrwkv::EngineOptions o;
      o.capacity = 4, o.threads = 2, o.exact = false;
      rrwkv::Engine e(model, o);
      std::vector<int64_t> rows, toks(4);
      for (int i = 0; i < 4; ++i) rows.push_back(e.add());
      std::vector<float> logits(4 * 600);
      for (int step = 0; step < 2; ++step) {
        for (size_t i = 0; i < toks.size(); ++i) toks[i] = static_cast<int64_t>((step * 13 + i * 7) % 600);
        e.step(rows.data(), toks.data(), 4, logits.data());
      }
      return logits;
    };
    const std::vector<float> expected = run(fresh());
    auto shared = fresh();
    std::vector<std::vector<float>> got(3);
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) threads.emplace_back([&, t] { got[static_cast<size_t>(t)] = run(shared); });
    for (auto& th : threads) th.join();
    for (const auto& g : got) EXPECT_EQ(g, expected) << rrwkv::dtype_name(dt);
  }
}

// The cache itself: threads asking for one matrix at once get one packing and one pointer; a
// packing that throws keeps nothing, and the next call packs.
TEST(Concurrency, PackCachePacksEachMatrixOnceForThreadsAskingAtOnce) {
  rrwkv::PackCache cache;
  alignas(64) static const float data[4 * 8] = {};
  const rrwkv::Matrix m = rrwkv::Matrix::dense(data, rrwkv::DType::F32, 4, 8);
  int kind = 0;
  std::atomic<int> fills{0};
  std::vector<const uint8_t*> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      got[static_cast<size_t>(t)] = cache.get(m, &kind, 256, [&](uint8_t* out) {
        fills.fetch_add(1);
        std::memset(out, 7, 256);
      });
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(fills.load(), 1);
  for (const uint8_t* p : got) {
    EXPECT_EQ(p, got[0]);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  }
  EXPECT_EQ(got[0][255], 7);
  EXPECT_EQ(cache.count(), 1);
  EXPECT_GE(cache.bytes(), 256);
  int other = 0;
  EXPECT_THROW(cache.get(m, &other, 64, [](uint8_t*) { throw std::runtime_error("out of memory"); }), std::runtime_error);
  EXPECT_EQ(cache.count(), 1);
  EXPECT_NE(cache.get(m, &other, 64, [](uint8_t* out) { out[0] = 1; }), nullptr);
  EXPECT_EQ(cache.count(), 2);
}

}  // namespace
