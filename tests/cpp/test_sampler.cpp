// The sampler from C++: greedy, seeds, exact supports, parameter validation, occurrence decay.
// (The distribution and the comparison with the rwkv package are in tests/generation/.)
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
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

TEST(Sampler, LogitBiasIsAddedAfterTheBansBeforeThePenalties) {
  SamplerParams p;
  p.alpha_presence = 0.25;
  p.banned_tokens = {1};
  p.logit_bias = {{0, 1.5f}, {1, 100.0f}, {2, -0.5f}, {2, -0.25f}};  // entries of one token add up
  Sampler s(4, p);
  s.accept(0);
  const float l[4] = {1, 2, 3, 4};
  float out[4];
  s.adjust_logits(l, 4, out);
  EXPECT_EQ(out[0], 1.0f + 1.5f - 0.25f);
  EXPECT_EQ(out[1], -std::numeric_limits<float>::infinity());  // a ban stays a ban
  EXPECT_EQ(out[2], 3.0f - 0.75f);
  EXPECT_EQ(out[3], 4.0f);
  p = {};
  p.temperature = 0.0;
  p.logit_bias = {{0, 3.5f}};
  Sampler greedy(4, p);
  EXPECT_EQ(greedy.sample(l, 4), 0);  // 1 + 3.5 beats 4
  greedy.set_logit_bias({});
  EXPECT_EQ(greedy.sample(l, 4), 3);
  EXPECT_THROW(greedy.set_logit_bias({{4, 1.0f}}), rrwkv::OutOfRange);
  EXPECT_THROW(greedy.set_logit_bias({{0, std::numeric_limits<float>::infinity()}}), rrwkv::InvalidArgument);
  EXPECT_THROW(greedy.set_logit_bias({{0, 3e38f}, {0, 3e38f}}), rrwkv::InvalidArgument);
  greedy.set_logit_bias({{2, 1.5f}});
  EXPECT_THROW(greedy.set_logit_bias({{1, 1.0f}, {9, 1.0f}}), rrwkv::OutOfRange);
  EXPECT_EQ(greedy.sample(l, 4), 2);  // a refused bias leaves the old one
}

TEST(Sampler, MaskAllowsOnlyItsTokens) {
  // 40 tokens: two mask words; allow 3 and 35 only
  std::vector<float> l(40, 0.0f);
  l[7] = 10.0f;
  const uint32_t allowed[2] = {1u << 3, 1u << (35 - 32)};
  ASSERT_EQ(rrwkv::mask_words(40), 2u);
  SamplerParams p;
  p.seed = 3;
  Sampler s(40, p);
  std::set<int64_t> seen;
  for (int i = 0; i < 200; ++i) seen.insert(s.sample(l.data(), 40, allowed));
  EXPECT_EQ(seen, (std::set<int64_t>{3, 35}));
  std::vector<float> adj(40);
  s.adjust_logits(l.data(), 40, adj.data(), allowed);
  for (int i = 0; i < 40; ++i)
    EXPECT_EQ(std::isinf(adj[i]), i != 3 && i != 35) << i;
  // without a mask the same sampler draws token 7 again; with a mask of nothing, it refuses
  p.temperature = 0.0;
  Sampler g(40, p);
  EXPECT_EQ(g.sample(l.data(), 40), 7);
  const uint32_t none[2] = {0, 0};
  EXPECT_THROW(g.sample(l.data(), 40, none), rrwkv::InvalidArgument);
  // a masked draw is the unmasked draw over the allowed tokens: the same seed, the same token
  // as banning the others
  SamplerParams q;
  q.seed = 11;
  Sampler masked(40, q);
  for (int t = 0; t < 40; ++t)
    if (t != 3 && t != 35) q.banned_tokens.push_back(t);
  Sampler banned(40, q);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(masked.sample(l.data(), 40, allowed), banned.sample(l.data(), 40));
}

}  // namespace
