// rrwkv.hpp: a header-only C++17 wrapper over the C API (rrwkv.h): RAII handles, std::vector
// buffers and exceptions. It sits on the C ABI on purpose, so a program built with any C++
// compiler or standard library links the same librrwkv_rt; the runtime's internal C++ classes
// are not installed and have no stable ABI.
//
//   rrwkv_rt::Model model("model.rrwkv");
//   rrwkv_rt::Session s(model);
//   std::vector<float> logits = s.eval(model.tokenize("Hello"));
//   rrwkv_rt::Sampler sampler(model);              // the model's default stop token and bans
//   int32_t token = sampler.sample(logits);
//   logits = s.step(token);
//
//   rrwkv_rt::Batch batch(model, 8);               // many sequences, stepped together
//   (Session(model, 0, "cuda") / Batch(model, 8, 0, "auto"): on a GPU, rrwkv.h "Devices")
//   int32_t a = batch.add(), b = batch.add();
//   std::vector<float> both = batch.step({a, b}, {t0, t1});  // 2 x vocab_size
#ifndef RRWKV_RT_RRWKV_HPP
#define RRWKV_RT_RRWKV_HPP

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "rrwkv_rt/rrwkv.h"

namespace rrwkv_rt {

// What a failed C call reported: status() is its rrwkv_status, what() its message.
class Error : public std::runtime_error {
 public:
  Error(rrwkv_status status, const char* message) : std::runtime_error(message), status_(status) {}
  rrwkv_status status() const noexcept { return status_; }

 private:
  rrwkv_status status_;
};

inline void check(rrwkv_status status) {
  if (status != RRWKV_OK) throw Error(status, rrwkv_last_error());
}

class Model {
 public:
  // read_into_memory: rrwkv_model_load_into_memory instead of rrwkv_model_load (see rrwkv.h).
  explicit Model(const std::string& path, const rrwkv_model_params& params = rrwkv_model_default_params(),
                 bool read_into_memory = false) {
    rrwkv_model* m = nullptr;
    check(read_into_memory ? rrwkv_model_load_into_memory(path.c_str(), &params, &m)
                           : rrwkv_model_load(path.c_str(), &params, &m));
    handle_.reset(m);
  }

  rrwkv_model* get() const noexcept { return handle_.get(); }
  rrwkv_model_info info() const {
    rrwkv_model_info i;
    check(rrwkv_model_get_info(get(), &i));
    return i;
  }
  int64_t vocab_size() const noexcept { return rrwkv_model_vocab_size(get()); }

  std::vector<int32_t> tokenize(std::string_view text) const {
    size_t n = 0;
    rrwkv_status st = rrwkv_tokenize(get(), text.data(), text.size(), nullptr, 0, &n);
    if (st != RRWKV_ERR_BUFFER_TOO_SMALL) check(st);
    std::vector<int32_t> ids(n);
    check(rrwkv_tokenize(get(), text.data(), text.size(), ids.data(), ids.size(), &n));
    return ids;
  }

  std::string detokenize(const std::vector<int32_t>& ids) const {
    size_t n = 0;
    rrwkv_status st = rrwkv_detokenize(get(), ids.data(), ids.size(), nullptr, 0, &n);
    if (st != RRWKV_ERR_BUFFER_TOO_SMALL) check(st);
    std::string text(n + 1, '\0');
    check(rrwkv_detokenize(get(), ids.data(), ids.size(), text.data(), text.size(), &n));
    text.resize(n);
    return text;
  }

 private:
  struct Free {
    void operator()(rrwkv_model* m) const noexcept { rrwkv_model_free(m); }
  };
  std::unique_ptr<rrwkv_model, Free> handle_;
};

class Session {
 public:
  // n_threads 0: every CPU this process may use. device: "cpu", "cuda", "cuda:N" or "auto"
  // (rrwkv.h, "Devices"). The session keeps the model alive.
  explicit Session(const Model& model, int32_t n_threads = 0, const std::string& device = "cpu")
      : vocab_(model.vocab_size()) {
    rrwkv_session_params p = rrwkv_session_default_params();
    p.n_threads = n_threads;
    rrwkv_session* s = nullptr;
    check(rrwkv_session_new_on(model.get(), &p, device.c_str(), &s));
    handle_.reset(s);
  }

  rrwkv_session* get() const noexcept { return handle_.get(); }
  std::string device() const { return rrwkv_session_device(get()); }  // "cpu", "cuda:0"
  int64_t pos() const noexcept { return rrwkv_session_pos(get()); }

  // One token; returns its logits (vocab_size floats).
  std::vector<float> step(int32_t token) {
    std::vector<float> logits(static_cast<size_t>(vocab_));
    check(rrwkv_session_step(get(), token, logits.data(), logits.size()));
    return logits;
  }
  // Prompt ingestion; returns the last token's logits.
  std::vector<float> eval(const std::vector<int32_t>& tokens) {
    std::vector<float> logits(static_cast<size_t>(vocab_));
    check(rrwkv_session_eval(get(), tokens.data(), tokens.size(), logits.data(), logits.size()));
    return logits;
  }
  void reset() { check(rrwkv_session_reset(get())); }

  Session clone() const {
    rrwkv_session* s = nullptr;
    check(rrwkv_session_clone(get(), &s));
    return Session(s, vocab_);
  }
  std::vector<uint8_t> get_state() const {
    std::vector<uint8_t> blob(rrwkv_session_state_size(get()));
    check(rrwkv_session_get_state(get(), blob.data(), blob.size(), nullptr));
    return blob;
  }
  void set_state(const std::vector<uint8_t>& blob) { check(rrwkv_session_set_state(get(), blob.data(), blob.size())); }

