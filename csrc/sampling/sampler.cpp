// The sampler: the rwkv package's PIPELINE.generate / sample_logits, step by step, without
// allocating per token. Comments name the line of rwkv/utils.py (0.8.32) each step mirrors.
#include "sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string_view>

#include "core/errors.h"
#include "tokenizer/tokenizer.h"

namespace rrwkv {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

void check_range(double v, double lo, double hi, const char* name, const char* what) {
  if (!(v >= lo && v <= hi))  // false for NaN too
    throw InvalidArgument(std::string(name) + " must be " + what + ", got " + num(v));
}

void check_params(const SamplerParams& p, size_t vocab) {
  const double inf = std::numeric_limits<double>::infinity();
  const double big = std::numeric_limits<double>::max();
  check_range(p.temperature, 0.0, big, "temperature", "a finite number >= 0 (0 = greedy, 1 = unchanged)");
  check_range(p.top_p, 0.0, 1.0, "top_p", "in [0, 1] (1 = off)");
  check_range(p.min_p, 0.0, 1.0, "min_p", "in [0, 1] (0 = off)");
  check_range(p.alpha_presence, -big, big, "presence_penalty (alpha_presence)",
              "a finite number (0 = off; > 0 discourages repeats)");
  check_range(p.alpha_frequency, -big, big, "frequency_penalty (alpha_frequency)",
              "a finite number (0 = off; > 0 discourages repeats)");
  check_range(p.alpha_decay, 0.0, 1.0, "penalty_decay (alpha_decay)", "in [0, 1] (1 = no decay)");
  if (!(p.repetition_penalty > 0.0 && p.repetition_penalty < inf))
    throw InvalidArgument("repetition_penalty must be a finite number > 0 (1 = off), got " +
                          num(p.repetition_penalty));
  if (p.top_k < 0)
    throw InvalidArgument("top_k must be >= 0 (0 = off), got " + std::to_string(p.top_k));
  if (!p.occurrence_weights.empty()) {
    if (p.occurrence_weights.size() != vocab)
      throw InvalidArgument("occurrence_weights has " + std::to_string(p.occurrence_weights.size()) +
                            " entries; expected one per token (" + std::to_string(vocab) + ") or none");
    for (size_t i = 0; i < vocab; ++i)
      if (!std::isfinite(p.occurrence_weights[i]))
        throw InvalidArgument("occurrence_weights[" + std::to_string(i) + "] is " +
                              num(p.occurrence_weights[i]) + "; expected a finite number");
  }
}

}  // namespace

Sampler::Sampler(size_t vocab_size, SamplerParams params)
    : vocab_(vocab_size), params_(std::move(params)) {
  if (vocab_ == 0 || vocab_ > static_cast<size_t>(std::numeric_limits<int32_t>::max()))
    throw InvalidArgument("vocab_size must be in [1, 2**31 - 1], got " + std::to_string(vocab_size));
  check_params(params_, vocab_);
  banned_.assign(vocab_, 0);
  stop_.assign(vocab_, 0);
  for (int64_t t : params_.banned_tokens) {
    check_token(t, "banned token");
    banned_[t] = 1;
  }
  for (int64_t t : params_.stop_tokens) {
    check_token(t, "stop token");
    stop_[t] = 1;
  }
  set_logit_bias(std::move(params_.logit_bias));
  seen_.assign(vocab_, 0);
  counts_.assign(vocab_, 0.0);
  seen_list_.reserve(vocab_);
  work_.resize(vocab_);
  q_.resize(vocab_);
  ids_.resize(vocab_);
  seed_ = params_.seed ? *params_.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  rng_.seed(seed_);
}

void Sampler::check_token(int64_t token, const char* what) const {
  if (token < 0 || static_cast<uint64_t>(token) >= vocab_)
    throw OutOfRange(std::string(what) + " " + std::to_string(token) + " is outside the vocabulary: expected 0 <= " +
                     "token < " + std::to_string(vocab_));
}

