#include "engine/session.h"

namespace rrwkv {

Session::Session(std::shared_ptr<const Model> model, int threads, int64_t prefill_chunk, const Device& device,
                 InitialState initial, bool exact)
    : engine_(std::move(model), EngineOptions{1, threads > 0 ? threads : 0, prefill_chunk, device, exact}) {
  engine_.add(std::move(initial));
}

std::unique_ptr<Session> Session::clone() const {
  auto s = std::make_unique<Session>(model(), threads(), prefill_chunk(), device(), initial_state(), exact());
  engine_.copy_row(kRow, s->engine_, kRow);
  return s;
}

}  // namespace rrwkv
