// The final hidden state the engine hands out for embeddings (Engine::forward's `hidden`):
// it is what the head reads (head · hidden gives the logits), asking for it changes neither the
// logits nor the state, and the last token's equals the last row of the every-token form.
// Every architecture: they share the head code (arch/base/outer.cpp). The values against the PyTorch
// reference are checked in tests/runtime/test_rt_hidden_state.py.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "format/model_file.h"
#include "support/model_bytes.h"

namespace {

rrwkv::ModelConfig config(const std::string& arch) {
  rrwkv::ModelConfig c;
  c.arch = arch;
  c.n_layer = 2, c.n_embd = 32, c.ffn_dim = 64, c.vocab_size = 40;
  if (arch != "rwkv4") c.head_size = 16, c.group_norm_eps = 64e-5;
  if (arch == "rwkv6") c.lora_mix = 4, c.lora_decay = 4;
  if (arch == "rwkv7") c.lora_decay = 4, c.lora_a = 4, c.lora_v = 4, c.lora_gate = 8;
  return c;
}

class HiddenState : public ::testing::TestWithParam<std::string> {};

TEST_P(HiddenState, IsWhatTheHeadReads) {
  const std::string bytes = rrwkv::testing::build_model(config(GetParam()));
  auto model = std::make_shared<rrwkv::Model>(rrwkv::ModelFile::from_buffer(bytes.data(), bytes.size(), "<test>"));
  const int64_t C = 32, V = 40;
  rrwkv::EngineOptions o;
  o.capacity = 2, o.threads = 1, o.prefill_chunk = 4;  // 7 tokens: pieces of 4 and 3
  rrwkv::Engine e(model, o);
  const int64_t a = e.add(), b = e.add();
  const int64_t toks[] = {1, 5, 9, 2, 33, 7, 0};
  std::vector<float> logits(V), logits_h(V), hidden(C), all(7 * C);
  e.forward(a, toks, 7, logits.data(), false);
  e.forward(b, toks, 7, logits_h.data(), false, hidden.data());
  EXPECT_EQ(logits, logits_h);        // asking for the hidden state changes no logit
  EXPECT_EQ(e.get_state(a), e.get_state(b));  // nor the state
  const rrwkv::TensorInfo& head = model->file().tensor("head.weight");
  ASSERT_EQ(head.dtype, rrwkv::DType::F32);
  const float* w = static_cast<const float*>(head.data);
  for (int64_t v = 0; v < V; ++v) {
    double dot = 0.0;
    for (int64_t c = 0; c < C; ++c) dot += static_cast<double>(w[v * C + c]) * hidden[static_cast<size_t>(c)];
    EXPECT_NEAR(dot, logits[static_cast<size_t>(v)], 1e-4 * (1.0 + std::fabs(dot))) << "token " << v;
  }
  double norm = 0.0;
  for (float x : hidden) norm += static_cast<double>(x) * x;
  EXPECT_GT(norm, 0.0);
  // every token's, without logits: the last row is the last token's, bit for bit
  e.reset(a);
  e.forward(a, toks, 7, nullptr, true, all.data());
  EXPECT_EQ(std::vector<float>(all.end() - C, all.end()), hidden);
  EXPECT_EQ(e.get_state(a), e.get_state(b));
}

INSTANTIATE_TEST_SUITE_P(Architectures, HiddenState, ::testing::Values("rwkv4", "rrwkv", "rwkv5", "rwkv6", "rwkv7"));

}  // namespace
