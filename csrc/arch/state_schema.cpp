#include <algorithm>

#include "arch/architecture.h"

namespace rrwkv {

int64_t StateSchema::layer_floats() const {
  int64_t n = 0;
  for (const StateField& f : fields) n += f.size;
  return n;
}

int64_t StateSchema::offset(const std::string& name, int64_t layer) const {
  int64_t at = layer * layer_floats();
  for (const StateField& f : fields) {
    if (f.name == name) return at;
    at += f.size;
  }
  return -1;
}

void StateSchema::init(float* state) const {
  for (int64_t l = 0; l < n_layer; ++l)
    for (const StateField& f : fields) state = std::fill_n(state, f.size, f.init);
}

}  // namespace rrwkv
