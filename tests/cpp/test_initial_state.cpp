// Initial states of engine rows (engine/initial_state.h) and an RWKV-7 DeepEmbed model
// (arch/rwkv7/deep_embed.h) through the engine: the paths the Python tests cover end to end,
// here under the sanitizers (tools/sanitize.sh asan) too.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "core/errors.h"
#include "engine/engine.h"
#include "engine/initial_state.h"
#include "engine/session.h"
#include "engine/state_blob.h"
#include "format/model_file.h"
#include "support/model_bytes.h"

namespace {

rrwkv::ModelConfig rwkv7_config(uint64_t deep_embed) {
  rrwkv::ModelConfig c;
  c.arch = "rwkv7";
  c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 40;
  c.head_size = 16, c.group_norm_eps = 64e-5;
  c.lora_decay = 4, c.lora_a = 4, c.lora_v = 4, c.lora_gate = 8;
  c.deep_embed = deep_embed;
  return c;
}

std::shared_ptr<const rrwkv::Model> open(const std::string& bytes) {
  return std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
}

// The floats of a row's state (the end of its blob, after the header).
std::vector<float> state_floats(const rrwkv::Engine& e, int64_t row) {
  const std::string blob = e.get_state(row);
  const auto n = static_cast<size_t>(e.model()->state_schema().floats());
  std::vector<float> out(n);
  std::memcpy(out.data(), blob.data() + blob.size() - n * sizeof(float), n * sizeof(float));
  return out;
}

TEST(InitialState, RowsStartFromItAndResetReturnsToIt) {
  const std::string bytes = rrwkv::testing::build_model(rwkv7_config(0));
  auto model = open(bytes);
  const int64_t floats = model->state_schema().floats();
  std::vector<float> values(static_cast<size_t>(floats));
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(0.1f * static_cast<float>(i));
  rrwkv::InitialState initial = rrwkv::make_initial_state(model->state_schema(), values);
  rrwkv::Engine e(model, rrwkv::EngineOptions{2, 1});
  const int64_t tuned = e.add(initial), plain = e.add();
  EXPECT_EQ(state_floats(e, tuned), values);
  EXPECT_EQ(state_floats(e, plain), std::vector<float>(values.size(), 0.0f));
  const int64_t rows[] = {tuned, plain}, toks[] = {3, 3};
  e.step(rows, toks, 2, nullptr);
  EXPECT_NE(state_floats(e, tuned), values);
  e.reset(tuned);
  EXPECT_EQ(state_floats(e, tuned), values);
  EXPECT_EQ(e.pos(tuned), 0);
  e.remove(tuned);  // a row added later starts from the model's own state
  const int64_t again = e.add();
  EXPECT_EQ(state_floats(e, again), std::vector<float>(values.size(), 0.0f));
  EXPECT_EQ(e.initial_state(again), nullptr);
  // a session and its clone keep theirs
  rrwkv::Session s(model, 1, 128, rrwkv::Device::cpu(), initial);
  auto twin = s.clone();
  EXPECT_EQ(twin->initial_state(), initial);
}

TEST(InitialState, WrongSizesAndValuesAreRefused) {
  const std::string bytes = rrwkv::testing::build_model(rwkv7_config(0));
  auto model = open(bytes);
  const auto& schema = model->state_schema();
  std::vector<float> short_one(static_cast<size_t>(schema.floats() - 1));
  EXPECT_THROW(rrwkv::make_initial_state(schema, short_one), rrwkv::InvalidArgument);
  std::vector<float> bad(static_cast<size_t>(schema.floats()));
  bad[static_cast<size_t>(schema.layer_floats() + 40)] = std::numeric_limits<float>::quiet_NaN();
  try {
    rrwkv::make_initial_state(schema, bad);
    FAIL() << "a NaN was accepted";
  } catch (const rrwkv::InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("layer 1, field wkv"), std::string::npos) << e.what();
  }
  rrwkv::Engine e(model, rrwkv::EngineOptions{1, 1});
  auto wrong = std::make_shared<const std::vector<float>>(3, 0.0f);
  EXPECT_THROW(e.add(wrong), rrwkv::InvalidArgument);
  EXPECT_EQ(e.rows().size(), 0u);  // nothing added
}

TEST(DeepEmbed, ModelRunsAndSteppingEqualsSequenceMode) {
  const std::string bytes = rrwkv::testing::build_model(rwkv7_config(4));
  auto model = open(bytes);
  EXPECT_EQ(model->config().deep_embed, 4u);
  rrwkv::Session stepped(model, 1), seq(model, 1, 3);
  const int64_t toks[] = {1, 7, 39, 0, 12, 12, 5};
  const int64_t n = 7, V = model->vocab_size();
  std::vector<float> one(static_cast<size_t>(V)), all(static_cast<size_t>(n * V));
  seq.forward(toks, n, all.data(), true);
  for (int64_t t = 0; t < n; ++t) {
    stepped.step(toks[t], one.data());
    for (int64_t v = 0; v < V; ++v) {
      ASSERT_TRUE(std::isfinite(one[static_cast<size_t>(v)]));
      EXPECT_NEAR(one[static_cast<size_t>(v)], all[static_cast<size_t>(t * V + v)], 1e-5) << t << " " << v;
    }
  }
  // the table matters: the same weights without DeepEmbed compute something else
  const std::string plain_bytes = rrwkv::testing::build_model(rwkv7_config(0));  // the model reads it in place
  auto plain = open(plain_bytes);
  rrwkv::Session p(plain, 1);
  std::vector<float> other(static_cast<size_t>(V));
  for (int64_t t = 0; t < n; ++t) p.step(toks[t], other.data());
  EXPECT_NE(other, one);
}

}  // namespace
