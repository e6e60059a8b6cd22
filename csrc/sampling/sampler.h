// Token sampling with the semantics of the `rwkv` package's PIPELINE (rwkv/utils.py):
// banned tokens, then presence / frequency penalties from decaying occurrence counts, then
// top-p and top-k on the softmax at temperature 1, then the temperature, then one draw.
// Added here: min-p (a filter like top-p, on the same probabilities), a multiplicative
// repetition penalty (off by default), stop tokens, an additive per-token bias (OpenAI's
// logit_bias), a per-call mask of allowed tokens (constrained decoding: a grammar's next-token
// set), and a seeded generator of our own so that a seed gives the same tokens on every
// platform and standard library.
//
// Thread-safety: a Sampler belongs to one sequence; calls on one Sampler must not overlap.
// Nothing is allocated per token: the scratch is sized once, at construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace rrwkv {

class Tokenizer;

// A bias added to one token's logit before anything else is done with it (OpenAI's logit_bias).
struct TokenBias {
  int64_t token;
  float bias;  // finite; entries for the same token add up
};

// Words of an allowed-token mask for `vocab_size` tokens: bit (t % 32) of word t / 32 is token t
// (llguidance's and xgrammar's layout).
inline size_t mask_words(size_t vocab_size) { return (vocab_size + 31) / 32; }

struct SamplerParams {
  double temperature = 1.0;         // >= 0; 0 = greedy (argmax after bans and penalties)
  int64_t top_k = 0;                // >= 0; 0 = off
  double top_p = 0.85;              // [0, 1]; 1 = off; 0 keeps only the most likely token(s); 0.85 as generate()
                                    // and the rwkv package's PIPELINE_ARGS
  double min_p = 0.0;               // [0, 1]; keeps tokens with p >= min_p * p_max; 0 = off
  double alpha_presence = 0.0;      // subtracted from the logit of every token seen so far
  double alpha_frequency = 0.0;     // times the token's (decayed) occurrence count, subtracted too
  double alpha_decay = 0.996;       // [0, 1]; every count is multiplied by it at each accept()
  double repetition_penalty = 1.0;  // > 0; seen tokens' logits: positive / rp, negative * rp; 1 = off
  std::vector<int64_t> banned_tokens;  // never sampled (logit -inf)
  std::vector<int64_t> stop_tokens;    // is_stop() is true for them; sample() may return them
  std::vector<TokenBias> logit_bias;   // added to the model's logits, after the bans
  // Weight a token adds to its count at accept(); empty = 1 for every token. The rwkv package
  // adds 0 for tokens whose text is part of " \t0123456789": occurrence_weights() builds that.
  std::vector<float> occurrence_weights;
  std::optional<uint64_t> seed;  // nullopt = seeded from std::random_device
};

class Sampler {
 public:
  // Throws InvalidArgument naming the parameter and its valid range, OutOfRange for a banned or
  // stop token outside [0, vocab_size).
  Sampler(size_t vocab_size, SamplerParams params);

  size_t vocab_size() const { return vocab_; }
  const SamplerParams& params() const { return params_; }
  uint64_t seed() const { return seed_; }

  // One token from `n` logits (n must equal vocab_size()). `allowed`, if not null, is a mask of
  // mask_words(n) words: tokens whose bit is 0 are treated as banned for this draw. Throws
  // InvalidArgument if no token can be drawn (every token banned or masked out, or every logit
  // -inf / NaN).
  int64_t sample(const float* logits, size_t n, const uint32_t* allowed = nullptr);
  // Records a token that was kept: decays every count, then adds the token's weight.
  void accept(int64_t token);
  bool is_stop(int64_t token) const;
  // Forgets every occurrence and restarts the generator from the seed.
  void reset();

  // The logits sample() draws from: bans, bias, mask and penalties applied (diagnostics, tests,
  // log-probabilities).
  void adjust_logits(const float* logits, size_t n, float* out, const uint32_t* allowed = nullptr) const;
  // Replaces the logit bias (the same checks as at construction); counts and generator unchanged.
  void set_logit_bias(std::vector<TokenBias> bias);
  // The occurrence count of a token and whether it was seen (a seen token with count 0 still
  // pays the presence penalty, as in the rwkv package).
  double occurrence(int64_t token) const;
  bool seen(int64_t token) const;

 private:
  void check_token(int64_t token, const char* what) const;
  double uniform();  // [0, 1) with 53 random bits
  int64_t draw(const int32_t* ids, size_t n, double temperature, float max_logit);

  size_t vocab_;
  SamplerParams params_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  std::vector<uint8_t> banned_, stop_, seen_;
  std::vector<float> bias_;          // per token, summed from params_.logit_bias; empty when none
  std::vector<int32_t> bias_list_;   // tokens with a bias entry
  std::vector<double> counts_;
  std::vector<int32_t> seen_list_;  // tokens with seen_ set, in first-seen order
  // scratch
  std::vector<float> work_;    // adjusted logits
  std::vector<float> q_;       // exp(logit - max), then the weights of the draw
  std::vector<int32_t> ids_;   // candidate ids
};

// Per-token accept() weights as the rwkv package's PIPELINE computes them: 0 for a token whose
// text (valid UTF-8) is a substring of " \t0123456789", the empty string included, else 1.
// Ids the tokenizer does not have (>= its vocab_size) get 1.
std::vector<float> occurrence_weights(const Tokenizer& tokenizer, size_t vocab_size);

}  // namespace rrwkv
