// The sampler from C++: greedy, seeds, exact supports, parameter validation, occurrence decay.
// (The distribution and the comparison with the rwkv package are in tests/generation/.)
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "core/errors.h"
#include "sampling/sampler.h"

namespace {

using rrwkv::Sampler;
using rrwkv::SamplerParams;

// p = 0.3 0.2 0.15 0.1 0.1 0.05 0.05 0.03 0.01 0.01
std::vector<float> hand_logits() {
  const double p[10] = {0.3, 0.2, 0.15, 0.1, 0.1, 0.05, 0.05, 0.03, 0.01, 0.01};
  std::vector<float> l(10);
  for (int i = 0; i < 10; ++i) l[i] = static_cast<float>(std::log(p[i]));
  return l;
}

std::set<int64_t> support(SamplerParams p, int n = 4000) {
  p.seed = 7;
  Sampler s(10, p);
  const std::vector<float> l = hand_logits();
  std::set<int64_t> seen;
  for (int i = 0; i < n; ++i) seen.insert(s.sample(l.data(), l.size()));
  return seen;
}

TEST(Sampler, GreedyIsArgmaxWithLowestIdOnTies) {
  SamplerParams p;
  p.temperature = 0.0;
  Sampler s(5, p);
  const float l[5] = {0.f, 2.f, 1.f, 2.f, -1.f};
  EXPECT_EQ(s.sample(l, 5), 1);
}

TEST(Sampler, SupportsAreExact) {
  SamplerParams p;
  p.top_k = 3;
  EXPECT_EQ(support(p), (std::set<int64_t>{0, 1, 2}));
  p = {};
  p.top_p = 0.7;  // cutoff 0.1, both tied tokens stay
  EXPECT_EQ(support(p), (std::set<int64_t>{0, 1, 2, 3, 4}));
  p = {};
  p.min_p = 0.4;
  EXPECT_EQ(support(p), (std::set<int64_t>{0, 1, 2}));
  p = {};
  p.banned_tokens = {0, 1};
  p.top_k = 2;
  EXPECT_EQ(support(p), (std::set<int64_t>{2, 3}));
}

TEST(Sampler, SameSeedSameTokensAndResetReplays) {
  SamplerParams p;
  p.seed = 99;
  Sampler a(10, p), b(10, p);
  const std::vector<float> l = hand_logits();
  std::vector<int64_t> da, db;
  for (int i = 0; i < 100; ++i) da.push_back(a.sample(l.data(), 10)), db.push_back(b.sample(l.data(), 10));
  EXPECT_EQ(da, db);
  a.reset();
  for (int i = 0; i < 100; ++i) EXPECT_EQ(a.sample(l.data(), 10), da[i]);
}

TEST(Sampler, CountsDecayBeforeTheNewTokenIsAdded) {
  SamplerParams p;
  p.alpha_presence = 0.5;
  p.alpha_frequency = 1.0;
  p.alpha_decay = 0.5;
  Sampler s(4, p);
  s.accept(2);
  s.accept(2);
  s.accept(3);
  EXPECT_DOUBLE_EQ(s.occurrence(2), (1.0 * 0.5 + 1.0) * 0.5);
  EXPECT_DOUBLE_EQ(s.occurrence(3), 1.0);
  const float zero[4] = {0, 0, 0, 0};
  float out[4];
  s.adjust_logits(zero, 4, out);
  EXPECT_FLOAT_EQ(out[2], -(0.5f + 0.75f));
  EXPECT_FLOAT_EQ(out[3], -1.5f);
  EXPECT_EQ(out[0], 0.0f);
}

TEST(Sampler, BadParametersNameTheirRange) {
  SamplerParams p;
  p.temperature = -1;
  try {
    Sampler s(10, p);
    FAIL() << "no exception";
  } catch (const rrwkv::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("temperature must be a finite number >= 0"), std::string::npos) << e.what();
  }
  p = {};
  p.top_p = 2;
  EXPECT_THROW(Sampler(10, p), rrwkv::InvalidArgument);
  p = {};
  p.stop_tokens = {10};
  EXPECT_THROW(Sampler(10, p), rrwkv::OutOfRange);
  p = {};
  p.banned_tokens = {0, 1, 2};
  Sampler all_banned(3, p);
  const float l[3] = {0, 0, 0};
  EXPECT_THROW(all_banned.sample(l, 3), rrwkv::InvalidArgument);
  EXPECT_THROW(all_banned.sample(l, 2), rrwkv::InvalidArgument);
}

}  // namespace