void Sampler::set_logit_bias(std::vector<TokenBias> bias) {
  // checked and summed per token before anything changes: on an error the old bias stays
  std::vector<TokenBias> sums(bias);
  std::stable_sort(sums.begin(), sums.end(), [](const TokenBias& a, const TokenBias& b) { return a.token < b.token; });
  size_t k = 0;
  for (size_t i = 0; i < sums.size(); ++i) {
    check_token(sums[i].token, "logit_bias token");
    if (!std::isfinite(sums[i].bias))
      throw InvalidArgument("logit_bias for token " + std::to_string(sums[i].token) + " is " + num(sums[i].bias) +
                            "; expected a finite number");
    if (k > 0 && sums[k - 1].token == sums[i].token)
      sums[k - 1].bias += sums[i].bias;
    else
      sums[k++] = sums[i];
    if (!std::isfinite(sums[k - 1].bias))
      throw InvalidArgument("logit_bias entries for token " + std::to_string(sums[i].token) +
                            " add up to more than a float holds; expected a finite sum");
  }
  sums.resize(k);
  for (int32_t t : bias_list_) bias_[t] = 0.0f;
  bias_list_.clear();
  if (!sums.empty() && bias_.empty()) bias_.assign(vocab_, 0.0f);
  for (const TokenBias& b : sums) {
    bias_[b.token] = b.bias;
    bias_list_.push_back(static_cast<int32_t>(b.token));
  }
  params_.logit_bias = std::move(bias);
}

bool Sampler::is_stop(int64_t token) const {
  return token >= 0 && static_cast<uint64_t>(token) < vocab_ && stop_[token];
}

double Sampler::occurrence(int64_t token) const {
  check_token(token, "token");
  return counts_[token];
}

bool Sampler::seen(int64_t token) const {
  check_token(token, "token");
  return seen_[token] != 0;
}

void Sampler::reset() {
  for (int32_t t : seen_list_) {
    seen_[t] = 0;
    counts_[t] = 0.0;
  }
  seen_list_.clear();
  rng_.seed(seed_);
}

void Sampler::adjust_logits(const float* logits, size_t n, float* out, const uint32_t* allowed) const {
  if (n != vocab_)
    throw InvalidArgument("logits has " + std::to_string(n) + " entries; expected vocab_size = " +
                          std::to_string(vocab_));
  for (size_t i = 0; i < n; ++i) out[i] = std::isnan(logits[i]) || banned_[i] ? kNegInf : logits[i];  // token_ban
  for (int32_t t : bias_list_) out[t] += bias_[t];  // -inf stays -inf: the bias is finite
  if (allowed)
    for (size_t i = 0; i < n; ++i)
      if (!((allowed[i >> 5] >> (i & 31)) & 1u)) out[i] = kNegInf;
  const SamplerParams& p = params_;
  const float rp = static_cast<float>(p.repetition_penalty);
  for (int32_t t : seen_list_) {
    float x = out[t];
    if (rp != 1.0f) x = x > 0.0f ? x / rp : x * rp;
    // out[n] -= (alpha_presence + occurrence[n] * alpha_frequency): the sum in double, then a
    // float32 subtraction, as torch does it on the float32 logits
    if (p.alpha_presence != 0.0 || p.alpha_frequency != 0.0)
      x -= static_cast<float>(p.alpha_presence + counts_[t] * p.alpha_frequency);
    out[t] = x;
  }
}

void Sampler::accept(int64_t token) {
  check_token(token, "accepted token");
  // for xxx in occurrence: occurrence[xxx] *= alpha_decay; then occurrence[token] (+)= www
  const double d = params_.alpha_decay;
  if (d != 1.0)
    for (int32_t t : seen_list_) counts_[t] *= d;
  const double w = params_.occurrence_weights.empty() ? 1.0 : params_.occurrence_weights[token];
  if (!seen_[token]) {
    seen_[token] = 1;
    seen_list_.push_back(static_cast<int32_t>(token));  // reserved: no allocation
    counts_[token] = w;
  } else {
    counts_[token] += w;
  }
}

double Sampler::uniform() { return static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0); }