 private:
  Session(rrwkv_session* s, int64_t vocab) : vocab_(vocab) { handle_.reset(s); }
  struct Free {
    void operator()(rrwkv_session* s) const noexcept { rrwkv_session_free(s); }
  };
  int64_t vocab_;
  std::unique_ptr<rrwkv_session, Free> handle_;
};

// Up to `capacity` sequences (rows) stepped together (rrwkv_batch_*).
class Batch {
 public:
  explicit Batch(const Model& model, int32_t capacity = 8, int32_t n_threads = 0, const std::string& device = "cpu")
      : vocab_(model.vocab_size()) {
    rrwkv_batch_params p = rrwkv_batch_default_params();
    p.capacity = capacity;
    p.n_threads = n_threads;
    rrwkv_batch* b = nullptr;
    check(rrwkv_batch_new_on(model.get(), &p, device.c_str(), &b));
    handle_.reset(b);
  }

  rrwkv_batch* get() const noexcept { return handle_.get(); }
  std::string device() const { return rrwkv_batch_device(get()); }
  int32_t add() {
    int32_t row = -1;
    check(rrwkv_batch_add(get(), &row));
    return row;
  }
  void remove(int32_t row) { check(rrwkv_batch_remove(get(), row)); }
  int64_t pos(int32_t row) const noexcept { return rrwkv_batch_pos(get(), row); }
  void reset(int32_t row) { check(rrwkv_batch_reset(get(), row)); }

  // One token per row; logits row i (vocab_size floats) belongs to rows[i].
  std::vector<float> step(const std::vector<int32_t>& rows, const std::vector<int32_t>& tokens) {
    if (rows.size() != tokens.size()) throw std::invalid_argument("Batch::step: one token per row");
    std::vector<float> logits(rows.size() * static_cast<size_t>(vocab_));
    check(rrwkv_batch_step(get(), rows.data(), tokens.data(), rows.size(), logits.data(), logits.size()));
    return logits;
  }
  // Prompt ingestion for one row; returns its last token's logits.
  std::vector<float> eval(int32_t row, const std::vector<int32_t>& tokens) {
    std::vector<float> logits(static_cast<size_t>(vocab_));
    check(rrwkv_batch_eval(get(), row, tokens.data(), tokens.size(), logits.data(), logits.size()));
    return logits;
  }
  std::vector<uint8_t> get_state(int32_t row) const {
    size_t size = 0;
    rrwkv_status st = rrwkv_batch_get_state(get(), row, nullptr, 0, &size);
    if (st != RRWKV_ERR_BUFFER_TOO_SMALL) check(st);
    std::vector<uint8_t> blob(size);
    check(rrwkv_batch_get_state(get(), row, blob.data(), blob.size(), nullptr));
    return blob;
  }
  void set_state(int32_t row, const std::vector<uint8_t>& blob) {
    check(rrwkv_batch_set_state(get(), row, blob.data(), blob.size()));
  }

 private:
  struct Free {
    void operator()(rrwkv_batch* b) const noexcept { rrwkv_batch_free(b); }
  };
  int64_t vocab_;
  std::unique_ptr<rrwkv_batch, Free> handle_;
};

// A token sampler for a model's logits (rrwkv_sampler_*): one per sequence.
class Sampler {
 public:
  explicit Sampler(const Model& model, const rrwkv_sampler_params& params = rrwkv_sampler_default_params()) {
    rrwkv_sampler* s = nullptr;
    check(rrwkv_sampler_new(model.get(), &params, &s));
    handle_.reset(s);
  }

  rrwkv_sampler* get() const noexcept { return handle_.get(); }
  int32_t sample(const std::vector<float>& logits) {
    int32_t token = -1;
    check(rrwkv_sampler_sample(get(), logits.data(), logits.size(), &token));
    return token;
  }
  // Only tokens whose bit is set in `allowed` ((logits.size() + 31) / 32 words) may be drawn.
  int32_t sample(const std::vector<float>& logits, const std::vector<uint32_t>& allowed) {
    int32_t token = -1;
    check(rrwkv_sampler_sample_masked(get(), logits.data(), logits.size(), allowed.data(), allowed.size(), &token));
    return token;
  }
  // bias[i] added to token tokens[i]'s logit (OpenAI's logit_bias); empty clears it.
  void set_logit_bias(const std::vector<int32_t>& tokens, const std::vector<float>& bias) {
    if (tokens.size() != bias.size())
      throw Error(RRWKV_ERR_INVALID_ARGUMENT, "set_logit_bias: tokens and bias differ in length; give one bias per token");
    check(rrwkv_sampler_set_logit_bias(get(), tokens.data(), bias.data(), tokens.size()));
  }
  void accept(int32_t token) { check(rrwkv_sampler_accept(get(), token)); }
  bool is_stop(int32_t token) const noexcept { return rrwkv_sampler_is_stop(get(), token); }
  void reset() { check(rrwkv_sampler_reset(get())); }

 private:
  struct Free {
    void operator()(rrwkv_sampler* s) const noexcept { rrwkv_sampler_free(s); }
  };
  std::unique_ptr<rrwkv_sampler, Free> handle_;
};

}  // namespace rrwkv_rt

#endif  // RRWKV_RT_RRWKV_HPP
