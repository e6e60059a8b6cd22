// The architectures this build runs: one line each.
#include "arch/architecture.h"

#include "arch/rwkv4/rwkv4.h"

namespace rrwkv {

const std::vector<const Architecture*>& architectures() {
  static const std::vector<const Architecture*> all = {
      &rwkv4_architecture(),  // RWKV-4
      &rrwkv_architecture(),  // RRWKV (RWKV-4 with mediums)
  };
  return all;
}

const Architecture* find_architecture(const std::string& name) {
  for (const Architecture* a : architectures())
    if (name == a->name()) return a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const Architecture* a : architectures()) s += (s.empty() ? "'" : ", '") + std::string(a->name()) + "'";
  return s;
}

}  // namespace rrwkv