int64_t Sampler::sample(const float* logits, size_t n, const uint32_t* allowed) {
  adjust_logits(logits, n, work_.data(), allowed);
  float m = kNegInf;
  size_t arg = 0;
  for (size_t i = 0; i < n; ++i)
    if (work_[i] > m) m = work_[i], arg = i;
  if (!(m > kNegInf))
    throw InvalidArgument("no token can be sampled: every token is banned, masked out or has a logit of -inf or NaN");
  if (params_.temperature == 0.0) return static_cast<int64_t>(arg);
  if (std::isinf(m)) {  // +inf logits: a uniform draw among them
    for (size_t i = 0; i < n; ++i) work_[i] = work_[i] == m ? 0.0f : kNegInf;
    m = 0.0f;
  }

  // probs = softmax(logits), unnormalised: q = exp(logit - max) in (0, 1], q_max = 1, Z = sum(q)
  double Z = 0.0;
  for (size_t i = 0; i < n; ++i) Z += (q_[i] = std::exp(work_[i] - m));
  const SamplerParams& p = params_;
  const bool use_p = p.top_p < 1.0;
  const bool use_k = p.top_k > 0 && static_cast<uint64_t>(p.top_k) < n;
  // Candidates. min-p: p >= min_p * p_max is q >= min_p. top-p: tokens below (1 - top_p) * Z / n
  // hold less than (1 - top_p) of the mass together, so the nucleus lies among the others and
  // only those need sorting.
  const double floor_p = use_p ? (1.0 - p.top_p) * Z / static_cast<double>(n) : 0.0;
  const double floor_q = std::max(p.min_p, floor_p);
  size_t nc = 0;
  for (size_t i = 0; i < n; ++i)
    if (q_[i] > 0.0f && q_[i] >= floor_q) ids_[nc++] = static_cast<int32_t>(i);

  // Sorted by probability, ties by id: a strict total order, so every standard library agrees.
  const auto before = [this](int32_t a, int32_t b) { return q_[a] > q_[b] || (q_[a] == q_[b] && a < b); };
  size_t keep = nc;
  if (use_p) {
    // cutoff = sorted_probs[argmax(cumsum >= top_p)]; probs[probs < cutoff] = 0. Only the head of
    // the order matters: grow it until it holds top_p of the mass, then sort just that.
    const double target = p.top_p * Z;
    const auto first = ids_.begin();
    size_t head = std::min<size_t>(nc, 256);
    for (;;) {
      if (head < nc) std::nth_element(first, first + head, first + nc, before);
      double mass = 0.0;
      for (size_t j = 0; j < head; ++j) mass += q_[ids_[j]];
      if (mass >= target || head == nc) break;
      head = std::min(nc, head * 8);
    }
    std::sort(first, first + head, before);
    double acc = 0.0;
    keep = head;
    for (size_t j = 0; j < head; ++j) {
      acc += q_[ids_[j]];
      if (acc >= target) {
        keep = j + 1;
        break;
      }
    }
    const float cutoff = q_[ids_[keep - 1]];
    while (keep < head && q_[ids_[keep]] == cutoff) ++keep;  // ties with the cutoff stay...
    if (keep == head && head < nc) {                          // ...those past the sorted head too
      const auto tied = std::partition(first + head, first + nc, [&](int32_t i) { return q_[i] == cutoff; });
      std::sort(first + head, tied, before);
      keep = static_cast<size_t>(tied - first);
    }
  }
  if (use_k && static_cast<uint64_t>(p.top_k) < keep) {  // probs[sorted_ids[:-top_k]] = 0
    const size_t k = static_cast<size_t>(p.top_k);
    if (!use_p) {
      std::nth_element(ids_.begin(), ids_.begin() + k, ids_.begin() + nc, before);
      std::sort(ids_.begin(), ids_.begin() + k, before);
    }
    keep = k;
  }
  return draw(ids_.data(), keep, p.temperature, m);
}

// probs ** (1 / temperature), normalised, one categorical draw over ids[0..n) in that order.
int64_t Sampler::draw(const int32_t* ids, size_t n, double temperature, float max_logit) {
  double total = 0.0;
  if (temperature != 1.0) {
    const double inv_t = 1.0 / temperature;
    for (size_t j = 0; j < n; ++j) {  // x == 0 first: a temperature so small that 1/t is inf stays finite
      const double x = static_cast<double>(work_[ids[j]]) - max_logit;
      q_[ids[j]] = x == 0.0 ? 1.0f : static_cast<float>(std::exp(x * inv_t));
    }
  }
  for (size_t j = 0; j < n; ++j) total += q_[ids[j]];
  const double target = uniform() * total;
  double acc = 0.0;
  int64_t last = ids[0];
  for (size_t j = 0; j < n; ++j) {
    const float w = q_[ids[j]];
    if (w <= 0.0f) continue;
    acc += w;
    last = ids[j];
    if (acc > target) return last;
  }
  return last;  // rounding: the last token with a weight
}

std::vector<float> occurrence_weights(const Tokenizer& tokenizer, size_t vocab_size) {
  // rwkv/utils.py: www = 0 if decode([token]) in ' \t0123456789' else 1 (a substring test)
  static constexpr std::string_view kNeutral = " \t0123456789";
  std::vector<float> w(vocab_size, 1.0f);
  const size_t n = std::min(vocab_size, tokenizer.vocab_size());
  for (size_t id = 0; id < n; ++id)
    if (kNeutral.find(tokenizer.token_bytes(static_cast<int64_t>(id))) != std::string_view::npos) w[id] = 0.0f;
  return w;
}

}  // namespace rrwkv
