#include "runtime/session.h"

#include <algorithm>

#include "core/errors.h"
#include "runtime/scratch.h"

namespace rrwkv {

Arena::Arena(const std::vector<int64_t>& sizes) {
  constexpr int64_t kAlign = 16;  // floats
  int64_t total = kAlign;
  for (int64_t n : sizes) total += (n + kAlign - 1) / kAlign * kAlign;
  buf_.assign(static_cast<size_t>(total), 0.0f);
  auto addr = reinterpret_cast<uintptr_t>(buf_.data());
  float* p = buf_.data() + ((64 - addr % 64) % 64) / sizeof(float);
  for (int64_t n : sizes) {
    ptrs_.push_back(p);
    p += (n + kAlign - 1) / kAlign * kAlign;
  }
}

Session::DecodeScratch::DecodeScratch(const Model& m)
    : arena([&] {
        std::vector<int64_t> sizes(18, m.n_embd());
        sizes.push_back(m.ffn_dim());
        return sizes;
      }()) {
  float** c_vecs[] = {&x, &xa, &xk, &xv, &xr, &med, &k, &v, &r, &km, &vm, &rw, &out, &y, &yk, &yr, &rr, &vv};
  for (size_t i = 0; i < 18; ++i) *c_vecs[i] = arena[i];
  kk = arena[18];
}

Session::PrefillScratch::PrefillScratch(const Model& m, int64_t chunk)
    : max_mediums(m.is_rrwkv() ? chunk / m.medium_interval() + 1 : 0),
      arena([&] {
        const int64_t C = m.n_embd(), T = chunk, TM = T + (m.is_rrwkv() ? T / m.medium_interval() + 1 : 0);
        return std::vector<int64_t>{T * C, T * C, T * C, T * C, TM * C, TM * C, TM * C, TM * C, T * m.ffn_dim(), C, C};
      }()),
      fold_at(static_cast<size_t>(max_mediums)) {
  x = arena[0], xa = arena[1], xr = arena[2], r = arena[3];
  xk = arena[4], xv = arena[5], k = arena[6], v = arena[7];
  kk = arena[8], seg = arena[9], med = arena[10];
}

Session::Session(std::shared_ptr<const Model> model, int threads, int64_t prefill_chunk)
    : model_(std::move(model)),
      prefill_chunk_(prefill_chunk),
      pool_(threads > 0 ? threads : ThreadPool::available_cpus()),
      state_(*model_),
      dec_(std::make_unique<DecodeScratch>(*model_)) {
  if (prefill_chunk_ < 1 || prefill_chunk_ > (int64_t{1} << 16))
    throw InvalidArgument("prefill_chunk must be in 1..65536 tokens, got " + std::to_string(prefill_chunk_));
}

Session::~Session() = default;

int64_t Session::pos() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.pos;
}

void Session::check_token(int64_t token, int64_t index) const {
  const int64_t V = model_->vocab_size();
  if (token >= 0 && token < V) return;
  std::string where = index >= 0 ? " at index " + std::to_string(index) : "";
  throw OutOfRange("token " + std::to_string(token) + where + " is outside the vocabulary: expected 0 <= token < " +
                   std::to_string(V) + " for this model; the session state is unchanged");
}

void Session::step(int64_t token, float* logits) {
  check_token(token, -1);
  std::lock_guard<std::mutex> lock(mu_);
  step_locked(token, logits);
}

void Session::forward(const int64_t* tokens, int64_t n, float* logits, bool all_logits) {
  if (n <= 0) throw InvalidArgument("forward() needs at least one token");
  for (int64_t i = 0; i < n; ++i) check_token(tokens[i], i);
  std::lock_guard<std::mutex> lock(mu_);
  if (!pre_) {
    pre_ = std::make_unique<PrefillScratch>(*model_, prefill_chunk_);
    // f16 / bf16 weights are converted tile by tile for BLAS: 1 MiB per thread, >= 16 rows.
    const bool f32 = model_->all_matrices_f32();
    const int64_t tile = std::max<int64_t>(int64_t{1} << 18, 16 * std::max(model_->n_embd(), model_->ffn_dim()));
    gemm_ws_ = std::make_unique<cpu::GemmWorkspace>(f32 ? 0 : pool_.size(), f32 ? 0 : tile);
  }
  const int64_t V = model_->vocab_size();
  for (int64_t i = 0; i < n; i += prefill_chunk_) {
    const int64_t len = std::min(prefill_chunk_, n - i);
    const bool last = i + len == n;
    float* out = all_logits ? logits + i * V : (last ? logits : nullptr);
    run_prefill_chunk(tokens + i, len, out, V, all_logits);
  }
}

void Session::reset() {
  std::lock_guard<std::mutex> lock(mu_);
  state_.reset();
}

std::unique_ptr<Session> Session::clone() const {
  auto s = std::make_unique<Session>(model_, pool_.size(), prefill_chunk_);
  std::lock_guard<std::mutex> lock(mu_);
  s->state_ = state_;
  return s;
}

std::string Session::get_state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_.serialize(*model_);
}

void Session::set_state(const void* data, size_t size) {
  std::lock_guard<std::mutex> lock(mu_);
  state_.deserialize(*model_, data, size);
}

}  // namespace rrwkv
